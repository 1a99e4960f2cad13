/*
 * config.c - the agent's settings from its .msh (spec §3).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/msh.h"

static char *dup_value(const struct msh *m, const char *key) {
  const struct msh_entry *e = msh_find(m, key);
  return e ? strndup(e->value, e->value_len) : NULL;
}

/* Splits a comma list into at most AGENT_MAX_SERVERS trimmed items. */
static int split(const char *s, char **out, int max) {
  int n = 0;
  const char *p = s;
  while (*p && n < max) {
    const char *c = strchr(p, ',');
    size_t len = c ? (size_t)(c - p) : strlen(p);
    while (len && (*p == ' ')) p++, len--;
    while (len && p[len - 1] == ' ') len--;
    if (len) out[n++] = strndup(p, len);
    if (!c) break;
    p = c + 1;
  }
  return n;
}

static int read_file(const char *path, char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return MESH_E_NOT_FOUND;
  char *b = malloc(MESH_MSH_MAX_BYTES + 1);
  size_t n = b ? fread(b, 1, MESH_MSH_MAX_BYTES + 1, f) : 0;
  fclose(f);
  if (!b) return MESH_E_NOMEM;
  *out = b;
  *len = n;
  return 0;
}

int agent_config_load(const char *path, struct agent_config *c) {
  char *text = NULL, *servers = NULL, *ids = NULL;
  char *id_list[AGENT_MAX_SERVERS] = {0};
  size_t len, n;
  struct msh *m = calloc(1, sizeof *m);
  int r = m ? read_file(path, &text, &len) : MESH_E_NOMEM;
  memset(c, 0, sizeof *c);
  if (r) {
    log_error_r(r, "event=config path=%s", path);
    goto out;
  }
  if ((r = msh_parse(text, len, m)) != 0) {
    log_error_r(r, "event=config path=%s", path);
    goto out;
  }
  servers = dup_value(m, "MeshServer");
  ids = dup_value(m, "ServerID");
  if (!servers || !ids) {
    log_error(
        "event=config path=%s reason=\"MeshServer and ServerID are "
        "required\"",
        path);
    r = MESH_E_INVALID;
    goto out;
  }
  c->n_servers = split(servers, c->urls, AGENT_MAX_SERVERS);
  int n_ids = split(ids, id_list, AGENT_MAX_SERVERS);
  if (c->n_servers == 0 || n_ids != c->n_servers) {
    log_error(
        "event=config path=%s reason=\"MeshServer and ServerID lists "
        "differ in length\"",
        path);
    r = MESH_E_INVALID;
    goto out;
  }
  for (int i = 0; i < n_ids; i++) {
    if (strncmp(c->urls[i], "wss://", 6) != 0 &&
        strncmp(c->urls[i], "ws://", 5) != 0) {
      log_error(
          "event=config path=%s reason=\"MeshServer must be a wss:// "
          "URL\" (LAN discovery is not supported)",
          path);
      r = MESH_E_INVALID;
      goto out;
    }
    if (enc_unhex(id_list[i], strlen(id_list[i]), c->server_ids[i],
                  CC_HASH_LEN) != 0) {
      log_error(
          "event=config path=%s reason=\"ServerID must be 96 hex "
          "characters\"",
          path);
      r = MESH_E_INVALID;
      goto out;
    }
  }
  if (msh_get_hex(m, "MeshID", c->mesh_id, sizeof c->mesh_id, &n) != 0 ||
      (n != 48 && n != 32)) {
    log_error(
        "event=config path=%s reason=\"MeshID must be 0x and 48 (or "
        "legacy 32) bytes of hex\"",
        path);
    r = MESH_E_INVALID;
    goto out;
  }
  uint8_t caps[4];
  if (msh_get_hex(m, "AgentCapabilities", caps, 4, &n) == 0 && n == 4)
    c->caps_extra = (uint32_t)caps[0] << 24 | (uint32_t)caps[1] << 16 |
                    (uint32_t)caps[2] << 8 | caps[3];
  c->mesh_name = dup_value(m, "MeshName");
  c->agent_name = dup_value(m, "agentName");
  c->tag = dup_value(m, "Tag");
  char *idle = dup_value(m, "controlChannelIdleTimeout");
  long secs = idle ? atol(idle) : 0;
  c->idle_ms = (secs > 0 ? (uint64_t)secs * 1000 : MESH_AGENT_PING_MS);
  free(idle);
  char *consent = dup_value(m, "LocalConsent");
  c->local_consent = consent ? (uint32_t)strtoul(consent, NULL, 0) & 0x7fu : 0;
  free(consent);
  char *product = dup_value(m, "ServerProduct");
  c->server_is_meshd = product && strcmp(product, "meshd") == 0;
  free(product);
  r = 0;
out:
  for (int i = 0; i < AGENT_MAX_SERVERS; i++) free(id_list[i]);
  free(servers);
  free(ids);
  free(text);
  free(m);
  if (r) agent_config_cleanup(c);
  return r;
}

void agent_config_cleanup(struct agent_config *c) {
  for (int i = 0; i < AGENT_MAX_SERVERS; i++) free(c->urls[i]);
  free(c->mesh_name);
  free(c->agent_name);
  free(c->tag);
  memset(c, 0, sizeof *c);
}

int agent_config_extract(const char *exe, const char *msh_path) {
  int fd = open(exe, O_RDONLY | O_CLOEXEC), r = MESH_E_IO;
  struct stat st;
  uint8_t *tail = NULL;
  if (fd < 0 || fstat(fd, &st) != 0) goto out;
  /* Only the end of the binary can hold it: read just that. */
  size_t n = (size_t)st.st_size;
  if (n > MESH_MSH_MAX_BYTES + MSH_EMBED_TRAILER)
    n = MESH_MSH_MAX_BYTES + MSH_EMBED_TRAILER;
  if (!(tail = malloc(n ? n : 1))) {
    r = MESH_E_NOMEM;
    goto out;
  }
  if (pread(fd, tail, n, st.st_size - (off_t)n) != (ssize_t)n) goto out;
  const char *text;
  size_t len;
  if ((r = msh_embedded(tail, n, &text, &len)) != 0) goto out;
  /* 0600: the group id in it is what lets a device join the group. */
  int out_fd = open(msh_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out_fd < 0 || write(out_fd, text, len) != (ssize_t)len) {
    r = MESH_E_IO;
    log_error("event=msh_extract_failed path=%s", msh_path);
  } else {
    log_info("event=msh_extracted path=%s bytes=%zu", msh_path, len);
  }
  if (out_fd >= 0) close(out_fd);
out:
  if (fd >= 0) close(fd);
  free(tail);
  return r;
}
