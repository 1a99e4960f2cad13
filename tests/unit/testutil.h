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

#endif
