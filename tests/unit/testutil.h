/*
 * testutil.h - helpers shared by the unit tests.
 *
 * cmocka must be included by the test before this header (it needs
 * stdarg/stddef/setjmp first).
 */
#ifndef MESH_TESTUTIL_H
#define MESH_TESTUTIL_H

#include <openssl/types.h>
#include <stddef.h>
#include <stdint.h>

/* Copies n bytes so that they end exactly at an inaccessible page: a parser
 * reading one byte past the end faults at once (picohttpparser's trick).
 * Free with tu_guard_free. */
uint8_t *tu_guard_copy(const void *p, size_t n);
void tu_guard_free(uint8_t *p, size_t n);

/* Returns a deterministic pseudo-random number (xorshift), for mutation. */
uint32_t tu_rand(void);

/* Makes a fresh empty directory under $TMPDIR (or /tmp) and returns its
 * path in a static buffer; tu_rmdir_r removes it with its contents. */
const char *tu_tmpdir(void);
void tu_rmdir_r(const char *path);

/* The whole file at path, NUL-terminated, malloc'd; its length in *len
 * (len may be NULL). Fails the test when it cannot be read. */
char *tu_read_file(const char *path, size_t *len);

/* A throwaway self-signed EC P-256 certificate for cn, valid from a
 * minute ago for an hour, with its key in *key. Both are new; free them
 * with X509_free and EVP_PKEY_free. Fails the test on error. */
X509 *tu_self_signed(const char *cn, EVP_PKEY **key);

/* TLS contexts over one such certificate, for tests of the net layer:
 * tu_tls_setup and tu_tls_teardown are cmocka group set-up and tear-down
 * functions that fill and free these. The client context verifies
 * nothing (the tests pin or check the certificate themselves). */
extern SSL_CTX *tu_srv_ctx, *tu_cli_ctx;
extern X509 *tu_srv_cert;
int tu_tls_setup(void **state);
int tu_tls_teardown(void **state);

/* PostgreSQL, for the tests that run on the cluster of the ctest fixture
 * "pg" (tests/pg.bash). ctest gives a test that fixture, and its conninfo
 * file in MESH_TEST_PG_FILE, only when the test's own source names that
 * variable, so each such test says it in a comment: nothing here makes a
 * test depend on the fixture.
 *
 * tu_pg_fresh_db makes a new empty database "<prefix>_<pid>" (dropping a
 * stale one of that name first), its name in name and its conninfo in
 * conninfo; 0, or -1 after printing why (no fixture: the setup script
 * installs PostgreSQL, so missing means broken, and the test fails).
 * tu_pg_admin is the fixture's own conninfo, once tu_pg_fresh_db has read
 * it (NULL before). tu_pg_exec runs one administrative statement there;
 * tu_pg_drop_db drops database name if it exists. Both return 0, or -1
 * after printing why. */
int tu_pg_fresh_db(const char *prefix, char *name, size_t name_cap,
                   char *conninfo, size_t ci_cap);
const char *tu_pg_admin(void);
int tu_pg_exec(const char *sql);
int tu_pg_drop_db(const char *name);

#endif
