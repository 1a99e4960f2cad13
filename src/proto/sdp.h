/*
 * sdp.h - the SDP of a WebRTC data-channel session (RFC 8866, 8839, 8841,
 * 8842): a parser for a browser's offer and a writer for our answer.
 *
 * Only what a data channel needs is read: ICE credentials, the DTLS
 * fingerprint and role, the application m-line (modern
 * "UDP/DTLS/SCTP webrtc-datachannel" with a=sctp-port, or the old
 * "DTLS/SCTP 5000" with a=sctpmap), its a=mid and a=max-message-size, and
 * the a=candidate lines we can use (component 1, UDP, dotted IPv4). Every
 * other line is skipped, so unknown attributes, audio/video sections and
 * the order of attribute lines do not matter.
 *
 * Pure code: no allocation, no globals, no logging. An SDP is one whole
 * message (a JSON string from the viewer), so there is no "incomplete":
 * a truncated offer either still holds everything needed or is refused.
 * Every refusal comes with a static English text (*why) meant for the log
 * and for the viewer's error message.
 */
#ifndef MESH_PROTO_SDP_H
#define MESH_PROTO_SDP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* The largest SDP we parse; a data-channel offer with a dozen candidates is
 * about 1 KB. */
#define SDP_MAX_BYTES (64 * 1024)
/* Usable candidates kept from one description; more are counted as
 * dropped. */
#define SDP_MAX_CANDIDATES 32
/* ICE credentials (RFC 8839 5.4: ice-char, ufrag 4..256, pwd 22..256). */
#define SDP_MAX_UFRAG 256
#define SDP_MAX_PWD 256
/* a=mid and candidate foundations (RFC 8839: 1..32 ice-chars). */
#define SDP_MAX_MID 64
#define SDP_MAX_FOUNDATION 32
/* A SHA-256 fingerprint, and its "AA:BB:..." text with the NUL. */
#define SDP_FP_LEN 32
#define SDP_FP_TEXT (SDP_FP_LEN * 3)
/* The default SCTP port, also the old form's m-line format. */
#define SDP_SCTP_PORT 5000

enum sdp_setup {
  SDP_SETUP_ACTPASS, /* also what an offer without a=setup means */
  SDP_SETUP_ACTIVE,
  SDP_SETUP_PASSIVE,
  SDP_SETUP_HOLDCONN
};

enum sdp_cand_type {
  SDP_CAND_HOST,
  SDP_CAND_SRFLX,
  SDP_CAND_PRFLX,
  SDP_CAND_RELAY
};

struct sdp_candidate {
  char foundation[SDP_MAX_FOUNDATION + 1];
  uint32_t priority;
  uint8_t ip[4]; /* network order: 192.168.1.2 is {192, 168, 1, 2} */
  uint16_t port;
  enum sdp_cand_type type;
};

/* A parsed description. The effective ICE credentials, fingerprint and
 * setup are the application section's own lines, else the session-level
 * ones. Strings are NUL-terminated copies. */
struct sdp_desc {
  char ufrag[SDP_MAX_UFRAG + 1];
  char pwd[SDP_MAX_PWD + 1];
  uint8_t fingerprint[SDP_FP_LEN]; /* SHA-256 of the peer's DER cert */
  enum sdp_setup setup;
  char mid[SDP_MAX_MID + 1]; /* "" when the section had no a=mid */
  int legacy;                /* 1 for "DTLS/SCTP <port>" + a=sctpmap */
  uint16_t media_port;       /* the m-line's port (9 for a browser) */
  uint16_t sctp_port;        /* a=sctp-port / sctpmap, else 5000 */
  /* a=max-message-size; 0 when absent. RFC 8841 6: absent means 65536,
   * present and 0 means no limit; the caller applies that rule. */
  uint64_t max_message_size;
  int has_max_message_size;
  size_t n_candidates;
  struct sdp_candidate candidates[SDP_MAX_CANDIDATES];
  /* Candidates skipped, for the log: host names (mDNS "<uuid>.local"),
   * IPv6, TCP, component 2 (RTCP), lines that do not parse, and usable
   * ones past SDP_MAX_CANDIDATES. */
  size_t dropped_mdns, dropped_ipv6, dropped_tcp, dropped_component;
  size_t dropped_malformed, dropped_excess;
};

