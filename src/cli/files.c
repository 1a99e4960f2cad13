/*
 * files.c - `meshctl upload` and `meshctl download`: files protocol 5
 * through the relay (spec sessions.md §6; proto/files.h does the framing).
 *
 * Upload: `upload` with the size, then chunks of up to FILE_CHUNK bytes as
 * binary frames, at most WINDOW of them unacknowledged (one `uploadack`
 * per chunk), then `uploaddone`, whose echo means the agent has renamed
 * the file into place (docs/sessions.md §4: uploads are atomic).
 * Download: `download start`, then blocks with a 4-byte header, each but
 * the last acknowledged; the data goes to LOCAL.part, renamed to LOCAL
 * after the last block, and deleted on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "cli/cli.h"
#include "proto/files.h"

#define FILE_CHUNK 65536
#define WINDOW 16
#define REQ_ID 1
#define PROGRESS_MS 100

struct xfer {
  int upload;
  const char *dev;
  char local[PATH_MAX], remote[PATH_MAX], part[PATH_MAX + 8];
  int fd;
  uint64_t size, done_bytes; /* size: uploads only */
  int in_flight;             /* upload chunks not yet acknowledged */
  int started, done_sent, part_made;
  struct mc_relay *r;
  int progress; /* stderr is a terminal */
  uint64_t last_draw;
  uint8_t chunk[FILE_CHUNK];
};

static void draw(struct xfer *x, int final) {
  if (!x->progress) return;
  uint64_t now = uv_now(&mc_relay_app(x->r)->loop);
  if (!final && now - x->last_draw < PROGRESS_MS) return;
  x->last_draw = now;
  double mb = (double)x->done_bytes / (1024.0 * 1024.0);
  if (x->upload && x->size) {
    int pct = (int)(x->done_bytes * 100 / x->size), bars = pct * 30 / 100;
    fprintf(stderr, "\r[%.*s%*s] %3d%% %.1f MB", bars,
            "##############################", 30 - bars, "", pct, mb);
  } else {
    fprintf(stderr, "\r%.1f MB", mb);
  }
  if (final) fputc('\n', stderr);
  fflush(stderr);
}

