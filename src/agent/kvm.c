/*
 * kvm.c - the remote desktop session on the loop (spec sessions.md §7;
 * kvm.h). Frames are paced here: one frame at a time is captured and
 * encoded on the thread pool; its commands are sent when it comes back;
 * the next one is taken after the frame interval, and only once the
 * tunnel's queue is below MESH_STREAM_LOW_WATER. A frame that would have
 * been taken while the queue was fuller is simply not taken: on a slow
 * link the viewer gets fewer, fresh frames instead of a backlog.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "agent/kvm.h"
#include "agent/tunnel.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mesh_limits.h"
#include "proto/kvm_filter.h"

struct kvm {
  struct tunnel *t; /* NULL once detached */
  uv_timer_t timer;
  int timer_open;
  uv_work_t work;
  int busy;          /* a frame is on the thread pool */
  uint64_t frame_at; /* uv_now() when the last frame was queued */
  uint64_t sent_at;  /* frame_at of the last frame that sent anything */
  int changed;       /* the watch saw a change while a frame was out */
  uv_poll_t *watch;  /* polls the display's watch connection, if any */
  int input;         /* enum kvm_input_mode */
  char display[128];
  struct kvm_x11 *x; /* set by the first frame's after-work */
  /* Settings from the viewer (spec §7.2 COMPRESSION, FRAME_RATE). */
  int quality;
  unsigned scale; /* 1024 = 100% */
  unsigned interval_ms;
  int paused;
  int refresh; /* the next frame resends the screen size and every tile */
  int reopen;  /* attempts so far to reach a display that went away */
  /* The display id to capture: 0 for the default (the one monitor, or
   * all of them; it follows the monitors), or the viewer's SET_DISPLAY
   * (want_set: not taken by a frame yet); a pick that a frame could not
   * honour goes back to 0. */
  uint16_t want;
  int want_set;
  /* What the last frame captured and the size the viewer was sent, to
   * map its mouse coordinates back to screen pixels and to answer
   * GET_DISPLAYS. */
  struct kvmx_view view;
  /* The job: read by the worker, written only while it is not busy. */
  struct kvm_x11 *job_x;
  int job_quality, job_full, job_rc;
  unsigned job_scale;
  uint16_t job_display;
  struct kvm_out out;
  char err[160];
};

int kvm_input_allowed(uint32_t rights, int desktopviewonly) {
  if (desktopviewonly) return KVM_INPUT_NONE;
  /* The mode meshd's relay filters with, for the same rights. */
  switch (kvm_filter_mode_for(rights)) {
    case KVM_FILTER_VIEW_ONLY:
      return KVM_INPUT_NONE;
    case KVM_FILTER_LIMITED:
      return KVM_INPUT_LIMITED;
    default:
      return KVM_INPUT_FULL;
  }
}

/* A display that goes away is looked for again this many times, this far
 * apart, before the session ends. */
#define KVM_REOPEN_TRIES 25
#define KVM_REOPEN_MS 200

static void try_frame(struct kvm *k);
static void watch_stop(struct kvm *k);

static void maybe_free(struct kvm *k) {
  if (k->t || k->busy || k->timer_open) return;
  watch_stop(k);
  kvmx_close(k->x);
  kvm_out_cleanup(&k->out);
  free(k);
}

static void on_timer_closed(uv_handle_t *h) {
  struct kvm *k = h->data;
  k->timer_open = 0;
  maybe_free(k);
}

static void on_timer(uv_timer_t *h) { try_frame(h->data); }

static void schedule(struct kvm *k, unsigned ms) {
  if (k->t && k->timer_open) uv_timer_start(&k->timer, on_timer, ms, 0);
}

/* ------------------------------------------------ the watch connection */

/* Frames are taken every interval_ms while anything may change; when the
 * display has a watch connection (kvm.h), a change after a quiet spell
 * also starts a frame at once, still no sooner than interval_ms after the
 * last one. Without it the interval alone paces frames. */

static void free_handle(uv_handle_t *h) { free(h); }

/* How long a change is left to settle before it is captured: drawing
 * comes in bursts (a window repaints in many requests), and a frame
 * taken at the first one would show it half done until the next. */
#define KVM_SETTLE_MS 4

