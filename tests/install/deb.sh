#!/usr/bin/env bash
# The Debian package test (ctest label "install"): what a new machine gets from
# `apt-get install ./efvitcp*.deb`, without changing this machine:
#   - cpack -G DEB makes the runtime and -dev packages from the build;
#   - their control fields: names, versions, the -dev package's dependency on the runtime one,
#     the runtime's shared-library dependencies (libxdp1 and libbpf1 with the xdp link);
#   - apt resolves both packages with their dependencies (apt-get install --simulate);
#   - unpacked into a scratch root, the packages hold the library, headers, pkg-config file, CMake
#     package and tools; a consumer builds with pkg-config against that root and runs (an echo
#     over the mem link); the packaged eftcat serves on the shm link while the packaged
#     efvitcp-stat, reading its live view, lists it with its listening port.
# Everything lives in one temporary directory, removed on exit; nothing is installed.
#
# Usage: deb.sh BUILD_DIR C_COMPILER [EXTRA_FLAGS]
#   EXTRA_FLAGS: what the library needs from its users (the sanitizers of an EFVITCP_SANITIZE build)
set -euo pipefail
build=$(cd "$1" && pwd)
cc=$2
# shellcheck disable=SC2206
xflags=(${3:-})
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/efvitcp-deb-test.XXXXXX)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
step() { echo "== $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }
for t in cpack dpkg-deb apt-get pkg-config; do
    command -v "$t" >/dev/null || { echo "SKIP: $t not installed"; exit 0; }
done

step "cpack -G DEB"
(cd "$build" && cpack -G DEB -B "$work/pkg" >"$work/cpack.log" 2>&1) ||
    { cat "$work/cpack.log"; die "cpack"; }
run_deb=$(find "$work/pkg" -maxdepth 1 -name 'efvitcp_*.deb' -print -quit)
dev_deb=$(find "$work/pkg" -maxdepth 1 -name 'efvitcp-dev_*.deb' -print -quit)
[ -f "$run_deb" ] && [ -f "$dev_deb" ] || die "cpack made no efvitcp and efvitcp-dev packages"

step "control fields"
version=$(sed -n 's/^#define EFVITCP_VERSION_STRING "\(.*\)"$/\1/p' \
    "$here/../../include/efvitcp/efvitcp.h")
field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$run_deb" Package)" = efvitcp ] || die "runtime package name"
[ "$(field "$dev_deb" Package)" = efvitcp-dev ] || die "dev package name"
[ "$(field "$run_deb" Version)" = "$version" ] || die "runtime version $(field "$run_deb" Version)"
field "$dev_deb" Depends | grep -q "efvitcp (= $version)" ||
    die "efvitcp-dev does not depend on efvitcp (= $version): $(field "$dev_deb" Depends)"
depends=$(field "$run_deb" Depends)
echo "   efvitcp depends on: $depends"
echo "$depends" | grep -q libc6 || die "no libc6 in the runtime's dependencies"
lib_in_build=$(find "$build" -maxdepth 1 -name 'libefvitcp.so.*.*' -print -quit)
if [ -n "$lib_in_build" ] && readelf -d "$lib_in_build" | grep NEEDED | grep -q libxdp; then
    echo "$depends" | grep -q libxdp || die "the library needs libxdp but the package does not say so"
    echo "$depends" | grep -q libbpf || die "the library needs libbpf but the package does not say so"
fi

step "apt-get install --simulate"
apt-get install --simulate "$run_deb" "$dev_deb" >"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log"; die "apt cannot install the packages"; }
grep -q "^Inst efvitcp " "$work/apt.log" || { cat "$work/apt.log"; die "apt would not install efvitcp"; }

step "contents, unpacked into a scratch root"
root=$work/root
dpkg-deb -x "$run_deb" "$root"
dpkg-deb -x "$dev_deb" "$root"
pc=$(find "$root" -name efvitcp.pc -print -quit)
[ -n "$pc" ] || die "no efvitcp.pc"
[ -n "$(find "$root" -path '*cmake/efvitcp/efvitcp-config.cmake' -print -quit)" ] ||
    die "no CMake package"
[ -f "$root/usr/include/efvitcp/efvitcp.h" ] || die "no header under /usr/include"
libdir=$(dirname "$(find "$root" -name 'libefvitcp.so.*' -print -quit)")
for tool in eftcat efvitcp-stat efvitcp-sim efvitcp-sockperf-server; do
    [ -x "$root/usr/bin/$tool" ] || die "no $tool in /usr/bin"
done

step "a consumer built with pkg-config against the packages"
# The system directories stay searched: Requires.private (libxdp, libbpf) must resolve there.
export PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_PATH=$(dirname "$pc")
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror "${xflags[@]}" "$here/consumer.c" -o "$work/consumer" \
    $(pkg-config --cflags --libs efvitcp) || die "consumer does not build"
LD_LIBRARY_PATH=$libdir "$work/consumer" || die "consumer failed"

step "the packaged eftcat, watched by the packaged efvitcp-stat"
# shm:NAME needs no privileges: the server waits for a peer and publishes its live view.
name=debtest$$
LD_LIBRARY_PATH=$libdir "$root/usr/bin/eftcat" -l --link "shm:$name" --ip 198.18.0.1/15 5123 \
    </dev/null >/dev/null 2>"$work/eftcat.log" &
server=$!
seen=
for _ in $(seq 50); do
    if LD_LIBRARY_PATH=$libdir "$root/usr/bin/efvitcp-stat" --json -p "$server" \
        >"$work/stat.json" 2>/dev/null && grep -q 5123 "$work/stat.json"; then
        seen=1
        break
    fi
    sleep 0.1
done
[ -n "$seen" ] || { cat "$work/eftcat.log" "$work/stat.json" 2>/dev/null; die "efvitcp-stat does not see the server"; }
echo "   efvitcp-stat: $(tr -d '\n' <"$work/stat.json" | cut -c1-160)"
kill "$server"
rc=0
wait "$server" 2>/dev/null || rc=$?
server=
# SIGTERM closes the instance: the shm link's object and the live view's file go with it.
[ $rc = 143 ] || die "eftcat exited $rc at SIGTERM, expected 143 (128 + 15)"
[ ! -e "/dev/shm/efvitcp-$name" ] || die "/dev/shm/efvitcp-$name outlived eftcat's SIGTERM"
echo PASS
