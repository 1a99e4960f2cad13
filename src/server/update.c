/*
 * update.c - meshd's side of the native agent update (spec §6.4).
 *
 * One block in flight: the next goes when the agent has acknowledged the
 * previous one (command 14, requestId 1, nothing else), so the agent's
 * disk sets the pace and meshd holds no queue. Every wait for an ack has
 * a deadline; an agent that stops answering is disconnected, which frees
 * its slot in the server-wide limit.
 *
 * Two test hooks, read from the environment once, exist only so the
 * failure paths can be shown end to end (tests/e2e/update_native.sh):
 * MESHD_TEST_UPDATE_BLOCK_MS delays each block (so a test can stop meshd
 * mid-transfer) and MESHD_TEST_UPDATE_BAD_HASH=1 sends a final hash with
 * one bit flipped (what a corrupted transfer looks like to the agent).
 * Neither makes meshd accept anything it would otherwise refuse.
 *
 * With --agent-update core (srv_config.agent_update_core), an agent that
 * runs JavaScript is updated the other way (spec §6.5): meshd installs
 * the recovery core (cores/recovery.js) in place of its core; when that
 * core reports coreinfo, meshd sends agentupdate with a URL for the
 * binary (a sealed token valid MESH_UPDATE_URL_S, for this node and
 * architecture only), its SHA-384 and the web certificate's hash; the
 * core downloads it, accepting only that certificate, and hands it to the
 * agent's native installer (self-test, swap, restart, trial as above).
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/hash.h"
#include "crypto/seal.h"
#include "net/http_parse.h"
#include "net/http_srv.h"
#include "net/ws.h"
#include "proto/cc.h"
#include "srv.h"
#include "update.h"

struct srv_update {
  struct srv *srv;
  struct ws *ws; /* NULL once stopped */
  struct agent_bin *bin;
  size_t sent;      /* bytes of bin->data sent in blocks */
  int waiting;      /* a block is in flight */
  uv_timer_t timer; /* ack deadline, or the test delay */
  char node_id[65];
  char peer[64];
  uint32_t arch;
  int via_core;  /* §6.5: the recovery core fetches the binary */
  int announced; /* agentupdate sent */
};

/* The recovery core, beside the default core in the source tree. */
#define UPDATE_RECOVERY_PATH MESHD_WEB_DIR "/../cores/recovery.js"
/* What a token for /api/agentupdate says, sealed: who may fetch what. */
#define UPDATE_TOKEN_KIND "agentbin"

static uint64_t test_block_ms(void) {
  const char *v = getenv("MESHD_TEST_UPDATE_BLOCK_MS");
  return v ? strtoull(v, NULL, 10) : 0;
}

static int test_bad_hash(void) {
  const char *v = getenv("MESHD_TEST_UPDATE_BAD_HASH");
  return v && strcmp(v, "1") == 0;
}

static void on_timer_closed(uv_handle_t *h) {
  struct srv_update *u = h->data;
  agent_bin_unref(u->bin);
  free(u);
}

void srv_update_stop(struct srv_update *u) {
  if (!u || !u->ws) return;
  u->ws = NULL;
  u->srv->n_updates--;
  if (!u->via_core && u->sent < u->bin->len)
    log_info("event=agent_update_stopped node=%s peer=%s sent=%zu of=%zu",
             u->node_id, u->peer, u->sent, u->bin->len);
  uv_close((uv_handle_t *)&u->timer, on_timer_closed);
}

static void on_ack_deadline(uv_timer_t *t) {
  struct srv_update *u = t->data;
  log_warn("event=agent_update_failed node=%s peer=%s reason=\"no ack\"",
           u->node_id, u->peer);
  ws_close(u->ws, 1008, "agent update: no acknowledgement");
}

static int send_cmd(struct srv_update *u, uint16_t cmd, uint16_t req,
                    const uint8_t *body, size_t len) {
  struct buf b;
  buf_init(&b, len + 4);
  int r = cc_put_request(&b, cmd, req, body, len);
  if (r == 0) r = ws_send(u->ws, WS_BINARY, b.data, b.len);
  buf_cleanup(&b);
  return r;
}

