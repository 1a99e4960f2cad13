/*
 * relaybench - relay throughput and terminal keystroke round trips through
 * a server's /meshrelay.ashx (meshd or a stock MeshCentral server), the
 * way a viewer and an agent use it (spec sessions.md §2, docs/sessions.md
 * §1). bench/relay.sh drives it; the figures go into README "Figures".
 *
 *   relaybench --url wss://HOST:PORT --node NODEID --logins FILE
 *              [--server-pid PID | --server-pgid PGID] MODE ...
 *   MODE relay [--mb N] [--sessions N] [--warmup-mb N] [--idle-ms MS]
 *   MODE term  [--keys N] [--warmup N] [--interval MS]
 *
 * --logins names one or more accounts, "USER PASSWORD" per line; tunnels
 * go to the accounts in turn (a server may cap the tunnels per user).
 * Each account signs in on /control.ashx with x-meshauth and asks for
 * {"action":"authcookie"}. Every tunnel is asked for with msg/tunnel to
 * NODEID and opened only after the server's "OK".
 *
 * relay: the device NODEID must be online but must not join the tunnels
 * itself (agentsim in load mode ignores the request). relaybench opens
 * both sides: the viewer with auth=cookie and browser=1, the "agent" with
 * rauth=rcookie. Once both saw "c", the agent side streams binary 64 KiB
 * messages to the viewer side, which checks every one (sequence number,
 * length, content: the relay must keep message boundaries and order).
 * Phase "single": one tunnel, --mb MB. Phase "concurrent": --sessions
 * tunnels paired at once (server RSS measured with all of them idle for
 * --idle-ms, default 2000: a longer hold lets one look inside the server
 * meanwhile, with gdb or /proc/PID/smaps), then --mb MB in all, split
 * evenly, streamed at the same time, and the server's RSS once more
 * after the same idle time ("after_traffic": what the traffic left).
 *
 * term: the device is a real meshagent. One protocol 1 tunnel whose
 * options carry "exec":"cat" (docs/sessions.md §4: a raw pty, no echo by
 * the tty), so each byte sent comes back once, through the relay, the
 * agent, the pty and cat. One byte at a time, as typed: the next goes
 * --interval ms (default 10) after the previous one was sent, or when it
 * is back if that takes longer. So the processes on the path go idle
 * between keys as they do for a typist, and a moment of load elsewhere
 * on the machine touches few samples. Round-trip times after --warmup
 * bytes.
 *
 * Output: one JSON object on stdout. Server CPU is the time on a CPU of
 * every thread (/proc/PID/task/TID/schedstat) over the phase, for
 * --server-pid or summed over the process group --server-pgid; RSS
 * likewise (VmRSS). Each phase also gives relaybench's own CPU and what
 * the rest of the machine used (/proc/stat): on a shared machine the
 * wall-clock figures depend on it. MB = 10^6 bytes.
 * Any failure (refusal, early close, altered data, a phase deadline)
 * prints the reason on stderr and exits 1.
 */
#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mesh_limits.h"
#include "crypto/rand.h"
#include "net/tls.h"
#include "net/ws.h"

#define MSG_BYTES (64 * 1024)
#define MAX_USERS 16
#define MAX_SESSIONS 1000
#define CONNECT_MS 20000
/* Deadlines per phase; a stalled server fails the run instead of
 * hanging it. */
#define SIGNIN_MS 30000
#define PAIR_MS 60000
#define KEY_MS 5000
#define CTRL_CHANNEL "102938"

struct user {
  char name[128], pass[256];
  struct ws *ctl;
  char *cookie, *rcookie; /* the relay tokens, wiped at exit */
};

struct sess {
  int idx;
  struct user *u;
  char id[20];
  struct ws *viewer, *agent;
  int proto, routed, vpaired, apaired, streaming, done;
  uint64_t to_send, sent, received, seq_tx, seq_rx;
};

