#include "net/ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mesh_limits.h"
#include "net/http_cli.h"
#include "net/http_parse.h"
#include "net/ws_internal.h"

/*
 * Lifetime. A ws lives as long as its stream, plus a pending getaddrinfo
 * request on the client side: the stream's on_close reports on_close to
 * the application (exactly once, never from inside a call the application
 * made, because uv_close completes on a later loop iteration), and the ws
 * is freed once both the stream and the resolver are gone.
 *
 * One timer (the stream's) serves each state in turn: the connect deadline
 * while connecting, idle/keep-alive checks while open (the deadline is
 * computed from the last receive time when the timer fires, so reads never
 * touch the timer), and the close-handshake wait while closing. A zero
 * timeout "kick" delivers a server ws's on_open and early bytes.
 */

enum ws_state { W_RESOLVING, W_CONNECTING, W_UPGRADING, W_OPEN, W_CLOSING };

struct ws {
  uv_loop_t *loop;
  struct stream *st; /* NULL once the stream is gone */
  struct ws_session *sess;
  struct ws_cbs cbs;
  void *data;
  enum ws_state state;
  int client;
  int kick;         /* server: on_open + early bytes pending */
  struct buf early; /* server: bytes that followed the upgrade request */
  size_t frag;
  size_t max_message; /* 0 = MESH_WS_MAX_MESSAGE */
  /* Idle and keep-alive. */
  uint64_t idle_ms, ka_idle_ms, ka_pong_ms;
  uint64_t last_rx, ping_at;
  int ping_out;
  /* A local close reason for failures that send no close frame. */
  int have_close;
  uint16_t code;
  char reason[WS_CLOSE_REASON_MAX + 1];
  char peer[64];
  /* Client. */
  char *host;   /* without brackets */
  char *target; /* "/path?query" */
  int port;
  int host_is_name, host_is_v6, tls_wanted;
  uint64_t connect_ms;
  char key[WS_KEY_LEN + 1];
  char *headers; /* extra request headers (may carry a secret; wiped) */
  ws_verify_cb verify;
  void *verify_data;
  struct http_parse *resp; /* client: the 101 reply, until parsed */
  uv_getaddrinfo_t gai;
  int gai_pending;
};

static const struct stream_cbs ws_stream_cbs;

static void ws_free(struct ws *w) {
  ws_session_free(w->sess);
  buf_cleanup(&w->early);
  if (w->resp) http_parse_cleanup(w->resp);
  free(w->resp);
  free(w->host);
  free(w->target);
  if (w->headers) OPENSSL_cleanse(w->headers, strlen(w->headers));
  free(w->headers);
  free(w);
}

/* Records a local close reason (the first one wins). */
static void note_close(struct ws *w, uint16_t code, const char *reason) {
  if (w->have_close) return;
  w->have_close = 1;
  w->code = code;
  snprintf(w->reason, sizeof w->reason, "%s", reason);
}

/* Fails the connection without a close handshake. */
static void ws_fail(struct ws *w, uint16_t code, const char *reason) {
  note_close(w, code, reason);
  if (w->st) stream_close(w->st, MESH_E_CLOSED);
}

/* Moves the session's queued frames to the stream. */
static int flush(struct ws *w) {
  struct buf *o = ws_session_out(w->sess);
  if (o->len == 0 || !w->st) return 0;
  int r = stream_write(w->st, o->data, o->len);
  /* The stream copied the bytes; an idle connection keeps no buffer. */
  buf_cleanup(o);
  return r;
}

static void arm(struct ws *w) {
  if (!w->st || w->state != W_OPEN) return;
  uint64_t now = uv_now(w->loop), due = UINT64_MAX;
  if (w->idle_ms) due = w->last_rx + w->idle_ms;
  if (w->ka_idle_ms) {
    uint64_t k =
        w->ping_out ? w->ping_at + w->ka_pong_ms : w->last_rx + w->ka_idle_ms;
    if (k < due) due = k;
  }
  if (due == UINT64_MAX)
    stream_timer_stop(w->st);
  else
    stream_timer_start(w->st, due > now ? due - now : 0);
}

/* After input or a send: close the transport once the session is done. */
static void after_session(struct ws *w, int feed_err) {
  if (!w->st) return;
  flush(w);
  if (feed_err)
    log_info("peer=%s event=ws_protocol_error code=%u reason=\"%s\"", w->peer,
             ws_session_close_code(w->sess), ws_session_close_reason(w->sess));
  if (ws_session_done(w->sess)) {
    w->state = W_CLOSING;
    stream_close_after_flush(w->st, 0, MESH_LINGER_MS);
  }
}

