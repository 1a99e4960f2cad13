#include "net/http_parse.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"

/*
 * How the header-size limit is measured exactly. http-parser does not tell
 * a callback where in the input it is, so the parser pauses itself inside
 * on_headers_complete: http_parser_execute() then returns the bytes up to,
 * but not including, the final LF of the blank line. Everything consumed
 * while the header block is open, plus that one LF, is the header size.
 * While the block is open at most MESH_HTTP_MAX_HEADER_BYTES bytes in total
 * are handed to http-parser, so the stored names and values can never
 * exceed that size no matter how the input is split.
 *
 * The parser also pauses itself in on_message_complete, which makes
 * http_parser_execute() return exactly the bytes of one message; pipelined
 * requests and post-upgrade bytes stay with the caller.
 */

/* URL, every name and value, their NULs, plus the path and query copies. */
#define STORE_MAX \
  (2 * MESH_HTTP_MAX_HEADER_BYTES + 2 * MESH_HTTP_MAX_HEADERS + 16)

static struct http_parse *hp_of(http_parser *p) { return p->data; }

static int fail(struct http_parse *hp, int status) {
  hp->status = status;
  return -1;
}

/* Appends the NUL that ends the current URL, name or value. */
static int end_token(struct http_parse *hp) {
  if (buf_put_u8(&hp->store, 0) != 0) return fail(hp, 431);
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  struct http_parse *hp = hp_of(p);
  if (len > MESH_HTTP_MAX_URL - hp->url_len) return fail(hp, 414);
  hp->url_len += len;
  if (buf_put(&hp->store, at, len) != 0) return fail(hp, 431);
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  struct http_parse *hp = hp_of(p);
  if (hp->phase != 1) {
    /* A new header line starts: close the URL or the previous value. */
    if (hp->phase == 2)
      hp->hdr[hp->nhdr - 1].value_len =
          hp->store.len - hp->hdr[hp->nhdr - 1].value;
    if (end_token(hp) != 0) return -1;
    if (hp->nhdr == MESH_HTTP_MAX_HEADERS) return fail(hp, 431);
    hp->hdr[hp->nhdr].name = hp->store.len;
    hp->hdr[hp->nhdr].name_len = 0;
    hp->hdr[hp->nhdr].value = hp->store.len;
    hp->hdr[hp->nhdr].value_len = 0;
    hp->nhdr++;
    hp->phase = 1;
  }
  if (buf_put(&hp->store, at, len) != 0) return fail(hp, 431);
  hp->hdr[hp->nhdr - 1].name_len += len;
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  struct http_parse *hp = hp_of(p);
  if (hp->phase != 2) {
    if (end_token(hp) != 0) return -1;
    hp->hdr[hp->nhdr - 1].value = hp->store.len;
    hp->phase = 2;
  }
  if (buf_put(&hp->store, at, len) != 0) return fail(hp, 431);
  return 0;
}

