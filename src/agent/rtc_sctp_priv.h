/*
 * rtc_sctp_priv.h - what rtc_sctp.c (the association and its usrsctp
 * plumbing) and rtc_sctp_chan.c (channels and what arrives on them)
 * share. Not for use outside these two files.
 */
#ifndef MESH_AGENT_RTC_SCTP_PRIV_H
#define MESH_AGENT_RTC_SCTP_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <usrsctp.h>
#include <uv.h>

#include "agent/rtc_sctp.h"
#include "base/buf.h"

/* A channel closes by resetting both directions of its stream (RFC 8831
 * 6.7); either end may start. */
enum chan_state {
  CHAN_NONE,
  CHAN_OPEN,
  CHAN_CLOSING_LOCAL,  /* we reset ours; waiting for the peer's reset */
  CHAN_CLOSING_REMOTE, /* the peer reset its direction; ours is resetting */
};

struct pkt {
  struct pkt *next;
  size_t len;
  uint8_t data[];
};

struct rtc_sctp {
  struct rtc_sctp *next; /* the registry, g.list */
  uintptr_t id;          /* our AF_CONN address, as an integer */
  struct rtc_sctp_cbs cbs;
  void *data;
  uv_timer_t timer;
  struct socket *sock; /* NULL once we aborted the association */
  uint16_t rport;
  size_t remote_max;
  int up, closed, freeing, want_writable;
  size_t last_buffered; /* what buffered() last saw outside usrsctp */
  struct pkt *inq, **inq_tail;
  size_t inq_bytes;
  uint8_t *scratch; /* RECV_CHUNK bytes */
  /* A message read in pieces so far. */
  struct buf msg;
  int msg_active;
  uint16_t msg_sid;
  uint32_t msg_ppid;
  uint8_t chan[RTC_SCTP_STREAMS];      /* enum chan_state */
  uint8_t chan_type[RTC_SCTP_STREAMS]; /* DCEP channel type */
  uint32_t chan_rel[RTC_SCTP_STREAMS]; /* DCEP reliability parameter */
  /* Streams whose outgoing direction still has to be reset. */
  uint8_t reset_wanted[RTC_SCTP_STREAMS];
  size_t resets_wanted;
};

/* usrsctp calls on the stack: while non-zero, usrsctp holds its locks and
 * must not be called again (see rtc_sctp.c). */
extern int rtc_sctp__in_lib;

/* Brackets a public entry point: the outermost rtc_sctp__leave handles
 * queued input and deferred frees. */
void rtc_sctp__enter(void);
void rtc_sctp__leave(void);

/* One message on sid with ppid (bytes borrowed). The channel's DCEP type
 * picks unordered / partial reliability unless control is set (DCEP itself
 * is always ordered and reliable). Returns 0, UV_EAGAIN (buffer full;
 * on_writable will follow), MESH_E_TOO_LARGE or MESH_E_IO. */
int rtc_sctp__send_msg(struct rtc_sctp *s, uint16_t sid, uint32_t ppid,
                       const uint8_t *p, size_t n, int control);

/* The association ended: on_closed(reason), once. */
void rtc_sctp__mark_closed(struct rtc_sctp *s, const char *reason);
/* Aborts the association over the peer's bad input, then
 * rtc_sctp__mark_closed. */
void rtc_sctp__fail(struct rtc_sctp *s, const char *reason);

/* A piece of a data message read by usrsctp_recvv (p borrowed); eor marks
 * its last piece. Reassembles up to RTC_SCTP_MAX_MESSAGE and delivers. */
void rtc_sctp__on_data(struct rtc_sctp *s, const struct sctp_rcvinfo *ri,
                       const uint8_t *p, size_t n, int eor);
/* One whole notification (p borrowed). */
void rtc_sctp__on_notification(struct rtc_sctp *s, const uint8_t *p, size_t n);

#endif
