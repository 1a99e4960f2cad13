/*
 * recording.h - terminal session recordings (asciicast v2 files in
 * DATA/recordings/, listed in the database), for device groups with
 * recordSessions set.
 *
 * The relay hands over each message of a recorded tunnel; agent output
 * becomes [t,"o",...] lines and the viewer's terminal sizes [t,"r",...]
 * lines (keystrokes are not recorded). Lines collect in a bounded buffer
 * and go to the file with uv_fs_write, one write at a time, so the loop
 * never waits on the disk; past MESH_REC_MAX_QUEUED unwritten bytes or
 * MESH_REC_MAX_BYTES in the file, further output is left out and the
 * recording is marked truncated. A recording outlives its tunnel until
 * its last write and the close are done.
 *
 * Loop thread only.
 */
#ifndef MESH_SERVER_RECORDING_H
#define MESH_SERVER_RECORDING_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "net/ws_session.h" /* enum ws_type */
#include "relay_table.h"
#include "srv.h"

/* Nonzero if protocol p is a terminal (1, 6, 8, 9): what is recorded. */
int recording_wanted(int p);

/* Starts recording t (t->rec): creates the folder (0700) and the file
 * (0600) and the database row. Returns 0, or an error after which the
 * session goes on unrecorded (t->rec stays NULL). user_name borrowed. */
int recording_open(struct srv *s, struct relay_tunnel *t,
                   const char *user_name);

/* One relayed message of t (p borrowed). No-op when t is not recorded. */
void recording_message(struct srv *s, struct relay_tunnel *t,
                       enum relay_side from, enum ws_type type,
                       const uint8_t *p, size_t n);

/* The tunnel ended: flushes, closes the file, writes duration and size to
 * the database, then frees the recording. t->rec is NULL afterwards. */
void recording_close(struct srv *s, struct relay_tunnel *t);

/* recording_api.c. GET /api/recording?id=ID: the .cast file, for a
 * signed-in user (session cookie) who may open a terminal on the device
 * (docs/user-api.md §7.24; {action:'recordings'} is in ctl.h). */
struct http_conn;
struct http_req;
void srv_recording_serve(struct srv *s, struct http_conn *c,
                         const struct http_req *req);

#endif
