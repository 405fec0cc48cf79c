/* The server front end (efvitcp_server_*). */
#include "api/instance.h"

const char *efvitcp_server_init_sized(efvitcp_server **out, const char *interface,
                                      const efvitcp_config *cfg, size_t cfg_size)
{
    if (!out) return "out is NULL";
    return et_instance_new((et_stack **)out, sizeof(efvitcp_server), interface, cfg, cfg_size);
}

const char *efvitcp_server_listen(efvitcp_server *srv, uint16_t port)
{
    return et_stack_listen(&srv->st, port);
}

const char *efvitcp_server_unlisten(efvitcp_server *srv, uint16_t port)
{
    return et_stack_unlisten(&srv->st, port);
}

void efvitcp_server_poll(efvitcp_server *srv, const efvitcp_handler *h, void *ctx)
{
    et_stack_poll(&srv->st, h, ctx);
}

void efvitcp_server_poll_at(efvitcp_server *srv, const efvitcp_handler *h, void *ctx,
                            uint64_t now_ns)
{
    et_stack_poll_at(&srv->st, h, ctx, now_ns);
}

uint64_t efvitcp_server_next_timer(const efvitcp_server *srv)
{
    return et_stack_next_timer(&srv->st);
}

void efvitcp_server_stats_sized(const efvitcp_server *srv, efvitcp_stats *st, size_t size)
{
    et_instance_stats(&srv->st, st, size);
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
