/*
 * srv_api.c - /api/login, /api/logout and /api/setup (see srv_api.h).
 *
 * Password work (argon2id, ~100 ms and 64 MiB) runs on the thread pool.
 * While it runs, a job owns the request's http_conn: the HTTP layer keeps
 * the connection (and the request it parsed) until the one http_respond,
 * which the job always makes, even when the client has gone meanwhile
 * (the call then only releases the connection). A job copies what it
 * needs from the request first and never touches req afterwards. The
 * server keeps the store and the throttle until the loop has run dry, so
 * a job that completes during shutdown still finds them.
 *
 * First-run setup must create one administrator and only while no account
 * exists. The count is checked when the request arrives (to refuse early)
 * and again in the job's completion, on the loop, right before the
 * insert: the loop runs one callback at a time, so no other sign-up can
 * slip between that check and users_create. One setup hashes at a time
 * (srv.setup_busy), so a flood of setups cannot queue argon2 work.
 */
#include "srv_api.h"

#include <openssl/crypto.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mesh_limits.h"
#include "ctl.h"
#include "net/http_srv.h"
#include "srv_web.h"
#include "users.h"

#define API_HEADERS SRV_WEB_SECURITY_HEADERS "Cache-Control: no-store\r\n"
#define API_COOKIE_ATTRS "; Path=/; HttpOnly; Secure; SameSite=Strict"

/* ------------------------------------------------------------ replies */

/* Answers with body as JSON (a reference is taken) and the extra headers
 * (may be NULL) after the common ones. */
static void reply_json(struct http_conn *c, int status, const char *extra,
                       json_t *body) {
  char hdr[1536];
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  snprintf(hdr, sizeof hdr, "%s%s", API_HEADERS, extra ? extra : "");
  if (!text) {
    static const char oom[] = "{\"error\":\"server busy\"}";
    http_respond(c, 503, hdr, "application/json", oom, sizeof oom - 1);
    return;
  }
  http_respond(c, status, hdr, "application/json", text, strlen(text));
  free(text);
}

static void reply_error(struct http_conn *c, int status, const char *extra,
                        const char *why) {
  reply_json(c, status, extra, json_pack("{s:s}", "error", why));
}

/* The peer's address without its port: the throttle counts per address. */
static void peer_addr(const char *peer, char *out, size_t cap) {
  snprintf(out, cap, "%s", peer);
  char *colon = strrchr(out, ':');
  if (colon) *colon = 0;
}

/* Opens a session for user_id and answers 200 {"user":id} with its
 * cookie, or 401 for a locked account (a full administrator is never
 * locked out, as in ctl.c). */
static void start_session(struct srv *s, struct http_conn *c,
                          const char *user_id, const char *addr,
                          const char *peer) {
  struct user u;
  char token[SESSION_TOKEN_LEN + 1], hdr[256];
  if (users_get(s->store, user_id, &u) != 0) {
    reply_error(c, 401, NULL, "wrong user name or password");
    return;
  }
  if (u.siteadmin != SITE_ADMIN && (u.siteadmin & SITE_LOCKED)) {
    log_info("event=web_login_refused peer=%s user=%s reason=locked", peer,
             u.id);
    reply_error(c, 401, NULL, "account locked");
    user_cleanup(&u);
    return;
  }
  int r = sessions_create(s->store, u.id, SRV_API_SESSION_S, addr, token);
  if (r != 0) {
    log_error_r(r, "event=web_login peer=%s user=%s what=session", peer, u.id);
    reply_error(c, 500, NULL, "cannot open a session");
    user_cleanup(&u);
    return;
  }
  snprintf(hdr, sizeof hdr,
           "Set-Cookie: " CTL_COOKIE "=%s" API_COOKIE_ATTRS "; Max-Age=%d\r\n",
           token, SRV_API_SESSION_S);
  OPENSSL_cleanse(token, sizeof token);
  log_info("event=web_login peer=%s user=%s", peer, u.id);
  reply_json(c, 200, hdr, json_pack("{s:s}", "user", u.id));
  OPENSSL_cleanse(hdr, sizeof hdr);
  user_cleanup(&u);
}

/* ------------------------------------------------------------ requests */

/* Checks what every POST needs and parses its body: returns a new JSON
 * object, or NULL after answering. */
