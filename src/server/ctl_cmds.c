/*
 * ctl_cmds.c - the commands of /control.ashx (docs/user-api.md §7).
 *
 * Each handler checks the caller's rights itself, on every call, and
 * answers with MeshCentral's reply shapes and texts, which meshctrl prints
 * verbatim. Where the stock server stays silent on a refusal (leaving its
 * client waiting forever) meshd answers with an error instead.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "base/err.h"
#include "base/log.h"
#include "cores.h"
#include "ctl.h"
#include "net/http_srv.h"
#include "net/ws.h"

#define GROUP_ID_LEN 64 /* B64MC of 48 bytes */

/* ------------------------------------------------------------ helpers */

static const char *str_of(json_t *req, const char *key) {
  return json_string_value(json_object_get(req, key));
}

/* Nonzero if key is present with a type other than a string: such a
 * field is refused, never taken as absent (which would report "ok" for a
 * change that was not made). */
static int not_str(json_t *req, const char *key) {
  json_t *v = json_object_get(req, key);
  return v && !json_is_string(v);
}

/* "mesh//ID" or "ID" -> "ID" (kind is "mesh", "node"). */
static int bare_id(const char *in, const char *kind, char *out, size_t cap) {
  size_t kl = strlen(kind);
  if (!in) return MESH_E_INVALID;
  if (strncmp(in, kind, kl) == 0 && strncmp(in + kl, "//", 2) == 0)
    in += kl + 2;
  size_t n = strlen(in);
  if (n == 0 || n >= cap || strchr(in, '/')) return MESH_E_INVALID;
  memcpy(out, in, n + 1);
  return 0;
}

/* A user id as typed ("bob" or "user//bob") -> "user//bob". */
static int user_arg(const char *in, char *out, size_t cap) {
  if (!in) return MESH_E_INVALID;
  if (strncmp(in, "user//", 6) == 0) in += 6;
  return user_id_of(in, out, cap);
}

/* A name shown in lists, menus and the .msh: 1..max bytes without control
 * characters (jansson has already checked it is valid UTF-8). */
static int name_ok(const char *name, size_t max) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > max) return 0;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    if (*p < 0x20 || *p == 0x7f) return 0;
  return 1;
}

static int is_admin(const struct ctl_session *cs) {
  return cs->user.siteadmin == SITE_ADMIN;
}

static uint32_t rights_in(struct ctl_session *cs, const char *group_id) {
  return members_rights(cs->srv->store, group_id, cs->user.id);
}

/* ------------------------------------------------------------- objects */

static void add_user_link(const char *gid, const char *uid, const char *name,
                          uint32_t rights, void *data) {
  char key[96];
  (void)uid;
  (void)name;
  snprintf(key, sizeof key, "mesh//%s", gid);
  json_object_set_new(data, key,
                      json_pack("{s:I}", "rights", (json_int_t)rights));
}

json_t *ctl_user_json(struct srv *s, const struct user *u) {
  json_t *links = json_object();
  members_each(s->store, NULL, u->id, add_user_link, links);
  json_t *j =
      json_pack("{s:s, s:s, s:I, s:I, s:o}", "_id", u->id, "name", u->name,
                "creation", (json_int_t)u->created, "passchange",
                (json_int_t)u->passchange, "links", links);
  if (u->email) json_object_set_new(j, "email", json_string(u->email));
  if (u->realname) json_object_set_new(j, "realname", json_string(u->realname));
  if (u->siteadmin)
    json_object_set_new(j, "siteadmin", json_integer(u->siteadmin));
  if (u->has_totp) json_object_set_new(j, "otpsecret", json_integer(1));
  return j;
}

static void add_group_link(const char *gid, const char *uid, const char *name,
                           uint32_t rights, void *data) {
  (void)gid;
  json_object_set_new(data, uid,
                      json_pack("{s:s, s:I}", "name", name ? name : "",
                                "rights", (json_int_t)rights));
}

json_t *ctl_group_json(struct srv *s, const struct store_group *g) {
  char id[96];
  json_t *links = json_object();
  snprintf(id, sizeof id, "mesh//%s", g->id);
  members_each(s->store, g->id, NULL, add_group_link, links);
  json_t *j =
      json_pack("{s:s, s:s, s:s, s:i, s:s, s:o, s:I}", "type", "mesh", "_id",
                id, "name", g->name, "mtype", g->type, "domain", "", "links",
                links, "creation", (json_int_t)g->created * 1000);
  if (g->desc) json_object_set_new(j, "desc", json_string(g->desc));
  if (g->creator_id)
    json_object_set_new(j, "creatorid", json_string(g->creator_id));
  if (g->creator_name)
    json_object_set_new(j, "creatorname", json_string(g->creator_name));
  if (g->flags) json_object_set_new(j, "flags", json_integer(g->flags));
  if (g->consent) json_object_set_new(j, "consent", json_integer(g->consent));
  if (g->record_sessions) json_object_set_new(j, "recordSessions", json_true());
  return j;
}