static int on_headers_complete(http_parser *p) {
  struct http_parse *hp = hp_of(p);
  if (hp->phase == 2)
    hp->hdr[hp->nhdr - 1].value_len =
        hp->store.len - hp->hdr[hp->nhdr - 1].value;
  /* A header name without value (http-parser allows "Name:\r\n"). */
  if (hp->phase == 1) {
    if (end_token(hp) != 0) return -1;
    hp->hdr[hp->nhdr - 1].value = hp->store.len;
  }
  if (end_token(hp) != 0) return -1;
  hp->phase = 3;
  /* Refuse a declared body before allocating anything for it. */
  if (p->content_length != ULLONG_MAX && p->content_length > MESH_HTTP_MAX_BODY)
    return fail(hp, 413);
  if (p->content_length != ULLONG_MAX && p->content_length > 0 &&
      buf_reserve(&hp->body, (size_t)p->content_length) != 0)
    return fail(hp, 413);
  hp->headers_done = 1;
  http_parser_pause(p, 1);
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct http_parse *hp = hp_of(p);
  if (buf_put(&hp->body, at, len) != 0) return fail(hp, 413);
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct http_parse *hp = hp_of(p);
  hp->done = 1;
  hp->keep_alive = http_should_keep_alive(p);
  hp->upgrade = p->upgrade;
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void reset(struct http_parse *hp) {
  http_parser_init(
      &hp->p, hp->kind == HTTP_PARSE_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE);
  hp->p.data = hp;
  hp->status = 0;
  hp->done = hp->headers_done = hp->keep_alive = hp->upgrade = 0;
  hp->phase = 0;
  hp->header_bytes = hp->url_len = hp->nhdr = 0;
  hp->path = hp->path_len = hp->query = hp->query_len = 0;
  buf_reset(&hp->store);
  buf_reset(&hp->body);
}

void http_parse_init(struct http_parse *hp, enum http_parse_kind kind) {
  memset(hp, 0, sizeof *hp);
  hp->kind = kind;
  buf_init(&hp->store, STORE_MAX);
  buf_init(&hp->body, MESH_HTTP_MAX_BODY);
  reset(hp);
}

void http_parse_cleanup(struct http_parse *hp) {
  buf_cleanup(&hp->store);
  buf_cleanup(&hp->body);
}

void http_parse_next(struct http_parse *hp) { reset(hp); }

int http_parse_status(const struct http_parse *hp) { return hp->status; }

static ssize_t error_code(const struct http_parse *hp) {
  return hp->status == 400 ? MESH_E_MALFORMED : MESH_E_TOO_LARGE;
}

/* Splits the URL into path and query copies once the message is done. */
static int split_url(struct http_parse *hp) {
  if (hp->kind != HTTP_PARSE_REQUEST) return 0;
  size_t ulen = hp->url_len;
  if (buf_reserve(&hp->store, ulen + 2) != 0) return fail(hp, 431);
  /* store.data is stable now: the reserve above covers both copies. */
  const uint8_t *u = hp->store.data;
  const uint8_t *q = memchr(u, '?', ulen);
  const uint8_t *h = memchr(u, '#', ulen);
  size_t plen = q ? (size_t)(q - u) : ulen;
  if (h && (size_t)(h - u) < plen) plen = (size_t)(h - u);
  size_t qlen = 0, qoff = 0;
  if (q && (!h || q < h)) {
    qoff = (size_t)(q - u) + 1;
    qlen = (h ? (size_t)(h - u) : ulen) - qoff;
  }
  hp->path = hp->store.len;
  hp->path_len = plen;
  buf_put(&hp->store, u, plen);
  buf_put_u8(&hp->store, 0);
  hp->query = hp->store.len;
  hp->query_len = qlen;
  buf_put(&hp->store, hp->store.data + qoff, qlen);
  buf_put_u8(&hp->store, 0);
  return 0;
}

/* Runs http-parser over p[0..n) and turns its outcome into our result. */
ssize_t http_parse_feed(struct http_parse *hp, const uint8_t *p, size_t n) {
  if (hp->status) return error_code(hp);
  if (hp->done) return MESH_E_PROTO_STATE;
  if (n == 0) {
    http_parser_execute(&hp->p, &settings, NULL, 0);
    enum http_errno e = HTTP_PARSER_ERRNO(&hp->p);
    if (hp->done) return split_url(hp) == 0 ? 0 : error_code(hp);
    if (e != HPE_OK) {
      hp->status = 400;
      return MESH_E_MALFORMED;
    }
    return MESH_E_INCOMPLETE;
  }
  size_t off = 0;
  while (off < n) {
    size_t len = n - off;
    int in_headers = !hp->headers_done;
    if (in_headers) {
      size_t room = MESH_HTTP_MAX_HEADER_BYTES - hp->header_bytes;
      if (len > room) len = room;
    }
    size_t c =
        http_parser_execute(&hp->p, &settings, (const char *)p + off, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&hp->p);
    if (hp->status) return error_code(hp); /* a callback refused a limit */
    if (in_headers) {
      hp->header_bytes += c;
      if (hp->headers_done) hp->header_bytes++; /* the LF left unconsumed */
    }
    if (e == HPE_PAUSED) {
      if (hp->done) {
        off += c;
        return split_url(hp) == 0 ? (ssize_t)off : error_code(hp);
      }
      /* Paused at the end of the header block: carry on with the body. */
      http_parser_pause(&hp->p, 0);
      off += c;
      continue;
    }
    if (e != HPE_OK || c != len) {
      hp->status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
      return error_code(hp);
    }
    off += c;
    if (!hp->headers_done && hp->header_bytes >= MESH_HTTP_MAX_HEADER_BYTES) {
      /* The block has used the whole budget and is still open. */
      hp->status = 431;
      return MESH_E_TOO_LARGE;
    }
  }
  return MESH_E_INCOMPLETE;
}

static const char *at(const struct http_parse *hp, size_t off) {
  return hp->store.data ? (const char *)hp->store.data + off : "";
}

const char *http_parse_method(const struct http_parse *hp) {
  return http_method_str((enum http_method)hp->p.method);
}
const char *http_parse_url(const struct http_parse *hp) { return at(hp, 0); }
const char *http_parse_path(const struct http_parse *hp) {
  return at(hp, hp->path);
}
const char *http_parse_query(const struct http_parse *hp) {
  return at(hp, hp->query);
}

const char *http_parse_header(const struct http_parse *hp, const char *name) {
  for (size_t i = 0; i < hp->nhdr; i++)
    if (strcasecmp(at(hp, hp->hdr[i].name), name) == 0)
      return at(hp, hp->hdr[i].value);
  return NULL;
}

size_t http_parse_nheaders(const struct http_parse *hp) { return hp->nhdr; }
const char *http_parse_header_name(const struct http_parse *hp, size_t i) {
  return i < hp->nhdr ? at(hp, hp->hdr[i].name) : NULL;
}
const char *http_parse_header_value(const struct http_parse *hp, size_t i) {
  return i < hp->nhdr ? at(hp, hp->hdr[i].value) : NULL;
}

const uint8_t *http_parse_body(const struct http_parse *hp, size_t *len) {
  *len = hp->body.len;
  return hp->body.len ? hp->body.data : NULL;
}

int http_parse_code(const struct http_parse *hp) { return hp->p.status_code; }
int http_parse_keep_alive(const struct http_parse *hp) {
  return hp->keep_alive;
}
int http_parse_upgrade(const struct http_parse *hp) { return hp->upgrade; }
int http_parse_minor(const struct http_parse *hp) { return hp->p.http_minor; }

int http_header_has_token(const char *v, const char *tok) {
  size_t tl = strlen(tok);
  while (v && *v) {
    while (*v == ' ' || *v == '\t' || *v == ',') v++;
    size_t n = strcspn(v, ",");
    size_t e = n;
    while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
    if (e == tl && strncasecmp(v, tok, tl) == 0) return 1;
    v += n;
  }
  return 0;
}

static int hex_digit(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes v[0..n) into out; see http_query_param. */
static int query_decode(const char *v, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int ch = (unsigned char)v[i];
    if (ch == '%') {
      if (i + 2 >= n) return MESH_E_MALFORMED; /* cut short */
      int hi = hex_digit(v[i + 1]), lo = hex_digit(v[i + 2]);
      if (hi < 0 || lo < 0) return MESH_E_MALFORMED;
      ch = hi * 16 + lo;
      if (ch == 0) return MESH_E_MALFORMED; /* would cut the C string */
      i += 2;
    }
    if (o + 1 >= cap) return MESH_E_TOO_LARGE;
    out[o++] = (char)ch;
  }
  out[o] = 0;
  return 0;
}

int http_query_param(const char *query, const char *name, char *out,
                     size_t cap) {
  if (!cap) return MESH_E_TOO_LARGE;
  out[0] = 0;
  if (!query || !name) return MESH_E_NOT_FOUND;
  size_t nl = strlen(name), left = strlen(query);
  const char *p = query;
  while (left > 0) {
    const char *amp = memchr(p, '&', left);
    size_t len = amp ? (size_t)(amp - p) : left;
    /* "name=value" or a bare "name". */
    if (len >= nl && memcmp(p, name, nl) == 0 && (len == nl || p[nl] == '=')) {
      size_t vn = len > nl ? len - nl - 1 : 0;
      int r = query_decode(p + nl + (len > nl), vn, out, cap);
      if (r != 0) out[0] = 0;
      return r;
    }
    if (!amp) break;
    left -= len + 1;
    p = amp + 1;
  }
  return MESH_E_NOT_FOUND;
}
