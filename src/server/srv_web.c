/*
 * srv_web.c - static files of the browser app.
 *
 * Why the file is read on the loop thread: the web folder holds a handful
 * of small files (the app's HTML, scripts, styles and icons, a few KB to a
 * few hundred KB) on local disk, read again only when a browser's cache
 * misses (ETag, 304). After the first request they sit in the page cache,
 * so open+fstat+read cost microseconds, less than a round trip through the
 * libuv thread pool. SRV_WEB_MAX_FILE bounds the worst case. The final
 * open uses O_NONBLOCK so that a FIFO planted in the folder cannot stall
 * the loop in open(); it is then refused as not a regular file. If the
 * folder ever moves to slow or network storage, this is the place to move
 * reads to uv_fs_* (or keep an in-memory cache keyed by path and ETag).
 *
 * Path safety does not rest on one check: srv_web_path_ok() refuses every
 * path with "..", "//", '%', '\\', hidden components or characters outside
 * [A-Za-z0-9._/-]; then the path is walked one component at a time with
 * openat(O_NOFOLLOW) from a descriptor of the web folder, so a symbolic
 * link anywhere below the folder is refused rather than followed; and only
 * regular files are sent.
 */
#include "srv_web.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "net/http_srv.h"

/* Headers on error responses: never cache a 404 or 405. */
#define WEB_ERR_HEADERS SRV_WEB_SECURITY_HEADERS "Cache-Control: no-store\r\n"

struct web_type {
  const char *ext; /* without the dot */
  const char *ctype;
};

/* The only extensions served; anything else is 404, so a stray file
 * (a backup, a source map of something else, a .gz asked for directly)
 * is not published by accident. */
static const struct web_type web_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"json", "application/json"},
    {"woff2", "font/woff2"},
    {"map", "application/json"},
};

struct web_file {
  int fd;
  struct stat st;
};

static int is_path_char(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' ||
         ch == '/';
}

int srv_web_path_ok(const char *path) {
  if (!path || path[0] != '/') return 0;
  if (path[1] == '\0') return 1; /* "/" is the app's index */
  size_t n = strnlen(path, SRV_WEB_MAX_PATH + 1);
  if (n > SRV_WEB_MAX_PATH) return 0;
  if (path[n - 1] == '/') return 0; /* no folder listings */
  if (strstr(path, "..") || strstr(path, "//")) return 0;
  int depth = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)path[i];
    if (!is_path_char(ch)) return 0;
    if (ch == '/') {
      /* Each component is non-empty ("//" and a trailing '/' were refused
       * above) and must not be hidden: no ".git", ".env", "." etc. */
      if (path[i + 1] == '.') return 0;
      if (++depth > SRV_WEB_MAX_DEPTH) return 0;
    }
  }
  return 1;
}

static const char *content_type(const char *rel) {
  const char *slash = strrchr(rel, '/');
  const char *dot = strrchr(slash ? slash + 1 : rel, '.');
  if (!dot) return NULL;
  for (size_t i = 0; i < sizeof web_types / sizeof web_types[0]; i++)
    if (strcmp(dot + 1, web_types[i].ext) == 0) return web_types[i].ctype;
  return NULL;
}

/* Opens rel (components separated by '/', already checked by
 * srv_web_path_ok) below dirfd without following any symbolic link, and
 * checks it is a regular file within the size cap. Returns 0 and fills f,
 * MESH_E_NOT_FOUND, or MESH_E_TOO_LARGE (f->fd is then -1). */
static int web_open(int dirfd, const char *rel, struct web_file *f) {
  char tmp[SRV_WEB_MAX_PATH + 8];
  f->fd = -1;
  if (strlen(rel) >= sizeof tmp) return MESH_E_NOT_FOUND;
  strcpy(tmp, rel);
  int cur = dirfd;
  char *comp = tmp, *slash;
  while ((slash = strchr(comp, '/')) != NULL) {
    *slash = '\0';
    int next =
        openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cur != dirfd) close(cur);
    if (next < 0) return MESH_E_NOT_FOUND;
    cur = next;
    comp = slash + 1;
  }
  int fd = openat(cur, comp,
                  O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (cur != dirfd) close(cur);
  if (fd < 0) return MESH_E_NOT_FOUND;
  if (fstat(fd, &f->st) != 0 || !S_ISREG(f->st.st_mode)) {
    close(fd);
    return MESH_E_NOT_FOUND;
  }
  if (f->st.st_size > SRV_WEB_MAX_FILE) {
    close(fd);
    return MESH_E_TOO_LARGE;
  }
  f->fd = fd;
  return 0;
}