json_t *ctl_node_json(struct srv *s, const struct store_device *d) {
  char id[96];
  snprintf(id, sizeof id, "node//%s", d->id);
  json_t *j = json_pack(
      "{s:s, s:i, s:s, s:i, s:s, s:s, s:s, s:{s:i, s:I, s:I}, s:n, s:I}",
      "type", "node", "mtype", 2, "_id", id, "icon",
      d->icon ? d->icon : (int)d->platform, "name", d->name ? d->name : "",
      "rname", d->name ? d->name : "", "domain", "", "agent", "ver", 0, "id",
      (json_int_t)d->agent_id, "caps", (json_int_t)d->caps, "host",
      "firstconnect", (json_int_t)d->first_seen * 1000);
  if (d->commit_date && *d->commit_date) /* meshd's own: the agent build */
    json_object_set_new(json_object_get(j, "agent"), "build",
                        json_string(d->commit_date));
  if (d->addr) json_object_set_new(j, "ip", json_string(d->addr));
  if (d->os) json_object_set_new(j, "osdesc", json_string(d->os));
  if (d->desc) json_object_set_new(j, "desc", json_string(d->desc));
  json_t *tags = d->tags ? json_loads(d->tags, 0, NULL) : NULL;
  if (json_is_array(tags) && json_array_size(tags))
    json_object_set(j, "tags", tags);
  json_decref(tags);
  cores_node_json(s, d->id, j); /* agent.core, and osdesc from the core */
  /* Live state comes from the connections, not the table. */
  if (strmap_get(&s->agents, d->id)) {
    json_object_set_new(j, "conn", json_integer(1));
    json_object_set_new(j, "pwr", json_integer(1));
    json_object_set_new(j, "agct",
                        json_integer((json_int_t)d->last_connect * 1000));
  }
  return j;
}

/* --------------------------------------------------------- hello/ping */

static json_int_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ctl_send_serverinfo(struct ctl_session *cs) {
  struct srv *s = cs->srv;
  char tlshash[2 * CC_HASH_LEN + 1];
  static const char hex[] = "0123456789ABCDEF";
  for (int i = 0; i < CC_HASH_LEN; i++) {
    tlshash[2 * i] = hex[s->keys.web_cert_hash[i] >> 4];
    tlshash[2 * i + 1] = hex[s->keys.web_cert_hash[i] & 15];
  }
  tlshash[2 * CC_HASH_LEN] = 0;
  json_t *si =
      json_pack("{s:s, s:{s:s, s:s, s:i, s:I, s:b, s:s, s:s}}", "action",
                "serverinfo", "serverinfo", "domain", "", "name", s->cfg.name,
                "port", http_srv_port(s->http), "serverTime", now_ms(), "https",
                1, "tlshash", tlshash, "server", "meshd");
  if (s->settings.require_2fa)
    json_object_set_new(json_object_get(si, "serverinfo"), "require2fa",
                        json_true());
  ctl_send(cs, si);
  json_decref(si);
}

void ctl_hello(struct ctl_session *cs) {
  struct srv *s = cs->srv;
  ctl_send_serverinfo(cs);
  json_t *ui = json_pack("{s:s, s:o}", "action", "userinfo", "userinfo",
                         ctl_user_json(s, &cs->user));
  ctl_send(cs, ui);
  json_decref(ui);
}

static void cmd_ping(struct ctl_session *cs, json_t *req) {
  (void)req;
  json_t *j = json_pack("{s:s}", "action", "pong");
  ctl_send(cs, j);
  json_decref(j);
}

/* --------------------------------------------------------------- users */

static void add_user(const struct user *u, void *data) {
  void **ctx = data;
  json_array_append_new(ctx[1], ctl_user_json(ctx[0], u));
}

static void cmd_users(struct ctl_session *cs, json_t *req) {
  if (!(cs->user.siteadmin & SITE_MANAGE_USERS)) {
    ctl_result(cs, req, "users", "Access denied");
    return;
  }
  void *ctx[2] = {cs->srv, json_array()};
  users_each(cs->srv->store, add_user, ctx);
  ctl_reply(cs, req,
            json_pack("{s:s, s:o}", "action", "users", "users", ctx[1]), 0);
}

static int email_ok(const char *e) {
  size_t n = strlen(e);
  const char *at = strchr(e, '@');
  if (!n || n > USER_MAX_EMAIL || !at || at == e || !at[1]) return 0;
  for (const char *p = e; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == '"' || *p == '<' || *p == '>')
      return 0;
  return 1;
}

/* Site rights a non-administrator may hand out: only restrictions. */
#define SITE_RESTRICTIONS (SITE_LOCKED | SITE_NO_NEW_GROUPS | SITE_NO_TOOLS)

static int site_rights_ok(struct ctl_session *cs, json_t *v, uint32_t *out) {
  if (!v) return 1;
  if (!json_is_integer(v)) return 0;
  json_int_t r = json_integer_value(v);
  if (r < 0 || r > 0xFFFFFFFFll) return 0;
  if (!is_admin(cs) && ((uint32_t)r & ~SITE_RESTRICTIONS)) return 0;
  *out = (uint32_t)r;
  return 1;
}

/* adduser hashes the password (argon2id, slow) on the thread pool. */
struct adduser_job {
  uv_work_t work;
  struct ctl_session *cs;
  json_t *req;
  char *pass, *hash;
  int status;
};

static void adduser_work(uv_work_t *w) {
  struct adduser_job *j = w->data;
  j->status = auth_hash_password(j->pass, &j->hash);
}

