/*
 * The server and agent handshake machines driven against each other in
 * memory, with real keys and signatures but no sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/err.h"
#include "crypto/cert.h"
#include "crypto/hash.h"
#include "crypto/rand.h"
#include "crypto/sig.h"
#include "net/ws_session.h"
#include "proto/cc_handshake.h"
#include "testutil.h"

#define MAXQ 32

struct msgq {
  struct buf m[MAXQ];
  int head, tail;
};

static void q_push(struct msgq *q, const uint8_t *p, size_t n) {
  assert_true(q->tail < MAXQ);
  buf_init(&q->m[q->tail], 64 * 1024);
  assert_int_equal(buf_put(&q->m[q->tail], p, n), 0);
  q->tail++;
}

/* Keys made once for all tests. */
static struct ident agent_id, server_id, web1, web2, other_server;
static struct buf agent_der, server_der, other_der;

struct pair {
  struct cc_srv srv;
  struct cc_agent ag;
  struct cc_agent_config acfg;
  struct cc_server_ident idents[2];
  int n_idents;
  struct msgq to_agent, to_server;
  /* One pending crypto request per side, run by pump(). */
  int srv_sign, srv_verify, ag_sign, ag_verify;
  uint8_t srv_msg[CC_SIGNED_LEN], ag_msg[CC_SIGNED_LEN];
  uint8_t srv_vmsg[CC_SIGNED_LEN], ag_vmsg[CC_SIGNED_LEN];
  struct buf srv_vcert, srv_vsig, ag_vcert, ag_vsig;
  EVP_PKEY *server_sign_key; /* what the server signs with */
  int admitted, connected, skipped, admit_decision;
  int corrupt_agent_sig; /* flip a bit of the agent's signature */
  int srv_ident;         /* which identity the server was asked to use */
  /* When set, agent messages travel as WebSocket frames fed to the
   * server one byte at a time. */
  struct ws_session *ws_cli, *ws_srv;
  int ws_result;
  uint8_t pin[CC_HASH_LEN];
  int pinned;
  uint8_t node_hash[CC_HASH_LEN];
};

static void s_send(void *d, const uint8_t *p, size_t n) {
  q_push(&((struct pair *)d)->to_agent, p, n);
}
static void s_sign(void *d, int ident, const uint8_t msg[CC_SIGNED_LEN]) {
  struct pair *t = d;
  t->srv_ident = ident;
  t->srv_sign = 1;
  memcpy(t->srv_msg, msg, CC_SIGNED_LEN);
}
static void s_verify(void *d, const uint8_t *c, size_t cl, const uint8_t *s,
                     size_t sl, const uint8_t msg[CC_SIGNED_LEN]) {
  struct pair *t = d;
  t->srv_verify = 1;
  buf_reset(&t->srv_vcert);
  buf_reset(&t->srv_vsig);
  buf_put(&t->srv_vcert, c, cl);
  buf_put(&t->srv_vsig, s, sl);
  memcpy(t->srv_vmsg, msg, CC_SIGNED_LEN);
}
static void s_auth(void *d, const uint8_t h[CC_HASH_LEN],
                   const struct cc_auth_info *info) {
  struct pair *t = d;
  assert_int_equal(info->agent_id, 6);
  memcpy(t->node_hash, h, CC_HASH_LEN);
  t->admitted = 1;
}
static const struct cc_srv_ops sops = {s_send, s_sign, s_verify, s_auth};

