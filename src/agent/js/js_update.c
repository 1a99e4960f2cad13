/*
 * js_update.c - require('agentupdate'): how the recovery core (spec §6.5,
 * cores/recovery.js) hands a binary it downloaded to the agent's native
 * installer (agent/update.h), which checks it, test-starts it, swaps it
 * in and restarts, exactly as after a native update.
 *
 *   path             where the download must be written: "<exe>.update",
 *                    or null when this agent takes no updates
 *   install(sha384)  the file at path is complete and its SHA-384 is
 *                    sha384 (96 hex digits); returns true when the
 *                    install started (the agent restarts if it succeeds;
 *                    a failure is logged and reported to the server as
 *                    agentupdatefailed), false when updates are off or
 *                    one is already running. TypeError for a bad hash.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/js/js_int.h"
#include "agent/update.h"
#include "base/enc.h"

static duk_ret_t upd_install(duk_context *ctx) {
  struct js *rt = js__rt(ctx);
  duk_size_t n = 0;
  const char *hex = duk_require_lstring(ctx, 0, &n);
  uint8_t h[48];
  if (n != 96 || enc_unhex(hex, n, h, sizeof h) != 0)
    return duk_type_error(ctx, "install: sha384 must be 96 hex digits");
  duk_push_boolean(ctx, agent_update_install(rt->a, h) == 0);
  return 1;
}

duk_ret_t js__mod_agentupdate(duk_context *ctx) {
  struct js *rt = js__rt(ctx);
  const char *path = rt->a ? agent_update_path(rt->a) : NULL;
  duk_push_object(ctx);
  size_t len = 0;
  char *p = path ? js__to_cesu(path, strlen(path), &len) : NULL;
  if (p)
    duk_push_lstring(ctx, p, len);
  else
    duk_push_null(ctx);
  free(p);
  duk_put_prop_string(ctx, -2, "path");
  duk_push_c_function(ctx, upd_install, 1);
  duk_put_prop_string(ctx, -2, "install");
  return 1;
}