/* Reads the whole file (its size from fstat) into a new buffer *out.
 * Returns 0, MESH_E_NOMEM or MESH_E_IO (also when the file shrank since
 * fstat: its ETag would then lie). */
static int web_read(const struct web_file *f, uint8_t **out) {
  size_t size = (size_t)f->st.st_size, got = 0;
  uint8_t *p = malloc(size ? size : 1);
  *out = NULL;
  if (!p) return MESH_E_NOMEM;
  while (got < size) {
    ssize_t r = read(f->fd, p + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      free(p);
      return MESH_E_IO;
    }
    got += (size_t)r;
  }
  *out = p;
  return 0;
}

/* Nonzero if the Accept-Encoding value lists gzip (or x-gzip) with a
 * nonzero q. Tokens are compared case-insensitively; "*" is not taken as
 * gzip, so only clients that name it get compressed bytes. */
static int accepts_gzip(const char *ae) {
  const char *p = ae;
  while (p && *p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    const char *name = p;
    while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') p++;
    size_t nlen = (size_t)(p - name);
    const char *end = strchr(p, ',');
    if (!end) end = p + strlen(p);
    int gzip = (nlen == 4 && strncasecmp(name, "gzip", 4) == 0) ||
               (nlen == 6 && strncasecmp(name, "x-gzip", 6) == 0);
    if (gzip) {
      /* A parameter "q=0", "q=0.0", ... refuses the coding. */
      const char *q = p;
      int zero = 0;
      while ((q = strchr(q, ';')) != NULL && q < end) {
        q++;
        while (*q == ' ' || *q == '\t') q++;
        if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
          const char *v = q + 2;
          zero = v[0] == '0';
          for (v++; zero && v < end && *v != ' ' && *v != ';'; v++)
            zero = *v == '.' || *v == '0';
        }
      }
      if (!zero) return 1;
    }
    p = end;
  }
  return 0;
}

/* Nonzero if the If-None-Match value matches etag (a quoted strong tag):
 * "*", or any listed tag equal to it under the weak comparison (a "W/"
 * prefix is ignored), as RFC 9110 asks for If-None-Match. */
static int etag_matches(const char *inm, const char *etag) {
  size_t elen = strlen(etag);
  const char *p = inm;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (*p == '*') return 1;
    if (p[0] == 'W' && p[1] == '/') p += 2;
    const char *start = p;
    if (*p == '"') {
      const char *close = strchr(p + 1, '"');
      if (!close) return 0;
      p = close + 1;
    } else {
      while (*p && *p != ',') p++;
    }
    if ((size_t)(p - start) == elen && memcmp(start, etag, elen) == 0) return 1;
    while (*p && *p != ',') p++;
  }
  return 0;
}

static void respond_error(struct http_conn *c, int status, const char *extra) {
  char hdr[1024];
  const char *body = status == 404   ? "not found\n"
                     : status == 405 ? "method not allowed\n"
                                     : "server error\n";
  snprintf(hdr, sizeof hdr, "%s%s", WEB_ERR_HEADERS, extra ? extra : "");
  http_respond(c, status, hdr, "text/plain; charset=utf-8", body, strlen(body));
}

/* Opens the file for req and, when it exists and is not older than the
 * file, its gzip sibling. Returns 0
 * with the chosen variant in *use (the sibling when the client accepts
 * gzip), *has_gz set when a sibling exists (so Vary is sent either way),
 * or MESH_E_NOT_FOUND / MESH_E_TOO_LARGE. The unused descriptor is
 * closed. */
