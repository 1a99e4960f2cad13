/*
 * harness.h - what the js_*_test.c unit tests share: a bare struct agent
 * on a real libuv loop (no server), SendCommand and error reports
 * captured in an array, and running the loop until a condition holds.
 * Include after cmocka.
 */
#ifndef MESH_TESTS_JS_HARNESS_H
#define MESH_TESTS_JS_HARNESS_H

#include <jansson.h>
#include <string.h>
#include <uv.h>

#include "agent/agent.h"
#include "agent/js/js.h"

static json_t *jh_sent; /* every message the core sent, in order */
static uv_loop_t jh_loop;
static struct agent jh_agent;
static int jh_stopped; /* on_stopped calls */
static const char *jh_stop_why;

static inline int jh_send(struct agent *a, json_t *j) {
  (void)a;
  json_array_append_new(jh_sent, j);
  return 0;
}

static inline void jh_on_stopped(struct agent *a, const char *why) {
  (void)a;
  jh_stopped++;
  jh_stop_why = why;
}

static inline void jh_setup(void) {
  uv_loop_init(&jh_loop);
  memset(&jh_agent, 0, sizeof jh_agent);
  jh_agent.loop = &jh_loop;
  snprintf(jh_agent.node_id, sizeof jh_agent.node_id, "%s", "testnode");
  snprintf(jh_agent.hostname, sizeof jh_agent.hostname, "%s", "testhost");
  jh_sent = json_array();
  jh_stopped = 0;
  jh_stop_why = NULL;
}

/* Stops any core, runs the loop dry and checks nothing is left on it. */
static inline void jh_teardown(void) {
  js_stop(&jh_agent);
  uv_run(&jh_loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&jh_loop), 0);
  json_decref(jh_sent);
}

static inline int jh_start_opts(const char *src, uint64_t timeout_ms,
                                size_t heap) {
  struct js_opts o = {
      .send = jh_send,
      .on_stopped = jh_on_stopped,
      .exec_timeout_ms = timeout_ms,
      .heap_max = heap,
  };
  return js_start(&jh_agent, src, strlen(src), "test", &o);
}

static inline int jh_start(const char *src) { return jh_start_opts(src, 0, 0); }

/* The i-th sent message with this action, or NULL. */
static inline json_t *jh_find(const char *action, size_t nth) {
  size_t i;
  json_t *m;
  json_array_foreach(jh_sent, i, m) {
    const char *a = json_string_value(json_object_get(m, "action"));
    if (a && !strcmp(a, action) && nth-- == 0) return m;
  }
  return NULL;
}

static inline size_t jh_count(const char *action) {
  size_t n = 0;
  while (jh_find(action, n)) n++;
  return n;
}

static inline void jh_on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

/* Runs the loop until a message with this action has been sent (1), or
 * ms pass (0). */
static inline int jh_run_until(const char *action, uint64_t ms) {
  int expired = 0;
  uv_timer_t t;
  uv_timer_init(&jh_loop, &t);
  t.data = &expired;
  uv_timer_start(&t, jh_on_deadline, ms, 0);
  while (!expired && !jh_find(action, 0))
    if (!uv_run(&jh_loop, UV_RUN_ONCE)) break;
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&jh_loop, UV_RUN_NOWAIT);
  return jh_find(action, 0) != NULL;
}

/* The string field of the nth message with action. */
static inline const char *jh_str(const char *action, size_t nth,
                                 const char *key) {
  json_t *m = jh_find(action, nth);
  return m ? json_string_value(json_object_get(m, key)) : NULL;
}

#endif
