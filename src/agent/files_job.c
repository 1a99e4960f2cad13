/*
 * files_job.c - ls, recursive rm and uploadhash on the thread pool.
 *
 * The worker touches only what the job owns: C strings copied from the
 * command and JSON values it creates itself (jansson values are not
 * shared between threads here). The reply, which references the command's
 * reqid and tag, is assembled back on the loop thread.
 */
#include "agent/files_job.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/mesh_limits.h"

#define RM_MAX_DEPTH 256

struct files_job {
  uv_work_t work;
  files_job_cb cb;
  void *data;
  enum files_action action;
  char path[MESH_FILES_MAX_PATH + 1];
  char *echo_path; /* ls and uploadhash echo what was sent */
  char *name;
  char **names; /* rm */
  size_t n_names;
  int rec;
  json_t *reqid, *tag, *name_json;
  /* Results, written by the worker. */
  json_t *dir;
  char hash[2 * 48 + 1];
  int ok;
  char err[160];
};

/* ------------------------------------------------ worker side */

static void set_err(struct files_job *j, const char *what, const char *name,
                    int e) {
  if (j->err[0]) return; /* the first failure is the one reported */
  snprintf(j->err, sizeof j->err, "%s %.80s: %s", what, name, strerror(e));
}

/* Entries as spec §6.2: n, t (2 folder, 3 file), s, d. The time is UTC
 * and marked Z (the stock agent writes local time with a Z). */
static void do_ls(struct files_job *j) {
  DIR *d = opendir(j->path);
  if (!d) return; /* dir stays NULL: "not readable" */
  j->dir = json_array();
  struct dirent *e;
  while (j->dir && (e = readdir(d)) != NULL &&
         json_array_size(j->dir) < MESH_FILES_MAX_LS) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, 0) != 0) continue;
    char when[32];
    struct tm tm;
    gmtime_r(&st.st_mtime, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* Names that are not UTF-8 cannot travel in JSON; they are left out
     * like entries that cannot be stat'ed. */
    json_t *n = json_string(e->d_name);
    if (!n) continue;
    int dir = S_ISDIR(st.st_mode);
    json_t *x =
        json_pack("{s:o, s:i, s:s}", "n", n, "t", dir ? 2 : 3, "d", when);
    if (x && !dir) json_object_set_new(x, "s", json_integer(st.st_size));
    if (x) json_array_append_new(j->dir, x);
  }
  closedir(d);
}

/* Deletes name in dirfd; a folder with everything in it. Symbolic links
 * are deleted, never followed: openat with O_NOFOLLOW | O_DIRECTORY makes
 * sure the folder opened is the one that was checked. */
static int rm_tree(struct files_job *j, int at, const char *name, int depth) {
  struct stat st;
  if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    set_err(j, "cannot delete", name, errno);
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(at, name, 0) == 0) return 0;
    set_err(j, "cannot delete", name, errno);
    return -1;
  }
  if (unlinkat(at, name, AT_REMOVEDIR) == 0) return 0;
  if (!j->rec || depth >= RM_MAX_DEPTH) {
    set_err(j, "cannot delete folder", name, errno);
    return -1;
  }
  int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    set_err(j, "cannot open folder", name, errno);
    if (fd >= 0) close(fd);
    return -1;
  }
  int r = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (rm_tree(j, dirfd(d), e->d_name, depth + 1) != 0) r = -1;
  }
  closedir(d);
  if (r == 0 && unlinkat(at, name, AT_REMOVEDIR) != 0) {
    set_err(j, "cannot delete folder", name, errno);
    r = -1;
  }
  return r;
}

static void do_rm(struct files_job *j) {
  int dfd = open(j->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    set_err(j, "cannot open folder", j->path, errno);
    return;
  }
  for (size_t i = 0; i < j->n_names; i++) rm_tree(j, dfd, j->names[i], 0);
  close(dfd);
  j->ok = j->err[0] == 0;
}