static void adduser_done(uv_work_t *w, int st) {
  struct adduser_job *j = w->data;
  struct ctl_session *cs = j->cs;
  (void)st;
  if (cs->state == CTL_OPEN) {
    json_t *req = j->req;
    const char *name = str_of(req, "username"), *email = str_of(req, "email");
    uint32_t site = 0;
    site_rights_ok(cs, json_object_get(req, "siteadmin"), &site);
    struct user u;
    int r = j->status ? j->status
                      : users_create(cs->srv->store, name,
                                     email && *email ? email : NULL, j->hash,
                                     site, &u);
    if (r == MESH_E_EXISTS) {
      ctl_result(cs, req, "adduser", "User already exists");
    } else if (r) {
      ctl_result(cs, req, "adduser", "Invalid password");
    } else {
      char msg[160];
      snprintf(msg, sizeof msg, "Account created, username is %s", u.name);
      struct ev_scope sc = {u.id, NULL, NULL};
      events_emit(
          cs->srv,
          json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:i, s:[s]}", "etype",
                    "user", "action", "accountcreate", "userid", u.id,
                    "username", u.name, "account", ctl_user_json(cs->srv, &u),
                    "msg", msg, "msgid", 64, "msgArgs", u.name),
          &sc, 0);
      log_info("event=account_created user=%s by=%s", u.id, cs->user.id);
      user_cleanup(&u);
      ctl_result(cs, req, "adduser", "ok");
    }
  }
  OPENSSL_cleanse(j->pass, strlen(j->pass));
  free(j->pass);
  free(j->hash);
  json_decref(j->req);
  free(j);
  ctl_session_unref(cs);
}

static void cmd_adduser(struct ctl_session *cs, json_t *req) {
  const char *name = str_of(req, "username"), *pass = str_of(req, "pass");
  const char *email = str_of(req, "email");
  char id[USER_MAX_NAME + 8];
  uint32_t site = 0;
  if (!(cs->user.siteadmin & SITE_MANAGE_USERS))
    return ctl_result(cs, req, "adduser", "Permission denied");
  if (!name || user_id_of(name, id, sizeof id) != 0)
    return ctl_result(cs, req, "adduser", "Invalid username");
  if (!pass || strlen(pass) < AUTH_MIN_PASSWORD ||
      strlen(pass) > AUTH_MAX_PASSWORD)
    return ctl_result(cs, req, "adduser", "Invalid password");
  if (not_str(req, "email") || (email && *email && !email_ok(email)))
    return ctl_result(cs, req, "adduser", "Invalid email");
  if (!site_rights_ok(cs, json_object_get(req, "siteadmin"), &site))
    return ctl_result(cs, req, "adduser", "Invalid site permissions");
  struct user existing;
  if (users_get(cs->srv->store, id, &existing) == 0) {
    user_cleanup(&existing);
    return ctl_result(cs, req, "adduser", "User already exists");
  }
  struct adduser_job *j = calloc(1, sizeof *j);
  if (!j || !(j->pass = strdup(pass))) {
    free(j);
    return ctl_result(cs, req, "adduser", "Server busy");
  }
  j->cs = cs;
  j->req = json_incref(req);
  j->work.data = j;
  ctl_session_ref(cs);
  if (uv_queue_work(cs->srv->loop, &j->work, adduser_work, adduser_done) != 0) {
    ctl_session_unref(cs);
    json_decref(j->req);
    free(j->pass);
    free(j);
    ctl_result(cs, req, "adduser", "Server busy");
  }
}

/* Finds the target of edituser/deleteuser and checks the caller may
 * touch it. Returns 0 with *t filled, or sends the error and returns -1. */
static int target_user(struct ctl_session *cs, json_t *req, const char *action,
                       struct user *t) {
  char id[USER_MAX_NAME + 8];
  if (user_arg(str_of(req, "userid"), id, sizeof id) != 0) {
    ctl_result(cs, req, action, "Invalid userid");
    return -1;
  }
  if (!(cs->user.siteadmin & SITE_MANAGE_USERS)) {
    ctl_result(cs, req, action, "Permission denied");
    return -1;
  }
  if (users_get(cs->srv->store, id, t) != 0) {
    ctl_result(cs, req, action, "User does not exists");
    return -1;
  }
  if (t->siteadmin == SITE_ADMIN && !is_admin(cs)) {
    user_cleanup(t);
    ctl_result(cs, req, action, "Permission denied");
    return -1;
  }
  return 0;
}

static void account_event(struct ctl_session *cs, const struct user *t,
                          const char *action, int msgid, const char *msg) {
  struct ev_scope sc = {t->id, NULL, NULL};
  events_emit(cs->srv,
              json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:i}", "etype", "user",
                        "action", action, "userid", cs->user.id, "username",
                        cs->user.name, "account", ctl_user_json(cs->srv, t),
                        "msg", msg, "msgid", msgid),
              &sc, 0);
}

