/*
 * js.c - the runtime: one Duktape heap per core on the agent's loop, its
 * byte budget, the exec timeout, require(), the handle list, and the one
 * way into JavaScript (js__invoke), where throws are caught and reported.
 *
 * Why a budget is enforced only inside JavaScript (depth > 0): the C side
 * pushes a few small values before each call (a callback, a Buffer of
 * data); if those failed outside a protected call Duktape would treat it
 * as fatal. A leaking core leaks from inside JavaScript, and fails there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "agent/agent.h"
#include "agent/js/js_int.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mesh_limits.h"

extern char **environ;

/* ------------------------------------------------------------ heap */

static void blk_link(struct js *rt, struct js_blk *b) {
  b->next = rt->blocks.next;
  b->prev = &rt->blocks;
  rt->blocks.next->prev = b;
  rt->blocks.next = b;
}

static void blk_unlink(struct js_blk *b) {
  b->prev->next = b->next;
  b->next->prev = b->prev;
}

/* May the heap grow by n bytes? Always outside JavaScript (see top). */
static int budget_ok(struct js *rt, size_t n) {
  int ok = rt->depth == 0 || rt->closing ||
           (rt->used <= rt->opts.heap_max && n <= rt->opts.heap_max - rt->used);
  if (!ok) rt->over_budget = 1;
  return ok;
}

static void *heap_alloc(void *udata, duk_size_t size) {
  struct js *rt = udata;
  if (size == 0 || !budget_ok(rt, size) ||
      size > SIZE_MAX - sizeof(struct js_blk))
    return NULL;
  struct js_blk *b = malloc(sizeof *b + size);
  if (!b) return NULL;
  b->size = size;
  blk_link(rt, b);
  rt->used += size;
  return b + 1;
}

static void heap_free(void *udata, void *ptr) {
  struct js *rt = udata;
  if (!ptr) return;
  struct js_blk *b = (struct js_blk *)ptr - 1;
  blk_unlink(b);
  rt->used -= b->size;
  free(b);
}

static void *heap_realloc(void *udata, void *ptr, duk_size_t size) {
  struct js *rt = udata;
  if (!ptr) return heap_alloc(udata, size);
  if (size == 0) {
    heap_free(udata, ptr);
    return NULL;
  }
  struct js_blk *b = (struct js_blk *)ptr - 1;
  size_t old = b->size;
  if ((size > old && !budget_ok(rt, size - old)) ||
      size > SIZE_MAX - sizeof(struct js_blk))
    return NULL;
  blk_unlink(b);
  struct js_blk *nb = realloc(b, sizeof *b + size);
  if (!nb) {
    blk_link(rt, b);
    return NULL;
  }
  nb->size = size;
  blk_link(rt, nb);
  rt->used = rt->used - old + size;
  return nb + 1;
}

/* Called by Duktape's executor every few thousand instructions (the
 * DUK_USE_EXEC_TIMEOUT_CHECK hook duktape.cmake configures). Returning 1
 * throws a RangeError, and keeps throwing, until the outermost call has
 * returned: a core cannot catch its way out of being stopped. */
duk_bool_t mesh_js_exec_timeout(void *udata) {
  struct js *rt = udata;
  if (!rt) return 0;
  if (rt->timed_out || rt->stop_pending) return 1;
  if (rt->deadline_ns && uv_hrtime() > rt->deadline_ns) {
    rt->timed_out = 1;
    return 1;
  }
  return 0;
}

/* Duktape gives up on the heap (an error no protected call catches, or an
 * internal failure). The heap cannot be used again, not even destroyed:
 * jump back to the outermost entry, which frees its blocks directly. */
static void on_fatal(void *udata, const char *msg) {
  struct js *rt = udata;
  log_error("event=core_fatal core=%s msg=\"%.200s\"", rt->name,
            msg ? msg : "");
  rt->fatal = 1;
  if (rt->depth > 0 || rt->starting) longjmp(rt->fatal_jmp, 1);
  abort(); /* no entry to return to: a bug in the C side */
}

/* ------------------------------------------------------ lifecycle */

struct js *js__rt(duk_context *ctx) {
  duk_memory_functions f;
  duk_get_memory_functions(ctx, &f);
  return f.udata;
}

int js__send(struct js *rt, json_t *j) {
  return rt->opts.send ? rt->opts.send(rt->a, j) : agent_send_json(rt->a, j);
}

/* Cuts s (UTF-8) to at most max bytes, never inside a character. */
static void cut_utf8(char *s, size_t max) {
  size_t n = strlen(s);
  if (n <= max) return;
  while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) max--;
  s[max] = 0;
}

