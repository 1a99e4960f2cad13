/*
 * js_runtime_test.c - the JavaScript runtime driven from C on a real
 * libuv loop: start/stop, SendCommand and 'Command', timers, and what a
 * misbehaving core cannot do (throw, loop forever, leak timers, eat the
 * heap) to the agent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <signal.h>
#include <unistd.h>

#include "../js/harness.h"
#include "base/err.h"
#include "base/mesh_limits.h"
#include "testutil.h"

static int setup(void **state) {
  (void)state;
  jh_setup();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  jh_teardown();
  return 0;
}

static void test_send_command(void **state) {
  (void)state;
  assert_int_equal(jh_start("var m = require('MeshAgent');"
                            "m.SendCommand({action: 'hello', n: 1.5, "
                            "s: 'h\\u00e9', node: m.NodeId});"
                            "m.SendCommand('{\"action\":\"text\"}');"),
                   0);
  assert_true(js_running(&jh_agent));
  json_t *m = jh_find("hello", 0);
  assert_non_null(m);
  assert_true(json_real_value(json_object_get(m, "n")) == 1.5);
  assert_string_equal(jh_str("hello", 0, "s"), "h\xc3\xa9");
  assert_string_equal(jh_str("hello", 0, "node"), "testnode");
  assert_non_null(jh_find("text", 0));
  assert_int_equal(jh_count("coreerror"), 0);
}

static void test_send_command_refuses_non_objects(void **state) {
  (void)state;
  assert_int_equal(jh_start("var m = require('MeshAgent'), bad = 0;"
                            "[1, 'x', '[1]', null].forEach(function(v) {"
                            "  try { m.SendCommand(v); } catch (e) { bad++; }"
                            "});"
                            "m.SendCommand({action: 'bad', n: bad});"),
                   0);
  assert_int_equal(json_integer_value(json_object_get(jh_find("bad", 0), "n")),
                   4);
  assert_int_equal(json_array_size(jh_sent), 1);
}

static void test_deliver_command(void **state) {
  (void)state;
  assert_int_equal(jh_start("var m = require('MeshAgent');"
                            "m.on('Command', function(c) {"
                            "  m.SendCommand({action: 'echo', got: c});"
                            "});"),
                   0);
  const char *in = "{\"action\":\"ping2\",\"v\":[1,2]}";
  js_deliver_command(&jh_agent, (const uint8_t *)in, strlen(in));
  /* Not an object, not JSON, truncated: never reach the core. */
  const char *bad[] = {"[1]", "nope", "{\"action\":", ""};
  for (size_t i = 0; i < 4; i++)
    js_deliver_command(&jh_agent, (const uint8_t *)bad[i], strlen(bad[i]));
  assert_int_equal(jh_count("echo"), 1);
  json_t *got = json_object_get(jh_find("echo", 0), "got");
  assert_string_equal(json_string_value(json_object_get(got, "action")),
                      "ping2");
  assert_int_equal(json_array_size(json_object_get(got, "v")), 2);
  assert_int_equal(jh_count("coreerror"), 0);
}

static void test_timers_order_and_clear(void **state) {
  (void)state;
  assert_int_equal(
      jh_start("var m = require('MeshAgent'), seen = [];"
               "function note(x) { seen.push(x); }"
               "setTimeout(note, 30, 'c');"
               "setTimeout(note, 10, 'a');"
               "var gone = setTimeout(note, 15, 'never');"
               "setTimeout(note, 20, 'b');"
               "setTimeout(note, 10, 'a2');"
               "clearTimeout(gone); clearTimeout(gone); clearTimeout(42);"
               "var n = 0, iv = setInterval(function() {"
               "  if (++n === 3) clearInterval(iv);"
               "}, 5);"
               "setTimeout(function() { m.SendCommand({action: 'order',"
               "  seen: seen, n: n}); }, 80);"),
      0);
  assert_true(jh_run_until("order", 5000));
  json_t *seen = json_object_get(jh_find("order", 0), "seen");
  char *s = json_dumps(seen, JSON_COMPACT);
  assert_string_equal(s, "[\"a\",\"a2\",\"b\",\"c\"]");
  free(s);
  assert_int_equal(
      json_integer_value(json_object_get(jh_find("order", 0), "n")), 3);
  /* Everything fired or was cleared: the core holds nothing on the loop. */
  assert_int_equal(uv_run(&jh_loop, UV_RUN_NOWAIT), 0);
}

