/*
 * Invariants of the engine, for tests and the simulator: a description of the first one broken,
 * or NULL. They hold between polls (and between any two API calls), not in the middle of one.
 * Read-only and bounded: O(connections + queued segments + table size + TIME_WAIT records).
 *
 * Test code, not part of the library: it reads the engine's internals (src/tcp/stack.h), and no
 * program using efvitcp calls it. tests/check/CMakeLists.txt builds it for the tests and for the
 * simulator (tools/sim).
 */
#ifndef EFVITCP_TEST_CHECK_H
#define EFVITCP_TEST_CHECK_H

#include "tcp/stack.h"

#include <stddef.h>

/**
 * Sequence space and send ring of every connection, queued segments, receive buffer and
 * out-of-order islands, timers (armed exactly when needed, none on free slots), TX buffer
 * accounting, connection table against live connections and TIME_WAIT records, counters.
 * Returns NULL, or a constant string naming the invariant broken.
 */
const char *et_stack_check(const et_stack *st);

/**
 * After every connection is gone and a poll has reaped the link's completions: nothing leaked
 * (every control buffer free, no TX buffer busy, no connection, no table entry but live TIME_WAIT
 * records, nothing deferred) and no timer armed. Includes et_stack_check.
 */
const char *et_stack_check_idle(const et_stack *st);

/** As et_stack_check (idle: et_stack_check_idle), but a failure is described with the
    connection and the values involved in buf (cap bytes), which is returned. */
const char *et_stack_check_detail(const et_stack *st, bool idle, char *buf, size_t cap);

#endif
