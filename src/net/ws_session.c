#include "net/ws_session.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/mesh_limits.h"

/*
 * Why wslay's frame layer and not wslay_event: wslay_event closes on a
 * protocol error with a bare code and no hook to add a reason, keeps each
 * message as a list of per-frame chunks that it flattens (a second copy),
 * and its output path wants a send callback that may block. Here wslay
 * parses the frames (header, lengths, unmasking, control-frame size rules)
 * into its own 4 KiB buffer, and this file keeps the message rules, one
 * bounded reassembly buffer and a trivially simple encoder.
 *
 * That 4 KiB buffer lives in wslay's frame context, which is therefore
 * made only when input arrives and freed again whenever the input ends on
 * a frame boundary: most connections are idle most of the time (an idle
 * relay tunnel is two of them), and a fresh context is exactly the state
 * wslay returns to after each frame. Whether wslay still holds bytes is
 * known by counting: every byte handed to it is either part of a frame
 * header or of a payload chunk it gave back, and headers have one
 * encoding only (wslay refuses non-minimal lengths).
 */

#define OP_CONT 0x0
#define OP_TEXT 0x1
#define OP_BINARY 0x2
#define OP_CLOSE 0x8
#define OP_PING 0x9
#define OP_PONG 0xa

/* Queued output may hold a full message on top of a full stream queue,
 * which the transport refuses anyway at MESH_STREAM_HARD_LIMIT. */
#define OUT_MAX (MESH_STREAM_HARD_LIMIT + MESH_WS_MAX_MESSAGE + 1024)
/* A message that does not arrive whole is reassembled in a buffer kept
 * from one message to the next (a free and a malloc of 64 KiB for every
 * message make glibc give the top of the heap back and fault it in again:
 * +20% server CPU per MB relayed, measured) until the owner says the
 * connection went idle (ws_session_release_input), or reading ends. Its
 * first allocation takes the frame's length up to this much, so the usual
 * message costs one malloc instead of a doubling chain, and a peer that
 * announces a huge frame without sending it gets no more than this. */
#define MSG_FIRST_MAX (64 * 1024)

/* Incremental UTF-8 validator (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), resumable across fragments. */
struct utf8 {
  uint8_t need;   /* continuation bytes still expected */
  uint8_t lo, hi; /* allowed range of the next continuation byte */
};

static int utf8_feed(struct utf8 *u, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    if (u->need == 0) {
      if (c < 0x80) continue;
      u->lo = 0x80;
      u->hi = 0xbf;
      if (c >= 0xc2 && c <= 0xdf) {
        u->need = 1;
      } else if (c == 0xe0) {
        u->need = 2;
        u->lo = 0xa0;
      } else if (c == 0xed) {
        u->need = 2;
        u->hi = 0x9f;
      } else if (c >= 0xe1 && c <= 0xef) {
        u->need = 2;
      } else if (c == 0xf0) {
        u->need = 3;
        u->lo = 0x90;
      } else if (c >= 0xf1 && c <= 0xf3) {
        u->need = 3;
      } else if (c == 0xf4) {
        u->need = 3;
        u->hi = 0x8f;
      } else {
        return -1;
      }
      continue;
    }
    if (c < u->lo || c > u->hi) return -1;
    u->need--;
    u->lo = 0x80;
    u->hi = 0xbf;
  }
  return 0;
}

struct ws_session {
  enum ws_role role;
  ws_session_msg_cb cb;
  void *data;
  wslay_frame_context_ptr fr; /* NULL between frames (see the top) */
  /* Input currently offered to wslay through recv_cb. */
  const uint8_t *in;
  size_t in_len;
  /* Bytes wslay took from recv_cb and has not yet returned as a frame
   * header or payload: 0 means it buffers nothing. */
  uint64_t fr_held;
  /* Current frame. */
  int in_frame;
  uint8_t op, fin;
  uint64_t frame_len, frame_off;
  /* Current (possibly fragmented) data message. */
  int msg_active;
  uint8_t msg_op;
  struct utf8 u8;
  struct buf msg;
  /* Current control frame payload (at most 125 bytes, enforced by wslay). */
  uint8_t ctl[125];
  size_t ctl_len;
  /* Close state. */
  int close_sent, close_received, failed;
  uint16_t close_code;
  char close_reason[WS_CLOSE_REASON_MAX + 1];
  size_t frag;
  struct buf out;
};

