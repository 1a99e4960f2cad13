/*
 * totp.c - RFC 6238 TOTP (see totp.h). HOTP values come from liboath;
 * the window check around them is ours, so that it takes the same time
 * whichever step matches and reports the step for replay protection
 * (oath_totp_validate does neither).
 */
#include "totp.h"

#include <liboath/oath.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <string.h>

#include "base/err.h"

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_ready;

static void oath_setup(void) { oath_ready = oath_init() == OATH_OK; }

uint32_t totp_hotp(const uint8_t *key, size_t n, uint64_t counter, int digits) {
  char otp[16];
  uint32_t v = 0;
  pthread_once(&oath_once, oath_setup);
  /* liboath makes 6, 7 or 8 digits; fewer are the last digits of 8. */
  int made = digits < 6 ? 8 : digits;
  if (!oath_ready || digits < 1 || digits > 8 ||
      oath_hotp_generate((const char *)key, n, counter, (unsigned)made, false,
                         OATH_HOTP_DYNAMIC_TRUNCATION, otp) != OATH_OK)
    return UINT32_MAX; /* never a valid code: it has ten digits */
  for (int i = 0; otp[i]; i++) v = v * 10 + (uint32_t)(otp[i] - '0');
  OPENSSL_cleanse(otp, sizeof otp);
  uint32_t mod = 1;
  for (int i = 0; i < digits; i++) mod *= 10;
  return v % mod;
}

uint32_t totp_at(const uint8_t *key, size_t n, uint64_t t, int digits) {
  return totp_hotp(key, n, t / TOTP_STEP_S, digits);
}

int totp_verify(const uint8_t *key, size_t n, uint64_t now, const char *code,
                uint64_t *matched) {
  uint32_t want = 0;
  if (matched) *matched = 0;
  /* Fewer digits are the same code without its leading zeros: the stock
   * meshctrl.js reads --token as a number, so "081804" arrives as
   * "81804". */
  size_t len = code ? strlen(code) : 0;
  if (len == 0 || len > TOTP_DIGITS) return MESH_E_INVALID;
  for (size_t i = 0; i < len; i++) {
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
