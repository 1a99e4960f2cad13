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
#include "proto/sdp.h"
#include "testutil.h"

#define FP_A                                                              \
  "7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:" \
  "43:F0:A1:58:D0:A1:2C:19:08"
#define FP_B                                                              \
  "5a:1c:09:e4:33:7d:c2:aa:10:4b:9e:6f:02:d8:71:3c:4e:90:bb:12:7f:e6:05:" \
  "c9:38:d4:2b:a1:66:0f:e3:87"

/* Chrome's data-channel-only offer as the stock viewer sends it: the
 * candidates gathered afterwards appended as "a=candidate:..." lines, host
 * candidates behind mDNS names, one TCP and one IPv6 candidate, a srflx. */
static const char chrome_offer[] =
    "v=0\r\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=msid-semantic: WMS\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:Fy3b\r\n"
    "a=ice-pwd:KzWqZBmFpnrGIa6cVZ6oAsXm\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 " FP_A
    "\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=sctp-port:5000\r\n"
    "a=max-message-size:262144\r\n"
    "a=candidate:3442447574 1 udp 2122260223 "
    "4e3a2f4b-3f1c-4a3d-9c0e-2f1d6b7a8c9d.local 54400 typ host generation 0 "
    "network-id 1 network-cost 10\r\n"
    "a=candidate:2713245045 1 tcp 1518280447 "
    "4e3a2f4b-3f1c-4a3d-9c0e-2f1d6b7a8c9d.local 9 typ host tcptype active "
    "generation 0 network-id 1 network-cost 10\r\n"
    "a=candidate:1221428731 1 udp 2122197247 "
    "2001:db8::5c1f:a3ff:fe21:9d7e 54401 typ host generation 0 network-id 2\r\n"
    "a=candidate:1853887674 1 udp 1686052607 203.0.113.7 54400 typ srflx "
    "raddr 0.0.0.0 rport 0 generation 0 network-id 1 network-cost 10\r\n";

/* Firefox: the fingerprint at session level, ICE credentials after the
 * candidates, LF-only line ends (a proxy may rewrite them), plain IPv4 host
 * candidates, a candidate for component 2. */
static const char firefox_offer[] =
    "v=0\n"
    "o=mozilla...THIS_IS_SDPARTA-115.0 5139392462958356298 0 IN IP4 0.0.0.0\n"
    "s=-\n"
    "t=0 0\n"
    "a=sendrecv\n"
    "a=fingerprint:sha-256 " FP_B
    "\n"
    "a=group:BUNDLE 0\n"
    "a=ice-options:trickle\n"
    "a=msid-semantic:WMS *\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"
    "c=IN IP4 0.0.0.0\n"
    "a=candidate:0 1 UDP 2122252543 192.168.1.20 49731 typ host\n"
    "a=candidate:2 1 TCP 2105524479 192.168.1.20 9 typ host tcptype active\n"
    "a=candidate:1 1 UDP 1686052863 198.51.100.4 49731 typ srflx raddr "
    "192.168.1.20 rport 49731\n"
    "a=candidate:4 2 UDP 2122252542 192.168.1.20 49732 typ host\n"
    "a=sendrecv\n"
    "a=end-of-candidates\n"
    "a=ice-pwd:2a9f0c1d6e5b4a3f8e7d6c5b4a392817\n"
    "a=ice-ufrag:8f3e2d1c\n"
    "a=mid:0\n"
    "a=setup:actpass\n"
    "a=sctp-port:5000\n"
    "a=max-message-size:1073741823\n";

/* The old form (Chrome before M71, the stock agent's own answers):
 * DTLS/SCTP with the port as the format, a=sctpmap, no mid. */
static const char old_offer[] =
    "v=0\r\n"
    "o=- 123 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=ice-ufrag:sessUFRAG\r\n"
    "a=ice-pwd:sessionpasswordsessionpw\r\n"
    "a=fingerprint:sha-256 " FP_A
    "\r\n"
    "m=application 1 DTLS/SCTP 5001\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=sctpmap:5002 webrtc-datachannel 1024\r\n"
    "a=setup:active\r\n"
    "a=candidate:1 1 UDP 2130706431 10.0.0.5 40000 typ host\r\n";

