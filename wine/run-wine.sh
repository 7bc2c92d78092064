#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# wine/run-wine.sh: runs a mingw-built program under the patched Wine overlay (make wine-check,
# make wine-run; wine/README.md).
#
#   run-wine.sh check TEST.exe [APISET.exe]
#                                the conformance exe under the overlay: fails unless it reports
#                                0 failures; then under Debian's stock Wine, whose failures
#                                are listed without failing.  APISET.exe (wine/apiset) runs in
#                                the same prefixes after it: under the overlay it must say
#                                "apiset passed" and exit 0; under stock Wine its failing
#                                steps are listed without failing
#   run-wine.sh run PROGRAM.exe  the program under the overlay, its output as it comes
#
# Each run gets a fresh WINEPREFIX under $WINE_PREFIX_ROOT (APISET.exe that of the run before
# it), WINEDEBUG=-all, a time limit of $WINE_TIMEOUT seconds, and its own wineserver, stopped
# at the end.  Runs under the overlay talk to a private awe-server ($AWE_SERVER) as make
# check's runs do.
set -euo pipefail

: "${WINE_OUT_DIR:?}" "${WINE_PREFIX_ROOT:?}" "${AWE_SERVER:?}"
WINE_TIMEOUT=${WINE_TIMEOUT:-900}
WINETEST_MB=${WINETEST_MB:-256}
stock_loader=/usr/lib/wine/wine64
stock_server=/usr/lib/wine/wineserver64

say() { printf '  %-8s %s\n' WINE "$*"; }
die() { printf 'run-wine: %s\n' "$*" >&2; exit 1; }

# run_in NAME LOG LOADER SERVER EXE...: runs EXE in the prefix $WINE_PREFIX_ROOT/NAME (made by
# run_under) with its output in $WINE_PREFIX_ROOT/LOG.log (and on the terminal with
# WINE_TEE=1); returns the exit status (124: timed out).
run_in()
{
    local prefix=$WINE_PREFIX_ROOT/$1 log=$WINE_PREFIX_ROOT/$2.log loader=$3 server=$4 rc; shift 4
    export WINEPREFIX=$prefix WINESERVER=$server WINELOADER=$loader WINEDEBUG=-all
    # no Mono or Gecko installers in a prefix that only runs our programs
    export WINEDLLOVERRIDES="mscoree,mshtml="
    set +e
    if [ "${WINE_TEE:-0}" = 1 ]; then
        timeout -k 10 "$WINE_TIMEOUT" "$loader" "$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
    else
        timeout -k 10 "$WINE_TIMEOUT" "$loader" "$@" > "$log" 2>&1; rc=$?
    fi
    "$server" -k > /dev/null 2>&1
    timeout 20 "$server" -w > /dev/null 2>&1
    set -e
    sed -i 's/\r$//' "$log"     # Windows programs end their lines with CR LF
    [ "$rc" = 124 ] && echo "$2: timed out after $WINE_TIMEOUT s" >> "$log"
    unset WINEPREFIX WINESERVER WINELOADER
    return "$rc"
}

# run_under NAME LOADER SERVER EXE...: run_in NAME NAME ... in the fresh prefix
# $WINE_PREFIX_ROOT/NAME.
run_under()
{
    local name=$1 loader=$2 server=$3 prefix=$WINE_PREFIX_ROOT/$1; shift 3
    rm -rf "$prefix"
    mkdir -p "$prefix"
    # the prefix first, on its own: its messages (such as the 32-bit rundll32 a 64-bit-only
    # Wine lacks) go to NAME.boot.log, not into the program's output
    WINEPREFIX=$prefix WINESERVER=$server WINELOADER=$loader WINEDEBUG=-all \
        WINEDLLOVERRIDES="mscoree,mshtml=" \
        timeout -k 10 "$WINE_TIMEOUT" "$loader" wineboot.exe --init > "$prefix.boot.log" 2>&1 || true
    run_in "$name" "$name" "$loader" "$server" "$@"
}

# report LOG RC: the failing lines of a conformance run, then its summary, or why it has none
report()
{
    local log=$1 rc=$2 lines
    lines=$(grep -E 'Test failed|timed out|crashed|exited with status|unimplemented function|Unhandled exception' "$log" || true)
    if [ -n "$lines" ]; then
        printf '%s\n' "$lines" | head -n 200 | sed 's/^/    /'
        [ "$(printf '%s\n' "$lines" | wc -l)" -gt 200 ] && echo "    ... (more in $log)"
    fi
    echo "    $(grep -c 'Test failed' "$log" || true) lines 'Test failed'"
    if grep -qE '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log"; then
        echo "    summary: $(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1) (exit status $rc)"
    else
        echo "    no summary line: the run stopped early (exit status $rc); its last lines:"
        tail -n 5 "$log" | sed 's/^/      /'
    fi
    echo "    whole output: $log"
}

failures_of() { sed -n -E 's/^[0-9]+ passed, ([0-9]+) failed, [0-9]+ skipped$/\1/p' "$1" | tail -n 1; }

