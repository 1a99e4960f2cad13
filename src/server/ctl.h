/*
 * ctl.h - /control.ashx: the user API over a WebSocket, in MeshCentral's
 * JSON dialect (docs/user-api.md), spoken by the stock meshctrl.js, by
 * meshd's own web app and by meshctl.
 *
 * A connection signs in first (x-meshauth header or a session cookie),
 * then every JSON object it sends is one command, answered in order.
 * Every command checks the user's rights on the server; every event is
 * pushed only to sessions allowed to see it.
 */
#ifndef MESH_SERVER_CTL_H
#define MESH_SERVER_CTL_H

#include <jansson.h>

#include "base/mesh_limits.h"
#include "auth.h"
#include "srv.h"
#include "users.h"

/* Name of the session cookie set by the web app's sign-in. */
#define CTL_COOKIE "meshd_session"

/* CTL_CLOSING: the server started closing (refused sign-in, flood,
 * account deleted or locked); nothing more is run, queued or sent. */
enum ctl_state { CTL_AUTHING, CTL_OPEN, CTL_CLOSING, CTL_CLOSED };

struct ctl_session {
  struct srv *srv;
  struct ws *ws;
  /* SHA-256 of the session cookie it signed in with (all zero for a
   * password sign-in): signing out closes the connection too. */
  uint8_t token_hash[32];
  struct ctl_session *prev, *next; /* srv->ctl_sessions, once open */
  enum ctl_state state;
  int linked; /* in srv->ctl_sessions (it was open at some point) */
  int refs;   /* the socket, plus one per job on the thread pool */
  struct user user;
  char peer[64];
  char host[256]; /* the Host header of the upgrade (install commands) */
  int tool;       /* signed in with a password (x-meshauth): a tool such as
                     meshctrl, not the web app */
  char login_key[USER_MAX_NAME + 1]; /* throttle keys of the sign-in */
  char login_addr[64];
  char login_token[AUTH_MAX_TOKEN + 1]; /* x-meshauth's code; wiped */
  /* otp-setup's secret until otp-confirm stores it; wiped. */
  uint8_t otp_pending[TOTP_SECRET_LEN];
  int otp_pending_set;
  json_t *early[MESH_CTL_MAX_EARLY]; /* commands that came before sign-in */
  int n_early;
};

/* Upgrades req to a control connection. */
void srv_ctl_accept(struct srv *s, struct http_conn *c,
                    const struct http_req *req);
/* Sends msg (a reference is taken) as one text message. */
void ctl_send(struct ctl_session *cs, json_t *msg);
/* Replies {"action":A,"responseid":R,"result":T} when req carried a
 * responseid (the stock rule: without one, errors are not sent). */
void ctl_result(struct ctl_session *cs, json_t *req, const char *action,
                const char *text);
/* Sends j (reference taken) after copying req's tag into it, and its
 * responseid when with_rid is set. */
void ctl_reply(struct ctl_session *cs, json_t *req, json_t *j, int with_rid);
/* Re-reads the session's user after a change (rights, e-mail, name). */
void ctl_refresh_user(struct srv *s, const char *user_id);
/* Closes every session of a user (deleted or locked account). */
void ctl_close_user(struct srv *s, const char *user_id, const char *why);
/* The same, but leaves keep open (password changed on it). */
void ctl_close_user_except(struct srv *s, const char *user_id,
                           const struct ctl_session *keep, const char *why);
/* Closes the connections opened with the web session token (signed out). */
void ctl_close_session(struct srv *s, const char *token, const char *why);
void ctl_session_ref(struct ctl_session *cs);
void ctl_session_unref(struct ctl_session *cs);

/* ctl_cmds.c: the command table. */
void ctl_hello(struct ctl_session *cs);
void ctl_dispatch(struct ctl_session *cs, json_t *req);
/* A command handler: checks cs's rights and answers req (borrowed) on cs.
 * Loop thread; a handler may queue work that holds a session reference. */
typedef void ctl_cmd_fn(struct ctl_session *cs, json_t *req);

/* ctl_cmds.c: argument helpers shared by the command files. All borrow
 * their arguments; none keeps a pointer. */
#define CTL_GROUP_ID_LEN 64 /* B64MC of 48 bytes */
/* req[key] when it is a string (borrowed from req), else NULL. */
const char *ctl_str_of(json_t *req, const char *key);
/* Nonzero if key is present with a type other than a string. */
int ctl_not_str(json_t *req, const char *key);
/* "kind//ID" or "ID" -> "ID" into out (kind is "mesh" or "node"): 0, or
 * MESH_E_INVALID for NULL, empty, a '/' or cap bytes or more. */
int ctl_bare_id(const char *in, const char *kind, char *out, size_t cap);
/* A user id as typed ("bob" or "user//bob") -> "user//bob" into out: 0,
 * or MESH_E_INVALID. */
int ctl_user_arg(const char *in, char *out, size_t cap);
/* Nonzero if name is a shown name: 1..max bytes, no control characters. */
int ctl_name_ok(const char *name, size_t max);
/* Nonzero if cs's user is a full site administrator. */
int ctl_is_admin(const struct ctl_session *cs);
/* cs's user's rights in a group (bare id); 0 when not a member. */
uint32_t ctl_rights_in(struct ctl_session *cs, const char *group_id);
/* cs's peer address without its port, into out (cap bytes). */
void ctl_peer_ip(const struct ctl_session *cs, char *out, size_t cap);

