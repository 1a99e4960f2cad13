/* libFuzzer target: bytes from a client into a server-role WebSocket
 * session, in one piece and then one byte at a time; both must end in the
 * same state. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "net/ws_session.h"

static void on_msg(struct ws_session *s, enum ws_type t, const uint8_t *p,
                   size_t n, void *data) {
  (void)t;
  (void)p;
  (*(size_t *)data) += n + 1;
  if (n == 7) ws_session_send(s, WS_BINARY, p, n); /* reply from a callback */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t got[2] = {0, 0};
  uint16_t code[2];
  for (int k = 0; k < 2; k++) {
    struct ws_session *s;
    if (ws_session_new(WS_ROLE_SERVER, on_msg, &got[k], &s) != 0) return 0;
    for (size_t i = 0; i < size; i += k ? 1 : size)
      ws_session_feed(s, data + i, k ? 1 : size);
    code[k] = ws_session_close_code(s);
    ws_session_free(s);
  }
  if (got[0] != got[1] || code[0] != code[1]) abort();
  return 0;
}
