/* rtc_sctp (agent/rtc_sctp.h) against a "browser" made of raw usrsctp
 * calls in this process, on a real libuv loop: packets between the two go
 * through queues emptied from the loop (optionally dropping every Nth, so
 * the retransmission timers have work), never recursively.
 *
 * The browser opens channels with DATA_CHANNEL_OPEN and expects the ACK,
 * as Chrome does; messages of every PPID go both ways; a 200 KiB message
 * arrives whole; the send buffer fills, on_writable fires and everything
 * arrives in order; abort, shutdown, stream reset, a bad DCEP open and an
 * oversized message end things with a reason; and rtc_sctp_free from
 * inside callbacks leaves nothing behind (ASan/LSan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <usrsctp.h>
#include <uv.h>

#include "agent/rtc_sctp.h"
#include "base/err.h"
#include "base/log.h"
#include "proto/dcep.h"

/* The browser's AF_CONN address: far above the small ids rtc_sctp uses,
 * so its packets reach rtc_sctp__set_foreign_output. */
#define BROWSER_ADDR ((void *)(uintptr_t)0x7b7b0000u)
#define TIMEOUT_MS 30000

struct qpkt {
  struct qpkt *next;
  size_t len;
  uint8_t data[];
};

struct queue {
  struct qpkt *head, **tail;
};

struct msg {
  uint16_t sid, flags;
  uint32_t ppid;
  int binary;
  size_t len;
  uint8_t *data;
};

#define MAX_MSGS 4096

struct fx {
  uv_loop_t loop;
  uv_idle_t pump;
  struct queue to_agent, to_browser;
  unsigned drop_every, counter, dropped;
  int blackhole;           /* drop everything while set */
  size_t agent_max_packet; /* largest packet the agent sent */
  struct rtc_sctp *agent;
  struct socket *browser;

  /* What the agent reported. */
  int channels;
  uint16_t chan_stream;
  char label[128], proto[128];
  struct msg amsgs[MAX_MSGS];
  int namsgs;
  int writable, closed, channel_closed;
  char reason[160];
  int free_in_message, free_in_send, freed;
  int sends_after_free;
  int send_in_send; /* rtc_sctp_send's answer from inside send, once */
  int inject;       /* on_message feeds the next packet re-entrantly */
  int msg_depth, max_msg_depth;

  /* What the browser saw. */
  int b_up, b_lost, b_reset_in;
  int b_reset_streams; /* streams the agent reset, summed over events */
  int b_reset0_at;     /* bmsgs count when stream 0 was reset, or -1 */
  int acks;
  struct msg bmsgs[MAX_MSGS];
  int nbmsgs;
  uint8_t *b_part; /* a message read in pieces */
  size_t b_part_len;
};

static struct fx *F;

static void q_init(struct queue *q) {
  q->head = NULL;
  q->tail = &q->head;
}

static void q_push(struct queue *q, const void *p, size_t n) {
  struct qpkt *k = malloc(sizeof *k + n);
  assert_non_null(k);
  k->next = NULL;
  k->len = n;
  memcpy(k->data, p, n);
  *q->tail = k;
  q->tail = &k->next;
}

static struct qpkt *q_pop(struct queue *q) {
  struct qpkt *k = q->head;
  if (k) {
    q->head = k->next;
    if (!q->head) q->tail = &q->head;
  }
  return k;
}

static void q_clear(struct queue *q) {
  struct qpkt *k;
  while ((k = q_pop(q)) != NULL) free(k);
}

static void pump_cb(uv_idle_t *h);

static void wire_push(struct queue *q, const void *p, size_t n) {
  F->counter++;
  if (q == &F->to_browser && n > F->agent_max_packet) F->agent_max_packet = n;
  if (F->blackhole || (F->drop_every && F->counter % F->drop_every == 0)) {
    F->dropped++;
    return;
  }
  q_push(q, p, n);
  uv_idle_start(&F->pump, pump_cb);
}

/* ---- the agent's side ---------------------------------------------------- */

static void a_send(void *data, const uint8_t *p, size_t n) {
  struct fx *f = data;
  if (f->freed) f->sends_after_free++;
  wire_push(&f->to_browser, p, n);
  /* Inside usrsctp: these must neither deadlock nor recurse. */
  if (f->agent && !f->freed) {
    (void)rtc_sctp_buffered(f->agent);
    if (f->send_in_send == 1)
      f->send_in_send = rtc_sctp_send(f->agent, 0, 0, (const uint8_t *)"no", 2);
  }
  if (f->free_in_send) {
    f->free_in_send = 0;
    f->freed = 1;
    rtc_sctp_free(f->agent);
  }
}

