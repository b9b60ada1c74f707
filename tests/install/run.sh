#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/install/run.sh [BUILD] - checks `make install` and `make uninstall`.
#
# Run by `make install-check` (and so by `make test`) with BUILD = the build
# directory (default build/native; a plain build, not a sanitizer one). In a
# temporary prefix (mktemp -d) it:
#   1. runs make install PREFIX=<tmp> and checks the files, modes, symlinks,
#      the soname (readelf) and the pkg-config metadata;
#   2. builds tests/install/consumer.c with only `pkg-config --cflags --libs wsc`,
#      runs it against the installed libwsc.so (LD_LIBRARY_PATH) and
#      BUILD/tests/progs/echo_server: one message echoed;
#   3. links it again with `pkg-config --static --libs wsc` and libwsc.a, runs it;
#   3b. builds it with CMake (find_package(wsc 0.1), targets wsc::wsc and
#      wsc::wsc_static) and runs both; find_package(wsc 1.0) must fail;
#   4. installs with DESTDIR and a different PREFIX and LIBDIR, checks wsc.pc;
#   5. runs make uninstall for both and checks that no file is left.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${1:-build/native}
cc=${CC:-cc}
tmp=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

say() { echo "-- $*"; }
die() { echo "install-check: FAIL: $*" >&2; exit 1; }
# Runs a command quietly; on failure shows its output and fails with a message.
run() {
    local what=$1; shift
    if ! "$@" >"$tmp/log" 2>&1; then
        cat "$tmp/log" >&2
        die "$what failed: $*"
    fi
}

echo "== install check ($build)"
command -v pkg-config >/dev/null || die "pkg-config not found (scripts/deps.sh installs it)"
command -v readelf >/dev/null || die "readelf not found (binutils)"
command -v cmake >/dev/null || die "cmake not found (scripts/deps.sh installs it)"
server=$build/tests/progs/echo_server
[[ -x $server ]] || die "$server is missing: run make $server (make install-check builds it)"

version=$(sed -n 's/^#define WSC_VERSION_STRING "\(.*\)"$/\1/p' include/wsc.h)
[[ -n $version ]] || die "no WSC_VERSION_STRING in include/wsc.h"
soname=libwsc.so.${version%%.*}

# ---- 1. make install
prefix=$tmp/prefix
lib=$prefix/lib
say "make install PREFIX=$prefix (version $version, soname $soname)"
run "make install" make --no-print-directory install BUILD="$build" PREFIX="$prefix"

