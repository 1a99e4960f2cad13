/* DCEP messages (RFC 8832) as they arrive in one SCTP message with PPID
 * 50: parse, and re-encode what parsed as an OPEN, which must give the
 * same bytes back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "proto/dcep.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n) {
  struct dcep_msg m;
  ssize_t r = dcep_parse(p, n, &m);
  if (r < 0) return 0;
  if ((size_t)r > n) abort();
  if (m.type == DCEP_MSG_OPEN) {
    struct buf b;
    buf_init(&b, 1 << 18);
    if (dcep_put_open(&b, &m.open) != 0 || b.len != (size_t)r ||
        memcmp(b.data, p, b.len) != 0)
      abort();
    buf_cleanup(&b);
  }
  return 0;
}
