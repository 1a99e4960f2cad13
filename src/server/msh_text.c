/*
 * msh_text.c - the .msh builder and GET /meshsettings.
 *
 * A stock MeshCentral serves /meshsettings to anyone who knows the group
 * id, since in its model that id is the enrolment secret. meshd asks for
 * more: a signed-in user who is a member of the group, because our web
 * app is the only client and it always has a session (stock meshctrl
 * does not use this route). Groups the user cannot see answer 404, the
 * same as groups that do not exist, so the route reveals nothing about
 * other groups.
 */
#include "msh_text.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/msh.h"
#include "base/log.h"
#include "ctl.h"
#include "net/http_parse.h"
#include "net/http_srv.h"
#include "update.h"
#include "users.h"

/* The longest group id accepted in the query (ids are 64 characters). */
#define MSH_MAX_ID 128

/* The 48 group-id bytes as the .msh writes them: upper-case hex. */
static int mesh_id_hex(const char *id, char out[97]) {
  uint8_t raw[48];
  if (enc_unb64(id, strlen(id), raw, sizeof raw) != 48) return MESH_E_MALFORMED;
  enc_hex(raw, 48, out, 1);
  return 0;
}

static int put_str(struct buf *b, const char *s) {
  return buf_put(b, s, strlen(s));
}

int srv_msh_text(struct store *st, const struct srv_keys *keys,
                 const char *group_id, const char *url, struct buf *out) {
  struct store_group g;
  char mesh_hex[97], sid[97];
  size_t start = out->len;
  int r;
  if (!url[0]) return MESH_E_INVALID;
  for (const char *p = url; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == 0x7f) return MESH_E_INVALID;
  if ((r = store_group_get(st, group_id, 0, &g)) != 0) return r;
  if ((r = mesh_id_hex(g.id, mesh_hex)) != 0) goto out;
  srv_keys_server_id(keys, sid);
  /* CRLF lines after an empty first line, as a stock server writes. */
  if ((r = put_str(out, "\r\nMeshName=")) != 0) goto out;
  /* A name is free text from the user API; a CR or LF in it would start
   * a line of its own (a second MeshServer=, say), so control bytes go
   * out as spaces. */
  for (const char *p = g.name; *p && r == 0; p++) {
    unsigned char ch = (unsigned char)*p;
    r = buf_put_u8(out, ch < ' ' || ch == 0x7f ? ' ' : ch);
  }
  if (r != 0 || (r = put_str(out, "\r\nMeshType=2\r\nMeshID=0x")) != 0 ||
      (r = put_str(out, mesh_hex)) != 0 ||
      (r = put_str(out, "\r\nServerID=")) != 0 ||
      (r = put_str(out, sid)) != 0 ||
      (r = put_str(out, "\r\nMeshServer=")) != 0 ||
      (r = put_str(out, url)) != 0 ||
      /* Tells meshagent that this server is meshd, so it may run the
       * server's JavaScript cores and accept its updates. A stock agent
       * ignores an unknown key, and a stock server never writes it, so
       * meshagent stays core-less and un-updatable there (a stock server
       * would replace it with the stock agent). */
      (r = put_str(out, "\r\nServerProduct=meshd\r\n")) != 0)
    goto out;
out:
  if (r != 0) out->len = start; /* nothing partial */
  store_group_cleanup(&g);
  return r;
}

/* The value of the "id" query parameter, %-decoded, into out. Returns 0,
 * MESH_E_NOT_FOUND when absent, MESH_E_INVALID when it is not a group id
 * in the B64MC alphabet (an optional "mesh//" prefix is dropped). */
static int query_id(const char *query, char *out, size_t cap) {
  int r = http_query_param(query, "id", out, cap);
  if (r == MESH_E_NOT_FOUND) return r;
  if (r != 0) return MESH_E_INVALID;
  size_t n = strlen(out);
  if (strncmp(out, "mesh//", 6) == 0) memmove(out, out + 6, n - 5);
  if (!out[0]) return MESH_E_INVALID;
  for (const char *q = out; *q; q++)
    if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
          (*q >= '0' && *q <= '9') || *q == '@' || *q == '$'))
      return MESH_E_INVALID;
  return 0;
}

