/*
 * kvm_x11.c - X11 capture and JPEG tiles for the remote desktop (spec
 * sessions.md §7.4). See kvm.h for the threading rules:
 * the capture connection is used by one worker at a time, the input
 * connection only on the loop; the two never share a Display.
 *
 * When the server has DAMAGE (libXdamage, loaded with dlopen so the agent
 * runs without it), a frame is taken only after the server reported
 * damage since the last one: an idle screen costs one round trip per
 * frame interval. What changed is then found as without it, by hashing
 * 64x64 tiles against the previous frame (one pass over a 1080p frame
 * costs a few milliseconds, off the loop). Changed tiles are merged into
 * rectangles (kvm_tiles.c), each JPEG-encoded straight out of the
 * shared-memory image. The captured rectangle is the display the
 * viewer picked (kvm_x11_displays.c); the cursor shape and lock keys come
 * from kvm_x11_state.c; input is in kvm_x11_input.c.
 */
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XShm.h>
#include <X11/extensions/XTest.h>
#include <X11/extensions/Xdamage.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "agent/kvm_x11_priv.h"
#include "agent/x11_errors.h"
#include "base/err.h"

#define KVMX_TILE 64

/* A broken connection must not end the agent (x11_errors.h): the
 * session is marked lost. */
static void on_io_exit(Display *d, void *data) {
  (void)d;
  *(int *)data = 1;
}

/* ------------------------------------------------ frame output */

void kvm_out_reset(struct kvm_out *o) {
  o->len = 0;
  o->n = 0;
}

void kvm_out_cleanup(struct kvm_out *o) {
  free(o->data);
  free(o->ends);
  memset(o, 0, sizeof *o);
}

int kvmx_out_add(struct kvm_out *o, const uint8_t *h, size_t hn,
                 const uint8_t *b, size_t bn) {
  if (o->len + hn + bn > o->cap) {
    size_t c = o->cap ? o->cap : 65536;
    while (c < o->len + hn + bn) c *= 2;
    uint8_t *d = realloc(o->data, c);
    if (!d) return MESH_E_NOMEM;
    o->data = d;
    o->cap = c;
  }
  if (o->n == o->ncap) {
    size_t c = o->ncap ? o->ncap * 2 : 64;
    size_t *e = realloc(o->ends, c * sizeof *e);
    if (!e) return MESH_E_NOMEM;
    o->ends = e;
    o->ncap = c;
  }
  memcpy(o->data + o->len, h, hn);
  if (bn) memcpy(o->data + o->len + hn, b, bn);
  o->len += hn + bn;
  o->ends[o->n++] = o->len;
  return 0;
}

/* ------------------------------------------------ damage */

/* libXdamage, when it can be loaded. Resolved once for the process. */
static struct {
  Bool (*query)(Display *, int *, int *);
  Damage (*create)(Display *, Drawable, int);
  void (*destroy)(Display *, Damage);
  void (*subtract)(Display *, Damage, XserverRegion, XserverRegion);
} xd;
static pthread_once_t xd_once = PTHREAD_ONCE_INIT;

