/*
 * Listening ports: one bit per port, so that the SYN path asks with one load whether a port takes
 * new connections. A link that steers flows (ef_vi filters, XDP map) is told before the bit is set,
 * so that no SYN is taken for a port the NIC would not deliver.
 *
 * A steering link delivers a passive connection's segments by its port's entry (the connection
 * has no flow of its own: a filter per accepted connection would cost a NIC filter and a driver
 * call each). So every passive connection holds a reference to that entry, and unlistening only
 * drops the listener's: the entry goes when its last connection does.
 */
#include "tcp/half_open.h"
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
    st->listen_bits[port >> 6] &= ~(1ull << (port & 63));
    st->n_listen--;
    /* Its half-open connections would otherwise complete into connections of a port the user
       closed: reset, as Linux drops a closed listener's requests (but telling the peer). */
    et_ho_abort_port(st, port);
    if (st->link->ops->flow_del) {
        et_flow f = listen_flow(st, port);
        st->link->ops->flow_del(st->link, &f);
    }
    return NULL;
}

void et_listen_ref_take(et_conn *c)
{
    et_stack *st = c->st;
    if (!st->link->ops->flow_add) return;
    et_flow f = listen_flow(st, c->local_port);
    /* The port's entry exists (the SYN came through it): a link only counts a reference. */
    c->listen_ref = st->link->ops->flow_add(st->link, &f) == 0;
}

void et_listen_ref_drop(et_conn *c)
{
    et_stack *st = c->st;
    if (!c->listen_ref) return;
    c->listen_ref = false;
    et_flow f = listen_flow(st, c->local_port);
    st->link->ops->flow_del(st->link, &f);
}