static void cmd_edituser(struct ctl_session *cs, json_t *req) {
  struct user t;
  if (target_user(cs, req, "edituser", &t) != 0) return;
  const char *email = str_of(req, "email"), *realname = str_of(req, "realname");
  json_t *site = json_object_get(req, "siteadmin");
  uint32_t rights = t.siteadmin;
  if (not_str(req, "email") || (email && *email && !email_ok(email))) {
    ctl_result(cs, req, "edituser", "Invalid email");
  } else if (not_str(req, "realname")) {
    ctl_result(cs, req, "edituser", "Invalid realname");
  } else if (site && !json_is_integer(site)) {
    ctl_result(cs, req, "edituser", "Invalid site permissions");
  } else if (site && (strcmp(t.id, cs->user.id) == 0 ||
                      !site_rights_ok(cs, site, &rights))) {
    ctl_result(cs, req, "edituser", "Permission denied");
  } else {
    if (email) {
      free(t.email);
      t.email = *email ? strdup(email) : NULL;
    }
    if (realname) {
      free(t.realname);
      t.realname = *realname ? strdup(realname) : NULL;
    }
    t.siteadmin = rights;
    if (users_update(cs->srv->store, &t) != 0) {
      ctl_result(cs, req, "edituser", "Database error");
    } else {
      char msg[160];
      snprintf(msg, sizeof msg, "Account changed: %s", t.name);
      account_event(cs, &t, "accountchange", 66, msg);
      ctl_refresh_user(cs->srv, t.id);
      /* A locked account is signed out everywhere at once: its open
       * connections close and its web sessions are revoked (sign-in
       * refuses it from now on). */
      if (t.siteadmin != SITE_ADMIN && (t.siteadmin & SITE_LOCKED)) {
        sessions_revoke_user(cs->srv->store, t.id);
        ctl_close_user(cs->srv, t.id, "account locked");
      }
      ctl_result(cs, req, "edituser", "ok");
    }
  }
  user_cleanup(&t);
}

static void cmd_deleteuser(struct ctl_session *cs, json_t *req) {
  struct user t;
  if (target_user(cs, req, "deleteuser", &t) != 0) return;
  if (strcmp(t.id, cs->user.id) == 0) {
    ctl_result(cs, req, "deleteuser", "Can't remove self");
  } else if (users_delete(cs->srv->store, t.id) != 0) {
    ctl_result(cs, req, "deleteuser", "Database error");
  } else {
    ctl_close_user(cs->srv, t.id, "account removed");
    account_event(cs, &t, "accountremove", 63, "Account removed");
    log_info("event=account_removed user=%s by=%s", t.id, cs->user.id);
    ctl_result(cs, req, "deleteuser", "ok");
  }
  user_cleanup(&t);
}

/* -------------------------------------------------------------- groups */

static void add_my_group(const char *gid, const char *uid, const char *name,
                         uint32_t rights, void *data) {
  void **ctx = data;
  struct store_group g;
  (void)uid, (void)name, (void)rights;
  if (store_group_get(ctx[0], gid, 0, &g) != 0) return;
  json_array_append_new(ctx[1], ctl_group_json(ctx[2], &g));
  store_group_cleanup(&g);
}

static json_t *my_groups(struct ctl_session *cs) {
  void *ctx[3] = {cs->srv->store, json_array(), cs->srv};
  members_each(cs->srv->store, NULL, cs->user.id, add_my_group, ctx);
  return ctx[1];
}

static void cmd_meshes(struct ctl_session *cs, json_t *req) {
  ctl_reply(
      cs, req,
      json_pack("{s:s, s:o}", "action", "meshes", "meshes", my_groups(cs)), 0);
}

/* Resolves the group named by id_key (an id) or name_key (a name among the
 * caller's groups) into *g. On failure sends the error and returns -1. */
static int find_group(struct ctl_session *cs, json_t *req, const char *action,
                      const char *id_key, const char *name_key,
                      const char *bad_id, struct store_group *g) {
  char id[GROUP_ID_LEN + 8];
  const char *name = str_of(req, name_key);
  if (!json_object_get(req, id_key) && name) {
    /* By name, among the groups the caller belongs to. */
    json_t *mine = my_groups(cs), *one;
    size_t i, found = 0;
    json_array_foreach(mine, i, one) {
      if (strcmp(json_string_value(json_object_get(one, "name")), name) != 0)
        continue;
      if (found++ == 0)
        bare_id(json_string_value(json_object_get(one, "_id")), "mesh", id,
                sizeof id);
    }
    json_decref(mine);
    if (found > 1) {
      ctl_result(cs, req, action, "Duplicate device groups found");
      return -1;
    }
    if (!found) {
      ctl_result(cs, req, action, bad_id);
      return -1;
    }
  } else if (bare_id(str_of(req, id_key), "mesh", id, sizeof id) != 0) {
    ctl_result(cs, req, action, bad_id);
    return -1;
  }
  if (store_group_get(cs->srv->store, id, 0, g) != 0 ||
      rights_in(cs, id) == 0) {
    ctl_result(cs, req, action, bad_id);
    return -1;
  }
  return 0;
}

static void group_event(struct ctl_session *cs, const struct store_group *g,
                        const char *action, int msgid, const char *msg) {
  char mid[96];
  snprintf(mid, sizeof mid, "mesh//%s", g->id);
  struct ev_scope sc = {cs->user.id, g->id, NULL};
  json_t *ev = json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s}", "etype", "mesh", "action",
      action, "userid", cs->user.id, "username", cs->user.name, "meshid", mid,
      "name", g->name, "mesh", ctl_group_json(cs->srv, g), "msg", msg);
  if (msgid) json_object_set_new(ev, "msgid", json_integer(msgid));
  events_emit(cs->srv, ev, &sc, 0);
}

