/*
 * srv.h - the meshd server: one libuv loop, one HTTPS port, the agent
 * control channel, and the state they share.
 */
#ifndef MESH_SERVER_SRV_H
#define MESH_SERVER_SRV_H

#include <openssl/ssl.h>
#include <stdint.h>
#include <uv.h>

#include "base/enc.h"
#include "base/strmap.h"
#include "crypto/cert.h"
#include "crypto/seal.h"
#include "proto/cc_handshake.h"
#include "settings.h"
#include "store.h"

/* Agent-server identities a server can prove: its own plus any imported
 * (for example from a MeshCentral server whose fleet moves over). */
#define SRV_MAX_IDENTS 8

struct srv_keys {
  struct ident root;                  /* signs the web certificate */
  struct ident web;                   /* the HTTPS certificate */
  struct ident agent[SRV_MAX_IDENTS]; /* agent-server identities */
  struct cc_server_ident cc[SRV_MAX_IDENTS];
  uint8_t *agent_der[SRV_MAX_IDENTS]; /* owned DER of agent[i].cert */
  int n_agent;
  uint8_t web_cert_hash[CC_HASH_LEN];
  uint8_t web_key_hash[CC_HASH_LEN];
  /* base64 SHA-256 of the web certificate's public key (SPKI DER): what
   * curl --pinnedpubkey and meshctl compare. */
  char web_pin[ENC_B64_LEN(32) + 1];
  /* Seals relay cookies and install links (crypto/seal.h); kept in
   * cookie.key (0600) so tokens outlive a restart. */
  uint8_t cookie_key[SEAL_KEY_LEN];
};

/* Loads the keys from the data folder, creating on first start what is
 * missing (web certificate for name, agent-server identity RSA-3072).
 * Private keys are written 0600. */
int srv_keys_load(const char *data_dir, const char *name, struct srv_keys *k);
void srv_keys_cleanup(struct srv_keys *k);
/* The ServerID text agents hold: upper-case hex of the primary
 * agent-server KeyHash (97 bytes with NUL). */
void srv_keys_server_id(const struct srv_keys *k, char out[97]);

struct srv_config {
  const char *data_dir;
  const char *bind;
  int port;
  const char *name;       /* host name in certificates and .msh URLs */
  uint64_t agent_idle_ms; /* a silent agent is dropped after this */
  uint64_t auth_ms;       /* handshake must complete within this */
  const char *web_dir;    /* the browser app's static files (srv_web.c);
                             NULL serves nothing (404) */
  int agent_update_core;  /* update JavaScript agents by the recovery core
                             (spec §6.5) instead of natively (update.h) */
  const char *db;         /* a PostgreSQL conninfo, or NULL (srv_data.c) */
};

struct srv {
  uv_loop_t *loop;
  struct srv_config cfg;
  struct srv_keys keys;
  struct store *store;
  SSL_CTX *tls;
  struct http_srv *http;
  struct strmap agents; /* node id -> struct agent_conn, admitted only */
  struct ctl_session *ctl_sessions; /* signed-in user connections */
  struct auth_throttle *throttle;   /* sign-in attempts */
  size_t n_conns;                   /* agent connections, admitted or not */
  size_t api_jobs;                  /* /api requests waiting on the pool */
  int setup_busy;                   /* a first-account setup is hashing */
  int lock_fd;
  struct relay *relay;      /* relay.c: tunnels of /meshrelay.ashx */
  struct settings settings; /* cached; written through settings_set */
  uv_timer_t purge_timer;   /* hourly: events past their retention */
  struct agent_bins *bins;  /* update.h: agent binaries per architecture */
  int n_updates;            /* native agent updates running */
  struct cluster *cluster;  /* cluster.h: on PostgreSQL, else NULL */
};

int srv_start(struct srv *s, uv_loop_t *loop, const struct srv_config *cfg);
/* Closes every socket; the loop then runs dry. */
void srv_stop(struct srv *s);
/* Frees what srv_start made; call after the loop ran dry. */
void srv_cleanup(struct srv *s);

/* The agent control channel (srv_agent.c). */
struct ws;
struct http_conn;
struct http_req;

/* Browser request helpers (srv.c), shared by /control.ashx and /api. */

/* Nonzero if req may act on this server's behalf: it has no Origin header
 * (not a browser, e.g. meshctrl), or its Origin is exactly
 * "https://" + its Host header (case-insensitive). Anything else, "null"
 * included, is another site using a signed-in browser's cookie (cross-site
 * WebSocket hijacking, CSRF) and gets 0. There is deliberately no setting
 * to turn this off. req is borrowed. Pure; callable from any callback. */
int srv_same_origin(const struct http_req *req);

/* Copies the value of the cookie called name from a Cookie header value
 * (borrowed, may be NULL) into out (cap bytes, NUL-terminated). Returns 0,
 * MESH_E_NOT_FOUND when absent, MESH_E_TOO_LARGE when it does not fit. */
int srv_cookie_value(const char *header, const char *name, char *out,
                     size_t cap);
void srv_agent_accept(struct srv *s, struct http_conn *c,
                      const struct http_req *req);
/* Closes the agent connection of node_id, if any, with reason. */
void srv_agent_kick(struct srv *s, const char *node_id, const char *reason);
/* Sends msg (borrowed) to the admitted agent of node_id (bare id) as one
 * JSON message, the way the agent's other JSON goes. Returns 0,
 * MESH_E_NOT_FOUND when that agent is not connected, MESH_E_NOMEM, or
 * the ws_send error (the connection then closes). */
struct json_t;
int srv_agent_send_json(struct srv *s, const char *node_id, struct json_t *msg);

/* The core state of node_id's admitted agent connection (cores.h), or
 * NULL when it is not connected. */
struct cores_conn;
struct cores_conn *srv_agent_cores(struct srv *s, const char *node_id);

/* Data folder helpers (srv_data.c). */
/* Joins dir and name into out; MESH_E_TOO_LARGE if it does not fit. */
int srv_path(char *out, size_t cap, const char *dir, const char *name);
/* Creates the data folder 0700 if missing. */
int srv_data_dir_init(const char *dir);
/* Takes the data folder's lock; MESH_E_INVALID if another meshd holds it.
 * Returns the fd through *fd. */
int srv_lock(const char *dir, int *fd);
/* Nonzero if a running meshd holds the data folder's lock. */
int srv_is_running(const char *dir);
/* Opens the data folder's store: the PostgreSQL database named by
 * conninfo (then saved, 0600, as the folder's database.conf, so that
 * later runs and the offline commands use it too), else the one its
 * database.conf names, else SQLite in meshd.db. */
struct store;
int srv_open_store(const char *dir, const char *conninfo, struct store **out);

#endif
