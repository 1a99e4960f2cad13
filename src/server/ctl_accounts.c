/*
 * ctl_accounts.c - the user API's account commands (docs/user-api.md §7):
 * users, adduser, edituser, deleteuser.
 *
 * Only a user with SITE_MANAGE_USERS may touch accounts, and only a full
 * site administrator may touch another full administrator or hand out
 * site rights beyond restrictions. adduser hashes the password on the
 * thread pool, so the session is held (ctl_session_ref) until it is back.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "base/err.h"
#include "base/log.h"
#include "ctl.h"

static void add_user(const struct user *u, void *data) {
  void **ctx = data;
  json_array_append_new(ctx[1], ctl_user_json(ctx[0], u));
}

void ctl_cmd_users(struct ctl_session *cs, json_t *req) {
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
  if (!ctl_is_admin(cs) && ((uint32_t)r & ~SITE_RESTRICTIONS)) return 0;
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
    const char *name = ctl_str_of(req, "username"),
               *email = ctl_str_of(req, "email");
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

void ctl_cmd_adduser(struct ctl_session *cs, json_t *req) {
  const char *name = ctl_str_of(req, "username"),
             *pass = ctl_str_of(req, "pass");
  const char *email = ctl_str_of(req, "email");
  char id[USER_MAX_NAME + 8];
  uint32_t site = 0;
  if (!(cs->user.siteadmin & SITE_MANAGE_USERS))
    return ctl_result(cs, req, "adduser", "Permission denied");
  if (!name || user_id_of(name, id, sizeof id) != 0)
    return ctl_result(cs, req, "adduser", "Invalid username");
  if (!pass || strlen(pass) < AUTH_MIN_PASSWORD ||
      strlen(pass) > AUTH_MAX_PASSWORD)
    return ctl_result(cs, req, "adduser", "Invalid password");
  if (ctl_not_str(req, "email") || (email && *email && !email_ok(email)))
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
  if (ctl_user_arg(ctl_str_of(req, "userid"), id, sizeof id) != 0) {
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
  if (t->siteadmin == SITE_ADMIN && !ctl_is_admin(cs)) {
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

void ctl_cmd_edituser(struct ctl_session *cs, json_t *req) {
  struct user t;
  if (target_user(cs, req, "edituser", &t) != 0) return;
  const char *email = ctl_str_of(req, "email"),
             *realname = ctl_str_of(req, "realname");
  json_t *site = json_object_get(req, "siteadmin");
  uint32_t rights = t.siteadmin;
  if (ctl_not_str(req, "email") || (email && *email && !email_ok(email))) {
    ctl_result(cs, req, "edituser", "Invalid email");
  } else if (ctl_not_str(req, "realname")) {
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

void ctl_cmd_deleteuser(struct ctl_session *cs, json_t *req) {
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
