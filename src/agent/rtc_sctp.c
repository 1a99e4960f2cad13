/*
 * rtc_sctp.c - WebRTC data channels on usrsctp, driven by the agent's loop.
 *
 * Shape of the code:
 *   - usrsctp addresses each association's lower layer by an opaque
 *     pointer (AF_CONN). We hand it a small integer id cast to a pointer,
 *     never the object's address: usrsctp may emit a packet for an
 *     association after we let go of it (its ABORT on close, a late timer),
 *     and the registry lookup in conn_output turns such packets into
 *     no-ops instead of use-after-free.
 *   - The socket is non-blocking and has no receive callback. After every
 *     call into usrsctp that can deliver something (input, timers) we
 *     drain it with usrsctp_recvv, outside usrsctp, so our callbacks (and
 *     the DCEP ACK sent from them) never run with usrsctp's locks held.
 *   - g.busy counts our public entry points on the stack. Inputs arriving
 *     while it is non-zero are queued, and frees are deferred; both are
 *     handled by flush() when the outermost entry point returns.
 * What arrives (DCEP, messages, notifications, stream resets) is handled
 * in rtc_sctp_chan.c.
 */
#include "agent/rtc_sctp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <usrsctp.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "agent/rtc_sctp_priv.h"
#include "proto/dcep.h"

/* One usrsctp_recvv reads at most this much; longer messages arrive in
 * pieces and are reassembled in struct rtc_sctp.msg. */
#define RECV_CHUNK (64 * 1024)
/* The SCTP receive buffer (the window offered to the browser). */
#define RECV_BUFFER (1024 * 1024)
/* Packets queued by rtc_sctp_input calls made from inside a callback. Past
 * this the packet is dropped, as a network would, and SCTP resends it. */
#define INPUT_QUEUE_MAX (256 * 1024)
/* SCTP packet size: the IPv6 minimum MTU (1280) minus IPv6 (40) and UDP
 * (8) headers, a DTLS 1.2 AES-GCM record's overhead (13 header, 8
 * explicit nonce, 16 tag) and a TURN ChannelData header (4), so a packet
 * never needs IP fragmentation on any path a browser may pick. */
#define SCTP_MTU 1191
/* usrsctp's read-only "bytes in the send queue" socket option. It is not
 * in usrsctp.h; its number and the layout's first two fields have been
 * the same in usrsctp and FreeBSD for many years (newer versions have 3
 * fields, older 4; asking with room for 4 suits both). */
#define SCTP_GET_SNDBUF_USE 0x00001101
struct sndbuf_use {
  sctp_assoc_t assoc_id;
  uint32_t total_sndbuf;
  uint32_t more[2];
};

static struct {
  int inited;
  uintptr_t next_id; /* ids below this are ours (live or gone) */
  struct rtc_sctp *list;
  int busy; /* our entry points on the stack */
  uint64_t last_ms;
  int (*foreign)(void *addr, const void *packet, size_t len);
} g = {.next_id = 1};

int rtc_sctp__in_lib;

static struct rtc_sctp *lookup(uintptr_t id) {
  for (struct rtc_sctp *s = g.list; s; s = s->next)
    if (s->id == id) return s;
  return NULL;
}

/* usrsctp's packet output, called synchronously from inside usrsctp. */
static int conn_output(void *addr, void *buffer, size_t length, uint8_t tos,
                       uint8_t set_df) {
  (void)tos, (void)set_df;
  uintptr_t id = (uintptr_t)addr;
  if (id != 0 && id < g.next_id) {
    struct rtc_sctp *s = lookup(id);
    if (s && !s->freeing) s->cbs.send(s->data, buffer, length);
    return 0;
  }
  return g.foreign ? g.foreign(addr, buffer, length) : 0;
}

void rtc_sctp__set_foreign_output(int (*out)(void *addr, const void *packet,
                                             size_t len)) {
  g.foreign = out;
}

void rtc_sctp__init(void) {
  if (g.inited) return;
  /* Port 0: no UDP encapsulation; no debug printer: usrsctp stays quiet. */
  usrsctp_init_nothreads(0, conn_output, NULL);
  /* One path, already authenticated and carried by DTLS: explicit
   * congestion marks never reach us, and AUTH/ASCONF would only add
   * chunks the browsers' stacks do not need. */
  usrsctp_sysctl_set_sctp_ecn_enable(0);
  usrsctp_sysctl_set_sctp_asconf_enable(0);
  usrsctp_sysctl_set_sctp_auth_enable(0);
  g.inited = 1;
}

