#include "net/http_cli.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mesh_limits.h"
#include "net/stream.h"
#include "net/ws_session.h" /* ws_header_lines_valid */

/*
 * Lifetime, as in ws.c: the stream's on_close reports done (exactly once,
 * and never from inside a call the application made, because uv_close
 * completes on a later loop iteration), and the struct is freed once both
 * the stream and a pending getaddrinfo are gone. The outcome is decided
 * by whichever comes first (complete response, error, timeout, cancel)
 * and kept in err until on_close delivers it.
 */

struct http_cli {
  uv_loop_t *loop;
  struct stream *st; /* NULL once the stream is gone */
  struct http_cli_url url;
  struct buf req; /* the whole request, written once connected; wiped */
  http_cli_verify_cb verify;
  void *verify_data;
  http_cli_done_cb done;
  void *data;
  struct http_parse resp;
  int decided; /* err holds the outcome */
  int err;
  int gai_pending;
  uv_getaddrinfo_t gai;
};

int http_cli_parse_url(const char *url, struct http_cli_url *u) {
  static const struct {
    const char *s;
    int tls;
  } schemes[] = {{"https://", 1}, {"wss://", 1}, {"http://", 0}, {"ws://", 0}};
  const char *p = NULL;
  memset(u, 0, sizeof *u);
  for (size_t i = 0; i < sizeof schemes / sizeof schemes[0] && !p; i++)
    if (strncmp(url, schemes[i].s, strlen(schemes[i].s)) == 0) {
      p = url + strlen(schemes[i].s);
      u->tls = schemes[i].tls;
    }
  if (!p) return MESH_E_INVALID;
  const char *hs = p, *he;
  if (*p == '[') {
    hs = p + 1;
    he = strchr(hs, ']');
    if (!he) return MESH_E_INVALID;
    p = he + 1;
    u->host_is_v6 = 1;
  } else {
    he = p + strcspn(p, ":/?#@");
    p = he;
  }
  size_t hl = (size_t)(he - hs);
  if (hl == 0 || hl >= sizeof u->host || *p == '@') return MESH_E_INVALID;
  memcpy(u->host, hs, hl);
  u->host[hl] = 0;
  u->port = u->tls ? 443 : 80;
  if (*p == ':') {
    char *end;
    long port = strtol(p + 1, &end, 10);
    if (end == p + 1 || p[1] == '-' || p[1] == '+' || port <= 0 || port > 65535)
      return MESH_E_INVALID;
    u->port = (int)port;
    p = end;
  }
  if (*p != 0 && *p != '/' && *p != '?' && *p != '#') return MESH_E_INVALID;
  size_t tl = strcspn(p, "#");
  if (tl > MESH_HTTP_MAX_URL) return MESH_E_INVALID;
  /* "https://h?x" has an empty path: the target is "/?x". */
  snprintf(u->target, sizeof u->target, "%s%.*s", *p == '/' ? "" : "/", (int)tl,
           p);
  for (const char *c = u->host; *c; c++)
    if ((unsigned char)*c <= 0x20 || *c == 0x7f) return MESH_E_INVALID;
  for (const char *c = u->target; *c; c++)
    if ((unsigned char)*c <= 0x20 || *c == 0x7f) return MESH_E_INVALID;
  return 0;
}

int http_cli_cert_pin(X509 *c, uint8_t out[HTTP_CLI_PIN_LEN]) {
  memset(out, 0, HTTP_CLI_PIN_LEN);
  EVP_PKEY *k = c ? X509_get0_pubkey(c) : NULL;
  unsigned char *der = NULL;
  int n = k ? i2d_PUBKEY(k, &der) : -1;
  if (n <= 0) return MESH_E_CRYPTO;
  SHA256(der, (size_t)n, out);
  OPENSSL_free(der);
  return 0;
}

static void decide(struct http_cli *c, int err) {
  if (c->decided) return;
  c->decided = 1;
  c->err = err;
  if (c->st) stream_close(c->st, err);
}

static void cli_free(struct http_cli *c) {
  http_parse_cleanup(&c->resp);
  buf_wipe_cleanup(&c->req);
  free(c);
}

