/*
 * tunnel_rtc.c - moving a desktop or files session from the relay
 * WebSocket onto a WebRTC data channel (spec sessions.md §8.1;
 * docs/sessions.md §9). The WebSocket stays open for control messages,
 * and closing it ends the session.
 *
 * Phases: the viewer's offer is answered (OFFERED); the viewer's channel
 * opens and webrtc0 goes to the viewer (OPEN); the viewer's webrtc0 makes
 * the agent stop sending on the WebSocket and send webrtc1, its "end of
 * WebSocket data" marker (HOLD: output waits here, so nothing can overtake
 * what is still travelling through the relay); the viewer's webrtc1 is
 * answered with webrtc2; the viewer's webrtc2 says it has seen our marker,
 * and output moves to the channel (ACTIVE). Input from the channel is
 * taken once it is open: the viewer sends on it only after deciding to,
 * and it goes through the same session code (and rights) as relay input.
 *
 * Output that the channel cannot take now (held, or its buffer full) is
 * queued here in order; the sessions see the queue in tunnel_queued() and
 * stop producing, as they do for a slow WebSocket.
 */
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent/rtc.h"
#include "agent/tunnel_priv.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mesh_limits.h"
#include "net/ws.h"

/* The most output kept while waiting for the viewer's webrtc2 or for the
 * channel's buffer: the sessions stop producing far below this. */
#define RTC_OUT_MAX (4 * MESH_STREAM_HIGH_WATER)

/* Sends j (stolen) on the WebSocket itself: the switch-over's messages
 * must not follow the session's output onto the channel. */
static void send_ws_json(struct tunnel *t, json_t *j) {
  char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
  if (s && t->ws) ws_send(t->ws, WS_TEXT, s, strlen(s));
  free(s);
  json_decref(j);
}

static void send_ctrl(struct tunnel *t, const char *type) {
  send_ws_json(t,
               json_pack("{s:s, s:s}", "ctrlChannel", "102938", "type", type));
}

static void drop_out(struct tunnel *t) {
  while (t->rtc_out) {
    struct held *h = t->rtc_out;
    t->rtc_out = h->next;
    free(h);
  }
  t->rtc_out_tail = &t->rtc_out;
  t->rtc_out_bytes = 0;
}

void tunnel_rtc_close(struct tunnel *t) {
  if (t->rtc) rtc_close(t->rtc);
  t->rtc = NULL;
  drop_out(t);
}

/* Sends one message, split when it is over the channel's message size:
 * only desktop output is ever that large, and viewers reassemble KVM
 * commands from pieces (spec §7.6). */
static int send_now(struct tunnel *t, enum ws_type type, const uint8_t *p,
                    size_t n) {
  size_t max = rtc_max_message(t->rtc);
  if (n > max && (type != WS_BINARY || t->proto != P_DESKTOP))
    return MESH_E_TOO_LARGE;
  size_t off = 0;
  do {
    size_t k = n - off < max ? n - off : max;
    int r = rtc_send(t->rtc, type == WS_BINARY, p + off, k);
    if (r) return r;
    off += k;
  } while (off < n);
  return 0;
}

static int queue_out(struct tunnel *t, enum ws_type type, const uint8_t *p,
                     size_t n) {
  if (t->rtc_out_bytes + n > RTC_OUT_MAX) return MESH_E_TOO_LARGE;
  struct held *h = malloc(sizeof *h + n);
  if (!h) return MESH_E_NOMEM;
  h->next = NULL;
  h->type = type;
  h->n = n;
  memcpy(h->p, p, n);
  *t->rtc_out_tail = h;
  t->rtc_out_tail = &h->next;
  t->rtc_out_bytes += n;
  return 0;
}

/* Sends one message on the channel now; a text reply too big for it (a
 * huge directory listing) can only go on the WebSocket. A failure ends
 * the session: its output has nowhere else to go. */
static int deliver(struct tunnel *t, enum ws_type type, const uint8_t *p,
                   size_t n) {
  int r = send_now(t, type, p, n);
  if (r == MESH_E_TOO_LARGE)
    r = t->ws ? ws_send(t->ws, type, p, n) : MESH_E_CLOSED;
  if (r) tunnel_close(t, 1011, "WebRTC send failed");
  return r;
}

static int has_room(const struct tunnel *t) {
  return rtc_buffered(t->rtc) < MESH_STREAM_HIGH_WATER;
}

/* Sends what was queued while the channel has room, once output goes
 * there (never while held for the viewer's webrtc2). */