static void on_session_msg(struct ws_session *s, enum ws_type t,
                           const uint8_t *p, size_t n, void *data) {
  (void)s;
  struct ws *w = data;
  if (w->cbs.on_message) w->cbs.on_message(w, t, p, n, w->data);
}

static int open_session(struct ws *w, enum ws_role role) {
  int r = ws_session_new(role, on_session_msg, w, &w->sess);
  if (r == 0) {
    ws_session_set_fragment(w->sess, w->frag);
    ws_session_set_max_message(w->sess, w->max_message);
  }
  return r;
}

static void feed(struct ws *w, const uint8_t *p, size_t n) {
  int r = ws_session_feed(w->sess, p, n);
  after_session(w, r != 0);
}

/* ---- Client handshake ---- */

static void client_on_response(struct ws *w, const uint8_t *p, size_t n) {
  ssize_t r = http_parse_feed(w->resp, p, n);
  if (r == MESH_E_INCOMPLETE) {
    if (w->resp->headers_done && http_parse_code(w->resp) != 101) goto refused;
    return;
  }
  if (r < 0) {
    ws_fail(w, WS_CLOSE_ABNORMAL, "bad upgrade response");
    return;
  }
  if (http_parse_code(w->resp) != 101) goto refused;
  if (!http_header_has_token(http_parse_header(w->resp, "Upgrade"),
                             "websocket") ||
      !http_header_has_token(http_parse_header(w->resp, "Connection"),
                             "upgrade")) {
    ws_fail(w, WS_CLOSE_ABNORMAL, "bad upgrade headers");
    return;
  }
  if (ws_check_accept(
          w->key, http_parse_header(w->resp, "Sec-WebSocket-Accept")) != 0) {
    ws_fail(w, WS_CLOSE_ABNORMAL, "bad Sec-WebSocket-Accept");
    return;
  }
  if (open_session(w, WS_ROLE_CLIENT) != 0) {
    ws_fail(w, WS_CLOSE_ABNORMAL, "out of memory");
    return;
  }
  /* The reply's parser is done with; drop it before the application runs
   * (p and r stay valid: they do not point into it). */
  http_parse_cleanup(w->resp);
  free(w->resp);
  w->resp = NULL;
  w->state = W_OPEN;
  w->last_rx = uv_now(w->loop);
  stream_timer_stop(w->st);
  arm(w);
  if (w->cbs.on_open) w->cbs.on_open(w, w->data);
  if (w->state == W_OPEN && w->st && (size_t)r < n)
    feed(w, p + r, n - (size_t)r);
  return;
refused : {
  char why[64];
  snprintf(why, sizeof why, "upgrade refused: status %d",
           http_parse_code(w->resp));
  ws_fail(w, WS_CLOSE_ABNORMAL, why);
}
}

/* ---- Stream callbacks ---- */

static void st_on_connect(struct stream *s, void *data) {
  struct ws *w = data;
  snprintf(w->peer, sizeof w->peer, "%s", stream_peer(s));
  /* The certificate is judged before a single byte of the request (which
   * may carry a cookie) goes out. */
  if (w->verify && w->verify(stream_peer_cert(s), w->verify_data) != 0) {
    log_info("peer=%s event=ws_connect_failed reason=\"%s\"", w->peer,
             WS_REASON_CERT_REFUSED);
    ws_fail(w, WS_CLOSE_ABNORMAL, WS_REASON_CERT_REFUSED);
    return;
  }
  char hosthdr[300];
  int defport = w->tls_wanted ? 443 : 80;
  const char *lb = w->host_is_v6 ? "[" : "", *rb = w->host_is_v6 ? "]" : "";
  if (w->port == defport)
    snprintf(hosthdr, sizeof hosthdr, "%s%s%s", lb, w->host, rb);
  else
    snprintf(hosthdr, sizeof hosthdr, "%s%s%s:%d", lb, w->host, rb, w->port);
  struct buf b;
  buf_init(&b, MESH_HTTP_MAX_HEADER_BYTES);
  int r = ws_client_request_ex(&b, hosthdr, w->target, w->headers, w->key);
  if (r == 0) r = stream_write(s, b.data, b.len);
  buf_wipe_cleanup(&b);
  if (r != 0) {
    ws_fail(w, WS_CLOSE_ABNORMAL, mesh_strerror(r));
    return;
  }
  if (!(w->resp = malloc(sizeof *w->resp))) {
    ws_fail(w, WS_CLOSE_ABNORMAL, mesh_strerror(MESH_E_NOMEM));
    return;
  }
  http_parse_init(w->resp, HTTP_PARSE_RESPONSE);
  w->state = W_UPGRADING;
}

