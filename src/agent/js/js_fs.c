/*
 * js_fs.c - require('fs'): Node.js's synchronous calls cores use, plus
 * readFile and writeFile on the thread pool. Errors are Node.js-style:
 * an Error with code ('ENOENT'), errno, syscall and path. The other
 * asynchronous names (stat, readdir, ...) are in fs.js: the synchronous
 * call, its result delivered on a later turn of the loop.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/js/js_int.h"

static void push_error(duk_context *ctx, int err, const char *syscall,
                       const char *path) {
  duk_push_error_object(ctx, DUK_ERR_ERROR, "%s: %s, %s '%s'", uv_err_name(err),
                        uv_strerror(err), syscall, path);
  duk_push_string(ctx, uv_err_name(err));
  duk_put_prop_string(ctx, -2, "code");
  duk_push_int(ctx, err);
  duk_put_prop_string(ctx, -2, "errno");
  duk_push_string(ctx, syscall);
  duk_put_prop_string(ctx, -2, "syscall");
  duk_push_string(ctx, path);
  duk_put_prop_string(ctx, -2, "path");
}

static duk_ret_t throw_errno(duk_context *ctx, const char *syscall,
                             const char *path) {
  push_error(ctx, -errno, syscall, path);
  return duk_throw(ctx);
}

/* The encoding named by arg idx: a string or {encoding}; NULL for none. */
static const char *get_encoding(duk_context *ctx, duk_idx_t idx) {
  if (duk_is_string(ctx, idx)) return duk_get_string(ctx, idx);
  if (duk_is_object(ctx, idx) && duk_get_prop_string(ctx, idx, "encoding") &&
      duk_is_string(ctx, -1)) {
    const char *e = duk_get_string(ctx, -1);
    duk_pop(ctx);
    return e;
  }
  if (duk_is_object(ctx, idx)) duk_pop(ctx);
  return NULL;
}

/* Leaves the file's contents at the top: a Buffer, or a string decoded
 * with enc. */
struct contents {
  const void *p;
  size_t n;
  const char *enc;
};

static duk_ret_t push_contents(duk_context *ctx, void *udata) {
  struct contents *c = udata;
  js__push_buffer(ctx, c->p, c->n);
  if (c->enc) {
    duk_push_string(ctx, "toString");
    duk_push_string(ctx, c->enc);
    duk_call_prop(ctx, -3, 1);
    duk_remove(ctx, -2);
  }
  return 1;
}

/* push_contents as a protected call: a throw (over budget, unknown
 * encoding) is left on the stack as the value and 1 returned, so the
 * caller can free its C memory before passing it on. */
static int push_contents_safe(duk_context *ctx, const void *p, size_t n,
                              const char *enc) {
  struct contents c = {p, n, enc};
  return duk_safe_call(ctx, push_contents, &c, 0, 1) != DUK_EXEC_SUCCESS;
}

/* Reads all of fd, at most max bytes; malloc'd result. 0 or -errno. */
static int read_all(int fd, size_t max, uint8_t **out, size_t *len) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -errno;
  size_t cap = st.st_size > 0 ? (size_t)st.st_size : 4096, n = 0;
  if (cap > max) return -EFBIG;
  uint8_t *b = malloc(cap + 1);
  if (!b) return -ENOMEM;
  for (;;) {
    if (n == cap) {
      if (cap >= max) {
        free(b);
        return -EFBIG;
      }
      cap = cap * 2 < max ? cap * 2 : max;
      uint8_t *nb = realloc(b, cap + 1);
      if (!nb) {
        free(b);
        return -ENOMEM;
      }
      b = nb;
    }
    ssize_t r = read(fd, b + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = -errno;
      free(b);
      return e;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  *out = b;
  *len = n;
  return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -errno;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static size_t room(struct js *rt) {
  return rt->used < rt->opts.heap_max ? rt->opts.heap_max - rt->used : 0;
}

static duk_ret_t read_file_sync(duk_context *ctx) {
  const char *path = duk_require_string(ctx, 0);
  const char *enc = get_encoding(ctx, 1);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return throw_errno(ctx, "open", path);
  uint8_t *b;
  size_t n;
  int r = read_all(fd, room(js__rt(ctx)), &b, &n);
  close(fd);
  if (r) {
    push_error(ctx, r, "read", path);
    return duk_throw(ctx);
  }
  int thrown = push_contents_safe(ctx, b, n, enc);
  free(b);
  return thrown ? duk_throw(ctx) : 1;
}

/* writeFileSync(path, data[, {mode, flag: 'a'|'w'} | encoding]) */
static duk_ret_t write_file(duk_context *ctx, int append) {
  const char *path = duk_require_string(ctx, 0);
  size_t n;
  const void *p = js__get_bytes(ctx, 1, &n);
  int mode = 0666;
  if (duk_is_object(ctx, 2)) {
    if (duk_get_prop_string(ctx, 2, "mode")) mode = duk_to_int(ctx, -1);
    if (duk_get_prop_string(ctx, 2, "flag") && duk_is_string(ctx, -1))
      append = duk_get_string(ctx, -1)[0] == 'a';
  }
  int fd =
      open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC),
           mode);
  if (fd < 0) return throw_errno(ctx, "open", path);
  int r = write_all(fd, p, n);
  if (close(fd) != 0 && !r) r = -errno;
  if (r) {
    push_error(ctx, r, "write", path);
    return duk_throw(ctx);
  }
  return 0;
}

