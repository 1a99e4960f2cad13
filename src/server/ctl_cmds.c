/*
 * ctl_cmds.c - the commands of /control.ashx (docs/user-api.md §7): the
 * command table and dispatch, the argument helpers and object builders
 * the command files share, and the small commands (ping, events). The
 * others live by subject: ctl_accounts.c, ctl_groups.c, ctl_devices.c,
 * ctl_otp.c, ctl_passwd.c, ctl_settings.c, ctl_relay.c, ctl_cores.c,
 * recording_api.c.
 *
 * Each handler checks the caller's rights itself, on every call, and
 * answers with MeshCentral's reply shapes and texts, which meshctrl prints
 * verbatim. Where the stock server stays silent on a refusal (leaving its
 * client waiting forever) meshd answers with an error instead.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "cores.h"
#include "ctl.h"
#include "net/http_srv.h"

/* ------------------------------------------------------------ helpers */

const char *ctl_str_of(json_t *req, const char *key) {
  return json_string_value(json_object_get(req, key));
}

/* Nonzero if key is present with a type other than a string: such a
 * field is refused, never taken as absent (which would report "ok" for a
 * change that was not made). */
int ctl_not_str(json_t *req, const char *key) {
  json_t *v = json_object_get(req, key);
  return v && !json_is_string(v);
}

/* "mesh//ID" or "ID" -> "ID" (kind is "mesh", "node"). */
int ctl_bare_id(const char *in, const char *kind, char *out, size_t cap) {
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
int ctl_user_arg(const char *in, char *out, size_t cap) {
  if (!in) return MESH_E_INVALID;
  if (strncmp(in, "user//", 6) == 0) in += 6;
  return user_id_of(in, out, cap);
}

/* A name shown in lists, menus and the .msh: 1..max bytes without control
 * characters (jansson has already checked it is valid UTF-8). */
int ctl_name_ok(const char *name, size_t max) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > max) return 0;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    if (*p < 0x20 || *p == 0x7f) return 0;
  return 1;
}

int ctl_is_admin(const struct ctl_session *cs) {
  return cs->user.siteadmin == SITE_ADMIN;
}

uint32_t ctl_rights_in(struct ctl_session *cs, const char *group_id) {
  return members_rights(cs->srv->store, group_id, cs->user.id);
}

void ctl_peer_ip(const struct ctl_session *cs, char *out, size_t cap) {
  snprintf(out, cap, "%s", cs->peer);
  char *colon = strrchr(out, ':');
  if (colon) *colon = 0;
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
  /* Live state comes from the connections, not the table; in a cluster
   * the table's flag says the agent is connected to another server. */
  if (strmap_get(&s->agents, d->id) || (s->cluster && d->online)) {
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
  /* The web app offers WebRTC only then (the relay drops offers else). */
  if (s->settings.webrtc)
    json_object_set_new(json_object_get(si, "serverinfo"), "webrtc",
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

/* -------------------------------------------------------------- events */

static void cmd_events(struct ctl_session *cs, json_t *req) {
  char id[80];
  const char *nodeid = ctl_str_of(req, "nodeid");
  json_t *limit = json_object_get(req, "limit");
  int lim = json_is_integer(limit) ? (int)json_integer_value(limit) : 0;
  json_t *list;
  if (nodeid) {
    struct ctl_node o;
    list = ctl_find_node(cs, req, 0, id, sizeof id, &o) == 0
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
  ctl_cmd_fn *fn;
} commands[] = {
    {"ping", cmd_ping},
    {"users", ctl_cmd_users},
    {"adduser", ctl_cmd_adduser},
    {"edituser", ctl_cmd_edituser},
    {"deleteuser", ctl_cmd_deleteuser},
    {"meshes", ctl_cmd_meshes},
    {"createmesh", ctl_cmd_createmesh},
    {"deletemesh", ctl_cmd_deletemesh},
    {"editmesh", ctl_cmd_editmesh},
    {"addmeshuser", ctl_cmd_addmeshuser},
    {"removemeshuser", ctl_cmd_removemeshuser},
    {"nodes", ctl_cmd_nodes},
    {"getnetworkinfo", ctl_cmd_getnetworkinfo},
    {"lastconnect", ctl_cmd_lastconnect},
    {"getsysinfo", ctl_cmd_getsysinfo},
    {"changedevice", ctl_cmd_changedevice},
    {"removedevices", ctl_cmd_removedevices},
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
  const char *action = ctl_str_of(req, "action");
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