static void test_syntax_error(void **state) {
  (void)state;
  assert_int_equal(jh_start("var x = ;"), MESH_E_MALFORMED);
  assert_false(js_running(&jh_agent));
  assert_int_equal(jh_count("coreerror"), 1);
  assert_true(
      json_is_true(json_object_get(jh_find("coreerror", 0), "stopped")));
  assert_non_null(strstr(jh_str("coreerror", 0, "msg"), "SyntaxError"));
}

static void test_throw_is_reported_core_keeps_running(void **state) {
  (void)state;
  assert_int_equal(
      jh_start("var m = require('MeshAgent');"
               "setTimeout(function() { throw new Error('in a timer'); }, 1);"
               "setTimeout(function() { m.SendCommand({action: 'alive'}); },"
               "  20);"
               "m.on('Command', function() { null.x; });"
               "throw new TypeError('at the top');"),
      0);
  assert_true(js_running(&jh_agent));
  assert_int_equal(jh_count("coreerror"), 1);
  assert_non_null(strstr(jh_str("coreerror", 0, "msg"), "at the top"));
  assert_true(
      json_is_false(json_object_get(jh_find("coreerror", 0), "stopped")));
  assert_true(jh_run_until("alive", 5000));
  assert_int_equal(jh_count("coreerror"), 2);
  assert_non_null(strstr(jh_str("coreerror", 1, "msg"), "in a timer"));
  const char *c = "{\"action\":\"x\"}";
  js_deliver_command(&jh_agent, (const uint8_t *)c, strlen(c));
  assert_int_equal(jh_count("coreerror"), 3);
  assert_non_null(strstr(jh_str("coreerror", 2, "msg"), "TypeError"));
  assert_true(js_running(&jh_agent));
  assert_int_equal(jh_stopped, 0);
}

static void test_uncaught_exception_handler(void **state) {
  (void)state;
  assert_int_equal(
      jh_start("var m = require('MeshAgent');"
               "process.on('uncaughtException', function(e) {"
               "  m.SendCommand({action: 'caught', msg: e.message});"
               "  if (e.message === 'twice') throw new Error('handler too');"
               "});"
               "setTimeout(function() { throw new Error('once'); }, 1);"
               "setTimeout(function() { throw new Error('twice'); }, 2);"
               "setTimeout(function() { m.SendCommand({action: 'end'}); }, "
               "  30);"),
      0);
  assert_true(jh_run_until("end", 5000));
  assert_int_equal(jh_count("caught"), 2);
  assert_string_equal(jh_str("caught", 0, "msg"), "once");
  /* The handler's own throw is the one reported. */
  assert_int_equal(jh_count("coreerror"), 1);
  assert_non_null(strstr(jh_str("coreerror", 0, "msg"), "handler too"));
}

static void test_loop_forever_at_top(void **state) {
  (void)state;
  uint64_t t0 = uv_hrtime();
  assert_int_equal(jh_start_opts("for (;;) {}", 200, 0), MESH_E_TIMEOUT);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  assert_true(ms >= 200 && ms < 3000);
  assert_false(js_running(&jh_agent));
  assert_string_equal(jh_str("coreerror", 0, "msg"),
                      "core stopped: ran too long");
  assert_true(
      json_is_true(json_object_get(jh_find("coreerror", 0), "stopped")));
  assert_int_equal(jh_stopped, 0); /* js_start said so itself */
}

