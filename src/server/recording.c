/*
 * recording.c - writing terminal recordings (recording.h).
 *
 * Ownership: a struct recording belongs to its tunnel (t->rec) until
 * recording_close; from then on to itself, and it frees itself in the
 * callback of its file's close. At most one uv_fs request is in flight
 * per recording (writes are sequential at the file's position), so the
 * one embedded request serves them all.
 */
#include "recording.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mesh_limits.h"
#include "crypto/rand.h"
#include "db.h"
#include "proto/cast.h"

#define REC_ID_LEN 24 /* hex of 12 random bytes */

struct recording {
  struct srv *srv;
  uv_fs_t req;
  uv_file fd;
  char id[REC_ID_LEN + 1];
  uint64_t start_ms;   /* uv_now at the start */
  int64_t start;       /* unix seconds */
  struct buf pending;  /* lines not yet given to a write */
  struct buf inflight; /* the bytes of the write in flight */
  uint64_t size;       /* bytes in the file */
  int cols, rows;      /* the last size known */
  int writing, closing, header, truncated, failed;
  struct cast_utf8 utf8;
};

int recording_wanted(int p) { return p == 1 || p == 6 || p == 8 || p == 9; }

/* The recordings table is in the engine's schema (db_sqlite.c). */
static int db_insert(struct srv *s, const struct recording *rec,
                     const struct relay_tunnel *t, const char *user_name) {
  struct db_stmt *st;
  const char *args[] = {rec->id, t->node_id, t->group_id, t->user_id, NULL};
  int r = store_prep(s->store,
                     "INSERT INTO recordings(id,node_id,group_id,user_id,"
                     "user_name,start) VALUES(?1,?2,?3,?4,?5,?6)",
                     &st, args);
  if (r) return r;
  db_bind_text(st, 5, user_name);
  db_bind_int64(st, 6, rec->start);
  r = store_step(st, 0);
  db_finalize(st);
  return r;
}

static void db_finish(struct recording *rec) {
  struct db_stmt *st;
  uint64_t secs = (uv_now(rec->srv->loop) - rec->start_ms) / 1000;
  const char *args[] = {rec->id, NULL};
  if (store_prep(rec->srv->store,
                 "UPDATE recordings SET duration=?2,size=?3,"
                 "truncated=?4 WHERE id=?1",
                 &st, args) != 0)
    return;
  db_bind_int64(st, 2, (int64_t)secs);
  db_bind_int64(st, 3, (int64_t)rec->size);
  db_bind_int64(st, 4, rec->truncated || rec->failed);
  if (store_step(st, 0) != 0)
    log_warn("event=recording_db id=%s reason=\"update failed\"", rec->id);
  db_finalize(st);
}

/* The folder and a fresh file, both private. */
static int open_file(struct srv *s, struct recording *rec) {
  char dir[4096], name[64], path[4096];
  int r = srv_path(dir, sizeof dir, s->cfg.data_dir, "recordings");
  if (r) return r;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) return MESH_E_IO;
  snprintf(name, sizeof name, "%s.cast", rec->id);
  if ((r = srv_path(path, sizeof path, dir, name)) != 0) return r;
  /* Creating a file on the data disk is quick; the writes, which can be
   * many and large, are the ones kept off the loop. */
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return MESH_E_IO;
  rec->fd = fd;
  return 0;
}

int recording_open(struct srv *s, struct relay_tunnel *t,
                   const char *user_name) {
  uint8_t raw[REC_ID_LEN / 2];
  struct recording *rec = calloc(1, sizeof *rec);
  int r;
  if (!rec) return MESH_E_NOMEM;
  rec->srv = s;
  rec->fd = -1;
  rec->cols = 80;
  rec->rows = 25;
  rec->start_ms = uv_now(s->loop);
  rec->start = (int64_t)time(NULL);
  buf_init(&rec->pending, MESH_REC_MAX_QUEUED);
  buf_init(&rec->inflight, MESH_REC_MAX_QUEUED);
  if ((r = rand_bytes(raw, sizeof raw)) != 0) goto fail;
  enc_hex(raw, sizeof raw, rec->id, 0);
  if ((r = open_file(s, rec)) != 0 ||
      (r = db_insert(s, rec, t, user_name)) != 0)
    goto fail;
  t->rec = rec;
  log_info("event=recording_start id=%s tunnel=%s user=%s node=%s", rec->id,
           t->id, t->user_id, t->node_id);
  return 0;
fail:
  log_warn_r(r, "event=recording_failed tunnel=%s", t->id);
  if (rec->fd >= 0) close(rec->fd);
  buf_cleanup(&rec->pending);
  buf_cleanup(&rec->inflight);
  free(rec);
  return r;
}

