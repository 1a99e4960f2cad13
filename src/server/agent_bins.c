/*
 * agent_bins.c - the agent binaries meshd holds, per architecture id.
 *
 * A small list: a server holds a handful of architectures at most. Each
 * entry is replaced (not changed in place) when its file changes, so an
 * update in progress keeps the bytes it started with.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "srv.h"
#include "update.h"

/* The architecture of the meshagent built beside meshd (spec §9.1). */
#define AGENT_BINS_OWN_ARCH 6
/* Architecture ids are small (the stock table stops below 11003). */
#define AGENT_BINS_MAX_ARCH 65535

struct agent_bins {
  struct agent_bin *bin[16];
  int n;
};

void agent_bin_unref(struct agent_bin *b) {
  if (b && --b->refs == 0) {
    free(b->data);
    free(b);
  }
}

void agent_bins_cleanup(struct srv *s) {
  if (!s->bins) return;
  for (int i = 0; i < s->bins->n; i++) agent_bin_unref(s->bins->bin[i]);
  free(s->bins);
  s->bins = NULL;
}

/* The file for arch: DATA/agents/<id>/meshagent, else (for our own
 * architecture only) the meshagent beside the meshd binary. */
static int bin_path(struct srv *s, uint32_t arch, char *out, size_t cap,
                    struct stat *st) {
  snprintf(out, cap, "%s/agents/%u/meshagent", s->cfg.data_dir, arch);
  if (stat(out, st) == 0 && S_ISREG(st->st_mode)) return 0;
  if (arch != AGENT_BINS_OWN_ARCH) return MESH_E_NOT_FOUND;
  ssize_t n = readlink("/proc/self/exe", out, cap - 16);
  if (n <= 0) return MESH_E_IO;
  out[n] = 0;
  char *slash = strrchr(out, '/');
  if (!slash) return MESH_E_IO;
  strcpy(slash + 1, "meshagent");
  if (stat(out, st) != 0 || !S_ISREG(st->st_mode)) return MESH_E_NOT_FOUND;
  return 0;
}

static long long mtime_ns(const struct stat *st) {
  return (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static int bin_read(const char *path, uint32_t arch, struct agent_bin **out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC), r = MESH_E_IO;
  struct stat st;
  struct agent_bin *b = NULL;
  if (fd < 0 || fstat(fd, &st) != 0) goto out;
  if ((size_t)st.st_size > AGENT_BIN_MAX) {
    r = MESH_E_TOO_LARGE;
    goto out;
  }
  r = MESH_E_NOMEM;
  if (!(b = calloc(1, sizeof *b)) ||
      !(b->data = malloc(st.st_size ? (size_t)st.st_size : 1)))
    goto out;
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, b->data + got, (size_t)st.st_size - got);
    if (n <= 0) {
      r = MESH_E_IO;
      goto out;
    }
    got += (size_t)n;
  }
  /* An administrator may have placed a downloaded binary that carries
   * some group's .msh: that is not part of the binary, and must not go
   * to other agents. */
  b->len = (size_t)agenthash_end(b->data, got, got);
  agenthash_buf(b->data, b->len, b->hash);
  b->refs = 1;
  b->arch = arch;
  b->dev = st.st_dev;
  b->ino = st.st_ino;
  b->size = st.st_size;
  b->mtime_ns = mtime_ns(&st);
  *out = b;
  b = NULL;
  r = 0;
out:
  if (fd >= 0) close(fd);
  if (b) agent_bin_unref(b);
  return r;
}

int agent_bins_get(struct srv *s, uint32_t arch, struct agent_bin **out) {
  char path[PATH_MAX];
  struct stat st;
  int r, i;
  *out = NULL;
  if (arch == 0 || arch > AGENT_BINS_MAX_ARCH) return MESH_E_NOT_FOUND;
  if (!s->bins && !(s->bins = calloc(1, sizeof *s->bins))) return MESH_E_NOMEM;
  struct agent_bins *bs = s->bins;
  for (i = 0; i < bs->n && bs->bin[i]->arch != arch; i++) continue;
  if ((r = bin_path(s, arch, path, sizeof path, &st)) != 0) return r;
  struct agent_bin *b = i < bs->n ? bs->bin[i] : NULL;
  if (b && b->dev == st.st_dev && b->ino == st.st_ino &&
      b->size == st.st_size && b->mtime_ns == mtime_ns(&st)) {
    b->refs++;
    *out = b;
    return 0;
  }
  if (!b && bs->n == (int)(sizeof bs->bin / sizeof *bs->bin))
    return MESH_E_TOO_LARGE;
  struct agent_bin *nb;
  if ((r = bin_read(path, arch, &nb)) != 0) {
    log_warn_r(r, "event=agent_bin_read arch=%u path=%s", arch, path);
    return r;
  }
  char hex[17];
  for (int k = 0; k < 8; k++) snprintf(hex + 2 * k, 3, "%02x", nb->hash[k]);
  log_info("event=agent_bin_loaded arch=%u path=%s bytes=%zu hash=%s...", arch,
           path, nb->len, hex);
  if (b) agent_bin_unref(b); /* a running update keeps its own reference */
  bs->bin[b ? i : bs->n++] = nb;
  nb->refs++;
  *out = nb;
  return 0;
}
