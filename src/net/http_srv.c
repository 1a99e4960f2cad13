#include "net/http_srv.h"

#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mesh_limits.h"
#include "net/http_parse.h"
#include "net/stream.h"
#include "net/ws_internal.h"

/* Input held while a request is with the application: what is left of one
 * socket read after a complete request (reading is paused meanwhile). */
#define CONN_IN_MAX (256 * 1024)
#define LISTEN_BACKLOG 511

/*
 * Giving the heap back after a burst of TLS handshakes. Each handshake
 * briefly holds tens of KB (OpenSSL's 16 KB record buffers, the handshake
 * messages, the key exchange), and the few hundred bytes per connection
 * that outlive it (session, cipher contexts, the WebSocket) land between
 * them. When hundreds of connections arrive at once (tunnels opened
 * together, agents reconnecting after a restart) the freed buffers stay
 * resident as holes that glibc returns only on malloc_trim(): measured
 * with 200 relay tunnels paired at once, 50 KB of free heap per tunnel,
 * of which the trim gives 30-40 KB back (RSS per idle tunnel ~80 KB ->
 * ~48 KB; the rest sits in partly used pages). So once HEAP_TRIM_MIN
 * handshakes have completed and none for HEAP_TRIM_QUIET_MS, or every
 * HEAP_TRIM_MAX handshakes under steady arrivals, the whole free space
 * is released (about 1.5 ms for a 20 MB heap). Fewer handshakes leave
 * nothing worth the walk.
 */
#define HEAP_TRIM_MIN 32
#define HEAP_TRIM_MAX 1024
#define HEAP_TRIM_QUIET_MS 1000

struct http_srv {
  uv_loop_t *loop;
  uv_tcp_t listener;
  SSL_CTX *tls;
  http_request_cb on_request;
  void *data;
  struct stream_group group;
  uint64_t tls_ms, headers_ms, idle_ms;
  int port;
  int stopping;
  int listener_open;
  uv_timer_t trim; /* see HEAP_TRIM_MIN */
  int trim_open;
  unsigned handshakes; /* completed since the last trim */
  unsigned trim_min, trim_max;
  uint64_t trim_quiet_ms;
  void (*done)(void *data);
  void *done_data;
};

enum conn_state {
  C_HANDSHAKE,  /* TLS handshake */
  C_WAIT,       /* reading a request (or idle between requests) */
  C_PROCESSING, /* a request is with the application */
  C_CLOSING,    /* answered with an error or closing; no more requests */
  C_UPGRADED    /* the stream belongs to a ws now */
};

/* The public request plus the way back to its connection, so that
 * http_req_header() can reach the parser. */
struct req_full {
  struct http_req pub; /* first */
  struct http_conn *c;
};

struct http_conn {
  struct http_srv *srv; /* valid while st is */
  struct stream *st;    /* NULL once the stream is gone */
  enum conn_state state;
  int in_dispatch; /* on_request is on the stack */
  int got_bytes;   /* the current request has started arriving */
  int kick;        /* the timer is a zero-delay "process pending input" */
  int head;        /* current request is HEAD */
  struct http_parse hp;
  struct buf in;
  struct req_full req;
  int served; /* requests answered on this connection */
  char peer[64];
};

static const struct stream_cbs conn_cbs;

const char *http_req_header(const struct http_req *r, const char *name) {
  const struct http_conn *c = ((const struct req_full *)r)->c;
  return http_parse_header(&c->hp, name);
}

static void conn_free(struct http_conn *c) {
  http_parse_cleanup(&c->hp);
  buf_cleanup(&c->in);
  free(c);
}

static const char *status_text(int status) {
  const char *t = http_status_str((enum http_status)status);
  return t && strcmp(t, "<unknown>") != 0 ? t : "Status";
}

/* Writes a full response; returns 0 or the stream error. */
static int write_response(struct http_conn *c, int status, const char *extra,
                          const char *ctype, const void *body, size_t len,
                          int keep) {
  char head[512];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s%s%s"
                   "Connection: %s\r\n",
                   status, status_text(status), len,
                   ctype ? "Content-Type: " : "", ctype ? ctype : "",
                   ctype ? "\r\n" : "", keep ? "keep-alive" : "close");
  if (n < 0 || (size_t)n >= sizeof head) return MESH_E_INVALID;
  size_t el = extra ? strlen(extra) : 0;
  if (c->head) len = 0;
  struct buf b;
  buf_init(&b, (size_t)n + el + 2 + len);
  int r;
  if ((r = buf_put(&b, head, (size_t)n)) == 0 &&
      (r = buf_put(&b, extra, el)) == 0 && (r = buf_put(&b, "\r\n", 2)) == 0 &&
      (r = buf_put(&b, body, len)) == 0)
    r = stream_write(c->st, b.data, b.len);
  buf_cleanup(&b);
  return r;
}

