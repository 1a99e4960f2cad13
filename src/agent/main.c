/*
 * meshagent - the agent. "meshagent run" runs it in the foreground; its
 * configuration (meshagent.msh) and database (meshagent.db) sit beside the
 * binary, named after it as the stock agent names them.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "base/log.h"
#include "net/signals.h"

static struct agent agent;

static void on_stop(void *data) { agent_stop(data); }

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
            "  reads <binary>.msh (or the one embedded in the binary) and "
            "keeps its\n  identity in <binary>.db beside the binary\n");
    return 2;
  }
  if (argc > 2 && strcmp(argv[2], "--verbose") == 0) log_set_level(LOG_DEBUG);
  if (beside_binary(msh, sizeof msh, "msh") ||
      beside_binary(db, sizeof db, "db")) {
    fprintf(stderr, "meshagent: cannot find my own binary\n");
    return 1;
  }
  /* A binary downloaded from the server carries its group's .msh inside;
   * the first start writes it out beside the binary (spec §3.3). */
  if (access(msh, F_OK) != 0) agent_config_extract("/proc/self/exe", msh);
  uv_loop_t *loop = uv_default_loop();
  int r = agent_start(&agent, loop, msh, db);
  if (r == 0) r = signals_start(loop, on_stop, &agent);
  if (r != 0) agent_stop(&agent);
  uv_run(loop, UV_RUN_DEFAULT);
  agent_cleanup(&agent);
  uv_loop_close(loop);
  return r ? 1 : 0;
}