/* Sends the next block, or the end with the hash when all are sent. */
static int send_next(struct srv_update *u) {
  if (u->sent == u->bin->len) {
    uint8_t h[AGENTHASH_LEN];
    memcpy(h, u->bin->hash, sizeof h);
    if (test_bad_hash()) h[0] ^= 1;
    log_info("event=agent_update_sent node=%s peer=%s bytes=%zu", u->node_id,
             u->peer, u->sent);
    uv_timer_stop(&u->timer);
    return send_cmd(u, CC_AGENT_UPDATE, 0, h, sizeof h);
  }
  size_t n = u->bin->len - u->sent;
  if (n > MESH_UPDATE_BLOCK) n = MESH_UPDATE_BLOCK;
  int r = send_cmd(u, CC_AGENT_UPDATE_BLOCK, 1, u->bin->data + u->sent, n);
  if (r) return r;
  u->sent += n;
  u->waiting = 1;
  uv_timer_start(&u->timer, on_ack_deadline, MESH_UPDATE_ACK_MS, 0);
  return 0;
}

static void on_delay(uv_timer_t *t) {
  struct srv_update *u = t->data;
  int r = send_next(u);
  if (r) ws_close(u->ws, 1011, "agent update: send failed");
}

int srv_update_on_ack(struct srv_update *u, uint16_t req, size_t body_len) {
  if (!u->waiting || req != 1 || body_len != 0) return MESH_E_PROTO_STATE;
  u->waiting = 0;
  uint64_t delay = test_block_ms();
  if (delay) {
    uv_timer_start(&u->timer, on_delay, delay, 0);
    return 0;
  }
  return send_next(u);
}

static void on_core_deadline(uv_timer_t *t) {
  struct srv_update *u = t->data;
  log_warn(
      "event=agent_update_failed node=%s peer=%s reason=\"recovery core "
      "did not finish\"",
      u->node_id, u->peer);
  ws_close(u->ws, 1008, "agent update: recovery core timed out");
}

/* Reads the recovery core into a blob (4 zero bytes, then the text) and
 * its hash, as command 10 carries them (spec §6.1). */
static int recovery_blob(struct buf *b, uint8_t hash[AGENTHASH_LEN]) {
  int fd = open(UPDATE_RECOVERY_PATH, O_RDONLY | O_CLOEXEC), r = MESH_E_IO;
  struct stat st;
  if (fd < 0) return MESH_E_NOT_FOUND;
  if (fstat(fd, &st) != 0 || st.st_size > 256 * 1024) goto out;
  size_t n = (size_t)st.st_size;
  if ((r = buf_reserve(b, 4 + n)) != 0) goto out;
  memset(b->data, 0, 4);
  r = read(fd, b->data + 4, n) == (ssize_t)n ? 0 : MESH_E_IO;
  if (r == 0) {
    b->len = 4 + n;
    hash_sha384(b->data, b->len, hash);
  }
out:
  close(fd);
  return r;
}

/* §6.5 step 1: the recovery core replaces the agent's core. */
static int start_by_core(struct srv_update *u) {
  struct buf blob;
  uint8_t h[AGENTHASH_LEN];
  buf_init(&blob, 256 * 1024 + 4);
  int r = recovery_blob(&blob, h);
  if (r == 0) {
    struct buf m;
    buf_init(&m, blob.len + 64);
    if ((r = buf_put(&m, h, sizeof h)) == 0 &&
        (r = buf_put(&m, blob.data, blob.len)) == 0)
      r = send_cmd(u, CC_CORE_MODULE, 0, m.data, m.len);
    buf_cleanup(&m);
  }
  buf_cleanup(&blob);
  if (r == 0)
    uv_timer_start(&u->timer, on_core_deadline, MESH_UPDATE_CORE_MS, 0);
  return r;
}