static void a_send(void *d, const uint8_t *p, size_t n) {
  struct pair *t = d;
  q_push(&t->to_server, p, n);
  struct buf *m = &t->to_server.m[t->to_server.tail - 1];
  if (t->corrupt_agent_sig && m->data[1] == CC_AUTH_VERIFY)
    m->data[m->len - 1] ^= 0x40;
}
static void a_sign(void *d, const uint8_t msg[CC_SIGNED_LEN]) {
  struct pair *t = d;
  t->ag_sign = 1;
  memcpy(t->ag_msg, msg, CC_SIGNED_LEN);
}
static void a_verify(void *d, const uint8_t *c, size_t cl, const uint8_t *s,
                     size_t sl, const uint8_t msg[CC_SIGNED_LEN]) {
  struct pair *t = d;
  t->ag_verify = 1;
  buf_reset(&t->ag_vcert);
  buf_reset(&t->ag_vsig);
  buf_put(&t->ag_vcert, c, cl);
  buf_put(&t->ag_vsig, s, sl);
  memcpy(t->ag_vmsg, msg, CC_SIGNED_LEN);
}
static void a_pin(void *d, const uint8_t h[CC_HASH_LEN]) {
  struct pair *t = d;
  memcpy(t->pin, h, CC_HASH_LEN);
  t->pinned = 1;
}
static void a_conn(void *d, int skipped) {
  struct pair *t = d;
  t->connected = 1;
  t->skipped = skipped;
}
static const struct cc_agent_ops aops = {a_send, a_sign, a_verify, a_pin,
                                         a_conn};

/* Verifies like the real owners do: parse the DER, check, KeyHash. */
static int do_verify(struct buf *cert, struct buf *sig,
                     const uint8_t msg[CC_SIGNED_LEN],
                     uint8_t kh[CC_HASH_LEN]) {
  X509 *c = NULL;
  int r = cert_parse_der(cert->data, cert->len, &c);
  if (r == 0)
    r = sig_verify384(X509_get0_pubkey(c), msg, CC_SIGNED_LEN, sig->data,
                      sig->len);
  if (r == 0) r = hash_cert_key(c, kh);
  X509_free(c);
  return r;
}

static void on_ws_msg(struct ws_session *w, enum ws_type type, const uint8_t *p,
                      size_t n, void *data) {
  struct pair *t = data;
  (void)w;
  assert_int_equal(type, WS_BINARY);
  int r = cc_srv_feed(&t->srv, p, n);
  if (r < 0 && t->ws_result == 0) t->ws_result = r;
}

/* Frames one agent message and feeds the frame to the server's session a
 * byte at a time, each byte in its own guarded allocation. */
static int feed_bytewise(struct pair *t, struct buf *m) {
  assert_int_equal(ws_session_send(t->ws_cli, WS_BINARY, m->data, m->len), 0);
  struct buf *o = ws_session_out(t->ws_cli);
  for (size_t i = 0; i < o->len && t->ws_result == 0; i++) {
    uint8_t *g = tu_guard_copy(o->data + i, 1);
    assert_int_equal(ws_session_feed(t->ws_srv, g, 1), 0);
    tu_guard_free(g, 1);
  }
  buf_reset(o);
  return t->ws_result;
}

/* Delivers messages and runs crypto until quiet; returns the first error. */
static int pump(struct pair *t) {
  for (;;) {
    int r = 0;
    uint8_t sig[1024], kh[CC_HASH_LEN];
    size_t sl;
    if (t->to_server.head < t->to_server.tail) {
      struct buf *m = &t->to_server.m[t->to_server.head++];
      r = t->ws_cli ? feed_bytewise(t, m)
                    : cc_srv_feed(&t->srv, m->data, m->len);
      buf_cleanup(m);
    } else if (t->to_agent.head < t->to_agent.tail) {
      struct buf *m = &t->to_agent.m[t->to_agent.head++];
      r = cc_agent_feed(&t->ag, m->data, m->len);
      buf_cleanup(m);
    } else if (t->srv_sign) {
      t->srv_sign = 0;
      EVP_PKEY *key = t->srv_ident ? other_server.key : t->server_sign_key;
      assert_int_equal(
          sig_sign384(key, t->srv_msg, CC_SIGNED_LEN, sig, sizeof sig, &sl), 0);
      r = cc_srv_signed(&t->srv, sig, sl);
    } else if (t->ag_sign) {
      t->ag_sign = 0;
      assert_int_equal(sig_sign384(agent_id.key, t->ag_msg, CC_SIGNED_LEN, sig,
                                   sizeof sig, &sl),
                       0);
      r = cc_agent_signed(&t->ag, sig, sl);
    } else if (t->srv_verify) {
      t->srv_verify = 0;
      int ok = do_verify(&t->srv_vcert, &t->srv_vsig, t->srv_vmsg, kh) == 0;
      r = cc_srv_verified(&t->srv, ok, kh);
    } else if (t->ag_verify) {
      t->ag_verify = 0;
      int ok = do_verify(&t->ag_vcert, &t->ag_vsig, t->ag_vmsg, kh) == 0;
      r = cc_agent_verified(&t->ag, ok, kh);
    } else if (t->admitted == 1) {
      t->admitted = 2;
      r = cc_srv_admit(&t->srv, t->admit_decision);
    } else {
      return 0;
    }
    if (r < 0) return r;
  }
}