static json_t *post_body(struct http_conn *c, const struct http_req *req) {
  const char *ctype = http_req_header(req, "Content-Type");
  if (!ctype || strncasecmp(ctype, "application/json", 16) != 0 ||
      (ctype[16] && ctype[16] != ';' && ctype[16] != ' ')) {
    reply_error(c, 415, NULL, "send application/json");
    return NULL;
  }
  if (req->body_len > MESH_API_MAX_BODY) {
    reply_error(c, 413, NULL, "request too large");
    return NULL;
  }
  /* No JSON_ALLOW_NUL: a "\u0000" inside a string is refused. */
  json_t *j = req->body ? json_loadb((const char *)req->body, req->body_len,
                                     JSON_REJECT_DUPLICATES, NULL)
                        : NULL;
  if (!json_is_object(j)) {
    json_decref(j);
    reply_error(c, 400, NULL, "send a JSON object");
    return NULL;
  }
  return j;
}

/* A string field of at most max bytes (1..max, or absent when optional).
 * Returns 0 and *out (borrowed from j, NULL when absent and optional),
 * or -1. */
static int str_field(json_t *j, const char *key, size_t max, int optional,
                     const char **out) {
  json_t *v = json_object_get(j, key);
  *out = NULL;
  if (!v || json_is_null(v)) return optional ? 0 : -1;
  if (!json_is_string(v)) return -1;
  size_t n = json_string_length(v);
  if (n == 0 && optional) return 0;
  if (n == 0 || n > max) return -1;
  *out = json_string_value(v);
  return 0;
}

/* Wipes the password's copy inside a parsed body before it is freed. */
static void wipe_pass(json_t *j) {
  static const char *const keys[] = {"pass", "token"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    json_t *v = json_object_get(j, keys[i]);
    if (json_is_string(v))
      OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
  }
}

/* Allowed in e-mail addresses here: printable ASCII without space, quotes
 * or angle brackets, one '@' not at either end. */
static int email_ok(const char *e) {
  const char *at = strchr(e, '@');
  if (!at || at == e || !at[1] || strchr(at + 1, '@')) return 0;
  for (const unsigned char *p = (const unsigned char *)e; *p; p++)
    if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '<' || *p == '>')
      return 0;
  return 1;
}

/* --------------------------------------------------------------- login */

struct login_job {
  struct srv *s;
  struct http_conn *c;
  char key[USER_MAX_NAME + 1];
  char addr[64];
  char peer[64];
  char token[AUTH_MAX_TOKEN + 1]; /* the second factor's code; wiped */
};

/* A right password for an account with a second factor: 401 with
 * tokenRequired, so the page asks for the code. A wrong code counts in
 * the throttle; a missing one (the page's first try) does not. */
static void refuse_token(struct srv *s, struct login_job *j, int64_t now) {
  int given = j->token[0] != 0;
  if (given) auth_throttle_failed(s->throttle, j->key, j->addr, now);
  log_info("event=web_login_refused peer=%s reason=%s", j->peer,
           given ? "token" : "token_required");
  reply_json(
      j->c, 401, NULL,
      json_pack("{s:s, s:b}", "error", given ? "wrong code" : "token required",
                "tokenRequired", 1));
}

static void on_login_checked(int status, const char *user_id, void *data) {
  struct login_job *j = data;
  struct srv *s = j->s;
  int64_t now = time(NULL);
  s->api_jobs--;
  if (status == 0 &&
      auth_second_factor(s->store, user_id, j->token, now) != 0) {
    refuse_token(s, j, now);
  } else if (status != 0) {
    auth_throttle_failed(s->throttle, j->key, j->addr, time(NULL));
    log_info("event=web_login_refused peer=%s reason=password", j->peer);
    reply_error(j->c, 401, NULL, "wrong user name or password");
  } else {
    auth_throttle_succeeded(s->throttle, j->key, time(NULL));
    start_session(s, j->c, user_id, j->addr, j->peer);
  }
  OPENSSL_cleanse(j->token, sizeof j->token);
  free(j);
}

