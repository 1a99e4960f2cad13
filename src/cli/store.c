/*
 * store.c - the saved session: $XDG_CONFIG_HOME/meshctl/session.
 *
 * A small text file, one "key=value" per line: url, user, pin (64 hex
 * digits: SHA-256 of the server's public key) and token (the meshd_session
 * cookie). The token is a bearer secret, so the file is 0600 in a 0700
 * directory, is written through a temporary file created 0600 (never
 * world-readable, not even for a moment), and a file others can read is
 * refused rather than used.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "cli/cli.h"

#define SESSION_FILE_MAX 4096

int mc_session_path(char *out, size_t cap, int dir_only) {
  const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
  int n;
  if (xdg && xdg[0] == '/')
    n = snprintf(out, cap, "%s/meshctl%s", xdg, dir_only ? "" : "/session");
  else if (home && home[0])
    n = snprintf(out, cap, "%s/.config/meshctl%s", home,
                 dir_only ? "" : "/session");
  else
    return MESH_E_INVALID;
  return n < 0 || (size_t)n >= cap ? MESH_E_INVALID : 0;
}

void mc_pin_format(const uint8_t pin[HTTP_CLI_PIN_LEN], char out[96]) {
  for (size_t i = 0; i < HTTP_CLI_PIN_LEN; i++)
    snprintf(out + 3 * i, 4, "%02X%s", pin[i],
             i + 1 < HTTP_CLI_PIN_LEN ? ":" : "");
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int mc_pin_parse(const char *s, uint8_t pin[HTTP_CLI_PIN_LEN]) {
  uint8_t out[HTTP_CLI_PIN_LEN];
  size_t k = 0;
  if (strncasecmp(s, "sha256:", 7) == 0) s += 7;
  for (; *s; s++) {
    if (*s == ':') continue;
    int hi = hexval(s[0]), lo = s[1] ? hexval(s[1]) : -1;
    if (hi < 0 || lo < 0 || k == HTTP_CLI_PIN_LEN) return MESH_E_INVALID;
    out[k++] = (uint8_t)(hi << 4 | lo);
    s++;
  }
  if (k != HTTP_CLI_PIN_LEN) return MESH_E_INVALID;
  memcpy(pin, out, sizeof out);
  return 0;
}

static int token_ok(const char *t) {
  size_t n = strlen(t);
  if (n == 0 || n >= MC_TOKEN_MAX) return 0;
  for (; *t; t++)
    if (!((*t >= '0' && *t <= '9') || (*t >= 'a' && *t <= 'z') ||
          (*t >= 'A' && *t <= 'Z') || *t == '-' || *t == '_'))
      return 0;
  return 1;
}

/* Copies value (up to the end of the line) into out; 0 or -1 if too long
 * or empty. */
static int take(const char *v, size_t n, char *out, size_t cap) {
  if (n == 0 || n >= cap) return -1;
  memcpy(out, v, n);
  out[n] = 0;
  return 0;
}

static int parse_session(const char *text, struct mc_session *s) {
  int have_url = 0, have_pin = 0, have_token = 0;
  char pin[128];
  memset(s, 0, sizeof *s);
  for (const char *p = text; *p;) {
    const char *nl = strchr(p, '\n'), *eq;
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    eq = memchr(p, '=', len);
    if (eq) {
      size_t kl = (size_t)(eq - p), vl = len - kl - 1;
      const char *v = eq + 1;
      if (kl == 3 && memcmp(p, "url", 3) == 0) {
        if (take(v, vl, s->url, sizeof s->url) != 0) return -1;
        have_url = 1;
      } else if (kl == 4 && memcmp(p, "user", 4) == 0) {
        if (vl && take(v, vl, s->user, sizeof s->user) != 0) return -1;
      } else if (kl == 3 && memcmp(p, "pin", 3) == 0) {
        if (take(v, vl, pin, sizeof pin) != 0 || mc_pin_parse(pin, s->pin))
          return -1;
        have_pin = 1;
      } else if (kl == 5 && memcmp(p, "token", 5) == 0) {
        if (take(v, vl, s->token, sizeof s->token) != 0 || !token_ok(s->token))
          return -1;
        have_token = 1;
      }
    }
    p += len + (nl ? 1 : 0);
  }
  struct http_cli_url u;
  if (!have_url || !have_pin || !have_token ||
      http_cli_parse_url(s->url, &u) != 0 || !u.tls)
    return -1;
  return 0;
}

