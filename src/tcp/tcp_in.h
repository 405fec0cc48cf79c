/*
 * Internal to TCP input (tcp_in.c, tcp_in_open.c): what the handshake and the step sequence of
 * RFC 9293 §3.10.7.4 share.
 */
#ifndef EFVITCP_TCP_IN_H
#define EFVITCP_TCP_IN_H

#include "tcp/stack.h"

/* tcp_in_open.c: LISTEN and SYN-SENT (RFC 9293 §3.10.7.2-3) and what completes a handshake */
/* A segment for a listening port. reuse_tw: the index of a TIME_WAIT record that a newer SYN
   reuses (UINT32_MAX if none): it bounds the ISS, and it is removed only if the SYN is accepted,
   so that a refused one leaves the old connection its RFC 1337 protection. Returns the id of a
   connection that the segment recreated (the ACK of a SYN cookie), which must now take the
   segment as the last of its handshake; else UINT32_MAX. */
uint32_t et_in_listen(et_stack *st, const et_tcp_seg *s, uint32_t reuse_tw);
/* A passive connection in SYN_RECEIVED for syn, with ISS iss: addressing, table entry, sequence
   numbers, the options syn negotiates. A slot must be free. Nothing is sent. */
et_conn *et_in_open_passive(et_stack *st, const et_tcp_seg *syn, uint32_t iss);
/* The user's allow_new_connection; a refusal is counted and answered with RST. */
bool et_in_allowed(et_stack *st, const et_tcp_seg *s);
void et_in_syn_sent(et_conn *c, const et_tcp_seg *s);
/* Acknowledgment of our SYN: SND.UNA moves to ack, the SYN's RTT is sampled (Karn). */
void et_in_syn_acked(et_conn *c, uint32_t ack);
/* ESTABLISHED, reported to the user: check c->gen afterwards, the callback may free c. */
void et_in_report_established(et_conn *c);

/* The peer's window grew: segments capped at the largest window it ever offered
   (RFC 9293 §3.8.6.2.1 uses Max(SND.WND) for the same purpose). Inline: every ACK updates it. */
static inline void et_in_set_snd_wnd(et_conn *c, uint32_t wnd)
{
    c->snd_wnd = wnd;
    if (wnd > c->max_snd_wnd) c->max_snd_wnd = wnd;
}

#endif
