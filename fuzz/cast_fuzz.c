/* Terminal output bytes from an agent, cut at every message boundary the
 * input chooses, into asciicast v2 lines. */
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "proto/cast.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n) {
  struct cast_utf8 st = {0};
  struct buf out;
  buf_init(&out, 64 * 1024);
  /* The first byte picks the message size, so splits land everywhere. */
  size_t step = n ? (size_t)p[0] % 17 + 1 : 1;
  for (size_t i = n ? 1 : 0; i < n; i += step) {
    size_t len = n - i < step ? n - i : step;
    (void)cast_output(&out, (double)i / 10.0, &st, p + i, len);
    if (out.len > 32 * 1024) buf_reset(&out);
  }
  (void)cast_resize(&out, 1.5, (int)n, -(int)n);
  buf_cleanup(&out);
  return 0;
}