/* A frame for a change: KVM_SETTLE_MS from now, or interval_ms after the
 * last one that sent something began if that is later (frames that found
 * nothing do not count: they only looked). */
static void schedule_soon(struct kvm *k) {
  uint64_t since = uv_now(tunnel_loop(k->t)) - k->sent_at;
  uint64_t wait = since >= k->interval_ms ? 0 : k->interval_ms - since;
  schedule(k, (unsigned)(wait > KVM_SETTLE_MS ? wait : KVM_SETTLE_MS));
}

static void watch_stop(struct kvm *k) {
  if (!k->watch) return;
  uv_close((uv_handle_t *)k->watch, free_handle);
  k->watch = NULL;
}

static void on_watch(uv_poll_t *p, int status, int events) {
  (void)events;
  struct kvm *k = p->data;
  int changed = status < 0 ? -1 : kvmx_watch_read(k->x);
  if (changed < 0) { /* lost: the frames find out and reopen */
    watch_stop(k);
    return;
  }
  if (!changed || !k->t || k->paused) return;
  if (k->busy)
    k->changed = 1; /* the frame's end schedules the next one */
  else
    schedule_soon(k);
}

static void watch_start(struct kvm *k) {
  int fd = kvmx_watch_fd(k->x);
  if (k->watch || fd < 0) return;
  uv_poll_t *p = malloc(sizeof *p);
  if (!p) return;
  if (uv_poll_init(tunnel_loop(k->t), p, fd) != 0) {
    free(p);
    return;
  }
  p->data = k;
  k->watch = p;
  uv_poll_start(p, UV_READABLE, on_watch);
}

/* Thread pool: open the display the first time, then capture one frame. */
static void work_cb(uv_work_t *w) {
  struct kvm *k = w->data;
  kvm_out_reset(&k->out);
  if (!k->job_x) {
    k->job_x = kvmx_open(k->display, k->input != KVM_INPUT_NONE, k->err,
                         sizeof k->err);
    if (!k->job_x) {
      k->job_rc = MESH_E_IO;
      return;
    }
  }
  k->job_rc = kvmx_frame(k->job_x, k->job_quality, k->job_scale, k->job_display,
                         k->job_full, &k->out, k->err, sizeof k->err);
}

/* Sends an ERROR command (the viewer shows it) and the console error,
 * then closes the tunnel. */
static void fail(struct kvm *k, const char *text) {
  uint8_t m[200];
  size_t n = kvm_put_text(m, sizeof m, KVM_ERROR, text, strlen(text));
  tunnel_send(k->t, WS_BINARY, m, n);
  tunnel_refuse(k->t, text);
}

static void after_work_cb(uv_work_t *w, int status) {
  struct kvm *k = w->data;
  k->busy = 0;
  if (k->job_x) k->x = k->job_x;
  if (!k->t) {
    maybe_free(k);
    return;
  }
  if (status == 0 && k->job_rc == MESH_E_IO && (k->x || k->reopen) &&
      k->reopen < KVM_REOPEN_TRIES) {
    /* The X server went away (restarted with another size, a new login):
     * start over, on the display found now (a new login may bring another
     * one, and has a new cookie), which sends its new size. */
    if (!k->reopen)
      log_info("event=desktop_reconnect %s reason=\"%s\"", tunnel_name(k->t),
               k->err);
    const char *why;
    char display[sizeof k->display];
    if (kvm_find_display(display, sizeof display, &why) == 0)
      memcpy(k->display, display, sizeof display);
    watch_stop(k);
    kvmx_close(k->x);
    k->x = k->job_x = NULL;
    k->refresh = 1;
    k->reopen++;
    schedule(k, KVM_REOPEN_MS);
    return;
  }
  if (status != 0 || k->job_rc != 0) {
    fail(k, status ? "desktop capture was cancelled" : k->err);
    return;
  }
  k->reopen = 0;
  watch_start(k);
  kvmx_view(k->x, &k->view);
  /* A pick that the frame could not honour (its monitor went away) goes
   * back to the default. */
  if (!k->want_set && k->want != k->view.display) k->want = 0;
  if (k->out.n) k->sent_at = k->frame_at;
  size_t start = 0;
  for (size_t i = 0; i < k->out.n && k->t; i++) {
    if (tunnel_send(k->t, WS_BINARY, k->out.data + start,
                    k->out.ends[i] - start) != 0)
      return; /* closing: the detach follows */
    start = k->out.ends[i];
  }
  if (k->changed) {
    k->changed = 0;
    schedule_soon(k);
  } else {
    schedule(k, k->interval_ms);
  }
}

