/*
 * js_https.c - require('https').download(url, path, options, callback): one
 * HTTPS GET streamed into a file, for the recovery core (spec §6.5) and any
 * core that fetches a file from its server.
 *
 * The server must present the control channel's certificate (its CertHash),
 * or the one whose CertHash options.servertlshash names: checked right after
 * the TLS handshake, before the request is sent. A url starting with
 * star-slash is on the control channel's host and port. The body goes to
 * the file as it arrives, hashed with SHA-384 on the way; options.sha384
 * (hex) makes a mismatch an error. Any failure deletes the file.
 *
 *   callback(err, {size, sha384})   err.code: ECERT (certificate), EHTTP
 *   (status, err.status), EFBIG (over options.maxBytes), EHASH, ETIMEDOUT,
 *   EPROTO (bad HTTP), or a libuv name (ECONNREFUSED, EAI_NONAME, ...)
 *
 * Writes are synchronous on the loop thread: at most a read's worth (64
 * KiB) at a time to a local file, which keeps the download in step with the
 * socket without a second queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/js/js_int.h"
#include "agent/tunnel.h" /* tunnel_parse_hash */
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/hash.h"
#include "net/http_cli.h"
#include "net/stream.h"

enum dl_fail { DL_OK, DL_CERT, DL_HTTP, DL_FBIG, DL_HASH, DL_PROTO, DL_IO };

struct dl {
  struct js_handle h;
  struct stream *st; /* NULL once closed */
  uv_getaddrinfo_t gai;
  int gai_pending;
  struct http_cli_url url;
  http_parser parser;
  char *path;
  int fd;
  EVP_MD_CTX *md;
  uint64_t got, max;
  uint8_t ctrl_hash[CC_HASH_LEN], alt_hash[CC_HASH_LEN], want[CC_HASH_LEN];
  int has_alt, has_want;
  int decided, err; /* err: a libuv or MESH_E_* code, or 1 with fail */
  int io_err;       /* -errno of a failed write, fsync or close */
  enum dl_fail fail;
  int status;   /* HTTP status */
  int complete; /* the whole body arrived */
  char hex[2 * CC_HASH_LEN + 1];
};

static void dl_free(struct dl *d) {
  if (d->fd >= 0) close(d->fd);
  if (d->path && !d->complete) unlink(d->path);
  free(d->path);
  EVP_MD_CTX_free(d->md);
  free(d);
}

/* The outcome is decided once; the stream's on_close delivers it. */
static void decide(struct dl *d, int err, enum dl_fail fail) {
  if (d->decided) return;
  d->decided = 1;
  d->err = err;
  d->fail = fail;
  if (d->st) stream_close(d->st, err);
}

/* ------------------------------------------------------------ HTTP */