static void test_loop_forever_in_callback_cannot_be_caught(void **state) {
  (void)state;
  /* The core catches the timeout's RangeError and loops again: the
   * check keeps firing until the outermost call has returned. */
  assert_int_equal(jh_start_opts("setInterval(function() {}, 1000);"
                                 "setTimeout(function() {"
                                 "  for (;;) { try { for (;;) {} }"
                                 "    catch (e) {} }"
                                 "}, 5);",
                                 200, 0),
                   0);
  assert_true(js_running(&jh_agent));
  assert_true(jh_run_until("coreerror", 5000));
  assert_false(js_running(&jh_agent));
  assert_int_equal(jh_stopped, 1);
  assert_string_equal(jh_stop_why, "core stopped: ran too long");
  /* Its interval went with it: the loop runs dry. */
  assert_int_equal(uv_run(&jh_loop, UV_RUN_DEFAULT), 0);
}

static void test_leaked_timers_freed_on_stop(void **state) {
  (void)state;
  assert_int_equal(
      jh_start("for (var i = 0; i < 10000; i++) {"
               "  setTimeout(function() {}, 3600000 + i);"
               "  setInterval(function() {}, 1000 + i);"
               "}"
               "require('MeshAgent').SendCommand({action: 'made'});"),
      0);
  assert_non_null(jh_find("made", 0));
  assert_int_equal(jh_count("coreerror"), 0);
  js_stop(&jh_agent);
  assert_false(js_running(&jh_agent));
  /* 20,000 close callbacks, then nothing: the loop runs dry at once. */
  uint64_t t0 = uv_hrtime();
  uv_run(&jh_loop, UV_RUN_DEFAULT);
  assert_true((uv_hrtime() - t0) / 1000000 < 2000);
}

static void test_heap_budget(void **state) {
  (void)state;
  assert_int_equal(
      jh_start_opts("var keep = [], err = null;"
                    "try { for (;;) keep.push(new Array(1000).join('x') + "
                    "  keep.length); }"
                    "catch (e) { err = e; }"
                    "var n = keep.length; keep = null;"
                    "require('MeshAgent').SendCommand({action: 'oom',"
                    "  name: err && err.name, n: n});",
                    0, 4 * 1024 * 1024),
      0);
  json_t *m = jh_find("oom", 0);
  assert_non_null(m);
  /* Duktape's own "alloc failed" is an Error; a core catches it. */
  assert_string_equal(jh_str("oom", 0, "name"), "Error");
  json_int_t n = json_integer_value(json_object_get(m, "n"));
  assert_true(n > 100 && n < 4000); /* ~1 KB each in a 4 MB budget */
  /* and the core still runs, now that it let go */
  assert_true(js_running(&jh_agent));
}

static void test_unhandled_out_of_memory_stops_the_core(void **state) {
  (void)state;
  /* At load: js_start says so itself. */
  assert_int_equal(jh_start_opts("for (;;) setTimeout(function() {}, 1e6);", 0,
                                 2 * 1024 * 1024),
                   MESH_E_NOMEM);
  assert_false(js_running(&jh_agent));
  int n = jh_count("coreerror");
  assert_true(n >= 1);
  assert_string_equal(jh_str("coreerror", n - 1, "msg"),
                      "core stopped: out of memory, not handled");
  assert_true(
      json_is_true(json_object_get(jh_find("coreerror", n - 1), "stopped")));
  assert_int_equal(jh_stopped, 0);
  /* In a callback: on_stopped tells the agent. */
  assert_int_equal(jh_start_opts("var keep = [];"
                                 "setTimeout(function() {"
                                 "  for (;;) keep.push(new Array(1000).join("
                                 "'x') + keep.length);"
                                 "}, 5);",
                                 0, 4 * 1024 * 1024),
                   0);
  assert_true(js_running(&jh_agent));
  assert_true(jh_run_until("coreerror", 5000));
  assert_false(js_running(&jh_agent));
  assert_int_equal(jh_stopped, 1);
  assert_string_equal(jh_stop_why, "core stopped: out of memory, not handled");
}

