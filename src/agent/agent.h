/*
 * agent.h - meshagent: one thread, one libuv loop, one control channel to
 * the server named in its .msh, reconnecting forever.
 */
#ifndef MESH_AGENT_AGENT_H
#define MESH_AGENT_AGENT_H

#include <jansson.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <uv.h>

#include "crypto/cert.h"
#include "proto/cc_handshake.h"

#define AGENT_MAX_SERVERS 8

/* ------------------------------------------------ local database (db.c) */

struct agent_db;
/* Opens (creating 0600) the agent's key/value database. */
int agent_db_open(const char *path, struct agent_db **out);
void agent_db_close(struct agent_db *db);
/* Reads a value into a malloc'd buffer (*out, *len). MESH_E_NOT_FOUND. */
int agent_db_get(struct agent_db *db, const char *key, uint8_t **out,
                 size_t *len);
int agent_db_set(struct agent_db *db, const char *key, const void *v,
                 size_t len);
/* Loads the agent's identity, creating it on first start. */
int agent_db_identity(struct agent_db *db, struct ident *out, int *created);

/* ----------------------------------------- configuration (config.c) */

struct agent_config {
  char *urls[AGENT_MAX_SERVERS]; /* MeshServer, split at commas */
  uint8_t server_ids[AGENT_MAX_SERVERS][CC_HASH_LEN];
  int n_servers;
  uint8_t mesh_id[48];
  char *mesh_name, *agent_name, *tag;
  uint32_t caps_extra; /* AgentCapabilities */
  uint64_t idle_ms;    /* controlChannelIdleTimeout */
  /* LocalConsent: consent bits (spec §9.2) this machine's owner adds to
   * every session, whatever the server asks. */
  uint32_t local_consent;
  /* ServerProduct=meshd: the server is meshd, so JavaScript cores and
   * self-update are enabled. Without it (a stock server) the agent stays
   * core-less and answers 48 zero bytes to command 12, so a stock server
   * never replaces it with the stock agent. */
  int server_is_meshd;
};
/* Reads the .msh at path. Returns 0 or a negative code with a message
 * already logged naming what is wrong. */
int agent_config_load(const char *path, struct agent_config *c);
void agent_config_cleanup(struct agent_config *c);
/* Writes the .msh embedded at the end of the binary exe (if any) to
 * msh_path, 0600, unless that file exists. Returns 0, MESH_E_NOT_FOUND
 * when the binary carries none, or another negative code (logged). */
int agent_config_extract(const char *exe, const char *msh_path);

/* ------------------------------------------ control channel (conn.c) */

struct ws;

struct agent {
  uv_loop_t *loop;
  struct agent_config cfg;
  struct agent_db *db;
  struct ident id;
  uint8_t *cert_der; /* owned DER of id.cert */
  size_t cert_len;
  char node_id[65];
  char hostname[256];
  char host_info[160];
  SSL_CTX *tls;
  /* The connection in progress, if any. */
  struct ws *ws;
  struct cc_agent cc;
  struct cc_agent_config cc_cfg;
  uint8_t pinned[CC_HASH_LEN];
  int has_pin;
  int server_index;
  int jobs;          /* RSA jobs on the pool for the current connection */
  unsigned conn_gen; /* bumps per connection: stale job results are dropped */
  int stopping;
  /* Reconnect back-off (spec §2.4). */
  uv_timer_t retry;
  uint64_t backoff_ms;
  /* Relay sessions (tunnel.c). A tunnel joins only a relay presenting the
   * certificate the control channel presented (spec §2.5). */
  uint8_t server_cert_hash[CC_HASH_LEN];
  int has_server_cert_hash;
  struct tunnel *tunnels; /* list of open tunnels */
  int n_tunnels;
  unsigned tunnel_serial; /* names tunnels in logs */
  /* The running JavaScript core's runtime (js/js.c), or NULL. */
  struct js *js;
  /* The server-sent core (core.c): set only when the server is meshd. */
  struct agent_core *core;
  /* Native self-update (update.c), and whether the loop ended so that
   * main() starts the (new) binary again. */
  struct agent_update *update;
  int restart;
};

/* Loads identity and config from dir, then connects and keeps connecting. */
int agent_start(struct agent *a, uv_loop_t *loop, const char *msh_path,
                const char *db_path);
/* Closes the connection and timers; the loop then runs dry. */
void agent_stop(struct agent *a);
void agent_cleanup(struct agent *a);

/* Sends j (stolen) as one JSON text message on the control channel, if
 * it is open and authenticated; returns 0 or MESH_E_CLOSED. */
int agent_send_json(struct agent *a, json_t *j);
/* The control channel URL of the current (or last) connection. */
const char *agent_server_url(const struct agent *a);

/* Returns the next reconnect delay after t (0 = first failure), within
 * MESH_BACKOFF_* bounds; r is a random 32-bit value. Pure, for tests. */
uint64_t agent_backoff_next(uint64_t t, uint32_t r);

/* What an agent without a JavaScript core and with updates off answers to
 * a server command (spec §6): 12 gets 48 zero bytes ("do not update me"),
 * 11 and 10 get "no core". Appends the reply to out and returns 1, or
 * returns 0 when the command needs no answer. Pure, shared with the load
 * generator. */
struct buf;
int agent_coreless_reply(const uint8_t *p, size_t n, struct buf *out);

#endif
