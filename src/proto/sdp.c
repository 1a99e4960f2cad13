/*
 * sdp.c - parse a browser's data-channel offer, write our answer.
 *
 * The parser walks the text line by line without copying it and never
 * writes into it. It remembers, per level (session, application section),
 * where the lines it cares about are, and only judges them at the end, so
 * that a media-level line overrides a session-level one whatever the order
 * of attribute lines within a level.
 */
#include "proto/sdp.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

struct span {
  const char *p;
  size_t n;
};

/* The lines one level (the session, or the application section) gave. */
struct level {
  struct span ufrag, pwd;
  int has_fp;
  uint8_t fp[SDP_FP_LEN];
  int has_setup;
  enum sdp_setup setup;
};

enum section { SEC_SESSION, SEC_APP, SEC_OTHER };

struct parser {
  struct sdp_desc *d;
  struct level lv[2]; /* [0] session, [1] application section */
  enum section sec;
  int have_app;    /* the application m-line was found */
  int fp_other;    /* a fingerprint with another hash was seen */
  int has_sctpmap; /* legacy: a=sctpmap gave the port */
  const char *why; /* set with the first error */
};

static int span_eq(struct span s, const char *lit) {
  size_t n = strlen(lit);
  return s.n == n && memcmp(s.p, lit, n) == 0;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int span_eq_nocase(struct span s, const char *lit) {
  size_t n = strlen(lit);
  if (s.n != n) return 0;
  for (size_t i = 0; i < n; i++)
    if (lower((unsigned char)s.p[i]) != lower((unsigned char)lit[i])) return 0;
  return 1;
}

/* Takes the next space-separated token of *s (runs of spaces or tabs
 * separate tokens). Returns 0 when *s holds no more tokens. */
static int next_tok(struct span *s, struct span *tok) {
  while (s->n && (*s->p == ' ' || *s->p == '\t')) s->p++, s->n--;
  if (!s->n) return 0;
  tok->p = s->p;
  while (s->n && *s->p != ' ' && *s->p != '\t') s->p++, s->n--;
  tok->n = (size_t)(s->p - tok->p);
  return 1;
}

/* A decimal number of 1..20 digits, at most max. */
static int parse_u64(struct span s, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  if (s.n == 0 || s.n > 20) return MESH_E_MALFORMED;
  for (size_t i = 0; i < s.n; i++) {
    unsigned c = (unsigned char)s.p[i];
    if (c < '0' || c > '9') return MESH_E_MALFORMED;
    if (v > (max - (c - '0')) / 10) return MESH_E_MALFORMED;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return 0;
}

static int is_ice_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static int ice_chars_ok(const char *p, size_t n, size_t min, size_t max) {
  if (n < min || n > max) return 0;
  for (size_t i = 0; i < n; i++)
    if (!is_ice_char((unsigned char)p[i])) return 0;
  return 1;
}

/* RFC 5888 mid is a token (RFC 8866 9): visible ASCII except separators.
 * We echo it into the answer, so nothing else may pass. */
static int mid_ok(const char *p, size_t n) {
  if (n < 1 || n > SDP_MAX_MID) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]", c)) return 0;
  }
  return 1;
}

/* A dotted IPv4 address with no leading zeros. */
static int parse_ipv4(struct span s, uint8_t ip[4]) {
  size_t i = 0;
  for (int k = 0; k < 4; k++) {
    if (k) {
      if (i >= s.n || s.p[i] != '.') return MESH_E_MALFORMED;
      i++;
    }
    size_t start = i;
    unsigned v = 0;
    while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9' && i - start < 3)
      v = v * 10 + (unsigned)(s.p[i++] - '0');
    if (i == start || v > 255 || (s.p[start] == '0' && i - start > 1))
      return MESH_E_MALFORMED;
    ip[k] = (uint8_t)v;
  }
  return i == s.n ? 0 : MESH_E_MALFORMED;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int sdp_fingerprint_parse(const char *p, size_t n, uint8_t fp[SDP_FP_LEN]) {
  uint8_t tmp[SDP_FP_LEN];
  if (!p || n != SDP_FP_TEXT - 1) return MESH_E_MALFORMED;
  for (size_t i = 0; i < SDP_FP_LEN; i++) {
    const char *h = p + 3 * i;
    int hi = hexval((unsigned char)h[0]), lo = hexval((unsigned char)h[1]);
    if (hi < 0 || lo < 0 || (i + 1 < SDP_FP_LEN && h[2] != ':'))
      return MESH_E_MALFORMED;
    tmp[i] = (uint8_t)(hi << 4 | lo);
  }
  memcpy(fp, tmp, sizeof tmp);
  return 0;
}

void sdp_fingerprint_format(const uint8_t fp[SDP_FP_LEN],
                            char out[SDP_FP_TEXT]) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < SDP_FP_LEN; i++) {
    out[3 * i] = hex[fp[i] >> 4];
    out[3 * i + 1] = hex[fp[i] & 15];
    out[3 * i + 2] = i + 1 < SDP_FP_LEN ? ':' : '\0';
  }
}

