#!/usr/bin/env bash
# The install test (ctest label "install"): installs the build into a temporary prefix, then checks
# what a user gets there:
#   - the shared library's SONAME and that it exports efvitcp_* symbols only;
#   - every installed header compiles on its own (C headers as C and C++, C++ headers as C++);
#   - consumer programs (consumer.c, consumer.cpp) built with pkg-config (shared, and static from
#     Libs.private / Requires.private) and with find_package(efvitcp) (efvitcp::efvitcp and
#     efvitcp::efvitcp_static), each run: an echo over the mem link;
#   - every installed tool answers --help and --version.
# The prefix and every build live in one temporary directory, removed on exit.
#
# Usage: run.sh BUILD_DIR C_COMPILER [EXTRA_FLAGS]
#   EXTRA_FLAGS: compile and link flags the library needs from its users (the sanitizers of an
#   EFVITCP_SANITIZE build).
set -euo pipefail
build=$1
cc=$2
extra=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/efvitcp-install-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
step() { echo "== $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }
# shellcheck disable=SC2206
xflags=($extra)

step "cmake --install --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; die "install"; }

libdir=$(dirname "$(find "$prefix" -name 'libefvitcp.so' -print -quit)")
[ -d "$libdir" ] || die "no libefvitcp.so under $prefix"
version=$(sed -n 's/^#define EFVITCP_VERSION_STRING "\(.*\)"$/\1/p' "$prefix/include/efvitcp/efvitcp.h")
major=${version%%.*}
[ -n "$version" ] || die "no EFVITCP_VERSION_STRING in the installed header"
for f in "$libdir/libefvitcp.a" "$libdir/libefvitcp.so.$major" "$libdir/libefvitcp.so.$version" \
    "$libdir/pkgconfig/efvitcp.pc" "$libdir/cmake/efvitcp/efvitcp-config.cmake"; do
    [ -e "$f" ] || die "missing $f"
done

step "shared library: SONAME and exported symbols"
soname=$(readelf -d "$libdir/libefvitcp.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libefvitcp.so.$major" ] || die "SONAME is '$soname', want libefvitcp.so.$major"
# Internal symbols are hidden: a user's program cannot come to depend on them.
others=$(nm -D --defined-only "$libdir/libefvitcp.so.$version" | awk '{print $3}' |
    grep -v '^efvitcp_' | grep -vE '^(_init|_fini|__bss_start|_edata|_end)$' || true)
[ -z "$others" ] || die "the shared library exports non-API symbols: $others"

cxx=$(command -v c++ || command -v g++ || command -v clang++ || true)

step "every installed header compiles on its own"
for h in "$prefix"/include/efvitcp/*; do
    name=efvitcp/$(basename "$h")
    # The C headers are named in lower case (efvitcp.h); the C++ layer's after the original
    # library's classes (TcpClient.h, Core.h...) and compile as C++ only.
    case "$(basename "$h")" in
    [a-z]*.h)
        echo "#include <$name>" | "$cc" -std=c11 -Wall -Wextra -Werror -pedantic \
            -I"$prefix/include" -x c -c - -o /dev/null || die "$name does not compile as C11"
        if [ -n "$cxx" ]; then
            echo "#include <$name>" | "$cxx" -Wall -Wextra -Werror -I"$prefix/include" -x c++ -c - \
                -o /dev/null || die "$name does not compile as C++"
        fi
        ;;
    *)
        if [ -n "$cxx" ]; then
            echo "#include <$name>" | "$cxx" -Wall -Wextra -Werror -I"$prefix/include" -x c++ -c - \
                -o /dev/null || die "$name does not compile as C++"
        fi
        ;;
    esac
done

export PKG_CONFIG_PATH=$libdir/pkgconfig
step "pkg-config: efvitcp $(pkg-config --modversion efvitcp)"
[ "$(pkg-config --modversion efvitcp)" = "$version" ] || die "efvitcp.pc has another version"
# shellcheck disable=SC2207
pc_cflags=($(pkg-config --cflags efvitcp))
# shellcheck disable=SC2207
pc_libs=($(pkg-config --libs efvitcp))
"$cc" -std=c11 -Wall -Wextra -Werror "${xflags[@]}" "${pc_cflags[@]}" "$here/consumer.c" \
    "${pc_libs[@]}" -Wl,-rpath,"$libdir" -o "$work/pc_c"
"$work/pc_c"
# Static: the library's archive in place of -lefvitcp, and what Libs.private and
# Requires.private add for it.
# shellcheck disable=SC2207
pc_static=($(pkg-config --static --libs efvitcp | sed "s|-lefvitcp|$libdir/libefvitcp.a|"))
"$cc" -std=c11 -Wall -Wextra -Werror "${xflags[@]}" "${pc_cflags[@]}" "$here/consumer.c" \
    "${pc_static[@]}" -o "$work/pc_c_static"
if readelf -d "$work/pc_c_static" | grep -q 'NEEDED.*libefvitcp'; then
    die "the static consumer needs libefvitcp.so"
fi
"$work/pc_c_static"
if [ -n "$cxx" ]; then
    "$cxx" -Wall -Wextra -Werror "${xflags[@]}" "${pc_cflags[@]}" "$here/consumer.cpp" \
        "${pc_libs[@]}" -Wl,-rpath,"$libdir" -o "$work/pc_cxx"
    "$work/pc_cxx"
else
    echo "(no C++ compiler: C++ consumers skipped)"
fi

step "find_package(efvitcp)"
cxx_on=OFF
[ -n "$cxx" ] && cxx_on=ON
cmake -S "$here/find_package" -B "$work/fp" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" ${cxx:+-DCMAKE_CXX_COMPILER="$cxx"} -DEFVITCP_CONSUMER_CXX=$cxx_on \
    -DCMAKE_C_FLAGS="-Wall -Wextra -Werror $extra" -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror $extra" \
    -DCMAKE_EXE_LINKER_FLAGS="$extra" >"$work/fp.log" 2>&1 || { cat "$work/fp.log"; die "configure"; }
cmake --build "$work/fp" -j 2 >"$work/fp-build.log" 2>&1 || { cat "$work/fp-build.log"; die "build"; }
for exe in consumer_shared consumer_static consumer_cxx_shared consumer_cxx_static; do
    [ -x "$work/fp/$exe" ] || { [ "$cxx_on" = OFF ] && [[ $exe == *cxx* ]] && continue; die "$exe not built"; }
    if [[ $exe == *static ]] && readelf -d "$work/fp/$exe" | grep -q 'NEEDED.*libefvitcp'; then
        die "$exe (efvitcp::efvitcp_static) needs libefvitcp.so"
    fi
    "$work/fp/$exe"
done

step "installed tools"
for tool in eftcat efvitcp-sockperf-server efvitcp-sim efvitcp-stat; do
    [ -x "$prefix/bin/$tool" ] || die "$tool not installed"
    "$prefix/bin/$tool" --help >"$work/help" || die "$tool --help exits non-zero"
    grep -q usage "$work/help" || die "$tool --help prints no usage"
    "$prefix/bin/$tool" --version | grep -qF "$version" || die "$tool --version is not $version"
done
echo "install test passed"
