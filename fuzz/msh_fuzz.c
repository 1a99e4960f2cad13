/* .msh configuration text. */
#include <stddef.h>
#include <stdint.h>

#include "base/msh.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n) {
  static struct msh m;
  uint8_t out[64];
  char s[64];
  size_t len;
  const char *t;
  if (msh_embedded(p, n, &t, &len) == 0) (void)msh_parse(t, len, &m);
  if (msh_parse((const char *)p, n, &m) != 0) return 0;
  (void)msh_get_hex(&m, "MeshID", out, sizeof out, &len);
  (void)msh_get_str(&m, "MeshServer", s, sizeof s);
  return 0;
}
