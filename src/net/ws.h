/*
 * ws.h - WebSocket connections on libuv: client (ws_connect) and server side
 * (http_upgrade_ws in http_srv.h), over plain TCP or TLS.
 *
 * A struct ws is owned by this layer. The application sees it from the
 * moment it is returned until on_close returns; every ws ever returned gets
 * exactly one on_close, including failed connects, and is freed right
 * after. All functions here must be called on the loop thread; all may be
 * called from any callback of this layer, including for the same ws.
 */
#ifndef MESH_NET_WS_H
#define MESH_NET_WS_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/ws_session.h" /* enum ws_type, close code names */

struct ws;

struct ws_cbs {
  /* Client: the 101 reply was validated. Server: called once, on the next
   * loop iteration after the upgrade, before any message; may be NULL. */
  void (*on_open)(struct ws *w, void *data);
  /* One complete message; p is borrowed for the call. Messages already
   * read from the socket may still arrive after ws_pause(). */
  void (*on_message)(struct ws *w, enum ws_type t, const uint8_t *p, size_t n,
                     void *data);
  /* Optional: queued output fell below MESH_STREAM_LOW_WATER after having
   * passed MESH_STREAM_HIGH_WATER. */
  void (*on_drain)(struct ws *w, void *data);
  /* Exactly once. code/reason: the first close frame sent or received, or
   * 1006 and a local reason ("connection refused", "connect timeout",
   * "output queue over hard limit", ...). reason is borrowed for the call.
   * w is freed right after this returns. */
  void (*on_close)(struct ws *w, int code, const char *reason, void *data);
};

/* Sends one message; p is borrowed and copied. Returns 0, MESH_E_CLOSED
 * if the ws is not open (connecting or closing), MESH_E_TOO_LARGE if
 * n > MESH_WS_MAX_MESSAGE or the output queue would pass
 * MESH_STREAM_HARD_LIMIT (the connection is then closed, on_close 1006). */
int ws_send(struct ws *w, enum ws_type t, const void *p, size_t n);
/* Sends a close frame with code and reason (borrowed; at most 123 bytes
 * go on the wire), waits up to MESH_WS_CLOSE_MS for the peer's close,
 * then closes TCP after flushing. on_close follows, never from inside
 * ws_close. Idempotent. Before the connection is open it aborts it. */
void ws_close(struct ws *w, uint16_t code, const char *reason);
/* Bytes queued for the socket. */
size_t ws_queued(const struct ws *w);
/* Stop/resume reading from the socket. */
void ws_pause(struct ws *w);
void ws_resume(struct ws *w);
/* The owner saw no message for a while: frees the buffer kept for
 * reassembling large messages (up to 64 KiB; see ws_session.h). It comes
 * back with the next large message. */
void ws_release_input(struct ws *w);
/* "ip:port" of the peer, borrowed from w. */
const char *ws_peer(const struct ws *w);
/* Close 1001 "idle timeout" when nothing at all is received for ms; 0
 * disables. */
void ws_set_idle_timeout(struct ws *w, uint64_t ms);
/* After idle_ms with nothing received send a PING; if nothing arrives
 * within pong_ms more, close 1001 "ping timeout". idle_ms 0 disables. */
void ws_set_keepalive(struct ws *w, uint64_t idle_ms, uint64_t pong_ms);
/* Client over TLS: the server's leaf certificate, borrowed from w (valid
 * until on_close returns). NULL for ws:// and on the server side. */
X509 *ws_peer_cert(const struct ws *w);
/* Replaces the data pointer passed to the callbacks. */
void ws_set_data(struct ws *w, void *data);
/* Messages longer than frag bytes are sent as several frames (the agent
 * fragments at MESH_WS_AGENT_FRAGMENT). 0, the default, never fragments. */
void ws_set_fragment(struct ws *w, size_t frag);
/* Lowers the largest message accepted from the peer (default and ceiling
 * MESH_WS_MAX_MESSAGE): past it the connection closes with 1009. */
void ws_set_max_message(struct ws *w, size_t max);

/*
 * Opens a client connection to url: "wss://host:port/path?query" or
 * "ws://...". host may be a name (resolved with uv_getaddrinfo, IPv4
 * preferred), an IPv4 literal or a bracketed IPv6 literal; the port
 * defaults to 443/80. Names are sent as SNI. connect_timeout_ms covers
 * TCP + TLS + upgrade. The 101 reply must carry the right
 * Sec-WebSocket-Accept. tls (borrowed; must outlive the ws) is required for
 * wss:// and ignored for ws://. cbs is copied; url is copied.
 * Returns 0 with *out set: on_open or on_close(w, 1006, reason) follows,
 * always asynchronously. Returns MESH_E_INVALID for a malformed URL or a
 * wss:// URL without tls, or MESH_E_NOMEM / a libuv code; then *out is
 * NULL and no callback will come.
 */
int ws_connect(uv_loop_t *loop, const char *url, SSL_CTX *tls,
               uint64_t connect_timeout_ms, const struct ws_cbs *cbs,
               void *data, struct ws **out);

/* Decides whether to go on with the server certificate cert (borrowed for
 * the call; NULL over ws://): 0 goes on, a negative code refuses. */
typedef int (*ws_verify_cb)(X509 *cert, void *data);

/* The reason on_close reports when verify refused the certificate. */
#define WS_REASON_CERT_REFUSED "server certificate refused"

/* Client extras (meshctl). A zeroed struct asks for nothing extra. */
struct ws_connect_opts {
  uint64_t connect_timeout_ms;
  /* Extra request header lines, each "Name: value\r\n" (e.g. a Cookie);
   * borrowed, copied, and wiped when the ws is freed since they may carry
   * a secret. NULL for none. */
  const char *headers;
  /* Called once TLS is established and before the upgrade request (and
   * so the headers) is sent; a refusal closes with 1006
   * WS_REASON_CERT_REFUSED. NULL accepts any certificate. */
  ws_verify_cb verify;
  void *verify_data;
};

/* ws_connect with options (o borrowed; copied what it needs). Also
 * MESH_E_INVALID when o->headers is not a list of well-formed header
 * lines (a name of token characters, a colon, a value without control
 * characters, CRLF) or longer than MESH_HTTP_MAX_HEADER_BYTES / 2. */
int ws_connect_ex(uv_loop_t *loop, const char *url, SSL_CTX *tls,
                  const struct ws_connect_opts *o, const struct ws_cbs *cbs,
                  void *data, struct ws **out);

#endif