static const uint8_t fp_a[SDP_FP_LEN] = {
    0x7B, 0x8B, 0xF0, 0x65, 0x5F, 0x78, 0xE2, 0x51, 0x3B, 0xAC, 0x6F,
    0xF3, 0x3F, 0x46, 0x1B, 0x35, 0xDC, 0xB8, 0x5F, 0x64, 0x1A, 0x24,
    0xC2, 0x43, 0xF0, 0xA1, 0x58, 0xD0, 0xA1, 0x2C, 0x19, 0x08};

static struct sdp_desc d; /* big; one per test program is plenty */

static void parses_chrome_offer(void **state) {
  (void)state;
  const char *why = "x";
  assert_int_equal(
      sdp_parse_offer(chrome_offer, strlen(chrome_offer), &d, &why), 0);
  assert_null(why);
  assert_string_equal(d.ufrag, "Fy3b");
  assert_string_equal(d.pwd, "KzWqZBmFpnrGIa6cVZ6oAsXm");
  assert_memory_equal(d.fingerprint, fp_a, SDP_FP_LEN);
  assert_int_equal(d.setup, SDP_SETUP_ACTPASS);
  assert_string_equal(d.mid, "0");
  assert_int_equal(d.legacy, 0);
  assert_int_equal(d.media_port, 9);
  assert_int_equal(d.sctp_port, 5000);
  assert_true(d.has_max_message_size);
  assert_int_equal(d.max_message_size, 262144);
  assert_int_equal(d.n_candidates, 1);
  assert_string_equal(d.candidates[0].foundation, "1853887674");
  assert_int_equal(d.candidates[0].priority, 1686052607u);
  assert_memory_equal(d.candidates[0].ip, ((uint8_t[]){203, 0, 113, 7}), 4);
  assert_int_equal(d.candidates[0].port, 54400);
  assert_int_equal(d.candidates[0].type, SDP_CAND_SRFLX);
  assert_int_equal(d.dropped_mdns, 1);
  assert_int_equal(d.dropped_tcp, 1);
  assert_int_equal(d.dropped_ipv6, 1);
  assert_int_equal(d.dropped_component + d.dropped_malformed, 0);
}

static void parses_firefox_offer(void **state) {
  (void)state;
  uint8_t fp_b[SDP_FP_LEN];
  assert_int_equal(sdp_fingerprint_parse(FP_B, strlen(FP_B), fp_b), 0);
  assert_int_equal(fp_b[0], 0x5a);
  assert_int_equal(fp_b[31], 0x87);
  assert_int_equal(
      sdp_parse_offer(firefox_offer, strlen(firefox_offer), &d, NULL), 0);
  assert_string_equal(d.ufrag, "8f3e2d1c");
  assert_string_equal(d.pwd, "2a9f0c1d6e5b4a3f8e7d6c5b4a392817");
  assert_memory_equal(d.fingerprint, fp_b, SDP_FP_LEN);
  assert_string_equal(d.mid, "0");
  assert_int_equal(d.max_message_size, 1073741823);
  assert_int_equal(d.n_candidates, 2);
  assert_memory_equal(d.candidates[0].ip, ((uint8_t[]){192, 168, 1, 20}), 4);
  assert_int_equal(d.candidates[0].type, SDP_CAND_HOST);
  assert_int_equal(d.candidates[0].port, 49731);
  assert_string_equal(d.candidates[1].foundation, "1");
  assert_int_equal(d.candidates[1].type, SDP_CAND_SRFLX);
  assert_int_equal(d.dropped_tcp, 1);
  assert_int_equal(d.dropped_component, 1);
}

