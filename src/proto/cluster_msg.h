/*
 * cluster_msg.h - the payloads meshd servers sharing a PostgreSQL database
 * send each other by NOTIFY (server/cluster.h). Sans-I/O: text in, fields
 * out.
 */
#ifndef MESH_PROTO_CLUSTER_MSG_H
#define MESH_PROTO_CLUSTER_MSG_H

#include <stdint.h>

/* A NOTIFY payload, as cluster_publish_* write it:
 *   "<server id> e <seq>"                      a stored event
 *   "<server id> n <0|1> <node id> <group id>"  nodeconnect
 * Ids are letters, digits, '@' and '$' (hex, B64MC) of fixed lengths:
 * a node or group id is 64 (48 bytes as B64MC, or a legacy group's 32
 * bytes as hex). */
#define CLUSTER_ID_LEN 32 /* a server id: hex of 16 random bytes */
#define CLUSTER_NODE_LEN 64
struct cluster_msg {
  char server[CLUSTER_ID_LEN + 1];
  char kind; /* 'e' or 'n' */
  int64_t seq;
  int online;
  char node[CLUSTER_NODE_LEN + 1], group[CLUSTER_NODE_LEN + 1];
};
/* Parses payload (borrowed, NUL-terminated): 0, or MESH_E_MALFORMED
 * for anything else (a field of another length, missing, or extra). A
 * seq cut short still parses: PostgreSQL delivers payloads whole. Pure. */
int cluster_msg_parse(const char *payload, struct cluster_msg *m);

#endif
