/*
 * relay_table.h - the relay's tunnels, without any I/O (docs/sessions.md
 * §1-§2): which ids were registered by which user for which device, who
 * has joined, the deadlines and the caps. relay.c owns the sockets and
 * hangs them on a tunnel's `end` slots; this file only decides.
 *
 * A tunnel's life:
 *   register (msg/tunnel)  REGISTERED, deadline now + MESH_RELAY_REGISTER_MS
 *   first side joins       WAITING,    deadline now + MESH_RELAY_PAIR_MS
 *   second side joins      PAIRED,     no deadline
 *   either side leaves, or a deadline passes: the caller removes it, and
 *   the id is unknown from then on.
 * Ids are single use: a side that already joined, or any join to a paired
 * tunnel, is refused, and a removed id can only come back through a new
 * registration by a user entitled to it.
 *
 * Times are milliseconds on any monotonic clock (uv_now). Strings passed
 * in are borrowed and copied. Not thread-safe; loop thread only.
 */
#ifndef MESH_SERVER_RELAY_TABLE_H
#define MESH_SERVER_RELAY_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/mesh_limits.h"
#include "base/strmap.h"

enum relay_side { RELAY_VIEWER = 0, RELAY_AGENT = 1 };
enum relay_state { RELAY_REGISTERED, RELAY_WAITING, RELAY_PAIRED };

#define RELAY_USER_MAX 80 /* "user//" + a user name, with room */
#define RELAY_NODE_MAX 65 /* a bare 64-character node or group id */

struct relay_tunnel {
  char id[MESH_RELAY_MAX_ID + 1];
  char user_id[RELAY_USER_MAX];
  char node_id[RELAY_NODE_MAX];
  char group_id[RELAY_NODE_MAX];
  int proto;    /* the protocol asked for (advisory, spec §2.2) */
  int recorded; /* the session is to be recorded (set by the caller) */
  enum relay_state state;
  uint64_t deadline; /* REGISTERED and WAITING only */
  uint64_t paired_at;
  void *end[2]; /* the caller's per-side objects; borrowed; NULL = absent */
  struct recording *rec; /* the caller's (recording.c), or NULL */
};

struct relay_table {
  struct strmap ids;   /* id -> struct relay_tunnel (owned) */
  struct strmap users; /* user id -> struct relay_count (owned) */
  size_t total;
};

void relay_table_init(struct relay_table *t);
/* Frees every tunnel; their end slots are not touched. */
void relay_table_cleanup(struct relay_table *t);

/* Nonzero if id is an acceptable tunnel id: MESH_RELAY_MIN_ID to
 * MESH_RELAY_MAX_ID characters of [A-Za-z0-9]. */
int relay_id_ok(const char *id);

/* Registers id for user on node (in group) with protocol proto. Returns 0
 * and the new tunnel in *out (owned by the table); MESH_E_INVALID for a
 * bad id or an over-long user/node; MESH_E_EXISTS if the id is in use;
 * MESH_E_TOO_LARGE when the user has MESH_RELAY_MAX_PER_USER tunnels or
 * the table MESH_RELAY_MAX_TOTAL; MESH_E_NOMEM. */
int relay_table_register(struct relay_table *t, const char *id,
                         const char *user_id, const char *node_id,
                         const char *group_id, int proto, uint64_t now,
                         struct relay_tunnel **out);

/* Side joins id as user_id, bringing end (borrowed, non-NULL). Returns 0
 * with *out set: the tunnel is now WAITING (the other side is still
 * missing) or PAIRED (both are there). Refusals leave the tunnel as it
 * was: MESH_E_NOT_FOUND for an unknown id; MESH_E_TIMEOUT when its
 * deadline has passed; MESH_E_AUTH when user_id is not the user who
 * registered it; MESH_E_EXISTS when that side already joined or the
 * tunnel is paired. */
int relay_table_join(struct relay_table *t, const char *id,
                     enum relay_side side, const char *user_id, void *end,
                     uint64_t now, struct relay_tunnel **out);

/* Looks id up without changing anything; NULL when unknown. */
struct relay_tunnel *relay_table_get(struct relay_table *t, const char *id);

/* Removes tun (from relay_table_register/join) and frees it; the id is
 * unknown afterwards. */
void relay_table_remove(struct relay_table *t, struct relay_tunnel *tun);

/* Fills out (up to max) with the unpaired tunnels whose deadline passed
 * by now, without removing them. Returns how many. */
size_t relay_table_expired(struct relay_table *t, uint64_t now,
                           struct relay_tunnel **out, size_t max);

/* Tunnels the user has registered or open. */
size_t relay_table_user_count(const struct relay_table *t, const char *user_id);

#endif