static void api_login(struct srv *s, struct http_conn *c,
                      const struct http_req *req) {
  const char *user, *pass, *token;
  json_t *body = post_body(c, req);
  if (!body) return;
  if (str_field(body, "user", USER_MAX_NAME, 0, &user) != 0 ||
      str_field(body, "pass", AUTH_MAX_PASSWORD, 0, &pass) != 0) {
    reply_error(c, 400, NULL, "send a user name and a password");
    goto out;
  }
  if (str_field(body, "token", AUTH_MAX_TOKEN, 1, &token) != 0) {
    reply_error(c, 400, NULL, "send the code as a short string");
    goto out;
  }
  struct login_job *j = calloc(1, sizeof *j);
  if (!j) {
    reply_error(c, 503, NULL, "server busy");
    goto out;
  }
  j->s = s;
  j->c = c;
  snprintf(j->peer, sizeof j->peer, "%s", req->peer);
  peer_addr(req->peer, j->addr, sizeof j->addr);
  auth_throttle_key(user, j->key, sizeof j->key);
  if (token) snprintf(j->token, sizeof j->token, "%s", token);
  if (auth_throttle_check(s->throttle, j->key, j->addr, time(NULL)) != 0) {
    log_info("event=web_login_refused peer=%s reason=throttled", j->peer);
    reply_error(c, 429, "Retry-After: 60\r\n",
                "too many failed sign-ins; try again in a minute");
    OPENSSL_cleanse(j->token, sizeof j->token);
    free(j);
    goto out;
  }
  if (s->api_jobs >= MESH_API_MAX_JOBS) {
    reply_error(c, 503, "Retry-After: 1\r\n", "server busy");
    free(j);
    goto out;
  }
  s->api_jobs++;
  if (auth_check_password(s->loop, s->store, user, pass, on_login_checked, j) !=
      0) {
    s->api_jobs--;
    reply_error(c, 503, NULL, "server busy");
    free(j);
  }
out:
  wipe_pass(body);
  json_decref(body);
}

/* -------------------------------------------------------------- logout */

static void api_logout(struct srv *s, struct http_conn *c,
                       const struct http_req *req) {
  char token[SESSION_TOKEN_LEN + 2];
  const char *cookies = http_req_header(req, "Cookie");
  if (srv_cookie_value(cookies, CTL_COOKIE, token, sizeof token) == 0) {
    sessions_revoke(s->store, token);
    ctl_close_session(s, token, "signed out");
    OPENSSL_cleanse(token, sizeof token);
    log_info("event=web_logout peer=%s", req->peer);
  }
  reply_json(c, 200,
             "Set-Cookie: " CTL_COOKIE "=" API_COOKIE_ATTRS "; Max-Age=0\r\n",
             json_object());
}

/* --------------------------------------------------------------- setup */

struct setup_job {
  uv_work_t work;
  struct srv *s;
  struct http_conn *c;
  char name[USER_MAX_NAME + 1];
  char email[USER_MAX_EMAIL + 1];
  char pass[AUTH_MAX_PASSWORD + 1];
  char addr[64];
  char peer[64];
  char *hash;
  int status;
};

static void setup_work(uv_work_t *w) {
  struct setup_job *j = w->data;
  j->status = auth_hash_password(j->pass, &j->hash);
  OPENSSL_cleanse(j->pass, sizeof j->pass);
}

static int accounts_exist(struct srv *s) {
  size_t n = 1;
  /* A database error counts as "exists": never hand out an admin on doubt. */
  return users_count(s->store, &n) != 0 || n != 0;
}

static void setup_done(uv_work_t *w, int st) {
  struct setup_job *j = w->data;
  struct srv *s = j->s;
  struct user u;
  (void)st;
  s->api_jobs--;
  s->setup_busy = 0;
  if (j->status != 0) {
    reply_error(j->c, 400, NULL, "the password cannot be used");
  } else if (accounts_exist(s)) { /* the re-check right before creating */
    reply_error(j->c, 409, NULL, "already set up");
  } else if (users_create(s->store, j->name, j->email[0] ? j->email : NULL,
                          j->hash, SITE_ADMIN, &u) != 0) {
    reply_error(j->c, 400, NULL, "the account cannot be created");
  } else {
    char msg[160];
    struct ev_scope sc = {u.id, NULL, NULL};
    snprintf(msg, sizeof msg, "Account created, username is %s", u.name);
    events_emit(s,
                json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:i, s:[s]}", "etype",
                          "user", "action", "accountcreate", "userid", u.id,
                          "username", u.name, "account", ctl_user_json(s, &u),
                          "msg", msg, "msgid", 64, "msgArgs", u.name),
                &sc, 0);
    log_info("event=first_admin_created peer=%s user=%s", j->peer, u.id);
    start_session(s, j->c, u.id, j->addr, j->peer);
    user_cleanup(&u);
  }
  if (j->hash) OPENSSL_cleanse(j->hash, strlen(j->hash));
  free(j->hash);
  free(j);
}

