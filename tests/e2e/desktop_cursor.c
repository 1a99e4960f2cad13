/*
 * desktop_cursor - a test X client for tests/e2e/desktop_state.sh: maps a
 * window whose cursor carries NAME as its XFixes cursor name, as toolkits
 * and libXcursor name the cursors they load from a theme (a bare
 * cursor-font cursor has no name), and keeps it until killed.
 * usage: desktop_cursor X Y W H NAME
 */
#include <X11/Xlib.h>
#include <X11/cursorfont.h>
#include <X11/extensions/Xfixes.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: desktop_cursor X Y W H NAME\n");
    return 2;
  }
  Display *d = XOpenDisplay(NULL);
  if (!d) {
    fprintf(stderr, "desktop_cursor: cannot open display\n");
    return 1;
  }
  XSetWindowAttributes a = {0};
  a.background_pixel = WhitePixel(d, DefaultScreen(d));
  a.override_redirect = True;
  a.cursor = XCreateFontCursor(d, XC_X_cursor);
  XFixesSetCursorName(d, a.cursor, argv[5]);
  Window w =
      XCreateWindow(d, DefaultRootWindow(d), atoi(argv[1]), atoi(argv[2]),
                    (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]), 0,
                    CopyFromParent, InputOutput, CopyFromParent,
                    CWBackPixel | CWOverrideRedirect | CWCursor, &a);
  XMapRaised(d, w);
  XSync(d, False);
  printf("mapped\n");
  fflush(stdout);
  for (;;) {
    XEvent e;
    XNextEvent(d, &e);
  }
}
