/* One UDP datagram through the STUN codec as the ICE layer uses it:
 * parse, check MESSAGE-INTEGRITY, and for a parsed request build the
 * check and the responses from its fields and parse them back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n) {
  static const uint8_t key[] = "VOkJxbRl1RmTxUk/WvJxBt";
  struct stun_msg m, back;
  (void)stun_is_stun(p, n);
  if (stun_parse(p, n, &m) != 0) return 0;
  (void)stun_check_integrity(p, n, &m, key, sizeof key - 1);
  uint8_t out[STUN_MAX_MESSAGE];
  struct stun_check c = {m.tid,
                         (const char *)m.username,
                         m.username_len,
                         m.priority,
                         (m.has & STUN_HAS_CONTROLLING) != 0,
                         m.tiebreaker,
                         (m.has & STUN_HAS_USE_CANDIDATE) != 0,
                         key,
                         sizeof key - 1};
  ssize_t k = stun_build_check(out, sizeof out, &c);
  if (k < 0 || stun_parse(out, (size_t)k, &back) != 0 ||
      back.username_len != m.username_len ||
      (m.username_len &&
       memcmp(back.username, m.username, m.username_len) != 0) ||
      back.priority != m.priority || back.tiebreaker != m.tiebreaker ||
      stun_check_integrity(out, (size_t)k, &back, key, sizeof key - 1) != 0)
    abort();
  if (m.has & STUN_HAS_XOR_MAPPED) {
    k = stun_build_success(out, sizeof out, m.tid, &m.xor_mapped, key, 4);
    if (k < 0 || stun_parse(out, (size_t)k, &back) != 0 ||
        memcmp(back.xor_mapped.addr, m.xor_mapped.addr, 16) != 0 ||
        back.xor_mapped.port != m.xor_mapped.port)
      abort();
  }
  k = stun_build_error(out, sizeof out, m.tid, 420, m.unknown, m.n_unknown, key,
                       4);
  if (k < 0 || stun_parse(out, (size_t)k, &back) != 0) abort();
  return 0;
}
