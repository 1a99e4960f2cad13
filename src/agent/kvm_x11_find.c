/*
 * kvm_x11_find.c - which X display the desktop captures and which cookie
 * file opens it (spec sessions.md §7.4).
 *
 * The agent runs as root from a service, so its environment rarely names
 * the desktop. Display managers start the X server with "-auth FILE"
 * (LightDM: /var/run/lightdm/root/:0, SDDM: /tmp/xauth_*, GDM:
 * /run/user/<uid>/gdm/Xauthority) and hand the same file to the session's
 * processes as XAUTHORITY. Everything here is found by reading files under
 * /proc (no ps, no loginctl): this runs on the agent's loop thread when a
 * session starts, so every read is bounded and none can block (O_NONBLOCK,
 * regular files only, at most KVMX_PROC_MAX entries per pass).
 *
 * Why a cookie file named by another process is safe to hand to Xlib as
 * root: Xlib only reads it and sends the entry matching the display to
 * that display's server. A user could still point XAUTHORITY at a file
 * they cannot read (a symlink to another user's cookies, /etc/shadow), so
 * a file is taken only when it is a regular file itself (lstat: not a
 * symlink) owned by root or by the uid of the process that named it. A
 * user racing to swap their own file for a symlink after the check can at
 * most get an entry for their own display number sent to their own server.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/kvm.h"
#include "base/err.h"

#define ARGS_MAX 4096    /* bytes of a cmdline looked at */
#define ENV_MAX 65536    /* bytes of an environ looked at */
#define SERVERS_MAX 32   /* X servers remembered */
#define DISPLAY_MAX 9999 /* higher :N are not X sockets we pick */

static const char wayland_why[] =
    "Wayland sessions are not supported: log in to an X11 (Xorg) session "
    "to share this desktop";

/* One X server process seen under /proc. */
struct xserver {
  int disp;      /* its :N */
  int vt;        /* its vtN argument, 0 without one */
  int xwayland;  /* Xwayland: a Wayland session's compatibility server */
  uid_t uid;     /* who runs it */
  char *auth;    /* its -auth FILE, NULL without one (points into buf) */
  char buf[256]; /* auth's storage */
};

/* The display number of a local display name ("[unix]:N[.S]"), or -1 for
 * anything else (a remote display has no cookie we could find). */
static int display_num(const char *s, size_t n) {
  if (n >= 4 && memcmp(s, "unix", 4) == 0) s += 4, n -= 4;
  if (n < 2 || s[0] != ':') return -1;
  size_t i = 1;
  long v = 0;
  while (i < n && isdigit((unsigned char)s[i]) && v <= DISPLAY_MAX)
    v = v * 10 + (s[i++] - '0');
  if (i == 1 || v > DISPLAY_MAX) return -1;
  if (i < n) { /* only a screen number may follow */
    if (s[i++] != '.' || i == n) return -1;
    while (i < n && isdigit((unsigned char)s[i])) i++;
    if (i < n) return -1;
  }
  return (int)v;
}

/* Up to cap-1 bytes of a small regular file (a /proc entry), NUL-ended;
 * the length, or -1. Never follows a symlink, never waits on a FIFO. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  size_t n = 0;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -1;
  }
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = 0;
  return (ssize_t)n;
}

/* The next NUL-ended string of a /proc list at *pos, or NULL at the end.
 * A last string cut off by the read limit (no NUL before n) is dropped
 * when truncated; a list with no NUL at all is one string. */
static const char *next_str(const char *buf, size_t n, size_t *pos,
                            int truncated, size_t *len) {
  if (*pos >= n) return NULL;
  const char *s = buf + *pos;
  const char *z = memchr(s, 0, n - *pos);
  if (!z && truncated) return NULL;
  *len = z ? (size_t)(z - s) : n - *pos;
  *pos += *len + 1;
  return s;
}

/* Is path a cookie file we may hand to Xlib for a process run by uid? */
static int cookie_ok(const char *path, size_t n, uid_t uid) {
  struct stat st;
  if (n == 0 || n >= PATH_MAX || path[0] != '/' || memchr(path, 0, n)) return 0;
  char p[PATH_MAX];
  memcpy(p, path, n);
  p[n] = 0;
  return lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
         (st.st_uid == 0 || st.st_uid == uid);
}

static int put(char *out, size_t cap, const char *s, size_t n) {
  if (n >= cap) return 0;
  memcpy(out, s, n);
  out[n] = 0;
  return 1;
}

/* Calls fn for each numeric entry of procdir (at most KVMX_PROC_MAX) with
 * its path and owner, until fn returns non-zero. */
