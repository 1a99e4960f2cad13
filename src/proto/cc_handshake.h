/*
 * cc_handshake.h - the secondary authentication inside the control
 * channel's WebSocket (spec/control-channel.md §4), as two sans-I/O state
 * machines: one for the server, one for the agent.
 *
 * The machines do no cryptography and no I/O themselves. They ask their
 * owner, through the ops callbacks, to send a message, to sign or to verify;
 * the owner does the RSA work wherever it likes (meshd and meshagent use the
 * libuv thread pool) and reports the result with cc_*_signed() and
 * cc_*_verified(). That keeps the loop free of RSA and lets the unit tests
 * drive a server machine against an agent machine in memory.
 *
 * Callbacks may be called from inside cc_*_feed() and the result functions.
 * A callback must not free the machine; report errors through the return
 * values instead. Every function returning int returns 0 or a negative
 * MESH_E_* code; a negative code means "close this connection".
 */
#ifndef MESH_PROTO_CC_HANDSHAKE_H
#define MESH_PROTO_CC_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "base/mesh_limits.h"
#include "cc.h"

/* What cc_*_feed() reports for a message it consumed itself, and for one
 * that arrived after the handshake and belongs to the owner. */
enum { CC_CONSUMED = 0, CC_PASS = 1, CC_PREAUTH_JSON = 2 };

/* ---------------------------------------------------------------- server */

/* One identity the server can prove (spec §4.9): its certificate DER and
 * KeyHash (= the ServerID agents hold). Borrowed for the machine's life. */
struct cc_server_ident {
  const uint8_t *cert_der;
  size_t cert_len;
  uint8_t key_hash[CC_HASH_LEN];
};

struct cc_srv_ops {
  void (*send)(void *data, const uint8_t *p, size_t n);
  /* Sign the 144-byte msg with identity number ident; answer with
   * cc_srv_signed(). */
  void (*sign)(void *data, int ident, const uint8_t msg[CC_SIGNED_LEN]);
  /* Verify sig over msg with the key of the certificate cert; answer with
   * cc_srv_verified(), giving the certificate's KeyHash. */
  void (*verify)(void *data, const uint8_t *cert, size_t cert_len,
                 const uint8_t *sig, size_t sig_len,
                 const uint8_t msg[CC_SIGNED_LEN]);
  /* Both proofs and AuthInfo are in: decide whether to admit this node;
   * answer with cc_srv_admit(). Borrowed pointers live until then. */
  void (*authenticated)(void *data, const uint8_t node_hash[CC_HASH_LEN],
                        const struct cc_auth_info *info);
};

enum cc_srv_state {
  CC_SRV_HANDSHAKE, /* messages 1..5, 30, 31 accepted */
  CC_SRV_ADMITTING, /* waiting for the owner's admission decision */
  CC_SRV_DONE       /* cmd 4 sent; everything else passes to the owner */
};

struct cc_srv {
  const struct cc_srv_ops *ops;
  void *data;
  const struct cc_server_ident *idents;
  int n_idents;
  int ident; /* chosen by command 5, else 0 */
  uint8_t web_cert_hash[CC_HASH_LEN];
  uint8_t web_key_hash[CC_HASH_LEN];
  enum cc_srv_state state;
  unsigned seen;      /* bit n set once command n arrived */
  int skip_sign;      /* agent sent 4 before 1: it already trusts us */
  int verify_pending; /* a verify request is out */
  int sign_pending;
  int verified;
  uint8_t hs[CC_HASH_LEN];  /* the agent's view of our TLS cert */
  uint8_t na[CC_NONCE_LEN]; /* agent nonce */
  uint8_t ns[CC_NONCE_LEN]; /* our nonce */
  uint8_t node_hash[CC_HASH_LEN];
  /* Copies of the agent's command 2 and 3, kept until they can be used. */
  uint8_t cert[MESH_CC_MAX_CERT];
  size_t cert_len;
  uint8_t sig[MESH_CC_MAX_SIG];
  size_t sig_len;
  struct cc_auth_info info;
  uint8_t hostname[MESH_CC_MAX_HOSTNAME];
  char commit_date[MESH_CC_MAX_TEXT + 1];
  char host_info[MESH_CC_MAX_TEXT + 1];
};

/* Prepares a machine. web_cert_hash / web_key_hash are the CertHash and
 * KeyHash of the TLS certificate agents see; nonce is 48 fresh random
 * bytes. idents (at least one) is borrowed. */
void cc_srv_init(struct cc_srv *s, const struct cc_srv_ops *ops, void *data,
                 const struct cc_server_ident *idents, int n_idents,
                 const uint8_t web_cert_hash[CC_HASH_LEN],
                 const uint8_t web_key_hash[CC_HASH_LEN],
                 const uint8_t nonce[CC_NONCE_LEN]);

