#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "proto/kvm.h"

/* The viewer's commands as the stock viewer sends them (spec §7.2/§7.3). */
static const uint8_t key_down[] = {0, 1, 0, 6, 0, 65};
static const uint8_t ukey[] = {0, 85, 0, 7, 0, 0x20, 0xAC}; /* euro sign */
static const uint8_t mouse[] = {0, 2, 0, 10, 0, 2, 1, 2, 0, 40};
static const uint8_t wheel[] = {0, 2, 0, 12, 0, 0, 0, 5, 0, 6, 0xFF, 0x87};
static const uint8_t comp[] = {0, 5, 0, 10, 1, 40, 4, 0, 0, 50};
static const uint8_t pause0[] = {0, 8, 0, 5, 0};
static const uint8_t refresh[] = {0, 6, 0, 4};

static ssize_t dec(const uint8_t *p, size_t n, struct kvm_input *in) {
  const char *why = NULL;
  ssize_t r = kvm_decode(p, n, in, &why);
  if (r == MESH_E_MALFORMED) assert_non_null(why);
  return r;
}

static void decodes_viewer_commands(void **state) {
  (void)state;
  struct kvm_input in;
  assert_int_equal(dec(key_down, sizeof key_down, &in), 6);
  assert_int_equal(in.type, KVM_KEY);
  assert_int_equal(in.u.key.action, KVM_KEY_DOWN);
  assert_int_equal(in.u.key.vk, 65);
  assert_int_equal(dec(ukey, sizeof ukey, &in), 7);
  assert_int_equal(in.type, KVM_KEY_UNICODE);
  assert_int_equal(in.u.ukey.up, 0);
  assert_int_equal(in.u.ukey.ch, 0x20AC);
  assert_int_equal(dec(mouse, sizeof mouse, &in), 10);
  assert_int_equal(in.u.mouse.buttons, KVM_MOUSE_LEFT_DOWN);
  assert_int_equal(in.u.mouse.x, 258);
  assert_int_equal(in.u.mouse.y, 40);
  assert_int_equal(in.u.mouse.wheel, 0);
  assert_int_equal(dec(wheel, sizeof wheel, &in), 12);
  assert_int_equal(in.u.mouse.x, 5);
  assert_int_equal(in.u.mouse.y, 6);
  assert_true(in.u.mouse.wheel < 0); /* 0xFFFF - 120: one's complement */
  assert_int_equal(dec(comp, sizeof comp, &in), 10);
  assert_int_equal(in.type, KVM_COMPRESSION);
  assert_int_equal(in.u.comp.image_type, 1);
  assert_int_equal(in.u.comp.quality, 40);
  assert_int_equal(in.u.comp.scaling, 1024);
  assert_int_equal(in.u.comp.interval, 50);
  /* Sizes 6 and 8 leave fields off from the end. */
  uint8_t c6[] = {0, 5, 0, 6, 1, 90};
  assert_int_equal(dec(c6, sizeof c6, &in), 6);
  assert_int_equal(in.u.comp.quality, 90);
  assert_int_equal(in.u.comp.scaling, 0);
  assert_int_equal(in.u.comp.interval, 0);
  uint8_t c8[] = {0, 5, 0, 8, 1, 90, 2, 0};
  assert_int_equal(dec(c8, sizeof c8, &in), 8);
  assert_int_equal(in.u.comp.scaling, 512);
  assert_int_equal(in.u.comp.interval, 0);
  assert_int_equal(dec(pause0, sizeof pause0, &in), 5);
  assert_int_equal(in.type, KVM_PAUSE);
  assert_int_equal(in.u.pause, 0);
  assert_int_equal(dec(refresh, sizeof refresh, &in), 4);
  assert_int_equal(in.type, KVM_REFRESH);
  uint8_t setd[] = {0, 12, 0, 6, 0xFF, 0xFF}, fr[] = {0, 13, 0, 6, 0, 100};
  assert_int_equal(dec(setd, sizeof setd, &in), 6);
  assert_int_equal(in.u.display, 65535);
  assert_int_equal(dec(fr, sizeof fr, &in), 6);
  assert_int_equal(in.type, KVM_FRAME_RATE);
  assert_int_equal(in.u.interval, 100);
  /* Unknown types and ones the agent ignores pass whole. */
  uint8_t unk[] = {0x12, 0x34, 0, 7, 1, 2, 3};
  assert_int_equal(dec(unk, sizeof unk, &in), 7);
  assert_int_equal(in.type, 0x1234);
}

