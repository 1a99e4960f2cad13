/*
 * agenthash.c - the agent executable hash (spec §6.3, Linux rule).
 */
#include "agenthash.h"

#include <string.h>

#include "base/msh.h"
#include "crypto/hash.h"

uint64_t agenthash_end(const uint8_t *tail, size_t tail_len,
                       uint64_t file_size) {
  if (tail_len < MSH_EMBED_TRAILER || tail_len > file_size ||
      memcmp(tail + tail_len - 16, MSH_EMBED_GUID, 16) != 0)
    return file_size;
  const uint8_t *l = tail + tail_len - MSH_EMBED_TRAILER;
  uint64_t m =
      (uint32_t)l[0] << 24 | (uint32_t)l[1] << 16 | (uint32_t)l[2] << 8 | l[3];
  /* Big-endian, as the agent writes and reads it (§3.3 notes a stock
   * server helper that reads it little-endian). A length past the start
   * of the file is no trailer of ours: hash everything. */
  if (m > file_size - MSH_EMBED_TRAILER) return file_size;
  return file_size - MSH_EMBED_TRAILER - m;
}

void agenthash_buf(const uint8_t *p, size_t n, uint8_t out[AGENTHASH_LEN]) {
  size_t end = (size_t)agenthash_end(p, n, n);
  hash_sha384(p, end, out);
}

static int all(const uint8_t h[AGENTHASH_LEN], uint8_t v) {
  for (size_t i = 0; i < AGENTHASH_LEN; i++)
    if (h[i] != v) return 0;
  return 1;
}

int agenthash_is_zero(const uint8_t h[AGENTHASH_LEN]) { return all(h, 0); }
int agenthash_is_force(const uint8_t h[AGENTHASH_LEN]) { return all(h, 0xFF); }