static void cmd_createmesh(struct ctl_session *cs, json_t *req) {
  const char *name = str_of(req, "meshname"), *desc = str_of(req, "desc");
  json_t *type = json_object_get(req, "meshtype");
  struct store_group g;
  if (!is_admin(cs) && (cs->user.siteadmin & SITE_NO_NEW_GROUPS))
    return ctl_result(cs, req, "createmesh", "Permission denied");
  if (!name_ok(name, 128))
    return ctl_result(cs, req, "createmesh", "Invalid group name");
  if (json_object_get(req, "desc") && (!desc || strlen(desc) > 1024))
    return ctl_result(cs, req, "createmesh", "Invalid group description");
  /* Agent groups only: Intel AMT and agentless groups are not supported. */
  if (type && json_integer_value(type) != 2)
    return ctl_result(cs, req, "createmesh", "Invalid group type");
  if (store_group_create(cs->srv->store, name, desc && *desc ? desc : NULL,
                         cs->user.id, cs->user.name, &g) != 0)
    return ctl_result(cs, req, "createmesh", "Database error");
  members_set(cs->srv->store, g.id, cs->user.id, MESH_RIGHT_ADMIN);
  char msg[200];
  snprintf(msg, sizeof msg, "Device group created: %s", g.name);
  group_event(cs, &g, "createmesh", 76, msg);
  json_t *gj = ctl_group_json(cs->srv, &g);
  json_t *j = json_pack("{s:s, s:s, s:O, s:O}", "action", "createmesh",
                        "result", "ok", "meshid", json_object_get(gj, "_id"),
                        "links", json_object_get(gj, "links"));
  json_decref(gj);
  ctl_reply(cs, req, j, 1);
  store_group_cleanup(&g);
}

/* Closes the agent connections of devices that are going away. */
static void kick_one(const struct store_device *d, void *data) {
  srv_agent_kick(data, d->id, "device removed");
}

static void cmd_deletemesh(struct ctl_session *cs, json_t *req) {
  struct store_group g;
  if (find_group(cs, req, "deletemesh", "meshid", "meshname",
                 "Invalid group identifier", &g) != 0)
    return;
  if (rights_in(cs, g.id) != MESH_RIGHT_ADMIN) {
    ctl_result(cs, req, "deletemesh", "Access denied");
  } else {
    store_devices_each(cs->srv->store, g.id, NULL, kick_one, cs->srv);
    char msg[200];
    snprintf(msg, sizeof msg, "Device group deleted: %s", g.name);
    group_event(cs, &g, "deletemesh", 77, msg);
    if (store_group_delete(cs->srv->store, g.id) != 0)
      ctl_result(cs, req, "deletemesh", "Database error");
    else
      ctl_result(cs, req, "deletemesh", "ok");
  }
  store_group_cleanup(&g);
}

static void cmd_editmesh(struct ctl_session *cs, json_t *req) {
  struct store_group g;
  if (find_group(cs, req, "editmesh", "meshid", "meshidname",
                 "Invalid group identifier ", &g) != 0)
    return;
  const char *name = str_of(req, "meshname"), *desc = str_of(req, "desc");
  json_t *flags = json_object_get(req, "flags");
  json_t *consent = json_object_get(req, "consent");
  json_t *record = json_object_get(req, "recordSessions");
  if (!(rights_in(cs, g.id) & MESH_RIGHT_EDIT_GROUP)) {
    ctl_result(cs, req, "editmesh", "Permission denied");
  } else if (not_str(req, "meshname") || not_str(req, "desc") ||
             (name && !name_ok(name, 128)) || (desc && strlen(desc) > 1024)) {
    ctl_result(cs, req, "editmesh", "Invalid group name or description");
  } else if ((flags && !json_is_integer(flags)) ||
             (consent && !json_is_integer(consent))) {
    ctl_result(cs, req, "editmesh", "Invalid group flags or consent");
  } else if (record && !json_is_boolean(record)) {
    ctl_result(cs, req, "editmesh", "Invalid recordSessions");
  } else {
    if (record)
      store_group_set_record(cs->srv->store, g.id, json_is_true(record));
    store_group_update(
        cs->srv->store, g.id, name, desc,
        json_is_integer(flags) ? json_integer_value(flags) & 0xFFFFFFFF : -1,
        json_is_integer(consent) ? json_integer_value(consent) & 0xFFFFFFFF
                                 : -1);
    struct store_group n;
    if (store_group_get(cs->srv->store, g.id, 0, &n) == 0) {
      char msg[300];
      snprintf(msg, sizeof msg, "Device group \"%s\" changed", n.name);
      group_event(cs, &n, "meshchange", 142, msg);
      store_group_cleanup(&n);
    }
    ctl_result(cs, req, "editmesh", "ok");
  }
  store_group_cleanup(&g);
}

/* Adds one user to a group; appends what happened to msgs. Returns 1 when
 * the user was added. */
static int add_member(struct ctl_session *cs, const struct store_group *g,
                      const char *name, uint32_t rights, json_t *msgs) {
  char id[USER_MAX_NAME + 8], text[160];
  struct user u;
  uint32_t mine = rights_in(cs, g->id);
  if (user_arg(name, id, sizeof id) != 0 ||
      users_get(cs->srv->store, id, &u) != 0)
    return 0; /* unknown users are skipped, as the stock server does */
  const char *why = NULL;
  if (strcmp(id, cs->user.id) == 0)
    why = "Can't change self";
  else if (members_rights(cs->srv->store, g->id, id) == MESH_RIGHT_ADMIN &&
           mine != MESH_RIGHT_ADMIN)
    why = "Can't change rights of device group administrator";
  else if (rights == MESH_RIGHT_ADMIN && mine != MESH_RIGHT_ADMIN)
    why = "Can't set device group administrator, if not administrator";
  if (why) {
    json_array_append_new(msgs, json_string(why));
    user_cleanup(&u);
    return 0;
  }
  members_set(cs->srv->store, g->id, id, rights);
  snprintf(text, sizeof text, "Added user %s", id + 6);
  json_array_append_new(msgs, json_string(text));
  group_event(cs, g, "meshchange", 0, text);
  ctl_refresh_user(cs->srv, id);
  user_cleanup(&u);
  return 1;
}

