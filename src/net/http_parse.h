/*
 * http_parse.h - sans-I/O HTTP/1.1 message parser over http-parser.
 *
 * One struct http_parse accumulates one message at a time: a request (server
 * side) or a response (client side, enough for a 101 upgrade and small
 * bodies). The caller feeds bytes as they arrive; the parser copies what it
 * keeps (method, URL, header names and values, body) into storage it owns,
 * checking every limit from mesh_limits.h as the bytes arrive and before
 * growing that storage:
 *
 *   request line + header lines + blank line > MESH_HTTP_MAX_HEADER_BYTES  431
 *   more than MESH_HTTP_MAX_HEADERS header lines                           431
 *   URL longer than MESH_HTTP_MAX_URL                                      414
 *   body (Content-Length or chunked total) > MESH_HTTP_MAX_BODY            413
 *   anything http-parser rejects                                           400
 *
 * Nothing here logs, touches the loop, or writes into the caller's input.
 */
#ifndef MESH_NET_HTTP_PARSE_H
#define MESH_NET_HTTP_PARSE_H

#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/mesh_limits.h"

enum http_parse_kind { HTTP_PARSE_REQUEST, HTTP_PARSE_RESPONSE };

/* One header line; name and value are offsets into the parser's storage. */
struct http_parse_hdr {
  size_t name, name_len;
  size_t value, value_len;
};

/* Embed this in a connection; treat the fields as private and use the
 * accessors below. */
struct http_parse {
  http_parser p;
  enum http_parse_kind kind;
  int status;          /* HTTP status describing the last error, or 0 */
  int done;            /* a complete message is available */
  int headers_done;    /* the header block has been fully parsed */
  int keep_alive;      /* http_should_keep_alive() at completion */
  int upgrade;         /* http-parser's upgrade flag at completion */
  int phase;           /* 0 URL/status, 1 header name, 2 header value */
  size_t header_bytes; /* raw bytes fed while parsing the header block */
  size_t url_len;
  size_t nhdr;
  struct http_parse_hdr hdr[MESH_HTTP_MAX_HEADERS];
  struct buf store; /* URL, names and values, each NUL-terminated */
  struct buf body;  /* body bytes, at most MESH_HTTP_MAX_BODY */
  size_t path, path_len, query, query_len; /* set when done (requests) */
};

/* Prepares an empty parser for requests or responses. Never fails; the
 * storage grows on demand. Release with http_parse_cleanup(). */
void http_parse_init(struct http_parse *hp, enum http_parse_kind kind);
/* Frees the parser's storage. hp itself is borrowed and not freed. */
void http_parse_cleanup(struct http_parse *hp);

/*
 * Feeds n bytes (borrowed for the call only; p may be NULL when n is 0).
 * Returns:
 *   >= 0               a message is complete; that many bytes of p were used
 *                      and the rest belong to the next message (pipelining)
 *                      or to the upgraded protocol;
 *   MESH_E_INCOMPLETE  all n bytes were consumed and kept; feed more;
 *   MESH_E_MALFORMED   bad syntax (http_parse_status() gives 400);
 *   MESH_E_TOO_LARGE   a limit was passed (status 413, 414 or 431);
 *   MESH_E_PROTO_STATE a message is already complete (call http_parse_next).
 * Feeding n == 0 signals end of input: a response whose body runs to EOF
 * then completes. After an error the parser stays failed.
 */
ssize_t http_parse_feed(struct http_parse *hp, const uint8_t *p, size_t n);

/* The HTTP status code for the last error (400, 413, 414, 431), or 0. */
int http_parse_status(const struct http_parse *hp);

/* Forgets the completed message (keeping storage) so the next one can be
 * fed on the same connection. */
void http_parse_next(struct http_parse *hp);

/* Accessors for a completed message. Returned strings are borrowed from hp
 * and stay valid until http_parse_next() or http_parse_cleanup(). */
const char *http_parse_method(const struct http_parse *hp); /* "GET" */
const char *http_parse_url(const struct http_parse *hp);    /* raw target */
/* Raw path (up to '?' or '#') and query (after '?', "" if none), as
 * NUL-terminated copies owned by hp. */
const char *http_parse_path(const struct http_parse *hp);
const char *http_parse_query(const struct http_parse *hp);
/* Case-insensitive lookup of the first header called name; NULL if none. */
const char *http_parse_header(const struct http_parse *hp, const char *name);
/* Header i (0-based, i < http_parse_nheaders()). */
size_t http_parse_nheaders(const struct http_parse *hp);
const char *http_parse_header_name(const struct http_parse *hp, size_t i);
const char *http_parse_header_value(const struct http_parse *hp, size_t i);
/* Body bytes (borrowed) and length; NULL/0 when there is no body. */
const uint8_t *http_parse_body(const struct http_parse *hp, size_t *len);

/* Nonzero if the comma-separated header value v (may be NULL) holds tok,
 * compared without case ("Connection: keep-alive, Upgrade"). */
int http_header_has_token(const char *v, const char *tok);
/* Response status code (responses only). */
int http_parse_code(const struct http_parse *hp);
/* Whether the connection may be kept alive after this message. */
int http_parse_keep_alive(const struct http_parse *hp);
/* Whether the message asked for (request) or accepted (101) an upgrade. */
int http_parse_upgrade(const struct http_parse *hp);
/* HTTP minor version (1 for HTTP/1.1, 0 for HTTP/1.0). */
int http_parse_minor(const struct http_parse *hp);

/*
 * Finds the first parameter called name in query (the raw text after '?',
 * NUL-terminated, borrowed; "a=1&b=%24x") and writes its value,
 * %-decoded, NUL-terminated, into out (cap bytes). Names are compared
 * exactly, byte for byte, without decoding; "&name" with no '=' has the
 * empty value. '+' stays '+' (tokens and ids never carry a space, and
 * base64 users expect their '+' back). Returns 0; MESH_E_NOT_FOUND when
 * absent; MESH_E_MALFORMED for a '%' not followed by two hex digits or a
 * value that decodes to a NUL byte; MESH_E_TOO_LARGE when the decoded
 * value does not fit in cap. out is "" on every failure (when cap > 0).
 * Pure; never reads past the NUL of query.
 */
int http_query_param(const char *query, const char *name, char *out,
                     size_t cap);

#endif
