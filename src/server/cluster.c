/*
 * cluster.c - membership, heartbeat, device presence across servers and
 * the listening connection that carries the other servers' events
 * (cluster.h).
 *
 * Handles: the heartbeat timer, the retry timer and the poll on the
 * listening connection's socket. They are closed by cluster_stop and the
 * struct freed by cluster_free after the loop ran dry; a poll closed to
 * reconnect closes its connection in its close callback (libuv wants the
 * watched fd open until then).
 */
#include "cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/rand.h"
#include "ctl.h"
#include "db.h"
#include "srv.h"

#define SERVER_ID_FILE "server-id"

struct cluster {
  struct srv *srv;
  char id[CLUSTER_ID_LEN + 1];
  uv_timer_t heartbeat, retry;
  uv_poll_t poll;
  struct db_listen *listen; /* NULL while disconnected */
  int polling;              /* poll is initialised and not closed */
  uint64_t backoff_ms;
  int stopping;
};

/* ----------------------------------------------------------- server id */

static int id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

/* Reads the data folder's server id, making it on the first start. */
static int load_id(const char *dir, char out[CLUSTER_ID_LEN + 1]) {
  char path[4096];
  int r = srv_path(path, sizeof path, dir, SERVER_ID_FILE);
  if (r) return r;
  FILE *f = fopen(path, "re");
  if (f) {
    char line[64] = "";
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = 0;
    size_t n = strlen(line);
    for (size_t i = 0; ok && i < n; i++) ok = id_char(line[i]);
    if (!ok || n != CLUSTER_ID_LEN) {
      log_error("event=start what=%s reason=\"not %d letters and digits\"",
                SERVER_ID_FILE, CLUSTER_ID_LEN);
      return MESH_E_INVALID;
    }
    memcpy(out, line, n + 1);
    return 0;
  }
  if (errno != ENOENT) return MESH_E_IO;
  uint8_t raw[CLUSTER_ID_LEN / 2];
  if ((r = rand_bytes(raw, sizeof raw)) != 0) return r;
  enc_hex(raw, sizeof raw, out, 0);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return MESH_E_IO;
  int ok = write(fd, out, CLUSTER_ID_LEN) == CLUSTER_ID_LEN &&
           write(fd, "\n", 1) == 1;
  return close(fd) == 0 && ok ? 0 : MESH_E_IO;
}

/* ------------------------------------------------------------ presence */

static void on_reset(const char *node_id, const char *group_id, void *data) {
  struct srv *s = data;
  if (!node_id || !group_id) return;
  log_info("event=device_reset node=%s reason=\"its server is gone\"", node_id);
  events_node_state(s, node_id, group_id, 0, 0);
}

static void on_heartbeat(uv_timer_t *t) {
  struct cluster *c = t->data;
  struct store *st = c->srv->store;
  int r = store_server_heartbeat(st);
  if (r == MESH_E_NOT_FOUND) /* someone removed our row: back in */
    r = store_server_join(st, c->id, c->srv->cfg.name);
  if (r) log_warn_r(r, "event=cluster_heartbeat server=%s", c->id);
  r = store_devices_reset(st, 0, CLUSTER_STALE_S, on_reset, c->srv);
  if (r) log_warn_r(r, "event=cluster_sweep server=%s", c->id);
}

/* ------------------------------------------------------------- events */

void cluster_publish_event(struct srv *s, int64_t seq) {
  if (!s->cluster) return;
  char payload[64];
  snprintf(payload, sizeof payload, "%s e %" PRId64, s->cluster->id, seq);
  int r = db_notify(store_db(s->store), CLUSTER_CHANNEL, payload);
  if (r) log_warn_r(r, "event=cluster_publish seq=%" PRId64, seq);
}

void cluster_publish_node(struct srv *s, const char *node_id,
                          const char *group_id, int online) {
  if (!s->cluster) return;
  char payload[256];
  snprintf(payload, sizeof payload, "%s n %d %s %s", s->cluster->id,
           online ? 1 : 0, node_id, group_id);
  int r = db_notify(store_db(s->store), CLUSTER_CHANNEL, payload);
  if (r) log_warn_r(r, "event=cluster_publish node=%s", node_id);
}

static void on_payload(const char *payload, void *data) {
  struct cluster *c = data;
  struct cluster_msg m;
  if (cluster_msg_parse(payload, &m) != 0) {
    log_warn("event=cluster_notify_ignored reason=\"malformed\" len=%zu",
             strlen(payload));
    return;
  }
  if (strcmp(m.server, c->id) == 0) return; /* ours, pushed already */
  if (m.kind == 'e')
    events_deliver_stored(c->srv, m.seq);
  else
    events_deliver_node(c->srv, m.node, m.group, m.online);
}

