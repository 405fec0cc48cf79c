/*
 * pcap writer (see pcap.h). File format: a 24-byte global header, then per frame a 16-byte record
 * header and the frame bytes, all in the writer's byte order, which readers detect from the magic
 * (draft-ietf-opsawg-pcap, "PCAP Capture File Format").
 */
#include "util/pcap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCAP_MAGIC_NS     0xa1b23c4du
#define LINKTYPE_ETHERNET 1u
#define PCAP_BUF_SIZE     (256u * 1024u)
#define REC_HDR_LEN       16u

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += k;
        n -= (size_t)k;
    }
    return true;
}

const char *et_pcap_open(et_pcap *p, const char *path)
{
    memset(p, 0, sizeof(*p));
    p->fd = -1;
    if (!path || !*path) return "pcap_path is empty";
    p->buf = malloc(PCAP_BUF_SIZE);
    if (!p->buf) return "out of memory";
    p->cap = PCAP_BUF_SIZE;
    p->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (p->fd < 0) {
        free(p->buf);
        p->buf = NULL;
        return "pcap_path: cannot create the capture file";
    }
    uint8_t h[24];
    put32(h, PCAP_MAGIC_NS);
    uint16_t major = 2, minor = 4;
    memcpy(h + 4, &major, 2);
    memcpy(h + 6, &minor, 2);
    put32(h + 8, 0);  /* thiszone: timestamps are the instance clock, no zone */
    put32(h + 12, 0); /* sigfigs */
    put32(h + 16, ET_PCAP_SNAPLEN);
    put32(h + 20, LINKTYPE_ETHERNET);
    memcpy(p->buf, h, sizeof(h));
    p->len = sizeof(h);
    et_pcap_flush(p);
    if (p->failed) {
        et_pcap_close(p);
        return "pcap_path: cannot write the capture file";
    }
    return NULL;
}

void et_pcap_flush(et_pcap *p)
{
    if (!p->len || p->fd < 0) return;
    if (!p->failed) {
        if (write_all(p->fd, p->buf, p->len)) {
            p->size += p->len;
        } else {
            p->failed = true;
            /* Part of the buffer may have gone: a record cut in two would end the file in
               garbage for every reader. */
            if (ftruncate(p->fd, (off_t)p->size) != 0) {
                /* nothing better to do: the capture has stopped either way */
            }
        }
    }
    p->len = 0;
}

void et_pcap_write(et_pcap *p, uint64_t ts_ns, const uint8_t *frame, uint32_t len)
{
    if (p->failed || p->fd < 0) return;
    uint32_t incl = len > ET_PCAP_SNAPLEN ? ET_PCAP_SNAPLEN : len;
    if (p->len + REC_HDR_LEN + incl > p->cap) {
        et_pcap_flush(p);
        if (p->failed) return;
    }
    uint8_t *r = p->buf + p->len;
    put32(r, (uint32_t)(ts_ns / 1000000000u));
    put32(r + 4, (uint32_t)(ts_ns % 1000000000u));
    put32(r + 8, incl);
    put32(r + 12, len);
    memcpy(r + REC_HDR_LEN, frame, incl);
    p->len += REC_HDR_LEN + incl;
    p->frames++;
}

void et_pcap_close(et_pcap *p)
{
    if (p->fd >= 0) {
        et_pcap_flush(p);
        close(p->fd);
    }
    free(p->buf);
    p->buf = NULL;
    p->fd = -1;
    p->len = 0;
}
