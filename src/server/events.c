/*
 * events.c - the audit log: events stored in the database and pushed live.
 *
 * Who may see an event (stored or live) follows from its scope: a full
 * site administrator, or a user with the "all events" site right, sees
 * everything; a member of the event's device group sees group and device
 * events; the account concerned sees its own; user managers see account
 * events. The same rule serves listing (as SQL) and pushing (in C), also
 * of the events other servers announce (cluster.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "cluster.h"
#include "ctl.h"
#include "db.h"

static int sees_all(const struct user *u) {
  return u->siteadmin == SITE_ADMIN || (u->siteadmin & SITE_ALL_EVENTS);
}

int events_visible(struct ctl_session *cs, const char *etype,
                   const struct ev_scope *sc) {
  const struct user *u = &cs->user;
  if (sees_all(u)) return 1;
  if (sc->user_id && strcmp(sc->user_id, u->id) == 0) return 1;
  if (strcmp(etype, "user") == 0 && (u->siteadmin & SITE_MANAGE_USERS))
    return 1;
  return sc->group_id &&
         members_rights(cs->srv->store, sc->group_id, u->id) != 0;
}

/* ISO-8601 UTC with milliseconds: meshctrl needs "time" to be a string. */
static void iso_now(char out[32]) {
  struct timeval tv;
  struct tm tm;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

/* Stores ev; its seq, or 0 when it could not be stored (logged). */
static int64_t store_event(struct srv *s, json_t *ev, const char *etype,
                           const char *action, const struct ev_scope *sc) {
  struct db_stmt *st;
  int64_t seq = 0;
  char *doc = json_dumps(ev, JSON_COMPACT);
  const char *args[] = {etype, action, NULL};
  int r = doc ? store_prep(s->store,
                           "INSERT INTO events(etype,action,time,user_id,"
                           "group_id,node_id,doc) VALUES(?1,?2,?3,?4,?5,?6,?7)"
                           " RETURNING seq",
                           &st, args)
              : MESH_E_NOMEM;
  if (r == 0) {
    db_bind_int64(st, 3, (int64_t)time(NULL));
    db_bind_text(st, 4, sc->user_id);
    db_bind_text(st, 5, sc->group_id);
    db_bind_text(st, 6, sc->node_id);
    db_bind_text(st, 7, doc);
    r = db_step(st);
    if (r == DB_ROW) seq = db_col_int64(st, 0);
    db_finalize(st);
  }
  if (seq <= 0) log_error("event=event_store_failed action=%s", action);
  free(doc);
  return seq;
}

/* Pushes ev (borrowed) to this server's sessions that may see it. */
static void push(struct srv *s, json_t *ev, const char *etype,
                 const struct ev_scope *sc) {
  json_t *msg = json_pack("{s:s, s:O}", "action", "event", "event", ev);
  for (struct ctl_session *cs = s->ctl_sessions; cs; cs = cs->next)
    if (events_visible(cs, etype, sc)) ctl_send(cs, msg);
  json_decref(msg);
}

void events_emit(struct srv *s, json_t *ev, const struct ev_scope *sc,
                 int nolog) {
  const char *etype = json_string_value(json_object_get(ev, "etype"));
  const char *action = json_string_value(json_object_get(ev, "action"));
  if (!etype || !action) {
    json_decref(ev);
    return;
  }
  json_object_set_new(ev, "domain", json_string(""));
  int64_t seq = 0;
  if (!nolog) {
    char when[32];
    iso_now(when);
    json_object_set_new(ev, "time", json_string(when));
    seq = store_event(s, ev, etype, action, sc);
  }
  push(s, ev, etype, sc);
  /* The other servers read it from the table (cluster.h). */
  if (seq > 0) cluster_publish_event(s, seq);
  json_decref(ev);
}

void events_deliver_stored(struct srv *s, int64_t seq) {
  struct db_stmt *st;
  if (!s->ctl_sessions) return; /* no one here to tell */
  if (store_prep(s->store,
                 "SELECT etype,user_id,group_id,node_id,doc FROM events"
                 " WHERE seq=?1",
                 &st, NULL) != 0)
    return;
  db_bind_int64(st, 1, seq);
  if (db_step(st) == DB_ROW) {
    const char *etype = db_col_text(st, 0), *doc = db_col_text(st, 4);
    struct ev_scope sc = {db_col_text(st, 1), db_col_text(st, 2),
                          db_col_text(st, 3)};
    json_t *ev = doc ? json_loads(doc, 0, NULL) : NULL;
    if (etype && json_is_object(ev)) push(s, ev, etype, &sc);
    json_decref(ev);
  }
  db_finalize(st);
}

void events_push_user(struct srv *s, const char *user_id, json_t *ev) {
  json_object_set_new(ev, "domain", json_string(""));
  json_t *msg = json_pack("{s:s, s:O}", "action", "event", "event", ev);
  for (struct ctl_session *cs = s->ctl_sessions; cs; cs = cs->next)
    if (strcmp(cs->user.id, user_id) == 0) ctl_send(cs, msg);
  json_decref(msg);
  json_decref(ev);
}

json_t *events_list(struct ctl_session *cs, const char *node_id, int limit) {
  struct db_stmt *st;
  json_t *out = json_array();
  const struct user *u = &cs->user;
  if (limit <= 0 || limit > 10000) limit = 10000;
  /* The SQL form of events_visible(); its flags are 0 or 1. */
  if (store_prep(cs->srv->store,
                 "SELECT doc FROM events WHERE (node_id=?1 OR ?1 IS NULL) AND"
                 " (?2=1 OR user_id=?3 OR (etype='user' AND ?4=1) OR"
                 " group_id IN (SELECT group_id FROM members WHERE"
                 " user_id=?3)) ORDER BY seq DESC LIMIT ?5",
                 &st, NULL) != 0)
    return out;
  db_bind_text(st, 1, node_id);
  db_bind_int64(st, 2, sees_all(u) ? 1 : 0);
  db_bind_text(st, 3, u->id);
  db_bind_int64(st, 4, (u->siteadmin & SITE_MANAGE_USERS) != 0);
  db_bind_int64(st, 5, limit);
  while (db_step(st) == DB_ROW) {
    const char *doc = db_col_text(st, 0);
    json_t *e = doc ? json_loads(doc, 0, NULL) : NULL;
    if (!e) continue;
    if (node_id) { /* as the stock server lists a device's events */
      json_object_del(e, "etype");
      json_object_del(e, "nodeid");
    }
    json_object_del(e, "domain");
    json_array_append_new(out, e);
  }
  db_finalize(st);
  return out;
}

void events_node_state(struct srv *s, const char *node_id, const char *group_id,
                       int online, int created) {
  char mid[112];
  snprintf(mid, sizeof mid, "mesh//%s", group_id);
  struct ev_scope sc = {NULL, group_id, node_id};
  if (created) {
    struct store_group g;
    const char *gname = "";
    int have = store_group_get(s->store, group_id, 0, &g) == 0;
    if (have) gname = g.name;
    char msg[512];
    snprintf(msg, sizeof msg, "Added device to device group %s", gname);
    events_emit(s,
                json_pack("{s:s, s:s, s:s, s:s, s:i, s:[s]}", "etype", "node",
                          "action", "addnode", "meshid", mid, "msg", msg,
                          "msgid", 57, "msgArgs", gname),
                &sc, 0);
    if (have) store_group_cleanup(&g);
  }
  events_deliver_node(s, node_id, group_id, online);
  cluster_publish_node(s, node_id, group_id, online);
}

void events_deliver_node(struct srv *s, const char *node_id,
                         const char *group_id, int online) {
  char nid[80], mid[112];
  snprintf(nid, sizeof nid, "node//%s", node_id);
  snprintf(mid, sizeof mid, "mesh//%s", group_id);
  struct ev_scope sc = {NULL, group_id, node_id};
  json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "etype", "node",
                         "action", "nodeconnect", "nodeid", nid, "meshid", mid,
                         "conn", online ? 1 : 0, "pwr", online ? 1 : 0);
  events_emit(s, ev, &sc, 1);
}