static void st_on_connect(struct stream *s, void *data) {
  struct http_cli *c = data;
  int r;
  /* Judge the certificate before the request (a password, a cookie)
   * leaves. */
  if (c->verify && (r = c->verify(stream_peer_cert(s), c->verify_data)) != 0) {
    decide(c, r < 0 ? r : MESH_E_AUTH);
    return;
  }
  r = stream_write(s, c->req.data, c->req.len);
  buf_wipe_cleanup(&c->req);
  if (r != 0) decide(c, r);
}

static void st_on_read(struct stream *s, const uint8_t *p, size_t n,
                       void *data) {
  (void)s;
  struct http_cli *c = data;
  if (c->decided) return;
  ssize_t r = http_parse_feed(&c->resp, p, n);
  if (r == MESH_E_INCOMPLETE) return;
  /* Bytes after a complete response are ignored: we asked for close. */
  decide(c, r >= 0 ? 0 : (int)r);
}

static void st_on_timer(struct stream *s, void *data) {
  (void)s;
  decide(data, MESH_E_TIMEOUT);
}

static void st_on_close(struct stream *s, int reason, void *data) {
  (void)s;
  struct http_cli *c = data;
  c->st = NULL;
  if (!c->decided) {
    /* The peer closed: that completes a body that runs to EOF. */
    ssize_t r =
        reason == UV_EOF ? http_parse_feed(&c->resp, NULL, 0) : MESH_E_CLOSED;
    c->decided = 1;
    if (r >= 0 && c->resp.done)
      c->err = 0;
    else if (reason == UV_EOF || reason == 0)
      c->err = r == MESH_E_MALFORMED || r == MESH_E_TOO_LARGE ? (int)r
                                                              : MESH_E_CLOSED;
    else
      c->err = reason;
  }
  c->done(c->err, c->err == 0 ? &c->resp : NULL, c->data);
  if (!c->gai_pending) cli_free(c);
}

static const struct stream_cbs cli_stream_cbs = {
    .on_connect = st_on_connect,
    .on_read = st_on_read,
    .on_timer = st_on_timer,
    .on_close = st_on_close,
};

static void start_connect(struct http_cli *c, const struct sockaddr *sa) {
  char label[300];
  snprintf(label, sizeof label, "%s%s%s:%d", c->url.host_is_v6 ? "[" : "",
           c->url.host, c->url.host_is_v6 ? "]" : "", c->url.port);
  struct sockaddr_in probe;
  int is_name = !c->url.host_is_v6 && uv_ip4_addr(c->url.host, 0, &probe) != 0;
  int r = stream_connect(c->st, sa, is_name ? c->url.host : NULL, label);
  if (r != 0) decide(c, r);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  struct http_cli *c = req->data;
  c->gai_pending = 0;
  if (!c->st || stream_is_closing(c->st)) {
    uv_freeaddrinfo(res);
    if (!c->st) cli_free(c); /* on_close already ran */
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
    uv_freeaddrinfo(res);
    decide(c, status ? status : UV_EAI_NONAME);
    return;
  }
  struct sockaddr_storage ss;
  memcpy(&ss, pick->ai_addr, pick->ai_addrlen);
  uv_freeaddrinfo(res);
  if (ss.ss_family == AF_INET)
    ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)c->url.port);
  else
    ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)c->url.port);
  start_connect(c, (struct sockaddr *)&ss);
}

/* A short header value: visible characters and spaces only. */
static int value_ok(const char *v) {
  size_t n = 0;
  for (; v[n]; n++)
    if ((unsigned char)v[n] < 0x20 || v[n] == 0x7f) return 0;
  return n > 0 && n < 256;
}

static int method_ok(const char *m) {
  size_t n = strlen(m);
  if (n == 0 || n > 16) return 0;
  for (; *m; m++)
    if (*m < 'A' || *m > 'Z') return 0;
  return 1;
}

/* The request bytes: request line, Host, Connection, the caller's
 * headers, Content-Type and Content-Length, blank line, body. */