static int fail(struct parser *ps, int r, const char *why) {
  if (!ps->why) ps->why = why;
  return r;
}

/* "m=<media> <port>[/<count>] <proto> <fmt> ...": the first application
 * section with a data-channel protocol and a non-zero port is ours; every
 * other section's lines are skipped. */
static void on_media(struct parser *ps, struct span v) {
  struct span media, port, proto, fmt;
  uint64_t pn, sp;
  ps->sec = SEC_OTHER;
  if (ps->have_app || !next_tok(&v, &media) || !next_tok(&v, &port) ||
      !next_tok(&v, &proto) || !next_tok(&v, &fmt) ||
      !span_eq(media, "application"))
    return;
  const char *slash = memchr(port.p, '/', port.n);
  if (slash) port.n = (size_t)(slash - port.p);
  if (parse_u64(port, 65535, &pn) != 0 || pn == 0) return;
  if (span_eq(proto, "UDP/DTLS/SCTP") && span_eq(fmt, "webrtc-datachannel")) {
    ps->d->legacy = 0;
    ps->d->sctp_port = SDP_SCTP_PORT;
  } else if (span_eq(proto, "DTLS/SCTP") && parse_u64(fmt, 65535, &sp) == 0 &&
             sp != 0) {
    ps->d->legacy = 1;
    ps->d->sctp_port = (uint16_t)sp;
  } else {
    return;
  }
  ps->d->media_port = (uint16_t)pn;
  ps->have_app = 1;
  ps->sec = SEC_APP;
}

/* "a=candidate:<foundation> <component> <transport> <priority> <address>
 * <port> typ <type> [extensions]". Never fails the parse. */
static void on_candidate(struct parser *ps, struct span v) {
  struct sdp_desc *d = ps->d;
  struct span f, comp, tr, prio, addr, port, typ, type;
  uint64_t c, pr, pn;
  struct sdp_candidate cand;
  if (!next_tok(&v, &f) || !next_tok(&v, &comp) || !next_tok(&v, &tr) ||
      !next_tok(&v, &prio) || !next_tok(&v, &addr) || !next_tok(&v, &port) ||
      !next_tok(&v, &typ) || !next_tok(&v, &type) || !span_eq(typ, "typ") ||
      !ice_chars_ok(f.p, f.n, 1, SDP_MAX_FOUNDATION) ||
      parse_u64(comp, 256, &c) != 0 || c == 0 ||
      parse_u64(prio, UINT32_MAX, &pr) != 0 || pr == 0 ||
      parse_u64(port, 65535, &pn) != 0 || addr.n == 0) {
    d->dropped_malformed++;
    return;
  }
  memset(&cand, 0, sizeof cand);
  if (span_eq(type, "host"))
    cand.type = SDP_CAND_HOST;
  else if (span_eq(type, "srflx"))
    cand.type = SDP_CAND_SRFLX;
  else if (span_eq(type, "prflx"))
    cand.type = SDP_CAND_PRFLX;
  else if (span_eq(type, "relay"))
    cand.type = SDP_CAND_RELAY;
  else {
    d->dropped_malformed++;
    return;
  }
  if (span_eq_nocase(tr, "tcp")) {
    d->dropped_tcp++;
    return;
  }
  if (!span_eq_nocase(tr, "udp")) {
    d->dropped_malformed++;
    return;
  }
  if (c != 1) {
    d->dropped_component++;
    return;
  }
  if (memchr(addr.p, ':', addr.n)) {
    d->dropped_ipv6++;
    return;
  }
  if (parse_ipv4(addr, cand.ip) != 0) {
    /* Not an address: a host name, in practice an mDNS "<uuid>.local"
     * that only the browser's own network can resolve. */
    d->dropped_mdns++;
    return;
  }
  if (pn == 0) {
    d->dropped_malformed++;
    return;
  }
  if (d->n_candidates == SDP_MAX_CANDIDATES) {
    d->dropped_excess++;
    return;
  }
  memcpy(cand.foundation, f.p, f.n);
  cand.priority = (uint32_t)pr;
  cand.port = (uint16_t)pn;
  d->candidates[d->n_candidates++] = cand;
}

