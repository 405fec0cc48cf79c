/*
 * A minimal pcap writer for capturing the frames of an instance (efvitcp_config.pcap_path):
 * the classic libpcap file format with nanosecond timestamps (magic 0xa1b23c4d) and
 * LINKTYPE_ETHERNET, which tshark, tcpdump and Wireshark read. Everything is allocated at open;
 * writing never allocates, it only appends to a buffer that goes to the file when full and at
 * each flush.
 */
#ifndef EFVITCP_PCAP_H
#define EFVITCP_PCAP_H

#include <stdbool.h>
#include <stdint.h>

#define ET_PCAP_SNAPLEN 65535u

typedef struct et_pcap {
    int fd;
    uint8_t *buf;
    uint32_t len, cap;
    bool failed;     /**< a write to the file failed: later frames are not captured */
    bool reported;   /**< the owner has logged the failure */
    uint64_t frames; /**< frames captured */
    uint64_t size;   /**< bytes in the file, every record whole */
} et_pcap;

/** Creates (truncates) path and writes the file header. NULL or an error; on error *p holds no
    resources. */
const char *et_pcap_open(et_pcap *p, const char *path);
/** Appends one frame captured at ts_ns (any epoch); frames longer than the snap length are cut. */
void et_pcap_write(et_pcap *p, uint64_t ts_ns, const uint8_t *frame, uint32_t len);
/** Hands the buffered records to the file. A write that fails (a full disk, a file size limit)
    sets failed and cuts the file back to its last whole record, so that readers take it. */
void et_pcap_flush(et_pcap *p);
/** Flushes and closes; safe on a closed or never opened writer (fd < 0 or buf NULL). */
void et_pcap_close(et_pcap *p);

#endif