static void cmd_addmeshuser(struct ctl_session *cs, json_t *req) {
  json_t *names = json_object_get(req, "usernames");
  json_t *rights = json_object_get(req, "meshadmin"), *n;
  struct store_group g;
  size_t i;
  if (find_group(cs, req, "addmeshuser", "meshid", "meshname",
                 "Invalid groupid", &g) != 0)
    return;
  if (rights && (!json_is_integer(rights) || json_integer_value(rights) < 0 ||
                 json_integer_value(rights) > 0xFFFFFFFFll)) {
    ctl_result(cs, req, "addmeshuser", "Invalid group rights");
  } else if (!json_is_array(names) ||
             json_array_size(names) > MESH_CTL_MAX_IDS) {
    ctl_result(cs, req, "addmeshuser", "Invalid usernames");
  } else if (!(rights_in(cs, g.id) & MESH_RIGHT_MANAGE_USERS)) {
    ctl_result(cs, req, "addmeshuser", "Permission denied");
  } else {
    uint32_t r = (uint32_t)(json_integer_value(rights) & 0xFFFFFFFF);
    json_t *msgs = json_array();
    int ok = 0;
    json_array_foreach(names, i, n) {
      if (json_is_string(n))
        ok += add_member(cs, &g, json_string_value(n), r, msgs);
    }
    /* meshctrl prints result; join the per-user texts. */
    char text[1024] = "";
    json_array_foreach(msgs, i, n) {
      size_t l = strlen(text);
      snprintf(text + l, sizeof text - l, "%s%s", l ? ", " : "",
               json_string_value(n));
    }
    json_decref(msgs);
    json_t *j = json_pack("{s:s, s:s, s:i, s:i}", "action", "addmeshuser",
                          "result", text[0] ? text : "Nothing done", "success",
                          ok, "failed", (int)json_array_size(names) - ok);
    ctl_reply(cs, req, j, 1);
  }
  store_group_cleanup(&g);
}

static void cmd_removemeshuser(struct ctl_session *cs, json_t *req) {
  char id[USER_MAX_NAME + 8];
  struct store_group g;
  if (user_arg(str_of(req, "userid"), id, sizeof id) != 0)
    return ctl_result(cs, req, "removemeshuser", "Invalid userid");
  if (find_group(cs, req, "removemeshuser", "meshid", "meshname",
                 "Unknown device group", &g) != 0)
    return;
  uint32_t mine = rights_in(cs, g.id);
  uint32_t theirs = members_rights(cs->srv->store, g.id, id);
  if (!(mine & MESH_RIGHT_MANAGE_USERS)) {
    ctl_result(cs, req, "removemeshuser", "Permission denied");
  } else if (strcmp(id, cs->user.id) == 0) {
    ctl_result(cs, req, "removemeshuser", "Can't remove self");
  } else if (!theirs) {
    ctl_result(cs, req, "removemeshuser", "User not in group");
  } else if (theirs == MESH_RIGHT_ADMIN && mine != MESH_RIGHT_ADMIN) {
    ctl_result(cs, req, "removemeshuser", "Permission denied");
  } else {
    members_del(cs->srv->store, g.id, id);
    char msg[200];
    snprintf(msg, sizeof msg, "Removed user %s from device group %s", id + 6,
             g.name);
    group_event(cs, &g, "meshchange", 83, msg);
    /* The removed user no longer sees the group's events: tell their open
     * sessions the group is gone for them (as the stock server does). */
    char mid[96];
    snprintf(mid, sizeof mid, "mesh//%s", g.id);
    events_push_user(
        cs->srv, id,
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "etype", "mesh", "action",
                  "deletemesh", "meshid", mid, "name", g.name, "msg", msg));
    ctl_refresh_user(cs->srv, id);
    ctl_result(cs, req, "removemeshuser", "ok");
  }
  store_group_cleanup(&g);
}

/* ------------------------------------------------------------- devices */

struct node_ctx {
  struct srv *srv;
  json_t *map; /* "mesh//id" -> [nodes] */
};

static void add_node(const struct store_device *d, void *data) {
  struct node_ctx *c = data;
  char mid[96];
  snprintf(mid, sizeof mid, "mesh//%s", d->group_id);
  json_t *list = json_object_get(c->map, mid);
  if (!list) {
    list = json_array();
    json_object_set_new(c->map, mid, list);
  }
  json_array_append_new(list, ctl_node_json(c->srv, d));
}

static void add_group_nodes(const char *gid, const char *uid, const char *name,
                            uint32_t rights, void *data) {
  struct node_ctx *c = data;
  (void)uid, (void)name, (void)rights;
  store_devices_each(c->srv->store, gid, NULL, add_node, c);
}

