/*
 * ctl_settings.c - server settings and install commands over the user
 * API (docs/user-api.md §7.22, §7.23):
 *
 * getserversettings / setserversettings (full site administrators only):
 * require a second factor of every account, how long events are kept,
 * and whether sessions may move onto direct WebRTC channels.
 *
 * installcommand: a one-line shell command that downloads meshagent with a
 * group's .msh embedded and starts it. The download URL carries a sealed
 * install token (group, issuing user, expiry) instead of a session, so it
 * works on a machine where nobody signed in; it stops working when it
 * expires or when its issuer loses the right to add devices to the group.
 * curl is told to accept only this server's public key (--pinnedpubkey),
 * so the command is safe to run even though meshd's certificate comes
 * from its own authority (-k only skips the CA check the pin replaces).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "ctl.h"
#include "msh_text.h"
#include "settings.h"

static int admin_only(struct ctl_session *cs, json_t *req, const char *action) {
  if (ctl_is_admin(cs)) return 1;
  ctl_result(cs, req, action, "Access denied");
  return 0;
}

static json_t *settings_json(const struct settings *st) {
  return json_pack("{s:b, s:I, s:b}", "require2fa", st->require_2fa,
                   "eventRetentionDays", (json_int_t)st->retention_days,
                   "webrtc", st->webrtc);
}

void ctl_cmd_getserversettings(struct ctl_session *cs, json_t *req) {
  if (!admin_only(cs, req, "getserversettings")) return;
  ctl_reply(cs, req,
            json_pack("{s:s, s:o}", "action", "getserversettings", "settings",
                      settings_json(&cs->srv->settings)),
            1);
}

void ctl_cmd_setserversettings(struct ctl_session *cs, json_t *req) {
  static const char action[] = "setserversettings";
  struct srv *s = cs->srv;
  struct settings next = s->settings;
  json_t *tfa = json_object_get(req, "require2fa");
  json_t *days = json_object_get(req, "eventRetentionDays");
  json_t *rtc = json_object_get(req, "webrtc");
  if (!admin_only(cs, req, action)) return;
  if (tfa && !json_is_boolean(tfa))
    return ctl_result(cs, req, action, "Invalid require2fa");
  if (rtc && !json_is_boolean(rtc))
    return ctl_result(cs, req, action, "Invalid webrtc");
  if (days && (!json_is_integer(days) || json_integer_value(days) < 0 ||
               json_integer_value(days) > SETTINGS_RETENTION_MAX))
    return ctl_result(cs, req, action, "Invalid eventRetentionDays");
  if (tfa) next.require_2fa = json_is_true(tfa);
  if (days) next.retention_days = (uint32_t)json_integer_value(days);
  if (rtc) next.webrtc = json_is_true(rtc);
  if (settings_set(s->store, &next) != 0)
    return ctl_result(cs, req, action, "Database error");
  s->settings = next;
  char msg[200];
  snprintf(msg, sizeof msg,
           "Server settings changed: second factor %s, events kept %u days, "
           "WebRTC %s",
           next.require_2fa ? "required" : "optional", next.retention_days,
           next.webrtc ? "allowed" : "off");
  struct ev_scope sc = {cs->user.id, NULL, NULL};
  events_emit(
      s,
      json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "etype", "server", "action",
                "serversettings", "userid", cs->user.id, "username",
                cs->user.name, "msg", msg, "settings", settings_json(&next)),
      &sc, 0);
  log_info(
      "event=settings_changed user=%s require_2fa=%d retention_days=%u "
      "webrtc=%d",
      cs->user.id, next.require_2fa, next.retention_days, next.webrtc);
  /* Every open session learns the rule (the web app then asks those
   * without a second factor to enrol). */
  for (struct ctl_session *o = s->ctl_sessions; o; o = o->next)
    ctl_send_serverinfo(o);
  ctl_result(cs, req, action, "ok");
}

/* Seconds an install command works. */
#define INSTALL_TOKEN_TTL (24 * 3600)

void ctl_cmd_installcommand(struct ctl_session *cs, json_t *req) {
  static const char action[] = "installcommand";
  struct srv *s = cs->srv;
  const char *mid = ctl_str_of(req, "meshid");
  char gid[80], token[SEAL_TOKEN_LEN(SEAL_MAX_PLAIN) + 1];
  if (!mid || strncmp(mid, "mesh//", 6) != 0 || strlen(mid + 6) >= sizeof gid)
    return ctl_result(cs, req, action, "Invalid meshid");
  snprintf(gid, sizeof gid, "%s", mid + 6);
  uint32_t rights = ctl_rights_in(cs, gid);
  if (!(rights & MESH_RIGHT_MANAGE_DEVICES))
    return ctl_result(cs, req, action, "Access denied");
  if (!msh_host_ok(cs->host))
    return ctl_result(cs, req, action, "Bad Host header");
  int64_t exp = (int64_t)time(NULL) + INSTALL_TOKEN_TTL;
  json_t *plain = json_pack("{s:s, s:s, s:I}", "g", gid, "u", cs->user.id,
                            "exp", (json_int_t)exp);
  char *text = plain ? json_dumps(plain, JSON_COMPACT) : NULL;
  json_decref(plain);
  int r = text ? seal_token(s->keys.cookie_key, text, strlen(text), token,
                            sizeof token)
               : MESH_E_NOMEM;
  free(text);
  if (r) return ctl_result(cs, req, action, "Internal error");
  char url[MSH_MAX_HOST + sizeof token + 64], cmd[sizeof url + 256];
  snprintf(url, sizeof url, "https://%s/api/meshagent?inst=%s", cs->host,
           token);
  snprintf(cmd, sizeof cmd,
           "curl -fsS -k --pinnedpubkey 'sha256//%s' -o meshagent '%s' && "
           "chmod 700 meshagent && sudo ./meshagent run",
           s->keys.web_pin, url);
  log_info("event=install_command user=%s group=%s", cs->user.id, gid);
  ctl_reply(
      cs, req,
      json_pack("{s:s, s:s, s:s, s:s, s:I}", "action", action, "meshid", mid,
                "command", cmd, "url", url, "expires", (json_int_t)exp * 1000),
      1);
}
