/*
 * js_timers.c - setTimeout, setInterval, setImmediate and their clear*
 * as globals. Each timer is a uv_timer_t owned by the runtime; libuv runs
 * timers due at the same time in the order they were set, as Node.js
 * does. A one-shot timer leaves the runtime's list before its callback
 * runs, so the callback may set or clear anything.
 */
#include <math.h>
#include <stdlib.h>

#include "agent/agent.h"
#include "agent/js/js_int.h"

struct timer {
  struct js_handle h;
  uv_timer_t t;
};

static void timer_closed(uv_handle_t *u) { free(u->data); }

static void timer_close(struct js_handle *h) {
  struct timer *t = (struct timer *)h;
  uv_close((uv_handle_t *)&t->t, timer_closed);
}

static void on_timer(uv_timer_t *u) {
  struct timer *t = u->data;
  struct js *rt = t->h.rt;
  if (!rt) return;
  duk_context *ctx = rt->ctx;
  int live = js__handle_push(&t->h); /* [obj]: holds fn and args */
  if (!live || !uv_timer_get_repeat(u)) {
    js__handle_remove(&t->h);
    timer_close(&t->h);
  }
  if (!live) {
    duk_pop(ctx);
    return;
  }
  duk_get_prop_string(ctx, -1, "fn");
  duk_push_undefined(ctx);
  duk_get_prop_string(ctx, -3, "args");
  duk_idx_t n = (duk_idx_t)duk_get_length(ctx, -1);
  for (duk_idx_t i = 0; i < n; i++) duk_get_prop_index(ctx, -1 - i, i);
  duk_remove(ctx, -1 - n); /* the args array */
  if (js__invoke(rt, n) == 0) duk_pop(ctx);
}

static duk_ret_t start_timer(duk_context *ctx, int repeat, int immediate) {
  struct js *rt = js__rt(ctx);
  duk_idx_t top = duk_get_top(ctx);
  duk_require_function(ctx, 0);
  double ms = immediate ? 0 : duk_get_number_default(ctx, 1, 0);
  /* Node.js: anything not in [1, 2^31-1] ms becomes 1 ms. */
  uint64_t delay = isfinite(ms) && ms >= 1 && ms <= 2147483647.0
                       ? (uint64_t)ms
                       : (immediate ? 0 : 1);
  if (repeat && delay == 0) delay = 1;
  duk_push_object(ctx);
  duk_dup(ctx, 0);
  duk_put_prop_string(ctx, -2, "fn");
  duk_push_array(ctx);
  for (duk_idx_t i = immediate ? 1 : 2; i < top; i++) {
    duk_dup(ctx, i);
    duk_put_prop_index(ctx, -2, (duk_uarridx_t)(i - (immediate ? 1 : 2)));
  }
  duk_put_prop_string(ctx, -2, "args");
  js__handle_check(ctx, sizeof(struct timer));
  struct timer *t = calloc(1, sizeof *t);
  if (!t) return duk_error(ctx, DUK_ERR_RANGE_ERROR, "out of memory");
  t->h.close = timer_close;
  uv_timer_init(rt->a->loop, &t->t);
  t->t.data = t;
  js__handle_add(rt, &t->h, -1, sizeof *t);
  uv_timer_start(&t->t, on_timer, delay, repeat ? delay : 0);
  return 1;
}

static duk_ret_t set_timeout(duk_context *ctx) {
  return start_timer(ctx, 0, 0);
}
static duk_ret_t set_interval(duk_context *ctx) {
  return start_timer(ctx, 1, 0);
}
static duk_ret_t set_immediate(duk_context *ctx) {
  return start_timer(ctx, 0, 1);
}

/* clearTimeout and friends: anything else, or a timer already done, is
 * ignored, as in Node.js. */
static duk_ret_t clear_timer(duk_context *ctx) {
  struct js_handle *h = js__handle_of(ctx, 0);
  if (h && h->close == timer_close) {
    js__handle_remove(h);
    timer_close(h);
  }
  return 0;
}

void js__timers_init(duk_context *ctx) {
  static const duk_function_list_entry fns[] = {
      {"setTimeout", set_timeout, DUK_VARARGS},
      {"setInterval", set_interval, DUK_VARARGS},
      {"setImmediate", set_immediate, DUK_VARARGS},
      {"clearTimeout", clear_timer, 1},
      {"clearInterval", clear_timer, 1},
      {"clearImmediate", clear_timer, 1},
      {NULL, NULL, 0},
  };
  duk_push_global_object(ctx);
  duk_put_function_list(ctx, -1, fns);
  duk_pop(ctx);
}