int rtc_sctp__finish(void) {
  if (g.list) return MESH_E_PROTO_STATE;
  if (!g.inited) return 0;
  if (usrsctp_finish() != 0) return MESH_E_PROTO_STATE;
  g.inited = 0;
  return 0;
}

static uint64_t now_ms(void) { return uv_hrtime() / 1000000u; }

static void flush(void);

void rtc_sctp__enter(void) { g.busy++; }

void rtc_sctp__leave(void) {
  if (g.busy == 1) flush();
  g.busy--;
}

/* ---- association end ---------------------------------------------------- */

static void on_timer_closed(uv_handle_t *h) { free(h->data); }

static void close_socket(struct rtc_sctp *s) {
  if (!s->sock) return;
  /* SO_LINGER 0: usrsctp_close sends ABORT (through conn_output, so only
   * while we are still registered) and frees the association at once. */
  rtc_sctp__in_lib++;
  usrsctp_close(s->sock);
  rtc_sctp__in_lib--;
  s->sock = NULL;
  uv_timer_stop(&s->timer);
}

void rtc_sctp__mark_closed(struct rtc_sctp *s, const char *reason) {
  if (s->closed) return;
  s->closed = 1;
  s->up = 0;
  log_info("event=sctp_closed assoc=%lu reason=\"%s\"", (unsigned long)s->id,
           reason);
  if (!s->freeing && s->cbs.on_closed) s->cbs.on_closed(s->data, reason);
}

/* Ends the association over the peer's bad input: ABORT, then on_closed. */
void rtc_sctp__fail(struct rtc_sctp *s, const char *reason) {
  if (s->closed) return;
  log_warn("event=sctp_abort assoc=%lu reason=\"%s\"", (unsigned long)s->id,
           reason);
  close_socket(s);
  rtc_sctp__mark_closed(s, reason);
}