static void cmd_nodes(struct ctl_session *cs, json_t *req) {
  struct node_ctx c = {cs->srv, json_object()};
  int with_rid = str_of(req, "responseid") != NULL;
  if (json_object_get(req, "meshid") || json_object_get(req, "meshname")) {
    struct store_group g;
    if (find_group(cs, req, "nodes", "meshid", "meshname", "Invalid group id",
                   &g) != 0) {
      json_decref(c.map);
      return;
    }
    store_devices_each(cs->srv->store, g.id, NULL, add_node, &c);
    store_group_cleanup(&g);
  } else {
    members_each(cs->srv->store, NULL, cs->user.id, add_group_nodes, &c);
  }
  ctl_reply(cs, req, json_pack("{s:s, s:o}", "action", "nodes", "nodes", c.map),
            with_rid);
}

struct one_node {
  int found;
  char group[GROUP_ID_LEN + 8];
  int64_t last_connect;
  char peer[64];
  json_t *json;
};

static void take_node(const struct store_device *d, void *data) {
  struct one_node *o = data;
  o->found = 1;
  snprintf(o->group, sizeof o->group, "%s", d->group_id);
  o->last_connect = d->last_connect;
  snprintf(o->peer, sizeof o->peer, "%s", d->last_peer ? d->last_peer : "");
}

/* Finds the device named by req.nodeid that the caller may see with the
 * given rights: 0 with *o filled and id set, else -1. */
static int find_node(struct ctl_session *cs, json_t *req, uint32_t need,
                     char *id, size_t cap, struct one_node *o) {
  memset(o, 0, sizeof *o);
  if (bare_id(str_of(req, "nodeid"), "node", id, cap) != 0) return -1;
  store_devices_each(cs->srv->store, NULL, id, take_node, o);
  if (!o->found) return -1;
  uint32_t r = rights_in(cs, o->group);
  return r && (r & need) == need ? 0 : -1;
}

static void node_reply(struct ctl_session *cs, json_t *req, const char *action,
                       json_t *extra) {
  /* Echo nodeid as sent; a request without one still gets its answer
   * (json_pack fails on a NULL "O", which would send nothing). */
  json_t *nid = json_object_get(req, "nodeid");
  json_t *j = json_pack("{s:s, s:O}", "action", action, "nodeid",
                        nid ? nid : json_null());
  json_object_update(j, extra);
  json_decref(extra);
  ctl_reply(cs, req, j, 1);
}

static void cmd_getnetworkinfo(struct ctl_session *cs, json_t *req) {
  char id[80];
  struct one_node o;
  if (find_node(cs, req, MESH_RIGHT_DEVICE_DETAILS, id, sizeof id, &o) != 0)
    return node_reply(
        cs, req, "getnetworkinfo",
        json_pack("{s:b, s:s}", "noinfo", 1, "result", "Invalid device id"));
  /* Agents do not report interfaces to meshd yet: say so without
   * "result", which meshctrl would take as an error. */
  node_reply(cs, req, "getnetworkinfo",
             json_pack("{s:n, s:n}", "netif", "netif2"));
}

static void cmd_lastconnect(struct ctl_session *cs, json_t *req) {
  char id[80];
  struct one_node o;
  if (find_node(cs, req, 0, id, sizeof id, &o) != 0)
    return node_reply(cs, req, "lastconnect",
                      json_pack("{s:s}", "result", "Invalid device id"));
  if (!o.last_connect)
    return node_reply(
        cs, req, "lastconnect",
        json_pack("{s:b, s:s}", "noinfo", 1, "result", "No data"));
  node_reply(cs, req, "lastconnect",
             json_pack("{s:I, s:s}", "time", (json_int_t)o.last_connect * 1000,
                       "addr", o.peer));
}

static void cmd_getsysinfo(struct ctl_session *cs, json_t *req) {
  /* No system information is collected from agents yet. */
  node_reply(
      cs, req, "getsysinfo",
      json_pack("{s:b, s:s}", "noinfo", 1, "result", "Invalid device id"));
}

static void node_event(struct ctl_session *cs, const char *id,
                       const char *group, const char *action, int msgid,
                       const char *msg) {
  char nid[96], mid[96];
  snprintf(nid, sizeof nid, "node//%s", id);
  snprintf(mid, sizeof mid, "mesh//%s", group);
  struct ev_scope sc = {cs->user.id, group, id};
  events_emit(cs->srv,
              json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "etype",
                        "node", "action", action, "userid", cs->user.id,
                        "username", cs->user.name, "nodeid", nid, "meshid", mid,
                        "msg", msg, "msgid", msgid),
              &sc, 0);
}

static int valid_tags(json_t *tags) {
  size_t i;
  json_t *t;
  if (!json_is_array(tags) || json_array_size(tags) > 64) return 0;
  json_array_foreach(tags, i, t) {
    const char *s = json_string_value(t);
    if (!s || strlen(s) > 63) return 0;
  }
  return 1;
}