static ssize_t recv_cb(uint8_t *buf, size_t len, int flags, void *user) {
  (void)flags;
  struct ws_session *s = user;
  if (s->in_len == 0) return -1; /* wslay reports WANT_READ */
  size_t n = len < s->in_len ? len : s->in_len;
  memcpy(buf, s->in, n);
  s->in += n;
  s->in_len -= n;
  s->fr_held += n;
  return (ssize_t)n;
}

/* Never called: frames are encoded below, not through wslay_frame_send. */
static ssize_t send_cb(const uint8_t *data, size_t len, int flags, void *user) {
  (void)data;
  (void)len;
  (void)flags;
  (void)user;
  return -1;
}

static int genmask_cb(uint8_t *buf, size_t len, void *user) {
  (void)user;
  return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static const struct wslay_frame_callbacks frame_cbs = {send_cb, recv_cb,
                                                       genmask_cb};

int ws_session_new(enum ws_role role, ws_session_msg_cb cb, void *data,
                   struct ws_session **out) {
  *out = NULL;
  struct ws_session *s = calloc(1, sizeof *s);
  if (!s) return MESH_E_NOMEM;
  s->role = role;
  s->cb = cb;
  s->data = data;
  buf_init(&s->msg, MESH_WS_MAX_MESSAGE);
  buf_init(&s->out, OUT_MAX);
  *out = s;
  return 0;
}

void ws_session_free(struct ws_session *s) {
  if (!s) return;
  if (s->fr) wslay_frame_context_free(s->fr);
  buf_cleanup(&s->msg);
  buf_cleanup(&s->out);
  free(s);
}

void ws_session_set_data(struct ws_session *s, void *data) { s->data = data; }
void ws_session_set_max_message(struct ws_session *s, size_t max) {
  s->msg.max = max && max < MESH_WS_MAX_MESSAGE ? max : MESH_WS_MAX_MESSAGE;
}

void ws_session_set_fragment(struct ws_session *s, size_t frag) {
  s->frag = frag;
}
struct buf *ws_session_out(struct ws_session *s) {
  return &s->out;
}
int ws_session_done(const struct ws_session *s) {
  return s->failed || (s->close_sent && s->close_received);
}
int ws_session_close_sent(const struct ws_session *s) { return s->close_sent; }
int ws_session_close_received(const struct ws_session *s) {
  return s->close_received;
}
size_t ws_session_reassembly_cap(const struct ws_session *s) {
  return s->msg.cap;
}
void ws_session_release_input(struct ws_session *s) {
  if (!s->msg_active) buf_cleanup(&s->msg);
}
uint16_t ws_session_close_code(const struct ws_session *s) {
  return s->close_code;
}
const char *ws_session_close_reason(const struct ws_session *s) {
  return s->close_reason;
}

static size_t frame_hdr(struct ws_session *s, uint8_t op, int fin, size_t n,
                        uint8_t h[14]) {
  size_t k = 0;
  uint8_t mbit = s->role == WS_ROLE_CLIENT ? 0x80 : 0;
  h[k++] = (uint8_t)((fin ? 0x80 : 0) | op);
  if (n < 126) {
    h[k++] = (uint8_t)(mbit | n);
  } else if (n <= 0xffff) {
    h[k++] = mbit | 126;
    h[k++] = (uint8_t)(n >> 8);
    h[k++] = (uint8_t)n;
  } else {
    h[k++] = mbit | 127;
    for (int i = 7; i >= 0; i--) h[k++] = (uint8_t)((uint64_t)n >> (8 * i));
  }
  return k;
}

/* Appends one frame; the caller has reserved room, so this cannot fail
 * halfway (a frame is never written partially). */
static int put_frame(struct ws_session *s, uint8_t op, int fin,
                     const uint8_t *p, size_t n) {
  uint8_t h[14];
  size_t k = frame_hdr(s, op, fin, n, h);
  uint8_t mask[4] = {0, 0, 0, 0};
  int r;
  if ((r = buf_reserve(&s->out, k + 4 + n)) != 0) return r;
  buf_put(&s->out, h, k);
  if (s->role == WS_ROLE_CLIENT) {
    if (RAND_bytes(mask, 4) != 1) return MESH_E_CRYPTO;
    buf_put(&s->out, mask, 4);
    uint8_t *d = s->out.data + s->out.len;
    for (size_t i = 0; i < n; i++) d[i] = p[i] ^ mask[i & 3];
    s->out.len += n;
  } else {
    buf_put(&s->out, p, n);
  }
  return 0;
}

int ws_session_send(struct ws_session *s, enum ws_type t, const void *p,
                    size_t n) {
  if (s->close_sent || s->failed) return MESH_E_CLOSED;
  if (n > MESH_WS_MAX_MESSAGE) return MESH_E_TOO_LARGE;
  size_t frag = s->frag && n > s->frag ? s->frag : n;
  size_t frames = frag ? (n + frag - 1) / frag : 1;
  /* Reserve everything first so a message is queued whole or not at all. */
  int r = buf_reserve(&s->out, n + frames * 18);
  if (r != 0) return r;
  const uint8_t *b = p;
  size_t off = 0;
  uint8_t op = t == WS_TEXT ? OP_TEXT : OP_BINARY;
  do {
    size_t len = n - off < frag ? n - off : frag;
    if ((r = put_frame(s, off ? OP_CONT : op, off + len == n, b + off, len)) !=
        0)
      return r;
    off += len;
  } while (off < n);
  return 0;
}

int ws_session_ping(struct ws_session *s, const void *p, size_t n) {
  if (s->close_sent || s->failed) return MESH_E_CLOSED;
  if (n > 125) return MESH_E_TOO_LARGE;
  return put_frame(s, OP_PING, 1, p, n);
}

static void set_close(struct ws_session *s, uint16_t code, const uint8_t *r,
                      size_t n) {
  if (s->close_code) return; /* the first close wins */
  s->close_code = code;
  if (n > WS_CLOSE_REASON_MAX) n = WS_CLOSE_REASON_MAX;
  memcpy(s->close_reason, r, n);
  s->close_reason[n] = 0;
}

static int send_close(struct ws_session *s, uint16_t code, const char *reason) {
  uint8_t p[2 + WS_CLOSE_REASON_MAX];
  size_t n = 0;
  if (code != 0 && code != WS_CLOSE_NO_STATUS) {
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    size_t rl = reason ? strlen(reason) : 0;
    if (rl > WS_CLOSE_REASON_MAX) {
      rl = WS_CLOSE_REASON_MAX;
      /* Do not cut a UTF-8 sequence in half. */
      while (rl > 0 && ((uint8_t)reason[rl] & 0xc0) == 0x80) rl--;
    }
    if (rl) memcpy(p + 2, reason, rl);
    n = 2 + rl;
  }
  s->close_sent = 1;
  return put_frame(s, OP_CLOSE, 1, p, n);
}

int ws_session_close(struct ws_session *s, uint16_t code, const char *reason) {
  if (s->close_sent || s->failed) return MESH_E_CLOSED;
  const char *rs = reason ? reason : "";
  set_close(s, code, (const uint8_t *)rs, strlen(rs));
  return send_close(s, code, reason);
}

/* The peer broke the protocol: queue our close (unless one went out
 * already) and stop reading. */
static int fail(struct ws_session *s, uint16_t code, const char *reason) {
  s->failed = 1;
  set_close(s, code, (const uint8_t *)reason, strlen(reason));
  if (!s->close_sent) send_close(s, code, reason);
  return code == WS_CLOSE_TOO_BIG ? MESH_E_TOO_LARGE : MESH_E_MALFORMED;
}

static int close_code_ok(uint16_t c) {
  if (c >= 1000 && c <= 1014) return c != 1004 && c != 1005 && c != 1006;
  return c >= 3000 && c <= 4999;
}

static int on_control(struct ws_session *s) {
  if (s->op == OP_PING) {
    if (!s->close_sent) return put_frame(s, OP_PONG, 1, s->ctl, s->ctl_len);
    return 0;
  }
  if (s->op == OP_PONG) return 0;
  /* Close. */
  uint16_t code = WS_CLOSE_NO_STATUS;
  const uint8_t *reason = s->ctl;
  size_t rlen = 0;
  if (s->ctl_len == 1) return fail(s, WS_CLOSE_PROTOCOL, "bad close payload");
  if (s->ctl_len >= 2) {
    code = (uint16_t)(s->ctl[0] << 8 | s->ctl[1]);
    if (!close_code_ok(code))
      return fail(s, WS_CLOSE_PROTOCOL, "bad close code");
    reason = s->ctl + 2;
    rlen = s->ctl_len - 2;
    struct utf8 u = {0, 0, 0};
    if (utf8_feed(&u, reason, rlen) != 0 || u.need)
      return fail(s, WS_CLOSE_BAD_DATA, "invalid utf-8 in close reason");
  }
  s->close_received = 1;
  set_close(s, code, reason, rlen);
  if (!s->close_sent) {
    char echo[WS_CLOSE_REASON_MAX + 1];
    memcpy(echo, reason, rlen);
    echo[rlen] = 0;
    return send_close(s, code, echo);
  }
  return 0;
}

static void deliver(struct ws_session *s, const uint8_t *p, size_t n) {
  s->msg_active = 0;
  /* After our close frame the application has said it wants no more. */
  if (!s->close_sent && s->cb)
    s->cb(s, s->msg_op == OP_TEXT ? WS_TEXT : WS_BINARY, p, n, s->data);
  buf_reset(&s->msg);
}

/* Checks a frame header when its first chunk arrives. */
static int frame_start(struct ws_session *s,
                       const struct wslay_frame_iocb *io) {
  s->in_frame = 1;
  s->op = io->opcode;
  s->fin = io->fin;
  s->frame_len = io->payload_length;
  s->frame_off = 0;
  if (io->rsv) return fail(s, WS_CLOSE_PROTOCOL, "reserved bits set");
  if (s->role == WS_ROLE_SERVER && !io->mask)
    return fail(s, WS_CLOSE_PROTOCOL, "unmasked client frame");
  if (s->role == WS_ROLE_CLIENT && io->mask)
    return fail(s, WS_CLOSE_PROTOCOL, "masked server frame");
  switch (s->op) {
    case OP_CLOSE:
    case OP_PING:
    case OP_PONG:
      s->ctl_len = 0;
      return 0;
    case OP_CONT:
      if (!s->msg_active)
        return fail(s, WS_CLOSE_PROTOCOL, "continuation without a message");
      break;
    case OP_TEXT:
    case OP_BINARY:
      if (s->msg_active)
        return fail(s, WS_CLOSE_PROTOCOL,
                    "new message inside a fragmented one");
      s->msg_active = 1;
      s->msg_op = s->op;
      memset(&s->u8, 0, sizeof s->u8);
      buf_reset(&s->msg);
      break;
    default:
      return fail(s, WS_CLOSE_PROTOCOL, "unknown opcode");
  }
  if (io->payload_length > (uint64_t)(s->msg.max - s->msg.len))
    return fail(s, WS_CLOSE_TOO_BIG, "message too big");
  return 0;
}

static int frame_chunk(struct ws_session *s,
                       const struct wslay_frame_iocb *io) {
  int r = 0;
  if (!s->in_frame && (r = frame_start(s, io)) != 0) return r;
  const uint8_t *d = io->data;
  size_t n = io->data_length;
  int ctl = (s->op & 0x8) != 0;
  if (ctl) {
    memcpy(s->ctl + s->ctl_len, d, n); /* wslay caps control payloads at 125 */
    s->ctl_len += n;
  } else {
    if (s->msg_op == OP_TEXT && utf8_feed(&s->u8, d, n) != 0)
      return fail(s, WS_CLOSE_BAD_DATA, "invalid utf-8");
    int whole =
        s->fin && s->frame_off == 0 && n == s->frame_len && s->msg.len == 0;
    if (whole) {
      /* Unfragmented and entirely in wslay's buffer: no copy needed. */
      s->frame_off += n;
      s->in_frame = 0;
      if (s->msg_op == OP_TEXT && s->u8.need)
        return fail(s, WS_CLOSE_BAD_DATA, "invalid utf-8");
      deliver(s, d, n);
      return 0;
    }
    if (s->msg.cap == 0) {
      uint64_t first =
          s->frame_len < MSG_FIRST_MAX ? s->frame_len : MSG_FIRST_MAX;
      r = buf_reserve(&s->msg, (size_t)first);
    }
    if (r != 0 || (r = buf_put(&s->msg, d, n)) != 0)
      return r == MESH_E_NOMEM ? fail(s, WS_CLOSE_GOING_AWAY, "out of memory")
                               : fail(s, WS_CLOSE_TOO_BIG, "message too big");
  }
  s->frame_off += n;
  if (s->frame_off < s->frame_len) return 0;
  s->in_frame = 0;
  if (ctl) return on_control(s);
  if (!s->fin) return 0;
  if (s->msg_op == OP_TEXT && s->u8.need)
    return fail(s, WS_CLOSE_BAD_DATA, "invalid utf-8");
  deliver(s, s->msg.data, s->msg.len);
  return 0;
}

/* The bytes of a frame header as wslay read it: 2, the extended length
 * (wslay accepts only the shortest form), and the mask key. */
static uint64_t header_len(const struct wslay_frame_iocb *io) {
  uint64_t n = io->payload_length;
  return 2 + (n < 126 ? 0 : n <= 0xffff ? 2 : 8) + (io->mask ? 4 : 0);
}

int ws_session_feed(struct ws_session *s, const uint8_t *p, size_t n) {
  if (s->failed || s->close_received) return 0;
  if (n == 0) return 0;
  if (!s->fr && wslay_frame_context_init(&s->fr, &frame_cbs, s) != 0) {
    s->fr = NULL;
    return fail(s, WS_CLOSE_GOING_AWAY, "out of memory");
  }
  s->in = p;
  s->in_len = n;
  int r = 0;
  while (!s->failed && !s->close_received) {
    struct wslay_frame_iocb io;
    memset(&io, 0, sizeof io);
    ssize_t k = wslay_frame_recv(s->fr, &io);
    if (k == WSLAY_ERR_WANT_READ) break;
    if (k < 0) {
      r = fail(s, WS_CLOSE_PROTOCOL, "bad frame header");
      break;
    }
    s->fr_held -= (s->in_frame ? 0 : header_len(&io)) + io.data_length;
    if ((r = frame_chunk(s, &io)) != 0) break;
  }
  s->in = NULL;
  s->in_len = 0;
  /* Between frames, or done reading for good: wslay holds nothing that
   * matters, so its buffer goes (and with no more reading, ours too). */
  if ((!s->in_frame && s->fr_held == 0) || s->failed || s->close_received) {
    wslay_frame_context_free(s->fr);
    s->fr = NULL;
    s->fr_held = 0;
  }
  if (s->failed || s->close_received) buf_cleanup(&s->msg);
  return r;
}

/* ---- Upgrade helpers ---- */

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int ws_key_valid(const char *key, size_t len) {
  uint8_t raw[18];
  return len == WS_KEY_LEN && enc_unb64(key, len, raw, sizeof raw) == 16;
}

int ws_accept_for_key(const char *key, size_t len,
                      char out[WS_ACCEPT_LEN + 1]) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  int r = MESH_E_CRYPTO;
  out[0] = 0;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  if (!c) return MESH_E_NOMEM;
  if (EVP_DigestInit_ex(c, EVP_sha1(), NULL) != 1 ||
      EVP_DigestUpdate(c, key, len) != 1 ||
      EVP_DigestUpdate(c, ws_guid, sizeof ws_guid - 1) != 1 ||
      EVP_DigestFinal_ex(c, md, &mdlen) != 1 || mdlen != 20)
    goto out;
  enc_b64(md, 20, out, 0);
  r = 0;
out:
  EVP_MD_CTX_free(c);
  return r;
}