static void st_on_read(struct stream *s, const uint8_t *p, size_t n,
                       void *data) {
  (void)s;
  struct ws *w = data;
  w->last_rx = uv_now(w->loop);
  w->ping_out = 0;
  if (w->state == W_UPGRADING) {
    client_on_response(w, p, n);
    return;
  }
  if (w->state != W_OPEN && w->state != W_CLOSING) return;
  if (w->kick) {
    /* Bytes overtook the kick: keep the order, queue behind the early
     * bytes. */
    if (buf_put(&w->early, p, n) != 0)
      ws_fail(w, WS_CLOSE_ABNORMAL, "out of memory");
    return;
  }
  feed(w, p, n);
}

static void st_on_drain(struct stream *s, void *data) {
  (void)s;
  struct ws *w = data;
  if (w->cbs.on_drain && (w->state == W_OPEN)) w->cbs.on_drain(w, w->data);
}

static void st_on_timer(struct stream *s, void *data) {
  (void)s;
  struct ws *w = data;
  if (w->kick) {
    w->kick = 0;
    w->last_rx = uv_now(w->loop);
    if (w->cbs.on_open) w->cbs.on_open(w, w->data);
    if (w->early.len && w->st && !stream_is_closing(w->st) &&
        (w->state == W_OPEN || w->state == W_CLOSING))
      feed(w, w->early.data, w->early.len);
    buf_cleanup(&w->early);
    arm(w);
    return;
  }
  switch (w->state) {
    case W_RESOLVING:
    case W_CONNECTING:
    case W_UPGRADING:
      log_info("peer=%s event=ws_connect_failed reason=\"connect timeout\"",
               w->peer);
      ws_fail(w, WS_CLOSE_ABNORMAL, "connect timeout");
      return;
    case W_CLOSING:
      stream_close(w->st, MESH_E_TIMEOUT); /* the close handshake timed out */
      return;
    case W_OPEN:
      break;
  }
  uint64_t now = uv_now(w->loop);
  if (w->idle_ms && now - w->last_rx >= w->idle_ms) {
    log_info("peer=%s event=ws_timeout reason=\"idle timeout\"", w->peer);
    ws_close(w, WS_CLOSE_GOING_AWAY, "idle timeout");
    return;
  }
  if (w->ka_idle_ms) {
    if (w->ping_out && now - w->ping_at >= w->ka_pong_ms) {
      log_info("peer=%s event=ws_timeout reason=\"ping timeout\"", w->peer);
      ws_close(w, WS_CLOSE_GOING_AWAY, "ping timeout");
      return;
    }
    if (!w->ping_out && now - w->last_rx >= w->ka_idle_ms) {
      w->ping_out = 1;
      w->ping_at = now;
      ws_session_ping(w->sess, NULL, 0);
      flush(w);
    }
  }
  arm(w);
}

static void st_on_stop(struct stream *s, void *data) {
  (void)s;
  ws_close(data, WS_CLOSE_GOING_AWAY, "server shutting down");
}

static const char *reason_text(int reason) {
  switch (reason) {
    case UV_EOF:
      return "connection closed by peer";
    case MESH_E_TOO_LARGE:
      return "output queue over hard limit";
    case MESH_E_TIMEOUT:
      return "close handshake timeout";
    case MESH_E_CRYPTO:
      return "tls failure";
    default:
      return mesh_strerror(reason);
  }
}

static void st_on_close(struct stream *s, int reason, void *data) {
  (void)s;
  struct ws *w = data;
  w->st = NULL;
  uint16_t code = WS_CLOSE_ABNORMAL;
  const char *why = reason_text(reason);
  if (w->sess && ws_session_close_code(w->sess)) {
    code = ws_session_close_code(w->sess);
    why = ws_session_close_reason(w->sess);
  } else if (w->have_close) {
    code = w->code;
    why = w->reason;
  }
  if (w->cbs.on_close) w->cbs.on_close(w, code, why, w->data);
  if (!w->gai_pending) ws_free(w);
}

