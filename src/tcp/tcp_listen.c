/*
 * Listening ports: one bit per port, so that the SYN path asks with one load whether a port takes
 * new connections. A link that steers flows (ef_vi filters, XDP map) is told before the bit is set,
 * so that no SYN is taken for a port the NIC would not deliver.
 */
#include "tcp/stack.h"

static et_flow listen_flow(const et_stack *st, uint16_t port)
{
    return (et_flow){st->local_ip, 0, port, 0}; /* remote 0: any peer */
}

const char *et_stack_listen(et_stack *st, uint16_t port)
{
    if (port == 0) return "port 0 cannot be listened on";
    if (et_stack_is_listening(st, port)) return "already listening on this port";
    if (st->link->ops->flow_add) {
        et_flow f = listen_flow(st, port);
        if (st->link->ops->flow_add(st->link, &f)) return "link could not steer the port";
    }
    st->listen_bits[port >> 6] |= 1ull << (port & 63);
    st->n_listen++;
    return NULL;
}

const char *et_stack_unlisten(et_stack *st, uint16_t port)
{
    if (!et_stack_is_listening(st, port)) return "not listening on this port";
    if (st->link->ops->flow_del) {
        et_flow f = listen_flow(st, port);
        st->link->ops->flow_del(st->link, &f);
    }
    st->listen_bits[port >> 6] &= ~(1ull << (port & 63));
    st->n_listen--;
    return NULL;
}
