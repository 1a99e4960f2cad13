/*
 * core_cmd.c - the sans-I/O part of the agent's core handling (core.h):
 * reading commands 10, 11, 16 and 20, checking a core's hash, and the
 * command 11 reply. No agent, no loop: unit-tested byte by byte.
 */
#include <string.h>

#include "agent/core.h"
#include "base/buf.h"
#include "crypto/hash.h"
#include "proto/cc.h"

void core_parse(const uint8_t *p, size_t n, struct core_cmd *cmd) {
  uint16_t id;
  const uint8_t *body;
  size_t len;
  memset(cmd, 0, sizeof *cmd);
  if (cc_parse_request(p, n, &id, &cmd->req, &body, &len) != 0) return;
  switch (id) {
    case CC_CORE_MODULE:
      if (len == 0) {
        cmd->op = CORE_OP_CLEAR;
      } else if (len > CC_HASH_LEN) {
        cmd->op = CORE_OP_INSTALL;
        cmd->hash = body;
        cmd->blob = body + CC_HASH_LEN;
        cmd->len = len - CC_HASH_LEN;
      } /* 1..48 bytes: ignored, as the stock agent does */
      break;
    case CC_CORE_MODULE_HASH:
    case CC_COMPRESSED_CORE: /* never sent to us: say what we hold */
      cmd->op = CORE_OP_QUERY;
      break;
    case CC_CORE_OK:
      cmd->op = CORE_OP_OK;
      break;
    default:
      break;
  }
}

int core_blob_ok(const uint8_t *blob, size_t len, const uint8_t hash[48]) {
  uint8_t h[CC_HASH_LEN];
  if (len <= CORE_HEADER) return 0;
  hash_sha384(blob, len, h);
  return memcmp(h, hash, CC_HASH_LEN) == 0;
}

int core_put_reply(struct buf *out, uint16_t req, const uint8_t *hash) {
  return cc_put_request(out, CC_CORE_MODULE_HASH, req, hash,
                        hash ? CC_HASH_LEN : 0);
}
