/*
 * rtc_sctp_chan.c - data channels of an rtc_sctp association: the DCEP
 * handshake (the browser opens, we acknowledge), whole-message delivery by
 * PPID, stream resets that close channels, and usrsctp's notifications.
 *
 * Everything here runs from drain() in rtc_sctp.c, after usrsctp has
 * returned, so it may send (the ACK, the answering reset) and call the
 * user's callbacks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <usrsctp.h>

#include "agent/rtc_sctp_priv.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "proto/dcep.h"

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
  rtc_sctp__in_lib++;
  int r = usrsctp_setsockopt(s->sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, &u,
                             (socklen_t)(sizeof u.rs + n * sizeof(uint16_t)));
  int err = errno;
  rtc_sctp__in_lib--;
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
  if (rtc_sctp__in_lib) return MESH_E_PROTO_STATE;
  s->chan[stream] = CHAN_CLOSING_LOCAL;
  want_reset(s, stream);
  rtc_sctp__enter();
  flush_resets(s);
  rtc_sctp__leave();
  return 0;
}

static void on_dcep(struct rtc_sctp *s, uint16_t sid, const uint8_t *p,
                    size_t n) {
  struct dcep_msg m;
  ssize_t r = dcep_parse(p, n, &m);
  if (r < 0 || (size_t)r != n) {
    rtc_sctp__fail(s, "malformed DCEP message");
    return;
  }
  /* We never open channels, so an ACK answers nothing; RFC 8832 has no
   * error for it, and it harms nothing. */
  if (m.type == DCEP_MSG_ACK) return;
  if (s->chan[sid] != CHAN_NONE) {
    rtc_sctp__fail(s, "DATA_CHANNEL_OPEN on a stream in use");
    return;
  }
  if (memchr(m.open.label, 0, m.open.label_len) ||
      memchr(m.open.protocol, 0, m.open.protocol_len)) {
    rtc_sctp__fail(s, "NUL byte in a data channel label or protocol");
    return;
  }
  char *label = malloc(m.open.label_len + m.open.protocol_len + 2);
  if (!label) {
    rtc_sctp__fail(s, "out of memory");
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
  int rc = rtc_sctp__send_msg(s, sid, DCEP_PPID_CONTROL, &ack, 1, 1);
  if (rc != 0) {
    free(label);
    rtc_sctp__fail(s, "could not send DATA_CHANNEL_ACK");
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
void rtc_sctp__on_data(struct rtc_sctp *s, const struct sctp_rcvinfo *ri,
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
    rtc_sctp__fail(s, "interleaved partial messages");
    return;
  }
  int rc = buf_put(&s->msg, p, n);
  if (rc != 0) {
    rtc_sctp__fail(s, rc == MESH_E_NOMEM ? "out of memory"
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

void rtc_sctp__on_notification(struct rtc_sctp *s, const uint8_t *p, size_t n) {
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
          rtc_sctp__mark_closed(
              s, "association lost (aborted by the peer or timed out)");
          break;
        case SCTP_RESTART:
          rtc_sctp__mark_closed(s, "peer restarted the association");
          break;
        case SCTP_SHUTDOWN_COMP:
          rtc_sctp__mark_closed(s, "association shut down");
          break;
        case SCTP_CANT_STR_ASSOC:
          rtc_sctp__mark_closed(s, "association could not be set up");
          break;
        default:
          break;
      }
      break;
    }
    case SCTP_SHUTDOWN_EVENT:
      rtc_sctp__mark_closed(s, "peer shut down the association");
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
