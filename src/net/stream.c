#include "net/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mesh_limits.h"
#include "net/tls.h"

#define READ_CHUNK (64 * 1024)
#define PLAIN_CHUNK (16 * 1024)

enum st_state {
  ST_OPEN,     /* normal */
  ST_DRAINING, /* graceful close: flushing, then waiting for the peer's FIN */
  ST_CLOSING   /* uv_close started; freed after both close callbacks */
};

struct stream {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_connect_t conn_req;
  uv_shutdown_t shut_req;
  uv_loop_t *loop;
  const struct stream_cbs *cbs;
  void *data;
  struct stream_group *group;
  struct stream *gprev, *gnext;
  SSL_CTX *ctx;
  struct tls_pump tls;
  int use_tls;
  int connected;   /* the socket is connected */
  int established; /* plaintext may flow */
  int reading;     /* uv_read_start is active */
  int user_paused; /* stream_pause() */
  int bp_paused;   /* back-pressure: our own queue passed HIGH_WATER */
  int shut_started;
  enum st_state state;
  int reason;
  int handles; /* close callbacks still to come */
  size_t queued;
  char peer[64];
};

/* One queued write: the request and a private copy of the bytes. */
struct wreq {
  uv_write_t req;
  struct stream *s;
  size_t len;
  uint8_t data[];
};

void stream__fmt_addr(const struct sockaddr *addr, char *out, size_t len) {
  char ip[64] = "?";
  int port = 0;
  if (addr->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
    uv_ip4_name(a, ip, sizeof ip);
    port = ntohs(a->sin_port);
    snprintf(out, len, "%s:%d", ip, port);
  } else if (addr->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
    uv_ip6_name(a, ip, sizeof ip);
    port = ntohs(a->sin6_port);
    snprintf(out, len, "[%s]:%d", ip, port);
  } else {
    snprintf(out, len, "?");
  }
}

static void set_peer_from_socket(struct stream *s) {
  struct sockaddr_storage ss;
  int n = sizeof ss;
  if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &n) == 0)
    stream__fmt_addr((struct sockaddr *)&ss, s->peer, sizeof s->peer);
}

static void start_read(struct stream *s);
static void timer_cb(uv_timer_t *t);

/* Reading is on exactly when connected, not closing, and either draining
 * (input is discarded while waiting for the peer's FIN) or paused neither
 * by the owner nor by back-pressure. */
static void update_reading(struct stream *s) {
  int want = s->connected && s->state != ST_CLOSING &&
             (s->state == ST_DRAINING || (!s->user_paused && !s->bp_paused));
  if (want && !s->reading) {
    start_read(s);
  } else if (!want && s->reading) {
    uv_read_stop((uv_stream_t *)&s->tcp);
    s->reading = 0;
  }
}

static void finalize(struct stream *s) {
  struct stream_group *g = s->group;
  if (g) {
    if (s->gprev)
      s->gprev->gnext = s->gnext;
    else
      g->head = s->gnext;
    if (s->gnext) s->gnext->gprev = s->gprev;
    g->count--;
  }
  if (s->cbs->on_close) s->cbs->on_close(s, s->reason, s->data);
  if (s->use_tls) tls_pump_cleanup(&s->tls);
  free(s);
  /* Last: on_empty may free the struct that embeds g. */
  if (g && g->count == 0 && g->on_empty) g->on_empty(g, g->data);
}

static void close_cb(uv_handle_t *h) {
  struct stream *s = h->data;
  if (--s->handles == 0) finalize(s);
}

void stream_close(struct stream *s, int reason) {
  if (s->state == ST_CLOSING) return;
  /* A graceful close keeps the reason its caller gave. */
  if (s->state == ST_OPEN) s->reason = reason;
  s->state = ST_CLOSING;
  if (s->reading) uv_read_stop((uv_stream_t *)&s->tcp);
  s->reading = 0;
  uv_timer_stop(&s->timer);
  s->handles = 2;
  uv_close((uv_handle_t *)&s->tcp, close_cb);
  uv_close((uv_handle_t *)&s->timer, close_cb);
}

