/*
 * relay_table.c - the relay's tunnel table (relay_table.h).
 */
#include "relay_table.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

/* How many tunnels one user holds; freed when it drops to zero. */
struct relay_count {
  size_t n;
};

void relay_table_init(struct relay_table *t) {
  memset(t, 0, sizeof *t);
  strmap_init(&t->ids);
  strmap_init(&t->users);
}

void relay_table_cleanup(struct relay_table *t) {
  for (size_t i = 0; i < t->ids.cap; i++)
    if (t->ids.slots[i].key && !t->ids.slots[i].tomb)
      free(t->ids.slots[i].value);
  for (size_t i = 0; i < t->users.cap; i++)
    if (t->users.slots[i].key && !t->users.slots[i].tomb)
      free(t->users.slots[i].value);
  strmap_cleanup(&t->ids);
  strmap_cleanup(&t->users);
  memset(t, 0, sizeof *t);
}

int relay_id_ok(const char *id) {
  size_t n = 0;
  if (!id) return 0;
  for (; id[n]; n++) {
    char c = id[n];
    if (n >= MESH_RELAY_MAX_ID) return 0;
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9')))
      return 0;
  }
  return n >= MESH_RELAY_MIN_ID;
}

static int copy(char *dst, size_t cap, const char *src) {
  size_t n = src ? strlen(src) : 0;
  if (n >= cap) return MESH_E_INVALID;
  memcpy(dst, src ? src : "", n + 1);
  return 0;
}

size_t relay_table_user_count(const struct relay_table *t,
                              const char *user_id) {
  struct relay_count *c = strmap_get(&t->users, user_id);
  return c ? c->n : 0;
}

int relay_table_register(struct relay_table *t, const char *id,
                         const char *user_id, const char *node_id,
                         const char *group_id, int proto, uint64_t now,
                         struct relay_tunnel **out) {
  *out = NULL;
  if (!relay_id_ok(id) || !user_id || !*user_id) return MESH_E_INVALID;
  if (strmap_get(&t->ids, id)) return MESH_E_EXISTS;
  struct relay_count *c = strmap_get(&t->users, user_id);
  if (t->total >= MESH_RELAY_MAX_TOTAL ||
      (c && c->n >= MESH_RELAY_MAX_PER_USER))
    return MESH_E_TOO_LARGE;
  struct relay_tunnel *tun = calloc(1, sizeof *tun);
  if (!tun) return MESH_E_NOMEM;
  if (copy(tun->id, sizeof tun->id, id) != 0 ||
      copy(tun->user_id, sizeof tun->user_id, user_id) != 0 ||
      copy(tun->node_id, sizeof tun->node_id, node_id) != 0 ||
      copy(tun->group_id, sizeof tun->group_id, group_id) != 0) {
    free(tun);
    return MESH_E_INVALID;
  }
  tun->proto = proto;
  tun->state = RELAY_REGISTERED;
  tun->deadline = now + MESH_RELAY_REGISTER_MS;
  int fresh = !c;
  if (fresh &&
      (!(c = calloc(1, sizeof *c)) || strmap_set(&t->users, user_id, c) != 0)) {
    free(c);
    free(tun);
    return MESH_E_NOMEM;
  }
  if (strmap_set(&t->ids, id, tun) != 0) {
    if (fresh) free(strmap_del(&t->users, user_id));
    free(tun);
    return MESH_E_NOMEM;
  }
  c->n++;
  t->total++;
  *out = tun;
  return 0;
}

struct relay_tunnel *relay_table_get(struct relay_table *t, const char *id) {
  return id ? strmap_get(&t->ids, id) : NULL;
}

int relay_table_join(struct relay_table *t, const char *id,
                     enum relay_side side, const char *user_id, void *end,
                     uint64_t now, struct relay_tunnel **out) {
  *out = NULL;
  struct relay_tunnel *tun = relay_table_get(t, id);
  if (!tun) return MESH_E_NOT_FOUND;
  if (tun->state == RELAY_PAIRED || tun->end[side]) return MESH_E_EXISTS;
  if (now >= tun->deadline) return MESH_E_TIMEOUT;
  /* Both sides act for the one user who asked for the tunnel: the viewer
   * signed in as them, the agent carries their rcookie. */
  if (!user_id || strcmp(user_id, tun->user_id) != 0) return MESH_E_AUTH;
  tun->end[side] = end;
  if (tun->end[!side]) {
    tun->state = RELAY_PAIRED;
    tun->paired_at = now;
    tun->deadline = 0;
  } else {
    tun->state = RELAY_WAITING;
    tun->deadline = now + MESH_RELAY_PAIR_MS;
  }
  *out = tun;
  return 0;
}

void relay_table_remove(struct relay_table *t, struct relay_tunnel *tun) {
  if (strmap_get(&t->ids, tun->id) != tun) return;
  strmap_del(&t->ids, tun->id);
  struct relay_count *c = strmap_get(&t->users, tun->user_id);
  if (c && --c->n == 0) free(strmap_del(&t->users, tun->user_id));
  t->total--;
  free(tun);
}

size_t relay_table_expired(struct relay_table *t, uint64_t now,
                           struct relay_tunnel **out, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < t->ids.cap && n < max; i++) {
    struct strmap_slot *sl = &t->ids.slots[i];
    if (!sl->key || sl->tomb) continue;
    struct relay_tunnel *tun = sl->value;
    if (tun->state != RELAY_PAIRED && now >= tun->deadline) out[n++] = tun;
  }
  return n;
}
