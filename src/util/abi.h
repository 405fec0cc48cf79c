/*
 * Structs that cross the public API with their size (the ABI rules in include/efvitcp/efvitcp.h):
 * the caller's struct may be an older (smaller) or newer (larger) version of the library's own.
 */
#ifndef EFVITCP_UTIL_ABI_H
#define EFVITCP_UTIL_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/*
 * Reads the caller's input struct src (src_size bytes) over dst (dst_size bytes, already holding
 * the defaults): the caller's prefix replaces the defaults. Returns false when src is larger and a
 * byte beyond dst_size is not zero: a newer program set a field this library cannot honour.
 */
static inline bool et_abi_read(void *dst, size_t dst_size, const void *src, size_t src_size)
{
    const unsigned char *s = src;
    for (size_t i = dst_size; i < src_size; i++)
        if (s[i]) return false;
    memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
    return true;
}

/* Writes the library's output struct src (src_size bytes) to the caller's dst (dst_size bytes):
   never past dst_size, and zero in whatever dst has beyond what this library knows. */
static inline void et_abi_write(void *dst, size_t dst_size, const void *src, size_t src_size)
{
    if (dst_size <= src_size) {
        memcpy(dst, src, dst_size);
    } else {
        memcpy(dst, src, src_size);
        memset((unsigned char *)dst + src_size, 0, dst_size - src_size);
    }
}

#endif