/* ------------------------------------------------ listening connection */

static void listen_connect(struct cluster *c);

static void on_retry(uv_timer_t *t) { listen_connect(t->data); }

static void schedule_retry(struct cluster *c) {
  if (c->stopping) return;
  log_info("event=cluster_listen_retry in_ms=%" PRIu64, c->backoff_ms);
  uv_timer_start(&c->retry, on_retry, c->backoff_ms, 0);
  c->backoff_ms *= 2;
  if (c->backoff_ms > CLUSTER_RETRY_MAX_MS)
    c->backoff_ms = CLUSTER_RETRY_MAX_MS;
}

static void on_poll_closed(uv_handle_t *h) {
  struct cluster *c = h->data;
  db_listen_close(c->listen);
  c->listen = NULL;
  schedule_retry(c);
}

static void drop_listen(struct cluster *c) {
  if (!c->polling) return;
  c->polling = 0;
  uv_close((uv_handle_t *)&c->poll, on_poll_closed);
}

static void on_readable(uv_poll_t *p, int status, int events) {
  struct cluster *c = p->data;
  (void)events;
  if (status < 0 || db_listen_read(c->listen, on_payload, c) != 0)
    drop_listen(c);
}

static void listen_connect(struct cluster *c) {
  struct srv *s = c->srv;
  if (c->stopping) return;
  if (db_listen_open(store_db(s->store), CLUSTER_CHANNEL, &c->listen) != 0) {
    schedule_retry(c);
    return;
  }
  if (uv_poll_init(s->loop, &c->poll, db_listen_fd(c->listen)) != 0) {
    db_listen_close(c->listen);
    c->listen = NULL;
    schedule_retry(c);
    return;
  }
  c->poll.data = c;
  c->polling = 1;
  c->backoff_ms = CLUSTER_RETRY_MIN_MS;
  uv_poll_start(&c->poll, UV_READABLE, on_readable);
  log_info("event=cluster_listening channel=%s", CLUSTER_CHANNEL);
}

/* ---------------------------------------------------------- lifecycle */

int cluster_start(struct srv *s) {
  if (db_engine(store_db(s->store)) != DB_PG)
    return store_devices_all_offline(s->store);
  struct cluster *c = calloc(1, sizeof *c);
  if (!c) return MESH_E_NOMEM;
  c->srv = s;
  c->backoff_ms = CLUSTER_RETRY_MIN_MS;
  int r = load_id(s->cfg.data_dir, c->id);
  if (r == 0) r = store_server_join(s->store, c->id, s->cfg.name);
  if (r) {
    if (r == MESH_E_EXISTS)
      log_error(
          "event=start what=cluster server=%s reason=\"another running "
          "meshd has this server id (a copied data folder? remove its "
          "%s)\"",
          c->id, SERVER_ID_FILE);
    else
      log_error_r(r, "event=start what=cluster");
    free(c);
    return r;
  }
  s->cluster = c;
  uv_timer_init(s->loop, &c->heartbeat);
  uv_timer_init(s->loop, &c->retry);
  c->heartbeat.data = c->retry.data = c;
  /* What this server held before it stopped, and what dead ones held. */
  r = store_devices_reset(s->store, 1, CLUSTER_STALE_S, on_reset, s);
  if (r) log_warn_r(r, "event=cluster_sweep server=%s", c->id);
  uv_timer_start(&c->heartbeat, on_heartbeat, CLUSTER_HEARTBEAT_MS,
                 CLUSTER_HEARTBEAT_MS);
  log_info("event=cluster_joined server=%s name=%s", c->id, s->cfg.name);
  listen_connect(c);
  return 0;
}

static void close_timer(uv_timer_t *t) {
  if (t->loop && !uv_is_closing((uv_handle_t *)t))
    uv_close((uv_handle_t *)t, NULL);
}

void cluster_stop(struct srv *s) {
  struct cluster *c = s->cluster;
  if (!c) return;
  c->stopping = 1;
  close_timer(&c->heartbeat);
  close_timer(&c->retry);
  drop_listen(c);
}

void cluster_free(struct srv *s) {
  struct cluster *c = s->cluster;
  if (!c) return;
  db_listen_close(c->listen);
  store_server_leave(s->store);
  free(c);
  s->cluster = NULL;
}
