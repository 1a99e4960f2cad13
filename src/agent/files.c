/*
 * files.c - the file manager session (p=5, spec §6; docs/sessions.md §4).
 *
 * Every message from the viewer goes into one queue and is handled in
 * order, one at a time: a command or an upload chunk may start an
 * asynchronous step (uv_fs_* for file data, the thread pool for listings,
 * recursive deletes and hashes), and the next message waits until that
 * step is done. So an uploaddone can never overtake the chunks before it,
 * and nothing that touches a file blocks the loop for long. The queue is
 * bounded: past MESH_STREAM_HIGH_WATER bytes the tunnel is paused, past
 * MESH_STREAM_HARD_LIMIT the session is refused (a viewer that honours
 * the ack window never gets near either).
 *
 * Downloads send a block only when the viewer granted one (startack's
 * window, one more per ack) and the tunnel is below its high-water mark.
 *
 * Uploads go to a hidden temporary file beside the target, renamed into
 * place once complete; cancel, error and tunnel close delete it. Appends
 * (resuming a partial file) write to the target itself.
 */
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

#include "agent/files_job.h"
#include "agent/tunnel.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mesh_limits.h"
#include "crypto/rand.h"
#include "proto/files.h"

struct item {
  struct item *next;
  enum ws_type type;
  size_t n;
  uint8_t p[];
};

enum up_state { UP_NONE, UP_OPENING, UP_OPEN, UP_FINISHED };

struct fsess {
  struct tunnel *t; /* NULL once detached */
  uv_loop_t *loop;
  struct item *head, *tail;
  size_t queued;
  int paused;
  int busy; /* one uv_fs_t or work job in flight */
  uv_fs_t fs;
  struct item *cur_item; /* the chunk being written */
  size_t cur_off;
  /* Upload. */
  enum up_state up;
  int up_fd;
  json_t *up_reqid;
  int up_has_size, up_append;
  uint64_t up_size, up_got;
  char up_tmp[MESH_FILES_MAX_PATH + 1]; /* "" when writing in place */
  char up_final[MESH_FILES_MAX_PATH + 1];
  /* Download. */
  int dl_fd;
  int dl_opening;
  json_t *dl_id;
  uint32_t dl_credits;
  uint8_t block[FILES_BLOCK_MAX];
};

static void pump(struct fsess *f);

/* ------------------------------------------------ replies */

/* JSON replies go as binary frames, as the stock agent sends them; the
 * download control replies as text (spec §6.1). */
static void reply(struct fsess *f, json_t *j) {
  if (f->t && j)
    tunnel_send_json(f->t, WS_BINARY, j);
  else
    json_decref(j);
}

static void reply_dl(struct fsess *f, const char *sub, json_t *id,
                     const char *error) {
  json_t *j = json_pack("{s:s, s:s}", "action", "download", "sub", sub);
  if (j) json_object_set(j, "id", id ? id : json_null());
  if (j && error) json_object_set_new(j, "error", json_string(error));
  if (f->t)
    tunnel_send_json(f->t, WS_TEXT, j);
  else
    json_decref(j);
}

/* A reply {action, reqid[, error]}. */
static void reply_simple(struct fsess *f, const char *action, json_t *reqid,
                         const char *error) {
  json_t *j = json_pack("{s:s}", "action", action);
  if (j && reqid) json_object_set(j, "reqid", reqid);
  if (j && error) json_object_set_new(j, "error", json_string(error));
  reply(f, j);
}

/* meshagent's error reply for commands the stock protocol answers with
 * silence: it has no "path" field, so the stock viewer ignores it. */
static void reply_error(struct fsess *f, const char *cmd, json_t *reqid,
                        const char *msg) {
  json_t *j = json_pack("{s:s, s:s, s:s}", "action", "error", "cmd",
                        cmd ? cmd : "", "msg", msg);
  if (j && reqid) json_object_set(j, "reqid", reqid);
  reply(f, j);
}

/* ------------------------------------------------ upload */

