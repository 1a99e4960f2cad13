/* ICE, controlled side (agent/rtc_ice.h), over real UDP on loopback with a
 * real libuv loop. The test plays the browser: a small ICE-controlling
 * peer on its own socket, built on proto/stun.h, that sends checks
 * (USE-CANDIDATE when asked), answers the module's checks and checks
 * everything the module sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "agent/rtc_ice.h"
#include "base/err.h"
#include "proto/stun.h"
#include "testutil.h"

#define PEER_UFRAG "peer"
#define PEER_PWD "peerpasswordpeerpassword" /* 24 ice-chars */

enum answer { ANSWER_NONE, ANSWER_OK, ANSWER_487 };
enum close_at {
  CLOSE_NEVER,
  CLOSE_ON_CONNECTED,
  CLOSE_ON_PACKET,
  CLOSE_ON_FAIL
};

struct peer {
  uv_udp_t udp;
  struct sockaddr_in addr;
  enum answer answer;
  /* The module's checks seen, all verified; bad ones counted. */
  int checks, bad_checks;
  uint8_t first_tid[STUN_TID_LEN];
  int distinct_tids;
  uint8_t last_tid[STUN_TID_LEN];
  /* Responses to our checks. */
  int successes, errors, last_error, bad_responses;
  bool last_had_integrity;
  uint16_t last_unknown;
  struct stun_addr last_mapped;
  /* Non-STUN datagrams. */
  int data;
  uint8_t data_buf[64];
  size_t data_len;
};

struct ctx {
  uv_loop_t loop;
  struct rtc_ice *ice;
  struct peer peer, other;
  uv_timer_t drive;
  /* What the driver sends each tick from the peer: nothing, or checks,
   * with USE-CANDIDATE or not. */
  bool send_checks, use_candidate;
  int connected, failed, packets, closed;
  char reason[160];
  uint8_t packet[64];
  size_t packet_len;
  enum close_at close_at;
};

static struct ctx T;

/* ---- The module's callbacks ---- */

static void on_closed(struct rtc_ice *ice, void *data) {
  struct ctx *t = data;
  assert_ptr_equal(ice, t->ice);
  t->closed++;
  t->ice = NULL;
}

static void on_state(struct rtc_ice *ice, enum rtc_ice_state st,
                     const char *reason, void *data) {
  struct ctx *t = data;
  snprintf(t->reason, sizeof t->reason, "%s", reason);
  if (st == RTC_ICE_CONNECTED) {
    t->connected++;
    if (t->close_at == CLOSE_ON_CONNECTED) rtc_ice_close(ice, on_closed, t);
  } else {
    t->failed++;
    if (t->close_at == CLOSE_ON_FAIL) rtc_ice_close(ice, on_closed, t);
  }
}

static void on_packet(struct rtc_ice *ice, const uint8_t *p, size_t n,
                      void *data) {
  struct ctx *t = data;
  t->packets++;
  t->packet_len = n < sizeof t->packet ? n : sizeof t->packet;
  memcpy(t->packet, p, t->packet_len);
  if (t->close_at == CLOSE_ON_PACKET) {
    rtc_ice_close(ice, on_closed, t);
    /* A second close, and a send, from the same callback are harmless. */
    rtc_ice_close(ice, on_closed, t);
    assert_int_equal(rtc_ice_send(ice, p, n), MESH_E_PROTO_STATE);
  }
}

/* ---- The test peer ---- */

static uint16_t module_port;

static void send_raw(struct peer *pe, const uint8_t *p, size_t n) {
  struct sockaddr_in to;
  uv_ip4_addr("127.0.0.1", module_port, &to);
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  assert_int_equal(
      uv_udp_try_send(&pe->udp, &b, 1, (const struct sockaddr *)&to), (int)n);
}

