/*
 * http_cli.h - one HTTP/1.1 request over TLS (or plain TCP) on libuv: the
 * small client meshctl signs in with (POST /api/login).
 *
 * One struct http_cli is one connection carrying one request with
 * "Connection: close"; the response (status, headers and a body of at most
 * MESH_HTTP_MAX_BODY) is parsed by http_parse. The server certificate can
 * be judged by a callback before the request, which may carry a password
 * or a cookie, is sent. Everything runs on the loop thread.
 */
#ifndef MESH_NET_HTTP_CLI_H
#define MESH_NET_HTTP_CLI_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/http_parse.h"

struct http_cli;

/* A URL split into its parts, for http(s):// and ws(s)://. */
struct http_cli_url {
  int tls;                            /* https:// or wss:// */
  int host_is_v6;                     /* host was a bracketed literal */
  int port;                           /* explicit, or 443 / 80 */
  char host[256];                     /* without brackets */
  char target[MESH_HTTP_MAX_URL + 2]; /* "/path?query", "/" when empty */
};

/* Splits url (borrowed). Returns 0, or MESH_E_INVALID for another scheme,
 * an empty or over-long host, a bad port, user info, control characters
 * or spaces, or a target longer than MESH_HTTP_MAX_URL. */
int http_cli_parse_url(const char *url, struct http_cli_url *u);

/* The pin of a certificate: SHA-256 over the DER of its
 * SubjectPublicKeyInfo (curl's --pinnedpubkey sha256). c is borrowed.
 * Returns 0 or MESH_E_CRYPTO. */
#define HTTP_CLI_PIN_LEN 32
int http_cli_cert_pin(X509 *c, uint8_t out[HTTP_CLI_PIN_LEN]);

/* Judges the server certificate (borrowed for the call; NULL over plain
 * TCP): 0 goes on, a negative code refuses and becomes done's err. */
typedef int (*http_cli_verify_cb)(X509 *cert, void *data);

/*
 * The outcome, exactly once, never from inside http_cli_request. err 0:
 * resp (borrowed for the call) holds a complete response; read it with
 * http_parse_code/_header/_body. Otherwise resp is NULL and err is the
 * verify callback's code, MESH_E_TIMEOUT, MESH_E_CRYPTO (TLS failed),
 * MESH_E_MALFORMED or MESH_E_TOO_LARGE (a bad or over-long response),
 * MESH_E_CLOSED (the server closed before a full response), or a libuv
 * code (UV_ECONNREFUSED, UV_EAI_NONAME, ...). The http_cli is freed right
 * after done returns.
 */
typedef void (*http_cli_done_cb)(int err, const struct http_parse *resp,
                                 void *data);

struct http_cli_req {
  const char *method;       /* "GET", "POST", ... */
  const char *headers;      /* extra "Name: value\r\n" lines, or NULL */
  const char *content_type; /* sent with a body; NULL for none */
  const void *body;         /* body_len bytes, or NULL */
  size_t body_len;
  uint64_t timeout_ms;       /* connect + TLS + request + response; 0: 30 s */
  http_cli_verify_cb verify; /* NULL accepts any certificate */
  void *verify_data;
};

/*
 * Starts the request: url "https://host[:port]/path?query" (or http://),
 * with tls (borrowed; must outlive the request) required for https. rq is
 * borrowed; its strings and body are copied, and the copy is wiped when
 * freed (it may hold a password). Returns 0, then done follows; or
 * MESH_E_INVALID (bad URL, headers or method, or https without tls),
 * MESH_E_TOO_LARGE (request over MESH_HTTP_MAX_BODY), MESH_E_NOMEM or a
 * libuv code, and then done will not be called. out, when not NULL,
 * receives the request for http_cli_cancel; it is invalid after done.
 */
int http_cli_request(uv_loop_t *loop, const char *url, SSL_CTX *tls,
                     const struct http_cli_req *rq, http_cli_done_cb done,
                     void *data, struct http_cli **out);

/* Ends the request early; done follows with MESH_E_CLOSED. */
void http_cli_cancel(struct http_cli *c);

#endif
