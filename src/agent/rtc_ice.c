/*
 * rtc_ice.c - ICE, controlled side, on one UDP socket. See rtc_ice.h.
 *
 * Model: one socket bound to 0.0.0.0 is the base of every local candidate,
 * and the kernel picks the source address per destination, so a candidate
 * pair is identified by its remote address alone; the check list is the
 * table of remote candidates (struct pair). A pair is "authenticated" once
 * the browser sent a valid check from it (it knows our password) and
 * "succeeded" once our own check to it got a valid response. Datagrams
 * are delivered from either; selection needs nomination plus success.
 *
 * Re-entrancy: every user callback may call rtc_ice_close. Memory is only
 * freed from the last handle's close callback, which libuv runs on a later
 * loop phase, so after a user callback returns `ice` is still valid and
 * the code checks ice->closing before doing anything more.
 */
#include "agent/rtc_ice.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "crypto/rand.h"
#include "proto/stun.h"

#define MAX_UFRAG 256
#define MAX_PWD 256
/* PRIORITY of our checks: what a peer-reflexive candidate learned from
 * them would get (RFC 8445 §7.1.1), type preference 110. */
#define PRFLX_PRIORITY ((110u << 24) | (65535u << 8) | 255u)
#define MAX_UDP_PAYLOAD 65507

enum pair_state { P_WAITING, P_IN_PROGRESS, P_SUCCEEDED, P_FAILED };

struct pair {
  struct sockaddr_in addr;
  uint32_t priority; /* the remote candidate's */
  enum pair_state state;
  bool triggered;           /* a triggered check is queued */
  bool nominate_on_success; /* USE-CANDIDATE came before our check won */
  bool nominated;
  bool authenticated; /* the browser sent a valid check from here */
  uint8_t tid[STUN_TID_LEN];
  bool hurried;     /* a retransmission was pulled in by a browser check */
  unsigned tx;      /* transmissions of the current check */
  unsigned rto;     /* its current retransmission timeout */
  uint64_t next_ms; /* when to retransmit or give up */
};

struct rtc_ice {
  uv_loop_t *loop;
  uv_udp_t udp;
  uv_timer_t pace;     /* checks and retransmissions */
  uv_timer_t deadline; /* connect, then consent */
  int open_handles;
  bool closing, failed, connected, have_remote;
  rtc_ice_close_cb close_cb;
  void *close_data;

  rtc_ice_packet_cb on_packet;
  rtc_ice_state_cb on_state;
  void *data;
  uint64_t connect_ms, consent_ms, last_consent;
  unsigned rto_ms;

  char ufrag[RTC_ICE_UFRAG_LEN + 1];
  char pwd[RTC_ICE_PWD_LEN + 1];
  char rpwd[MAX_PWD + 1];
  size_t rpwd_len;
  /* USERNAME of the browser's checks ("<ours>:<theirs>") and of ours. */
  char user_in[RTC_ICE_UFRAG_LEN + 1 + MAX_UFRAG + 1];
  char user_out[MAX_UFRAG + 1 + RTC_ICE_UFRAG_LEN + 1];
  size_t user_in_len, user_out_len;
  uint64_t tiebreaker;

  uint16_t port;
  struct rtc_ice_candidate local[RTC_ICE_MAX_LOCAL];
  size_t n_local;
  struct pair pairs[RTC_ICE_MAX_REMOTE];
  size_t n_pairs;
  int selected; /* index into pairs, or -1 */
  int last_rx;  /* pair the last accepted datagram came from, or -1 */
  struct rtc_ice_stats stats;
  /* The receive buffer: libuv reads every datagram into it, so the hot
   * path allocates nothing. A larger datagram arrives truncated
   * (UV_UDP_PARTIAL) and is dropped. */
  uint8_t rx[RTC_ICE_MAX_DATAGRAM];
};

