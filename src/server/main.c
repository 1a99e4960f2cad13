/*
 * meshd - the server. See usage() for the command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mesh_limits.h"
#include "cli.h"
#include "cli_users.h"
#include "net/signals.h"
#include "srv.h"

/* The web app's folder when --web is not given: the source tree's web/
 * (set by CMakeLists.txt), so a build runs from its checkout as is. */
#ifndef MESHD_WEB_DIR
#define MESHD_WEB_DIR "web"
#endif

static void usage(FILE *f) {
  fprintf(f,
          "usage: meshd [options]                 run the server\n"
          "       meshd create-group NAME [--data DIR]\n"
          "       meshd agent-config GROUP [--data DIR] [--url URL]\n"
          "       meshd list-devices [--data DIR] [--json]\n"
          "       meshd create-account NAME --pass P [--email E] [--admin] "
          "[--data DIR]\n"
          "options:\n"
          "  --data DIR      data folder (default ./meshd-data)\n"
          "  --db CONNINFO   keep the data in this PostgreSQL database (a "
          "libpq\n"
          "                  connection string; default $MESHD_DB); "
          "remembered in\n"
          "                  the data folder's database.conf. Without "
          "either:\n"
          "                  SQLite in the data folder\n"
          "  --port N        HTTPS port (default 443; 0 picks a free one)\n"
          "  --bind ADDR     address to listen on (default 0.0.0.0)\n"
          "  --name HOST     server name for certificates and agent URLs\n"
          "                  (default: the bind address, or the host name)\n"
          "  --agent-idle-timeout S   drop a silent agent after S seconds "
          "(default 150)\n"
          "  --auth-timeout S         handshake deadline (default 30)\n"
          "  --agent-update HOW       native (default) or core: update "
          "agents\n"
          "                  that run JavaScript through the recovery core\n"
          "  --web DIR       the browser app's files (default " MESHD_WEB_DIR
          ")\n"
          "  --verbose       debug logging\n");
}

struct opts {
  const char *data, *bind, *name, *url, *web, *pass, *email, *db;
  int admin;
  int port, json, verbose;
  long idle_s, auth_s;
  int update_core;
  const char *cmd, *arg;
};

static int parse_opts(int argc, char **argv, struct opts *o) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(name) (strcmp(a, name) == 0 && v && (i++, 1))
    if (TAKE("--data"))
      o->data = v;
    else if (TAKE("--db"))
      o->db = v;
    else if (TAKE("--bind"))
      o->bind = v;
    else if (TAKE("--name"))
      o->name = v;
    else if (TAKE("--url"))
      o->url = v;
    else if (TAKE("--web"))
      o->web = v;
    else if (TAKE("--pass"))
      o->pass = v;
    else if (TAKE("--email"))
      o->email = v;
    else if (strcmp(a, "--admin") == 0)
      o->admin = 1;
    else if (TAKE("--port"))
      o->port = atoi(v);
    else if (TAKE("--agent-idle-timeout"))
      o->idle_s = atol(v);
    else if (TAKE("--auth-timeout"))
      o->auth_s = atol(v);
    else if (TAKE("--agent-update") &&
             (strcmp(v, "core") == 0 || strcmp(v, "native") == 0))
      o->update_core = strcmp(v, "core") == 0;
    else if (strcmp(a, "--json") == 0)
      o->json = 1;
    else if (strcmp(a, "--verbose") == 0)
      o->verbose = 1;
    else if (a[0] != '-' && !o->cmd)
      o->cmd = a;
    else if (a[0] != '-' && !o->arg)
      o->arg = a;
    else
      return -1;
#undef TAKE
  }
  if (o->port < 0 || o->port > 65535 || o->idle_s <= 0 || o->auth_s <= 0)
    return -1;
  return 0;
}

static struct srv server;

static void on_stop(void *data) { srv_stop(data); }

static int run_server(const struct opts *o) {
  char host[256];
  struct srv_config cfg = {
      .data_dir = o->data,
      .bind = o->bind,
      .port = o->port,
      .name = o->name,
      .agent_idle_ms = (uint64_t)o->idle_s * 1000,
      .auth_ms = (uint64_t)o->auth_s * 1000,
      .web_dir = o->web,
      .agent_update_core = o->update_core,
      .db = o->db,
  };
  if (!cfg.name) {
    int any = strcmp(o->bind, "0.0.0.0") == 0 || strcmp(o->bind, "::") == 0;
    if (any && gethostname(host, sizeof host) == 0)
      cfg.name = host;
    else
      cfg.name = o->bind;
  }
  uv_loop_t *loop = uv_default_loop();
  int r = srv_start(&server, loop, &cfg);
  if (r == 0) r = signals_start(loop, on_stop, &server);
  if (r != 0) srv_stop(&server);
  uv_run(loop, UV_RUN_DEFAULT);
  srv_cleanup(&server);
  uv_loop_close(loop);
  return r ? 1 : 0;
}

int main(int argc, char **argv) {
  struct opts o = {.data = "./meshd-data",
                   .web = MESHD_WEB_DIR,
                   .bind = "0.0.0.0",
                   .port = 443,
                   .idle_s = MESH_AGENT_IDLE_MS / 1000,
                   .auth_s = MESH_CC_AUTH_MS / 1000};
  log_set_prog("meshd");
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    usage(stdout);
    return 0;
  }
  o.db = getenv("MESHD_DB");
  if (o.db && !*o.db) o.db = NULL;
  if (parse_opts(argc, argv, &o) != 0) {
    usage(stderr);
    return 2;
  }
  if (o.verbose) log_set_level(LOG_DEBUG);
  if (!o.cmd) return run_server(&o);
  cli_set_db(o.db);
  if (!strcmp(o.cmd, "create-group") && o.arg)
    return cli_create_group(o.data, o.arg);
  if (!strcmp(o.cmd, "agent-config") && o.arg)
    return cli_agent_config(o.data, o.arg, o.url);
  if (!strcmp(o.cmd, "create-account") && o.arg && o.pass)
    return cli_create_account(o.data, o.arg, o.pass, o.email, o.admin);
  if (!strcmp(o.cmd, "list-devices") && !o.arg)
    return cli_list_devices(o.data, o.json);
  usage(stderr);
  return 2;
}