static void a_channel(void *data, uint16_t stream, const char *label,
                      const char *proto) {
  struct fx *f = data;
  f->channels++;
  f->chan_stream = stream;
  snprintf(f->label, sizeof f->label, "%s", label);
  snprintf(f->proto, sizeof f->proto, "%s", proto);
}

static void a_message(void *data, uint16_t stream, int binary, const uint8_t *p,
                      size_t n) {
  struct fx *f = data;
  assert_false(f->freed);
  assert_true(f->namsgs < MAX_MSGS);
  if (++f->msg_depth > f->max_msg_depth) f->max_msg_depth = f->msg_depth;
  struct msg *m = &f->amsgs[f->namsgs++];
  m->sid = stream;
  m->binary = binary;
  m->len = n;
  m->data = malloc(n ? n : 1);
  assert_non_null(m->data);
  if (n) memcpy(m->data, p, n);
  if (f->free_in_message) {
    f->freed = 1;
    rtc_sctp_free(f->agent);
  }
  if (f->inject) {
    /* The browser answers at once, and its packet is fed back from here:
     * rtc_sctp must queue it rather than re-enter usrsctp. */
    f->inject = 0;
    static const char more[] = "second";
    struct sctp_sndinfo si;
    memset(&si, 0, sizeof si);
    si.snd_ppid = htonl(DCEP_PPID_STRING);
    assert_int_equal(usrsctp_sendv(f->browser, more, 6, NULL, 0, &si, sizeof si,
                                   SCTP_SENDV_SNDINFO, 0),
                     6);
    struct qpkt *k;
    int fed = 0;
    while ((k = q_pop(&f->to_agent)) != NULL) {
      rtc_sctp_input(f->agent, k->data, k->len);
      free(k);
      fed++;
    }
    assert_true(fed > 0);
    assert_int_equal(f->namsgs, 1); /* not delivered from in here */
  }
  f->msg_depth--;
}

static void a_writable(void *data) { ((struct fx *)data)->writable++; }

static void a_channel_closed(void *data, uint16_t stream) {
  struct fx *f = data;
  f->channel_closed++;
  f->chan_stream = stream;
}

static void a_closed(void *data, const char *reason) {
  struct fx *f = data;
  assert_false(f->freed);
  f->closed++;
  snprintf(f->reason, sizeof f->reason, "%s", reason);
}

static const struct rtc_sctp_cbs cbs = {
    .send = a_send,
    .on_channel = a_channel,
    .on_message = a_message,
    .on_writable = a_writable,
    .on_channel_closed = a_channel_closed,
    .on_closed = a_closed,
};

/* ---- the browser's side ---------------------------------------------------
 */

static int foreign_out(void *addr, const void *p, size_t n) {
  assert_ptr_equal(addr, BROWSER_ADDR);
  wire_push(&F->to_agent, p, n);
  return 0;
}

static void b_notification(struct fx *f, const uint8_t *p, size_t n) {
  union sctp_notification nt;
  memset(&nt, 0, sizeof nt);
  memcpy(&nt, p, n < sizeof nt ? n : sizeof nt);
  if (nt.sn_header.sn_type == SCTP_ASSOC_CHANGE) {
    if (nt.sn_assoc_change.sac_state == SCTP_COMM_UP) f->b_up = 1;
    if (nt.sn_assoc_change.sac_state == SCTP_COMM_LOST) f->b_lost = 1;
  } else if (nt.sn_header.sn_type == SCTP_STREAM_RESET_EVENT) {
    if (nt.sn_strreset_event.strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN) {
      f->b_reset_in++;
      size_t k = (nt.sn_strreset_event.strreset_length -
                  sizeof(struct sctp_stream_reset_event)) /
                 2;
      for (size_t i = 0; i < k; i++) {
        uint16_t sid;
        memcpy(&sid, p + sizeof(struct sctp_stream_reset_event) + 2 * i, 2);
        if (sid == 0) f->b_reset0_at = f->nbmsgs;
        f->b_reset_streams++;
      }
    }
  }
}

static void b_drain(struct fx *f) {
  static uint8_t buf[65536];
  while (f->browser) {
    struct sctp_rcvinfo ri;
    socklen_t rilen = sizeof ri, fromlen = 0;
    unsigned int infotype = 0;
    int flags = 0;
    ssize_t n = usrsctp_recvv(f->browser, buf, sizeof buf, NULL, &fromlen, &ri,
                              &rilen, &infotype, &flags);
    if (n <= 0) break;
    if (flags & MSG_NOTIFICATION) {
      b_notification(f, buf, (size_t)n);
      continue;
    }
    f->b_part = realloc(f->b_part, f->b_part_len + (size_t)n);
    assert_non_null(f->b_part);
    memcpy(f->b_part + f->b_part_len, buf, (size_t)n);
    f->b_part_len += (size_t)n;
    if (!(flags & MSG_EOR)) continue;
    uint32_t ppid = ntohl(ri.rcv_ppid);
    if (ppid == DCEP_PPID_CONTROL && f->b_part_len == 1 &&
        f->b_part[0] == DCEP_MSG_ACK) {
      f->acks++;
    } else {
      assert_true(f->nbmsgs < MAX_MSGS);
      struct msg *m = &f->bmsgs[f->nbmsgs++];
      m->sid = ri.rcv_sid;
      m->flags = ri.rcv_flags;
      m->ppid = ppid;
      m->len = f->b_part_len;
      m->data = f->b_part;
      f->b_part = NULL;
    }
    free(f->b_part);
    f->b_part = NULL;
    f->b_part_len = 0;
  }
}

