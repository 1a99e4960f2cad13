#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include "net/tls.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

uint8_t *tu_guard_copy(const void *p, size_t n) {
  size_t ps = page_size();
  size_t data_pages = (n + ps - 1) / ps;
  size_t total = (data_pages + 1) * ps;
  uint8_t *base = mmap(NULL, total, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) abort();
  mprotect(base + data_pages * ps, ps, PROT_NONE);
  uint8_t *start = base + data_pages * ps - n;
  if (n) memcpy(start, p, n);
  return start;
}

void tu_guard_free(uint8_t *p, size_t n) {
  size_t ps = page_size();
  size_t data_pages = (n + ps - 1) / ps;
  uint8_t *base = p + n - data_pages * ps;
  munmap(base, (data_pages + 1) * ps);
}

uint32_t tu_rand(void) {
  static uint32_t s = 2463534242u;
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

const char *tu_tmpdir(void) {
  static char path[256];
  const char *t = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/meshtest.XXXXXX", t && *t ? t : "/tmp");
  if (!mkdtemp(path)) abort();
  return path;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

void tu_rmdir_r(const char *path) {
  nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

X509 *tu_self_signed(const char *cn, EVP_PKEY **key) {
  EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  X509 *x = X509_new();
  assert_non_null(k);
  assert_non_null(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
                             -1, -1, 0);
  X509_set_issuer_name(x, n);
  X509_set_pubkey(x, k);
  assert_true(X509_sign(x, k, EVP_sha256()) > 0);
  *key = k;
  return x;
}

SSL_CTX *tu_srv_ctx, *tu_cli_ctx;
X509 *tu_srv_cert;

int tu_tls_setup(void **state) {
  (void)state;
  EVP_PKEY *key;
  tu_srv_cert = tu_self_signed("meshd-test", &key);
  tu_srv_ctx = tls_server_ctx_new(tu_srv_cert, key);
  tu_cli_ctx = tls_client_ctx_new();
  assert_non_null(tu_srv_ctx);
  assert_non_null(tu_cli_ctx);
  EVP_PKEY_free(key);
  return 0;
}

int tu_tls_teardown(void **state) {
  (void)state;
  SSL_CTX_free(tu_srv_ctx);
  SSL_CTX_free(tu_cli_ctx);
  X509_free(tu_srv_cert);
  tu_srv_ctx = tu_cli_ctx = NULL;
  tu_srv_cert = NULL;
  return 0;
}

char *tu_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  assert_true(n >= 0);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  b[n] = 0;
  fclose(f);
  if (len) *len = (size_t)n;
  return b;
}

/* ---- PostgreSQL ---- */

static char pg_admin[1024]; /* the fixture's conninfo, once read */

const char *tu_pg_admin(void) { return pg_admin[0] ? pg_admin : NULL; }

/* Reads the fixture's conninfo into pg_admin; who names the test in the
 * message when there is none. */
static int pg_load_admin(const char *who) {
  if (pg_admin[0]) return 0;
  const char *file = getenv("MESH_TEST_PG_FILE");
  FILE *f = file ? fopen(file, "r") : NULL;
  if (!f || !fgets(pg_admin, sizeof pg_admin, f)) {
    fprintf(stderr,
            "%s: FAIL: no PostgreSQL test cluster (MESH_TEST_PG_FILE=%s):"
            " run through ctest, which starts one (tests/pg_fixture.sh), after"
            " scripts/setup-deps.sh installed postgresql\n",
            who, file ? file : "(unset)");
    if (f) fclose(f);
    pg_admin[0] = '\0';
    return -1;
  }
  fclose(f);
  pg_admin[strcspn(pg_admin, "\n")] = '\0';
  return 0;
}

/* Drops the server's notices: DROP DATABASE IF EXISTS says when there was
 * none, which is no news to a test. */
static void pg_quiet(void *arg, const char *msg) {
  (void)arg;
  (void)msg;
}

int tu_pg_exec(const char *sql) {
  if (!pg_admin[0]) {
    fprintf(stderr, "tu_pg_exec: %s: the fixture's conninfo not read\n", sql);
    return -1;
  }
  PGconn *c = PQconnectdb(pg_admin);
  int ok = PQstatus(c) == CONNECTION_OK;
  if (ok) {
    PQsetNoticeProcessor(c, pg_quiet, NULL);
    PGresult *r = PQexec(c, sql);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
  }
  if (!ok) fprintf(stderr, "tu_pg_exec: %s: %s", sql, PQerrorMessage(c));
  PQfinish(c);
  return ok ? 0 : -1;
}

int tu_pg_drop_db(const char *name) {
  char sql[160];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
  return tu_pg_exec(sql);
}

int tu_pg_fresh_db(const char *prefix, char *name, size_t name_cap,
                   char *conninfo, size_t ci_cap) {
  if (pg_load_admin(prefix) != 0) return -1;
  int n = snprintf(name, name_cap, "%s_%ld", prefix, (long)getpid());
  if (n < 0 || (size_t)n >= name_cap) {
    fprintf(stderr, "%s: database name too long\n", prefix);
    return -1;
  }
  char sql[160];
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
  if (tu_pg_drop_db(name) != 0 || tu_pg_exec(sql) != 0) return -1;
  /* A later dbname overrides the fixture's. */
  n = snprintf(conninfo, ci_cap, "%s dbname=%s", pg_admin, name);
  if (n < 0 || (size_t)n >= ci_cap) {
    fprintf(stderr, "%s: conninfo too long\n", prefix);
    return -1;
  }
  return 0;
}
