#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "proto/kvm_filter.h"
#include "testutil.h"

/* Viewer commands as the stock viewer sends them (spec §7.2). */
static const uint8_t key_a[] = {0, 1, 0, 6, 0, 65};     /* 'A' down */
static const uint8_t key_ctrl[] = {0, 1, 0, 6, 0, 17};  /* Ctrl down */
static const uint8_t key_enter[] = {0, 1, 0, 6, 1, 13}; /* Enter up */
static const uint8_t key_f1[] = {0, 1, 0, 6, 0, 112};   /* F1: above 90 */
static const uint8_t key_win[] = {0, 1, 0, 6, 4, 91};   /* Windows key */
static const uint8_t ukey_a[] = {0, 85, 0, 7, 0, 0, 'a'};
static const uint8_t ukey_cr[] = {0, 85, 0, 7, 0, 0, 13};
static const uint8_t ukey_c1[] = {0, 85, 0, 7, 0, 0, 0x85};
static const uint8_t ukey_euro[] = {0, 85, 0, 7, 0, 0x20, 0xAC};
static const uint8_t mouse[] = {0, 2, 0, 10, 0, 2, 1, 2, 0, 40};
static const uint8_t wheel[] = {0, 2, 0, 12, 0, 0, 0, 5, 0, 6, 0xFF, 0x87};
static const uint8_t comp[] = {0, 5, 0, 10, 1, 40, 4, 0, 0, 50};
static const uint8_t refresh[] = {0, 6, 0, 4};
static const uint8_t pause0[] = {0, 8, 0, 5, 0};
static const uint8_t getdisp[] = {0, 11, 0, 4};
static const uint8_t setdisp[] = {0, 12, 0, 6, 0, 1};
static const uint8_t rate[] = {0, 13, 0, 6, 0, 100};
static const uint8_t cad[] = {0, 10, 0, 4};
static const uint8_t inittouch[] = {0, 14, 0, 4};
static const uint8_t touch[] = {0, 15, 0, 14, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1};
static const uint8_t inputlock[] = {0, 87, 0, 5, 2};
static const uint8_t unknown[] = {0, 200, 0, 6, 9, 9};

struct cmd {
  const uint8_t *p;
  size_t n;
  int view_only; /* passes under VIEW_ONLY */
  int limited;   /* passes under LIMITED */
};

#define CMD(a, v, l) \
  { a, sizeof a, v, l }