static duk_ret_t write_file_sync(duk_context *ctx) {
  return write_file(ctx, 0);
}
static duk_ret_t append_file_sync(duk_context *ctx) {
  return write_file(ctx, 1);
}

static duk_ret_t exists_sync(duk_context *ctx) {
  struct stat st;
  duk_push_boolean(
      ctx, duk_is_string(ctx, 0) && stat(duk_get_string(ctx, 0), &st) == 0);
  return 1;
}

static duk_ret_t stat_common(duk_context *ctx, int follow) {
  const char *path = duk_require_string(ctx, 0);
  struct stat st;
  if ((follow ? stat(path, &st) : lstat(path, &st)) != 0)
    return throw_errno(ctx, follow ? "stat" : "lstat", path);
  duk_push_object(ctx);
  duk_push_number(ctx, (double)st.st_size);
  duk_put_prop_string(ctx, -2, "size");
  duk_push_uint(ctx, st.st_mode);
  duk_put_prop_string(ctx, -2, "mode");
  duk_push_uint(ctx, st.st_uid);
  duk_put_prop_string(ctx, -2, "uid");
  duk_push_uint(ctx, st.st_gid);
  duk_put_prop_string(ctx, -2, "gid");
  duk_push_number(
      ctx, (double)st.st_mtim.tv_sec * 1000 + (double)st.st_mtim.tv_nsec / 1e6);
  duk_put_prop_string(ctx, -2, "mtimeMs");
  const char *type = S_ISREG(st.st_mode)   ? "file"
                     : S_ISDIR(st.st_mode) ? "directory"
                     : S_ISLNK(st.st_mode) ? "symlink"
                                           : "other";
  duk_push_string(ctx, type);
  duk_put_prop_string(ctx, -2, "type");
  return 1; /* fs.js adds isFile() and friends */
}

static duk_ret_t stat_sync(duk_context *ctx) { return stat_common(ctx, 1); }
static duk_ret_t lstat_sync(duk_context *ctx) { return stat_common(ctx, 0); }

struct names {
  char **v;
  size_t n;
};

static duk_ret_t push_names(duk_context *ctx, void *udata) {
  struct names *l = udata;
  duk_push_array(ctx);
  for (size_t k = 0; k < l->n; k++) {
    duk_push_string(ctx, l->v[k]);
    duk_put_prop_index(ctx, -2, (duk_uarridx_t)k);
  }
  return 1;
}

