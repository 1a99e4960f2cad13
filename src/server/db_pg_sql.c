/*
 * db_pg_sql.c - ?N -> $N outside PostgreSQL's quoted forms (db_pg_sql.h).
 *
 * "?N" and "$N" have the same length, so the rewrite is done in a copy of
 * the text, in place. The scan runs twice: once to find the highest N
 * (and refuse bad placeholders), once to fill the used[] table.
 */
#include "db_pg_sql.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

/* Characters that continue an identifier (PostgreSQL allows $ after the
 * first; bytes >= 0x80 are parts of UTF-8 letters). */
static int ident_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80;
}

static int digit(char c) { return c >= '0' && c <= '9'; }

/* Returns the index just past a quoted run starting at p[i] (the opening
 * quote q); a doubled quote stays inside. backslash: E'' strings, where
 * \x escapes any x. An unterminated run ends at the end of the text (the
 * server will refuse it). */
static size_t skip_quoted(const char *p, size_t i, char q, int backslash) {
  for (i++; p[i]; i++) {
    if (backslash && p[i] == '\\' && p[i + 1]) {
      i++;
    } else if (p[i] == q) {
      if (p[i + 1] != q) return i + 1;
      i++; /* a doubled quote */
    }
  }
  return i;
}

/* Block comments nest in PostgreSQL. */
static size_t skip_block_comment(const char *p, size_t i) {
  int depth = 0;
  while (p[i]) {
    if (p[i] == '/' && p[i + 1] == '*') {
      depth++;
      i += 2;
    } else if (p[i] == '*' && p[i + 1] == '/') {
      i += 2;
      if (--depth == 0) return i;
    } else {
      i++;
    }
  }
  return i;
}

/* p[i] is a '$' not inside an identifier: a $tag$ or $$ opening a dollar
 * quote returns the index past its closing delimiter; anything else (a $1
 * parameter, a stray $) returns i + 1. */
static size_t skip_dollar(const char *p, size_t i) {
  size_t j = i + 1;
  if (digit(p[j])) return i + 1; /* $1: a parameter, not a tag */
  while (p[j] != '$' && ident_char((unsigned char)p[j])) j++;
  if (p[j] != '$') return i + 1; /* a stray $ */
  size_t taglen = j + 1 - i;     /* "$tag$" or "$$" */
  for (j++; p[j]; j++)
    if (p[j] == '$' && strncmp(p + j, p + i, taglen) == 0) return j + taglen;
  return j;
}

/* One pass over the text (see the file comment). used may be NULL. */
static int scan(char *t, int *max, uint8_t *used) {
  size_t i = 0;
  *max = 0;
  while (t[i]) {
    char c = t[i];
    int prev_ident = i > 0 && ident_char((unsigned char)t[i - 1]);
    if (c == '\'') {
      /* E'...' (not the end of an identifier like "name'") */
      int e = i > 0 && (t[i - 1] == 'E' || t[i - 1] == 'e') &&
              !(i > 1 && ident_char((unsigned char)t[i - 2]));
      i = skip_quoted(t, i, '\'', e);
    } else if (c == '"') {
      i = skip_quoted(t, i, '"', 0);
    } else if (c == '-' && t[i + 1] == '-') {
      i += strcspn(t + i, "\n");
    } else if (c == '/' && t[i + 1] == '*') {
      i = skip_block_comment(t, i);
    } else if (c == '$' && !prev_ident) {
      i = skip_dollar(t, i);
    } else if (c == '?') {
      long n = 0;
      size_t j = i + 1;
      while (digit(t[j]) && n <= DB_PG_MAX_PARAMS) n = n * 10 + (t[j++] - '0');
      if (j == i + 1 || n < 1 || n > DB_PG_MAX_PARAMS) return MESH_E_MALFORMED;
      while (digit(t[j])) j++;
      t[i] = '$';
      if ((int)n > *max) *max = (int)n;
      if (used) used[n - 1] = 1;
      i = j;
    } else {
      i++;
    }
  }
  return 0;
}

int db_pg__rewrite(const char *sql, struct db_pg_sql *out) {
  memset(out, 0, sizeof *out);
  out->text = strdup(sql);
  if (!out->text) return MESH_E_NOMEM;
  int r = scan(out->text, &out->nparams, NULL);
  if (r == 0 && out->nparams > 0) {
    out->used = calloc((size_t)out->nparams, 1);
    if (!out->used) r = MESH_E_NOMEM;
  }
  if (r == 0 && out->used) {
    /* The first pass turned the placeholders into $N already: scan the
     * original again, into a fresh copy of it. */
    int max;
    strcpy(out->text, sql);
    r = scan(out->text, &max, out->used);
  }
  if (r) db_pg__sql_cleanup(out);
  return r;
}

void db_pg__sql_cleanup(struct db_pg_sql *q) {
  free(q->text);
  free(q->used);
  memset(q, 0, sizeof *q);
}