/* A check from the peer, as Chrome sends it; flags add the odd bits. */
enum {
  CK_USE = 1,
  CK_WRONG_PWD = 2,
  CK_NO_USERNAME = 4,
  CK_WRONG_USER = 8,
  CK_UNKNOWN_ATTR = 16,
  CK_CONTROLLED = 32,
  CK_NO_PRIORITY = 64
};

static void send_check(struct peer *pe, unsigned flags) {
  uint8_t tid[STUN_TID_LEN], out[512];
  for (size_t i = 0; i < sizeof tid; i++) tid[i] = (uint8_t)tu_rand();
  char user[64];
  snprintf(user, sizeof user, "%s:%s",
           flags & CK_WRONG_USER ? "nobody00" : rtc_ice_ufrag(T.ice),
           PEER_UFRAG);
  const char *pwd = flags & CK_WRONG_PWD ? "0123456789abcdef0123456789abcdef"
                                         : rtc_ice_pwd(T.ice);
  struct stun_writer w;
  stun_w_init(&w, out, sizeof out, STUN_BINDING_REQUEST, tid);
  /* Chrome's GOOG-NETWORK-INFO, comprehension-optional: ignored. */
  stun_w_attr(&w, 0xC057, "\x00\x01\x00\x0a", 4);
  if (!(flags & CK_NO_USERNAME))
    stun_w_attr(&w, STUN_ATTR_USERNAME, user, strlen(user));
  stun_w_u64(&w,
             flags & CK_CONTROLLED ? STUN_ATTR_ICE_CONTROLLED
                                   : STUN_ATTR_ICE_CONTROLLING,
             0x0102030405060708ull);
  if (!(flags & CK_NO_PRIORITY)) stun_w_u32(&w, STUN_ATTR_PRIORITY, 1853759231);
  if (flags & CK_USE) stun_w_attr(&w, STUN_ATTR_USE_CANDIDATE, NULL, 0);
  if (flags & CK_UNKNOWN_ATTR) stun_w_attr(&w, 0x0031, "abc", 3);
  stun_w_integrity(&w, (const uint8_t *)pwd, strlen(pwd));
  stun_w_fingerprint(&w);
  ssize_t n = stun_w_finish(&w);
  assert_true(n > 0);
  send_raw(pe, out, (size_t)n);
}

static void peer_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  static uint8_t rx[4096];
  (void)h;
  (void)hint;
  *b = uv_buf_init((char *)rx, sizeof rx);
}

/* A check from the module: USERNAME "<peer>:<module>", PRIORITY,
 * ICE-CONTROLLED, integrity with the peer's password, FINGERPRINT. */
static void peer_on_check(struct peer *pe, const uint8_t *p, size_t n,
                          const struct stun_msg *m,
                          const struct sockaddr *from) {
  char want[64];
  snprintf(want, sizeof want, "%s:%s", PEER_UFRAG, rtc_ice_ufrag(T.ice));
  bool ok = m->username_len == strlen(want) &&
            memcmp(m->username, want, m->username_len) == 0 &&
            (m->has & STUN_HAS_PRIORITY) && (m->has & STUN_HAS_CONTROLLED) &&
            !(m->has & STUN_HAS_CONTROLLING) &&
            (m->has & STUN_HAS_FINGERPRINT) &&
            stun_check_integrity(p, n, m, (const uint8_t *)PEER_PWD,
                                 strlen(PEER_PWD)) == 0;
  if (!ok) {
    pe->bad_checks++;
    return;
  }
  if (pe->checks++ == 0) memcpy(pe->first_tid, m->tid, STUN_TID_LEN);
  if (pe->checks == 1 || memcmp(pe->last_tid, m->tid, STUN_TID_LEN) != 0)
    pe->distinct_tids++;
  memcpy(pe->last_tid, m->tid, STUN_TID_LEN);
  uint8_t out[256];
  ssize_t k = 0;
  const struct sockaddr_in *sin = (const struct sockaddr_in *)from;
  struct stun_addr mapped = {STUN_FAMILY_IPV4, ntohs(sin->sin_port), {0}};
  memcpy(mapped.addr, &sin->sin_addr, 4);
  if (pe->answer == ANSWER_OK)
    k = stun_build_success(out, sizeof out, m->tid, &mapped,
                           (const uint8_t *)PEER_PWD, strlen(PEER_PWD));
  else if (pe->answer == ANSWER_487)
    k = stun_build_error(out, sizeof out, m->tid, 487, NULL, 0,
                         (const uint8_t *)PEER_PWD, strlen(PEER_PWD));
  if (k > 0) send_raw(pe, out, (size_t)k);
}