/* Answers a request we refuse ourselves, then closes. */
static void reject(struct http_conn *c, int status, const char *why) {
  log_info("peer=%s event=http_reject status=%d reason=\"%s\"", c->peer, status,
           why);
  c->state = C_CLOSING;
  write_response(c, status, NULL, "text/plain", why, strlen(why), 0);
  if (c->st) stream_close_after_flush(c->st, 0, MESH_LINGER_MS);
}

static void dispatch(struct http_conn *c) {
  struct http_srv *s = c->srv;
  c->state = C_PROCESSING;
  c->got_bytes = 0;
  stream_timer_stop(c->st);
  stream_pause(c->st);
  struct http_req *q = &c->req.pub;
  q->method = http_parse_method(&c->hp);
  q->path = http_parse_path(&c->hp);
  q->query = http_parse_query(&c->hp);
  q->peer = c->peer;
  q->body = http_parse_body(&c->hp, &q->body_len);
  c->head = strcmp(q->method, "HEAD") == 0;
  c->in_dispatch = 1;
  s->on_request(c, q, s->data);
  c->in_dispatch = 0;
}

/* Parses buffered input and dispatches complete requests, one at a time. */
static void process(struct http_conn *c) {
  while (c->st && c->state == C_WAIT && c->in.len > 0) {
    ssize_t r = http_parse_feed(&c->hp, c->in.data, c->in.len);
    if (r == MESH_E_INCOMPLETE) {
      buf_reset(&c->in);
      return;
    }
    if (r < 0) {
      reject(c, http_parse_status(&c->hp), mesh_strerror((int)r));
      return;
    }
    /* The request's own bytes are copied into hp; keep the rest. */
    buf_consume(&c->in, (size_t)r);
    dispatch(c);
    if (c->state == C_UPGRADED) {
      conn_free(c);
      return;
    }
  }
}

static void trim_cb(uv_timer_t *t) {
  struct http_srv *s = t->data;
  uint64_t t0 = uv_hrtime();
  unsigned n = s->handshakes;
  s->handshakes = 0;
  malloc_trim(0);
  log_debug("event=heap_trim handshakes=%u us=%llu", n,
            (unsigned long long)((uv_hrtime() - t0) / 1000));
}

/* A handshake completed: (re)arms the trim (see HEAP_TRIM_MIN). Past
 * HEAP_TRIM_MAX the timer is no longer pushed back, so it fires. */
static void note_handshake(struct http_srv *s) {
  if (++s->handshakes < s->trim_min) return;
  if (s->handshakes < s->trim_max || !uv_is_active((uv_handle_t *)&s->trim))
    uv_timer_start(&s->trim, trim_cb, s->trim_quiet_ms, 0);
}

static void c_on_connect(struct stream *st, void *data) {
  struct http_conn *c = data;
  note_handshake(c->srv);
  c->state = C_WAIT;
  c->got_bytes = 1; /* the first request's deadline runs from here */
  stream_timer_start(st, c->srv->headers_ms);
}

static void c_on_read(struct stream *st, const uint8_t *p, size_t n,
                      void *data) {
  struct http_conn *c = data;
  if (c->state != C_WAIT && c->state != C_PROCESSING) return;
  if (buf_put(&c->in, p, n) != 0) {
    log_info("peer=%s event=close reason=\"pipelined input over limit\"",
             c->peer);
    stream_close(st, MESH_E_TOO_LARGE);
    return;
  }
  if (c->state == C_WAIT && !c->got_bytes) {
    /* A keep-alive request starts: the idle deadline becomes the request
     * deadline. */
    c->got_bytes = 1;
    stream_timer_start(st, c->srv->headers_ms);
  }
  process(c);
}

static void c_on_timer(struct stream *st, void *data) {
  struct http_conn *c = data;
  if (c->kick) {
    c->kick = 0;
    process(c);
    return;
  }
  const char *why = c->state == C_HANDSHAKE ? "tls handshake timeout"
                    : c->got_bytes          ? "headers timeout"
                                            : "keep-alive idle timeout";
  log_info("peer=%s event=close reason=\"%s\"", c->peer, why);
  stream_close(st, MESH_E_TIMEOUT);
}

