/*
 * rtc_sctp.h - SCTP associations and WebRTC data channels (RFC 8831,
 * DCEP RFC 8832) over usrsctp, for meshagent's WebRTC sessions.
 *
 * One struct rtc_sctp is one SCTP association inside a DTLS connection:
 * SCTP packets come in with rtc_sctp_input (the DTLS layer's application
 * data) and go out through the send callback (to DTLS). The browser
 * opens data channels with DATA_CHANNEL_OPEN; this module acknowledges
 * them and reports each with on_channel, then carries whole messages both
 * ways. The agent never opens channels itself.
 *
 * usrsctp is process-global. It is started once, without threads
 * (usrsctp_init_nothreads), and its clock is driven from the loop: every
 * live association runs a RTC_SCTP_TICK_MS uv timer, so an agent with no
 * WebRTC session never wakes up for SCTP. Everything runs on the one
 * loop thread; nothing here is thread-safe.
 *
 * Re-entrancy: usrsctp emits packets synchronously from inside its own
 * calls, so the send callback may run inside rtc_sctp_new, rtc_sctp_input,
 * rtc_sctp_send or a timer tick. The other callbacks run only after
 * usrsctp has returned. From any callback it is safe to call
 * rtc_sctp_send (except from send itself, which gets MESH_E_PROTO_STATE),
 * rtc_sctp_buffered, rtc_sctp_input (the packet is queued and handled
 * before the outer call returns) and rtc_sctp_free (the teardown is
 * deferred until the outermost call returns; no callback of that object
 * runs after rtc_sctp_free has returned).
 */
#ifndef MESH_AGENT_RTC_SCTP_H
#define MESH_AGENT_RTC_SCTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/mesh_limits.h"

/* The SCTP port both ends use unless the SDP's a=sctp-port says otherwise. */
#define RTC_SCTP_DEFAULT_PORT 5000
/* Streams asked for in each direction; channels on higher ids cannot
 * exist (the browser is limited to what the INIT negotiated). */
#define RTC_SCTP_STREAMS 1024
/* The largest message received (reassembled from partial reads) or sent.
 * The answer should advertise it: a=max-message-size:262144. A bigger
 * incoming message aborts the association. */
#define RTC_SCTP_MAX_MESSAGE (256 * 1024)
/* usrsctp's send buffer for one association: what rtc_sctp_send accepts
 * before it refuses with UV_EAGAIN. */
#define RTC_SCTP_SEND_BUFFER (1024 * 1024)
/* Buffered bytes at or above which a successful send still asks for
 * on_writable, and at or below which on_writable fires: the relay's own
 * marks, so a session sees the same flow control on either path. */
#define RTC_SCTP_HIGH_WATER MESH_STREAM_HIGH_WATER
#define RTC_SCTP_LOW_WATER MESH_STREAM_LOW_WATER
/* Period of the timer that drives usrsctp's clock. */
#define RTC_SCTP_TICK_MS 10

struct rtc_sctp;

/* Callbacks; data is the pointer given to rtc_sctp_new. All but send may
 * be NULL. Pointer arguments are borrowed for the duration of the call. */
struct rtc_sctp_cbs {
  /* One SCTP packet for the peer: pass it to DTLS. May run inside any
   * rtc_sctp_* call (see above); must not call back into this module
   * except rtc_sctp_free and rtc_sctp_input. */
  void (*send)(void *data, const uint8_t *packet, size_t len);
  /* The browser opened a data channel on stream (already acknowledged).
   * label and protocol are NUL-terminated UTF-8 without inner NULs. */
  void (*on_channel)(void *data, uint16_t stream, const char *label,
                     const char *protocol);
  /* A whole message on an open channel: text (PPID 51/56) or binary
   * (53/57); empty messages come with len 0. */
  void (*on_message)(void *data, uint16_t stream, int binary,
                     const uint8_t *bytes, size_t len);
  /* After a send was refused with UV_EAGAIN, or left
   * RTC_SCTP_HIGH_WATER or more buffered: the buffer fell to RTC_SCTP_LOW_WATER
   * or below. Fires once per such episode. */
  void (*on_writable)(void *data);
  /* The channel is closed: the peer reset its direction of the stream
   * (RTCDataChannel.close(), or its answer to rtc_sctp_close_channel);
   * this module resets its own direction too. */
  void (*on_channel_closed)(void *data, uint16_t stream);
  /* The association ended: the peer aborted or shut it down, it timed
   * out, or this module aborted it over bad input (reason says which).
   * Called once; every channel is gone. Sends fail from then on. */
  void (*on_closed)(void *data, const char *reason);
};