static void each_pid(const char *procdir,
                     int (*fn)(void *, const char *, uid_t), void *arg) {
  DIR *d = opendir(procdir);
  if (!d) return;
  struct dirent *e;
  for (int seen = 0; seen < KVMX_PROC_MAX && (e = readdir(d));) {
    if (!isdigit((unsigned char)e->d_name[0]) ||
        strspn(e->d_name, "0123456789") != strlen(e->d_name))
      continue;
    seen++;
    char dir[PATH_MAX];
    struct stat st;
    if (snprintf(dir, sizeof dir, "%s/%s", procdir, e->d_name) >=
            (int)sizeof dir ||
        lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
      continue;
    if (fn(arg, dir, st.st_uid)) break;
  }
  closedir(d);
}

/* ------------------------------------------------ rule (a): X servers */

struct servers {
  struct xserver s[SERVERS_MAX];
  size_t n;
};

/* An X server's command line: argv[0] named X* (Xorg, X, Xvfb, Xwayland,
 * Xvnc, ...) with a ":N" argument. GDM's servers take their number with
 * -displayfd instead and are found through their clients (rule b). */
static int see_server(void *arg, const char *dir, uid_t uid) {
  struct servers *sv = arg;
  char path[PATH_MAX], buf[ARGS_MAX];
  if (snprintf(path, sizeof path, "%s/cmdline", dir) >= (int)sizeof path)
    return 0;
  ssize_t n = read_small(path, buf, sizeof buf);
  if (n <= 0) return 0;
  int truncated = (size_t)n + 1 >= sizeof buf;
  size_t pos = 0, len;
  const char *a0 = next_str(buf, (size_t)n, &pos, truncated, &len);
  if (!a0) return 0;
  const char *base = a0;
  for (size_t i = 0; i < len; i++)
    if (a0[i] == '/') base = a0 + i + 1;
  if (base[0] != 'X') return 0;
  struct xserver x = {.disp = -1, .uid = uid};
  x.xwayland = (size_t)(a0 + len - base) == 8 && !memcmp(base, "Xwayland", 8);
  const char *s;
  int want_auth = 0;
  while ((s = next_str(buf, (size_t)n, &pos, truncated, &len))) {
    if (want_auth) {
      if (put(x.buf, sizeof x.buf, s, len)) x.auth = x.buf;
      want_auth = 0;
    } else if (len == 5 && !memcmp(s, "-auth", 5)) {
      want_auth = 1;
    } else if (s[0] == ':' && x.disp < 0) {
      x.disp = display_num(s, len);
    } else if (len > 2 && len < 6 && !memcmp(s, "vt", 2) &&
               strspn(s + 2, "0123456789") == len - 2) {
      x.vt = atoi(s + 2);
    }
  }
  if (x.disp < 0 || sv->n == SERVERS_MAX) return 0;
  sv->s[sv->n] = x;
  if (x.auth) sv->s[sv->n].auth = sv->s[sv->n].buf;
  sv->n++;
  return 0;
}

static const struct xserver *server_of(const struct servers *sv, int disp) {
  for (size_t i = 0; i < sv->n; i++)
    if (sv->s[i].disp == disp) return &sv->s[i];
  return NULL;
}

/* ------------------------------------------------ rule (b): clients */

struct client_search {
  int disp;
  uid_t owner;       /* the display's socket owner: preferred */
  char *out;         /* the answer */
  size_t cap;        /* out's size */
  int found, strong; /* any hit; a hit run by owner */
};

/* A process whose environment has DISPLAY=:N and XAUTHORITY=FILE. */
static int see_client(void *arg, const char *dir, uid_t uid) {
  struct client_search *c = arg;
  char path[PATH_MAX];
  static char buf[ENV_MAX]; /* loop thread only; too big for its stack */
  if (snprintf(path, sizeof path, "%s/environ", dir) >= (int)sizeof path)
    return 0;
  ssize_t n = read_small(path, buf, sizeof buf);
  if (n <= 0) return 0;
  int truncated = (size_t)n + 1 >= sizeof buf;
  size_t pos = 0, len, xlen = 0;
  const char *s, *xa = NULL;
  int disp = -1;
  while ((s = next_str(buf, (size_t)n, &pos, truncated, &len))) {
    if (len > 8 && !memcmp(s, "DISPLAY=", 8))
      disp = display_num(s + 8, len - 8);
    else if (len > 11 && !memcmp(s, "XAUTHORITY=", 11))
      xa = s + 11, xlen = len - 11;
  }
  if (disp != c->disp || !xa || !cookie_ok(xa, xlen, uid)) return 0;
  if (c->found && uid != c->owner) return 0; /* keep the first */
  if (!put(c->out, c->cap, xa, xlen)) return 0;
  c->found = 1;
  c->strong = uid == c->owner;
  return c->strong; /* the owner's own session: look no further */
}

/* ------------------------------------------------ sockets */

/* The X<N> sockets in dir, ranked: a server on the active VT first, then
 * one given -auth (a display manager's or the user's real desktop rather
 * than a bare Xvfb), then the lowest number. */
static int pick_socket(const struct kvmx_places *pl, const struct servers *sv,
                       int *disp, uid_t *owner) {
  int active = 0;
  char vt[32];
  if (pl->vtfile && read_small(pl->vtfile, vt, sizeof vt) > 3 &&
      !memcmp(vt, "tty", 3))
    active = atoi(vt + 3);
  DIR *d = opendir(pl->sockdir);
  if (!d) return MESH_E_NOT_FOUND;
  int best = -1, best_rank = -1;
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *s = e->d_name;
    size_t n = strlen(s);
    if (s[0] != 'X' || n < 2 || n > 5 || strspn(s + 1, "0123456789") != n - 1)
      continue;
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", pl->sockdir, s) >=
            (int)sizeof path ||
        lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode))
      continue;
    int num = atoi(s + 1);
    const struct xserver *x = server_of(sv, num);
    int rank = !x ? 0 : (active && x->vt == active) ? 2 : x->auth ? 1 : 0;
    if (rank > best_rank || (rank == best_rank && num < best)) {
      best = num;
      best_rank = rank;
      *owner = st.st_uid;
    }
  }
  closedir(d);
  if (best < 0) return MESH_E_NOT_FOUND;
  *disp = best;
  return 0;
}