static int on_headers_complete(http_parser *p) {
  struct dl *d = p->data;
  d->status = p->status_code;
  if (p->status_code != 200) return -1;
  if (p->content_length != ULLONG_MAX && p->content_length > d->max) {
    d->fail = DL_FBIG;
    return -1;
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct dl *d = p->data;
  if (len > d->max - d->got) {
    d->fail = DL_FBIG;
    return -1;
  }
  d->got += len;
  EVP_DigestUpdate(d->md, at, len);
  while (len) {
    ssize_t w = write(d->fd, at, len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      d->fail = DL_IO;
      d->io_err = -errno;
      return -1;
    }
    at += w;
    len -= (size_t)w;
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct dl *d = p->data;
  d->complete = 1;
  http_parser_pause(p, 1); /* nothing after the body matters */
  return 0;
}

static const http_parser_settings parser_settings = {
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Feeds bytes (n == 0: the peer closed). Decides on an error or the end. */
static void feed(struct dl *d, const uint8_t *p, size_t n) {
  size_t used =
      http_parser_execute(&d->parser, &parser_settings, (const char *)p, n);
  enum http_errno e = HTTP_PARSER_ERRNO(&d->parser);
  if (d->complete) {
    decide(d, 0, DL_OK);
  } else if (n == 0 && e == HPE_INVALID_EOF_STATE && d->fail == DL_OK) {
    decide(d, MESH_E_CLOSED, DL_OK); /* cut short by the server */
  } else if (e != HPE_OK && e != HPE_PAUSED) {
    if (d->fail == DL_OK)
      d->fail = d->status && d->status != 200 ? DL_HTTP : DL_PROTO;
    decide(d, 1, d->fail);
  } else if (n == 0 || used != n) {
    decide(d, MESH_E_CLOSED, DL_OK); /* ended before the body did */
  }
}

/* ---------------------------------------------------------- stream */

static void st_on_connect(struct stream *s, void *data) {
  struct dl *d = data;
  uint8_t h[CC_HASH_LEN];
  X509 *peer = stream_peer_cert(s);
  if (!peer || hash_cert(peer, h) != 0 ||
      (memcmp(h, d->ctrl_hash, sizeof h) != 0 &&
       (!d->has_alt || memcmp(h, d->alt_hash, sizeof h) != 0))) {
    decide(d, 1, DL_CERT);
    return;
  }
  const struct http_cli_url *u = &d->url;
  char req[MESH_HTTP_MAX_URL + 512], port[16] = "";
  if (u->port != 443) snprintf(port, sizeof port, ":%d", u->port);
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s%s%s%s\r\n"
                   "Connection: close\r\nUser-Agent: meshagent\r\n\r\n",
                   u->target, u->host_is_v6 ? "[" : "", u->host,
                   u->host_is_v6 ? "]" : "", port);
  int r = n > 0 && (size_t)n < sizeof req ? stream_write(s, req, (size_t)n)
                                          : MESH_E_INVALID;
  if (r) decide(d, r, DL_OK);
}

static void st_on_read(struct stream *s, const uint8_t *p, size_t n,
                       void *data) {
  (void)s;
  struct dl *d = data;
  if (!d->decided) feed(d, p, n);
}

static void st_on_timer(struct stream *s, void *data) {
  (void)s;
  decide(data, MESH_E_TIMEOUT, DL_OK);
}

static void push_error(duk_context *ctx, struct dl *d) {
  static const char *const codes[] = {"",      "ECERT",  "EHTTP", "EFBIG",
                                      "EHASH", "EPROTO", "EIO"};
  const char *code, *msg;
  char text[128];
  if (d->fail != DL_OK) {
    code = codes[d->fail];
    switch (d->fail) {
      case DL_CERT:
        msg = "server certificate differs from the control channel's";
        break;
      case DL_HTTP:
        snprintf(text, sizeof text, "HTTP status %d", d->status);
        msg = text;
        break;
      case DL_FBIG:
        msg = "file larger than maxBytes";
        break;
      case DL_HASH:
        msg = "SHA-384 differs from the one expected";
        break;
      case DL_IO:
        msg = d->io_err ? uv_strerror(d->io_err) : "write failed";
        break;
      default:
        msg = "malformed HTTP response";
        break;
    }
  } else if (d->err == MESH_E_TIMEOUT) {
    code = "ETIMEDOUT";
    msg = "download timed out";
  } else if (d->err == MESH_E_CLOSED || d->err == UV_EOF) {
    code = "ECONNRESET";
    msg = "the server closed before the whole file arrived";
  } else if (d->err < 0 && d->err > MESH_E_BASE) {
    code = uv_err_name(d->err);
    msg = uv_strerror(d->err);
  } else {
    code = "EIO";
    msg = mesh_strerror(d->err);
  }
  duk_push_error_object(ctx, DUK_ERR_ERROR, "download: %s", msg);
  duk_push_string(ctx, code);
  duk_put_prop_string(ctx, -2, "code");
  if (d->fail == DL_HTTP) {
    duk_push_int(ctx, d->status);
    duk_put_prop_string(ctx, -2, "status");
  }
}

/* Closes the file and checks the hash: the outcome stands or turns into
 * an error. */
static void finish(struct dl *d) {
  uint8_t h[CC_HASH_LEN];
  unsigned hl = 0;
  EVP_DigestFinal_ex(d->md, h, &hl);
  enc_hex(h, sizeof h, d->hex, 0);
  if (fsync(d->fd) != 0 || close(d->fd) != 0) {
    d->fail = DL_IO;
    d->io_err = -errno;
  }
  d->fd = -1;
  if (d->fail == DL_OK && d->has_want && memcmp(h, d->want, sizeof h) != 0)
    d->fail = DL_HASH;
  if (d->fail != DL_OK) d->complete = 0; /* dl_free deletes the file */
}

static void st_on_close(struct stream *s, int reason, void *data) {
  (void)s;
  struct dl *d = data;
  d->st = NULL;
  if (!d->decided) { /* the peer closed: that may end an EOF body */
    if (reason == UV_EOF) feed(d, NULL, 0);
    if (!d->decided) decide(d, reason ? reason : MESH_E_CLOSED, DL_OK);
  }
  if (d->err == 0 && d->fail == DL_OK && d->complete) finish(d);
  struct js *rt = d->h.rt;
  if (rt) {
    duk_context *ctx = rt->ctx;
    int live = js__handle_push(&d->h);
    js__handle_remove(&d->h);
    if (live) {
      duk_get_prop_string(ctx, -1, "cb");
      duk_push_undefined(ctx);
      if (d->complete) {
        duk_push_null(ctx);
        duk_push_object(ctx);
        duk_push_number(ctx, (double)d->got);
        duk_put_prop_string(ctx, -2, "size");
        duk_push_string(ctx, d->hex);
        duk_put_prop_string(ctx, -2, "sha384");
      } else {
        push_error(ctx, d);
        duk_push_undefined(ctx);
      }
      if (d->gai_pending == 0) {
        dl_free(d);
        d = NULL;
      }
      if (js__invoke(rt, 2) == 0) duk_pop(ctx);
    } else {
      duk_pop(ctx);
    }
  }
  if (d && !d->gai_pending) dl_free(d);
}

static const struct stream_cbs dl_stream_cbs = {
    .on_connect = st_on_connect,
    .on_read = st_on_read,
    .on_timer = st_on_timer,
    .on_close = st_on_close,
};

/* The runtime stopped: end the download; on_close (and a pending
 * getaddrinfo) free it. */
static void dl_close(struct js_handle *h) {
  decide((struct dl *)h, MESH_E_CLOSED, DL_OK);
}

static void start_connect(struct dl *d, const struct sockaddr *sa) {
  char label[300];
  snprintf(label, sizeof label, "%s:%d", d->url.host, d->url.port);
  struct sockaddr_in probe;
  int is_name = !d->url.host_is_v6 && uv_ip4_addr(d->url.host, 0, &probe) != 0;
  int r = stream_connect(d->st, sa, is_name ? d->url.host : NULL, label);
  if (r) decide(d, r, DL_OK);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  struct dl *d = req->data;
  d->gai_pending = 0;
  if (!d->st || d->decided) {
    uv_freeaddrinfo(res);
    if (!d->st) dl_free(d); /* on_close already ran */
    return;
  }
  struct addrinfo *pick = NULL;
  for (struct addrinfo *a = res; status == 0 && a; a = a->ai_next)
    if (a->ai_family == AF_INET || (a->ai_family == AF_INET6 && !pick))
      pick = a;
  if (!pick) {
    uv_freeaddrinfo(res);
    decide(d, status ? status : UV_EAI_NONAME, DL_OK);
    return;
  }
  struct sockaddr_storage ss;
  memcpy(&ss, pick->ai_addr, pick->ai_addrlen);
  uv_freeaddrinfo(res);
  if (ss.ss_family == AF_INET)
    ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)d->url.port);
  else
    ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)d->url.port);
  start_connect(d, (struct sockaddr *)&ss);
}

