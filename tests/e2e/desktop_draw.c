/*
 * desktop_draw - a test X client for tests/e2e/desktop_*.sh: maps a
 * window filled with one colour and keeps it until killed.
 * usage: desktop_draw X Y W H RRGGBB
 */
#include <X11/Xlib.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: desktop_draw X Y W H RRGGBB\n");
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
  Window w = XCreateWindow(
      d, DefaultRootWindow(d), atoi(argv[1]), atoi(argv[2]),
      (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]), 0, CopyFromParent,
      InputOutput, CopyFromParent, CWBackPixel | CWOverrideRedirect, &a);
  XMapRaised(d, w);
  XSync(d, False);
  printf("mapped\n");
  fflush(stdout);
  for (;;) {
    XEvent e;
    XNextEvent(d, &e);
  }
}
