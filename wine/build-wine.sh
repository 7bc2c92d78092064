#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# wine/build-wine.sh: Debian's Wine 8.0 with our patch series, only the modules it touches
# built, laid as an overlay over the installed Wine (make wine; wine/README.md).
#
#   build-wine.sh build     every step below, each skipped when its stamp matches its inputs
#   build-wine.sh devtree   a git tree of the patched source, one commit per patch, to edit
#
# Steps (stamps in $WINE_SRC_DIR/stamps/, logs in $WINE_SRC_DIR/logs/):
#   packages   install what is missing of $WINE_PACKAGES (apt-get)
#   fetch      Debian's wine source package, for the installed runtime's version, through a
#              private apt configuration whose deb-src entries derive from the machine's own
#   pristine   dpkg-source -x (Debian's patches), Debian's generation steps, autoreconf
#   patch      our series on a copy of the pristine tree; a changed series is first
#              reverse-applied, and files whose content did not change keep their times
#   configure  Debian's paths, only when the flags or configure.ac changed
#   build      make of the modules the series touches; the engine link hook below
#   overlay    $WINE_OUT_DIR: links to the installed Wine, the built modules, bin/wine
#
# Inputs (from wine/wine.mk): WINE_PACKAGES, WINE_SRC_DIR, WINE_OUT_DIR, WINE_PATCH_FILES,
# WINE_CONFIGURE_FLAGS, WINE_JOBS, WINE_VERBOSE, and the engine link hook:
#   WINE_NTDLL_EXTRA_LIBS     objects and libraries added to ntdll.so's link (the series'
#                             dlls/ntdll/Makefile.in names them $(AWE_ENGINE_LIBS)); ntdll.so
#                             is relinked when this list or a file in it changes
#   WINE_NTDLL_EXTRA_CFLAGS   flags for dlls/ntdll/unix/awe.c ($(AWE_ENGINE_CFLAGS))
#   WINE_NTDLL_EXTRA_HEADERS  files outside the tree that awe.c includes: awe.o is rebuilt
#                             when this list, the flags or one of the files changes
set -euo pipefail

: "${WINE_PACKAGES:?}" "${WINE_SRC_DIR:?}" "${WINE_OUT_DIR:?}" "${WINE_CONFIGURE_FLAGS:?}"
WINE_PATCH_FILES=${WINE_PATCH_FILES:-}
WINE_NTDLL_EXTRA_LIBS=${WINE_NTDLL_EXTRA_LIBS:-}
WINE_NTDLL_EXTRA_CFLAGS=${WINE_NTDLL_EXTRA_CFLAGS:-}
WINE_NTDLL_EXTRA_HEADERS=${WINE_NTDLL_EXTRA_HEADERS:-}
WINE_JOBS=${WINE_JOBS:-2}
WINE_VERBOSE=${WINE_VERBOSE:-0}

src=$WINE_SRC_DIR
stamps=$src/stamps
logs=$src/logs
pristine=$src/pristine          # Debian's tree and the generated files; never configured
tree=$src/tree                  # pristine + our series, configured and built in place
applied=$src/applied            # the patches as applied to $tree, in order
installed_dirs=(usr/lib/wine usr/lib/x86_64-linux-gnu/wine)

# The modules the series touches: make targets, and what they leave for the overlay (path in
# the tree, path in the overlay).
make_targets=(server/wineserver loader/wine64 dlls/ntdll/all dlls/kernelbase/all dlls/kernel32/all)
built_files=(
    "server/wineserver                              usr/lib/wine/wineserver64"
    "loader/wine64                                  usr/lib/wine/wine64"
    "dlls/ntdll/ntdll.so                            usr/lib/x86_64-linux-gnu/wine/x86_64-unix/ntdll.so"
    "dlls/ntdll/x86_64-windows/ntdll.dll            usr/lib/x86_64-linux-gnu/wine/x86_64-windows/ntdll.dll"
    "dlls/kernelbase/x86_64-windows/kernelbase.dll  usr/lib/x86_64-linux-gnu/wine/x86_64-windows/kernelbase.dll"
    "dlls/kernel32/x86_64-windows/kernel32.dll      usr/lib/x86_64-linux-gnu/wine/x86_64-windows/kernel32.dll"
)

