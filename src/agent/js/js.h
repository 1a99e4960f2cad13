/*
 * js.h - meshagent's JavaScript runtime for server-sent cores
 * (docs/agent-runtime.md). Duktape on the agent's own libuv loop, one
 * thread: every call into JavaScript happens on the loop thread.
 *
 * One runtime per agent, at most: js_start() replaces a running core.
 * The runtime owns every handle a core opens (timers, child processes,
 * files, tunnels it asked for); js_stop() closes them all, so a core that
 * leaked ten thousand timers leaves nothing behind.
 *
 * Containment: a core that throws (at load or in a callback) is reported
 * to the server and keeps running; a call into JavaScript that runs longer
 * than MESH_JS_EXEC_TIMEOUT_MS, or one that runs out of its heap budget
 * (MESH_JS_HEAP_MAX) and does not handle the error, is stopped (a core
 * that catches it and lets memory go carries on). The agent and its
 * control channel carry on either way.
 *
 * What the server hears (JSON on the control channel, via opts->send):
 *   {"action":"coreerror","msg":"<text>","stopped":false}  a throw, caught
 *   {"action":"coreerror","msg":"core stopped: ran too long","stopped":true}
 *   {"action":"coreerror","msg":"core stopped: out of memory, not handled",
 *    "stopped":true}
 * msg is at most MESH_JS_MAX_ERROR bytes.
 */
#ifndef MESH_AGENT_JS_H
#define MESH_AGENT_JS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct agent;

struct js_opts {
  /* Sends j (stolen) to the server; NULL means agent_send_json. Tests
   * capture SendCommand and error reports here. */
  int (*send)(struct agent *a, json_t *j);
  /* Called on the loop thread once the runtime has stopped by itself
   * (ran too long, out of memory), with a short reason (static text). Not
   * called for js_stop(). The runtime is already freed: js_running() is 0
   * and js_start() may be called from here. NULL for none. */
  void (*on_stopped)(struct agent *a, const char *why);
  /* 0 for the defaults: MESH_JS_EXEC_TIMEOUT_MS and MESH_JS_HEAP_MAX. */
  uint64_t exec_timeout_ms;
  size_t heap_max;
};

/* Starts a core: compiles and runs src (len bytes, UTF-8 or CESU-8) named
 * name (for error messages) on a fresh runtime, replacing any running one.
 * opts is copied; NULL for the defaults. Returns 0 when the core is
 * running (its top level may have thrown: that is reported, not fatal),
 * or a negative code with no runtime left: MESH_E_TIMEOUT (its top level
 * ran too long), MESH_E_NOMEM (out of memory, not handled, or no memory
 * for the runtime), MESH_E_MALFORMED (a syntax error); each is reported
 * to the server too. */
int js_start(struct agent *a, const char *src, size_t len, const char *name,
             const struct js_opts *opts);
/* Stops the core: closes every handle it owns, frees the heap. The
 * handles' close callbacks finish on the loop afterwards; nothing calls
 * into JavaScript any more. Safe with no core running. */
void js_stop(struct agent *a);
/* 1 while a core is running. */
int js_running(const struct agent *a);
/* Hands one JSON text message from the server (p borrowed, n bytes) to
 * the core: require('MeshAgent') emits 'Command' with the parsed object.
 * Ignored with no core or when p is not a JSON object. */
void js_deliver_command(struct agent *a, const uint8_t *p, size_t n);
/* Tells the core about the control channel: require('MeshAgent') emits
 * 'Connected' with 1 (authenticated) or 0 (lost). */
void js_deliver_connected(struct agent *a, int up);

#endif
