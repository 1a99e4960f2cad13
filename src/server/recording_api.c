/*
 * recording_api.c - reading terminal recordings back: the list of a
 * device's recordings on /control.ashx and the .cast file over HTTPS
 * (docs/user-api.md §7.24). Both need the right to open a terminal on
 * the device's group (relay_rights_ok for protocol 1): a recording shows
 * everything that terminal showed.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mesh_limits.h"
#include "ctl.h"
#include "db.h"
#include "net/http_parse.h"
#include "net/http_srv.h"
#include "recording.h"
#include "relay.h"

static int may_view(struct srv *s, const struct user *u, const char *group) {
  return relay_rights_ok(members_rights(s->store, group, u->id), 1);
}

void ctl_cmd_recordings(struct ctl_session *cs, json_t *req) {
  struct srv *s = cs->srv;
  const char *nodeid = ctl_str_of(req, "nodeid");
  struct ctl_node o = {0};
  json_t *list = json_array();
  if (nodeid && strncmp(nodeid, "node//", 6) == 0) nodeid += 6;
  if (nodeid && *nodeid) ctl_node_lookup(s, nodeid, &o);
  if (!o.found || !may_view(s, &cs->user, o.group)) {
    json_t *j = json_pack("{s:s, s:s}", "action", "recordings", "result",
                          "Access denied");
    if (json_object_get(req, "responseid"))
      json_object_set(j, "responseid", json_object_get(req, "responseid"));
    ctl_send(cs, j);
    json_decref(j);
    json_decref(list);
    return;
  }
  struct db_stmt *st;
  const char *args[] = {nodeid, NULL};
  if (store_prep(s->store,
                 "SELECT id,start,duration,user_id,user_name,size,"
                 "truncated FROM recordings WHERE node_id=?1 "
                 "ORDER BY start DESC LIMIT 1000",
                 &st, args) == 0) {
    while (db_step(st) == DB_ROW) {
      const char *name = db_col_text(st, 4);
      json_t *r = json_pack(
          "{s:s, s:I, s:I, s:s, s:s, s:I}", "id", db_col_text(st, 0), "start",
          (json_int_t)db_col_int64(st, 1) * 1000, "duration",
          (json_int_t)db_col_int64(st, 2), "userid", db_col_text(st, 3), "user",
          name ? name : "", "size", (json_int_t)db_col_int64(st, 5));
      if (r && db_col_int64(st, 6))
        json_object_set_new(r, "truncated", json_true());
      if (r) json_array_append_new(list, r);
    }
    db_finalize(st);
  }
  json_t *j = json_pack("{s:s, s:s, s:o}", "action", "recordings", "nodeid",
                        ctl_str_of(req, "nodeid"), "recordings", list);
  if (json_object_get(req, "responseid"))
    json_object_set(j, "responseid", json_object_get(req, "responseid"));
  ctl_send(cs, j);
  json_decref(j);
}

/* ------------------------------------------------------------ download */

/* The file is read on the thread pool; the request is answered when it
 * is back (http_srv allows answering later). */
struct rec_read {
  uv_work_t work;
  struct http_conn *c;
  char path[4096];
  char id[32];
  uint8_t *data;
  size_t len;
  int status;
};

static void read_work(uv_work_t *w) {
  struct rec_read *j = w->data;
  FILE *f = fopen(j->path, "rb");
  j->status = MESH_E_NOT_FOUND;
  if (!f) return;
  /* Bounded: a recording stops growing at MESH_REC_MAX_BYTES, plus the
   * last lines that were already queued. */
  size_t cap = MESH_REC_MAX_BYTES + MESH_REC_MAX_QUEUED;
  j->data = malloc(cap);
  j->status = MESH_E_NOMEM;
  if (j->data) {
    j->len = fread(j->data, 1, cap, f);
    j->status = ferror(f) ? MESH_E_IO : 0;
  }
  fclose(f);
}

static void read_done(uv_work_t *w, int st) {
  struct rec_read *j = w->data;
  (void)st;
  if (j->status == 0) {
    char hdr[160];
    snprintf(hdr, sizeof hdr,
             "Cache-Control: no-store\r\nContent-Disposition: attachment; "
             "filename=\"%s.cast\"\r\n",
             j->id);
    http_respond(j->c, 200, hdr, "application/x-asciicast", j->data, j->len);
  } else {
    static const char msg[] = "no such recording\n";
    http_respond(j->c, j->status == MESH_E_NOT_FOUND ? 404 : 500, NULL,
                 "text/plain", msg, sizeof msg - 1);
  }
  free(j->data);
  free(j);
}

static void respond_text(struct http_conn *c, int status, const char *text) {
  http_respond(c, status, "Cache-Control: no-store\r\n",
               "text/plain; charset=utf-8", text, strlen(text));
}

/* The group a recording id belongs to; 0 or MESH_E_NOT_FOUND. */
static int recording_group(struct srv *s, const char *id, char *group,
                           size_t cap) {
  struct db_stmt *st;
  const char *args[] = {id, NULL};
  int r = store_prep(s->store, "SELECT group_id FROM recordings WHERE id=?1",
                     &st, args);
  if (r) return r;
  r = MESH_E_NOT_FOUND;
  if (db_step(st) == DB_ROW && db_col_text(st, 0)) {
    snprintf(group, cap, "%s", db_col_text(st, 0));
    r = 0;
  }
  db_finalize(st);
  return r;
}

void srv_recording_serve(struct srv *s, struct http_conn *c,
                         const struct http_req *req) {
  char id[32], token[SESSION_TOKEN_LEN + 2], group[RELAY_NODE_MAX];
  char *uid = NULL;
  const char *cookies = http_req_header(req, "Cookie");
  struct user u;
  int have = 0;
  if (strcmp(req->method, "GET") != 0) {
    respond_text(c, 405, "GET only\n");
    goto out;
  }
  if (!cookies || srv_cookie_value(cookies, CTL_COOKIE, token, sizeof token) ||
      sessions_lookup(s->store, token, &uid) != 0 ||
      users_get(s->store, uid, &u) != 0) {
    respond_text(c, 403, "sign in first\n");
    goto out;
  }
  have = 1;
  /* Ids are 24 hex characters: nothing else reaches the file system. */
  size_t n = 0;
  if (http_query_param(req->query, "id", id, sizeof id) == 0) n = strlen(id);
  int hex = n == 24;
  for (size_t i = 0; i < n && hex; i++)
    hex = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
  if (!hex || recording_group(s, id, group, sizeof group) != 0 ||
      (u.siteadmin != SITE_ADMIN && (u.siteadmin & SITE_LOCKED)) ||
      !may_view(s, &u, group)) {
    respond_text(c, 404, "no such recording\n");
    goto out;
  }
  struct rec_read *j = calloc(1, sizeof *j);
  char dir[4096];
  if (!j || srv_path(dir, sizeof dir, s->cfg.data_dir, "recordings") != 0 ||
      snprintf(j->path, sizeof j->path, "%s/%s.cast", dir, id) >=
          (int)sizeof j->path) {
    free(j);
    respond_text(c, 500, "server error\n");
    goto out;
  }
  j->c = c;
  snprintf(j->id, sizeof j->id, "%s", id);
  j->work.data = j;
  if (uv_queue_work(s->loop, &j->work, read_work, read_done) != 0) {
    free(j);
    respond_text(c, 503, "busy\n");
    goto out;
  }
  log_info("event=recording_download peer=%s user=%s id=%s", req->peer, u.id,
           id);
out:
  OPENSSL_cleanse(token, sizeof token);
  if (have) user_cleanup(&u);
  free(uid);
}