static void report(struct js *rt, const char *msg, int stopped) {
  log_warn("event=core_error core=%s stopped=%d msg=\"%.300s\"", rt->name,
           stopped, msg);
  size_t n;
  char *text = js__to_utf8(msg, strlen(msg), &n);
  if (text) cut_utf8(text, MESH_JS_MAX_ERROR);
  json_t *j = text ? json_pack("{s:s, s:s, s:b}", "action", "coreerror", "msg",
                               text, "stopped", stopped)
                   : NULL;
  /* An error cut inside a UTF-8 sequence is not valid JSON text. */
  if (!j)
    j = json_pack("{s:s, s:s, s:b}", "action", "coreerror", "msg",
                  "(error text not UTF-8)", "stopped", stopped);
  free(text);
  if (j) js__send(rt, j);
}

static void rt_free(struct js *rt) {
  rt->closing = 1;
  while (rt->handles.next != &rt->handles) {
    struct js_handle *h = rt->handles.next;
    h->prev->next = h->next;
    h->next->prev = h->prev;
    h->rt = NULL;
    h->close(h);
  }
  if (rt->ctx && !rt->fatal) {
    /* Finalizers may run here: give them the usual time limit. */
    rt->deadline_ns = uv_hrtime() + rt->timeout_ns;
    rt->depth = 1;
    duk_destroy_heap(rt->ctx);
  }
  while (rt->blocks.next != &rt->blocks) {
    struct js_blk *b = rt->blocks.next;
    blk_unlink(b);
    free(b);
  }
  free(rt);
}

/* The core stopped itself (too long, fatal): tell the server and the
 * agent. */
static void die(struct js *rt, const char *why) {
  struct agent *a = rt->a;
  void (*cb)(struct agent *, const char *) =
      rt->starting ? NULL : rt->opts.on_stopped;
  report(rt, why, 1);
  if (a->js == rt) a->js = NULL;
  rt_free(rt);
  if (cb) cb(a, why);
}

void js_stop(struct agent *a) {
  struct js *rt = a->js;
  if (!rt) return;
  a->js = NULL;
  log_info("event=core_stop core=%s", rt->name);
  if (rt->depth > 0)
    rt->stop_pending = 1; /* freed when the outermost call returns */
  else
    rt_free(rt);
}

int js_running(const struct agent *a) { return a->js != NULL; }

/* ------------------------------------------------- calling into JS */

/* Reports the error on top of the stack (left there). Sets rt->uncaught
 * unless the core's own uncaughtException handler took it. */
static void report_error(struct js *rt) {
  duk_context *ctx = rt->ctx;
  if (!rt->in_uncaught) {
    duk_push_global_stash(ctx);
    duk_get_prop_string(ctx, -1, "hooks");
    duk_get_prop_string(ctx, -1, "uncaught");
    duk_swap_top(ctx, -2); /* [err stash uncaught hooks] */
    duk_dup(ctx, -4);
    rt->in_uncaught = 1;
    int rc = duk_pcall_method(ctx, 1);
    rt->in_uncaught = 0;
    int taken = rc == DUK_EXEC_SUCCESS && duk_get_boolean(ctx, -1);
    if (rc != DUK_EXEC_SUCCESS && !rt->timed_out && !rt->stop_pending) {
      /* The handler threw: report that instead. */
      report(rt, duk_safe_to_stacktrace(ctx, -1), 0);
      taken = 1;
    }
    duk_pop_2(ctx);
    if (taken || rt->timed_out || rt->stop_pending) return;
  }
  rt->uncaught = 1;
  duk_dup_top(ctx);
  report(rt, duk_safe_to_stacktrace(ctx, -1), 0);
  duk_pop(ctx);
}

/* Why the last core died inside js__invoke (js_start's answer). */
static int died_of_memory;

int js__invoke(struct js *rt, duk_idx_t nargs) {
  duk_context *ctx = rt->ctx;
  if (rt->depth++ == 0) {
    rt->deadline_ns = uv_hrtime() + rt->timeout_ns;
    rt->over_budget = rt->uncaught = 0;
    if (setjmp(rt->fatal_jmp)) {
      rt->depth = 0;
      die(rt, "core stopped: engine failure");
      return JS_GONE;
    }
  }
  if (duk_pcall_method(ctx, nargs) != DUK_EXEC_SUCCESS && !rt->timed_out &&
      !rt->stop_pending)
    report_error(rt);
  duk_pop(ctx);
  if (--rt->depth > 0) return 0;
  rt->deadline_ns = 0;
  if (rt->timed_out) {
    die(rt, "core stopped: ran too long");
    return JS_GONE;
  }
  /* Out of memory and not handled: the core's state is unknown (half its
   * work undone, leaked timers still firing), so it is stopped rather
   * than left to fail again and again. A core that catches the error and
   * lets go of memory goes on. */
  if (rt->over_budget && rt->uncaught) {
    died_of_memory = 1;
    die(rt, "core stopped: out of memory, not handled");
    return JS_GONE;
  }
  if (rt->stop_pending) {
    rt_free(rt);
    return JS_GONE;
  }
  return 0;
}