static const struct cmd cmds[] = {
    CMD(key_a, 0, 1),     CMD(key_ctrl, 0, 0), CMD(key_enter, 0, 1),
    CMD(key_f1, 0, 0),    CMD(key_win, 0, 0),  CMD(ukey_a, 0, 1),
    CMD(ukey_cr, 0, 0),   CMD(ukey_c1, 0, 0),  CMD(ukey_euro, 0, 1),
    CMD(mouse, 0, 1),     CMD(wheel, 0, 1),    CMD(comp, 1, 1),
    CMD(refresh, 1, 1),   CMD(pause0, 1, 1),   CMD(getdisp, 1, 1),
    CMD(setdisp, 1, 1),   CMD(rate, 1, 1),     CMD(cad, 0, 0),
    CMD(inittouch, 0, 0), CMD(touch, 0, 0),    CMD(inputlock, 0, 0),
    CMD(unknown, 0, 0),
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static ssize_t filt(enum kvm_filter_mode m, const uint8_t *p, size_t n,
                    uint8_t *out, size_t *dropped) {
  const char *why = NULL;
  /* The guard copy faults on any read past the end. */
  uint8_t *g = tu_guard_copy(p, n);
  ssize_t r = kvm_filter_message(m, g, n, out, dropped, &why);
  tu_guard_free(g, n);
  if (r == MESH_E_MALFORMED) assert_non_null(why);
  return r;
}

static void modes_follow_the_rights(void **state) {
  (void)state;
  assert_int_equal(kvm_filter_mode_for(0xFFFFFFFFu), KVM_FILTER_OFF);
  assert_int_equal(kvm_filter_mode_for(8), KVM_FILTER_OFF);
  assert_int_equal(kvm_filter_mode_for(8 | 0x200000), KVM_FILTER_OFF);
  assert_int_equal(kvm_filter_mode_for(256), KVM_FILTER_VIEW_ONLY);
  assert_int_equal(kvm_filter_mode_for(8 | 256), KVM_FILTER_VIEW_ONLY);
  assert_int_equal(kvm_filter_mode_for(8 | 256 | 4096), KVM_FILTER_VIEW_ONLY);
  assert_int_equal(kvm_filter_mode_for(0), KVM_FILTER_VIEW_ONLY);
  assert_int_equal(kvm_filter_mode_for(4096), KVM_FILTER_VIEW_ONLY);
  assert_int_equal(kvm_filter_mode_for(8 | 4096), KVM_FILTER_LIMITED);
  /* Everything but one bit is not "full": the flags count again. */
  assert_int_equal(kvm_filter_mode_for(0xFFFFFFFEu), KVM_FILTER_VIEW_ONLY);
}

/* Each command alone, under each mode: whole or nothing. */
static void each_command_alone(void **state) {
  (void)state;
  uint8_t out[64];
  size_t d;
  for (size_t i = 0; i < NCMDS; i++) {
    const struct cmd *c = &cmds[i];
    assert_int_equal(filt(KVM_FILTER_OFF, c->p, c->n, out, &d), c->n);
    assert_int_equal(d, 0);
    ssize_t r = filt(KVM_FILTER_VIEW_ONLY, c->p, c->n, out, &d);
    assert_int_equal(r, c->view_only ? (ssize_t)c->n : 0);
    assert_int_equal(d, c->view_only ? 0 : 1);
    r = filt(KVM_FILTER_LIMITED, c->p, c->n, out, &d);
    assert_int_equal(r, c->limited ? (ssize_t)c->n : 0);
    assert_int_equal(d, c->limited ? 0 : 1);
    if (c->limited) assert_memory_equal(out, c->p, c->n);
  }
}

/* All commands back to back in one message: the kept ones come out in
 * order, byte for byte; NULL out only counts. */
static void several_commands_in_one_message(void **state) {
  (void)state;
  uint8_t msg[512], out[512], want[512];
  for (int m = KVM_FILTER_VIEW_ONLY; m <= KVM_FILTER_LIMITED; m++) {
    size_t n = 0, wn = 0, wd = 0, d;
    for (size_t i = 0; i < NCMDS; i++) {
      const struct cmd *c = &cmds[i];
      memcpy(msg + n, c->p, c->n);
      n += c->n;
      if (m == KVM_FILTER_LIMITED ? c->limited : c->view_only) {
        memcpy(want + wn, c->p, c->n);
        wn += c->n;
      } else {
        wd++;
      }
    }
    memset(out, 0xEE, sizeof out);
    assert_int_equal(filt(m, msg, n, out, &d), wn);
    assert_int_equal(d, wd);
    assert_memory_equal(out, want, wn);
    assert_int_equal(out[wn], 0xEE); /* nothing written past the kept */
    assert_int_equal(filt(m, msg, n, NULL, &d), wn);
    assert_int_equal(d, wd);
    /* The filtered message passes the filter unchanged. */
    assert_int_equal(filt(m, want, wn, out, &d), wn);
    assert_int_equal(d, 0);
  }
}

/* The spec's cases: the view-only viewer's KEY, MOUSE and REFRESH leave
 * only the REFRESH; the limited viewer's Ctrl and 'A' only the 'A'. */
static void the_spec_examples(void **state) {
  (void)state;
  uint8_t msg[32], out[32];
  size_t d, n = 0;
  memcpy(msg, key_a, sizeof key_a);
  n += sizeof key_a;
  memcpy(msg + n, mouse, sizeof mouse);
  n += sizeof mouse;
  memcpy(msg + n, refresh, sizeof refresh);
  n += sizeof refresh;
  assert_int_equal(filt(KVM_FILTER_VIEW_ONLY, msg, n, out, &d), 4);
  assert_int_equal(d, 2);
  assert_memory_equal(out, refresh, 4);
  n = 0;
  memcpy(msg, key_ctrl, 6);
  memcpy(msg + 6, key_a, 6);
  assert_int_equal(filt(KVM_FILTER_LIMITED, msg, 12, out, &d), 6);
  assert_int_equal(d, 1);
  assert_memory_equal(out, key_a, 6);
}

/* Anything but whole commands is refused, never half-judged. */
static void malformed_messages(void **state) {
  (void)state;
  size_t d = 99;
  const uint8_t short_hdr[] = {0, 6, 0};
  const uint8_t size0[] = {0, 6, 0, 0};
  const uint8_t size3[] = {0, 200, 0, 3, 0};
  const uint8_t past_end[] = {0, 200, 0, 9, 1, 2, 3};
  const uint8_t bad_key[] = {0, 1, 0, 7, 0, 65, 0};
  const uint8_t refresh_then_short[] = {0, 6, 0, 4, 0, 1};
  /* A JUMBO is unknown input (only the agent sends one): its 8 bytes are
   * dropped and the inner command, whose size field is 0, is malformed. */
  const uint8_t jumbo[] = {0, 27, 0, 8, 0, 0, 0, 6, 0, 1, 0, 0, 0, 65};
  const uint8_t *bad[] = {short_hdr,          size0, size3, past_end, bad_key,
                          refresh_then_short, jumbo};
  const size_t len[] = {sizeof short_hdr, sizeof size0,
                        sizeof size3,     sizeof past_end,
                        sizeof bad_key,   sizeof refresh_then_short,
                        sizeof jumbo};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(filt(KVM_FILTER_VIEW_ONLY, bad[i], len[i], NULL, &d),
                     MESH_E_MALFORMED);
    assert_int_equal(filt(KVM_FILTER_LIMITED, bad[i], len[i], NULL, &d),
                     MESH_E_MALFORMED);
    /* Full rights: never parsed, so never refused. */
    assert_int_equal(filt(KVM_FILTER_OFF, bad[i], len[i], NULL, &d), len[i]);
  }
  /* An empty message holds no command and passes as it is. */
  assert_int_equal(filt(KVM_FILTER_VIEW_ONLY, NULL, 0, NULL, &d), 0);
  assert_int_equal(d, 0);
}

