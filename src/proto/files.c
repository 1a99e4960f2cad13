/*
 * files.c - the files protocol's pure parts: command parsing and checks,
 * path rules, upload chunk escaping, download block framing.
 *
 * Every path and name that reaches the agent's file system passes through
 * files_path_normalize or files_name_check here first, so the rules live in
 * one place: no NUL bytes (they would cut a C string short and change what
 * is opened), no ".." components (the viewer names exact paths; there is
 * never a reason to climb), names are single components.
 */
#include "proto/files.h"

#include <string.h>

#include "base/err.h"

int files_chunk_escape(struct buf *out, const uint8_t *p, size_t n) {
  int esc = n > 0 && (p[0] == '{' || p[0] == 0);
  int r = buf_reserve(out, n + (size_t)esc);
  if (r == 0 && esc) r = buf_put_u8(out, 0);
  if (r == 0 && n > 0) r = buf_put(out, p, n);
  return r;
}

enum files_frame_kind files_frame_classify(const uint8_t *p, size_t n,
                                           const uint8_t **data, size_t *len) {
  *data = p;
  *len = n;
  if (n > 0 && p[0] == '{') return FILES_FRAME_JSON;
  if (n > 0 && p[0] == 0) {
    *data = p + 1;
    *len = n - 1;
  }
  return FILES_FRAME_DATA;
}

void files_block_header(uint8_t hdr[FILES_BLOCK_HDR], int last) {
  uint32_t v = FILES_FLAG_BLOCK | (last ? FILES_FLAG_END : 0);
  hdr[0] = (uint8_t)(v >> 24);
  hdr[1] = (uint8_t)(v >> 16);
  hdr[2] = (uint8_t)(v >> 8);
  hdr[3] = (uint8_t)v;
}

ssize_t files_block_decode(const uint8_t *p, size_t n, const uint8_t **data,
                           size_t *len, int *last) {
  struct rd r = rd_make(p, n);
  uint32_t flags;
  if (rd_u32be(&r, &flags) != 0) return MESH_E_INCOMPLETE;
  if (flags != FILES_FLAG_BLOCK && flags != (FILES_FLAG_BLOCK | FILES_FLAG_END))
    return MESH_E_MALFORMED;
  int end = (flags & FILES_FLAG_END) != 0;
  if (r.left > FILES_BLOCK_DATA) return MESH_E_TOO_LARGE;
  /* The agent reads FILES_BLOCK_DATA bytes per block and a shorter read is
   * the end, so a short block without the end flag means a broken sender. */
  if (!end && r.left != FILES_BLOCK_DATA) return MESH_E_MALFORMED;
  *data = r.p;
  *len = r.left;
  *last = end;
  return (ssize_t)n;
}

int files_name_check(const char *p, size_t n, const char **why) {
  if (n == 0) {
    *why = "empty name";
    return MESH_E_MALFORMED;
  }
  if (n > MESH_FILES_MAX_NAME) {
    *why = "name too long";
    return MESH_E_MALFORMED;
  }
  if (memchr(p, 0, n)) {
    *why = "name contains a NUL byte";
    return MESH_E_MALFORMED;
  }
  if (memchr(p, '/', n)) {
    *why = "name must be a single path component";
    return MESH_E_MALFORMED;
  }
  if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
    *why = "name may not be . or ..";
    return MESH_E_MALFORMED;
  }
  return 0;
}

int files_path_normalize(const char *p, size_t n, char *out, size_t cap,
                         const char **why) {
  size_t o = 0, i = 0;
  if (cap > MESH_FILES_MAX_PATH + 1) cap = MESH_FILES_MAX_PATH + 1;
  if (cap < 2) {
    *why = "path too long";
    return MESH_E_TOO_LARGE;
  }
  if (memchr(p, 0, n)) {
    *why = "path contains a NUL byte";
    return MESH_E_MALFORMED;
  }
  /* Component by component: empty and "." ones vanish, ".." is refused,
   * every kept one is written as "/" + component. */
  while (i < n) {
    const char *s = p + i;
    const char *e = memchr(s, '/', n - i);
    size_t len = e ? (size_t)(e - s) : n - i;
    i += len + 1;
    if (len == 0 || (len == 1 && s[0] == '.')) continue;
    if (len == 2 && s[0] == '.' && s[1] == '.') {
      *why = "path has a '..' component";
      return MESH_E_MALFORMED;
    }
    if (o + 1 + len + 1 > cap) {
      *why = "path too long";
      return MESH_E_TOO_LARGE;
    }
    out[o++] = '/';
    memcpy(out + o, s, len);
    o += len;
  }
  if (o == 0) out[o++] = '/';
  out[o] = 0;
  return 0;
}

