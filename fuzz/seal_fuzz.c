/* Sealed tokens as they arrive in URLs and cookies: decode, then open. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crypto/seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n) {
  static const uint8_t key[SEAL_KEY_LEN];
  char tok[SEAL_TOKEN_LEN(SEAL_MAX_PLAIN) + 2];
  uint8_t out[SEAL_MAX_PLAIN];
  size_t len;
  if (n >= sizeof tok) n = sizeof tok - 1;
  memcpy(tok, p, n);
  tok[n] = 0;
  (void)seal_open(key, tok, out, sizeof out, &len);
  (void)seal_open(key, tok, out, 8, &len);
  return 0;
}