static struct {
  uv_loop_t *loop;
  SSL_CTX *tls;
  const char *url, *node;
  struct user users[MAX_USERS];
  int nusers;
  struct sess *s;
  int nsess;
  int pending; /* what the running phase waits for; 0 stops the loop */
  int open_ws; /* session sockets not yet closed */
  const char *phase;
  uv_timer_t deadline, pause;
  int server_pid, server_pgid;
  uint8_t payload[MSG_BYTES];
  /* term mode */
  struct sess *term;
  uint8_t key_byte;
  uint64_t key_t0;
  int keys_left;
  uint64_t key_interval_ms;
  uv_timer_t typist;
  double *rtt;
  int nrtt;
  uint64_t extra_bytes;
} g;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "relaybench: %s: ", g.phase ? g.phase : "setup");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

/* ------------------------------------------------------------ /proc */

/* CPU time in microseconds of every live thread of pid, from
 * /proc/PID/task/TID/schedstat (nanoseconds on a CPU): a keystroke costs
 * the server far less than the 10 ms tick of utime/stime. -1 when pid
 * is gone. */
static int64_t proc_cpu_us(int pid) {
  char path[300];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR *d = opendir(path);
  struct dirent *e;
  int64_t us = 0;
  if (!d) return -1;
  while ((e = readdir(d))) {
    unsigned long long ns;
    if (atoi(e->d_name) <= 0) continue;
    snprintf(path, sizeof path, "/proc/%d/task/%s/schedstat", pid, e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (fscanf(f, "%llu", &ns) == 1) us += (int64_t)(ns / 1000);
    fclose(f);
  }
  closedir(d);
  return us;
}

/* pid's process group (0 if gone) and RSS in KB. */
static int proc_info(int pid, int64_t *rss_kb) {
  char path[64], buf[1024], line[256];
  int pgrp = 0;
  *rss_kb = 0;
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  /* after "(comm) ": state ppid pgrp */
  char *p = strrchr(buf, ')');
  if (!p || sscanf(p + 2, "%*c %*d %d", &pgrp) != 1) return 0;
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  if ((f = fopen(path, "r"))) {
    while (fgets(line, sizeof line, f))
      if (sscanf(line, "VmRSS: %" SCNd64, rss_kb) == 1) break;
    fclose(f);
  }
  return pgrp;
}

/* The server's CPU µs and RSS KB, summed over its process group with
 * --server-pgid, and how many processes that was; 0 when not asked. */
static int server_stat(int64_t *cpu_us, int64_t *rss_kb) {
  int n = 0;
  int64_t c, r;
  *cpu_us = *rss_kb = 0;
  if (g.server_pid) {
    if (!proc_info(g.server_pid, rss_kb)) die("server %d gone", g.server_pid);
    *cpu_us = proc_cpu_us(g.server_pid);
    return 1;
  }
  DIR *d = g.server_pgid ? opendir("/proc") : NULL;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    int pid = atoi(e->d_name);
    if (pid > 0 && proc_info(pid, &r) == g.server_pgid &&
        (c = proc_cpu_us(pid)) >= 0) {
      *cpu_us += c;
      *rss_kb += r;
      n++;
    }
  }
  if (d) closedir(d);
  return n;
}

static int64_t self_cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
         ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* CPU ms the whole machine spent busy (all cores, /proc/stat): what is
 * neither the server nor relaybench was someone else's, and the wall
 * clock figures of a shared machine depend on it. */
static int64_t machine_busy_ms(void) {
  unsigned long long v[8] = {0};
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0;
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                 &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (n != 8) return 0;
  /* user nice system [idle iowait] irq softirq steal */
  return (int64_t)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1000 /
         sysconf(_SC_CLK_TCK);
}

/* Snapshot of the CPU clocks around a measured phase. */
struct clocks {
  uint64_t wall_ns;
  int64_t server_us, self_us, busy_ms, rss_kb;
};

static void clocks_read(struct clocks *c) {
  server_stat(&c->server_us, &c->rss_kb);
  c->self_us = self_cpu_us();
  c->busy_ms = machine_busy_ms();
  c->wall_ns = uv_hrtime();
}

/* Prints the common members of a phase: wall ms, server and relaybench
 * CPU ms, and the CPU % (of all cores) used by other processes. */