/* Sets up a pair where the agent sees TLS certificate `seen` and the
 * server serves `served`; pin is the agent's stored pin or NULL. */
static void pair_init(struct pair *t, struct ident *seen, struct ident *served,
                      const uint8_t *pin) {
  uint8_t sch[48], skh[48], ach[48], akh[48], nonce[48];
  memset(t, 0, sizeof *t);
  buf_init(&t->srv_vcert, 64 * 1024);
  buf_init(&t->srv_vsig, 64 * 1024);
  buf_init(&t->ag_vcert, 64 * 1024);
  buf_init(&t->ag_vsig, 64 * 1024);
  t->admit_decision = 1;
  t->server_sign_key = server_id.key;
  t->idents[0].cert_der = server_der.data;
  t->idents[0].cert_len = server_der.len;
  hash_cert_key(server_id.cert, t->idents[0].key_hash);
  t->idents[1].cert_der = other_der.data;
  t->idents[1].cert_len = other_der.len;
  hash_cert_key(other_server.cert, t->idents[1].key_hash);
  t->n_idents = 2;
  hash_cert(served->cert, sch);
  hash_cert_key(served->cert, skh);
  rand_bytes(nonce, sizeof nonce);
  cc_srv_init(&t->srv, &sops, t, t->idents, t->n_idents, sch, skh, nonce);

  memcpy(t->acfg.server_id, t->idents[0].key_hash, 48);
  t->acfg.pinned = pin;
  t->acfg.cert_der = agent_der.data;
  t->acfg.cert_len = agent_der.len;
  t->acfg.info.info_version = 1;
  t->acfg.info.agent_id = 6;
  t->acfg.info.platform_type = 1;
  t->acfg.info.hostname = (const uint8_t *)"host1";
  t->acfg.info.hostname_len = 5;
  t->acfg.commit_date = "2026-Nov-25 00:00:00+0000";
  t->acfg.host_info = "Test OS - x64";
  hash_cert(seen->cert, ach);
  hash_cert_key(seen->cert, akh);
  rand_bytes(nonce, sizeof nonce);
  assert_int_equal(cc_agent_start(&t->ag, &aops, t, &t->acfg, ach, akh, nonce),
                   0);
}

static void pair_cleanup(struct pair *t) {
  for (int i = 0; i < MAXQ; i++) {
    buf_cleanup(&t->to_agent.m[i]);
    buf_cleanup(&t->to_server.m[i]);
  }
  buf_cleanup(&t->srv_vcert);
  buf_cleanup(&t->srv_vsig);
  buf_cleanup(&t->ag_vcert);
  buf_cleanup(&t->ag_vsig);
}