/* The real free: s is already out of the registry. */
static void teardown(struct rtc_sctp *s) {
  close_socket(s);
  usrsctp_deregister_address((void *)s->id);
  while (s->inq) {
    struct pkt *p = s->inq;
    s->inq = p->next;
    free(p);
  }
  buf_cleanup(&s->msg);
  free(s->scratch);
  s->scratch = NULL;
  uv_timer_stop(&s->timer);
  uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

/* ---- sending ------------------------------------------------------------ */

static size_t buffered(struct rtc_sctp *s) {
  struct sndbuf_use u;
  socklen_t len = sizeof u;
  /* Inside usrsctp (the send callback) its locks are held and the
   * getsockopt would take them again: answer from the last reading. */
  if (rtc_sctp__in_lib) return s->last_buffered;
  memset(&u, 0, sizeof u);
  if (!s->sock || usrsctp_getsockopt(s->sock, IPPROTO_SCTP, SCTP_GET_SNDBUF_USE,
                                     &u, &len) != 0)
    u.total_sndbuf = 0;
  s->last_buffered = u.total_sndbuf;
  return u.total_sndbuf;
}

int rtc_sctp__send_msg(struct rtc_sctp *s, uint16_t sid, uint32_t ppid,
                       const uint8_t *p, size_t n, int control) {
  struct sctp_sendv_spa spa;
  memset(&spa, 0, sizeof spa);
  spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
  spa.sendv_sndinfo.snd_sid = sid;
  spa.sendv_sndinfo.snd_ppid = htonl(ppid);
  if (!control) {
    uint8_t type = s->chan_type[sid];
    if (type & DCEP_CHANNEL_UNORDERED)
      spa.sendv_sndinfo.snd_flags |= SCTP_UNORDERED;
    switch (type & (uint8_t)~DCEP_CHANNEL_UNORDERED) {
      case DCEP_CHANNEL_PARTIAL_RELIABLE_REXMIT:
        spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
        spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_RTX;
        spa.sendv_prinfo.pr_value = s->chan_rel[sid];
        break;
      case DCEP_CHANNEL_PARTIAL_RELIABLE_TIMED:
        spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
        spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_TTL;
        spa.sendv_prinfo.pr_value = s->chan_rel[sid];
        break;
      default:
        break;
    }
  }
  rtc_sctp__in_lib++;
  ssize_t r = usrsctp_sendv(s->sock, p, n, NULL, 0, &spa, sizeof spa,
                            SCTP_SENDV_SPA, 0);
  int err = errno;
  rtc_sctp__in_lib--;
  if (r < 0) {
    if (err == EWOULDBLOCK || err == EAGAIN) {
      s->want_writable = 1;
      return UV_EAGAIN;
    }
    if (err == EMSGSIZE) return MESH_E_TOO_LARGE;
    log_warn("event=sctp_send_failed assoc=%lu errno=%d", (unsigned long)s->id,
             err);
    return MESH_E_IO;
  }
  /* Without SCTP_EXPLICIT_EOR a send is all or nothing. */
  if ((size_t)r != n) return MESH_E_IO;
  if (buffered(s) >= RTC_SCTP_HIGH_WATER) s->want_writable = 1;
  return 0;
}

int rtc_sctp_send(struct rtc_sctp *s, uint16_t stream, int binary,
                  const uint8_t *bytes, size_t len) {
  static const uint8_t empty = 0;
  if (s->freeing || s->closed || !s->sock) return MESH_E_CLOSED;
  if (!s->up) return MESH_E_PROTO_STATE;
  if (stream >= RTC_SCTP_STREAMS || s->chan[stream] != CHAN_OPEN)
    return MESH_E_INVALID;
  if (len > RTC_SCTP_MAX_MESSAGE || (s->remote_max && len > s->remote_max))
    return MESH_E_TOO_LARGE;
  /* From inside conn_output usrsctp holds its locks: refuse, and say when
   * to come back. */
  if (rtc_sctp__in_lib) {
    s->want_writable = 1;
    return MESH_E_PROTO_STATE;
  }
  uint32_t ppid;
  if (len == 0) {
    ppid = binary ? DCEP_PPID_BINARY_EMPTY : DCEP_PPID_STRING_EMPTY;
    bytes = &empty; /* the empty PPIDs carry one ignored byte */
    len = 1;
  } else {
    ppid = binary ? DCEP_PPID_BINARY : DCEP_PPID_STRING;
  }
  rtc_sctp__enter();
  int r = rtc_sctp__send_msg(s, stream, ppid, bytes, len, 0);
  rtc_sctp__leave();
  return r;
}

size_t rtc_sctp_buffered(struct rtc_sctp *s) {
  return s->freeing ? 0 : buffered(s);
}

/* ---- reading ------------------------------------------------------------ */
/* Reads everything usrsctp has for s. */
static void drain(struct rtc_sctp *s) {
  while (s->sock && !s->freeing) {
    struct sctp_rcvinfo ri;
    struct sockaddr_conn from;
    socklen_t fromlen = sizeof from, rilen = sizeof ri;
    unsigned int infotype = 0;
    int flags = 0;
    memset(&ri, 0, sizeof ri);
    rtc_sctp__in_lib++;
    ssize_t n =
        usrsctp_recvv(s->sock, s->scratch, RECV_CHUNK, (struct sockaddr *)&from,
                      &fromlen, &ri, &rilen, &infotype, &flags);
    rtc_sctp__in_lib--;
    if (n <= 0) break; /* EWOULDBLOCK, or 0 after a shutdown */
    if (flags & MSG_NOTIFICATION) {
      /* Notifications are small; one that does not fit is not ours. */
      if (flags & MSG_EOR) rtc_sctp__on_notification(s, s->scratch, (size_t)n);
      continue;
    }
    if (infotype != SCTP_RECVV_RCVINFO) continue; /* SCTP_RECVRCVINFO is on */
    rtc_sctp__on_data(s, &ri, s->scratch, (size_t)n, (flags & MSG_EOR) != 0);
  }
}

static void check_writable(struct rtc_sctp *s) {
  if (!s->want_writable || s->freeing || s->closed || !s->up) return;
  if (buffered(s) > RTC_SCTP_LOW_WATER) return;
  s->want_writable = 0;
  if (s->cbs.on_writable) s->cbs.on_writable(s->data);
}

static void after_io(struct rtc_sctp *s) {
  drain(s);
  check_writable(s);
}

static void input_now(struct rtc_sctp *s, const uint8_t *p, size_t n) {
  rtc_sctp__in_lib++;
  usrsctp_conninput((void *)s->id, p, n, 0);
  rtc_sctp__in_lib--;
  after_io(s);
}

/* Runs when the outermost entry point is about to return (g.busy == 1):
 * queued inputs first (they may queue more), then deferred frees. */
static void flush(void) {
  int again;
  do {
    again = 0;
    for (struct rtc_sctp *s = g.list; s; s = s->next) {
      if (s->freeing || !s->inq) continue;
      struct pkt *p = s->inq;
      s->inq = p->next;
      if (!s->inq) s->inq_tail = &s->inq;
      s->inq_bytes -= p->len;
      input_now(s, p->data, p->len);
      free(p);
      again = 1;
    }
  } while (again);
  struct rtc_sctp **pp = &g.list;
  while (*pp) {
    struct rtc_sctp *s = *pp;
    if (s->freeing) {
      *pp = s->next;
      teardown(s);
    } else {
      pp = &s->next;
    }
  }
}

void rtc_sctp_input(struct rtc_sctp *s, const uint8_t *packet, size_t len) {
  /* Shorter than SCTP's common header: not a packet. */
  if (s->freeing || len < sizeof(struct sctp_common_header)) return;
  if (g.busy) {
    if (s->inq_bytes + len > INPUT_QUEUE_MAX) return;
    struct pkt *p = malloc(sizeof *p + len);
    if (!p) return;
    p->next = NULL;
    p->len = len;
    memcpy(p->data, packet, len);
    *s->inq_tail = p;
    s->inq_tail = &p->next;
    s->inq_bytes += len;
    return;
  }
  rtc_sctp__enter();
  input_now(s, packet, len);
  rtc_sctp__leave();
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  rtc_sctp__enter();
  uint64_t now = now_ms();
  uint64_t elapsed = now - g.last_ms;
  if (elapsed) {
    g.last_ms = now;
    rtc_sctp__in_lib++;
    usrsctp_handle_timers(elapsed > UINT32_MAX ? UINT32_MAX
                                               : (uint32_t)elapsed);
    rtc_sctp__in_lib--;
    /* A timer may have ended any association (retransmissions exhausted). */
    for (struct rtc_sctp *s = g.list; s; s = s->next)
      if (!s->freeing) after_io(s);
  }
  rtc_sctp__leave();
}

/* ---- setup -------------------------------------------------------------- */

static int set_opt(struct socket *so, int level, int name, const void *v,
                   socklen_t len) {
  if (usrsctp_setsockopt(so, level, name, v, len) == 0) return 0;
  log_warn("event=sctp_setsockopt_failed option=%d errno=%d", name, errno);
  return MESH_E_IO;
}

static int configure(struct socket *so) {
  const int one = 1, sndbuf = RTC_SCTP_SEND_BUFFER, rcvbuf = RECV_BUFFER;
  const struct linger lin = {1, 0};
  struct sctp_assoc_value reset = {SCTP_FUTURE_ASSOC,
                                   SCTP_ENABLE_RESET_STREAM_REQ};
  struct sctp_initmsg init;
  memset(&init, 0, sizeof init);
  init.sinit_num_ostreams = RTC_SCTP_STREAMS;
  init.sinit_max_instreams = RTC_SCTP_STREAMS;
  if (usrsctp_set_non_blocking(so, 1) != 0) return MESH_E_IO;
  int r;
  if ((r = set_opt(so, SOL_SOCKET, SO_LINGER, &lin, sizeof lin)) != 0 ||
      (r = set_opt(so, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf)) != 0 ||
      (r = set_opt(so, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf)) != 0 ||
      (r = set_opt(so, IPPROTO_SCTP, SCTP_NODELAY, &one, sizeof one)) != 0 ||
      (r = set_opt(so, IPPROTO_SCTP, SCTP_RECVRCVINFO, &one, sizeof one)) !=
          0 ||
      (r = set_opt(so, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &reset,
                   sizeof reset)) != 0 ||
      (r = set_opt(so, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof init)) != 0)
    return r;
  static const uint16_t events[] = {SCTP_ASSOC_CHANGE, SCTP_SHUTDOWN_EVENT,
                                    SCTP_REMOTE_ERROR, SCTP_STREAM_RESET_EVENT,
                                    SCTP_PARTIAL_DELIVERY_EVENT};
  for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
    struct sctp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.se_assoc_id = SCTP_FUTURE_ASSOC;
    ev.se_type = events[i];
    ev.se_on = 1;
    if ((r = set_opt(so, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev)) != 0)
      return r;
  }
  return 0;
}

