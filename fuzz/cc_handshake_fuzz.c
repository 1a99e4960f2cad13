/* Arbitrary message sequences into both handshake machines. The input is
 * a list of records: one length byte, then that many message bytes. The
 * owner's crypto answers come from the input too, so the machines see
 * every order of results. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/cc_handshake.h"

static int pending_sign, pending_verify, pending_auth;

static void nop_send(void *d, const uint8_t *p, size_t n) {
  (void)d, (void)p, (void)n;
}
static void s_sign(void *d, int i, const uint8_t m[CC_SIGNED_LEN]) {
  (void)d, (void)i, (void)m;
  pending_sign = 1;
}
static void any_verify(void *d, const uint8_t *c, size_t cl, const uint8_t *s,
                       size_t sl, const uint8_t m[CC_SIGNED_LEN]) {
  (void)d, (void)c, (void)cl, (void)s, (void)sl, (void)m;
  pending_verify = 1;
}
static void s_auth(void *d, const uint8_t h[CC_HASH_LEN],
                   const struct cc_auth_info *i) {
  (void)d, (void)h, (void)i;
  pending_auth = 1;
}
static void a_sign(void *d, const uint8_t m[CC_SIGNED_LEN]) {
  (void)d, (void)m;
  pending_sign = 1;
}
static void a_pin(void *d, const uint8_t h[CC_HASH_LEN]) { (void)d, (void)h; }
static void a_conn(void *d, int s) { (void)d, (void)s; }

static const struct cc_srv_ops sops = {nop_send, s_sign, any_verify, s_auth};
static const struct cc_agent_ops aops = {nop_send, a_sign, any_verify, a_pin,
                                         a_conn};

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n) {
  static struct cc_srv s;
  static struct cc_agent a;
  static uint8_t cert[16] = {0x30}, sig[4] = {1};
  struct cc_server_ident id = {cert, sizeof cert, {0}};
  uint8_t zero[CC_HASH_LEN] = {0};
  struct cc_agent_config cfg = {
      .cert_der = cert, .cert_len = sizeof cert, .commit_date = "x"};
  pending_sign = pending_verify = pending_auth = 0;
  cc_srv_init(&s, &sops, NULL, &id, 1, zero, zero, zero);
  cc_agent_start(&a, &aops, NULL, &cfg, zero, zero, zero);
  size_t i = 0;
  while (i < n) {
    size_t len = p[i++];
    if (len > n - i) len = n - i;
    uint8_t flags = len ? p[i] : 0;
    (void)cc_srv_feed(&s, p + i, len);
    (void)cc_agent_feed(&a, p + i, len);
    if (pending_sign && (flags & 1)) {
      pending_sign = 0;
      (void)cc_srv_signed(&s, sig, sizeof sig);
      (void)cc_agent_signed(&a, sig, sizeof sig);
    }
    if (pending_verify && (flags & 2)) {
      pending_verify = 0;
      (void)cc_srv_verified(&s, flags & 4, zero);
      (void)cc_agent_verified(&a, flags & 4, zero);
    }
    if (pending_auth && (flags & 8)) {
      pending_auth = 0;
      (void)cc_srv_admit(&s, flags & 16);
    }
    i += len;
  }
  return 0;
}