static int setup(void **state) {
  (void)state;
  buf_init(&agent_der, 64 * 1024);
  buf_init(&server_der, 64 * 1024);
  buf_init(&other_der, 64 * 1024);
  if (ident_new_agent(&agent_id) ||
      ident_new_root("srv", IDENT_RSA2048, &server_id) ||
      ident_new_root("other", IDENT_RSA2048, &other_server) ||
      ident_new_root("web1", IDENT_EC_P256, &web1) ||
      ident_new_root("web2", IDENT_EC_P256, &web2) ||
      cert_to_der(agent_id.cert, &agent_der) ||
      cert_to_der(server_id.cert, &server_der) ||
      cert_to_der(other_server.cert, &other_der))
    return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ident_cleanup(&agent_id);
  ident_cleanup(&server_id);
  ident_cleanup(&other_server);
  ident_cleanup(&web1);
  ident_cleanup(&web2);
  buf_cleanup(&agent_der);
  buf_cleanup(&server_der);
  buf_cleanup(&other_der);
  return 0;
}

static void full_then_pinned_reconnect(void **state) {
  (void)state;
  struct pair t;
  uint8_t pin[48], want[48];
  pair_init(&t, &web1, &web1, NULL);
  assert_int_equal(pump(&t), 0);
  assert_true(t.connected);
  assert_false(t.skipped);
  assert_true(t.pinned);
  assert_int_equal(t.srv.state, CC_SRV_DONE);
  assert_false(t.srv.skip_sign);
  assert_string_equal(t.srv.commit_date, "2026-Nov-25 00:00:00+0000");
  assert_string_equal(t.srv.host_info, "Test OS - x64");
  hash_cert_key(agent_id.cert, want);
  assert_memory_equal(t.node_hash, want, 48);
  hash_cert(web1.cert, want);
  assert_memory_equal(t.pin, want, 48);
  memcpy(pin, t.pin, 48);
  pair_cleanup(&t);

  /* Reconnect with the pin: the server never signs. */
  pair_init(&t, &web1, &web1, pin);
  assert_int_equal(pump(&t), 0);
  assert_true(t.connected);
  assert_true(t.skipped);
  assert_true(t.srv.skip_sign);
  assert_false(t.pinned); /* nothing new to pin */
  /* Once admitted, handshake commands are violations; others pass. */
  uint8_t again[2] = {0, 4}, tag[2] = {0, 15};
  assert_int_equal(cc_srv_feed(&t.srv, again, 2), MESH_E_PROTO_STATE);
  assert_int_equal(cc_srv_feed(&t.srv, tag, 2), CC_PASS);
  assert_int_equal(cc_srv_feed(&t.srv, (const uint8_t *)"{}", 2), CC_PASS);
  pair_cleanup(&t);
}

/* Command 5 picks the second identity: the server proves that one. */
static void server_id_selects_identity(void **state) {
  (void)state;
  struct pair t;
  pair_init(&t, &web1, &web1, NULL);
  /* pair_init already started the agent with identity 0's ServerID; start
   * it again expecting identity 1. */
  memcpy(t.acfg.server_id, t.idents[1].key_hash, CC_HASH_LEN);
  t.to_server.head = t.to_server.tail;
  uint8_t sch[48], skh[48], nonce[48] = {7};
  hash_cert(web1.cert, sch);
  hash_cert_key(web1.cert, skh);
  assert_int_equal(cc_agent_start(&t.ag, &aops, &t, &t.acfg, sch, skh, nonce),
                   0);
  assert_int_equal(pump(&t), 0);
  assert_true(t.connected);
  assert_int_equal(t.srv.ident, 1);
  assert_int_equal(t.srv_ident, 1);
  pair_cleanup(&t);
}

/* The same handshake with the agent's messages framed and fed to the
 * server's WebSocket one byte at a time, fragmented at 64 bytes. */
