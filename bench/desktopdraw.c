/*
 * desktopdraw - the X client of the remote desktop bench (bench/desktop.sh,
 * driven by bench/desktopbench.mjs). It draws on the root window of
 * $DISPLAY (no window manager runs on the bench's Xvfb, so nothing
 * repaints it) one change per command read from stdin, waits until the X
 * server has done it (XSync), and answers with the CLOCK_MONOTONIC time
 * in nanoseconds at that moment: the viewer compares it with its own
 * monotonic clock (node's process.hrtime is CLOCK_MONOTONIC on Linux).
 *
 *   rect X Y W H RRGGBB   fill a rectangle with one colour
 *   full N                the whole screen: a gradient that differs with N
 *                         (JPEG-friendly but not flat, like a new window)
 *   text X Y N            a 40-column line of text on a white 240x16 box
 *   quit
 *
 * Answer: "done <ns>" or "error <why>".
 */
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (unsigned long long)t.tv_sec * 1000000000ull +
         (unsigned long long)t.tv_nsec;
}

/* A 24-bit TrueColor root (the bench's Xvfb is WxHx24): pixel = RRGGBB. */
static void full(Display *d, Window root, GC gc, XImage *im, int n) {
  for (int y = 0; y < im->height; y++)
    for (int x = 0; x < im->width; x++) {
      unsigned long r = (unsigned long)(x * 255 / im->width);
      unsigned long g = (unsigned long)(y * 255 / im->height);
      unsigned long b = (unsigned long)((n * 53 + (x + y) / 8) & 255);
      XPutPixel(im, x, y, r << 16 | g << 8 | b);
    }
  XPutImage(d, root, gc, im, 0, 0, 0, 0, (unsigned)im->width,
            (unsigned)im->height);
}

static void text(Display *d, Window root, GC gc, int x, int y, int n) {
  char s[41];
  for (int i = 0; i < 40; i++) s[i] = (char)('!' + (n * 7 + i * 13) % 90);
  s[40] = 0;
  XSetForeground(d, gc, 0xffffff);
  XFillRectangle(d, root, gc, x, y, 240, 16);
  XSetForeground(d, gc, 0x000000);
  XDrawString(d, root, gc, x + 2, y + 12, s, 40);
}

int main(void) {
  Display *d = XOpenDisplay(NULL);
  if (!d) {
    fprintf(stderr, "desktopdraw: cannot open display\n");
    return 1;
  }
  int scr = DefaultScreen(d);
  Window root = RootWindow(d, scr);
  GC gc = XCreateGC(d, root, 0, NULL);
  int w = DisplayWidth(d, scr), h = DisplayHeight(d, scr);
  XImage *im =
      XCreateImage(d, DefaultVisual(d, scr), (unsigned)DefaultDepth(d, scr),
                   ZPixmap, 0, NULL, (unsigned)w, (unsigned)h, 32, 0);
  if (!im) return 1;
  im->data = malloc((size_t)im->bytes_per_line * (size_t)h);
  if (!im->data) return 1;
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("ready %d %d\n", w, h);
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    int x, y, rw, rh, n;
    unsigned long c;
    if (sscanf(line, "rect %d %d %d %d %lx", &x, &y, &rw, &rh, &c) == 5) {
      XSetForeground(d, gc, c);
      XFillRectangle(d, root, gc, x, y, (unsigned)rw, (unsigned)rh);
    } else if (sscanf(line, "full %d", &n) == 1) {
      full(d, root, gc, im, n);
    } else if (sscanf(line, "text %d %d %d", &x, &y, &n) == 3) {
      text(d, root, gc, x, y, n);
    } else if (strncmp(line, "quit", 4) == 0) {
      break;
    } else {
      printf("error bad command\n");
      continue;
    }
    XSync(d, False);
    printf("done %llu\n", now_ns());
  }
  XDestroyImage(im); /* frees im->data too */
  XFreeGC(d, gc);
  XCloseDisplay(d);
  return 0;
}