static double clocks_print(const struct clocks *a, const struct clocks *b) {
  double wall = (double)(b->wall_ns - a->wall_ns) / 1e6;
  double server = (double)(b->server_us - a->server_us) / 1000;
  double self = (double)(b->self_us - a->self_us) / 1000;
  double other = (double)(b->busy_ms - a->busy_ms) - server - self;
  if (other < 0) other = 0; /* tick rounding */
  printf(
      "\"wall_ms\": %.1f, \"server_cpu_ms\": %.3f, \"client_cpu_ms\": "
      "%.3f, \"other_cpu_pct\": %.1f",
      wall, server, self,
      100 * other / wall / (double)sysconf(_SC_NPROCESSORS_ONLN));
  return server;
}

/* ------------------------------------------------------------ phases */

static void on_deadline(uv_timer_t *t) {
  (void)t;
  die("no progress in time (%d still waiting)", g.pending);
}

/* Runs the loop until g.pending drops to 0 (set it first), at most ms. */
static void run_phase(const char *name, uint64_t ms) {
  g.phase = name;
  if (g.pending > 0) {
    uv_timer_start(&g.deadline, on_deadline, ms, 0);
    uv_run(g.loop, UV_RUN_DEFAULT);
    uv_timer_stop(&g.deadline);
  }
}

static void one_done(void) {
  if (--g.pending == 0) uv_stop(g.loop);
}

static void on_pause_done(uv_timer_t *t) {
  (void)t;
  one_done();
}

/* Lets the loop run for ms (late messages, the server settling). */
static void run_for(const char *name, uint64_t ms) {
  g.pending = 1;
  uv_timer_start(&g.pause, on_pause_done, ms, 0);
  run_phase(name, ms + 10000);
}

/* ------------------------------------------------------------ control */

static void ctl_send(struct user *u, json_t *j) {
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (!text || ws_send(u->ctl, WS_TEXT, text, strlen(text)) != 0)
    die("cannot send on control.ashx of %s", u->name);
  free(text);
}

static void ctl_open(struct ws *w, void *data) {
  (void)w;
  ctl_send(data, json_pack("{s:s}", "action", "authcookie"));
}

static void sess_connect(struct sess *s);

static void ctl_message(struct ws *w, enum ws_type t, const uint8_t *p,
                        size_t n, void *data) {
  struct user *u = data;
  (void)w;
  (void)t;
  json_t *j = json_loadb((const char *)p, n, 0, NULL);
  const char *action = json_string_value(json_object_get(j, "action"));
  const char *rid = json_string_value(json_object_get(j, "responseid"));
  if (!action) {
    json_decref(j);
    return;
  }
  if (!strcmp(action, "close")) {
    const char *m = json_string_value(json_object_get(j, "msg"));
    die("%s refused: %s", u->name, m ? m : "no reason");
  } else if (!strcmp(action, "authcookie") && !u->cookie) {
    const char *c = json_string_value(json_object_get(j, "cookie"));
    const char *rc = json_string_value(json_object_get(j, "rcookie"));
    if (!c || !rc) die("authcookie for %s: no cookies", u->name);
    u->cookie = strdup(c);
    u->rcookie = strdup(rc);
    one_done();
  } else if (!strcmp(action, "msg") && rid && !strncmp(rid, "rb", 2)) {
    int i = atoi(rid + 2);
    const char *res = json_string_value(json_object_get(j, "result"));
    if (i < 0 || i >= g.nsess || g.s[i].routed) die("stray reply %s", rid);
    if (!res || strcmp(res, "OK"))
      die("tunnel %d: %s", i, res ? res : "no result");
    g.s[i].routed = 1;
    sess_connect(&g.s[i]);
  }
  json_decref(j);
}

static void ctl_close(struct ws *w, int code, const char *reason, void *data) {
  struct user *u = data;
  (void)w;
  u->ctl = NULL;
  if (g.phase && strcmp(g.phase, "finish"))
    die("control.ashx of %s closed: %d %s", u->name, code, reason);
}

static const struct ws_cbs ctl_cbs = {ctl_open, ctl_message, NULL, ctl_close};