static void byte_at_a_time_over_websocket(void **state) {
  (void)state;
  struct pair t;
  pair_init(&t, &web1, &web1, NULL);
  assert_int_equal(ws_session_new(WS_ROLE_CLIENT, NULL, NULL, &t.ws_cli), 0);
  assert_int_equal(ws_session_new(WS_ROLE_SERVER, on_ws_msg, &t, &t.ws_srv), 0);
  ws_session_set_fragment(t.ws_cli, 64);
  assert_int_equal(pump(&t), 0);
  assert_true(t.connected);
  assert_int_equal(t.srv.state, CC_SRV_DONE);
  ws_session_free(t.ws_cli);
  ws_session_free(t.ws_srv);
  pair_cleanup(&t);
}

static void changed_web_cert_runs_full_handshake(void **state) {
  (void)state;
  struct pair t;
  uint8_t old_pin[48], want[48];
  hash_cert(web1.cert, old_pin);
  pair_init(&t, &web2, &web2, old_pin);
  assert_int_equal(pump(&t), 0);
  assert_true(t.connected);
  assert_false(t.skipped);
  assert_false(t.srv.skip_sign);
  hash_cert(web2.cert, want);
  assert_memory_equal(t.pin, want, 48);
  pair_cleanup(&t);
}

static void man_in_the_middle_cert_refused(void **state) {
  (void)state;
  struct pair t;
  /* The agent sees web2 (an interceptor's), the server serves web1. */
  pair_init(&t, &web2, &web1, NULL);
  assert_int_equal(pump(&t), MESH_E_AUTH);
  assert_false(t.connected);
  assert_false(t.admitted);
  pair_cleanup(&t);
}

static void wrong_server_signature_refused(void **state) {
  (void)state;
  struct pair t;
  pair_init(&t, &web1, &web1, NULL);
  t.server_sign_key = other_server.key; /* signs with a key not its cert's */
  assert_int_equal(pump(&t), MESH_E_AUTH);
  assert_false(t.connected);
  assert_false(t.pinned);
  pair_cleanup(&t);
}

static void wrong_server_id_refused(void **state) {
  (void)state;
  struct pair t;
  pair_init(&t, &web1, &web1, NULL);
  t.acfg.server_id[0] ^= 1; /* the agent expects another server */
  assert_int_equal(pump(&t), MESH_E_AUTH);
  assert_false(t.connected);
  assert_false(t.pinned);
  pair_cleanup(&t);
}

static void wrong_agent_signature_refused(void **state) {
  (void)state;
  struct pair t;
  pair_init(&t, &web1, &web1, NULL);
  t.corrupt_agent_sig = 1;
  assert_int_equal(pump(&t), MESH_E_AUTH);
  assert_false(t.admitted);
  pair_cleanup(&t);
}

static void refused_admission_is_an_error(void **state) {
  (void)state;
  struct pair t;
  pair_init(&t, &web1, &web1, NULL);
  t.admit_decision = 0;
  assert_int_equal(pump(&t), MESH_E_AUTH);
  assert_false(t.connected);
  pair_cleanup(&t);
}

static void feed_raw(struct cc_srv *s, const uint8_t *p, size_t n, int want) {
  assert_int_equal(cc_srv_feed(s, p, n), want);
}