int msh_host_ok(const char *h) {
  size_t n = 0;
  if (!h) return 0;
  for (; h[n]; n++) {
    char ch = h[n];
    if (n >= MSH_MAX_HOST) return 0;
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
          (ch >= '0' && ch <= '9') || ch == '.' || ch == ':' || ch == '[' ||
          ch == ']' || ch == '-'))
      return 0;
  }
  return n > 0;
}

static void respond_text(struct http_conn *c, int status, const char *text) {
  http_respond(c, status, "Cache-Control: no-store\r\n",
               "text/plain; charset=utf-8", text, strlen(text));
}

/* The architecture asked for with "arch=<id>" (spec §9.1), 6 (Linux
 * x86-64, meshd's own build) when absent; 0 for a bad value. */
static uint32_t query_arch(const char *query) {
  char v[8];
  int r = http_query_param(query, "arch", v, sizeof v);
  if (r == MESH_E_NOT_FOUND) return 6;
  if (r != 0 || !v[0]) return 0;
  uint32_t a = 0;
  for (const char *p = v; *p; p++) {
    if (*p < '0' || *p > '9') return 0;
    a = a * 10 + (uint32_t)(*p - '0');
  }
  return a;
}

/* The binary meshd holds for the architecture (update.h: read once per
 * change of its file), copied with room for the .msh. */
static int read_agent_bin(struct srv *s, uint32_t arch, struct buf *out) {
  struct agent_bin *b;
  int r = agent_bins_get(s, arch, &b);
  if (r) return r;
  if ((r = buf_reserve(out, b->len + MSH_TEXT_MAX)) == 0)
    r = buf_put(out, b->data, b->len);
  agent_bin_unref(b);
  return r;
}

static void serve_group_file(struct srv *s, struct http_conn *c,
                             const struct http_req *req, int binary);

void srv_meshsettings(struct srv *s, struct http_conn *c,
                      const struct http_req *req) {
  serve_group_file(s, c, req, 0);
}

void srv_meshagent(struct srv *s, struct http_conn *c,
                   const struct http_req *req) {
  serve_group_file(s, c, req, 1);
}

/* The user and group of an install token (ctl_settings.c) in the "inst"
 * query parameter: 0 with *user_id malloc'd and the group id in id;
 * MESH_E_NOT_FOUND without one; another code for a bad or expired one. */
static int install_token(struct srv *s, const char *query, char **user_id,
                         char *id, size_t cap) {
  char tok[SEAL_TOKEN_LEN(SEAL_MAX_PLAIN) + 1];
  uint8_t plain[SEAL_MAX_PLAIN];
  size_t n;
  const char *g = NULL, *u = NULL;
  json_int_t exp = 0;
  int r = http_query_param(query, "inst", tok, sizeof tok);
  if (r) return r == MESH_E_NOT_FOUND ? r : MESH_E_MALFORMED;
  if ((r = seal_open(s->keys.cookie_key, tok, plain, sizeof plain, &n)) != 0)
    return r;
  json_t *j = json_loadb((const char *)plain, n, 0, NULL);
  r = MESH_E_MALFORMED;
  if (j &&
      json_unpack(j, "{s:s, s:s, s:I}", "g", &g, "u", &u, "exp", &exp) == 0 &&
      strlen(g) < cap) {
    r = exp > (json_int_t)time(NULL) ? 0 : MESH_E_TIMEOUT;
    if (r == 0 && (*user_id = strdup(u)) == NULL) r = MESH_E_NOMEM;
    if (r == 0) memcpy(id, g, strlen(g) + 1);
  }
  json_decref(j);
  return r;
}

/* A group's .msh, alone or embedded in the agent binary, for a signed-in
 * user who may add devices to the group (MANAGEDEVICES), or for the
 * bearer of an install token whose issuer still may. */
