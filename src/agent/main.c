/*
 * meshagent - the agent. "meshagent run" runs it in the foreground; its
 * configuration (meshagent.msh) and database (meshagent.db) sit beside the
 * binary, named after it as the stock agent names them.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "base/log.h"

static struct agent agent;
static uv_signal_t sig_int, sig_term;

static void on_signal(uv_signal_t *h, int signum) {
  (void)h;
  log_info("event=stopping signal=%d", signum);
  uv_close((uv_handle_t *)&sig_int, NULL);
  uv_close((uv_handle_t *)&sig_term, NULL);
  agent_stop(&agent);
}

/* Sets out to the path of our own binary plus ext ("msh" or "db"). */
static int beside_binary(char *out, size_t cap, const char *ext) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return -1;
  exe[n] = 0;
  int w = snprintf(out, cap, "%s.%s", exe, ext);
  return w < 0 || (size_t)w >= cap ? -1 : 0;
}

int main(int argc, char **argv) {
  char msh[PATH_MAX + 8], db[PATH_MAX + 8];
  log_set_prog("meshagent");
  if (argc < 2 || strcmp(argv[1], "run") != 0) {
    fprintf(stderr,
            "usage: meshagent run [--verbose]\n"
            "  reads <binary>.msh and keeps its identity in "
            "<binary>.db beside the binary\n");
    return 2;
  }
  if (argc > 2 && strcmp(argv[2], "--verbose") == 0) log_set_level(LOG_DEBUG);
  if (beside_binary(msh, sizeof msh, "msh") ||
      beside_binary(db, sizeof db, "db")) {
    fprintf(stderr, "meshagent: cannot find my own binary\n");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t *loop = uv_default_loop();
  int r = agent_start(&agent, loop, msh, db);
  if (r == 0) {
    uv_signal_init(loop, &sig_int);
    uv_signal_init(loop, &sig_term);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
  } else {
    agent_stop(&agent);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  agent_cleanup(&agent);
  uv_loop_close(loop);
  return r ? 1 : 0;
}
