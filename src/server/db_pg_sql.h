/*
 * db_pg_sql.h - db.h's ?N placeholders in PostgreSQL's form ($N), for
 * db_pg.c.
 *
 * A scanner of SQL text that knows PostgreSQL's lexical forms that may
 * hold a '?' that is not a placeholder: 'string' (with '' inside),
 * E'string' (with \ escapes), "identifier" (with "" inside), $tag$ ...
 * $tag$ dollar quotes, -- comments and nested block comments. It reads
 * meshd's own SQL text only, never bytes from the network, so it has unit
 * tests (tests/unit/db_test.c) but no fuzz target.
 */
#ifndef MESH_SERVER_DB_PG_SQL_H
#define MESH_SERVER_DB_PG_SQL_H

#include <stdint.h>

/* The highest N a placeholder may have (SQLite's default limit). */
#define DB_PG_MAX_PARAMS 32766

struct db_pg_sql {
  char *text;    /* the rewritten statement (same length as the input) */
  int nparams;   /* the highest N used, 0 with no placeholder */
  uint8_t *used; /* used[i] is 1 when $(i+1) appears; NULL if nparams 0 */
};

/* Rewrites every ?N outside literals, quoted identifiers and comments to
 * $N. MESH_E_MALFORMED for a '?' without a number, or with 0 or more than
 * DB_PG_MAX_PARAMS; MESH_E_NOMEM. On success free out with
 * db_pg__sql_cleanup. */
int db_pg__rewrite(const char *sql, struct db_pg_sql *out);
void db_pg__sql_cleanup(struct db_pg_sql *q);

#endif
