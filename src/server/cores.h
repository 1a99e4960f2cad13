/*
 * cores.h - JavaScript cores meshd sends to its agents (spec §6.1, §6.2,
 * docs/cores-and-updates.md).
 *
 * Every device runs the default core (cores/meshcore.js in the source
 * tree, read when needed so an edit takes effect at the next connection)
 * unless an administrator chose another for it: no core, or a core of
 * their own (setcore). The choice, the hash the agent last reported and
 * what its core last said about the device (coreinfo) are kept per device
 * in the device_cores table.
 *
 * A core that keeps failing is cleared by the server: a core the runtime
 * stopped (ran too long, out of memory), or CORES_MAX_ERRORS errors within
 * CORES_ERROR_WINDOW_MS, sets the device to "no core" and sends command 10
 * (clear), with a device event saying why.
 */
#ifndef MESH_SERVER_CORES_H
#define MESH_SERVER_CORES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Install attempts per connection before the server gives up (§6.2). */
#define CORES_MAX_ATTEMPTS 5
#define CORES_MAX_ERRORS 3
#define CORES_ERROR_WINDOW_MS 60000
/* Device events (log, coreerror) an agent may cause per window. */
#define CORES_MAX_EVENTS 30
/* The largest core meshd sends, JavaScript text (the agent's WebSocket
 * takes 4 MiB messages). */
#define CORES_MAX_JS (1024 * 1024)

struct srv;
struct ws;

/* The core state of one admitted agent connection (inside srv_agent.c's
 * connection, which outlives every use of it). */
struct cores_conn {
  struct srv *srv;
  struct ws *ws;
  const char *node_id, *group_id; /* borrowed from the connection */
  int javascript;                 /* the agent reported JAVASCRIPT */
  int attempts;                   /* installs and clears sent */
  int stable;                     /* CoreOk sent on this connection */
  int awaiting;                   /* 11 replies due (10s and 11s sent) */
  uint64_t window_start;          /* error and event counting, ms */
  int errors, events;
};

/* What to do on a command 11 reply (§6.2), pure: has is the hash the
 * agent reported (NULL: it holds no core), want the hash of the core the
 * device should run (NULL: none), attempts the installs and clears sent
 * on this connection. */
enum cores_step {
  CORES_NOTHING, /* none wanted, none held */
  CORES_OK,      /* CoreOk, then "core is stable" */
  CORES_INSTALL, /* command 10 with the core */
  CORES_CLEAR,   /* command 10 alone */
  CORES_GIVE_UP  /* CORES_MAX_ATTEMPTS reached on this connection */
};
enum cores_step cores_decide(const uint8_t *has, const uint8_t *want,
                             int attempts);

/* The agent was admitted: remembers who it is and asks for its core hash
 * (command 11) when it is meshagent (agent_version of command 3) and runs
 * cores (caps). */
void cores_admitted(struct cores_conn *c, struct srv *s, struct ws *ws,
                    const char *node_id, const char *group_id, uint32_t caps,
                    uint32_t agent_version);
/* A command 11 reply (body = 0 or 48 bytes): installs, clears or confirms
 * the core the device should run. */
void cores_on_hash(struct cores_conn *c, const uint8_t *body, size_t len);
/* JSON from the agent's core (coreinfo, log, coreerror). Returns 1 when
 * it was one of those, 0 for any other action. */
int cores_on_json(struct cores_conn *c, json_t *msg, const char *action);

/* Adds what the device's core reported (agent.core, osdesc) to a device
 * object of the user API. */
void cores_node_json(struct srv *s, const char *node_id, json_t *node);

/* An administrator's choice for a device: mode "default", "none" or
 * "custom" (js = the JavaScript text, else NULL). Stored, then put into
 * effect at once when the agent is connected. Returns 0 or MESH_E_DB. */
int cores_set(struct srv *s, const char *node_id, const char *mode,
              const char *js);
/* What the user API's coreinfo command shows of a device (new
 * reference): mode, the hash its agent reported, what the core said. */
json_t *cores_info(struct srv *s, const char *node_id);

/* Reads the default core into a malloc'd blob (4 zero bytes then the
 * JavaScript) with its SHA-384. Returns 0, MESH_E_NOT_FOUND, or
 * MESH_E_TOO_LARGE. */
int cores_default(uint8_t **blob, size_t *len, uint8_t hash[48]);

#endif
