/* A browser's SDP offer, and the answer written for it parsing back. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "proto/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n) {
  static struct sdp_desc d, back;
  struct buf b;
  char fp[SDP_FP_TEXT];
  if (sdp_parse_offer((const char *)p, n, &d, NULL) != 0) return 0;
  sdp_fingerprint_format(d.fingerprint, fp);
  struct sdp_answer a = {.ufrag = d.ufrag,
                         .pwd = d.pwd,
                         .fingerprint = fp,
                         .mid = d.mid,
                         .sctp_port = d.sctp_port,
                         .max_message_size = d.max_message_size};
  buf_init(&b, SDP_MAX_BYTES);
  if (sdp_write_answer(&a, &b) != 0 ||
      sdp_parse((const char *)b.data, b.len, &back, NULL) != 0 ||
      strcmp(back.pwd, d.pwd) != 0 || strcmp(back.mid, d.mid) != 0 ||
      memcmp(back.fingerprint, d.fingerprint, SDP_FP_LEN) != 0)
    __builtin_trap();
  buf_cleanup(&b);
  return 0;
}
