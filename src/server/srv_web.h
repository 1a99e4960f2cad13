/*
 * srv_web.h - the browser app's static files, served from a folder
 * (srv_config.web_dir) with strict path rules and security headers.
 *
 * Only files whose request path passes srv_web_path_ok() and whose
 * extension has a known content type are served; symbolic links are never
 * followed below the web folder, and only regular files up to
 * SRV_WEB_MAX_FILE bytes are sent. A file NAME.gz beside NAME is sent
 * instead (Content-Encoding: gzip) to clients that accept gzip, unless it
 * is older than NAME (a stale copy); nothing is compressed at run time
 * (scripts/setup-web.sh makes the copies). Every response, errors included,
 * carries the Content-Security-Policy and the other headers in
 * SRV_WEB_SECURITY_HEADERS.
 */
#ifndef MESH_SERVER_SRV_WEB_H
#define MESH_SERVER_SRV_WEB_H

#include "srv.h"

/* The largest static file served (a bigger one gets 500 and a log line). */
#define SRV_WEB_MAX_FILE (8 * 1024 * 1024)
/* The longest request path considered, and the deepest folder nesting. */
#define SRV_WEB_MAX_PATH 512
#define SRV_WEB_MAX_DEPTH 8

/* Sent on every response from srv_web_serve(). The policy allows nothing
 * but this origin: no inline script or style, no plugins, no framing. */
#define SRV_WEB_CSP                                             \
  "default-src 'self'; script-src 'self'; style-src 'self'; "   \
  "img-src 'self' data:; connect-src 'self'; font-src 'self'; " \
  "object-src 'none'; base-uri 'none'; form-action 'self'; "    \
  "frame-ancestors 'none'"
#define SRV_WEB_SECURITY_HEADERS          \
  "Content-Security-Policy: " SRV_WEB_CSP \
  "\r\n"                                  \
  "X-Content-Type-Options: nosniff\r\n"   \
  "Referrer-Policy: no-referrer\r\n"      \
  "X-Frame-Options: DENY\r\n"             \
  "Strict-Transport-Security: max-age=31536000\r\n"

struct http_conn;
struct http_req;

/*
 * Returns 1 if path (the raw request path, NUL-terminated, borrowed) may
 * name a file of the web app, 0 otherwise. Nothing is decoded: a path is
 * accepted only if it starts with '/', is at most SRV_WEB_MAX_PATH bytes,
 * has at most SRV_WEB_MAX_DEPTH components, uses only [A-Za-z0-9._/-], and
 * has no "..", no "//", no component starting with '.' (hidden files), and
 * no trailing '/' (except "/" itself). So '%', '\\' and control bytes are
 * refused by the character rule. Pure; safe anywhere.
 */
int srv_web_path_ok(const char *path);

/*
 * Answers req on c from s->cfg.web_dir: GET and HEAD of an existing file
 * (200, or 304 when If-None-Match matches its ETag); 405 with Allow for
 * other methods on an existing file; 404 for anything else, including
 * paths refused by srv_web_path_ok() and unknown extensions. "/" means
 * "/index.html". Always answers, exactly once. s, c and req are borrowed.
 * Runs on the loop (see srv_web.c for why its small blocking file reads
 * are acceptable there).
 */
void srv_web_serve(struct srv *s, struct http_conn *c,
                   const struct http_req *req);

#endif
