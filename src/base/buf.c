#include "buf.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

void buf_init(struct buf *b, size_t max) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->max = max;
}

void buf_cleanup(struct buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void buf_wipe_cleanup(struct buf *b) {
  if (b->data) OPENSSL_cleanse(b->data, b->cap);
  buf_cleanup(b);
}

void buf_reset(struct buf *b) { b->len = 0; }

void buf_consume(struct buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

int buf_reserve(struct buf *b, size_t n) {
  if (n > b->max - b->len) return MESH_E_TOO_LARGE;
  if (b->cap - b->len >= n) return 0;
  size_t want = b->cap ? b->cap : 256;
  while (want - b->len < n) want *= 2;
  if (want > b->max) want = b->max;
  uint8_t *d = realloc(b->data, want);
  if (!d) return MESH_E_NOMEM;
  b->data = d;
  b->cap = want;
  return 0;
}

int buf_put(struct buf *b, const void *p, size_t n) {
  int r = buf_reserve(b, n);
  if (r) return r;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

int buf_put_u8(struct buf *b, uint8_t v) { return buf_put(b, &v, 1); }

int buf_put_u16be(struct buf *b, uint16_t v) {
  uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  return buf_put(b, x, 2);
}

int buf_put_u32be(struct buf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                  (uint8_t)v};
  return buf_put(b, x, 4);
}

int buf_put_zero(struct buf *b, size_t n) {
  int r = buf_reserve(b, n);
  if (r) return r;
  memset(b->data + b->len, 0, n);
  b->len += n;
  return 0;
}

int rd_bytes(struct rd *r, size_t n, const uint8_t **p) {
  if (r->left < n) return MESH_E_INCOMPLETE;
  *p = r->p;
  r->p += n;
  r->left -= n;
  return 0;
}

int rd_u8(struct rd *r, uint8_t *v) {
  const uint8_t *p;
  int e = rd_bytes(r, 1, &p);
  if (!e) *v = p[0];
  return e;
}

int rd_u16be(struct rd *r, uint16_t *v) {
  const uint8_t *p;
  int e = rd_bytes(r, 2, &p);
  if (!e) *v = (uint16_t)((p[0] << 8) | p[1]);
  return e;
}

int rd_u32be(struct rd *r, uint32_t *v) {
  const uint8_t *p;
  int e = rd_bytes(r, 4, &p);
  if (!e)
    *v = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | p[3];
  return e;
}