static void xd_load(void) {
  void *h = dlopen("libXdamage.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return;
  /* Kept loaded for the life of the process, like Xlib's own modules. */
  *(void **)&xd.query = dlsym(h, "XDamageQueryExtension");
  *(void **)&xd.create = dlsym(h, "XDamageCreate");
  *(void **)&xd.destroy = dlsym(h, "XDamageDestroy");
  *(void **)&xd.subtract = dlsym(h, "XDamageSubtract");
  if (!xd.query || !xd.create || !xd.destroy || !xd.subtract)
    memset(&xd, 0, sizeof xd);
}

/* Starts damage tracking on the root window, when the server can. */
static void damage_start(struct kvm_x11 *x) {
  int err;
  pthread_once(&xd_once, xd_load);
  if (!xd.query || !xd.query(x->cap, &x->damage_event, &err)) return;
  x11_error = 0;
  /* NonEmpty: one event each time the region goes from empty to not;
   * the frame empties it again before grabbing. */
  x->damage = xd.create(x->cap, x->root, XDamageReportNonEmpty);
  XSync(x->cap, False);
  if (x11_error) x->damage = 0;
  x->damaged = 1;
}

/* Reads the events that came in: damage, cursor and lock-key changes. */
static void read_events(struct kvm_x11 *x) {
  while (XPending(x->cap)) {
    XEvent e;
    XNextEvent(x->cap, &e);
    if (x->damage && e.type == x->damage_event + XDamageNotify)
      x->damaged = 1;
    else
      kvmx_state_event(x, &e);
  }
}

/* Whether the screen may have changed since the last frame (after
 * read_events); empties the damage region before the grab so that a
 * change during the grab is reported for the next frame. */
static int damage_check(struct kvm_x11 *x) {
  if (!x->damage) return 1;
  if (!x->damaged) return 0;
  x->damaged = 0;
  xd.subtract(x->cap, x->damage, None, None);
  return 1;
}

/* ------------------------------------------------ open / close */

static void free_image(struct kvm_x11 *x) {
  if (x->img) {
    /* A dead connection cannot detach; the segment is already marked for
     * removal, so the server's side goes with its connection. */
    if (x->shm_ok && !x->lost) {
      XShmDetach(x->cap, &x->shm);
      XSync(x->cap, False);
    }
    XDestroyImage(x->img); /* frees data only for a non-SHM image */
    if (x->shm_ok) shmdt(x->shm.shmaddr);
    x->img = NULL;
  }
  free(x->rgb);
  free(x->hash);
  free(x->row);
  kvmt_free(&x->plan);
  free(x->scaled);
  x->rgb = NULL;
  x->hash = NULL;
  x->row = NULL;
  x->scaled = NULL;
}

/* Sets up the shared-memory image for a w x h screen; 0 or the image
 * stays NULL and capture falls back to XGetImage. */
static void shm_image(struct kvm_x11 *x) {
  int scr = DefaultScreen(x->cap);
  x->img = XShmCreateImage(x->cap, DefaultVisual(x->cap, scr),
                           (unsigned)DefaultDepth(x->cap, scr), ZPixmap, NULL,
                           &x->shm, (unsigned)x->w, (unsigned)x->h);
  if (!x->img) return;
  x->shm.shmid =
      shmget(IPC_PRIVATE, (size_t)x->img->bytes_per_line * (size_t)x->h,
             IPC_CREAT | 0600);
  void *addr = x->shm.shmid >= 0 ? shmat(x->shm.shmid, NULL, 0) : (void *)-1;
  if (addr == (void *)-1) {
    if (x->shm.shmid >= 0) shmctl(x->shm.shmid, IPC_RMID, NULL);
    XDestroyImage(x->img);
    x->img = NULL;
    return;
  }
  x->shm.shmaddr = x->img->data = addr;
  x->shm.readOnly = False;
  x11_error = 0;
  XShmAttach(x->cap, &x->shm);
  XSync(x->cap, False);
  /* Removed now, so the segment goes away with the last detach even if
   * the agent dies. */
  shmctl(x->shm.shmid, IPC_RMID, NULL);
  if (x11_error) { /* a server that cannot attach (other host, no access) */
    x->img->data = NULL;
    XDestroyImage(x->img);
    shmdt(addr);
    x->img = NULL;
    return;
  }
  x->shm_ok = 1;
}

static Display *open_one(const char *display, int *lost) {
  Display *d = XOpenDisplay(display);
  if (d) XSetIOErrorExitHandler(d, on_io_exit, lost);
  return d;
}

/* Opens the watch connection (kvm.h) once the capture connection has
 * DAMAGE. Worker thread, inside kvmx_open; a failure only leaves frames
 * at their fixed interval. */
static void watch_open(struct kvm_x11 *x, const char *display) {
  int event, err;
  x->watch = open_one(display, &x->watch_lost);
  if (!x->watch || !xd.query(x->watch, &event, &err)) goto fail;
  x11_error = 0;
  x->watch_damage =
      xd.create(x->watch, DefaultRootWindow(x->watch), XDamageReportNonEmpty);
  XSync(x->watch, False);
  if (!x11_error && !x->watch_lost) return;
fail:
  if (x->watch) XCloseDisplay(x->watch);
  x->watch = NULL;
  x->watch_damage = 0;
}

int kvmx_watch_fd(const struct kvm_x11 *x) {
  return x->watch && !x->watch_lost ? ConnectionNumber(x->watch) : -1;
}

int kvmx_watch_read(struct kvm_x11 *x) {
  int changed = 0;
  /* Only DAMAGE is asked for on this connection: any event is one. */
  while (x->watch && !x->watch_lost && XPending(x->watch)) {
    XEvent e;
    XNextEvent(x->watch, &e);
    changed = 1;
  }
  return !x->watch || x->watch_lost ? -1 : changed;
}

void kvmx_watch_rearm(struct kvm_x11 *x) {
  if (!x->watch || x->watch_lost) return;
  xd.subtract(x->watch, x->watch_damage, None, None);
  XFlush(x->watch);
}

struct kvm_x11 *kvmx_open(const char *display, int with_input, char *err,
                          size_t err_len) {
  struct kvm_x11 *x = calloc(1, sizeof *x);
  if (!x) {
    snprintf(err, err_len, "out of memory");
    return NULL;
  }
  x11_errors_install();
  x->cap = open_one(display, &x->lost);
  if (!x->cap) {
    snprintf(err, err_len, "cannot open X display %s", display);
    goto fail;
  }
  int scr = DefaultScreen(x->cap);
  if (DefaultDepth(x->cap, scr) < 15) {
    snprintf(err, err_len, "X display %s has depth %d; 15 or more needed",
             display, DefaultDepth(x->cap, scr));
    goto fail;
  }
  x->root = RootWindow(x->cap, scr);
  damage_start(x);
  if (x->damage) watch_open(x, display);
  kvmx_displays_open(x);
  kvmx_state_open(x);
  x->tj = tjInitCompress();
  if (!x->tj) {
    snprintf(err, err_len, "cannot start the JPEG encoder");
    goto fail;
  }
  if (with_input) {
    int ev, er, maj, min;
    x->in = open_one(display, &x->in_lost);
    if (!x->in || !XTestQueryExtension(x->in, &ev, &er, &maj, &min)) {
      snprintf(err, err_len, "X display %s has no XTest extension for input",
               display);
      goto fail;
    }
  }
  return x;
fail:
  kvmx_close(x);
  return NULL;
}

void kvmx_close(struct kvm_x11 *x) {
  if (!x) return;
  free_image(x);
  if (x->damage && x->cap && !x->lost) xd.destroy(x->cap, x->damage);
  if (x->cap) XCloseDisplay(x->cap);
  if (x->in) XCloseDisplay(x->in);
  if (x->watch) XCloseDisplay(x->watch);
  if (x->tj) tjDestroy(x->tj);
  tjFree(x->jpeg);
  free(x);
}

/* ------------------------------------------------ capture */

/* Reads one pixel of an image that is not 32-bit BGRX, as B,G,R,X. */
static int mask_shift(unsigned long m) {
  int s = 0;
  while (m && !(m & 1)) {
    m >>= 1;
    s++;
  }
  return s;
}

static uint8_t scale_channel(unsigned long v, unsigned long m) {
  int s = mask_shift(m);
  unsigned long max = m >> s;
  return max ? (uint8_t)(((v & m) >> s) * 255 / max) : 0;
}

/* Converts the captured image to packed BGRX when its layout is another
 * one (16 or 24 bpp, other channel order). */
static void convert(struct kvm_x11 *x) {
  XImage *im = x->img;
  for (int yy = 0; yy < x->h; yy++) {
    uint8_t *o = x->rgb + (size_t)yy * (size_t)x->w * 4;
    for (int xx = 0; xx < x->w; xx++) {
      unsigned long px = XGetPixel(im, xx, yy);
      o[0] = scale_channel(px, im->blue_mask);
      o[1] = scale_channel(px, im->green_mask);
      o[2] = scale_channel(px, im->red_mask);
      o[3] = 0;
      o += 4;
    }
  }
}

static int is_bgrx(const XImage *im) {
  return im->bits_per_pixel == 32 && im->byte_order == LSBFirst &&
         im->red_mask == 0xff0000 && im->green_mask == 0xff00 &&
         im->blue_mask == 0xff;
}

/* Gets the screen into x->img; 0 or a negative code. */
static int grab(struct kvm_x11 *x) {
  if (x->shm_ok) {
    x11_error = 0;
    if (!XShmGetImage(x->cap, x->root, x->img, x->rx, x->ry, AllPlanes) ||
        x11_error)
      return MESH_E_IO;
    return 0;
  }
  if (x->img) XDestroyImage(x->img);
  x->img = XGetImage(x->cap, x->root, x->rx, x->ry, (unsigned)x->w,
                     (unsigned)x->h, AllPlanes, ZPixmap);
  return x->img ? 0 : MESH_E_IO;
}

static uint64_t tile_hash(const uint8_t *p, size_t pitch, int w, int h) {
  uint64_t hv = 0xcbf29ce484222325ull;
  for (int r = 0; r < h; r++) {
    const uint8_t *row = p + (size_t)r * pitch;
    size_t n = (size_t)w * 4, i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t v;
      memcpy(&v, row + i, 8);
      hv = (hv ^ v) * 0x100000001b3ull;
    }
    for (; i < n; i++) hv = (hv ^ row[i]) * 0x100000001b3ull;
  }
  return hv;
}

