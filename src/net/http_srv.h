/*
 * http_srv.h - HTTP/1.1 server on libuv (TLS or plain TCP) with keep-alive,
 * limits, deadlines, and WebSocket upgrade.
 *
 * Each connection runs: TLS handshake (MESH_TLS_HANDSHAKE_MS), then the
 * request headers and body (MESH_HTTP_HEADERS_MS, from TLS established or
 * from the first byte of a keep-alive request), then the application's
 * reply, then keep-alive idle (MESH_HTTP_IDLE_MS). A passed deadline, bad
 * TLS, or bad HTTP (answered with 400/413/414/431 first) closes that
 * connection with one log line carrying the peer and the reason; the
 * listener and every other connection carry on. Reading is paused while a
 * request is with the application, so pipelined requests are answered in
 * order and a client cannot queue unbounded work.
 */
#ifndef MESH_NET_HTTP_SRV_H
#define MESH_NET_HTTP_SRV_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/ws.h"

struct http_srv;
struct http_conn;

struct http_req {
  const char *method, *path, *query; /* NUL-terminated; raw (not decoded);
                                        query "" if none */
  const char *peer;                  /* "ip:port" */
  const uint8_t *body;               /* NULL when body_len is 0 */
  size_t body_len;
};

/* Case-insensitive lookup of the first header called name; the value is
 * borrowed from the request. NULL if absent. */
const char *http_req_header(const struct http_req *r, const char *name);

/* A request arrived. req and everything it points to are borrowed and stay
 * valid until the request is answered. The callback must answer every
 * request exactly once, now or later, with http_respond() or
 * http_upgrade_ws(), even if the connection died meanwhile (the call then
 * reports MESH_E_CLOSED / NULL and releases c). */
typedef void (*http_request_cb)(struct http_conn *c, const struct http_req *req,
                                void *data);

struct http_srv_config {
  const char *bind; /* "127.0.0.1", "0.0.0.0", "::" ... */
  int port;         /* 0 = any free port */
  SSL_CTX *tls;     /* borrowed, must outlive the server; NULL = plain TCP */
  http_request_cb on_request;
  void *data; /* passed to on_request */
};

/* Binds and listens (backlog 511). cfg is copied (cfg->bind need not
 * outlive the call). Returns 0 and a new server in *out, MESH_E_INVALID
 * for a bad bind address, or a libuv code (e.g. UV_EADDRINUSE); on failure
 * nothing needs stopping (memory is released on the next loop run). */
int http_srv_start(uv_loop_t *loop, const struct http_srv_config *cfg,
                   struct http_srv **out);
/* The bound port (useful after port 0). */
int http_srv_port(const struct http_srv *s);
/* Closes the listener and every connection, including upgraded
 * websockets (which get close 1001 "server shutting down"), then frees s
 * and calls done(data) (done may be NULL). s is invalid after this call. */
void http_srv_stop(struct http_srv *s, void (*done)(void *data), void *data);
/* Open connections, including upgraded websockets. */
size_t http_srv_connections(const struct http_srv *s);
/* Overrides the deadlines (milliseconds; 0 keeps the current value).
 * Applies to connections accepted afterwards. For tests and tuning. */
void http_srv_set_deadlines(struct http_srv *s, uint64_t tls_ms,
                            uint64_t headers_ms, uint64_t idle_ms);
/* After at least min TLS handshakes (default 32), once none completed for
 * quiet_ms (1000), or after max (1024) however busy, the server calls
 * malloc_trim(0): the buffers of a burst of handshakes would otherwise
 * stay resident as holes in the heap (http_srv.c says what it measured).
 * 0 keeps a value. For tests and tuning. */
void http_srv_set_heap_trim(struct http_srv *s, unsigned min, unsigned max,
                            uint64_t quiet_ms);

/*
 * Answers the current request on c: status line, Content-Length,
 * Content-Type (content_type may be NULL), extra_headers ("Name: v\r\n..."
 * or NULL; borrowed), Connection, then len bytes of body (borrowed, copied;
 * omitted for HEAD). The connection is kept alive when the request allows
 * it. Returns 0, MESH_E_PROTO_STATE if there is no request to answer,
 * MESH_E_CLOSED if the connection died (c is then released), or a write
 * error. May be called from any callback.
 */
int http_respond(struct http_conn *c, int status, const char *extra_headers,
                 const char *content_type, const void *body, size_t len);

/*
 * Validates the WebSocket upgrade headers of req (GET, Upgrade: websocket,
 * Connection: upgrade, a 16-byte Sec-WebSocket-Key): answers 400 and
 * returns NULL when invalid, 426 when Sec-WebSocket-Version is not 13.
 * Otherwise sends 101 and turns the connection into a server websocket
 * owned by the ws layer: cbs (copied) and data drive it, and cbs->on_close
 * will be called exactly once. c is released by this call either way.
 */
struct ws *http_upgrade_ws(struct http_conn *c, const struct http_req *req,
                           const struct ws_cbs *cbs, void *data);

#endif
