/*
 * prompt.c - secrets for meshctl: a password or a two-factor code from a
 * file (--pass-file), the environment (MESHCTL_PASSWORD, for scripts and
 * tests) or the terminal with echo off.
 *
 * The terminal is /dev/tty, not stdin, so `meshctl login ... < file`
 * cannot feed a password by accident; echo is restored on every path,
 * including SIGINT/SIGTERM while the prompt waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"

static int tty_fd = -1;
static struct termios saved;
static volatile sig_atomic_t echo_off;

static void restore_echo(void) {
  if (echo_off) tcsetattr(tty_fd, TCSAFLUSH, &saved);
  echo_off = 0;
}

static void on_signal(int sig) {
  restore_echo();
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Keeps the first line of buf (n bytes) in out, without the newline. */
static int first_line(const char *buf, size_t n, char *out, size_t cap) {
  size_t len = 0;
  while (len < n && buf[len] != '\n' && buf[len] != '\r') len++;
  if (len == 0 || len >= cap || memchr(buf, 0, len)) return -1;
  memcpy(out, buf, len);
  out[len] = 0;
  return 0;
}

static int from_file(const char *file, char *out, size_t cap) {
  char buf[1024];
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    mc_err("cannot read %s: %s", file, strerror(errno));
    return MC_FAIL;
  }
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  int r = n > 0 ? first_line(buf, (size_t)n, out, cap) : -1;
  OPENSSL_cleanse(buf, sizeof buf);
  if (r != 0) {
    mc_err("%s: the first line must hold the secret", file);
    return MC_FAIL;
  }
  return 0;
}

static int from_tty(const char *prompt, char *out, size_t cap) {
  char buf[1024];
  tty_fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty_fd < 0) {
    mc_err(
        "no terminal to ask for the %s: use --pass-file or "
        "MESHCTL_PASSWORD",
        prompt);
    return MC_FAIL;
  }
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  if (tcgetattr(tty_fd, &saved) == 0) {
    struct termios t = saved;
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    t.c_lflag |= ICANON;
    if (tcsetattr(tty_fd, TCSAFLUSH, &t) == 0) echo_off = 1;
  }
  char p[128];
  int pn = snprintf(p, sizeof p, "%c%s: ", prompt[0] & ~0x20, prompt + 1);
  /* A failed write only loses the prompt text; the read still works. */
  (void)!write(tty_fd, p, (size_t)pn);
  ssize_t n = read(tty_fd, buf, sizeof buf);
  restore_echo();
  (void)!write(tty_fd, "\n", 1); /* the newline echo did not print */
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  close(tty_fd);
  tty_fd = -1;
  int r = n > 0 ? first_line(buf, (size_t)n, out, cap) : -1;
  OPENSSL_cleanse(buf, sizeof buf);
  if (r != 0) {
    mc_err("no %s given", prompt);
    return MC_FAIL;
  }
  return 0;
}

int mc_read_secret(const char *prompt, const char *file, const char *env,
                   char *out, size_t cap) {
  out[0] = 0;
  if (file) return from_file(file, out, cap);
  const char *v = env ? getenv(env) : NULL;
  if (v && v[0]) {
    if (strlen(v) >= cap) {
      mc_err("%s is too long", env);
      return MC_FAIL;
    }
    snprintf(out, cap, "%s", v);
    return 0;
  }
  return from_tty(prompt, out, cap);
}

int mc_interactive(void) {
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) return 0;
  close(fd);
  return 1;
}
