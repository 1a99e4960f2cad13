/*
 * cores.c - which JavaScript core each agent runs (spec §6.1, §6.2) and
 * what the core tells the server (coreinfo, netinfo, log, coreerror).
 *
 * The decision is the stock one, simplified: an agent that runs cores is
 * asked for its core hash (command 11) when admitted; on each reply the
 * server installs the core the device should run (command 10) when the
 * hashes differ, at most CORES_MAX_ATTEMPTS times per connection, or
 * sends CoreOk (16) when they match, then the "core is stable" follow-up
 * (§8.5). An administrator's change asks for the hash again, so the same
 * path puts it into effect.
 */
#include "cores.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/text.h"
#include "crypto/hash.h"
#include "net/ws.h"
#include "proto/agenthash.h"
#include "ctl.h"
#include "db.h"
#include "srv.h"

/* The default core lives beside the web app in the source tree. */
#define CORES_DEFAULT_PATH MESHD_WEB_DIR "/../cores/meshcore.js"
/* Longest texts kept from a core's reports. */
#define CORES_MAX_FIELD 256
#define CORES_MAX_LOG 4096
#define CORES_MAX_NETINFO (32 * 1024)

/* ------------------------------------------------------------ storage */

struct core_row {
  char mode[16]; /* "default", "none" or "custom" */
  char *js;      /* custom core text */
  char *info;    /* coreinfo JSON */
  char *netinfo; /* netinfo JSON */
  char *reported;
};

static void row_cleanup(struct core_row *r) {
  free(r->js);
  free(r->info);
  free(r->netinfo);
  free(r->reported);
  memset(r, 0, sizeof *r);
}

/* Reads the device's row; a device without one runs the default core. */
static void row_get(struct srv *s, const char *node_id, struct core_row *r) {
  struct db_stmt *st;
  const char *args[] = {node_id, NULL};
  memset(r, 0, sizeof *r);
  snprintf(r->mode, sizeof r->mode, "default");
  if (store_prep(s->store,
                 "SELECT mode,js,info,netinfo,reported FROM "
                 "device_cores WHERE node_id=?1",
                 &st, args) != 0)
    return;
  if (db_step(st) == DB_ROW) {
    const char *m = db_col_text(st, 0);
    if (m) snprintf(r->mode, sizeof r->mode, "%s", m);
    r->js = store_col_dup(st, 1);
    r->info = store_col_dup(st, 2);
    r->netinfo = store_col_dup(st, 3);
    r->reported = store_col_dup(st, 4);
  }
  db_finalize(st);
}

/* Sets one column of the device's row (creating it with mode default);
 * value NULL stores SQL NULL. column is one of our own literals, never
 * "mode" (mode_set). */
static int row_set(struct srv *s, const char *node_id, const char *column,
                   const char *value) {
  char sql[256];
  struct db_stmt *st;
  const char *args[] = {node_id, NULL};
  snprintf(sql, sizeof sql,
           "INSERT INTO device_cores(node_id,mode,%s) VALUES(?1,'default',?2)"
           " ON CONFLICT(node_id) DO UPDATE SET %s=excluded.%s",
           column, column, column);
  int r = store_prep(s->store, sql, &st, args);
  if (r == 0) {
    db_bind_text(st, 2, value);
    r = store_step(st, 0);
    db_finalize(st);
  }
  if (r) log_error("event=core_store_failed node=%s what=%s", node_id, column);
  return r;
}

static int mode_set(struct srv *s, const char *node_id, const char *mode,
                    const char *js) {
  struct db_stmt *st;
  const char *args[] = {node_id, mode, NULL};
  int r = store_prep(s->store,
                     "INSERT INTO device_cores(node_id,mode,js) "
                     "VALUES(?1,?2,?3) ON CONFLICT(node_id) DO UPDATE SET "
                     "mode=excluded.mode, js=excluded.js",
                     &st, args);
  if (r == 0) {
    db_bind_text(st, 3, js);
    r = store_step(st, 0);
    db_finalize(st);
  }
  if (r) log_error("event=core_store_failed node=%s what=mode", node_id);
  return r;
}

/* --------------------------------------------------------- core blobs */

