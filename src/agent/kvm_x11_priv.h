/*
 * kvm_x11_priv.h - what the X11 halves of the remote desktop share
 * (kvm.h has the rules): kvm_x11.c captures, kvm_x11_displays.c follows
 * the RandR monitors and picks the captured rectangle, kvm_x11_input.c
 * injects the viewer's input. Not for other modules.
 */
#ifndef MESH_AGENT_KVM_X11_PRIV_H
#define MESH_AGENT_KVM_X11_PRIV_H

#include <X11/Xlib.h>
#include <X11/extensions/XShm.h>
#include <X11/extensions/Xdamage.h>
#include <time.h>
#include <turbojpeg.h>

#include "agent/kvm.h"
#include "agent/kvm_tiles.h"

struct kvm_x11 {
  Display *cap; /* capture: worker threads, one at a time */
  Display *in;  /* input: the loop; NULL for a view-only session */
  int lost;     /* the capture connection broke */
  int in_lost;
  Window root;
  int root_w, root_h; /* the root window's size at the last frame */
  /* The captured rectangle of the root window; w 0 before the first
   * frame. */
  int rx, ry, w, h;
  /* What the viewer sees: the capture scaled by scale/1024 (down only). */
  unsigned scale;
  int sw, sh;
  uint8_t *scaled; /* BGRX, sw x sh; NULL at 100% */
  int shm_ok;      /* MIT-SHM present and attached */
  XShmSegmentInfo shm;
  XImage *img;
  uint8_t *rgb;   /* BGRX copy when the image is not 32-bit BGRX */
  uint64_t *hash; /* per tile, previous frame */
  uint8_t *row;   /* per tile of the row being hashed: changed */
  struct kvmt_plan plan;
  int tw, th; /* tiles across and down */
  /* DAMAGE on the root window; 0 without the extension. */
  Damage damage;
  int damage_event; /* the extension's event base */
  int damaged;      /* damage reported since the last frame */
  /* The watch connection (kvmx_watch_*): its own DAMAGE on the root
   * window, read on the loop; NULL without the extension. */
  Display *watch;
  Damage watch_damage;
  int watch_lost;
  tjhandle tj;
  uint8_t *jpeg; /* libturbojpeg's output buffer, reused */
  unsigned long jpeg_cap;
  /* Monitors (kvm_x11_displays.c). */
  int randr;   /* RandR 1.5 monitors can be listed */
  size_t nmon; /* 0: no RandR, the whole screen is the one display */
  struct kvm_monitor mon[KVMX_MAX_MONITORS];
  uint16_t display;       /* the id captured; 0 before the first frame */
  struct timespec polled; /* when the monitors were last listed */
  /* Cursor shape and lock keys (kvm_x11_state.c): event bases (-1
   * without the extension), current values and the ones last sent (-1:
   * none yet). */
  int fixes_event, xkb_event;
  int ind_num, ind_scroll, ind_caps; /* XKB indicator indices, -1 if none */
  int cursor, cursor_sent;
  int keys, keys_sent;
};

/* Appends one message made of a header and a body; 0 or MESH_E_NOMEM. */
int kvmx_out_add(struct kvm_out *o, const uint8_t *h, size_t hn,
                 const uint8_t *b, size_t bn);

/* Looks for RandR 1.5 on the capture connection (libXrandr loaded with
 * dlopen; without it the whole screen is the only display). */
void kvmx_displays_open(struct kvm_x11 *x);
/* Lists the monitors again (at most every few hundred ms unless force)
 * and resolves the wanted display id (0: the default) against them for
 * a gw x gh root:
 * the rectangle to capture goes to *r (x, y, w, h). Returns 1 when the
 * monitors or the captured id changed since the last call (the display
 * commands must be sent), 0 if not, or a negative code. */
int kvmx_displays_update(struct kvm_x11 *x, uint16_t want, int gw, int gh,
                         int force, int r[4]);
/* Appends SET_DISPLAY for the current state. */
int kvmx_displays_put_current(struct kvm_x11 *x, struct kvm_out *out);
/* Appends DISPLAY_INFO (when there are monitors) and GET_DISPLAYS. */
int kvmx_displays_put_list(struct kvm_x11 *x, struct kvm_out *out);

/* Asks for cursor changes (XFixes) and lock-key changes (XKB) on the
 * capture connection and reads the current ones. */
void kvmx_state_open(struct kvm_x11 *x);
/* Takes one event of the capture connection; 1 if it was one of those. */
int kvmx_state_event(struct kvm_x11 *x, const XEvent *e);
/* Append KEYSTATE / MOUSE_CURSOR when the value changed since it was
 * last sent, or always when full (and the extension is there). */
int kvmx_state_put_keys(struct kvm_x11 *x, int full, struct kvm_out *out);
int kvmx_state_put_cursor(struct kvm_x11 *x, int full, struct kvm_out *out);

#endif
