/*
 * main.c - meshctl, the command-line client of meshd's user API: argument
 * parsing and the commands that need no tunnel (help, login, logout).
 */
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "cli/cli.h"

static const char usage_text[] =
    "usage: meshctl COMMAND [ARGS]\n"
    "\n"
    "  login URL [--user NAME] [--pass-file FILE] [--token CODE]\n"
    "            [--fingerprint SHA256]\n"
    "      Sign in to the meshd server at URL (https://host:port) and keep\n"
    "      the session. The password is asked for, or read from FILE or\n"
    "      $MESHCTL_PASSWORD; a two-factor code is asked for when needed.\n"
    "      The server's key is pinned on first use (or to SHA256).\n"
    "  logout\n"
    "      End the session on the server and forget it.\n"
    "  devices [--json]\n"
    "      List device groups and devices with their online state.\n"
    "  shell DEVICE\n"
    "      Open a terminal on DEVICE (a name or a node id); exits with the\n"
    "      remote shell's status.\n"
    "  run DEVICE -- COMMAND [ARGS...]\n"
    "      Run COMMAND on DEVICE, print its output, exit with its status.\n"
    "  upload DEVICE LOCAL REMOTE\n"
    "  download DEVICE REMOTE LOCAL\n"
    "      Copy a file to or from DEVICE.\n"
    "  help\n"
    "\n"
    "The session is kept in $XDG_CONFIG_HOME/meshctl/session (default\n"
    "~/.config/meshctl/session). Exit status: 0 ok, 1 failure, 2 usage\n"
    "(shell and run: the remote command's status).\n";

static int usage(const char *why) {
  if (why && why[0]) fprintf(stderr, "meshctl: %s\n", why);
  fprintf(stderr, "%s", why ? "Try 'meshctl help'.\n" : usage_text);
  return MC_USAGE;
}

/* Turns URL into "https://host[:port]"; 0 or MC_USAGE (printed). */
static int base_url(const char *in, char *out, size_t cap) {
  char tmp[MC_URL_MAX + 16];
  struct http_cli_url u;
  if (strstr(in, "://"))
    snprintf(tmp, sizeof tmp, "%s", in);
  else
    snprintf(tmp, sizeof tmp, "https://%s", in);
  if (http_cli_parse_url(tmp, &u) != 0 || !u.tls ||
      strcmp(u.target, "/") != 0) {
    fprintf(stderr, "meshctl: '%s' is not a server URL (https://host:port)\n",
            in);
    return MC_USAGE;
  }
  char port[16] = "";
  if (u.port != 443) snprintf(port, sizeof port, ":%d", u.port);
  int n = snprintf(out, cap, "https://%s%s%s%s", u.host_is_v6 ? "[" : "",
                   u.host, u.host_is_v6 ? "]" : "", port);
  return n > 0 && (size_t)n < cap ? 0 : MC_USAGE;
}

struct login_args {
  const char *url, *user, *pass_file, *token, *fingerprint;
};

static int cmd_login(const struct login_args *la) {
  struct mc_app a;
  char url[MC_URL_MAX], pass[512], code[64] = "";
  uint8_t pin[HTTP_CLI_PIN_LEN];
  int have_pin = 0;
  if (base_url(la->url, url, sizeof url) != 0) return MC_USAGE;
  if (la->fingerprint) {
    if (mc_pin_parse(la->fingerprint, pin) != 0)
      return usage("--fingerprint takes 64 hex digits (SHA-256)");
    have_pin = 1;
  } else {
    /* Signing in again to the same server keeps its pin, as ssh keeps a
     * known host's key: a changed key is refused here too. */
    struct mc_session old;
    if (mc_session_load(&old) == 0 && strcmp(old.url, url) == 0) {
      memcpy(pin, old.pin, sizeof pin);
      have_pin = 1;
    }
    mc_session_wipe(&old);
  }
  if (mc_read_secret("password", la->pass_file, "MESHCTL_PASSWORD", pass,
                     sizeof pass) != 0)
    return MC_FAIL;
  if (mc_app_init(&a) != 0) {
    OPENSSL_cleanse(pass, sizeof pass);
    return MC_FAIL;
  }
  struct mc_login_opts o = {url, la->user, pass, la->token,
                            have_pin ? pin : NULL};
  int r = mc_api_login(&a, &o);
  if (r == MESH_E_AUTH) {
    if (!mc_interactive()) {
      mc_err("this account needs a two-factor code: use --token CODE");
      r = MC_FAIL;
    } else if (mc_read_secret("two-factor code", NULL, NULL, code,
                              sizeof code) != 0) {
      r = MC_FAIL;
    } else {
      /* The first connection showed the key: the second must match. */
      uint8_t seen[HTTP_CLI_PIN_LEN];
      memcpy(seen, a.seen_pin, sizeof seen);
      o.token = code;
      o.pin = seen;
      r = mc_api_login(&a, &o);
      if (r == MESH_E_AUTH) r = MC_FAIL;
    }
  }
  OPENSSL_cleanse(pass, sizeof pass);
  OPENSSL_cleanse(code, sizeof code);
  if (r == 0) {
    char fp[96];
    mc_pin_format(a.sess.pin, fp);
    if (!have_pin)
      fprintf(stderr,
              "meshctl: trusting %s on first use; its key fingerprint is\n"
              "  SHA256:%s\n",
              url, fp);
    r = mc_session_save(&a.sess);
    if (r == 0)
      fprintf(stderr, "meshctl: signed in to %s as %s\n", url, la->user);
  }
  mc_app_cleanup(&a);
  return r == 0 ? MC_OK : MC_FAIL;
}