static void flush_out(struct tunnel *t) {
  while (t->rtc_phase == RTC_ACTIVE && t->rtc_out && t->rtc && has_room(t)) {
    struct held *h = t->rtc_out;
    t->rtc_out = h->next;
    if (!t->rtc_out) t->rtc_out_tail = &t->rtc_out;
    t->rtc_out_bytes -= h->n;
    int r = deliver(t, h->type, h->p, h->n);
    free(h);
    if (r) return;
  }
}

int tunnel_rtc_send(struct tunnel *t, enum ws_type type, const void *p,
                    size_t n) {
  if (t->rtc_phase == RTC_ACTIVE && !t->rtc_out && has_room(t))
    return deliver(t, type, p, n);
  int r = queue_out(t, type, p, n);
  if (r) tunnel_close(t, 1011, "WebRTC output queue full");
  return r;
}

size_t tunnel_rtc_queued(const struct tunnel *t) {
  /* While held, report a full queue so the sessions wait. */
  size_t q = t->rtc_out_bytes + (t->rtc ? rtc_buffered(t->rtc) : 0);
  return t->rtc_phase == RTC_HOLD ? q + MESH_STREAM_HIGH_WATER : q;
}

/* ------------------------------------------------ channel callbacks */

static void on_open(void *data) {
  struct tunnel *t = data;
  if (t->rtc_phase != RTC_OFFERED) return;
  t->rtc_phase = RTC_OPEN;
  log_info("event=webrtc_open %s", t->name);
  send_ctrl(t, "webrtc0");
}

static void on_message(void *data, int binary, const uint8_t *p, size_t n) {
  struct tunnel *t = data;
  if (t->state != T_ACTIVE) return;
  tunnel__active_message(t, binary ? WS_BINARY : WS_TEXT, p, n);
}

static void on_writable(void *data) {
  struct tunnel *t = data;
  flush_out(t);
  tunnel__drain(t);
}

static void on_closed(void *data, const char *why) {
  struct tunnel *t = data;
  int switched = t->rtc_phase >= RTC_HOLD;
  log_info("event=webrtc_closed %s reason=\"%s\"", t->name, why);
  tunnel_rtc_close(t);
  t->rtc_phase = RTC_OVER;
  /* Before the switch the WebSocket carries on; after it, the session's
   * output had nowhere else to go. */
  if (switched)
    tunnel_close(t, 1000, "WebRTC channel closed");
  else
    tunnel__drain(t);
}

static const struct rtc_cbs channel_cbs = {
    .on_open = on_open,
    .on_message = on_message,
    .on_writable = on_writable,
    .on_closed = on_closed,
};

/* ------------------------------------------------ the viewer's side */

static void on_offer(struct tunnel *t, json_t *j) {
  const char *sdp = json_string_value(json_object_get(j, "sdp"));
  const char *why = NULL;
  char *answer = NULL;
  if (t->rtc_phase != RTC_NONE)
    why = "one offer per session";
  else if (t->proto != P_DESKTOP && t->proto != P_FILES)
    why = "not offered for this protocol"; /* the terminals (spec §8.1) */
  else if (t->recorded)
    why = "the session is recorded by the server";
  else if (!sdp)
    why = "offer without sdp";
  if (!why && rtc_answer(t->a->loop, sdp, strlen(sdp), &channel_cbs, t, &t->rtc,
                         &answer, &why) != 0)
    t->rtc = NULL;
  if (why) {
    /* The viewer's ICE runs out and it stays on the WebSocket. */
    log_info("event=webrtc_refused %s reason=\"%s\"", t->name, why);
    return;
  }
  t->rtc_phase = RTC_OFFERED;
  send_ws_json(t, json_pack("{s:s, s:s, s:s}", "ctrlChannel", "102938", "type",
                            "answer", "sdp", answer));
  free(answer);
  log_info("event=webrtc_answered %s", t->name);
}

int tunnel_rtc_ctrl(struct tunnel *t, const char *type, json_t *j) {
  if (strcmp(type, "offer") == 0) {
    on_offer(t, j);
  } else if (strcmp(type, "webrtc0") == 0) {
    if (t->rtc_phase != RTC_OPEN) return 1;
    t->rtc_phase = RTC_HOLD;
    send_ctrl(t, "webrtc1");
  } else if (strcmp(type, "webrtc1") == 0) {
    if (t->rtc_phase != RTC_HOLD) return 1;
    send_ctrl(t, "webrtc2");
  } else if (strcmp(type, "webrtc2") == 0) {
    if (t->rtc_phase != RTC_HOLD) return 1;
    t->rtc_phase = RTC_ACTIVE;
    log_info("event=webrtc_active %s", t->name);
    flush_out(t);
    tunnel__drain(t);
  } else {
    return 0;
  }
  return 1;
}
