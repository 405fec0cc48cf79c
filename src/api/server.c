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
    return srv ? et_stack_listen(&srv->st, port) : "server is NULL";
}

const char *efvitcp_server_unlisten(efvitcp_server *srv, uint16_t port)
{
    return srv ? et_stack_unlisten(&srv->st, port) : "server is NULL";
}

void efvitcp_server_poll(efvitcp_server *srv, const efvitcp_handler *h, void *ctx)
{
    if (srv) et_stack_poll(&srv->st, h, ctx);
}

void efvitcp_server_poll_at(efvitcp_server *srv, const efvitcp_handler *h, void *ctx,
                            uint64_t now_ns)
{
    if (srv) et_stack_poll_at(&srv->st, h, ctx, now_ns);
}

uint64_t efvitcp_server_next_timer(const efvitcp_server *srv)
{
    return srv ? et_stack_next_timer(&srv->st) : UINT64_MAX;
}

void efvitcp_server_stats_sized(const efvitcp_server *srv, efvitcp_stats *st, size_t size)
{
    et_instance_stats(srv ? &srv->st : NULL, st, size);
}

void efvitcp_server_foreach(efvitcp_server *srv, void (*fn)(void *arg, efvitcp_conn *c), void *arg)
{
    if (srv) et_instance_foreach(&srv->st, fn, arg);
}

uint32_t efvitcp_server_conn_count(const efvitcp_server *srv)
{
    return srv ? srv->st.n_conns : 0;
}

void efvitcp_server_close(efvitcp_server *srv)
{
    if (srv) et_instance_free(&srv->st);
}