static void test_leaking_timers_hit_the_budget(void **state) {
  (void)state;
  assert_int_equal(
      jh_start_opts("var n = 0, err = null;"
                    "try { for (;;) { setTimeout(function() {}, 1e6); n++; } }"
                    "catch (e) { err = e; }"
                    "require('MeshAgent').SendCommand({action: 'leak',"
                    "  err: err && String(err), n: n});",
                    0, 2 * 1024 * 1024),
      0);
  /* Whichever gives first, the handle charge or the heap. */
  const char *e = jh_str("leak", 0, "err");
  assert_non_null(e);
  assert_true(strstr(e, "over its memory budget") || strstr(e, "alloc"));
  assert_true(json_integer_value(json_object_get(jh_find("leak", 0), "n")) >
              1000);
}

static void test_restart_replaces_core(void **state) {
  (void)state;
  assert_int_equal(jh_start("setInterval(function() {"
                            "  require('MeshAgent').SendCommand({action: "
                            "'old'}); }, 1);"),
                   0);
  assert_true(jh_run_until("old", 5000));
  assert_int_equal(jh_start("require('MeshAgent').SendCommand({action: "
                            "'new'});"),
                   0);
  size_t olds = jh_count("old");
  uv_run(&jh_loop, UV_RUN_NOWAIT);
  assert_int_equal(jh_count("old"), olds);
  assert_int_equal(jh_count("new"), 1);
}

static void test_stop_from_inside_js(void **state) {
  (void)state;
  /* A 'Command' handler whose delivery leads the agent to stop the core
   * (as a server's "clear core" would): the runtime goes once the call
   * returns, and nothing runs after. */
  assert_int_equal(jh_start("var m = require('MeshAgent');"
                            "m.on('Command', function(c) {"
                            "  m.SendCommand({action: 'got'}); });"
                            "m.on('Command', function(c) {"
                            "  m.SendCommand({action: 'second'}); });"),
                   0);
  const char *c = "{\"action\":\"x\"}";
  js_deliver_command(&jh_agent, (const uint8_t *)c, strlen(c));
  js_stop(&jh_agent);
  js_deliver_command(&jh_agent, (const uint8_t *)c, strlen(c));
  assert_int_equal(jh_count("got"), 1);
  assert_int_equal(jh_count("second"), 1);
  js_stop(&jh_agent); /* twice is fine */
}

static void test_require(void **state) {
  (void)state;
  assert_int_equal(
      jh_start("var m = require('MeshAgent'), r = {};"
               "r.same = require('MeshAgent') === m;"
               "try { require('no-such'); } catch (e) { r.missing = "
               "  e.message; }"
               "addModule('adder', 'exports.add = function(a, b) "
               "  { return a + b; }; module.exports.n = 7;');"
               "r.sum = require('adder').add(2, 3) + require('adder').n;"
               "r.url = m.ServerUrl; r.up = m.isControlChannelConnected;"
               "m.SendCommand({action: 'req', r: r});"),
      0);
  json_t *r = json_object_get(jh_find("req", 0), "r");
  assert_true(json_is_true(json_object_get(r, "same")));
  assert_string_equal(json_string_value(json_object_get(r, "missing")),
                      "Cannot find module 'no-such'");
  assert_int_equal(json_integer_value(json_object_get(r, "sum")), 12);
  assert_true(json_is_null(json_object_get(r, "url")));
  assert_true(json_is_false(json_object_get(r, "up")));
}

