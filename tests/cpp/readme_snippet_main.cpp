/*
 * Runs the C++ snippet of README.md's API section: CMake cuts it out of the README into
 * readme_decls.inc (up to `TcpServer server;`, at namespace scope) and readme_body.inc (the rest,
 * inside run_snippet), replacing its endless `for (;;)` by a loop that also polls a C client,
 * which connects, sends a message and waits for the echo. So the README's example cannot drift
 * from code that compiles and works.
 */
#include <cstring>

#include "efvitcp/TcpServer.h"

#include "readme_decls.inc"

struct Peer {
    efvitcp_client *cli = nullptr;
    efvitcp_conn *conn = nullptr;
    char rx[64];
    uint32_t rx_len = 0;
    bool failed = false;
};
static Peer peer;
static const char kMsg[] = "hello, readme";

static void peer_est(void *, efvitcp_conn *c)
{
    efvitcp_send(c, kMsg, sizeof(kMsg), false);
}
static uint32_t peer_data(void *, efvitcp_conn *, const uint8_t *d, uint32_t n)
{
    if (peer.rx_len + n <= sizeof(peer.rx)) memcpy(peer.rx + peer.rx_len, d, n);
    peer.rx_len += n;
    return 0;
}

/* One step of the client and of the wire's clock; true once the echo came back. */
static bool readme_peer(efvitcp_wire *wire)
{
    if (!peer.cli) {
        efvitcp_config cfg;
        efvitcp_config_default(&cfg);
        cfg.wire = wire;
        cfg.local_addr = "198.18.0.2/15";
        if (efvitcp_client_init(&peer.cli, "mem:client", &cfg) ||
            efvitcp_client_connect(peer.cli, "198.18.0.1", 5000, 0, &peer.conn)) {
            peer.failed = true;
            return true;
        }
    }
    efvitcp_handler h;
    memset(&h, 0, sizeof(h));
    h.on_established = peer_est;
    h.on_data = peer_data;
    efvitcp_client_poll(peer.cli, &h, nullptr);
    uint64_t t = efvitcp_wire_next_delivery(wire);
    if (efvitcp_client_next_timer(peer.cli) < t) t = efvitcp_client_next_timer(peer.cli);
    if (t != UINT64_MAX && t > efvitcp_wire_now(wire)) efvitcp_wire_set_now(wire, t);
    return peer.rx_len >= sizeof(kMsg);
}

static bool run_snippet(efvitcp_wire *wire)
{
#include "readme_body.inc"
    if (err) return false;
    return !peer.failed && peer.rx_len == sizeof(kMsg) && memcmp(peer.rx, kMsg, sizeof(kMsg)) == 0;
}

int main()
{
    efvitcp_wire *wire;
    if (efvitcp_wire_new(&wire, nullptr)) return 1;
    bool ok = run_snippet(wire);
    efvitcp_client_close(peer.cli);
    efvitcp_wire_free(wire);
    return ok ? 0 : 1;
}
