/*
 * srv_api.h - the web app's few plain HTTP endpoints under /api/: sign-in
 * and sign-out with a session cookie, and the first-run setup that creates
 * the first administrator. Everything else the app does goes through
 * /control.ashx (ctl.h), which the cookie opens.
 *
 *   POST /api/login   {"user","pass"}         200 {"user":id} + cookie,
 *                                             401, 429 when throttled
 *   POST /api/logout                          200 {}, cookie cleared
 *   GET  /api/setup                           200 {"needed":bool}
 *   POST /api/setup   {"user","pass","email"?} 200 {"user":id} + cookie,
 *                                             409 once any account exists
 *
 * Every answer is JSON ({"error":"..."} on failure) with the web app's
 * security headers and Cache-Control: no-store. A request with an Origin
 * that is not this server gets 403 (srv_same_origin), a POST whose
 * Content-Type is not application/json 415 (a cross-site form cannot send
 * that type without a preflight, a second guard after Origin), a body over
 * MESH_API_MAX_BODY 413, bad JSON or fields 400.
 */
#ifndef MESH_SERVER_SRV_API_H
#define MESH_SERVER_SRV_API_H

#include "srv.h"

/* Lifetime of a web session (and of its cookie). */
#define SRV_API_SESSION_S (12 * 60 * 60)

struct http_conn;
struct http_req;

/*
 * Answers req (a path starting "/api/") on c, exactly once: at once, or
 * from a thread-pool job's completion for the password work (argon2id).
 * The job keeps c, which the HTTP layer keeps alive until answered even
 * if the client left (http_respond then just releases it). s, c and req
 * are borrowed; what a job needs from req is copied first. Runs on the
 * loop.
 */
void srv_api_serve(struct srv *s, struct http_conn *c,
                   const struct http_req *req);

#endif
