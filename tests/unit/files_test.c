#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "proto/files.h"
#include "testutil.h"

/* ------------------------------------------------ paths and names */

static void normalizes_paths(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } v[] = {
      {"", "/"},
      {"/", "/"},
      {"tmp", "/tmp"},
      {"/tmp/", "/tmp"},
      {"//tmp//a/./b/", "/tmp/a/b"},
      {"./.", "/"},
      {"/a/...", "/a/..."}, /* three dots is a name */
      {"/a/..b/c..", "/a/..b/c.."},
  };
  char out[64];
  const char *why;
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    assert_int_equal(
        files_path_normalize(v[i].in, strlen(v[i].in), out, sizeof out, &why),
        0);
    assert_string_equal(out, v[i].out);
  }
}

static void refuses_bad_paths(void **state) {
  (void)state;
  char out[64];
  const char *why = NULL;
  static const char *const dotdot[] = {"..", "/..", "/a/../b", "a/..",
                                       "/a/b/../../.."};
  for (size_t i = 0; i < sizeof dotdot / sizeof dotdot[0]; i++) {
    why = NULL;
    assert_int_equal(files_path_normalize(dotdot[i], strlen(dotdot[i]), out,
                                          sizeof out, &why),
                     MESH_E_MALFORMED);
    assert_string_equal(why, "path has a '..' component");
  }
  assert_int_equal(files_path_normalize("/a\0b", 4, out, sizeof out, &why),
                   MESH_E_MALFORMED);
  assert_string_equal(why, "path contains a NUL byte");
  /* Exactly fits: "/abc" + NUL is 5 bytes. */
  assert_int_equal(files_path_normalize("abc", 3, out, 5, &why), 0);
  assert_int_equal(files_path_normalize("abcd", 4, out, 5, &why),
                   MESH_E_TOO_LARGE);
  /* The limit applies whatever the caller's buffer. */
  size_t big = MESH_FILES_MAX_PATH + 1;
  char *p = malloc(big), *o = malloc(big + 8);
  memset(p, 'a', big);
  assert_int_equal(files_path_normalize(p, big - 1, o, big + 8, &why),
                   MESH_E_TOO_LARGE);
  assert_int_equal(files_path_normalize(p, big - 2, o, big + 8, &why), 0);
  free(p);
  free(o);
}

static void checks_names(void **state) {
  (void)state;
  const char *why = NULL;
  assert_int_equal(files_name_check("a.txt", 5, &why), 0);
  assert_int_equal(files_name_check("...", 3, &why), 0);
  assert_int_equal(files_name_check("", 0, &why), MESH_E_MALFORMED);
  assert_int_equal(files_name_check(".", 1, &why), MESH_E_MALFORMED);
  assert_int_equal(files_name_check("..", 2, &why), MESH_E_MALFORMED);
  assert_int_equal(files_name_check("a/b", 3, &why), MESH_E_MALFORMED);
  assert_string_equal(why, "name must be a single path component");
  assert_int_equal(files_name_check("a\0", 2, &why), MESH_E_MALFORMED);
  char n[MESH_FILES_MAX_NAME + 1];
  memset(n, 'x', sizeof n);
  assert_int_equal(files_name_check(n, sizeof n, &why), MESH_E_MALFORMED);
  assert_int_equal(files_name_check(n, sizeof n - 1, &why), 0);
}

static void joins_paths(void **state) {
  (void)state;
  char out[16];
  assert_int_equal(files_path_join("/", "a", out, sizeof out), 0);
  assert_string_equal(out, "/a");
  assert_int_equal(files_path_join("/tmp", "a", out, sizeof out), 0);
  assert_string_equal(out, "/tmp/a");
  assert_int_equal(files_path_join("/tmp", "0123456789a", out, sizeof out),
                   MESH_E_TOO_LARGE);
  assert_int_equal(files_path_join("/tmp", "0123456789", out, sizeof out), 0);
}

/* ------------------------------------------------ chunks and blocks */

