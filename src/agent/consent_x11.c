/*
 * consent_x11.c - the windows of consent.h: the prompt, the toast and
 * the privacy bar, drawn with plain Xlib and the server's built-in
 * "fixed" font, so nothing beyond libX11 is needed on the device.
 *
 * Each window has its own X connection. The connection is opened on the
 * thread pool (XOpenDisplay blocks on a hung server), then everything
 * else runs on the loop: a uv_poll on ConnectionNumber() reads events,
 * and XFlush after each change keeps requests from lingering in Xlib's
 * buffer. The window is created on the pool right after the open (that
 * takes round trips: atoms, the font); on the loop nothing waits for the
 * X server's answer, and the few hundred bytes a redraw sends fit in the
 * socket's buffer.
 *
 * Life: _new -> open on the pool -> window up -> answered or closed ->
 * handles closed -> freed. `owned` says whether the tunnel still holds
 * the object: once it let go (consent_ui_close, or the prompt's callback
 * ran) the object frees itself as soon as its work item and handles are
 * done.
 */
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/keysym.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/consent.h"
#include "agent/x11_errors.h"
#include "base/err.h"
#include "base/log.h"

enum ui_kind { UI_PROMPT, UI_TOAST, UI_BAR };

struct rect {
  int x, y, w, h;
};

struct consent_ui {
  uv_loop_t *loop;
  enum ui_kind kind;
  char display[64];
  struct consent_plan plan;
  consent_answer_cb answer;
  consent_disconnect_cb disconnect;
  void *data;
  struct consent_sm sm;
  uv_work_t work;
  int opening; /* the work item is on the pool */
  int owned;   /* the tunnel still holds this object */
  int down;    /* the window is taken down (or never came up) */
  int lost;    /* the X connection broke (Xlib's exit handler ran) */
  Display *d;
  Window win;
  GC gc;
  XFontStruct *font;
  Atom wm_delete;
  int w, h, line_h, ascent;
  struct rect allow, deny; /* prompt: Allow, Deny; bar: deny = Disconnect */
  uv_poll_t poll;
  int poll_open;
  uv_timer_t timer;
  int timer_open;
  int shown_left; /* the countdown last drawn */
};

/* ------------------------------------------------ Xlib errors */

/* The X server went away (x11_errors.h): the window's owner is told. */
static void ui_io_exit(Display *d, void *data) {
  (void)d;
  ((struct consent_ui *)data)->lost = 1;
}

/* ------------------------------------------------ teardown */

static void maybe_free(struct consent_ui *u) {
  if (u->owned || u->opening || u->poll_open || u->timer_open) return;
  free(u);
}

static void on_poll_closed(uv_handle_t *h) {
  struct consent_ui *u = h->data;
  u->poll_open = 0;
  maybe_free(u);
}

static void on_timer_closed(uv_handle_t *h) {
  struct consent_ui *u = h->data;
  u->timer_open = 0;
  maybe_free(u);
}

/* Takes the window and the connection down. The poll is closed first:
 * libuv stops watching the descriptor in uv_close, so Xlib may close it
 * right after. */
static void take_down(struct consent_ui *u) {
  if (u->down) return;
  u->down = 1;
  if (u->poll_open) uv_close((uv_handle_t *)&u->poll, on_poll_closed);
  if (u->timer_open) uv_close((uv_handle_t *)&u->timer, on_timer_closed);
  if (!u->d) return;
  /* Also on a dead connection: Xlib sends nothing then, but the GC and
   * font structures are freed only here. */
  if (u->win && !u->lost) XDestroyWindow(u->d, u->win);
  if (u->gc) XFreeGC(u->d, u->gc);
  if (u->font) XFreeFont(u->d, u->font);
  XCloseDisplay(u->d);
  u->d = NULL;
}

/* The prompt is answered: tell the owner once, then let go. */
static void finish_prompt(struct consent_ui *u) {
  take_down(u);
  if (u->owned && u->answer) {
    u->owned = 0;
    u->answer(u, u->sm.state == CONSENT_ALLOWED, u->sm.reason, u->data);
  }
  maybe_free(u);
}

/* ------------------------------------------------ drawing */

static int text_w(struct consent_ui *u, const char *s, size_t n) {
  return u->font ? XTextWidth(u->font, s, (int)n) : (int)n * 6;
}

/* Draws s wrapped at spaces into width w from (x, *y), or only counts
 * the lines when draw is 0; advances *y. */
