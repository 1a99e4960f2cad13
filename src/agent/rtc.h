/*
 * rtc.h - one WebRTC data-channel peer connection answering a viewer's
 * offer (spec sessions.md §8.2; docs/sessions.md §9): the SDP answer, then
 * ICE (rtc_ice.c) carrying DTLS (rtc_dtls.c) carrying SCTP and the data
 * channel (rtc_sctp.c), all on the agent's one loop thread.
 *
 * The viewer makes the offer and opens the channel; the agent answers,
 * is ICE-controlled and the DTLS server, and takes the first channel the
 * viewer opens. Everything after rtc_close() is silent: no callback runs
 * and the memory goes once the handles are closed.
 */
#ifndef MESH_AGENT_RTC_H
#define MESH_AGENT_RTC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct rtc;

struct rtc_cbs {
  /* The viewer's data channel is open: messages may flow. */
  void (*on_open)(void *data);
  /* One whole message from the channel (p borrowed). */
  void (*on_message)(void *data, int binary, const uint8_t *p, size_t n);
  /* rtc_buffered() fell below the low-water mark after it was high. */
  void (*on_writable)(void *data);
  /* The connection is over (ICE failed or lost consent, DTLS or SCTP
   * closed, the channel was reset); why is static text. The rtc must
   * still be closed by the owner. */
  void (*on_closed)(void *data, const char *why);
};

/* Answers offer (an SDP text of n bytes, borrowed): on success *out is the
 * running connection and *answer a malloc'd SDP text for the viewer. On
 * failure returns a negative code with *why (static text). */
int rtc_answer(uv_loop_t *loop, const char *offer, size_t n,
               const struct rtc_cbs *cbs, void *data, struct rtc **out,
               char **answer, const char **why);
/* Sends one message on the channel (p borrowed). 0, or a negative code
 * when the channel is not open or its buffer is full. */
int rtc_send(struct rtc *r, int binary, const uint8_t *p, size_t n);
/* Bytes accepted by rtc_send and not yet acknowledged by the peer. */
size_t rtc_buffered(const struct rtc *r);
/* The largest message rtc_send takes (the peer's max-message-size). */
size_t rtc_max_message(const struct rtc *r);
/* Tears the connection down; safe from inside its callbacks. */
void rtc_close(struct rtc *r);

#endif
