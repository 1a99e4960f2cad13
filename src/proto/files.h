/*
 * files.h - the files protocol (p=5) inside a relay tunnel
 * (spec/sessions.md §6, docs/sessions.md §4).
 *
 * Sans-I/O: commands are parsed from (ptr, len) into a struct, paths are
 * checked and normalised, upload chunks are escaped (viewer) and
 * unescaped (agent), download blocks are framed (agent) and decoded
 * (viewer). Nothing here logs, blocks or touches the file system.
 *
 * Frames on the wire (spec §6.1):
 * - viewer -> agent: JSON commands (text or binary frames); upload chunks
 *   as binary frames, escaped with one leading 0x00 when the data starts
 *   with '{' or 0x00 (a binary frame starting with '{' is a command);
 * - agent -> viewer: JSON replies (binary frames; download control replies
 *   as text), download blocks as binary frames with a 4-byte big-endian
 *   header: 0x01000000, or 0x01000001 on the last block, then up to
 *   FILES_BLOCK_DATA bytes (exactly that many on every block but the last).
 */
#ifndef MESH_PROTO_FILES_H
#define MESH_PROTO_FILES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/mesh_limits.h"

#define FILES_BLOCK_HDR 4
#define FILES_BLOCK_DATA 16380
#define FILES_BLOCK_MAX (FILES_BLOCK_HDR + FILES_BLOCK_DATA)
#define FILES_FLAG_BLOCK 0x01000000u
#define FILES_FLAG_END 0x00000001u /* OR'd into the last block's flags */
/* The download window when startack names none (stock agent: 8). */
#define FILES_DEFAULT_WINDOW 8

/* ------------------------------------------------ upload chunks */

/* Viewer side: appends one upload chunk's frame payload to out: a 0x00
 * escape byte when p starts with '{' or 0x00, then the n bytes of p
 * (borrowed). An empty chunk is not escaped. Returns 0, or MESH_E_TOO_LARGE
 * / MESH_E_NOMEM from buf (nothing appended then). */
int files_chunk_escape(struct buf *out, const uint8_t *p, size_t n);

enum files_frame_kind {
  FILES_FRAME_JSON = 1, /* a command: parse the whole frame */
  FILES_FRAME_DATA = 2  /* upload data: *data, *len */
};
/* Agent side: classifies one BINARY frame. A frame starting with '{' is a
 * JSON command; anything else is upload data with one leading 0x00 removed
 * (*data borrows from p, *len may be 0). Text frames are always commands
 * and never go through here. Never fails. */
enum files_frame_kind files_frame_classify(const uint8_t *p, size_t n,
                                           const uint8_t **data, size_t *len);

/* ------------------------------------------------ download blocks */

/* Agent side: writes the 4-byte header of a block (last: the end flag). */
void files_block_header(uint8_t hdr[FILES_BLOCK_HDR], int last);

/* Viewer side: decodes one binary download frame. On success returns n
 * (the whole frame is one block) and sets *data (borrowed from p), *len
 * and *last. Returns MESH_E_INCOMPLETE for fewer than 4 bytes,
 * MESH_E_MALFORMED for a header that is not one of the two flag values
 * or a non-last block whose data is not exactly FILES_BLOCK_DATA bytes,
 * MESH_E_TOO_LARGE for more than FILES_BLOCK_DATA data bytes. Outputs are
 * untouched on error. */
ssize_t files_block_decode(const uint8_t *p, size_t n, const uint8_t **data,
                           size_t *len, int *last);

/* ------------------------------------------------ paths */

/* Checks a path from the wire and writes its normalised form to out (cap
 * bytes, NUL-terminated): '/'-joined, one leading '/', no empty or "."
 * components, no trailing '/' (the root is "/"). p is (ptr, len) and may
 * hold anything. Returns 0, or MESH_E_MALFORMED for a NUL byte or a ".."
 * component, MESH_E_TOO_LARGE when the result would not fit in cap or
 * MESH_FILES_MAX_PATH; *why (static text) says which. */
