/*
 * core.c - the agent's server-sent core (spec §6.1, core.h).
 *
 * Only the core's hash is kept in memory; the blob is read from the
 * database when the core starts, so a running agent holds one copy (the
 * runtime's) at most.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent/js/js.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/hash.h"
#include "net/ws.h"
#include "proto/cc.h"

struct agent_core {
  uv_timer_t wait; /* CoreOk wait for a stored core */
  uint8_t hash[CC_HASH_LEN];
  int stored;  /* a core is in the database */
  int pending; /* stored, not run yet: waiting for CoreOk */
};

/* ---------------------------------------------------------- the core */

static void reply(struct agent *a, uint16_t req) {
  struct buf b;
  buf_init(&b, 64);
  if (a->ws &&
      core_put_reply(&b, req, a->core->stored ? a->core->hash : NULL) == 0)
    ws_send(a->ws, WS_BINARY, b.data, b.len);
  buf_cleanup(&b);
}

static void on_js_stopped(struct agent *a, const char *why) {
  (void)a; /* the server hears of it from the runtime (coreerror) */
  log_warn("event=core_stopped reason=\"%s\"", why);
}

static void forget(struct agent *a);

/* Runs the stored core, replacing any running one. A stored core that no
 * longer matches its hash is deleted. */
static void run(struct agent *a) {
  struct agent_core *c = a->core;
  uint8_t *blob = NULL;
  size_t len = 0;
  c->pending = 0;
  uv_timer_stop(&c->wait);
  int r = agent_db_get(a->db, CORE_DB_KEY, &blob, &len);
  if (r == 0 && !core_blob_ok(blob, len, c->hash)) r = MESH_E_MALFORMED;
  if (r == 0) {
    struct js_opts o = {.on_stopped = on_js_stopped};
    r = js_start(a, (const char *)blob + CORE_HEADER, len - CORE_HEADER,
                 "meshcore", &o);
    log_info("event=core_start bytes=%zu result=\"%s\"", len - CORE_HEADER,
             r ? mesh_strerror(r) : "running");
  } else {
    log_warn_r(r, "event=core_start_failed");
    forget(a);
  }
  free(blob);
}

static void forget(struct agent *a) {
  struct agent_core *c = a->core;
  js_stop(a);
  uv_timer_stop(&c->wait);
  c->stored = c->pending = 0;
  /* The 4-byte header alone means none: db.c has no delete, and an empty
   * value reads back through a NULL blob pointer. */
  static const uint8_t none[CORE_HEADER];
  int r = agent_db_set(a->db, CORE_DB_KEY, none, sizeof none);
  if (r) log_warn_r(r, "event=core_delete_failed");
}

static void install(struct agent *a, const struct core_cmd *cmd) {
  struct agent_core *c = a->core;
  if (c->stored && memcmp(c->hash, cmd->hash, CC_HASH_LEN) == 0) return;
  if (!core_blob_ok(cmd->blob, cmd->len, cmd->hash)) {
    log_warn("event=core_refused reason=\"hash mismatch\" bytes=%zu", cmd->len);
    forget(a);
    return;
  }
  int r = agent_db_set(a->db, CORE_DB_KEY, cmd->blob, cmd->len);
  if (r) {
    log_warn_r(r, "event=core_store_failed");
    forget(a);
    return;
  }
  memcpy(c->hash, cmd->hash, CC_HASH_LEN);
  c->stored = 1;
  run(a); /* a new core runs at once (spec §6.1) */
}

int core_on_command(struct agent *a, const uint8_t *p, size_t n) {
  struct core_cmd cmd;
  if (!a->core) return 0;
  core_parse(p, n, &cmd);
  switch (cmd.op) {
    case CORE_OP_QUERY:
      break;
    case CORE_OP_INSTALL:
      install(a, &cmd);
      break;
    case CORE_OP_CLEAR:
      log_info("event=core_cleared");
      forget(a);
      break;
    case CORE_OP_OK:
      if (a->core->pending) run(a);
      return 1; /* no reply */
    default:
      return 0;
  }
  reply(a, cmd.req);
  return 1;
}

int core_on_json(struct agent *a, const uint8_t *p, size_t n) {
  if (!a->core || !js_running(a)) return 0;
  js_deliver_command(a, p, n);
  return 1;
}

void core_connected(struct agent *a, int up) {
  if (a->core && js_running(a)) js_deliver_connected(a, up);
}

static void on_wait(uv_timer_t *t) {
  struct agent *a = t->data;
  log_info("event=core_wait_over");
  if (a->core->pending) run(a);
}

int core_init(struct agent *a) {
  struct agent_core *c = calloc(1, sizeof *c);
  uint8_t *blob = NULL;
  size_t len = 0;
  if (!c) return MESH_E_NOMEM;
  a->core = c;
  uv_timer_init(a->loop, &c->wait);
  c->wait.data = a;
  if (agent_db_get(a->db, CORE_DB_KEY, &blob, &len) == 0 && len > CORE_HEADER) {
    hash_sha384(blob, len, c->hash);
    c->stored = c->pending = 1;
    uv_timer_start(&c->wait, on_wait, CORE_WAIT_MS, 0);
    log_info("event=core_stored bytes=%zu wait_ms=%d", len - CORE_HEADER,
             CORE_WAIT_MS);
  }
  free(blob);
  return 0;
}

void core_set_wait_ms(struct agent *a, uint64_t ms) {
  if (a->core && a->core->pending)
    uv_timer_start(&a->core->wait, on_wait, ms, 0);
}

static void on_wait_closed(uv_handle_t *h) {
  struct agent *a = h->data;
  free(a->core);
  a->core = NULL;
}

void core_stop(struct agent *a) {
  if (!a->core) return;
  js_stop(a);
  uv_close((uv_handle_t *)&a->core->wait, on_wait_closed);
}
