/*
 * ctl_devices.c - the user API's device commands (docs/user-api.md §7):
 * nodes, getnetworkinfo, lastconnect, getsysinfo, changedevice,
 * removedevices.
 *
 * A device is reached through its group: the caller must be a member of
 * the device's group with the rights the command needs, and a device the
 * caller may not see is answered like one that does not exist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

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

void ctl_cmd_nodes(struct ctl_session *cs, json_t *req) {
  struct node_ctx c = {cs->srv, json_object()};
  int with_rid = ctl_str_of(req, "responseid") != NULL;
  if (json_object_get(req, "meshid") || json_object_get(req, "meshname")) {
    struct store_group g;
    if (ctl_find_group(cs, req, "nodes", "meshid", "meshname",
                       "Invalid group id", &g) != 0) {
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

static void take_node(const struct store_device *d, void *data) {
  struct ctl_node *o = data;
  o->found = 1;
  snprintf(o->group, sizeof o->group, "%s", d->group_id);
  o->last_connect = d->last_connect;
  snprintf(o->peer, sizeof o->peer, "%s", d->last_peer ? d->last_peer : "");
}

void ctl_node_lookup(struct srv *s, const char *id, struct ctl_node *o) {
  memset(o, 0, sizeof *o);
  store_devices_each(s->store, NULL, id, take_node, o);
}

int ctl_find_node(struct ctl_session *cs, json_t *req, uint32_t need, char *id,
                  size_t cap, struct ctl_node *o) {
  memset(o, 0, sizeof *o);
  if (ctl_bare_id(ctl_str_of(req, "nodeid"), "node", id, cap) != 0) return -1;
  ctl_node_lookup(cs->srv, id, o);
  if (!o->found) return -1;
  uint32_t r = ctl_rights_in(cs, o->group);
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

void ctl_cmd_getnetworkinfo(struct ctl_session *cs, json_t *req) {
  char id[80];
  struct ctl_node o;
  if (ctl_find_node(cs, req, MESH_RIGHT_DEVICE_DETAILS, id, sizeof id, &o) != 0)
    return node_reply(
        cs, req, "getnetworkinfo",
        json_pack("{s:b, s:s}", "noinfo", 1, "result", "Invalid device id"));
  /* Agents do not report interfaces to meshd yet: say so without
   * "result", which meshctrl would take as an error. */
  node_reply(cs, req, "getnetworkinfo",
             json_pack("{s:n, s:n}", "netif", "netif2"));
}

void ctl_cmd_lastconnect(struct ctl_session *cs, json_t *req) {
  char id[80];
  struct ctl_node o;
  if (ctl_find_node(cs, req, 0, id, sizeof id, &o) != 0)
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

void ctl_cmd_getsysinfo(struct ctl_session *cs, json_t *req) {
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

void ctl_cmd_changedevice(struct ctl_session *cs, json_t *req) {
  char id[80];
  struct ctl_node o;
  const char *name = ctl_str_of(req, "name"), *desc = ctl_str_of(req, "desc");
  json_t *tags = json_object_get(req, "tags");
  json_t *icon = json_object_get(req, "icon");
  if (!ctl_str_of(req, "nodeid"))
    return ctl_result(cs, req, "changedevice", "Invalid nodeid");
  if (ctl_find_node(cs, req, MESH_RIGHT_MANAGE_DEVICES, id, sizeof id, &o) != 0)
    return ctl_result(cs, req, "changedevice", "Access Denied");
  if (ctl_not_str(req, "name") || ctl_not_str(req, "desc") ||
      (name && !ctl_name_ok(name, 255)) || (desc && strlen(desc) > 1024) ||
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

void ctl_cmd_removedevices(struct ctl_session *cs, json_t *req) {
  json_t *ids = json_object_get(req, "nodeids"), *n;
  size_t i;
  /* One reply per id: bound the work one message can cause. */
  if (!json_is_array(ids) || json_array_size(ids) > MESH_CTL_MAX_IDS)
    return ctl_result(cs, req, "removedevices", "Invalid nodeid");
  json_array_foreach(ids, i, n) {
    char id[80];
    struct ctl_node o;
    json_t *one = json_pack("{s:O}", "nodeid", n);
    if (ctl_find_node(cs, one, MESH_RIGHT_UNINSTALL, id, sizeof id, &o) != 0) {
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
