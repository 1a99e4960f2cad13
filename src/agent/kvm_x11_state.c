/*
 * kvm_x11_state.c - the cursor shape and the lock keys for the remote
 * desktop viewer (spec sessions.md §7.2 MOUSE_CURSOR and KEYSTATE).
 *
 * Cursor: XFixes (libXfixes loaded with dlopen, like libXdamage) reports
 * each change of the displayed cursor with the cursor's name, which
 * toolkits and libXcursor set from the cursor theme ("left_ptr", "xterm",
 * "hand2", or the CSS names of newer themes). The name is mapped to the
 * viewer's cursor id (kvmx_cursor_id); a cursor without a name, or one
 * not in the table, is the arrow.
 *
 * Lock keys: XKB (part of libX11) reports indicator changes; the Caps,
 * Num and Scroll Lock indicators are found by name once.
 *
 * Both arrive as events on the capture connection, read by kvm_x11.c
 * with the damage events on the worker thread.
 */
#include <X11/XKBlib.h>
#include <X11/extensions/Xfixes.h>
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "agent/kvm_x11_priv.h"
#include "base/err.h"

/* KEYSTATE bits (spec §7.2). */
#define KEYS_NUM 1
#define KEYS_SCROLL 2
#define KEYS_CAPS 4

static const struct {
  const char *name;
  uint8_t id;
} cursors[] = {
    /* X cursor-font names, then the CSS / freedesktop names themes use. */
    {"left_ptr", 0},
    {"arrow", 0},
    {"top_left_arrow", 0},
    {"default", 0},
    {"left_ptr_watch", 1},
    {"half-busy", 1},
    {"progress", 1},
    {"crosshair", 2},
    {"cross", 2},
    {"tcross", 2},
    {"cross_reverse", 2},
    {"hand1", 3},
    {"hand2", 3},
    {"hand", 3},
    {"pointer", 3},
    {"pointing_hand", 3},
    {"question_arrow", 4},
    {"help", 4},
    {"whats_this", 4},
    {"left_ptr_help", 4},
    {"xterm", 5},
    {"text", 5},
    {"ibeam", 5},
    {"vertical-text", 5},
    {"no-drop", 6},
    {"dnd-no-drop", 6},
    {"fleur", 7},
    {"move", 7},
    {"all-scroll", 7},
    {"size_all", 7},
    {"nesw-resize", 8},
    {"size_bdiag", 8},
    {"bottom_left_corner", 8},
    {"top_right_corner", 8},
    {"ne-resize", 8},
    {"sw-resize", 8},
    {"ns-resize", 9},
    {"sb_v_double_arrow", 9},
    {"v_double_arrow", 9},
    {"size_ver", 9},
    {"top_side", 9},
    {"bottom_side", 9},
    {"n-resize", 9},
    {"s-resize", 9},
    {"nwse-resize", 10},
    {"size_fdiag", 10},
    {"top_left_corner", 10},
    {"bottom_right_corner", 10},
    {"nw-resize", 10},
    {"se-resize", 10},
    {"ew-resize", 11},
    {"sb_h_double_arrow", 11},
    {"h_double_arrow", 11},
    {"size_hor", 11},
    {"left_side", 11},
    {"right_side", 11},
    {"e-resize", 11},
    {"w-resize", 11},
    {"sb_up_arrow", 12},
    {"center_ptr", 12},
    {"up-arrow", 12},
    {"watch", 13},
    {"wait", 13},
    {"clock", 13},
    {"none", 14},
    {"not-allowed", 15},
    {"crossed_circle", 15},
    {"circle", 15},
    {"forbidden", 15},
    {"col-resize", 16},
    {"split_h", 16},
    {"row-resize", 17},
    {"split_v", 17},
    {"copy", 18},
    {"dnd-copy", 18},
    {"zoom-in", 19},
    {"zoom-out", 20},
};

int kvmx_cursor_id(const char *name) {
  if (!name) return 0;
  for (size_t i = 0; i < sizeof cursors / sizeof cursors[0]; i++)
    if (strcmp(cursors[i].name, name) == 0) return cursors[i].id;
  return 0;
}

/* libXfixes, when it can be loaded. Resolved once for the process. */
static struct {
  Bool (*query)(Display *, int *, int *);
  Status (*version)(Display *, int *, int *);
  void (*select)(Display *, Window, unsigned long);
  XFixesCursorImage *(*image)(Display *);
} xf;
static pthread_once_t xf_once = PTHREAD_ONCE_INIT;