/* Box-filters the w x h BGRX frame at src down to x->sw x x->sh: each
 * viewer pixel is the mean of the screen pixels it covers, so thin lines
 * and text fade instead of vanishing as with point sampling. */
static void downscale(struct kvm_x11 *x, const uint8_t *src, size_t pitch) {
  for (int dy = 0; dy < x->sh; dy++) {
    int y0 = (int)((long long)dy * x->h / x->sh);
    int y1 = (int)((long long)(dy + 1) * x->h / x->sh);
    uint8_t *o = x->scaled + (size_t)dy * (size_t)x->sw * 4;
    for (int dx = 0; dx < x->sw; dx++) {
      int x0 = (int)((long long)dx * x->w / x->sw);
      int x1 = (int)((long long)(dx + 1) * x->w / x->sw);
      unsigned sum[3] = {0, 0, 0}, n = 0;
      for (int yy = y0; yy < y1; yy++) {
        const uint8_t *p = src + (size_t)yy * pitch + (size_t)x0 * 4;
        for (int xx = x0; xx < x1; xx++, p += 4, n++) {
          sum[0] += p[0];
          sum[1] += p[1];
          sum[2] += p[2];
        }
      }
      o[0] = (uint8_t)(sum[0] / n);
      o[1] = (uint8_t)(sum[1] / n);
      o[2] = (uint8_t)(sum[2] / n);
      o[3] = 0;
      o += 4;
    }
  }
}