static void test_stop_kills_and_reaps_children_frees_everything(void **state) {
  (void)state;
  const char *tmp = tu_tmpdir();
  char src[2048];
  snprintf(src, sizeof src,
           "var cp = require('child_process'), fs = require('fs');"
           "var c = cp.spawn('/bin/sleep', ['100']);"
           "c.stdout.on('data', function() {});"
           "var sh = cp.spawn('/bin/sh', ['-c', 'sleep 100; echo x']);"
           "fs.writeFileSync('%s/f', new Array(100000).join('y'));"
           "for (var i = 0; i < 20; i++) fs.readFile('%s/f', function() {});"
           "var lib = require('ffi').open('libc.so.6');"
           "lib.func('strlen', 'size_t', ['string']);"
           "setInterval(function() {}, 1);"
           "require('MeshAgent').SendCommand({action: 'pid', pid: c.pid,"
           "  sh: sh.pid});",
           tmp, tmp);
  assert_int_equal(jh_start(src), 0);
  json_int_t pid =
      json_integer_value(json_object_get(jh_find("pid", 0), "pid"));
  assert_true(pid > 0);
  assert_int_equal(kill((pid_t)pid, 0), 0);
  uv_run(&jh_loop, UV_RUN_NOWAIT);
  js_stop(&jh_agent);
  uint64_t t0 = uv_hrtime();
  uv_run(&jh_loop, UV_RUN_DEFAULT); /* dry only once both are reaped */
  assert_true((uv_hrtime() - t0) / 1000000 < 5000);
  assert_int_equal(kill((pid_t)pid, 0), -1); /* gone, and not a zombie */
  /* The shell's own child (its process group) went too. */
  json_int_t sh = json_integer_value(json_object_get(jh_find("pid", 0), "sh"));
  assert_true(sh > 0);
  /* Its grandchild is reaped by init, not us: give that a moment. */
  for (int i = 0; i < 200 && kill(-(pid_t)sh, 0) == 0; i++) usleep(10000);
  assert_int_equal(kill(-(pid_t)sh, 0), -1);
  tu_rmdir_r(tmp);
}

static void test_loop_forever_in_command_handler(void **state) {
  (void)state;
  assert_int_equal(jh_start_opts("require('MeshAgent').on('Command', "
                                 "function() { while (true) {} });",
                                 100, 0),
                   0);
  const char *c = "{\"action\":\"x\"}";
  js_deliver_command(&jh_agent, (const uint8_t *)c, strlen(c));
  assert_false(js_running(&jh_agent));
  assert_int_equal(jh_stopped, 1);
  assert_string_equal(jh_str("coreerror", 0, "msg"),
                      "core stopped: ran too long");
  /* Later deliveries find no core. */
  js_deliver_command(&jh_agent, (const uint8_t *)c, strlen(c));
  js_deliver_connected(&jh_agent, 1);
  assert_int_equal(json_array_size(jh_sent), 1);
}

static void test_truncated_commands_never_reach_the_core(void **state) {
  (void)state;
  assert_int_equal(jh_start("var m = require('MeshAgent');"
                            "m.on('Command', function(c) {"
                            "  m.SendCommand({action: 'got', c: c}); });"),
                   0);
  const char *c =
      "{\"action\":\"msg\",\"type\":\"console\","
      "\"value\":\"h\\u00e9 \\\"q\\\"\",\"n\":[1,{\"a\":null}]}";
  size_t n = strlen(c);
  for (size_t cut = 0; cut < n; cut++) {
    uint8_t *g = tu_guard_copy(c, cut);
    js_deliver_command(&jh_agent, g, cut);
    tu_guard_free(g, cut);
  }
  assert_int_equal(json_array_size(jh_sent), 0);
  uint8_t *g = tu_guard_copy(c, n);
  js_deliver_command(&jh_agent, g, n);
  tu_guard_free(g, n);
  assert_int_equal(jh_count("got"), 1);
  json_t *got = json_object_get(jh_find("got", 0), "c");
  assert_string_equal(json_string_value(json_object_get(got, "value")),
                      "h\xc3\xa9 \"q\"");
  /* Random bytes: refused or delivered, never a crash or a core error. */
  uint8_t junk[64];
  for (int i = 0; i < 2000; i++) {
    size_t len = tu_rand() % sizeof junk;
    for (size_t k = 0; k < len; k++) junk[k] = (uint8_t)tu_rand();
    if (len) junk[0] = '{';
    js_deliver_command(&jh_agent, junk, len);
  }
  assert_int_equal(jh_count("coreerror"), 0);
  assert_true(js_running(&jh_agent));
}

