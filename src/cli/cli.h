/*
 * cli.h - meshctl's internals, shared by its modules.
 *
 * meshctl is a short-lived program: each command builds one struct mc_app
 * (a libuv loop, a TLS context and the saved session), runs the loop until
 * its work is done and exits. Waiting is done by running the loop until a
 * flag is set (mc_run_until), so command code reads top to bottom while
 * every byte still moves through the loop.
 *
 * Errors are reported where they are understood, as one line on stderr
 * ("meshctl: ..."), and passed up as MC_FAIL; callers do not print again.
 */
#ifndef MESH_CLI_CLI_H
#define MESH_CLI_CLI_H

#include <jansson.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/http_cli.h"
#include "net/ws.h"

/* Exit statuses. */
enum { MC_OK = 0, MC_FAIL = 1, MC_USAGE = 2 };

/* Deadlines (milliseconds). */
#define MC_CONNECT_MS 15000 /* TCP + TLS + HTTP or upgrade */
#define MC_REPLY_MS 30000   /* a control.ashx reply */
/* Longest session token, URL and user name kept in the session file. */
#define MC_TOKEN_MAX 128
#define MC_URL_MAX 512
#define MC_USER_MAX 128

/* "meshctl: " + the message + newline, on stderr. */
void mc_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- store.c: the saved session ---- */

struct mc_session {
  char url[MC_URL_MAX];     /* "https://host:port" without a trailing / */
  char user[MC_USER_MAX];   /* as typed at login, for messages */
  char token[MC_TOKEN_MAX]; /* the meshd_session cookie value; secret */
  uint8_t pin[HTTP_CLI_PIN_LEN];
};

/* The session file's path: $XDG_CONFIG_HOME/meshctl/session, or
 * ~/.config/meshctl/session. 0, or MESH_E_INVALID when neither
 * XDG_CONFIG_HOME nor HOME is set or the path would not fit. */
int mc_session_path(char *out, size_t cap, int dir_only);
/* Reads it. 0; MESH_E_NOT_FOUND when there is none; MESH_E_MALFORMED for
 * a damaged file or MESH_E_DENIED when others may read it (both printed). */
int mc_session_load(struct mc_session *s);
/* Writes it atomically (a 0600 temporary file renamed into place) in a
 * 0700 directory. 0 or MC_FAIL (printed). */
int mc_session_save(const struct mc_session *s);
/* Deletes it; 0 also when there was none. */
int mc_session_delete(void);
/* Wipes the token. */
void mc_session_wipe(struct mc_session *s);

/* "AB:CD:..." (95 characters + NUL). */
void mc_pin_format(const uint8_t pin[HTTP_CLI_PIN_LEN], char out[96]);
/* Parses 64 hex digits, with or without colons, any case; an optional
 * "sha256:" or "SHA256:" prefix. 0 or MESH_E_INVALID. */
int mc_pin_parse(const char *s, uint8_t pin[HTTP_CLI_PIN_LEN]);

/* ---- app.c: loop, TLS, certificate pinning ---- */

struct mc_app {
  uv_loop_t loop;
  SSL_CTX *tls;
  struct mc_session sess;
  int have_pin; /* sess.pin is to be enforced */
  /* Set by the verify callback. */
  int saw_cert;
  int pin_mismatch;
  uint8_t seen_pin[HTTP_CLI_PIN_LEN];
};

/* Sets up the loop and the TLS context. 0 or MC_FAIL (printed). */
int mc_app_init(struct mc_app *a);
/* Closes every handle still open, runs the loop dry and frees it. */
void mc_app_cleanup(struct mc_app *a);
/* Loads the session for commands that need one; MC_FAIL with a message
 * ("not signed in: run meshctl login URL") when there is none. */
int mc_app_load_session(struct mc_app *a);
/* The verify callback for http_cli and ws_connect_ex (data: the app):
 * records the server's pin and, when one is enforced, refuses another. */
int mc_app_verify(X509 *cert, void *data);
/* Prints the one-line message for a failed connection (err, or the ws
 * close reason when reason is not NULL) to url: unreachable, certificate
 * changed, TLS failure, timeout. */
void mc_app_conn_error(struct mc_app *a, const char *url, int err,
                       const char *reason);
/* Runs the loop until *flag is nonzero or nothing is left to run. */
void mc_run_until(struct mc_app *a, const int *flag);