static void c_on_close(struct stream *st, int reason, void *data) {
  (void)st;
  (void)reason;
  struct http_conn *c = data;
  c->st = NULL;
  c->srv = NULL;
  /* A request still with the application keeps c until it is answered. */
  if (c->state != C_PROCESSING) conn_free(c);
}

static const struct stream_cbs conn_cbs = {
    .on_connect = c_on_connect,
    .on_read = c_on_read,
    .on_timer = c_on_timer,
    .on_close = c_on_close,
};

int http_respond(struct http_conn *c, int status, const char *extra_headers,
                 const char *content_type, const void *body, size_t len) {
  if (c->state != C_PROCESSING) return MESH_E_PROTO_STATE;
  if (!c->st) {
    conn_free(c);
    return MESH_E_CLOSED;
  }
  int keep = http_parse_keep_alive(&c->hp) && !stream_is_closing(c->st);
  int r =
      write_response(c, status, extra_headers, content_type, body, len, keep);
  http_parse_next(&c->hp);
  c->served++;
  if (r != 0 || !keep) {
    c->state = C_CLOSING;
    stream_close_after_flush(c->st, 0, MESH_LINGER_MS);
    return r;
  }
  c->state = C_WAIT;
  stream_resume(c->st);
  if (c->in.len > 0) {
    c->got_bytes = 1;
    /* Pipelined input is already here. Inside on_request the dispatch loop
     * picks it up; otherwise a zero-delay timer does, so on_request is
     * never re-entered from the application's own call. */
    if (!c->in_dispatch) {
      c->kick = 1;
      stream_timer_start(c->st, 0);
    } else {
      stream_timer_start(c->st, c->srv->headers_ms);
    }
  } else {
    stream_timer_start(c->st, c->srv->idle_ms);
  }
  return 0;
}

struct ws *http_upgrade_ws(struct http_conn *c, const struct http_req *req,
                           const struct ws_cbs *cbs, void *data) {
  if (c->state != C_PROCESSING) return NULL;
  if (!c->st) {
    conn_free(c);
    return NULL;
  }
  const char *key = http_req_header(req, "Sec-WebSocket-Key");
  const char *ver = http_req_header(req, "Sec-WebSocket-Version");
  char accept[WS_ACCEPT_LEN + 1];
  if (strcmp(req->method, "GET") != 0 || http_parse_minor(&c->hp) < 1 ||
      !http_header_has_token(http_req_header(req, "Upgrade"), "websocket") ||
      !http_header_has_token(http_req_header(req, "Connection"), "upgrade") ||
      !key || !ws_key_valid(key, strlen(key)) ||
      ws_accept_for_key(key, strlen(key), accept) != 0) {
    http_respond(c, 400, NULL, "text/plain", "bad websocket upgrade", 21);
    return NULL;
  }
  if (!ver || strcmp(ver, "13") != 0) {
    http_respond(c, 426, "Sec-WebSocket-Version: 13\r\n", "text/plain",
                 "unsupported websocket version", 29);
    return NULL;
  }
  char head[160];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                   accept);
  struct stream *st = c->st;
  struct ws *w = NULL;
  if (stream_write(st, head, (size_t)n) == 0)
    w = ws__from_stream(st, c->in.data, c->in.len, cbs, data);
  if (!w) {
    c->state = C_CLOSING;
    stream_close(st, MESH_E_NOMEM);
    return NULL;
  }
  stream_resume(st);
  c->state = C_UPGRADED;
  c->st = NULL;
  /* Inside on_request the dispatch loop frees c when it returns. */
  if (!c->in_dispatch) conn_free(c);
  return w;
}

/* ---- Listener ---- */

static void on_connection(uv_stream_t *l, int status) {
  struct http_srv *s = l->data;
  if (status < 0) {
    /* EMFILE and friends: libuv has already shed the connection; keep
     * listening. */
    log_warn_r(status, "event=accept_failed");
    return;
  }
  if (s->stopping) return;
  struct http_conn *c = calloc(1, sizeof *c);
  if (!c) {
    log_warn("event=accept_failed reason=\"out of memory\"");
    return;
  }
  http_parse_init(&c->hp, HTTP_PARSE_REQUEST);
  buf_init(&c->in, CONN_IN_MAX);
  c->req.c = c;
  c->srv = s;
  int r = stream_new(s->loop, s->tls, &conn_cbs, c, &s->group, &c->st);
  if (r != 0) {
    log_warn_r(r, "event=accept_failed");
    conn_free(c);
    return;
  }
  if ((r = stream_accept(c->st, l)) != 0) {
    log_warn_r(r, "event=accept_failed");
    c->state = C_CLOSING;
    stream_close(c->st, r);
    return;
  }
  snprintf(c->peer, sizeof c->peer, "%s", stream_peer(c->st));
  if (s->group.count > MESH_MAX_CONNECTIONS) {
    log_warn("peer=%s event=close reason=\"too many connections\"", c->peer);
    c->state = C_CLOSING;
    stream_close(c->st, MESH_E_TOO_LARGE);
    return;
  }
  if (s->tls) {
    c->state = C_HANDSHAKE;
    stream_timer_start(c->st, s->tls_ms);
  } else {
    c->state = C_WAIT;
    c->got_bytes = 1;
    stream_timer_start(c->st, s->headers_ms);
  }
}

