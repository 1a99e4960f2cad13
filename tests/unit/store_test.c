#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "server/store.h"
#include "testutil.h"

struct seen {
  int n;
  char group[8][65], name[8][64], desc[8][64];
  int online[8];
};

static void collect(const struct store_device *d, void *data) {
  struct seen *s = data;
  snprintf(s->group[s->n], 65, "%s", d->group_id);
  snprintf(s->name[s->n], 64, "%s", d->name);
  snprintf(s->desc[s->n], 64, "%s", d->desc ? d->desc : "(null)");
  s->online[s->n] = d->online;
  s->n++;
}

static void groups_and_devices(void **state) {
  (void)state;
  char dir[256], path[512];
  snprintf(dir, sizeof dir, "%s", tu_tmpdir());
  snprintf(path, sizeof path, "%s/meshd.db", dir);
  struct store *st;
  struct store_group a, b, g;
  assert_int_equal(store_open(path, &st), 0);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);

  assert_int_equal(store_group_create(st, "Alpha", "first", "user//x", "X", &a),
                   0);
  assert_int_equal(store_group_create(st, "Beta", NULL, NULL, NULL, &b), 0);
  assert_int_equal(strlen(a.id), 64);
  assert_string_not_equal(a.id, b.id);
  assert_int_equal(store_group_get(st, a.id, 0, &g), 0);
  assert_string_equal(g.name, "Alpha");
  store_group_cleanup(&g);
  assert_int_equal(store_group_get(st, "Beta", 1, &g), 0);
  assert_string_equal(g.id, b.id);
  store_group_cleanup(&g);
  assert_int_equal(store_group_get(st, "nope", 0, &g), MESH_E_NOT_FOUND);

  /* A new device takes the group it claims; an existing one keeps its
   * stored group whatever it claims later. */
  struct store_agent_seen ag = {.node_id = "node1",
                                .group_id = a.id,
                                .name = "pc",
                                .os = "Linux",
                                .addr = "1.2.3.4",
                                .platform = 1,
                                .agent_id = 6};
  char *stored;
  int created;
  assert_int_equal(store_device_online(st, &ag, &stored, &created), 0);
  assert_string_equal(stored, a.id);
  free(stored);
  ag.group_id = b.id;
  ag.name = "pc2";
  assert_int_equal(store_device_online(st, &ag, &stored, &created), 0);
  assert_string_equal(stored, a.id);
  free(stored);
  assert_int_equal(store_device_set_agent_hash(st, "node1", "ab"), 0);

  struct seen s = {0};
  assert_int_equal(store_devices_each(st, NULL, NULL, collect, &s), 0);
  assert_int_equal(s.n, 1);
  assert_string_equal(s.group[0], a.id);
  assert_string_equal(s.name[0], "pc2");
  assert_int_equal(s.online[0], 1);
  assert_int_equal(store_device_offline(st, "node1"), 0);
  memset(&s, 0, sizeof s);
  store_devices_each(st, NULL, NULL, collect, &s);
  assert_int_equal(s.online[0], 0);
  assert_int_equal(store_device_online(st, &ag, &stored, &created), 0);
  free(stored);
  assert_int_equal(store_devices_all_offline(st), 0);
  memset(&s, 0, sizeof s);
  store_devices_each(st, NULL, NULL, collect, &s);
  assert_int_equal(s.online[0], 0);

  /* A device cannot name a group that does not exist. */
  ag.node_id = "node2";
  ag.group_id = "missing";
  assert_int_equal(store_device_online(st, &ag, &stored, &created), MESH_E_DB);

  /* Group and device edits; deleting a group takes its devices. */
  assert_int_equal(store_group_update(st, a.id, "Alpha2", "", -1, 7), 0);
  assert_int_equal(store_group_get(st, a.id, 0, &g), 0);
  assert_string_equal(g.name, "Alpha2");
  assert_null(g.desc);
  assert_int_equal(g.consent, 7);
  assert_string_equal(g.creator_id, "user//x");
  store_group_cleanup(&g);
  /* NULL (or -1) keeps a field, a text sets it, "" clears it. */
  assert_int_equal(store_group_update(st, a.id, NULL, "kept", -1, -1), 0);
  assert_int_equal(store_group_update(st, a.id, NULL, NULL, 3, -1), 0);
  assert_int_equal(store_group_get(st, a.id, 0, &g), 0);
  assert_string_equal(g.name, "Alpha2");
  assert_string_equal(g.desc, "kept");
  assert_int_equal(g.flags, 3);
  assert_int_equal(g.consent, 7);
  store_group_cleanup(&g);
  assert_int_equal(store_group_update(st, "nope", "x", NULL, -1, -1),
                   MESH_E_NOT_FOUND);
  assert_int_equal(store_device_edit(st, "node1", "renamed", "d", "[\"t\"]", 3),
                   0);
  assert_int_equal(store_device_edit(st, "nope", "x", NULL, NULL, 0),
                   MESH_E_NOT_FOUND);
  memset(&s, 0, sizeof s);
  store_devices_each(st, a.id, "node1", collect, &s);
  assert_int_equal(s.n, 1);
  assert_string_equal(s.name[0], "renamed");
  assert_string_equal(s.desc[0], "d");
  assert_int_equal(store_device_edit(st, "node1", NULL, NULL, NULL, 0), 0);
  memset(&s, 0, sizeof s);
  store_devices_each(st, NULL, "node1", collect, &s);
  assert_string_equal(s.name[0], "renamed");
  assert_string_equal(s.desc[0], "d");
  assert_int_equal(store_device_edit(st, "node1", NULL, "", NULL, 0), 0);
  memset(&s, 0, sizeof s);
  store_devices_each(st, NULL, "node1", collect, &s);
  assert_string_equal(s.desc[0], "(null)");
  memset(&s, 0, sizeof s);
  store_devices_each(st, b.id, NULL, collect, &s);
  assert_int_equal(s.n, 0);
  assert_int_equal(store_group_delete(st, a.id), 0);
  assert_int_equal(store_group_delete(st, a.id), MESH_E_NOT_FOUND);
  memset(&s, 0, sizeof s);
  store_devices_each(st, NULL, NULL, collect, &s);
  assert_int_equal(s.n, 0);
  assert_int_equal(store_device_delete(st, "node1"), MESH_E_NOT_FOUND);

  char *v;
  assert_int_equal(store_meta_get(st, "port", &v), MESH_E_NOT_FOUND);
  assert_int_equal(store_meta_set(st, "port", "443"), 0);
  assert_int_equal(store_meta_set(st, "port", "4443"), 0);
  assert_int_equal(store_meta_get(st, "port", &v), 0);
  assert_string_equal(v, "4443");
  free(v);
  store_group_cleanup(&a);
  store_group_cleanup(&b);
  store_close(st);
  tu_rmdir_r(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(groups_and_devices)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