static void up_clear(struct fsess *f) {
  json_decref(f->up_reqid);
  f->up_reqid = NULL;
  f->up = UP_NONE;
  f->up_tmp[0] = f->up_final[0] = 0;
}

/* Drops the upload in progress: the file is closed and the temporary file
 * deleted. Plain close/unlink: metadata calls that do not wait on data. */
static void up_abort(struct fsess *f) {
  if (f->up_fd >= 0) close(f->up_fd);
  f->up_fd = -1;
  if (f->up != UP_FINISHED && f->up_tmp[0]) unlink(f->up_tmp);
  up_clear(f);
}

static void up_fail(struct fsess *f, const char *why) {
  log_info("event=upload_failed %s reason=\"%s\"",
           f->t ? tunnel_name(f->t) : "-", why);
  reply_simple(f, "uploaderror", f->up_reqid, why);
  up_abort(f);
}

/* All bytes are in and synced: close, rename into place, answer. */
static void up_commit(struct fsess *f, const char *ack) {
  close(f->up_fd);
  f->up_fd = -1;
  if (f->up_tmp[0] && rename(f->up_tmp, f->up_final) != 0) {
    char why[160];
    snprintf(why, sizeof why, "cannot rename into place: %s", strerror(errno));
    up_fail(f, why);
    return;
  }
  f->up = UP_FINISHED;
  log_info("event=upload_done %s bytes=%llu", f->t ? tunnel_name(f->t) : "-",
           (unsigned long long)f->up_got);
  reply_simple(f, ack, f->up_reqid, NULL);
}

static void on_up_fsync(uv_fs_t *req) {
  struct fsess *f = req->data;
  ssize_t r = req->result;
  uv_fs_req_cleanup(req);
  f->busy = 0;
  const char *ack = f->cur_item ? "uploadack" : "uploaddone";
  free(f->cur_item);
  f->cur_item = NULL;
  if (!f->t) { /* detached meanwhile */
    pump(f);
    return;
  }
  if (r < 0) {
    up_fail(f, uv_strerror((int)r));
  } else {
    up_commit(f, ack);
    /* After uploaddone the upload is over; after the size-completing
     * chunk a later uploaddone is still answered (stock viewers send
     * one). */
    if (f->up == UP_FINISHED && strcmp(ack, "uploaddone") == 0) up_clear(f);
  }
  pump(f);
}

static void up_finish(struct fsess *f) {
  f->busy = 1;
  f->fs.data = f;
  int r = uv_fs_fsync(f->loop, &f->fs, f->up_fd, on_up_fsync);
  if (r) {
    f->busy = 0;
    up_fail(f, uv_strerror(r));
  }
}

static void write_chunk(struct fsess *f);

static void on_up_write(uv_fs_t *req) {
  struct fsess *f = req->data;
  ssize_t r = req->result;
  uv_fs_req_cleanup(req);
  f->busy = 0;
  if (!f->t || f->up != UP_OPEN) {
    free(f->cur_item);
    f->cur_item = NULL;
    pump(f);
    return;
  }
  if (r <= 0) {
    free(f->cur_item);
    f->cur_item = NULL;
    up_fail(f, r < 0 ? uv_strerror((int)r) : "write failed");
    pump(f);
    return;
  }
  f->cur_off += (size_t)r;
  f->up_got += (uint64_t)r;
  const uint8_t *d;
  size_t len;
  files_frame_classify(f->cur_item->p, f->cur_item->n, &d, &len);
  if (f->cur_off < len) { /* short write: the rest */
    write_chunk(f);
    return;
  }
  if (f->up_has_size && f->up_got == f->up_size) {
    /* meshctrl never sends uploaddone: the last ack must come after the
     * file is in place, since the viewer may close right after it. */
    up_finish(f);
    return;
  }
  free(f->cur_item);
  f->cur_item = NULL;
  reply_simple(f, "uploadack", f->up_reqid, NULL);
  pump(f);
}

