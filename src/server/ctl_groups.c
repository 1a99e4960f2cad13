/*
 * ctl_groups.c - the user API's device group commands (docs/user-api.md
 * §7): meshes, createmesh, deletemesh, editmesh, addmeshuser,
 * removemeshuser.
 *
 * Rights come from the caller's membership of the group (a site
 * administrator is not a member of every group, as in the stock server);
 * every change is an event for the group's members.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

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

void ctl_cmd_meshes(struct ctl_session *cs, json_t *req) {
  ctl_reply(
      cs, req,
      json_pack("{s:s, s:o}", "action", "meshes", "meshes", my_groups(cs)), 0);
}

int ctl_find_group(struct ctl_session *cs, json_t *req, const char *action,
                   const char *id_key, const char *name_key, const char *bad_id,
                   struct store_group *g) {
  char id[CTL_GROUP_ID_LEN + 8];
  const char *name = ctl_str_of(req, name_key);
  if (!json_object_get(req, id_key) && name) {
    /* By name, among the groups the caller belongs to. */
    json_t *mine = my_groups(cs), *one;
    size_t i, found = 0;
    json_array_foreach(mine, i, one) {
      if (strcmp(json_string_value(json_object_get(one, "name")), name) != 0)
        continue;
      if (found++ == 0)
        ctl_bare_id(json_string_value(json_object_get(one, "_id")), "mesh", id,
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
  } else if (ctl_bare_id(ctl_str_of(req, id_key), "mesh", id, sizeof id) != 0) {
    ctl_result(cs, req, action, bad_id);
    return -1;
  }
  if (store_group_get(cs->srv->store, id, 0, g) != 0 ||
      ctl_rights_in(cs, id) == 0) {
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

void ctl_cmd_createmesh(struct ctl_session *cs, json_t *req) {
  const char *name = ctl_str_of(req, "meshname"),
             *desc = ctl_str_of(req, "desc");
  json_t *type = json_object_get(req, "meshtype");
  struct store_group g;
  if (!ctl_is_admin(cs) && (cs->user.siteadmin & SITE_NO_NEW_GROUPS))
    return ctl_result(cs, req, "createmesh", "Permission denied");
  if (!ctl_name_ok(name, 128))
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

void ctl_cmd_deletemesh(struct ctl_session *cs, json_t *req) {
  struct store_group g;
  if (ctl_find_group(cs, req, "deletemesh", "meshid", "meshname",
                     "Invalid group identifier", &g) != 0)
    return;
  if (ctl_rights_in(cs, g.id) != MESH_RIGHT_ADMIN) {
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

void ctl_cmd_editmesh(struct ctl_session *cs, json_t *req) {
  struct store_group g;
  if (ctl_find_group(cs, req, "editmesh", "meshid", "meshidname",
                     "Invalid group identifier ", &g) != 0)
    return;
  const char *name = ctl_str_of(req, "meshname"),
             *desc = ctl_str_of(req, "desc");
  json_t *flags = json_object_get(req, "flags");
  json_t *consent = json_object_get(req, "consent");
  json_t *record = json_object_get(req, "recordSessions");
  if (!(ctl_rights_in(cs, g.id) & MESH_RIGHT_EDIT_GROUP)) {
    ctl_result(cs, req, "editmesh", "Permission denied");
  } else if (ctl_not_str(req, "meshname") || ctl_not_str(req, "desc") ||
             (name && !ctl_name_ok(name, 128)) ||
             (desc && strlen(desc) > 1024)) {
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
  uint32_t mine = ctl_rights_in(cs, g->id);
  if (ctl_user_arg(name, id, sizeof id) != 0 ||
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

void ctl_cmd_addmeshuser(struct ctl_session *cs, json_t *req) {
  json_t *names = json_object_get(req, "usernames");
  json_t *rights = json_object_get(req, "meshadmin"), *n;
  struct store_group g;
  size_t i;
  if (ctl_find_group(cs, req, "addmeshuser", "meshid", "meshname",
                     "Invalid groupid", &g) != 0)
    return;
  if (rights && (!json_is_integer(rights) || json_integer_value(rights) < 0 ||
                 json_integer_value(rights) > 0xFFFFFFFFll)) {
    ctl_result(cs, req, "addmeshuser", "Invalid group rights");
  } else if (!json_is_array(names) ||
             json_array_size(names) > MESH_CTL_MAX_IDS) {
    ctl_result(cs, req, "addmeshuser", "Invalid usernames");
  } else if (!(ctl_rights_in(cs, g.id) & MESH_RIGHT_MANAGE_USERS)) {
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

void ctl_cmd_removemeshuser(struct ctl_session *cs, json_t *req) {
  char id[USER_MAX_NAME + 8];
  struct store_group g;
  if (ctl_user_arg(ctl_str_of(req, "userid"), id, sizeof id) != 0)
    return ctl_result(cs, req, "removemeshuser", "Invalid userid");
  if (ctl_find_group(cs, req, "removemeshuser", "meshid", "meshname",
                     "Unknown device group", &g) != 0)
    return;
  uint32_t mine = ctl_rights_in(cs, g.id);
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
