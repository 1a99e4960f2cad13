/*
 * term.c - `meshctl shell` and `meshctl run`: terminal protocol 1 through
 * the relay (spec sessions.md §5, docs/sessions.md §4).
 *
 * shell: the local terminal goes into raw mode so every key (including
 * ^C and ^Z) reaches the remote pty; the saved mode is restored on every
 * way out: normal return, exit(), and SIGTERM/SIGHUP/SIGINT/SIGQUIT (the
 * handler restores and re-raises). Keystrokes go as binary frames, output
 * comes back as binary frames straight to stdout, SIGWINCH becomes a
 * termsize message. run: the `exec` option runs one command; stdin is not
 * read. Both end with the remote exit status (the `exit` control message).
 *
 * Back-pressure: stdin is not read while the relay socket holds more than
 * MESH_STREAM_HIGH_WATER; on_drain resumes it. Output is written to stdout
 * synchronously, which holds the loop (and so the socket) while the
 * terminal is slow.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "base/mesh_limits.h"
#include "cli/cli.h"

/* ---- raw mode, restored on every exit path ---- */

static struct termios saved_tio;
static volatile sig_atomic_t raw_on;

static void raw_restore(void) {
  if (raw_on) tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
  raw_on = 0;
}

static void on_fatal_signal(int sig) {
  raw_restore();
  signal(sig, SIG_DFL);
  raise(sig);
}

static void raw_enter(void) {
  static int hooked;
  if (tcgetattr(STDIN_FILENO, &saved_tio) != 0) return;
  if (!hooked) {
    static const int sigs[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
      sigaction(sigs[i], &sa, NULL);
    atexit(raw_restore);
    hooked = 1;
  }
  struct termios t = saved_tio;
  cfmakeraw(&t);
  /* TCSANOW, not TCSAFLUSH: keys typed ahead belong to the remote shell. */
  if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) raw_on = 1;
}

/* ---- the session ---- */

struct term {
  const char *exec;
  struct mc_relay *r;
  uv_tty_t tty;   /* stdin when it is a terminal */
  uv_pipe_t pipe; /* stdin otherwise */
  uv_stream_t *in;
  int in_paused, in_eof;
  uv_signal_t winch;
  int winch_on;
  char buf[64 * 1024];
};

static void window_size(int *cols, int *rows) {
  struct winsize ws;
  *cols = 80;
  *rows = 25;
  if ((ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ||
       ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) &&
      ws.ws_col > 0 && ws.ws_row > 0) {
    *cols = ws.ws_col;
    *rows = ws.ws_row;
  }
}

/* Writes all n bytes to stdout, waiting when it is non-blocking. */
static int write_out(const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t k = write(STDOUT_FILENO, p, n);
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pfd = {STDOUT_FILENO, POLLOUT, 0};
      poll(&pfd, 1, -1);
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *b) {
  struct term *t = h->data;
  (void)want;
  *b = uv_buf_init(t->buf, sizeof t->buf);
}

static void on_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  struct term *t = s->data;
  if (n > 0) {
    mc_relay_send(t->r, WS_BINARY, b->base, (size_t)n);
    if (mc_relay_queued(t->r) > MESH_STREAM_HIGH_WATER) {
      uv_read_stop(s);
      t->in_paused = 1;
    }
  } else if (n < 0) {
    /* Input ended (a pipe or file): pass it on as the terminal's EOF key,
     * so a remote shell reading that input sees the end too. */
    uv_read_stop(s);
    t->in_eof = 1;
    if (n == UV_EOF) mc_relay_send(t->r, WS_BINARY, "\x04", 1);
  }
}

static void on_winch(uv_signal_t *s, int sig) {
  struct term *t = s->data;
  int cols, rows;
  (void)sig;
  window_size(&cols, &rows);
  mc_relay_send_json(
      t->r, json_pack("{s:s, s:s, s:i, s:i}", "ctrlChannel", "102938", "type",
                      "termsize", "cols", cols, "rows", rows));
}

static void start_input(struct term *t, uv_loop_t *loop) {
  uv_handle_type k = uv_guess_handle(STDIN_FILENO);
  if (k == UV_TTY && uv_tty_init(loop, &t->tty, STDIN_FILENO, 1) == 0) {
    t->in = (uv_stream_t *)&t->tty;
  } else if ((k == UV_NAMED_PIPE || k == UV_TCP) &&
             uv_pipe_init(loop, &t->pipe, 0) == 0) {
    if (uv_pipe_open(&t->pipe, STDIN_FILENO) == 0) {
      t->in = (uv_stream_t *)&t->pipe;
    } else {
      uv_close((uv_handle_t *)&t->pipe, NULL);
    }
  }
  if (!t->in) return; /* a file or nothing: no input */
  t->in->data = t;
  uv_read_start(t->in, on_alloc, on_stdin);
}

static void on_start(struct mc_relay *r, void *data) {
  struct term *t = data;
  struct mc_app *a = mc_relay_app(r);
  int cols, rows;
  t->r = r;
  window_size(&cols, &rows);
  json_t *o = json_pack("{s:s, s:i, s:i, s:i, s:b}", "type", "options",
                        "protocol", 1, "cols", cols, "rows", rows, "xterm", 1);
  if (t->exec) json_object_set_new(o, "exec", json_string(t->exec));
  mc_relay_send_json(r, o);
  mc_relay_send(r, WS_TEXT, "1", 1);
  if (t->exec) return;
  if (isatty(STDIN_FILENO)) raw_enter();
  start_input(t, &a->loop);
  if (isatty(STDOUT_FILENO) && uv_signal_init(&a->loop, &t->winch) == 0) {
    t->winch.data = t;
    uv_signal_start(&t->winch, on_winch, SIGWINCH);
    t->winch_on = 1;
  }
}

static void on_data(struct mc_relay *r, enum ws_type ty, const uint8_t *p,
                    size_t n, void *data) {
  (void)data;
  if (ty != WS_BINARY) return; /* stray text is not terminal output */
  if (write_out(p, n) != 0)
    mc_relay_finish(r, MC_FAIL, "cannot write the output");
}

static void on_drain(struct mc_relay *r, void *data) {
  struct term *t = data;
  (void)r;
  if (t->in && t->in_paused && !t->in_eof) {
    t->in_paused = 0;
    uv_read_start(t->in, on_alloc, on_stdin);
  }
}

static const struct mc_relay_cbs term_cbs = {on_start, on_data, on_drain};

int mc_cmd_shell(struct mc_app *a, const char *device, const char *exec) {
  struct mc_ctl *c;
  struct mc_device d;
  struct term *t = calloc(1, sizeof *t);
  if (!t) return MC_FAIL;
  t->exec = exec;
  int st = MC_FAIL;
  if (mc_ctl_open(a, &c) == 0) {
    if (mc_find_device(c, device, &d) == 0)
      st = mc_relay_run(a, c, &d, 1, &term_cbs, t);
    mc_ctl_close(c);
  }
  raw_restore();
  if (t->in) uv_close((uv_handle_t *)t->in, NULL);
  if (t->winch_on) uv_close((uv_handle_t *)&t->winch, NULL);
  /* Let the closes finish before t goes. */
  uv_run(&a->loop, UV_RUN_DEFAULT);
  free(t);
  return st;
}
