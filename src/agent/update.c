/*
 * update.c - meshagent's native self-update (see update.h for the whole
 * story and spec §6.4 for the wire side).
 *
 * States: IDLE -> RECEIVING (13 start; 14 blocks, one write at a time,
 * each acked when on disk) -> VERIFYING (13 end: the hash on the thread
 * pool) -> TESTING (the new binary's self-test, a child process) ->
 * swap and restart. Any failure goes back to IDLE with <exe>.update gone.
 *
 * The struct lives from agent_update_start to the last close callback
 * after agent_update_stop; requests in flight (a write, the hash job)
 * hold it too, counted in busy.
 */
#include "update.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "base/err.h"
#include "base/log.h"
#include "net/tls.h"
#include "net/ws.h"
#include "proto/agenthash.h"
#include "proto/cc.h"

/* The largest binary accepted: the size meshd itself serves at most. */
#define UPDATE_MAX_BYTES (64u * 1024 * 1024)
/* DB key: the agent hash of a binary that failed here; not tried again. */
#define UPDATE_REJECTED_KEY "UpdateRejected"

enum upd_state { UPD_IDLE, UPD_RECEIVING, UPD_VERIFYING, UPD_TESTING };

struct agent_update {
  struct agent *a;
  char exe[PATH_MAX];      /* the running binary's path, fixed at start */
  char part[PATH_MAX + 8]; /* <exe>.update */
  char old[PATH_MAX + 8];  /* <exe>.old */
  uint8_t self_hash[AGENTHASH_LEN];
  int has_hash;
  enum upd_state state;
  int fd;
  uint64_t received;
  unsigned gen; /* the connection the transfer belongs to */
  /* One block write in flight at a time. */
  uv_fs_t wreq;
  uint8_t *block;
  size_t block_len;
  uint16_t block_req;
  int writing;
  uv_timer_t gap; /* silence ends a transfer */
  /* Verification on the thread pool. */
  uv_work_t work;
  uint8_t want[AGENTHASH_LEN], got[AGENTHASH_LEN];
  int hash_rc;
  /* The self-test child. */
  uv_process_t proc;
  uv_timer_t test_timer;
  /* Trial of a freshly installed binary. */
  uv_timer_t trial;
  int in_trial;
  int stopping;
  int busy; /* open handles plus requests in flight */
};

/* ------------------------------------------------------------ helpers */

static void maybe_free(struct agent_update *u) {
  if (u->stopping && u->busy == 0) {
    free(u->block);
    free(u);
  }
}

static void on_handle_closed(uv_handle_t *h) {
  struct agent_update *u = h->data;
  u->busy--;
  maybe_free(u);
}

static void send_reply(struct agent *a, uint16_t cmd, uint16_t req,
                       const uint8_t *body, size_t len) {
  struct buf b;
  buf_init(&b, len + 4);
  if (a->ws && cc_put_request(&b, cmd, req, body, len) == 0)
    ws_send(a->ws, WS_BINARY, b.data, b.len);
  buf_cleanup(&b);
}

static int rejected(struct agent_update *u, const uint8_t h[AGENTHASH_LEN]) {
  uint8_t *v = NULL;
  size_t n = 0;
  int r = agent_db_get(u->a->db, UPDATE_REJECTED_KEY, &v, &n) == 0 &&
          n == AGENTHASH_LEN && memcmp(v, h, n) == 0;
  free(v);
  return r;
}

static void reject(struct agent_update *u, const uint8_t h[AGENTHASH_LEN]) {
  int r = agent_db_set(u->a->db, UPDATE_REJECTED_KEY, h, AGENTHASH_LEN);
  if (r) log_warn_r(r, "event=update_reject_store");
}

/* Tells the server why an update did not happen (meshd logs it; with the
 * recovery core it also clears that core). */
static void report(struct agent_update *u, const char *why) {
  agent_send_json(u->a, json_pack("{s:s, s:s}", "action", "agentupdatefailed",
                                  "reason", why));
}

