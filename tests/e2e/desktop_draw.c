/*
 * desktop_draw - a test X client for tests/e2e/desktop_*.sh: maps a
 * window filled with one colour and keeps it until killed. With "noise",
 * it repaints the window with random pixels every 50 ms instead, so every
 * frame the agent takes has changed and encodes large.
 * usage: desktop_draw X Y W H RRGGBB [noise]
 */
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void noise(Display *d, Window w, int width, int height) {
  XImage *im =
      XCreateImage(d, DefaultVisual(d, DefaultScreen(d)),
                   (unsigned)DefaultDepth(d, DefaultScreen(d)), ZPixmap, 0,
                   NULL, (unsigned)width, (unsigned)height, 32, 0);
  im->data = malloc((size_t)im->bytes_per_line * (size_t)height);
  GC gc = XCreateGC(d, w, 0, NULL);
  unsigned seed = 1;
  for (;;) {
    for (size_t i = 0; i < (size_t)im->bytes_per_line * (size_t)height; i++)
      im->data[i] = (char)rand_r(&seed);
    XPutImage(d, w, gc, im, 0, 0, 0, 0, (unsigned)width, (unsigned)height);
    XSync(d, False);
    usleep(50000);
  }
}

int main(int argc, char **argv) {
  if (argc != 6 && argc != 7) {
    fprintf(stderr, "usage: desktop_draw X Y W H RRGGBB [noise]\n");
    return 2;
  }
  Display *d = XOpenDisplay(NULL);
  if (!d) {
    fprintf(stderr, "desktop_draw: cannot open display\n");
    return 1;
  }
  XSetWindowAttributes a = {0};
  a.background_pixel = strtoul(argv[5], NULL, 16); /* a TrueColor visual */
  a.override_redirect = True;
  int width = atoi(argv[3]), height = atoi(argv[4]);
  Window w = XCreateWindow(d, DefaultRootWindow(d), atoi(argv[1]),
                           atoi(argv[2]), (unsigned)width, (unsigned)height, 0,
                           CopyFromParent, InputOutput, CopyFromParent,
                           CWBackPixel | CWOverrideRedirect, &a);
  XMapRaised(d, w);
  XSync(d, False);
  printf("mapped\n");
  fflush(stdout);
  if (argc == 7 && strcmp(argv[6], "noise") == 0) noise(d, w, width, height);
  for (;;) {
    XEvent e;
    XNextEvent(d, &e);
  }
}