static void fail(struct xfer *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(struct xfer *x, const char *fmt, ...) {
  char msg[PATH_MAX + 128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (x->progress && x->done_bytes) fputc('\n', stderr);
  mc_relay_finish(x->r, MC_FAIL, msg);
}

static int send_cmd(struct xfer *x, json_t *j) {
  return mc_relay_send_json(x->r, j);
}

/* Upload: keeps WINDOW chunks in flight, then says it is done. */
static void pump(struct xfer *x) {
  struct buf b;
  buf_init(&b, FILE_CHUNK + 1);
  while (x->in_flight < WINDOW && x->done_bytes < x->size) {
    ssize_t n = read(x->fd, x->chunk, sizeof x->chunk);
    if (n <= 0) {
      buf_cleanup(&b);
      fail(x, "cannot read %s (did it shrink?)", x->local);
      return;
    }
    buf_reset(&b);
    if (files_chunk_escape(&b, x->chunk, (size_t)n) != 0 ||
        mc_relay_send(x->r, WS_BINARY, b.data, b.len) != 0) {
      buf_cleanup(&b);
      fail(x, "the connection to '%s' failed", x->dev);
      return;
    }
    x->done_bytes += (uint64_t)n;
    x->in_flight++;
  }
  buf_cleanup(&b);
  draw(x, 0);
  if (x->done_bytes == x->size && x->in_flight == 0 && !x->done_sent) {
    x->done_sent = 1;
    send_cmd(x,
             json_pack("{s:s, s:i}", "action", "uploaddone", "reqid", REQ_ID));
  }
}

static void on_upload_reply(struct xfer *x, const char *action) {
  if (strcmp(action, "uploadstart") == 0 && !x->started) {
    x->started = 1;
    pump(x);
  } else if (strcmp(action, "uploadack") == 0 && x->in_flight > 0) {
    x->in_flight--;
    pump(x);
  } else if (strcmp(action, "uploaddone") == 0 && x->done_sent) {
    draw(x, 1);
    mc_relay_finish(x->r, MC_OK, NULL);
  } else if (strcmp(action, "uploaderror") == 0 ||
             strcmp(action, "uploadcancel") == 0) {
    fail(x, "the device could not write %s", x->remote);
  }
}

static void on_download_reply(struct xfer *x, json_t *j) {
  const char *sub = json_string_value(json_object_get(j, "sub"));
  if (!sub) return;
  if (strcmp(sub, "cancel") == 0) {
    fail(x, "the device could not read %s", x->remote);
  } else if (strcmp(sub, "start") == 0 && !x->started) {
    x->started = 1;
    x->fd = open(x->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (x->fd < 0) {
      fail(x, "cannot create %s", x->part);
      return;
    }
    x->part_made = 1;
    send_cmd(x, json_pack("{s:s, s:s, s:i}", "action", "download", "sub",
                          "startack", "id", REQ_ID));
  }
}

static void on_block(struct xfer *x, const uint8_t *p, size_t n) {
  const uint8_t *data;
  size_t len;
  int last;
  if (!x->started || x->fd < 0 ||
      files_block_decode(p, n, &data, &len, &last) < 0) {
    fail(x, "the device sent a bad block of %s", x->remote);
    return;
  }
  if (len && write(x->fd, data, len) != (ssize_t)len) {
    fail(x, "cannot write %s", x->part);
    return;
  }
  x->done_bytes += len;
  if (!last) {
    send_cmd(x, json_pack("{s:s, s:s, s:i}", "action", "download", "sub", "ack",
                          "id", REQ_ID));
    draw(x, 0);
    return;
  }
  int ok = fsync(x->fd) == 0;
  ok = close(x->fd) == 0 && ok;
  x->fd = -1;
  if (!ok || rename(x->part, x->local) != 0) {
    fail(x, "cannot write %s", x->local);
    return;
  }
  x->part_made = 0;
  draw(x, 1);
  mc_relay_finish(x->r, MC_OK, NULL);
}

static void on_start(struct mc_relay *r, void *data) {
  struct xfer *x = data;
  x->r = r;
  mc_relay_send(r, WS_TEXT, "5", 1);
  if (x->upload)
    send_cmd(x,
             json_pack("{s:s, s:i, s:s, s:I}", "action", "upload", "reqid",
                       REQ_ID, "path", x->remote, "size", (json_int_t)x->size));
  else
    send_cmd(x, json_pack("{s:s, s:s, s:i, s:s}", "action", "download", "sub",
                          "start", "id", REQ_ID, "path", x->remote));
}

static void on_data(struct mc_relay *r, enum ws_type t, const uint8_t *p,
                    size_t n, void *data) {
  struct xfer *x = data;
  (void)r;
  /* JSON comes as text, or as binary starting with '{'; download blocks
   * start with their 0x01 flags byte (spec §6.1). */
  if (t == WS_TEXT || (n > 0 && p[0] == '{')) {
    json_t *j = json_loadb((const char *)p, n, 0, NULL);
    const char *action = json_string_value(json_object_get(j, "action"));
    if (action && x->upload)
      on_upload_reply(x, action);
    else if (action && strcmp(action, "download") == 0)
      on_download_reply(x, j);
    json_decref(j);
    return;
  }
  if (!x->upload) on_block(x, p, n);
}

static const struct mc_relay_cbs files_cbs = {on_start, on_data, NULL};

/* dst = dir + "/" + base name of src, when dir names a folder. */
static void into_folder(char *dst, size_t cap, const char *src, int is_dir) {
  const char *slash = strrchr(src, '/'), *base = slash ? slash + 1 : src;
  size_t l = strlen(dst);
  if (!is_dir || !base[0]) return;
  snprintf(dst + l, cap - l, "%s%s", l && dst[l - 1] == '/' ? "" : "/", base);
}

static int transfer(struct mc_app *a, struct xfer *x) {
  struct mc_ctl *c;
  struct mc_device d;
  int st = MC_FAIL;
  x->progress = isatty(STDERR_FILENO);
  if (mc_ctl_open(a, &c) == 0) {
    if (mc_find_device(c, x->dev, &d) == 0)
      st = mc_relay_run(a, c, &d, 5, &files_cbs, x);
    mc_ctl_close(c);
  }
  if (x->fd >= 0) close(x->fd);
  x->fd = -1;
  if (x->part_made) unlink(x->part);
  return st;
}

int mc_cmd_upload(struct mc_app *a, const char *device, const char *local,
                  const char *remote) {
  struct xfer *x = calloc(1, sizeof *x);
  struct stat st;
  if (!x) return MC_FAIL;
  x->upload = 1;
  x->dev = device;
  snprintf(x->local, sizeof x->local, "%s", local);
  snprintf(x->remote, sizeof x->remote, "%s", remote);
  size_t rl = strlen(remote);
  into_folder(x->remote, sizeof x->remote, local, rl && remote[rl - 1] == '/');
  x->fd = open(local, O_RDONLY | O_CLOEXEC);
  int r = MC_FAIL;
  if (x->fd < 0 || fstat(x->fd, &st) != 0) {
    mc_err("cannot read %s: %s", local, strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    mc_err("%s is not a regular file", local);
  } else {
    x->size = (uint64_t)st.st_size;
    r = transfer(a, x);
  }
  if (x->fd >= 0) close(x->fd);
  free(x);
  return r;
}

int mc_cmd_download(struct mc_app *a, const char *device, const char *remote,
                    const char *local) {
  struct xfer *x = calloc(1, sizeof *x);
  struct stat st;
  if (!x) return MC_FAIL;
  x->dev = device;
  x->fd = -1;
  snprintf(x->remote, sizeof x->remote, "%s", remote);
  snprintf(x->local, sizeof x->local, "%s", local);
  into_folder(x->local, sizeof x->local, remote,
              stat(local, &st) == 0 && S_ISDIR(st.st_mode));
  snprintf(x->part, sizeof x->part, "%s.part", x->local);
  int r = transfer(a, x);
  free(x);
  return r;
}
