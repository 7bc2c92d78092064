#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs one libFuzzer harness for a bounded time and reports what it did.
#
#   fuzz/run-fuzzer.sh HARNESS CORPUS_DIR SECONDS LOG [libFuzzer options...]
#
# The harness runs in this process's place, on one core, over CORPUS_DIR (a scratch directory:
# libFuzzer adds the inputs it finds there), with its output in LOG.  Prints the executions,
# exec/s, the final coverage (cov: edges, ft: features) and the crashes found; exits non-zero
# when the harness failed (crash, leak, timeout, out of memory) or the log holds a sanitizer
# report.

set -u
bin=$1 corpus=$2 seconds=$3 log=$4
shift 4
name=${bin##*/}

"$bin" -max_total_time="$seconds" -print_final_stats=1 -print_pcs=0 "$@" "$corpus" > "$log" 2>&1
rc=$?

stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
execs=$(stat number_of_executed_units)
speed=$(stat average_exec_per_sec)
# the last status line (DONE, or the last pulse/new before a crash) has the final coverage
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
reports=$(grep -c -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant failed' "$log")

printf '  %-12s executions %s, %s exec/s, cov: %s ft: %s, crashes %s\n' "$name" \
    "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$reports"
if [ "$rc" != 0 ] || [ "$reports" != 0 ]; then
    echo "  $name failed (exit status $rc); the log is $log:"
    grep -E -A 30 'ERROR: |runtime error:|invariant failed|Test unit written' "$log" | head -n 60
    exit 1
fi
exit 0
