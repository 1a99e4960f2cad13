/* The cluster's NOTIFY payload parser over any bytes (cut at the first
 * NUL, as PostgreSQL's text is): what it accepts has ids of their fixed
 * lengths and a positive seq or a 0/1 state. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/cluster_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n) {
  char *text = malloc(n + 1);
  if (!text) return 0;
  memcpy(text, p, n);
  text[n] = 0;
  struct cluster_msg m;
  if (cluster_msg_parse(text, &m) == 0) {
    if (strlen(m.server) != CLUSTER_ID_LEN) abort();
    if (m.kind == 'e' && m.seq <= 0) abort();
    if (m.kind == 'n' && (strlen(m.node) != CLUSTER_NODE_LEN ||
                          strlen(m.group) != CLUSTER_NODE_LEN ||
                          (m.online != 0 && m.online != 1)))
      abort();
    if (m.kind != 'e' && m.kind != 'n') abort();
  }
  free(text);
  return 0;
}
