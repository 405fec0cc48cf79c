/* ef_vi emulator: etherfabric/memreg.h (registered memory). See ef_vi.h. */
#ifndef EFVI_EMU_MEMREG_H
#define EFVI_EMU_MEMREG_H

#include <etherfabric/base.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ef_memreg {
    ef_addr *mr_dma_addrs;
    ef_addr *mr_dma_addrs_base;
} ef_memreg;

struct ef_pd;

/** p_mem must be 4 KiB aligned (-EINVAL otherwise); len_bytes a multiple of 2048. */
extern int ef_memreg_alloc(ef_memreg *mr, ef_driver_handle mr_dh, struct ef_pd *pd,
                           ef_driver_handle pd_dh, void *p_mem, size_t len_bytes);
extern int ef_memreg_free(ef_memreg *mr, ef_driver_handle mr_dh);

/* DMA addresses are contiguous only within each 4 KiB page of the region. */
static inline ef_addr ef_memreg_dma_addr(ef_memreg *mr, size_t offset)
{
    return mr->mr_dma_addrs[offset >> EF_VI_NIC_PAGE_SHIFT] | (offset & (EF_VI_NIC_PAGE_SIZE - 1));
}

#ifdef __cplusplus
}
#endif

#endif
