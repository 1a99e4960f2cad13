/*
 * agentsim - simulated agents with real identities and real handshakes,
 * for load benchmarks and bad-input tests against meshd or a stock
 * MeshCentral server.
 *
 *   agentsim --msh FILE --count N [--concurrency C] [--keys FILE]
 *            [--server-pid PID | --server-pgid PGID] [--hold SECONDS]
 *            [--reconnect] [--auth-timeout SECONDS]
 *   agentsim --msh FILE --mode MODE          (one misbehaving agent)
 *
 * Load mode connects N agents (distinct RSA-3072 identities, cached in
 * --keys) at most C handshakes at a time, then optionally drops them all
 * and reconnects them with the pinned certificate. It prints one JSON
 * object with rates, latencies and, given --server-pid, the server's CPU
 * time per handshake and memory per connected agent read from /proc
 * (--server-pgid: summed over the server's whole process group).
 *
 * Misbehaving modes end when the server closes the connection: the exit
 * status is 0 if it did (close code and reason printed), 1 if the server
 * accepted the bad input or kept silent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/hash.h"
#include "crypto/rand.h"
#include "net/crypto_job.h"
#include "net/tls.h"
#include "net/ws.h"

enum mode {
  M_LOAD,
  M_BAD_SIG,
  M_BAD_HASH,
  M_DUP_INFO,
  M_OVERSIZE,
  M_UNKNOWN_GROUP,
  M_GARBAGE,
  M_SLOW_JSON
};
static const char *const mode_names[] = {
    "load",     "bad-sig",       "bad-hash", "dup-info",
    "oversize", "unknown-group", "garbage",  "preauth-json-flood"};

struct sim {
  struct ident id;
  struct buf der;
  struct ws *ws;
  struct cc_agent cc;
  struct cc_agent_config cfg;
  uint8_t pin[CC_HASH_LEN];
  int has_pin, connected, opened;
  unsigned gen;
  uint64_t t0;
};

static struct {
  uv_loop_t *loop;
  SSL_CTX *tls;
  struct agent_config conf;
  enum mode mode;
  struct sim *sims;
  int count, concurrency, next, in_flight, done, failed, open;
  int jobs;  /* signs/verifies on the thread pool, not yet called back */
  int phase; /* 0 first connect, 1 reconnect */
  uint64_t phase_start;
  double lat_sum, lat_max;
  int server_pid, server_pgid;
  int close_code;
  char close_reason[128];
  uv_timer_t timer, watch;
  uint64_t auth_timeout_ms;
} g;

/* ------------------------------------------------------------ /proc */

static int64_t proc_cpu_ms(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  unsigned long ut = 0, st = 0;
  /* fields after "(comm) ": state is 3rd; utime 14th, stime 15th. */
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                   &ut, &st) != 2)
    return -1;
  return (int64_t)(ut + st) * 1000 / sysconf(_SC_CLK_TCK);
}

static int64_t proc_rss_kb(int pid) {
  char path[64], line[256];
  int64_t kb = -1;
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %" SCNd64, &kb) == 1) break;
  if (f) fclose(f);
  return kb;
}

/* Sums over every process whose process group is pgid (a server and
 * the workers it forks, e.g. the stock server's meshaccelerator.js):
 * CPU as utime+stime+cutime+cstime (so a worker that exits and is
 * reaped keeps counting), RSS in KB. Returns the number of processes. */