static void do_hash(struct files_job *j) {
  char full[MESH_FILES_MAX_PATH + 1];
  if (j->name ? files_path_join(j->path, j->name, full, sizeof full) != 0
              : snprintf(full, sizeof full, "%s", j->path) < 0)
    return;
  int fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return;
  struct stat st;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = ctx && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
           EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) == 1;
  static const char hex[] = "0123456789ABCDEF";
  uint8_t buf[65536], md[48];
  ssize_t n;
  while (ok && (n = read(fd, buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0 && EVP_DigestUpdate(ctx, buf, (size_t)n) == 1;
  }
  unsigned mdlen = 0;
  if (ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 48) {
    for (int i = 0; i < 48; i++) {
      j->hash[2 * i] = hex[md[i] >> 4];
      j->hash[2 * i + 1] = hex[md[i] & 15];
    }
    j->hash[96] = 0;
    j->ok = 1;
  }
  EVP_MD_CTX_free(ctx);
  close(fd);
}

static void work(uv_work_t *w) {
  struct files_job *j = w->data;
  if (j->action == FILES_LS)
    do_ls(j);
  else if (j->action == FILES_RM)
    do_rm(j);
  else
    do_hash(j);
}

static void after(uv_work_t *w, int status) {
  struct files_job *j = w->data;
  (void)status;
  j->cb(j, j->data);
}

/* ------------------------------------------------ loop side */

/* What ls and uploadhash echo: the path as sent with a leading '/'. */
static char *echo_of(const char *raw) {
  size_t n = strlen(raw);
  char *e = malloc(n + 2);
  if (!e) return NULL;
  size_t o = 0;
  if (raw[0] != '/') e[o++] = '/';
  memcpy(e + o, raw, n + 1);
  return e;
}

int files_job_start(uv_loop_t *loop, const struct files_cmd *c, files_job_cb cb,
                    void *data) {
  struct files_job *j = calloc(1, sizeof *j);
  if (!j) return MESH_E_NOMEM;
  j->work.data = j;
  j->cb = cb;
  j->data = data;
  j->action = c->action;
  memcpy(j->path, c->path, sizeof j->path);
  j->rec = c->rec;
  j->reqid = json_incref(c->reqid);
  j->tag = json_incref(c->tag);
  j->name_json = json_incref(json_object_get(c->root, "name"));
  int r = 0;
  if (c->path_raw && !(j->echo_path = echo_of(c->path_raw))) r = MESH_E_NOMEM;
  if (r == 0 && c->name && !(j->name = strdup(c->name))) r = MESH_E_NOMEM;
  if (r == 0 && c->delfiles) {
    j->n_names = json_array_size(c->delfiles);
    j->names = calloc(j->n_names ? j->n_names : 1, sizeof *j->names);
    if (!j->names) r = MESH_E_NOMEM;
    for (size_t i = 0; r == 0 && i < j->n_names; i++)
      if (!(j->names[i] =
                strdup(json_string_value(json_array_get(c->delfiles, i)))))
        r = MESH_E_NOMEM;
  }
  if (r == 0) r = uv_queue_work(loop, &j->work, work, after);
  if (r) files_job_free(j);
  return r;
}

json_t *files_job_reply(struct files_job *j) {
  json_t *out = NULL;
  switch (j->action) {
    case FILES_LS:
      out = json_pack("{s:s, s:O?}", "path", j->echo_path ? j->echo_path : "/",
                      "dir", j->dir);
      break;
    case FILES_RM:
      if (j->ok) return NULL; /* the stock agent answers nothing */
      out = json_pack("{s:s, s:s, s:s}", "action", "error", "cmd", "rm", "msg",
                      j->err[0] ? j->err : "cannot delete");
      break;
    default:
      out = json_pack("{s:s, s:s, s:O?, s:O?}", "action", "uploadhash", "path",
                      j->echo_path ? j->echo_path : "/", "name", j->name_json,
                      "tag", j->tag);
      if (out)
        json_object_set_new(out, "hash",
                            j->ok ? json_string(j->hash) : json_null());
      break;
  }
  if (out && j->reqid) json_object_set(out, "reqid", j->reqid);
  return out;
}

void files_job_free(struct files_job *j) {
  json_decref(j->dir);
  json_decref(j->reqid);
  json_decref(j->tag);
  json_decref(j->name_json);
  free(j->echo_path);
  free(j->name);
  for (size_t i = 0; i < j->n_names; i++) free(j->names[i]);
  free(j->names);
  free(j);
}
