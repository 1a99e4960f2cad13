/*
 * update.h - agent binaries per architecture and the native agent update
 * (spec §6.3, §6.4, §9.1).
 *
 * meshd holds one meshagent binary per architecture id: an administrator
 * places it at DATA/agents/<id>/meshagent; for id 6 (Linux x86-64), when
 * no such file exists, the meshagent built beside meshd is used. A binary
 * is read and hashed (the §6.3 agent hash) the first time it is needed
 * and again only when its file changes (inode, size or mtime), so on the
 * loop the cost is one stat per use.
 *
 * Native update: when an agent that is a meshagent (it says so with
 * AGENT_VERSION_MESHAGENT in command 3, which it only does for a meshd)
 * reports an agent hash that is neither zero nor the hash of the binary
 * meshd holds for its architecture, meshd sends command 10 (clear core),
 * 13 (start), then the binary in blocks of command 14, one in flight at a
 * time, each sent when the previous one is acknowledged, and finally 13
 * with the hash. At most MESH_UPDATE_MAX_RUNNING updates run at once; an
 * agent over that limit is updated at a later connection. A stock agent
 * is never updated: its identity store is not meshagent's, so replacing
 * it would lose the device.
 */
#ifndef MESH_SERVER_UPDATE_H
#define MESH_SERVER_UPDATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "proto/agenthash.h"

struct srv;
struct ws;

/* An agent binary, shared: a running update holds a reference, so a
 * file replaced meanwhile does not change the bytes it sends. */
struct agent_bin {
  int refs;
  uint32_t arch;
  uint8_t *data; /* the binary without any embedded .msh */
  size_t len;
  uint8_t hash[AGENTHASH_LEN]; /* agent hash (§6.3) = SHA-384 of data */
  /* What the file was when read: a change means read again. */
  dev_t dev;
  ino_t ino;
  off_t size;
  long long mtime_ns;
};

/* The largest agent binary meshd reads. */
#define AGENT_BIN_MAX (64 * 1024 * 1024)

/* Returns in *out a new reference to the binary meshd holds for arch
 * (reading and hashing it if it is new or changed). 0, MESH_E_NOT_FOUND
 * (none for that id, or id 0), MESH_E_TOO_LARGE, MESH_E_IO, MESH_E_NOMEM.
 * Runs on the loop; blocks for the read and hash of a changed file. */
int agent_bins_get(struct srv *s, uint32_t arch, struct agent_bin **out);
void agent_bin_unref(struct agent_bin *b);
/* Frees the cache (srv_cleanup). */
void agent_bins_cleanup(struct srv *s);

/* One running update, owned by its control-channel connection. */
struct srv_update;

/*
 * Called with an agent's command-12 reply (hash, 48 bytes). If the agent
 * should be updated, starts the update on ws (borrowed; it must outlive
 * the update, i.e. call srv_update_stop from the connection's on_close)
 * and sets *out. node_id and peer are copied for logs. Returns 1 when an
 * update started, 0 when none is due (the caller goes on with cores),
 * or a negative code (nothing started).
 */
int srv_update_check(struct srv *s, struct ws *ws, const char *node_id,
                     const char *peer, uint32_t arch, uint32_t agent_version,
                     uint32_t caps, const uint8_t hash[AGENTHASH_LEN],
                     struct srv_update **out);

/* JSON from the agent while its update runs (msg borrowed): coreinfo
 * from the recovery core (answered with agentupdate), agentupdate-
 * downloaded, agentupdatefailed (logged; the recovery core is cleared).
 * Returns 1 when it was one of those. */
int srv_update_on_json(struct srv_update *u, json_t *msg, const char *action);

/* GET /api/agentupdate?t=<token>: the binary an agentupdate message
 * named, for the bearer of its sealed, short-lived token (given only to
 * an authenticated agent over its control channel). 403 for a bad or
 * expired token, 404 when meshd no longer holds a binary for it. */
struct http_conn;
struct http_req;
void srv_update_download(struct srv *s, struct http_conn *c,
                         const struct http_req *req);

/* A command 14 from the agent (its ack, body length body_len): sends the
 * next block or the end. Returns 0, or a negative code when the message
 * is not a valid ack (the caller closes the connection). */
int srv_update_on_ack(struct srv_update *u, uint16_t req, size_t body_len);

/* Ends the update (its connection closed); frees it once its timer is
 * closed. u may be NULL. */
void srv_update_stop(struct srv_update *u);

#endif