/* Drops a transfer: the partial file goes, nothing else changes. A write
 * in flight finishes first (its callback sees IDLE and closes the fd). */
static void drop(struct agent_update *u, const char *why) {
  if (u->state == UPD_IDLE) return;
  log_warn("event=update_failed reason=\"%s\" received=%llu", why,
           (unsigned long long)u->received);
  report(u, why);
  uv_timer_stop(&u->gap);
  /* RECEIVING with a write in flight, VERIFYING and TESTING end in their
   * callbacks, which see IDLE and remove the file themselves. */
  if (u->state == UPD_RECEIVING && !u->writing) {
    if (u->fd >= 0) close(u->fd);
    u->fd = -1;
    unlink(u->part);
  }
  u->state = UPD_IDLE;
}

static int hash_file(const char *path, uint8_t out[AGENTHASH_LEN]) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0) return MESH_E_IO;
  if (fstat(fd, &st) != 0 || (uint64_t)st.st_size > UPDATE_MAX_BYTES) {
    close(fd);
    return MESH_E_IO;
  }
  if (st.st_size == 0) {
    close(fd);
    agenthash_buf(NULL, 0, out);
    return 0;
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return MESH_E_IO;
  agenthash_buf(p, (size_t)st.st_size, out);
  munmap(p, (size_t)st.st_size);
  return 0;
}

/* ------------------------------------------------------ swap, restart */

static void restart(struct agent_update *u) {
  u->a->restart = 1;
  agent_stop(u->a);
}

static void install(struct agent_update *u) {
  /* The running binary stays as <exe>.old until the new one has logged
   * in; its mtime marks the start of the trial (a link shares the inode,
   * so it is set after the new binary took the name). */
  unlink(u->old);
  if (link(u->exe, u->old) != 0) {
    log_warn("event=update_failed reason=\"keep old binary: %s\"",
             strerror(errno));
    unlink(u->part);
    return;
  }
  if (rename(u->part, u->exe) != 0) {
    log_warn("event=update_failed reason=\"rename: %s\"", strerror(errno));
    unlink(u->old);
    unlink(u->part);
    return;
  }
  utimensat(AT_FDCWD, u->old, NULL, 0);
  log_info("event=update_installed path=%s restart=1", u->exe);
  restart(u);
}

/* ------------------------------------------------------------ self-test */

static void on_test_timeout(uv_timer_t *t) {
  struct agent_update *u = t->data;
  log_warn("event=update_selftest reason=timeout");
  uv_process_kill(&u->proc, SIGKILL);
}

static void on_test_exit(uv_process_t *p, int64_t status, int sig) {
  struct agent_update *u = p->data;
  uv_timer_stop(&u->test_timer);
  uv_close((uv_handle_t *)p, on_handle_closed);
  if (u->stopping || u->state != UPD_TESTING) {
    unlink(u->part);
    return;
  }
  u->state = UPD_IDLE;
  if (status != 0 || sig != 0) {
    log_warn("event=update_failed reason=\"self-test\" status=%lld signal=%d",
             (long long)status, sig);
    report(u, "self-test");
    unlink(u->part);
    reject(u, u->want);
    return;
  }
  install(u);
}

static void self_test(struct agent_update *u) {
  char *args[] = {u->part, "self-test", "--for", u->exe, NULL};
  uv_stdio_container_t io[3] = {
      {.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_INHERIT_FD}};
  io[2].data.fd = 2;
  uv_process_options_t o = {.file = u->part,
                            .args = args,
                            .stdio = io,
                            .stdio_count = 3,
                            .exit_cb = on_test_exit};
  u->state = UPD_TESTING;
  u->proc.data = u;
  int r = uv_spawn(u->a->loop, &u->proc, &o);
  if (r) {
    /* uv_spawn initialises the handle even when it fails. */
    u->busy++;
    uv_close((uv_handle_t *)&u->proc, on_handle_closed);
    log_warn("event=update_failed reason=\"self-test: %s\"", uv_strerror(r));
    report(u, "self-test");
    u->state = UPD_IDLE;
    unlink(u->part);
    reject(u, u->want);
    return;
  }
  u->busy++;
  uv_timer_start(&u->test_timer, on_test_timeout, MESH_UPDATE_SELFTEST_MS, 0);
}