static void parses_old_offer(void **state) {
  (void)state;
  assert_int_equal(sdp_parse_offer(old_offer, strlen(old_offer), &d, NULL), 0);
  assert_int_equal(d.legacy, 1);
  assert_int_equal(d.media_port, 1);
  assert_int_equal(d.sctp_port, 5002); /* a=sctpmap wins over the format */
  assert_string_equal(d.mid, "");
  assert_false(d.has_max_message_size);
  assert_string_equal(d.ufrag, "sessUFRAG"); /* session level */
  assert_int_equal(d.setup, SDP_SETUP_ACTIVE);
  assert_int_equal(d.n_candidates, 1);
  assert_int_equal(d.candidates[0].port, 40000);
  /* Without a=sctpmap the format is the port. */
  char *t = strdup(old_offer);
  char *s = strstr(t, "a=sctpmap");
  memcpy(s, "a=xxxxxxx", 9);
  assert_int_equal(sdp_parse(t, strlen(t), &d, NULL), 0);
  assert_int_equal(d.sctp_port, 5001);
  free(t);
}

/* Replaces the first occurrence of from in base with to; returns a malloc'd
 * text. */
static char *edit(const char *base, const char *from, const char *to) {
  const char *s = strstr(base, from);
  assert_non_null(s);
  size_t n = strlen(base) - strlen(from) + strlen(to);
  char *t = malloc(n + 1);
  size_t pre = (size_t)(s - base);
  memcpy(t, base, pre);
  strcpy(t + pre, to);
  strcat(t, s + strlen(from));
  return t;
}

static int parse_edit(const char *base, const char *from, const char *to,
                      const char **why) {
  char *t = edit(base, from, to);
  int r = sdp_parse_offer(t, strlen(t), &d, why);
  free(t);
  return r;
}

static void media_level_overrides_session(void **state) {
  (void)state;
  /* Session-level values that the section's own lines override. */
  char *t = edit(chrome_offer, "a=group:BUNDLE 0\r\n",
                 "a=ice-ufrag:SESS\r\na=ice-pwd:sessionsessionsessionXX\r\n"
                 "a=setup:passive\r\na=fingerprint:sha-256 " FP_B "\r\n");
  assert_int_equal(sdp_parse_offer(t, strlen(t), &d, NULL), 0);
  assert_string_equal(d.ufrag, "Fy3b");
  assert_string_equal(d.pwd, "KzWqZBmFpnrGIa6cVZ6oAsXm");
  assert_memory_equal(d.fingerprint, fp_a, SDP_FP_LEN);
  assert_int_equal(d.setup, SDP_SETUP_ACTPASS);
  free(t);
  /* A second section before ours does not count, nor do its lines. */
  t = edit(chrome_offer, "m=application 9",
           "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:AUDI\r\n"
           "a=mid:audio\r\na=candidate:1 1 udp 1 10.0.0.1 1 typ host\r\n"
           "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"
           "a=mid:rejected\r\nm=application 9");
  assert_int_equal(sdp_parse_offer(t, strlen(t), &d, NULL), 0);
  assert_string_equal(d.ufrag, "Fy3b");
  assert_string_equal(d.mid, "0");
  assert_int_equal(d.n_candidates, 1);
  free(t);
  /* A session-level a=setup:active with none in the section; none at all
   * means actpass. */
  t = edit(chrome_offer, "a=setup:actpass\r\n", "");
  assert_int_equal(sdp_parse_offer(t, strlen(t), &d, NULL), 0);
  assert_int_equal(d.setup, SDP_SETUP_ACTPASS);
  char *u = edit(t, "s=-\r\n", "s=-\r\na=setup:active\r\n");
  assert_int_equal(sdp_parse_offer(u, strlen(u), &d, NULL), 0);
  assert_int_equal(d.setup, SDP_SETUP_ACTIVE);
  free(u);
  free(t);
}

/* The attribute lines of the section in another order parse the same
 * (candidates keep their own relative order so the arrays compare). */
