/*
 * js_tunnel.c - require('tunnel'): the native relay sessions (terminal,
 * files) for a core to drive. open(request) does for a core exactly what
 * the agent does for a {action:'msg', type:'tunnel'} message from the
 * server: checks it, joins the relay (its certificate must be the control
 * channel's) and serves the protocol the viewer selects, natively. The
 * tunnel belongs to the agent, not the core: it outlives a stopped core,
 * as a session the user opened should.
 */
#include <jansson.h>
#include <stdlib.h>

#include "agent/agent.h"
#include "agent/js/js_int.h"
#include "agent/tunnel.h"

/* open({value: relay URL, servertlshash?, rights?, ...}) */
static duk_ret_t tunnel_open(duk_context *ctx) {
  struct js *rt = js__rt(ctx);
  if (!duk_is_object(ctx, 0))
    return duk_type_error(ctx, "tunnel.open: expected the request object");
  duk_json_encode(ctx, 0);
  duk_size_t n;
  const char *s = duk_get_lstring(ctx, 0, &n);
  size_t un;
  char *u = js__to_utf8(s, n, &un);
  json_t *j = u ? json_loadb(u, un, 0, NULL) : NULL;
  free(u);
  if (!json_is_object(j) || !json_is_string(json_object_get(j, "value"))) {
    json_decref(j);
    return duk_type_error(ctx, "tunnel.open: request needs a string value");
  }
  int before = rt->a->n_tunnels;
  tunnel_request(rt->a, j);
  json_decref(j);
  /* false when the request was refused at once (logged by tunnel.c). */
  duk_push_boolean(ctx, rt->a->n_tunnels > before);
  return 1;
}

static duk_ret_t tunnel_count(duk_context *ctx) {
  duk_push_int(ctx, js__rt(ctx)->a->n_tunnels);
  return 1;
}

duk_ret_t js__mod_tunnel(duk_context *ctx) {
  duk_push_object(ctx);
  duk_push_c_function(ctx, tunnel_open, 1);
  duk_put_prop_string(ctx, -2, "open");
  duk_push_c_function(ctx, tunnel_count, 0);
  duk_put_prop_string(ctx, -2, "count");
  return 1;
}
