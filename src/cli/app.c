/*
 * app.c - meshctl's loop, TLS context and certificate pinning.
 *
 * meshd's web certificate is its own (not from a public CA), so meshctl
 * trusts it the way ssh trusts host keys: the first sign-in records the
 * SHA-256 of the server's public key (or takes it from --fingerprint), and
 * every later connection must show the same key. The check runs when TLS
 * is up and before anything (a password, a cookie) is sent.
 */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "cli/cli.h"
#include "net/tls.h"

void mc_err(const char *fmt, ...) {
  va_list ap;
  char line[1024];
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "meshctl: %s\n", line);
}

int mc_app_init(struct mc_app *a) {
  memset(a, 0, sizeof *a);
  if (uv_loop_init(&a->loop) != 0) {
    mc_err("cannot start the event loop");
    return MC_FAIL;
  }
  if (!(a->tls = tls_client_ctx_new())) {
    uv_loop_close(&a->loop);
    mc_err("cannot set up TLS");
    return MC_FAIL;
  }
  return 0;
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

void mc_app_cleanup(struct mc_app *a) {
  /* Every module closes what it opened; this finishes those closes. A
   * handle left open would be a bug, but must not hang the exit. */
  uv_run(&a->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&a->loop) != 0) {
    uv_walk(&a->loop, close_any, NULL);
    uv_run(&a->loop, UV_RUN_DEFAULT);
    uv_loop_close(&a->loop);
  }
  SSL_CTX_free(a->tls);
  mc_session_wipe(&a->sess);
}

int mc_app_load_session(struct mc_app *a) {
  int r = mc_session_load(&a->sess);
  if (r == MESH_E_NOT_FOUND) {
    mc_err("not signed in: run meshctl login URL");
    return MC_FAIL;
  }
  if (r != 0) return MC_FAIL; /* printed */
  a->have_pin = 1;
  return 0;
}

int mc_app_verify(X509 *cert, void *data) {
  struct mc_app *a = data;
  uint8_t pin[HTTP_CLI_PIN_LEN];
  if (!cert || http_cli_cert_pin(cert, pin) != 0) return MESH_E_CRYPTO;
  a->saw_cert = 1;
  memcpy(a->seen_pin, pin, sizeof pin);
  if (a->have_pin && CRYPTO_memcmp(pin, a->sess.pin, sizeof pin) != 0) {
    a->pin_mismatch = 1;
    return MESH_E_AUTH;
  }
  return 0;
}

void mc_app_conn_error(struct mc_app *a, const char *url, int err,
                       const char *reason) {
  if (a->pin_mismatch) {
    char was[96], now[96];
    mc_pin_format(a->sess.pin, was);
    mc_pin_format(a->seen_pin, now);
    mc_err(
        "REFUSED: the server at %s shows a different certificate key than "
        "the one pinned at sign-in.\n  pinned: SHA256:%s\n  now:    "
        "SHA256:%s\nThis could be an attack; nothing was sent. If the change "
        "is expected, sign in again with: meshctl login %s --fingerprint "
        "<new fingerprint>",
        url, was, now, url);
    return;
  }
  if (!reason) {
    switch (err) {
      case MESH_E_TIMEOUT:
        reason = "timed out";
        break;
      case MESH_E_CRYPTO:
        reason = "TLS handshake failed";
        break;
      case MESH_E_CLOSED:
        reason = "the server closed the connection";
        break;
      case MESH_E_MALFORMED:
      case MESH_E_TOO_LARGE:
        reason = "the server's answer was not valid HTTP";
        break;
      default:
        reason = mesh_strerror(err);
    }
  }
  mc_err("cannot reach %s: %s", url, reason);
}

void mc_run_until(struct mc_app *a, const int *flag) {
  while (!*flag)
    if (uv_run(&a->loop, UV_RUN_ONCE) == 0 && !*flag) break;
}