static void line_order_is_irrelevant(void **state) {
  (void)state;
  static struct sdp_desc ref;
  assert_int_equal(sdp_parse(chrome_offer, strlen(chrome_offer), &ref, NULL),
                   0);
  char *lines[32], *cands[8];
  size_t nl = 0, nc = 0;
  char *t = strdup(chrome_offer), *save = NULL;
  char *m = strstr(t, "c=IN");
  m[-1] = '\0'; /* head: everything up to the m-line */
  for (char *l = strtok_r(m, "\r\n", &save); l;
       l = strtok_r(NULL, "\r\n", &save)) {
    if (strncmp(l, "a=candidate", 11) == 0)
      cands[nc++] = l;
    else
      lines[nl++] = l;
  }
  for (int round = 0; round < 50; round++) {
    for (size_t i = nl - 1; i > 0; i--) {
      size_t j = tu_rand() % (i + 1);
      char *x = lines[i];
      lines[i] = lines[j];
      lines[j] = x;
    }
    char buf[4096];
    size_t off = (size_t)snprintf(buf, sizeof buf, "%s\n", t);
    size_t ci = 0;
    for (size_t i = 0; i < nl; i++) {
      if (ci < nc && tu_rand() % 2)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s\r\n",
                                cands[ci++]);
      off += (size_t)snprintf(buf + off, sizeof buf - off, "%s\r\n", lines[i]);
    }
    while (ci < nc)
      off +=
          (size_t)snprintf(buf + off, sizeof buf - off, "%s\r\n", cands[ci++]);
    assert_int_equal(sdp_parse(buf, off, &d, NULL), 0);
    assert_memory_equal(&d, &ref, sizeof d);
  }
  free(t);
}

static void expect_refusal(const char *from, const char *to, int code,
                           const char *why_part) {
  const char *why = NULL;
  assert_int_equal(parse_edit(chrome_offer, from, to, &why), code);
  assert_non_null(why);
  if (!strstr(why, why_part))
    fail_msg("why=\"%s\" lacks \"%s\"", why, why_part);
  /* Out-parameters are cleared on failure. */
  assert_int_equal(d.ufrag[0], 0);
  assert_int_equal(d.n_candidates, 0);
}