static void write_chunk(struct fsess *f) {
  const uint8_t *d;
  size_t len;
  files_frame_classify(f->cur_item->p, f->cur_item->n, &d, &len);
  uv_buf_t b =
      uv_buf_init((char *)d + f->cur_off, (unsigned)(len - f->cur_off));
  f->busy = 1;
  f->fs.data = f;
  int r = uv_fs_write(f->loop, &f->fs, f->up_fd, &b, 1, -1, on_up_write);
  if (r) {
    f->busy = 0;
    free(f->cur_item);
    f->cur_item = NULL;
    up_fail(f, uv_strerror(r));
  }
}

/* An upload chunk (it is handed over: freed here or after its write). */
static void on_chunk(struct fsess *f, struct item *it, size_t len) {
  if (f->up != UP_OPEN) {
    /* Chunks still in flight after a cancel or an error: dropped. */
    free(it);
    return;
  }
  if (f->up_has_size && f->up_got + len > f->up_size) {
    free(it);
    up_fail(f, "more data than the announced size");
    return;
  }
  if (len == 0) {
    free(it);
    reply_simple(f, "uploadack", f->up_reqid, NULL);
    return;
  }
  f->cur_item = it;
  f->cur_off = 0;
  write_chunk(f);
}

static void on_up_open(uv_fs_t *req) {
  struct fsess *f = req->data;
  ssize_t r = req->result;
  uv_fs_req_cleanup(req);
  f->busy = 0;
  if (r >= 0) f->up_fd = (int)r;
  if (!f->t || f->up != UP_OPENING) {
    up_abort(f);
    pump(f);
    return;
  }
  struct stat st;
  if (r < 0) {
    up_fail(f, uv_strerror((int)r));
  } else if (fstat(f->up_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    up_fail(f, "not a regular file");
  } else {
    f->up = UP_OPEN;
    if (f->up_append) f->up_got = 0;
    log_info("event=upload_start %s", tunnel_name(f->t));
    if (f->up_has_size && f->up_size == 0) {
      /* Nothing to wait for: in place before uploadstart, since meshctrl
       * ends the session right after it for an empty file. */
      f->cur_item = NULL;
      close(f->up_fd);
      f->up_fd = -1;
      if (f->up_tmp[0] && rename(f->up_tmp, f->up_final) != 0) {
        up_fail(f, strerror(errno));
      } else {
        f->up = UP_FINISHED;
        reply_simple(f, "uploadstart", f->up_reqid, NULL);
      }
    } else {
      reply_simple(f, "uploadstart", f->up_reqid, NULL);
    }
  }
  pump(f);
}

static void cmd_upload(struct fsess *f, struct files_cmd *c) {
  if (f->up != UP_NONE) up_abort(f); /* one upload per tunnel (spec §6.3) */
  f->up_reqid = json_incref(c->reqid);
  int r =
      c->name
          ? files_path_join(c->path, c->name, f->up_final, sizeof f->up_final)
          : (snprintf(f->up_final, sizeof f->up_final, "%s", c->path), 0);
  if (r) {
    up_fail(f, "path too long");
    return;
  }
  struct stat st;
  if (lstat(f->up_final, &st) == 0 && S_ISDIR(st.st_mode)) {
    up_fail(f, "the target is a folder");
    return;
  }
  f->up_has_size = c->has_size;
  f->up_size = c->size;
  f->up_append = c->append;
  f->up_got = 0;
  int flags = O_WRONLY | O_CLOEXEC | O_NONBLOCK;
  const char *open_path = f->up_final;
  if (c->append) {
    flags |= O_CREAT | O_APPEND;
    f->up_tmp[0] = 0;
  } else {
    /* The temporary file sits in the target's folder so the final rename
     * stays on one file system; O_EXCL and a random name keep it from
     * ever replacing another file. */
    uint8_t rnd[8];
    char dir[MESH_FILES_MAX_PATH + 1];
    snprintf(dir, sizeof dir, "%s", f->up_final);
    char *slash = strrchr(dir, '/');
    *slash = 0;
    rand_bytes(rnd, sizeof rnd);
    int w =
        snprintf(f->up_tmp, sizeof f->up_tmp,
                 "%s/.meshupload-%02x%02x%02x%02x%02x%02x%02x%02x", dir, rnd[0],
                 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    if (w < 0 || (size_t)w >= sizeof f->up_tmp) {
      f->up_tmp[0] = 0;
      up_fail(f, "path too long");
      return;
    }
    flags |= O_CREAT | O_EXCL | O_NOFOLLOW;
    open_path = f->up_tmp;
  }
  f->up = UP_OPENING;
  f->busy = 1;
  f->fs.data = f;
  r = uv_fs_open(f->loop, &f->fs, open_path, flags, 0666, on_up_open);
  if (r) {
    f->busy = 0;
    f->up_tmp[0] = 0;
    up_fail(f, uv_strerror(r));
  }
}

static void cmd_uploaddone(struct fsess *f, struct files_cmd *c) {
  (void)c;
  if (f->up == UP_FINISHED) {
    reply_simple(f, "uploaddone", f->up_reqid, NULL);
    up_clear(f);
  } else if (f->up == UP_OPEN) {
    if (f->up_has_size && f->up_got < f->up_size) {
      up_fail(f, "upload ended short of its size");
      return;
    }
    f->cur_item = NULL;
    up_finish(f);
  }
}

static void cmd_uploadcancel(struct fsess *f, struct files_cmd *c) {
  if (f->up == UP_NONE) return;
  json_t *reqid = json_incref(f->up_reqid ? f->up_reqid : c->reqid);
  log_info("event=upload_cancel %s", tunnel_name(f->t));
  up_abort(f);
  reply_simple(f, "uploadcancel", reqid, NULL);
  json_decref(reqid);
}

/* ------------------------------------------------ download */

static void dl_close(struct fsess *f) {
  if (f->dl_fd >= 0) close(f->dl_fd);
  f->dl_fd = -1;
  json_decref(f->dl_id);
  f->dl_id = NULL;
  f->dl_credits = 0;
}

static void on_dl_read(uv_fs_t *req) {
  struct fsess *f = req->data;
  ssize_t r = req->result;
  uv_fs_req_cleanup(req);
  f->busy = 0;
  if (!f->t || f->dl_fd < 0) {
    pump(f);
    return;
  }
  if (r < 0) {
    reply_dl(f, "cancel", f->dl_id, uv_strerror((int)r));
    dl_close(f);
  } else {
    int last = r < FILES_BLOCK_DATA;
    files_block_header(f->block, last);
    tunnel_send(f->t, WS_BINARY, f->block, FILES_BLOCK_HDR + (size_t)r);
    if (last) {
      log_info("event=download_done %s", tunnel_name(f->t));
      dl_close(f);
    } else {
      f->dl_credits--;
    }
  }
  pump(f);
}

static void dl_read(struct fsess *f) {
  uv_buf_t b =
      uv_buf_init((char *)f->block + FILES_BLOCK_HDR, FILES_BLOCK_DATA);
  f->busy = 1;
  f->fs.data = f;
  int r = uv_fs_read(f->loop, &f->fs, f->dl_fd, &b, 1, -1, on_dl_read);
  if (r) {
    f->busy = 0;
    reply_dl(f, "cancel", f->dl_id, uv_strerror(r));
    dl_close(f);
  }
}

static void on_dl_open(uv_fs_t *req) {
  struct fsess *f = req->data;
  ssize_t r = req->result;
  uv_fs_req_cleanup(req);
  f->busy = 0;
  f->dl_opening = 0;
  if (r >= 0) f->dl_fd = (int)r;
  struct stat st;
  if (!f->t) {
    dl_close(f);
  } else if (r < 0) {
    reply_dl(f, "cancel", f->dl_id, uv_strerror((int)r));
    dl_close(f);
  } else if (fstat(f->dl_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    reply_dl(f, "cancel", f->dl_id, "not a regular file");
    dl_close(f);
  } else {
    log_info("event=download_start %s bytes=%lld", tunnel_name(f->t),
             (long long)st.st_size);
    reply_dl(f, "start", f->dl_id, NULL);
  }
  pump(f);
}

static int same_id(json_t *a, json_t *b) {
  if (!a || json_is_null(a)) return !b || json_is_null(b);
  return b && json_equal(a, b);
}

static void cmd_download(struct fsess *f, struct files_cmd *c) {
  if (c->sub == FILES_DL_START) {
    if (f->dl_fd >= 0) { /* one download per tunnel (spec §6.4) */
      reply_dl(f, "cancel", f->dl_id, "replaced by a new download");
      dl_close(f);
    }
    f->dl_id = json_incref(c->id);
    f->dl_opening = 1;
    f->busy = 1;
    f->fs.data = f;
    /* O_NONBLOCK: opening a FIFO must not hang a pool thread; anything
     * but a regular file is refused after the open. */
    int r = uv_fs_open(f->loop, &f->fs, c->path,
                       O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0, on_dl_open);
    if (r) {
      f->busy = 0;
      f->dl_opening = 0;
      reply_dl(f, "cancel", c->id, uv_strerror(r));
      dl_close(f);
    }
    return;
  }
  if (f->dl_fd < 0 || !same_id(f->dl_id, c->id)) return;
  switch (c->sub) {
    case FILES_DL_STARTACK:
      f->dl_credits = c->window;
      break;
    case FILES_DL_ACK:
      if (f->dl_credits < MESH_FILES_MAX_WINDOW) f->dl_credits++;
      break;
    default: /* stop, and cancel which the stock agent ignores (§6.4) */
      log_info("event=download_stop %s", tunnel_name(f->t));
      dl_close(f);
      break;
  }
}

/* ------------------------------------------------ metadata commands */

/* mkdir and rename are one system call each on metadata; done in place
 * rather than through the pool, with the same effect on the loop as the
 * stat calls libuv itself makes synchronously. */
static void cmd_mkdir(struct fsess *f, struct files_cmd *c) {
  if (mkdir(c->path, 0777) != 0)
    reply_error(f, "mkdir", c->reqid, strerror(errno));
}

static void cmd_rename(struct fsess *f, struct files_cmd *c) {
  char from[MESH_FILES_MAX_PATH + 1], to[MESH_FILES_MAX_PATH + 1];
  if (files_path_join(c->path, c->oldname, from, sizeof from) ||
      files_path_join(c->path, c->newname, to, sizeof to)) {
    reply_error(f, "rename", c->reqid, "path too long");
    return;
  }
  if (rename(from, to) != 0)
    reply_error(f, "rename", c->reqid, strerror(errno));
}

static void on_job_done(struct files_job *j, void *data) {
  struct fsess *f = data;
  f->busy = 0;
  if (f->t) reply(f, files_job_reply(j));
  files_job_free(j);
  pump(f);
}

static void start_job(struct fsess *f, struct files_cmd *c) {
  f->busy = 1;
  int r = files_job_start(f->loop, c, on_job_done, f);
  if (r) {
    f->busy = 0;
    reply_error(f, c->action_name, c->reqid, mesh_strerror(r));
  }
}

/* ------------------------------------------------ dispatch */

static void bad_command(struct fsess *f, struct files_cmd *c, const char *why) {
  log_info("event=files_bad_command %s action=\"%.20s\" reason=\"%s\"",
           tunnel_name(f->t), c->action_name ? c->action_name : "", why);
  switch (c->action) {
    case FILES_LS: {
      /* dir:null is how the stock viewer learns a folder is unreadable. */
      json_t *j =
          json_pack("{s:s, s:n, s:s}", "path", c->path_raw ? c->path_raw : "",
                    "dir", "error", why);
      if (j && c->reqid) json_object_set(j, "reqid", c->reqid);
      reply(f, j);
      break;
    }
    case FILES_UPLOAD:
    case FILES_UPLOADHASH:
      reply_simple(f, "uploaderror", c->reqid, why);
      break;
    case FILES_DOWNLOAD:
      reply_dl(f, "cancel", json_object_get(c->root, "id"), why);
      break;
    default:
      reply_error(f, c->action_name, c->reqid, why);
  }
}

static void on_command(struct fsess *f, const uint8_t *p, size_t n) {
  struct files_cmd c;
  const char *why;
  int r = files_cmd_parse(p, n, &c, &why);
  if (r && !c.action) {
    /* Not even a JSON object with an action: a broken or hostile viewer,
     * not a command that failed. */
    files_cmd_cleanup(&c);
    tunnel_refuse(f->t, why ? why : "malformed files command");
    return;
  }
  if (r) {
    bad_command(f, &c, why);
    files_cmd_cleanup(&c);
    return;
  }
  switch (c.action) {
    case FILES_CTRL:
      tunnel_ctrl(f->t, c.root);
      break;
    case FILES_LS:
    case FILES_RM:
    case FILES_UPLOADHASH:
      start_job(f, &c);
      break;
    case FILES_MKDIR:
      cmd_mkdir(f, &c);
      break;
    case FILES_RENAME:
      cmd_rename(f, &c);
      break;
    case FILES_UPLOAD:
      cmd_upload(f, &c);
      break;
    case FILES_UPLOADDONE:
      cmd_uploaddone(f, &c);
      break;
    case FILES_UPLOADCANCEL:
      cmd_uploadcancel(f, &c);
      break;
    case FILES_DOWNLOAD:
      cmd_download(f, &c);
      break;
    default:
      reply_error(f, c.action_name, c.reqid, "not supported by this agent");
  }
  files_cmd_cleanup(&c);
}

static void cleanup_free(struct fsess *f) {
  while (f->head) {
    struct item *it = f->head;
    f->head = it->next;
    free(it);
  }
  free(f->cur_item);
  up_abort(f);
  dl_close(f);
  free(f);
}

/* Handles queued messages until one starts an asynchronous step; then
 * sends download blocks while granted and the tunnel has room. */
static void pump(struct fsess *f) {
  if (!f->t) {
    if (!f->busy) cleanup_free(f);
    return;
  }
  while (!f->busy && f->t && f->head) {
    struct item *it = f->head;
    f->head = it->next;
    if (!f->head) f->tail = NULL;
    f->queued -= it->n;
    const uint8_t *d;
    size_t len;
    if (it->type == WS_TEXT ||
        files_frame_classify(it->p, it->n, &d, &len) == FILES_FRAME_JSON) {
      on_command(f, it->p, it->n);
      free(it);
    } else {
      on_chunk(f, it, len);
    }
  }
  if (!f->t) { /* a command closed the tunnel; detach follows */
    return;
  }
  if (!f->busy && !f->head && f->dl_fd >= 0 && !f->dl_opening &&
      f->dl_credits > 0 && tunnel_queued(f->t) < MESH_STREAM_HIGH_WATER)
    dl_read(f);
  if (f->paused && f->queued < MESH_STREAM_LOW_WATER) {
    f->paused = 0;
    tunnel_resume(f->t);
  }
}

/* ------------------------------------------------ API */

int fsess_start(struct tunnel *t, struct fsess **out) {
  struct fsess *f = calloc(1, sizeof *f);
  if (!f) return MESH_E_NOMEM;
  f->t = t;
  f->loop = tunnel_loop(t);
  f->up_fd = f->dl_fd = -1;
  *out = f;
  return 0;
}

void fsess_message(struct fsess *f, enum ws_type type, const uint8_t *p,
                   size_t n) {
  if (f->queued + n > MESH_STREAM_HARD_LIMIT) {
    tunnel_refuse(f->t, "too much unacknowledged data");
    return;
  }
  struct item *it = malloc(sizeof *it + n);
  if (!it) {
    tunnel_refuse(f->t, "out of memory");
    return;
  }
  it->next = NULL;
  it->type = type;
  it->n = n;
  memcpy(it->p, p, n);
  if (f->tail)
    f->tail->next = it;
  else
    f->head = it;
  f->tail = it;
  f->queued += n;
  if (!f->paused && f->queued > MESH_STREAM_HIGH_WATER) {
    f->paused = 1;
    tunnel_pause(f->t);
  }
  pump(f);
}

void fsess_drain(struct fsess *f) { pump(f); }

void fsess_detach(struct fsess *f) {
  f->t = NULL;
  pump(f);
}
