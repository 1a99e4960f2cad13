/*
 * desktop_monitors - a test X client for tests/e2e/desktop_displays.sh:
 * defines RandR 1.5 monitors on the screen and keeps them while it runs.
 * The X server drops a client's monitors when that client goes (so
 * `xrandr --setmonitor` alone leaves nothing on Xvfb); killing this
 * process brings back the screen's own monitor.
 * usage: desktop_monitors NAME:WxH+X+Y[:output] ... [then MONITOR ...]
 *   ":output" gives the monitor the screen's first output, which takes
 *   the place of the output's own monitor; others have no output. The
 *   monitors after "then" are set on SIGUSR1 (the same names replace
 *   the first ones, in one server grab). Prints "set N" (N monitors listed)
 * each time.
 */
#include <X11/Xlib.h>
#include <X11/extensions/Xrandr.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void report(Display *d, Window root) {
  int n = 0;
  XRRMonitorInfo *ms = XRRGetMonitors(d, root, True, &n);
  printf("set %d\n", n);
  fflush(stdout);
  XRRFreeMonitors(ms);
}

/* Deletes the monitors named in argv[from..to). */
static void del(Display *d, Window root, char **argv, int from, int to) {
  for (int i = from; i < to; i++) {
    char name[64];
    if (sscanf(argv[i], "%63[^:]", name) == 1)
      XRRDeleteMonitor(d, root, XInternAtom(d, name, False));
  }
}

/* Sets argv[from..to) as monitors; 0 or 2 on a bad argument. */
static int set(Display *d, Window root, XRRScreenResources *res, char **argv,
               int from, int to) {
  for (int i = from; i < to; i++) {
    char name[64], out[16] = "";
    int w, h, x, y;
    if (sscanf(argv[i], "%63[^:]:%dx%d+%d+%d:%15s", name, &w, &h, &x, &y, out) <
            5 ||
        w <= 0 || h <= 0) {
      fprintf(stderr, "desktop_monitors: bad monitor %s\n", argv[i]);
      return 2;
    }
    int with_output = strcmp(out, "output") == 0 && res && res->noutput > 0;
    XRRMonitorInfo *m = XRRAllocateMonitor(d, with_output ? 1 : 0);
    m->name = XInternAtom(d, name, False);
    m->x = x;
    m->y = y;
    m->width = w;
    m->height = h;
    m->mwidth = w / 4; /* millimetres: any plausible value */
    m->mheight = h / 4;
    if (with_output) m->outputs[0] = res->outputs[0];
    XRRSetMonitor(d, root, m);
    XFree(m);
  }
  return 0;
}

int main(int argc, char **argv) {
  Display *d = XOpenDisplay(NULL);
  if (!d || argc < 2) {
    fprintf(stderr, "usage: desktop_monitors MONITOR ... [then MONITOR ...]\n");
    return 2;
  }
  Window root = DefaultRootWindow(d);
  XRRScreenResources *res = XRRGetScreenResources(d, root);
  int then = argc;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "then") == 0) then = i;
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGUSR1);
  sigaddset(&sigs, SIGTERM);
  sigprocmask(SIG_BLOCK, &sigs, NULL);
  if (set(d, root, res, argv, 1, then)) return 2;
  XSync(d, False);
  report(d, root);
  int from = 1, to = then, sig;
  while (sigwait(&sigs, &sig) == 0) {
    XGrabServer(d);
    del(d, root, argv, from, to);
    if (sig == SIGUSR1 && then < argc) {
      from = then + 1;
      to = argc;
      if (set(d, root, res, argv, from, to)) return 2;
    }
    XUngrabServer(d);
    XSync(d, False);
    report(d, root);
    if (sig == SIGTERM) return 0;
  }
  return 1;
}
