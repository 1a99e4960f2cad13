#include "err.h"

#include <string.h>
#include <uv.h>

static const char *const mesh_texts[] = {
    "incomplete input",
    "malformed input",
    "too large",
    "authentication failed",
    "unexpected message",
    "out of memory",
    "cryptographic failure",
    "I/O error",
    "not found",
    "database error",
    "timed out",
    "connection closed",
    "invalid argument",
    "replaced by a newer connection",
    "already exists",
    "permission denied",
    "too many attempts",
};

_Static_assert(sizeof mesh_texts / sizeof *mesh_texts ==
                   MESH_E_BASE - MESH_E_LAST - 1,
               "one text per error code");

const char *mesh_strerror(int err) {
  if (err == 0) return "ok";
  if (err < MESH_E_BASE && err > MESH_E_LAST)
    return mesh_texts[MESH_E_BASE - 1 - err];
  if (err < 0 && err > MESH_E_BASE) return uv_strerror(err);
  return "unknown error";
}
