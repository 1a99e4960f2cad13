/*
 * term.c - the terminal session (p=1) on Linux: a shell, or one command
 * (docs/sessions.md §4, "exec"), on a pty made by forkpty().
 *
 * The pty master is non-blocking and close-on-exec and is watched with a
 * uv_poll; the child is watched through a pidfd (also a uv_poll), so no
 * SIGCHLD handler is needed and no other child of the process is reaped
 * by mistake. Output flows pty -> tunnel as binary frames and stops while
 * the tunnel has more than MESH_STREAM_HIGH_WATER queued (term_drain
 * resumes it). Input that the pty cannot take at once is kept and the
 * tunnel is paused until it is written.
 *
 * Teardown has two causes that may come in either order:
 * - the child exits: what the pty still holds is sent, then the exit
 *   status (ctrl "exit"), then the tunnel closes with 1000;
 * - the tunnel closes (term_detach): the child's process group gets
 *   SIGHUP, and SIGKILL after MESH_TERM_KILL_MS if it is still there.
 * The struct is freed once the tunnel is detached, the child reaped and
 * every handle closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent/tunnel.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mesh_limits.h"

#define TERM_READ 16384     /* one binary frame per read */
#define TERM_READS_PER_CB 8 /* bounded work per poll callback */
#define TERM_MAX_PENDING (4 * 1024 * 1024)
#define TERM_ENV_MAX 12

struct term {
  struct tunnel *t; /* NULL once detached */
  pid_t pid;        /* 0 once reaped */
  int master;       /* -1 once closed */
  int pidfd;
  uv_poll_t pty_poll, pid_poll;
  uv_timer_t kill_timer;
  int handles; /* open uv handles; freed when 0 and done */
  int pty_events;
  struct buf pending; /* input not yet written to the pty */
  int status;
  char name[96];
};

/* ------------------------------------------------ spawn */

/* Everything the child needs is built before fork(): after it, the child
 * of this multi-threaded process may only call async-signal-safe
 * functions. */
struct spawn {
  char *argv[4];
  char *envp[TERM_ENV_MAX + 1];
  char env_store[TERM_ENV_MAX][PATH_MAX > 4096 ? 4096 : PATH_MAX];
  int nenv;
  char shell[256];
  char home[1024];
  int raw;
};

static void env_add(struct spawn *s, const char *k, const char *v) {
  if (!v || s->nenv >= TERM_ENV_MAX) return;
  int w =
      snprintf(s->env_store[s->nenv], sizeof s->env_store[0], "%s=%s", k, v);
  if (w < 0 || (size_t)w >= sizeof s->env_store[0]) return;
  s->envp[s->nenv] = s->env_store[s->nenv];
  s->nenv++;
}

static int executable(const char *p) {
  return p && p[0] == '/' && access(p, X_OK) == 0;
}

/* The environment of spec §5.2, built from scratch, plus the account's
 * HOME, USER, LOGNAME and SHELL so that the shell starts where and as
 * whom one expects. */