static void refuses_bad_offers(void **state) {
  (void)state;
  const char *fp_line = "a=fingerprint:sha-256 " FP_A "\r\n";
  expect_refusal("m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
                 "m=audio 9 UDP/TLS/RTP/SAVPF 111", MESH_E_MALFORMED,
                 "m=application");
  expect_refusal("m=application 9", "m=application 0", MESH_E_MALFORMED,
                 "m=application");
  expect_refusal("UDP/DTLS/SCTP", "TCP/DTLS/SCTP", MESH_E_MALFORMED,
                 "m=application");
  expect_refusal("a=ice-ufrag:Fy3b\r\n", "", MESH_E_MALFORMED,
                 "no a=ice-ufrag");
  expect_refusal("a=ice-ufrag:Fy3b", "a=ice-ufrag:Fy3", MESH_E_MALFORMED,
                 "bad a=ice-ufrag");
  expect_refusal("a=ice-ufrag:Fy3b", "a=ice-ufrag:Fy 3b", MESH_E_MALFORMED,
                 "bad a=ice-ufrag");
  expect_refusal("a=ice-pwd:KzWqZBmFpnrGIa6cVZ6oAsXm\r\n", "", MESH_E_MALFORMED,
                 "no a=ice-pwd");
  expect_refusal("a=ice-pwd:KzWqZBmFpnrGIa6cVZ6oAsXm", "a=ice-pwd:short",
                 MESH_E_MALFORMED, "bad a=ice-pwd");
  expect_refusal(fp_line, "", MESH_E_MALFORMED, "no a=fingerprint");
  expect_refusal("sha-256", "sha-1", MESH_E_MALFORMED, "not sha-256");
  expect_refusal(fp_line, "a=fingerprint:sha-512 AA:BB\r\n", MESH_E_MALFORMED,
                 "not sha-256");
  expect_refusal(":19:08\r\n", ":19\r\n", MESH_E_MALFORMED,
                 "malformed sha-256");
  expect_refusal(":19:08\r\n", ":19:0G\r\n", MESH_E_MALFORMED,
                 "malformed sha-256");
  expect_refusal("7B:8B", "7B-8B", MESH_E_MALFORMED, "malformed sha-256");
  expect_refusal(fp_line, "a=fingerprint:sha-256\r\n", MESH_E_MALFORMED,
                 "a=fingerprint");
  expect_refusal("a=setup:actpass", "a=setup:passive", MESH_E_INVALID,
                 "passive");
  expect_refusal("a=setup:actpass", "a=setup:holdconn", MESH_E_INVALID,
                 "passive");
  expect_refusal("a=setup:actpass", "a=setup:maybe", MESH_E_MALFORMED,
                 "a=setup");
  expect_refusal("a=mid:0", "a=mid:a b", MESH_E_MALFORMED, "a=mid");
  expect_refusal("a=mid:0", "a=mid:", MESH_E_MALFORMED, "a=mid");
  expect_refusal("a=sctp-port:5000", "a=sctp-port:65536", MESH_E_MALFORMED,
                 "sctp-port");
  expect_refusal("a=max-message-size:262144",
                 "a=max-message-size:99999999999999999999", MESH_E_MALFORMED,
                 "max-message-size");
  expect_refusal("a=max-message-size:262144", "a=max-message-size:-1",
                 MESH_E_MALFORMED, "max-message-size");
  expect_refusal("v=0", "v=1", MESH_E_MALFORMED, "v=0");
  expect_refusal("v=0\r\n", "\r\nv=0\r\n", MESH_E_MALFORMED, "v=0");

  /* A sha-1 fingerprint beside the sha-256 one is fine. */
  assert_int_equal(
      parse_edit(chrome_offer, fp_line,
                 "a=fingerprint:sha-1 AA:BB:CC\r\na=fingerprint:SHA-256 " FP_A
                 "\r\n",
                 NULL),
      0);
  assert_memory_equal(d.fingerprint, fp_a, SDP_FP_LEN);

  const char *why = NULL;
  char nul[] = "v=0\r\ns=\0x\r\n";
  assert_int_equal(sdp_parse(nul, sizeof nul - 1, &d, &why), MESH_E_MALFORMED);
  assert_non_null(strstr(why, "NUL"));
  assert_int_equal(sdp_parse("", 0, &d, &why), MESH_E_MALFORMED);
  assert_int_equal(sdp_parse(NULL, 0, &d, &why), MESH_E_INVALID);
  assert_int_equal(sdp_parse("v=0", 3, NULL, &why), MESH_E_INVALID);

  /* The size cap, both sides of it: padding lines are skipped. */
  static char big[SDP_MAX_BYTES + 1];
  size_t n = strlen(chrome_offer);
  memcpy(big, chrome_offer, n);
  memset(big + n, 'x', sizeof big - n);
  big[n] = 'x';
  big[n + 1] = '=';
  assert_int_equal(sdp_parse(big, SDP_MAX_BYTES, &d, &why), 0);
  assert_int_equal(sdp_parse(big, sizeof big, &d, &why), MESH_E_TOO_LARGE);
  assert_non_null(strstr(why, "64 KiB"));
}