/* (Re)sizes the capture for the root window's current size, the display
 * captured (want, resolved against the monitors) and the viewer's scale.
 * Sets *displays when the display commands must be sent. Returns 1 if
 * what the viewer sees moved or changed size, 0 if not, or a negative
 * code. */
static int follow_size(struct kvm_x11 *x, unsigned scale, uint16_t want,
                       int *displays) {
  Window root;
  int gx, gy, r[4];
  unsigned gw, gh, bw, depth;
  if (!XGetGeometry(x->cap, x->root, &root, &gx, &gy, &gw, &gh, &bw, &depth) ||
      x->lost)
    return MESH_E_IO;
  if (gw > 65535 || gh > 65535) return MESH_E_TOO_LARGE;
  /* A new root size (xrandr -s) lists the monitors again at once. */
  int root_changed = (int)gw != x->root_w || (int)gh != x->root_h;
  x->root_w = (int)gw;
  x->root_h = (int)gh;
  int d = kvmx_displays_update(x, want, (int)gw, (int)gh, root_changed, r);
  if (d < 0) return d;
  *displays = d;
  if (scale > KVM_SCALE_FULL) scale = KVM_SCALE_FULL;
  if (r[0] == x->rx && r[1] == x->ry && r[2] == x->w && r[3] == x->h &&
      x->hash && scale == x->scale)
    return 0;
  x->rx = r[0];
  x->ry = r[1];
  if (r[2] != x->w || r[3] != x->h || !x->hash) {
    free_image(x);
    x->shm_ok = 0;
    x->w = r[2];
    x->h = r[3];
    if (XShmQueryExtension(x->cap)) shm_image(x);
  }
  x->scale = scale;
  x->sw = kvm_scaled(x->w, scale);
  x->sh = kvm_scaled(x->h, scale);
  free(x->hash);
  free(x->row);
  kvmt_free(&x->plan);
  free(x->scaled);
  x->scaled = NULL;
  x->row = NULL;
  x->tw = (x->sw + KVMX_TILE - 1) / KVMX_TILE;
  x->th = (x->sh + KVMX_TILE - 1) / KVMX_TILE;
  x->hash = calloc((size_t)x->tw * (size_t)x->th, sizeof *x->hash);
  x->row = malloc((size_t)x->tw);
  if (!x->hash || !x->row || kvmt_init(&x->plan, x->tw) != 0) {
    free(x->hash); /* a frame needs all three: the next one starts over */
    x->hash = NULL;
    return MESH_E_NOMEM;
  }
  if (scale < KVM_SCALE_FULL &&
      !(x->scaled = malloc((size_t)x->sw * (size_t)x->sh * 4)))
    return MESH_E_NOMEM;
  return 1;
}