static void escapes_and_classifies_chunks(void **state) {
  (void)state;
  static const struct {
    const char *data;
    size_t n;
    int escaped;
  } v[] = {
      {"{x", 2, 1}, {"\0x", 2, 1}, {"ab", 2, 0}, {"", 0, 0}, {"\x01", 1, 0}};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(files_chunk_escape(&b, (const uint8_t *)v[i].data, v[i].n),
                     0);
    assert_int_equal(b.len, v[i].n + (size_t)v[i].escaped);
    const uint8_t *d;
    size_t len;
    /* An empty frame carries no data; every other escaped chunk comes back
     * as data, byte for byte. */
    assert_int_equal(files_frame_classify(b.data, b.len, &d, &len),
                     FILES_FRAME_DATA);
    assert_int_equal(len, v[i].n);
    if (len) assert_memory_equal(d, v[i].data, len);
    buf_cleanup(&b);
  }
  const uint8_t *d;
  size_t len;
  assert_int_equal(
      files_frame_classify((const uint8_t *)"{\"a\":1}", 7, &d, &len),
      FILES_FRAME_JSON);
  /* A full buffer refuses the chunk without appending part of it. */
  struct buf small;
  buf_init(&small, 2);
  assert_int_equal(files_chunk_escape(&small, (const uint8_t *)"{x", 2),
                   MESH_E_TOO_LARGE);
  assert_int_equal(small.len, 0);
  buf_cleanup(&small);
}

static void frames_and_decodes_blocks(void **state) {
  (void)state;
  static uint8_t frame[FILES_BLOCK_MAX + 1];
  memset(frame, 0x5a, sizeof frame);
  files_block_header(frame, 0);
  assert_memory_equal(frame, "\x01\x00\x00\x00", 4);
  const uint8_t *d = NULL;
  size_t len = 0;
  int last = -1;
  assert_int_equal(files_block_decode(frame, FILES_BLOCK_MAX, &d, &len, &last),
                   FILES_BLOCK_MAX);
  assert_ptr_equal(d, frame + 4);
  assert_int_equal(len, FILES_BLOCK_DATA);
  assert_int_equal(last, 0);
  /* Truncated: too short for a header, then short data without end. */
  for (size_t n = 0; n < 4; n++) {
    uint8_t *g = tu_guard_copy(frame, n);
    assert_int_equal(files_block_decode(g, n, &d, &len, &last),
                     MESH_E_INCOMPLETE);
    tu_guard_free(g, n);
  }
  for (size_t n = 4; n < FILES_BLOCK_MAX; n += 1021)
    assert_int_equal(files_block_decode(frame, n, &d, &len, &last),
                     MESH_E_MALFORMED);
  assert_int_equal(
      files_block_decode(frame, FILES_BLOCK_MAX + 1, &d, &len, &last),
      MESH_E_TOO_LARGE);
  /* The last block may carry anything from 0 to FILES_BLOCK_DATA bytes. */
  files_block_header(frame, 1);
  assert_memory_equal(frame, "\x01\x00\x00\x01", 4);
  for (size_t n = 4; n <= FILES_BLOCK_MAX; n += 4095) {
    uint8_t *g = tu_guard_copy(frame, n);
    assert_int_equal(files_block_decode(g, n, &d, &len, &last), (ssize_t)n);
    assert_int_equal(len, n - 4);
    assert_int_equal(last, 1);
    tu_guard_free(g, n);
  }
  /* Any other flag value is refused; outputs stay untouched. */
  static const uint32_t bad[] = {0, 0x01000002, 0x02000000, 0x7b226163};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t h[8] = {(uint8_t)(bad[i] >> 24), (uint8_t)(bad[i] >> 16),
                    (uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};
    d = NULL;
    assert_int_equal(files_block_decode(h, 8, &d, &len, &last),
                     MESH_E_MALFORMED);
    assert_null(d);
  }
}

/* ------------------------------------------------ commands */

static int parse(const char *s, struct files_cmd *c, const char **why) {
  size_t n = strlen(s);
  uint8_t *g = tu_guard_copy(s, n);
  int r = files_cmd_parse(g, n, c, why);
  tu_guard_free(g, n);
  return r;
}

