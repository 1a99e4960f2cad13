/*
 * relay_token.c - sealing and checking the relay tokens (relay_token.h).
 */
#include "relay_token.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/mesh_limits.h"
#include "crypto/rand.h"

int relay_token_make(const uint8_t key[SEAL_KEY_LEN],
                     enum relay_token_kind kind, const char *user_id,
                     const char *ip, int64_t now, char *out, size_t cap) {
  json_t *j;
  if (cap) out[0] = 0;
  if (!user_id || !*user_id || (kind == RELAY_TOKEN_COOKIE && (!ip || !*ip)))
    return MESH_E_INVALID;
  if (kind == RELAY_TOKEN_COOKIE) {
    j = json_pack("{s:s, s:s, s:s, s:I}", "userid", user_id, "domainid", "",
                  "ip", ip, "time", (json_int_t)now);
  } else {
    /* A random part, so that two rcookies of one second differ. */
    uint8_t x[9];
    char xs[ENC_B64_LEN(sizeof x) + 1];
    if (rand_bytes(x, sizeof x) != 0) return MESH_E_CRYPTO;
    enc_b64(x, sizeof x, xs, 1);
    j = json_pack("{s:s, s:s, s:I}", "ruserid", user_id, "x", xs, "time",
                  (json_int_t)now);
  }
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!text) return MESH_E_NOMEM;
  size_t n = strlen(text);
  int r = n > SEAL_MAX_PLAIN || SEAL_TOKEN_LEN(n) > MESH_RELAY_MAX_TOKEN
              ? MESH_E_TOO_LARGE
              : seal_token(key, text, n, out, cap);
  /* The stock meshctrl.js builds its relay URL with String.replace(), which
   * turns "$$" in the cookie into "$": about one cookie in thirty would be
   * mangled and refused. A fresh IV makes another token of the same
   * plaintext, so seal again until there is no "$$" (each try fails with
   * probability ~3%; the cap only guards against a broken generator). */
  for (int tries = 0; r == 0 && strstr(out, "$$") && tries < 32; tries++)
    r = seal_token(key, text, n, out, cap);
  OPENSSL_cleanse(text, n);
  free(text);
  if (r != 0 && cap) out[0] = 0;
  return r;
}

/* Checks the opened plaintext; see relay_token_open. */
static int check_plain(json_t *j, enum relay_token_kind kind, const char *ip,
                       int64_t now, char *user_out, size_t cap) {
  const char *uid_key = kind == RELAY_TOKEN_COOKIE ? "userid" : "ruserid";
  const char *other = kind == RELAY_TOKEN_COOKIE ? "ruserid" : "userid";
  json_t *t = json_object_get(j, "time");
  const char *user = json_string_value(json_object_get(j, uid_key));
  if (!json_is_object(j) || !json_is_integer(t) || !user || !*user ||
      json_object_get(j, other))
    return MESH_E_AUTH;
  if (kind == RELAY_TOKEN_COOKIE) {
    const char *bound = json_string_value(json_object_get(j, "ip"));
    if (!bound || !ip || strcmp(bound, ip) != 0) return MESH_E_AUTH;
  }
  int64_t made = json_integer_value(t);
  int64_t life =
      kind == RELAY_TOKEN_COOKIE ? MESH_RELAY_COOKIE_S : MESH_RELAY_RCOOKIE_S;
  if (made > now + MESH_RELAY_SKEW_S || now - made > life)
    return MESH_E_TIMEOUT;
  size_t n = strlen(user);
  if (n >= cap) return MESH_E_TOO_LARGE;
  memcpy(user_out, user, n + 1);
  return 0;
}

int relay_token_open(const uint8_t key[SEAL_KEY_LEN],
                     enum relay_token_kind kind, const char *token,
                     const char *ip, int64_t now, char *user_out, size_t cap) {
  uint8_t plain[SEAL_MAX_PLAIN];
  size_t n = 0;
  if (!cap) return MESH_E_TOO_LARGE;
  user_out[0] = 0;
  if (!token || strlen(token) > MESH_RELAY_MAX_TOKEN) return MESH_E_AUTH;
  if (seal_open(key, token, plain, sizeof plain, &n) != 0) return MESH_E_AUTH;
  json_t *j = json_loadb((const char *)plain, n, JSON_REJECT_DUPLICATES, NULL);
  OPENSSL_cleanse(plain, sizeof plain);
  int r = j ? check_plain(j, kind, ip, now, user_out, cap) : MESH_E_AUTH;
  json_decref(j);
  if (r != 0) user_out[0] = 0;
  return r;
}