int ws_check_accept(const char *key, const char *accept) {
  char want[WS_ACCEPT_LEN + 1];
  if (!key || !accept) return MESH_E_AUTH;
  if (ws_accept_for_key(key, strlen(key), want) != 0) return MESH_E_AUTH;
  return strcmp(want, accept) == 0 ? 0 : MESH_E_AUTH;
}

int ws_client_request(struct buf *out, const char *host, const char *target,
                      char key[WS_KEY_LEN + 1]) {
  return ws_client_request_ex(out, host, target, NULL, key);
}

static int is_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

int ws_header_lines_valid(const char *s) {
  while (*s) {
    const char *p = s;
    while (is_tchar((unsigned char)*p)) p++;
    if (p == s || *p != ':') return 0;
    for (p++; *p != '\r'; p++)
      if ((unsigned char)*p < 0x20 ? *p != '\t' : *p == 0x7f) return 0;
    if (p[1] != '\n') return 0;
    s = p + 2;
  }
  return 1;
}

int ws_client_request_ex(struct buf *out, const char *host, const char *target,
                         const char *extra, char key[WS_KEY_LEN + 1]) {
  uint8_t raw[16];
  char head[256];
  key[0] = 0;
  if (RAND_bytes(raw, sizeof raw) != 1) return MESH_E_CRYPTO;
  enc_b64(raw, sizeof raw, key, 0);
  int n = snprintf(head, sizeof head, " HTTP/1.1\r\nHost: %s\r\n", host);
  if (n < 0 || (size_t)n >= sizeof head) return MESH_E_INVALID;
  static const char tail[] =
      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ";
  int r;
  if ((r = buf_put(out, "GET ", 4)) != 0 ||
      (r = buf_put(out, target, strlen(target))) != 0 ||
      (r = buf_put(out, head, (size_t)n)) != 0 ||
      (r = buf_put(out, tail, sizeof tail - 1)) != 0 ||
      (r = buf_put(out, key, WS_KEY_LEN)) != 0 ||
      (r = buf_put(out, "\r\n", 2)) != 0 ||
      (extra && (r = buf_put(out, extra, strlen(extra))) != 0) ||
      (r = buf_put(out, "\r\n", 2)) != 0)
    return r;
  return 0;
}
