/* The client front end (efvitcp_client_*). */
#include <arpa/inet.h>

#include "api/instance.h"

const char *efvitcp_client_init_sized(efvitcp_client **out, const char *interface,
                                      const efvitcp_config *cfg, size_t cfg_size)
{
    if (!out) return "out is NULL";
    return et_instance_new((et_stack **)out, sizeof(efvitcp_client), interface, cfg, cfg_size);
}

const char *efvitcp_client_connect(efvitcp_client *cli, const char *ip, uint16_t port,
                                   uint16_t local_port, efvitcp_conn **conn)
{
    if (conn) *conn = NULL;
    if (!cli) return "client is NULL";
    struct in_addr a;
    if (!ip || inet_pton(AF_INET, ip, &a) != 1) return "invalid IPv4 address";
    et_stack_refresh_clock(&cli->st);
    const char *err = et_conn_connect(&cli->st, ntohl(a.s_addr), port, local_port, conn);
    et_stack_kick(&cli->st); /* the SYN, or the ARP request, leaves now */
    return err;
}

void efvitcp_client_poll(efvitcp_client *cli, const efvitcp_handler *h, void *ctx)
{
    if (cli) et_stack_poll(&cli->st, h, ctx);
}

void efvitcp_client_poll_at(efvitcp_client *cli, const efvitcp_handler *h, void *ctx,
                            uint64_t now_ns)
{
    if (cli) et_stack_poll_at(&cli->st, h, ctx, now_ns);
}

uint64_t efvitcp_client_next_timer(const efvitcp_client *cli)
{
    return cli ? et_stack_next_timer(&cli->st) : UINT64_MAX;
}

void efvitcp_client_stats_sized(const efvitcp_client *cli, efvitcp_stats *st, size_t size)
{
    et_instance_stats(cli ? &cli->st : NULL, st, size);
}

void efvitcp_client_foreach(efvitcp_client *cli, void (*fn)(void *arg, efvitcp_conn *c), void *arg)
{
    if (cli) et_instance_foreach(&cli->st, fn, arg);
}

void efvitcp_client_close(efvitcp_client *cli)
{
    if (cli) et_instance_free(&cli->st);
}