static int proc_group(int pgid, int64_t *cpu_ms, int64_t *rss_kb) {
  *cpu_ms = *rss_kb = 0;
  DIR *d = opendir("/proc");
  struct dirent *e;
  int n = 0;
  long tck = sysconf(_SC_CLK_TCK);
  while (d && (e = readdir(d))) {
    char path[300], buf[1024], *p;
    int pid = atoi(e->d_name), pg = 0;
    unsigned long ut, st;
    long cut, cst;
    if (pid <= 0) continue;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    /* after "(comm) ": state ppid pgrp ... utime(14) stime cutime cstime */
    if (!(p = strrchr(buf, ')')) ||
        sscanf(p + 2,
               "%*c %*d %d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld",
               &pg, &ut, &st, &cut, &cst) != 5 ||
        pg != pgid)
      continue;
    *cpu_ms += (int64_t)(ut + st + (unsigned long)cut + (unsigned long)cst) *
               1000 / tck;
    int64_t kb = proc_rss_kb(pid);
    if (kb > 0) *rss_kb += kb;
    n++;
  }
  if (d) closedir(d);
  return n;
}

/* The server's CPU ms and RSS KB: its process group with --server-pgid,
 * else the one process --server-pid; -1 when neither is given. */
static int64_t server_cpu_ms(void) {
  int64_t c, r;
  if (g.server_pgid) return proc_group(g.server_pgid, &c, &r) ? c : -1;
  return g.server_pid ? proc_cpu_ms(g.server_pid) : -1;
}

static int64_t server_rss_kb(void) {
  int64_t c, r;
  if (g.server_pgid) return proc_group(g.server_pgid, &c, &r) ? r : -1;
  return g.server_pid ? proc_rss_kb(g.server_pid) : -1;
}

static int server_procs(void) {
  int64_t c, r;
  if (g.server_pgid) return proc_group(g.server_pgid, &c, &r);
  return g.server_pid ? 1 : 0;
}

/* ------------------------------------------------------------ keys */

/* The cache holds records "u32 certLen, cert, u32 keyLen, key". */
static int load_keys(const char *path, int want) {
  FILE *f = path ? fopen(path, "rb") : NULL;
  int have = 0;
  while (f && have < want) {
    uint32_t cl, kl;
    uint8_t *c = NULL, *k = NULL;
    if (fread(&cl, 4, 1, f) != 1 || cl > 65536 || !(c = malloc(cl)) ||
        fread(c, 1, cl, f) != cl || fread(&kl, 4, 1, f) != 1 || kl > 65536 ||
        !(k = malloc(kl)) || fread(k, 1, kl, f) != kl ||
        ident_from_der(c, cl, k, kl, &g.sims[have].id) != 0) {
      free(c);
      free(k);
      break;
    }
    free(c);
    free(k);
    have++;
  }
  if (f) fclose(f);
  return have;
}

static void gen_work(uv_work_t *w) {
  struct sim *s = w->data;
  if (ident_new_agent(&s->id) != 0) s->id.key = NULL;
}

static void gen_done(uv_work_t *w, int status) {
  (void)status;
  free(w);
}

/* Generates identities have..want-1 on the thread pool (RSA key
 * generation is slow), then appends them to the cache. */
static int make_keys(const char *path, int have, int want) {
  if (have >= want) return 0;
  fprintf(stderr, "agentsim: generating %d RSA-3072 identities\n", want - have);
  for (int i = have; i < want; i++) {
    uv_work_t *w = calloc(1, sizeof *w);
    w->data = &g.sims[i];
    uv_queue_work(g.loop, w, gen_work, gen_done);
  }
  uv_run(g.loop, UV_RUN_DEFAULT);
  int fd = path ? open(path, O_WRONLY | O_CREAT | O_APPEND, 0600) : -1;
  FILE *f = fd >= 0 ? fdopen(fd, "ab") : NULL;
  for (int i = have; i < want; i++) {
    if (!g.sims[i].id.key) return MESH_E_CRYPTO;
    struct buf c, k;
    buf_init(&c, 65536);
    buf_init(&k, 65536);
    if (f && ident_to_der(&g.sims[i].id, &c, &k) == 0) {
      uint32_t cl = (uint32_t)c.len, kl = (uint32_t)k.len;
      fwrite(&cl, 4, 1, f);
      fwrite(c.data, 1, c.len, f);
      fwrite(&kl, 4, 1, f);
      fwrite(k.data, 1, k.len, f);
    }
    buf_cleanup(&c);
    buf_wipe_cleanup(&k);
  }
  if (f) fclose(f);
  return 0;
}