static void sign_in(void) {
  char url[512], hdr[1024];
  g.pending = g.nusers;
  for (int i = 0; i < g.nusers; i++) {
    struct user *u = &g.users[i];
    char bu[ENC_B64_LEN(sizeof u->name) + 1],
        bp[ENC_B64_LEN(sizeof u->pass) + 1];
    enc_b64((const uint8_t *)u->name, strlen(u->name), bu, 0);
    enc_b64((const uint8_t *)u->pass, strlen(u->pass), bp, 0);
    snprintf(hdr, sizeof hdr, "x-meshauth: %s,%s\r\n", bu, bp);
    snprintf(url, sizeof url, "%s/control.ashx", g.url);
    struct ws_connect_opts o = {.connect_timeout_ms = CONNECT_MS,
                                .headers = hdr};
    if (ws_connect_ex(g.loop, url, g.tls, &o, &ctl_cbs, u, &u->ctl) != 0)
      die("bad url %s", url);
    memset(bp, 0, sizeof bp);
    memset(hdr, 0, sizeof hdr);
  }
  run_phase("sign-in", SIGNIN_MS);
}

/* ------------------------------------------------------------ tunnels */

/* Appends v to out with '$' and '@' (B64MC ids and tokens) %-escaped,
 * as the stock agent does before it opens a relay URL. */
static void put_escaped(char *out, size_t cap, const char *v) {
  size_t n = strlen(out);
  for (; *v && n + 4 < cap; v++) {
    if (*v == '$' || *v == '@')
      n += (size_t)snprintf(out + n, cap - n, "%%%02X", (unsigned)*v);
    else
      out[n++] = *v;
  }
  out[n] = 0;
}

static void sess_fail(struct sess *s, const char *side, const char *why) {
  die("tunnel %d (%s side): %s", s->idx, side, why);
}

static void pump(struct sess *s);

/* The first text on a relay socket: "c"/"cr" pairs it; before that, a
 * JSON {"action":"close"} is a refusal. */
static void pair_text(struct sess *s, const char *side, const uint8_t *p,
                      size_t n, int *paired) {
  if ((n == 1 && p[0] == 'c') || (n == 2 && !memcmp(p, "cr", 2))) {
    *paired = 1;
    if (s->vpaired && (s->apaired || !s->agent)) one_done();
    return;
  }
  char txt[200];
  snprintf(txt, sizeof txt, "before pairing: %.*s", (int)(n < 150 ? n : 150),
           (const char *)p);
  sess_fail(s, side, txt);
}

static void term_data(struct sess *s, const uint8_t *p, size_t n);

static void viewer_message(struct ws *w, enum ws_type t, const uint8_t *p,
                           size_t n, void *data) {
  struct sess *s = data;
  (void)w;
  if (!s->vpaired) {
    if (t == WS_TEXT) pair_text(s, "viewer", p, n, &s->vpaired);
    return;
  }
  if (t != WS_BINARY) return; /* ctrl messages (console, pings) */
  if (s->proto == 1) {
    term_data(s, p, n);
    return;
  }
  uint64_t seq;
  size_t want = s->to_send - s->received < MSG_BYTES
                    ? (size_t)(s->to_send - s->received)
                    : MSG_BYTES;
  if (!s->streaming || n != want)
    sess_fail(s, "viewer", "a message of unexpected length");
  memcpy(&seq, p, sizeof seq);
  if (seq != s->seq_rx++ || memcmp(p + 8, g.payload + 8, n - 8))
    sess_fail(s, "viewer", "a message out of order or altered");
  s->received += n;
  if (s->received == s->to_send) {
    s->streaming = 0;
    one_done();
  }
}

static void agent_message(struct ws *w, enum ws_type t, const uint8_t *p,
                          size_t n, void *data) {
  struct sess *s = data;
  (void)w;
  if (!s->apaired && t == WS_TEXT) pair_text(s, "agent", p, n, &s->apaired);
}

static void agent_drain(struct ws *w, void *data) {
  (void)w;
  pump(data);
}

