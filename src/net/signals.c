#include "signals.h"

#include <signal.h>

#include "base/log.h"

static struct {
  uv_signal_t sig_int, sig_term;
  void (*on_stop)(void *data);
  void *data;
} stop;

static void on_signal(uv_signal_t *h, int signum) {
  (void)h;
  log_info("event=stopping signal=%d", signum);
  uv_close((uv_handle_t *)&stop.sig_int, NULL);
  uv_close((uv_handle_t *)&stop.sig_term, NULL);
  stop.on_stop(stop.data);
}

int signals_start(uv_loop_t *loop, void (*on_stop)(void *data), void *data) {
  int r;
  signal(SIGPIPE, SIG_IGN);
  stop.on_stop = on_stop;
  stop.data = data;
  if ((r = uv_signal_init(loop, &stop.sig_int)) != 0 ||
      (r = uv_signal_init(loop, &stop.sig_term)) != 0 ||
      (r = uv_signal_start(&stop.sig_int, on_signal, SIGINT)) != 0 ||
      (r = uv_signal_start(&stop.sig_term, on_signal, SIGTERM)) != 0)
    return r;
  return 0;
}
