/*
 * ctl_cores.c - the user API's core commands (docs/user-api.md §7.25,
 * meshd's own): setcore chooses the core a device runs, coreinfo shows
 * it.
 *
 * A core runs with the agent's rights (root, as a service) on the device,
 * so sending one's own JavaScript is a site administrator's act: setcore
 * with a custom core needs full site administration and the group right
 * to manage devices; going back to the default core or to none needs the
 * group right alone, like any other device management.
 */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cores.h"
#include "ctl.h"

static void reply(struct ctl_session *cs, json_t *req, const char *action,
                  const char *result) {
  json_t *j = json_pack("{s:s, s:s}", "action", action, "result", result);
  json_t *nodeid = json_object_get(req, "nodeid");
  if (json_is_string(nodeid)) json_object_set(j, "nodeid", nodeid);
  ctl_reply(cs, req, j, 1);
}

void ctl_cmd_setcore(struct ctl_session *cs, json_t *req) {
  char id[80];
  struct ctl_node f;
  const char *core = ctl_str_of(req, "core");
  if (ctl_find_node(cs, req, MESH_RIGHT_MANAGE_DEVICES, id, sizeof id, &f) != 0)
    return reply(cs, req, "setcore", "Invalid device id");
  if (!core || !*core) return reply(cs, req, "setcore", "Invalid core");
  const char *mode = strcmp(core, "default") == 0 ? "default"
                     : strcmp(core, "none") == 0  ? "none"
                                                  : "custom";
  if (strcmp(mode, "custom") == 0 && !ctl_is_admin(cs))
    return reply(cs, req, "setcore", "Permission denied");
  if (strlen(core) > CORES_MAX_JS)
    return reply(cs, req, "setcore", "Core too large");
  if (cores_set(cs->srv, id, mode, strcmp(mode, "custom") ? NULL : core) != 0)
    return reply(cs, req, "setcore", "Database error");
  char nid[96], mid[128], msg[160];
  snprintf(nid, sizeof nid, "node//%s", id);
  snprintf(mid, sizeof mid, "mesh//%s", f.group);
  snprintf(msg, sizeof msg, "Changed the device's core to %s", mode);
  struct ev_scope sc = {cs->user.id, f.group, id};
  events_emit(cs->srv,
              json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "etype",
                        "node", "action", "setcore", "userid", cs->user.id,
                        "username", cs->user.name, "nodeid", nid, "meshid", mid,
                        "msg", msg, "core", mode),
              &sc, 0);
  log_info("event=setcore node=%s mode=%s bytes=%zu by=%s", id, mode,
           strcmp(mode, "custom") ? (size_t)0 : strlen(core), cs->user.id);
  reply(cs, req, "setcore", "ok");
}

void ctl_cmd_coreinfo(struct ctl_session *cs, json_t *req) {
  char id[80];
  struct ctl_node f;
  if (ctl_find_node(cs, req, 0, id, sizeof id, &f) != 0)
    return reply(cs, req, "coreinfo", "Invalid device id");
  json_t *j = cores_info(cs->srv, id);
  if (!j) return reply(cs, req, "coreinfo", "Server busy");
  json_object_set_new(j, "action", json_string("coreinfo"));
  json_object_set(j, "nodeid", json_object_get(req, "nodeid"));
  ctl_reply(cs, req, j, 1);
}
