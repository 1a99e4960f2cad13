/* Which X display the desktop captures and which cookie file opens it
 * (kvm_x11_find.c), on a fake /proc, socket folder and VT file built in a
 * temp dir: each rule, their order, malformed and oversized /proc files,
 * missing files and symlinks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/kvm.h"
#include "base/err.h"
#include "testutil.h"

/* The read limits of kvm_x11_find.c, which the truncation tests straddle. */
#define ARGS_MAX 4096
#define ENV_MAX 65536

static char root[256];
static char procdir[300], sockdir[300], vtfile[300], home[300];

static int setup(void **state) {
  (void)state;
  snprintf(root, sizeof root, "%s", tu_tmpdir());
  snprintf(procdir, sizeof procdir, "%s/proc", root);
  snprintf(sockdir, sizeof sockdir, "%s/sock", root);
  snprintf(vtfile, sizeof vtfile, "%s/active", root);
  snprintf(home, sizeof home, "%s/home", root);
  mkdir(procdir, 0755);
  mkdir(sockdir, 0755);
  mkdir(home, 0755);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_rmdir_r(root);
  return 0;
}

static void put_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  fclose(f);
}

/* A cookie file under the temp dir; its path in a static buffer. */
static const char *cookie(const char *name) {
  static char path[4][320];
  static int i;
  char *p = path[i++ % 4];
  snprintf(p, 320, "%s/%s", root, name);
  put_file(p, "cookie", 6);
  return p;
}

/* /proc/<pid> with the given cmdline and environ (n bytes each; NULL for
 * none). */
static void proc(int pid, const void *cmd, size_t cn, const void *env,
                 size_t en) {
  char path[400];
  snprintf(path, sizeof path, "%s/%d", procdir, pid);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/%d/cmdline", procdir, pid);
  if (cmd) put_file(path, cmd, cn);
  snprintf(path, sizeof path, "%s/%d/environ", procdir, pid);
  if (env) put_file(path, env, en);
}

/* A NUL-separated list from a string whose '|' stand for the NULs. */
static size_t list(char *out, size_t cap, const char *s) {
  size_t n = strlen(s);
  assert_true(n < cap);
  for (size_t i = 0; i < n; i++) out[i] = s[i] == '|' ? 0 : s[i];
  return n;
}

static void server(int pid, const char *args) {
  char b[1024];
  proc(pid, b, list(b, sizeof b, args), NULL, 0);
}

static void client(int pid, const char *env) {
  char b[1024];
  proc(pid,
       "sleep\0"
       "600",
       10, b, list(b, sizeof b, env));
}

static void sock(const char *name) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  assert_true(snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", sockdir, name) <
              (int)sizeof a.sun_path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  close(fd);
}

static int find(const char *display, char *out, char *xauth) {
  const struct kvmx_places pl = {
      .sockdir = sockdir, .procdir = procdir, .vtfile = vtfile, .home = home};
  const char *why = NULL;
  int r = kvmx_find_display(&pl, display, NULL, out, 64, xauth, 512, &why);
  if (r) assert_non_null(why);
  return r;
}

/* (a) the X server's -auth FILE, found from its ":N"; then (b) when that
 * file is gone; then nothing when neither is usable. */
static void server_auth_then_client_env(void **state) {
  (void)state;
  char out[64], xauth[512], args[512], env[512];
  sock("X0");
  const char *c0 = cookie("serverauth");
  snprintf(args, sizeof args,
           "/usr/lib/xorg/Xorg|-core|:0|-seat|seat0|-auth|%s|-nolisten|tcp|vt7",
           c0);
  server(100, args);
  const char *c1 = cookie("clientauth");
  snprintf(env, sizeof env, "HOME=/x|DISPLAY=:0.0|XAUTHORITY=%s|", c1);
  client(200, env);
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(out, ":0");
  assert_string_equal(xauth, c0);
  /* The same through $DISPLAY. */
  assert_int_equal(find(":0", out, xauth), 0);
  assert_string_equal(out, ":0");
  assert_string_equal(xauth, c0);
  unlink(c0);
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(xauth, c1);
  unlink(c1);
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(xauth, "");
}

/* A client of another display, a remote DISPLAY or a malformed one never
 * lends its XAUTHORITY; a remote $DISPLAY is used as it is. */
