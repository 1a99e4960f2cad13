#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "db.h"
#include "srv.h"
#include "store.h"

/* The file in the data folder naming a PostgreSQL database. */
#define DB_CONF "database.conf"
#define DB_CONF_MAX 4096

int srv_path(char *out, size_t cap, const char *dir, const char *name) {
  int n = snprintf(out, cap, "%s/%s", dir, name);
  return n < 0 || (size_t)n >= cap ? MESH_E_TOO_LARGE : 0;
}

int srv_data_dir_init(const char *dir) {
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) return MESH_E_IO;
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return MESH_E_IO;
  return 0;
}

/* The lock is an flock on a file in the data folder: it dies with the
 * process, so a crashed meshd never leaves a stale lock behind. */
static int open_lock(const char *dir) {
  char path[4096];
  if (srv_path(path, sizeof path, dir, "meshd.lock")) return -1;
  return open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

int srv_lock(const char *dir, int *fd) {
  *fd = open_lock(dir);
  if (*fd < 0) return MESH_E_IO;
  if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
    close(*fd);
    *fd = -1;
    return MESH_E_INVALID;
  }
  return 0;
}

int srv_is_running(const char *dir) {
  int fd = open_lock(dir);
  if (fd < 0) return 0;
  int running = flock(fd, LOCK_SH | LOCK_NB) != 0;
  close(fd);
  return running;
}

/* Reads the conninfo saved in the data folder: 0 with *out (malloc'd),
 * MESH_E_NOT_FOUND when there is none. */
static int read_conninfo(const char *path, char **out) {
  FILE *f = fopen(path, "re");
  if (!f) return errno == ENOENT ? MESH_E_NOT_FOUND : MESH_E_IO;
  char *text = calloc(1, DB_CONF_MAX + 1);
  size_t n = text ? fread(text, 1, DB_CONF_MAX + 1, f) : 0;
  fclose(f);
  int r = !text ? MESH_E_NOMEM : n > DB_CONF_MAX ? MESH_E_TOO_LARGE : 0;
  while (r == 0 && n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
    text[--n] = 0;
  if (r == 0 && n == 0) r = MESH_E_INVALID; /* an empty file names nothing */
  if (r)
    free(text);
  else
    *out = text;
  return r;
}

/* Saves conninfo in the data folder, 0600: it may hold a password. */
static int save_conninfo(const char *path, const char *conninfo) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return MESH_E_IO;
  size_t n = strlen(conninfo);
  int ok = fchmod(fd, 0600) == 0 && write(fd, conninfo, n) == (ssize_t)n &&
           write(fd, "\n", 1) == 1;
  return close(fd) == 0 && ok ? 0 : MESH_E_IO;
}

int srv_open_store(const char *dir, const char *conninfo, struct store **out) {
  char path[4096];
  char *saved = NULL;
  int r = srv_path(path, sizeof path, dir, DB_CONF);
  if (r) return r;
  if (conninfo) {
    r = save_conninfo(path, conninfo);
  } else {
    r = read_conninfo(path, &saved);
    if (r == MESH_E_NOT_FOUND) {
      /* No PostgreSQL named: the embedded default. */
      r = srv_path(path, sizeof path, dir, "meshd.db");
      return r ? r : store_open(path, out);
    }
    conninfo = saved;
  }
  if (r == 0) r = store_open_pg(conninfo, out);
  free(saved);
  return r;
}
