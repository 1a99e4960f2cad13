#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "agent/consent.h"

static void kinds_of_protocols(void **state) {
  (void)state;
  static const int term[] = {1, 6, 8, 9};
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(consent_kind_of(term[i]), CONSENT_KIND_TERMINAL);
  assert_int_equal(consent_kind_of(2), CONSENT_KIND_DESKTOP);
  assert_int_equal(consent_kind_of(5), CONSENT_KIND_FILES);
  static const int none[] = {0, 3, 4, 7, 10, 11, 100, 999999, -1};
  for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
    assert_int_equal(consent_kind_of(none[i]), CONSENT_KIND_NONE);
}

/* Every bit applies to its own kind only (spec §9.2). */
static void bits_per_kind(void **state) {
  (void)state;
  static const struct {
    uint32_t bits;
    int proto, prompt, notify, bar;
  } v[] = {
      {0x08, 2, 1, 0, 0}, {0x08, 1, 0, 0, 0}, {0x08, 5, 0, 0, 0},
      {0x10, 1, 1, 0, 0}, {0x10, 8, 1, 0, 0}, {0x10, 9, 1, 0, 0},
      {0x10, 6, 1, 0, 0}, {0x10, 2, 0, 0, 0}, {0x20, 5, 1, 0, 0},
      {0x20, 1, 0, 0, 0}, {0x01, 2, 0, 1, 0}, {0x01, 1, 0, 0, 0},
      {0x02, 1, 0, 1, 0}, {0x02, 5, 0, 0, 0}, {0x04, 5, 0, 1, 0},
      {0x04, 2, 0, 0, 0}, {0x40, 2, 0, 0, 1}, {0x40, 1, 0, 0, 0},
      {0x40, 5, 0, 0, 0}, {0x7f, 2, 1, 1, 1}, {0x7f, 1, 1, 1, 0},
      {0x7f, 5, 1, 1, 0}, {0x00, 2, 0, 0, 0}, {0x7f, 7, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    struct consent_plan p;
    consent_plan(v[i].bits, v[i].proto, NULL, 1, "bob", "Bob B", NULL, &p);
    assert_int_equal(p.prompt, v[i].prompt);
    assert_int_equal(p.notify, v[i].notify);
    assert_int_equal(p.privacy_bar, v[i].bar);
    assert_null(p.deny);
  }
}

static void default_texts(void **state) {
  (void)state;
  struct consent_plan p;
  consent_plan(0x08, 2, NULL, 1, "bob", "Bob B", NULL, &p);
  assert_string_equal(p.title, "Remote access request");
  assert_string_equal(p.text,
                      "Bob B (bob) wants to control this computer's desktop.");
  assert_string_equal(p.bar, "Bob B (bob) is viewing this desktop");
  assert_int_equal(p.timeout_s, 30);
  consent_plan(0x10, 1, NULL, 1, "bob", NULL, NULL, &p);
  assert_string_equal(p.text, "bob wants to control this computer's terminal.");
  consent_plan(0x20, 5, NULL, 1, "bob", "bob", NULL, &p);
  assert_string_equal(p.text, "bob wants to access this computer's files.");
  consent_plan(0x04, 5, NULL, 1, "bob", "Bob", NULL, &p);
  assert_string_equal(p.text,
                      "Bob (bob) started a remote file session on this "
                      "computer.");
  consent_plan(0x40, 2, NULL, 1, "bob", "Bob", "{0} here ({1})", &p);
  assert_string_equal(p.bar, "Bob here (bob)");
}

static void soptions_texts_and_timeout(void **state) {
  (void)state;
  struct consent_plan p;
  json_t *so = json_pack("{s:s, s:s, s:s, s:i, s:s}", "consentTitle", "Acme IT",
                         "consentMsgDesktop", "{0} aka {1} / {0} wants in",
                         "consentMsgTerminal", "T {1}", "consentTimeout", 7,
                         "notifyMsgFiles", "files: {0}");
  consent_plan(0x08, 2, so, 1, "bob", "Bob", NULL, &p);
  assert_string_equal(p.title, "Acme IT");
  assert_string_equal(p.text, "Bob aka bob / Bob wants in");
  assert_int_equal(p.timeout_s, 7);
  consent_plan(0x10, 9, so, 1, "bob", "Bob", NULL, &p);
  assert_string_equal(p.text, "T bob");
  consent_plan(0x04, 5, so, 1, "bob", "Bob", NULL, &p);
  assert_string_equal(p.text, "files: Bob");
  assert_string_equal(p.toast_title, "Remote session");
  json_object_set_new(so, "notifyTitle", json_string("Acme notice"));
  consent_plan(0x04, 5, so, 1, "bob", "Bob", NULL, &p);
  assert_string_equal(p.toast_title, "Acme notice");
  /* Out of range timeouts are clamped; a non-number is ignored. */
  json_object_set_new(so, "consentTimeout", json_integer(0));
  consent_plan(0x08, 2, so, 1, "b", NULL, NULL, &p);
  assert_int_equal(p.timeout_s, 1);
  json_object_set_new(so, "consentTimeout", json_integer(100000));
  consent_plan(0x08, 2, so, 1, "b", NULL, NULL, &p);
  assert_int_equal(p.timeout_s, CONSENT_TIMEOUT_MAX_S);
  json_object_set_new(so, "consentTimeout", json_string("5"));
  consent_plan(0x08, 2, so, 1, "b", NULL, NULL, &p);
  assert_int_equal(p.timeout_s, 30);
  assert_int_equal(p.timeout_allow, 0);
  json_object_set_new(so, "consentAutoAccept", json_true());
  consent_plan(0x08, 2, so, 1, "b", NULL, NULL, &p);
  assert_int_equal(p.timeout_allow, 0); /* only with oldStyle */
  json_object_set_new(so, "oldStyle", json_true());
  consent_plan(0x08, 2, so, 1, "b", NULL, NULL, &p);
  assert_int_equal(p.timeout_allow, 1);
  json_decref(so);
}

/* No display: a prompt is a refusal unless the right option says yes;
 * nothing is shown either way. */
static void no_display(void **state) {
  (void)state;
  struct consent_plan p;
  consent_plan(0x7f, 2, NULL, 0, "bob", NULL, NULL, &p);
  assert_non_null(p.deny);
  assert_non_null(strstr(p.deny, "no display"));
  assert_int_equal(p.prompt | p.notify | p.privacy_bar, 0);
  /* Notify only: nothing to refuse. */
  consent_plan(0x47, 2, NULL, 0, "bob", NULL, NULL, &p);
  assert_null(p.deny);
  assert_int_equal(p.prompt | p.notify | p.privacy_bar, 0);
  static const struct {
    const char *key;
    int proto, accepts;
  } v[] = {
      {"consentAutoAcceptIfNoUser", 2, 1},
      {"consentAutoAcceptIfNoUser", 1, 1},
      {"consentAutoAcceptIfNoUser", 5, 1},
      {"consentAutoAcceptIfDesktopNoUser", 2, 1},
      {"consentAutoAcceptIfDesktopNoUser", 1, 0},
      {"consentAutoAcceptIfTerminalNoUser", 8, 1},
      {"consentAutoAcceptIfTerminalNoUser", 5, 0},
      {"consentAutoAcceptIfFileNoUser", 5, 1},
      {"consentAutoAcceptIfFileNoUser", 2, 0},
      /* The stock server's spelling (spec §2.4) works here too. */
      {"consentAautoAcceptIfFileNoUser", 5, 1},
      {"consentAautoAcceptIfFileNoUser", 1, 0},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    json_t *so = json_pack("{s:b}", v[i].key, 1);
    consent_plan(0x38, v[i].proto, so, 0, "bob", NULL, NULL, &p);
    assert_int_equal(p.deny == NULL, v[i].accepts);
    assert_int_equal(p.prompt, 0);
    json_decref(so);
    /* With a display the options change nothing: the user is asked. */
    so = json_pack("{s:b}", v[i].key, 1);
    consent_plan(0x38, v[i].proto, so, 1, "bob", NULL, NULL, &p);
    assert_int_equal(p.prompt, 1);
    json_decref(so);
  }
  /* false is not true. */
  json_t *so = json_pack("{s:b}", "consentAutoAcceptIfNoUser", 0);
  consent_plan(0x08, 2, so, 0, "bob", NULL, NULL, &p);
  assert_non_null(p.deny);
  json_decref(so);
}

static void formats(void **state) {
  (void)state;
  char out[16];
  consent_format("{0}-{1}-{2}-{0", "a", "bb", out, sizeof out);
  assert_string_equal(out, "a-bb-{2}-{0");
  consent_format("{0}{0}{0}{0}", "abcdef", "", out, sizeof out);
  assert_string_equal(out, "abcdefabcdefabc");
  consent_format("xyz", "", "", out, 1);
  assert_string_equal(out, "");
  consent_format("{1}", "a", "0123456789abcdefghij", out, sizeof out);
  assert_int_equal(strlen(out), 15);
}

/* The prompt over a fake clock. */
static void state_machine(void **state) {
  (void)state;
  struct consent_sm m;
  consent_sm_start(&m, 1000, 30, 0);
  assert_int_equal(consent_sm_left(&m, 1000), 30);
  assert_int_equal(consent_sm_left(&m, 1001), 30);
  assert_int_equal(consent_sm_left(&m, 30000), 1);
  assert_int_equal(consent_sm_left(&m, 29999), 2);
  assert_int_equal(consent_sm_feed(&m, CONSENT_EV_TICK, 30999),
                   CONSENT_PENDING);
  assert_int_equal(consent_sm_feed(&m, CONSENT_EV_TICK, 31000), CONSENT_DENIED);
  assert_string_equal(m.reason,
                      "The local user did not answer within 30 seconds");
  /* Final: nothing changes it. */
  assert_int_equal(consent_sm_feed(&m, CONSENT_EV_ALLOW, 31001),
                   CONSENT_DENIED);
  assert_int_equal(consent_sm_left(&m, 40000), 0);

  consent_sm_start(&m, 0, 5, 1); /* oldStyle + consentAutoAccept */
  assert_int_equal(consent_sm_feed(&m, CONSENT_EV_TICK, 5000), CONSENT_ALLOWED);

  consent_sm_start(&m, 0, 5, 0);
  assert_int_equal(consent_sm_feed(&m, CONSENT_EV_ALLOW, 4999),
                   CONSENT_ALLOWED);
  assert_int_equal(consent_sm_feed(&m, CONSENT_EV_TICK, 9999), CONSENT_ALLOWED);
  assert_int_equal(consent_sm_feed(&m, CONSENT_EV_DENY, 9999), CONSENT_ALLOWED);

  static const struct {
    enum consent_event ev;
    const char *reason;
  } d[] = {
      {CONSENT_EV_DENY, "The local user denied access"},
      {CONSENT_EV_CLOSE, "The local user closed the access request"},
      {CONSENT_EV_LOST, "The local display went away before the user answered"},
  };
  for (size_t i = 0; i < 3; i++) {
    consent_sm_start(&m, 0, 5, 1);
    assert_int_equal(consent_sm_feed(&m, d[i].ev, 1), CONSENT_DENIED);
    assert_string_equal(m.reason, d[i].reason);
    assert_int_equal(consent_sm_feed(&m, CONSENT_EV_TICK, 99999),
                     CONSENT_DENIED);
  }
  /* A zero timeout falls back to the default. */
  consent_sm_start(&m, 0, 0, 0);
  assert_int_equal(consent_sm_left(&m, 0), CONSENT_TIMEOUT_DEFAULT_S);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(kinds_of_protocols),
      cmocka_unit_test(bits_per_kind),
      cmocka_unit_test(default_texts),
      cmocka_unit_test(soptions_texts_and_timeout),
      cmocka_unit_test(no_display),
      cmocka_unit_test(formats),
      cmocka_unit_test(state_machine),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
