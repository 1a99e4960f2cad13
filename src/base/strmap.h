/*
 * strmap.h - a hash map from NUL-terminated strings to pointers, with open
 * addressing and linear probing. Keys are copied; values are borrowed.
 */
#ifndef MESH_STRMAP_H
#define MESH_STRMAP_H

#include <stddef.h>

struct strmap_slot {
  char *key; /* owned; NULL = empty */
  void *value;
  int tomb; /* deleted, keep probing past it */
};

struct strmap {
  struct strmap_slot *slots;
  size_t cap, len, used; /* used counts live keys plus tombstones */
};

void strmap_init(struct strmap *m);
void strmap_cleanup(struct strmap *m);
/* Returns the value for key or NULL. */
void *strmap_get(const struct strmap *m, const char *key);
/* Sets key to value, replacing any old value. 0 or MESH_E_NOMEM. */
int strmap_set(struct strmap *m, const char *key, void *value);
/* Removes key; returns its value or NULL. */
void *strmap_del(struct strmap *m, const char *key);

#endif