static void cmd_changedevice(struct ctl_session *cs, json_t *req) {
  char id[80];
  struct one_node o;
  const char *name = str_of(req, "name"), *desc = str_of(req, "desc");
  json_t *tags = json_object_get(req, "tags");
  json_t *icon = json_object_get(req, "icon");
  if (!str_of(req, "nodeid"))
    return ctl_result(cs, req, "changedevice", "Invalid nodeid");
  if (find_node(cs, req, MESH_RIGHT_MANAGE_DEVICES, id, sizeof id, &o) != 0)
    return ctl_result(cs, req, "changedevice", "Access Denied");
  if (not_str(req, "name") || not_str(req, "desc") ||
      (name && !name_ok(name, 255)) || (desc && strlen(desc) > 1024) ||
      (tags && !json_is_string(tags) && !valid_tags(tags)) ||
      (icon && (!json_is_integer(icon) || json_integer_value(icon) < 1 ||
                json_integer_value(icon) > 8)))
    return ctl_result(cs, req, "changedevice", "Invalid value");
  char *tags_text = NULL;
  if (tags) /* a string (meshctrl's bare --tags) clears the tags */
    tags_text =
        json_is_array(tags) ? json_dumps(tags, JSON_COMPACT) : strdup("[]");
  store_device_edit(cs->srv->store, id, name, desc, tags_text,
                    icon ? (int)json_integer_value(icon) : 0);
  free(tags_text);
  node_event(cs, id, o.group, "changenode", 140, "Changed device");
  ctl_result(cs, req, "changedevice", "ok");
}

static void cmd_removedevices(struct ctl_session *cs, json_t *req) {
  json_t *ids = json_object_get(req, "nodeids"), *n;
  size_t i;
  /* One reply per id: bound the work one message can cause. */
  if (!json_is_array(ids) || json_array_size(ids) > MESH_CTL_MAX_IDS)
    return ctl_result(cs, req, "removedevices", "Invalid nodeid");
  json_array_foreach(ids, i, n) {
    char id[80];
    struct one_node o;
    json_t *one = json_pack("{s:O}", "nodeid", n);
    if (find_node(cs, one, MESH_RIGHT_UNINSTALL, id, sizeof id, &o) != 0) {
      ctl_result(cs, req, "removedevices", "Denied");
    } else {
      srv_agent_kick(cs->srv, id, "device removed");
      store_device_delete(cs->srv->store, id);
      node_event(cs, id, o.group, "removenode", 87, "Removed device");
      ctl_result(cs, req, "removedevices", "ok");
    }
    json_decref(one);
  }
}

/* -------------------------------------------------------------- events */

static void cmd_events(struct ctl_session *cs, json_t *req) {
  char id[80];
  const char *nodeid = str_of(req, "nodeid");
  json_t *limit = json_object_get(req, "limit");
  int lim = json_is_integer(limit) ? (int)json_integer_value(limit) : 0;
  json_t *list;
  if (nodeid) {
    struct one_node o;
    list = find_node(cs, req, 0, id, sizeof id, &o) == 0
               ? events_list(cs, id, lim)
               : json_array();
  } else {
    list = events_list(cs, NULL, lim);
  }
  json_t *j = json_pack("{s:s, s:o}", "action", "events", "events", list);
  if (nodeid) json_object_set_new(j, "nodeid", json_string(nodeid));
  if (json_object_get(req, "user"))
    json_object_set(j, "user", json_object_get(req, "user"));
  ctl_reply(cs, req, j, 0);
}

/* -------------------------------------------------------------- table */

static const struct {
  const char *action;
  void (*fn)(struct ctl_session *cs, json_t *req);
} commands[] = {
    {"ping", cmd_ping},
    {"users", cmd_users},
    {"adduser", cmd_adduser},
    {"edituser", cmd_edituser},
    {"deleteuser", cmd_deleteuser},
    {"meshes", cmd_meshes},
    {"createmesh", cmd_createmesh},
    {"deletemesh", cmd_deletemesh},
    {"editmesh", cmd_editmesh},
    {"addmeshuser", cmd_addmeshuser},
    {"removemeshuser", cmd_removemeshuser},
    {"nodes", cmd_nodes},
    {"getnetworkinfo", cmd_getnetworkinfo},
    {"lastconnect", cmd_lastconnect},
    {"getsysinfo", cmd_getsysinfo},
    {"changedevice", cmd_changedevice},
    {"removedevices", cmd_removedevices},
    {"events", cmd_events},
    {"otp-setup", ctl_cmd_otp_setup},
    {"otp-confirm", ctl_cmd_otp_confirm},
    {"otp-remove", ctl_cmd_otp_remove},
    {"changepassword", ctl_cmd_changepassword},
    {"getserversettings", ctl_cmd_getserversettings},
    {"setserversettings", ctl_cmd_setserversettings},
    {"installcommand", ctl_cmd_installcommand},
    {"authcookie", ctl_cmd_authcookie},
    {"msg", ctl_cmd_msg},
    {"recordings", ctl_cmd_recordings},
    {"setcore", ctl_cmd_setcore},
    {"coreinfo", ctl_cmd_coreinfo},
};

/* What a session that must first enrol a second factor may do. */
static const char *const enrol_only[] = {"ping", "otp-setup", "otp-confirm",
                                         "changepassword"};

int ctl_must_enrol(const struct ctl_session *cs) {
  return cs->srv->settings.require_2fa && !cs->user.has_totp;
}

void ctl_dispatch(struct ctl_session *cs, json_t *req) {
  const char *action = str_of(req, "action");
  if (!action) return;
  if (ctl_must_enrol(cs)) {
    size_t i = 0, n = sizeof enrol_only / sizeof *enrol_only;
    while (i < n && strcmp(enrol_only[i], action) != 0) i++;
    if (i == n) {
      ctl_result(cs, req, action, "Second factor required: enrol one first");
      return;
    }
  }
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (strcmp(commands[i].action, action) == 0) {
      commands[i].fn(cs, req);
      return;
    }
  /* Unknown actions: an error when the client asked for a reply. */
  ctl_result(cs, req, action, "Unknown command");
}
