/* ef_vi emulator: etherfabric/base.h (driver handles, NIC page size). See ef_vi.h. */
#ifndef EFVI_EMU_BASE_H
#define EFVI_EMU_BASE_H

#include <etherfabric/ef_vi.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EF_VI_NIC_PAGE_SHIFT 12
#define EF_VI_NIC_PAGE_SIZE  (1 << EF_VI_NIC_PAGE_SHIFT)

#define EF_INVALID_ADDR ((ef_addr)-1)

struct timeval;

/** Returns 0 or a negative errno; the emulator never blocks, so it waits for nothing. */
extern int ef_eventq_wait(ef_vi *vi, ef_driver_handle vi_dh, unsigned current_ptr,
                          const struct timeval *timeout);
extern int ef_driver_open(ef_driver_handle *dh_out);
extern int ef_driver_close(ef_driver_handle dh);

#ifdef __cplusplus
}
#endif

#endif