static void candidate_lines(void **state) {
  (void)state;
  static const struct {
    const char *line;
    int kept;
  } v[] = {
      {"a=candidate:1 1 udp 100 10.1.2.3 9 typ host", 1},
      {"a=candidate:1 1 UDP 100 255.255.255.255 65535 typ relay raddr x", 1},
      {"a=candidate:a+/Z 1 udp 4294967295 0.0.0.1 1 typ prflx", 1},
      {"a=candidate:1  1\tudp 100 10.1.2.3 9 typ host", 1},
      {"a=candidate:1 1 udp 4294967296 10.1.2.3 9 typ host", 0},
      {"a=candidate:1 1 udp 0 10.1.2.3 9 typ host", 0},
      {"a=candidate:1 0 udp 100 10.1.2.3 9 typ host", 0},
      {"a=candidate:1 1 udp 100 10.1.2.3 0 typ host", 0},
      {"a=candidate:1 1 udp 100 10.1.2.3 65536 typ host", 0},
      {"a=candidate:1 1 udp 100 10.1.2.3 9 typ hostx", 0},
      {"a=candidate:1 1 udp 100 10.1.2.3 9 type host", 0},
      {"a=candidate:1 1 udp 100 10.1.2.3 9 typ", 0},
      {"a=candidate:1 1 sctp 100 10.1.2.3 9 typ host", 0},
      {"a=candidate:1 1 udp 100 10.1.2.256 9 typ host", 0},
      {"a=candidate:1 1 udp 100 10.1.2 9 typ host", 0},
      {"a=candidate:1 1 udp 100 10.01.2.3 9 typ host", 0},
      {"a=candidate:1 1 udp 100 10.1.2.3. 9 typ host", 0},
      {"a=candidate:1 1 udp 100 ::ffff:10.1.2.3 9 typ host", 0},
      {"a=candidate:x-y 1 udp 100 10.1.2.3 9 typ host", 0},
      {"a=candidate:123456789012345678901234567890123 1 udp 1 1.2.3.4 9 typ "
       "host",
       0},
      {"a=candidate:", 0},
      {"a=candidate", 0},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char line[256];
    snprintf(line, sizeof line, "a=max-message-size:262144\r\n%s\r\n",
             v[i].line);
    assert_int_equal(
        parse_edit(chrome_offer, "a=max-message-size:262144\r\n", line, NULL),
        0);
    if (d.n_candidates != 1u + (size_t)v[i].kept)
      fail_msg("%s: %zu candidates", v[i].line, d.n_candidates);
  }
  /* Past SDP_MAX_CANDIDATES usable ones are counted, not kept. */
  char many[SDP_MAX_CANDIDATES * 64 + 64];
  size_t off = 0;
  off += (size_t)snprintf(many, sizeof many, "a=mid:0\r\n");
  for (int i = 0; i < SDP_MAX_CANDIDATES + 3; i++)
    off += (size_t)snprintf(many + off, sizeof many - off,
                            "a=candidate:%d 1 udp 9 10.0.0.%d 9 typ host\r\n",
                            i, i);
  assert_int_equal(parse_edit(chrome_offer, "a=mid:0\r\n", many, NULL), 0);
  assert_int_equal(d.n_candidates, SDP_MAX_CANDIDATES);
  assert_int_equal(d.dropped_excess, 4); /* 3 + the srflx at the end */
}

/* Every prefix parses without reading past its end (guard page); those
 * that cut before the last required line are refused. */
static void truncated_at_every_byte(void **state) {
  (void)state;
  const char *texts[] = {chrome_offer, firefox_offer, old_offer};
  /* The shortest prefixes that hold every required field. */
  const char *needed[] = {"A1:2C:19:08", "a=ice-ufrag:8f3e", "DTLS/SCTP 5"};
  for (size_t t = 0; t < 3; t++) {
    size_t n = strlen(texts[t]);
    const char *last = strstr(texts[t], needed[t]);
    size_t min_ok = (size_t)(last - texts[t]) + strlen(needed[t]);
    for (size_t cut = 0; cut <= n; cut++) {
      uint8_t *g = tu_guard_copy(texts[t], cut);
      const char *why = NULL;
      int r = sdp_parse_offer((const char *)g, cut, &d, &why);
      if (cut < min_ok) {
        if (r == 0) fail_msg("text %zu cut at %zu parsed", t, cut);
        assert_non_null(why);
      }
      if (cut == n) assert_int_equal(r, 0);
      tu_guard_free(g, cut);
    }
  }
}

/* Each byte replaced by random values, random bit flips, and random
 * garbage of every length up to 512: never a crash, never a read past the
 * end, and a refusal always has a reason. */