/* blob = 4 zero bytes then the JavaScript (spec §6.1). */
static int blob_of(const char *js, size_t n, uint8_t **blob, size_t *len,
                   uint8_t hash[48]) {
  if (n > CORES_MAX_JS) return MESH_E_TOO_LARGE;
  uint8_t *b = malloc(n + 4);
  if (!b) return MESH_E_NOMEM;
  memset(b, 0, 4);
  memcpy(b + 4, js, n);
  hash_sha384(b, n + 4, hash);
  *blob = b;
  *len = n + 4;
  return 0;
}

int cores_default(uint8_t **blob, size_t *len, uint8_t hash[48]) {
  struct stat sb;
  *blob = NULL;
  *len = 0;
  int fd = open(CORES_DEFAULT_PATH, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return MESH_E_NOT_FOUND;
  int r = fstat(fd, &sb) == 0 ? 0 : MESH_E_IO;
  if (r == 0 && (sb.st_size < 0 || sb.st_size > CORES_MAX_JS))
    r = MESH_E_TOO_LARGE;
  char *js = r ? NULL : malloc((size_t)sb.st_size + 1);
  if (r == 0 && !js) r = MESH_E_NOMEM;
  if (r == 0 && read(fd, js, (size_t)sb.st_size) != sb.st_size) r = MESH_E_IO;
  close(fd);
  if (r == 0) r = blob_of(js, (size_t)sb.st_size, blob, len, hash);
  free(js);
  return r;
}

/* The core the device should run: 0 with *blob set, or 0 with *blob NULL
 * for "no core", or an error (the default core is missing). */
static int wanted(const struct core_row *row, uint8_t **blob, size_t *len,
                  uint8_t hash[48]) {
  *blob = NULL;
  if (strcmp(row->mode, "none") == 0) return 0;
  if (strcmp(row->mode, "custom") == 0 && row->js)
    return blob_of(row->js, strlen(row->js), blob, len, hash);
  return cores_default(blob, len, hash);
}

/* ------------------------------------------------------------ sending */

static void send_cmd(struct cores_conn *c, uint16_t cmd, const uint8_t *hash,
                     const uint8_t *blob, size_t len) {
  struct buf b;
  buf_init(&b, 64 + len);
  int r = buf_put_u16be(&b, cmd);
  if (r == 0) r = buf_put_u16be(&b, 0);
  if (r == 0 && hash) r = buf_put(&b, hash, 48);
  if (r == 0 && blob) r = buf_put(&b, blob, len);
  if (r == 0 && ws_send(c->ws, WS_BINARY, b.data, b.len) == 0 &&
      cmd != CC_CORE_OK)
    c->awaiting++; /* 10 and 11 are answered with an 11 */
  buf_cleanup(&b);
}

static void send_json(struct cores_conn *c, json_t *j) {
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  if (text) ws_send(c->ws, WS_BINARY, text, strlen(text));
  free(text);
  json_decref(j);
}

/* Device events caused by the agent or on its behalf: no user. */
static void device_event(struct cores_conn *c, const char *action,
                         const char *msg, json_t *extra) {
  char nid[96], mid[128];
  snprintf(nid, sizeof nid, "node//%s", c->node_id);
  snprintf(mid, sizeof mid, "mesh//%s", c->group_id);
  struct ev_scope sc = {NULL, c->group_id, c->node_id};
  json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s}", "etype", "node", "action",
                         action, "nodeid", nid, "meshid", mid, "msg", msg);
  if (ev && extra) json_object_update(ev, extra);
  json_decref(extra);
  if (ev) events_emit(c->srv, ev, &sc, 0);
}

/* "Core is stable" (§8.5): what meshd tells a core once it runs. */
static void core_stable(struct cores_conn *c) {
  if (c->stable) return;
  c->stable = 1;
  send_json(c,
            json_pack("{s:s, s:s}", "action", "serverInfo", "server", "meshd"));
}

/* ------------------------------------------------------------ decision */

enum cores_step cores_decide(const uint8_t *has, const uint8_t *want,
                             int attempts) {
  if (!has && !want) return CORES_NOTHING;
  if (has && want && memcmp(has, want, 48) == 0) return CORES_OK;
  if (attempts >= CORES_MAX_ATTEMPTS) return CORES_GIVE_UP;
  return want ? CORES_INSTALL : CORES_CLEAR;
}