static int encode_rect(struct kvm_x11 *x, const uint8_t *base, size_t pitch,
                       int px, int py, int w, int h, int quality,
                       struct kvm_out *out) {
  const uint8_t *src = base + (size_t)py * pitch + (size_t)px * 4;
  unsigned long size = x->jpeg_cap;
  if (tjCompress2(x->tj, src, w, (int)pitch, h, TJPF_BGRX, &x->jpeg, &size,
                  TJSAMP_420, quality, TJFLAG_FASTDCT) != 0)
    return MESH_E_IO;
  if (size > x->jpeg_cap) x->jpeg_cap = size;
  uint8_t hdr[KVM_PICTURE_HDR_MAX];
  size_t hn = kvm_put_picture_header(hdr, (uint16_t)px, (uint16_t)py, size);
  if (!hn) return MESH_E_TOO_LARGE;
  return kvmx_out_add(out, hdr, hn, x->jpeg, size);
}

/* One frame's encoding state, for kvm_tiles' callback. */
struct frame_job {
  struct kvm_x11 *x;
  const uint8_t *base;
  size_t pitch;
  int quality;
  struct kvm_out *out;
};

/* Encodes the rectangle of tiles r (clipped to the screen). */
static int encode_tiles(void *ctx, const struct kvmt_rect *r) {
  struct frame_job *j = ctx;
  int px = r->tx * KVMX_TILE, py = r->ty * KVMX_TILE;
  int w = r->tw * KVMX_TILE, h = r->th * KVMX_TILE;
  if (px + w > j->x->sw) w = j->x->sw - px;
  if (py + h > j->x->sh) h = j->x->sh - py;
  return encode_rect(j->x, j->base, j->pitch, px, py, w, h, j->quality, j->out);
}