static struct sockaddr_conn conn_addr(uintptr_t id, uint16_t port) {
  struct sockaddr_conn a;
  memset(&a, 0, sizeof a);
  a.sconn_family = AF_CONN;
  a.sconn_port = htons(port);
  a.sconn_addr = (void *)id;
  return a;
}

int rtc_sctp_new(struct rtc_sctp **out, uv_loop_t *loop, uint16_t local_port,
                 uint16_t remote_port, const struct rtc_sctp_cbs *cbs,
                 void *data) {
  *out = NULL;
  if (!cbs || !cbs->send) return MESH_E_INVALID;
  struct rtc_sctp *s = calloc(1, sizeof *s);
  if (!s) return MESH_E_NOMEM;
  s->scratch = malloc(RECV_CHUNK);
  if (!s->scratch) {
    free(s);
    return MESH_E_NOMEM;
  }
  rtc_sctp__init();
  s->id = g.next_id++;
  s->cbs = *cbs;
  s->data = data;
  s->rport = remote_port;
  s->remote_max = 65536;
  s->inq_tail = &s->inq;
  buf_init(&s->msg, RTC_SCTP_MAX_MESSAGE);

  usrsctp_register_address((void *)s->id);
  int r = MESH_E_IO;
  s->sock =
      usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
  struct sockaddr_conn local = conn_addr(s->id, local_port);
  if (!s->sock || (r = configure(s->sock)) != 0 ||
      usrsctp_bind(s->sock, (struct sockaddr *)&local, sizeof local) != 0) {
    log_warn("event=sctp_socket_failed errno=%d", errno);
    if (s->sock) usrsctp_close(s->sock);
    usrsctp_deregister_address((void *)s->id);
    free(s->scratch);
    free(s);
    return r ? r : MESH_E_IO;
  }
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  if (!g.list) g.last_ms = now_ms(); /* the clock was idle until now */
  s->next = g.list;
  g.list = s;
  *out = s;

  /* Simultaneous open: both ends send INIT; usrsctp sorts it out. */
  struct sockaddr_conn remote = conn_addr(s->id, remote_port);
  rtc_sctp__enter();
  rtc_sctp__in_lib++;
  int cr = usrsctp_connect(s->sock, (struct sockaddr *)&remote, sizeof remote);
  int err = errno;
  rtc_sctp__in_lib--;
  if (cr != 0 && err != EINPROGRESS) {
    log_warn("event=sctp_connect_failed errno=%d", err);
    s->freeing = 1;
    *out = NULL;
    rtc_sctp__leave(); /* tears it down */
    return MESH_E_IO;
  }
  /* Fixed packet size (PMTU discovery cannot see through DTLS/ICE). */
  struct sctp_paddrparams pp;
  memset(&pp, 0, sizeof pp);
  memcpy(&pp.spp_address, &remote, sizeof remote);
  pp.spp_flags = SPP_PMTUD_DISABLE;
  /* For AF_CONN usrsctp adds the 12-byte SCTP common header to this value
   * (rtc_sctp_test checks the packets' real size). */
  pp.spp_pathmtu = SCTP_MTU - 12;
  (void)set_opt(s->sock, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &pp, sizeof pp);
  uv_timer_start(&s->timer, on_tick, RTC_SCTP_TICK_MS, RTC_SCTP_TICK_MS);
  rtc_sctp__leave();
  return 0;
}

void rtc_sctp_set_remote_max_message(struct rtc_sctp *s, size_t max) {
  s->remote_max = max; /* 0: no limit but ours */
}

void rtc_sctp_free(struct rtc_sctp *s) {
  if (!s || s->freeing) return;
  s->freeing = 1;
  /* Not inside any of our calls: enter/leave runs flush, which tears s
   * down now; otherwise the outermost call's flush will. */
  rtc_sctp__enter();
  rtc_sctp__leave();
}