int stream_is_closing(const struct stream *s) { return s->state != ST_OPEN; }

static void write_cb(uv_write_t *req, int status);

/* Queues len bytes (copied) on the socket. */
static int queue_bytes(struct stream *s, const uint8_t *p, size_t len,
                       struct wreq *w) {
  if (!w) {
    w = malloc(sizeof *w + len);
    if (!w) {
      stream_close(s, MESH_E_NOMEM);
      return MESH_E_NOMEM;
    }
    memcpy(w->data, p, len);
  }
  w->s = s;
  w->len = len;
  uv_buf_t b = uv_buf_init((char *)w->data, (unsigned int)len);
  int r = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, write_cb);
  if (r != 0) {
    free(w);
    stream_close(s, r);
    return r;
  }
  s->queued += len;
  return 0;
}

/* Moves ciphertext produced by OpenSSL onto the socket. */
static int flush_tls(struct stream *s) {
  size_t n;
  while ((n = tls_pump_pending(&s->tls)) > 0) {
    struct wreq *w = malloc(sizeof *w + n);
    if (!w) {
      stream_close(s, MESH_E_NOMEM);
      return MESH_E_NOMEM;
    }
    size_t got = tls_pump_take(&s->tls, w->data, n);
    int r = queue_bytes(s, NULL, got, w);
    if (r != 0) return r;
  }
  return 0;
}

static void start_shutdown(struct stream *s);

static void write_cb(uv_write_t *req, int status) {
  struct wreq *w = (struct wreq *)req;
  struct stream *s = w->s;
  s->queued -= w->len;
  free(w);
  if (s->state == ST_CLOSING) return;
  if (status < 0) {
    stream_close(s, status);
    return;
  }
  if (s->state == ST_DRAINING) {
    if (s->queued == 0) start_shutdown(s);
    return;
  }
  if (s->bp_paused && s->queued < MESH_STREAM_LOW_WATER) {
    s->bp_paused = 0;
    update_reading(s);
    if (s->cbs->on_drain) s->cbs->on_drain(s, s->data);
  }
}

int stream_write(struct stream *s, const void *p, size_t n) {
  if (s->state != ST_OPEN) return MESH_E_CLOSED;
  if (!s->established) return MESH_E_PROTO_STATE;
  if (n == 0) return 0;
  if (n > MESH_STREAM_HARD_LIMIT - s->queued) {
    log_warn(
        "peer=%s event=close reason=\"output queue over hard limit\" "
        "queued=%zu write=%zu",
        s->peer, s->queued, n);
    stream_close(s, MESH_E_TOO_LARGE);
    return MESH_E_TOO_LARGE;
  }
  int r;
  if (s->use_tls) {
    if ((r = tls_pump_write(&s->tls, p, n)) != 0) {
      stream_close(s, r);
      return r;
    }
    if ((r = flush_tls(s)) == 0) tls_pump_release(&s->tls);
  } else {
    r = queue_bytes(s, p, n, NULL);
  }
  if (r != 0) return r;
  if (!s->bp_paused && s->queued > MESH_STREAM_HIGH_WATER) {
    s->bp_paused = 1;
    update_reading(s);
  }
  return 0;
}

size_t stream_queued(const struct stream *s) { return s->queued; }

static void shutdown_cb(uv_shutdown_t *req, int status) {
  struct stream *s = req->data;
  if (s->state == ST_CLOSING) return;
  /* Now wait for the peer's FIN (read_cb) or the linger timer. */
  if (status < 0) stream_close(s, s->reason);
}

static void start_shutdown(struct stream *s) {
  if (s->shut_started) return;
  s->shut_started = 1;
  s->shut_req.data = s;
  if (uv_shutdown(&s->shut_req, (uv_stream_t *)&s->tcp, shutdown_cb) != 0)
    stream_close(s, s->reason);
}

