/* Idle waits (efvitcp_*_fd, efvitcp_*_prime): the API face of et_stack_wake_fd / et_stack_prime.
   The protocol a sleeper follows is in efvitcp.h and docs/operations.md. */
#include "api/instance.h"

int efvitcp_client_fd(const efvitcp_client *cli)
{
    return cli ? et_stack_wake_fd(&cli->st) : -1;
}

int efvitcp_client_prime(efvitcp_client *cli)
{
    return cli ? et_stack_prime(&cli->st) : -1;
}

int efvitcp_server_fd(const efvitcp_server *srv)
{
    return srv ? et_stack_wake_fd(&srv->st) : -1;
}

int efvitcp_server_prime(efvitcp_server *srv)
{
    return srv ? et_stack_prime(&srv->st) : -1;
}