/* §6.5 step 2: where and what to download. */
static int announce(struct srv_update *u) {
  struct srv *s = u->srv;
  char tok[SEAL_TOKEN_LEN(SEAL_MAX_PLAIN) + 1], hex[2 * AGENTHASH_LEN + 1];
  char tls[2 * AGENTHASH_LEN + 1], url[sizeof tok + 64];
  json_t *p = json_pack("{s:s, s:s, s:I, s:I}", "t", UPDATE_TOKEN_KIND, "n",
                        u->node_id, "a", (json_int_t)u->arch, "exp",
                        (json_int_t)time(NULL) + MESH_UPDATE_URL_S);
  char *plain = p ? json_dumps(p, JSON_COMPACT) : NULL;
  json_decref(p);
  int r = plain ? seal_token(s->keys.cookie_key, plain, strlen(plain), tok,
                             sizeof tok)
                : MESH_E_NOMEM;
  free(plain);
  if (r) return r;
  snprintf(url, sizeof url, "*/api/agentupdate?t=%s", tok);
  enc_hex(u->bin->hash, AGENTHASH_LEN, hex, 0);
  enc_hex(s->keys.web_cert_hash, AGENTHASH_LEN, tls, 0);
  json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "action", "agentupdate", "url",
                        url, "hash", hex, "servertlshash", tls);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  r = text ? ws_send(u->ws, WS_BINARY, text, strlen(text)) : MESH_E_NOMEM;
  free(text);
  return r;
}

int srv_update_on_json(struct srv_update *u, json_t *msg, const char *action) {
  const char *reason = NULL;
  if (!u->ws) return 0;
  if (strcmp(action, "agentupdatefailed") == 0) {
    json_unpack(msg, "{s:s}", "reason", &reason);
    log_warn("event=agent_update_failed node=%s peer=%s reason=\"%.128s\"",
             u->node_id, u->peer, reason ? reason : "unknown");
    /* The agent stays as it was; its recovery core goes (§6.5 leaves it
     * to the server), and this connection gets no other core. */
    if (u->via_core) {
      uv_timer_stop(&u->timer);
      send_cmd(u, CC_CORE_MODULE, 0, NULL, 0);
    }
    return 1;
  }
  if (!u->via_core) return 0;
  if (strcmp(action, "coreinfo") == 0 && !u->announced) {
    u->announced = 1;
    int r = announce(u);
    if (r) ws_close(u->ws, 1011, "agent update: cannot announce");
    return 1;
  }
  if (strcmp(action, "agentupdatedownloaded") == 0) {
    log_info("event=agent_update_downloaded node=%s peer=%s", u->node_id,
             u->peer);
    return 1;
  }
  return 0;
}

/* The token of /api/agentupdate: 0 with the architecture, or an error. */
static int open_token(struct srv *s, const char *query, uint32_t *arch,
                      char *node, size_t cap) {
  char tok[SEAL_TOKEN_LEN(SEAL_MAX_PLAIN) + 1];
  uint8_t plain[SEAL_MAX_PLAIN];
  size_t n;
  const char *t = NULL, *nd = NULL;
  json_int_t a = 0, exp = 0;
  int r = http_query_param(query, "t", tok, sizeof tok);
  if (r) return MESH_E_MALFORMED;
  if ((r = seal_open(s->keys.cookie_key, tok, plain, sizeof plain, &n)) != 0)
    return r;
  json_t *j = json_loadb((const char *)plain, n, 0, NULL);
  r = MESH_E_MALFORMED;
  if (j &&
      json_unpack(j, "{s:s, s:s, s:I, s:I}", "t", &t, "n", &nd, "a", &a, "exp",
                  &exp) == 0 &&
      strcmp(t, UPDATE_TOKEN_KIND) == 0 && a > 0 && a <= 65535 &&
      strlen(nd) < cap) {
    r = exp > (json_int_t)time(NULL) ? 0 : MESH_E_TIMEOUT;
    *arch = (uint32_t)a;
    snprintf(node, cap, "%s", nd);
  }
  json_decref(j);
  return r;
}

