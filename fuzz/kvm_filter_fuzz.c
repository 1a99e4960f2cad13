/* libFuzzer target: one viewer message through the server's desktop
 * input filter (kvm_filter.h) under the mode its first byte picks. What
 * comes out is never longer than what went in, and passes the filter
 * again unchanged; the protocol-selection reader sees the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "proto/kvm_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n) {
  if (n < 1) return 0;
  enum kvm_filter_mode m = 1 + p[0] % 2;
  p++;
  n--;
  int proto;
  (void)kvm_filter_selection(p, n, &proto);
  uint8_t *out = malloc(n ? n : 1), *again = malloc(n ? n : 1);
  if (!out || !again) abort();
  size_t d;
  const char *why;
  ssize_t r = kvm_filter_message(m, p, n, out, &d, &why);
  if (r >= 0) {
    if ((size_t)r > n || (r == (ssize_t)n && d != 0)) abort();
    if (r == (ssize_t)n && n && memcmp(out, p, n) != 0) abort();
    if (kvm_filter_message(m, out, (size_t)r, again, &d, &why) != r || d)
      abort();
    if (r && memcmp(out, again, (size_t)r) != 0) abort();
  }
  free(out);
  free(again);
  return 0;
}