/* ------------------------------------------------------------ JS */

/* "*\/x" on the control channel's host; anything else must be https://. */
static int resolve(struct agent *a, const char *value, char *out, size_t cap) {
  if (strncmp(value, "*/", 2) != 0)
    return strncmp(value, "https://", 8) == 0 &&
                   snprintf(out, cap, "%s", value) < (int)cap
               ? 0
               : MESH_E_INVALID;
  struct http_cli_url c;
  if (a->cfg.n_servers == 0 || http_cli_parse_url(agent_server_url(a), &c))
    return MESH_E_INVALID;
  int n = snprintf(out, cap, "https://%s%s%s:%d/%s", c.host_is_v6 ? "[" : "",
                   c.host, c.host_is_v6 ? "]" : "", c.port, value + 2);
  return n > 0 && (size_t)n < cap ? 0 : MESH_E_INVALID;
}

static uint64_t opt_number(duk_context *ctx, const char *name, uint64_t def) {
  uint64_t v = def;
  if (duk_get_prop_string(ctx, 2, name)) {
    double x = duk_to_number(ctx, -1);
    if (x >= 1 && x <= 9007199254740992.0) v = (uint64_t)x;
  }
  duk_pop(ctx);
  return v;
}

/* download(url, path, options, callback) */
static duk_ret_t https_download(duk_context *ctx) {
  struct js *rt = js__rt(ctx);
  struct agent *a = rt->a;
  const char *value = duk_require_string(ctx, 0);
  const char *path = duk_require_string(ctx, 1);
  if (!duk_is_object(ctx, 2)) {
    duk_push_object(ctx);
    duk_replace(ctx, 2);
  }
  duk_require_function(ctx, 3);
  char url[MESH_HTTP_MAX_URL + 300];
  struct http_cli_url u;
  if (resolve(a, value, url, sizeof url) || http_cli_parse_url(url, &u) ||
      !u.tls)
    return duk_type_error(ctx, "download: url must be https:// or */...");
  if (!a->has_server_cert_hash || !a->tls)
    return duk_error(ctx, DUK_ERR_ERROR,
                     "download: no control channel certificate to match");
  uint8_t alt[CC_HASH_LEN], want[CC_HASH_LEN];
  int has_alt = 0, has_want = 0;
  if (duk_get_prop_string(ctx, 2, "servertlshash") && duk_is_string(ctx, -1)) {
    if (tunnel_parse_hash(duk_get_string(ctx, -1), alt))
      return duk_type_error(ctx, "download: bad servertlshash");
    has_alt = 1;
  }
  if (duk_get_prop_string(ctx, 2, "sha384") && duk_is_string(ctx, -1)) {
    if (tunnel_parse_hash(duk_get_string(ctx, -1), want))
      return duk_type_error(ctx, "download: bad sha384");
    has_want = 1;
  }
  uint64_t max = opt_number(ctx, "maxBytes", MESH_JS_DOWNLOAD_MAX);
  uint64_t timeout = opt_number(ctx, "timeoutMs", MESH_JS_DOWNLOAD_MS);
  int mode = (int)opt_number(ctx, "mode", 0600) & 0777;
  duk_push_object(ctx); /* the handle's object */
  duk_dup(ctx, 3);
  duk_put_prop_string(ctx, -2, "cb");
  js__handle_check(ctx, sizeof(struct dl));
  struct dl *d = calloc(1, sizeof *d);
  if (!d) return duk_error(ctx, DUK_ERR_RANGE_ERROR, "out of memory");
  d->fd = -1;
  d->h.close = dl_close;
  d->url = u;
  d->max = max;
  memcpy(d->ctrl_hash, a->server_cert_hash, CC_HASH_LEN);
  memcpy(d->alt_hash, alt, CC_HASH_LEN);
  memcpy(d->want, want, CC_HASH_LEN);
  d->has_alt = has_alt;
  d->has_want = has_want;
  http_parser_init(&d->parser, HTTP_RESPONSE);
  d->parser.data = d;
  d->md = EVP_MD_CTX_new();
  d->path = strdup(path);
  int r = d->md && d->path && EVP_DigestInit_ex(d->md, EVP_sha384(), NULL)
              ? 0
              : MESH_E_NOMEM;
  if (r == 0) {
    d->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (d->fd < 0) r = -errno;
  }
  if (r == 0) r = stream_new(a->loop, a->tls, &dl_stream_cbs, d, NULL, &d->st);
  if (r) {
    int opened = d->fd >= 0;
    if (!opened) {
      free(d->path);
      d->path = NULL; /* not ours to delete */
    }
    dl_free(d);
    return duk_error(ctx, DUK_ERR_ERROR, "download: %s", mesh_strerror(r));
  }
  /* From here the stream's on_close frees d, whatever happens. */
  stream_timer_start(d->st, timeout);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  if (u.host_is_v6 ? uv_ip6_addr(u.host, u.port, (struct sockaddr_in6 *)&ss)
                   : uv_ip4_addr(u.host, u.port, (struct sockaddr_in *)&ss)) {
    if (u.host_is_v6) {
      decide(d, MESH_E_INVALID, DL_OK);
    } else {
      struct addrinfo hints;
      memset(&hints, 0, sizeof hints);
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      d->gai.data = d;
      r = uv_getaddrinfo(a->loop, &d->gai, gai_cb, u.host, NULL, &hints);
      if (r)
        decide(d, r, DL_OK);
      else
        d->gai_pending = 1;
    }
  } else {
    start_connect(d, (struct sockaddr *)&ss);
  }
  js__handle_add(rt, &d->h, -1, sizeof *d);
  log_info("event=core_download host=%s port=%d", u.host, u.port);
  return 0;
}

duk_ret_t js__mod_https(duk_context *ctx) {
  duk_push_object(ctx);
  duk_push_c_function(ctx, https_download, 4);
  duk_put_prop_string(ctx, -2, "download");
  return 1;
}