static void parses_commands(void **state) {
  (void)state;
  struct files_cmd c;
  const char *why;
  assert_int_equal(
      parse("{\"action\":\"ls\",\"reqid\":7,\"path\":\"\"}", &c, &why), 0);
  assert_int_equal(c.action, FILES_LS);
  assert_string_equal(c.path, "/");
  assert_string_equal(c.path_raw, "");
  assert_int_equal(json_integer_value(c.reqid), 7);
  files_cmd_cleanup(&c);

  assert_int_equal(
      parse("{\"action\":\"upload\",\"reqid\":\"up\",\"path\":\"/tmp/x/\","
            "\"name\":\"f.bin\",\"size\":123456789012}",
            &c, &why),
      0);
  assert_int_equal(c.action, FILES_UPLOAD);
  assert_string_equal(c.path, "/tmp/x");
  assert_string_equal(c.name, "f.bin");
  assert_int_equal(c.has_size, 1);
  assert_true(c.size == 123456789012ull);
  assert_int_equal(c.append, 0);
  files_cmd_cleanup(&c);

  assert_int_equal(parse("{\"action\":\"rm\",\"reqid\":1,\"path\":\"/t\","
                         "\"delfiles\":[\"a\",\"b c\"],\"rec\":true}",
                         &c, &why),
                   0);
  assert_int_equal(c.action, FILES_RM);
  assert_int_equal(c.rec, 1);
  assert_int_equal(json_array_size(c.delfiles), 2);
  files_cmd_cleanup(&c);

  assert_int_equal(parse("{\"action\":\"rename\",\"path\":\"/t\","
                         "\"oldname\":\"a\",\"newname\":\"b\"}",
                         &c, &why),
                   0);
  assert_string_equal(c.oldname, "a");
  assert_string_equal(c.newname, "b");
  files_cmd_cleanup(&c);

  assert_int_equal(parse("{\"action\":\"download\",\"sub\":\"start\","
                         "\"id\":\"/etc/hosts\",\"path\":\"/etc/hosts\"}",
                         &c, &why),
                   0);
  assert_int_equal(c.sub, FILES_DL_START);
  assert_string_equal(json_string_value(c.id), "/etc/hosts");
  files_cmd_cleanup(&c);

  static const struct {
    const char *ack;
    uint32_t window;
  } w[] = {{"", 8},
           {",\"ack\":3", 3},
           {",\"ack\":0", 1},
           {",\"ack\":100000", MESH_FILES_MAX_WINDOW},
           {",\"ack\":\"9\"", 8}};
  for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
    char s[128];
    snprintf(s, sizeof s,
             "{\"action\":\"download\",\"sub\":\"startack\",\"id\":5%s}",
             w[i].ack);
    assert_int_equal(parse(s, &c, &why), 0);
    assert_int_equal(c.window, w[i].window);
    files_cmd_cleanup(&c);
  }

  assert_int_equal(
      parse("{\"ctrlChannel\":\"102938\",\"type\":\"ping\"}", &c, &why), 0);
  assert_int_equal(c.action, FILES_CTRL);
  files_cmd_cleanup(&c);
  assert_int_equal(
      parse("{\"ctrlChannel\":102938,\"type\":\"close\"}", &c, &why), 0);
  assert_int_equal(c.action, FILES_CTRL);
  files_cmd_cleanup(&c);
  /* A WebRTC offer comes without ctrlChannel (spec §8.1). */
  assert_int_equal(parse("{\"type\":\"offer\",\"sdp\":\"v=0\"}", &c, &why), 0);
  assert_int_equal(c.action, FILES_CTRL);
  files_cmd_cleanup(&c);

  assert_int_equal(parse("{\"action\":\"zip\",\"reqid\":2}", &c, &why), 0);
  assert_int_equal(c.action, FILES_UNSUPPORTED);
  assert_string_equal(c.action_name, "zip");
  files_cmd_cleanup(&c);
}

