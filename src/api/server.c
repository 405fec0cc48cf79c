/* The server front end (efvitcp_server_*). */
#include "api/instance.h"

const char *efvitcp_server_init(efvitcp_server **out, const char *interface,
                                const efvitcp_config *cfg)
{
    if (!out) return "out is NULL";
    return et_instance_new((et_stack **)out, sizeof(efvitcp_server), interface, cfg);
}

const char *efvitcp_server_listen(efvitcp_server *srv, uint16_t port)
{
    et_stack *st = &srv->st;
    if (port == 0) return "port 0 cannot be listened on";
    uint64_t bit = 1ull << (port & 63);
    if (st->listen_bits[port >> 6] & bit) return "already listening on this port";
    if (st->link->ops->flow_add) {
        et_flow f = {st->local_ip, 0, port, 0};
        if (st->link->ops->flow_add(st->link, &f)) return "link could not steer the port";
    }
    st->listen_bits[port >> 6] |= bit;
    st->n_listen++;
    return NULL;
}

const char *efvitcp_server_unlisten(efvitcp_server *srv, uint16_t port)
{
    et_stack *st = &srv->st;
    uint64_t bit = 1ull << (port & 63);
    if (!(st->listen_bits[port >> 6] & bit)) return "not listening on this port";
    if (st->link->ops->flow_del) {
        et_flow f = {st->local_ip, 0, port, 0};
        st->link->ops->flow_del(st->link, &f);
    }
    st->listen_bits[port >> 6] &= ~bit;
    st->n_listen--;
    return NULL;
}

void efvitcp_server_poll(efvitcp_server *srv, const efvitcp_handler *h, void *ctx)
{
    et_link *l = srv->st.link;
    srv->st.link_clock = true;
    et_stack_poll(&srv->st, h, ctx, l->ops->now(l));
}

void efvitcp_server_poll_at(efvitcp_server *srv, const efvitcp_handler *h, void *ctx,
                            uint64_t now_ns)
{
    srv->st.link_clock = false;
    et_stack_poll(&srv->st, h, ctx, now_ns);
}

uint64_t efvitcp_server_next_timer(const efvitcp_server *srv)
{
    return et_stack_next_timer(&srv->st);
}

void efvitcp_server_stats(const efvitcp_server *srv, efvitcp_stats *st)
{
    et_instance_stats(&srv->st, st);
}

void efvitcp_server_foreach(efvitcp_server *srv, void (*fn)(void *arg, efvitcp_conn *c), void *arg)
{
    et_instance_foreach(&srv->st, fn, arg);
}

uint32_t efvitcp_server_conn_count(const efvitcp_server *srv)
{
    return srv->st.n_conns;
}

void efvitcp_server_close(efvitcp_server *srv)
{
    if (srv) et_instance_free(&srv->st);
}