static void serve_group_file(struct srv *s, struct http_conn *c,
                             const struct http_req *req, int binary) {
  const char *host = http_req_header(req, "Host");
  const char *cookies = http_req_header(req, "Cookie");
  char token[SESSION_TOKEN_LEN + 2], id[MSH_MAX_ID + 1];
  char url[MSH_MAX_HOST + 32];
  char *user_id = NULL;
  struct user u = {0};
  struct buf out;
  int have_user = 0, r;
  buf_init(&out, MSH_TEXT_MAX);
  if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
    http_respond(c, 405, "Allow: GET, HEAD\r\n", "text/plain", "method\n", 7);
    goto out;
  }
  /* Who asks: the issuer of an install token, or a live session. */
  int by_token = 0;
  r = install_token(s, req->query, &user_id, id, sizeof id);
  if (r == 0) {
    by_token = 1;
  } else if (r != MESH_E_NOT_FOUND) {
    log_info("event=install_token_refused peer=%s reason=\"%s\"", req->peer,
             r == MESH_E_TIMEOUT ? "expired" : "invalid");
    respond_text(c, 403,
                 r == MESH_E_TIMEOUT ? "install link expired\n"
                                     : "invalid install link\n");
    goto out;
  } else if (!cookies ||
             srv_cookie_value(cookies, CTL_COOKIE, token, sizeof token) != 0 ||
             sessions_lookup(s->store, token, &user_id) != 0) {
    respond_text(c, 403, "sign in first\n");
    goto out;
  }
  if (users_get(s->store, user_id, &u) != 0) {
    respond_text(c, 403,
                 by_token ? "invalid install link\n" : "sign in first\n");
    goto out;
  }
  have_user = 1;
  if (u.siteadmin != SITE_ADMIN && (u.siteadmin & SITE_LOCKED)) {
    respond_text(c, 403, "account locked\n");
    goto out;
  }
  /* Which group: one the user (or the token's issuer, still) may add
   * devices to; any other answers as an unknown group would. */
  if ((!by_token && query_id(req->query, id, sizeof id) != 0) ||
      !(members_rights(s->store, id, u.id) & MESH_RIGHT_MANAGE_DEVICES)) {
    respond_text(c, 404, "no such device group\n");
    goto out;
  }
  /* The agent is to reach the server by the very address the user
   * reached it by: the Host of this request. The configured --name may
   * be an address only the server's own network knows (127.0.0.1 in a
   * container, an inside name behind a proxy), while the user's browser
   * just proved that this one works from where the user is. It is
   * checked to hold only host-and-port characters, so it cannot break
   * out of the URL or the .msh line. */
  if (!msh_host_ok(host)) {
    respond_text(c, 400, "bad Host header\n");
    goto out;
  }
  snprintf(url, sizeof url, "wss://%s/agent.ashx", host);
  r = srv_msh_text(s->store, &s->keys, id, url, &out);
  if (r == 0 && binary) {
    struct buf bin;
    uint32_t arch = query_arch(req->query);
    buf_init(&bin, AGENT_BIN_MAX + MSH_TEXT_MAX);
    if ((r = read_agent_bin(s, arch, &bin)) == 0 &&
        (r = msh_embed(&bin, (const char *)out.data, out.len)) == 0) {
      buf_cleanup(&out);
      out = bin;
    } else {
      buf_cleanup(&bin);
    }
  }
  if (binary && r == MESH_E_NOT_FOUND && out.len) {
    respond_text(c, 404, "no agent for that architecture\n");
  } else if (r == MESH_E_NOT_FOUND || r == MESH_E_MALFORMED) {
    respond_text(c, 404, "no such device group\n");
  } else if (r != 0) {
    log_warn_r(r, "event=meshsettings peer=%s user=%s", req->peer, u.id);
    respond_text(c, 500, "cannot build the settings\n");
  } else {
    log_info("event=%s peer=%s user=%s group=%s",
             binary ? "agent_download" : "meshsettings", req->peer, u.id, id);
    http_respond(c, 200,
                 binary ? "Cache-Control: no-store\r\n"
                          "Content-Disposition: attachment; "
                          "filename=\"meshagent\"\r\n"
                        : "Cache-Control: no-store\r\n"
                          "Content-Disposition: attachment; "
                          "filename=\"meshagent.msh\"\r\n",
                 "application/octet-stream", out.data, out.len);
  }
out:
  OPENSSL_cleanse(token, sizeof token);
  if (have_user) user_cleanup(&u);
  free(user_id);
  buf_cleanup(&out);
}