/* ------------------------------------------------------------ agents */

static void launch_more(void);

struct ticket {
  struct sim *s;
  unsigned gen;
};

/* A crypto job's ticket; counted so a misbehaving run can wait for its
 * worker threads before exiting (exiting while OpenSSL is busy on one
 * crashes in its exit handlers, losing the unflushed report). */
static struct ticket *ticket_new(struct sim *s) {
  struct ticket *t = malloc(sizeof *t);
  *t = (struct ticket){s, s->gen};
  g.jobs++;
  return t;
}

static struct sim *take(struct ticket *t) {
  struct sim *s = t->s;
  g.jobs--;
  int live = s->ws && s->gen == t->gen;
  free(t);
  return live ? s : NULL;
}

static void sim_fail(struct sim *s, int r, const char *what) {
  if (g.mode == M_LOAD)
    fprintf(stderr, "agentsim: %s: %s\n", what, mesh_strerror(r));
  if (s->ws) ws_close(s->ws, 1008, what);
}

static void cc_send(void *data, const uint8_t *p, size_t n) {
  struct sim *s = data;
  if (!s->ws) return;
  int cmd = cc_msg_type(p, n);
  if (g.mode == M_BAD_SIG && cmd == CC_AUTH_VERIFY) {
    uint8_t *copy = malloc(n);
    memcpy(copy, p, n);
    copy[n - 1] ^= 0x55;
    ws_send(s->ws, WS_BINARY, copy, n);
    free(copy);
    return;
  }
  ws_send(s->ws, WS_BINARY, p, n);
  if (g.mode == M_DUP_INFO && cmd == CC_AUTH_INFO)
    ws_send(s->ws, WS_BINARY, p, n);
}

static void on_signed(int st, const uint8_t *sig, size_t len, void *data) {
  struct sim *s = take(data);
  if (!s) return;
  int r = st ? st : cc_agent_signed(&s->cc, sig, len);
  if (r) sim_fail(s, r, "sign");
}

static void cc_sign(void *data, const uint8_t msg[CC_SIGNED_LEN]) {
  struct sim *s = data;
  crypto_job_sign(g.loop, s->id.key, msg, CC_SIGNED_LEN, on_signed,
                  ticket_new(s));
}

static void on_verified(int st, const uint8_t kh[CC_HASH_LEN], void *data) {
  struct sim *s = take(data);
  if (!s) return;
  int r = cc_agent_verified(&s->cc, st == 0, kh);
  if (r) sim_fail(s, r, "server proof");
}

static void cc_verify(void *data, const uint8_t *c, size_t cl,
                      const uint8_t *sig, size_t sl,
                      const uint8_t msg[CC_SIGNED_LEN]) {
  crypto_job_verify(g.loop, c, cl, sig, sl, msg, CC_SIGNED_LEN, on_verified,
                    ticket_new(data));
}

static void cc_pin(void *data, const uint8_t h[CC_HASH_LEN]) {
  struct sim *s = data;
  memcpy(s->pin, h, CC_HASH_LEN);
  s->has_pin = 1;
}

static void on_hold_done(uv_timer_t *t);

static void finish_one(int ok) {
  g.in_flight--;
  g.done++;
  if (!ok) g.failed++;
  launch_more();
}

static void cc_connected(void *data, int skipped) {
  struct sim *s = data;
  (void)skipped;
  double ms = (double)(uv_hrtime() - s->t0) / 1e6;
  g.lat_sum += ms;
  if (ms > g.lat_max) g.lat_max = ms;
  s->connected = 1;
  g.open++;
  if (g.mode != M_LOAD) {
    /* The server may confirm before it sees the bad part (a duplicate
     * sent right behind a good message): give it a moment to refuse. */
    uv_timer_start(&g.timer, on_hold_done, 2000, 0);
    return;
  }
  finish_one(1);
}

