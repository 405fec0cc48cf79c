#!/bin/sh
# Checks src/link/efvi.c against a real Onload ef_vi API. Not run in CI: there is no Onload there.
#
#   tests/efvi/check_real_headers.sh DIR [LIBCIUL]
#
# DIR holds Onload's etherfabric/ headers: an install's include directory (DIR/etherfabric/vi.h,
# e.g. /usr/include) or an Onload checkout (DIR/src/include/etherfabric/vi.h is found too).
# LIBCIUL (optional) is libciul1.so or libciul.a; every ef_vi symbol the link needs must be
# defined in it.
#
# Steps, as CMake does them for a hardware build (cmake/efvi.cmake):
#   1. probe EFVITCP_EFVI_HAVE_EFCT and EFVITCP_EFVI_HAVE_EFCT_TS with the same test programs;
#   2. compile efvi.c -fsyntax-only with the project's warnings, -Werror, the Onload directory as
#      a system include and -Wno-deprecated-declarations (must pass);
#   3. the same without -Wno-deprecated-declarations (advisory; a failure is only reported,
#      unless STRICT=1);
#   4. compile to an object and compare its undefined ef_*/efct_* symbols (nm -u) with the ones
#      the link is known to use: an unexpected one means a header turned an inline or macro into
#      a library call, or efvi.c started to use something new; check it is exported by libciul.
# Exits 0 when every mandatory step passes. CC picks the compiler (default cc).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cc=${CC:-cc}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DIR [LIBCIUL]   (DIR/etherfabric/vi.h must exist)" >&2
    exit 2
fi
dir=$1
if [ ! -f "$dir/etherfabric/vi.h" ] && [ -f "$dir/src/include/etherfabric/vi.h" ]; then
    dir=$dir/src/include
fi
if [ ! -f "$dir/etherfabric/vi.h" ]; then
    echo "FAIL: no etherfabric/vi.h under $1" >&2
    exit 2
