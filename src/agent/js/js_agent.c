/*
 * js_agent.c - require('MeshAgent'), the control-channel object the stock
 * agent gives its cores: SendCommand(obj) sends obj as one JSON message to
 * the server; the 'Command' event brings the server's JSON (js.c delivers
 * it), 'Connected' the channel's state. Read-only facts about the agent
 * come as properties.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/js/js_int.h"
#include "base/err.h"

/* SendCommand(object | JSON text): true when the message was queued. */
static duk_ret_t send_command(duk_context *ctx) {
  struct js *rt = js__rt(ctx);
  if (duk_is_object(ctx, 0) && !duk_is_function(ctx, 0) &&
      !duk_is_buffer_data(ctx, 0))
    duk_json_encode(ctx, 0);
  else if (!duk_is_string(ctx, 0))
    return duk_type_error(ctx, "SendCommand: expected an object");
  duk_size_t n;
  const char *s = duk_get_lstring(ctx, 0, &n);
  size_t un;
  char *u = js__to_utf8(s, n, &un);
  if (!u) return duk_error(ctx, DUK_ERR_RANGE_ERROR, "out of memory");
  json_t *j = json_loadb(u, un, 0, NULL);
  free(u);
  if (!json_is_object(j)) {
    json_decref(j);
    return duk_type_error(ctx, "SendCommand: not a JSON object");
  }
  duk_push_boolean(ctx, js__send(rt, j) == 0);
  return 1;
}

static duk_ret_t get_connected(duk_context *ctx) {
  struct js *rt = js__rt(ctx);
  duk_push_boolean(ctx, rt->a->ws != NULL && cc_agent_open(&rt->a->cc));
  return 1;
}

static duk_ret_t get_server_url(duk_context *ctx) {
  struct js *rt = js__rt(ctx);
  if (rt->a->cfg.n_servers > 0)
    duk_push_string(ctx, agent_server_url(rt->a));
  else
    duk_push_null(ctx);
  return 1;
}

static void getter(duk_context *ctx, const char *name, duk_c_function fn) {
  duk_push_string(ctx, name);
  duk_push_c_function(ctx, fn, 0);
  duk_def_prop(ctx, -3, DUK_DEFPROP_HAVE_GETTER | DUK_DEFPROP_SET_ENUMERABLE);
}

duk_ret_t js__mod_agent(duk_context *ctx) {
  struct js *rt = js__rt(ctx);
  struct agent *a = rt->a;
  js__push_emitter(ctx);
  duk_push_c_function(ctx, send_command, 1);
  duk_put_prop_string(ctx, -2, "SendCommand");
  getter(ctx, "isControlChannelConnected", get_connected);
  getter(ctx, "ServerUrl", get_server_url);
  duk_push_string(ctx, a->node_id);
  duk_put_prop_string(ctx, -2, "NodeId");
  duk_push_string(ctx, a->hostname);
  duk_put_prop_string(ctx, -2, "Hostname");
  duk_push_string(ctx, rt->name);
  duk_put_prop_string(ctx, -2, "CoreName");
  return 1;
}