static const struct cc_agent_ops sim_ops = {cc_send, cc_sign, cc_verify, cc_pin,
                                            cc_connected};

static void on_open(struct ws *w, void *data) {
  struct sim *s = data;
  uint8_t ch[CC_HASH_LEN], kh[CC_HASH_LEN], nonce[CC_NONCE_LEN];
  s->opened = 1;
  X509 *peer = ws_peer_cert(w);
  if (!peer || hash_cert(peer, ch) || hash_cert_key(peer, kh)) {
    sim_fail(s, MESH_E_AUTH, "no peer certificate");
    return;
  }
  rand_bytes(nonce, sizeof nonce);
  memset(&s->cfg, 0, sizeof s->cfg);
  memcpy(s->cfg.server_id, g.conf.server_ids[0], CC_HASH_LEN);
  s->cfg.pinned = s->has_pin ? s->pin : NULL;
  s->cfg.cert_der = s->der.data;
  s->cfg.cert_len = s->der.len;
  s->cfg.info = (struct cc_auth_info){.info_version = 1,
                                      .agent_id = 6,
                                      .platform_type = 1,
                                      .hostname = (const uint8_t *)"sim",
                                      .hostname_len = 3};
  memcpy(s->cfg.info.mesh_id, g.conf.mesh_id, 48);
  if (g.mode == M_UNKNOWN_GROUP) s->cfg.info.mesh_id[0] ^= 1;
  if (g.mode == M_BAD_HASH) ch[0] ^= 1, kh[0] ^= 1;
  s->cfg.commit_date = "2026-Nov-25 00:00:00+0000";
  s->cfg.host_info = "agentsim - x64";
  if (g.mode == M_GARBAGE) {
    static const uint8_t junk[] = {0x00, 0x63, 'j', 'u', 'n', 'k'};
    ws_send(w, WS_BINARY, junk, sizeof junk);
  } else if (g.mode == M_OVERSIZE) {
    /* One byte past what meshd takes from an agent. */
    size_t n = MESH_CC_MAX_MESSAGE + 1;
    uint8_t *big = calloc(1, n);
    ws_send(w, WS_BINARY, big, n);
    free(big);
  } else if (g.mode == M_SLOW_JSON) {
    for (int i = 0; i < 10; i++) ws_send(w, WS_TEXT, "{\"action\":\"x\"}", 14);
  }
  int r = cc_agent_start(&s->cc, &sim_ops, s, &s->cfg, ch, kh, nonce);
  if (r) sim_fail(s, r, "start");
}

static void on_message(struct ws *w, enum ws_type t, const uint8_t *p, size_t n,
                       void *data) {
  struct sim *s = data;
  (void)t;
  int r = cc_agent_feed(&s->cc, p, n);
  if (r < 0) {
    sim_fail(s, r, "server message");
  } else if (r == CC_PASS && p[0] != '{') {
    struct buf b;
    buf_init(&b, 64);
    if (agent_coreless_reply(p, n, &b)) ws_send(w, WS_BINARY, b.data, b.len);
    buf_cleanup(&b);
  }
}

static void on_close(struct ws *w, int code, const char *reason, void *data) {
  struct sim *s = data;
  (void)w;
  s->ws = NULL;
  s->opened = 0;
  g.close_code = code;
  snprintf(g.close_reason, sizeof g.close_reason, "%s", reason ? reason : "");
  if (g.mode != M_LOAD) uv_stop(g.loop);
  if (s->connected) {
    s->connected = 0;
    g.open--;
  } else if (g.mode == M_LOAD) {
    fprintf(stderr, "agentsim: closed before auth: %d %s\n", code,
            reason ? reason : "");
    finish_one(0);
  }
}

static const struct ws_cbs sim_cbs = {
    .on_open = on_open, .on_message = on_message, .on_close = on_close};

