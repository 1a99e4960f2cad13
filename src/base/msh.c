#include "msh.h"

#include <string.h>

#include "buf.h"
#include "enc.h"
#include "err.h"

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void trim(const char **p, size_t *n) {
  while (*n && is_space(**p)) (*p)++, (*n)--;
  while (*n && is_space((*p)[*n - 1])) (*n)--;
}

static int key_is(const struct msh_entry *e, const char *key, size_t klen) {
  return e->key_len == klen && memcmp(e->key, key, klen) == 0;
}

static void remove_key(struct msh *m, const char *key, size_t klen) {
  for (size_t i = 0; i < m->n; i++)
    if (key_is(&m->e[i], key, klen)) {
      m->e[i] = m->e[--m->n];
      return;
    }
}

int msh_parse(const char *text, size_t n, struct msh *out) {
  out->n = 0;
  if (n > MESH_MSH_MAX_BYTES) return MESH_E_TOO_LARGE;
  if (memchr(text, 0, n)) return MESH_E_MALFORMED;
  const char *p = text, *end = text + n;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = nl ? nl : end;
    const char *line = p;
    size_t len = (size_t)(line_end - line);
    p = nl ? nl + 1 : end;
    trim(&line, &len);
    if (len == 0 || line[0] == '#') continue;
    const char *eq = memchr(line, '=', len);
    if (!eq) continue;
    const char *k = line, *v = eq + 1;
    size_t kl = (size_t)(eq - line), vl = len - kl - 1;
    trim(&k, &kl);
    trim(&v, &vl);
    if (kl == 0 || (kl == 10 && memcmp(k, "CoreModule", 10) == 0)) continue;
    remove_key(out, k, kl);
    if (vl == 0) continue; /* an empty value deletes the key */
    if (out->n == MESH_MSH_MAX_KEYS) return MESH_E_TOO_LARGE;
    out->e[out->n++] = (struct msh_entry){k, v, kl, vl};
  }
  return 0;
}

const struct msh_entry *msh_find(const struct msh *m, const char *key) {
  size_t kl = strlen(key);
  for (size_t i = 0; i < m->n; i++)
    if (key_is(&m->e[i], key, kl)) return &m->e[i];
  return NULL;
}

int msh_get_str(const struct msh *m, const char *key, char *out, size_t cap) {
  const struct msh_entry *e = msh_find(m, key);
  if (!e) return MESH_E_NOT_FOUND;
  if (e->value_len >= cap) return MESH_E_TOO_LARGE;
  memcpy(out, e->value, e->value_len);
  out[e->value_len] = 0;
  return 0;
}

int msh_get_hex(const struct msh *m, const char *key, uint8_t *out, size_t cap,
                size_t *len) {
  const struct msh_entry *e = msh_find(m, key);
  *len = 0;
  if (!e) return MESH_E_NOT_FOUND;
  if (e->value_len < 2 || e->value[0] != '0' ||
      (e->value[1] != 'x' && e->value[1] != 'X') || e->value_len % 2)
    return MESH_E_MALFORMED;
  size_t bytes = (e->value_len - 2) / 2;
  if (bytes > cap) return MESH_E_TOO_LARGE;
  int r = enc_unhex(e->value + 2, e->value_len - 2, out, bytes);
  if (r == 0) *len = bytes;
  return r;
}

const uint8_t MSH_EMBED_GUID[16] = {0xB9, 0x96, 0x01, 0x58, 0x80, 0x54,
                                    0x4A, 0x19, 0xB7, 0xF7, 0xE9, 0xBE,
                                    0x44, 0x91, 0x4C, 0x19};

int msh_embed(struct buf *b, const char *text, size_t n) {
  int r;
  if (n > MESH_MSH_MAX_BYTES) return MESH_E_TOO_LARGE;
  if ((r = buf_reserve(b, n + MSH_EMBED_TRAILER)) != 0 ||
      (r = buf_put(b, text, n)) != 0 ||
      (r = buf_put_u32be(b, (uint32_t)n)) != 0 ||
      (r = buf_put(b, MSH_EMBED_GUID, sizeof MSH_EMBED_GUID)) != 0)
    return r;
  return 0;
}

int msh_embedded(const uint8_t *file, size_t n, const char **text,
                 size_t *len) {
  *text = NULL;
  *len = 0;
  if (n < MSH_EMBED_TRAILER ||
      memcmp(file + n - 16, MSH_EMBED_GUID, sizeof MSH_EMBED_GUID) != 0)
    return MESH_E_NOT_FOUND;
  /* Big-endian, as the stock agent reads it (spec §3.3 warns that one
   * stock server helper reads it little-endian). */
  const uint8_t *l = file + n - MSH_EMBED_TRAILER;
  uint32_t m =
      (uint32_t)l[0] << 24 | (uint32_t)l[1] << 16 | (uint32_t)l[2] << 8 | l[3];
  if (m > MESH_MSH_MAX_BYTES) return MESH_E_TOO_LARGE;
  if (m > n - MSH_EMBED_TRAILER) return MESH_E_MALFORMED;
  *text = (const char *)(l - m);
  *len = m;
  return 0;
}