int files_path_join(const char *dir, const char *name, char *out, size_t cap) {
  size_t dl = strlen(dir), nl = strlen(name);
  int root = dl == 1 && dir[0] == '/';
  size_t need = (root ? 0 : dl) + 1 + nl + 1;
  if (need > cap || need > MESH_FILES_MAX_PATH + 1) return MESH_E_TOO_LARGE;
  size_t o = 0;
  if (!root) {
    memcpy(out, dir, dl);
    o = dl;
  }
  out[o++] = '/';
  memcpy(out + o, name, nl + 1);
  return 0;
}

/* ------------------------------------------------ commands */

static const struct {
  const char *name;
  enum files_action action;
} actions[] = {
    {"ls", FILES_LS},
    {"mkdir", FILES_MKDIR},
    {"rm", FILES_RM},
    {"rename", FILES_RENAME},
    {"upload", FILES_UPLOAD},
    {"uploaddone", FILES_UPLOADDONE},
    {"uploadcancel", FILES_UPLOADCANCEL},
    {"uploadhash", FILES_UPLOADHASH},
    {"download", FILES_DOWNLOAD},
};

static const char *const dl_subs[] = {NULL,  "start", "startack",
                                      "ack", "stop",  "cancel"};

/* A string field: absent is fine when !required; present must be a
 * string. Sets *s (borrowed) and *len. */
static int get_str(json_t *o, const char *key, int required, const char **s,
                   size_t *len, const char **why, const char *what) {
  json_t *v = json_object_get(o, key);
  *s = NULL;
  *len = 0;
  if (!v || json_is_null(v)) {
    if (!required) return 0;
    *why = what;
    return MESH_E_MALFORMED;
  }
  if (!json_is_string(v)) {
    *why = what;
    return MESH_E_MALFORMED;
  }
  *s = json_string_value(v);
  *len = json_string_length(v);
  return 0;
}

static int get_path(struct files_cmd *c, int required, const char **why) {
  size_t len;
  int r = get_str(c->root, "path", required, &c->path_raw, &len, why,
                  "path must be a string");
  if (r) return r;
  if (!c->path_raw) return 0;
  return files_path_normalize(c->path_raw, len, c->path, sizeof c->path, why);
}

static int get_name(json_t *o, const char *key, int required, const char **s,
                    const char **why) {
  size_t len;
  int r = get_str(o, key, required, s, &len, why, "name must be a string");
  if (r == 0 && *s) r = files_name_check(*s, len, why);
  return r;
}

static int get_bool(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return v && json_is_true(v);
}

static int parse_rm(struct files_cmd *c, const char **why) {
  int r;
  size_t i;
  json_t *v;
  if ((r = get_path(c, 1, why)) != 0) return r;
  c->rec = get_bool(c->root, "rec");
  c->delfiles = json_object_get(c->root, "delfiles");
  if (!json_is_array(c->delfiles)) {
    *why = "delfiles must be an array of names";
    return MESH_E_MALFORMED;
  }
  if (json_array_size(c->delfiles) > MESH_FILES_MAX_NAMES) {
    *why = "too many names";
    return MESH_E_TOO_LARGE;
  }
  json_array_foreach(c->delfiles, i, v) {
    if (!json_is_string(v)) {
      *why = "delfiles must be an array of names";
      return MESH_E_MALFORMED;
    }
    r = files_name_check(json_string_value(v), json_string_length(v), why);
    if (r) return r;
  }
  return 0;
}

static int parse_upload(struct files_cmd *c, const char **why) {
  int r;
  if ((r = get_path(c, 1, why)) != 0 ||
      (r = get_name(c->root, "name", 0, &c->name, why)) != 0)
    return r;
  /* Without a name the path is the file itself, which cannot be "/". */
  if (!c->name && strcmp(c->path, "/") == 0) {
    *why = "no file name";
    return MESH_E_MALFORMED;
  }
  c->append = get_bool(c->root, "append");
  json_t *size = json_object_get(c->root, "size");
  if (size && !json_is_null(size)) {
    if (!json_is_integer(size) || json_integer_value(size) < 0) {
      *why = "size must be a non-negative integer";
      return MESH_E_MALFORMED;
    }
    c->has_size = 1;
    c->size = (uint64_t)json_integer_value(size);
  }
  if (c->action == FILES_UPLOADHASH) c->tag = json_object_get(c->root, "tag");
  return 0;
}