/* ctl_accounts.c: users, adduser, edituser, deleteuser (§7). */
ctl_cmd_fn ctl_cmd_users, ctl_cmd_adduser, ctl_cmd_edituser, ctl_cmd_deleteuser;

/* ctl_groups.c: device groups (§7). */
ctl_cmd_fn ctl_cmd_meshes, ctl_cmd_createmesh, ctl_cmd_deletemesh,
    ctl_cmd_editmesh, ctl_cmd_addmeshuser, ctl_cmd_removemeshuser;
/* Resolves the group named by req[id_key] (an id) or req[name_key] (a
 * name among the caller's groups) into *g (the caller cleans it up with
 * store_group_cleanup). Returns 0; or -1 after answering action with
 * bad_id (or "Duplicate device groups found") when there is no such
 * group or the caller is not a member. */
int ctl_find_group(struct ctl_session *cs, json_t *req, const char *action,
                   const char *id_key, const char *name_key, const char *bad_id,
                   struct store_group *g);

/* ctl_devices.c: devices (§7). */
ctl_cmd_fn ctl_cmd_nodes, ctl_cmd_getnetworkinfo, ctl_cmd_lastconnect,
    ctl_cmd_getsysinfo, ctl_cmd_changedevice, ctl_cmd_removedevices;
/* What the store says of one device. */
struct ctl_node {
  int found;
  char group[CTL_GROUP_ID_LEN + 8]; /* bare group id */
  int64_t last_connect;             /* seconds, 0 = never */
  char peer[64];                    /* address it last connected from */
};
/* Fills *o for the device with bare id `id` (o->found 0 when unknown). */
void ctl_node_lookup(struct srv *s, const char *id, struct ctl_node *o);
/* Finds the device named by req.nodeid that cs's user may see with the
 * rights need (a member of its group, with every bit of need): 0 with *o
 * filled and its bare id in id (cap bytes), else -1 (nothing sent). */
int ctl_find_node(struct ctl_session *cs, json_t *req, uint32_t need, char *id,
                  size_t cap, struct ctl_node *o);

/* ctl_otp.c: enrolling a second factor (docs/user-api.md §7.x). */
ctl_cmd_fn ctl_cmd_otp_setup, ctl_cmd_otp_confirm, ctl_cmd_otp_remove;
/* ctl_passwd.c: a user changes their own password (§7.19). */
ctl_cmd_fn ctl_cmd_changepassword;
/* ctl_settings.c: server settings (§7.22) and install commands (§7.23). */
ctl_cmd_fn ctl_cmd_getserversettings, ctl_cmd_setserversettings,
    ctl_cmd_installcommand;
/* Sends the serverinfo message (also part of ctl_hello). */
void ctl_send_serverinfo(struct ctl_session *cs);
/* Nonzero while the server requires a second factor and cs's user has
 * none: the session may only enrol one (and read who it is). */
int ctl_must_enrol(const struct ctl_session *cs);
/* ctl_relay.c: relay sessions (§7.20 authcookie, §7.21 msg/tunnel). */
ctl_cmd_fn ctl_cmd_authcookie, ctl_cmd_msg;
/* recording_api.c: a device's terminal recordings (§7.24). */
ctl_cmd_fn ctl_cmd_recordings;
/* ctl_cores.c: a device's JavaScript core (§7.25). */
ctl_cmd_fn ctl_cmd_setcore, ctl_cmd_coreinfo;

/* Object builders shared by commands and events (new references). */
json_t *ctl_user_json(struct srv *s, const struct user *u);
json_t *ctl_group_json(struct srv *s, const struct store_group *g);
json_t *ctl_node_json(struct srv *s, const struct store_device *d);

/* events.c: the audit log and its live push. */
struct ev_scope {
  const char *user_id;  /* the account concerned (user events) or actor */
  const char *group_id; /* bare group id, or NULL */
  const char *node_id;  /* bare node id, or NULL */
};
/* Completes ev (domain, time), stores it unless nolog, and pushes it to
 * every session that may see it. Takes ownership of ev. */
void events_emit(struct srv *s, json_t *ev, const struct ev_scope *scope,
                 int nolog);
/* Pushes ev (taken) to the sessions of one user only, unstored: news
 * meant for that account alone (a group it was removed from). */
void events_push_user(struct srv *s, const char *user_id, json_t *ev);
/* Stored events visible to cs, newest first, at most limit (0 = 10000),
 * of one device when node_id is set. New reference. */
json_t *events_list(struct ctl_session *cs, const char *node_id, int limit);
/* Nonzero if cs may see an event of this scope. */
int events_visible(struct ctl_session *cs, const char *etype,
                   const struct ev_scope *scope);
/* An agent came or went: pushes nodeconnect (not stored) and, for a new
 * device, stores addnode. */
void events_node_state(struct srv *s, const char *node_id, const char *group_id,
                       int online, int created);
/* What another server announced (cluster.c), pushed to this server's
 * sessions only: the stored event seq, read from the table; an agent's
 * nodeconnect. */
void events_deliver_stored(struct srv *s, int64_t seq);
void events_deliver_node(struct srv *s, const char *node_id,
                         const char *group_id, int online);

#endif
