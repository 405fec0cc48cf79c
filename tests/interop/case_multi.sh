# 100 concurrent connections from one efvitcp client to one kernel echo server (socat, one
# process per connection); each sends 64 KiB of its own pattern and checks the echo.
source "$(dirname "$0")/lib.sh"
setup
bg_k timeout 120 socat TCP-LISTEN:5005,reuseaddr,fork,backlog=256 EXEC:cat
wait_k_listen 5005
in_e timeout 120 "$INTEROP_TOOL" "${EF_ARGS[@]}" --timeout 100 multi "$K_IP" 5005 100 65536 ||
    fail "interop_tool multi: exit $?"
log PASS
