/*
 * service.c - meshagent as a systemd service.
 *
 * Why the unit has so little sandboxing: meshagent is a remote management
 * agent, and what it is for is to give an authorised administrator a root
 * shell and the whole file system. Every systemd restriction on the
 * service is inherited by those shells: NoNewPrivileges breaks sudo and
 * su, ProtectSystem/ProtectHome make the files tab read-only or empty,
 * PrivateTmp shows a private /tmp, RestrictNamespaces breaks unshare and
 * container tools, MemoryDenyWriteExecute breaks JITs. The agent's
 * protection is elsewhere: it trusts one pinned server identity, checks
 * rights on every session, and keeps its identity 0600.
 *
 * So the unit sets what keeps the agent reachable instead: restart always
 * (a self-update exits with AGENT_EXIT_RESTART to be started again, see
 * update.h) with no start-rate limit, so a burst of restarts never leaves
 * a machine unmanaged; and a low OOM score, so the kernel picks other
 * processes before the one that lets an administrator fix the machine.
 */
#include "service.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"

extern char **environ;

int agent_service_unit(const char *exe, char *out, size_t cap) {
  if (exe[0] != '/') return MESH_E_INVALID;
  /* Characters systemd would read as quoting, a specifier or a variable,
   * or that would end the line: refused rather than escaped. */
  for (const char *p = exe; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("\"'\\%$;", *p))
      return MESH_E_INVALID;
  int n = snprintf(out, cap,
                   "# Written by `meshagent install`; removed by `meshagent "
                   "uninstall`.\n"
                   "[Unit]\n"
                   "Description=meshagent remote management agent\n"
                   "Wants=network-online.target\n"
                   "After=network-online.target\n"
                   "StartLimitIntervalSec=0\n"
                   "\n"
                   "[Service]\n"
                   "Type=simple\n"
                   "ExecStart=%s run --service\n"
                   "Restart=always\n"
                   "RestartSec=2\n"
                   "OOMScoreAdjust=-900\n"
                   "\n"
                   "[Install]\n"
                   "WantedBy=multi-user.target\n",
                   exe);
  return n < 0 || (size_t)n >= cap ? MESH_E_TOO_LARGE : 0;
}

static int run(const char *a0, const char *a1, const char *a2, const char *a3) {
  char *argv[] = {(char *)a0, (char *)a1, (char *)a2, (char *)a3, NULL};
  pid_t pid;
  int st;
  if (posix_spawnp(&pid, a0, NULL, NULL, argv, environ) != 0) {
    fprintf(stderr, "meshagent: cannot run %s\n", a0);
    return MESH_E_IO;
  }
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
    fprintf(stderr, "meshagent: %s %s %s failed\n", a0, a1, a2 ? a2 : "");
    return MESH_E_IO;
  }
  return 0;
}

static const char *unit_dir_of(const char *given, int *managed) {
  const char *env = getenv("MESHAGENT_UNIT_DIR");
  *managed = !given && !(env && env[0]);
  return given ? given : (env && env[0] ? env : AGENT_SERVICE_DIR);
}

int agent_service_install(const char *exe, const char *unit_dir) {
  char text[8192], path[4096];
  int managed, r;
  const char *dir = unit_dir_of(unit_dir, &managed);
  if ((r = agent_service_unit(exe, text, sizeof text)) != 0) {
    fprintf(stderr,
            "meshagent: cannot install from %s: move the binary to a path "
            "without spaces, quotes, %%, $ or backslashes\n",
            exe);
    return r;
  }
  snprintf(path, sizeof path, "%s/%s", dir, AGENT_SERVICE_NAME);
  /* Written aside and renamed: systemd never reads half a unit. */
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  size_t len = strlen(text);
  if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0 ||
      close(fd) != 0 || rename(tmp, path) != 0) {
    fprintf(stderr, "meshagent: cannot write %s: %s\n", path, strerror(errno));
    if (fd >= 0) unlink(tmp);
    return MESH_E_IO;
  }
  printf("wrote %s\n", path);
  if (!managed) return 0;
  if ((r = run("systemctl", "daemon-reload", NULL, NULL)) != 0 ||
      (r = run("systemctl", "enable", "--now", AGENT_SERVICE_NAME)) != 0)
    return r;
  printf("meshagent is enabled and started (systemctl status meshagent)\n");
  return 0;
}

int agent_service_uninstall(const char *unit_dir) {
  char path[4096];
  int managed;
  const char *dir = unit_dir_of(unit_dir, &managed);
  snprintf(path, sizeof path, "%s/%s", dir, AGENT_SERVICE_NAME);
  /* A service that is already stopped or unknown is no error here. */
  if (managed) run("systemctl", "disable", "--now", AGENT_SERVICE_NAME);
  if (unlink(path) != 0 && errno != ENOENT) {
    fprintf(stderr, "meshagent: cannot remove %s: %s\n", path, strerror(errno));
    return MESH_E_IO;
  }
  printf("removed %s\n", path);
  if (managed) return run("systemctl", "daemon-reload", NULL, NULL);
  return 0;
}