static void peer_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *b,
                      const struct sockaddr *from, unsigned flags) {
  struct peer *pe = u->data;
  (void)flags;
  if (nread <= 0 || from == NULL || T.ice == NULL) return;
  const uint8_t *p = (const uint8_t *)b->base;
  size_t n = (size_t)nread;
  struct stun_msg m;
  if (!stun_is_stun(p, n)) {
    pe->data++;
    pe->data_len = n < sizeof pe->data_buf ? n : sizeof pe->data_buf;
    memcpy(pe->data_buf, p, pe->data_len);
    return;
  }
  assert_int_equal(stun_parse(p, n, &m), 0);
  assert_true(m.has & STUN_HAS_FINGERPRINT);
  if (m.type == STUN_BINDING_REQUEST) {
    peer_on_check(pe, p, n, &m, from);
    return;
  }
  pe->last_had_integrity = (m.has & STUN_HAS_INTEGRITY) != 0;
  if (pe->last_had_integrity &&
      stun_check_integrity(p, n, &m, (const uint8_t *)rtc_ice_pwd(T.ice),
                           RTC_ICE_PWD_LEN) != 0)
    pe->bad_responses++;
  if (m.type == STUN_BINDING_SUCCESS) {
    pe->successes++;
    pe->last_mapped = m.xor_mapped;
  } else {
    pe->errors++;
    pe->last_error = m.error_code;
    pe->last_unknown = 0;
    /* UNKNOWN-ATTRIBUTES sits after ERROR-CODE in our builder. */
    size_t off = 20 + 4 + ((4 + m.reason_len + 3) & ~(size_t)3);
    if (off + 6 <= n && p[off] == 0x00 && p[off + 1] == 0x0a)
      pe->last_unknown = (uint16_t)(p[off + 4] << 8 | p[off + 5]);
  }
}

static void peer_open(struct peer *pe) {
  memset(pe, 0, sizeof *pe);
  assert_int_equal(uv_udp_init(&T.loop, &pe->udp), 0);
  pe->udp.data = pe;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_udp_bind(&pe->udp, (const struct sockaddr *)&a, 0), 0);
  int len = sizeof pe->addr;
  assert_int_equal(
      uv_udp_getsockname(&pe->udp, (struct sockaddr *)&pe->addr, &len), 0);
  assert_int_equal(uv_udp_recv_start(&pe->udp, peer_alloc, peer_recv), 0);
}

/* ---- Loop plumbing ---- */

static void on_drive(uv_timer_t *h) {
  struct ctx *t = h->data;
  if (t->send_checks && t->ice)
    send_check(&t->peer, t->use_candidate ? CK_USE : 0);
}

static void start_rto(uint64_t connect_ms, uint64_t consent_ms,
                      unsigned rto_ms) {
  memset(&T, 0, sizeof T);
  assert_int_equal(uv_loop_init(&T.loop), 0);
  struct in_addr lo = {htonl(INADDR_LOOPBACK)};
  struct rtc_ice_config cfg = {.on_packet = on_packet,
                               .on_state = on_state,
                               .data = &T,
                               .connect_ms = connect_ms,
                               .consent_ms = consent_ms,
                               .rto_ms = rto_ms,
                               .host_addrs = &lo,
                               .n_host_addrs = 1};
  assert_int_equal(rtc_ice_new(&T.loop, &cfg, &T.ice), 0);
  struct rtc_ice_candidate c[RTC_ICE_MAX_LOCAL];
  assert_int_equal(rtc_ice_local_candidates(T.ice, c, RTC_ICE_MAX_LOCAL), 1);
  module_port = c[0].port;
  assert_true(module_port != 0);
  assert_int_equal(strlen(rtc_ice_ufrag(T.ice)), RTC_ICE_UFRAG_LEN);
  assert_int_equal(strlen(rtc_ice_pwd(T.ice)), RTC_ICE_PWD_LEN);
  peer_open(&T.peer);
  peer_open(&T.other);
  assert_int_equal(uv_timer_init(&T.loop, &T.drive), 0);
  T.drive.data = &T;
  uv_timer_start(&T.drive, on_drive, 20, 20);
}