static void wrap(struct consent_ui *u, const char *s, int x, int *y, int w,
                 int draw) {
  while (*s) {
    size_t n = strlen(s), fit = n, last_space = 0;
    for (size_t i = 1; i <= n; i++) {
      if (i == n || s[i] == ' ') {
        if (text_w(u, s, i) > w) break;
        last_space = i;
      }
    }
    fit = last_space ? last_space : n;
    while (fit > 1 && text_w(u, s, fit) > w) fit--; /* one long word */
    if (draw) XDrawString(u->d, u->win, u->gc, x, *y + u->ascent, s, (int)fit);
    *y += u->line_h;
    s += fit;
    while (*s == ' ') s++;
  }
}

static void button(struct consent_ui *u, const struct rect *r,
                   const char *label) {
  XDrawRectangle(u->d, u->win, u->gc, r->x, r->y, (unsigned)r->w,
                 (unsigned)r->h);
  int tw = text_w(u, label, strlen(label));
  XDrawString(u->d, u->win, u->gc, r->x + (r->w - tw) / 2,
              r->y + (r->h - u->line_h) / 2 + u->ascent, label,
              (int)strlen(label));
}

static void redraw(struct consent_ui *u) {
  if (!u->d || u->down || u->lost) return;
  XClearWindow(u->d, u->win);
  int y = 12;
  if (u->kind == UI_BAR) {
    y = (u->h - u->line_h) / 2;
    XDrawString(u->d, u->win, u->gc, 10, y + u->ascent, u->plan.bar,
                (int)strlen(u->plan.bar));
    button(u, &u->deny, "Disconnect");
  } else {
    wrap(u, u->plan.text, 12, &y, u->w - 24, 1);
  }
  if (u->kind == UI_PROMPT) {
    char left[64];
    snprintf(left, sizeof left, "Denied automatically in %d s.",
             consent_sm_left(&u->sm, uv_now(u->loop)));
    XDrawString(u->d, u->win, u->gc, 12, y + u->line_h / 2 + u->ascent, left,
                (int)strlen(left));
    button(u, &u->allow, "Allow (Enter)");
    button(u, &u->deny, "Deny (Esc)");
  }
  XFlush(u->d);
}

/* ------------------------------------------------ events */

static int inside(const struct rect *r, int x, int y) {
  return x >= r->x && x < r->x + r->w && y >= r->y && y < r->y + r->h;
}

static void prompt_event(struct consent_ui *u, enum consent_event ev) {
  if (consent_sm_feed(&u->sm, ev, uv_now(u->loop)) != CONSENT_PENDING)
    finish_prompt(u);
}

static void handle(struct consent_ui *u, XEvent *e) {
  switch (e->type) {
    case Expose:
      if (e->xexpose.count == 0) redraw(u);
      break;
    case MapNotify:
      /* Keys go to the prompt without a click first; a window manager
       * may still keep the focus elsewhere. */
      if (u->kind == UI_PROMPT)
        XSetInputFocus(u->d, u->win, RevertToParent, CurrentTime);
      break;
    case VisibilityNotify:
      /* The bar stays on top of whatever covers it. */
      if (u->kind == UI_BAR && e->xvisibility.state != VisibilityUnobscured)
        XRaiseWindow(u->d, u->win);
      break;
    case KeyPress: {
      if (u->kind != UI_PROMPT) break;
      KeySym k = XLookupKeysym(&e->xkey, 0);
      if (k == XK_Return || k == XK_KP_Enter)
        prompt_event(u, CONSENT_EV_ALLOW);
      else if (k == XK_Escape)
        prompt_event(u, CONSENT_EV_DENY);
      break;
    }
    case ButtonRelease: {
      int x = e->xbutton.x, y = e->xbutton.y;
      if (e->xbutton.button != Button1) break;
      if (u->kind == UI_PROMPT && inside(&u->allow, x, y))
        prompt_event(u, CONSENT_EV_ALLOW);
      else if (u->kind == UI_PROMPT && inside(&u->deny, x, y))
        prompt_event(u, CONSENT_EV_DENY);
      else if (u->kind == UI_BAR && inside(&u->deny, x, y) && u->owned &&
               u->disconnect)
        u->disconnect(u, u->data);
      break;
    }
    case ClientMessage:
      if ((Atom)e->xclient.data.l[0] == u->wm_delete) {
        if (u->kind == UI_PROMPT)
          prompt_event(u, CONSENT_EV_CLOSE);
        else
          take_down(u); /* a toast or bar closed by hand just goes */
      }
      break;
    default:
      break;
  }
}

