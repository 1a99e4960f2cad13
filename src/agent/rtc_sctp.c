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

/* A channel closes by resetting both directions of its stream (RFC 8831
 * 6.7); either end may start. */
enum chan_state {
  CHAN_NONE,
  CHAN_OPEN,
  CHAN_CLOSING_LOCAL,  /* we reset ours; waiting for the peer's reset */
  CHAN_CLOSING_REMOTE, /* the peer reset its direction; ours is resetting */
};

struct pkt {
  struct pkt *next;
  size_t len;
  uint8_t data[];
};

struct rtc_sctp {
  struct rtc_sctp *next; /* the registry, g.list */
  uintptr_t id;          /* our AF_CONN address, as an integer */
  struct rtc_sctp_cbs cbs;
  void *data;
  uv_timer_t timer;
  struct socket *sock; /* NULL once we aborted the association */
  uint16_t rport;
  size_t remote_max;
  int up, closed, freeing, want_writable;
  size_t last_buffered; /* what buffered() last saw outside usrsctp */
  struct pkt *inq, **inq_tail;
  size_t inq_bytes;
  uint8_t *scratch; /* RECV_CHUNK bytes */
  /* A message read in pieces so far. */
  struct buf msg;
  int msg_active;
  uint16_t msg_sid;
  uint32_t msg_ppid;
  uint8_t chan[RTC_SCTP_STREAMS];      /* enum chan_state */
  uint8_t chan_type[RTC_SCTP_STREAMS]; /* DCEP channel type */
  uint32_t chan_rel[RTC_SCTP_STREAMS]; /* DCEP reliability parameter */
  /* Streams whose outgoing direction still has to be reset. */
  uint8_t reset_wanted[RTC_SCTP_STREAMS];
  size_t resets_wanted;
};

static struct {
  int inited;
  uintptr_t next_id; /* ids below this are ours (live or gone) */
  struct rtc_sctp *list;
  int busy;   /* our entry points on the stack */
  int in_lib; /* usrsctp calls on the stack */
  uint64_t last_ms;
  int (*foreign)(void *addr, const void *packet, size_t len);
} g = {.next_id = 1};

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

static void enter(void) { g.busy++; }

static void leave(void) {
  if (g.busy == 1) flush();
  g.busy--;
}

/* ---- association end ---------------------------------------------------- */

static void on_timer_closed(uv_handle_t *h) { free(h->data); }

static void close_socket(struct rtc_sctp *s) {
  if (!s->sock) return;
  /* SO_LINGER 0: usrsctp_close sends ABORT (through conn_output, so only
   * while we are still registered) and frees the association at once. */
  g.in_lib++;
  usrsctp_close(s->sock);
  g.in_lib--;
  s->sock = NULL;
  uv_timer_stop(&s->timer);
}

static void mark_closed(struct rtc_sctp *s, const char *reason) {
  if (s->closed) return;
  s->closed = 1;
  s->up = 0;
  log_info("event=sctp_closed assoc=%lu reason=\"%s\"", (unsigned long)s->id,
           reason);
  if (!s->freeing && s->cbs.on_closed) s->cbs.on_closed(s->data, reason);
}

/* Ends the association over the peer's bad input: ABORT, then on_closed. */
static void fail(struct rtc_sctp *s, const char *reason) {
  if (s->closed) return;
  log_warn("event=sctp_abort assoc=%lu reason=\"%s\"", (unsigned long)s->id,
           reason);
  close_socket(s);
  mark_closed(s, reason);
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
  if (g.in_lib) return s->last_buffered;
  memset(&u, 0, sizeof u);
  if (!s->sock || usrsctp_getsockopt(s->sock, IPPROTO_SCTP, SCTP_GET_SNDBUF_USE,
                                     &u, &len) != 0)
    u.total_sndbuf = 0;
  s->last_buffered = u.total_sndbuf;
  return u.total_sndbuf;
}

/* One message on sid with ppid, honouring the channel's DCEP type unless
 * control is set (DCEP itself is always ordered and reliable). */
