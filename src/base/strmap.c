#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

void strmap_init(struct strmap *m) { memset(m, 0, sizeof *m); }

void strmap_cleanup(struct strmap *m) {
  for (size_t i = 0; i < m->cap; i++) free(m->slots[i].key);
  free(m->slots);
  memset(m, 0, sizeof *m);
}

/* Returns the slot holding key, or NULL. */
static struct strmap_slot *find(const struct strmap *m, const char *key) {
  if (!m->cap) return NULL;
  for (size_t i = hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    struct strmap_slot *s = &m->slots[i];
    if (!s->key && !s->tomb) return NULL;
    if (s->key && strcmp(s->key, key) == 0) return s;
  }
}

void *strmap_get(const struct strmap *m, const char *key) {
  struct strmap_slot *s = find(m, key);
  return s ? s->value : NULL;
}

static int grow(struct strmap *m) {
  size_t cap = m->cap ? m->cap * 2 : 16;
  if (m->len * 2 < m->cap) cap = m->cap; /* only tombstones: rehash */
  struct strmap_slot *slots = calloc(cap, sizeof *slots);
  if (!slots) return MESH_E_NOMEM;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->slots[i].key) continue;
    size_t j = hash_str(m->slots[i].key) & (cap - 1);
    while (slots[j].key) j = (j + 1) & (cap - 1);
    slots[j] = m->slots[i];
  }
  free(m->slots);
  m->slots = slots;
  m->cap = cap;
  m->used = m->len;
  return 0;
}

int strmap_set(struct strmap *m, const char *key, void *value) {
  struct strmap_slot *s = find(m, key);
  if (s) {
    s->value = value;
    return 0;
  }
  if ((m->used + 1) * 4 > m->cap * 3) {
    int r = grow(m);
    if (r) return r;
  }
  char *k = strdup(key);
  if (!k) return MESH_E_NOMEM;
  size_t i = hash_str(key) & (m->cap - 1);
  while (m->slots[i].key) i = (i + 1) & (m->cap - 1);
  if (!m->slots[i].tomb) m->used++;
  m->slots[i] = (struct strmap_slot){k, value, 0};
  m->len++;
  return 0;
}

void *strmap_del(struct strmap *m, const char *key) {
  struct strmap_slot *s = find(m, key);
  if (!s) return NULL;
  void *v = s->value;
  free(s->key);
  *s = (struct strmap_slot){NULL, NULL, 1};
  m->len--;
  return v;
}