static const char ICE_CHARS[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int random_ice_chars(char *out, size_t n) {
  uint8_t raw[RTC_ICE_PWD_LEN];
  int r = rand_bytes(raw, n);
  if (r != 0) return r;
  for (size_t i = 0; i < n; i++) out[i] = ICE_CHARS[raw[i] & 63];
  out[n] = 0;
  OPENSSL_cleanse(raw, sizeof raw);
  return 0;
}

static bool is_ice_chars(const char *s, size_t min, size_t max) {
  size_t n = strnlen(s, max + 1);
  if (n < min || n > max) return false;
  for (size_t i = 0; i < n; i++)
    if (!memchr(ICE_CHARS, s[i], sizeof ICE_CHARS - 1)) return false;
  return true;
}

static bool same_addr(const struct sockaddr_in *a,
                      const struct sockaddr_in *b) {
  return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static const char *addr_text(const struct sockaddr_in *a, char *buf,
                             size_t cap) {
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
  snprintf(buf, cap, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
  return buf;
}

/* ---- Lifetime ---- */

static void free_ice(struct rtc_ice *ice) {
  OPENSSL_cleanse(ice->pwd, sizeof ice->pwd);
  OPENSSL_cleanse(ice->rpwd, sizeof ice->rpwd);
  free(ice);
}

static void on_handle_closed(uv_handle_t *h) {
  struct rtc_ice *ice = h->data;
  if (--ice->open_handles > 0) return;
  if (ice->close_cb) ice->close_cb(ice, ice->close_data);
  free_ice(ice);
}

static void close_handles(struct rtc_ice *ice) {
  uv_handle_t *hs[] = {(uv_handle_t *)&ice->udp, (uv_handle_t *)&ice->pace,
                       (uv_handle_t *)&ice->deadline};
  for (size_t i = 0; i < 3; i++)
    if (hs[i]->data && !uv_is_closing(hs[i])) uv_close(hs[i], on_handle_closed);
}

void rtc_ice_close(struct rtc_ice *ice, rtc_ice_close_cb cb, void *data) {
  if (ice == NULL || ice->closing) return;
  ice->closing = true;
  ice->close_cb = cb;
  ice->close_data = data;
  log_debug(
      "event=ice_close dropped=%llu requests=%llu rejected=%llu "
      "checks=%llu",
      (unsigned long long)ice->stats.rx_dropped,
      (unsigned long long)ice->stats.rx_requests,
      (unsigned long long)ice->stats.rx_rejected,
      (unsigned long long)ice->stats.tx_checks);
  uv_udp_recv_stop(&ice->udp);
  close_handles(ice);
}

/* Reports FAILED once; the glue is expected to close. */
static void fail(struct rtc_ice *ice, const char *reason) {
  if (ice->failed || ice->closing) return;
  ice->failed = true;
  uv_timer_stop(&ice->pace);
  uv_timer_stop(&ice->deadline);
  ice->on_state(ice, RTC_ICE_FAILED, reason, ice->data);
}

/* ---- Sending ---- */

static int send_to(struct rtc_ice *ice, const struct sockaddr_in *to,
                   const uint8_t *p, size_t n) {
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  int r = uv_udp_try_send(&ice->udp, &b, 1, (const struct sockaddr *)to);
  /* A full socket buffer loses the datagram, which UDP may do anyway. */
  return r < 0 && r != UV_EAGAIN ? r : 0;
}

static void send_check(struct rtc_ice *ice, struct pair *pr) {
  uint8_t out[512];
  struct stun_check c = {pr->tid,
                         ice->user_out,
                         ice->user_out_len,
                         PRFLX_PRIORITY,
                         false,
                         ice->tiebreaker,
                         false,
                         (const uint8_t *)ice->rpwd,
                         ice->rpwd_len};
  ssize_t n = stun_build_check(out, sizeof out, &c);
  if (n < 0) return; /* cannot happen: the sizes are bounded above */
  ice->stats.tx_checks++;
  (void)send_to(ice, &pr->addr, out, (size_t)n);
}

/* Starts a new check (transaction) on pr. */
static void start_check(struct rtc_ice *ice, struct pair *pr) {
  if (rand_bytes(pr->tid, STUN_TID_LEN) != 0) return;
  pr->state = P_IN_PROGRESS;
  pr->triggered = false;
  pr->hurried = false;
  pr->tx = 1;
  pr->rto = ice->rto_ms;
  pr->next_ms = uv_now(ice->loop) + pr->rto;
  send_check(ice, pr);
}

static bool needs_pacing(const struct rtc_ice *ice) {
  for (size_t i = 0; i < ice->n_pairs; i++) {
    const struct pair *pr = &ice->pairs[i];
    if (pr->state == P_IN_PROGRESS || pr->triggered ||
        (pr->state == P_WAITING && ice->selected < 0))
      return true;
  }
  return false;
}

static void on_pace(uv_timer_t *t);

static void kick_pacing(struct rtc_ice *ice) {
  if (ice->closing || ice->failed || !ice->have_remote) return;
  if (!uv_is_active((uv_handle_t *)&ice->pace))
    uv_timer_start(&ice->pace, on_pace, 0, RTC_ICE_PACE_MS);
}

/* One tick: due retransmissions, then one new check, triggered ones
 * first, each group by remote priority (the pair priority's order, as the
 * local side is the same socket for all). Ordinary checks stop once a
 * pair is selected; triggered ones go on (the browser may nominate
 * another pair). */
static void on_pace(uv_timer_t *t) {
  struct rtc_ice *ice = t->data;
  uint64_t now = uv_now(ice->loop);
  for (size_t i = 0; i < ice->n_pairs; i++) {
    struct pair *pr = &ice->pairs[i];
    if (pr->state != P_IN_PROGRESS || now < pr->next_ms) continue;
    if (pr->tx >= RTC_ICE_MAX_TX) {
      pr->state = P_FAILED;
      continue;
    }
    pr->tx++;
    pr->rto = pr->rto * 2 > 16 * ice->rto_ms ? 16 * ice->rto_ms : pr->rto * 2;
    pr->next_ms = now + pr->rto;
    send_check(ice, pr);
  }
  struct pair *best = NULL;
  for (size_t i = 0; i < ice->n_pairs; i++) {
    struct pair *pr = &ice->pairs[i];
    bool ordinary = pr->state == P_WAITING && ice->selected < 0;
    if (!pr->triggered && !ordinary) continue;
    if (!best || (pr->triggered && !best->triggered) ||
        (pr->triggered == best->triggered && pr->priority > best->priority))
      best = pr;
  }
  if (best) start_check(ice, best);
  if (!needs_pacing(ice)) uv_timer_stop(&ice->pace);
}

/* ---- Candidates ---- */

static struct pair *find_pair(struct rtc_ice *ice,
                              const struct sockaddr_in *a) {
  for (size_t i = 0; i < ice->n_pairs; i++)
    if (same_addr(&ice->pairs[i].addr, a)) return &ice->pairs[i];
  return NULL;
}

/* Adds a remote candidate; when the table is full a failed pair that is
 * not selected makes room. Returns the pair or NULL. */
static struct pair *add_pair(struct rtc_ice *ice, const struct sockaddr_in *a,
                             uint32_t priority) {
  struct pair *pr = NULL;
  if (ice->n_pairs < RTC_ICE_MAX_REMOTE) {
    pr = &ice->pairs[ice->n_pairs++];
  } else {
    for (size_t i = 0; i < ice->n_pairs && !pr; i++)
      if (ice->pairs[i].state == P_FAILED && (int)i != ice->selected &&
          (int)i != ice->last_rx)
        pr = &ice->pairs[i];
    if (!pr) return NULL;
  }
  memset(pr, 0, sizeof *pr);
  pr->addr = *a;
  pr->priority = priority;
  pr->state = P_WAITING;
  return pr;
}

static int remote_addr(const struct rtc_ice_remote *c, struct sockaddr_in *a) {
  if (c->port == 0 || c->addr.s_addr == htonl(INADDR_ANY) ||
      c->addr.s_addr == htonl(INADDR_BROADCAST))
    return MESH_E_INVALID;
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_addr = c->addr;
  a->sin_port = htons(c->port);
  return 0;
}

int rtc_ice_add_remote(struct rtc_ice *ice, const struct rtc_ice_remote *c) {
  if (ice->closing || ice->failed) return MESH_E_PROTO_STATE;
  struct sockaddr_in a;
  int r = remote_addr(c, &a);
  if (r != 0) return r;
  if (find_pair(ice, &a)) return MESH_E_EXISTS;
  if (!add_pair(ice, &a, c->priority)) return MESH_E_TOO_LARGE;
  kick_pacing(ice);
  return 0;
}

int rtc_ice_set_remote(struct rtc_ice *ice, const char *ufrag, const char *pwd,
                       const struct rtc_ice_remote *c, size_t n) {
  if (ice->closing || ice->failed) return MESH_E_PROTO_STATE;
  if (ice->have_remote || !is_ice_chars(ufrag, 4, MAX_UFRAG) ||
      !is_ice_chars(pwd, 22, MAX_PWD))
    return MESH_E_INVALID;
  ice->rpwd_len = strlen(pwd);
  memcpy(ice->rpwd, pwd, ice->rpwd_len + 1);
  ice->user_in_len = (size_t)snprintf(ice->user_in, sizeof ice->user_in,
                                      "%s:%s", ice->ufrag, ufrag);
  ice->user_out_len = (size_t)snprintf(ice->user_out, sizeof ice->user_out,
                                       "%s:%s", ufrag, ice->ufrag);
  ice->have_remote = true;
  for (size_t i = 0; i < n; i++) {
    struct sockaddr_in a;
    if (remote_addr(&c[i], &a) != 0 || find_pair(ice, &a)) continue;
    if (!add_pair(ice, &a, c[i].priority)) break;
  }
  /* Browser checks that came before the credentials were answered; their
   * pairs are waiting for a triggered check. */
  for (size_t i = 0; i < ice->n_pairs; i++)
    if (ice->pairs[i].authenticated) ice->pairs[i].triggered = true;
  kick_pacing(ice);
  return 0;
}

/* ---- Selection ---- */

static void on_deadline(uv_timer_t *t);

static void select_pair(struct rtc_ice *ice) {
  int best = -1;
  for (size_t i = 0; i < ice->n_pairs; i++) {
    const struct pair *pr = &ice->pairs[i];
    if (pr->nominated && pr->state == P_SUCCEEDED &&
        (best < 0 || pr->priority > ice->pairs[best].priority))
      best = (int)i;
  }
  if (best < 0 || best == ice->selected) return;
  ice->selected = best;
  ice->last_consent = uv_now(ice->loop);
  char a[32], reason[64];
  addr_text(&ice->pairs[best].addr, a, sizeof a);
  if (ice->connected) {
    log_debug("event=ice_reselect peer=%s", a);
    return;
  }
  ice->connected = true;
  /* From now on the deadline is consent freshness. */
  uv_timer_start(&ice->deadline, on_deadline, ice->consent_ms, 0);
  snprintf(reason, sizeof reason, "selected pair to %s", a);
  ice->on_state(ice, RTC_ICE_CONNECTED, reason, ice->data);
}

static void nominate(struct rtc_ice *ice, struct pair *pr) {
  if (pr->state == P_SUCCEEDED) {
    pr->nominated = true;
    select_pair(ice);
  } else {
    pr->nominate_on_success = true;
  }
}

/* ---- Incoming STUN ---- */

static void reject(struct rtc_ice *ice, const struct stun_msg *m,
                   const struct sockaddr_in *from, int code, bool authed) {
  uint8_t out[256];
  ssize_t n = stun_build_error(
      out, sizeof out, m->tid, code, m->unknown,
      code == STUN_ERR_UNKNOWN_ATTRIBUTE ? m->n_unknown : 0,
      authed ? (const uint8_t *)ice->pwd : NULL, authed ? RTC_ICE_PWD_LEN : 0);
  ice->stats.rx_rejected++;
  if (n > 0) (void)send_to(ice, from, out, (size_t)n);
}

/* The checks of RFC 5389 §10.1.2 and RFC 8445 §7.3, in that order:
 * credentials present (400), USERNAME ours and MESSAGE-INTEGRITY right
 * (401), attributes understood (420), no role conflict (487; the agent
 * never becomes controlling, see below), PRIORITY present (400). */
static void on_request(struct rtc_ice *ice, const uint8_t *p, size_t n,
                       const struct stun_msg *m,
                       const struct sockaddr_in *from) {
  if (!(m->has & STUN_HAS_USERNAME) || !(m->has & STUN_HAS_INTEGRITY)) {
    reject(ice, m, from, STUN_ERR_BAD_REQUEST, false);
    return;
  }
  /* Before the offer's credentials only our half can be checked. */
  size_t want = ice->have_remote ? ice->user_in_len : RTC_ICE_UFRAG_LEN + 1;
  bool user_ok =
      ice->have_remote ? m->username_len == want : m->username_len > want;
  if (!user_ok || memcmp(m->username, ice->user_in, want) != 0 ||
      stun_check_integrity(p, n, m, (const uint8_t *)ice->pwd,
                           RTC_ICE_PWD_LEN) != 0) {
    reject(ice, m, from, STUN_ERR_UNAUTHORIZED, false);
    return;
  }
  if (m->n_unknown > 0) {
    reject(ice, m, from, STUN_ERR_UNKNOWN_ATTRIBUTE, true);
    return;
  }
  /* Both sides controlled. RFC 8445 §7.3.1.1 would have the larger
   * tie-breaker switch to controlling; the agent only ever answers a
   * browser's offer, so it always leaves that role to the peer: 487
   * tells the peer to switch to controlling. */
  if (m->has & STUN_HAS_CONTROLLED) {
    reject(ice, m, from, STUN_ERR_ROLE_CONFLICT, true);
    return;
  }
  if (!(m->has & STUN_HAS_PRIORITY)) {
    reject(ice, m, from, STUN_ERR_BAD_REQUEST, true);
    return;
  }

  uint8_t out[128];
  struct stun_addr mapped = {STUN_FAMILY_IPV4, ntohs(from->sin_port), {0}};
  memcpy(mapped.addr, &from->sin_addr, 4);
  ssize_t k = stun_build_success(out, sizeof out, m->tid, &mapped,
                                 (const uint8_t *)ice->pwd, RTC_ICE_PWD_LEN);
  if (k > 0) (void)send_to(ice, from, out, (size_t)k);
  ice->stats.rx_requests++;

  struct pair *pr = find_pair(ice, from);
  if (!pr) {
    /* A peer-reflexive remote candidate (RFC 8445 §7.3.1.3). */
    pr = add_pair(ice, from, m->priority);
    if (!pr) return;
    char a[32];
    log_debug("event=ice_prflx peer=%s", addr_text(from, a, sizeof a));
  }
  pr->authenticated = true;
  if (ice->selected >= 0 && pr == &ice->pairs[ice->selected])
    ice->last_consent = uv_now(ice->loop);
  /* Triggered check (§7.3.1.4), not for a pair that already succeeded.
   * The RFC cancels an in-progress check and starts a new transaction;
   * that transaction is kept here instead, so an answer to any of its
   * retransmissions counts however often the browser checks (Chrome
   * every ~50 ms, faster than a long round trip, would otherwise cancel
   * every check before its answer came). The path is known open now, so
   * its next retransmission goes out at once, once per transaction. */
  if (pr->state == P_IN_PROGRESS) {
    if (!pr->hurried) {
      pr->hurried = true;
      pr->next_ms = uv_now(ice->loop);
      kick_pacing(ice);
    }
  } else if (pr->state != P_SUCCEEDED) {
    pr->state = P_WAITING;
    pr->triggered = true;
    kick_pacing(ice);
  }
  if (m->has & STUN_HAS_USE_CANDIDATE) nominate(ice, pr);
}

static void on_response(struct rtc_ice *ice, const uint8_t *p, size_t n,
                        const struct stun_msg *m,
                        const struct sockaddr_in *from) {
  struct pair *pr = NULL;
  for (size_t i = 0; i < ice->n_pairs && !pr; i++) {
    struct pair *q = &ice->pairs[i];
    if (q->state == P_IN_PROGRESS && memcmp(q->tid, m->tid, STUN_TID_LEN) == 0)
      pr = q;
  }
  /* Unknown transactions and unauthenticated responses are dropped
   * (RFC 5389 §10.1.3). */
  if (!pr || !ice->have_remote ||
      stun_check_integrity(p, n, m, (const uint8_t *)ice->rpwd,
                           ice->rpwd_len) != 0) {
    ice->stats.rx_dropped++;
    return;
  }
  /* A response from elsewhere than the check went to fails the check
   * (§7.2.5.2.1), as does one we cannot understand. */
  if (!same_addr(&pr->addr, from) || m->n_unknown > 0) {
    pr->state = P_FAILED;
    return;
  }
  if (m->type == STUN_BINDING_ERROR) {
    if (m->error_code == STUN_ERR_ROLE_CONFLICT) {
      fail(ice, "ICE role conflict: the peer is ICE-controlled too");
      return;
    }
    pr->state = P_FAILED;
    return;
  }
  pr->state = P_SUCCEEDED;
  if (pr->nominate_on_success) {
    pr->nominate_on_success = false;
    nominate(ice, pr);
  }
}

static void on_stun(struct rtc_ice *ice, const uint8_t *p, size_t n,
                    const struct sockaddr_in *from) {
  struct stun_msg m;
  if (stun_parse(p, n, &m) != 0) {
    ice->stats.rx_dropped++;
    return;
  }
  switch (m.type) {
    case STUN_BINDING_REQUEST:
      on_request(ice, p, n, &m, from);
      break;
    case STUN_BINDING_SUCCESS:
    case STUN_BINDING_ERROR:
      on_response(ice, p, n, &m, from);
      break;
    default:
      /* Binding indications (keepalives) and other methods. */
      ice->stats.rx_dropped++;
      break;
  }
}

/* ---- The socket ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  struct rtc_ice *ice = h->data;
  (void)hint;
  *b = uv_buf_init((char *)ice->rx, sizeof ice->rx);
}

static void on_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *b,
                    const struct sockaddr *sa, unsigned flags) {
  struct rtc_ice *ice = u->data;
  if (nread == 0 && sa == NULL) return; /* nothing more to read */
  if (ice->closing || ice->failed) return;
  if (nread < 0) {
    /* ICMP errors (ECONNREFUSED from a closed remote port) land here;
     * they do not end ICE, the deadlines do. */
    log_debug("event=ice_recv_error reason=\"%s\"", mesh_strerror((int)nread));
    return;
  }
  const uint8_t *p = (const uint8_t *)b->base;
  size_t n = (size_t)nread;
  if ((flags & UV_UDP_PARTIAL) || sa == NULL || sa->sa_family != AF_INET ||
      n == 0) {
    ice->stats.rx_dropped++;
    return;
  }
  const struct sockaddr_in *from = (const struct sockaddr_in *)sa;
  if (stun_is_stun(p, n)) {
    on_stun(ice, p, n, from);
    return;
  }
  /* DTLS (RFC 7983: first byte 20..63) from a checked address only. */
  struct pair *pr = p[0] >= 20 && p[0] <= 63 ? find_pair(ice, from) : NULL;
  if (!pr || !(pr->authenticated || pr->state == P_SUCCEEDED)) {
    ice->stats.rx_dropped++;
    return;
  }
  ice->last_rx = (int)(pr - ice->pairs);
  if (ice->on_packet) ice->on_packet(ice, p, n, ice->data);
}

int rtc_ice_send(struct rtc_ice *ice, const uint8_t *p, size_t n) {
  if (ice->closing || ice->failed) return MESH_E_PROTO_STATE;
  if (n > MAX_UDP_PAYLOAD) return MESH_E_TOO_LARGE;
  int to = ice->selected >= 0 ? ice->selected : ice->last_rx;
  if (to < 0) return MESH_E_PROTO_STATE;
  return send_to(ice, &ice->pairs[to].addr, p, n);
}

/* ---- Deadlines ---- */

static void on_deadline(uv_timer_t *t) {
  struct rtc_ice *ice = t->data;
  char reason[96];
  if (!ice->connected) {
    snprintf(reason, sizeof reason,
             "no ICE connectivity within %llu ms (%zu remote candidates)",
             (unsigned long long)ice->connect_ms, ice->n_pairs);
    fail(ice, reason);
    return;
  }
  uint64_t now = uv_now(ice->loop);
  if (now - ice->last_consent >= ice->consent_ms) {
    snprintf(reason, sizeof reason,
             "ICE consent lost: no check from the peer for %llu ms",
             (unsigned long long)(now - ice->last_consent));
    fail(ice, reason);
    return;
  }
  uv_timer_start(&ice->deadline, on_deadline,
                 ice->last_consent + ice->consent_ms - now, 0);
}

/* ---- Creation ---- */

static void local_candidates(struct rtc_ice *ice,
                             const struct rtc_ice_config *cfg) {
  struct in_addr addrs[RTC_ICE_MAX_LOCAL];
  size_t n = 0;
  if (cfg->host_addrs) {
    for (size_t i = 0; i < cfg->n_host_addrs && n < RTC_ICE_MAX_LOCAL; i++)
      addrs[n++] = cfg->host_addrs[i];
  } else {
    uv_interface_address_t *ifs = NULL;
    int count = 0;
    if (uv_interface_addresses(&ifs, &count) == 0) {
      for (int i = 0; i < count && n < RTC_ICE_MAX_LOCAL; i++) {
        if (ifs[i].is_internal || ifs[i].address.address4.sin_family != AF_INET)
          continue;
        struct in_addr a = ifs[i].address.address4.sin_addr;
        bool dup = false;
        for (size_t k = 0; k < n; k++) dup |= addrs[k].s_addr == a.s_addr;
        if (!dup) addrs[n++] = a;
      }
      uv_free_interface_addresses(ifs, count);
    }
  }
  if (n == 0) addrs[n++].s_addr = htonl(INADDR_LOOPBACK);
  for (size_t i = 0; i < n; i++) {
    struct rtc_ice_candidate *c = &ice->local[i];
    c->foundation = (unsigned)i + 1;
    /* RFC 8445 §5.1.2.1: (2^24)type + (2^8)local + (256 - component),
     * the first address preferred. */
    c->priority = (126u << 24) | ((65535u - (uint32_t)i) << 8) | 255u;
    c->addr = addrs[i];
    c->port = ice->port;
  }
  ice->n_local = n;
}

int rtc_ice_new(uv_loop_t *loop, const struct rtc_ice_config *cfg,
                struct rtc_ice **out) {
  *out = NULL;
  if (!cfg->on_state) return MESH_E_INVALID;
  struct rtc_ice *ice = calloc(1, sizeof *ice);
  if (!ice) return MESH_E_NOMEM;
  ice->loop = loop;
  ice->on_packet = cfg->on_packet;
  ice->on_state = cfg->on_state;
  ice->data = cfg->data;
  ice->connect_ms = cfg->connect_ms ? cfg->connect_ms : RTC_ICE_CONNECT_MS;
  ice->consent_ms = cfg->consent_ms ? cfg->consent_ms : RTC_ICE_CONSENT_MS;
  ice->rto_ms = cfg->rto_ms ? cfg->rto_ms : RTC_ICE_RTO_MS;
  ice->selected = ice->last_rx = -1;
  int r;
  if ((r = random_ice_chars(ice->ufrag, RTC_ICE_UFRAG_LEN)) != 0 ||
      (r = random_ice_chars(ice->pwd, RTC_ICE_PWD_LEN)) != 0 ||
      (r = rand_bytes(&ice->tiebreaker, sizeof ice->tiebreaker)) != 0) {
    free_ice(ice);
    return r;
  }
  /* user_in's first half is known now, for checks before the offer. */
  snprintf(ice->user_in, sizeof ice->user_in, "%s:", ice->ufrag);

  uv_timer_init(loop, &ice->pace);
  uv_timer_init(loop, &ice->deadline);
  ice->pace.data = ice->deadline.data = ice;
  ice->open_handles = 2;
  if ((r = uv_udp_init(loop, &ice->udp)) != 0) goto fail;
  ice->udp.data = ice;
  ice->open_handles++;
  struct sockaddr_in any;
  struct sockaddr_storage bound;
  int blen = sizeof bound;
  uv_ip4_addr("0.0.0.0", 0, &any);
  if ((r = uv_udp_bind(&ice->udp, (const struct sockaddr *)&any, 0)) != 0 ||
      (r = uv_udp_getsockname(&ice->udp, (struct sockaddr *)&bound, &blen)) !=
          0 ||
      (r = uv_udp_recv_start(&ice->udp, on_alloc, on_recv)) != 0)
    goto fail;
  ice->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  local_candidates(ice, cfg);
  uv_timer_start(&ice->deadline, on_deadline, ice->connect_ms, 0);
  *out = ice;
  return 0;
fail:
  ice->closing = true;
  close_handles(ice);
  return r;
}

/* ---- Accessors ---- */

const char *rtc_ice_ufrag(const struct rtc_ice *ice) { return ice->ufrag; }

const char *rtc_ice_pwd(const struct rtc_ice *ice) { return ice->pwd; }

size_t rtc_ice_local_candidates(const struct rtc_ice *ice,
                                struct rtc_ice_candidate *out, size_t max) {
  for (size_t i = 0; i < ice->n_local && i < max; i++) out[i] = ice->local[i];
  return ice->n_local;
}

int rtc_ice_candidate_line(const struct rtc_ice_candidate *c, char *out,
                           size_t cap) {
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &c->addr, ip, sizeof ip);
  int n = snprintf(out, cap, "candidate:%u 1 UDP %u %s %u typ host",
                   c->foundation, (unsigned)c->priority, ip, (unsigned)c->port);
  return n < 0 || (size_t)n >= cap ? MESH_E_TOO_LARGE : n;
}

int rtc_ice_selected(const struct rtc_ice *ice, struct sockaddr_in *addr) {
  if (ice->selected < 0) return MESH_E_NOT_FOUND;
  *addr = ice->pairs[ice->selected].addr;
  return 0;
}

void rtc_ice_get_stats(const struct rtc_ice *ice, struct rtc_ice_stats *st) {
  *st = ice->stats;
}