static int on_fingerprint(struct parser *ps, struct level *lv, struct span v) {
  struct span hash, val;
  if (!next_tok(&v, &hash) || !next_tok(&v, &val))
    return fail(ps, MESH_E_MALFORMED, "a=fingerprint without hash and value");
  if (!span_eq_nocase(hash, "sha-256")) {
    ps->fp_other = 1;
    return 0;
  }
  if (lv->has_fp) return 0; /* the first sha-256 one of a level counts */
  if (sdp_fingerprint_parse(val.p, val.n, lv->fp) != 0)
    return fail(ps, MESH_E_MALFORMED, "malformed sha-256 a=fingerprint");
  lv->has_fp = 1;
  return 0;
}

static int on_setup(struct parser *ps, struct level *lv, struct span v) {
  static const char *const names[] = {"actpass", "active", "passive",
                                      "holdconn"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (span_eq(v, names[i])) {
      lv->has_setup = 1;
      lv->setup = (enum sdp_setup)i;
      return 0;
    }
  return fail(ps, MESH_E_MALFORMED, "unknown a=setup value");
}

static int on_attr(struct parser *ps, struct span a) {
  struct level *lv = &ps->lv[ps->sec == SEC_APP];
  struct span name = a, v = {a.p + a.n, 0};
  const char *colon = memchr(a.p, ':', a.n);
  uint64_t x;
  if (ps->sec == SEC_OTHER) return 0;
  if (colon) {
    name.n = (size_t)(colon - a.p);
    v.p = colon + 1;
    v.n = a.n - name.n - 1;
  }
  if (span_eq(name, "ice-ufrag")) {
    lv->ufrag = v;
  } else if (span_eq(name, "ice-pwd")) {
    lv->pwd = v;
  } else if (span_eq(name, "fingerprint")) {
    return on_fingerprint(ps, lv, v);
  } else if (span_eq(name, "setup")) {
    return on_setup(ps, lv, v);
  } else if (ps->sec != SEC_APP) {
    return 0; /* the rest are media-level only */
  } else if (span_eq(name, "candidate")) {
    on_candidate(ps, v);
  } else if (span_eq(name, "mid")) {
    if (!mid_ok(v.p, v.n)) return fail(ps, MESH_E_MALFORMED, "bad a=mid");
    memcpy(ps->d->mid, v.p, v.n);
    ps->d->mid[v.n] = '\0';
  } else if (span_eq(name, "sctp-port")) {
    if (parse_u64(v, 65535, &x) != 0 || x == 0)
      return fail(ps, MESH_E_MALFORMED, "bad a=sctp-port");
    if (!ps->d->legacy) ps->d->sctp_port = (uint16_t)x;
  } else if (span_eq(name, "sctpmap")) {
    struct span port;
    if (!next_tok(&v, &port) || parse_u64(port, 65535, &x) != 0 || x == 0)
      return fail(ps, MESH_E_MALFORMED, "bad a=sctpmap");
    if (ps->d->legacy) ps->d->sctp_port = (uint16_t)x;
  } else if (span_eq(name, "max-message-size")) {
    if (parse_u64(v, UINT64_MAX, &x) != 0)
      return fail(ps, MESH_E_MALFORMED, "bad a=max-message-size");
    ps->d->max_message_size = x;
    ps->d->has_max_message_size = 1;
  }
  return 0;
}

/* Judges what the levels gave: the section's own lines, else the
 * session's. */
static int finish(struct parser *ps) {
  struct sdp_desc *d = ps->d;
  const struct level *s = &ps->lv[0], *m = &ps->lv[1];
  struct span u = m->ufrag.p ? m->ufrag : s->ufrag;
  struct span w = m->pwd.p ? m->pwd : s->pwd;
  if (!ps->have_app)
    return fail(ps, MESH_E_MALFORMED,
                "no data-channel m=application line (UDP/DTLS/SCTP or "
                "DTLS/SCTP) with a port");
  if (!u.p) return fail(ps, MESH_E_MALFORMED, "no a=ice-ufrag");
  if (!ice_chars_ok(u.p, u.n, 4, SDP_MAX_UFRAG))
    return fail(ps, MESH_E_MALFORMED, "bad a=ice-ufrag");
  if (!w.p) return fail(ps, MESH_E_MALFORMED, "no a=ice-pwd");
  if (!ice_chars_ok(w.p, w.n, 22, SDP_MAX_PWD))
    return fail(ps, MESH_E_MALFORMED, "bad a=ice-pwd");
  if (!m->has_fp && !s->has_fp)
    return fail(ps, MESH_E_MALFORMED,
                ps->fp_other ? "a=fingerprint hash is not sha-256 (only "
                               "sha-256 is supported)"
                             : "no a=fingerprint");
  memcpy(d->ufrag, u.p, u.n);
  d->ufrag[u.n] = '\0';
  memcpy(d->pwd, w.p, w.n);
  d->pwd[w.n] = '\0';
  memcpy(d->fingerprint, m->has_fp ? m->fp : s->fp, SDP_FP_LEN);
  d->setup = m->has_setup   ? m->setup
             : s->has_setup ? s->setup
                            : SDP_SETUP_ACTPASS;
  return 0;
}

int sdp_parse(const char *p, size_t n, struct sdp_desc *out, const char **why) {
  struct parser ps;
  int r = 0, first = 1;
  if (why) *why = NULL;
  if (!out) return MESH_E_INVALID;
  memset(out, 0, sizeof *out);
  memset(&ps, 0, sizeof ps);
  ps.d = out;
  if (!p) {
    r = fail(&ps, MESH_E_INVALID, "no SDP");
  } else if (n > SDP_MAX_BYTES) {
    r = fail(&ps, MESH_E_TOO_LARGE, "SDP larger than 64 KiB");
  } else if (memchr(p, '\0', n)) {
    r = fail(&ps, MESH_E_MALFORMED, "NUL byte in SDP");
  }
  while (r == 0 && n > 0) {
    const char *nl = memchr(p, '\n', n);
    struct span line = {p, nl ? (size_t)(nl - p) : n};
    size_t used = nl ? line.n + 1 : n;
    p += used;
    n -= used;
    if (line.n && line.p[line.n - 1] == '\r') line.n--;
    if (first) {
      first = 0;
      if (!span_eq(line, "v=0"))
        r = fail(&ps, MESH_E_MALFORMED, "not an SDP (no v=0 first line)");
      continue;
    }
    /* Lines that are not "<letter>=..." are ignored, as are types other
     * than m= and a=. */
    if (line.n < 2 || line.p[1] != '=') continue;
    struct span v = {line.p + 2, line.n - 2};
    if (line.p[0] == 'm')
      on_media(&ps, v);
    else if (line.p[0] == 'a')
      r = on_attr(&ps, v);
  }
  if (r == 0 && first) r = fail(&ps, MESH_E_MALFORMED, "empty SDP");
  if (r == 0) r = finish(&ps);
  if (r != 0) {
    memset(out, 0, sizeof *out);
    if (why) *why = ps.why;
  }
  return r;
}

int sdp_parse_offer(const char *p, size_t n, struct sdp_desc *out,
                    const char **why) {
  int r = sdp_parse(p, n, out, why);
  if (r != 0) return r;
  if (out->setup == SDP_SETUP_ACTPASS || out->setup == SDP_SETUP_ACTIVE)
    return 0;
  memset(out, 0, sizeof *out);
  if (why)
    *why =
        "offer has a=setup other than actpass or active (the agent is the "
        "passive DTLS side)";
  return MESH_E_INVALID;
}

/* One formatted line plus CRLF; lines are bounded by the field limits. */
__attribute__((format(printf, 2, 3))) static int put_line(struct buf *b,
                                                          const char *fmt,
                                                          ...) {
  char line[640];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(line, sizeof line - 2, fmt, ap);
  va_end(ap);
  int r = MESH_E_INVALID;
  if (k >= 0 && (size_t)k < sizeof line - 2) {
    line[k] = '\r';
    line[k + 1] = '\n';
    r = buf_put(b, line, (size_t)k + 2);
  }
  OPENSSL_cleanse(line, sizeof line); /* it may hold the ice-pwd */
  return r;
}

static const char *cand_type_name(enum sdp_cand_type t) {
  switch (t) {
    case SDP_CAND_HOST:
      return "host";
    case SDP_CAND_SRFLX:
      return "srflx";
    case SDP_CAND_PRFLX:
      return "prflx";
    case SDP_CAND_RELAY:
      return "relay";
  }
  return NULL;
}

static int answer_ok(const struct sdp_answer *a) {
  uint8_t fp[SDP_FP_LEN];
  if (!a->ufrag ||
      !ice_chars_ok(a->ufrag, strlen(a->ufrag), 4, SDP_MAX_UFRAG) || !a->pwd ||
      !ice_chars_ok(a->pwd, strlen(a->pwd), 22, SDP_MAX_PWD) ||
      !a->fingerprint ||
      sdp_fingerprint_parse(a->fingerprint, strlen(a->fingerprint), fp) != 0 ||
      (a->mid && a->mid[0] && !mid_ok(a->mid, strlen(a->mid))) ||
      (a->n_candidates && !a->candidates) || a->sctp_port == 0)
    return 0;
  for (size_t i = 0; i < a->n_candidates; i++) {
    const struct sdp_local_candidate *c = &a->candidates[i];
    if (!c->foundation ||
        !ice_chars_ok(c->foundation, strlen(c->foundation), 1,
                      SDP_MAX_FOUNDATION) ||
        c->port == 0 || c->priority == 0 || !cand_type_name(c->type))
      return 0;
  }
  return 1;
}

int sdp_write_answer(const struct sdp_answer *a, struct buf *out) {
  int r;
  size_t start;
  if (!a || !out || !answer_ok(a)) return MESH_E_INVALID;
  start = out->len;
  const char *mid = a->mid && a->mid[0] ? a->mid : NULL;
  unsigned port = a->n_candidates ? a->candidates[0].port : 9;
  if ((r = put_line(out, "v=0")) != 0 ||
      (r = put_line(out, "o=- %llu 2 IN IP4 127.0.0.1",
                    (unsigned long long)(a->session_id & INT64_MAX))) != 0 ||
      (r = put_line(out, "s=-")) != 0 || (r = put_line(out, "t=0 0")) != 0 ||
      (mid && (r = put_line(out, "a=group:BUNDLE %s", mid)) != 0) ||
      (r = put_line(out, "m=application %u UDP/DTLS/SCTP webrtc-datachannel",
                    port)) != 0 ||
      (r = put_line(out, "c=IN IP4 0.0.0.0")) != 0 ||
      (r = put_line(out, "a=ice-ufrag:%s", a->ufrag)) != 0 ||
      (r = put_line(out, "a=ice-pwd:%s", a->pwd)) != 0 ||
      (r = put_line(out, "a=fingerprint:sha-256 %s", a->fingerprint)) != 0 ||
      (r = put_line(out, "a=setup:passive")) != 0 ||
      (mid && (r = put_line(out, "a=mid:%s", mid)) != 0) ||
      (r = put_line(out, "a=sctp-port:%u", (unsigned)a->sctp_port)) != 0 ||
      (r = put_line(out, "a=max-message-size:%llu",
                    (unsigned long long)a->max_message_size)) != 0)
    goto out;
  for (size_t i = 0; i < a->n_candidates; i++) {
    const struct sdp_local_candidate *c = &a->candidates[i];
    char ip[16];
    snprintf(ip, sizeof ip, "%u.%u.%u.%u", c->ip[0], c->ip[1], c->ip[2],
             c->ip[3]);
    if ((r = put_line(
             out, "a=candidate:%s 1 udp %lu %s %u typ %s%s", c->foundation,
             (unsigned long)c->priority, ip, (unsigned)c->port,
             cand_type_name(c->type),
             c->type == SDP_CAND_HOST ? "" : " raddr 0.0.0.0 rport 0")) != 0)
      goto out;
  }
  r = put_line(out, "a=end-of-candidates");
out:
  if (r != 0) {
    if (out->data) OPENSSL_cleanse(out->data + start, out->len - start);
    out->len = start;
  }
  return r;
}