static void walks_several_commands_in_one_message(void **state) {
  (void)state;
  /* Escape down and up in one message, as the stock viewer sends it. */
  uint8_t m[] = {0, 1, 0, 6, 0, 27, 0, 1, 0, 6, 1, 27};
  struct kvm_input in;
  size_t off = 0, count = 0;
  while (off < sizeof m) {
    ssize_t r = dec(m + off, sizeof m - off, &in);
    assert_true(r > 0);
    assert_int_equal(in.u.key.vk, 27);
    assert_int_equal(in.u.key.action, count);
    off += (size_t)r;
    count++;
  }
  assert_int_equal(count, 2);
}

static void refuses_bad_sizes(void **state) {
  (void)state;
  struct kvm_input in;
  static const uint8_t bad[][4] = {
      {0, 1, 0, 5},                  /* KEY must be 6 */
      {0, 1, 0, 7},                  /* ... not longer either */
      {0, 2, 0, 11},                 /* MOUSE is 10 or 12 */
      {0, 5, 0, 7},                  /* COMPRESSION is 6, 8 or 10 */
      {0, 5, 0, 12},   {0, 6, 0, 5}, /* REFRESH is 4 */
      {0, 8, 0, 4},                  /* PAUSE is 5 */
      {0, 85, 0, 6},   {0, 0, 0, 3}, /* below the header */
      {0x99, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    /* Refused from the header alone, and with the body present. */
    assert_int_equal(dec(bad[i], 4, &in), MESH_E_MALFORMED);
    uint8_t full[16] = {0};
    memcpy(full, bad[i], 4);
    assert_int_equal(dec(full, sizeof full, &in), MESH_E_MALFORMED);
  }
}

/* Every command cut short at each byte is incomplete, never read past. */
static void truncated_commands_are_incomplete(void **state) {
  (void)state;
  const struct {
    const uint8_t *p;
    size_t n;
  } v[] = {{key_down, sizeof key_down}, {ukey, sizeof ukey},
           {mouse, sizeof mouse},       {wheel, sizeof wheel},
           {comp, sizeof comp},         {pause0, sizeof pause0},
           {refresh, sizeof refresh}};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    for (size_t k = 0; k < v[i].n; k++) {
      /* A heap copy of exactly k bytes, so ASan sees any overread. */
      uint8_t *cut = malloc(k ? k : 1);
      memcpy(cut, v[i].p, k);
      struct kvm_input in;
      assert_int_equal(dec(cut, k, &in), MESH_E_INCOMPLETE);
      free(cut);
    }
  }
}

static void encodes_agent_commands(void **state) {
  (void)state;
  uint8_t b[64];
  assert_int_equal(kvm_put_screen(b, 1024, 768), 8);
  static const uint8_t screen[] = {0, 7, 0, 8, 4, 0, 3, 0};
  assert_memory_equal(b, screen, 8);
  assert_int_equal(kvm_put_set_display(b, 65535), 6);
  static const uint8_t setd[] = {0, 12, 0, 6, 0xFF, 0xFF};
  assert_memory_equal(b, setd, 6);
  uint16_t ids[] = {1, 2};
  assert_int_equal(kvm_put_displays(b, sizeof b, ids, 2, 65535), 12);
  static const uint8_t disp[] = {0, 11, 0, 12, 0, 2, 0, 1, 0, 2, 0xFF, 0xFF};
  assert_memory_equal(b, disp, 12);
  assert_int_equal(kvm_put_displays(b, 11, ids, 2, 1), 0); /* no room */
  assert_int_equal(kvm_put_text(b, sizeof b, KVM_ERROR, "no X", 4), 8);
  static const uint8_t err[] = {0, 65, 0, 8, 'n', 'o', ' ', 'X'};
  assert_memory_equal(b, err, 8);
  assert_int_equal(kvm_put_text(b, 6, KVM_ERROR, "no X", 4), 6); /* cut */
  assert_int_equal(b[3], 6);
  assert_int_equal(kvm_put_text(b, 3, KVM_ERROR, "x", 1), 0);
}