/* ---- prompt.c: secrets from the terminal, a file or the environment ---- */

/* Reads a secret line into out (cap bytes, NUL-terminated, newline
 * removed): from file when not NULL (its first line), else from the
 * environment variable env when set, else from the terminal with echo off
 * after printing prompt. 0 or MC_FAIL (printed). */
int mc_read_secret(const char *prompt, const char *file, const char *env,
                   char *out, size_t cap);
/* Whether stdin and stderr are terminals (someone can be asked). */
int mc_interactive(void);

/* ---- api.c: sign-in, sign-out, control.ashx ---- */

struct mc_login_opts {
  const char *url, *user, *pass, *token;
  const uint8_t *pin; /* NULL: trust on first use */
};
/* POST /api/login. On success fills a->sess (url, user, token, pin) and
 * returns 0. When the server wants a second factor and none was given,
 * returns MESH_E_AUTH without printing (the caller may ask for one);
 * every other failure is printed and returns MC_FAIL. */
int mc_api_login(struct mc_app *a, const struct mc_login_opts *o);
/* POST /api/logout with the session's cookie. 0 or MC_FAIL (printed). */
int mc_api_logout(struct mc_app *a);

struct mc_ctl;
/* Opens /control.ashx with the session cookie and waits for the session
 * to start (userinfo). 0 and *out, or MC_FAIL (printed: unreachable,
 * certificate changed, session expired or revoked). */
int mc_ctl_open(struct mc_app *a, struct mc_ctl **out);
/* Sends req (reference stolen) and waits for the first message whose
 * action is action and, when responseid is not NULL, whose responseid
 * matches. Returns it (a new reference) or NULL (printed: connection lost,
 * timeout). */
json_t *mc_ctl_call(struct mc_ctl *c, json_t *req, const char *action,
                    const char *responseid);
/* Closes the connection and frees c (the loop finishes the close). */
void mc_ctl_close(struct mc_ctl *c);

/* ---- devices.c ---- */

int mc_cmd_devices(struct mc_app *a, int json);

struct mc_device {
  char id[160];   /* "node//..." */
  char name[256]; /* display name */
  int online;
};
/* Finds DEVICE by node id ("node//x", "x") or by name. 0 with *d, or
 * MC_FAIL (printed: no such device, ambiguous with the matches listed). */
int mc_find_device(struct mc_ctl *c, const char *arg, struct mc_device *d);

/* ---- relay.c: a tunnel to a device ---- */

struct mc_relay;
struct mc_relay_cbs {
  /* The relay paired both sides ("c"): send options and the protocol. */
  void (*on_start)(struct mc_relay *r, void *data);
  /* A message that is not a control message. */
  void (*on_data)(struct mc_relay *r, enum ws_type t, const uint8_t *p,
                  size_t n, void *data);
  /* Optional: queued output drained. */
  void (*on_drain)(struct mc_relay *r, void *data);
};

/* Opens a tunnel of protocol p to device d over the control connection c
 * and runs it until it ends. Returns the session's status: what
 * mc_relay_finish set, else the remote exit code from the "exit" control
 * message, else MC_FAIL with the reason printed (offline, access denied,
 * tunnel refused, connection lost). */
int mc_relay_run(struct mc_app *a, struct mc_ctl *c, const struct mc_device *d,
                 int p, const struct mc_relay_cbs *cbs, void *data);
int mc_relay_send(struct mc_relay *r, enum ws_type t, const void *p, size_t n);
/* Sends j (reference stolen) as a text frame. */
int mc_relay_send_json(struct mc_relay *r, json_t *j);
size_t mc_relay_queued(struct mc_relay *r);
/* Ends the session with status; msg (may be NULL) is printed when the
 * status is not 0. The first call wins. */
void mc_relay_finish(struct mc_relay *r, int status, const char *msg);
struct mc_app *mc_relay_app(struct mc_relay *r);

/* ---- term.c, files.c ---- */

/* exec NULL: an interactive shell; else runs exec and shows its output. */
int mc_cmd_shell(struct mc_app *a, const char *device, const char *exec);
int mc_cmd_upload(struct mc_app *a, const char *device, const char *local,
                  const char *remote);
int mc_cmd_download(struct mc_app *a, const char *device, const char *remote,
                    const char *local);

#endif
