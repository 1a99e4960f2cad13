/*
 * js_child.c - the native half of require('child_process'): _spawn starts
 * a process with three pipes and drives the emitter child_process.js
 * built for it: child.stdout / child.stderr 'data' (Buffers), child
 * 'exit' (code, signal) when the process ends, then 'close' (code,
 * signal) once its output has ended too.
 *
 * A stopped core's children are killed (SIGKILL) and still reaped: the
 * process handle stays open until libuv has seen the exit, so no zombie
 * is left behind.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/js/js_int.h"

#define CHILD_READ_CHUNK (64 * 1024)

struct child {
  struct js_handle h;
  uv_process_t proc;
  uv_pipe_t io[3];   /* stdin, stdout, stderr */
  int open;          /* libuv handles not yet closed */
  int exited, ended; /* ended: output pipes at EOF */
  int64_t code;
  int sig;
};

static const struct {
  int num;
  const char *name;
} sigs[] = {
    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"},
    {SIGABRT, "SIGABRT"}, {SIGKILL, "SIGKILL"}, {SIGSEGV, "SIGSEGV"},
    {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
    {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"},
};

static void on_handle_closed(uv_handle_t *u) {
  struct child *c = u->data;
  if (--c->open == 0) free(c);
}

static void close_once(uv_handle_t *u) {
  if (!uv_is_closing(u)) uv_close(u, on_handle_closed);
}

/* The runtime stopped: kill its whole process group (a shell's own
 * children too), keep the process handle until the exit is seen (reaping
 * it), close the pipes. */
static void child_close(struct js_handle *h) {
  struct child *c = (struct child *)h;
  for (int i = 0; i < 3; i++) close_once((uv_handle_t *)&c->io[i]);
  if (c->proc.pid > 0) kill(-c->proc.pid, SIGKILL);
  if (c->exited)
    close_once((uv_handle_t *)&c->proc);
  else
    uv_process_kill(&c->proc, SIGKILL);
}

static void push_signal(duk_context *ctx, int sig) {
  if (!sig) {
    duk_push_null(ctx);
    return;
  }
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
    if (sigs[i].num == sig) {
      duk_push_string(ctx, sigs[i].name);
      return;
    }
  duk_push_sprintf(ctx, "SIG%d", sig);
}

/* Emits name(code, signal) on the child; 0, or JS_GONE. */
static int emit_status(struct child *c, const char *name) {
  struct js *rt = c->h.rt;
  duk_context *ctx = rt->ctx;
  if (!js__handle_push(&c->h)) {
    duk_pop(ctx);
    return 0;
  }
  js__emit_begin(ctx, -1, name);
  if (c->sig)
    duk_push_null(ctx);
  else
    duk_push_number(ctx, (double)c->code);
  push_signal(ctx, c->sig);
  if (js__invoke(rt, 3) == JS_GONE) return JS_GONE;
  duk_pop(ctx);
  return 0;
}

/* After the exit and both output EOFs: 'close', and the core lets go. */
static void maybe_done(struct child *c) {
  if (!c->h.rt || !c->exited || c->ended < 2) return;
  close_once((uv_handle_t *)&c->io[0]);
  if (emit_status(c, "close") == JS_GONE || !c->h.rt) return;
  js__handle_remove(&c->h);
}

static void on_child_exit(uv_process_t *p, int64_t status, int sig) {
  struct child *c = p->data;
  c->exited = 1;
  c->code = status;
  c->sig = sig;
  close_once((uv_handle_t *)p);
  if (!c->h.rt) return;
  if (emit_status(c, "exit") == JS_GONE) return;
  maybe_done(c);
}

static void on_alloc(uv_handle_t *u, size_t hint, uv_buf_t *b) {
  (void)u;
  (void)hint;
  b->base = malloc(CHILD_READ_CHUNK);
  b->len = b->base ? CHILD_READ_CHUNK : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  struct child *c = s->data;
  int which = s == (uv_stream_t *)&c->io[1] ? 1 : 2;
  struct js *rt = c->h.rt;
  if (n > 0 && rt) {
    duk_context *ctx = rt->ctx;
    if (js__handle_push(&c->h)) {
      duk_get_prop_string(ctx, -1, which == 1 ? "stdout" : "stderr");
      js__emit_begin(ctx, -1, "data");
      js__push_buffer(ctx, b->base, (size_t)n);
      if (js__invoke(rt, 2) == 0) duk_pop_2(ctx);
    } else {
      duk_pop(ctx);
    }
  }
  free(b->base);
  if (n < 0) {
    close_once((uv_handle_t *)s);
    c->ended++;
    maybe_done(c);
  }
}

struct write_req {
  uv_write_t w;
  char data[];
};

static void on_written(uv_write_t *w, int status) {
  (void)status;
  free(w);
}

static duk_ret_t child_write(duk_context *ctx) {
  duk_push_this(ctx);
  struct child *c = (struct child *)js__handle_of(ctx, -1);
  size_t n;
  const void *p = js__get_bytes(ctx, 0, &n);
  if (!c || uv_is_closing((uv_handle_t *)&c->io[0])) {
    duk_push_false(ctx);
    return 1;
  }
  struct write_req *r = malloc(sizeof *r + n);
  if (!r) return duk_error(ctx, DUK_ERR_RANGE_ERROR, "out of memory");
  memcpy(r->data, p, n);
  uv_buf_t b = uv_buf_init(r->data, (unsigned)n);
  if (uv_write(&r->w, (uv_stream_t *)&c->io[0], &b, 1, on_written) != 0) {
    free(r);
    duk_push_false(ctx);
    return 1;
  }
  duk_push_true(ctx);
  return 1;
}

static duk_ret_t child_end(duk_context *ctx) {
  duk_push_this(ctx);
  struct child *c = (struct child *)js__handle_of(ctx, -1);
  if (c) close_once((uv_handle_t *)&c->io[0]); /* pending writes first */
  return 0;
}

static duk_ret_t child_kill(duk_context *ctx) {
  duk_push_this(ctx);
  struct child *c = (struct child *)js__handle_of(ctx, -1);
  int sig = SIGTERM;
  if (duk_is_number(ctx, 0)) sig = duk_get_int(ctx, 0);
  if (duk_is_string(ctx, 0)) {
    const char *s = duk_get_string(ctx, 0);
    sig = -1;
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
      if (!strcmp(s, sigs[i].name)) sig = sigs[i].num;
    if (sig < 0) return duk_type_error(ctx, "unknown signal %s", s);
  }
  duk_push_boolean(ctx, c && !c->exited && uv_process_kill(&c->proc, sig) == 0);
  return 1;
}

/* Copies the array (or object's values, for env) at idx into a NULL-ended
 * vector inside one heap buffer left on the stack; prefix adds "key=". */
static char **push_strv(duk_context *ctx, duk_idx_t idx, const char *first,
                        int env) {
  idx = duk_normalize_index(ctx, idx);
  duk_push_array(ctx); /* the strings, kept alive */
  duk_idx_t keep = duk_get_top_index(ctx);
  duk_uarridx_t n = 0;
  if (first) {
    duk_push_string(ctx, first);
    duk_put_prop_index(ctx, keep, n++);
  }
  if (duk_is_object(ctx, idx)) {
    duk_enum(ctx, idx, env ? 0 : DUK_ENUM_ARRAY_INDICES_ONLY);
    while (duk_next(ctx, -1, 1)) {
      if (env) {
        duk_push_sprintf(ctx, "%s=%s", duk_to_string(ctx, -2),
                         duk_to_string(ctx, -1));
      } else {
        duk_to_string(ctx, -1);
        duk_dup_top(ctx);
      }
      duk_put_prop_index(ctx, keep, n++);
      duk_pop_2(ctx);
    }
    duk_pop(ctx);
  }
  char **v = duk_push_fixed_buffer(ctx, (n + 1) * sizeof *v);
  for (duk_uarridx_t i = 0; i < n; i++) {
    duk_get_prop_index(ctx, keep, i);
    v[i] = (char *)duk_get_string(ctx, -1); /* kept alive by keep */
    duk_pop(ctx);
  }
  v[n] = NULL;
  return v;
}

/* _spawn(file, args, options, child) */
static duk_ret_t child_spawn(duk_context *ctx) {
  struct js *rt = js__rt(ctx);
  const char *file = duk_require_string(ctx, 0);
  duk_require_object(ctx, 3);
  char **argv = push_strv(ctx, 1, file, 0);
  char **envp = NULL;
  const char *cwd = NULL;
  if (duk_is_object(ctx, 2)) {
    if (duk_get_prop_string(ctx, 2, "env") && duk_is_object(ctx, -1))
      envp = push_strv(ctx, -1, NULL, 1);
    else
      duk_pop(ctx);
    if (duk_get_prop_string(ctx, 2, "cwd") && duk_is_string(ctx, -1))
      cwd = duk_get_string(ctx, -1);
  }
  js__handle_check(ctx, sizeof(struct child));
  struct child *c = calloc(1, sizeof *c);
  if (!c) return duk_error(ctx, DUK_ERR_RANGE_ERROR, "out of memory");
  c->h.close = child_close;
  for (int i = 0; i < 3; i++) {
    uv_pipe_init(rt->a->loop, &c->io[i], 0);
    c->io[i].data = c;
  }
  c->proc.data = c;
  uv_stdio_container_t stdio[3];
  for (int i = 0; i < 3; i++) {
    stdio[i].flags =
        UV_CREATE_PIPE | (i == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE);
    stdio[i].data.stream = (uv_stream_t *)&c->io[i];
  }
  uv_process_options_t o = {
      .exit_cb = on_child_exit,
      .file = file,
      .args = argv,
      .env = envp,
      .cwd = cwd,
      .stdio_count = 3,
      .stdio = stdio,
      /* Its own session and process group, so that stopping the core can
       * kill whatever it started, grandchildren included. */
      .flags = UV_PROCESS_DETACHED,
  };
  int r = uv_spawn(rt->a->loop, &c->proc, &o);
  c->open = 3;
  if (r) {
    /* libuv may have initialised the process handle: close it too. */
    c->open = 4;
    close_once((uv_handle_t *)&c->proc);
    for (int i = 0; i < 3; i++) close_once((uv_handle_t *)&c->io[i]);
    duk_push_error_object(ctx, DUK_ERR_ERROR, "spawn %s %s", file,
                          uv_err_name(r));
    duk_push_string(ctx, uv_err_name(r));
    duk_put_prop_string(ctx, -2, "code");
    return duk_throw(ctx);
  }
  c->open = 4;
  /* Linked before anything else may throw: from here js_stop reaps it. */
  js__handle_add(rt, &c->h, 3, sizeof *c);
  uv_read_start((uv_stream_t *)&c->io[1], on_alloc, on_read);
  uv_read_start((uv_stream_t *)&c->io[2], on_alloc, on_read);
  duk_push_int(ctx, c->proc.pid);
  duk_put_prop_string(ctx, 3, "pid");
  return 0;
}

duk_ret_t js__mod_child(duk_context *ctx) {
  static const duk_function_list_entry fns[] = {
      {"_spawn", child_spawn, 4},
      {"_write", child_write, 1},
      {"_end", child_end, 0},
      {"_kill", child_kill, 1},
      {NULL, NULL, 0},
  };
  duk_push_object(ctx);
  duk_put_function_list(ctx, -1, fns);
  return 1;
}
