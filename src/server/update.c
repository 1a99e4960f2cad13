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
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
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
};

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
  if (u->sent < u->bin->len)
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

int srv_update_check(struct srv *s, struct ws *ws, const char *node_id,
                     const char *peer, uint32_t arch, uint32_t agent_version,
                     const uint8_t hash[AGENTHASH_LEN],
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
  uv_timer_init(s->loop, &u->timer);
  u->timer.data = u;
  s->n_updates++;
  log_info("event=agent_update_start node=%s peer=%s arch=%u bytes=%zu",
           node_id, peer, arch, bin->len);
  /* Clear the core first (§6.4): the agent runs no JavaScript while its
   * binary is being replaced. */
  int r = send_cmd(u, CC_CORE_MODULE, 0, NULL, 0);
  if (r == 0) r = send_cmd(u, CC_AGENT_UPDATE, 0, NULL, 0);
  if (r == 0) r = send_next(u);
  *out = u;
  if (r) {
    srv_update_stop(u);
    *out = NULL;
    return r;
  }
  return 1;
}
