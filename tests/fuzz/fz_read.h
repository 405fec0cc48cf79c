/* Reading a fuzz input as a byte program: big-endian integers, and past the end every read is
   0, so that a truncated program still means something. Shared by the fuzz targets. */
#ifndef EFVITCP_FZ_READ_H
#define EFVITCP_FZ_READ_H

#include <stddef.h>
#include <stdint.h>

typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

static inline uint8_t u8(rd *r)
{
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}

static inline uint16_t u16(rd *r)
{
    uint16_t v = (uint16_t)(u8(r) << 8);
    return (uint16_t)(v | u8(r));
}

static inline uint32_t u32(rd *r)
{
    uint32_t v = (uint32_t)u16(r) << 16;
    return v | u16(r);
}

#endif