void cores_admitted(struct cores_conn *c, struct srv *s, struct ws *ws,
                    const char *node_id, const char *group_id, uint32_t caps,
                    uint32_t agent_version) {
  memset(c, 0, sizeof *c);
  c->srv = s;
  c->ws = ws;
  c->node_id = node_id;
  c->group_id = group_id;
  /* The stock agent runs cores too, but its own kind: meshd's core needs
   * meshagent's modules (require('tunnel')). */
  c->javascript = (caps & CC_CAP_JAVASCRIPT) != 0 &&
                  agent_version == AGENT_VERSION_MESHAGENT;
  c->window_start = uv_now(s->loop);
  if (c->javascript) send_cmd(c, CC_CORE_MODULE_HASH, NULL, NULL, 0);
}

void cores_on_hash(struct cores_conn *c, const uint8_t *body, size_t len) {
  char hex[2 * 48 + 1];
  uint8_t want[48], *blob = NULL;
  size_t blob_len = 0;
  struct core_row row;
  if (!c->javascript || (len != 0 && len != 48)) return;
  /* Only replies to what we sent count: an agent repeating 11 on its own
   * would otherwise cost a database write and a core read each time. */
  if (c->awaiting == 0) {
    log_debug("event=core_hash_unasked node=%s", c->node_id);
    return;
  }
  c->awaiting--;
  if (len) enc_hex(body, 48, hex, 0);
  row_set(c->srv, c->node_id, "reported", len ? hex : NULL);
  row_get(c->srv, c->node_id, &row);
  int r = wanted(&row, &blob, &blob_len, want);
  if (r) {
    log_warn_r(r, "event=core_missing node=%s mode=%s", c->node_id, row.mode);
    row_cleanup(&row);
    return;
  }
  switch (cores_decide(len ? body : NULL, blob ? want : NULL, c->attempts)) {
    case CORES_NOTHING:
      break;
    case CORES_OK:
      c->attempts = 0;
      send_cmd(c, CC_CORE_OK, NULL, NULL, 0);
      core_stable(c);
      break;
    case CORES_GIVE_UP:
      log_warn("event=core_push_gave_up node=%s attempts=%d", c->node_id,
               c->attempts);
      break;
    case CORES_INSTALL:
    case CORES_CLEAR:
      c->attempts++;
      c->stable = 0;
      log_info("event=core_%s node=%s mode=%s bytes=%zu attempt=%d",
               blob ? "install" : "clear", c->node_id, row.mode, blob_len,
               c->attempts);
      send_cmd(c, CC_CORE_MODULE, blob ? want : NULL, blob, blob_len);
      break;
  }
  free(blob);
  row_cleanup(&row);
}

/* ---------------------------------------------------- reports of cores */

/* Errors and events are counted per window of CORES_ERROR_WINDOW_MS:
 * starts a new window when the current one is over. */
static void window_tick(struct cores_conn *c) {
  uint64_t now = uv_now(c->srv->loop);
  if (now - c->window_start >= CORES_ERROR_WINDOW_MS) {
    c->window_start = now;
    c->errors = c->events = 0;
  }
}

/* A copy of a string field, cleaned, cut at max bytes; NULL if absent. */
static json_t *clean_str(json_t *msg, const char *key, size_t max) {
  const char *v = json_string_value(json_object_get(msg, key));
  if (!v) return NULL;
  size_t n = strlen(v);
  char *t = strndup(v, n > max ? max : n);
  if (!t) return NULL;
  text_clean(t);
  json_t *j = json_string(t);
  free(t);
  return j;
}

static void on_coreinfo(struct cores_conn *c, json_t *msg) {
  json_t *info = json_object();
  static const char *const keys[] = {"value", "osdesc", "name"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    json_t *v = clean_str(msg, keys[i], CORES_MAX_FIELD);
    if (v) json_object_set_new(info, keys[i], v);
  }
  json_t *root = json_object_get(msg, "root");
  if (json_is_boolean(root)) json_object_set(info, "root", root);
  char *text = json_dumps(info, JSON_COMPACT);
  if (text) row_set(c->srv, c->node_id, "info", text);
  free(text);
  json_decref(info);
}

static void on_netinfo(struct cores_conn *c, json_t *msg) {
  json_t *n = json_object_get(msg, "netif2");
  char *text = json_is_object(n) ? json_dumps(n, JSON_COMPACT) : NULL;
  /* Stored as sent (it is only ever served back as JSON), within a
   * bound. */
  if (text && strlen(text) <= CORES_MAX_NETINFO)
    row_set(c->srv, c->node_id, "netinfo", text);
  free(text);
}

