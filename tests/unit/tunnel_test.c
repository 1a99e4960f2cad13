#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "agent/tunnel.h"
#include "base/err.h"
#include "base/mesh_limits.h"

static void builds_relay_urls(void **state) {
  (void)state;
  static const struct {
    const char *ctrl, *value, *url;
  } v[] = {
      {"wss://host:4443/agent.ashx", "*/meshrelay.ashx?p=1&id=x",
       "wss://host:4443/meshrelay.ashx?p=1&id=x"},
      /* $ and @ from B64MC ids and cookies are escaped (spec §2.5). */
      {"wss://h:1/agent.ashx", "*/meshrelay.ashx?nodeid=node//a$b@c&rauth=X@Y$",
       "wss://h:1/meshrelay.ashx?nodeid=node//a%24b%40c&rauth=X%40Y%24"},
      {"wss://h/agent.ashx", "*/d/meshrelay.ashx", "wss://h/d/meshrelay.ashx"},
      {"wss://[::1]:5/agent.ashx", "*/r", "wss://[::1]:5/r"},
      {"wss://h:1", "*/r", "wss://h:1/r"},
      {"wss://a/agent.ashx", "wss://b:2/meshrelay.ashx?x=$",
       "wss://b:2/meshrelay.ashx?x=%24"},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    const char *why = NULL;
    char *u = tunnel_relay_url(v[i].ctrl, v[i].value, &why);
    assert_non_null(u);
    assert_string_equal(u, v[i].url);
    free(u);
  }
}

static void refuses_bad_relay_urls(void **state) {
  (void)state;
  static const struct {
    const char *value, *why;
  } v[] = {
      {"http://h/x", "relay URL must start with */ or wss://"},
      {"/meshrelay.ashx", "relay URL must start with */ or wss://"},
      {"", "relay URL must start with */ or wss://"},
      {"*/a b", "relay URL has a control character"},
      {"*/a\r\nX: y", "relay URL has a control character"},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    const char *why = NULL;
    assert_null(tunnel_relay_url("wss://h:1/agent.ashx", v[i].value, &why));
    assert_string_equal(why, v[i].why);
  }
  const char *why = NULL;
  assert_null(tunnel_relay_url("nourl", "*/x", &why));
  char *big = malloc(MESH_HTTP_MAX_URL + 8);
  memset(big, 'a', MESH_HTTP_MAX_URL + 7);
  big[0] = '*';
  big[1] = '/';
  big[MESH_HTTP_MAX_URL + 7] = 0;
  assert_null(tunnel_relay_url("wss://h:1/agent.ashx", big, &why));
  assert_string_equal(why, "relay URL too long");
  free(big);
}

static void parses_servertlshash(void **state) {
  (void)state;
  uint8_t h[48];
  char hex[200];
  for (int i = 0; i < 48; i++) {
    static const char d[] = "0123456789abcdef";
    hex[2 * i] = d[(i * 7) >> 4 & 15];
    hex[2 * i + 1] = d[(i * 7) & 15];
  }
  hex[96] = 0;
  assert_int_equal(tunnel_parse_hash(hex, h), 0);
  assert_int_equal(h[1], 7);
  assert_int_equal(h[47], (47 * 7) & 255);
  /* Upper case and colons are fine too. */
  char up[200] = "";
  for (int i = 0; i < 96; i += 2) {
    size_t n = strlen(up);
    up[n] = (char)(hex[i] >= 'a' ? hex[i] - 32 : hex[i]);
    up[n + 1] = (char)(hex[i + 1] >= 'a' ? hex[i + 1] - 32 : hex[i + 1]);
    up[n + 2] = i < 94 ? ':' : 0;
    up[n + 3] = 0;
  }
  uint8_t h2[48];
  assert_int_equal(tunnel_parse_hash(up, h2), 0);
  assert_memory_equal(h, h2, 48);
  hex[95] = 0; /* odd length */
  assert_int_equal(tunnel_parse_hash(hex, h), MESH_E_MALFORMED);
  hex[95] = 'g';
  assert_int_equal(tunnel_parse_hash(hex, h), MESH_E_MALFORMED);
  assert_int_equal(tunnel_parse_hash("", h), MESH_E_MALFORMED);
  char longer[200];
  memset(longer, 'a', 98);
  longer[98] = 0;
  assert_int_equal(tunnel_parse_hash(longer, h), MESH_E_MALFORMED);
}

static void judges_rights(void **state) {
  (void)state;
  const uint32_t RC = MESH_RIGHT_REMOTECONTROL;
  /* Terminal: 1, 6, 8, 9. */
  for (int p = 1; p <= 9; p++) {
    if (p != 1 && p != 6 && p != 8 && p != 9) continue;
    assert_null(tunnel_rights_refusal(p, RC));
    assert_null(tunnel_rights_refusal(p, MESH_RIGHT_ADMIN));
    assert_non_null(tunnel_rights_refusal(p, 0));
    assert_non_null(tunnel_rights_refusal(p, 0x100)); /* view only */
    assert_non_null(tunnel_rights_refusal(p, RC | MESH_RIGHT_NOTERMINAL));
    assert_null(tunnel_rights_refusal(p, RC | MESH_RIGHT_NOFILES));
  }
  assert_null(tunnel_rights_refusal(5, RC));
  assert_null(tunnel_rights_refusal(5, RC | MESH_RIGHT_NOTERMINAL));
  assert_non_null(tunnel_rights_refusal(5, RC | MESH_RIGHT_NOFILES));
  assert_non_null(tunnel_rights_refusal(5, MESH_RIGHT_NOFILES));
  assert_null(tunnel_rights_refusal(5, MESH_RIGHT_ADMIN));
  assert_string_equal(tunnel_rights_refusal(1, RC | MESH_RIGHT_NOTERMINAL),
                      "no terminal rights on this device");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(builds_relay_urls),
      cmocka_unit_test(refuses_bad_relay_urls),
      cmocka_unit_test(parses_servertlshash),
      cmocka_unit_test(judges_rights),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