static void maybe_done(struct http_srv *s) {
  if (!s->stopping || s->listener_open || s->trim_open || s->group.count)
    return;
  void (*done)(void *) = s->done;
  void *d = s->done_data;
  free(s);
  if (done) done(d);
}

static void listener_closed(uv_handle_t *h) {
  struct http_srv *s = h->data;
  s->listener_open = 0;
  maybe_done(s);
}

static void trim_closed(uv_handle_t *h) {
  struct http_srv *s = h->data;
  s->trim_open = 0;
  maybe_done(s);
}

static void group_empty(struct stream_group *g, void *data) {
  (void)g;
  maybe_done(data);
}

int http_srv_start(uv_loop_t *loop, const struct http_srv_config *cfg,
                   struct http_srv **out) {
  *out = NULL;
  struct sockaddr_storage ss;
  const char *bind = cfg->bind ? cfg->bind : "0.0.0.0";
  if (uv_ip4_addr(bind, cfg->port, (struct sockaddr_in *)&ss) != 0 &&
      uv_ip6_addr(bind, cfg->port, (struct sockaddr_in6 *)&ss) != 0)
    return MESH_E_INVALID;
  if (!cfg->on_request) return MESH_E_INVALID;
  struct http_srv *s = calloc(1, sizeof *s);
  if (!s) return MESH_E_NOMEM;
  s->loop = loop;
  s->tls = cfg->tls;
  s->on_request = cfg->on_request;
  s->data = cfg->data;
  s->tls_ms = MESH_TLS_HANDSHAKE_MS;
  s->headers_ms = MESH_HTTP_HEADERS_MS;
  s->idle_ms = MESH_HTTP_IDLE_MS;
  s->trim_min = HEAP_TRIM_MIN;
  s->trim_max = HEAP_TRIM_MAX;
  s->trim_quiet_ms = HEAP_TRIM_QUIET_MS;
  s->group.on_empty = group_empty;
  s->group.data = s;
  int r = uv_tcp_init(loop, &s->listener);
  if (r != 0) {
    free(s);
    return r;
  }
  s->listener.data = s;
  s->listener_open = 1;
  uv_timer_init(loop, &s->trim);
  s->trim.data = s;
  s->trim_open = 1;
  if ((r = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0)) != 0 ||
      (r = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG,
                     on_connection)) != 0) {
    /* Freed by the last close callback once the loop runs. */
    s->stopping = 1;
    uv_close((uv_handle_t *)&s->listener, listener_closed);
    uv_close((uv_handle_t *)&s->trim, trim_closed);
    return r;
  }
  int n = sizeof ss;
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &n);
  s->port =
      ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
  *out = s;
  return 0;
}

int http_srv_port(const struct http_srv *s) { return s->port; }

size_t http_srv_connections(const struct http_srv *s) { return s->group.count; }

void http_srv_set_deadlines(struct http_srv *s, uint64_t tls_ms,
                            uint64_t headers_ms, uint64_t idle_ms) {
  if (tls_ms) s->tls_ms = tls_ms;
  if (headers_ms) s->headers_ms = headers_ms;
  if (idle_ms) s->idle_ms = idle_ms;
}

void http_srv_set_heap_trim(struct http_srv *s, unsigned min, unsigned max,
                            uint64_t quiet_ms) {
  if (min) s->trim_min = min;
  if (max) s->trim_max = max;
  if (quiet_ms) s->trim_quiet_ms = quiet_ms;
}

void http_srv_stop(struct http_srv *s, void (*done)(void *data), void *data) {
  if (s->stopping) return;
  s->stopping = 1;
  s->done = done;
  s->done_data = data;
  uv_close((uv_handle_t *)&s->listener, listener_closed);
  uv_close((uv_handle_t *)&s->trim, trim_closed);
  stream_group_stop(&s->group);
}
