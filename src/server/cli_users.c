/*
 * cli_users.c - `meshd create-account`, and the store opener the offline
 * commands share. These run in a short-lived process with no loop, so the
 * argon2 hash is computed inline (auth.h's "never on the loop" holds).
 */
#include "cli_users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "base/err.h"
#include "srv.h"
#include "users.h"

static const char *cli_db;

void cli_set_db(const char *conninfo) { cli_db = conninfo; }

struct store *cli_open_store(const char *dir) {
  struct store *st = NULL;
  int r = srv_data_dir_init(dir);
  if (r == 0) r = srv_open_store(dir, cli_db, &st);
  if (r)
    fprintf(stderr, "meshd: cannot open the database of %s: %s\n", dir,
            mesh_strerror(r));
  return st;
}

int cli_create_account(const char *data_dir, const char *name, const char *pass,
                       const char *email, int admin) {
  char id[USER_MAX_NAME + 7];
  char *hash = NULL;
  struct store *st = NULL;
  struct user u = {0};
  int r, status = 2;
  /* Check every argument before the slow hash and before touching the
   * data folder, so a typo costs nothing and creates nothing. */
  if (user_id_of(name, id, sizeof id) != 0) {
    fprintf(stderr,
            "meshd: a user name has 1 to %d letters, digits, '.', '_' or "
            "'-'\n",
            USER_MAX_NAME);
    goto out;
  }
  size_t n = strnlen(pass, AUTH_MAX_PASSWORD + 1);
  if (n < AUTH_MIN_PASSWORD || n > AUTH_MAX_PASSWORD) {
    fprintf(stderr, "meshd: a password has %d to %d bytes\n", AUTH_MIN_PASSWORD,
            AUTH_MAX_PASSWORD);
    goto out;
  }
  if (email &&
      (!email[0] || strnlen(email, USER_MAX_EMAIL + 1) > USER_MAX_EMAIL)) {
    fprintf(stderr, "meshd: an e-mail address has 1 to %d bytes\n",
            USER_MAX_EMAIL);
    goto out;
  }
  status = 1;
  if (!(st = cli_open_store(data_dir))) goto out;
  if ((r = auth_hash_password(pass, &hash)) != 0) {
    fprintf(stderr, "meshd: cannot hash the password: %s\n", mesh_strerror(r));
    goto out;
  }
  r = users_create(st, name, email, hash, admin ? SITE_ADMIN : 0, &u);
  if (r == MESH_E_EXISTS) {
    fprintf(stderr, "meshd: the account %s exists\n", id);
    goto out;
  }
  if (r) {
    fprintf(stderr, "meshd: cannot create the account: %s\n", mesh_strerror(r));
    goto out;
  }
  printf("%s\n", u.id);
  status = 0;
out:
  user_cleanup(&u);
  free(hash);
  store_close(st);
  return status;
}
