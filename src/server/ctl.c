/*
 * ctl.c - control connections: upgrade, Origin check, sign-in, the list
 * of open sessions, and sending.
 *
 * Sign-in happens inside the WebSocket, as the stock server does it, so
 * that meshctrl's "Invalid login." path works: the upgrade always
 * succeeds (unless the Origin is foreign), then a failed sign-in gets
 * {"action":"close","cause":"noauth",...} and a close frame. Password
 * checks run on the thread pool; commands that arrive meanwhile wait in
 * a short queue and run in order once the session is open.
 *
 * A session holds a reference for its socket and one per thread-pool job,
 * and is freed with the last (the same scheme as srv_agent.c).
 */
#include "ctl.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "base/err.h"
#include "base/log.h"
#include "net/http_srv.h"
#include "net/ws.h"

void ctl_session_ref(struct ctl_session *cs) { cs->refs++; }

void ctl_session_unref(struct ctl_session *cs) {
  if (--cs->refs > 0) return;
  for (int i = 0; i < cs->n_early; i++) json_decref(cs->early[i]);
  OPENSSL_cleanse(cs->login_token, sizeof cs->login_token);
  OPENSSL_cleanse(cs->otp_pending, sizeof cs->otp_pending);
  user_cleanup(&cs->user);
  free(cs);
}

void ctl_send(struct ctl_session *cs, json_t *msg) {
  if (cs->state == CTL_CLOSED) return;
  char *text = json_dumps(msg, JSON_COMPACT);
  if (text) ws_send(cs->ws, WS_TEXT, text, strlen(text));
  free(text);
}

/* Starts closing the connection. From here on nothing it sent is run or
 * queued: the close handshake may take a while (a client need not answer
 * the close frame), and neither a sign-in finishing meanwhile nor
 * commands still arriving may act for it. */
static void start_close(struct ctl_session *cs, uint16_t code,
                        const char *why) {
  if (cs->state == CTL_AUTHING || cs->state == CTL_OPEN)
    cs->state = CTL_CLOSING;
  ws_close(cs->ws, code, why);
}

/* Refuses the sign-in the way meshctrl understands, then closes. */
static void refuse(struct ctl_session *cs, const char *cause, const char *msg) {
  json_t *j = json_pack("{s:s, s:s, s:s}", "action", "close", "cause", cause,
                        "msg", msg);
  ctl_send(cs, j);
  json_decref(j);
  log_info("event=login_refused peer=%s reason=\"%s\"", cs->peer, msg);
  start_close(cs, 1008, msg);
}

static void open_session(struct ctl_session *cs, const char *user_id) {
  struct srv *s = cs->srv;
  if (users_get(s->store, user_id, &cs->user) != 0) {
    refuse(cs, "noauth", "noauth");
    return;
  }
  if (cs->user.siteadmin != SITE_ADMIN && (cs->user.siteadmin & SITE_LOCKED)) {
    refuse(cs, "noauth", "noauth-2d");
    return;
  }
  /* Tools sign in with a password; the "no tools" site right and a
   * server that requires a second factor of an account without one (it
   * can enrol only in the web app) both keep them out. */
  if (cs->tool && cs->user.siteadmin != SITE_ADMIN &&
      (cs->user.siteadmin & SITE_NO_TOOLS)) {
    refuse(cs, "notools", "notools");
    return;
  }
  if (cs->tool && ctl_must_enrol(cs)) {
    refuse(cs, "noauth", "second factor required: enrol in the web app");
    return;
  }
  cs->state = CTL_OPEN;
  cs->linked = 1;
  cs->next = s->ctl_sessions;
  if (cs->next) cs->next->prev = cs;
  s->ctl_sessions = cs;
  log_info("event=user_session peer=%s user=%s", cs->peer, cs->user.id);
  ctl_hello(cs);
  /* Commands that arrived during sign-in, in their order. */
  for (int i = 0; i < cs->n_early && cs->state == CTL_OPEN; i++) {
    ctl_dispatch(cs, cs->early[i]);
    json_decref(cs->early[i]);
    cs->early[i] = NULL;
  }
  cs->n_early = 0;
}

/* Refuses a sign-in whose second factor is missing or wrong, in the
 * shape of docs/user-api.md §2.2 (meshctrl then asks for --token). */