static void refuses_bad_commands(void **state) {
  (void)state;
  static const struct {
    const char *json;
    int r;
    const char *why;
  } v[] = {
      {"", MESH_E_MALFORMED, "command is not a JSON object"},
      {"[1]", MESH_E_MALFORMED, "command is not a JSON object"},
      {"{\"action\":1}", MESH_E_MALFORMED, "no action"},
      {"{\"action\":\"ls\",\"path\":7}", MESH_E_MALFORMED,
       "path must be a string"},
      {"{\"action\":\"ls\",\"path\":\"/a/../etc\"}", MESH_E_MALFORMED,
       "path has a '..' component"},
      {"{\"action\":\"ls\",\"path\":\"/etc\\u0000x\"}", MESH_E_MALFORMED,
       "path contains a NUL byte"},
      {"{\"action\":\"mkdir\",\"path\":\"/\"}", MESH_E_MALFORMED,
       "cannot create /"},
      {"{\"action\":\"mkdir\"}", MESH_E_MALFORMED, "path must be a string"},
      {"{\"action\":\"upload\",\"path\":\"/t\",\"name\":\"../x\"}",
       MESH_E_MALFORMED, "name must be a single path component"},
      {"{\"action\":\"upload\",\"path\":\"/\"}", MESH_E_MALFORMED,
       "no file name"},
      {"{\"action\":\"upload\",\"path\":\"/t\",\"name\":\"x\",\"size\":-1}",
       MESH_E_MALFORMED, "size must be a non-negative integer"},
      {"{\"action\":\"rename\",\"path\":\"/t\",\"oldname\":\"..\","
       "\"newname\":\"b\"}",
       MESH_E_MALFORMED, "name may not be . or .."},
      {"{\"action\":\"rm\",\"path\":\"/t\",\"delfiles\":\"a\"}",
       MESH_E_MALFORMED, "delfiles must be an array of names"},
      {"{\"action\":\"rm\",\"path\":\"/t\",\"delfiles\":[\"a\",\"x/y\"]}",
       MESH_E_MALFORMED, "name must be a single path component"},
      {"{\"action\":\"download\",\"sub\":\"go\"}", MESH_E_MALFORMED,
       "unknown download sub-command"},
      {"{\"action\":\"download\",\"sub\":\"start\",\"path\":\"..\"}",
       MESH_E_MALFORMED, "path has a '..' component"},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    struct files_cmd c;
    const char *why = NULL;
    assert_int_equal(parse(v[i].json, &c, &why), v[i].r);
    assert_non_null(why);
    assert_string_equal(why, v[i].why);
    files_cmd_cleanup(&c);
  }
  /* The reqid of a refused command survives for the error reply. */
  struct files_cmd c;
  const char *why;
  assert_int_equal(
      parse("{\"action\":\"ls\",\"reqid\":42,\"path\":\"..\"}", &c, &why),
      MESH_E_MALFORMED);
  assert_int_equal(c.action, FILES_LS);
  assert_int_equal(json_integer_value(c.reqid), 42);
  files_cmd_cleanup(&c);
}

/* Every truncation of a valid command is refused cleanly (never a crash,
 * never accepted: a JSON object is only complete with its last byte), and
 * bit flips never crash. */
static void truncated_and_mutated_commands(void **state) {
  (void)state;
  static const char *const good[] = {
      "{\"action\":\"rm\",\"reqid\":1,\"path\":\"/t\",\"delfiles\":[\"a\"]}",
      "{\"action\":\"download\",\"sub\":\"startack\",\"id\":5,\"ack\":3}",
      "{\"action\":\"upload\",\"reqid\":\"u\",\"path\":\"/t\",\"name\":\"n\","
      "\"size\":10,\"append\":true}",
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    size_t n = strlen(good[i]);
    for (size_t k = 0; k < n; k++) {
      struct files_cmd c;
      const char *why;
      uint8_t *g = tu_guard_copy(good[i], k);
      assert_int_equal(files_cmd_parse(g, k, &c, &why), MESH_E_MALFORMED);
      files_cmd_cleanup(&c);
      tu_guard_free(g, k);
    }
    for (int m = 0; m < 2000; m++) {
      uint8_t tmp[256];
      memcpy(tmp, good[i], n);
      tmp[tu_rand() % n] ^= (uint8_t)(1u << (tu_rand() % 8));
      struct files_cmd c;
      const char *why;
      (void)files_cmd_parse(tmp, n, &c, &why);
      files_cmd_cleanup(&c);
    }
  }
  struct files_cmd c;
  const char *why;
  size_t big = MESH_FILES_MAX_COMMAND + 1;
  uint8_t *p = calloc(1, big);
  assert_int_equal(files_cmd_parse(p, big, &c, &why), MESH_E_TOO_LARGE);
  files_cmd_cleanup(&c);
  free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(normalizes_paths),
      cmocka_unit_test(refuses_bad_paths),
      cmocka_unit_test(checks_names),
      cmocka_unit_test(joins_paths),
      cmocka_unit_test(escapes_and_classifies_chunks),
      cmocka_unit_test(frames_and_decodes_blocks),
      cmocka_unit_test(parses_commands),
      cmocka_unit_test(refuses_bad_commands),
      cmocka_unit_test(truncated_and_mutated_commands),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
