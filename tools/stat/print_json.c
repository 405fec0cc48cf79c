/* efvitcp-stat --json: one document per read, for scripts. Field names are those of the text
   tables in lower case and of efvitcp_stats / efvitcp_conn_stats (docs/operations.md). */
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "stat_tool.h"

/* A JSON string: the link name is the user's and may hold anything. */
static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

#define U64(name)                                                                                  \
    {                                                                                              \
#name, offsetof(efvitcp_stats, name), 8                                                    \
    }
#define U32(name)                                                                                  \
    {                                                                                              \
#name, offsetof(efvitcp_stats, name), 4                                                    \
    }
static const struct {
    const char *name;
    size_t off, size;
} stat_fields[] = {
    U64(frames_in),
    U64(frames_out),
    U64(segs_in),
    U64(segs_out),
    U64(bytes_in),
    U64(bytes_out),
    U64(retransmits),
    U64(rto_events),
    U64(fast_retransmits),
    U64(conns_opened),
    U64(conns_accepted),
    U64(conns_closed),
    U64(conns_reset),
    U64(conns_timeout),
    U64(conns_refused),
    U64(rst_sent),
    U64(challenge_acks),
    U64(time_wait_evicted),
    U64(time_wait_reused),
    U64(arp_requests_sent),
    U64(arp_replies_sent),
    U64(fast_path),
    U64(syn_cookies_sent),
    U64(syn_cookies_accepted),
    U64(syn_cookies_rejected),
    U64(half_open_evicted),
    U32(conns_active),
    U32(time_wait_active),
    U32(half_open),
    U64(tx_timestamps_lost),
};

static void print_stats(FILE *f, const et_stat_hdr *h)
{
    fprintf(f, "\"stats\":{");
    for (size_t i = 0; i < sizeof(stat_fields) / sizeof(stat_fields[0]); i++) {
        const unsigned char *p = (const unsigned char *)&h->stats + stat_fields[i].off;
        uint64_t v = 0;
        if (stat_fields[i].size == 8)
            memcpy(&v, p, 8);
        else {
            uint32_t w;
            memcpy(&w, p, 4);
            v = w;
        }
        fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", stat_fields[i].name, v);
    }
    fprintf(f, "},\"drops\":{");
    unsigned n =
        h->n_drop_reasons < EFVITCP_DROP_REASONS_MAX ? h->n_drop_reasons : EFVITCP_DROP_REASONS_MAX;
    char name[32];
    for (unsigned r = 0; r < n; r++)
        fprintf(f, "%s\"%s\":%" PRIu64, r ? "," : "", st_drop_name(r, name, sizeof(name)),
                h->stats.drops[r]);
    fputc('}', f);
}

static void print_conn(FILE *f, const et_stat_conn *c)
{
    char a[16], b[16];
    fprintf(f,
            "{\"id\":%u,\"state\":\"%s\",\"local_ip\":\"%s\",\"local_port\":%u,"
            "\"remote_ip\":\"%s\",\"remote_port\":%u,\"srtt_us\":%u,\"rttvar_us\":%u,"
            "\"rto_us\":%u,\"cwnd\":%u,\"ssthresh\":%u,\"snd_wnd\":%u,\"rcv_wnd\":%u,"
            "\"mss\":%u,\"unacked\":%u,\"queued\":%u,\"recv_held\":%u,\"unread\":%u,"
            "\"segs_in\":%" PRIu64 ",\"segs_out\":%" PRIu64 ",\"bytes_in\":%" PRIu64
            ",\"bytes_out\":%" PRIu64 ",\"retransmits\":%" PRIu64 "}",
            c->id, efvitcp_state_name((efvitcp_state)c->state), st_ip(c->local_ip, a),
            c->local_port, st_ip(c->remote_ip, b), c->remote_port, c->srtt_us, c->rttvar_us,
            c->rto_us, c->cwnd, c->ssthresh, c->snd_wnd, c->rcv_wnd, c->mss, c->unacked, c->queued,
            c->recv_held, c->unread, c->segs_in, c->segs_out, c->bytes_in, c->bytes_out,
            c->retransmits);
}

static void print_instance(FILE *f, const st_inst *e, bool conns)
{
    const et_stat_hdr *h = &e->hdr;
    char ip[16];
    fprintf(f, "{\"pid\":%d,\"instance\":%u,\"path\":", e->pid, e->n);
    jstr(f, e->path);
    if (e->busy) {
        fprintf(f, ",\"busy\":true}");
        return;
    }
    fprintf(f, ",\"busy\":false,\"link\":");
    jstr(f, h->link);
    fprintf(f, ",\"kind\":");
    jstr(f, h->kind);
    fprintf(f, ",\"address\":\"%s\",\"prefix_len\":%u,\"ports\":[", st_ip(h->local_ip, ip),
            h->prefix_len);
    for (uint32_t i = 0; i < h->n_ports; i++) fprintf(f, "%s%u", i ? "," : "", h->ports[i]);
    fprintf(f,
            "],\"listening\":%u,\"connections\":%u,\"time_wait\":%u,\"max_conns\":%u,"
            "\"rows\":%u,\"interval_ms\":%u,\"publishes\":%" PRIu64 ",\"publish_ns\":%" PRIu64 ",",
            h->n_listen, h->n_conns, h->time_wait, h->max_conns, h->n_rows, h->interval_ms,
            h->publishes, h->publish_ns);
    print_stats(f, h);
    if (conns) {
        fprintf(f, ",\"conns\":[");
        for (uint32_t k = 0; k < h->n_rows; k++) {
            if (k) fputc(',', f);
            fputc('\n', f);
            print_conn(f, &e->rows[k]);
        }
        fputc(']', f);
    }
    fputc('}', f);
}

void st_print_json(FILE *f, const st_list *l, bool conns)
{
    fprintf(f, "{\"instances\":[");
    for (size_t i = 0; i < l->n; i++) {
        fprintf(f, "%s\n", i ? "," : "");
        print_instance(f, &l->v[i], conns);
    }
    fprintf(f, "]}\n");
}