static void on_readable(uv_poll_t *h, int status, int events) {
  struct consent_ui *u = h->data;
  (void)events;
  /* Xlib reads the socket itself; XPending breaks (exit handler) when
   * the server is gone. */
  while (status == 0 && !u->down && !u->lost && XPending(u->d)) {
    XEvent e;
    XNextEvent(u->d, &e);
    handle(u, &e);
  }
  if (u->down) return;
  if (status < 0 || u->lost) {
    u->lost = 1;
    log_info("event=consent_display_lost display=%s", u->display);
    if (u->kind == UI_PROMPT)
      prompt_event(u, CONSENT_EV_LOST);
    else
      take_down(u);
  }
}

static void on_timer(uv_timer_t *h) {
  struct consent_ui *u = h->data;
  if (u->kind == UI_TOAST) {
    take_down(u);
    return;
  }
  if (consent_sm_feed(&u->sm, CONSENT_EV_TICK, uv_now(u->loop)) !=
      CONSENT_PENDING) {
    finish_prompt(u);
    return;
  }
  int left = consent_sm_left(&u->sm, uv_now(u->loop));
  if (left != u->shown_left) {
    u->shown_left = left;
    redraw(u);
  }
}

/* ------------------------------------------------ window */

/* Lays out and creates the window on the open connection. */
static void create_window(struct consent_ui *u) {
  Display *d = u->d;
  int scr = DefaultScreen(d), sw = DisplayWidth(d, scr),
      sh = DisplayHeight(d, scr);
  u->font = XLoadQueryFont(d, "fixed");
  u->ascent = u->font ? u->font->ascent : 11;
  u->line_h = u->font ? u->font->ascent + u->font->descent + 2 : 15;
  int override = u->kind != UI_PROMPT, bw = 0, bh = u->line_h + 10;
  if (u->kind == UI_BAR) {
    bw = text_w(u, "Disconnect", 10) + 20;
    u->w = text_w(u, u->plan.bar, strlen(u->plan.bar)) + bw + 40;
    if (u->w > sw) u->w = sw;
    u->h = bh + 8;
    u->deny = (struct rect){u->w - bw - 6, 4, bw, bh};
  } else {
    u->w = 440 < sw ? 440 : sw;
    int lines_y = 12;
    wrap(u, u->plan.text, 12, &lines_y, u->w - 24, 0);
    u->h = lines_y + 12;
    if (u->kind == UI_PROMPT) {
      bw = text_w(u, "Allow (Enter)", 13) + 24;
      u->h += u->line_h * 2;
      u->allow = (struct rect){u->w / 2 - bw - 8, u->h, bw, bh};
      u->deny = (struct rect){u->w / 2 + 8, u->h, bw, bh};
      u->h += bh + 12;
    }
  }
  /* Prompt: the middle of the screen; toast: top right; bar: top middle. */
  int x = u->kind == UI_TOAST ? sw - u->w - 16 : (sw - u->w) / 2;
  int y = u->kind == UI_PROMPT ? (sh - u->h) / 3 : u->kind == UI_TOAST ? 16 : 0;
  XSetWindowAttributes a = {
      .background_pixel = WhitePixel(d, scr),
      .border_pixel = BlackPixel(d, scr),
      .override_redirect = override,
      .event_mask = ExposureMask | KeyPressMask | ButtonReleaseMask |
                    StructureNotifyMask | VisibilityChangeMask,
  };
  u->win = XCreateWindow(
      d, RootWindow(d, scr), x, y, (unsigned)u->w, (unsigned)u->h, 1,
      CopyFromParent, InputOutput, CopyFromParent,
      CWBackPixel | CWBorderPixel | CWOverrideRedirect | CWEventMask, &a);
  const char *title = u->kind == UI_PROMPT  ? u->plan.title
                      : u->kind == UI_TOAST ? u->plan.toast_title
                                            : "Remote desktop session";
  XStoreName(d, u->win, title);
  Atom utf8 = XInternAtom(d, "UTF8_STRING", False);
  XChangeProperty(d, u->win, XInternAtom(d, "_NET_WM_NAME", False), utf8, 8,
                  PropModeReplace, (const unsigned char *)title,
                  (int)strlen(title));
  Atom above = XInternAtom(d, "_NET_WM_STATE_ABOVE", False);
  XChangeProperty(d, u->win, XInternAtom(d, "_NET_WM_STATE", False), XA_ATOM,
                  32, PropModeReplace, (const unsigned char *)&above, 1);
  u->wm_delete = XInternAtom(d, "WM_DELETE_WINDOW", False);
  XSetWMProtocols(d, u->win, &u->wm_delete, 1);
  XGCValues gv = {.foreground = BlackPixel(d, scr),
                  .background = WhitePixel(d, scr)};
  unsigned long mask = GCForeground | GCBackground;
  if (u->font) {
    gv.font = u->font->fid;
    mask |= GCFont;
  }
  u->gc = XCreateGC(d, u->win, mask, &gv);
  XMapRaised(d, u->win);
  XFlush(d);
}

