/*
 * conn.c - the agent's control channel: connect, authenticate, answer, and
 * reconnect with capped, jittered exponential back-off so that a fleet does
 * not come back in the same second after a server restart.
 *
 * Only one connection exists at a time. RSA work runs on the thread pool;
 * its result carries the connection's generation number and is dropped if
 * that connection has gone meanwhile.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "agent/core.h"
#include "agent/kvm.h"
#include "agent/tunnel.h"
#include "agent/update.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/hash.h"
#include "crypto/rand.h"
#include "net/crypto_job.h"
#include "net/tls.h"
#include "net/ws.h"
#include "proto/agenthash.h"

/* The architecture id we report (spec §9.1): 6 = Linux x86-64. A stock
 * server then asks for our binary hash, and 48 zero bytes keep it from
 * replacing us with its own agent. */
#define AGENT_ARCH_ID 6
#ifndef MESHAGENT_COMMIT_DATE
#define MESHAGENT_COMMIT_DATE "2026-Nov-25 00:00:00+0000"
#endif

static void connect_now(struct agent *a);

uint64_t agent_backoff_next(uint64_t t, uint32_t r) {
  if (t == 0)
    return MESH_BACKOFF_FIRST_MIN_MS +
           r % (MESH_BACKOFF_FIRST_MAX_MS - MESH_BACKOFF_FIRST_MIN_MS);
  uint64_t next = t + r % t;
  if (t >= MESH_BACKOFF_CAP_MIN_MS || next >= MESH_BACKOFF_CAP_MAX_MS)
    return MESH_BACKOFF_CAP_MIN_MS +
           r % (MESH_BACKOFF_CAP_MAX_MS - MESH_BACKOFF_CAP_MIN_MS);
  return next;
}

static void on_retry(uv_timer_t *t) { connect_now(t->data); }

static void schedule_retry(struct agent *a) {
  uint32_t r = 0;
  rand_bytes(&r, sizeof r);
  a->backoff_ms = agent_backoff_next(a->backoff_ms, r);
  a->server_index = (a->server_index + 1) % a->cfg.n_servers;
  log_info("event=retry delay_ms=%llu", (unsigned long long)a->backoff_ms);
  uv_timer_start(&a->retry, on_retry, a->backoff_ms, 0);
}

/* A thread-pool job's ticket: which connection it was for. */
struct ticket {
  struct agent *a;
  unsigned gen;
};

static struct ticket *ticket_new(struct agent *a) {
  struct ticket *t = malloc(sizeof *t);
  if (t) *t = (struct ticket){a, a->conn_gen};
  return t;
}

/* Returns the agent if the ticket's connection is still the current one. */
static struct agent *ticket_take(struct ticket *t) {
  struct agent *a = t->a;
  int live = a->ws && a->conn_gen == t->gen && !a->stopping;
  free(t);
  return live ? a : NULL;
}

static void fail(struct agent *a, int r, const char *what) {
  log_warn("event=handshake_failed url=%s what=\"%s\" reason=\"%s\"",
           a->cfg.urls[a->server_index], what, mesh_strerror(r));
  if (a->ws) ws_close(a->ws, 1008, what);
}

static void cc_send(void *data, const uint8_t *p, size_t n) {
  struct agent *a = data;
  if (a->ws) ws_send(a->ws, WS_BINARY, p, n);
}

static void on_signed(int status, const uint8_t *sig, size_t len, void *data) {
  struct agent *a = ticket_take(data);
  if (!a) return;
  int r = status ? status : cc_agent_signed(&a->cc, sig, len);
  if (r) fail(a, r, "sign");
}

static void cc_sign(void *data, const uint8_t msg[CC_SIGNED_LEN]) {
  struct agent *a = data;
  struct ticket *t = ticket_new(a);
  int r =
      t ? crypto_job_sign(a->loop, a->id.key, msg, CC_SIGNED_LEN, on_signed, t)
        : MESH_E_NOMEM;
  if (r) fail(a, r, "queue sign");
}

static void on_verified(int status, const uint8_t key_hash[CC_HASH_LEN],
                        void *data) {
  struct agent *a = ticket_take(data);
  if (!a) return;
  int r = cc_agent_verified(&a->cc, status == 0, key_hash);
  if (r) fail(a, r, "server signature or ServerID");
}

