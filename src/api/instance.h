/* The public client and server objects are the same engine instance under two names. */
#ifndef EFVITCP_API_INSTANCE_H
#define EFVITCP_API_INSTANCE_H

#include "tcp/stack.h"

struct efvitcp_client {
    et_stack st;
};
struct efvitcp_server {
    et_stack st;
};

/* Allocates and initialises an instance; on failure frees it and returns the error. */
const char *et_instance_new(et_stack **out, size_t size, const char *interface,
                            const efvitcp_config *cfg, size_t cfg_size);
/* Closes and frees the instance; inside a poll or a foreach (a callback closing its own instance)
   only marks it, and the poll or foreach closes it as it ends. */
void et_instance_free(et_stack *st);
void et_instance_stats(const et_stack *st, efvitcp_stats *out, size_t size);
void et_instance_foreach(et_stack *st, void (*fn)(void *arg, efvitcp_conn *c), void *arg);

#endif