static void launch(struct sim *s) {
  s->gen++;
  s->t0 = uv_hrtime();
  g.in_flight++;
  if (ws_connect(g.loop, g.conf.urls[0], g.tls, 20000, &sim_cbs, s, &s->ws) !=
      0) {
    s->ws = NULL;
    finish_one(0);
  }
}

static void launch_more(void) {
  while (g.in_flight < g.concurrency && g.next < g.count)
    launch(&g.sims[g.next++]);
  if (g.done == g.count) uv_stop(g.loop);
}

/* A server that stalls a handshake after the WebSocket upgrade (the
 * stock server keeps such sockets open silently) would hang the phase:
 * past --auth-timeout an agent that is not admitted counts as failed. */
static void on_watch(uv_timer_t *t) {
  (void)t;
  uint64_t now = uv_hrtime();
  for (int i = 0; i < g.next; i++) {
    struct sim *s = &g.sims[i];
    if (s->ws && s->opened && !s->connected &&
        now - s->t0 > g.auth_timeout_ms * 1000000ull)
      sim_fail(s, MESH_E_TIMEOUT, "auth timeout");
  }
}

/* Runs one phase: connect every agent; returns the wall time in ms. */
static double run_phase(void) {
  g.next = g.done = g.failed = g.in_flight = 0;
  g.lat_sum = g.lat_max = 0;
  uint64_t t0 = uv_hrtime();
  uv_timer_start(&g.watch, on_watch, 1000, 1000);
  launch_more();
  uv_run(g.loop, UV_RUN_DEFAULT);
  uv_timer_stop(&g.watch);
  return (double)(uv_hrtime() - t0) / 1e6;
}

static void on_hold_done(uv_timer_t *t) {
  (void)t;
  uv_stop(g.loop);
}

static void run_for(uint64_t ms) {
  uv_timer_start(&g.timer, on_hold_done, ms, 0);
  uv_run(g.loop, UV_RUN_DEFAULT);
}

static void drain_jobs(void) {
  while (g.jobs > 0) uv_run(g.loop, UV_RUN_ONCE);
}

static void close_all(void) {
  for (int i = 0; i < g.count; i++)
    if (g.sims[i].ws) ws_close(g.sims[i].ws, 1000, "bench reconnect");
  for (int i = 0; i < 200 && g.open > 0; i++) run_for(50);
}

/* This process's own CPU ms (user + system, all threads): on a small
 * machine the load generator may be what bounds the wall-clock rates. */
static int64_t self_cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

static void report_phase(const char *name, double wall_ms, int64_t cpu_ms,
                         int64_t client_ms) {
  int ok = g.count - g.failed;
  printf(
      "  \"%s\": {\"agents\": %d, \"failed\": %d, \"wall_ms\": %.0f, "
      "\"per_second\": %.1f, \"latency_avg_ms\": %.1f, "
      "\"latency_max_ms\": %.1f, \"server_cpu_ms\": %" PRId64
      ", \"server_cpu_ms_per_agent\": %.3f, \"client_cpu_ms\": %" PRId64 "},\n",
      name, ok, g.failed, wall_ms, ok ? ok * 1000.0 / wall_ms : 0,
      ok ? g.lat_sum / ok : 0, g.lat_max, cpu_ms,
      ok && cpu_ms >= 0 ? (double)cpu_ms / ok : -1, client_ms);
}

static void usage(void) {
  fprintf(stderr,
          "usage: agentsim --msh FILE [--count N] [--concurrency C] "
          "[--keys FILE]\n"
          "                [--server-pid PID | --server-pgid PGID] [--hold S]"
          " [--reconnect]\n"
          "                [--auth-timeout S (default 30)]\n"
          "                [--mode load|bad-sig|bad-hash|dup-info|oversize|"
          "unknown-group|garbage|preauth-json-flood]\n");
  exit(2);
}