static int web_pick(int dirfd, const char *rel, const struct http_req *req,
                    struct web_file *use, int *gzipped, int *has_gz) {
  struct web_file plain, gz;
  char gzname[SRV_WEB_MAX_PATH + 8];
  int r;
  *gzipped = *has_gz = 0;
  use->fd = -1;
  if ((r = web_open(dirfd, rel, &plain)) != 0) return r;
  snprintf(gzname, sizeof gzname, "%s.gz", rel);
  if (web_open(dirfd, gzname, &gz) != 0) {
    *use = plain;
    return 0;
  }
  /* A sibling older than its file was made from an earlier version (the
   * file was edited since scripts/setup-web.sh ran): never serve it. */
  if (gz.st.st_mtim.tv_sec < plain.st.st_mtim.tv_sec ||
      (gz.st.st_mtim.tv_sec == plain.st.st_mtim.tv_sec &&
       gz.st.st_mtim.tv_nsec < plain.st.st_mtim.tv_nsec)) {
    close(gz.fd);
    *use = plain;
    return 0;
  }
  *has_gz = 1;
  const char *ae = http_req_header(req, "Accept-Encoding");
  if (ae && accepts_gzip(ae)) {
    close(plain.fd);
    *use = gz;
    *gzipped = 1;
  } else {
    close(gz.fd);
    *use = plain;
  }
  return 0;
}

void srv_web_serve(struct srv *s, struct http_conn *c,
                   const struct http_req *req) {
  const char *path = req->path;
  if (!srv_web_path_ok(path)) {
    respond_error(c, 404, NULL);
    return;
  }
  const char *rel = strcmp(path, "/") == 0 ? "index.html" : path + 1;
  int index = strcmp(rel, "index.html") == 0;
  const char *ctype = content_type(rel);
  if (!ctype || !s->cfg.web_dir) {
    respond_error(c, 404, NULL);
    return;
  }
  int dirfd = open(s->cfg.web_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) {
    log_debug("peer=%s event=web_dir dir=%s reason=\"%s\"", req->peer,
              s->cfg.web_dir, strerror(errno));
    respond_error(c, 404, NULL);
    return;
  }
  struct web_file f;
  int gzipped, has_gz;
  int r = web_pick(dirfd, rel, req, &f, &gzipped, &has_gz);
  close(dirfd);
  if (r == MESH_E_TOO_LARGE) {
    log_warn("peer=%s event=web path=%s reason=\"file over %d bytes\"",
             req->peer, path, SRV_WEB_MAX_FILE);
    respond_error(c, 500, NULL);
    return;
  }
  if (r != 0) {
    respond_error(c, 404, NULL);
    return;
  }
  /* 405 only for a file that exists: a POST to an unknown path (an API
   * that is not there) is 404, as any other unknown path. */
  if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
    close(f.fd);
    respond_error(c, 405, "Allow: GET, HEAD\r\n");
    return;
  }

  /* The tag changes with the size or the modification time, and differs
   * between the plain and the gzip variant (they are different bytes). */
  char etag[96], hdr[1536];
  snprintf(etag, sizeof etag, "\"%llx-%llx.%lx%s\"",
           (unsigned long long)f.st.st_size,
           (unsigned long long)f.st.st_mtim.tv_sec,
           (unsigned long)f.st.st_mtim.tv_nsec, gzipped ? "-gz" : "");
  snprintf(hdr, sizeof hdr,
           SRV_WEB_SECURITY_HEADERS "Cache-Control: %s\r\nETag: %s\r\n%s%s",
           index ? "no-cache" : "max-age=3600", etag,
           has_gz ? "Vary: Accept-Encoding\r\n" : "",
           gzipped ? "Content-Encoding: gzip\r\n" : "");

  const char *inm = http_req_header(req, "If-None-Match");
  if (inm && etag_matches(inm, etag)) {
    close(f.fd);
    /* http_respond writes "Content-Length: 0" here; browsers and caches
     * take a 304 as having no body whatever that header says. */
    http_respond(c, 304, hdr, NULL, NULL, 0);
    return;
  }
  uint8_t *body;
  r = web_read(&f, &body);
  close(f.fd);
  if (r != 0) {
    log_warn_r(r, "peer=%s event=web path=%s", req->peer, path);
    respond_error(c, 500, NULL);
    return;
  }
  http_respond(c, 200, hdr, ctype, body, (size_t)f.st.st_size);
  free(body);
}
