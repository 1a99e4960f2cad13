/*
 * totp.c - RFC 6238 TOTP over OpenSSL's HMAC-SHA1 (see totp.h).
 */
#include "totp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "base/err.h"

uint32_t totp_hotp(const uint8_t *key, size_t n, uint64_t counter, int digits) {
  uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  for (int i = 7; i >= 0; i--, counter >>= 8) msg[i] = (uint8_t)counter;
  if (!HMAC(EVP_sha1(), key, (int)n, msg, sizeof msg, mac, &maclen) ||
      maclen < 20)
    return UINT32_MAX; /* never a valid code: it has ten digits */
  /* RFC 4226 §5.3 dynamic truncation. */
  unsigned off = mac[maclen - 1] & 0x0f;
  uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) |
                 ((uint32_t)mac[off + 1] << 16) |
                 ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
  OPENSSL_cleanse(mac, sizeof mac);
  uint32_t mod = 1;
  for (int i = 0; i < digits; i++) mod *= 10;
  return bin % mod;
}

uint32_t totp_at(const uint8_t *key, size_t n, uint64_t t, int digits) {
  return totp_hotp(key, n, t / TOTP_STEP_S, digits);
}

int totp_verify(const uint8_t *key, size_t n, uint64_t now, const char *code,
                uint64_t *matched) {
  uint32_t want = 0;
  if (matched) *matched = 0;
  if (!code || strlen(code) != TOTP_DIGITS) return MESH_E_INVALID;
  for (int i = 0; i < TOTP_DIGITS; i++) {
    if (code[i] < '0' || code[i] > '9') return MESH_E_INVALID;
    want = want * 10 + (uint32_t)(code[i] - '0');
  }
  /* All three steps are computed and compared, and the matching step is
   * picked with a mask, so the time taken does not say which matched. */
  uint64_t step = now / TOTP_STEP_S, found = 0;
  unsigned ok = 0;
  for (int d = -1; d <= 1; d++) {
    if (d < 0 && step == 0) continue;
    uint64_t s = step + (uint64_t)(int64_t)d;
    unsigned eq = totp_hotp(key, n, s, TOTP_DIGITS) == want;
    uint64_t mask = (uint64_t)0 - eq;
    found = (found & ~mask) | (s & mask);
    ok |= eq;
  }
  if (ok && matched) *matched = found;
  return ok ? 0 : MESH_E_AUTH;
}

int totp_base32(const uint8_t *in, size_t n, char *out, size_t cap) {
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  size_t need = (n * 8 + 4) / 5 + 1;
  if (cap < need) return MESH_E_TOO_LARGE;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    acc = (acc << 8) | in[i];
    bits += 8;
    while (bits >= 5) {
      out[o++] = abc[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out[o++] = abc[(acc << (5 - bits)) & 31];
  out[o] = 0;
  acc = 0;
  return 0;
}