static const struct stream_cbs ws_stream_cbs = {
    .on_connect = st_on_connect,
    .on_read = st_on_read,
    .on_drain = st_on_drain,
    .on_timer = st_on_timer,
    .on_stop = st_on_stop,
    .on_close = st_on_close,
};

/* ---- Public API ---- */

int ws_send(struct ws *w, enum ws_type t, const void *p, size_t n) {
  if (w->state != W_OPEN || !w->st || stream_is_closing(w->st))
    return MESH_E_CLOSED;
  int r = ws_session_send(w->sess, t, p, n);
  if (r != 0) return r;
  return flush(w);
}

void ws_close(struct ws *w, uint16_t code, const char *reason) {
  if (!w->st || stream_is_closing(w->st)) return;
  switch (w->state) {
    case W_RESOLVING:
    case W_CONNECTING:
    case W_UPGRADING:
      ws_fail(w, code, reason ? reason : "");
      return;
    case W_CLOSING:
      return;
    case W_OPEN:
      break;
  }
  w->state = W_CLOSING;
  ws_session_close(w->sess, code, reason);
  flush(w);
  if (!w->st || stream_is_closing(w->st)) return;
  if (ws_session_done(w->sess))
    stream_close_after_flush(w->st, 0, MESH_LINGER_MS);
  else
    stream_timer_start(w->st, MESH_WS_CLOSE_MS);
}

size_t ws_queued(const struct ws *w) {
  return w->st ? stream_queued(w->st) : 0;
}

void ws_pause(struct ws *w) {
  if (w->st) stream_pause(w->st);
}

void ws_resume(struct ws *w) {
  if (w->st) stream_resume(w->st);
}

void ws_release_input(struct ws *w) {
  if (w->sess) ws_session_release_input(w->sess);
}

const char *ws_peer(const struct ws *w) { return w->peer; }

void ws_set_idle_timeout(struct ws *w, uint64_t ms) {
  w->idle_ms = ms;
  if (!w->kick) arm(w);
}

void ws_set_keepalive(struct ws *w, uint64_t idle_ms, uint64_t pong_ms) {
  w->ka_idle_ms = idle_ms;
  w->ka_pong_ms = pong_ms;
  w->ping_out = 0;
  if (!w->kick) arm(w);
}

X509 *ws_peer_cert(const struct ws *w) {
  return w->client && w->st ? stream_peer_cert(w->st) : NULL;
}

void ws_set_data(struct ws *w, void *data) { w->data = data; }

void ws_set_max_message(struct ws *w, size_t max) {
  w->max_message = max;
  if (w->sess) ws_session_set_max_message(w->sess, max);
}

void ws_set_fragment(struct ws *w, size_t frag) {
  w->frag = frag;
  if (w->sess) ws_session_set_fragment(w->sess, frag);
}

struct ws *ws__from_stream(struct stream *st, const uint8_t *early, size_t n,
                           const struct ws_cbs *cbs, void *data) {
  struct ws *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  buf_init(&w->early, MESH_STREAM_HARD_LIMIT);
  if (open_session(w, WS_ROLE_SERVER) != 0 ||
      buf_put(&w->early, early, n) != 0) {
    ws_free(w);
    return NULL;
  }
  w->loop = stream_loop(st);
  w->st = st;
  w->cbs = *cbs;
  w->data = data;
  w->state = W_OPEN;
  w->kick = 1;
  w->last_rx = uv_now(w->loop);
  snprintf(w->peer, sizeof w->peer, "%s", stream_peer(st));
  stream_set_cbs(st, &ws_stream_cbs, w);
  stream_timer_start(st, 0);
  return w;
}

/* ---- Client connect ---- */

static void start_connect(struct ws *w, const struct sockaddr *sa) {
  int r = stream_connect(w->st, sa, w->host_is_name ? w->host : NULL, w->peer);
  if (r != 0) {
    log_info("peer=%s event=ws_connect_failed reason=\"%s\"", w->peer,
             mesh_strerror(r));
    ws_fail(w, WS_CLOSE_ABNORMAL, mesh_strerror(r));
    return;
  }
  w->state = W_CONNECTING;
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  struct ws *w = req->data;
  w->gai_pending = 0;
  if (!w->st) { /* closed meanwhile; on_close already ran */
    uv_freeaddrinfo(res);
    ws_free(w);
    return;
  }
  if (stream_is_closing(w->st)) {
    uv_freeaddrinfo(res);
    return;
  }
  struct addrinfo *pick = NULL;
  for (struct addrinfo *a = res; status == 0 && a; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
    if (a->ai_family == AF_INET6 && !pick) pick = a;
  }
  if (!pick) {
    char why[96];
    snprintf(why, sizeof why, "resolve: %s",
             status ? mesh_strerror(status) : "no address");
    log_info("peer=%s event=ws_connect_failed reason=\"%s\"", w->peer, why);
    uv_freeaddrinfo(res);
    ws_fail(w, WS_CLOSE_ABNORMAL, why);
    return;
  }
  struct sockaddr_storage ss;
  memcpy(&ss, pick->ai_addr, pick->ai_addrlen);
  uv_freeaddrinfo(res);
  if (ss.ss_family == AF_INET)
    ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)w->port);
  else
    ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)w->port);
  start_connect(w, (struct sockaddr *)&ss);
}