static int send_msg(struct rtc_sctp *s, uint16_t sid, uint32_t ppid,
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
  g.in_lib++;
  ssize_t r = usrsctp_sendv(s->sock, p, n, NULL, 0, &spa, sizeof spa,
                            SCTP_SENDV_SPA, 0);
  int err = errno;
  g.in_lib--;
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
  if (buffered(s) > RTC_SCTP_HIGH_WATER) s->want_writable = 1;
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
  if (g.in_lib) {
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
  enter();
  int r = send_msg(s, stream, ppid, bytes, len, 0);
  leave();
  return r;
}

size_t rtc_sctp_buffered(struct rtc_sctp *s) {
  return s->freeing ? 0 : buffered(s);
}

/* ---- receiving ---------------------------------------------------------- */

/* Asks for the reset of our outgoing direction of every stream marked in
 * reset_wanted, in one request. usrsctp 0.9.5 queues a request made while
 * another is outstanding (rtc_sctp_test closes two channels back to back);
 * older versions refuse it with EALREADY. When usrsctp refuses, the marks
 * stay for the next stream reset event, which is when the outstanding
 * request has been answered. */
static void flush_resets(struct rtc_sctp *s) {
  union {
    struct sctp_reset_streams rs;
    uint8_t raw[sizeof(struct sctp_reset_streams) +
                RTC_SCTP_STREAMS * sizeof(uint16_t)];
  } u;
  if (!s->resets_wanted || !s->sock) return;
  memset(&u.rs, 0, sizeof u.rs);
  u.rs.srs_assoc_id = SCTP_ALL_ASSOC;
  u.rs.srs_flags = SCTP_STREAM_RESET_OUTGOING;
  uint16_t n = 0;
  for (uint16_t sid = 0; sid < RTC_SCTP_STREAMS; sid++) {
    if (!s->reset_wanted[sid]) continue;
    memcpy(u.raw + sizeof u.rs + n * sizeof sid, &sid, sizeof sid);
    n++;
  }
  u.rs.srs_number_streams = n;
  g.in_lib++;
  int r = usrsctp_setsockopt(s->sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, &u,
                             (socklen_t)(sizeof u.rs + n * sizeof(uint16_t)));
  int err = errno;
  g.in_lib--;
  if (r != 0) {
    log_debug("event=sctp_reset_deferred assoc=%lu streams=%u errno=%d",
              (unsigned long)s->id, (unsigned)n, err);
    return;
  }
  memset(s->reset_wanted, 0, sizeof s->reset_wanted);
  s->resets_wanted = 0;
}

static void want_reset(struct rtc_sctp *s, uint16_t sid) {
  if (!s->reset_wanted[sid]) {
    s->reset_wanted[sid] = 1;
    s->resets_wanted++;
  }
}

static void channel_closed(struct rtc_sctp *s, uint16_t sid) {
  log_info("event=sctp_channel_closed assoc=%lu stream=%u",
           (unsigned long)s->id, (unsigned)sid);
  if (!s->freeing && s->cbs.on_channel_closed)
    s->cbs.on_channel_closed(s->data, sid);
}

int rtc_sctp_close_channel(struct rtc_sctp *s, uint16_t stream) {
  if (s->freeing || s->closed || !s->sock) return MESH_E_CLOSED;
  if (stream >= RTC_SCTP_STREAMS || s->chan[stream] != CHAN_OPEN)
    return MESH_E_INVALID;
  if (g.in_lib) return MESH_E_PROTO_STATE;
  s->chan[stream] = CHAN_CLOSING_LOCAL;
  want_reset(s, stream);
  enter();
  flush_resets(s);
  leave();
  return 0;
}

static void on_dcep(struct rtc_sctp *s, uint16_t sid, const uint8_t *p,
                    size_t n) {
  struct dcep_msg m;
  ssize_t r = dcep_parse(p, n, &m);
  if (r < 0 || (size_t)r != n) {
    fail(s, "malformed DCEP message");
    return;
  }
  /* We never open channels, so an ACK answers nothing; RFC 8832 has no
   * error for it, and it harms nothing. */
  if (m.type == DCEP_MSG_ACK) return;
  if (s->chan[sid] != CHAN_NONE) {
    fail(s, "DATA_CHANNEL_OPEN on a stream in use");
    return;
  }
  if (memchr(m.open.label, 0, m.open.label_len) ||
      memchr(m.open.protocol, 0, m.open.protocol_len)) {
    fail(s, "NUL byte in a data channel label or protocol");
    return;
  }
  char *label = malloc(m.open.label_len + m.open.protocol_len + 2);
  if (!label) {
    fail(s, "out of memory");
    return;
  }
  char *proto = label + m.open.label_len + 1;
  memcpy(label, m.open.label, m.open.label_len);
  label[m.open.label_len] = 0;
  memcpy(proto, m.open.protocol, m.open.protocol_len);
  proto[m.open.protocol_len] = 0;

  s->chan[sid] = CHAN_OPEN;
  s->chan_type[sid] = m.open.channel_type;
  s->chan_rel[sid] = m.open.reliability;
  /* ACK first, so whatever on_channel sends follows it on the stream. */
  static const uint8_t ack = DCEP_MSG_ACK;
  int rc = send_msg(s, sid, DCEP_PPID_CONTROL, &ack, 1, 1);
  if (rc != 0) {
    free(label);
    fail(s, "could not send DATA_CHANNEL_ACK");
    return;
  }
  log_info("event=sctp_channel assoc=%lu stream=%u type=%u",
           (unsigned long)s->id, (unsigned)sid, (unsigned)m.open.channel_type);
  if (!s->freeing && s->cbs.on_channel)
    s->cbs.on_channel(s->data, sid, label, proto);
  free(label);
}

/* A whole message. */
static void deliver(struct rtc_sctp *s, uint16_t sid, uint32_t ppid,
                    const uint8_t *p, size_t n) {
  if (sid >= RTC_SCTP_STREAMS) return; /* beyond what INIT allowed */
  if (ppid == DCEP_PPID_CONTROL) {
    on_dcep(s, sid, p, n);
    return;
  }
  int binary, empty;
  switch (ppid) {
    case DCEP_PPID_STRING:
    case DCEP_PPID_BINARY:
    case DCEP_PPID_STRING_EMPTY:
    case DCEP_PPID_BINARY_EMPTY:
      binary = ppid == DCEP_PPID_BINARY || ppid == DCEP_PPID_BINARY_EMPTY;
      empty = ppid == DCEP_PPID_STRING_EMPTY || ppid == DCEP_PPID_BINARY_EMPTY;
      break;
    default:
      /* Deprecated partial PPIDs (52, 54) and anything unknown. */
      log_debug("event=sctp_drop assoc=%lu stream=%u ppid=%lu",
                (unsigned long)s->id, (unsigned)sid, (unsigned long)ppid);
      return;
  }
  if (s->chan[sid] != CHAN_OPEN) {
    log_debug("event=sctp_drop assoc=%lu stream=%u reason=\"no channel\"",
              (unsigned long)s->id, (unsigned)sid);
    return;
  }
  if (s->cbs.on_message)
    s->cbs.on_message(s->data, sid, binary, p, empty ? 0 : n);
}

/* A piece of a data message; eor marks its last piece. */
static void on_data(struct rtc_sctp *s, const struct sctp_rcvinfo *ri,
                    const uint8_t *p, size_t n, int eor) {
  uint32_t ppid = ntohl(ri->rcv_ppid);
  if (!s->msg_active && eor) {
    deliver(s, ri->rcv_sid, ppid, p, n); /* the common case: no copy */
    return;
  }
  if (!s->msg_active) {
    s->msg_active = 1;
    s->msg_sid = ri->rcv_sid;
    s->msg_ppid = ppid;
    buf_reset(&s->msg);
  } else if (ri->rcv_sid != s->msg_sid) {
    /* Without I-DATA interleaving SCTP finishes one partial delivery
     * before the next; anything else is a bug we refuse to guess about. */
    fail(s, "interleaved partial messages");
    return;
  }
  int rc = buf_put(&s->msg, p, n);
  if (rc != 0) {
    fail(s, rc == MESH_E_NOMEM ? "out of memory"
                               : "message larger than 262144 bytes");
    return;
  }
  if (!eor) return;
  s->msg_active = 0;
  deliver(s, s->msg_sid, s->msg_ppid, s->msg.data, s->msg.len);
}

static void on_stream_reset(struct rtc_sctp *s, const uint8_t *p, size_t n) {
  struct sctp_stream_reset_event ev;
  if (n < sizeof ev) return;
  memcpy(&ev, p, sizeof ev);
  /* Whatever this answered, no request of ours is outstanding now. */
  if (ev.strreset_flags &
      (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED)) {
    flush_resets(s);
    return;
  }
  size_t end = ev.strreset_length < n ? ev.strreset_length : n;
  size_t count = end > sizeof ev ? (end - sizeof ev) / sizeof(uint16_t) : 0;
  /* An empty list means every stream. */
  size_t total = count ? count : RTC_SCTP_STREAMS;
  for (size_t i = 0; i < total && !s->freeing; i++) {
    uint16_t sid = (uint16_t)i;
    if (count) memcpy(&sid, p + sizeof ev + i * sizeof sid, sizeof sid);
    if (sid >= RTC_SCTP_STREAMS) continue;
    if (ev.strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN) {
      if (s->chan[sid] == CHAN_OPEN) {
        /* The peer closed the channel: reset our direction too, which
         * also lets the stream id be used again. */
        s->chan[sid] = CHAN_CLOSING_REMOTE;
        want_reset(s, sid);
        channel_closed(s, sid);
      } else if (s->chan[sid] == CHAN_CLOSING_LOCAL) {
        s->chan[sid] = CHAN_NONE; /* the peer answered our close */
        channel_closed(s, sid);
      }
    }
    if ((ev.strreset_flags & SCTP_STREAM_RESET_OUTGOING_SSN) &&
        s->chan[sid] == CHAN_CLOSING_REMOTE)
      s->chan[sid] = CHAN_NONE;
  }
  flush_resets(s);
}

static void on_notification(struct rtc_sctp *s, const uint8_t *p, size_t n) {
  struct sctp_tlv h;
  if (n < sizeof h) return;
  memcpy(&h, p, sizeof h);
  switch (h.sn_type) {
    case SCTP_ASSOC_CHANGE: {
      struct sctp_assoc_change ac;
      if (n < sizeof ac) return;
      memcpy(&ac, p, sizeof ac);
      switch (ac.sac_state) {
        case SCTP_COMM_UP:
          if (!s->closed) {
            s->up = 1;
            log_info("event=sctp_up assoc=%lu in=%u out=%u",
                     (unsigned long)s->id, (unsigned)ac.sac_inbound_streams,
                     (unsigned)ac.sac_outbound_streams);
          }
          break;
        case SCTP_COMM_LOST:
          mark_closed(s, "association lost (aborted by the peer or timed out)");
          break;
        case SCTP_RESTART:
          mark_closed(s, "peer restarted the association");
          break;
        case SCTP_SHUTDOWN_COMP:
          mark_closed(s, "association shut down");
          break;
        case SCTP_CANT_STR_ASSOC:
          mark_closed(s, "association could not be set up");
          break;
        default:
          break;
      }
      break;
    }
    case SCTP_SHUTDOWN_EVENT:
      mark_closed(s, "peer shut down the association");
      break;
    case SCTP_STREAM_RESET_EVENT:
      on_stream_reset(s, p, n);
      break;
    case SCTP_PARTIAL_DELIVERY_EVENT:
      /* The rest of the partly read message will never come. */
      s->msg_active = 0;
      buf_reset(&s->msg);
      break;
    case SCTP_REMOTE_ERROR: {
      struct sctp_remote_error re;
      if (n < sizeof re) return;
      memcpy(&re, p, sizeof re);
      /* Peer-made and repeatable: not worth more than a debug line. */
      log_debug("event=sctp_remote_error assoc=%lu cause=%u",
                (unsigned long)s->id, (unsigned)ntohs(re.sre_error));
      break;
    }
    default:
      break;
  }
}

/* Reads everything usrsctp has for s. */
static void drain(struct rtc_sctp *s) {
  while (s->sock && !s->freeing) {
    struct sctp_rcvinfo ri;
    struct sockaddr_conn from;
    socklen_t fromlen = sizeof from, rilen = sizeof ri;
    unsigned int infotype = 0;
    int flags = 0;
    memset(&ri, 0, sizeof ri);
    g.in_lib++;
    ssize_t n =
        usrsctp_recvv(s->sock, s->scratch, RECV_CHUNK, (struct sockaddr *)&from,
                      &fromlen, &ri, &rilen, &infotype, &flags);
    g.in_lib--;
    if (n <= 0) break; /* EWOULDBLOCK, or 0 after a shutdown */
    if (flags & MSG_NOTIFICATION) {
      /* Notifications are small; one that does not fit is not ours. */
      if (flags & MSG_EOR) on_notification(s, s->scratch, (size_t)n);
      continue;
    }
    if (infotype != SCTP_RECVV_RCVINFO) continue; /* SCTP_RECVRCVINFO is on */
    on_data(s, &ri, s->scratch, (size_t)n, (flags & MSG_EOR) != 0);
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
  g.in_lib++;
  usrsctp_conninput((void *)s->id, p, n, 0);
  g.in_lib--;
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
  enter();
  input_now(s, packet, len);
  leave();
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  enter();
  uint64_t now = now_ms();
  uint64_t elapsed = now - g.last_ms;
  if (elapsed) {
    g.last_ms = now;
    g.in_lib++;
    usrsctp_handle_timers(elapsed > UINT32_MAX ? UINT32_MAX
                                               : (uint32_t)elapsed);
    g.in_lib--;
    /* A timer may have ended any association (retransmissions exhausted). */
    for (struct rtc_sctp *s = g.list; s; s = s->next)
      if (!s->freeing) after_io(s);
  }
  leave();
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
  enter();
  g.in_lib++;
  int cr = usrsctp_connect(s->sock, (struct sockaddr *)&remote, sizeof remote);
  int err = errno;
  g.in_lib--;
  if (cr != 0 && err != EINPROGRESS) {
    log_warn("event=sctp_connect_failed errno=%d", err);
    s->freeing = 1;
    *out = NULL;
    leave(); /* tears it down */
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
  leave();
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
  enter();
  leave();
}