int mc_session_load(struct mc_session *s) {
  char path[1024], text[SESSION_FILE_MAX + 1];
  struct stat st;
  memset(s, 0, sizeof *s);
  if (mc_session_path(path, sizeof path, 0) != 0) {
    mc_err("set HOME or XDG_CONFIG_HOME to find the session file");
    return MESH_E_INVALID;
  }
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return MESH_E_NOT_FOUND;
    mc_err("cannot read %s: %s", path, strerror(errno));
    return MESH_E_IO;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    mc_err("%s is not a regular file", path);
    return MESH_E_MALFORMED;
  }
  if (st.st_mode & 077) {
    close(fd);
    mc_err(
        "%s can be read by others (mode %03o): it holds a secret; "
        "run chmod 600 on it or sign in again",
        path, (unsigned)(st.st_mode & 0777));
    return MESH_E_DENIED;
  }
  ssize_t n = read(fd, text, SESSION_FILE_MAX);
  close(fd);
  int r = 0;
  if (n < 0 || n == SESSION_FILE_MAX || memchr(text, 0, (size_t)n)) {
    r = MESH_E_MALFORMED;
  } else {
    text[n] = 0;
    if (parse_session(text, s) != 0) r = MESH_E_MALFORMED;
  }
  OPENSSL_cleanse(text, sizeof text);
  if (r != 0) {
    mc_session_wipe(s);
    mc_err("%s is damaged: sign in again with meshctl login", path);
  }
  return r;
}

int mc_session_save(const struct mc_session *s) {
  char dir[1024], path[1024], tmp[1100], pin[65], text[SESSION_FILE_MAX];
  if (mc_session_path(dir, sizeof dir, 1) != 0 ||
      mc_session_path(path, sizeof path, 0) != 0) {
    mc_err("set HOME or XDG_CONFIG_HOME to keep the session");
    return MC_FAIL;
  }
  /* The parent of the meshctl folder (~/.config) may not exist yet. */
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = 0;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
      mc_err("cannot create %s: %s", dir, strerror(errno));
      return MC_FAIL;
    }
    *slash = '/';
  }
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    mc_err("cannot create %s: %s", dir, strerror(errno));
    return MC_FAIL;
  }
  /* An existing folder is tightened: it may have been made by hand. */
  if (chmod(dir, 0700) != 0) {
    mc_err("cannot set the mode of %s: %s", dir, strerror(errno));
    return MC_FAIL;
  }
  for (size_t i = 0; i < HTTP_CLI_PIN_LEN; i++)
    snprintf(pin + 2 * i, 3, "%02x", s->pin[i]);
  int n = snprintf(text, sizeof text, "url=%s\nuser=%s\npin=%s\ntoken=%s\n",
                   s->url, s->user, pin, s->token);
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
  int fd =
      open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  int ok = fd >= 0 && n > 0 && (size_t)n < sizeof text &&
           write(fd, text, (size_t)n) == n && fsync(fd) == 0;
  int err = errno;
  if (fd >= 0 && close(fd) != 0) ok = 0;
  OPENSSL_cleanse(text, sizeof text);
  if (!ok || rename(tmp, path) != 0) {
    if (ok) err = errno;
    if (fd >= 0) unlink(tmp);
    mc_err("cannot write %s: %s", path, strerror(err));
    return MC_FAIL;
  }
  return 0;
}

int mc_session_delete(void) {
  char path[1024];
  if (mc_session_path(path, sizeof path, 0) != 0) return 0;
  if (unlink(path) != 0 && errno != ENOENT) {
    mc_err("cannot delete %s: %s", path, strerror(errno));
    return MC_FAIL;
  }
  return 0;
}

void mc_session_wipe(struct mc_session *s) {
  OPENSSL_cleanse(s->token, sizeof s->token);
}