void js__emit_begin(duk_context *ctx, duk_idx_t obj_idx, const char *name) {
  obj_idx = duk_normalize_index(ctx, obj_idx);
  duk_get_prop_string(ctx, obj_idx, "emit");
  duk_dup(ctx, obj_idx);
  duk_push_string(ctx, name);
}

static void call_hook(struct js *rt, const char *hook, const char *arg,
                      size_t n, int num) {
  duk_context *ctx = rt->ctx;
  duk_push_global_stash(ctx);
  duk_get_prop_string(ctx, -1, "hooks");
  duk_get_prop_string(ctx, -1, hook);
  duk_swap_top(ctx, -2); /* [stash fn hooks] */
  if (arg)
    duk_push_lstring(ctx, arg, n);
  else
    duk_push_int(ctx, num);
  if (js__invoke(rt, 1) == 0) duk_pop(ctx); /* the stash */
}

void js_deliver_command(struct agent *a, const uint8_t *p, size_t n) {
  struct js *rt = a->js;
  if (!rt) return;
  /* Checked here so that JSON.parse in the hook cannot throw for the
   * server's bytes and be blamed on the core. */
  json_t *j = json_loadb((const char *)p, n, 0, NULL);
  int ok = json_is_object(j);
  json_decref(j);
  size_t cn;
  char *c = ok ? js__to_cesu((const char *)p, n, &cn) : NULL;
  if (c) call_hook(rt, "deliver", c, cn, 0);
  free(c);
}

void js__push_emitter(duk_context *ctx) {
  duk_get_global_string(ctx, "require");
  duk_push_string(ctx, "events");
  duk_call(ctx, 1);
  duk_new(ctx, 0);
}

void js_deliver_connected(struct agent *a, int up) {
  if (a->js) call_hook(a->js, "connected", NULL, 0, up ? 1 : 0);
}

/* ---------------------------------------------------------- handles */

#define HANDLE_PTR DUK_HIDDEN_SYMBOL("h")

void js__handle_check(duk_context *ctx, size_t charge) {
  struct js *rt = js__rt(ctx);
  if (rt->closing) (void)duk_error(ctx, DUK_ERR_ERROR, "core is stopping");
  if (!budget_ok(rt, charge))
    (void)duk_range_error(ctx, "core over its memory budget");
}

void js__handle_add(struct js *rt, struct js_handle *h, duk_idx_t obj_idx,
                    size_t charge) {
  duk_context *ctx = rt->ctx;
  obj_idx = duk_normalize_index(ctx, obj_idx);
  h->rt = rt;
  h->id = ++rt->next_id;
  h->charge = charge;
  rt->used += charge;
  h->next = rt->handles.next;
  h->prev = &rt->handles;
  rt->handles.next->prev = h;
  rt->handles.next = h;
  duk_push_global_stash(ctx);
  duk_get_prop_string(ctx, -1, "handles");
  duk_dup(ctx, obj_idx);
  duk_put_prop_index(ctx, -2, h->id);
  duk_pop_2(ctx);
  duk_push_pointer(ctx, h);
  duk_put_prop_string(ctx, obj_idx, HANDLE_PTR);
}

int js__handle_push(struct js_handle *h) {
  duk_context *ctx = h->rt->ctx;
  duk_push_global_stash(ctx);
  duk_get_prop_string(ctx, -1, "handles");
  duk_get_prop_index(ctx, -1, h->id);
  duk_replace(ctx, -3);
  duk_pop(ctx);
  return duk_is_object(ctx, -1);
}

void js__handle_remove(struct js_handle *h) {
  struct js *rt = h->rt;
  if (!rt) return;
  duk_context *ctx = rt->ctx;
  if (js__handle_push(h)) {
    duk_push_pointer(ctx, NULL);
    duk_put_prop_string(ctx, -2, HANDLE_PTR);
  }
  duk_pop(ctx);
  duk_push_global_stash(ctx);
  duk_get_prop_string(ctx, -1, "handles");
  duk_del_prop_index(ctx, -1, h->id);
  duk_pop_2(ctx);
  h->prev->next = h->next;
  h->next->prev = h->prev;
  rt->used -= h->charge;
  h->rt = NULL;
}