static void garbage_and_mutations(void **state) {
  (void)state;
  size_t n = strlen(chrome_offer);
  uint8_t *m = malloc(n);
  for (size_t i = 0; i < n; i++) {
    for (int k = 0; k < 8; k++) {
      memcpy(m, chrome_offer, n);
      m[i] = (uint8_t)tu_rand();
      uint8_t *g = tu_guard_copy(m, n);
      const char *why = NULL;
      if (sdp_parse_offer((const char *)g, n, &d, &why) != 0)
        assert_non_null(why);
      tu_guard_free(g, n);
    }
  }
  for (int round = 0; round < 2000; round++) {
    memcpy(m, chrome_offer, n);
    for (int k = 0; k < 4; k++)
      m[tu_rand() % n] ^= (uint8_t)(1u << (tu_rand() % 8));
    (void)sdp_parse_offer((const char *)m, n, &d, NULL);
  }
  free(m);
  uint8_t junk[512];
  for (size_t len = 0; len <= sizeof junk; len++) {
    for (size_t i = 0; i < len; i++) junk[i] = (uint8_t)tu_rand();
    if (len > 4) memcpy(junk, "v=0\n", 4);
    uint8_t *g = tu_guard_copy(junk, len);
    const char *why = NULL;
    assert_int_not_equal(sdp_parse((const char *)g, len, &d, &why), 0);
    assert_non_null(why);
    tu_guard_free(g, len);
  }
}

static const struct sdp_local_candidate local[] = {
    {"1", 2130706431, {192, 168, 7, 9}, 40123, SDP_CAND_HOST},
    {"2", 1694498815, {198, 51, 100, 77}, 61000, SDP_CAND_SRFLX},
};

static struct sdp_answer answer(void) {
  struct sdp_answer a = {
      .ufrag = "aGf3",
      .pwd = "Zq0m8Xy4Tn2Lp6Rs9Vw1Bc5D",
      .fingerprint = FP_A,
      .mid = "0",
      .candidates = local,
      .n_candidates = 2,
      .sctp_port = SDP_SCTP_PORT,
      .max_message_size = 262144,
      .session_id = UINT64_MAX,
  };
  return a;
}

static void answer_round_trips(void **state) {
  (void)state;
  struct buf b;
  struct sdp_answer a = answer();
  buf_init(&b, 4096);
  assert_int_equal(sdp_write_answer(&a, &b), 0);
  const char *t = (const char *)b.data;
  assert_null(memchr(t, '\0', b.len));
  static const char head[] =
      "v=0\r\no=- 9223372036854775807 2 IN IP4 127.0.0.1\r\n";
  assert_memory_equal(t, head, strlen(head));
  assert_memory_equal(t + b.len - 21, "a=end-of-candidates\r\n", 21);
  char *s = strndup(t, b.len);
  assert_non_null(strstr(s,
                         "\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm="
                         "application 40123 UDP/DTLS/SCTP "
                         "webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"));
  assert_non_null(strstr(s, "\r\na=setup:passive\r\n"));
  assert_non_null(strstr(
      s, "\r\na=candidate:1 1 udp 2130706431 192.168.7.9 40123 typ host\r\n"));
  assert_non_null(
      strstr(s,
             "\r\na=candidate:2 1 udp 1694498815 198.51.100.77 61000 typ "
             "srflx raddr 0.0.0.0 rport 0\r\n"));
  assert_null(strstr(s, "ice-options"));
  assert_null(strstr(s, "msid"));
  /* Every line ends in CRLF. */
  for (const char *l = s; *l;) {
    const char *e = strstr(l, "\r\n");
    assert_non_null(e);
    assert_null(memchr(l, '\n', (size_t)(e - l)));
    l = e + 2;
  }
  free(s);

  assert_int_equal(sdp_parse((const char *)b.data, b.len, &d, NULL), 0);
  assert_string_equal(d.ufrag, a.ufrag);
  assert_string_equal(d.pwd, a.pwd);
  assert_memory_equal(d.fingerprint, fp_a, SDP_FP_LEN);
  assert_int_equal(d.setup, SDP_SETUP_PASSIVE);
  assert_string_equal(d.mid, "0");
  assert_int_equal(d.sctp_port, 5000);
  assert_int_equal(d.media_port, 40123);
  assert_int_equal(d.max_message_size, 262144);
  assert_int_equal(d.n_candidates, 2);
  for (size_t i = 0; i < 2; i++) {
    assert_string_equal(d.candidates[i].foundation, local[i].foundation);
    assert_int_equal(d.candidates[i].priority, local[i].priority);
    assert_memory_equal(d.candidates[i].ip, local[i].ip, 4);
    assert_int_equal(d.candidates[i].port, local[i].port);
    assert_int_equal(d.candidates[i].type, local[i].type);
  }
  /* An answer is passive: not something we would answer ourselves. */
  assert_int_equal(sdp_parse_offer((const char *)b.data, b.len, &d, NULL),
                   MESH_E_INVALID);

  /* No mid, no candidates: no BUNDLE, no a=mid, port 9. */
  buf_reset(&b);
  a.mid = NULL;
  a.n_candidates = 0;
  assert_int_equal(sdp_write_answer(&a, &b), 0);
  s = strndup((const char *)b.data, b.len);
  assert_null(strstr(s, "BUNDLE"));
  assert_null(strstr(s, "a=mid"));
  assert_non_null(strstr(s, "m=application 9 UDP/DTLS/SCTP"));
  free(s);
  assert_int_equal(sdp_parse((const char *)b.data, b.len, &d, NULL), 0);
  assert_string_equal(d.mid, "");
  assert_int_equal(d.n_candidates, 0);
  buf_cleanup(&b);
}

