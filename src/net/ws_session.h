/*
 * ws_session.h - sans-I/O WebSocket (RFC 6455) session, server or client.
 *
 * Received bytes go in through ws_session_feed(); complete messages come out
 * through a callback, text and binary kept distinct, fragmented messages
 * reassembled into one bounded buffer. Everything the session wants to send
 * (data frames, pongs, close frames) is appended to an output struct buf
 * that the caller writes to its transport and empties. No I/O, no loop, no
 * logging.
 *
 * Frame parsing is wslay's frame layer (wslay_frame_recv); the message layer
 * on top is ours so that every failure closes with a specific code and a
 * reason: 1002 protocol errors (mask rule, reserved bits, opcodes, control
 * frame rules, continuation order), 1007 invalid UTF-8 in text or close
 * reasons, 1009 messages above MESH_WS_MAX_MESSAGE (checked from the frame
 * header, before any payload is buffered). Pings are answered with pongs
 * automatically; a received close frame is echoed.
 */
#ifndef MESH_NET_WS_SESSION_H
#define MESH_NET_WS_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum ws_type { WS_TEXT = 1, WS_BINARY = 2 };
enum ws_role { WS_ROLE_SERVER, WS_ROLE_CLIENT };

/* Close codes used by the session. */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_NO_STATUS 1005
#define WS_CLOSE_ABNORMAL 1006
#define WS_CLOSE_BAD_DATA 1007
#define WS_CLOSE_POLICY 1008
#define WS_CLOSE_TOO_BIG 1009
/* The longest close reason that fits a control frame. */
#define WS_CLOSE_REASON_MAX 123

struct ws_session;

/* A complete message. p is borrowed for the call only. The callback may call
 * ws_session_send/_ping/_close on s but must not free it. */
typedef void (*ws_session_msg_cb)(struct ws_session *s, enum ws_type t,
                                  const uint8_t *p, size_t n, void *data);

/* Creates a session. The server role requires masked input and sends
 * unmasked frames; the client role the reverse. data is passed to cb.
 * Returns 0 and a new session in *out (free with ws_session_free), or
 * MESH_E_NOMEM. */
int ws_session_new(enum ws_role role, ws_session_msg_cb cb, void *data,
                   struct ws_session **out);
void ws_session_free(struct ws_session *s);
void ws_session_set_data(struct ws_session *s, void *data);

/*
 * Feeds n received bytes (borrowed). Messages are delivered through the
 * callback before this returns. Returns 0, or when the peer broke the
 * protocol MESH_E_MALFORMED (1002/1007) or MESH_E_TOO_LARGE (1009); in that
 * case a close frame with the code and a reason is already queued in the
 * output and ws_session_done() is true. Input after a received close frame
 * or after a failure is ignored.
 */
int ws_session_feed(struct ws_session *s, const uint8_t *p, size_t n);

/* Queues one message (p borrowed; the bytes are copied into the output).
 * Messages longer than the fragment size (ws_session_set_fragment, default
 * 0 = never) go out as several frames. Text is sent as given; the caller
 * guarantees UTF-8. Returns 0, MESH_E_CLOSED once a close frame was queued,
 * MESH_E_TOO_LARGE if n > MESH_WS_MAX_MESSAGE or the output is full, or
 * MESH_E_NOMEM. */
int ws_session_send(struct ws_session *s, enum ws_type t, const void *p,
                    size_t n);
void ws_session_set_fragment(struct ws_session *s, size_t frag);
/* Lowers the largest message accepted from the peer (default and ceiling
 * MESH_WS_MAX_MESSAGE); past it the session fails with 1009. */
void ws_session_set_max_message(struct ws_session *s, size_t max);
/* Queues a PING carrying n <= 125 bytes (borrowed). */
int ws_session_ping(struct ws_session *s, const void *p, size_t n);
/* Queues a close frame with code and reason (borrowed, truncated to
 * WS_CLOSE_REASON_MAX bytes; NULL for none). A no-op returning
 * MESH_E_CLOSED when a close was already queued. */
int ws_session_close(struct ws_session *s, uint16_t code, const char *reason);

/* The output buffer (owned by s). The caller writes out->data[0..len) to
 * the transport and then calls buf_reset() or buf_consume() on it. */
struct buf *ws_session_out(struct ws_session *s);

/* True once the transport should be closed (after flushing the output):
 * close frames went both ways, or the session failed. */
int ws_session_done(const struct ws_session *s);
int ws_session_close_sent(const struct ws_session *s);
int ws_session_close_received(const struct ws_session *s);
/* Bytes reserved for reassembling messages that did not arrive in one
 * piece: at most 64 KiB more than has arrived of the current one; kept
 * for the next message until ws_session_release_input(). */
size_t ws_session_reassembly_cap(const struct ws_session *s);
/* The connection went idle: frees the reassembly buffer unless a
 * fragmented message is half received. (wslay's frame buffer needs no
 * call: it is freed whenever the input ends between frames.) */
void ws_session_release_input(struct ws_session *s);
/* The code and reason of the first close frame seen or sent (the reason is
 * borrowed from s, NUL-terminated); 0 and "" while none. A received close
 * without a code reports 1005. */
uint16_t ws_session_close_code(const struct ws_session *s);
const char *ws_session_close_reason(const struct ws_session *s);

/* ---- Upgrade helpers (RFC 6455 section 4) ---- */

#define WS_KEY_LEN 24    /* base64 of 16 random bytes */
#define WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */

/* Whether key (len bytes, borrowed) is base64 of exactly 16 bytes. */
int ws_key_valid(const char *key, size_t len);
/* Writes base64(SHA-1(key || GUID)) plus NUL to out. 0 or MESH_E_CRYPTO. */
int ws_accept_for_key(const char *key, size_t len, char out[WS_ACCEPT_LEN + 1]);
/* 0 when accept is the right answer for key, else MESH_E_AUTH. */
int ws_check_accept(const char *key, const char *accept);
/* Appends a client upgrade request for target ("/path?query") with the
 * given Host header value to out, using a fresh random key that is also
 * written to key (NUL-terminated). 0, MESH_E_CRYPTO, or a buf error. */
int ws_client_request(struct buf *out, const char *host, const char *target,
                      char key[WS_KEY_LEN + 1]);
/* The same with extra header lines (borrowed, appended as given; NULL for
 * none). The caller has checked them (ws_header_lines_valid). */
int ws_client_request_ex(struct buf *out, const char *host, const char *target,
                         const char *extra, char key[WS_KEY_LEN + 1]);
/* Whether s is zero or more "Name: value\r\n" lines: a non-empty name of
 * RFC 7230 token characters, a colon, a value of visible characters,
 * spaces and tabs. Returns 1 or 0. */
int ws_header_lines_valid(const char *s);

#endif
