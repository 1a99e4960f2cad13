/*
 * msh.h - the agent's .msh configuration text (spec/control-channel.md §3.1).
 *
 * "key=value" lines separated by LF (a CR before it is dropped); lines and
 * both halves are trimmed; '#' starts a comment line; the split is at the
 * first '='; lines without '=' are ignored; an empty value deletes the key;
 * CoreModule is ignored; keys are case-sensitive. Values starting with "0x"
 * are hex, decoded on request with msh_get_hex().
 *
 * The parser never allocates: entries point into the caller's text, which
 * must outlive the struct msh.
 */
#ifndef MESH_MSH_H
#define MESH_MSH_H

#include <stddef.h>
#include <stdint.h>

#include "mesh_limits.h"

struct msh_entry {
  const char *key, *value; /* borrowed, not NUL-terminated */
  size_t key_len, value_len;
};

struct msh {
  struct msh_entry e[MESH_MSH_MAX_KEYS];
  size_t n;
};

/* Parses text. Returns 0, MESH_E_TOO_LARGE (over MESH_MSH_MAX_BYTES or
 * MESH_MSH_MAX_KEYS distinct keys) or MESH_E_MALFORMED (a NUL byte). */
int msh_parse(const char *text, size_t n, struct msh *out);

/* Finds key; returns the entry (borrowed) or NULL. */
const struct msh_entry *msh_find(const struct msh *m, const char *key);

/* Copies the value of key as a NUL-terminated string into out. Returns 0,
 * MESH_E_NOT_FOUND, or MESH_E_TOO_LARGE when it does not fit. */
int msh_get_str(const struct msh *m, const char *key, char *out, size_t cap);

/* Decodes a "0x..." value into out; *len gets the byte count. Returns 0,
 * MESH_E_NOT_FOUND, MESH_E_MALFORMED (no 0x or bad hex) or
 * MESH_E_TOO_LARGE. */
int msh_get_hex(const struct msh *m, const char *key, uint8_t *out, size_t cap,
                size_t *len);

/* A binary may carry its .msh at its very end (spec §3.3): the text, its
 * length as a big-endian u32, then this 16-byte marker. */
extern const uint8_t MSH_EMBED_GUID[16];
#define MSH_EMBED_TRAILER 20 /* length + marker */

struct buf;
/* Appends text (n bytes), its length and the marker to b. 0,
 * MESH_E_TOO_LARGE (over MESH_MSH_MAX_BYTES, or b full), MESH_E_NOMEM. */
int msh_embed(struct buf *b, const char *text, size_t n);
/* Finds the .msh at the end of the n bytes at file (which may be just the
 * file's tail). Returns 0 with *text and *len pointing into file, or
 * MESH_E_NOT_FOUND (no marker), MESH_E_MALFORMED (a length that does not
 * fit), MESH_E_TOO_LARGE (over MESH_MSH_MAX_BYTES). */
int msh_embedded(const uint8_t *file, size_t n, const char **text, size_t *len);

#endif
