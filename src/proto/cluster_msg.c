/*
 * cluster_msg.c - parses the cluster's NOTIFY payloads (cluster_msg.h).
 */
#include "cluster_msg.h"

#include <string.h>

#include "base/err.h"

static int id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '@' || c == '$';
}

/* Copies the id of exactly len characters at *p (then a space or the
 * end) into out (len + 1 bytes); moves *p past it and one space. Fixed
 * lengths: a cut payload never passes as a shorter id. */
static int take_id(const char **p, char *out, size_t len) {
  size_t n = 0;
  while (n <= len && id_char((*p)[n])) n++;
  if (n != len || ((*p)[n] != ' ' && (*p)[n] != 0)) return MESH_E_MALFORMED;
  memcpy(out, *p, n);
  out[n] = 0;
  *p += n;
  if (**p == ' ') (*p)++;
  return 0;
}

int cluster_msg_parse(const char *payload, struct cluster_msg *m) {
  const char *p = payload;
  memset(m, 0, sizeof *m);
  if (take_id(&p, m->server, CLUSTER_ID_LEN) != 0 ||
      (p[0] != 'e' && p[0] != 'n') || p[1] != ' ')
    return MESH_E_MALFORMED;
  m->kind = p[0];
  p += 2;
  if (m->kind == 'e') {
    int64_t v = 0;
    size_t n = 0;
    for (; p[n] >= '0' && p[n] <= '9'; n++) {
      if (n >= 18) return MESH_E_MALFORMED; /* no overflow */
      v = v * 10 + (p[n] - '0');
    }
    if (n == 0 || p[n] != 0 || v <= 0) return MESH_E_MALFORMED;
    m->seq = v;
    return 0;
  }
  if ((p[0] != '0' && p[0] != '1') || p[1] != ' ') return MESH_E_MALFORMED;
  m->online = p[0] == '1';
  p += 2;
  if (take_id(&p, m->node, CLUSTER_NODE_LEN) != 0 || p[-1] != ' ' ||
      take_id(&p, m->group, CLUSTER_NODE_LEN) != 0 || *p != 0)
    return MESH_E_MALFORMED;
  return 0;
}