static void server_rejects_out_of_order(void **state) {
  (void)state;
  struct pair t;
  uint8_t h[48], nonce[48] = {0};
  pair_init(&t, &web1, &web1, NULL);
  hash_cert(web1.cert, h);
  struct buf b;
  buf_init(&b, 1024);
  /* A post-auth command before authentication. */
  uint8_t core_hash[4] = {0, 11, 0, 0};
  feed_raw(&t.srv, core_hash, 4, MESH_E_PROTO_STATE);
  /* Command 1 twice. */
  cc_put_auth_request(&b, h, nonce);
  feed_raw(&t.srv, b.data, b.len, CC_CONSUMED);
  feed_raw(&t.srv, b.data, b.len, MESH_E_PROTO_STATE);
  /* Command 4 or 5 after command 1. */
  uint8_t skip[2] = {0, 4};
  feed_raw(&t.srv, skip, 2, MESH_E_PROTO_STATE);
  buf_reset(&b);
  cc_put_server_id(&b, h);
  feed_raw(&t.srv, b.data, b.len, MESH_E_PROTO_STATE);
  /* Unknown ids and malformed messages. */
  uint8_t unknown[2] = {0, 7}, big[2] = {0x12, 0x34}, one[1] = {0};
  feed_raw(&t.srv, unknown, 2, MESH_E_PROTO_STATE);
  feed_raw(&t.srv, big, 2, MESH_E_PROTO_STATE);
  feed_raw(&t.srv, one, 1, MESH_E_MALFORMED);
  /* Results nobody asked for. */
  assert_int_equal(cc_srv_verified(&t.srv, 1, h), MESH_E_PROTO_STATE);
  assert_int_equal(cc_srv_admit(&t.srv, 1), MESH_E_PROTO_STATE);
  /* JSON before admission is handed to the owner, flagged. */
  feed_raw(&t.srv, (const uint8_t *)"{\"action\":\"x\"}", 14, CC_PREAUTH_JSON);
  buf_cleanup(&b);
  pair_cleanup(&t);
}

static void agent_rejects_out_of_order(void **state) {
  (void)state;
  struct pair t;
  pair_init(&t, &web1, &web1, NULL);
  /* Server command 2 before command 1: no nonce yet. */
  struct buf b;
  buf_init(&b, 64 * 1024);
  cc_put_auth_verify(&b, server_der.data, server_der.len, (const uint8_t *)"s",
                     1);
  assert_int_equal(cc_agent_feed(&t.ag, b.data, b.len), MESH_E_PROTO_STATE);
  /* Anything but 1, 2 and 4 before the channel is open. */
  uint8_t core[4] = {0, 10, 0, 0};
  assert_int_equal(cc_agent_feed(&t.ag, core, 4), MESH_E_PROTO_STATE);
  assert_int_equal(cc_agent_feed(&t.ag, (const uint8_t *)"{}", 2),
                   MESH_E_PROTO_STATE);
  /* Command 4 alone does not open the channel: the server is unproven. */
  uint8_t confirm[2] = {0, 4};
  assert_int_equal(cc_agent_feed(&t.ag, confirm, 2), CC_CONSUMED);
  assert_false(cc_agent_open(&t.ag));
  assert_int_equal(cc_agent_feed(&t.ag, confirm, 2), MESH_E_PROTO_STATE);
  assert_false(t.connected);
  buf_cleanup(&b);
  pair_cleanup(&t);
}

/* Random message sequences never crash either machine. */
static void random_sequences(void **state) {
  (void)state;
  for (int round = 0; round < 300; round++) {
    struct pair t;
    pair_init(&t, &web1, &web1, NULL);
    for (int i = 0; i < 12; i++) {
      uint8_t m[120];
      size_t n = tu_rand() % sizeof m;
      for (size_t k = 0; k < n; k++) m[k] = (uint8_t)tu_rand();
      if (n >= 2 && tu_rand() % 2) m[0] = 0, m[1] = (uint8_t)(tu_rand() % 32);
      (void)cc_srv_feed(&t.srv, m, n);
      (void)cc_agent_feed(&t.ag, m, n);
    }
    pair_cleanup(&t);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(full_then_pinned_reconnect),
      cmocka_unit_test(server_id_selects_identity),
      cmocka_unit_test(byte_at_a_time_over_websocket),
      cmocka_unit_test(changed_web_cert_runs_full_handshake),
      cmocka_unit_test(man_in_the_middle_cert_refused),
      cmocka_unit_test(wrong_server_signature_refused),
      cmocka_unit_test(wrong_server_id_refused),
      cmocka_unit_test(wrong_agent_signature_refused),
      cmocka_unit_test(refused_admission_is_an_error),
      cmocka_unit_test(server_rejects_out_of_order),
      cmocka_unit_test(agent_rejects_out_of_order),
      cmocka_unit_test(random_sequences),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
