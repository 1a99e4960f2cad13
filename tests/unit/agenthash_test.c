/*
 * agenthash_test.c - the agent executable hash (spec §6.3): a binary with
 * an embedded .msh hashes as the same binary without it; damaged or
 * truncated trailers make the whole file count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/buf.h"
#include "base/msh.h"
#include "crypto/hash.h"
#include "proto/agenthash.h"
#include "testutil.h"

static void fill(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 7 + 3);
}

/* No trailer: the hash is plain SHA-384 of the file (§6.3, [tested]). */
static void plain_binary(void **state) {
  (void)state;
  uint8_t bin[5000], want[48], got[48];
  fill(bin, sizeof bin);
  hash_sha384(bin, sizeof bin, want);
  agenthash_buf(bin, sizeof bin, got);
  assert_memory_equal(got, want, 48);
  assert_int_equal(agenthash_end(bin, sizeof bin, sizeof bin), sizeof bin);
  /* Empty and tiny files too. */
  hash_sha384(bin, 0, want);
  agenthash_buf(bin, 0, got);
  assert_memory_equal(got, want, 48);
  assert_int_equal(agenthash_end(bin, 3, 3), 3);
}

/* The same binary with a .msh embedded has the binary's hash, whatever
 * the text; the tail alone is enough to find the end. */
static void embedded_msh_left_out(void **state) {
  (void)state;
  uint8_t plain[48], got[48];
  struct buf b;
  static const char text[] = "\r\nMeshName=G\r\nServerProduct=meshd\r\n";
  buf_init(&b, 1 << 20);
  assert_int_equal(buf_reserve(&b, 3000), 0);
  fill(b.data, 3000);
  b.len = 3000;
  hash_sha384(b.data, 3000, plain);
  assert_int_equal(msh_embed(&b, text, strlen(text)), 0);
  assert_int_equal(b.len, 3000 + strlen(text) + 20);
  agenthash_buf(b.data, b.len, got);
  assert_memory_equal(got, plain, 48);
  assert_int_equal(agenthash_end(b.data + b.len - 20, 20, b.len), 3000);
  assert_int_equal(agenthash_end(b.data + b.len - 100, 100, b.len), 3000);
  /* An empty .msh (length 0) is still a trailer. */
  b.len = 3000;
  assert_int_equal(msh_embed(&b, "", 0), 0);
  agenthash_buf(b.data, b.len, got);
  assert_memory_equal(got, plain, 48);
  buf_cleanup(&b);
}

/* A trailer whose length is past the file's start, a file cut inside
 * the trailer, or a marker one byte off: the whole file is hashed. */
static void damaged_trailers_hash_whole(void **state) {
  (void)state;
  uint8_t want[48], got[48];
  struct buf b;
  buf_init(&b, 1 << 20);
  assert_int_equal(buf_reserve(&b, 100), 0);
  fill(b.data, 100);
  b.len = 100;
  assert_int_equal(msh_embed(&b, "abc", 3), 0);
  size_t full = b.len;
  /* Length claims more bytes than precede it. */
  b.data[full - 20] = 0x7F;
  hash_sha384(b.data, full, want);
  agenthash_buf(b.data, full, got);
  assert_memory_equal(got, want, 48);
  assert_int_equal(agenthash_end(b.data, full, full), full);
  b.data[full - 20] = 0;
  /* Exactly the bytes before the trailer: the text is the whole rest. */
  b.data[full - 17] = (uint8_t)(full - 20);
  assert_int_equal(agenthash_end(b.data, full, full), 0);
  b.data[full - 17] = 3;
  /* Every truncation of the file: never the marker any more, except
   * the whole; nothing reads out of bounds (ASan). */
  for (size_t n = 0; n < full; n++) {
    assert_int_equal(agenthash_end(b.data, n, n), n);
    agenthash_buf(b.data, n, got);
    hash_sha384(b.data, n, want);
    assert_memory_equal(got, want, 48);
  }
  assert_int_equal(agenthash_end(b.data, full, full), 100);
  /* A tail shorter than a trailer cannot tell: whole file. */
  assert_int_equal(agenthash_end(b.data + full - 19, 19, full), full);
  /* A flipped marker byte. */
  for (size_t i = full - 16; i < full; i++) {
    b.data[i] ^= 1;
    assert_int_equal(agenthash_end(b.data, full, full), full);
    b.data[i] ^= 1;
  }
  /* A tail longer than the file is a caller error, not a trailer. */
  assert_int_equal(agenthash_end(b.data, full, full - 1), full - 1);
  buf_cleanup(&b);
}

static void special_hashes(void **state) {
  (void)state;
  uint8_t h[48];
  memset(h, 0, 48);
  assert_true(agenthash_is_zero(h));
  assert_false(agenthash_is_force(h));
  memset(h, 0xFF, 48);
  assert_true(agenthash_is_force(h));
  assert_false(agenthash_is_zero(h));
  h[47] = 0;
  assert_false(agenthash_is_force(h));
  assert_false(agenthash_is_zero(h));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(plain_binary),
      cmocka_unit_test(embedded_msh_left_out),
      cmocka_unit_test(damaged_trailers_hash_whole),
      cmocka_unit_test(special_hashes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