static duk_ret_t readdir_sync(duk_context *ctx) {
  const char *path = duk_require_string(ctx, 0);
  size_t max = room(js__rt(ctx)), bytes = 0, cap = 0;
  DIR *d = opendir(path);
  if (!d) return throw_errno(ctx, "scandir", path);
  /* Names go to a C list first, the array is built in a protected call:
   * nothing of ours leaks when the heap says no. */
  struct names l = {NULL, 0};
  struct dirent *e;
  int err = 0;
  while (!err && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    bytes += strlen(e->d_name) + 32;
    if (bytes > max) {
      err = -ENOMEM;
    } else if (l.n == cap) {
      cap = cap ? cap * 2 : 64;
      char **nv = realloc(l.v, cap * sizeof *nv);
      if (nv)
        l.v = nv;
      else
        err = -ENOMEM;
    }
    if (!err && !(l.v[l.n++] = strdup(e->d_name))) {
      l.n--;
      err = -ENOMEM;
    }
  }
  closedir(d);
  int thrown = 0;
  if (err)
    push_error(ctx, err, "scandir", path);
  else
    thrown = duk_safe_call(ctx, push_names, &l, 0, 1) != DUK_EXEC_SUCCESS;
  for (size_t k = 0; k < l.n; k++) free(l.v[k]);
  free(l.v);
  return err || thrown ? duk_throw(ctx) : 1;
}

static duk_ret_t unlink_sync(duk_context *ctx) {
  const char *p = duk_require_string(ctx, 0);
  return unlink(p) == 0 ? 0 : throw_errno(ctx, "unlink", p);
}

static duk_ret_t rmdir_sync(duk_context *ctx) {
  const char *p = duk_require_string(ctx, 0);
  return rmdir(p) == 0 ? 0 : throw_errno(ctx, "rmdir", p);
}

static duk_ret_t mkdir_sync(duk_context *ctx) {
  const char *p = duk_require_string(ctx, 0);
  int mode = 0777;
  if (duk_is_number(ctx, 1)) mode = duk_get_int(ctx, 1);
  if (duk_is_object(ctx, 1) && duk_get_prop_string(ctx, 1, "mode"))
    mode = duk_to_int(ctx, -1);
  return mkdir(p, (mode_t)mode) == 0 ? 0 : throw_errno(ctx, "mkdir", p);
}

static duk_ret_t rename_sync(duk_context *ctx) {
  const char *from = duk_require_string(ctx, 0);
  const char *to = duk_require_string(ctx, 1);
  return rename(from, to) == 0 ? 0 : throw_errno(ctx, "rename", from);
}

static duk_ret_t chmod_sync(duk_context *ctx) {
  const char *p = duk_require_string(ctx, 0);
  return chmod(p, (mode_t)duk_require_int(ctx, 1)) == 0
             ? 0
             : throw_errno(ctx, "chmod", p);
}

/* ------------------------------------- readFile / writeFile, threaded */

struct fs_job {
  struct js_handle h;
  uv_work_t w;
  int write, append, mode, err;
  char *path;
  uint8_t *data; /* read result, or bytes to write */
  size_t len, max;
  char *enc;
};

static void job_free(struct fs_job *j) {
  free(j->path);
  free(j->data);
  free(j->enc);
  free(j);
}

/* The runtime stopped: the job finishes (or is cancelled) and frees
 * itself in after_job. */
static void job_close(struct js_handle *h) {
  struct fs_job *j = (struct fs_job *)h;
  uv_cancel((uv_req_t *)&j->w);
}

static void run_job(uv_work_t *w) {
  struct fs_job *j = w->data;
  int fd = j->write ? open(j->path,
                           O_WRONLY | O_CREAT | O_CLOEXEC |
                               (j->append ? O_APPEND : O_TRUNC),
                           j->mode)
                    : open(j->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    j->err = -errno;
    return;
  }
  if (j->write) {
    j->err = write_all(fd, j->data, j->len);
  } else {
    j->err = read_all(fd, j->max, &j->data, &j->len);
  }
  if (close(fd) != 0 && !j->err && j->write) j->err = -errno;
}

static void after_job(uv_work_t *w, int status) {
  struct fs_job *j = w->data;
  struct js *rt = j->h.rt;
  if (!rt) {
    job_free(j);
    return;
  }
  duk_context *ctx = rt->ctx;
  if (status) j->err = status;
  int live = js__handle_push(&j->h); /* [job object] holds the callback */
  js__handle_remove(&j->h);
  if (!live) {
    duk_pop(ctx);
    job_free(j);
    return;
  }
  duk_get_prop_string(ctx, -1, "cb");
  duk_push_undefined(ctx);
  int nargs = 1;
  if (j->err) {
    push_error(ctx, j->err, j->write ? "write" : "open", j->path);
  } else if (!j->write) {
    duk_push_null(ctx);
    nargs = 2;
    if (push_contents_safe(ctx, j->data, j->len, j->enc)) {
      duk_swap_top(ctx, -2); /* the error first, undefined data */
      duk_pop(ctx);
      duk_push_undefined(ctx);
    }
  } else {
    duk_push_null(ctx);
  }
  job_free(j);
  if (js__invoke(rt, nargs) == 0) duk_pop(ctx);
}

