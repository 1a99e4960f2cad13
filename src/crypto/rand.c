#include "rand.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdint.h>

#include "base/err.h"

int rand_bytes(void *p, size_t n) {
  uint8_t *d = p;
  size_t left = n;

  /* RAND_bytes takes an int length; feed larger requests in chunks. */
  while (left > 0) {
    int chunk = left > INT_MAX ? INT_MAX : (int)left;
    if (RAND_bytes(d, chunk) != 1) {
      ERR_clear_error();
      OPENSSL_cleanse(p, n);
      return MESH_E_CRYPTO;
    }
    d += chunk;
    left -= (size_t)chunk;
  }
  return 0;
}