check_mode() {  # FILE MODE
    [[ -f $1 && ! -L $1 ]] || die "$1 was not installed as a file"
    [[ $(stat -c %a "$1") == "$2" ]] || die "$1 has mode $(stat -c %a "$1"), expected $2"
}
check_link() {  # LINK TARGET
    [[ -L $1 ]] || die "$1 is not a symlink"
    [[ $(readlink "$1") == "$2" ]] || die "$1 -> $(readlink "$1"), expected -> $2"
}
check_mode "$prefix/include/wsc.h" 644
check_mode "$lib/libwsc.a" 644
check_mode "$lib/libwsc.so.$version" 755
check_mode "$lib/pkgconfig/wsc.pc" 644
check_mode "$lib/cmake/wsc/wscConfig.cmake" 644
check_mode "$lib/cmake/wsc/wscConfigVersion.cmake" 644
check_link "$lib/$soname" "libwsc.so.$version"
check_link "$lib/libwsc.so" "$soname"
cmp -s include/wsc.h "$prefix/include/wsc.h" || die "installed wsc.h differs from include/wsc.h"
check_mode "$prefix/bin/wsc" 755
check_mode "$prefix/share/man/man1/wsc.1" 644
for page in include/man3/*.3; do
    check_mode "$prefix/share/man/man3/$(basename "$page")" 644
done
[[ -f $prefix/share/man/man3/wsc_dial.3 ]] || die "no wsc_dial.3 among the library's man pages"
"$prefix/bin/wsc" --help >/dev/null || die "the installed wsc tool does not run (wsc --help)"
say "files, modes and symlinks ok; the wsc tool runs"

got=$(readelf -d "$lib/libwsc.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $got == "$soname" ]] || die "libwsc.so.$version has soname '$got', expected $soname"
say "readelf: SONAME $got"

export PKG_CONFIG_PATH=$lib/pkgconfig
[[ $(pkg-config --modversion wsc) == "$version" ]] || die "pkg-config --modversion wsc: $(pkg-config --modversion wsc), expected $version"
[[ $(pkg-config --variable=libdir wsc) == "$lib" ]] || die "wsc.pc libdir is $(pkg-config --variable=libdir wsc), expected $lib"
cflags=$(pkg-config --cflags wsc)
libs=$(pkg-config --libs wsc)
static_libs=$(pkg-config --static --libs wsc)
say "pkg-config --cflags --libs wsc: $cflags $libs"
say "pkg-config --static --libs wsc: $static_libs"
for l in -lssl -lcrypto -lz -lpthread; do
    [[ " $static_libs " == *" $l "* ]] || die "pkg-config --static --libs wsc lacks $l"
done

# ---- 2. a consumer linked with the shared library
"$server" --port 0 >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/^LISTENING \([0-9]*\)$/\1/p' "$tmp/server.out")
    [[ -n $port ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.err" >&2; die "$server exited"; }
    sleep 0.05
done
[[ -n $port ]] || die "$server printed no LISTENING line in 5 s"
say "echo server on port $port"

say "cc consumer.c \$(pkg-config --cflags --libs wsc)"
# shellcheck disable=SC2086  # the flags are words
run "building the shared consumer" "$cc" -std=c11 -Wall -Werror tests/install/consumer.c -o "$tmp/consumer" $cflags $libs
readelf -d "$tmp/consumer" | grep -q "(NEEDED).*\[$soname\]" || die "consumer does not need $soname"
where=$(LD_LIBRARY_PATH=$lib ldd "$tmp/consumer" | sed -n "s/.*$soname => \([^ ]*\).*/\1/p")
[[ $where == "$lib/$soname" ]] || die "consumer loads $soname from '$where', expected $lib/$soname"
say "LD_LIBRARY_PATH=$lib consumer $port (needs $soname, loads $where)"
LD_LIBRARY_PATH=$lib "$tmp/consumer" "$port" || die "the shared consumer failed"

# ---- 3. the same consumer linked with libwsc.a
# -l:libwsc.a picks the archive next to the .so that -lwsc would find.
say "cc consumer.c \$(pkg-config --cflags wsc) \$(pkg-config --static --libs wsc), -lwsc as -l:libwsc.a"
# shellcheck disable=SC2086
run "building the static consumer" "$cc" -std=c11 -Wall -Werror tests/install/consumer.c -o "$tmp/consumer-static" \
    $cflags ${static_libs/-lwsc/-l:libwsc.a}
if readelf -d "$tmp/consumer-static" | grep -q "(NEEDED).*libwsc"; then
    die "consumer-static still needs a shared libwsc"
fi
say "consumer-static $port (no libwsc.so needed)"
env -u LD_LIBRARY_PATH "$tmp/consumer-static" "$port" || die "the static consumer failed"

