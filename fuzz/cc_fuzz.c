/* Control-channel messages: every parser over the same bytes. */
#include <stddef.h>
#include <stdint.h>

#include "proto/cc.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n) {
  uint8_t h[CC_HASH_LEN], nonce[CC_NONCE_LEN];
  const uint8_t *a, *b;
  size_t al, bl;
  uint16_t cmd, req;
  struct cc_auth_info ai;
  (void)cc_msg_type(p, n);
  (void)cc_parse_auth_request(p, n, h, nonce);
  (void)cc_parse_auth_verify(p, n, &a, &al, &b, &bl);
  (void)cc_parse_auth_info(p, n, &ai);
  (void)cc_parse_server_id(p, n, h);
  (void)cc_parse_text(p, n, &a, &al);
  (void)cc_parse_request(p, n, &cmd, &req, &a, &al);
  return 0;
}