static void refuse_token(struct ctl_session *cs) {
  json_t *j =
      json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:i}", "action", "close",
                "cause", "noauth", "msg", "tokenrequired", "email2fa", 0,
                "sms2fa", 0, "msg2fa", 0, "twoFactorCookieDays", 30);
  ctl_send(cs, j);
  json_decref(j);
  log_info("event=login_refused peer=%s reason=\"tokenrequired\"", cs->peer);
  start_close(cs, 1008, "tokenrequired");
}

static void on_password(int status, const char *user_id, void *data) {
  struct ctl_session *cs = data;
  if (cs->state == CTL_AUTHING) {
    time_t now = time(NULL);
    int has_token = cs->login_token[0] != 0;
    if (status == 0 && auth_second_factor(cs->srv->store, user_id,
                                          cs->login_token, now) != 0) {
      /* A missing code is the normal first try of a 2FA account; only a
       * wrong one counts as a failure. */
      if (has_token)
        auth_throttle_failed(cs->srv->throttle, cs->login_key, cs->login_addr,
                             now);
      refuse_token(cs);
    } else if (status == 0) {
      auth_throttle_succeeded(cs->srv->throttle, cs->login_key, now);
      open_session(cs, user_id);
    } else {
      auth_throttle_failed(cs->srv->throttle, cs->login_key, cs->login_addr,
                           time(NULL));
      refuse(cs, "noauth", "noauth-2d");
    }
  }
  OPENSSL_cleanse(cs->login_token, sizeof cs->login_token);
  ctl_session_unref(cs);
}

static void sign_in_password(struct ctl_session *cs, const char *header) {
  struct srv *s = cs->srv;
  char *user = NULL, *pass = NULL, *token = NULL;
  ctl_peer_ip(cs, cs->login_addr, sizeof cs->login_addr);
  if (auth_parse_meshauth(header, &user, &pass, &token) != 0) {
    refuse(cs, "noauth", "noauth-2c");
    return;
  }
  auth_throttle_key(user, cs->login_key, sizeof cs->login_key);
  /* Kept (and wiped) until the password check is back. */
  if (token) snprintf(cs->login_token, sizeof cs->login_token, "%s", token);
  if (auth_throttle_check(s->throttle, cs->login_key, cs->login_addr,
                          time(NULL)) != 0) {
    refuse(cs, "noauth", "noauth-2d");
  } else {
    ctl_session_ref(cs);
    if (auth_check_password(s->loop, s->store, user, pass, on_password, cs) !=
        0) {
      ctl_session_unref(cs);
      refuse(cs, "noauth", "noauth-2d");
    }
  }
  free(user);
  if (pass) OPENSSL_cleanse(pass, strlen(pass));
  free(pass);
  if (token) OPENSSL_cleanse(token, strlen(token));
  free(token);
}

static void sign_in(struct ctl_session *cs, const struct http_req *req) {
  const char *auth = http_req_header(req, "x-meshauth");
  const char *cookies = http_req_header(req, "Cookie");
  char token[SESSION_TOKEN_LEN + 2], *user_id = NULL;
  if (auth) {
    cs->tool = 1;
    sign_in_password(cs, auth);
  } else if (cookies &&
             srv_cookie_value(cookies, CTL_COOKIE, token, sizeof token) == 0 &&
             sessions_lookup(cs->srv->store, token, &user_id) == 0) {
    SHA256((const uint8_t *)token, strlen(token), cs->token_hash);
    open_session(cs, user_id);
    free(user_id);
  } else {
    refuse(cs, "noauth", "noauth");
  }
  OPENSSL_cleanse(token, sizeof token);
}

static void on_message(struct ws *w, enum ws_type t, const uint8_t *p, size_t n,
                       void *data) {
  struct ctl_session *cs = data;
  (void)w;
  json_t *req = t == WS_TEXT ? json_loadb((const char *)p, n, 0, NULL) : NULL;
  if (!json_is_object(req)) { /* the stock server ignores these too */
    json_decref(req);
    return;
  }
  if (cs->state == CTL_OPEN) {
    ctl_dispatch(cs, req);
    json_decref(req);
  } else if (cs->state == CTL_AUTHING && cs->n_early < MESH_CTL_MAX_EARLY) {
    cs->early[cs->n_early++] = req;
  } else if (cs->state == CTL_AUTHING) {
    json_decref(req);
    start_close(cs, 1008, "too many commands before sign-in");
  } else {
    json_decref(req); /* closing: dropped */
  }
}

