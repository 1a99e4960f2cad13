/*
 * ctl_passwd.c - changepassword over the user API (docs/user-api.md
 * §7.19, meshd's own): a signed-in user changes their own password.
 *
 * The old password is checked and the new one hashed in one thread pool
 * job (argon2id is slow). A wrong old password counts in the sign-in
 * throttle with the same keys as a password sign-in (the lower-case user
 * name and the peer's address), so a stolen session cannot guess its way
 * to a new password. Every copy of either password is wiped; neither is
 * logged. A change revokes all of the user's web sessions and closes the
 * user's other connections; this connection stays open for the reply.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "base/err.h"
#include "base/log.h"
#include "ctl.h"

struct passwd_job {
  uv_work_t work;
  struct ctl_session *cs;
  json_t *req;
  char *old_hash, *oldpass, *newpass, *new_hash;
  char key[USER_MAX_NAME + 1], addr[64];
  int status; /* 0, MESH_E_AUTH (wrong old password) or another error */
};

static void wipe_free(char *s) {
  if (!s) return;
  OPENSSL_cleanse(s, strlen(s));
  free(s);
}

/* Wipes the request's copies of the passwords (jansson's strings). */
static void wipe_req(json_t *req) {
  static const char *const keys[] = {"oldpass", "newpass"};
  for (size_t i = 0; i < 2; i++) {
    json_t *v = json_object_get(req, keys[i]);
    if (json_is_string(v))
      OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
  }
}

static void passwd_job_free(struct passwd_job *j) {
  wipe_free(j->oldpass);
  wipe_free(j->newpass);
  free(j->old_hash);
  free(j->new_hash);
  if (j->req) {
    wipe_req(j->req);
    json_decref(j->req);
  }
  free(j);
}

static void passwd_work(uv_work_t *w) {
  struct passwd_job *j = w->data;
  j->status = auth_verify_password(j->old_hash, j->oldpass);
  if (j->status == 0) j->status = auth_hash_password(j->newpass, &j->new_hash);
}

/* Announces the change to the user's sessions: an accountchange event
 * (no secrets in it) and a fresh userinfo on this connection. */
static void passwd_changed(struct ctl_session *cs) {
  struct srv *s = cs->srv;
  ctl_refresh_user(s, cs->user.id);
  struct ev_scope sc = {cs->user.id, NULL, NULL};
  events_emit(s,
              json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "etype", "user",
                        "action", "accountchange", "userid", cs->user.id,
                        "username", cs->user.name, "account",
                        ctl_user_json(s, &cs->user), "msg", "Password changed"),
              &sc, 0);
  json_t *j = json_pack("{s:s, s:o}", "action", "userinfo", "userinfo",
                        ctl_user_json(s, &cs->user));
  ctl_send(cs, j);
  json_decref(j);
}

static void passwd_done(uv_work_t *w, int st) {
  struct passwd_job *j = w->data;
  struct ctl_session *cs = j->cs;
  struct srv *s = cs->srv;
  time_t now = time(NULL);
  (void)st;
  /* A wrong guess counts even when the connection is gone by now. */
  if (j->status == MESH_E_AUTH) {
    auth_throttle_failed(s->throttle, j->key, j->addr, now);
    log_info("event=password_change_refused peer=%s user=%s", cs->peer,
             cs->user.id);
  }
  if (cs->state == CTL_OPEN) {
    int r = j->status;
    if (r == MESH_E_AUTH) {
      ctl_result(cs, j->req, "changepassword", "Wrong password");
    } else if (r == MESH_E_INVALID) {
      ctl_result(cs, j->req, "changepassword", "Invalid password");
    } else if (r || (r = users_set_hash(s->store, cs->user.id, j->new_hash))) {
      log_error_r(r, "event=password_change user=%s", cs->user.id);
      ctl_result(cs, j->req, "changepassword", "Database error");
    } else {
      auth_throttle_succeeded(s->throttle, j->key, now);
      /* Every web session ends (this one's cookie too: the page signs in
       * again); the user's other connections close now. */
      sessions_revoke_user(s->store, cs->user.id);
      ctl_close_user_except(s, cs->user.id, cs, "password changed");
      log_info("event=password_changed peer=%s user=%s", cs->peer, cs->user.id);
      passwd_changed(cs);
      ctl_result(cs, j->req, "changepassword", "ok");
    }
  }
  passwd_job_free(j);
  ctl_session_unref(cs);
}

void ctl_cmd_changepassword(struct ctl_session *cs, json_t *req) {
  struct srv *s = cs->srv;
  const char *oldpass = ctl_str_of(req, "oldpass");
  const char *newpass = ctl_str_of(req, "newpass");
  struct passwd_job *j = NULL;
  size_t n = newpass ? strlen(newpass) : 0;
  if (!newpass || n < AUTH_MIN_PASSWORD || n > AUTH_MAX_PASSWORD ||
      n != json_string_length(json_object_get(req, "newpass"))) {
    ctl_result(cs, req, "changepassword", "Invalid password");
    goto out;
  }
  if (!oldpass || !*oldpass || strlen(oldpass) > AUTH_MAX_PASSWORD) {
    ctl_result(cs, req, "changepassword", "Wrong password");
    goto out;
  }
  j = calloc(1, sizeof *j);
  if (!j) {
    ctl_result(cs, req, "changepassword", "Server busy");
    goto out;
  }
  auth_throttle_key(cs->user.name, j->key, sizeof j->key);
  ctl_peer_ip(cs, j->addr, sizeof j->addr);
  if (auth_throttle_check(s->throttle, j->key, j->addr, time(NULL)) != 0) {
    ctl_result(cs, req, "changepassword", "Too many attempts");
    goto out;
  }
  if (users_get_hash(s->store, cs->user.id, &j->old_hash) != 0 ||
      !(j->oldpass = strdup(oldpass)) || !(j->newpass = strdup(newpass))) {
    ctl_result(cs, req, "changepassword", "Server busy");
    goto out;
  }
  j->cs = cs;
  j->req = json_incref(req);
  j->work.data = j;
  ctl_session_ref(cs);
  if (uv_queue_work(s->loop, &j->work, passwd_work, passwd_done) != 0) {
    ctl_session_unref(cs);
    ctl_result(cs, req, "changepassword", "Server busy");
    goto out;
  }
  return;
out:
  if (j) passwd_job_free(j);
  wipe_req(req);
}