fi
lib=${2:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/efvi-hdrs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0

# 1. Feature probes: the programs of cmake/efvi.cmake, compiled as check_c_source_compiles does
#    (no project warnings, so a deprecation does not fail them).
cat >"$tmp/efct.c" <<'EOF'
#include <etherfabric/vi.h>
#include <etherfabric/efct_vi.h>
int main(void) { ef_vi vi; const void *p = efct_vi_rxpkt_get(&vi, 0);
  efct_vi_rxpkt_release(&vi, 0); return p != 0 && vi.nic_type.arch == EF_VI_ARCH_EFCT; }
EOF
cat >"$tmp/efct_ts.c" <<'EOF'
#include <etherfabric/vi.h>
#include <etherfabric/efct_vi.h>
int main(void) { ef_vi vi; struct timespec t; unsigned f;
  return efct_vi_rxpkt_get_timestamp(&vi, 0, &t, &f); }
EOF
defs="-DEFVITCP_HAVE_EFVI"
if $cc -D_GNU_SOURCE -I"$dir" -c "$tmp/efct.c" -o "$tmp/p.o" 2>/dev/null; then
    defs="$defs -DEFVITCP_EFVI_HAVE_EFCT"
fi
if $cc -D_GNU_SOURCE -I"$dir" -c "$tmp/efct_ts.c" -o "$tmp/p.o" 2>/dev/null; then
    defs="$defs -DEFVITCP_EFVI_HAVE_EFCT_TS"
fi
if printf '#include <etherfabric/ef_vi.h>\n#ifndef ef_vi_receive_get_precise_timestamp\n#error no\n#endif\n' |
    $cc -D_GNU_SOURCE -I"$dir" -x c -fsyntax-only - 2>/dev/null; then
    ts="ef_vi_receive_get_precise_timestamp"
else
    ts="ef_vi_receive_get_timestamp (no precise call in these headers)"
fi
echo "headers:   $dir"
echo "defines:   $defs"
echo "RX stamps: $ts"

warn="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter"
inc="-I$root/include -I$root/src -isystem $dir"
src=$root/src/link/efvi.c

# 2. What the build does.
# shellcheck disable=SC2086 # word splitting of the flag lists is intended
if $cc $warn -Wno-deprecated-declarations $defs $inc -fsyntax-only "$src" 2>"$tmp/syntax.err"; then
    echo "PASS: syntax (as CMake compiles it)"
else
    echo "FAIL: syntax (as CMake compiles it):"
    cat "$tmp/syntax.err"
    echo "FAIL: efvi.c against $dir"
    exit 1
fi

# 3. Without the deprecation relief.
# shellcheck disable=SC2086
if $cc $warn $defs $inc -fsyntax-only "$src" 2>"$tmp/strict.err"; then
    echo "PASS: syntax without -Wno-deprecated-declarations"
elif [ "${STRICT:-0}" = 1 ]; then
    echo "FAIL: syntax without -Wno-deprecated-declarations:"
    cat "$tmp/strict.err"
    fail=1
else
    echo "WARN: efvi.c uses calls these headers deprecate (the build tolerates them):"
    grep -E 'error|warning' "$tmp/strict.err" || cat "$tmp/strict.err"
fi

# 4. Library calls left in the object.
# shellcheck disable=SC2086
if ! $cc $warn -Wno-deprecated-declarations $defs $inc -fPIC -O2 -c "$src" -o "$tmp/efvi.o" \
    2>"$tmp/obj.err"; then
    echo "FAIL: object:"
    cat "$tmp/obj.err"
    exit 1
fi
nm -u "$tmp/efvi.o" | awk '{print $NF}' | grep -E '^(ef_|efct_)' | sort -u >"$tmp/undef"
echo "nm -u:     $(tr '\n' ' ' <"$tmp/undef")"

# Calls libciul exports that the link may make, depending on the release: the setup, memory,
# filter and unbundle calls of every release; ef_vi_receive_get_timestamp where there is no
# precise call; efct_vi_rxpkt_get_timestamp where it is not an inline (Onload 8);
# ef_vi_transmit_ctpio_fallback where it is not an ops macro (Onload 7); ef_eventq_has_event, or
# where it is an inline the check calls it makes (ef_eventq_check_event*, efct_/efxdp_ ones).
known="ef_driver_open ef_driver_close ef_pd_alloc ef_pd_free ef_vi_alloc_from_pd ef_vi_free
ef_vi_get_mac ef_vi_mtu ef_vi_capabilities_get ef_memreg_alloc ef_memreg_free ef_vi_transmit_init
ef_vi_transmit_unbundle ef_filter_spec_init ef_filter_spec_set_ip4_full ef_filter_spec_set_ip4_local
ef_filter_spec_set_eth_local ef_filter_spec_set_eth_type ef_vi_filter_add ef_vi_filter_del
ef_vi_receive_get_timestamp ef_vi_transmit_ctpio_fallback efct_vi_rxpkt_get efct_vi_rxpkt_release
efct_vi_rxpkt_get_timestamp ef_eventq_has_event ef_eventq_check_event ef_eventq_check_event_phase_bit
efct_ef_eventq_check_event efxdp_ef_eventq_check_event"
# Calls every build makes (a missing one means the link was compiled to nothing).
required="ef_driver_open ef_pd_alloc ef_vi_alloc_from_pd ef_memreg_alloc ef_vi_filter_add
ef_vi_transmit_unbundle"
# shellcheck disable=SC2086 # one word a line
printf '%s\n' $known >"$tmp/known"
while read -r s; do
    grep -qx "$s" "$tmp/known" || {
        echo "FAIL: unexpected library call $s (a header change, or a new call in efvi.c)"
        fail=1
    }
done <"$tmp/undef"
for s in $required; do
    if ! grep -qx "$s" "$tmp/undef"; then
        echo "FAIL: $s is not called: was the link compiled?"
        fail=1
    fi
done
case "$defs" in
*HAVE_EFCT\ * | *HAVE_EFCT)
    for s in efct_vi_rxpkt_get efct_vi_rxpkt_release; do
        grep -qx "$s" "$tmp/undef" || {
            echo "FAIL: EFCT build without $s"
            fail=1
        }
    done
    ;;
esac

# 5. Optionally, that libciul defines them all.
if [ -n "$lib" ]; then
    if [ ! -f "$lib" ]; then
        echo "FAIL: no library $lib"
        fail=1
    else
        # A shared library exports through its dynamic table; an archive through its members.
        case "$lib" in
        *.a) nm --defined-only "$lib" 2>/dev/null ;;
        *) nm -D --defined-only "$lib" 2>/dev/null ;;
        esac |
            awk 'NF >= 3 {print $3} NF == 2 {print $2}' | sed 's/@.*//' | sort -u >"$tmp/defined"
        while read -r s; do
            grep -qx "$s" "$tmp/defined" || {
                echo "FAIL: $lib does not define $s"
                fail=1
            }
        done <"$tmp/undef"
        [ $fail = 1 ] || echo "PASS: $lib defines every call"
    fi
fi

if [ $fail = 0 ]; then
    echo "PASS: efvi.c against $dir"
else
    echo "FAIL: efvi.c against $dir"
fi
exit $fail