struct js_handle *js__handle_of(duk_context *ctx, duk_idx_t idx) {
  if (!duk_is_object(ctx, idx)) return NULL;
  duk_get_prop_string(ctx, idx, HANDLE_PTR);
  struct js_handle *h = duk_get_pointer(ctx, -1);
  duk_pop(ctx);
  return h;
}

/* ----------------------------------------------------------- require */

struct builtin {
  const char *name;
  duk_c_function init; /* pushes the exports, or NULL */
  const char *src;     /* JavaScript run after init, or NULL */
  const size_t *len;
};

static const struct builtin builtins[] = {
    {"events", NULL, js_lib_events, &js_lib_events_len},
    {"MeshAgent", js__mod_agent, NULL, NULL},
    {"fs", js__mod_fs, NULL, NULL},
    {"child_process", js__mod_child, js_lib_child_process,
     &js_lib_child_process_len},
    {"tunnel", js__mod_tunnel, NULL, NULL},
    {"ffi", js__mod_ffi, NULL, NULL},
    {"https", js__mod_https, NULL, NULL},
    {"agentupdate", js__mod_agentupdate, NULL, NULL}, /* js_update.c */
};

/* Runs src as a CommonJS module body: (exports, require, module, native,
 * global) are in scope. The exports object is at exports_idx, the top of
 * the stack; module.exports replaces it. */
static void run_module(duk_context *ctx, const char *name, const char *src,
                       size_t len, duk_idx_t exports_idx) {
  exports_idx = duk_normalize_index(ctx, exports_idx);
  duk_push_string(ctx, "(function(exports,require,module,native,global){");
  duk_push_lstring(ctx, src, len);
  duk_push_string(ctx, "\n})");
  duk_concat(ctx, 3);
  duk_push_string(ctx, name);
  duk_compile(ctx, DUK_COMPILE_EVAL);
  duk_call(ctx, 0); /* the wrapper function */
  duk_push_undefined(ctx);
  duk_dup(ctx, exports_idx);
  duk_get_global_string(ctx, "require");
  duk_push_object(ctx); /* module */
  duk_dup(ctx, exports_idx);
  duk_put_prop_string(ctx, -2, "exports");
  duk_dup(ctx, -1);
  duk_insert(ctx, -6); /* keep module below the call */
  duk_push_global_stash(ctx);
  duk_get_prop_string(ctx, -1, "native");
  duk_remove(ctx, -2);
  duk_push_global_object(ctx);
  duk_call_method(ctx, 5);
  duk_pop(ctx);
  duk_get_prop_string(ctx, -1, "exports");
  duk_remove(ctx, -2); /* module */
  duk_replace(ctx, exports_idx);
}

static duk_ret_t js_require(duk_context *ctx) {
  const char *name = duk_require_string(ctx, 0);
  duk_push_global_stash(ctx);
  duk_get_prop_string(ctx, -1, "modules");
  if (duk_get_prop_string(ctx, -1, name)) return 1;
  duk_pop(ctx);
  const struct builtin *b = NULL;
  for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
    if (strcmp(builtins[i].name, name) == 0) b = &builtins[i];
  if (b) {
    if (b->init) {
      duk_push_c_function(ctx, b->init, 0);
      duk_call(ctx, 0);
    } else {
      duk_push_object(ctx);
    }
    if (b->src) run_module(ctx, name, b->src, *b->len, -1);
  } else {
    /* addModule(name, source) */
    duk_get_prop_string(ctx, -2, "sources");
    if (!duk_get_prop_string(ctx, -1, name))
      return duk_error(ctx, DUK_ERR_ERROR, "Cannot find module '%s'", name);
    duk_size_t len;
    const char *src = duk_get_lstring(ctx, -1, &len);
    duk_push_object(ctx);
    run_module(ctx, name, src, len, -1);
  }
  duk_dup_top(ctx);
  duk_put_prop_string(ctx, 2, name); /* modules[name] */
  return 1;
}

/* addModule(name, source): a module require() compiles on first use, as
 * the stock agent's cores bundle theirs. */
static duk_ret_t js_add_module(duk_context *ctx) {
  const char *name = duk_require_string(ctx, 0);
  duk_require_string(ctx, 1);
  duk_push_global_stash(ctx);
  duk_get_prop_string(ctx, -1, "sources");
  duk_dup(ctx, 1);
  duk_put_prop_string(ctx, -2, name);
  duk_get_prop_string(ctx, -2, "modules");
  duk_del_prop_string(ctx, -1, name); /* a new source replaces the cache */
  return 0;
}

