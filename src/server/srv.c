/*
 * srv.c - start and stop the server; route HTTP requests.
 */
#include "srv.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "base/err.h"
#include "ctl.h"
#include "base/log.h"
#include "cluster.h"
#include "msh_text.h"
#include "net/http_srv.h"
#include "net/tls.h"
#include "recording.h"
#include "relay.h"
#include "settings.h"
#include "srv_api.h"
#include "srv_web.h"
#include "update.h"

/* A browser always sends Origin on a WebSocket upgrade and on a POST; it
 * must be this very server (the Host the browser connected to), or any
 * page on the web could use a signed-in user's cookie. */
int srv_same_origin(const struct http_req *req) {
  const char *origin = http_req_header(req, "Origin");
  const char *host = http_req_header(req, "Host");
  if (!origin) return 1;
  if (!host || strncasecmp(origin, "https://", 8) != 0) return 0;
  return strcasecmp(origin + 8, host) == 0;
}

int srv_cookie_value(const char *header, const char *name, char *out,
                     size_t cap) {
  size_t nl = strlen(name);
  const char *p = header;
  while (p && *p) {
    while (*p == ' ' || *p == ';') p++;
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
      size_t vl = len - nl - 1;
      if (vl >= cap) return MESH_E_TOO_LARGE;
      memcpy(out, p + nl + 1, vl);
      out[vl] = 0;
      return 0;
    }
    p = end;
  }
  return MESH_E_NOT_FOUND;
}

static int is_agent_path(const char *path) {
  return strcmp(path, "/agent.ashx") == 0;
}

static void on_request(struct http_conn *c, const struct http_req *req,
                       void *data) {
  struct srv *s = data;
  if (is_agent_path(req->path)) {
    srv_agent_accept(s, c, req);
    return;
  }
  if (strcmp(req->path, "/meshrelay.ashx") == 0) {
    srv_relay_accept(s, c, req);
    return;
  }
  if (strcmp(req->path, "/control.ashx") == 0) {
    srv_ctl_accept(s, c, req);
    return;
  }
  if (strcmp(req->path, "/api/meshagent") == 0) {
    srv_meshagent(s, c, req);
    return;
  }
  if (strcmp(req->path, "/api/agentupdate") == 0) {
    srv_update_download(s, c, req);
    return;
  }
  if (strcmp(req->path, "/api/recording") == 0) {
    srv_recording_serve(s, c, req);
    return;
  }
  if (strncmp(req->path, "/api/", 5) == 0) {
    srv_api_serve(s, c, req);
    return;
  }
  if (strcmp(req->path, "/meshsettings") == 0) {
    srv_meshsettings(s, c, req);
    return;
  }
  /* Everything else is the web app's static files (404 when unknown). */
  srv_web_serve(s, c, req);
}

static void on_purge(uv_timer_t *t) {
  struct srv *s = t->data;
  int64_t n = settings_purge_events(s->store, (int64_t)time(NULL));
  if (n > 0) log_info("event=events_purged count=%lld", (long long)n);
  if (n < 0) log_warn_r((int)n, "event=events_purge");
}

int srv_start(struct srv *s, uv_loop_t *loop, const struct srv_config *cfg) {
  int r;
  memset(s, 0, sizeof *s);
  s->loop = loop;
  s->cfg = *cfg;
  s->lock_fd = -1;
  strmap_init(&s->agents);
  if (!(s->throttle = auth_throttle_new())) return MESH_E_NOMEM;
  if ((r = srv_data_dir_init(cfg->data_dir)) != 0) {
    log_error_r(r, "event=start data=%s what=\"data folder\"", cfg->data_dir);
    return r;
  }
  if ((r = srv_lock(cfg->data_dir, &s->lock_fd)) != 0) {
    log_error(
        "event=start data=%s reason=\"another meshd uses this data "
        "folder\"",
        cfg->data_dir);
    return r;
  }
  if ((r = srv_open_store(cfg->data_dir, cfg->db, &s->store)) != 0) {
    log_error_r(r, "event=start what=database data=%s", cfg->data_dir);
    return r;
  }
  if ((r = cluster_start(s)) != 0) return r;
  settings_get(s->store, &s->settings);
  uv_timer_init(loop, &s->purge_timer);
  s->purge_timer.data = s;
  uv_timer_start(&s->purge_timer, on_purge, 0, SETTINGS_PURGE_EVERY_MS);
  if ((r = srv_keys_load(cfg->data_dir, cfg->name, &s->keys)) != 0) {
    log_error_r(r, "event=start what=keys data=%s", cfg->data_dir);
    return r;
  }
  s->tls = tls_server_ctx_new(s->keys.web.cert, s->keys.web.key);
  if (!s->tls) {
    log_error("event=start what=tls reason=\"cannot create TLS context\"");
    return MESH_E_CRYPTO;
  }
  if ((r = relay_start(s)) != 0) return r;
  struct http_srv_config hc = {.bind = cfg->bind,
                               .port = cfg->port,
                               .tls = s->tls,
                               .on_request = on_request,
                               .data = s};
  if ((r = http_srv_start(loop, &hc, &s->http)) != 0) {
    log_error_r(r, "event=start what=listen bind=%s port=%d", cfg->bind,
                cfg->port);
    return r;
  }
  /* agent-config builds .msh URLs from these. */
  char port[16], sid[97];
  snprintf(port, sizeof port, "%d", http_srv_port(s->http));
  store_meta_set(s->store, "name", cfg->name);
  store_meta_set(s->store, "port", port);
  srv_keys_server_id(&s->keys, sid);
  log_info("event=listening bind=%s port=%d name=%s server_id=%s", cfg->bind,
           http_srv_port(s->http), cfg->name, sid);
  return 0;
}

static void on_http_stopped(void *data) {
  struct srv *s = data;
  s->http = NULL;
}

void srv_stop(struct srv *s) {
  relay_stop(s);
  cluster_stop(s);
  if (s->purge_timer.loop && !uv_is_closing((uv_handle_t *)&s->purge_timer))
    uv_close((uv_handle_t *)&s->purge_timer, NULL);
  if (s->http) http_srv_stop(s->http, on_http_stopped, s);
  /* http_srv_stop closes the agent sockets; their on_close calls mark the
   * devices offline while the store is still open (freed in
   * srv_cleanup after the loop ran dry). */
}

void srv_cleanup(struct srv *s) {
  relay_cleanup(s);
  agent_bins_cleanup(s);
  strmap_cleanup(&s->agents);
  cluster_free(s); /* after the agents' closes marked their devices */
  auth_throttle_free(s->throttle);
  store_close(s->store);
  srv_keys_cleanup(&s->keys);
  SSL_CTX_free(s->tls);
  if (s->lock_fd >= 0) close(s->lock_fd);
  memset(s, 0, sizeof *s);
}
