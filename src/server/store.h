/*
 * store.h - meshd's persistent state (db.h: SQLite or PostgreSQL): device
 * groups and devices. Every function runs a short statement synchronously;
 * callers on the loop keep to single-row work.
 *
 * Ids are the 64-character B64MC texts of the 48-byte group and node ids
 * (spec §8.1). Strings passed in are borrowed; strings in the structs that
 * store functions fill are owned by the struct and freed with the matching
 * _cleanup.
 */
#ifndef MESH_SERVER_STORE_H
#define MESH_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* Opens (creating 0600 if needed) the database at path and brings the
 * schema up to date. */
int store_open(const char *path, struct store **out);
/* The same on the PostgreSQL database named by the libpq connection
 * string conninfo (db.h). */
int store_open_pg(const char *conninfo, struct store **out);
/* Joins the cluster of servers sharing a PostgreSQL database (cluster.h)
 * as server id (borrowed; stable for a data folder) called name: its row
 * in servers with a fresh heartbeat, and from then on the devices whose
 * agents connect here are recorded as held by id. MESH_E_EXISTS when a
 * running meshd already joined with this id (a copied data folder).
 * Always 0 on SQLite: one server, whose data folder lock is enough. */
int store_server_join(struct store *st, const char *id, const char *name);
/* Renews this server's heartbeat (0 on SQLite); MESH_E_NOT_FOUND when
 * its row was removed. */
int store_server_heartbeat(struct store *st);
/* Removes this server's row: a clean stop (nothing on SQLite). */
void store_server_leave(struct store *st);
/* Marks offline the devices no running server holds: with own set
 * (at start) those this server held, and always those of servers whose
 * heartbeat is older than stale_s seconds or gone. cb gets each one's
 * node and group id (borrowed for the call). On SQLite: every device,
 * without callbacks (store_devices_all_offline). */
typedef void (*store_reset_cb)(const char *node_id, const char *group_id,
                               void *data);
int store_devices_reset(struct store *st, int own, int64_t stale_s,
                        store_reset_cb cb, void *data);
void store_close(struct store *st);
/* The database (borrowed, db.h), for the modules that keep their own
 * tables in it: users.c, events.c, cores.c, recording.c. */
struct db;
struct db_stmt;
struct db *store_db(struct store *st);
/* Their common steps. store_prep prepares sql and binds the
 * NULL-terminated list of texts (args may be NULL) to ?1, ?2, ...;
 * store_exec runs such a statement that returns no rows, and with
 * must_change set a statement that touched no row is MESH_E_NOT_FOUND;
 * store_col_dup is a malloc'd copy of a text column (NULL for SQL NULL
 * or no memory). */
int store_prep(struct store *st, const char *sql, struct db_stmt **s,
               const char *const *args);
int store_exec(struct store *st, const char *sql, const char *const *args,
               int must_change);
/* Steps a statement that returns no rows: 0, db_step's error, or
 * unchanged (a code, or 0 for "fine") when it changed no row. */
int store_step(struct db_stmt *s, int unchanged);
char *store_col_dup(struct db_stmt *s, int i);

/* Key/value settings (server name, port). *out is malloc'd. */
int store_meta_get(struct store *st, const char *key, char **out);
int store_meta_set(struct store *st, const char *key, const char *value);

struct store_group {
  char *id, *name, *desc, *creator_id,
      *creator_name; /* desc etc. may be NULL */
  int type;
  uint32_t flags, consent;
  int64_t created;     /* unix seconds */
  int record_sessions; /* terminal sessions are recorded (recording.h) */
};
void store_group_cleanup(struct store_group *g);
/* Creates a group with a fresh random 48-byte id; fills *out. desc and the
 * creator may be NULL. */
int store_group_create(struct store *st, const char *name, const char *desc,
                       const char *creator_id, const char *creator_name,
                       struct store_group *out);
/* Finds a group by id, or by exact name when by_name is set (the oldest of
 * that name). MESH_E_NOT_FOUND when absent. */
int store_group_get(struct store *st, const char *key, int by_name,
                    struct store_group *out);
/* Changes the fields given: NULL (or a negative number) keeps a field, an
 * empty desc clears it. MESH_E_NOT_FOUND for an unknown id. */
int store_group_update(struct store *st, const char *id, const char *name,
                       const char *desc, int64_t flags, int64_t consent);
/* Turns terminal session recording on or off for a group.
 * MESH_E_NOT_FOUND for an unknown id. */
int store_group_set_record(struct store *st, const char *id, int on);
/* Deletes the group with its devices and memberships. */
int store_group_delete(struct store *st, const char *id);

/* What an agent told us about itself when it was admitted. */
struct store_agent_seen {
  const char *node_id, *group_id, *name, *os, *commit_date;
  const char *addr; /* IP address */
  const char *peer; /* IP address and port */
  uint32_t platform, agent_id, caps;
};
/* Creates or updates the device; marks it online, held by this server
 * (store_server_join), with last/first seen times. The device's group is set
 * only when the device is new (*created set): an existing device keeps its
 * stored group (*group_out, malloc'd). */
int store_device_online(struct store *st, const struct store_agent_seen *a,
                        char **group_out, int *created);
/* Marks the device offline and records its last-seen time; on
 * PostgreSQL only if this server holds it: 1 (nothing changed) when
 * another server does (the agent moved there) or it is gone. */
int store_device_offline(struct store *st, const char *node_id);
/* Records the agent's binary hash (command 12 reply), as hex. */
int store_device_set_agent_hash(struct store *st, const char *node_id,
                                const char *hash_hex);
/* A user's edit: NULL keeps a field, an empty desc clears it, tags_json
 * is a JSON array text, icon 0 keeps. MESH_E_NOT_FOUND if unknown. */
int store_device_edit(struct store *st, const char *id, const char *name,
                      const char *desc, const char *tags_json, int icon);
int store_device_delete(struct store *st, const char *id);
/* Marks every device offline: run at start-up, since no agent can be
 * connected to a server that is not running. */
int store_devices_all_offline(struct store *st);

/* A device row as store_devices_each() hands it out: every pointer is
 * borrowed for the duration of the callback only, and may be NULL. */
struct store_device {
  const char *id, *group_id, *group_name, *name, *os, *commit_date, *agent_hash,
      *addr, *desc, *tags, *last_peer;
  uint32_t platform, agent_id, caps;
  int online, icon;
  int64_t first_seen, last_seen, last_connect; /* unix seconds */
};
typedef void (*store_device_cb)(const struct store_device *d, void *data);
/* Calls cb for every device, or those of one group, or one device (filters
 * NULL = any), ordered by group name then device name. */
int store_devices_each(struct store *st, const char *group_id,
                       const char *node_id, store_device_cb cb, void *data);

#endif