static int misbehave(void) {
  g.count = 1;
  g.concurrency = 1;
  g.sims[0].gen++;
  launch(&g.sims[0]);
  run_for(15000);
  drain_jobs();
  if (g.sims[0].ws) {
    fprintf(stderr, "agentsim: server %s (%s)\n",
            g.open ? "ACCEPTED the agent" : "kept the connection open",
            mode_names[g.mode]);
    return 1;
  }
  printf("mode=%s closed code=%d reason=\"%s\"\n", mode_names[g.mode],
         g.close_code, g.close_reason);
  return g.open == 0 && g.close_code != 1000 ? 0 : 1;
}

int main(int argc, char **argv) {
  const char *msh = NULL, *keys = NULL;
  int hold = 0, reconnect = 0;
  g.count = 1;
  g.concurrency = 32;
  g.auth_timeout_ms = 30000;
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(argv[i], "--msh") && v)
      msh = argv[++i];
    else if (!strcmp(argv[i], "--keys") && v)
      keys = argv[++i];
    else if (!strcmp(argv[i], "--count") && v)
      g.count = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--concurrency") && v)
      g.concurrency = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--server-pid") && v)
      g.server_pid = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--server-pgid") && v)
      g.server_pgid = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--hold") && v)
      hold = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--auth-timeout") && v)
      g.auth_timeout_ms = (uint64_t)atoi(argv[++i]) * 1000;
    else if (!strcmp(argv[i], "--reconnect"))
      reconnect = 1;
    else if (!strcmp(argv[i], "--mode") && v) {
      const char *m = argv[++i];
      g.mode = (enum mode) - 1;
      for (int k = 0; k < (int)(sizeof mode_names / sizeof *mode_names); k++)
        if (!strcmp(m, mode_names[k])) g.mode = (enum mode)k;
      if ((int)g.mode < 0) usage();
    } else
      usage();
  }
  if (!msh || g.count < 1 || g.concurrency < 1) usage();
  log_set_level(LOG_ERROR);
  g.loop = uv_default_loop();
  uv_timer_init(g.loop, &g.timer);
  uv_timer_init(g.loop, &g.watch);
  if (agent_config_load(msh, &g.conf) != 0) return 1;
  if (!(g.tls = tls_client_ctx_new())) return 1;
  g.sims = calloc((size_t)g.count, sizeof *g.sims);
  int have = load_keys(keys, g.count);
  if (make_keys(keys, have, g.count) != 0) return 1;
  for (int i = 0; i < g.count; i++) {
    buf_init(&g.sims[i].der, 65536);
    cert_to_der(g.sims[i].id.cert, &g.sims[i].der);
  }
  if (g.mode != M_LOAD) return misbehave();

  int pid = g.server_pid || g.server_pgid;
  int64_t rss0 = server_rss_kb();
  int64_t cpu0 = server_cpu_ms(), self0 = self_cpu_ms();
  double wall = run_phase();
  int64_t cpu1 = server_cpu_ms();
  printf("{\n");
  report_phase("first_connect", wall, pid ? cpu1 - cpu0 : -1,
               self_cpu_ms() - self0);
  if (hold > 0) run_for((uint64_t)hold * 1000);
  int64_t rss1 = server_rss_kb();
  int procs = server_procs();
  int connected = g.open;
  if (reconnect) {
    close_all();
    run_for(500);
    int64_t c0 = server_cpu_ms(), s0 = self_cpu_ms();
    wall = run_phase();
    int64_t c1 = server_cpu_ms();
    report_phase("reconnect", wall, pid ? c1 - c0 : -1, self_cpu_ms() - s0);
  }
  printf(
      "  \"connected\": %d, \"server_procs\": %d, "
      "\"server_rss_kb_before\": %" PRId64
      ", \"server_rss_kb_connected\": %" PRId64
      ", \"server_kb_per_agent\": %.1f\n}\n",
      connected, procs, rss0, rss1,
      connected && rss0 >= 0 ? (double)(rss1 - rss0) / connected : -1);
  close_all();
  drain_jobs();
  return g.failed ? 1 : 0;
}