static void on_closed(uv_fs_t *req) {
  struct recording *rec = req->data;
  uv_fs_req_cleanup(req);
  db_finish(rec);
  log_info("event=recording_end id=%s bytes=%llu truncated=%d", rec->id,
           (unsigned long long)rec->size, rec->truncated || rec->failed);
  buf_cleanup(&rec->pending);
  buf_cleanup(&rec->inflight);
  free(rec);
}

static void finish(struct recording *rec) {
  rec->req.data = rec;
  if (uv_fs_close(rec->srv->loop, &rec->req, rec->fd, on_closed) != 0) {
    /* Cannot happen for a valid fd; close it here rather than leak. */
    close(rec->fd);
    on_closed(&rec->req);
  }
}

static void flush(struct recording *rec);

static void on_written(uv_fs_t *req) {
  struct recording *rec = req->data;
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  rec->writing = 0;
  if (n < 0) {
    log_warn("event=recording_write id=%s reason=\"%s\"", rec->id,
             uv_strerror((int)n));
    rec->failed = 1;
    buf_reset(&rec->inflight);
    buf_reset(&rec->pending);
  } else {
    rec->size += (uint64_t)n;
    buf_consume(&rec->inflight, (size_t)n); /* a short write goes again */
  }
  flush(rec);
}

/* Starts the next write, or finishes a closing recording. */
static void flush(struct recording *rec) {
  if (rec->writing) return;
  if (!rec->inflight.len && rec->pending.len) {
    struct buf tmp = rec->inflight;
    rec->inflight = rec->pending;
    rec->pending = tmp;
  }
  if (rec->inflight.len && !rec->failed) {
    uv_buf_t b =
        uv_buf_init((char *)rec->inflight.data, (unsigned)rec->inflight.len);
    rec->req.data = rec;
    if (uv_fs_write(rec->srv->loop, &rec->req, rec->fd, &b, 1, -1,
                    on_written) == 0) {
      rec->writing = 1;
      return;
    }
    rec->failed = 1;
  }
  if (rec->closing) finish(rec);
}

/* After appending a line (r is how that went): keeps the bounds and
 * starts a write. */
static void add(struct recording *rec, int r) {
  if (r == MESH_E_TOO_LARGE ||
      rec->size + rec->pending.len + rec->inflight.len > MESH_REC_MAX_BYTES) {
    if (!rec->truncated)
      log_warn("event=recording_truncated id=%s queued=%zu", rec->id,
               rec->pending.len + rec->inflight.len);
    rec->truncated = 1;
  }
  flush(rec);
}

static double elapsed(const struct recording *rec) {
  return (double)(uv_now(rec->srv->loop) - rec->start_ms) / 1000.0;
}

/* The header goes first, with the size from the options if they came
 * before any output. */
static void header(struct recording *rec) {
  if (rec->header) return;
  rec->header = 1;
  add(rec, cast_header(&rec->pending, rec->cols, rec->rows, rec->start));
}

void recording_message(struct srv *s, struct relay_tunnel *t,
                       enum relay_side from, enum ws_type type,
                       const uint8_t *p, size_t n) {
  struct recording *rec = t->rec;
  int cols, rows, opts;
  (void)s;
  if (!rec || rec->truncated || rec->failed) return;
  if (from == RELAY_AGENT && type == WS_BINARY) {
    header(rec);
    if (!rec->truncated)
      add(rec, cast_output(&rec->pending, elapsed(rec), &rec->utf8, p, n));
  } else if (from == RELAY_VIEWER && type == WS_TEXT &&
             cast_term_size(p, n, &cols, &rows, &opts)) {
    rec->cols = cols;
    rec->rows = rows;
    if (opts && !rec->header) return header(rec);
    header(rec);
    if (!rec->truncated)
      add(rec, cast_resize(&rec->pending, elapsed(rec), cols, rows));
  }
  /* Keystrokes (viewer binary) and the agent's control text are not
   * recorded. */
}

void recording_close(struct srv *s, struct relay_tunnel *t) {
  struct recording *rec = t->rec;
  (void)s;
  if (!rec) return;
  t->rec = NULL;
  header(rec); /* a session with no output is still a valid file */
  rec->closing = 1;
  flush(rec);
}
