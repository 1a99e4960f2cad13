/* libFuzzer target: one viewer message into the KVM decoder, walked the
 * way the agent walks it (whole commands until the end or an error); a
 * command never claims more bytes than it was given. */
#include <stdlib.h>

#include "proto/kvm.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n) {
  size_t off = 0;
  while (off < n) {
    struct kvm_input in;
    const char *why;
    ssize_t r = kvm_decode(p + off, n - off, &in, &why);
    if (r <= 0) break;
    if (r < 4 || (size_t)r > n - off) abort();
    off += (size_t)r;
  }
  return 0;
}