static void sess_closed(struct sess *s, struct ws **slot, const char *side,
                        int code, const char *reason) {
  *slot = NULL;
  g.open_ws--;
  if (g.phase && !strcmp(g.phase, "close")) {
    one_done();
    return;
  }
  char why[200];
  snprintf(why, sizeof why, "closed early: %d %s", code, reason);
  sess_fail(s, side, why);
}

static void viewer_close(struct ws *w, int code, const char *reason,
                         void *data) {
  struct sess *s = data;
  (void)w;
  sess_closed(s, &s->viewer, "viewer", code, reason);
}

static void agent_close(struct ws *w, int code, const char *reason,
                        void *data) {
  struct sess *s = data;
  (void)w;
  sess_closed(s, &s->agent, "agent", code, reason);
}

static const struct ws_cbs viewer_cbs = {NULL, viewer_message, NULL,
                                         viewer_close};
static const struct ws_cbs agent_cbs = {NULL, agent_message, agent_drain,
                                        agent_close};

/* Both sides of s (the viewer only in term mode, where the real agent
 * joins), once the server said OK to the tunnel request. */
static void sess_connect(struct sess *s) {
  char url[4096];
  struct ws_connect_opts o = {.connect_timeout_ms = CONNECT_MS};
  snprintf(url, sizeof url, "%s/meshrelay.ashx?browser=1&p=%d&nodeid=", g.url,
           s->proto);
  put_escaped(url, sizeof url, g.node);
  snprintf(url + strlen(url), sizeof url - strlen(url), "&id=%s&auth=", s->id);
  put_escaped(url, sizeof url, s->u->cookie);
  if (ws_connect_ex(g.loop, url, g.tls, &o, &viewer_cbs, s, &s->viewer) != 0)
    die("cannot connect %s", g.url);
  g.open_ws++;
  if (s->proto == 1) return;
  snprintf(url, sizeof url, "%s/meshrelay.ashx?p=%d&nodeid=", g.url, s->proto);
  put_escaped(url, sizeof url, g.node);
  snprintf(url + strlen(url), sizeof url - strlen(url), "&id=%s&rauth=", s->id);
  put_escaped(url, sizeof url, s->u->rcookie);
  if (ws_connect_ex(g.loop, url, g.tls, &o, &agent_cbs, s, &s->agent) != 0)
    die("cannot connect %s", g.url);
  g.open_ws++;
}

/* Asks for n tunnels of protocol proto and runs until all are paired. */
static void open_sessions(int n, int proto) {
  static const char abc[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  char value[4096], rid[16];
  g.s = calloc((size_t)n, sizeof *g.s);
  if (!g.s) die("out of memory");
  g.nsess = n;
  g.pending = n;
  for (int i = 0; i < n; i++) {
    struct sess *s = &g.s[i];
    uint8_t raw[16];
    s->idx = i;
    s->proto = proto;
    s->u = &g.users[i % g.nusers];
    rand_bytes(raw, sizeof raw);
    for (size_t k = 0; k < sizeof raw; k++) s->id[k] = abc[raw[k] % 62];
    snprintf(value, sizeof value,
             "*/meshrelay.ashx?p=%d&nodeid=%s&id=%s&rauth=%s", proto, g.node,
             s->id, s->u->rcookie);
    snprintf(rid, sizeof rid, "rb%d", i);
    ctl_send(s->u, json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "action", "msg",
                             "type", "tunnel", "nodeid", g.node, "value", value,
                             "usage", proto, "responseid", rid));
  }
  run_phase("pairing", PAIR_MS);
}

static void close_sessions(void) {
  g.pending = g.open_ws;
  g.phase = "close";
  for (int i = 0; i < g.nsess; i++) {
    if (g.s[i].viewer) ws_close(g.s[i].viewer, WS_CLOSE_NORMAL, "done");
    if (g.s[i].agent) ws_close(g.s[i].agent, WS_CLOSE_NORMAL, "done");
  }
  run_phase("close", 30000);
  free(g.s);
  g.s = NULL;
  g.nsess = 0;
}

/* ------------------------------------------------------------ relay */

/* Keeps the agent side's output queue just past the high-water mark:
 * on_drain brings us back when it falls below the low one. */