/* On the pool: the open and the window's creation, whose round trips
 * (atoms, font) would otherwise wait on the loop. The connection is used
 * by this thread only until the loop's after_open. */
static void open_work(uv_work_t *w) {
  struct consent_ui *u = w->data;
  u->d = XOpenDisplay(u->display);
  if (!u->d) return;
  XSetIOErrorExitHandler(u->d, ui_io_exit, u);
  create_window(u);
}

static void after_open(uv_work_t *w, int status) {
  struct consent_ui *u = w->data;
  u->opening = 0;
  if (!u->owned || status != 0 || !u->d) {
    if (u->owned && !u->d)
      log_warn("event=consent_display_failed display=%s", u->display);
    if (u->kind == UI_PROMPT && u->owned) {
      consent_sm_feed(&u->sm, CONSENT_EV_LOST, uv_now(u->loop));
      u->sm.reason = "The local display could not be opened to ask the user";
      finish_prompt(u);
      return;
    }
    take_down(u);
    maybe_free(u);
    return;
  }
  if (uv_poll_init(u->loop, &u->poll, ConnectionNumber(u->d)) != 0) {
    log_warn(
        "event=consent_display_failed display=%s reason=\"cannot poll "
        "its connection\"",
        u->display);
    if (u->kind == UI_PROMPT) {
      consent_sm_feed(&u->sm, CONSENT_EV_LOST, uv_now(u->loop));
      finish_prompt(u);
      return;
    }
    take_down(u);
    maybe_free(u);
    return;
  }
  u->poll.data = u;
  u->poll_open = 1;
  uv_poll_start(&u->poll, UV_READABLE, on_readable);
  uv_timer_init(u->loop, &u->timer);
  u->timer.data = u;
  u->timer_open = 1;
  if (u->kind == UI_TOAST)
    uv_timer_start(&u->timer, on_timer, CONSENT_TOAST_MS, 0);
  else if (u->kind == UI_PROMPT)
    uv_timer_start(&u->timer, on_timer, 250, 250);
  /* Events may already sit in Xlib's queue. */
  on_readable(&u->poll, 0, UV_READABLE);
}

static int ui_new(uv_loop_t *loop, enum ui_kind kind, const char *display,
                  const struct consent_plan *p, struct consent_ui **out) {
  *out = NULL;
  struct consent_ui *u = calloc(1, sizeof *u);
  if (!u) return MESH_E_NOMEM;
  u->loop = loop;
  u->kind = kind;
  u->plan = *p;
  u->owned = 1;
  snprintf(u->display, sizeof u->display, "%s", display);
  x11_errors_install();
  u->work.data = u;
  u->opening = 1;
  if (uv_queue_work(loop, &u->work, open_work, after_open) != 0) {
    free(u);
    return MESH_E_IO;
  }
  *out = u;
  return 0;
}

int consent_ui_prompt(uv_loop_t *loop, const char *display,
                      const struct consent_plan *p, consent_answer_cb cb,
                      void *data, struct consent_ui **out) {
  struct consent_ui *u;
  int r = ui_new(loop, UI_PROMPT, display, p, &u);
  if (r) return r;
  u->answer = cb;
  u->data = data;
  /* The clock starts now: opening the display counts against it. */
  consent_sm_start(&u->sm, uv_now(loop), p->timeout_s, p->timeout_allow);
  *out = u;
  return 0;
}

int consent_ui_toast(uv_loop_t *loop, const char *display,
                     const struct consent_plan *p, struct consent_ui **out) {
  return ui_new(loop, UI_TOAST, display, p, out);
}

int consent_ui_bar(uv_loop_t *loop, const char *display,
                   const struct consent_plan *p, consent_disconnect_cb cb,
                   void *data, struct consent_ui **out) {
  int r = ui_new(loop, UI_BAR, display, p, out);
  if (r == 0) {
    (*out)->disconnect = cb;
    (*out)->data = data;
  }
  return r;
}

void consent_ui_close(struct consent_ui *u) {
  if (!u) return;
  u->owned = 0;
  if (!u->opening) take_down(u);
  maybe_free(u);
}
