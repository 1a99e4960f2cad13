/*
 * cluster.h - several meshd sharing one PostgreSQL database (design.md
 * "Scale"): each is a member with a row in servers and a heartbeat, holds
 * the devices whose agents connect to it, and hears the others' events.
 *
 * A server's id is random, made at its data folder's first start and
 * kept there (server-id): a restart after a crash knows which devices it
 * held and resets them at once, instead of waiting for its old row to go
 * stale. A copy of a data folder is refused while the original runs
 * (store_server_join). Devices of a server whose heartbeat is older than
 * CLUSTER_STALE_S are marked offline by any other.
 *
 * Events: an event one server stores is announced on the channel
 * CLUSTER_CHANNEL by its seq, and the others read it from the table and
 * push it to their signed-in sessions with the same visibility rule; an
 * agent's nodeconnect (not stored) travels as its fields. Sessions to an
 * agent on another server (messages, tunnels) are not routed yet.
 *
 * On SQLite there is one server: cluster_start only marks every device
 * offline, and the rest does nothing.
 */
#ifndef MESH_SERVER_CLUSTER_H
#define MESH_SERVER_CLUSTER_H

#include <stdint.h>

#include "proto/cluster_msg.h"

#define CLUSTER_CHANNEL "meshd_events"
#define CLUSTER_HEARTBEAT_MS 5000
#define CLUSTER_STALE_S 15 /* three heartbeats */
#define CLUSTER_RETRY_MIN_MS 1000
#define CLUSTER_RETRY_MAX_MS 30000

struct srv;

/* Joins (after the store is open): reads or makes the data folder's
 * server id, takes it in the database, resets the devices this server
 * and stale ones held, starts the heartbeat and the listening
 * connection (retried in the background if it fails now).
 * MESH_E_EXISTS when another running meshd has this id. */
int cluster_start(struct srv *s);
/* Stops the heartbeat and listening (handles closed on the loop). */
void cluster_stop(struct srv *s);
/* After the loop ran dry: leaves the cluster and frees. */
void cluster_free(struct srv *s);

/* Tells the other servers about a stored event, or an agent that came
 * (online 1) or went (0). Nothing on SQLite. */
void cluster_publish_event(struct srv *s, int64_t seq);
void cluster_publish_node(struct srv *s, const char *node_id,
                          const char *group_id, int online);

#endif
