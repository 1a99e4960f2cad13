#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "srv.h"

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
