/*
 * ctl_otp.c - enrolling and removing a TOTP second factor over the user
 * API: otp-setup, otp-confirm, otp-remove (docs/user-api.md §7.18).
 *
 * The secret made by otp-setup lives only in the session until a right
 * code confirms it, so an abandoned setup leaves the account as it was.
 * The secret is sent once, in the otp-setup reply, and is never logged;
 * every copy is wiped. A wrong code in otp-confirm or otp-remove counts
 * in the sign-in throttle like a wrong password, so a stolen session
 * cannot guess its way to removing the second factor.
 */
#include <openssl/crypto.h>
#include <qrencode.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/rand.h"
#include "crypto/totp.h"
#include "ctl.h"

/* Wipes a string's bytes inside a JSON object before it is freed. */
static void wipe_str(json_t *j) {
  if (json_is_string(j))
    OPENSSL_cleanse((char *)json_string_value(j), json_string_length(j));
}

/* The code of the request, or NULL (and an answer) when throttled. */
static const char *otp_token(struct ctl_session *cs, json_t *req,
                             const char *action, char *key, size_t cap) {
  auth_throttle_key(cs->user.name, key, cap);
  if (auth_throttle_check(cs->srv->throttle, key, "", time(NULL)) != 0) {
    ctl_result(cs, req, action, "too many wrong codes; try again later");
    return NULL;
  }
  const char *t = ctl_str_of(req, "token");
  return t ? t : "";
}

/* Tells this user's sessions (and this one's page) that the account
 * changed: the session structs are re-read, and this session gets a
 * fresh userinfo with otpsecret set or gone. */
static void otp_changed(struct ctl_session *cs) {
  ctl_refresh_user(cs->srv, cs->user.id);
  json_t *j = json_pack("{s:s, s:o}", "action", "userinfo", "userinfo",
                        ctl_user_json(cs->srv, &cs->user));
  ctl_send(cs, j);
  json_decref(j);
}

/* The QR code of text (the otpauth URL) as {"size":N,"modules":"0110…"}:
 * N*N characters, row by row, '1' for a dark module, without the quiet
 * zone; the page draws it. NULL when it cannot be made (the page then
 * shows the key as text only). The matrix encodes the secret, so every
 * copy is wiped. */
static json_t *qr_json(const char *text) {
  QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (!q) return NULL;
  size_t n = (size_t)q->width * (size_t)q->width;
  char *m = malloc(n + 1);
  json_t *j = NULL;
  if (m) {
    for (size_t i = 0; i < n; i++) m[i] = (q->data[i] & 1) ? '1' : '0';
    m[n] = 0;
    j = json_pack("{s:i, s:s}", "size", q->width, "modules", m);
    OPENSSL_cleanse(m, n);
    free(m);
  }
  OPENSSL_cleanse(q->data, n);
  QRcode_free(q);
  return j;
}

void ctl_cmd_otp_setup(struct ctl_session *cs, json_t *req) {
  char b32[TOTP_B32_LEN], url[160];
  if (cs->user.has_totp) {
    ctl_result(cs, req, "otp-setup", "already enabled");
    return;
  }
  if (rand_bytes(cs->otp_pending, sizeof cs->otp_pending) != 0 ||
      totp_base32(cs->otp_pending, sizeof cs->otp_pending, b32, sizeof b32) !=
          0) {
    ctl_result(cs, req, "otp-setup", "internal error");
    return;
  }
  cs->otp_pending_set = 1;
  /* User names are letters, digits and ._- only: nothing to escape. */
  snprintf(url, sizeof url, "otpauth://totp/meshd:%s?secret=%s&issuer=meshd",
           cs->user.name, b32);
  json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "action", "otp-setup", "result",
                        "ok", "secret", b32, "url", url);
  json_t *qr = qr_json(url);
  if (qr) json_object_set_new(j, "qr", qr);
  ctl_reply(cs, req, j, 1);
  OPENSSL_cleanse(b32, sizeof b32);
  OPENSSL_cleanse(url, sizeof url);
}

void ctl_cmd_otp_confirm(struct ctl_session *cs, json_t *req) {
  char key[USER_MAX_NAME + 1];
  char codes[USERS_RECOVERY_COUNT][USERS_RECOVERY_LEN + 1];
  if (!cs->otp_pending_set) {
    ctl_result(cs, req, "otp-confirm", "no setup in progress");
    return;
  }
  const char *token = otp_token(cs, req, "otp-confirm", key, sizeof key);
  if (!token) return;
  time_t now = time(NULL);
  if (totp_verify(cs->otp_pending, sizeof cs->otp_pending, (uint64_t)now, token,
                  NULL) != 0) {
    auth_throttle_failed(cs->srv->throttle, key, "", now);
    wipe_str(json_object_get(req, "token"));
    ctl_result(cs, req, "otp-confirm", "wrong code");
    return;
  }
  wipe_str(json_object_get(req, "token"));
  int r = users_set_totp(cs->srv->store, cs->user.id, cs->otp_pending, codes);
  OPENSSL_cleanse(cs->otp_pending, sizeof cs->otp_pending);
  cs->otp_pending_set = 0;
  if (r != 0) {
    log_error_r(r, "event=otp_enable user=%s", cs->user.id);
    ctl_result(cs, req, "otp-confirm", "internal error");
    return;
  }
  log_info("event=otp_enabled peer=%s user=%s", cs->peer, cs->user.id);
  json_t *list = json_array();
  for (int i = 0; i < USERS_RECOVERY_COUNT; i++)
    json_array_append_new(list, json_string(codes[i]));
  OPENSSL_cleanse(codes, sizeof codes);
  otp_changed(cs);
  ctl_reply(cs, req,
            json_pack("{s:s, s:s, s:o}", "action", "otp-confirm", "result",
                      "ok", "recovery", list),
            1);
}

void ctl_cmd_otp_remove(struct ctl_session *cs, json_t *req) {
  char key[USER_MAX_NAME + 1];
  if (!cs->user.has_totp) {
    ctl_result(cs, req, "otp-remove", "not enabled");
    return;
  }
  const char *token = otp_token(cs, req, "otp-remove", key, sizeof key);
  if (!token) return;
  time_t now = time(NULL);
  int r = token[0] ? auth_second_factor(cs->srv->store, cs->user.id, token, now)
                   : MESH_E_AUTH;
  wipe_str(json_object_get(req, "token"));
  if (r != 0) {
    auth_throttle_failed(cs->srv->throttle, key, "", now);
    ctl_result(cs, req, "otp-remove", "wrong code");
    return;
  }
  if ((r = users_clear_totp(cs->srv->store, cs->user.id)) != 0) {
    log_error_r(r, "event=otp_remove user=%s", cs->user.id);
    ctl_result(cs, req, "otp-remove", "internal error");
    return;
  }
  log_info("event=otp_removed peer=%s user=%s", cs->peer, cs->user.id);
  otp_changed(cs);
  ctl_result(cs, req, "otp-remove", "ok");
}