static void test_connected_event(void **state) {
  (void)state;
  assert_int_equal(jh_start("var m = require('MeshAgent');"
                            "m.on('Connected', function(up) {"
                            "  m.SendCommand({action: 'conn', up: up}); });"),
                   0);
  js_deliver_connected(&jh_agent, 1);
  js_deliver_connected(&jh_agent, 0);
  assert_int_equal(
      json_integer_value(json_object_get(jh_find("conn", 0), "up")), 1);
  assert_int_equal(
      json_integer_value(json_object_get(jh_find("conn", 1), "up")), 0);
}

static void test_text_outside_the_bmp(void **state) {
  (void)state;
  assert_int_equal(
      jh_start("var m = require('MeshAgent');"
               "m.on('Command', function(c) {"
               "  m.SendCommand({action: 'echo', v: c.v, len: c.v.length,"
               "    hi: c.v.charCodeAt(0), lo: c.v.charCodeAt(1)}); });"
               "m.SendCommand({action: 'lit', v: '\\uD83D\\uDE00!',"
               "  lone: 'a\\uD83Db', rev: '\\uDE00'});"),
      0);
  assert_string_equal(jh_str("lit", 0, "v"), "\xf0\x9f\x98\x80!");
  assert_string_equal(jh_str("lit", 0, "lone"),
                      "a\xef\xbf\xbd"
                      "b");
  assert_string_equal(jh_str("lit", 0, "rev"), "\xef\xbf\xbd");
  const char *c = "{\"action\":\"x\",\"v\":\"\xf0\x9f\x98\x80\"}";
  js_deliver_command(&jh_agent, (const uint8_t *)c, strlen(c));
  json_t *e = jh_find("echo", 0);
  assert_string_equal(jh_str("echo", 0, "v"), "\xf0\x9f\x98\x80");
  /* As in Node.js: two UTF-16 code units. */
  assert_int_equal(json_integer_value(json_object_get(e, "len")), 2);
  assert_int_equal(json_integer_value(json_object_get(e, "hi")), 0xD83D);
  assert_int_equal(json_integer_value(json_object_get(e, "lo")), 0xDE00);
}

static void test_long_error_is_cut_at_a_character(void **state) {
  (void)state;
  assert_int_equal(jh_start("throw new Error(new Array(3000).join("
                            "'\\u00e9'));"),
                   0);
  const char *m = jh_str("coreerror", 0, "msg");
  assert_non_null(m);
  assert_true(strlen(m) <= MESH_JS_MAX_ERROR);
  assert_true(strlen(m) > MESH_JS_MAX_ERROR - 4);
  assert_true(
      json_is_false(json_object_get(jh_find("coreerror", 0), "stopped")));
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
      T(test_send_command),
      T(test_send_command_refuses_non_objects),
      T(test_deliver_command),
      T(test_timers_order_and_clear),
      T(test_syntax_error),
      T(test_throw_is_reported_core_keeps_running),
      T(test_uncaught_exception_handler),
      T(test_loop_forever_at_top),
      T(test_loop_forever_in_callback_cannot_be_caught),
      T(test_leaked_timers_freed_on_stop),
      T(test_heap_budget),
      T(test_leaking_timers_hit_the_budget),
      T(test_unhandled_out_of_memory_stops_the_core),
      T(test_restart_replaces_core),
      T(test_stop_from_inside_js),
      T(test_require),
      T(test_stop_kills_and_reaps_children_frees_everything),
      T(test_loop_forever_in_command_handler),
      T(test_truncated_commands_never_reach_the_core),
      T(test_connected_event),
      T(test_text_outside_the_bmp),
      T(test_long_error_is_cut_at_a_character),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
