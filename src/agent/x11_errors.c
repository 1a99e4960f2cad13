/* x11_errors.c - see x11_errors.h. */
#include "agent/x11_errors.h"

#include <X11/Xlib.h>
#include <pthread.h>

_Thread_local int x11_error;

static int on_x_error(Display *d, XErrorEvent *e) {
  (void)d;
  x11_error = e->error_code ? e->error_code : 1;
  return 0;
}

/* Returning lets Xlib go on to the Display's exit handler; ours (set per
 * Display) marks it lost instead of exiting. */
static int on_io_error(Display *d) {
  (void)d;
  return 0;
}

static void install(void) {
  XSetErrorHandler(on_x_error);
  XSetIOErrorHandler(on_io_error);
}

void x11_errors_install(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install);
}