/* Every prefix of a message of several commands, as if it had arrived
 * cut there (one byte at a time): a cut at a command boundary is a
 * shorter valid message, any other cut is refused. */
static void every_prefix(void **state) {
  (void)state;
  uint8_t msg[64], out[64];
  size_t n = 0, bounds[8], nb = 0;
  const struct cmd *seq[] = {&cmds[1], &cmds[0], &cmds[9], &cmds[12], &cmds[5]};
  bounds[nb++] = 0;
  for (size_t i = 0; i < 5; i++) {
    memcpy(msg + n, seq[i]->p, seq[i]->n);
    n += seq[i]->n;
    bounds[nb++] = n;
  }
  for (size_t k = 0; k <= n; k++) {
    int at_bound = 0;
    size_t cmds_in = 0;
    for (size_t b = 0; b < nb; b++)
      if (bounds[b] == k) at_bound = 1, cmds_in = b;
    for (int m = KVM_FILTER_VIEW_ONLY; m <= KVM_FILTER_LIMITED; m++) {
      size_t d;
      ssize_t r = filt(m, msg, k, out, &d);
      if (!at_bound) {
        assert_int_equal(r, MESH_E_MALFORMED);
        continue;
      }
      size_t want = 0, wd = 0;
      for (size_t i = 0; i < cmds_in; i++) {
        if (m == KVM_FILTER_LIMITED ? seq[i]->limited : seq[i]->view_only)
          want += seq[i]->n;
        else
          wd++;
      }
      assert_int_equal(r, want);
      assert_int_equal(d, wd);
    }
  }
}

/* Bit flips and cuts of a valid message: never a crash, never more
 * bytes out than in, and what comes out passes again unchanged. */
static void mutations(void **state) {
  (void)state;
  uint8_t base[64], msg[64], out[64], again[64];
  size_t n = 0;
  for (size_t i = 0; i < 6; i++) {
    memcpy(base + n, cmds[i * 3].p, cmds[i * 3].n);
    n += cmds[i * 3].n;
  }
  for (int iter = 0; iter < 20000; iter++) {
    memcpy(msg, base, n);
    size_t len = n - tu_rand() % 4;
    for (int f = 1 + (int)(tu_rand() % 3); f > 0; f--)
      msg[tu_rand() % len] ^= (uint8_t)(1u << (tu_rand() % 8));
    int m = 1 + (int)(tu_rand() % 2);
    size_t d, d2;
    ssize_t r = filt(m, msg, len, out, &d);
    if (r < 0) {
      assert_int_equal(r, MESH_E_MALFORMED);
      continue;
    }
    assert_true((size_t)r <= len);
    assert_int_equal(filt(m, out, (size_t)r, again, &d2), r);
    assert_int_equal(d2, 0);
    assert_memory_equal(out, again, (size_t)r);
  }
}

static void protocol_selection(void **state) {
  (void)state;
  int p = -1;
  const char *opts = "{\"type\":\"options\"}";
  assert_int_equal(
      kvm_filter_selection((const uint8_t *)opts, strlen(opts), &p), 1);
  assert_int_equal(p, -1);
  assert_int_equal(kvm_filter_selection((const uint8_t *)"2", 1, &p), 0);
  assert_int_equal(p, 2);
  assert_int_equal(kvm_filter_selection((const uint8_t *)"10", 2, &p), 0);
  assert_int_equal(p, 10);
  assert_int_equal(kvm_filter_selection((const uint8_t *)"999999", 6, &p), 0);
  assert_int_equal(p, 999999);
  const char *bad[] = {"",   " 2",  "2 ",      "2x", "+2",  "-2",
                       "{}", "{2}", "1234567", "0",  "000", "\0"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    size_t n = i == sizeof bad / sizeof bad[0] - 1 ? 1 : strlen(bad[i]);
    p = -1;
    uint8_t *g = tu_guard_copy(bad[i], n);
    assert_int_equal(kvm_filter_selection(g, n, &p), MESH_E_MALFORMED);
    tu_guard_free(g, n);
    assert_int_equal(p, -1);
  }
  /* Binary KVM bytes are no selection. */
  assert_int_equal(kvm_filter_selection(refresh, sizeof refresh, &p),
                   MESH_E_MALFORMED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(modes_follow_the_rights),
      cmocka_unit_test(each_command_alone),
      cmocka_unit_test(several_commands_in_one_message),
      cmocka_unit_test(the_spec_examples),
      cmocka_unit_test(malformed_messages),
      cmocka_unit_test(every_prefix),
      cmocka_unit_test(mutations),
      cmocka_unit_test(protocol_selection),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