static void b_set(struct socket *so, int level, int name, const void *v,
                  socklen_t n) {
  assert_int_equal(usrsctp_setsockopt(so, level, name, v, n), 0);
}

static void b_open(struct fx *f) {
  usrsctp_register_address(BROWSER_ADDR);
  struct socket *so =
      usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
  assert_non_null(so);
  assert_int_equal(usrsctp_set_non_blocking(so, 1), 0);
  const int one = 1, big = 1 << 20;
  b_set(so, IPPROTO_SCTP, SCTP_RECVRCVINFO, &one, sizeof one);
  b_set(so, IPPROTO_SCTP, SCTP_NODELAY, &one, sizeof one);
  b_set(so, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  b_set(so, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  struct sctp_assoc_value rs = {SCTP_FUTURE_ASSOC,
                                SCTP_ENABLE_RESET_STREAM_REQ};
  b_set(so, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &rs, sizeof rs);
  /* Chrome asks for 65535 streams each way; the agent grants 1024. */
  struct sctp_initmsg im = {65535, 65535, 0, 0};
  b_set(so, IPPROTO_SCTP, SCTP_INITMSG, &im, sizeof im);
  const uint16_t evs[] = {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT};
  for (size_t i = 0; i < 2; i++) {
    struct sctp_event ev = {SCTP_FUTURE_ASSOC, evs[i], 1};
    b_set(so, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev);
  }
  struct sockaddr_conn a;
  memset(&a, 0, sizeof a);
  a.sconn_family = AF_CONN;
  a.sconn_port = htons(RTC_SCTP_DEFAULT_PORT);
  a.sconn_addr = BROWSER_ADDR;
  assert_int_equal(usrsctp_bind(so, (struct sockaddr *)&a, sizeof a), 0);
  int r = usrsctp_connect(so, (struct sockaddr *)&a, sizeof a);
  assert_true(r == 0 || errno == EINPROGRESS);
  f->browser = so;
}

/* Returns usrsctp_sendv's result (bytes or -1 with errno). */
static ssize_t b_send(struct fx *f, uint16_t sid, uint32_t ppid, const void *p,
                      size_t n) {
  struct sctp_sndinfo si;
  memset(&si, 0, sizeof si);
  si.snd_sid = sid;
  si.snd_ppid = htonl(ppid);
  return usrsctp_sendv(f->browser, p, n, NULL, 0, &si, sizeof si,
                       SCTP_SENDV_SNDINFO, 0);
}

/* The browser resets its outgoing direction of the given streams. */
static void b_reset(struct fx *f, const uint16_t *sids, uint16_t n) {
  union {
    struct sctp_reset_streams rs;
    uint8_t raw[sizeof(struct sctp_reset_streams) + 16];
  } u;
  assert_true(n <= 8);
  memset(&u, 0, sizeof u);
  u.rs.srs_assoc_id = SCTP_ALL_ASSOC;
  u.rs.srs_flags = SCTP_STREAM_RESET_OUTGOING;
  u.rs.srs_number_streams = n;
  memcpy(u.raw + sizeof u.rs, sids, 2u * n);
  b_set(f->browser, IPPROTO_SCTP, SCTP_RESET_STREAMS, &u,
        (socklen_t)(sizeof u.rs + 2u * n));
}

static void b_close(struct fx *f, int abort) {
  if (!f->browser) return;
  if (abort) {
    const struct linger lin = {1, 0};
    b_set(f->browser, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
  }
  usrsctp_close(f->browser);
  f->browser = NULL;
  usrsctp_deregister_address(BROWSER_ADDR);
}

static void pump_cb(uv_idle_t *h) {
  struct fx *f = h->data;
  struct qpkt *k;
  /* A bounded batch per turn, so timers run in between. */
  for (int i = 0; i < 64; i++) {
    int moved = 0;
    if ((k = q_pop(&f->to_agent)) != NULL) {
      if (f->agent && !f->freed) rtc_sctp_input(f->agent, k->data, k->len);
      free(k);
      moved = 1;
    }
    if ((k = q_pop(&f->to_browser)) != NULL) {
      if (f->browser) {
        usrsctp_conninput(BROWSER_ADDR, k->data, k->len, 0);
        b_drain(f);
      }
      free(k);
      moved = 1;
    }
    if (!moved) break;
  }
  if (!f->to_agent.head && !f->to_browser.head) uv_idle_stop(h);
}

/* Runs the loop until cond(f) holds; fails the test after TIMEOUT_MS. */
static void run_until(struct fx *f, int (*cond)(struct fx *)) {
  uint64_t end = uv_now(&f->loop) + TIMEOUT_MS;
  while (!cond(f)) {
    assert_true(uv_now(&f->loop) < end);
    uv_run(&f->loop, UV_RUN_ONCE);
    uv_update_time(&f->loop);
    if (f->browser) b_drain(f);
  }
}

/* Runs the loop for ms milliseconds. */
static void run_for(struct fx *f, uint64_t ms) {
  uint64_t end = uv_now(&f->loop) + ms;
  while (uv_now(&f->loop) < end) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    uv_sleep(1);
    uv_update_time(&f->loop);
    if (f->browser) b_drain(f);
  }
}

static int is_up(struct fx *f) { return f->b_up; }
static int has_channel(struct fx *f) { return f->channels && f->acks; }
static int agent_closed(struct fx *f) { return f->closed > 0; }
static int writable(struct fx *f) { return f->writable > 0; }

/* ---- fixture --------------------------------------------------------------
 */

static int setup(void **state) {
  struct fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  F = f;
  f->b_reset0_at = -1;
  q_init(&f->to_agent);
  q_init(&f->to_browser);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  uv_idle_init(&f->loop, &f->pump);
  f->pump.data = f;
  rtc_sctp__init();
  rtc_sctp__set_foreign_output(foreign_out);
  b_open(f);
  assert_int_equal(rtc_sctp_new(&f->agent, &f->loop, RTC_SCTP_DEFAULT_PORT,
                                RTC_SCTP_DEFAULT_PORT, &cbs, f),
                   0);
  run_until(f, is_up);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fx *f = *state;
  b_close(f, 1);
  if (!f->freed) rtc_sctp_free(f->agent);
  f->freed = 1;
  uv_close((uv_handle_t *)&f->pump, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  q_clear(&f->to_agent);
  q_clear(&f->to_browser);
  for (int i = 0; i < f->namsgs; i++) free(f->amsgs[i].data);
  for (int i = 0; i < f->nbmsgs; i++) free(f->bmsgs[i].data);
  free(f->b_part);
  free(f);
  F = NULL;
  rtc_sctp__set_foreign_output(NULL);
  return 0;
}

static const uint8_t chrome_open[] = {0x03, 0x00, 0x01, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x06, 0x00, 0x00,
                                      'w',  'e',  'b',  'r',  't',  'c'};

static void open_channel(struct fx *f, uint16_t sid) {
  assert_int_equal(
      b_send(f, sid, DCEP_PPID_CONTROL, chrome_open, sizeof chrome_open),
      (ssize_t)sizeof chrome_open);
  run_until(f, has_channel);
  assert_int_equal(f->channels, 1);
  assert_int_equal(f->acks, 1);
  assert_int_equal(f->chan_stream, sid);
  assert_string_equal(f->label, "webrtc");
  assert_string_equal(f->proto, "");
}

/* ---- tests ----------------------------------------------------------------
 */

static int amsgs_at_least_4(struct fx *f) { return f->namsgs >= 4; }
static int two_channels(struct fx *f) {
  return f->channels == 2 && f->acks == 2;
}
static int bmsgs_at_least_6(struct fx *f) { return f->nbmsgs >= 6; }
static int bmsgs_at_least_4(struct fx *f) { return f->nbmsgs >= 4; }

static void test_channel_and_messages(void **state) {
  struct fx *f = *state;
  /* No channel yet: nothing to send on. */
  assert_int_equal(rtc_sctp_send(f->agent, 0, 0, (const uint8_t *)"x", 1),
                   MESH_E_INVALID);
  open_channel(f, 0);

  const uint8_t zero = 0, bin[] = {1, 2, 3};
  assert_int_equal(b_send(f, 0, DCEP_PPID_STRING, "hello", 5), 5);
  assert_int_equal(b_send(f, 0, DCEP_PPID_BINARY, bin, 3), 3);
  assert_int_equal(b_send(f, 0, DCEP_PPID_STRING_EMPTY, &zero, 1), 1);
  assert_int_equal(b_send(f, 0, DCEP_PPID_BINARY_EMPTY, &zero, 1), 1);
  /* Data on a stream without a channel is dropped, not delivered. */
  assert_int_equal(b_send(f, 2, DCEP_PPID_STRING, "lost", 4), 4);
  run_until(f, amsgs_at_least_4);
  run_for(f, 50);
  assert_int_equal(f->namsgs, 4);
  assert_int_equal(f->amsgs[0].binary, 0);
  assert_int_equal(f->amsgs[0].len, 5);
  assert_memory_equal(f->amsgs[0].data, "hello", 5);
  assert_int_equal(f->amsgs[1].binary, 1);
  assert_int_equal(f->amsgs[1].len, 3);
  assert_memory_equal(f->amsgs[1].data, bin, 3);
  assert_int_equal(f->amsgs[2].binary, 0);
  assert_int_equal(f->amsgs[2].len, 0);
  assert_int_equal(f->amsgs[3].binary, 1);
  assert_int_equal(f->amsgs[3].len, 0);

  assert_int_equal(rtc_sctp_send(f->agent, 0, 0, (const uint8_t *)"hi", 2), 0);
  assert_int_equal(rtc_sctp_send(f->agent, 0, 1, bin, 3), 0);
  assert_int_equal(rtc_sctp_send(f->agent, 0, 0, NULL, 0), 0);
  assert_int_equal(rtc_sctp_send(f->agent, 0, 1, NULL, 0), 0);
  run_until(f, bmsgs_at_least_4);
  assert_int_equal(f->bmsgs[0].ppid, DCEP_PPID_STRING);
  assert_int_equal(f->bmsgs[0].len, 2);
  assert_memory_equal(f->bmsgs[0].data, "hi", 2);
  assert_int_equal(f->bmsgs[1].ppid, DCEP_PPID_BINARY);
  assert_memory_equal(f->bmsgs[1].data, bin, 3);
  assert_int_equal(f->bmsgs[2].ppid, DCEP_PPID_STRING_EMPTY);
  assert_int_equal(f->bmsgs[2].len, 1);
  assert_int_equal(f->bmsgs[3].ppid, DCEP_PPID_BINARY_EMPTY);
  assert_int_equal(f->bmsgs[0].sid, 0);

  /* The peer's limit and ours. */
  uint8_t *big = calloc(1, RTC_SCTP_MAX_MESSAGE + 1);
  assert_non_null(big);
  rtc_sctp_set_remote_max_message(f->agent, 1000);
  assert_int_equal(rtc_sctp_send(f->agent, 0, 1, big, 1001), MESH_E_TOO_LARGE);
  assert_int_equal(rtc_sctp_send(f->agent, 0, 1, big, 1000), 0);
  rtc_sctp_set_remote_max_message(f->agent, 0);
  assert_int_equal(rtc_sctp_send(f->agent, 0, 1, big, RTC_SCTP_MAX_MESSAGE + 1),
                   MESH_E_TOO_LARGE);
  free(big);
  assert_int_equal(rtc_sctp_send(f->agent, 7, 1, bin, 3), MESH_E_INVALID);

  /* A second channel, unordered and partially reliable (3 retransmits):
   * the agent's messages on it go out unordered. */
  static const uint8_t pr_open[] = {0x03, 0x81, 0x00, 0x80, 0x00, 0x00,
                                    0x00, 0x03, 0x00, 0x01, 0x00, 0x05,
                                    'l',  'p',  'r',  'o',  't',  'o'};
  assert_int_equal(b_send(f, 2, DCEP_PPID_CONTROL, pr_open, sizeof pr_open),
                   (ssize_t)sizeof pr_open);
  run_until(f, two_channels);
  assert_int_equal(f->chan_stream, 2);
  assert_string_equal(f->label, "l");
  assert_string_equal(f->proto, "proto");
  int before = f->nbmsgs;
  assert_int_equal(rtc_sctp_send(f->agent, 2, 0, (const uint8_t *)"u", 1), 0);
  run_until(f, bmsgs_at_least_6);
  assert_int_equal(f->nbmsgs, before + 1);
  assert_int_equal(f->bmsgs[before].sid, 2);
  assert_true(f->bmsgs[before].flags & SCTP_UNORDERED);

  /* From inside the send callback a send is refused, not re-entered. */
  f->send_in_send = 1;
  assert_int_equal(rtc_sctp_send(f->agent, 0, 0, (const uint8_t *)"x", 1), 0);
  assert_int_equal(f->send_in_send, MESH_E_PROTO_STATE);
  assert_int_equal(f->closed, 0);
}

static int amsgs_at_least_1(struct fx *f) { return f->namsgs >= 1; }
static int bmsgs_at_least_1(struct fx *f) { return f->nbmsgs >= 1; }

/* 200 KiB each way over a wire that drops every 11th packet. */
static void test_large_message_with_loss(void **state) {
  struct fx *f = *state;
  open_channel(f, 0);
  const size_t n = 200 * 1024;
  uint8_t *big = malloc(n);
  assert_non_null(big);
  for (size_t i = 0; i < n; i++) big[i] = (uint8_t)(i * 7 + (i >> 10));
  f->drop_every = 11;
  assert_int_equal(b_send(f, 0, DCEP_PPID_BINARY, big, n), (ssize_t)n);
  run_until(f, amsgs_at_least_1);
  assert_int_equal(f->namsgs, 1);
  assert_int_equal(f->amsgs[0].len, n);
  assert_memory_equal(f->amsgs[0].data, big, n);

  rtc_sctp_set_remote_max_message(f->agent, 262144);
  assert_int_equal(rtc_sctp_send(f->agent, 0, 1, big, n), 0);
  run_until(f, bmsgs_at_least_1);
  assert_int_equal(f->bmsgs[0].len, n);
  assert_memory_equal(f->bmsgs[0].data, big, n);
  assert_true(f->dropped > 10);
  assert_int_equal(f->closed, 0);
  /* Packets stay within the fixed path MTU (1191). */
  assert_true(f->agent_max_packet <= 1191);
  assert_true(f->agent_max_packet > 1100);
  free(big);
}

static int nothing_buffered(struct fx *f) {
  return rtc_sctp_buffered(f->agent) == 0;
}

/* Everything sent while the wire is cut is lost; only the retransmission
 * timer (driven by the module's uv timer) can bring it over afterwards. */
static void test_retransmit_by_timer(void **state) {
  struct fx *f = *state;
  open_channel(f, 0);
  f->blackhole = 1;
  assert_int_equal(rtc_sctp_send(f->agent, 0, 0, (const uint8_t *)"late", 4),
                   0);
  run_for(f, 200);
  assert_int_equal(f->nbmsgs, 0);
  assert_true(f->dropped >= 1);
  f->blackhole = 0;
  uint64_t t0 = uv_now(&f->loop);
  run_until(f, bmsgs_at_least_1);
  assert_memory_equal(f->bmsgs[0].data, "late", 4);
  /* It took the timer (RTO is at least a second), not a fast path. */
  assert_true(uv_now(&f->loop) - t0 >= 300);
  /* Acknowledged (after the browser's delayed SACK), nothing buffered. */
  run_until(f, nothing_buffered);
}

static int all_chunks(struct fx *f) { return f->nbmsgs >= 200; }

/* Fill until refused, wait for on_writable, send the rest: all arrive in
 * order. */
static void test_backpressure(void **state) {
  struct fx *f = *state;
  open_channel(f, 0);
  enum { CHUNK = 16 * 1024, TOTAL = 200 };
  static uint8_t chunk[CHUNK];
  uint32_t seq = 0;
  int refused = 0;
  while (seq < TOTAL) {
    memcpy(chunk, &seq, sizeof seq);
    int r = rtc_sctp_send(f->agent, 0, 1, chunk, CHUNK);
    if (r == UV_EAGAIN) {
      if (!refused)
        assert_true(rtc_sctp_buffered(f->agent) >= RTC_SCTP_HIGH_WATER);
      refused++;
      f->writable = 0;
      run_until(f, writable);
      assert_true(rtc_sctp_buffered(f->agent) <= RTC_SCTP_LOW_WATER);
      continue;
    }
    assert_int_equal(r, 0);
    seq++;
  }
  assert_true(refused > 0);
  /* The browser gets all, in order. */
  run_until(f, all_chunks);
  for (uint32_t i = 0; i < TOTAL; i++) {
    uint32_t got;
    assert_int_equal(f->bmsgs[i].len, CHUNK);
    memcpy(&got, f->bmsgs[i].data, sizeof got);
    assert_int_equal(got, i);
  }
  assert_int_equal(f->closed, 0);
}

static void test_peer_abort(void **state) {
  struct fx *f = *state;
  open_channel(f, 0);
  b_close(f, 1);
  run_until(f, agent_closed);
  assert_int_equal(f->closed, 1);
  assert_non_null(strstr(f->reason, "lost"));
  assert_int_equal(rtc_sctp_send(f->agent, 0, 0, (const uint8_t *)"x", 1),
                   MESH_E_CLOSED);
}

static void test_peer_shutdown(void **state) {
  struct fx *f = *state;
  open_channel(f, 0);
  assert_int_equal(usrsctp_shutdown(f->browser, SHUT_WR), 0);
  run_until(f, agent_closed);
  assert_int_equal(f->closed, 1);
  assert_non_null(strstr(f->reason, "shut down"));
  run_for(f, 100);
  assert_int_equal(f->closed, 1); /* once */
}

static int browser_lost(struct fx *f) { return f->b_lost; }

/* An OPEN whose label length points past the message: the association is
 * aborted with a reason, no channel is reported. */
static void test_malformed_open(void **state) {
  struct fx *f = *state;
  uint8_t bad[sizeof chrome_open];
  memcpy(bad, chrome_open, sizeof bad);
  bad[8] = 0xff; /* label length 0xff06 */
  assert_int_equal(b_send(f, 0, DCEP_PPID_CONTROL, bad, sizeof bad),
                   (ssize_t)sizeof bad);
  run_until(f, agent_closed);
  assert_string_equal(f->reason, "malformed DCEP message");
  assert_int_equal(f->channels, 0);
  run_until(f, browser_lost); /* the ABORT reached the browser */
}

/* A second OPEN on a stream in use, and a label with a NUL byte: each
 * ends the association with its reason. */
static void test_open_twice(void **state) {
  struct fx *f = *state;
  open_channel(f, 0);
  assert_int_equal(
      b_send(f, 0, DCEP_PPID_CONTROL, chrome_open, sizeof chrome_open),
      (ssize_t)sizeof chrome_open);
  run_until(f, agent_closed);
  assert_string_equal(f->reason, "DATA_CHANNEL_OPEN on a stream in use");
  assert_int_equal(f->channels, 1);
}

static void test_nul_in_label(void **state) {
  struct fx *f = *state;
  uint8_t bad[sizeof chrome_open];
  memcpy(bad, chrome_open, sizeof bad);
  bad[14] = 0; /* "we\0rtc" */
  assert_int_equal(b_send(f, 0, DCEP_PPID_CONTROL, bad, sizeof bad),
                   (ssize_t)sizeof bad);
  run_until(f, agent_closed);
  assert_non_null(strstr(f->reason, "NUL"));
  assert_int_equal(f->channels, 0);
}

/* Random bytes and mangled copies of real packets are dropped (SCTP's
 * CRC32c and verification tag); the association carries on. */
static void test_garbage_packets(void **state) {
  struct fx *f = *state;
  open_channel(f, 0);
  uint8_t pkt[1500];
  uint32_t x = 0x12345678;
  for (int i = 0; i < 2000; i++) {
    size_t n = (size_t)(i % 1500);
    for (size_t j = 0; j < n; j++) {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      pkt[j] = (uint8_t)x;
    }
    if (n >= 12 && i % 2) {
      /* The right ports, so usrsctp looks further. */
      pkt[0] = pkt[2] = 0x13, pkt[1] = pkt[3] = 0x88;
    }
    rtc_sctp_input(f->agent, pkt, n);
  }
  assert_int_equal(f->closed, 0);
  assert_int_equal(b_send(f, 0, DCEP_PPID_STRING, "still", 5), 5);
  run_until(f, amsgs_at_least_1);
  assert_memory_equal(f->amsgs[0].data, "still", 5);
  assert_int_equal(f->closed, 0);
}

static void test_oversized_message(void **state) {
  struct fx *f = *state;
  open_channel(f, 0);
  const size_t n = RTC_SCTP_MAX_MESSAGE + 1;
  uint8_t *big = calloc(1, n);
  assert_non_null(big);
  assert_int_equal(b_send(f, 0, DCEP_PPID_BINARY, big, n), (ssize_t)n);
  run_until(f, agent_closed);
  assert_non_null(strstr(f->reason, "larger"));
  assert_int_equal(f->namsgs, 0);
  run_until(f, browser_lost);
  free(big);
}

static int chan_closed(struct fx *f) {
  return f->channel_closed && f->b_reset_in;
}

/* RTCDataChannel.close(): the browser resets its outgoing stream; the
 * agent reports the channel closed and resets its own direction. */
static void test_stream_reset(void **state) {
  struct fx *f = *state;
  open_channel(f, 0);
  const uint16_t sid = 0;
  b_reset(f, &sid, 1);
  run_until(f, chan_closed);
  assert_int_equal(f->channel_closed, 1);
  assert_int_equal(f->chan_stream, 0);
  assert_int_equal(rtc_sctp_send(f->agent, 0, 0, (const uint8_t *)"x", 1),
                   MESH_E_INVALID);
  assert_int_equal(f->closed, 0);
  /* The stream id can carry a new channel. */
  f->channels = 0;
  f->acks = 0;
  open_channel(f, 0);
}

static int two_resets_seen(struct fx *f) { return f->b_reset_streams >= 2; }
static int two_closed(struct fx *f) { return f->channel_closed >= 2; }

static int reset0_seen(struct fx *f) { return f->b_reset0_at >= 0; }
static int one_closed(struct fx *f) { return f->channel_closed >= 1; }

/* The agent closes two channels back to back, the second while the first
 * reset request is outstanding: both resets reach the browser. Then a
 * message queued just before a close arrives before the reset. */
static void test_agent_closes_channels(void **state) {
  struct fx *f = *state;
  open_channel(f, 0);
  f->channels = 0;
  f->acks = 0;
  open_channel(f, 2);
  assert_int_equal(rtc_sctp_close_channel(f->agent, 0), 0);
  assert_int_equal(rtc_sctp_close_channel(f->agent, 2), 0);
  assert_int_equal(rtc_sctp_close_channel(f->agent, 2), MESH_E_INVALID);
  assert_int_equal(rtc_sctp_send(f->agent, 2, 0, (const uint8_t *)"x", 1),
                   MESH_E_INVALID);
  run_until(f, two_resets_seen);
  assert_int_equal(f->b_reset_streams, 2);
  assert_int_equal(f->channel_closed, 0); /* half closed so far */
  /* The browser answers as browsers do: it resets its direction. */
  const uint16_t sids[] = {0, 2};
  b_reset(f, sids, 2);
  run_until(f, two_closed);
  assert_int_equal(f->channel_closed, 2);
  assert_int_equal(f->closed, 0);

  /* Both ids are free again; the queued message goes before the reset. */
  f->channels = 0;
  f->acks = 0;
  f->channel_closed = 0;
  f->b_reset0_at = -1;
  open_channel(f, 0);
  assert_int_equal(rtc_sctp_send(f->agent, 0, 0, (const uint8_t *)"last", 4),
                   0);
  assert_int_equal(rtc_sctp_close_channel(f->agent, 0), 0);
  run_until(f, reset0_seen);
  assert_int_equal(f->nbmsgs, 1);
  assert_memory_equal(f->bmsgs[0].data, "last", 4);
  assert_int_equal(f->b_reset0_at, 1);
  b_reset(f, sids, 1);
  run_until(f, one_closed);
  assert_int_equal(f->closed, 0);
}

static int msgs_settled(struct fx *f) {
  return f->namsgs >= 1 && !f->to_agent.head;
}

/* rtc_sctp_free from on_message: no callback after it, nothing leaks. */
static void test_free_in_message(void **state) {
  struct fx *f = *state;
  open_channel(f, 0);
  f->free_in_message = 1;
  assert_int_equal(b_send(f, 0, DCEP_PPID_STRING, "one", 3), 3);
  assert_int_equal(b_send(f, 0, DCEP_PPID_STRING, "two", 3), 3);
  run_until(f, msgs_settled);
  run_for(f, 100);
  assert_int_equal(f->namsgs, 1);
  assert_int_equal(f->closed, 0);
  assert_int_equal(f->sends_after_free, 0);
}

static int amsgs_at_least_2(struct fx *f) { return f->namsgs >= 2; }

/* rtc_sctp_input from inside on_message is queued and handled after the
 * callback returns, never nested. */
static void test_input_from_callback(void **state) {
  struct fx *f = *state;
  open_channel(f, 0);
  f->inject = 1;
  assert_int_equal(b_send(f, 0, DCEP_PPID_STRING, "first", 5), 5);
  run_until(f, amsgs_at_least_2);
  assert_int_equal(f->max_msg_depth, 1);
  assert_memory_equal(f->amsgs[0].data, "first", 5);
  assert_int_equal(f->amsgs[1].len, 6);
  assert_memory_equal(f->amsgs[1].data, "second", 6);
}

/* rtc_sctp_free from the send callback, inside usrsctp_sendv. */
static void test_free_in_send(void **state) {
  struct fx *f = *state;
  open_channel(f, 0);
  f->free_in_send = 1;
  assert_int_equal(rtc_sctp_send(f->agent, 0, 0, (const uint8_t *)"bye", 3), 0);
  assert_int_equal(f->freed, 1);
  run_for(f, 100);
  assert_int_equal(f->sends_after_free, 0);
  assert_int_equal(f->closed, 0);
}

int main(void) {
  /* RTC_SCTP_DEBUG=1 shows the module's debug lines (deferred resets,
   * dropped messages). */
  if (getenv("RTC_SCTP_DEBUG")) log_set_level(LOG_DEBUG);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_channel_and_messages, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_large_message_with_loss, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_retransmit_by_timer, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_peer_abort, setup, teardown),
      cmocka_unit_test_setup_teardown(test_peer_shutdown, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_twice, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nul_in_label, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage_packets, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oversized_message, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_reset, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agent_closes_channels, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_input_from_callback, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_free_in_message, setup, teardown),
      cmocka_unit_test_setup_teardown(test_free_in_send, setup, teardown),
  };
  int r = cmocka_run_group_tests(tests, NULL, NULL);
  /* usrsctp keeps global state; stop it so LeakSanitizer sees none. */
  if (rtc_sctp__finish() != 0) {
    fprintf(stderr, "rtc_sctp__finish failed\n");
    return 1;
  }
  return r;
}