static void on_close(struct ws *w, int code, const char *reason, void *data) {
  struct ctl_session *cs = data;
  struct srv *s = cs->srv;
  (void)w;
  if (cs->linked) {
    if (cs->prev)
      cs->prev->next = cs->next;
    else
      s->ctl_sessions = cs->next;
    if (cs->next) cs->next->prev = cs->prev;
    cs->linked = 0;
    log_info("event=user_session_end peer=%s user=%s code=%d", cs->peer,
             cs->user.id, code);
  }
  (void)reason;
  cs->state = CTL_CLOSED;
  ctl_session_unref(cs);
}

static const struct ws_cbs ctl_ws_cbs = {.on_message = on_message,
                                         .on_close = on_close};

void srv_ctl_accept(struct srv *s, struct http_conn *c,
                    const struct http_req *req) {
  /* A browser's upgrade must come from this server's own pages, or any
   * site could use a signed-in user's cookie (cross-site WebSocket
   * hijacking); meshctrl sends no Origin. */
  if (!srv_same_origin(req)) {
    static const char msg[] = "cross-origin request refused\n";
    log_warn("event=origin_refused peer=%s", req->peer);
    http_respond(c, 403, NULL, "text/plain; charset=utf-8", msg,
                 sizeof msg - 1);
    return;
  }
  struct ctl_session *cs = calloc(1, sizeof *cs);
  if (!cs) {
    http_respond(c, 503, NULL, "text/plain", "busy\n", 5);
    return;
  }
  cs->srv = s;
  cs->refs = 1;
  snprintf(cs->peer, sizeof cs->peer, "%s", req->peer);
  const char *host = http_req_header(req, "Host");
  if (host && strlen(host) < sizeof cs->host)
    memcpy(cs->host, host, strlen(host) + 1);
  cs->ws = http_upgrade_ws(c, req, &ctl_ws_cbs, cs);
  if (!cs->ws) {
    free(cs);
    return;
  }
  ws_set_max_message(cs->ws, MESH_CTL_MAX_MESSAGE);
  ws_set_idle_timeout(cs->ws, 0);
  sign_in(cs, req);
}

void ctl_result(struct ctl_session *cs, json_t *req, const char *action,
                const char *text) {
  const char *rid = ctl_str_of(req, "responseid");
  if (!rid) return;
  json_t *j = json_pack("{s:s, s:s, s:s}", "action", action, "responseid", rid,
                        "result", text);
  ctl_send(cs, j);
  json_decref(j);
}

void ctl_reply(struct ctl_session *cs, json_t *req, json_t *j, int with_rid) {
  json_t *tag = json_object_get(req, "tag");
  json_t *rid = json_object_get(req, "responseid");
  if (tag) json_object_set(j, "tag", tag);
  if (with_rid && json_is_string(rid)) json_object_set(j, "responseid", rid);
  ctl_send(cs, j);
  json_decref(j);
}

void ctl_refresh_user(struct srv *s, const char *user_id) {
  for (struct ctl_session *cs = s->ctl_sessions; cs; cs = cs->next) {
    if (strcmp(cs->user.id, user_id) != 0) continue;
    struct user u;
    if (users_get(s->store, user_id, &u) != 0) continue;
    user_cleanup(&cs->user);
    cs->user = u;
  }
}

void ctl_close_session(struct srv *s, const char *token, const char *why) {
  uint8_t h[32];
  SHA256((const uint8_t *)token, strlen(token), h);
  for (struct ctl_session *cs = s->ctl_sessions; cs; cs = cs->next)
    if (CRYPTO_memcmp(cs->token_hash, h, sizeof h) == 0)
      start_close(cs, 1008, why);
}

void ctl_close_user(struct srv *s, const char *user_id, const char *why) {
  for (struct ctl_session *cs = s->ctl_sessions; cs; cs = cs->next)
    if (strcmp(cs->user.id, user_id) == 0) start_close(cs, 1008, why);
}

void ctl_close_user_except(struct srv *s, const char *user_id,
                           const struct ctl_session *keep, const char *why) {
  for (struct ctl_session *cs = s->ctl_sessions; cs; cs = cs->next)
    if (cs != keep && strcmp(cs->user.id, user_id) == 0)
      start_close(cs, 1008, why);
}
