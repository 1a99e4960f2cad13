/*
 * js_int.h - inside the JavaScript runtime: the runtime struct, handles
 * and the one way into JavaScript (js__invoke). Not for use outside
 * src/agent/js/.
 *
 * Handles. Everything a core opens that outlives the call that opened it
 * (a timer, a child process, a library, a thread-pool job) is a struct
 * js_handle on the runtime's list, with a JS object kept in the heap stash
 * under its id. js_stop() calls every handle's close(): from then on
 * h->rt is NULL, the handle never calls into JavaScript again, and it
 * frees itself once libuv has let go of it.
 */
#ifndef MESH_AGENT_JS_INT_H
#define MESH_AGENT_JS_INT_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/js/js.h"
#include "duktape.h"

struct js;

/* Header of every heap allocation: the runtime can free them all itself
 * after a fatal engine error. 32 bytes keep the payload 16-aligned. */
struct js_blk {
  struct js_blk *prev, *next;
  size_t size;
  size_t pad_;
};

struct js_handle {
  struct js_handle *prev, *next;
  struct js *rt; /* NULL once the runtime has stopped */
  unsigned id;   /* key of its object in the stash's handle table */
  size_t charge; /* bytes counted against the heap budget */
  /* Releases the native resource and eventually frees the handle. Called
   * once, with h->rt already NULL and h off the list. */
  void (*close)(struct js_handle *h);
};

struct js {
  struct agent *a;
  duk_context *ctx;
  struct js_opts opts;
  size_t used;          /* heap bytes plus handle charges */
  struct js_blk blocks; /* list sentinel: every live heap allocation */
  uint64_t timeout_ns;
  uint64_t deadline_ns; /* while inside JavaScript, else 0 */
  int depth;            /* nesting of js__invoke */
  int timed_out;        /* the exec timeout fired */
  int over_budget;      /* an allocation was refused in this call */
  int uncaught;         /* an error of this call reached the top */
  int stop_pending;     /* stopped while inside JavaScript */
  int fatal;            /* Duktape's fatal handler ran: heap unusable */
  int starting;         /* inside js_start: no on_stopped call */
  int closing;          /* being freed: no new handles */
  int in_uncaught;      /* running process 'uncaughtException' */
  jmp_buf fatal_jmp;
  struct js_handle handles; /* list sentinel */
  unsigned next_id;
  char name[64];
};

/* Returned by js__invoke when the runtime stopped during the call and has
 * been freed: the caller must not touch rt or its stack again. */
#define JS_GONE 1

/* The runtime of the context (heap udata). */
struct js *js__rt(duk_context *ctx);

/* Calls [func this arg1..argN] on top of the stack; a throw is reported
 * (or given to process 'uncaughtException'). Pops everything. Returns 0
 * or JS_GONE. */
int js__invoke(struct js *rt, duk_idx_t nargs);
/* Pushes [emit obj name] for obj at obj_idx; push arguments, then call
 * js__invoke(rt, 1 + nargs). */
void js__emit_begin(duk_context *ctx, duk_idx_t obj_idx, const char *name);

/* Throws unless a handle costing charge bytes may be opened now (budget,
 * runtime stopping). Call before allocating the handle. */
void js__handle_check(duk_context *ctx, size_t charge);
/* Puts h (its native part ready, close set) on rt's list, charging charge
 * bytes, then stores the object at obj_idx as its JS object with a hidden
 * pointer back to h. From the first step on the runtime owns h: should
 * storing throw (out of memory), h is still closed by js_stop. */
void js__handle_add(struct js *rt, struct js_handle *h, duk_idx_t obj_idx,
                    size_t charge);
/* Takes h off the list and out of the stash (its JS object forgets h);
 * the caller then releases it. No-op when the runtime has gone. */
void js__handle_remove(struct js_handle *h);
/* Pushes h's JS object; returns 1, or 0 having pushed undefined (its
 * object was never stored: the runtime ran out of memory adding it). */
int js__handle_push(struct js_handle *h);
/* The handle behind the object at idx, or NULL (closed, or not one). */
struct js_handle *js__handle_of(duk_context *ctx, duk_idx_t idx);

/* Pushes a new EventEmitter (require('events')). */
void js__push_emitter(duk_context *ctx);
/* Pushes a Node.js-style Buffer holding a copy of p. */
void js__push_buffer(duk_context *ctx, const void *p, size_t n);
/* The bytes of a Buffer/ArrayBuffer/typed array, or a string (UTF-8) at
 * idx; throws TypeError otherwise. */
const void *js__get_bytes(duk_context *ctx, duk_idx_t idx, size_t *n);
/* js_text.c: text leaving JavaScript (CESU-8 surrogate pairs joined,
 * lone ones U+FFFD) and text entering it (4-byte UTF-8 split into pairs).
 * malloc'd, NUL-terminated; NULL when out of memory. */
char *js__to_utf8(const char *s, size_t n, size_t *out_len);
char *js__to_cesu(const char *s, size_t n, size_t *out_len);
/* Sends j (stolen) to the server through opts.send. */
int js__send(struct js *rt, json_t *j);

/* Native modules: each pushes its exports object. */
duk_ret_t js__mod_agent(duk_context *ctx);
duk_ret_t js__mod_fs(duk_context *ctx);
duk_ret_t js__mod_child(duk_context *ctx);
duk_ret_t js__mod_tunnel(duk_context *ctx);
duk_ret_t js__mod_ffi(duk_context *ctx);
duk_ret_t js__mod_https(duk_context *ctx);
duk_ret_t js__mod_agentupdate(duk_context *ctx); /* js_update.c */
/* Globals: setTimeout and friends (js_timers.c), Buffer additions
 * (js_buffer.c). */
void js__timers_init(duk_context *ctx);
void js__buffer_init(duk_context *ctx);

/* The modules written in JavaScript, compiled in (duktape.cmake). */
extern const char js_lib_events[], js_lib_runtime[], js_lib_child_process[];
extern const size_t js_lib_events_len, js_lib_runtime_len,
    js_lib_child_process_len;

#endif