/* Creates an association between local_port and remote_port (the SDP's
 * a=sctp-port values, normally RTC_SCTP_DEFAULT_PORT both) and starts it:
 * both WebRTC ends send INIT (simultaneous open), so create it once DTLS
 * is up. cbs is copied; loop and data are borrowed and must outlive the
 * object. cbs->send may already be called from inside this function.
 * Returns 0 and a new object in *out (free with rtc_sctp_free), or
 * MESH_E_INVALID (no send callback), MESH_E_NOMEM or MESH_E_IO (usrsctp
 * refused to set up the socket). */
int rtc_sctp_new(struct rtc_sctp **out, uv_loop_t *loop, uint16_t local_port,
                 uint16_t remote_port, const struct rtc_sctp_cbs *cbs,
                 void *data);

/* Sets the peer's largest acceptable message (the offer's
 * a=max-message-size; 0 there means no limit). Without a call the RFC 8841
 * default of 65536 applies. Sends are also capped at RTC_SCTP_MAX_MESSAGE. */
void rtc_sctp_set_remote_max_message(struct rtc_sctp *s, size_t max);

/* Feeds one SCTP packet (borrowed) from DTLS. Bad packets are dropped by
 * SCTP itself; bad DCEP or oversized messages abort the association with a
 * reason (on_closed). Called from inside a callback, the packet is queued
 * (up to 256 KiB, then dropped like a lost packet) and handled before the
 * outermost call returns; ignored once rtc_sctp_free was called. */
void rtc_sctp_input(struct rtc_sctp *s, const uint8_t *packet, size_t len);

/* Queues one whole message (bytes borrowed, copied) on an open channel:
 * binary selects PPID 53 over 51, and len 0 sends the empty-message PPID
 * (57/56). Ordered and reliable unless the browser opened the channel
 * unordered or partially reliable. Returns 0, UV_EAGAIN when the send
 * buffer is full (hold the data; on_writable follows), MESH_E_TOO_LARGE
 * past the peer's or this module's largest message, MESH_E_INVALID for a
 * stream with no open channel, MESH_E_PROTO_STATE before the association
 * is up (or when called from the send callback), MESH_E_CLOSED after it
 * ended, or MESH_E_IO when usrsctp refuses otherwise. */
int rtc_sctp_send(struct rtc_sctp *s, uint16_t stream, int binary,
                  const uint8_t *bytes, size_t len);

/* Closes an open channel the way RTCDataChannel.close() does: resets this
 * side's direction of the stream (after the messages already queued on
 * it); on_channel_closed follows when the peer has reset its direction.
 * Sends on the stream fail with MESH_E_INVALID from now on. Returns 0,
 * MESH_E_INVALID (no open channel there), MESH_E_CLOSED, or
 * MESH_E_PROTO_STATE from the send callback. */
int rtc_sctp_close_channel(struct rtc_sctp *s, uint16_t stream);

/* Bytes accepted by rtc_sctp_send and not yet acknowledged by the peer
 * (0 when there is no association). */
size_t rtc_sctp_buffered(struct rtc_sctp *s);

/* Releases the association without telling the peer (no ABORT is sent:
 * no callback runs after this returns, the send callback included).
 * Safe from inside any callback of this object; the memory goes once the
 * loop has run the close of the object's timer. s must not be passed to
 * this module again, except by callbacks of it that are still running.
 * NULL is ignored. */
void rtc_sctp_free(struct rtc_sctp *s);

/* Test hooks (double underscore: not for the agent). */

/* Where usrsctp's packets for AF_CONN addresses that this module did not
 * register go: a test drives a raw usrsctp socket as "the browser" with
 * its own address. Pass NULL to drop them (the default). */
void rtc_sctp__set_foreign_output(int (*out)(void *addr, const void *packet,
                                             size_t len));
/* Starts usrsctp if it is not yet running (rtc_sctp_new does this). */
void rtc_sctp__init(void);
/* Stops usrsctp when no association of this module is left. Returns 0,
 * or MESH_E_PROTO_STATE when objects or usrsctp sockets still exist. */
int rtc_sctp__finish(void);

#endif
