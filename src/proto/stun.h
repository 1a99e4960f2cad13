/*
 * stun.h - the STUN message codec (RFC 5389 / RFC 8489) as ICE (RFC 8445)
 * uses it: Binding requests, success and error responses with USERNAME,
 * PRIORITY, USE-CANDIDATE, ICE-CONTROLLING, ICE-CONTROLLED,
 * XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY (HMAC-SHA1, short-term
 * credentials), FINGERPRINT and ERROR-CODE.
 *
 * Pure functions, no allocation, no I/O. A parsed message points into the
 * caller's datagram (borrowed), so the datagram must outlive it. The codec
 * never writes into its input.
 */
#ifndef MESH_PROTO_STUN_H
#define MESH_PROTO_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STUN_HEADER_LEN 20
#define STUN_TID_LEN 12
#define STUN_MAGIC_COOKIE 0x2112A442u
/* The largest message stun_check_integrity accepts (it hashes a copy of
 * the message on the stack); more than any ICE check needs, and the size
 * of the ICE layer's receive buffer. */
#define STUN_MAX_MESSAGE 2048
/* RFC 5389 §15.3: USERNAME is less than 513 bytes. */
#define STUN_MAX_USERNAME 512
/* Unknown comprehension-required attribute types remembered per message
 * (for the 420 response's UNKNOWN-ATTRIBUTES). */
#define STUN_MAX_UNKNOWN 8

/* Message types of the Binding method (method 0x001). */
#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_INDICATION 0x0011
#define STUN_BINDING_SUCCESS 0x0101
#define STUN_BINDING_ERROR 0x0111

/* Attribute types. Below 0x8000 a receiver must understand them. */
#define STUN_ATTR_MAPPED_ADDRESS 0x0001
#define STUN_ATTR_USERNAME 0x0006
#define STUN_ATTR_MESSAGE_INTEGRITY 0x0008
#define STUN_ATTR_ERROR_CODE 0x0009
#define STUN_ATTR_UNKNOWN_ATTRIBUTES 0x000A
#define STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define STUN_ATTR_PRIORITY 0x0024
#define STUN_ATTR_USE_CANDIDATE 0x0025
#define STUN_ATTR_SOFTWARE 0x8022
#define STUN_ATTR_FINGERPRINT 0x8028
#define STUN_ATTR_ICE_CONTROLLED 0x8029
#define STUN_ATTR_ICE_CONTROLLING 0x802A

/* Error codes the ICE layer sends. */
#define STUN_ERR_BAD_REQUEST 400
#define STUN_ERR_UNAUTHORIZED 401
#define STUN_ERR_UNKNOWN_ATTRIBUTE 420
#define STUN_ERR_ROLE_CONFLICT 487

/* Address families as they appear on the wire. */
#define STUN_FAMILY_IPV4 0x01
#define STUN_FAMILY_IPV6 0x02

/* A transport address with the XOR already undone. addr holds 4 bytes
 * (IPv4) or 16 (IPv6) in network order; port is in host order. */
struct stun_addr {
  uint8_t family; /* STUN_FAMILY_IPV4 or STUN_FAMILY_IPV6 */
  uint16_t port;
  uint8_t addr[16];
};

/* Which attributes a parsed message carried (struct stun_msg.has). */
enum {
  STUN_HAS_USERNAME = 1u << 0,
  STUN_HAS_PRIORITY = 1u << 1,
  STUN_HAS_USE_CANDIDATE = 1u << 2,
  STUN_HAS_CONTROLLING = 1u << 3,
  STUN_HAS_CONTROLLED = 1u << 4,
  STUN_HAS_XOR_MAPPED = 1u << 5,
  STUN_HAS_INTEGRITY = 1u << 6,
  STUN_HAS_FINGERPRINT = 1u << 7, /* present and verified */
  STUN_HAS_ERROR_CODE = 1u << 8,
};

/* One parsed message. Pointers borrow from the parsed datagram. Of each
 * attribute only the first occurrence counts (RFC 5389 §15); attributes
 * after MESSAGE-INTEGRITY other than FINGERPRINT are ignored (§15.4),
 * so everything recorded here is covered by the integrity check. */
struct stun_msg {
  uint16_t type; /* e.g. STUN_BINDING_REQUEST */
  uint8_t tid[STUN_TID_LEN];
  size_t len;              /* whole message, header included */
  unsigned has;            /* STUN_HAS_* bits */
  const uint8_t *username; /* not NUL-terminated */
  size_t username_len;
  uint32_t priority;
  uint64_t tiebreaker; /* of ICE-CONTROLLING or ICE-CONTROLLED */
  struct stun_addr xor_mapped;
  size_t integrity_off;  /* offset of the MESSAGE-INTEGRITY attribute */
  int error_code;        /* 300..699 */
  const uint8_t *reason; /* the error's reason phrase, UTF-8, borrowed */
  size_t reason_len;
  /* Comprehension-required attribute types this codec does not know:
   * the first STUN_MAX_UNKNOWN of them, and how many there were. */
  uint16_t unknown[STUN_MAX_UNKNOWN];
  size_t n_unknown;
};

/* True when the datagram p[0..n) (borrowed) looks like STUN: at least a
 * header, the first two bits zero and the magic cookie in place (RFC 5389
 * §6). This is how the ICE layer tells STUN from DTLS (first byte 20..63)
 * on the one socket; it does not validate the rest. */
bool stun_is_stun(const uint8_t *p, size_t n);

