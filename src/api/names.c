/* Names of states and drop reasons, for logs and tools. */
#include "efvitcp/efvitcp.h"

const char *efvitcp_state_name(efvitcp_state s)
{
    static const char *const names[] = {
        "CLOSED",     "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2",
        "CLOSE_WAIT", "CLOSING",  "LAST_ACK",     "TIME_WAIT",   "WAIT_ARP",
    };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *efvitcp_drop_reason_name(efvitcp_drop_reason r)
{
    static const char *const names[EFVITCP_DROP_REASONS] = {
        "runt",          "ethertype",  "not_ours",  "ip_header",   "ip_csum",     "proto",
        "tcp_header",    "tcp_csum",   "arp",       "no_conn",     "bad_flags",   "paws",
        "out_of_window", "bad_ack",    "ooo_full",  "rcvbuf_full", "listen_full", "refused",
        "tx_buf",        "beyond_fin", "half_open",
    };
    return (unsigned)r < EFVITCP_DROP_REASONS ? names[r] : "?";
}
