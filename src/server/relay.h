/*
 * relay.h - /meshrelay.ashx: pairs a viewer's and an agent's WebSocket on
 * a tunnel id and copies messages between them (docs/sessions.md, spec
 * sessions.md §2).
 *
 * The tunnel id is registered first by the user's msg/tunnel request
 * (ctl_relay.c calls relay_register); then the viewer, authenticated by
 * its `auth` token or its session cookie, and the agent, carrying the
 * user's `rauth` token, join it in either order. When both are there
 * both get the text "c" ("cr" when the session is recorded) and every
 * message is copied with its type and boundaries (a viewer whose rights
 * restrict desktop input, or some protocol, is read and filtered first:
 * relay_guard.c); a side whose peer has
 * too much queued stops being read until the peer drains. When one side
 * leaves, the other is closed (1000 "peer closed") and the id is dead.
 *
 * Everything here runs on the loop thread.
 */
#ifndef MESH_SERVER_RELAY_H
#define MESH_SERVER_RELAY_H

#include <stdint.h>

#include "srv.h"

struct http_conn;
struct http_req;

/* Sets up s->relay (the tunnel table and its deadline timer). 0 or
 * MESH_E_NOMEM. */
int relay_start(struct srv *s);
/* Closes the deadline timer; the relay's sockets close with the HTTP
 * server's. */
void relay_stop(struct srv *s);
/* Frees s->relay; call after the loop ran dry. */
void relay_cleanup(struct srv *s);

/* The route: upgrades req and joins (or refuses) it. */
void srv_relay_accept(struct srv *s, struct http_conn *c,
                      const struct http_req *req);

/* Registers tunnel id (borrowed strings) for user_id on node_id in
 * group_id, for protocol proto, recording it when record is set. Returns
 * 0, MESH_E_INVALID (bad id), MESH_E_EXISTS (id in use), MESH_E_TOO_LARGE
 * (a cap), or MESH_E_NOMEM. */
int relay_register(struct srv *s, const char *id, const char *user_id,
                   const char *node_id, const char *group_id, int proto,
                   int record);
/* Forgets a registered id nobody joined yet (the request failed after
 * registering it). */
void relay_unregister(struct srv *s, const char *id);

/* Nonzero if device rights allow a relay session of protocol proto
 * (docs/sessions.md §3): REMOTECONTROL, and not NOTERMINAL for terminals
 * (1, 6, 8, 9), not NOFILES for files (4, 5); the desktop (2) takes
 * REMOTECONTROL or REMOTEVIEWONLY, without NODESKTOP; 0xFFFFFFFF always
 * passes.
 * Pure. */
int relay_rights_ok(uint32_t rights, int proto);

#endif