void stream_close_after_flush(struct stream *s, int reason,
                              uint64_t linger_ms) {
  if (s->state != ST_OPEN) return;
  if (!s->connected) {
    stream_close(s, reason);
    return;
  }
  s->reason = reason;
  s->state = ST_DRAINING;
  if (s->use_tls && s->established) {
    tls_pump_shutdown(&s->tls);
    if (flush_tls(s) != 0) return;
  }
  uv_timer_start(&s->timer, timer_cb, linger_ms, 0);
  update_reading(s); /* keep reading, and discard, until the peer's FIN */
  if (s->queued == 0) start_shutdown(s);
}

static void deliver(struct stream *s, const uint8_t *p, size_t n) {
  if (s->state == ST_OPEN && s->cbs->on_read) s->cbs->on_read(s, p, n, s->data);
}

/* Runs the handshake and then decrypts whatever is complete. */
static void tls_advance(struct stream *s) {
  char why[256];
  if (!s->established) {
    int r = tls_pump_handshake(&s->tls, why, sizeof why);
    if (flush_tls(s) != 0) return;
    if (r == MESH_E_INCOMPLETE) return;
    if (r != 0) {
      log_warn("peer=%s event=tls_handshake_failed reason=\"%s\"", s->peer,
               why);
      stream_close(s, MESH_E_CRYPTO);
      return;
    }
    s->established = 1;
    if (s->cbs->on_connect) s->cbs->on_connect(s, s->data);
    if (s->state != ST_OPEN) return;
  }
  uint8_t plain[PLAIN_CHUNK];
  for (;;) {
    ssize_t n = tls_pump_read(&s->tls, plain, sizeof plain, why, sizeof why);
    if (n > 0) {
      deliver(s, plain, (size_t)n);
      if (s->state != ST_OPEN) break;
      continue;
    }
    if (n == MESH_E_INCOMPLETE) break;
    if (n == MESH_E_CLOSED) {
      stream_close(s, UV_EOF);
      return;
    }
    log_warn("peer=%s event=tls_error reason=\"%s\"", s->peer, why);
    stream_close(s, MESH_E_CRYPTO);
    return;
  }
  if (s->state != ST_CLOSING && flush_tls(s) == 0) tls_pump_release(&s->tls);
}

/* Every read lands in one buffer shared by all streams: libuv calls
 * read_cb right after alloc_cb, on the one loop thread, and read_cb
 * consumes the bytes before it returns (TLS copies them into its BIO, the
 * plain path hands them to a callback that parses or copies them). One
 * buffer instead of a malloc per read keeps the heap from fragmenting
 * under thousands of connections. */
static uint8_t read_buf[READ_CHUNK];

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)h;
  (void)hint;
  b->base = (char *)read_buf;
  b->len = sizeof read_buf;
}

static void read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *b) {
  struct stream *s = h->data;
  if (nread < 0) {
    stream_close(s, (int)nread);
    return;
  }
  if (nread == 0 || s->state != ST_OPEN) {
    /* draining: input is discarded until the peer's FIN */
    return;
  }
  if (!s->use_tls) {
    deliver(s, (const uint8_t *)b->base, (size_t)nread);
    return;
  }
  int r = tls_pump_feed(&s->tls, (const uint8_t *)b->base, (size_t)nread);
  if (r != 0) {
    stream_close(s, r);
    return;
  }
  tls_advance(s);
}

static void start_read(struct stream *s) {
  int r = uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb);
  if (r != 0) {
    stream_close(s, r);
    return;
  }
  s->reading = 1;
}

static void timer_cb(uv_timer_t *t) {
  struct stream *s = t->data;
  if (s->state == ST_DRAINING) {
    stream_close(s, s->reason); /* the linger deadline */
    return;
  }
  if (s->state == ST_OPEN && s->cbs->on_timer) s->cbs->on_timer(s, s->data);
}