static duk_ret_t js_native_log(duk_context *ctx) {
  struct js *rt = js__rt(ctx);
  int level = duk_to_int(ctx, 0);
  const char *s = duk_safe_to_string(ctx, 1);
  if (level >= 2)
    log_warn("event=core_console core=%s msg=\"%.500s\"", rt->name, s);
  else
    log_info("event=core_console core=%s msg=\"%.500s\"", rt->name, s);
  return 0;
}

static void push_native(duk_context *ctx) {
  duk_push_object(ctx);
  duk_push_c_function(ctx, js_native_log, 2);
  duk_put_prop_string(ctx, -2, "log");
  duk_push_int(ctx, (int)getpid());
  duk_put_prop_string(ctx, -2, "pid");
  duk_push_object(ctx);
  for (char **e = environ; e && *e; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq) continue;
    duk_push_string(ctx, eq + 1);
    duk_put_prop_lstring(ctx, -2, *e, (duk_size_t)(eq - *e));
  }
  duk_put_prop_string(ctx, -2, "env");
}

/* Everything a core finds before its first line runs. */
static duk_ret_t setup(duk_context *ctx, void *udata) {
  (void)udata;
  duk_push_global_stash(ctx);
  duk_push_object(ctx);
  duk_put_prop_string(ctx, -2, "handles");
  duk_push_object(ctx);
  duk_put_prop_string(ctx, -2, "modules");
  duk_push_object(ctx);
  duk_put_prop_string(ctx, -2, "sources");
  push_native(ctx);
  duk_put_prop_string(ctx, -2, "native");
  duk_push_c_function(ctx, js_require, 1);
  duk_put_global_string(ctx, "require");
  duk_push_c_function(ctx, js_add_module, 2);
  duk_put_global_string(ctx, "addModule");
  js__timers_init(ctx);
  js__buffer_init(ctx);
  duk_push_object(ctx);
  run_module(ctx, "runtime", js_lib_runtime, js_lib_runtime_len, -1);
  duk_put_prop_string(ctx, -2, "hooks");
  duk_pop(ctx);
  return 0;
}

int js_start(struct agent *a, const char *src, size_t len, const char *name,
             const struct js_opts *opts) {
  js_stop(a);
  struct js *rt = calloc(1, sizeof *rt);
  if (!rt) return MESH_E_NOMEM;
  rt->a = a;
  if (opts) rt->opts = *opts;
  if (!rt->opts.heap_max) rt->opts.heap_max = MESH_JS_HEAP_MAX;
  rt->timeout_ns = (rt->opts.exec_timeout_ms ? rt->opts.exec_timeout_ms
                                             : MESH_JS_EXEC_TIMEOUT_MS) *
                   1000000ull;
  rt->blocks.next = rt->blocks.prev = &rt->blocks;
  rt->handles.next = rt->handles.prev = &rt->handles;
  snprintf(rt->name, sizeof rt->name, "%s", name ? name : "core");
  rt->starting = 1;
  if (setjmp(rt->fatal_jmp)) {
    rt->depth = 0;
    die(rt, "core stopped: engine failure");
    return MESH_E_NOMEM;
  }
  rt->ctx = duk_create_heap(heap_alloc, heap_realloc, heap_free, rt, on_fatal);
  if (!rt->ctx || duk_safe_call(rt->ctx, setup, NULL, 0, 1) != 0) {
    if (rt->ctx)
      log_error("event=core_setup_failed msg=\"%s\"",
                duk_safe_to_string(rt->ctx, -1));
    rt_free(rt);
    return MESH_E_NOMEM;
  }
  duk_pop(rt->ctx);
  duk_push_lstring(rt->ctx, src, len);
  duk_push_string(rt->ctx, rt->name);
  if (duk_pcompile(rt->ctx, 0) != 0) {
    report(rt, duk_safe_to_string(rt->ctx, -1), 1);
    rt_free(rt);
    return MESH_E_MALFORMED;
  }
  a->js = rt;
  log_info("event=core_start core=%s bytes=%zu", rt->name, len);
  duk_push_global_object(rt->ctx);
  died_of_memory = 0;
  if (js__invoke(rt, 0) == JS_GONE)
    return died_of_memory ? MESH_E_NOMEM : MESH_E_TIMEOUT;
  rt->starting = 0;
  return 0;
}