/* Parses the n bytes at p (borrowed; lines end in CRLF or LF, the last may
 * end without one) into *out (borrowed; zeroed on entry). The text must
 * start with "v=0" and hold an application m-line with a non-zero port,
 * ICE ufrag and pwd and a sha-256 fingerprint for it; the a=setup value is
 * recorded but not judged (see sdp_parse_offer).
 * Returns 0, or with *why (may be NULL) set to a static text:
 * MESH_E_TOO_LARGE for n > SDP_MAX_BYTES; MESH_E_MALFORMED for a NUL byte,
 * a missing v=0, a missing or badly formed required field (including a
 * fingerprint whose only hash algorithms are not sha-256) and a bad
 * a=sctp-port, a=sctpmap or a=max-message-size value; MESH_E_INVALID for
 * NULL arguments. Candidate lines never fail the parse: unusable ones are
 * counted in the dropped_* fields. */
int sdp_parse(const char *p, size_t n, struct sdp_desc *out, const char **why);

/* sdp_parse, then the checks for a browser's offer that we answer as the
 * DTLS server: a=setup must be actpass or active (or absent).
 * Returns 0, sdp_parse's codes, or MESH_E_INVALID (with *why) for an offer
 * that is passive or holdconn. */
int sdp_parse_offer(const char *p, size_t n, struct sdp_desc *out,
                    const char **why);

/* One of our candidates for the answer. */
struct sdp_local_candidate {
  const char *foundation; /* borrowed; 1..32 ice-chars */
  uint32_t priority;
  uint8_t ip[4];
  uint16_t port;
  enum sdp_cand_type type; /* non-host ones get "raddr 0.0.0.0 rport 0" */
};

struct sdp_answer {
  const char *ufrag;       /* borrowed; 4..256 ice-chars */
  const char *pwd;         /* borrowed; 22..256 ice-chars */
  const char *fingerprint; /* borrowed; "AA:BB:..." SHA-256 text */
  const char *mid;         /* borrowed; the offer's mid, NULL or "" if none */
  const struct sdp_local_candidate *candidates; /* borrowed array */
  size_t n_candidates;
  uint16_t sctp_port;        /* normally SDP_SCTP_PORT */
  uint64_t max_message_size; /* what we accept in one message */
  uint64_t session_id;       /* o= sess-id; the top bit is cleared */
};

/* Appends our answer to out (borrowed): the modern form Chrome and Firefox
 * accept (a=setup:passive, UDP/DTLS/SCTP webrtc-datachannel, a=sctp-port,
 * a=max-message-size, a=group:BUNDLE and a=mid when the offer had a mid,
 * every candidate then a=end-of-candidates), CRLF line ends, no NUL.
 * The caller draws session_id at random. The pwd goes into the text, so a
 * caller that wipes secrets wipes out afterwards.
 * Returns 0; MESH_E_INVALID for a field that would not survive a browser's
 * parser (bad ufrag, pwd, fingerprint text, mid or foundation), or
 * MESH_E_TOO_LARGE / MESH_E_NOMEM from the buffer, which is then left at
 * its original length. */
int sdp_write_answer(const struct sdp_answer *a, struct buf *out);

/* Parses "AA:BB:..." (exactly 32 hex pairs, either case, ':' between) of
 * n bytes at p (borrowed) into fp. Returns 0 or MESH_E_MALFORMED. */
int sdp_fingerprint_parse(const char *p, size_t n, uint8_t fp[SDP_FP_LEN]);

/* Writes fp as "AA:BB:..." (upper case) with a NUL into out. */
void sdp_fingerprint_format(const uint8_t fp[SDP_FP_LEN],
                            char out[SDP_FP_TEXT]);

#endif