static void answer_refuses_bad_fields(void **state) {
  (void)state;
  struct buf b;
  buf_init(&b, 4096);
  assert_int_equal(buf_put(&b, "keep", 4), 0);
  struct sdp_local_candidate bad_cand = local[0];
  struct sdp_answer a;
#define BAD(field, value)                                       \
  do {                                                          \
    a = answer();                                               \
    a.field = value;                                            \
    assert_int_equal(sdp_write_answer(&a, &b), MESH_E_INVALID); \
    assert_int_equal(b.len, 4);                                 \
  } while (0)
  BAD(ufrag, "ab c");
  BAD(ufrag, "abc");
  BAD(ufrag, NULL);
  BAD(pwd, "tooshort");
  BAD(pwd, "Zq0m8Xy4Tn2Lp6Rs9Vw1Bc5D\r\na=x");
  BAD(fingerprint, "7B:8B");
  BAD(fingerprint, NULL);
  BAD(mid, "a b");
  BAD(mid, "0\r\na=setup:active");
  BAD(sctp_port, 0);
  BAD(candidates, NULL);
  bad_cand.foundation = "a b";
  BAD(candidates, &bad_cand);
  bad_cand = local[0];
  bad_cand.port = 0;
  BAD(candidates, &bad_cand);
#undef BAD
  assert_int_equal(sdp_write_answer(NULL, &b), MESH_E_INVALID);
  /* Too small a buffer: refused, left as it was. */
  struct buf small;
  buf_init(&small, 300);
  a = answer();
  assert_int_equal(sdp_write_answer(&a, &small), MESH_E_TOO_LARGE);
  assert_int_equal(small.len, 0);
  buf_cleanup(&small);
  buf_cleanup(&b);
}

static void fingerprint_text(void **state) {
  (void)state;
  char t[SDP_FP_TEXT];
  uint8_t fp[SDP_FP_LEN];
  sdp_fingerprint_format(fp_a, t);
  assert_string_equal(t, FP_A);
  assert_int_equal(sdp_fingerprint_parse(t, strlen(t), fp), 0);
  assert_memory_equal(fp, fp_a, SDP_FP_LEN);
  assert_int_equal(sdp_fingerprint_parse(t, strlen(t) - 1, fp),
                   MESH_E_MALFORMED);
  t[2] = ' ';
  assert_int_equal(sdp_fingerprint_parse(t, strlen(t), fp), MESH_E_MALFORMED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_chrome_offer),
      cmocka_unit_test(parses_firefox_offer),
      cmocka_unit_test(parses_old_offer),
      cmocka_unit_test(media_level_overrides_session),
      cmocka_unit_test(line_order_is_irrelevant),
      cmocka_unit_test(refuses_bad_offers),
      cmocka_unit_test(candidate_lines),
      cmocka_unit_test(truncated_at_every_byte),
      cmocka_unit_test(garbage_and_mutations),
      cmocka_unit_test(answer_round_trips),
      cmocka_unit_test(answer_refuses_bad_fields),
      cmocka_unit_test(fingerprint_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
