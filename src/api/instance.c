/* Creation, polling helpers and teardown shared by clients and servers. */
#include "api/instance.h"

#include "api/config.h"

#include <stdlib.h>
#include <string.h>

#include "util/abi.h"

const char *et_instance_new(et_stack **out, size_t size, const char *interface,
                            const efvitcp_config *cfg_in, size_t cfg_size)
{
    *out = NULL;
    efvitcp_config config;
    const efvitcp_config *cfg = &config;
    const char *err = et_config_read(&config, cfg_in, cfg_size);
    if (err) return err;
    /* The engine takes a configuration already checked against its documented ranges. */
    err = et_config_validate(cfg);
    if (err) return err;
    et_stack *st = calloc(1, size);
    if (!st) return "out of memory";
    err = et_stack_init(st, interface, cfg);
    if (err) {
        et_stack_close(st);
        free(st);
        return err;
    }
    *out = st;
    return NULL;
}

void et_instance_free(et_stack *st)
{
    if (!st) return;
    /* Inside a poll or a foreach the caller's loop still walks the instance: closed means no
       more callbacks (the rest of the poll runs with none, the foreach visits no further
       connection), and the instance is freed when the poll or the foreach ends. */
    if (st->in_poll || st->foreach_depth) {
        et_stack_close_later(st, et_instance_free);
        return;
    }
    et_stack_close(st);
    free(st);
}

void et_instance_stats(const et_stack *st, efvitcp_stats *out, size_t size)
{
    if (!out) return;
    efvitcp_stats s;
    if (st) {
        s = st->stats;
        s.conns_active = st->n_conns;
    } else {
        memset(&s, 0, sizeof(s)); /* NULL instance (efvitcp.h): zero counters */
    }
    et_abi_write(out, size, &s, sizeof(s));
}

void et_instance_foreach(et_stack *st, void (*fn)(void *arg, efvitcp_conn *c), void *arg)
{
    if (!fn) return;
    st->foreach_depth++;
    for (uint32_t i = 0; i < st->cfg.max_conns && !st->close_pending; i++) {
        et_conn *c = &st->conns[i];
        if (c->state != EFVITCP_CLOSED) fn(arg, c);
    }
    st->foreach_depth--;
    if (st->close_pending) et_instance_free(st);
}
