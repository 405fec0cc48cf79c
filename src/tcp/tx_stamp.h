/*
 * Transmit timestamp reports (cfg.tx_timestamps, efvitcp_tx_timestamps): what each transmit
 * buffer carried when it was handed to the link, and, when the link reports it complete, a
 * report in its connection's queue with the NIC's time (links with ET_LINK_CAP_TX_TS) or the
 * instance clock's at the hand-over (every other link; marked as software).
 */
#ifndef EFVITCP_TX_STAMP_H
#define EFVITCP_TX_STAMP_H

#include <stdbool.h>
#include <stdint.h>

#include "efvitcp/efvitcp.h"

struct et_stack;
struct efvitcp_conn;

/* What a transmit buffer in flight carried, for its report. conn 0 = nothing to report. */
typedef struct et_txts_meta {
    uint32_t conn; /* connection id + 1 */
    uint32_t gen;  /* the connection's generation: reports of a freed connection are dropped */
    uint64_t start;
    uint64_t sw_ts; /* the instance clock as the link took the frame */
    uint32_t bytes;
    uint32_t flags; /* EFVITCP_TX_TS_RETRANSMIT, _SYN, _FIN */
} et_txts_meta;

/* Index n after head in a queue of cap reports, without a division. */
static inline uint32_t et_txts_slot(uint32_t head, uint32_t n, uint32_t cap)
{
    head += n;
    return head >= cap ? head - cap : head;
}

/* Allocates the per-buffer records and the per-connection queues when cfg.tx_timestamps is on;
   NULL or an error. */
const char *et_txts_init(struct et_stack *st);
void et_txts_free(struct et_stack *st);
/* Buffer id left with the segment [seq, seq + len) of c (ctl: its SYN and FIN flags); retx: it
   was sent before. Only when st->txts_meta is set (et_txts_sent checks). */
void et_txts_record(struct efvitcp_conn *c, uint32_t id, uint32_t seq, uint32_t len, uint8_t ctl,
                    bool retx);
/* The link reported buffer id complete: its report goes to its connection's queue. */
void et_txts_complete(struct et_stack *st, uint32_t id);
/* efvitcp_tx_timestamps */
int et_txts_take(struct efvitcp_conn *c, efvitcp_tx_report *out, int max);

#endif