static void pump(struct sess *s) {
  while (s->agent && s->sent < s->to_send &&
         ws_queued(s->agent) <= MESH_STREAM_HIGH_WATER) {
    size_t n = s->to_send - s->sent < MSG_BYTES ? (size_t)(s->to_send - s->sent)
                                                : MSG_BYTES;
    memcpy(g.payload, &s->seq_tx, sizeof s->seq_tx);
    s->seq_tx++;
    if (ws_send(s->agent, WS_BINARY, g.payload, n) != 0)
      sess_fail(s, "agent", "send failed");
    s->sent += n;
  }
}

/* Streams bytes (split evenly, whole messages) over every open tunnel at
 * once and prints the phase's JSON member followed by sep (report 0: a
 * warm-up, nothing printed). */
static void stream(const char *name, uint64_t bytes, int report,
                   const char *sep) {
  uint64_t msgs = (bytes + MSG_BYTES - 1) / MSG_BYTES, total = 0;
  struct clocks a, b;
  g.pending = g.nsess;
  for (int i = 0; i < g.nsess; i++) {
    struct sess *s = &g.s[i];
    uint64_t m = msgs / (uint64_t)g.nsess + ((uint64_t)i < msgs % g.nsess);
    if (m == 0) m = 1;
    s->to_send = m * MSG_BYTES;
    s->sent = s->received = 0;
    s->streaming = 1;
    total += s->to_send;
  }
  clocks_read(&a);
  for (int i = 0; i < g.nsess; i++) pump(&g.s[i]);
  run_phase(name, 600000);
  clocks_read(&b);
  if (!report) return;
  double mb = (double)total / 1e6, wall = (double)(b.wall_ns - a.wall_ns) / 1e6;
  printf("  \"%s\": {\"sessions\": %d, \"mb\": %.1f, \"mb_per_s\": %.1f, ",
         name, g.nsess, mb, mb * 1000 / wall);
  double cpu = clocks_print(&a, &b);
  printf(", \"server_cpu_ms_per_mb\": %.3f}%s\n", cpu / mb, sep);
}

static void bench_relay(double mb, int sessions, double warm_mb,
                        uint64_t idle_ms) {
  int64_t c, rss0, rss1, rss2;
  /* A first tunnel runs every code path once (and, in the stock server,
   * gets it compiled), so that the memory measured next is the tunnels'
   * own; then the server settles. */
  open_sessions(1, 5);
  stream("first tunnel", 8 * MSG_BYTES, 0, "");
  close_sessions();
  run_for("settle", 2000);
  printf("{\n");
  server_stat(&c, &rss0);
  uint64_t t0 = uv_hrtime();
  open_sessions(sessions, 5);
  double setup_ms = (double)(uv_hrtime() - t0) / 1e6;
  run_for("idle", idle_ms);
  int procs = server_stat(&c, &rss1);
  printf(
      "  \"pairing\": {\"sessions\": %d, \"wall_ms\": %.0f, "
      "\"server_rss_kb_before\": %" PRId64
      ", \"server_rss_kb_paired\": %" PRId64
      ", \"server_kb_per_session\": %.1f, \"server_procs\": %d},\n",
      sessions, setup_ms, rss0, rss1, (double)(rss1 - rss0) / sessions, procs);
  /* Warm-up of the data path (JIT, buffers), not reported. */
  if (warm_mb > 0) stream("warm-up", (uint64_t)(warm_mb * 1e6), 0, "");
  stream("concurrent", (uint64_t)(mb * 1e6), 1, ",");
  /* The same tunnels idle again: what traffic left behind. */
  run_for("idle after traffic", idle_ms);
  server_stat(&c, &rss2);
  printf("  \"after_traffic\": {\"server_rss_kb\": %" PRId64
         ", \"server_kb_per_session\": %.1f},\n",
         rss2, (double)(rss2 - rss0) / sessions);
  close_sessions();
  open_sessions(1, 5);
  stream("single", (uint64_t)(mb * 1e6), 1, "");
  close_sessions();
  printf("}\n");
}

/* ------------------------------------------------------------ term */