/* Sets the device to "no core" and clears the agent's. */
static void clear_failing(struct cores_conn *c, const char *why) {
  struct core_row row;
  row_get(c->srv, c->node_id, &row);
  int already = strcmp(row.mode, "none") == 0;
  row_cleanup(&row);
  if (already || mode_set(c->srv, c->node_id, "none", NULL) != 0) return;
  log_warn("event=core_cleared node=%s reason=\"%s\"", c->node_id, why);
  char msg[160];
  snprintf(msg, sizeof msg, "Core cleared by the server: %s", why);
  device_event(c, "coreclear", msg, NULL);
  c->attempts = 0;
  c->stable = 0;
  send_cmd(c, CC_CORE_MODULE, NULL, NULL, 0);
}

static void on_coreerror(struct cores_conn *c, json_t *msg) {
  json_t *text = clean_str(msg, "msg", CORES_MAX_LOG);
  int stopped = json_is_true(json_object_get(msg, "stopped"));
  c->errors++;
  if (c->events <= CORES_MAX_EVENTS) {
    char line[CORES_MAX_LOG + 32];
    snprintf(line, sizeof line, "Core error: %s",
             text ? json_string_value(text) : "(no message)");
    device_event(c, "coreerror", line, json_pack("{s:b}", "stopped", stopped));
  }
  json_decref(text);
  if (stopped)
    clear_failing(c, "the agent stopped it");
  else if (c->errors == CORES_MAX_ERRORS)
    clear_failing(c, "it keeps failing");
}

static void on_log(struct cores_conn *c, json_t *msg) {
  json_t *text = clean_str(msg, "msg", CORES_MAX_LOG);
  json_t *id = json_object_get(msg, "msgid");
  if (text && c->events <= CORES_MAX_EVENTS)
    device_event(c, "agentlog", json_string_value(text),
                 json_is_integer(id) ? json_pack("{s:O}", "msgid", id) : NULL);
  json_decref(text);
}

int cores_on_json(struct cores_conn *c, json_t *msg, const char *action) {
  window_tick(c);
  if (strcmp(action, "coreinfo") == 0) {
    on_coreinfo(c, msg);
  } else if (strcmp(action, "netinfo") == 0) {
    on_netinfo(c, msg);
  } else if (strcmp(action, "log") == 0) {
    c->events++;
    on_log(c, msg);
  } else if (strcmp(action, "coreerror") == 0) {
    c->events++;
    on_coreerror(c, msg);
  } else {
    return 0;
  }
  return 1;
}

/* ---------------------------------------------------- administrators */

int cores_set(struct srv *s, const char *node_id, const char *mode,
              const char *js) {
  int r = mode_set(s, node_id, mode, js);
  struct cores_conn *c = r ? NULL : srv_agent_cores(s, node_id);
  if (c && c->javascript) {
    /* A fresh start for the new choice: ask for the hash again. */
    c->attempts = 0;
    c->errors = 0;
    send_cmd(c, CC_CORE_MODULE_HASH, NULL, NULL, 0);
  }
  return r;
}

static json_t *parsed(const char *text) {
  json_t *j = text ? json_loads(text, 0, NULL) : NULL;
  return j ? j : json_null();
}

json_t *cores_info(struct srv *s, const char *node_id) {
  struct core_row row;
  row_get(s, node_id, &row);
  json_t *j =
      json_pack("{s:s, s:o, s:o, s:o}", "core", row.mode, "hash",
                row.reported ? json_string(row.reported) : json_null(),
                "coreinfo", parsed(row.info), "netif2", parsed(row.netinfo));
  if (j && row.js)
    json_object_set_new(j, "size", json_integer((json_int_t)strlen(row.js)));
  row_cleanup(&row);
  return j;
}

void cores_node_json(struct srv *s, const char *node_id, json_t *node) {
  struct core_row row;
  row_get(s, node_id, &row);
  json_t *info = row.info ? json_loads(row.info, 0, NULL) : NULL;
  json_t *agent = json_object_get(node, "agent");
  const char *value = json_string_value(json_object_get(info, "value"));
  const char *osdesc = json_string_value(json_object_get(info, "osdesc"));
  if (value && json_is_object(agent))
    json_object_set_new(agent, "core", json_string(value));
  if (osdesc) json_object_set_new(node, "osdesc", json_string(osdesc));
  json_decref(info);
  row_cleanup(&row);
}
