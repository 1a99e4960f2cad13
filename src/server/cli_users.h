/*
 * cli_users.h - meshd's offline account commands, and the data folder
 * opener shared by every offline command.
 */
#ifndef MESH_SERVER_CLI_USERS_H
#define MESH_SERVER_CLI_USERS_H

#include "store.h"

/* The --db given to an offline command (borrowed, may be NULL): the
 * commands then use and remember that PostgreSQL database, as the server
 * does (srv_open_store). */
void cli_set_db(const char *conninfo);
/* Creates the data folder if needed and opens its store (srv_open_store).
 * Returns a new store (the caller closes it with store_close), or NULL
 * after printing the reason to stderr. dir is borrowed. Not for use on
 * the loop. */
struct store *cli_open_store(const char *dir);

/* `meshd create-account`: hashes pass with argon2id (slow by design),
 * creates the account (a full site administrator when admin is nonzero)
 * and prints its id ("user//bob") on stdout. email may be NULL. Returns a
 * process exit status: 0 done, 1 failure (the account exists, the store
 * cannot be opened), 2 bad arguments (name, password length, e-mail);
 * errors go to stderr. All strings are borrowed. */
int cli_create_account(const char *data_dir, const char *name, const char *pass,
                       const char *email, int admin);

#endif