say() { printf '  %-8s %s\n' WINE "$*"; }
die() { printf 'make wine: %s\n' "$*" >&2; exit 1; }
in_dir() { (cd "$1" && shift && "$@"); }
# Wine's configure and make see none of the project make's settings (MAKEFLAGS carries its
# command-line variables and jobserver; CFLAGS and friends may come from its environment).
wine_env() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CC -u CFLAGS -u CPPFLAGS -u LDFLAGS "$@"; }

# run_logged LOG CMD...: the command (a program or a function of this script, which then
# stops at its first failing command) runs with its output in $logs/LOG, and on the terminal
# with V=1; on failure the end of the log is shown and the build stops.
run_logged()
{
    local log=$logs/$1 rc; shift
    mkdir -p "$logs"
    set +e      # not "cmd || rc=$?", which would switch set -e off inside functions
    if [ "$WINE_VERBOSE" = 1 ]; then
        ( set -e; "$@" ) 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
    else
        ( set -e; "$@" ) > "$log" 2>&1; rc=$?
    fi
    set -e
    if [ "$rc" != 0 ]; then
        tail -n 25 "$log" >&2
        die "'$*' failed (exit $rc); the whole output is in $log"
    fi
}

# Stamps: a step is done when its stamp holds the key of its current inputs.
stamp_ok() { [ -f "$stamps/$1" ] && [ "$(cat "$stamps/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$stamps"; printf '%s\n' "$2" > "$stamps/$1"; }
stamp_clear() { rm -f "$stamps/$1"; }
hash_text() { sha256sum | cut -c1-16; }
# hash_files FILE...: one hash of the names and contents (a missing file counts as its name)
hash_files()
{
    local f
    for f in "$@"; do
        if [ -f "$f" ]; then printf '%s %s\n' "${f##*/}" "$(sha256sum < "$f")"; else printf '%s\n' "$f"; fi
    done | hash_text
}

# ---- packages --------------------------------------------------------------------------------

# Installs what is missing of $WINE_PACKAGES; nothing (and no apt-get update) when all are there.
step_packages()
{
    local missing=() p wanted
    read -r -a wanted <<< "$WINE_PACKAGES"
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    say "installing ${missing[*]} (apt-get, 1-2 min)"
    export DEBIAN_FRONTEND=noninteractive
    run_logged apt-install.log sh -c 'apt-get update && apt-get install -y --no-install-recommends "$@"' \
        apt-get "${missing[@]}"
}

# ---- fetch -----------------------------------------------------------------------------------

# (the parts directory is not named *.d: the top-level Makefile includes every *.d under build/)
apt_dir=$src/apt
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
          -o "Dir::Etc::SourceParts=$apt_dir/sources.parts"
          -o "Dir::State::Lists=$apt_dir/lists"
          -o "Dir::Cache=$apt_dir/cache"
          -o "APT::Sandbox::User=root")

# Writes the deb-src twin of every enabled binary entry of the machine's apt sources (deb822
# .sources files and one-line .list files) into the private apt configuration.
derive_deb_src()
{
    local out=$apt_dir/sources.parts/awe-wine-deb-src.sources f
    mkdir -p "$apt_dir/sources.parts" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # one stanza per paragraph: keep those whose Types include "deb" and that are not
        # disabled, with Types set to deb-src
        awk 'BEGIN { RS = ""; FS = "\n" }
             {
                 deb = 0; off = 0
                 for (i = 1; i <= NF; i++) {
                     if ($i ~ /^Types:/ && (" " substr($i, 7) " ") ~ /[ \t]deb[ \t]/) deb = 1
                     if ($i ~ /^Enabled:[ \t]*no/) off = 1
                 }
                 if (!deb || off) next
                 for (i = 1; i <= NF; i++)
                     if ($i ~ /^Types:/) print "Types: deb-src"; else print $i
                 print ""
             }' "$f"
    done > "$out"
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f"
    done > "$apt_dir/sources.list"
    grep -q . "$out" "$apt_dir/sources.list" ||
        die "no binary entries in /etc/apt/sources.list{,.d} to derive deb-src entries from"
}

# Debian's wine source package of the installed runtime's version, into $src/download.
step_fetch()
{
    local ver=$1 dsc=$src/download/wine_${1#*:}.dsc
    stamp_ok fetch "$ver" && [ -f "$dsc" ] && return
    say "fetching Debian's wine source package $ver (apt-get source, under a minute)"
    derive_deb_src
    run_logged apt-update-src.log apt-get "${apt_opts[@]}" update
    mkdir -p "$src/download"
    run_logged apt-source.log in_dir "$src/download" \
        apt-get "${apt_opts[@]}" source --download-only "wine=$ver"
    [ -f "$dsc" ] || die "apt-get source did not leave $dsc"
    stamp_set fetch "$ver"
}

# ---- pristine tree ---------------------------------------------------------------------------

# Debian's generation steps (debian/rules, override_dh_auto_configure), in the tree: the
# server protocol files, the Unicode tables (makedep needs make_unicode's output), the FIR
# table, the OpenGL and Vulkan thunks, the config.* links, the icon links, then autoreconf.
generate_sources()
{
    local pid rc=0
    ./debian/scripts/generate server/trace.generated make_requests
    ./debian/scripts/generate server/request.generated make_requests
    ./tools/make_unicode > make_unicode.log 2>&1 & pid=$!    # the long one, beside the rest
    trap 'kill $pid 2>/dev/null' EXIT
    ./tools/make_requests
    (cd dlls/dsound && ./make_fir)
    (cd dlls/opengl32 && ./make_opengl)
    (cd dlls/winevulkan && ./make_vulkan -x /usr/share/vulkan/registry/vk.xml)
    ln -sf /usr/share/misc/config.sub tools
    ln -sf /usr/share/misc/config.guess tools
    # Debian's icon links, as its rules list them
    sed -n '/^override_dh_auto_configure:/,/^[^\t#]/s/^\tln -sf \(\.\.\/\.\.\/[^ ]*\) \([^ ]*\)$/\1 \2/p' \
        debian/rules | while read -r target link; do ln -sf "$target" "$link"; done
    autoreconf -f
    wait "$pid" || rc=$?
    trap - EXIT
    cat make_unicode.log; rm -f make_unicode.log
    [ "$rc" = 0 ] || { echo "tools/make_unicode failed (exit $rc)"; return 1; }
}

step_pristine()
{
    local ver=$1 key
    key="$ver $(declare -f generate_sources | hash_text)"
    stamp_ok pristine "$key" && [ -d "$pristine" ] && return
    stamp_clear patch
    rm -rf "$pristine" "$pristine.tmp" "$tree" "$applied"
    say "unpacking the source package, applying Debian's patches (dpkg-source -x, 1 min)"
    # (from the download directory: dpkg-source links the orig tarball into the current one)
    run_logged dpkg-source.log in_dir "$src/download" dpkg-source -x "wine_${ver#*:}.dsc" "$pristine.tmp"
    say "generating what the repack leaves out (debian/rules steps with make_unicode: 7-12 min)"
    run_logged generate.log in_dir "$pristine.tmp" generate_sources
    mv "$pristine.tmp" "$pristine"
    stamp_set pristine "$key"
}

# ---- patch -----------------------------------------------------------------------------------

read -r -a patch_files <<< "$WINE_PATCH_FILES"

# patch_paths PATCH...: the files the patches change, one per line (their -p1 names)
patch_paths()
{
    [ $# -gt 0 ] || return 0
    sed -n -e 's/^--- a\/\([^\t]*\).*/\1/p' -e 's/^+++ b\/\([^\t]*\).*/\1/p' "$@" | sort -u
}

# A fresh tree: the pristine one copied (configure and build start again).
fresh_tree()
{
    rm -rf "$tree" "$tree.tmp" "$applied"
    cp -a "$pristine" "$tree.tmp"
    mv "$tree.tmp" "$tree"
    mkdir -p "$applied"
    stamp_clear configure; stamp_clear build
}

# Reverse-applies the series recorded in $applied, last patch first; fails if one does not.
unapply_series()
{
    local p
    [ -n "$(ls "$applied")" ] || return 0
    for p in $(cd "$applied" && printf '%s\n' *.patch | sort -r); do
        echo "reverting $p"
        patch -d "$tree" -p1 -R -f -s --no-backup-if-mismatch < "$applied/$p" || return 1
        rm "$applied/$p"
    done
}

# server/protocol.def may have changed: the generated protocol files follow it.  Debian's
# make_requests always rewrites server_protocol.h (it compares against an unbumped protocol
# version), so a file it leaves as it was gets its old time back.
regenerate_protocol()
{
    local f outs=(include/wine/server_protocol.h server/trace.generated server/request.generated)
    for f in "${outs[@]}"; do cp -p "$f" "$f.keep"; done
    ./tools/make_requests
    for f in "${outs[@]}"; do
        cmp -s "$f" "$f.keep" && touch -r "$f.keep" "$f"
        rm -f "$f.keep"
    done
}

step_patch()
{
    local key p n=0 saved f
    key=$(hash_files "${patch_files[@]}")
    [ -d "$tree" ] && stamp_ok patch "$key" && return
    if [ ! -d "$tree" ] || [ ! -d "$applied" ]; then
        say "copying the pristine tree to build in ($tree)"
        fresh_tree
    elif [ -n "$(ls "$applied")" ]; then
        say "the patch series changed: reverse-applying the previous one"
        # the content and time of every file the old series touched, to give back the old
        # time to those the new series leaves as they were (make then rebuilds only the rest)
        saved=$src/saved-times
        (cd "$tree" && patch_paths "$applied"/*) | while read -r f; do
            [ -f "$tree/$f" ] && printf '%s %s %s\n' "$(sha256sum < "$tree/$f" | cut -c1-64)" \
                "$(stat -c %.9Y "$tree/$f")" "$f"
        done > "$saved"
        if ! unapply_series > "$logs/unpatch.log" 2>&1; then
            say "the previous series does not reverse-apply ($logs/unpatch.log): a fresh tree"
            fresh_tree
            rm -f "$saved"
        fi
    fi
    stamp_clear patch
    for p in "${patch_files[@]}"; do
        n=$((n + 1))
        say "applying ${p##*/}"
        if ! patch -d "$tree" -p1 -f -s --dry-run < "$p" > "$logs/patch.log" 2>&1; then
            cat "$logs/patch.log" >&2
            die "${p##*/} does not apply to Debian's Wine $(cat "$stamps/fetch") with the patches before it"
        fi
        patch -d "$tree" -p1 -f -s --no-backup-if-mismatch < "$p"
        cp "$p" "$applied/$(printf '%04d' $n).patch"
    done
    run_logged make_requests.log in_dir "$tree" regenerate_protocol
    if [ -n "${saved:-}" ] && [ -f "$saved" ]; then
        while read -r sum time f; do
            [ -f "$tree/$f" ] && [ "$(sha256sum < "$tree/$f" | cut -c1-64)" = "$sum" ] &&
                touch -m -d "@$time" "$tree/$f"
        done < "$saved"
        rm -f "$saved"
    fi
    stamp_set patch "$key"
}

# ---- configure -------------------------------------------------------------------------------

step_configure()
{
    local key
    key="$(printf '%s' "$WINE_CONFIGURE_FLAGS" | hash_text) $(hash_files "$tree/configure.ac")"
    stamp_ok configure "$key" && [ -f "$tree/Makefile" ] && return
    stamp_clear build
    if ! cmp -s "$tree/configure.ac" "$pristine/configure.ac"; then
        say "configure.ac changed: autoreconf"
        run_logged autoreconf.log in_dir "$tree" autoreconf -f
    fi
    say "configuring with Debian's paths (30 s)"
    # shellcheck disable=SC2086  # the flags are words
    run_logged configure.log in_dir "$tree" wine_env ./configure $WINE_CONFIGURE_FLAGS
    stamp_set configure "$key"
}

# ---- build -----------------------------------------------------------------------------------

step_build()
{
    local key libs_key cflags_key item from absent=0 extra_libs extra_headers
    read -r -a extra_libs <<< "$WINE_NTDLL_EXTRA_LIBS"
    read -r -a extra_headers <<< "$WINE_NTDLL_EXTRA_HEADERS"
    libs_key="$(printf '%s' "$WINE_NTDLL_EXTRA_LIBS" | hash_text) $(hash_files "${extra_libs[@]}")"
    cflags_key="$(printf '%s' "$WINE_NTDLL_EXTRA_CFLAGS" | hash_text) $(hash_files "${extra_headers[@]}")"
    key="$(cat "$stamps/patch") $(cat "$stamps/configure") $libs_key $cflags_key"
    key="$key $(declare -f step_build | hash_text) ${make_targets[*]}"
    for item in "${built_files[@]}"; do
        read -r from _ <<< "$item"
        [ -f "$tree/$from" ] || absent=1
    done
    [ "$absent" = 0 ] && stamp_ok build "$key" && return
    # the engine link hook: make does not know these files, so their changes are ours to see
    stamp_ok hook-libs "$libs_key" || rm -f "$tree/dlls/ntdll/ntdll.so"
    stamp_ok hook-cflags "$cflags_key" || rm -f "$tree/dlls/ntdll/unix/awe.o"
    if [ -f "$tree/server/wineserver" ]; then
        say "building what changed of ${make_targets[*]}"
    else
        say "building ${make_targets[*]} and Wine's build tools (3-5 min)"
    fi
    run_logged build.log wine_env make -C "$tree" -j"$WINE_JOBS" "${make_targets[@]}" \
        AWE_ENGINE_LIBS="$WINE_NTDLL_EXTRA_LIBS" AWE_ENGINE_CFLAGS="$WINE_NTDLL_EXTRA_CFLAGS" \
        VENDOR="Debian $(cat "$stamps/fetch") with the AWE series"
    for item in "${built_files[@]}"; do
        read -r from _ <<< "$item"
        [ -f "$tree/$from" ] || die "the build did not leave $tree/$from ($logs/build.log)"
    done
    stamp_set hook-libs "$libs_key"
    stamp_set hook-cflags "$cflags_key"
    stamp_set build "$key"
}

# ---- overlay ---------------------------------------------------------------------------------

# The overlay: the installed Wine's directories with a link to every file, except the
# built modules, which are copies (the loader must be a real file: it finds ntdll.so from its
# own resolved path); the data directory is a link; bin/wine is the launcher.
assemble_overlay()
{
    local out=$1 dir f item from to
    for dir in "${installed_dirs[@]}"; do
        [ -d "/$dir" ] || { echo "/$dir is missing: is Debian's wine64 installed?"; return 1; }
        (cd "/$dir" && find . -type d) | while read -r f; do mkdir -p "$out/$dir/$f"; done
        (cd "/$dir" && find . ! -type d) | while read -r f; do ln -s "/$dir/${f#./}" "$out/$dir/$f"; done
    done
    for item in "${built_files[@]}"; do
        read -r from to <<< "$item"
        rm -f "$out/$to"
        cp -p "$tree/$from" "$out/$to"
    done
    # Debian's wineserver is a script choosing wineserver64 in /usr/lib/wine: ours instead
    ln -sfn wineserver64 "$out/usr/lib/wine/wineserver"
    mkdir -p "$out/usr/share"
    ln -s /usr/share/wine "$out/usr/share/wine"
    mkdir -p "$out/bin"
    {
        cat <<'LAUNCHER'
#!/bin/sh
# Runs a Windows program under Debian's Wine 8.0 with the AWE patch series' modules (made by
# make wine: wine/README.md).  The patched wineserver serves the prefix: a prefix last used by
# another Wine must not have that Wine's wineserver running.  WINEPREFIX and WINEDEBUG are the
# caller's; so are AWE_SERVER (the awe-server that ntdll starts on the first AWE call, by
# default the project's) and AWE_SERVER_DIR (its instance directory).
root=$(cd "$(dirname "$0")/.." && pwd -P)
WINESERVER=$root/usr/lib/wine/wineserver64
WINELOADER=$root/usr/lib/wine/wine64
export WINESERVER WINELOADER
LAUNCHER
        printf ': "${AWE_SERVER:=%s}"\nexport AWE_SERVER\n' "$WINE_AWE_SERVER"
        echo 'exec "$WINELOADER" "$@"'
    } > "$out/bin/wine"
    chmod 755 "$out/bin/wine"
}

step_overlay()
{
    local key
    key="$(cat "$stamps/build") $(dpkg-query -W -f='${Version} ' wine64 libwine) $WINE_AWE_SERVER"
    stamp_ok overlay "$key" && [ -x "$WINE_OUT_DIR/bin/wine" ] && return
    say "assembling the overlay $WINE_OUT_DIR"
    rm -rf "$WINE_OUT_DIR.tmp"
    run_logged overlay.log assemble_overlay "$WINE_OUT_DIR.tmp"
    rm -rf "$WINE_OUT_DIR"
    mv "$WINE_OUT_DIR.tmp" "$WINE_OUT_DIR"
    stamp_set overlay "$key"
}

# ---- devtree ---------------------------------------------------------------------------------

# $src/dev: the pristine tree as a git repository, Debian's state as its first commit and one
# commit per patch of the series (git am), to edit and turn back into patches with
# git format-patch (wine/README.md).  Left alone when it exists.
make_devtree()
{
    local dev=$src/dev p
    cp -a "$pristine" "$dev.tmp"
    cd "$dev.tmp"
    git init -q
    git config user.name > /dev/null || git config user.name "AWE developer"
    git config user.email > /dev/null || git config user.email "awe@localhost"
    git add -A
    git -c user.name=Debian -c user.email=debian@localhost commit -q -m "Debian's wine $(cat "$stamps/fetch")"
    git tag debian
    for p in "${patch_files[@]}"; do git am -q "$p"; done
    cd "$src"
    mv "$dev.tmp" "$dev"
}

# ---- main ------------------------------------------------------------------------------------

cmd=${1:-build}
step_packages
ver=$(dpkg-query -W -f='${Version}' wine64)
step_fetch "$ver"
step_pristine "$ver"
case $cmd in
build)
    step_patch
    step_configure
    step_build
    step_overlay
    say "ready: $WINE_OUT_DIR/bin/wine PROGRAM.exe"
    ;;
devtree)
    [ -d "$src/dev" ] && die "$src/dev exists: remove it for a new one"
    say "making the git tree $src/dev (1 min)"
    rm -rf "$src/dev.tmp"
    run_logged devtree.log make_devtree
    say "ready: $src/dev (branch master: debian tag, then one commit per patch)"
    ;;
*) die "unknown command $cmd (build or devtree)" ;;
esac
