/*
 * cc.h - control-channel binary messages (spec/control-channel.md §4, §5).
 *
 * Every message is one WebSocket message. The first payload byte decides
 * its kind: '{' is a JSON object, anything else a binary command starting
 * with a big-endian u16 id. Parsers are pure functions over (ptr, len); the
 * pointers they return borrow from the input. Encoders append to a bounded
 * struct buf. Nothing here allocates except through buf, logs or blocks.
 */
#ifndef MESH_PROTO_CC_H
#define MESH_PROTO_CC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define CC_HASH_LEN 48
#define CC_NONCE_LEN 48
/* The signed message: three 48-byte fields (spec §4.4). */
#define CC_SIGNED_LEN (3 * 48)

enum cc_cmd {
  CC_AUTH_REQUEST = 1,
  CC_AUTH_VERIFY = 2,
  CC_AUTH_INFO = 3,
  CC_AUTH_CONFIRM = 4,
  CC_SERVER_ID = 5,
  CC_CORE_MODULE = 10,
  CC_CORE_MODULE_HASH = 11,
  CC_AGENT_HASH = 12,
  CC_AGENT_UPDATE = 13,
  CC_AGENT_UPDATE_BLOCK = 14,
  CC_AGENT_TAG = 15,
  CC_CORE_OK = 16,
  CC_COMPRESSED_CORE = 20,
  CC_COMMIT_DATE = 30,
  CC_HOST_INFO = 31,
  /* Not a wire id: what cc_msg_type() reports for a JSON message. */
  CC_JSON = 0x7B00
};

/* Capability bits of command 3 (spec §4.3). */
enum cc_caps {
  CC_CAP_DESKTOP = 0x01,
  CC_CAP_TERMINAL = 0x02,
  CC_CAP_FILES = 0x04,
  CC_CAP_CONSOLE = 0x08,
  CC_CAP_JAVASCRIPT = 0x10,
  CC_CAP_TEMPORARY = 0x20,
  CC_CAP_RECOVERY = 0x40,
  CC_CAP_COMPRESSION = 0x100
};

/* Command 3, AuthInfo. hostname borrows from the parsed message. */
struct cc_auth_info {
  uint32_t info_version;
  uint32_t agent_id;
  uint32_t agent_version;
  uint32_t platform_type; /* 1..8; parsing maps anything else to 1 */
  uint8_t mesh_id[48];
  uint32_t caps;
  const uint8_t *hostname;
  size_t hostname_len;
};

/* Returns the command id (>= 0), CC_JSON for a message starting with '{',
 * or MESH_E_MALFORMED for a message shorter than two bytes. */
int cc_msg_type(const uint8_t *p, size_t n);

/* Command 1, both directions: exactly 98 bytes. */
int cc_parse_auth_request(const uint8_t *p, size_t n, uint8_t hash[CC_HASH_LEN],
                          uint8_t nonce[CC_NONCE_LEN]);
int cc_put_auth_request(struct buf *b, const uint8_t hash[CC_HASH_LEN],
                        const uint8_t nonce[CC_NONCE_LEN]);

/* Command 2, both directions: u16 2, u16 certLen, cert DER, signature.
 * Refuses certificates over MESH_CC_MAX_CERT and signatures over
 * MESH_CC_MAX_SIG (MESH_E_TOO_LARGE) or an empty signature. */
int cc_parse_auth_verify(const uint8_t *p, size_t n, const uint8_t **cert,
                         size_t *cert_len, const uint8_t **sig,
                         size_t *sig_len);
int cc_put_auth_verify(struct buf *b, const uint8_t *cert, size_t cert_len,
                       const uint8_t *sig, size_t sig_len);

/* Command 3. A message of exactly 70 bytes has an empty hostname; a
 * hostname over MESH_CC_MAX_HOSTNAME is MESH_E_TOO_LARGE. */
int cc_parse_auth_info(const uint8_t *p, size_t n, struct cc_auth_info *out);
int cc_put_auth_info(struct buf *b, const struct cc_auth_info *in);

/* Command 5: 48 bytes of ServerID. */
int cc_parse_server_id(const uint8_t *p, size_t n, uint8_t id[CC_HASH_LEN]);
int cc_put_server_id(struct buf *b, const uint8_t id[CC_HASH_LEN]);

/* Commands 30, 31 and 15: text after the id, trailing NULs stripped. Text
 * over MESH_CC_MAX_TEXT is MESH_E_TOO_LARGE. */
int cc_parse_text(const uint8_t *p, size_t n, const uint8_t **text,
                  size_t *len);
/* Appends id, text and, with nul set, a terminating NUL. */
int cc_put_text(struct buf *b, uint16_t cmd, const char *text, int nul);

/* A two-byte message holding only the id (command 4). */
int cc_put_cmd(struct buf *b, uint16_t cmd);

/* Commands 10..999 carry "u16 id, u16 requestId"; the rest is body. */
int cc_parse_request(const uint8_t *p, size_t n, uint16_t *cmd, uint16_t *req,
                     const uint8_t **body, size_t *body_len);
int cc_put_request(struct buf *b, uint16_t cmd, uint16_t req,
                   const uint8_t *body, size_t body_len);

#endif