static int cmd_logout(void) {
  struct mc_app a;
  if (mc_app_init(&a) != 0) return MC_FAIL;
  int r = mc_app_load_session(&a);
  if (r == 0) {
    r = mc_api_logout(&a);
    /* The local copy goes even when the server could not be told: the
     * user asked to be signed out here. */
    if (mc_session_delete() != 0) r = MC_FAIL;
    if (r != 0)
      mc_err(
          "the session was forgotten here but may still be valid on the "
          "server until it expires");
  }
  mc_app_cleanup(&a);
  return r == 0 ? MC_OK : MC_FAIL;
}

/* Runs a command that needs the saved session. */
static int with_session(int (*fn)(struct mc_app *, const char **),
                        const char **args) {
  struct mc_app a;
  if (mc_app_init(&a) != 0) return MC_FAIL;
  int r = mc_app_load_session(&a) == 0 ? fn(&a, args) : MC_FAIL;
  mc_app_cleanup(&a);
  return r;
}

static int run_devices(struct mc_app *a, const char **args) {
  return mc_cmd_devices(a, args[0] != NULL);
}
static int run_shell(struct mc_app *a, const char **args) {
  return mc_cmd_shell(a, args[0], args[1]);
}
static int run_upload(struct mc_app *a, const char **args) {
  return mc_cmd_upload(a, args[0], args[1], args[2]);
}
static int run_download(struct mc_app *a, const char **args) {
  return mc_cmd_download(a, args[0], args[1], args[2]);
}

/* Joins argv into one shell command line, quoting each word so that the
 * remote /bin/sh -c sees the same words. */
static char *join_command(int argc, char **argv) {
  size_t cap = 1;
  for (int i = 0; i < argc; i++) cap += 4 * strlen(argv[i]) + 3;
  char *out = malloc(cap), *p = out;
  if (!out) return NULL;
  for (int i = 0; i < argc; i++) {
    if (i) *p++ = ' ';
    *p++ = '\'';
    for (const char *c = argv[i]; *c; c++) {
      if (*c == '\'') {
        memcpy(p, "'\\''", 4);
        p += 4;
      } else {
        *p++ = *c;
      }
    }
    *p++ = '\'';
  }
  *p = 0;
  return out;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  log_set_level(LOG_ERROR);
  log_set_prog("meshctl");
  if (argc < 2) return usage(NULL);
  const char *cmd = argv[1];
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0) {
    printf("%s", usage_text);
    return MC_OK;
  }
  if (strcmp(cmd, "login") == 0) {
    struct login_args la = {0};
    la.user = getenv("USER");
    for (int i = 2; i < argc; i++) {
      const char **slot = NULL;
      if (strcmp(argv[i], "--user") == 0) slot = &la.user;
      if (strcmp(argv[i], "--pass-file") == 0) slot = &la.pass_file;
      if (strcmp(argv[i], "--token") == 0) slot = &la.token;
      if (strcmp(argv[i], "--fingerprint") == 0) slot = &la.fingerprint;
      if (slot) {
        if (++i >= argc) return usage("an option is missing its value");
        *slot = argv[i];
      } else if (argv[i][0] == '-' || la.url) {
        fprintf(stderr, "meshctl: login: unexpected '%s'\n", argv[i]);
        return usage("");
      } else {
        la.url = argv[i];
      }
    }
    if (!la.url) return usage("login needs the server's URL");
    if (!la.user || !la.user[0]) return usage("login needs --user NAME");
    return cmd_login(&la);
  }
  if (strcmp(cmd, "logout") == 0) {
    if (argc != 2) return usage("logout takes no arguments");
    return cmd_logout();
  }
  if (strcmp(cmd, "devices") == 0) {
    const char *args[1] = {NULL};
    if (argc > 3 || (argc == 3 && strcmp(argv[2], "--json") != 0))
      return usage("devices takes only --json");
    if (argc == 3) args[0] = "json";
    return with_session(run_devices, args);
  }
  if (strcmp(cmd, "shell") == 0) {
    if (argc != 3) return usage("shell takes one DEVICE");
    const char *args[2] = {argv[2], NULL};
    return with_session(run_shell, args);
  }
  if (strcmp(cmd, "run") == 0) {
    if (argc < 5 || strcmp(argv[3], "--") != 0)
      return usage("run takes DEVICE -- COMMAND [ARGS...]");
    char *line = join_command(argc - 4, argv + 4);
    if (!line) return MC_FAIL;
    const char *args[2] = {argv[2], line};
    int r = with_session(run_shell, args);
    free(line);
    return r;
  }
  if (strcmp(cmd, "upload") == 0 || strcmp(cmd, "download") == 0) {
    if (argc != 5) {
      fprintf(stderr, "meshctl: %s takes DEVICE %s\n", cmd,
              cmd[0] == 'u' ? "LOCAL REMOTE" : "REMOTE LOCAL");
      return usage("");
    }
    const char *args[3] = {argv[2], argv[3], argv[4]};
    return with_session(cmd[0] == 'u' ? run_upload : run_download, args);
  }
  fprintf(stderr, "meshctl: unknown command '%s'\n", cmd);
  return usage("");
}
