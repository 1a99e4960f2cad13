#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "base/strmap.h"

static void set_get_del_many(void **state) {
  (void)state;
  struct strmap m;
  static int vals[5000];
  char k[32];
  strmap_init(&m);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 5000; i++) {
      snprintf(k, sizeof k, "node-%d", i);
      assert_int_equal(strmap_set(&m, k, &vals[i]), 0);
    }
    assert_int_equal(m.len, 5000);
    for (int i = 0; i < 5000; i += 2) {
      snprintf(k, sizeof k, "node-%d", i);
      assert_ptr_equal(strmap_del(&m, k), &vals[i]);
    }
    for (int i = 0; i < 5000; i++) {
      snprintf(k, sizeof k, "node-%d", i);
      assert_ptr_equal(strmap_get(&m, k), i % 2 ? &vals[i] : NULL);
    }
    assert_int_equal(m.len, 2500);
    assert_null(strmap_del(&m, "absent"));
  }
  assert_int_equal(strmap_set(&m, "node-1", &vals[0]), 0);
  assert_ptr_equal(strmap_get(&m, "node-1"), &vals[0]);
  strmap_cleanup(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(set_get_del_many)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