int files_path_normalize(const char *p, size_t n, char *out, size_t cap,
                         const char **why);
/* Checks a single-component name (upload name, rename old/new, rm entry):
 * non-empty, no '/', no NUL, not "." or "..", at most
 * MESH_FILES_MAX_NAME bytes. Returns 0 or MESH_E_MALFORMED with *why. */
int files_name_check(const char *p, size_t n, const char **why);
/* Joins the normalised dir and a checked name into out. Returns 0 or
 * MESH_E_TOO_LARGE. */
int files_path_join(const char *dir, const char *name, char *out, size_t cap);

/* ------------------------------------------------ commands */

enum files_action {
  FILES_LS = 1,
  FILES_MKDIR,
  FILES_RM,
  FILES_RENAME,
  FILES_UPLOAD,
  FILES_UPLOADDONE,
  FILES_UPLOADCANCEL,
  FILES_UPLOADHASH,
  FILES_DOWNLOAD,
  /* A ctrlChannel message in the files stream (spec §6.1), or a WebRTC
   * offer (§8.1): the caller hands it to its tunnel's control handling;
   * only root is set. */
  FILES_CTRL,
  /* An action the stock agent knows and meshagent does not implement
   * (copy, move, zip, unzip, findfile, ...): only action_name is set. */
  FILES_UNSUPPORTED
};

enum files_dl_sub {
  FILES_DL_START = 1,
  FILES_DL_STARTACK,
  FILES_DL_ACK,
  FILES_DL_STOP,
  FILES_DL_CANCEL
};

/* One parsed command. Strings borrow from root; path is the normalised
 * copy. Fields not used by the action are zero/NULL. */
struct files_cmd {
  enum files_action action;
  const char *action_name;
  json_t *root;  /* owned: the whole command */
  json_t *reqid; /* borrowed from root; echoed in replies; may be NULL */
  /* Download: the transfer id (any JSON value, echoed; may be NULL). */
  json_t *id;
  enum files_dl_sub sub;
  uint32_t window; /* startack: blocks to send (ack, default 8, capped) */
  /* The folder (ls, rm, rename, upload with name, uploadhash with name),
   * the target (mkdir, download, upload/uploadhash without name). "/" if
   * the command gave "" (the root listing). */
  char path[MESH_FILES_MAX_PATH + 1];
  const char *path_raw; /* the path as sent (ls echoes it); may be "" */
  const char *name;     /* upload, uploadhash: checked component or NULL */
  const char *oldname, *newname; /* rename: checked components */
  json_t *delfiles;              /* rm: array of checked components */
  int rec;                       /* rm: recursive */
  int append;                    /* upload: append to the existing file */
  int has_size;                  /* upload: size was given */
  uint64_t size;
  json_t *tag; /* uploadhash: echoed; may be NULL */
};

/* Parses one command (a text frame, or a binary frame that
 * files_frame_classify called FILES_FRAME_JSON). p is borrowed. At most
 * MESH_FILES_MAX_COMMAND bytes and MESH_FILES_MAX_NAMES rm names.
 * Returns 0 with *c filled (free with files_cmd_cleanup), or:
 *   MESH_E_MALFORMED  not a JSON object, no "action", a field of the wrong
 *                     type, a bad path or name;
 *   MESH_E_TOO_LARGE  a limit passed;
 *   MESH_E_NOMEM.
 * On error *why (static text) says what; c->reqid, c->action and
 * c->action_name are still set when the JSON got that far (so the caller
 * can address its error reply; c->root then still owns them). Call
 * files_cmd_cleanup after success and after error alike. */
int files_cmd_parse(const uint8_t *p, size_t n, struct files_cmd *c,
                    const char **why);
/* Releases c->root (and with it every borrowed field). Idempotent. */
void files_cmd_cleanup(struct files_cmd *c);

#endif