static void client_must_match_display(void **state) {
  (void)state;
  char out[64], xauth[512], env[512];
  sock("X1");
  const char *c = cookie("c");
  const char *bad[] = {":2", "host:1", ":1x", ":", ":1.", "", ":99999999"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    snprintf(env, sizeof env, "DISPLAY=%s|XAUTHORITY=%s|", bad[i], c);
    client(300 + (int)i, env);
  }
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(out, ":1");
  assert_string_equal(xauth, "");
  assert_int_equal(find("remote:1", out, xauth), 0);
  assert_string_equal(out, "remote:1");
  assert_string_equal(xauth, "");
  /* unix:1.0 is the same display. */
  snprintf(env, sizeof env, "XAUTHORITY=%s|DISPLAY=unix:1.0|", c);
  client(400, env);
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(xauth, c);
}

/* Several sockets: the server on the active VT, else one with -auth,
 * else the lowest. */
static void picks_console_display(void **state) {
  (void)state;
  char out[64], xauth[512], args[512];
  sock("X0");
  sock("X1");
  sock("X2");
  sock("X10");
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(out, ":0");
  snprintf(args, sizeof args, "Xorg|:2|-auth|%s", cookie("a2"));
  server(10, args);
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(out, ":2");
  snprintf(args, sizeof args, "/usr/bin/X|:1|vt2|-auth|%s", cookie("a1"));
  server(11, args);
  server(12, "/usr/bin/Xvfb|:10|vt3");
  put_file(vtfile, "tty2\n", 5);
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(out, ":1");
  assert_non_null(strstr(xauth, "/a1"));
  put_file(vtfile, "tty3\n", 5);
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(out, ":10");
  assert_string_equal(xauth, "");
  /* No socket at all. */
  tu_rmdir_r(sockdir);
  assert_int_equal(find(NULL, out, xauth), MESH_E_NOT_FOUND);
}

/* An Xwayland socket found by scanning is a Wayland session: refused;
 * an explicit $DISPLAY is trusted. */
static void xwayland_refused(void **state) {
  (void)state;
  char out[64], xauth[512];
  sock("X0");
  server(20, "/usr/bin/Xwayland|:0|-rootless|-noreset");
  const struct kvmx_places pl = {
      .sockdir = sockdir, .procdir = procdir, .home = home};
  const char *why = NULL;
  assert_int_equal(kvmx_find_display(&pl, NULL, NULL, out, sizeof out, xauth,
                                     sizeof xauth, &why),
                   MESH_E_INVALID);
  assert_non_null(strstr(why, "Wayland sessions are not supported"));
  assert_int_equal(find(":0", out, xauth), 0);
}

/* Cookie files that are symlinks, folders or named relative are never
 * taken; /proc entries that are symlinks or FIFOs are skipped without
 * blocking. */
static void odd_files_refused(void **state) {
  (void)state;
  char out[64], xauth[512], args[512], env[512], link[400];
  sock("X0");
  const char *c = cookie("real");
  snprintf(link, sizeof link, "%s/link", root);
  assert_int_equal(symlink(c, link), 0);
  snprintf(args, sizeof args, "Xorg|:0|-auth|%s", link);
  server(30, args);
  snprintf(env, sizeof env, "DISPLAY=:0|XAUTHORITY=%s|", root); /* a folder */
  client(31, env);
  client(32, "DISPLAY=:0|XAUTHORITY=real|");
  /* A cmdline that is a symlink to a good one, an environ FIFO. */
  char good[512], path[400];
  snprintf(good, sizeof good, "%s/good", root);
  snprintf(args, sizeof args, "Xorg|:0|-auth|%s", c);
  size_t n = list(args, sizeof args, args);
  put_file(good, args, n);
  snprintf(path, sizeof path, "%s/33", procdir);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/33/cmdline", procdir);
  assert_int_equal(symlink(good, path), 0);
  snprintf(path, sizeof path, "%s/34", procdir);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/34/environ", procdir);
  assert_int_equal(mkfifo(path, 0600), 0);
  /* Not a pid at all. */
  snprintf(path, sizeof path, "%s/self", procdir);
  assert_int_equal(symlink("33", path), 0);
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(xauth, "");
}

/* Malformed /proc files: empty (a kernel thread), no NUL at all, a
 * cmdline or environ over the read limit whose last string is cut. */
