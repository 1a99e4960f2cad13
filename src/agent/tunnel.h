/*
 * tunnel.h - meshagent's relay sessions (spec/sessions.md §2.5, §4;
 * docs/sessions.md): the tunnel request from the control channel, the
 * tunnel's state machine, and the two protocols behind it, the terminal
 * (term.c, p=1) and the file manager (files.c, p=5).
 *
 * Ownership: a tunnel owns its WebSocket and its protocol session. The
 * session holds a plain pointer back to its tunnel; when the tunnel closes
 * it calls the session's _detach(), after which the session never touches
 * the tunnel again and frees itself once its own handles and requests are
 * done (a terminal waits for its child to be reaped). Everything runs on
 * the agent's one loop thread.
 */
#ifndef MESH_AGENT_TUNNEL_H
#define MESH_AGENT_TUNNEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/ws_session.h" /* enum ws_type */
#include "proto/rights.h"

struct agent;
struct tunnel;
struct term;
struct fsess;

/* ------------------------------------------------ tunnel.c, for conn.c */

/* Handles {action:'msg', type:'tunnel', ...} from the control channel (cmd
 * borrowed): checks it, builds the relay URL and connects. Problems are
 * logged; nothing is answered on the control channel. */
void tunnel_request(struct agent *a, json_t *cmd);
/* Closes every tunnel (agent stopping). Terminals still reap their
 * children before the loop runs dry. */
void tunnel_stop_all(struct agent *a);

/* ------------------------------------------ pure helpers (unit tested) */

/* Builds the relay URL from the request's value and the control channel's
 * URL (spec §2.5): a value starting with star-slash gets the control URL's
 * scheme://host[:port] in front; then every '$' becomes %24 and every '@'
 * %40. Any other value must itself be a wss:// URL. Returns a malloc'd
 * string, or NULL with *why set (static text). */
char *tunnel_relay_url(const char *ctrl_url, const char *value,
                       const char **why);
/* Decodes a servertlshash: 96 hex digits, either case, colons ignored.
 * Returns 0 or MESH_E_MALFORMED. */
int tunnel_parse_hash(const char *hex, uint8_t out[48]);
/* The refusal text for protocol proto with rights, or NULL when allowed
 * (docs/sessions.md §3, spec §4.3). Unknown protocols are not judged
 * here. */
const char *tunnel_rights_refusal(int proto, uint32_t rights);

/* ------------------------------------ for the protocol sessions */

/* Sends one message on the tunnel; p borrowed. 0 or a negative code (the
 * tunnel is then closing; the session will be detached). */
int tunnel_send(struct tunnel *t, enum ws_type type, const void *p, size_t n);
/* Sends j (stolen) as compact JSON in one message of the given type. */
int tunnel_send_json(struct tunnel *t, enum ws_type type, json_t *j);
/* Sends {ctrlChannel:'102938', type:'console', msgid:2, msg:text} and
 * closes with 1008 and text as the reason. */
void tunnel_refuse(struct tunnel *t, const char *text);
/* Starts closing; the session's _detach() follows from a later callback. */
void tunnel_close(struct tunnel *t, uint16_t code, const char *reason);
size_t tunnel_queued(struct tunnel *t);
void tunnel_pause(struct tunnel *t);
void tunnel_resume(struct tunnel *t);
uv_loop_t *tunnel_loop(struct tunnel *t);
/* A short text naming the tunnel in logs ("tunnel=N user=U"). */
const char *tunnel_name(struct tunnel *t);
/* Handles a control message (ctrlChannel) that a session received in its
 * own stream (files commands may carry them). j borrowed. */
void tunnel_ctrl(struct tunnel *t, json_t *j);

/* ------------------------------------------------ term.c */

/* Starts the shell (or options.exec) on a new pty. opts borrowed (NULL
 * for none). Returns 0 with *out, or a negative code with *why. */
int term_start(struct tunnel *t, json_t *opts, struct term **out,
               const char **why);
/* Keystrokes from the viewer (p borrowed). */
void term_input(struct term *m, const uint8_t *p, size_t n);
void term_resize(struct term *m, unsigned cols, unsigned rows);
/* The tunnel's output queue drained: read the pty again. */
void term_drain(struct term *m);
/* The tunnel is gone: hang up the shell, kill it after MESH_TERM_KILL_MS,
 * reap it, free everything. */
void term_detach(struct term *m);

/* ------------------------------------------------ files.c */

int fsess_start(struct tunnel *t, struct fsess **out);
/* One message from the viewer (p borrowed). */
void fsess_message(struct fsess *f, enum ws_type type, const uint8_t *p,
                   size_t n);
void fsess_drain(struct fsess *f);
/* The tunnel is gone: cancel transfers (closing files, deleting an
 * unfinished upload's temporary file) and free once no request is in
 * flight. */
void fsess_detach(struct fsess *f);

#endif
