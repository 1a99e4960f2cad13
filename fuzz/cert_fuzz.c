/* libFuzzer target: untrusted DER certificates (control-channel command 2). */
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cert.h"
#include "crypto/hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t h[MESH_HASH_LEN];
  X509 *x = NULL;

  if (cert_parse_der(data, size, &x) != 0) return 0;
  (void)hash_cert(x, h);
  (void)hash_cert_key(x, h);
  X509_free(x);
  return 0;
}
