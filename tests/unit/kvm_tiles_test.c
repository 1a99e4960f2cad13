/* kvm_tiles: the rectangles a frame's changed tiles are sent as. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "agent/kvm_tiles.h"

#define COLS 30 /* 1920 / 64 */
#define ROWS 17 /* 1080 / 64, rounded up */

struct got {
  struct kvmt_rect r[COLS * ROWS];
  int n;
  int stop_at; /* emit returns -7 on this call (1-based); 0: never */
};

static int collect(void *ctx, const struct kvmt_rect *r) {
  struct got *g = ctx;
  assert_true(g->n < COLS * ROWS);
  g->r[g->n++] = *r;
  return g->stop_at && g->n == g->stop_at ? -7 : 0;
}

/* Plans a frame whose changed tiles are mask[ty][tx]. */
static void plan(uint8_t mask[ROWS][COLS], int rows, struct got *g) {
  struct kvmt_plan p;
  assert_int_equal(kvmt_init(&p, COLS), 0);
  kvmt_reset(&p);
  for (int ty = 0; ty < rows; ty++)
    assert_int_equal(kvmt_row(&p, ty, mask[ty], collect, g), 0);
  assert_int_equal(kvmt_finish(&p, collect, g), 0);
  kvmt_free(&p);
}

static void rect_is(const struct kvmt_rect *r, int tx, int ty, int tw, int th) {
  assert_int_equal(r->tx, tx);
  assert_int_equal(r->ty, ty);
  assert_int_equal(r->tw, tw);
  assert_int_equal(r->th, th);
}

static void nothing_changed(void **state) {
  (void)state;
  static uint8_t mask[ROWS][COLS];
  struct got g = {0};
  plan(mask, ROWS, &g);
  assert_int_equal(g.n, 0);
}

/* The bench's 200x200 square at 100,100 covers tiles 1..4 both ways: one
 * picture, not four row strips. */
static void a_square_is_one_picture(void **state) {
  (void)state;
  static uint8_t mask[ROWS][COLS];
  memset(mask, 0, sizeof mask);
  for (int y = 1; y <= 4; y++)
    for (int x = 1; x <= 4; x++) mask[y][x] = 1;
  struct got g = {0};
  plan(mask, ROWS, &g);
  assert_int_equal(g.n, 1);
  rect_is(&g.r[0], 1, 1, 4, 4);
}

/* A whole 1920x1080 screen: 8x8-tile blocks, the last column 6 wide, the
 * last row 1 tall: 4 x 3 pictures. */
static void a_full_screen(void **state) {
  (void)state;
  static uint8_t mask[ROWS][COLS];
  memset(mask, 1, sizeof mask);
  struct got g = {0};
  plan(mask, ROWS, &g);
  assert_int_equal(g.n, 12);
  for (int i = 0; i < g.n; i++) {
    assert_true(g.r[i].tw == (g.r[i].tx == 24 ? 6 : 8));
    assert_true(g.r[i].th == (g.r[i].ty == 16 ? 1 : 8));
  }
}

/* Rows over other columns do not join: an L is two pictures, and a run
 * that only starts where one above did is not grown into it. */
static void shapes_that_do_not_join(void **state) {
  (void)state;
  static uint8_t mask[ROWS][COLS];
  memset(mask, 0, sizeof mask);
  memset(mask[0], 1, 4);     /* 0..3 */
  memset(mask[1], 1, 2);     /* 0..1 */
  memset(mask[2] + 5, 1, 2); /* 5..6: touches nothing */
  struct got g = {0};
  plan(mask, 3, &g);
  assert_int_equal(g.n, 3);
  rect_is(&g.r[0], 0, 0, 4, 1);
  rect_is(&g.r[1], 0, 1, 2, 1);
  rect_is(&g.r[2], 5, 2, 2, 1);
}

/* Every changed tile in exactly one picture, no unchanged tile in any,
 * no picture over the caps: random frames, some sparse, some dense. */
static void random_frames_are_covered_exactly(void **state) {
  (void)state;
  srand(42);
  for (int round = 0; round < 3000; round++) {
    static uint8_t mask[ROWS][COLS];
    int density = rand() % 100;
    for (int y = 0; y < ROWS; y++)
      for (int x = 0; x < COLS; x++) mask[y][x] = rand() % 100 < density;
    struct got g = {0};
    plan(mask, ROWS, &g);
    static uint8_t seen[ROWS][COLS];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < g.n; i++) {
      const struct kvmt_rect *r = &g.r[i];
      assert_true(r->tw >= 1 && r->tw <= KVMT_MAX_W);
      assert_true(r->th >= 1 && r->th <= KVMT_MAX_H);
      assert_true(r->tx + r->tw <= COLS && r->ty + r->th <= ROWS);
      for (int y = r->ty; y < r->ty + r->th; y++)
        for (int x = r->tx; x < r->tx + r->tw; x++) {
          assert_true(mask[y][x]);
          assert_false(seen[y][x]);
          seen[y][x] = 1;
        }
    }
    assert_memory_equal(seen, mask, sizeof seen);
  }
}

/* An encoder failure stops the frame with its code; the next frame
 * starts clean after kvmt_reset. */
static void a_failed_emit_stops(void **state) {
  (void)state;
  static uint8_t mask[ROWS][COLS];
  memset(mask, 0, sizeof mask);
  mask[0][0] = mask[0][10] = mask[0][20] = 1;
  struct kvmt_plan p;
  assert_int_equal(kvmt_init(&p, COLS), 0);
  struct got g = {.stop_at = 1};
  assert_int_equal(kvmt_row(&p, 0, mask[0], collect, &g), 0);
  assert_int_equal(kvmt_row(&p, 1, mask[1], collect, &g), -7);
  assert_int_equal(g.n, 1);
  kvmt_reset(&p);
  struct got g2 = {0};
  assert_int_equal(kvmt_row(&p, 0, mask[0], collect, &g2), 0);
  assert_int_equal(kvmt_finish(&p, collect, &g2), 0);
  assert_int_equal(g2.n, 3);
  kvmt_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(nothing_changed),
      cmocka_unit_test(a_square_is_one_picture),
      cmocka_unit_test(a_full_screen),
      cmocka_unit_test(shapes_that_do_not_join),
      cmocka_unit_test(random_frames_are_covered_exactly),
      cmocka_unit_test(a_failed_emit_stops),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
