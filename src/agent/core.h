/*
 * core.h - meshagent's server-sent JavaScript core (spec §6.1): commands
 * 10 (install / clear), 11 (hash query), 16 (CoreOk), the core kept in
 * the agent's database, and running it through the runtime (js/js.h).
 *
 * Only against meshd (.msh ServerProduct=meshd): then the agent reports
 * the JAVASCRIPT capability and a->core is set. Against a stock server
 * a->core stays NULL and the agent answers as a core-less agent
 * (agent_coreless_reply), so a stock server never pushes its own core.
 *
 * A stored core does not run at start-up: it waits for CoreOk, or
 * CORE_WAIT_MS without one, so that a server can replace a bad core
 * before it runs. Command 20 (compressed core) is never sent by meshd or
 * the stock server and is answered like a query.
 */
#ifndef MESH_AGENT_CORE_H
#define MESH_AGENT_CORE_H

#include <stddef.h>
#include <stdint.h>

#define CORE_WAIT_MS 60000
#define CORE_HEADER 4 /* the blob's 4 zero bytes (spec §6.1) */
/* The database key of the stored core blob (4 zero bytes, JavaScript);
 * the 4 zero bytes alone mean none. */
#define CORE_DB_KEY "CoreModule"

struct agent;
struct buf;

/* ------------------------------------------------ sans-I/O, for tests */

enum core_op {
  CORE_OP_NONE,    /* not a core command, or one to ignore */
  CORE_OP_QUERY,   /* 11, or 20: reply with the stored hash */
  CORE_OP_INSTALL, /* 10 with hash and blob */
  CORE_OP_CLEAR,   /* 10 with nothing */
  CORE_OP_OK       /* 16 */
};

struct core_cmd {
  enum core_op op;
  uint16_t req;
  const uint8_t *hash; /* 48 bytes, INSTALL */
  const uint8_t *blob; /* INSTALL: the rest of the message, >= 1 byte */
  size_t len;
};

/* Reads one server command (p, n borrowed; cmd->hash and cmd->blob point
 * into p). Always fills cmd; op is CORE_OP_NONE for anything else. */
void core_parse(const uint8_t *p, size_t n, struct core_cmd *cmd);
/* Nonzero if blob hashes (SHA-384) to hash and holds more than the 4-byte
 * header. */
int core_blob_ok(const uint8_t *blob, size_t len, const uint8_t hash[48]);
/* Appends the command 11 reply: the hash, or nothing when hash is NULL. */
int core_put_reply(struct buf *out, uint16_t req, const uint8_t *hash);

/* ----------------------------------------------------- on the agent */

/* Sets a->core up when the server is meshd: loads the stored core's
 * hash and starts the CoreOk wait. Returns 0 or MESH_E_NOMEM. */
int core_init(struct agent *a);
/* Stops the core and the wait; a->core is freed once its timer closed. */
void core_stop(struct agent *a);
/* Handles a binary server command; returns 1 when it was a core command
 * (answered), 0 otherwise. */
int core_on_command(struct agent *a, const uint8_t *p, size_t n);
/* Hands server JSON to the running core; returns 1 when a core took it,
 * 0 when none runs (the agent then handles it natively). */
int core_on_json(struct agent *a, const uint8_t *p, size_t n);
/* The control channel came up (1, authenticated) or went (0). */
void core_connected(struct agent *a, int up);
/* For tests: a stored core waiting for CoreOk runs ms from now instead
 * of CORE_WAIT_MS after start. */
void core_set_wait_ms(struct agent *a, uint64_t ms);

#endif