/* ------------------------------------------------ the pick */

static void find_cookie(const struct kvmx_places *pl, const struct servers *sv,
                        int disp, uid_t owner, char *xauth, size_t cap) {
  const struct xserver *x = server_of(sv, disp);
  if (x && x->auth && cookie_ok(x->auth, strlen(x->auth), x->uid) &&
      put(xauth, cap, x->auth, strlen(x->auth)))
    return;
  struct client_search c = {
      .disp = disp, .owner = owner, .out = xauth, .cap = cap};
  each_pid(pl->procdir, see_client, &c);
  if (c.found) return;
  /* startx: the user's own server, their ~/.Xauthority. A root-owned
   * socket with no cookie anywhere is left to Xlib's defaults. */
  if (owner == 0) return;
  const char *home = pl->home;
  struct passwd *pw = home ? NULL : getpwuid(owner);
  if (pw) home = pw->pw_dir;
  if (!home) return;
  char p[PATH_MAX];
  int n = snprintf(p, sizeof p, "%s/.Xauthority", home);
  if (n > 0 && (size_t)n < sizeof p && cookie_ok(p, (size_t)n, owner))
    put(xauth, cap, p, (size_t)n);
}

int kvmx_find_display(const struct kvmx_places *pl, const char *display,
                      const char *wayland, char *out, size_t cap, char *xauth,
                      size_t xauth_cap, const char **why) {
  if (xauth_cap) xauth[0] = 0;
  int have_display = display && *display;
  if (have_display && strlen(display) >= cap) {
    *why = "DISPLAY is too long";
    return MESH_E_INVALID;
  }
  if (!have_display && wayland && *wayland) {
    *why = wayland_why;
    return MESH_E_INVALID;
  }
  static struct servers sv; /* loop thread only; ~10 KiB */
  sv.n = 0;
  each_pid(pl->procdir, see_server, &sv);
  int disp;
  uid_t owner = 0;
  if (have_display) {
    memcpy(out, display, strlen(display) + 1);
    disp = display_num(display, strlen(display));
    if (disp < 0) return 0; /* remote: Xlib's own defaults */
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/X%d", pl->sockdir, disp) <
            (int)sizeof path &&
        lstat(path, &st) == 0)
      owner = st.st_uid;
  } else {
    if (pick_socket(pl, &sv, &disp, &owner) != 0) {
      *why = "no X display found (DISPLAY unset, no X server socket)";
      return MESH_E_NOT_FOUND;
    }
    const struct xserver *x = server_of(&sv, disp);
    if (x && x->xwayland) {
      *why = wayland_why;
      return MESH_E_INVALID;
    }
    snprintf(out, cap, ":%d", disp);
  }
  if (xauth_cap) find_cookie(pl, &sv, disp, owner, xauth, xauth_cap);
  return 0;
}

int kvmx_pick_display(const char *display, const char *wayland,
                      const char *sockdir, char *out, size_t cap, char *xauth,
                      size_t xauth_cap, const char **why) {
  const struct kvmx_places pl = {.sockdir = sockdir,
                                 .procdir = "/proc",
                                 .vtfile = "/sys/class/tty/tty0/active"};
  return kvmx_find_display(&pl, display, wayland, out, cap, xauth, xauth_cap,
                           why);
}