/* --------------------------------------------------------- verification */

static void hash_work(uv_work_t *w) {
  struct agent_update *u = w->data;
  u->hash_rc = hash_file(u->part, u->got);
}

static void hash_done(uv_work_t *w, int status) {
  struct agent_update *u = w->data;
  u->busy--;
  if (u->stopping || u->state != UPD_VERIFYING) {
    unlink(u->part);
    maybe_free(u);
    return;
  }
  if (status || u->hash_rc || memcmp(u->got, u->want, AGENTHASH_LEN) != 0) {
    drop(u,
         status || u->hash_rc ? "cannot hash the new binary" : "hash mismatch");
    unlink(u->part);
  } else {
    log_info("event=update_received bytes=%llu hash=ok",
             (unsigned long long)u->received);
    self_test(u);
  }
}

/* ------------------------------------------------------------- transfer */

static void on_gap(uv_timer_t *t) { drop(t->data, "no block for too long"); }

static void on_write(uv_fs_t *req) {
  struct agent_update *u = req->data;
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  u->writing = 0;
  u->busy--;
  if (u->state != UPD_RECEIVING || u->stopping) {
    /* Dropped while the write ran. */
    close(u->fd);
    u->fd = -1;
    unlink(u->part);
    maybe_free(u);
    return;
  }
  if (n < 0 || (size_t)n != u->block_len) {
    drop(u, "write failed");
    return;
  }
  u->received += (uint64_t)n;
  if (u->gen != u->a->conn_gen) {
    drop(u, "connection changed");
    return;
  }
  send_reply(u->a, CC_AGENT_UPDATE_BLOCK, u->block_req, NULL, 0);
}

