/* libFuzzer target: http_query_param over arbitrary query text. The first
 * input byte picks the output capacity; a value found must be
 * NUL-terminated within it and never longer than the query itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "net/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  size_t cap = 1 + data[0] % 96;
  char *q = malloc(size);
  char out[96];
  if (!q) return 0;
  memcpy(q, data + 1, size - 1);
  q[size - 1] = 0;
  static const char *const names[] = {"id", "p", "rauth", "auth", ""};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    int r = http_query_param(q, names[i], out, cap);
    if (r == 0 && (memchr(out, 0, cap) == NULL || strlen(out) > strlen(q)))
      abort();
    if (r != 0 && r != MESH_E_NOT_FOUND && r != MESH_E_MALFORMED &&
        r != MESH_E_TOO_LARGE)
      abort();
  }
  free(q);
  return 0;
}