static int parse_download(struct files_cmd *c, const char **why) {
  const char *sub;
  size_t len;
  int r = get_str(c->root, "sub", 1, &sub, &len, why, "sub must be a string");
  if (r) return r;
  c->id = json_object_get(c->root, "id");
  for (size_t i = 1; i < sizeof dl_subs / sizeof dl_subs[0]; i++)
    if (strlen(dl_subs[i]) == len && memcmp(dl_subs[i], sub, len) == 0)
      c->sub = (enum files_dl_sub)i;
  if (!c->sub) {
    *why = "unknown download sub-command";
    return MESH_E_MALFORMED;
  }
  if (c->sub == FILES_DL_START) return get_path(c, 1, why);
  if (c->sub == FILES_DL_STARTACK) {
    json_t *ack = json_object_get(c->root, "ack");
    json_int_t w = FILES_DEFAULT_WINDOW;
    /* The stock agent only honours a numeric ack; anything else means the
     * default window, and the window is capped so one command cannot make
     * the agent queue an unbounded amount of file data. */
    if (json_is_integer(ack)) w = json_integer_value(ack);
    if (w < 1) w = 1;
    if (w > MESH_FILES_MAX_WINDOW) w = MESH_FILES_MAX_WINDOW;
    c->window = (uint32_t)w;
  }
  return 0;
}

static int parse_body(struct files_cmd *c, const char **why) {
  int r;
  switch (c->action) {
    case FILES_LS:
      /* ls without a path lists the root, as "" does. */
      if ((r = get_path(c, 0, why)) != 0) return r;
      if (!c->path_raw) {
        c->path_raw = "";
        strcpy(c->path, "/");
      }
      return 0;
    case FILES_MKDIR:
      if ((r = get_path(c, 1, why)) != 0) return r;
      if (strcmp(c->path, "/") == 0) {
        *why = "cannot create /";
        return MESH_E_MALFORMED;
      }
      return 0;
    case FILES_RM:
      return parse_rm(c, why);
    case FILES_RENAME:
      if ((r = get_path(c, 1, why)) != 0 ||
          (r = get_name(c->root, "oldname", 1, &c->oldname, why)) != 0 ||
          (r = get_name(c->root, "newname", 1, &c->newname, why)) != 0)
        return r;
      return 0;
    case FILES_UPLOAD:
    case FILES_UPLOADHASH:
      return parse_upload(c, why);
    case FILES_DOWNLOAD:
      return parse_download(c, why);
    default: /* uploaddone, uploadcancel: reqid only */
      return 0;
  }
}

/* A control message: one with the magic ctrlChannel, or a WebRTC offer,
 * which viewers send without it (spec §8.1). */
static int is_ctrl(json_t *o) {
  const char *type = json_string_value(json_object_get(o, "type"));
  if (type && strcmp(type, "offer") == 0) return 1;
  json_t *v = json_object_get(o, "ctrlChannel");
  if (json_is_string(v)) return strcmp(json_string_value(v), "102938") == 0;
  return json_is_integer(v) && json_integer_value(v) == 102938;
}

int files_cmd_parse(const uint8_t *p, size_t n, struct files_cmd *c,
                    const char **why) {
  memset(c, 0, sizeof *c);
  *why = NULL;
  if (n > MESH_FILES_MAX_COMMAND) {
    *why = "command too large";
    return MESH_E_TOO_LARGE;
  }
  /* NULs are allowed in JSON strings here only so that the path rules can
   * refuse them with a clear reason instead of a bare parse error. */
  c->root = json_loadb((const char *)p, n,
                       JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, NULL);
  if (!c->root || !json_is_object(c->root)) {
    *why = "command is not a JSON object";
    return MESH_E_MALFORMED;
  }
  if (is_ctrl(c->root)) {
    c->action = FILES_CTRL;
    return 0;
  }
  c->reqid = json_object_get(c->root, "reqid");
  json_t *a = json_object_get(c->root, "action");
  if (!json_is_string(a)) {
    *why = "no action";
    return MESH_E_MALFORMED;
  }
  c->action_name = json_string_value(a);
  size_t alen = json_string_length(a);
  c->action = FILES_UNSUPPORTED;
  for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
    if (strlen(actions[i].name) == alen &&
        memcmp(actions[i].name, c->action_name, alen) == 0)
      c->action = actions[i].action;
  if (c->action == FILES_UNSUPPORTED) return 0;
  return parse_body(c, why);
}

void files_cmd_cleanup(struct files_cmd *c) {
  json_decref(c->root);
  c->root = NULL;
  c->reqid = c->id = c->delfiles = c->tag = NULL;
}