static void cc_verify(void *data, const uint8_t *cert, size_t cert_len,
                      const uint8_t *sig, size_t sig_len,
                      const uint8_t msg[CC_SIGNED_LEN]) {
  struct agent *a = data;
  struct ticket *t = ticket_new(a);
  int r = t ? crypto_job_verify(a->loop, cert, cert_len, sig, sig_len, msg,
                                CC_SIGNED_LEN, on_verified, t)
            : MESH_E_NOMEM;
  if (r) fail(a, r, "queue verify");
}

static void cc_pin(void *data, const uint8_t hash[CC_HASH_LEN]) {
  struct agent *a = data;
  memcpy(a->pinned, hash, CC_HASH_LEN);
  a->has_pin = 1;
  int r = agent_db_set(a->db, "ServerTlsCertHash", hash, CC_HASH_LEN);
  if (r) log_warn_r(r, "event=pin_store_failed");
}

static void cc_connected(void *data, int skipped) {
  struct agent *a = data;
  a->backoff_ms = 0;
  log_info("event=authenticated url=%s node=%s server_sig=%s",
           a->cfg.urls[a->server_index], a->node_id,
           skipped ? "skipped" : "verified");
  core_connected(a, 1);
  agent_update_authenticated(a);
  /* A stock server learns what a device offers from its core's coreinfo
   * (its web app shows the Desktop, Terminal and Files tabs only for these
   * bits; the AuthInfo bits of a known device are not updated). The
   * desktop is offered only when there is an X display to capture, as the
   * stock core does. Against meshd a core sends its own. */
  if (!a->cfg.server_is_meshd) {
    char display[128];
    const char *why;
    int caps = CC_CAP_TERMINAL | CC_CAP_FILES;
    if (kvm_find_display(display, sizeof display, &why) == 0)
      caps |= CC_CAP_DESKTOP;
    agent_send_json(
        a, json_pack("{s:s, s:i}", "action", "coreinfo", "caps", caps));
  }
}

static const struct cc_agent_ops agent_cc_ops = {
    .send = cc_send,
    .sign = cc_sign,
    .verify = cc_verify,
    .pin = cc_pin,
    .connected = cc_connected,
};

static void on_open(struct ws *w, void *data) {
  struct agent *a = data;
  uint8_t ch[CC_HASH_LEN], kh[CC_HASH_LEN], nonce[CC_NONCE_LEN];
  X509 *peer = ws_peer_cert(w);
  int r = peer ? 0 : MESH_E_AUTH;
  if (r == 0) r = hash_cert(peer, ch);
  if (r == 0) r = hash_cert_key(peer, kh);
  if (r == 0) r = rand_bytes(nonce, sizeof nonce);
  if (r) {
    fail(a, r, "no server TLS certificate");
    return;
  }
  /* Kept for tunnels: a relay must present this same certificate. */
  memcpy(a->server_cert_hash, ch, CC_HASH_LEN);
  a->has_server_cert_hash = 1;
  struct cc_agent_config *c = &a->cc_cfg;
  memset(c, 0, sizeof *c);
  memcpy(c->server_id, a->cfg.server_ids[a->server_index], CC_HASH_LEN);
  c->pinned = a->has_pin ? a->pinned : NULL;
  c->cert_der = a->cert_der;
  c->cert_len = a->cert_len;
  c->info = (struct cc_auth_info){
      .info_version = 1,
      .agent_id = AGENT_ARCH_ID,
      /* Tells meshd this is meshagent, which it may update; a stock
       * server gets 0, as from its own agent. */
      .agent_version = a->cfg.server_is_meshd ? AGENT_VERSION_MESHAGENT : 0,
      .platform_type = 1,
      /* JAVASCRIPT only when cores run: against meshd (core.h). */
      .caps = a->cfg.caps_extra | (a->core ? CC_CAP_JAVASCRIPT : 0),
      .hostname = (const uint8_t *)a->hostname,
      .hostname_len = strlen(a->hostname),
  };
  memcpy(c->info.mesh_id, a->cfg.mesh_id, 48);
  c->commit_date = MESHAGENT_COMMIT_DATE;
  c->host_info = a->host_info;
  c->tag = a->cfg.tag;
  ws_set_keepalive(w, a->cfg.idle_ms, MESH_AGENT_PONG_MS);
  log_info("event=connected url=%s pinned=%s", a->cfg.urls[a->server_index],
           c->pinned && !memcmp(c->pinned, ch, CC_HASH_LEN) ? "match" : "no");
  if (a->cfg.agent_name) {
    json_t *j = json_pack("{s:s, s:s}", "action", "agentName", "value",
                          a->cfg.agent_name);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    /* Sent before AuthInfo, as the stock agent does, so the server can
     * name a new device with it. */
    if (s) ws_send(w, WS_TEXT, s, strlen(s));
    free(s);
    json_decref(j);
  }
  r = cc_agent_start(&a->cc, &agent_cc_ops, a, c, ch, kh, nonce);
  if (r) fail(a, r, "start");
}

