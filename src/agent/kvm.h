/*
 * kvm.h - meshagent's remote desktop session (protocol 2, spec
 * sessions.md §7; docs/sessions.md "Remote desktop").
 *
 * Two halves:
 *  - kvm.c runs on the loop: the session behind a tunnel, its settings,
 *    frame pacing and back-pressure, viewer input decoding;
 *  - kvm_x11*.c talk to the X server: display discovery, MIT-SHM capture,
 *    tile diffing, JPEG encoding (libturbojpeg) in kvm_x11.c; RandR
 *    monitors in kvm_x11_displays.c; cursor shape and lock keys in
 *    kvm_x11_state.c; XTest input in kvm_x11_input.c. They have no loop;
 *    capture runs on the libuv thread pool, input on the loop.
 *
 * Ownership: a kvm session holds a plain pointer to its tunnel until
 * kvm_detach(); it frees itself once its timer is closed and no frame is
 * on the thread pool.
 */
#ifndef MESH_AGENT_KVM_H
#define MESH_AGENT_KVM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "net/ws_session.h" /* enum ws_type */
#include "proto/kvm.h"

struct tunnel;
struct kvm;

struct kvm_x11;

/* ------------------------------------------------ kvm.c, for tunnel.c */

/* What of the viewer's input may reach the X server. */
enum kvm_input_mode {
  KVM_INPUT_NONE = 0,    /* view only: nothing the viewer sends is read */
  KVM_INPUT_LIMITED = 1, /* proto/kvm_filter.h's KVM_FILTER_LIMITED rule */
  KVM_INPUT_FULL = 2
};
/* The input mode for a tunnel (spec §4.3, §9.1): none when the tunnel
 * request set desktopviewonly, or the rights lack REMOTECONTROL or hold
 * REMOTEVIEWONLY; limited with DESKLIMITEDINPUT (enforced here although
 * the stock agent leaves it to its viewer); full for full rights. */
int kvm_input_allowed(uint32_t rights, int desktopviewonly);
/* Starts a desktop session: finds the X display and starts capturing.
 * input from kvm_input_allowed() (an enum kvm_input_mode): with
 * KVM_INPUT_NONE the viewer's binary messages are dropped unread and no
 * input connection is opened. Returns 0 with *out, or a negative code
 * with *why (static text). */
int kvm_start(struct tunnel *t, int input, struct kvm **out, const char **why);
/* The X display to capture or to ask the local user on, found with
 * kvmx_pick_display() from the agent's environment. Unless the agent was
 * started with XAUTHORITY, sets it to the cookie file found for that
 * display, again on every call (each login makes a new one). Loop
 * thread. Returns 0 with the name in out, or a negative code with *why. */
int kvm_find_display(char *out, size_t cap, const char **why);
/* One message from the viewer (p borrowed). */
void kvm_message(struct kvm *k, enum ws_type type, const uint8_t *p, size_t n);
/* The tunnel's queue fell below the low-water mark: a frame may go. */
void kvm_drain(struct kvm *k);
/* The tunnel is gone. */
void kvm_detach(struct kvm *k);

/* ------------------------------------------------ kvm_x11.c */

/* Messages of one frame: each a whole KVM command, to be sent as one
 * WebSocket message, stored back to back in data; ends[i] is where
 * message i stops. */
struct kvm_out {
  uint8_t *data;
  size_t len, cap;
  size_t *ends;
  size_t n, ncap;
};
void kvm_out_reset(struct kvm_out *o);
void kvm_out_cleanup(struct kvm_out *o);

/* Picks the X display to capture and the cookie file that opens it
 * (spec §7.4; kvm_x11_find.c). The display: $DISPLAY when set; a
 * Wayland-only session ($WAYLAND_DISPLAY without $DISPLAY, or an X<N>
 * socket served by Xwayland) is refused; otherwise among the X<N>
 * sockets in sockdir the one whose X server is on the active VT, else
 * one whose server was given -auth, else the lowest, as ":N". display and
 * wayland are the environment values (NULL when unset). When xauth_cap >
 * 0 the cookie file goes into xauth ("" when none was found): the X
 * server's "-auth FILE", else XAUTHORITY of a process whose DISPLAY is
 * that display (the socket owner's first), else the socket owner's
 * ~/.Xauthority. Only a regular file (not a symlink) owned by root or by
 * the process that named it is taken. Reads at most KVMX_PROC_MAX /proc
 * entries per pass and never blocks on them. Returns 0 or a negative
 * code with *why (static text). */