static void send_key(void) {
  g.key_byte = (uint8_t)('a' + (g.key_byte - 'a' + 1) % 26);
  g.key_t0 = uv_hrtime();
  uv_timer_start(&g.deadline, on_deadline, KEY_MS, 0);
  if (ws_send(g.term->viewer, WS_BINARY, &g.key_byte, 1) != 0)
    sess_fail(g.term, "viewer", "send failed");
}

static void on_typist(uv_timer_t *t) {
  (void)t;
  send_key();
}

/* Output of cat: the byte sent last comes back (anything else is
 * counted: there should be nothing). */
static void term_data(struct sess *s, const uint8_t *p, size_t n) {
  (void)s;
  const uint8_t *hit = g.keys_left > 0 ? memchr(p, g.key_byte, n) : NULL;
  g.extra_bytes += hit ? n - 1 : n;
  if (!hit) return;
  g.rtt[g.nrtt++] = (double)(uv_hrtime() - g.key_t0) / 1e6;
  uv_timer_stop(&g.deadline);
  if (--g.keys_left == 0) {
    uv_stop(g.loop);
    return;
  }
  uint64_t since = (uv_hrtime() - g.key_t0) / 1000000;
  if (since >= g.key_interval_ms)
    send_key();
  else
    uv_timer_start(&g.typist, on_typist, g.key_interval_ms - since, 0);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Round-trip times of keys keystrokes after warm ones (not reported). */
static void bench_term(int keys, int warm) {
  static const char opts[] =
      "{\"type\":\"options\",\"cols\":80,\"rows\":25,\"exec\":\"cat\"}";
  struct clocks a, b;
  open_sessions(1, 1);
  g.term = &g.s[0];
  if (ws_send(g.term->viewer, WS_TEXT, opts, sizeof opts - 1) != 0 ||
      ws_send(g.term->viewer, WS_TEXT, "1", 1) != 0)
    sess_fail(g.term, "viewer", "send failed");
  /* cat starts on a raw pty; give it a moment so the first byte does not
   * race the agent's tcsetattr. */
  run_for("start", 1000);
  g.rtt = calloc((size_t)(keys + warm), sizeof *g.rtt);
  if (!g.rtt) die("out of memory");
  g.key_byte = 'a';
  g.phase = "warm-up keystrokes";
  g.keys_left = warm;
  if (warm > 0) {
    send_key();
    uv_run(g.loop, UV_RUN_DEFAULT);
  }
  g.nrtt = 0;
  g.extra_bytes = 0;
  g.phase = "keystrokes";
  g.keys_left = keys;
  clocks_read(&a);
  send_key();
  uv_run(g.loop, UV_RUN_DEFAULT);
  clocks_read(&b);
  qsort(g.rtt, (size_t)g.nrtt, sizeof *g.rtt, cmp_double);
  double sum = 0;
  for (int i = 0; i < g.nrtt; i++) sum += g.rtt[i];
  /* Nearest rank: the smallest value with at least p% at or below it. */
  int i50 = (g.nrtt * 50 + 99) / 100 - 1, i99 = (g.nrtt * 99 + 99) / 100 - 1;
  printf("{\n  \"keystrokes\": %d, \"interval_ms\": %" PRIu64
         ", \"rtt_median_ms\": %.3f, \"rtt_p99_ms\": %.3f,"
         " \"rtt_avg_ms\": %.3f, \"rtt_min_ms\": %.3f, \"rtt_max_ms\": %.3f,\n"
         "  \"unexpected_bytes\": %" PRIu64 ", ",
         g.nrtt, g.key_interval_ms, g.rtt[i50], g.rtt[i99], sum / g.nrtt,
         g.rtt[0], g.rtt[g.nrtt - 1], g.extra_bytes);
  /* other_cpu_pct here includes meshagent and cat: they are the path. */
  clocks_print(&a, &b);
  printf("\n}\n");
  static const char bye[] =
      "{\"ctrlChannel\":\"" CTRL_CHANNEL "\",\"type\":\"close\"}";
  ws_send(g.term->viewer, WS_TEXT, bye, sizeof bye - 1);
  close_sessions();
  free(g.rtt);
}

/* ------------------------------------------------------------ main */

static void load_logins(const char *path) {
  FILE *f = fopen(path, "r");
  char line[512];
  if (!f) die("cannot read %s", path);
  while (g.nusers < MAX_USERS && fgets(line, sizeof line, f)) {
    struct user *u = &g.users[g.nusers];
    if (sscanf(line, "%127s %255s", u->name, u->pass) == 2) g.nusers++;
  }
  memset(line, 0, sizeof line);
  fclose(f);
  if (g.nusers == 0) die("no \"USER PASSWORD\" line in %s", path);
}

static void usage(void) {
  fprintf(stderr,
          "usage: relaybench --url wss://HOST:PORT --node NODEID --logins "
          "FILE\n"
          "                  [--server-pid PID | --server-pgid PGID]\n"
          "                  relay [--mb N] [--sessions N] [--warmup-mb N]"
          " [--idle-ms MS]\n"
          "                | term [--keys N] [--warmup N] [--interval MS]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *logins = NULL, *mode = NULL;
  double mb = 256, warm_mb = 32;
  int sessions = 50, keys = 500, warm = 20;
  uint64_t idle_ms = 2000;
  g.key_interval_ms = 10;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!mode && (!strcmp(a, "relay") || !strcmp(a, "term"))) {
      mode = a;
      continue;
    }
    if (!v) usage();
    i++;
    if (!strcmp(a, "--url"))
      g.url = v;
    else if (!strcmp(a, "--node"))
      g.node = v;
    else if (!strcmp(a, "--logins"))
      logins = v;
    else if (!strcmp(a, "--server-pid"))
      g.server_pid = atoi(v);
    else if (!strcmp(a, "--server-pgid"))
      g.server_pgid = atoi(v);
    else if (!strcmp(a, "--mb"))
      mb = atof(v);
    else if (!strcmp(a, "--warmup-mb"))
      warm_mb = atof(v);
    else if (!strcmp(a, "--idle-ms"))
      idle_ms = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--sessions"))
      sessions = atoi(v);
    else if (!strcmp(a, "--keys"))
      keys = atoi(v);
    else if (!strcmp(a, "--warmup"))
      warm = atoi(v);
    else if (!strcmp(a, "--interval"))
      g.key_interval_ms = (uint64_t)atoi(v);
    else
      usage();
  }
  if (!mode || !g.url || !g.node || !logins || mb <= 0 || warm_mb < 0 ||
      sessions < 1 || sessions > MAX_SESSIONS || keys < 1 || warm < 0)
    usage();
  log_set_level(LOG_ERROR);
  load_logins(logins);
  g.loop = uv_default_loop();
  uv_timer_init(g.loop, &g.deadline);
  uv_timer_init(g.loop, &g.pause);
  uv_timer_init(g.loop, &g.typist);
  if (!(g.tls = tls_client_ctx_new())) die("no TLS context");
  /* Incompressible content, so no layer can make the bytes cheaper. */
  rand_bytes(g.payload, sizeof g.payload);
  sign_in();
  if (!strcmp(mode, "relay"))
    bench_relay(mb, sessions, warm_mb, idle_ms);
  else
    bench_term(keys, warm);
  fflush(stdout);
  g.phase = "finish";
  for (int i = 0; i < g.nusers; i++) {
    struct user *u = &g.users[i];
    if (u->ctl) ws_close(u->ctl, WS_CLOSE_NORMAL, "done");
    if (u->cookie) memset(u->cookie, 0, strlen(u->cookie));
    if (u->rcookie) memset(u->rcookie, 0, strlen(u->rcookie));
    free(u->cookie);
    free(u->rcookie);
    memset(u->pass, 0, sizeof u->pass);
  }
  uv_run(g.loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&g.deadline, NULL);
  uv_close((uv_handle_t *)&g.pause, NULL);
  uv_close((uv_handle_t *)&g.typist, NULL);
  uv_run(g.loop, UV_RUN_DEFAULT);
  SSL_CTX_free(g.tls);
  return uv_loop_close(g.loop) == 0 ? 0 : 1;
}