void srv_update_download(struct srv *s, struct http_conn *c,
                         const struct http_req *req) {
  struct agent_bin *bin = NULL;
  uint32_t arch = 0;
  char node[72];
  if (strcmp(req->method, "GET") != 0) {
    http_respond(c, 405, "Allow: GET\r\n", "text/plain", "method\n", 7);
    return;
  }
  int r = open_token(s, req->query, &arch, node, sizeof node);
  if (r) {
    log_info("event=agent_update_url_refused peer=%s reason=\"%s\"", req->peer,
             r == MESH_E_TIMEOUT ? "expired" : "invalid");
    http_respond(c, 403, "Cache-Control: no-store\r\n", "text/plain",
                 "invalid or expired link\n", 24);
    return;
  }
  if (agent_bins_get(s, arch, &bin) != 0) {
    http_respond(c, 404, NULL, "text/plain", "no agent binary\n", 16);
    return;
  }
  log_info("event=agent_update_download peer=%s node=%s arch=%u bytes=%zu",
           req->peer, node, arch, bin->len);
  /* The binary as sent in a native update: no .msh (the agent keeps its
   * own beside it), so its SHA-384 is its agent hash. */
  http_respond(c, 200,
               "Cache-Control: no-store\r\n"
               "Content-Disposition: attachment; filename=\"meshagent\"\r\n",
               "application/octet-stream", bin->data, bin->len);
  agent_bin_unref(bin);
}

int srv_update_check(struct srv *s, struct ws *ws, const char *node_id,
                     const char *peer, uint32_t arch, uint32_t agent_version,
                     uint32_t caps, const uint8_t hash[AGENTHASH_LEN],
                     struct srv_update **out) {
  struct agent_bin *bin = NULL;
  *out = NULL;
  /* Zero: the agent has updates off (or serves a stock server's rules). */
  if (agent_version != AGENT_VERSION_MESHAGENT || agenthash_is_zero(hash))
    return 0;
  if (agent_bins_get(s, arch, &bin) != 0) return 0;
  if (memcmp(bin->hash, hash, AGENTHASH_LEN) == 0) {
    agent_bin_unref(bin);
    return 0;
  }
  if (s->n_updates >= MESH_UPDATE_MAX_RUNNING) {
    log_info("event=agent_update_deferred node=%s reason=\"%d running\"",
             node_id, s->n_updates);
    agent_bin_unref(bin);
    return 0;
  }
  struct srv_update *u = calloc(1, sizeof *u);
  if (!u) {
    agent_bin_unref(bin);
    return MESH_E_NOMEM;
  }
  u->srv = s;
  u->ws = ws;
  u->bin = bin;
  snprintf(u->node_id, sizeof u->node_id, "%s", node_id);
  snprintf(u->peer, sizeof u->peer, "%s", peer);
  u->arch = arch;
  u->via_core = s->cfg.agent_update_core && (caps & CC_CAP_JAVASCRIPT);
  uv_timer_init(s->loop, &u->timer);
  u->timer.data = u;
  s->n_updates++;
  log_info("event=agent_update_start node=%s peer=%s arch=%u bytes=%zu via=%s",
           node_id, peer, arch, bin->len, u->via_core ? "core" : "native");
  int r;
  if (u->via_core) {
    r = start_by_core(u);
  } else {
    /* Clear the core first (§6.4): the agent runs no JavaScript while
     * its binary is being replaced. */
    r = send_cmd(u, CC_CORE_MODULE, 0, NULL, 0);
    if (r == 0) r = send_cmd(u, CC_AGENT_UPDATE, 0, NULL, 0);
    if (r == 0) r = send_next(u);
  }
  *out = u;
  if (r) {
    srv_update_stop(u);
    *out = NULL;
    return r;
  }
  return 1;
}
