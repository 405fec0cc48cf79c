# Shared by bench/loss_veth.sh and bench/rr_loss_veth.sh (sourced, not run): the veth pair in
# two namespaces (tests/interop/lib.sh, own-address mode), a Linux echo server (socat ...
# EXEC:cat) on port 5001 in the kernel's namespace, and loss_set PERCENT, which makes nftables
# drop that share of the frames of both clients (efvitcp's E_IP and the kernel client's E_KIP)
# in each direction.
#
#   loss_common_setup BUILD_DIR LINK    (sets EFTCAT, WORK, EF_ARGS, K_IP and the lib.sh helpers)

loss_common_setup() {
    local build=$1 link=$2 here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    export EFTCAT=$build/examples/eftcat
    export INTEROP_TOOL=${INTEROP_TOOL:-$build/tests/interop/interop_tool} # lib.sh wants it
    [ -x "$EFTCAT" ] || { echo "$(basename "$0"): $EFTCAT not built" >&2; exit 2; }
    # lib.sh: namespaces, the veth pair (offloads off), addresses, helpers; LINK own-address
    # mode. Its cleanup (on exit) removes the namespaces and what runs in them.
    # shellcheck source=../tests/interop/lib.sh
    source "$here/../tests/interop/lib.sh" "$link" own
    setup
    bg_k socat TCP-LISTEN:5001,reuseaddr,fork EXEC:cat
    wait_k_listen 5001
}

loss_set() { # PERCENT: both clients' frames, both directions
    in_k nft delete table inet efvitcp_bench 2>/dev/null || true
    in_k nft -f - <<NFT
table inet efvitcp_bench {
    chain in {
        type filter hook input priority -10;
        ip saddr { $E_IP, $E_KIP } numgen random mod 100 < $1 drop
    }
    chain out {
        type filter hook output priority -10;
        ip daddr { $E_IP, $E_KIP } numgen random mod 100 < $1 drop
    }
}
NFT
}

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