static void try_frame(struct kvm *k) {
  if (!k->t || k->busy || k->paused) return;
  if (tunnel_queued(k->t) >= MESH_STREAM_LOW_WATER) {
    /* The viewer has not taken the last frame yet: skip this one and look
     * again later (kvm_drain comes first if the queue passed the high
     * mark). */
    schedule(k, k->interval_ms);
    return;
  }
  uv_timer_stop(&k->timer);
  k->job_quality = k->quality;
  k->job_scale = k->scale;
  k->job_full = k->refresh;
  k->job_display = k->want;
  k->want_set = 0;
  k->refresh = 0;
  k->busy = 1;
  k->frame_at = uv_now(tunnel_loop(k->t));
  /* Changes from now on wake the loop again (one wake-up per frame). */
  if (k->x) kvmx_watch_rearm(k->x);
  k->work.data = k;
  if (uv_queue_work(tunnel_loop(k->t), &k->work, work_cb, after_work_cb)) {
    k->busy = 0;
    fail(k, "cannot queue desktop capture");
  }
}

int kvm_find_display(char *out, size_t cap, const char **why) {
  /* An XAUTHORITY the agent was started with is the owner's choice and
   * kept; one found here is looked for again each time, since the cookie
   * changes with every login (an agent started at boot first finds the
   * greeter's). */
  static int given = -1;
  if (given < 0) given = getenv("XAUTHORITY") != NULL;
  char xauth[PATH_MAX];
  int r = kvmx_pick_display(getenv("DISPLAY"), getenv("WAYLAND_DISPLAY"),
                            "/tmp/.X11-unix", out, cap, xauth,
                            given ? 0 : sizeof xauth, why);
  if (r) return r;
  /* Xlib reads XAUTHORITY when a display is opened; set it here, on the
   * loop, before a worker opens this display. A worker opening one
   * meanwhile reads the old value or the new (glibc swaps the entry's
   * pointer and never frees the old string). */
  const char *now = getenv("XAUTHORITY");
  if (!given && xauth[0] && (!now || strcmp(now, xauth) != 0))
    setenv("XAUTHORITY", xauth, 1);
  return 0;
}

int kvm_start(struct tunnel *t, int input, struct kvm **out, const char **why) {
  struct kvm *k = calloc(1, sizeof *k);
  if (!k) {
    *why = "out of memory";
    return MESH_E_NOMEM;
  }
  int r = kvm_find_display(k->display, sizeof k->display, why);
  if (r) {
    free(k);
    return r;
  }
  k->t = t;
  k->input = input;
  k->quality = 50;
  k->scale = KVM_SCALE_FULL;
  k->interval_ms = 100; /* stock default until the viewer sets one */
  k->refresh = 1;
  uv_timer_init(tunnel_loop(t), &k->timer);
  k->timer.data = k;
  k->timer_open = 1;
  log_info("event=desktop_start %s display=%s input=%s", tunnel_name(t),
           k->display,
           input == KVM_INPUT_FULL      ? "yes"
           : input == KVM_INPUT_LIMITED ? "limited"
                                        : "view-only");
  *out = k;
  try_frame(k);
  return 0;
}

static void clamp_interval(struct kvm *k, unsigned ms) {
  if (ms >= 20 && ms <= 5000) k->interval_ms = ms;
}

/* SET_DISPLAY from the viewer: one it was offered is captured from the
 * next frame on (which sends SET_DISPLAY, SCREEN and every tile); for
 * any other id the viewer is told the current one again. */
static void set_display(struct kvm *k, uint16_t id) {
  int known = id == KVM_ALL_DISPLAYS && k->view.n > 1;
  for (size_t i = 0; i < k->view.n; i++)
    if (k->view.mon[i].id == id) known = 1;
  if (!k->x || !known) {
    uint8_t m[6];
    log_info("event=desktop_display %s id=%u result=unknown", tunnel_name(k->t),
             (unsigned)id);
    if (k->x)
      tunnel_send(k->t, WS_BINARY, m, kvm_put_set_display(m, k->view.display));
    return;
  }
  if (id == k->want) return;
  k->want = id;
  k->want_set = 1;
  try_frame(k);
}