static void xf_load(void) {
  void *h = dlopen("libXfixes.so.3", RTLD_NOW | RTLD_LOCAL);
  if (!h) return;
  /* Kept loaded for the life of the process, like Xlib's own modules. */
  *(void **)&xf.query = dlsym(h, "XFixesQueryExtension");
  *(void **)&xf.version = dlsym(h, "XFixesQueryVersion");
  *(void **)&xf.select = dlsym(h, "XFixesSelectCursorInput");
  *(void **)&xf.image = dlsym(h, "XFixesGetCursorImage");
  if (!xf.query || !xf.version || !xf.select || !xf.image)
    memset(&xf, 0, sizeof xf);
}

/* The cursor id for a cursor name atom (None: no name). */
static int atom_cursor(struct kvm_x11 *x, Atom a) {
  if (a == None) return 0;
  char *name = XGetAtomName(x->cap, a);
  int id = kvmx_cursor_id(name);
  if (name) XFree(name);
  return id;
}

/* The lock-key bits from an XKB indicator state. */
static int lock_keys(const struct kvm_x11 *x, unsigned state) {
  int k = 0;
  if (x->ind_num >= 0 && (state & (1u << x->ind_num))) k |= KEYS_NUM;
  if (x->ind_scroll >= 0 && (state & (1u << x->ind_scroll))) k |= KEYS_SCROLL;
  if (x->ind_caps >= 0 && (state & (1u << x->ind_caps))) k |= KEYS_CAPS;
  return k;
}

static int indicator(Display *d, const char *name) {
  int ndx = -1;
  Bool on;
  if (!XkbGetNamedIndicator(d, XInternAtom(d, name, False), &ndx, &on, NULL,
                            NULL) ||
      ndx < 0 || ndx > 31)
    return -1;
  return ndx;
}

void kvmx_state_open(struct kvm_x11 *x) {
  int err, maj = 0, min = 0;
  x->fixes_event = x->xkb_event = -1;
  x->cursor = x->keys = 0;
  x->cursor_sent = x->keys_sent = -1;
  pthread_once(&xf_once, xf_load);
  if (xf.query && xf.query(x->cap, &x->fixes_event, &err) &&
      xf.version(x->cap, &maj, &min) && maj >= 2) {
    xf.select(x->cap, x->root, XFixesDisplayCursorNotifyMask);
    XFixesCursorImage *ci = xf.image(x->cap);
    if (ci) {
      x->cursor = atom_cursor(x, ci->atom);
      XFree(ci);
    }
  } else {
    x->fixes_event = -1;
  }
  int op, xkb_err;
  maj = XkbMajorVersion;
  min = XkbMinorVersion;
  if (XkbQueryExtension(x->cap, &op, &x->xkb_event, &xkb_err, &maj, &min)) {
    x->ind_num = indicator(x->cap, "Num Lock");
    x->ind_scroll = indicator(x->cap, "Scroll Lock");
    x->ind_caps = indicator(x->cap, "Caps Lock");
    XkbSelectEvents(x->cap, XkbUseCoreKbd, XkbIndicatorStateNotifyMask,
                    XkbIndicatorStateNotifyMask);
    unsigned state = 0;
    if (XkbGetIndicatorState(x->cap, XkbUseCoreKbd, &state) == Success)
      x->keys = lock_keys(x, state);
  } else {
    x->xkb_event = -1;
  }
}

int kvmx_state_event(struct kvm_x11 *x, const XEvent *e) {
  if (x->fixes_event >= 0 && e->type == x->fixes_event + XFixesCursorNotify) {
    x->cursor =
        atom_cursor(x, ((const XFixesCursorNotifyEvent *)e)->cursor_name);
    return 1;
  }
  if (x->xkb_event >= 0 && e->type == x->xkb_event) {
    const XkbEvent *k = (const XkbEvent *)e;
    if (k->any.xkb_type == XkbIndicatorStateNotify)
      x->keys = lock_keys(x, k->indicators.state);
    return 1;
  }
  return 0;
}

int kvmx_state_put_keys(struct kvm_x11 *x, int full, struct kvm_out *out) {
  if (x->xkb_event < 0 || (!full && x->keys == x->keys_sent)) return 0;
  uint8_t m[5];
  kvm_put_header(m, KVM_KEYSTATE, sizeof m);
  m[4] = (uint8_t)x->keys;
  x->keys_sent = x->keys;
  return kvmx_out_add(out, m, sizeof m, NULL, 0);
}

int kvmx_state_put_cursor(struct kvm_x11 *x, int full, struct kvm_out *out) {
  if (x->fixes_event < 0 || (!full && x->cursor == x->cursor_sent)) return 0;
  uint8_t m[5];
  kvm_put_header(m, KVM_MOUSE_CURSOR, sizeof m);
  m[4] = (uint8_t)x->cursor;
  x->cursor_sent = x->cursor;
  return kvmx_out_add(out, m, sizeof m, NULL, 0);
}