static int build_request(struct http_cli *c, const struct http_cli_req *rq) {
  char head[MESH_HTTP_MAX_URL + 512];
  const struct http_cli_url *u = &c->url;
  int defport = u->tls ? 443 : 80;
  char port[16] = "";
  if (u->port != defport) snprintf(port, sizeof port, ":%d", u->port);
  int n = snprintf(head, sizeof head,
                   "%s %s HTTP/1.1\r\nHost: %s%s%s%s\r\n"
                   "Connection: close\r\nUser-Agent: meshctl\r\n",
                   rq->method, u->target, u->host_is_v6 ? "[" : "", u->host,
                   u->host_is_v6 ? "]" : "", port);
  if (n < 0 || (size_t)n >= sizeof head) return MESH_E_INVALID;
  int r;
  if ((r = buf_put(&c->req, head, (size_t)n)) != 0) return r;
  if (rq->headers &&
      (r = buf_put(&c->req, rq->headers, strlen(rq->headers))) != 0)
    return r;
  if (rq->content_type) {
    n = snprintf(head, sizeof head, "Content-Type: %s\r\n", rq->content_type);
    if (n < 0 || (size_t)n >= sizeof head) return MESH_E_INVALID;
    if ((r = buf_put(&c->req, head, (size_t)n)) != 0) return r;
  }
  if (rq->body || strcmp(rq->method, "POST") == 0 ||
      strcmp(rq->method, "PUT") == 0) {
    n = snprintf(head, sizeof head, "Content-Length: %zu\r\n", rq->body_len);
    if ((r = buf_put(&c->req, head, (size_t)n)) != 0) return r;
  }
  if ((r = buf_put(&c->req, "\r\n", 2)) != 0) return r;
  if (rq->body_len && (r = buf_put(&c->req, rq->body, rq->body_len)) != 0)
    return r;
  return 0;
}

int http_cli_request(uv_loop_t *loop, const char *url, SSL_CTX *tls,
                     const struct http_cli_req *rq, http_cli_done_cb done,
                     void *data, struct http_cli **out) {
  if (out) *out = NULL;
  if (!rq->method || !method_ok(rq->method) ||
      (rq->headers && !ws_header_lines_valid(rq->headers)) ||
      (rq->content_type && !value_ok(rq->content_type)) ||
      (rq->body_len && !rq->body) || !done)
    return MESH_E_INVALID;
  if (rq->body_len > MESH_HTTP_MAX_BODY) return MESH_E_TOO_LARGE;
  struct http_cli *c = calloc(1, sizeof *c);
  if (!c) return MESH_E_NOMEM;
  buf_init(&c->req, MESH_HTTP_MAX_BODY + MESH_HTTP_MAX_HEADER_BYTES);
  http_parse_init(&c->resp, HTTP_PARSE_RESPONSE);
  int r = http_cli_parse_url(url, &c->url);
  if (r == 0 && c->url.tls && !tls) r = MESH_E_INVALID;
  if (r == 0) r = build_request(c, rq);
  if (r == 0)
    r = stream_new(loop, c->url.tls ? tls : NULL, &cli_stream_cbs, c, NULL,
                   &c->st);
  if (r != 0) {
    cli_free(c);
    return r;
  }
  c->loop = loop;
  c->verify = rq->verify;
  c->verify_data = rq->verify_data;
  c->done = done;
  c->data = data;
  if (out) *out = c;
  stream_timer_start(c->st, rq->timeout_ms ? rq->timeout_ms : 30000);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  if (c->url.host_is_v6) {
    if (uv_ip6_addr(c->url.host, c->url.port, (struct sockaddr_in6 *)&ss) != 0)
      decide(c, MESH_E_INVALID);
    else
      start_connect(c, (struct sockaddr *)&ss);
    return 0;
  }
  if (uv_ip4_addr(c->url.host, c->url.port, (struct sockaddr_in *)&ss) == 0) {
    start_connect(c, (struct sockaddr *)&ss);
    return 0;
  }
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  c->gai.data = c;
  r = uv_getaddrinfo(loop, &c->gai, gai_cb, c->url.host, NULL, &hints);
  if (r != 0)
    decide(c, r);
  else
    c->gai_pending = 1;
  return 0;
}

void http_cli_cancel(struct http_cli *c) { decide(c, MESH_E_CLOSED); }