int agent_send_json(struct agent *a, json_t *j) {
  char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
  int r = MESH_E_CLOSED;
  if (s && a->ws && cc_agent_open(&a->cc))
    r = ws_send(a->ws, WS_TEXT, s, strlen(s));
  free(s);
  json_decref(j);
  return r;
}

const char *agent_server_url(const struct agent *a) {
  return a->cfg.urls[a->server_index];
}

static void on_server_json(struct agent *a, const uint8_t *p, size_t n) {
  json_t *j = json_loadb((const char *)p, n, 0, NULL);
  const char *action = NULL, *type = NULL;
  if (j && json_unpack(j, "{s:s}", "action", &action) == 0) {
    if (strcmp(action, "ping") == 0) {
      static const char pong[] = "{\"action\":\"pong\"}";
      ws_send(a->ws, WS_TEXT, pong, sizeof pong - 1);
    } else if (core_on_json(a, p, n)) {
      /* the running core handles the rest, msg/tunnel included */
    } else if (strcmp(action, "msg") == 0 &&
               json_unpack(j, "{s:s}", "type", &type) == 0 &&
               strcmp(type, "tunnel") == 0) {
      tunnel_request(a, j);
    } else {
      log_debug("event=server_json action=\"%.32s\" ignored=1", action);
    }
  }
  json_decref(j);
}

int agent_coreless_reply(const uint8_t *p, size_t n, struct buf *out) {
  uint16_t cmd, req;
  const uint8_t *body;
  size_t len;
  static const uint8_t no_hash[CC_HASH_LEN];
  if (cc_parse_request(p, n, &cmd, &req, &body, &len) != 0) return 0;
  switch (cmd) {
    case CC_AGENT_HASH: /* zeros: "do not update me" */
      return cc_put_request(out, CC_AGENT_HASH, req, no_hash, sizeof no_hash) ==
             0;
    case CC_CORE_MODULE_HASH: /* no core stored */
    case CC_CORE_MODULE:      /* no JavaScript engine: report none */
      return cc_put_request(out, CC_CORE_MODULE_HASH, req, NULL, 0) == 0;
    default:
      return 0;
  }
}

static void on_server_command(struct agent *a, const uint8_t *p, size_t n) {
  struct buf b;
  if (core_on_command(a, p, n)) return;
  if (agent_update_command(a, p, n)) return;
  buf_init(&b, 64);
  if (agent_coreless_reply(p, n, &b))
    ws_send(a->ws, WS_BINARY, b.data, b.len);
  else
    log_debug("event=server_command cmd=%d ignored=1", cc_msg_type(p, n));
  buf_cleanup(&b);
}

static void on_message(struct ws *w, enum ws_type t, const uint8_t *p, size_t n,
                       void *data) {
  struct agent *a = data;
  (void)w;
  (void)t;
  int r = cc_agent_feed(&a->cc, p, n);
  if (r < 0) {
    fail(a, r, "server message");
  } else if (r == CC_PASS) {
    if (p[0] == '{')
      on_server_json(a, p, n);
    else
      on_server_command(a, p, n);
  }
}

static void on_close(struct ws *w, int code, const char *reason, void *data) {
  struct agent *a = data;
  (void)w;
  a->ws = NULL;
  core_connected(a, 0);
  agent_update_disconnected(a);
  log_info("event=disconnected url=%s code=%d reason=\"%s\"",
           a->cfg.urls[a->server_index], code, reason ? reason : "");
  if (!a->stopping) schedule_retry(a);
}