static void api_setup(struct srv *s, struct http_conn *c,
                      const struct http_req *req) {
  if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) {
    size_t n = 1;
    if (users_count(s->store, &n) != 0) {
      reply_error(c, 500, NULL, "database error");
      return;
    }
    reply_json(c, 200, NULL, json_pack("{s:b}", "needed", n == 0));
    return;
  }
  const char *user, *pass, *email;
  char id[USER_MAX_NAME + 8];
  json_t *body = post_body(c, req);
  if (!body) return;
  if (accounts_exist(s)) {
    reply_error(c, 409, NULL, "already set up");
  } else if (str_field(body, "user", USER_MAX_NAME, 0, &user) != 0 ||
             user_id_of(user, id, sizeof id) != 0) {
    reply_error(c, 400, NULL,
                "a user name is 1 to 64 letters, digits, dots, dashes or "
                "underscores");
  } else if (str_field(body, "pass", AUTH_MAX_PASSWORD, 0, &pass) != 0 ||
             strlen(pass) < AUTH_MIN_PASSWORD) {
    reply_error(c, 400, NULL, "a password is 8 to 256 characters");
  } else if (str_field(body, "email", USER_MAX_EMAIL, 1, &email) != 0 ||
             (email && !email_ok(email))) {
    reply_error(c, 400, NULL, "that e-mail address is not valid");
  } else if (s->setup_busy) {
    reply_error(c, 409, NULL, "setup is already in progress");
  } else if (s->api_jobs >= MESH_API_MAX_JOBS) {
    reply_error(c, 503, "Retry-After: 1\r\n", "server busy");
  } else {
    struct setup_job *j = calloc(1, sizeof *j);
    if (!j) {
      reply_error(c, 503, NULL, "server busy");
      goto out;
    }
    j->work.data = j;
    j->s = s;
    j->c = c;
    snprintf(j->name, sizeof j->name, "%s", user);
    snprintf(j->email, sizeof j->email, "%s", email ? email : "");
    snprintf(j->pass, sizeof j->pass, "%s", pass);
    snprintf(j->peer, sizeof j->peer, "%s", req->peer);
    peer_addr(req->peer, j->addr, sizeof j->addr);
    if (uv_queue_work(s->loop, &j->work, setup_work, setup_done) != 0) {
      OPENSSL_cleanse(j->pass, sizeof j->pass);
      free(j);
      reply_error(c, 503, NULL, "server busy");
      goto out;
    }
    s->api_jobs++;
    s->setup_busy = 1;
  }
out:
  wipe_pass(body);
  json_decref(body);
}

/* ------------------------------------------------------------- routing */

void srv_api_serve(struct srv *s, struct http_conn *c,
                   const struct http_req *req) {
  const char *m = req->method;
  int post = strcmp(m, "POST") == 0;
  int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
  void (*fn)(struct srv *, struct http_conn *, const struct http_req *);
  const char *allow;
  if (strcmp(req->path, "/api/login") == 0) {
    fn = api_login, allow = "POST";
  } else if (strcmp(req->path, "/api/logout") == 0) {
    fn = api_logout, allow = "POST";
  } else if (strcmp(req->path, "/api/setup") == 0) {
    fn = api_setup, allow = "GET, HEAD, POST";
  } else {
    reply_error(c, 404, NULL, "not found");
    return;
  }
  if (!post && !(get && fn == api_setup)) {
    char hdr[64];
    snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
    reply_error(c, 405, hdr, "method not allowed");
    return;
  }
  if (!srv_same_origin(req)) {
    log_warn("event=origin_refused peer=%s path=%s", req->peer, req->path);
    reply_error(c, 403, NULL, "cross-origin request refused");
    return;
  }
  fn(s, c, req);
}
