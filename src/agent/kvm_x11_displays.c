/*
 * kvm_x11_displays.c - several displays for the remote desktop (spec
 * sessions.md §7.2 GET_DISPLAYS, SET_DISPLAY, DISPLAY_INFO; §7.4).
 *
 * The displays are the RandR 1.5 monitors of the screen (XRRGetMonitors:
 * outputs and monitors set with `xrandr --setmonitor`), numbered 1..N in
 * the server's order; KVM_ALL_DISPLAYS is the whole root window. With one
 * monitor that one is captured; with several, all of them unless the
 * viewer picked one. libXrandr is loaded with dlopen like libXdamage:
 * without it (or without RandR 1.5) the whole screen is the one display.
 *
 * The list is asked for again every KVMX_POLL_MS while frames are taken
 * (one small round trip), which is how monitors added, moved or removed
 * are followed: RandR has no event for client-defined monitors.
 */
#include <X11/extensions/Xrandr.h>
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "agent/kvm_x11_priv.h"
#include "agent/x11_errors.h"
#include "base/err.h"

#define KVMX_POLL_MS 250

static struct {
  Bool (*query)(Display *, int *, int *);
  Status (*version)(Display *, int *, int *);
  XRRMonitorInfo *(*get)(Display *, Window, Bool, int *);
  void (*free_monitors)(XRRMonitorInfo *);
} xr;
static pthread_once_t xr_once = PTHREAD_ONCE_INIT;

static void xr_load(void) {
  void *h = dlopen("libXrandr.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!h) return;
  /* Kept loaded for the life of the process, like Xlib's own modules. */
  *(void **)&xr.query = dlsym(h, "XRRQueryExtension");
  *(void **)&xr.version = dlsym(h, "XRRQueryVersion");
  *(void **)&xr.get = dlsym(h, "XRRGetMonitors");
  *(void **)&xr.free_monitors = dlsym(h, "XRRFreeMonitors");
  if (!xr.query || !xr.version || !xr.get || !xr.free_monitors)
    memset(&xr, 0, sizeof xr);
}

void kvmx_displays_open(struct kvm_x11 *x) {
  int ev, er, maj = 0, min = 0;
  pthread_once(&xr_once, xr_load);
  x->randr = xr.query && xr.query(x->cap, &ev, &er) &&
             xr.version(x->cap, &maj, &min) &&
             (maj > 1 || (maj == 1 && min >= 5));
}

static long ms_since(const struct timespec *a, const struct timespec *b) {
  return (b->tv_sec - a->tv_sec) * 1000L + (b->tv_nsec - a->tv_nsec) / 1000000L;
}

/* Lists the monitors into mon, clipped to the gw x gh root; ones wholly
 * outside it are left out. Returns how many, or -1 when the server
 * refused the request. */
static int list_monitors(struct kvm_x11 *x, int gw, int gh,
                         struct kvm_monitor *mon) {
  int n = 0, k = 0;
  x11_error = 0;
  XRRMonitorInfo *m = xr.get(x->cap, x->root, True, &n);
  if (!m || x11_error) {
    if (m) xr.free_monitors(m);
    return -1;
  }
  for (int i = 0; i < n && k < KVMX_MAX_MONITORS; i++) {
    int x0 = m[i].x < 0 ? 0 : m[i].x, y0 = m[i].y < 0 ? 0 : m[i].y;
    int x1 = m[i].x + m[i].width, y1 = m[i].y + m[i].height;
    if (x1 > gw) x1 = gw;
    if (y1 > gh) y1 = gh;
    if (x1 <= x0 || y1 <= y0) continue;
    mon[k] = (struct kvm_monitor){(uint16_t)(k + 1), (uint16_t)x0, (uint16_t)y0,
                                  (uint16_t)(x1 - x0), (uint16_t)(y1 - y0)};
    k++;
  }
  xr.free_monitors(m);
  return k;
}

int kvmx_displays_update(struct kvm_x11 *x, uint16_t want, int gw, int gh,
                         int force, int r[4]) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int changed = 0;
  if (x->randr && (force || !x->display || (want && want != x->display) ||
                   ms_since(&x->polled, &now) >= KVMX_POLL_MS)) {
    struct kvm_monitor mon[KVMX_MAX_MONITORS];
    int n = list_monitors(x, gw, gh, mon);
    if (x->lost) return MESH_E_IO;
    if (n < 0) n = 0; /* treated as no RandR: the whole screen */
    x->polled = now;
    if ((size_t)n != x->nmon || memcmp(mon, x->mon, (size_t)n * sizeof *mon)) {
      memcpy(x->mon, mon, (size_t)n * sizeof *mon);
      x->nmon = (size_t)n;
      changed = 1;
    }
  }
  /* 0, or an id that is not (or no longer) there, means the default,
   * which follows the monitors: the one there is, or all of them. */
  if (want != KVM_ALL_DISPLAYS && (want < 1 || want > x->nmon))
    want = x->nmon == 1 ? 1 : KVM_ALL_DISPLAYS;
  if (want != x->display) changed = 1;
  x->display = want;
  if (want == KVM_ALL_DISPLAYS) {
    r[0] = r[1] = 0;
    r[2] = gw;
    r[3] = gh;
  } else {
    const struct kvm_monitor *m = &x->mon[want - 1];
    r[0] = m->x;
    r[1] = m->y;
    r[2] = m->w;
    r[3] = m->h;
  }
  return changed;
}

size_t kvmx_put_displays(const struct kvmx_view *v, uint8_t *out, size_t cap) {
  uint16_t ids[KVMX_MAX_MONITORS + 1];
  size_t n = 0;
  for (; n < v->n; n++) ids[n] = v->mon[n].id;
  if (v->n > 1) ids[n++] = KVM_ALL_DISPLAYS;
  return kvm_put_displays(out, cap, ids, n, v->display);
}

int kvmx_displays_put_current(struct kvm_x11 *x, struct kvm_out *out) {
  uint8_t m[6];
  return kvmx_out_add(out, m, kvm_put_set_display(m, x->display), NULL, 0);
}

int kvmx_displays_put_list(struct kvm_x11 *x, struct kvm_out *out) {
  uint8_t m[4 + 10 * KVMX_MAX_MONITORS + 8 + 2 * (KVMX_MAX_MONITORS + 1)];
  struct kvmx_view v;
  size_t n;
  int r = 0;
  kvmx_view(x, &v);
  if (x->nmon) {
    n = kvm_put_display_info(m, sizeof m, x->mon, x->nmon);
    r = kvmx_out_add(out, m, n, NULL, 0);
  }
  if (!r) {
    n = kvmx_put_displays(&v, m, sizeof m);
    r = kvmx_out_add(out, m, n, NULL, 0);
  }
  return r;
}
