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
#include "agent/service.h"
#include "agent/update.h"
#include "base/log.h"
#include "net/signals.h"

static struct agent agent;
static uv_prepare_t restart_watch;

static void on_stop(void *data) { agent_stop(data); }

/* Sets out to path plus "." and ext ("msh" or "db"). */
static int beside(char *out, size_t cap, const char *path, const char *ext) {
  int w = snprintf(out, cap, "%s.%s", path, ext);
  return w < 0 || (size_t)w >= cap ? -1 : 0;
}

static void close_signal(uv_handle_t *h, void *arg) {
  (void)arg;
  if (h->type == UV_SIGNAL && !uv_is_closing(h)) uv_close(h, NULL);
}

/* After an update asked for a restart the agent has stopped, but the
 * signal handlers still hold the loop: close them so it runs dry. */
static void on_prepare(uv_prepare_t *p) {
  if (!agent.restart) return;
  uv_walk(p->loop, close_signal, NULL);
  uv_close((uv_handle_t *)p, NULL);
}

static int usage(void) {
  fprintf(stderr,
          "usage: meshagent run [--verbose] [--service]\n"
          "       meshagent install [--unit-dir DIR]\n"
          "       meshagent uninstall [--unit-dir DIR]\n"
          "       meshagent self-test [--for PATH]\n"
          "  reads <binary>.msh (or the one embedded in the binary) and "
          "keeps its\n  identity in <binary>.db beside the binary\n");
  return 2;
}

int main(int argc, char **argv) {
  char exe[PATH_MAX], msh[PATH_MAX + 8], db[PATH_MAX + 8];
  const char *unit_dir = NULL, *for_path = NULL;
  int service = 0, watching = 0;
  log_set_prog("meshagent");
  if (argc < 2) return usage();
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--verbose") == 0)
      log_set_level(LOG_DEBUG);
    else if (strcmp(argv[i], "--service") == 0)
      service = 1;
    else if (strcmp(argv[i], "--unit-dir") == 0 && i + 1 < argc)
      unit_dir = argv[++i];
    else if (strcmp(argv[i], "--for") == 0 && i + 1 < argc)
      for_path = argv[++i];
    else
      return usage();
  }
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    fprintf(stderr, "meshagent: cannot find my own binary\n");
    return 1;
  }
  exe[n] = 0;
  /* A self-test runs as <exe>.update on behalf of <exe> (update.h). */
  const char *self = for_path ? for_path : exe;
  if (beside(msh, sizeof msh, self, "msh") || beside(db, sizeof db, self, "db"))
    return 1;
  if (strcmp(argv[1], "self-test") == 0)
    return agent_self_test(msh, db) ? 1 : 0;
  if (strcmp(argv[1], "install") == 0)
    return agent_service_install(exe, unit_dir) ? 1 : 0;
  if (strcmp(argv[1], "uninstall") == 0)
    return agent_service_uninstall(unit_dir) ? 1 : 0;
  if (strcmp(argv[1], "run") != 0) return usage();
  /* A binary downloaded from the server carries its group's .msh inside;
   * the first start writes it out beside the binary (spec §3.3). */
  if (access(msh, F_OK) != 0) agent_config_extract(exe, msh);
  uv_loop_t *loop = uv_default_loop();
  int r = agent_start(&agent, loop, msh, db);
  if (r == 0) r = signals_start(loop, on_stop, &agent);
  if (r == 0) {
    uv_prepare_init(loop, &restart_watch);
    uv_prepare_start(&restart_watch, on_prepare);
    uv_unref((uv_handle_t *)&restart_watch);
    watching = 1;
  }
  if (r != 0) agent_stop(&agent);
  uv_run(loop, UV_RUN_DEFAULT);
  int restart = agent.restart;
  agent_cleanup(&agent);
  /* Stopped by a signal: the (unreferenced) watch is still open. */
  if (watching && !uv_is_closing((uv_handle_t *)&restart_watch)) {
    uv_close((uv_handle_t *)&restart_watch, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(loop);
  if (restart) {
    /* The binary at exe is now another one (an update, or the old one
     * put back). Under systemd the service manager starts it; in the
     * foreground it replaces this process, same path and arguments. */
    if (service) return AGENT_EXIT_RESTART;
    log_info("event=restart path=%s", exe);
    execv(exe, argv);
    log_error("event=restart_failed path=%s", exe);
    return 1;
  }
  return r ? 1 : 0;
}