/* Parses the datagram p[0..n) (borrowed) as exactly one STUN message
 * into *m (its pointers borrow from p). Never reads outside p[0..n).
 * Checks: header bits and cookie, the length field a multiple of 4 and
 * equal to the rest of the datagram, every attribute's padded length
 * inside the message, the lengths of the known attributes, FINGERPRINT
 * (when present) last and matching its CRC-32. MESSAGE-INTEGRITY is only
 * located; stun_check_integrity verifies it.
 * Returns 0; MESH_E_INCOMPLETE when the datagram is shorter than its
 * header says (a truncated message); MESH_E_MALFORMED for anything else
 * broken, including a wrong FINGERPRINT. *m is zeroed on entry. */
int stun_parse(const uint8_t *p, size_t n, struct stun_msg *m);

/* Verifies the MESSAGE-INTEGRITY of m, parsed from p[0..n) (the same
 * bytes, borrowed), with the short-term credential key[0..key_len) (the
 * ICE password, borrowed). Constant-time comparison.
 * Returns 0; MESH_E_NOT_FOUND when m has no MESSAGE-INTEGRITY;
 * MESH_E_AUTH when it does not match; MESH_E_TOO_LARGE when the message
 * passes STUN_MAX_MESSAGE. */
int stun_check_integrity(const uint8_t *p, size_t n, const struct stun_msg *m,
                         const uint8_t *key, size_t key_len);

/* ---- Writing ----
 *
 * A writer appends attributes to a message in a caller's buffer and keeps
 * the header's length field current. The first error sticks: later calls
 * do nothing and stun_w_finish returns it, so a message is built with a
 * run of calls and one check. */
struct stun_writer {
  uint8_t *p; /* borrowed output buffer */
  size_t cap;
  size_t len; /* bytes written so far */
  int err;    /* first error, or 0 */
};

/* Starts a message of the given type and transaction id in out[0..cap)
 * (borrowed for the writer's life). cap < STUN_HEADER_LEN sets
 * MESH_E_TOO_LARGE. */
void stun_w_init(struct stun_writer *w, uint8_t *out, size_t cap, uint16_t type,
                 const uint8_t tid[STUN_TID_LEN]);
/* Appends an attribute with the value v[0..n) (borrowed, copied), padded
 * with zero bytes to a multiple of 4. n > 65535 sets MESH_E_INVALID; no
 * room sets MESH_E_TOO_LARGE. */
void stun_w_attr(struct stun_writer *w, uint16_t type, const void *v, size_t n);
void stun_w_u32(struct stun_writer *w, uint16_t type, uint32_t v);
void stun_w_u64(struct stun_writer *w, uint16_t type, uint64_t v);
/* XOR-MAPPED-ADDRESS of a (borrowed), IPv4 or IPv6. */
void stun_w_xor_addr(struct stun_writer *w, const struct stun_addr *a);
/* ERROR-CODE with code 300..699 and the reason text (borrowed, may be
 * NULL for none). */
void stun_w_error(struct stun_writer *w, int code, const char *reason);
/* MESSAGE-INTEGRITY keyed with key[0..key_len) (borrowed) over what has
 * been written so far. */
void stun_w_integrity(struct stun_writer *w, const uint8_t *key,
                      size_t key_len);
/* FINGERPRINT; it must be the last attribute. */
void stun_w_fingerprint(struct stun_writer *w);
/* Returns the message length, or the first error. */
ssize_t stun_w_finish(const struct stun_writer *w);

/* ---- Whole messages for ICE ---- */

/* A connectivity check (RFC 8445 §7.1.1). */
struct stun_check {
  const uint8_t *tid;   /* STUN_TID_LEN bytes, borrowed */
  const char *username; /* "<peer ufrag>:<own ufrag>", borrowed */
  size_t username_len;
  uint32_t priority;
  bool controlling; /* ICE-CONTROLLING, else ICE-CONTROLLED */
  uint64_t tiebreaker;
  bool use_candidate;
  const uint8_t *key; /* the peer's ICE password, borrowed */
  size_t key_len;
};

/* Writes a Binding request for c into out[0..cap): USERNAME, PRIORITY,
 * ICE-CONTROLLING or ICE-CONTROLLED, USE-CANDIDATE if asked,
 * MESSAGE-INTEGRITY, FINGERPRINT. Returns the length or a writer error. */
ssize_t stun_build_check(uint8_t *out, size_t cap, const struct stun_check *c);

/* Writes a Binding success response to the request with transaction id
 * tid: XOR-MAPPED-ADDRESS of mapped (the request's source),
 * MESSAGE-INTEGRITY keyed with key (the password the request was checked
 * with), FINGERPRINT. All pointers borrowed. Returns the length or a
 * writer error. */
ssize_t stun_build_success(uint8_t *out, size_t cap,
                           const uint8_t tid[STUN_TID_LEN],
                           const struct stun_addr *mapped, const uint8_t *key,
                           size_t key_len);

/* Writes a Binding error response with ERROR-CODE code (400, 401, 420,
 * 487 get their RFC reason phrase; others none), UNKNOWN-ATTRIBUTES
 * listing unknown[0..n_unknown) when n_unknown > 0, MESSAGE-INTEGRITY
 * when key is not NULL (RFC 5389 §10.1.2: not for 400 and 401, whose
 * requests failed authentication), and FINGERPRINT. All pointers
 * borrowed. Returns the length or a writer error. */
ssize_t stun_build_error(uint8_t *out, size_t cap,
                         const uint8_t tid[STUN_TID_LEN], int code,
                         const uint16_t *unknown, size_t n_unknown,
                         const uint8_t *key, size_t key_len);

#endif