/* readFile(path[, encoding | {encoding}], cb) and
 * writeFile(path, data[, options], cb): the callback is the last
 * argument. */
static duk_ret_t start_job(duk_context *ctx, int write, int append) {
  struct js *rt = js__rt(ctx);
  duk_idx_t top = duk_get_top(ctx);
  const char *path = duk_require_string(ctx, 0);
  duk_require_function(ctx, top - 1);
  const char *enc = NULL;
  size_t n = 0;
  const void *p = NULL;
  int mode = 0666;
  if (write) {
    p = js__get_bytes(ctx, 1, &n);
    if (top > 3 && duk_is_object(ctx, 2)) {
      if (duk_get_prop_string(ctx, 2, "mode")) mode = duk_to_int(ctx, -1);
      if (duk_get_prop_string(ctx, 2, "flag") && duk_is_string(ctx, -1))
        append = duk_get_string(ctx, -1)[0] == 'a';
    }
  } else if (top > 2) {
    enc = get_encoding(ctx, 1);
  }
  duk_push_object(ctx);
  duk_dup(ctx, top - 1);
  duk_put_prop_string(ctx, -2, "cb");
  js__handle_check(ctx, sizeof(struct fs_job) + n);
  struct fs_job *j = calloc(1, sizeof *j);
  if (!j) return duk_error(ctx, DUK_ERR_RANGE_ERROR, "out of memory");
  j->h.close = job_close;
  j->w.data = j;
  j->write = write;
  j->append = append;
  j->mode = mode;
  j->max = room(rt);
  j->path = strdup(path);
  j->enc = enc ? strdup(enc) : NULL;
  j->data = n ? malloc(n) : NULL;
  if (!j->path || (enc && !j->enc) || (n && !j->data)) {
    job_free(j);
    return duk_error(ctx, DUK_ERR_RANGE_ERROR, "out of memory");
  }
  if (n) memcpy(j->data, p, n);
  j->len = n;
  int r = uv_queue_work(rt->a->loop, &j->w, run_job, after_job);
  if (r) {
    job_free(j);
    return duk_error(ctx, DUK_ERR_ERROR, "%s", uv_strerror(r));
  }
  /* Queued: from here after_job frees j, whatever happens. */
  js__handle_add(rt, &j->h, -1, sizeof *j + n);
  return 0;
}

static duk_ret_t read_file(duk_context *ctx) { return start_job(ctx, 0, 0); }
static duk_ret_t write_file_async(duk_context *ctx) {
  return start_job(ctx, 1, 0);
}
static duk_ret_t append_file(duk_context *ctx) { return start_job(ctx, 1, 1); }

duk_ret_t js__mod_fs(duk_context *ctx) {
  static const duk_function_list_entry fns[] = {
      {"readFileSync", read_file_sync, 2},
      {"writeFileSync", write_file_sync, 3},
      {"appendFileSync", append_file_sync, 3},
      {"existsSync", exists_sync, 1},
      {"statSync", stat_sync, 1},
      {"lstatSync", lstat_sync, 1},
      {"readdirSync", readdir_sync, 1},
      {"unlinkSync", unlink_sync, 1},
      {"rmdirSync", rmdir_sync, 1},
      {"mkdirSync", mkdir_sync, 2},
      {"renameSync", rename_sync, 2},
      {"chmodSync", chmod_sync, 2},
      {"readFile", read_file, DUK_VARARGS},
      {"writeFile", write_file_async, DUK_VARARGS},
      {"appendFile", append_file, DUK_VARARGS},
      {NULL, NULL, 0},
  };
  duk_push_object(ctx);
  duk_put_function_list(ctx, -1, fns);
  return 1;
}