static void build_env(struct spawn *s, const struct passwd *pw, unsigned cols,
                      unsigned rows) {
  char num[16];
  env_add(s, "HISTCONTROL", "ignoreboth");
  env_add(s, "LANG", getenv("LANG"));
  env_add(s, "PATH", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
  snprintf(num, sizeof num, "%u", rows);
  env_add(s, "LINES", num);
  snprintf(num, sizeof num, "%u", cols);
  env_add(s, "COLUMNS", num);
  env_add(s, "TERM", "xterm-256color");
  if (pw) {
    env_add(s, "HOME", pw->pw_dir);
    env_add(s, "USER", pw->pw_name);
    env_add(s, "LOGNAME", pw->pw_name);
  }
  env_add(s, "SHELL", s->shell);
  s->envp[s->nenv] = NULL;
}

static void child_exec(struct spawn *s) {
  /* Dispositions set to "ignore" survive exec (SIGPIPE would stay
   * ignored in every command the user runs); reset them all. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int i = 1; i < NSIG; i++) sigaction(i, &sa, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* The agent's sockets, database and pty masters stay with the agent. */
  closefrom(3);
  if (s->raw) {
    /* One command's bytes as written: no echo, no CR added (§4). The
     * defaults are read first so that only what raw mode means changes;
     * tcgetattr/tcsetattr are async-signal-safe, cfmakeraw only edits
     * the struct. */
    struct termios tio;
    if (tcgetattr(0, &tio) == 0) {
      cfmakeraw(&tio);
      tcsetattr(0, TCSANOW, &tio);
    }
  }
  if (s->home[0] && chdir(s->home) != 0 && chdir("/") != 0) _exit(127);
  execve(s->argv[0], s->argv, s->envp);
  _exit(127);
}

static int spawn_prepare(struct spawn *s, json_t *opts, unsigned cols,
                         unsigned rows, const char *exec_cmd,
                         const char **why) {
  memset(s, 0, sizeof *s);
  struct passwd *pw = getpwuid(getuid());
  if (exec_cmd) {
    snprintf(s->shell, sizeof s->shell, "/bin/sh");
  } else if (pw && executable(pw->pw_shell) &&
             strlen(pw->pw_shell) < sizeof s->shell) {
    snprintf(s->shell, sizeof s->shell, "%s", pw->pw_shell);
  } else if (executable("/bin/bash")) {
    snprintf(s->shell, sizeof s->shell, "/bin/bash");
  } else if (executable("/bin/sh")) {
    snprintf(s->shell, sizeof s->shell, "/bin/sh");
  } else {
    *why = "no shell found";
    return MESH_E_NOT_FOUND;
  }
  if (pw && pw->pw_dir && strlen(pw->pw_dir) < sizeof s->home)
    snprintf(s->home, sizeof s->home, "%s", pw->pw_dir);
  build_env(s, pw, cols, rows);
  (void)opts;
  s->argv[0] = s->shell;
  if (exec_cmd) {
    s->raw = 1;
    s->argv[1] = "-c";
    s->argv[2] = (char *)exec_cmd;
  }
  return 0;
}

/* ------------------------------------------------ teardown */

static void maybe_free(struct term *m);

static void on_handle_closed(uv_handle_t *h) {
  struct term *m = h->data;
  m->handles--;
  maybe_free(m);
}

static void close_handle(struct term *m, uv_handle_t *h) {
  (void)m;
  if (!uv_is_closing(h)) uv_close(h, on_handle_closed);
}

static void on_pty_closed(uv_handle_t *h) {
  struct term *m = h->data;
  /* Closing the master hangs up the shell's session (SIGHUP to its
   * foreground process group) if it is still there. */
  close(m->master);
  m->master = -1;
  on_handle_closed(h);
}

/* Stops watching the pty and closes it once libuv has let go of the fd. */
static void close_master(struct term *m) {
  if (m->master >= 0 && !uv_is_closing((uv_handle_t *)&m->pty_poll))
    uv_close((uv_handle_t *)&m->pty_poll, on_pty_closed);
}

/* Frees once detached from the tunnel, reaped, and with every handle
 * closed; safe to call at any time. */
static void maybe_free(struct term *m) {
  if (m->t || m->pid) return;
  close_master(m);
  close_handle(m, (uv_handle_t *)&m->pid_poll);
  close_handle(m, (uv_handle_t *)&m->kill_timer);
  if (m->handles > 0) return;
  close(m->pidfd);
  buf_cleanup(&m->pending);
  free(m);
}

/* ------------------------------------------------ output */

static void on_pty(uv_poll_t *h, int status, int events);

static int wanted_events(struct term *m) {
  int ev = 0;
  if (m->t && tunnel_queued(m->t) < MESH_STREAM_HIGH_WATER) ev |= UV_READABLE;
  if (m->pending.len) ev |= UV_WRITABLE;
  return ev;
}

static void rearm(struct term *m) {
  int ev = wanted_events(m);
  if (m->master < 0 || uv_is_closing((uv_handle_t *)&m->pty_poll)) return;
  if (ev == m->pty_events) return;
  m->pty_events = ev;
  if (ev)
    uv_poll_start(&m->pty_poll, ev, on_pty);
  else
    uv_poll_stop(&m->pty_poll);
}

/* Reads what the pty holds, at most max reads. Returns 0, or -1 when the
 * pty is done (EIO: every slave fd is closed). */
static int read_pty(struct term *m, int max) {
  uint8_t chunk[TERM_READ];
  for (int i = 0; i < max; i++) {
    ssize_t n = read(m->master, chunk, sizeof chunk);
    if (n > 0) {
      if (m->t) tunnel_send(m->t, WS_BINARY, chunk, (size_t)n);
      if (m->t && tunnel_queued(m->t) >= MESH_STREAM_HIGH_WATER && max < 1000)
        return 0;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 0;
    return -1;
  }
  return 0;
}

static void write_pending(struct term *m) {
  while (m->pending.len) {
    ssize_t n = write(m->master, m->pending.data, m->pending.len);
    if (n > 0) {
      buf_consume(&m->pending, (size_t)n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    buf_reset(&m->pending); /* the pty is gone; input has nowhere to go */
    return;
  }
  if (m->t) tunnel_resume(m->t);
}

static void on_pty(uv_poll_t *h, int status, int events) {
  struct term *m = h->data;
  if (status < 0 || (events & UV_DISCONNECT)) events |= UV_READABLE;
  if (events & UV_WRITABLE) write_pending(m);
  if ((events & UV_READABLE) && read_pty(m, TERM_READS_PER_CB) < 0) {
    /* EIO: the shell and everything it started closed the pty; the exit
     * status comes through the pidfd. */
    close_master(m);
    return;
  }
  rearm(m);
}

/* ------------------------------------------------ child exit */

static void finish(struct term *m) {
  if (!m->t) return;
  /* Whatever the command wrote before exiting is still in the pty. */
  if (m->master >= 0 && !uv_is_closing((uv_handle_t *)&m->pty_poll))
    (void)read_pty(m, 1000);
  int code = WIFEXITED(m->status)     ? WEXITSTATUS(m->status)
             : WIFSIGNALED(m->status) ? 128 + WTERMSIG(m->status)
                                      : 255;
  log_info("event=terminal_exit %s code=%d", m->name, code);
  tunnel_send_json(m->t, WS_TEXT,
                   json_pack("{s:s, s:s, s:i}", "ctrlChannel", "102938", "type",
                             "exit", "code", code));
  tunnel_close(m->t, 1000, "exited");
}

static void on_pidfd(uv_poll_t *h, int status, int events) {
  struct term *m = h->data;
  (void)status;
  (void)events;
  int st;
  pid_t r = waitpid(m->pid, &st, WNOHANG);
  if (r == 0) return;
  if (r < 0 && errno == EINTR) return;
  m->status = r > 0 ? st : 0;
  m->pid = 0;
  uv_poll_stop(&m->pid_poll);
  uv_timer_stop(&m->kill_timer);
  finish(m);
  maybe_free(m);
}

static void on_kill_timer(uv_timer_t *h) {
  struct term *m = h->data;
  if (m->pid) {
    log_info("event=terminal_kill %s signal=KILL", m->name);
    kill(-m->pid, SIGKILL);
    kill(m->pid, SIGKILL);
  }
}

/* ------------------------------------------------ API */

int term_start(struct tunnel *t, json_t *opts, struct term **out,
               const char **why) {
  *out = NULL;
  json_int_t cols = json_integer_value(json_object_get(opts, "cols"));
  json_int_t rows = json_integer_value(json_object_get(opts, "rows"));
  if (cols <= 0 || cols > 1000) cols = 80;
  if (rows <= 0 || rows > 1000) rows = 25;
  json_t *ex = json_object_get(opts, "exec");
  const char *exec_cmd = NULL;
  if (ex && !json_is_null(ex)) {
    if (!json_is_string(ex) || json_string_length(ex) == 0 ||
        strlen(json_string_value(ex)) != json_string_length(ex)) {
      *why = "exec must be a command line without NUL bytes";
      return MESH_E_MALFORMED;
    }
    exec_cmd = json_string_value(ex);
  }
  struct spawn *s = malloc(sizeof *s);
  struct term *m = calloc(1, sizeof *m);
  int r = !s || !m ? MESH_E_NOMEM : 0;
  if (r == 0)
    r = spawn_prepare(s, opts, (unsigned)cols, (unsigned)rows, exec_cmd, why);
  if (r) {
    if (r == MESH_E_NOMEM) *why = "out of memory";
    free(s);
    free(m);
    return r;
  }
  struct winsize ws = {.ws_row = (unsigned short)rows,
                       .ws_col = (unsigned short)cols};
  int master = -1;
  pid_t pid = forkpty(&master, NULL, NULL, &ws);
  if (pid == 0) child_exec(s);
  free(s);
  if (pid < 0) {
    free(m);
    *why = "cannot open a pty";
    return MESH_E_IO;
  }
  /* forkpty gives no flags: the master must not leak into later children
   * and must never block the loop. */
  fcntl(master, F_SETFD, FD_CLOEXEC);
  fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
  m->t = t;
  m->pid = pid;
  m->master = master;
  m->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  buf_init(&m->pending, TERM_MAX_PENDING);
  snprintf(m->name, sizeof m->name, "%s pid=%d", tunnel_name(t), (int)pid);
  uv_loop_t *loop = tunnel_loop(t);
  if (m->pidfd < 0 || uv_poll_init(loop, &m->pid_poll, m->pidfd) != 0) {
    /* Without a pidfd the child could not be reaped: do not start. */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(master);
    if (m->pidfd >= 0) close(m->pidfd);
    free(m);
    *why = "cannot watch the shell process";
    return MESH_E_IO;
  }
  uv_poll_init(loop, &m->pty_poll, master);
  uv_timer_init(loop, &m->kill_timer);
  m->pid_poll.data = m->pty_poll.data = m->kill_timer.data = m;
  m->handles = 3;
  uv_poll_start(&m->pid_poll, UV_READABLE, on_pidfd);
  rearm(m);
  log_info("event=terminal_start %s shell=%s exec=%d cols=%d rows=%d", m->name,
           exec_cmd ? "/bin/sh" : "login", exec_cmd != NULL, (int)cols,
           (int)rows);
  *out = m;
  return 0;
}

void term_input(struct term *m, const uint8_t *p, size_t n) {
  if (m->master < 0 || uv_is_closing((uv_handle_t *)&m->pty_poll)) return;
  if (m->pending.len == 0) {
    ssize_t w = write(m->master, p, n);
    if (w < 0 && errno != EAGAIN && errno != EINTR) return;
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    }
    if (n == 0) return;
  }
  if (buf_put(&m->pending, p, n) != 0) {
    tunnel_refuse(m->t, "terminal input over limit");
    return;
  }
  /* The shell is not reading: stop reading the viewer until it does. */
  tunnel_pause(m->t);
  rearm(m);
}

void term_resize(struct term *m, unsigned cols, unsigned rows) {
  struct winsize ws = {.ws_row = (unsigned short)rows,
                       .ws_col = (unsigned short)cols};
  if (m->master >= 0) ioctl(m->master, TIOCSWINSZ, &ws);
}

void term_drain(struct term *m) { rearm(m); }

void term_detach(struct term *m) {
  m->t = NULL;
  if (m->pid) {
    /* The shell leads its own session (forkpty), so its pid names the
     * process group of everything started in the foreground. */
    kill(-m->pid, SIGHUP);
    kill(m->pid, SIGHUP);
    uv_timer_start(&m->kill_timer, on_kill_timer, MESH_TERM_KILL_MS, 0);
  }
  close_master(m);
  maybe_free(m);
}