static void command(struct kvm *k, const struct kvm_input *in) {
  /* DESKLIMITEDINPUT: the rule meshd's relay applies too (one function
   * for both), so a hand-made viewer or another server cannot pass Ctrl,
   * Alt, Windows or control characters to this agent. */
  if (k->input == KVM_INPUT_LIMITED &&
      !kvm_filter_allows(KVM_FILTER_LIMITED, in))
    return;
  switch (in->type) {
    case KVM_COMPRESSION:
      /* The image type is not read: tiles are always JPEG (a browser
       * sniffs the real type). A field left off or out of the spec's
       * range keeps its value. A new scale takes effect with the next
       * frame, which sends the new SCREEN size and every tile. */
      if (in->u.comp.quality >= 1 && in->u.comp.quality <= 100)
        k->quality = in->u.comp.quality;
      if (in->u.comp.scaling >= KVM_SCALE_MIN &&
          in->u.comp.scaling <= KVM_SCALE_MAX)
        k->scale = in->u.comp.scaling;
      clamp_interval(k, in->u.comp.interval);
      break;
    case KVM_FRAME_RATE:
      clamp_interval(k, in->u.interval);
      break;
    case KVM_REFRESH:
      k->refresh = 1;
      try_frame(k);
      break;
    case KVM_PAUSE:
      k->paused = in->u.pause == 1;
      if (!k->paused) try_frame(k);
      break;
    case KVM_MOUSE: {
      /* The viewer's coordinates are in the SCREEN size it was sent, from
       * the top-left of the display it sees. */
      struct kvm_input m = *in;
      m.u.mouse.x = (uint16_t)(k->view.x + kvm_unscale(in->u.mouse.x, k->view.w,
                                                       k->view.sw));
      m.u.mouse.y = (uint16_t)(k->view.y + kvm_unscale(in->u.mouse.y, k->view.h,
                                                       k->view.sh));
      if (k->x) kvmx_input(k->x, &m);
      break;
    }
    case KVM_GET_DISPLAYS:
      /* Before the first frame there is nothing to tell: that frame
       * sends the list anyway. */
      if (k->x) {
        uint8_t m[8 + 2 * (KVMX_MAX_MONITORS + 1)];
        tunnel_send(k->t, WS_BINARY, m,
                    kvmx_put_displays(&k->view, m, sizeof m));
      }
      break;
    case KVM_SET_DISPLAY:
      set_display(k, in->u.display);
      break;
    case KVM_KEY:
    case KVM_KEY_UNICODE:
      if (k->x) kvmx_input(k->x, in);
      break;
    default:
      break; /* touch, input lock: not on this agent (docs) */
  }
}

void kvm_message(struct kvm *k, enum ws_type type, const uint8_t *p, size_t n) {
  if (!k->t) return;
  if (type == WS_TEXT) {
    json_t *j = n <= MESH_FILES_MAX_COMMAND
                    ? json_loadb((const char *)p, n, 0, NULL)
                    : NULL;
    if (json_is_object(j)) tunnel_ctrl(k->t, j);
    json_decref(j);
    return;
  }
  /* View-only: nothing from the viewer is read at all (spec §4.3). */
  if (k->input == KVM_INPUT_NONE) return;
  size_t off = 0;
  while (off < n && k->t) {
    struct kvm_input in;
    const char *why = "truncated KVM command";
    ssize_t r = kvm_decode(p + off, n - off, &in, &why);
    if (r < 0) {
      log_warn("event=desktop_bad_input %s reason=\"%s\"", tunnel_name(k->t),
               why);
      tunnel_close(k->t, 1008, why);
      return;
    }
    command(k, &in);
    off += (size_t)r;
  }
}

void kvm_drain(struct kvm *k) { try_frame(k); }

void kvm_detach(struct kvm *k) {
  k->t = NULL;
  watch_stop(k);
  if (k->timer_open) uv_close((uv_handle_t *)&k->timer, on_timer_closed);
}