/* Feeds one complete message from the agent. Returns CC_CONSUMED, CC_PASS
 * (handshake done: the message is the owner's), CC_PREAUTH_JSON (a JSON
 * message before admission: the owner may only read agentName from it and
 * store it with cc_srv_set_agent_name), or a negative code:
 * MESH_E_MALFORMED, MESH_E_TOO_LARGE, MESH_E_AUTH (bad cert hash),
 * MESH_E_PROTO_STATE (duplicate, out of order, not allowed yet, or a
 * handshake command after admission). */
int cc_srv_feed(struct cc_srv *s, const uint8_t *p, size_t n);
/* What cc_srv_feed() says of a message once the handshake is done, for an
 * owner that freed its machine after admission: CC_PASS, or
 * MESH_E_PROTO_STATE for a handshake command (ids below 10), or
 * MESH_E_MALFORMED for a message under two bytes. */
int cc_srv_post_auth(const uint8_t *p, size_t n);
/* Results of the ops requests. sig is copied. */
int cc_srv_signed(struct cc_srv *s, const uint8_t *sig, size_t sig_len);
/* ok == 0 means the signature was bad: returns MESH_E_AUTH. */
int cc_srv_verified(struct cc_srv *s, int ok,
                    const uint8_t key_hash[CC_HASH_LEN]);
/* Admission decision: sends command 4 when admitted, else MESH_E_AUTH. */
int cc_srv_admit(struct cc_srv *s, int admitted);

/* ----------------------------------------------------------------- agent */

struct cc_agent_ops {
  void (*send)(void *data, const uint8_t *p, size_t n);
  /* Sign msg with the agent's own key; answer with cc_agent_signed(). */
  void (*sign)(void *data, const uint8_t msg[CC_SIGNED_LEN]);
  /* Verify the server's sig over msg with the key of cert; answer with
   * cc_agent_verified() giving the certificate's KeyHash. */
  void (*verify)(void *data, const uint8_t *cert, size_t cert_len,
                 const uint8_t *sig, size_t sig_len,
                 const uint8_t msg[CC_SIGNED_LEN]);
  /* The server proved itself: store this as the pinned web cert hash. */
  void (*pin)(void *data, const uint8_t cert_hash[CC_HASH_LEN]);
  /* Both sides authenticated: the channel is open. */
  void (*connected)(void *data, int skipped_server_sig);
};

struct cc_agent_config {
  uint8_t server_id[CC_HASH_LEN]; /* expected KeyHash of the server cert */
  const uint8_t *pinned;          /* pinned CertHash, or NULL */
  const uint8_t *cert_der;        /* our root certificate, borrowed */
  size_t cert_len;
  struct cc_auth_info info; /* hostname borrowed */
  const char *commit_date;  /* command 30 text */
  const char *host_info;    /* command 31 text, or NULL */
  const char *tag;          /* command 15 text, or NULL */
};

struct cc_agent {
  const struct cc_agent_ops *ops;
  void *data;
  const struct cc_agent_config *cfg;
  unsigned auth; /* bit 1: server verified; bit 2: server confirmed us */
  int skipped;   /* server signature skipped thanks to the pin */
  unsigned seen;
  int verify_pending;
  uint8_t peer_cert_hash[CC_HASH_LEN]; /* CertHash of the TLS peer */
  uint8_t peer_key_hash[CC_HASH_LEN];  /* KeyHash of the TLS peer */
  uint8_t na[CC_NONCE_LEN];
  uint8_t ns[CC_NONCE_LEN];
};

/* Starts the handshake on a fresh WebSocket: sends 30, 31, 5, [4], 1 and,
 * when the pin matches, 3. cfg is borrowed for the machine's life. */
int cc_agent_start(struct cc_agent *a, const struct cc_agent_ops *ops,
                   void *data, const struct cc_agent_config *cfg,
                   const uint8_t peer_cert_hash[CC_HASH_LEN],
                   const uint8_t peer_key_hash[CC_HASH_LEN],
                   const uint8_t nonce[CC_NONCE_LEN]);
/* Feeds one message from the server: CC_CONSUMED, CC_PASS once open, or a
 * negative code (MESH_E_AUTH for a wrong hash, MESH_E_PROTO_STATE for
 * anything the agent must not act on yet). */
int cc_agent_feed(struct cc_agent *a, const uint8_t *p, size_t n);
int cc_agent_signed(struct cc_agent *a, const uint8_t *sig, size_t sig_len);
/* ok == 0, or a KeyHash that is not the ServerID: MESH_E_AUTH. */
int cc_agent_verified(struct cc_agent *a, int ok,
                      const uint8_t key_hash[CC_HASH_LEN]);
/* Nonzero once both sides are authenticated. */
int cc_agent_open(const struct cc_agent *a);

#endif
