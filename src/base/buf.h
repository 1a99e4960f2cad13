/*
 * buf.h - a bounded, growable byte buffer with typed, checked accessors.
 *
 * Writers append with buf_put_*; they fail with MESH_E_TOO_LARGE past the
 * buffer's max and MESH_E_NOMEM when growth fails, never writing partially.
 * Readers use struct rd, a read cursor over borrowed bytes whose getters
 * fail with MESH_E_INCOMPLETE on short input and never read past the end.
 */
#ifndef MESH_BUF_H
#define MESH_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
  uint8_t *data; /* owned; NULL until the first write */
  size_t len;
  size_t cap;
  size_t max; /* hard limit on len */
};

/* Initialises an empty buffer that may grow to max bytes. */
void buf_init(struct buf *b, size_t max);
/* Frees the storage. With wipe set, the bytes are cleansed first. */
void buf_cleanup(struct buf *b);
void buf_wipe_cleanup(struct buf *b);
/* Empties the buffer, keeping its storage. */
void buf_reset(struct buf *b);
/* Removes the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Makes room for n more bytes; returns 0 or a negative code. */
int buf_reserve(struct buf *b, size_t n);

int buf_put(struct buf *b, const void *p, size_t n);
int buf_put_u8(struct buf *b, uint8_t v);
int buf_put_u16be(struct buf *b, uint16_t v);
int buf_put_u32be(struct buf *b, uint32_t v);
int buf_put_zero(struct buf *b, size_t n);

/* A read cursor over borrowed bytes. */
struct rd {
  const uint8_t *p;
  size_t left;
};

static inline struct rd rd_make(const void *p, size_t n) {
  struct rd r = {(const uint8_t *)p, n};
  return r;
}
int rd_u8(struct rd *r, uint8_t *v);
int rd_u16be(struct rd *r, uint16_t *v);
int rd_u32be(struct rd *r, uint32_t *v);
/* Points *p at the next n bytes (borrowed) and advances. */
int rd_bytes(struct rd *r, size_t n, const uint8_t **p);

#endif
