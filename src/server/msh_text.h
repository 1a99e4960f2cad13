/*
 * msh_text.h - the agent's settings file (.msh) for a device group, as a
 * MeshCentral server writes it, and GET /meshsettings, which hands it to
 * a signed-in member of the group.
 *
 * One builder serves both `meshd agent-config` (cli.c) and the HTTP
 * route, so the two can never disagree on the format.
 */
#ifndef MESH_SERVER_MSH_TEXT_H
#define MESH_SERVER_MSH_TEXT_H

#include "base/buf.h"
#include "srv.h"

/* The largest .msh built: six short lines. */
#define MSH_TEXT_MAX 4096
/* The longest Host header accepted for the MeshServer URL. */
#define MSH_MAX_HOST 255

/* Nonzero if h (a Host header, borrowed, may be NULL) is fit to stand in
 * a URL: 1..MSH_MAX_HOST bytes of letters, digits and ".:[]-" (names,
 * IPv4, [IPv6], and a port), so it cannot break out of a URL, a .msh
 * line or a shell command. */
int msh_host_ok(const char *h);

/*
 * Appends the .msh of group group_id (the bare 64-character id) to out:
 * CRLF lines after an empty first line, MeshName, MeshType=2, MeshID=0x
 * + 96 upper-case hex digits, ServerID (keys' primary agent-server key
 * hash), MeshServer=url and ServerProduct=meshd (which lets meshagent
 * enable cores and self-update). Control bytes in the group name become
 * spaces, so a name cannot add a line.
 *
 * st, keys, group_id, url and out are borrowed. Returns 0;
 * MESH_E_NOT_FOUND for an unknown group; MESH_E_MALFORMED when the id
 * is not 48 bytes of base64 (a legacy id, which has no .msh);
 * MESH_E_INVALID when url is empty or holds a control byte or space;
 * MESH_E_TOO_LARGE / MESH_E_NOMEM from out (which is then unchanged).
 * Synchronous, safe on the loop.
 */
int srv_msh_text(struct store *st, const struct srv_keys *keys,
                 const char *group_id, const char *url, struct buf *out);

/*
 * GET /meshsettings?id=<group id>: answers the request on c with the
 * group's .msh (200, application/octet-stream, meshagent.msh), 403
 * without a live session cookie of an unlocked account, 404 when the
 * group is unknown or the user may not add devices to it (MANAGEDEVICES,
 * the right the web app's "Add a device" panel needs), 400 for a bad
 * Host header. s, c and req are borrowed. Called from srv.c's router.
 */
void srv_meshsettings(struct srv *s, struct http_conn *c,
                      const struct http_req *req);

/* GET /api/meshagent?id=<group>[&arch=<id>]: the meshagent binary meshd
 * holds for architecture id (spec §9.1; 6, Linux x86-64, by default:
 * DATA/agents/<id>/meshagent, else the meshagent built beside meshd; see
 * update.h) with the group's .msh embedded at its end (spec §3.3), so one
 * download is all a new device needs. Same access rule as above; 404
 * when meshd holds no binary for that architecture. */
void srv_meshagent(struct srv *s, struct http_conn *c,
                   const struct http_req *req);

#endif