static void malformed_proc_files(void **state) {
  (void)state;
  char out[64], xauth[512];
  sock("X0");
  const char *c = cookie("c1");
  proc(40, "", 0, "", 0);
  /* A server that rewrote its title into one string. */
  char one[512];
  int n = snprintf(one, sizeof one, "Xorg :0 -auth %s", c);
  proc(41, one, (size_t)n, NULL, 0);
  /* One environ string holding both (no NUL). */
  n = snprintf(one, sizeof one, "DISPLAY=:0 XAUTHORITY=%s", c);
  proc(42, "sh", 2, one, (size_t)n);
  /* A cmdline cut inside the -auth path: "<c>X" would be cut to "<c>". */
  static char big[2 * ENV_MAX];
  size_t cl = strlen(c);
  size_t pad = ARGS_MAX - 1 - (5 + 3 + 6 + cl);
  memcpy(big, "Xorg\0:0\0", 8);
  memset(big + 8, 'p', pad - 1);
  big[8 + pad - 1] = 0;
  memcpy(big + 8 + pad, "-auth\0", 6);
  memcpy(big + 14 + pad, c, cl);
  memcpy(big + 14 + pad + cl, "X\0", 2);
  proc(43, big, 14 + pad + cl + 2, NULL, 0);
  /* An environ cut the same way. */
  size_t epad = ENV_MAX - 1 - (11 + 11 + cl);
  memcpy(big, "DISPLAY=:0\0", 11);
  memset(big + 11, 'e', epad - 1);
  big[11 + epad - 1] = 0;
  memcpy(big + 11 + epad, "XAUTHORITY=", 11);
  memcpy(big + 22 + epad, c, cl);
  memcpy(big + 22 + epad + cl, "X\0", 2);
  proc(44, "sh", 2, big, 22 + epad + cl + 2);
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(xauth, "");
  /* The same environ one byte shorter keeps the whole value: taken. */
  memcpy(big + 21 + epad, c, cl);
  memcpy(big + 21 + epad + cl, "\0", 1);
  memcpy(big + 10 + epad, "XAUTHORITY=", 11);
  big[10 + epad - 1] = 0;
  proc(44, "sh", 2, big, 21 + epad + cl + 1);
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(xauth, c);
}

/* (c) the socket owner's ~/.Xauthority, only when they own it; (b) the
 * owner's own processes win over another user's. Needs root to hand
 * files to other uids. */
static void owner_rules(void **state) {
  (void)state;
  if (getuid() != 0) skip();
  char out[64], xauth[512], env[512], path[400], hx[400];
  sock("X0");
  snprintf(path, sizeof path, "%s/X0", sockdir);
  assert_int_equal(chown(path, 12345, 12345), 0);
  snprintf(hx, sizeof hx, "%s/.Xauthority", home);
  put_file(hx, "cookie", 6);
  assert_int_equal(chown(hx, 54321, 54321), 0);
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(xauth, ""); /* not the owner's file */
  assert_int_equal(chown(hx, 12345, 12345), 0);
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(xauth, hx);
  /* Another user's process naming a file they own: taken over (c)... */
  const char *other = cookie("other");
  assert_int_equal(chown(other, 54321, 54321), 0);
  snprintf(env, sizeof env, "DISPLAY=:0|XAUTHORITY=%s|", other);
  client(50, env);
  snprintf(path, sizeof path, "%s/50", procdir);
  assert_int_equal(chown(path, 54321, 54321), 0);
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(xauth, other);
  /* ...but the owner's own process wins, wherever it is listed. */
  const char *mine = cookie("mine");
  assert_int_equal(chown(mine, 12345, 12345), 0);
  snprintf(env, sizeof env, "DISPLAY=:0|XAUTHORITY=%s|", mine);
  client(51, env);
  snprintf(path, sizeof path, "%s/51", procdir);
  assert_int_equal(chown(path, 12345, 12345), 0);
  snprintf(env, sizeof env, "DISPLAY=:0|XAUTHORITY=%s|", cookie("rootc"));
  client(49, env); /* root's process and file: allowed, not preferred */
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(xauth, mine);
  /* A process pointing at a file of someone else: refused. */
  tu_rmdir_r(procdir);
  mkdir(procdir, 0755);
  snprintf(env, sizeof env, "DISPLAY=:0|XAUTHORITY=%s|", mine);
  client(52, env);
  snprintf(path, sizeof path, "%s/52", procdir);
  assert_int_equal(chown(path, 54321, 54321), 0);
  unlink(hx);
  assert_int_equal(find(NULL, out, xauth), 0);
  assert_string_equal(xauth, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(server_auth_then_client_env, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(client_must_match_display, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(picks_console_display, setup, teardown),
      cmocka_unit_test_setup_teardown(xwayland_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(odd_files_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(malformed_proc_files, setup, teardown),
      cmocka_unit_test_setup_teardown(owner_rules, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
