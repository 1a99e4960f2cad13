/* meshd's core-push decision (src/server/cores.c, spec §6.2): every
 * combination of what the agent holds, what the device should run and
 * how many attempts this connection has had. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "server/cores.h"

static void decisions(void **state) {
  (void)state;
  uint8_t a[48], b[48];
  memset(a, 1, sizeof a);
  memset(b, 1, sizeof b);
  b[47] = 2; /* differs in the last byte only */
  for (int n = 0; n <= CORES_MAX_ATTEMPTS + 1; n++) {
    int more = n < CORES_MAX_ATTEMPTS;
    /* Nothing held, nothing wanted: never anything, however many tries. */
    assert_int_equal(cores_decide(NULL, NULL, n), CORES_NOTHING);
    /* The right core: CoreOk, even after the attempts ran out (the last
     * install may be the one that made it right). */
    assert_int_equal(cores_decide(a, a, n), CORES_OK);
    assert_int_equal(cores_decide(a, b, n),
                     more ? CORES_INSTALL : CORES_GIVE_UP);
    assert_int_equal(cores_decide(NULL, a, n),
                     more ? CORES_INSTALL : CORES_GIVE_UP);
    assert_int_equal(cores_decide(a, NULL, n),
                     more ? CORES_CLEAR : CORES_GIVE_UP);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(decisions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
