/*
 * err.h - the one table of error codes.
 *
 * Functions that can fail return int: 0 on success, a negative code on
 * failure. libuv's negative errno values pass through unchanged; meshd's own
 * codes live in a disjoint range far below them, so mesh_strerror() can tell
 * the two apart.
 */
#ifndef MESH_ERR_H
#define MESH_ERR_H

enum {
  MESH_E_BASE = -30000,
  MESH_E_INCOMPLETE = MESH_E_BASE - 1,  /* need more input */
  MESH_E_MALFORMED = MESH_E_BASE - 2,   /* input breaks the format */
  MESH_E_TOO_LARGE = MESH_E_BASE - 3,   /* a named limit was passed */
  MESH_E_AUTH = MESH_E_BASE - 4,        /* signature or identity check failed */
  MESH_E_PROTO_STATE = MESH_E_BASE - 5, /* message not allowed in this state */
  MESH_E_NOMEM = MESH_E_BASE - 6,       /* allocation failed */
  MESH_E_CRYPTO = MESH_E_BASE - 7,      /* OpenSSL refused an operation */
  MESH_E_IO = MESH_E_BASE - 8,          /* file or socket I/O failed */
  MESH_E_NOT_FOUND = MESH_E_BASE - 9,   /* no such row, key or file */
  MESH_E_DB = MESH_E_BASE - 10,         /* the database refused */
  MESH_E_TIMEOUT = MESH_E_BASE - 11,    /* a deadline passed */
  MESH_E_CLOSED = MESH_E_BASE - 12,     /* peer closed the connection */
  MESH_E_INVALID = MESH_E_BASE - 13,    /* bad argument or configuration */
  MESH_E_REPLACED = MESH_E_BASE - 14,   /* a newer connection took over */
  MESH_E_EXISTS = MESH_E_BASE - 15,     /* the name or id is taken */
  MESH_E_DENIED = MESH_E_BASE - 16,     /* authenticated, but no right */
  MESH_E_THROTTLED = MESH_E_BASE - 17,  /* too many attempts; wait */
  MESH_E_LAST = MESH_E_BASE - 18
};

/* Returns a static, human readable text for a meshd or libuv error code. */
const char *mesh_strerror(int err);

#endif