static const struct ws_cbs agent_ws_cbs = {
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
};

static void connect_now(struct agent *a) {
  a->conn_gen++;
  const char *url = a->cfg.urls[a->server_index];
  int r = ws_connect(a->loop, url, a->tls, MESH_AGENT_CONNECT_MS, &agent_ws_cbs,
                     a, &a->ws);
  if (r) {
    a->ws = NULL;
    log_warn_r(r, "event=connect_failed url=%s", url);
    schedule_retry(a);
  }
}

/* "<OS name> - <arch>" for command 31, from /etc/os-release. */
static void read_host_info(char *out, size_t cap) {
  char line[256], name[96] = "Linux";
  FILE *f = fopen("/etc/os-release", "r");
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, "PRETTY_NAME=", 12) != 0) continue;
    char *v = line + 12, *e;
    if (*v == '"') v++;
    if ((e = strpbrk(v, "\"\n"))) *e = 0;
    snprintf(name, sizeof name, "%.*s", (int)sizeof name - 1, v);
  }
  if (f) fclose(f);
  snprintf(out, cap, "%s - x64", name);
}

int agent_start(struct agent *a, uv_loop_t *loop, const char *msh_path,
                const char *db_path) {
  int r, created;
  uint8_t kh[CC_HASH_LEN], *pin = NULL;
  size_t pin_len = 0;
  memset(a, 0, sizeof *a);
  a->loop = loop;
  uv_timer_init(loop, &a->retry);
  a->retry.data = a;
  if ((r = agent_config_load(msh_path, &a->cfg)) != 0) return r;
  if ((r = agent_db_open(db_path, &a->db)) != 0) {
    log_error_r(r, "event=start what=database path=%s", db_path);
    return r;
  }
  if ((r = agent_db_identity(a->db, &a->id, &created)) != 0) {
    log_error_r(r, "event=start what=identity");
    return r;
  }
  struct buf der;
  buf_init(&der, 64 * 1024);
  if ((r = cert_to_der(a->id.cert, &der)) != 0 ||
      (r = hash_cert_key(a->id.cert, kh)) != 0) {
    buf_cleanup(&der);
    return r;
  }
  a->cert_der = der.data;
  a->cert_len = der.len;
  hash_to_b64mc(kh, a->node_id);
  if (agent_db_get(a->db, "ServerTlsCertHash", &pin, &pin_len) == 0 &&
      pin_len == CC_HASH_LEN) {
    memcpy(a->pinned, pin, CC_HASH_LEN);
    a->has_pin = 1;
  }
  free(pin);
  if (gethostname(a->hostname, sizeof a->hostname) != 0)
    snprintf(a->hostname, sizeof a->hostname, "unknown");
  a->hostname[MESH_CC_MAX_HOSTNAME] = 0;
  read_host_info(a->host_info, sizeof a->host_info);
  if (!(a->tls = tls_client_ctx_new())) return MESH_E_CRYPTO;
  uint32_t rnd = 0;
  rand_bytes(&rnd, sizeof rnd);
  a->server_index = (int)(rnd % (uint32_t)a->cfg.n_servers);
  if (a->cfg.server_is_meshd && (r = core_init(a)) != 0) return r;
  log_info("event=start node=%s identity=%s servers=%d", a->node_id,
           created ? "created" : "loaded", a->cfg.n_servers);
  if ((r = agent_update_start(a)) != 0)
    log_warn_r(r, "event=update_off reason=\"cannot prepare updates\"");
  connect_now(a);
  return 0;
}

void agent_stop(struct agent *a) {
  /* A signal may come after an update asked for a restart. */
  if (a->stopping) return;
  a->stopping = 1;
  tunnel_stop_all(a);
  core_stop(a);
  agent_update_stop(a);
  uv_close((uv_handle_t *)&a->retry, NULL);
  if (a->ws) ws_close(a->ws, 1001, "agent stopping");
}

void agent_cleanup(struct agent *a) {
  agent_config_cleanup(&a->cfg);
  agent_db_close(a->db);
  ident_cleanup(&a->id);
  free(a->cert_der);
  SSL_CTX_free(a->tls);
}
