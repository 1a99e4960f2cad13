/*
 * stun.c - STUN codec for ICE. See stun.h.
 *
 * Attribute walk invariants: `off` always points at an attribute header
 * inside the message, every attribute's padded end is checked against the
 * message end before its value is read, and the message end was checked
 * against the datagram length before the walk starts.
 */
#include "proto/stun.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "base/err.h"

#define FINGERPRINT_XOR 0x5354554eu
#define INTEGRITY_LEN 20 /* HMAC-SHA1 */

static uint16_t get16(const uint8_t *p) {
  return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* CRC-32 (ISO 3309, the one zlib computes), bit at a time: STUN messages
 * are small and this keeps the codec free of tables. */
static uint32_t crc32_of(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

bool stun_is_stun(const uint8_t *p, size_t n) {
  return n >= STUN_HEADER_LEN && (p[0] & 0xc0) == 0 &&
         get32(p + 4) == STUN_MAGIC_COOKIE;
}

/* Undoes the XOR of an (XOR-)MAPPED-ADDRESS value v[0..n). */
static int parse_xor_addr(const uint8_t *v, size_t n, const uint8_t *hdr,
                          struct stun_addr *a) {
  if (n < 4) return MESH_E_MALFORMED;
  memset(a, 0, sizeof *a);
  a->family = v[1];
  a->port = (uint16_t)(get16(v + 2) ^ (STUN_MAGIC_COOKIE >> 16));
  size_t alen;
  if (a->family == STUN_FAMILY_IPV4)
    alen = 4;
  else if (a->family == STUN_FAMILY_IPV6)
    alen = 16;
  else
    return MESH_E_MALFORMED;
  if (n != 4 + alen) return MESH_E_MALFORMED;
  /* The key is the cookie followed by the transaction id: header bytes
   * 4..19, exactly as they sit in the message. */
  for (size_t i = 0; i < alen; i++) a->addr[i] = v[4 + i] ^ hdr[4 + i];
  return 0;
}

static int parse_error_code(const uint8_t *v, size_t n, struct stun_msg *m) {
  /* 21 reserved bits, a 3-bit class (3..6) and a number 0..99, then a
   * reason phrase of at most 763 bytes (RFC 5389 §15.6). */
  if (n < 4 || n > 4 + 763) return MESH_E_MALFORMED;
  int cls = v[2] & 7, num = v[3];
  if (cls < 3 || cls > 6 || num > 99) return MESH_E_MALFORMED;
  m->error_code = cls * 100 + num;
  m->reason = v + 4;
  m->reason_len = n - 4;
  return 0;
}

/* Records one attribute's value v[0..n) in m; off is the attribute's
 * offset, for MESSAGE-INTEGRITY. Known attributes with a wrong length make
 * the whole message malformed. */
static int parse_attr(const uint8_t *p, size_t off, uint16_t type,
                      const uint8_t *v, size_t n, struct stun_msg *m) {
  unsigned bit = 0;
  switch (type) {
    case STUN_ATTR_USERNAME:
      bit = STUN_HAS_USERNAME;
      if (n > STUN_MAX_USERNAME) return MESH_E_MALFORMED;
      if (!(m->has & bit)) {
        m->username = v;
        m->username_len = n;
      }
      break;
    case STUN_ATTR_PRIORITY:
      bit = STUN_HAS_PRIORITY;
      if (n != 4) return MESH_E_MALFORMED;
      if (!(m->has & bit)) m->priority = get32(v);
      break;
    case STUN_ATTR_USE_CANDIDATE:
      bit = STUN_HAS_USE_CANDIDATE;
      if (n != 0) return MESH_E_MALFORMED;
      break;
    case STUN_ATTR_ICE_CONTROLLING:
    case STUN_ATTR_ICE_CONTROLLED:
      bit = type == STUN_ATTR_ICE_CONTROLLING ? STUN_HAS_CONTROLLING
                                              : STUN_HAS_CONTROLLED;
      if (n != 8) return MESH_E_MALFORMED;
      if (!(m->has & (STUN_HAS_CONTROLLING | STUN_HAS_CONTROLLED)))
        m->tiebreaker = (uint64_t)get32(v) << 32 | get32(v + 4);
      break;
    case STUN_ATTR_XOR_MAPPED_ADDRESS: {
      bit = STUN_HAS_XOR_MAPPED;
      struct stun_addr a;
      int r = parse_xor_addr(v, n, p, &a);
      if (r != 0) return r;
      if (!(m->has & bit)) m->xor_mapped = a;
      break;
    }
    case STUN_ATTR_ERROR_CODE: {
      bit = STUN_HAS_ERROR_CODE;
      if (m->has & bit) break;
      int r = parse_error_code(v, n, m);
      if (r != 0) return r;
      break;
    }
    case STUN_ATTR_MESSAGE_INTEGRITY:
      /* The caller stops recording at the first one. */
      bit = STUN_HAS_INTEGRITY;
      if (n != INTEGRITY_LEN) return MESH_E_MALFORMED;
      m->integrity_off = off;
      break;
    case STUN_ATTR_MAPPED_ADDRESS:
    case STUN_ATTR_UNKNOWN_ATTRIBUTES:
      /* Known (old servers, 420 responses) and not needed by ICE. */
      break;
    default:
      if (type < 0x8000) {
        if (m->n_unknown < STUN_MAX_UNKNOWN) m->unknown[m->n_unknown] = type;
        m->n_unknown++;
      }
      /* Unknown comprehension-optional ones (SOFTWARE, Chrome's
       * GOOG-NETWORK-INFO 0xC057, ...) are skipped. */
      break;
  }
  m->has |= bit;
  return 0;
}

int stun_parse(const uint8_t *p, size_t n, struct stun_msg *m) {
  memset(m, 0, sizeof *m);
  if (n < STUN_HEADER_LEN) return MESH_E_INCOMPLETE;
  if (!stun_is_stun(p, n)) return MESH_E_MALFORMED;
  size_t body = get16(p + 2);
  if (body % 4 != 0) return MESH_E_MALFORMED;
  if (n < STUN_HEADER_LEN + body) return MESH_E_INCOMPLETE;
  if (n > STUN_HEADER_LEN + body) return MESH_E_MALFORMED;
  m->type = get16(p);
  memcpy(m->tid, p + 8, STUN_TID_LEN);
  m->len = n;

  bool after_integrity = false;
  size_t off = STUN_HEADER_LEN;
  while (off < n) {
    if (n - off < 4) return MESH_E_MALFORMED;
    uint16_t type = get16(p + off);
    size_t alen = get16(p + off + 2);
    size_t padded = (alen + 3) & ~(size_t)3;
    if (padded > n - off - 4) return MESH_E_MALFORMED;
    const uint8_t *v = p + off + 4;
    if (type == STUN_ATTR_FINGERPRINT) {
      /* Must be last; its CRC covers everything before it, with the
       * header length already counting the FINGERPRINT itself. */
      if (alen != 4 || off + 8 != n) return MESH_E_MALFORMED;
      if ((crc32_of(p, off) ^ FINGERPRINT_XOR) != get32(v))
        return MESH_E_MALFORMED;
      m->has |= STUN_HAS_FINGERPRINT;
    } else if (!after_integrity) {
      int r = parse_attr(p, off, type, v, alen, m);
      if (r != 0) return r;
      if (type == STUN_ATTR_MESSAGE_INTEGRITY) after_integrity = true;
    }
    off += 4 + padded;
  }
  return 0;
}

/* HMAC-SHA1 of p[0..mi_off) with the header length field set as if the
 * message ended right after a MESSAGE-INTEGRITY at mi_off (RFC 5389
 * §15.4). p is copied to the stack so the input stays untouched. */
static int integrity_of(const uint8_t *p, size_t mi_off, const uint8_t *key,
                        size_t key_len, uint8_t out[INTEGRITY_LEN]) {
  uint8_t tmp[STUN_MAX_MESSAGE];
  if (mi_off > sizeof tmp || mi_off < STUN_HEADER_LEN || key_len > INT32_MAX)
    return MESH_E_TOO_LARGE;
  memcpy(tmp, p, mi_off);
  put16(tmp + 2, (uint16_t)(mi_off - STUN_HEADER_LEN + 4 + INTEGRITY_LEN));
  unsigned int olen = 0;
  uint8_t dummy = 0;
  /* HMAC() takes NULL as "no key", so an empty password gets a pointer. */
  if (HMAC(EVP_sha1(), key_len ? key : &dummy, (int)key_len, tmp, mi_off, out,
           &olen) == NULL ||
      olen != INTEGRITY_LEN)
    return MESH_E_CRYPTO;
  return 0;
}

int stun_check_integrity(const uint8_t *p, size_t n, const struct stun_msg *m,
                         const uint8_t *key, size_t key_len) {
  if (!(m->has & STUN_HAS_INTEGRITY)) return MESH_E_NOT_FOUND;
  if (m->integrity_off + 4 + INTEGRITY_LEN > n) return MESH_E_INVALID;
  uint8_t mac[INTEGRITY_LEN];
  int r = integrity_of(p, m->integrity_off, key, key_len, mac);
  if (r != 0) return r;
  if (CRYPTO_memcmp(mac, p + m->integrity_off + 4, INTEGRITY_LEN) != 0)
    return MESH_E_AUTH;
  return 0;
}

/* ---- Writing ---- */

void stun_w_init(struct stun_writer *w, uint8_t *out, size_t cap, uint16_t type,
                 const uint8_t tid[STUN_TID_LEN]) {
  w->p = out;
  w->cap = cap;
  w->len = 0;
  w->err = 0;
  if (cap < STUN_HEADER_LEN) {
    w->err = MESH_E_TOO_LARGE;
    return;
  }
  put16(out, type & 0x3fff);
  put16(out + 2, 0);
  put32(out + 4, STUN_MAGIC_COOKIE);
  memcpy(out + 8, tid, STUN_TID_LEN);
  w->len = STUN_HEADER_LEN;
}

/* Reserves an attribute of value length n, sets its header, updates the
 * message length, zeroes the padding; returns the value pointer or NULL
 * (w->err set). */
static uint8_t *w_reserve(struct stun_writer *w, uint16_t type, size_t n) {
  if (w->err) return NULL;
  if (n > 0xffff) {
    w->err = MESH_E_INVALID;
    return NULL;
  }
  size_t padded = (n + 3) & ~(size_t)3;
  if (w->cap - w->len < 4 + padded ||
      w->len - STUN_HEADER_LEN + 4 + padded > 0xffff) {
    w->err = MESH_E_TOO_LARGE;
    return NULL;
  }
  uint8_t *a = w->p + w->len;
  put16(a, type);
  put16(a + 2, (uint16_t)n);
  memset(a + 4 + n, 0, padded - n);
  w->len += 4 + padded;
  put16(w->p + 2, (uint16_t)(w->len - STUN_HEADER_LEN));
  return a + 4;
}

void stun_w_attr(struct stun_writer *w, uint16_t type, const void *v,
                 size_t n) {
  uint8_t *d = w_reserve(w, type, n);
  if (d && n) memcpy(d, v, n);
}

void stun_w_u32(struct stun_writer *w, uint16_t type, uint32_t v) {
  uint8_t *d = w_reserve(w, type, 4);
  if (d) put32(d, v);
}

void stun_w_u64(struct stun_writer *w, uint16_t type, uint64_t v) {
  uint8_t *d = w_reserve(w, type, 8);
  if (d) {
    put32(d, (uint32_t)(v >> 32));
    put32(d + 4, (uint32_t)v);
  }
}

void stun_w_xor_addr(struct stun_writer *w, const struct stun_addr *a) {
  size_t alen = a->family == STUN_FAMILY_IPV4   ? 4
                : a->family == STUN_FAMILY_IPV6 ? 16
                                                : 0;
  if (alen == 0) {
    if (!w->err) w->err = MESH_E_INVALID;
    return;
  }
  uint8_t *d = w_reserve(w, STUN_ATTR_XOR_MAPPED_ADDRESS, 4 + alen);
  if (!d) return;
  d[0] = 0;
  d[1] = a->family;
  put16(d + 2, (uint16_t)(a->port ^ (STUN_MAGIC_COOKIE >> 16)));
  for (size_t i = 0; i < alen; i++) d[4 + i] = a->addr[i] ^ w->p[4 + i];
}

void stun_w_error(struct stun_writer *w, int code, const char *reason) {
  if (code < 300 || code > 699) {
    if (!w->err) w->err = MESH_E_INVALID;
    return;
  }
  size_t rlen = reason ? strlen(reason) : 0;
  uint8_t *d = w_reserve(w, STUN_ATTR_ERROR_CODE, 4 + rlen);
  if (!d) return;
  d[0] = d[1] = 0;
  d[2] = (uint8_t)(code / 100);
  d[3] = (uint8_t)(code % 100);
  if (rlen) memcpy(d + 4, reason, rlen);
}

void stun_w_integrity(struct stun_writer *w, const uint8_t *key,
                      size_t key_len) {
  size_t off = w->len;
  uint8_t *d = w_reserve(w, STUN_ATTR_MESSAGE_INTEGRITY, INTEGRITY_LEN);
  if (!d) return;
  int r = integrity_of(w->p, off, key, key_len, d);
  if (r != 0) w->err = r;
}

void stun_w_fingerprint(struct stun_writer *w) {
  size_t off = w->len;
  uint8_t *d = w_reserve(w, STUN_ATTR_FINGERPRINT, 4);
  if (d) put32(d, crc32_of(w->p, off) ^ FINGERPRINT_XOR);
}

ssize_t stun_w_finish(const struct stun_writer *w) {
  return w->err ? w->err : (ssize_t)w->len;
}

ssize_t stun_build_check(uint8_t *out, size_t cap, const struct stun_check *c) {
  struct stun_writer w;
  stun_w_init(&w, out, cap, STUN_BINDING_REQUEST, c->tid);
  stun_w_attr(&w, STUN_ATTR_USERNAME, c->username, c->username_len);
  stun_w_u32(&w, STUN_ATTR_PRIORITY, c->priority);
  stun_w_u64(
      &w, c->controlling ? STUN_ATTR_ICE_CONTROLLING : STUN_ATTR_ICE_CONTROLLED,
      c->tiebreaker);
  if (c->use_candidate) stun_w_attr(&w, STUN_ATTR_USE_CANDIDATE, NULL, 0);
  stun_w_integrity(&w, c->key, c->key_len);
  stun_w_fingerprint(&w);
  return stun_w_finish(&w);
}

ssize_t stun_build_success(uint8_t *out, size_t cap,
                           const uint8_t tid[STUN_TID_LEN],
                           const struct stun_addr *mapped, const uint8_t *key,
                           size_t key_len) {
  struct stun_writer w;
  stun_w_init(&w, out, cap, STUN_BINDING_SUCCESS, tid);
  stun_w_xor_addr(&w, mapped);
  stun_w_integrity(&w, key, key_len);
  stun_w_fingerprint(&w);
  return stun_w_finish(&w);
}

static const char *reason_of(int code) {
  switch (code) {
    case STUN_ERR_BAD_REQUEST:
      return "Bad Request";
    case STUN_ERR_UNAUTHORIZED:
      return "Unauthorized";
    case STUN_ERR_UNKNOWN_ATTRIBUTE:
      return "Unknown Attribute";
    case STUN_ERR_ROLE_CONFLICT:
      return "Role Conflict";
    default:
      return NULL;
  }
}

ssize_t stun_build_error(uint8_t *out, size_t cap,
                         const uint8_t tid[STUN_TID_LEN], int code,
                         const uint16_t *unknown, size_t n_unknown,
                         const uint8_t *key, size_t key_len) {
  struct stun_writer w;
  stun_w_init(&w, out, cap, STUN_BINDING_ERROR, tid);
  stun_w_error(&w, code, reason_of(code));
  if (n_unknown > 0) {
    uint8_t list[2 * STUN_MAX_UNKNOWN];
    if (n_unknown > STUN_MAX_UNKNOWN) n_unknown = STUN_MAX_UNKNOWN;
    for (size_t i = 0; i < n_unknown; i++) put16(list + 2 * i, unknown[i]);
    stun_w_attr(&w, STUN_ATTR_UNKNOWN_ATTRIBUTES, list, 2 * n_unknown);
  }
  if (key) stun_w_integrity(&w, key, key_len);
  stun_w_fingerprint(&w);
  return stun_w_finish(&w);
}