# ---- 3b. CMake: find_package(wsc) and its two targets
proj=$tmp/cmake-consumer
mkdir -p "$proj"
cp tests/install/consumer.c "$proj/"
cat >"$proj/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.13)
project(consumer C)
find_package(wsc ${WANT} REQUIRED)
add_executable(consumer consumer.c)
target_link_libraries(consumer PRIVATE wsc::wsc)
add_executable(consumer_static consumer.c)
target_link_libraries(consumer_static PRIVATE wsc::wsc_static)
CMAKE
say "cmake: find_package(wsc 0.1) with CMAKE_PREFIX_PATH=$prefix, targets wsc::wsc and wsc::wsc_static"
run "cmake configure" cmake -S "$proj" -B "$proj/build" -DWANT=0.1 -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="-Wall -Werror"
run "cmake build" cmake --build "$proj/build"
readelf -d "$proj/build/consumer" | grep -q "(NEEDED).*\[$soname\]" || die "the CMake consumer does not need $soname"
if readelf -d "$proj/build/consumer_static" | grep -q "(NEEDED).*libwsc"; then
    die "the CMake consumer_static still needs a shared libwsc"
fi
LD_LIBRARY_PATH=$lib "$proj/build/consumer" "$port" || die "the CMake consumer (wsc::wsc) failed"
env -u LD_LIBRARY_PATH "$proj/build/consumer_static" "$port" || die "the CMake consumer (wsc::wsc_static) failed"
if cmake -S "$proj" -B "$proj/build1" -DWANT=1.0 -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/log" 2>&1; then
    die "find_package(wsc 1.0) accepted version $version"
fi
grep -q "$version" "$tmp/log" || { cat "$tmp/log" >&2; die "find_package(wsc 1.0) failed without naming $version"; }
say "CMake consumers ran (shared and static); find_package(wsc 1.0) refused $version"

kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=

# ---- 4. DESTDIR, another PREFIX and LIBDIR
stage=$tmp/stage
say "make install DESTDIR=$stage PREFIX=/opt/wsc LIBDIR=/opt/wsc/lib/multiarch"
run "make install with DESTDIR" make --no-print-directory install BUILD="$build" \
    DESTDIR="$stage" PREFIX=/opt/wsc LIBDIR=/opt/wsc/lib/multiarch
for f in include/wsc.h lib/multiarch/libwsc.a "lib/multiarch/libwsc.so.$version" \
         "lib/multiarch/$soname" lib/multiarch/libwsc.so lib/multiarch/pkgconfig/wsc.pc \
         lib/multiarch/cmake/wsc/wscConfig.cmake lib/multiarch/cmake/wsc/wscConfigVersion.cmake; do
    [[ -e $stage/opt/wsc/$f ]] || die "DESTDIR install lacks $stage/opt/wsc/$f"
done
pc=$stage/opt/wsc/lib/multiarch/pkgconfig/wsc.pc
grep -qx 'prefix=/opt/wsc' "$pc" || die "$pc: prefix is not /opt/wsc"
# shellcheck disable=SC2016  # a literal ${prefix}
grep -qx 'libdir=${prefix}/lib/multiarch' "$pc" || die "$pc: libdir is not \${prefix}/lib/multiarch"
# shellcheck disable=SC2016
grep -qx 'includedir=${prefix}/include' "$pc" || die "$pc: includedir is not \${prefix}/include"
grep -q '"/opt/wsc/lib/multiarch/libwsc.a"' "$stage/opt/wsc/lib/multiarch/cmake/wsc/wscConfig.cmake" ||
    die "wscConfig.cmake does not point at /opt/wsc/lib/multiarch/libwsc.a"
say "DESTDIR install ok"

# ---- 5. make uninstall leaves no file
say "make uninstall DESTDIR=$stage PREFIX=/opt/wsc LIBDIR=/opt/wsc/lib/multiarch"
run "make uninstall with DESTDIR" make --no-print-directory uninstall BUILD="$build" \
    DESTDIR="$stage" PREFIX=/opt/wsc LIBDIR=/opt/wsc/lib/multiarch
say "make uninstall PREFIX=$prefix"
run "make uninstall" make --no-print-directory uninstall BUILD="$build" PREFIX="$prefix"
left=$(find "$prefix" "$stage" ! -type d)
[[ -z $left ]] || die "make uninstall left files behind:"$'\n'"$left"
say "no files left"
echo "install check: ok"