int stream_new(uv_loop_t *loop, SSL_CTX *tls, const struct stream_cbs *cbs,
               void *data, struct stream_group *g, struct stream **out) {
  *out = NULL;
  struct stream *s = calloc(1, sizeof *s);
  if (!s) return MESH_E_NOMEM;
  int r = uv_tcp_init(loop, &s->tcp);
  if (r != 0) {
    free(s);
    return r;
  }
  uv_timer_init(loop, &s->timer);
  s->tcp.data = s;
  s->timer.data = s;
  s->loop = loop;
  s->cbs = cbs;
  s->data = data;
  s->ctx = tls;
  snprintf(s->peer, sizeof s->peer, "?");
  if (g) {
    s->group = g;
    s->gnext = g->head;
    if (g->head) g->head->gprev = s;
    g->head = s;
    g->count++;
  }
  *out = s;
  return 0;
}

int stream_accept(struct stream *s, uv_stream_t *listener) {
  int r = uv_accept(listener, (uv_stream_t *)&s->tcp);
  if (r != 0) return r;
  uv_tcp_nodelay(&s->tcp, 1);
  set_peer_from_socket(s);
  if (s->ctx) {
    if ((r = tls_pump_init(&s->tls, s->ctx, 1, NULL)) != 0) return r;
    s->use_tls = 1;
  } else {
    s->established = 1;
  }
  s->connected = 1;
  update_reading(s);
  return 0;
}

static void connect_cb(uv_connect_t *req, int status) {
  struct stream *s = req->data;
  if (s->state == ST_CLOSING) return;
  if (status < 0) {
    stream_close(s, status);
    return;
  }
  s->connected = 1;
  uv_tcp_nodelay(&s->tcp, 1);
  set_peer_from_socket(s);
  update_reading(s);
  if (s->state != ST_OPEN) return;
  if (s->use_tls) {
    tls_advance(s); /* sends the ClientHello */
    return;
  }
  s->established = 1;
  if (s->cbs->on_connect) s->cbs->on_connect(s, s->data);
}

int stream_connect(struct stream *s, const struct sockaddr *addr,
                   const char *sni, const char *label) {
  int r;
  if (label) snprintf(s->peer, sizeof s->peer, "%s", label);
  if (s->ctx) {
    if ((r = tls_pump_init(&s->tls, s->ctx, 0, sni)) != 0) return r;
    s->use_tls = 1;
  }
  s->conn_req.data = s;
  return uv_tcp_connect(&s->conn_req, &s->tcp, addr, connect_cb);
}

void stream_set_cbs(struct stream *s, const struct stream_cbs *cbs,
                    void *data) {
  s->cbs = cbs;
  s->data = data;
}

void stream_pause(struct stream *s) {
  s->user_paused = 1;
  update_reading(s);
}

void stream_resume(struct stream *s) {
  s->user_paused = 0;
  update_reading(s);
}

void stream_timer_start(struct stream *s, uint64_t ms) {
  if (s->state == ST_OPEN) uv_timer_start(&s->timer, timer_cb, ms, 0);
}

void stream_timer_stop(struct stream *s) {
  if (s->state == ST_OPEN) uv_timer_stop(&s->timer);
}

const char *stream_peer(const struct stream *s) { return s->peer; }

X509 *stream_peer_cert(const struct stream *s) {
  return s->use_tls && s->established ? SSL_get0_peer_certificate(s->tls.ssl)
                                      : NULL;
}

uv_loop_t *stream_loop(const struct stream *s) { return s->loop; }

void stream_group_stop(struct stream_group *g) {
  /* Members leave the list only in finalize, which never runs inside this
   * loop (uv_close completes later), so walking it is safe. */
  for (struct stream *s = g->head, *next; s; s = next) {
    next = s->gnext;
    if (s->cbs->on_stop)
      s->cbs->on_stop(s, s->data);
    else
      stream_close(s, MESH_E_CLOSED);
  }
}