static void pictures_wrap_in_jumbo_past_65535(void **state) {
  (void)state;
  uint8_t h[KVM_PICTURE_HDR_MAX];
  /* The largest plain picture: 8 + 65527 = 65535. */
  assert_int_equal(kvm_put_picture_header(h, 64, 32, 65527), 8);
  static const uint8_t plain[] = {0, 3, 0xFF, 0xFF, 0, 64, 0, 32};
  assert_memory_equal(h, plain, 8);
  /* One more byte needs a JUMBO whose length counts the inner command. */
  assert_int_equal(kvm_put_picture_header(h, 1, 2, 65528), 16);
  static const uint8_t jumbo[] = {0, 27, 0, 8, 0, 1, 0, 0,
                                  0, 3,  0, 0, 0, 1, 0, 2};
  assert_memory_equal(h, jumbo, 16);
  /* The stock viewer reads 24 bits of the length. */
  assert_int_equal(kvm_put_picture_header(h, 0, 0, KVM_MAX_JUMBO - 8), 16);
  assert_int_equal(h[4], 0);
  assert_int_equal(kvm_put_picture_header(h, 0, 0, KVM_MAX_JUMBO - 7), 0);
}

static void encodes_display_info(void **state) {
  (void)state;
  struct kvm_monitor m[2] = {{1, 0, 0, 800, 600}, {2, 800, 16, 1024, 768}};
  uint8_t b[32];
  static const uint8_t want[] = {0, 82,   0, 24, 0, 1,    0, 0,  0, 0, 3, 0x20,
                                 2, 0x58, 0, 2,  3, 0x20, 0, 16, 4, 0, 3, 0};
  assert_int_equal(kvm_put_display_info(b, sizeof b, m, 2), 24);
  assert_memory_equal(b, want, 24);
  assert_int_equal(kvm_put_display_info(b, 23, m, 2), 0); /* no room */
  assert_int_equal(kvm_put_display_info(b, sizeof b, m, 0), 4);
}

/* A scaled viewer's mouse lands back on the screen pixels it shows. */
static void scaling_maps_coordinates_back(void **state) {
  (void)state;
  assert_int_equal(kvm_scaled(1024, 1024), 1024);
  assert_int_equal(kvm_scaled(1024, 4096), 1024); /* never up */
  assert_int_equal(kvm_scaled(1024, 512), 512);
  assert_int_equal(kvm_scaled(768, 512), 384);
  assert_int_equal(kvm_scaled(1366, 768), 1024); /* 75% */
  assert_int_equal(kvm_scaled(10, 64), 1);       /* never 0 */
  /* Unscaled: identity. */
  assert_int_equal(kvm_unscale(0, 1024, 1024), 0);
  assert_int_equal(kvm_unscale(1023, 1024, 1024), 1023);
  /* Half size: viewer pixel v covers screen 2v and 2v+1. */
  assert_int_equal(kvm_unscale(0, 1024, 512), 0);
  assert_int_equal(kvm_unscale(250, 1024, 512), 500);
  assert_int_equal(kvm_unscale(511, 1024, 512), 1022);
  /* A quarter: the block 400..403, its middle 401. */
  assert_int_equal(kvm_unscale(100, 1024, 256), 401);
  /* Past the viewer's edge: the screen's last pixel, not beyond. */
  assert_int_equal(kvm_unscale(600, 1024, 512), 1023);
  assert_int_equal(kvm_unscale(65535, 1366, 1024), 1365);
  /* Every viewer pixel maps inside the block it was averaged from. */
  for (int full = 100; full <= 2000; full += 37)
    for (unsigned sc = 64; sc <= 1024; sc += 61) {
      int s = kvm_scaled(full, sc);
      for (int v = 0; v < s; v++) {
        int lo = (int)((long long)v * full / s);
        int hi = (int)((long long)(v + 1) * full / s);
        int u = kvm_unscale((uint16_t)v, full, s);
        assert_true(u >= lo && u < hi);
      }
    }
  /* No geometry yet (no frame taken): unchanged. */
  assert_int_equal(kvm_unscale(77, 0, 0), 77);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(decodes_viewer_commands),
      cmocka_unit_test(walks_several_commands_in_one_message),
      cmocka_unit_test(refuses_bad_sizes),
      cmocka_unit_test(truncated_commands_are_incomplete),
      cmocka_unit_test(encodes_agent_commands),
      cmocka_unit_test(pictures_wrap_in_jumbo_past_65535),
      cmocka_unit_test(scaling_maps_coordinates_back),
      cmocka_unit_test(encodes_display_info),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
