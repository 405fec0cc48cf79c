/* The host's monotonic clock in ns, the time base of every link that has no simulated wire. */
#ifndef EFVITCP_CLOCK_H
#define EFVITCP_CLOCK_H

#include <stdint.h>
#include <time.h>

/** CLOCK_MONOTONIC in ns. */
static inline uint64_t et_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
