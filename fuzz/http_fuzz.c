/* libFuzzer target: HTTP/1.1 requests, in one piece and split in two at a
 * point taken from the first input byte. A message that completes must
 * complete the same way however it is split (which of two errors is seen
 * first may legitimately differ). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/err.h"
#include "net/http_parse.h"

static ssize_t run(const uint8_t *p, size_t n, size_t cut) {
  struct http_parse hp;
  http_parse_init(&hp, HTTP_PARSE_REQUEST);
  ssize_t r = http_parse_feed(&hp, p, cut);
  if (r == MESH_E_INCOMPLETE && cut < n) {
    r = http_parse_feed(&hp, p + cut, n - cut);
    if (r >= 0) r += (ssize_t)cut;
  }
  if (r >= 0) (void)http_parse_header(&hp, "host");
  http_parse_cleanup(&hp);
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  ssize_t whole = run(data + 1, size - 1, size - 1);
  size_t cut = size > 1 ? data[0] % size : 0;
  ssize_t split = run(data + 1, size - 1, cut);
  if ((whole >= 0 || split >= 0) && whole != split) abort();
  return 0;
}
