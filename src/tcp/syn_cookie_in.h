/*
 * SYN cookies at a listening port (RFC 4987 §3.6): when to answer a SYN with one, the stateless
 * SYN-ACK, and the final ACK that recreates the connection. The encoding is syn_cookie.c's.
 */
#ifndef EFVITCP_SYN_COOKIE_IN_H
#define EFVITCP_SYN_COOKIE_IN_H

#include "tcp/stack.h"

/* The SYN gets a cookie rather than a slot (reuses_tw: it reuses a TIME_WAIT tuple). */
bool et_cookie_wanted(const et_stack *st, const et_tcp_seg *syn, bool reuses_tw);
/* Answers syn with a SYN-ACK whose ISN is a cookie; nothing is kept. */
void et_cookie_send(et_stack *st, const et_tcp_seg *syn);
/* An ACK (no SYN, no RST) for a listening port with no connection. false: not a valid cookie
   (the caller answers as LISTEN does). true: handled; *conn is then the id of the connection
   recreated in SYN-RECEIVED, with its SYN-ACK sent, or UINT32_MAX when it was refused, found
   no slot, or was a failed cookie with text or FIN (dropped silently, see there). */
bool et_cookie_ack(et_stack *st, const et_tcp_seg *s, uint32_t *conn);

#endif