# report_apiset LOG RC: what the API set program said, its failing steps and its last line
report_apiset()
{
    local log=$1 rc=$2
    { grep -E '^  FAILED  |crashed|Unhandled exception|unimplemented function' "$log" || true; } |
        head -n 20 | sed 's/^/    /'
    echo "    last line: $(tail -n 1 "$log") (exit status $rc)"
    echo "    whole output: $log"
}

# with_awe_server CMD...: CMD with a private awe-server for its run (make check's settings)
with_awe_server()
{
    local dir spid up=0 rc
    dir=$(mktemp -d); chmod 700 "$dir"
    "$AWE_SERVER" --foreground --exit-delay=100000 --limit="${WINETEST_MB}M" --dir="$dir" & spid=$!
    for _ in $(seq 300); do
        "$AWE_SERVER" --status --dir="$dir" > /dev/null 2>&1 && { up=1; break; }
        sleep 0.1
    done
    if [ "$up" != 1 ]; then kill "$spid"; rm -rf "$dir"; die "$AWE_SERVER did not start"; fi
    set +e
    AWE_SERVER_DIR=$dir WINETEST_PHYSICAL_MB=$WINETEST_MB "$@"; rc=$?
    kill -TERM "$spid"; wait "$spid"
    set -e
    rm -rf "$dir"
    return "$rc"
}

overlay_loader=$WINE_OUT_DIR/usr/lib/wine/wine64
overlay_server=$WINE_OUT_DIR/usr/lib/wine/wineserver64
[ -x "$overlay_loader" ] || die "no overlay in $WINE_OUT_DIR: make wine first"

cmd=${1:-}; exe=${2:-}; apiset_exe=${3:-}
[ -f "$exe" ] || die "usage: run-wine.sh check TEST.exe [APISET.exe] | run PROGRAM.exe"
[ -z "$apiset_exe" ] || [ -f "$apiset_exe" ] || die "no $apiset_exe"
mkdir -p "$WINE_PREFIX_ROOT"
case $cmd in
check)
    say "running ${exe##*/} under the patched Wine (fresh prefix, up to $WINE_TIMEOUT s)"
    rc=0; with_awe_server run_under patched "$overlay_loader" "$overlay_server" "$exe" || rc=$?
    echo "== ${exe##*/} under the patched Wine ($WINE_OUT_DIR/bin/wine)"
    report "$WINE_PREFIX_ROOT/patched.log" "$rc"
    patched_failures=$(failures_of "$WINE_PREFIX_ROOT/patched.log")
    apiset_rc=0
    if [ -n "$apiset_exe" ]; then
        with_awe_server run_in patched patched-apiset "$overlay_loader" "$overlay_server" "$apiset_exe" ||
            apiset_rc=$?
        echo "== ${apiset_exe##*/} (imports through API set names) under the patched Wine"
        report_apiset "$WINE_PREFIX_ROOT/patched-apiset.log" "$apiset_rc"
        # an exit status of 0 without the pass line is a failure too
        if [ "$apiset_rc" = 0 ] && ! tail -n 1 "$WINE_PREFIX_ROOT/patched-apiset.log" | grep -qx 'apiset passed'; then
            apiset_rc=1
        fi
    fi

    say "running ${exe##*/} under Debian's stock Wine, for comparison"
    rc=0; WINETEST_PHYSICAL_MB=$WINETEST_MB run_under stock "$stock_loader" "$stock_server" "$exe" || rc=$?
    echo "== ${exe##*/} under Debian's stock Wine ($stock_loader; informational, never fails the check)"
    report "$WINE_PREFIX_ROOT/stock.log" "$rc"
    if [ -n "$apiset_exe" ]; then
        rc=0; WINETEST_PHYSICAL_MB=$WINETEST_MB run_in stock stock-apiset "$stock_loader" "$stock_server" "$apiset_exe" || rc=$?
        echo "== ${apiset_exe##*/} under Debian's stock Wine (informational, never fails the check)"
        report_apiset "$WINE_PREFIX_ROOT/stock-apiset.log" "$rc"
    fi

    [ -n "$patched_failures" ] ||
        die "the conformance tests under the patched Wine stopped before their summary line"
    [ "$patched_failures" = 0 ] ||
        die "the conformance tests under the patched Wine: $patched_failures failures"
    [ "$apiset_rc" = 0 ] ||
        die "${apiset_exe##*/} failed under the patched Wine (exit status $apiset_rc)"
    echo "wine-check: 0 failures under the patched Wine${apiset_exe:+, and ${apiset_exe##*/} passed}"
    ;;
run)
    say "running ${exe##*/} under the patched Wine (fresh prefix, up to $WINE_TIMEOUT s)"
    rc=0; WINE_TEE=1 with_awe_server run_under run "$overlay_loader" "$overlay_server" "$exe" || rc=$?
    [ "$rc" = 0 ] || die "${exe##*/} failed under the patched Wine (exit status $rc)"
    ;;
*) die "usage: run-wine.sh check|run PROGRAM.exe" ;;
esac