/* Splits a ws:// or wss:// url into host, port and target (one URL
 * parser for every client: http_cli_parse_url). */
static int parse_url(struct ws *w, const char *url) {
  struct http_cli_url u;
  if (strncmp(url, "wss://", 6) != 0 && strncmp(url, "ws://", 5) != 0)
    return MESH_E_INVALID;
  int r = http_cli_parse_url(url, &u);
  if (r) return r;
  w->tls_wanted = u.tls;
  w->host_is_v6 = u.host_is_v6;
  w->port = u.port;
  w->host = strdup(u.host);
  w->target = strdup(u.target);
  return w->host && w->target ? 0 : MESH_E_NOMEM;
}

int ws_connect(uv_loop_t *loop, const char *url, SSL_CTX *tls,
               uint64_t connect_timeout_ms, const struct ws_cbs *cbs,
               void *data, struct ws **out) {
  struct ws_connect_opts o = {.connect_timeout_ms = connect_timeout_ms};
  return ws_connect_ex(loop, url, tls, &o, cbs, data, out);
}

int ws_connect_ex(uv_loop_t *loop, const char *url, SSL_CTX *tls,
                  const struct ws_connect_opts *o, const struct ws_cbs *cbs,
                  void *data, struct ws **out) {
  uint64_t connect_timeout_ms = o->connect_timeout_ms;
  *out = NULL;
  if (o->headers && (strlen(o->headers) > MESH_HTTP_MAX_HEADER_BYTES / 2 ||
                     !ws_header_lines_valid(o->headers)))
    return MESH_E_INVALID;
  struct ws *w = calloc(1, sizeof *w);
  if (!w) return MESH_E_NOMEM;
  buf_init(&w->early, 0);
  w->verify = o->verify;
  w->verify_data = o->verify_data;
  int r = parse_url(w, url);
  if (r == 0 && o->headers && !(w->headers = strdup(o->headers)))
    r = MESH_E_NOMEM;
  if (r == 0 && w->tls_wanted && !tls) r = MESH_E_INVALID;
  if (r != 0) {
    ws_free(w);
    return r;
  }
  w->loop = loop;
  w->client = 1;
  w->cbs = *cbs;
  w->data = data;
  w->connect_ms = connect_timeout_ms;
  w->state = W_RESOLVING;
  snprintf(w->peer, sizeof w->peer, "%s%s%s:%d", w->host_is_v6 ? "[" : "",
           w->host, w->host_is_v6 ? "]" : "", w->port);
  if ((r = stream_new(loop, w->tls_wanted ? tls : NULL, &ws_stream_cbs, w, NULL,
                      &w->st)) != 0) {
    ws_free(w);
    return r;
  }
  *out = w;
  stream_timer_start(w->st, connect_timeout_ms);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  if (w->host_is_v6) {
    if (uv_ip6_addr(w->host, w->port, (struct sockaddr_in6 *)&ss) != 0) {
      ws_fail(w, WS_CLOSE_ABNORMAL, "bad IPv6 address");
      return 0;
    }
    start_connect(w, (struct sockaddr *)&ss);
    return 0;
  }
  if (uv_ip4_addr(w->host, w->port, (struct sockaddr_in *)&ss) == 0) {
    start_connect(w, (struct sockaddr *)&ss);
    return 0;
  }
  w->host_is_name = 1;
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  w->gai.data = w;
  r = uv_getaddrinfo(loop, &w->gai, gai_cb, w->host, NULL, &hints);
  if (r != 0) {
    ws_fail(w, WS_CLOSE_ABNORMAL, mesh_strerror(r));
    return 0;
  }
  w->gai_pending = 1;
  return 0;
}
