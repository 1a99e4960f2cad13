/* The agent's core commands (src/agent/core_cmd.c) over any bytes: the
 * parse stays inside the message, an install's parts add up to it, and
 * the hash check reads only the blob. The agent layer is not linked into
 * fuzz targets, so its sans-I/O file is compiled in here. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "agent/core_cmd.c"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n) {
  struct core_cmd c;
  core_parse(p, n, &c);
  if (c.op == CORE_OP_INSTALL) {
    if (c.hash != p + 4 || c.blob != p + 52 || c.len + 52 != n || c.len == 0)
      abort();
    core_blob_ok(c.blob, c.len, c.hash);
  } else if (c.op != CORE_OP_NONE && n < 4) {
    abort();
  }
  return 0;
}