static void start(uint64_t connect_ms, uint64_t consent_ms) {
  start_rto(connect_ms, consent_ms, 0);
}

/* Runs the loop until *flag becomes nonzero or ms pass. */
static void run_until(const int *flag, uint64_t ms) {
  uint64_t end = uv_now(&T.loop) + ms;
  while (!*flag && uv_now(&T.loop) < end) uv_run(&T.loop, UV_RUN_ONCE);
}

static void run_for(uint64_t ms) {
  static const int never = 0;
  run_until(&never, ms);
}

static void set_remote_peer(bool with_candidate) {
  struct rtc_ice_remote r = {T.peer.addr.sin_addr, ntohs(T.peer.addr.sin_port),
                             2130706431};
  assert_int_equal(rtc_ice_set_remote(T.ice, PEER_UFRAG, PEER_PWD, &r,
                                      with_candidate ? 1 : 0),
                   0);
}

static void finish(void) {
  if (T.ice) rtc_ice_close(T.ice, on_closed, &T);
  uv_close((uv_handle_t *)&T.peer.udp, NULL);
  uv_close((uv_handle_t *)&T.other.udp, NULL);
  uv_close((uv_handle_t *)&T.drive, NULL);
  assert_int_equal(uv_run(&T.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(T.closed, 1);
  assert_int_equal(uv_loop_close(&T.loop), 0);
}

/* ---- Tests ---- */

static void test_connect_and_data(void **state) {
  (void)state;
  start(0, 0);
  T.peer.answer = ANSWER_OK;
  set_remote_peer(true);
  T.send_checks = T.use_candidate = true;
  run_until(&T.connected, 3000);
  assert_int_equal(T.connected, 1);
  assert_int_equal(T.failed, 0);
  assert_non_null(strstr(T.reason, "127.0.0.1"));
  /* The answer to the nominating check may still be on its way. */
  run_until(&T.peer.successes, 1000);
  /* The module's checks reached the peer, well formed. */
  assert_true(T.peer.checks >= 1);
  assert_int_equal(T.peer.bad_checks, 0);
  /* The peer's checks were answered with its address, authenticated. */
  assert_true(T.peer.successes >= 1);
  assert_int_equal(T.peer.bad_responses, 0);
  assert_true(T.peer.last_had_integrity);
  assert_int_equal(T.peer.last_mapped.port, ntohs(T.peer.addr.sin_port));
  struct sockaddr_in sel;
  assert_int_equal(rtc_ice_selected(T.ice, &sel), 0);
  assert_int_equal(sel.sin_port, T.peer.addr.sin_port);

  /* DTLS-looking datagrams flow both ways. */
  T.send_checks = false;
  static const uint8_t hello[] = {22, 0xfe, 0xfd, 1, 2, 3};
  send_raw(&T.peer, hello, sizeof hello);
  run_until(&T.packets, 1000);
  assert_int_equal(T.packets, 1);
  assert_int_equal(T.packet_len, sizeof hello);
  assert_memory_equal(T.packet, hello, sizeof hello);
  static const uint8_t reply[] = {23, 0xfe, 0xfd, 9, 9};
  assert_int_equal(rtc_ice_send(T.ice, reply, sizeof reply), 0);
  run_until(&T.peer.data, 1000);
  assert_int_equal(T.peer.data, 1);
  assert_memory_equal(T.peer.data_buf, reply, sizeof reply);

  /* Not delivered: a first byte outside 20..63, and anything from an
   * address that never passed a check. */
  struct rtc_ice_stats st0, st1;
  rtc_ice_get_stats(T.ice, &st0);
  static const uint8_t rtp[] = {0x80, 0, 0, 0};
  send_raw(&T.peer, rtp, sizeof rtp);
  send_raw(&T.other, hello, sizeof hello);
  /* Nor one larger than RTC_ICE_MAX_DATAGRAM; one exactly that big is. */
  static uint8_t big[RTC_ICE_MAX_DATAGRAM + 1];
  memset(big, 23, sizeof big);
  send_raw(&T.peer, big, sizeof big);
  run_for(150);
  assert_int_equal(T.packets, 1);
  rtc_ice_get_stats(T.ice, &st1);
  assert_int_equal(st1.rx_dropped, st0.rx_dropped + 3);
  send_raw(&T.peer, big, RTC_ICE_MAX_DATAGRAM);
  run_for(100);
  assert_int_equal(T.packets, 2);
  assert_int_equal(T.packet[0], 23);
  finish();
}

static void test_bad_checks(void **state) {
  (void)state;
  start(0, 0);
  /* The peer never answers the module's checks, so only a valid check
   * from it could open the way for data. */
  T.peer.answer = ANSWER_NONE;
  set_remote_peer(true);
  /* Wrong password: 401 without MESSAGE-INTEGRITY. */
  send_check(&T.peer, CK_USE | CK_WRONG_PWD);
  run_until(&T.peer.errors, 1000);
  assert_int_equal(T.peer.errors, 1);
  assert_int_equal(T.peer.last_error, 401);
  assert_false(T.peer.last_had_integrity);
  /* Someone else's ufrag: 401. No USERNAME: 400. */
  T.peer.errors = 0;
  T.peer.last_error = 0;
  send_check(&T.peer, CK_USE | CK_WRONG_USER);
  run_until(&T.peer.errors, 1000);
  assert_int_equal(T.peer.last_error, 401);
  send_check(&T.peer, CK_USE | CK_NO_USERNAME);
  T.peer.errors = 0;
  run_until(&T.peer.errors, 1000);
  assert_int_equal(T.peer.last_error, 400);
  /* Authenticated but without PRIORITY: 400 with integrity. */
  send_check(&T.peer, CK_USE | CK_NO_PRIORITY);
  T.peer.errors = 0;
  run_until(&T.peer.errors, 1000);
  assert_int_equal(T.peer.last_error, 400);
  assert_true(T.peer.last_had_integrity);
  assert_int_equal(T.peer.bad_responses, 0);
  /* An unknown comprehension-required attribute: 420 naming it. */
  send_check(&T.peer, CK_USE | CK_UNKNOWN_ATTR);
  T.peer.errors = 0;
  run_until(&T.peer.errors, 1000);
  assert_int_equal(T.peer.last_error, 420);
  assert_int_equal(T.peer.last_unknown, 0x0031);
  assert_true(T.peer.last_had_integrity);
  assert_int_equal(T.peer.bad_responses, 0);
  /* Both sides controlled: 487. */
  send_check(&T.peer, CK_USE | CK_CONTROLLED);
  T.peer.errors = 0;
  run_until(&T.peer.errors, 1000);
  assert_int_equal(T.peer.last_error, 487);
  assert_true(T.peer.last_had_integrity);
  /* None of it connected, nor let data through from the peer. */
  run_for(300);
  assert_int_equal(T.connected, 0);
  assert_int_equal(T.peer.successes, 0);
  static const uint8_t hello[] = {22, 0xfe, 0xfd};
  send_raw(&T.peer, hello, sizeof hello);
  run_for(100);
  assert_int_equal(T.packets, 0);
  struct rtc_ice_stats st;
  rtc_ice_get_stats(T.ice, &st);
  assert_int_equal(st.rx_rejected, 6);
  assert_int_equal(st.rx_requests, 0);
  /* Garbage: not STUN, STUN that does not parse: dropped, unanswered. */
  static const uint8_t junk[] = {0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4,
                                 0x42, 1,    2,    3,    4,    5,    6,
                                 7,    8,    9,    10,   11,   12};
  send_raw(&T.peer, junk, sizeof junk);
  send_raw(&T.peer, junk, 7);
  run_for(100);
  struct rtc_ice_stats st2;
  rtc_ice_get_stats(T.ice, &st2);
  assert_true(st2.rx_dropped >= st.rx_dropped + 2);
  assert_int_equal(st2.rx_rejected, 6);
  finish();
}

/* Chrome offers only mDNS candidates, which the glue drops: the module
 * learns the browser's address from its checks and checks it back. */
static void test_prflx(void **state) {
  (void)state;
  start(0, 0);
  T.peer.answer = ANSWER_OK;
  set_remote_peer(false);
  T.send_checks = true;
  run_until(&T.peer.checks, 2000);
  assert_true(T.peer.checks >= 1);
  assert_int_equal(T.peer.bad_checks, 0);
  assert_int_equal(T.connected, 0);
  T.use_candidate = true;
  run_until(&T.connected, 2000);
  assert_int_equal(T.connected, 1);
  struct sockaddr_in sel;
  assert_int_equal(rtc_ice_selected(T.ice, &sel), 0);
  assert_int_equal(sel.sin_port, T.peer.addr.sin_port);
  finish();
}

/* Without any check from the peer the module checks the offered
 * candidate, retransmitting one transaction; a peer that answers 487
 * (it is controlled too) ends ICE with a clear reason. */
static void test_own_checks_and_role_conflict(void **state) {
  (void)state;
  start(0, 0);
  T.peer.answer = ANSWER_NONE;
  set_remote_peer(true);
  run_for(900);
  assert_true(T.peer.checks >= 3);
  assert_int_equal(T.peer.bad_checks, 0);
  assert_int_equal(T.peer.distinct_tids, 1);
  T.peer.answer = ANSWER_487;
  run_until(&T.failed, 5000);
  assert_int_equal(T.failed, 1);
  assert_non_null(strstr(T.reason, "role conflict"));
  /* Failed is final: sends are refused. */
  assert_int_equal(rtc_ice_send(T.ice, (const uint8_t *)"\x17", 1),
                   MESH_E_PROTO_STATE);
  finish();
}

/* An unanswered check is sent RTC_ICE_MAX_TX times, the timeout doubling,
 * then the pair fails and nothing more is sent to it; a check from the
 * peer later brings it back (a triggered check). */
static void test_check_gives_up(void **state) {
  (void)state;
  /* On the 50 ms ticks: sends at 0 50 100 150 250 450 650, fails at 850. */
  start_rto(0, 0, 10);
  T.peer.answer = ANSWER_NONE;
  set_remote_peer(true);
  run_for(200);
  assert_true(T.peer.checks >= 2 && T.peer.checks < RTC_ICE_MAX_TX);
  run_for(1000);
  assert_int_equal(T.peer.checks, RTC_ICE_MAX_TX);
  assert_int_equal(T.peer.distinct_tids, 1);
  assert_int_equal(T.peer.bad_checks, 0);
  struct rtc_ice_stats st;
  rtc_ice_get_stats(T.ice, &st);
  assert_int_equal(st.tx_checks, RTC_ICE_MAX_TX);
  T.peer.answer = ANSWER_OK;
  T.send_checks = T.use_candidate = true;
  run_until(&T.connected, 2000);
  assert_int_equal(T.connected, 1);
  assert_int_equal(T.peer.distinct_tids, 2);
  finish();
}

/* A browser check while the module's check to it waits for a long
 * retransmission timeout brings that retransmission forward, in the same
 * transaction, once. */
static void test_check_hurried(void **state) {
  (void)state;
  start_rto(0, 0, 200); /* sends at 0 200 600, then 1400 */
  T.peer.answer = ANSWER_NONE;
  set_remote_peer(true);
  run_for(800);
  assert_int_equal(T.peer.checks, 3);
  send_check(&T.peer, 0);
  run_for(150);
  assert_int_equal(T.peer.checks, 4);
  send_check(&T.peer, 0);
  run_for(300);
  assert_int_equal(T.peer.checks, 4);
  assert_int_equal(T.peer.distinct_tids, 1);
  assert_int_equal(T.peer.bad_checks, 0);
  finish();
}

/* A check that comes before the offer's credentials is answered (only
 * the local half of USERNAME can be checked); the module's own check to
 * it goes out once the credentials are set. */
static void test_check_before_remote(void **state) {
  (void)state;
  start(0, 0);
  T.peer.answer = ANSWER_OK;
  send_check(&T.peer, 0);
  run_until(&T.peer.successes, 1000);
  assert_int_equal(T.peer.successes, 1);
  run_for(100);
  assert_int_equal(T.peer.checks, 0);
  set_remote_peer(false);
  run_until(&T.peer.checks, 1000);
  assert_int_equal(T.peer.checks, 1);
  assert_int_equal(T.peer.bad_checks, 0);
  finish();
}

static void test_consent(void **state) {
  (void)state;
  start(0, 300);
  T.peer.answer = ANSWER_OK;
  set_remote_peer(true);
  T.send_checks = T.use_candidate = true;
  run_until(&T.connected, 3000);
  assert_int_equal(T.connected, 1);
  /* Checks every 20 ms keep consent for three times its timeout. */
  run_for(900);
  assert_int_equal(T.failed, 0);
  T.send_checks = false;
  uint64_t t0 = uv_now(&T.loop);
  run_until(&T.failed, 3000);
  assert_int_equal(T.failed, 1);
  assert_non_null(strstr(T.reason, "consent"));
  uint64_t took = uv_now(&T.loop) - t0;
  assert_true(took >= 250 && took < 1000);
  finish();
}

static void test_connect_timeout_close_in_callback(void **state) {
  (void)state;
  start(200, 0);
  T.close_at = CLOSE_ON_FAIL;
  set_remote_peer(true);
  run_until(&T.closed, 3000);
  assert_int_equal(T.failed, 1);
  assert_non_null(strstr(T.reason, "no ICE connectivity"));
  assert_int_equal(T.closed, 1);
  finish();
}

static void test_close_on_connected(void **state) {
  (void)state;
  start(0, 0);
  T.close_at = CLOSE_ON_CONNECTED;
  T.peer.answer = ANSWER_OK;
  set_remote_peer(true);
  T.send_checks = T.use_candidate = true;
  run_until(&T.closed, 3000);
  assert_int_equal(T.connected, 1);
  assert_int_equal(T.closed, 1);
  /* The peer's checks keep coming to a closed port. */
  run_for(100);
  finish();
}

static void test_close_on_packet(void **state) {
  (void)state;
  start(0, 0);
  T.close_at = CLOSE_ON_PACKET;
  T.peer.answer = ANSWER_OK;
  set_remote_peer(true);
  T.send_checks = T.use_candidate = true;
  run_until(&T.connected, 3000);
  static const uint8_t hello[] = {22, 0xfe, 0xfd};
  /* Two datagrams in one loop turn: the second finds the module closing. */
  send_raw(&T.peer, hello, sizeof hello);
  send_raw(&T.peer, hello, sizeof hello);
  run_until(&T.closed, 1000);
  assert_int_equal(T.packets, 1);
  assert_int_equal(T.closed, 1);
  finish();
}

static void test_api_edges(void **state) {
  (void)state;
  start(0, 0);
  /* Credentials outside RFC 8839's lengths or alphabet. */
  assert_int_equal(rtc_ice_set_remote(T.ice, "abc", PEER_PWD, NULL, 0),
                   MESH_E_INVALID);
  assert_int_equal(rtc_ice_set_remote(T.ice, "peer", "short", NULL, 0),
                   MESH_E_INVALID);
  assert_int_equal(rtc_ice_set_remote(T.ice, "pe er", PEER_PWD, NULL, 0),
                   MESH_E_INVALID);
  /* Nothing to send to yet. */
  assert_int_equal(rtc_ice_send(T.ice, (const uint8_t *)"\x17", 1),
                   MESH_E_PROTO_STATE);
  set_remote_peer(true);
  assert_int_equal(rtc_ice_set_remote(T.ice, "peer", PEER_PWD, NULL, 0),
                   MESH_E_INVALID);
  struct rtc_ice_remote r = {T.peer.addr.sin_addr, ntohs(T.peer.addr.sin_port),
                             1};
  assert_int_equal(rtc_ice_add_remote(T.ice, &r), MESH_E_EXISTS);
  r.port = 0;
  assert_int_equal(rtc_ice_add_remote(T.ice, &r), MESH_E_INVALID);
  for (uint16_t i = 1; i < RTC_ICE_MAX_REMOTE; i++) {
    r.port = (uint16_t)(9 + i); /* discard-ish ports on loopback */
    assert_int_equal(rtc_ice_add_remote(T.ice, &r), 0);
  }
  r.port = 5;
  assert_int_equal(rtc_ice_add_remote(T.ice, &r), MESH_E_TOO_LARGE);
  /* The candidate line for the answer. */
  struct rtc_ice_candidate c;
  assert_int_equal(rtc_ice_local_candidates(T.ice, &c, 1), 1);
  char line[128], want[128];
  snprintf(want, sizeof want,
           "candidate:1 1 UDP 2130706431 127.0.0.1 %u typ host",
           (unsigned)module_port);
  assert_int_equal(rtc_ice_candidate_line(&c, line, sizeof line),
                   (int)strlen(want));
  assert_string_equal(line, want);
  assert_int_equal(rtc_ice_candidate_line(&c, line, 10), MESH_E_TOO_LARGE);
  finish();
}

/* Without a host list the module takes the machine's interfaces, at
 * least one address, all on its port. */
static void test_interfaces(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  struct rtc_ice *ice;
  struct rtc_ice_config cfg = {.on_state = on_state};
  assert_int_equal(rtc_ice_new(&loop, &cfg, &ice), 0);
  struct rtc_ice_candidate c[RTC_ICE_MAX_LOCAL];
  size_t n = rtc_ice_local_candidates(ice, c, RTC_ICE_MAX_LOCAL);
  assert_true(n >= 1 && n <= RTC_ICE_MAX_LOCAL);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(c[i].port, c[0].port);
    assert_int_equal(c[i].foundation, i + 1);
    assert_int_equal(c[i].priority >> 24, 126);
    if (n > 1) assert_true(c[i].addr.s_addr != htonl(INADDR_LOOPBACK));
  }
  rtc_ice_close(ice, NULL, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
  /* No on_state is refused. */
  cfg.on_state = NULL;
  assert_int_equal(rtc_ice_new(&loop, &cfg, &ice), MESH_E_INVALID);
  assert_null(ice);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_connect_and_data),
      cmocka_unit_test(test_bad_checks),
      cmocka_unit_test(test_prflx),
      cmocka_unit_test(test_own_checks_and_role_conflict),
      cmocka_unit_test(test_check_gives_up),
      cmocka_unit_test(test_check_hurried),
      cmocka_unit_test(test_check_before_remote),
      cmocka_unit_test(test_consent),
      cmocka_unit_test(test_connect_timeout_close_in_callback),
      cmocka_unit_test(test_close_on_connected),
      cmocka_unit_test(test_close_on_packet),
      cmocka_unit_test(test_api_edges),
      cmocka_unit_test(test_interfaces),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