static void on_start(struct agent_update *u) {
  if (u->state == UPD_VERIFYING || u->state == UPD_TESTING) {
    log_warn("event=update_ignored reason=\"one is being installed\"");
    return;
  }
  if (u->state == UPD_RECEIVING) drop(u, "restarted by the server");
  if (u->writing) return; /* the old write's callback closes its fd */
  unlink(u->part);
  u->fd = open(u->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
  if (u->fd < 0) {
    log_warn("event=update_failed reason=\"create %s: %s\"", u->part,
             strerror(errno));
    return;
  }
  u->state = UPD_RECEIVING;
  u->received = 0;
  u->gen = u->a->conn_gen;
  uv_timer_start(&u->gap, on_gap, MESH_UPDATE_BLOCK_GAP_MS, 0);
  log_info("event=update_started path=%s", u->part);
}

static void on_block(struct agent_update *u, uint16_t req, const uint8_t *p,
                     size_t n) {
  if (u->state != UPD_RECEIVING) return; /* no transfer: nothing to ack */
  if (u->writing) {
    drop(u, "a block before the previous one was acknowledged");
    return;
  }
  if (n == 0 || n > MESH_UPDATE_BLOCK || u->received + n > UPDATE_MAX_BYTES) {
    drop(u, "block size");
    return;
  }
  memcpy(u->block, p, n);
  u->block_len = n;
  u->block_req = req;
  uv_buf_t b = uv_buf_init((char *)u->block, (unsigned)n);
  u->wreq.data = u;
  int r = uv_fs_write(u->a->loop, &u->wreq, u->fd, &b, 1, (int64_t)u->received,
                      on_write);
  if (r) {
    drop(u, "write failed");
    return;
  }
  u->writing = 1;
  u->busy++;
  uv_timer_start(&u->gap, on_gap, MESH_UPDATE_BLOCK_GAP_MS, 0);
}

/* The file is complete: unless this binary failed here before, its hash
 * is checked on the pool (then hash_done goes on). */
static void verify(struct agent_update *u, const uint8_t *hash) {
  memcpy(u->want, hash, AGENTHASH_LEN);
  if (rejected(u, u->want)) {
    drop(u, "this binary failed here before");
    unlink(u->part);
    return;
  }
  u->state = UPD_VERIFYING;
  u->work.data = u;
  if (uv_queue_work(u->a->loop, &u->work, hash_work, hash_done) != 0) {
    drop(u, "cannot queue the hash");
    unlink(u->part);
    return;
  }
  u->busy++;
}

static void on_end(struct agent_update *u, const uint8_t *hash) {
  if (u->state != UPD_RECEIVING) return;
  if (u->writing) {
    drop(u, "end before the last block was written");
    return;
  }
  uv_timer_stop(&u->gap);
  close(u->fd);
  u->fd = -1;
  verify(u, hash);
}

int agent_update_install(struct agent *a, const uint8_t want[AGENTHASH_LEN]) {
  struct agent_update *u = a->update;
  if (!u || !a->cfg.server_is_meshd || !u->has_hash) return MESH_E_INVALID;
  if (u->state != UPD_IDLE || u->writing) return MESH_E_PROTO_STATE;
  /* The caller (the recovery core) wrote the file: from here on it is
   * ours, exactly as if it had come in blocks. */
  u->received = 0;
  u->state = UPD_RECEIVING;
  log_info("event=update_started path=%s via=core", u->part);
  /* Written by the core as a plain file: it must run for its self-test. */
  if (chmod(u->part, 0700) != 0) {
    drop(u, "no such file");
    return 0;
  }
  verify(u, want);
  return 0;
}

uint64_t agent_update_received(const struct agent *a) {
  const struct agent_update *u = a->update;
  return u && u->state == UPD_RECEIVING && !u->writing ? u->received : 0;
}

const char *agent_update_path(const struct agent *a) {
  return a->update ? a->update->part : NULL;
}

int agent_update_command(struct agent *a, const uint8_t *p, size_t n) {
  struct agent_update *u = a->update;
  uint16_t cmd, req;
  const uint8_t *body;
  size_t len;
  if (!u || !a->cfg.server_is_meshd ||
      cc_parse_request(p, n, &cmd, &req, &body, &len) != 0)
    return 0;
  switch (cmd) {
    case CC_AGENT_HASH: {
      static const uint8_t zero[AGENTHASH_LEN];
      send_reply(a, CC_AGENT_HASH, req, u->has_hash ? u->self_hash : zero,
                 AGENTHASH_LEN);
      return 1;
    }
    case CC_AGENT_UPDATE:
      if (len == 0)
        on_start(u);
      else if (len == AGENTHASH_LEN)
        on_end(u, body);
      else
        drop(u, "malformed command 13");
      return 1;
    case CC_AGENT_UPDATE_BLOCK:
      on_block(u, req, body, len);
      return 1;
    default:
      return 0;
  }
}

void agent_update_disconnected(struct agent *a) {
  struct agent_update *u = a->update;
  if (u && u->state == UPD_RECEIVING) drop(u, "disconnected");
}

/* ---------------------------------------------------------------- trial */

static void on_trial_over(uv_timer_t *t) {
  struct agent_update *u = t->data;
  log_warn("event=update_rollback reason=\"no login within %d s\" path=%s",
           MESH_UPDATE_TRIAL_MS / 1000, u->exe);
  if (rename(u->old, u->exe) != 0) {
    log_error("event=update_rollback_failed reason=\"%s\"", strerror(errno));
    return;
  }
  u->in_trial = 0;
  if (u->has_hash) reject(u, u->self_hash);
  restart(u);
}

void agent_update_authenticated(struct agent *a) {
  struct agent_update *u = a->update;
  if (!u || !u->in_trial) return;
  u->in_trial = 0;
  uv_timer_stop(&u->trial);
  unlink(u->old);
  log_info("event=update_confirmed path=%s", u->exe);
}

/* ------------------------------------------------------------ lifecycle */

static void timer_init(struct agent_update *u, uv_timer_t *t) {
  uv_timer_init(u->a->loop, t);
  t->data = u;
  u->busy++;
}

int agent_update_start(struct agent *a) {
  return agent_update_start_at(a, NULL);
}

int agent_update_start_at(struct agent *a, const char *exe) {
  struct agent_update *u = calloc(1, sizeof *u);
  if (!u || !(u->block = malloc(MESH_UPDATE_BLOCK))) {
    if (u) free(u);
    return MESH_E_NOMEM;
  }
  u->a = a;
  u->fd = -1;
  ssize_t n = exe ? (ssize_t)strlen(exe)
                  : readlink("/proc/self/exe", u->exe, sizeof u->exe - 1);
  if (n <= 0 || (size_t)n >= sizeof u->exe - 1) {
    free(u->block);
    free(u);
    return MESH_E_IO;
  }
  if (exe) memcpy(u->exe, exe, (size_t)n);
  u->exe[n] = 0;
  snprintf(u->part, sizeof u->part, "%s.update", u->exe);
  snprintf(u->old, sizeof u->old, "%s.old", u->exe);
  timer_init(u, &u->gap);
  timer_init(u, &u->test_timer);
  timer_init(u, &u->trial);
  a->update = u;
  /* A stock server gets 48 zero bytes and never replaces us: nothing to
   * hash, and no trial can have started (it never sent a binary). */
  if (!a->cfg.server_is_meshd) return 0;
  int r = hash_file(u->exe, u->self_hash);
  if (r == 0)
    u->has_hash = 1;
  else
    log_warn_r(r, "event=update_off reason=\"cannot hash %s\"", u->exe);
  /* Left from an earlier failed start: never trusted. */
  unlink(u->part);
  struct stat st;
  if (stat(u->old, &st) == 0) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t since = ((int64_t)now.tv_sec - st.st_mtim.tv_sec) * 1000 +
                    (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
    int64_t left = MESH_UPDATE_TRIAL_MS - since;
    if (left < 0) left = 0;
    if (left > MESH_UPDATE_TRIAL_MS) left = MESH_UPDATE_TRIAL_MS;
    u->in_trial = 1;
    uv_timer_start(&u->trial, on_trial_over, (uint64_t)left, 0);
    log_info("event=update_trial path=%s left_ms=%lld", u->exe,
             (long long)left);
  }
  return 0;
}

void agent_update_stop(struct agent *a) {
  struct agent_update *u = a->update;
  if (!u) return;
  a->update = NULL;
  if (u->state == UPD_RECEIVING) drop(u, "agent stopping");
  if (u->state == UPD_TESTING) uv_process_kill(&u->proc, SIGKILL);
  u->stopping = 1;
  uv_close((uv_handle_t *)&u->gap, on_handle_closed);
  uv_close((uv_handle_t *)&u->test_timer, on_handle_closed);
  uv_close((uv_handle_t *)&u->trial, on_handle_closed);
}

int agent_self_test(const char *msh, const char *db_path) {
  struct agent_config c;
  struct agent_db *db = NULL;
  struct ident id;
  uint8_t *cert = NULL;
  size_t len = 0;
  int r;
  if ((r = agent_config_load(msh, &c)) != 0) return r;
  agent_config_cleanup(&c);
  /* The identity must be there already: a self-test never makes one. */
  if (access(db_path, R_OK | W_OK) != 0) return MESH_E_NOT_FOUND;
  if ((r = agent_db_open(db_path, &db)) != 0) return r;
  if ((r = agent_db_get(db, "SelfNodeCert", &cert, &len)) == 0) {
    free(cert);
    int created = 0;
    r = agent_db_identity(db, &id, &created);
    if (r == 0) ident_cleanup(&id);
  }
  agent_db_close(db);
  if (r) return r;
  SSL_CTX *tls = tls_client_ctx_new();
  if (!tls) return MESH_E_CRYPTO;
  SSL_CTX_free(tls);
  return 0;
}