void kvmx_view(const struct kvm_x11 *x, struct kvmx_view *v) {
  v->x = x->rx;
  v->y = x->ry;
  v->w = x->w;
  v->h = x->h;
  v->sw = x->sw;
  v->sh = x->sh;
  v->display = x->display;
  v->n = x->nmon;
  memcpy(v->mon, x->mon, x->nmon * sizeof *x->mon);
}

int kvmx_frame(struct kvm_x11 *x, int quality, unsigned scale, uint16_t display,
               int full, struct kvm_out *out, char *err, size_t err_len) {
  int displays = 0;
  int r = x->cap ? follow_size(x, scale, display, &displays) : MESH_E_IO;
  if (r < 0) goto fail;
  if (r == 1 || full || displays) {
    uint8_t s[8];
    kvm_put_screen(s, (uint16_t)x->sw, (uint16_t)x->sh);
    if ((r = kvmx_out_add(out, s, sizeof s, NULL, 0)) != 0) goto fail;
    full = 1;
  }
  read_events(x);
  /* The start order of spec §7.3: SCREEN, SET_DISPLAY, KEYSTATE,
   * DISPLAY_INFO, GET_DISPLAYS; MOUSE_CURSOR when it changes. */
  if ((displays && (r = kvmx_displays_put_current(x, out)) != 0) ||
      (r = kvmx_state_put_keys(x, full, out)) != 0 ||
      (displays && (r = kvmx_displays_put_list(x, out)) != 0) ||
      (r = kvmx_state_put_cursor(x, full, out)) != 0)
    goto fail;
  if (!damage_check(x) && !full) {
    if (!x->lost) return 0; /* nothing changed: no grab, no message */
    r = MESH_E_IO;
    goto fail;
  }
  if ((r = grab(x)) != 0 || x->lost) {
    r = MESH_E_IO;
    goto fail;
  }
  const uint8_t *base = (const uint8_t *)x->img->data;
  size_t pitch = (size_t)x->img->bytes_per_line;
  if (!is_bgrx(x->img)) {
    if (!x->rgb && !(x->rgb = malloc((size_t)x->w * (size_t)x->h * 4))) {
      r = MESH_E_NOMEM;
      goto fail;
    }
    convert(x);
    base = x->rgb;
    pitch = (size_t)x->w * 4;
  }
  if (x->scaled) {
    downscale(x, base, pitch);
    base = x->scaled;
    pitch = (size_t)x->sw * 4;
  }
  struct frame_job job = {x, base, pitch, quality, out};
  kvmt_reset(&x->plan);
  for (int ty = 0; ty < x->th; ty++) {
    int py = ty * KVMX_TILE;
    int h = x->sh - py < KVMX_TILE ? x->sh - py : KVMX_TILE;
    for (int tx = 0; tx < x->tw; tx++) {
      int px = tx * KVMX_TILE;
      int w = x->sw - px < KVMX_TILE ? x->sw - px : KVMX_TILE;
      uint64_t hv =
          tile_hash(base + (size_t)py * pitch + (size_t)px * 4, pitch, w, h);
      uint64_t *old = &x->hash[(size_t)ty * (size_t)x->tw + (size_t)tx];
      x->row[tx] = full || hv != *old;
      *old = hv;
    }
    if ((r = kvmt_row(&x->plan, ty, x->row, encode_tiles, &job)) != 0)
      goto fail;
  }
  if ((r = kvmt_finish(&x->plan, encode_tiles, &job)) != 0) goto fail;
  return 0;
fail:
  /* Xlib leaves a display that hit an I/O error locked by the thread that
   * saw it: it must be closed on this thread, not on the loop's. */
  if (x->lost && x->cap) {
    free_image(x);
    XCloseDisplay(x->cap);
    x->cap = NULL;
  }
  snprintf(err, err_len, "%s",
           r == MESH_E_NOMEM       ? "out of memory"
           : r == MESH_E_TOO_LARGE ? "screen or tile too large"
                                   : "lost the X display");
  return r;
}