struct kvmx_places {
  const char *sockdir; /* /tmp/.X11-unix */
  const char *procdir; /* /proc */
  const char *vtfile;  /* /sys/class/tty/tty0/active ("tty2") */
  const char *home;    /* the socket owner's home; NULL: from passwd */
};
#define KVMX_PROC_MAX 4096
int kvmx_find_display(const struct kvmx_places *pl, const char *display,
                      const char *wayland, char *out, size_t cap, char *xauth,
                      size_t xauth_cap, const char **why);
/* kvmx_find_display() on the real system with sockdir for the sockets. */
int kvmx_pick_display(const char *display, const char *wayland,
                      const char *sockdir, char *out, size_t cap, char *xauth,
                      size_t xauth_cap, const char **why);

/* Opens the capture connection, and the input connection when
 * with_input (never otherwise: a view-only session has no way to inject).
 * Returns NULL with err filled. Runs on a worker thread. */
struct kvm_x11 *kvmx_open(const char *display, int with_input, char *err,
                          size_t err_len);
/* Captures one frame and appends its commands to out. The first frame
 * starts with the display commands (spec §7.3: SCREEN, SET_DISPLAY,
 * DISPLAY_INFO when RandR lists monitors, GET_DISPLAYS); so does a frame
 * after the monitors changed or display (the id the viewer asked for,
 * KVM_ALL_DISPLAYS for the whole screen) is not the one captured. Then
 * SCREEN when the size the viewer sees changed or full is set, then a
 * PICTURE per changed rectangle (every one when full). quality 1..100;
 * scale 64..4096 (1024 = 100%; above it means 100%). 0, or a negative
 * code with err filled (MESH_E_IO: the display is gone; its capture
 * connection is closed here, on the thread that saw it break). Worker
 * thread; one call at a time. */
int kvmx_frame(struct kvm_x11 *x, int quality, unsigned scale, uint16_t display,
               int full, struct kvm_out *out, char *err, size_t err_len);

#define KVMX_MAX_MONITORS 16 /* more are not offered */
/* What the last frame captured, for mapping the viewer's mouse back and
 * answering GET_DISPLAYS on the loop. */
struct kvmx_view {
  int x, y, w, h;   /* the captured rectangle of the root window */
  int sw, sh;       /* its size as the viewer was sent it (SCREEN) */
  uint16_t display; /* the id captured */
  size_t n;         /* monitors (RandR), 0 without RandR */
  struct kvm_monitor mon[KVMX_MAX_MONITORS];
};
/* Loop thread, while no frame is being taken. */
void kvmx_view(const struct kvm_x11 *x, struct kvmx_view *v);
/* The GET_DISPLAYS answer for view v into out (cap >= 8 + 2 *
 * (KVMX_MAX_MONITORS + 1)); returns its length. */
size_t kvmx_put_displays(const struct kvmx_view *v, uint8_t *out, size_t cap);
/* Injects one viewer command (KEY, KEY_UNICODE, MOUSE; the mouse in root
 * window coordinates) with XTest. Does nothing on a session opened
 * without input. Loop thread (kvm_x11_input.c). */
void kvmx_input(struct kvm_x11 *x, const struct kvm_input *in);
void kvmx_close(struct kvm_x11 *x);

/* The watch connection: when the server has DAMAGE, kvmx_open opens a
 * second connection whose socket the loop polls, so that a change after
 * a quiet spell is captured at once rather than at the next frame tick.
 * All three on the loop thread. kvmx_watch_fd: its socket, or -1 (none,
 * or lost). kvmx_watch_read: reads what came in; 1 when the screen
 * changed since the last kvmx_watch_rearm, 0 when not, -1 when the
 * connection is lost (stop polling it). kvmx_watch_rearm: asks for the
 * next change (at most one wake-up per frame). */
int kvmx_watch_fd(const struct kvm_x11 *x);
int kvmx_watch_read(struct kvm_x11 *x);
void kvmx_watch_rearm(struct kvm_x11 *x);

/* The viewer's cursor id (spec §7.2 MOUSE_CURSOR) for an X cursor name
 * (cursor font or theme name); 0, the arrow, for NULL or an unknown one
 * (kvm_x11_state.c). */
int kvmx_cursor_id(const char *name);

/* The X keysym for a Windows virtual-key code (extended: the KEY action
 * carried the extended flag), or 0 when there is none. */
unsigned long kvmx_vk_keysym(uint8_t vk, int extended);

#endif
