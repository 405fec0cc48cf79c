/* The tables for a terminal (efvitcp-stat without --json). */
#include <inttypes.h>
#include <string.h>

#include "stat_tool.h"

static unsigned n_drops(const et_stat_hdr *h)
{
    return h->n_drop_reasons < EFVITCP_DROP_REASONS_MAX ? h->n_drop_reasons
                                                        : EFVITCP_DROP_REASONS_MAX;
}

/* "80,443" (and "+N" for ports beyond those listed), or "-". */
static void ports_text(const et_stat_hdr *h, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < h->n_ports && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%u", i ? "," : "", h->ports[i]);
    if (h->n_listen > h->n_ports && o < len)
        snprintf(buf + o, len - o, ",+%u", h->n_listen - h->n_ports);
    if (!buf[0]) snprintf(buf, len, "-");
}

/* "no_conn=3,tcp_csum=1": the reasons with a count, or "-". */
static void drops_text(const et_stat_hdr *h, char *buf, size_t len)
{
    size_t o = 0;
    char name[32];
    buf[0] = 0;
    for (unsigned r = 0; r < n_drops(h) && o < len; r++) {
        if (!h->stats.drops[r]) continue;
        o += (size_t)snprintf(buf + o, len - o, "%s%s=%" PRIu64, o ? "," : "",
                              st_drop_name(r, name, sizeof(name)), h->stats.drops[r]);
    }
    if (!buf[0]) snprintf(buf, len, "-");
}

static void print_instances(FILE *f, const st_list *l)
{
    fprintf(f, "%-8s %-4s %-16s %-6s %-18s %-12s %6s %5s %10s %10s %8s %s\n", "PID", "N", "LINK",
            "KIND", "ADDRESS", "PORTS", "CONNS", "TW", "SEGS_IN", "SEGS_OUT", "RETX", "DROPS");
    for (size_t i = 0; i < l->n; i++) {
        const st_inst *e = &l->v[i];
        if (e->busy) {
            fprintf(f, "%-8d %-4u (mid-update on every try: the process is stopped?)\n", e->pid,
                    e->n);
            continue;
        }
        const et_stat_hdr *h = &e->hdr;
        char ip[16], addr[24], ports[256], drops[1024];
        snprintf(addr, sizeof(addr), "%s/%u", st_ip(h->local_ip, ip), h->prefix_len);
        ports_text(h, ports, sizeof(ports));
        drops_text(h, drops, sizeof(drops));
        fprintf(f,
                "%-8d %-4u %-16s %-6s %-18s %-12s %6u %5u %10" PRIu64 " %10" PRIu64 " %8" PRIu64
                " %s\n",
                e->pid, e->n, h->link, h->kind, addr, ports, h->n_conns, h->time_wait,
                h->stats.segs_in, h->stats.segs_out, h->stats.retransmits, drops);
    }
}

static void print_conns(FILE *f, const st_list *l)
{
    fprintf(f, "%-10s %-21s %-21s %-12s %8s %8s %8s %8s %8s %8s %8s %8s %8s %6s %12s %12s\n",
            "PID/N", "LOCAL", "REMOTE", "STATE", "SRTT_US", "RTO_US", "CWND", "SND_WND", "RCV_WND",
            "UNACKED", "QUEUED", "HELD", "UNREAD", "RETX", "BYTES_IN", "BYTES_OUT");
    for (size_t i = 0; i < l->n; i++) {
        const st_inst *e = &l->v[i];
        if (e->busy) continue;
        char who[24];
        snprintf(who, sizeof(who), "%d/%u", e->pid, e->n);
        for (uint32_t k = 0; k < e->hdr.n_rows; k++) {
            const et_stat_conn *c = &e->rows[k];
            char a[16], b[16], local[24], remote[24];
            snprintf(local, sizeof(local), "%s:%u", st_ip(c->local_ip, a), c->local_port);
            snprintf(remote, sizeof(remote), "%s:%u", st_ip(c->remote_ip, b), c->remote_port);
            fprintf(f,
                    "%-10s %-21s %-21s %-12s %8u %8u %8u %8u %8u %8u %8u %8u %8u %6" PRIu64
                    " %12" PRIu64 " %12" PRIu64 "\n",
                    who, local, remote, efvitcp_state_name((efvitcp_state)c->state), c->srtt_us,
                    c->rto_us, c->cwnd, c->snd_wnd, c->rcv_wnd, c->unacked, c->queued, c->recv_held,
                    c->unread, c->retransmits, c->bytes_in, c->bytes_out);
        }
        if (e->hdr.n_conns > e->hdr.n_rows)
            fprintf(f, "%-10s (%u more connections: beyond cfg.stat_max_conns)\n", who,
                    e->hdr.n_conns - e->hdr.n_rows);
    }
}

void st_print_text(FILE *f, const st_list *l, bool conns)
{
    if (!l->n) {
        fprintf(f, "no efvitcp instance is running (no region in " ET_STAT_DIR ")\n");
        return;
    }
    print_instances(f, l);
    if (conns) {
        fputc('\n', f);
        print_conns(f, l);
    }
}
