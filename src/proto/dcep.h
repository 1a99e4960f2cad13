/*
 * dcep.h - the WebRTC Data Channel Establishment Protocol (RFC 8832),
 * without I/O.
 *
 * DCEP messages travel as whole SCTP messages with PPID 50 on the stream
 * of the channel they set up. Two types exist:
 *
 *   DATA_CHANNEL_ACK  (0x02): the type byte alone.
 *   DATA_CHANNEL_OPEN (0x03): type (1), channel type (1), priority (2),
 *     reliability parameter (4), label length (2), protocol length (2),
 *     then the label and the protocol bytes; integers big-endian.
 *
 * Pure functions over borrowed bytes; the parser never allocates, never
 * writes into its input and never reads past p[n).
 */
#ifndef MESH_PROTO_DCEP_H
#define MESH_PROTO_DCEP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"

/* SCTP payload protocol identifiers of WebRTC (RFC 8831 section 8). */
enum {
  DCEP_PPID_CONTROL = 50,      /* DCEP */
  DCEP_PPID_STRING = 51,       /* UTF-8 text */
  DCEP_PPID_BINARY = 53,       /* bytes */
  DCEP_PPID_STRING_EMPTY = 56, /* empty text; payload is one 0 byte */
  DCEP_PPID_BINARY_EMPTY = 57  /* empty bytes; payload is one 0 byte */
};

enum { DCEP_MSG_ACK = 0x02, DCEP_MSG_OPEN = 0x03 };

/* Channel types: bit 0x80 means unordered; the low bits pick the
 * reliability (the parameter is a retransmission count or a lifetime in
 * milliseconds). */
enum {
  DCEP_CHANNEL_RELIABLE = 0x00,
  DCEP_CHANNEL_PARTIAL_RELIABLE_REXMIT = 0x01,
  DCEP_CHANNEL_PARTIAL_RELIABLE_TIMED = 0x02,
  DCEP_CHANNEL_UNORDERED = 0x80
};

/* Size of the fixed part of DATA_CHANNEL_OPEN. */
#define DCEP_OPEN_HEADER 12

struct dcep_open {
  uint8_t channel_type;
  uint16_t priority;
  uint32_t reliability;
  const uint8_t *label; /* borrowed from the parsed input; not terminated */
  size_t label_len;
  const uint8_t *protocol; /* borrowed from the parsed input; not terminated */
  size_t protocol_len;
};

struct dcep_msg {
  uint8_t type;          /* DCEP_MSG_ACK or DCEP_MSG_OPEN */
  struct dcep_open open; /* filled for DCEP_MSG_OPEN */
};

/* Parses one DCEP message at p[0..n) (borrowed) into *out (whose pointers
 * then borrow from p). Returns the bytes the message takes (1 for an ACK,
 * 12 + label + protocol lengths for an OPEN), MESH_E_INCOMPLETE when p is
 * shorter than that (including an OPEN whose length fields point past the
 * end), or MESH_E_MALFORMED for an unknown message or channel type.
 * Bytes after the message are not looked at: a caller holding a whole
 * SCTP message treats a return other than n as an error. */
ssize_t dcep_parse(const uint8_t *p, size_t n, struct dcep_msg *out);

/* Appends a DATA_CHANNEL_OPEN for o (its label and protocol borrowed) to
 * b. Returns 0, MESH_E_INVALID when a length does not fit 16 bits or the
 * channel type is unknown, MESH_E_TOO_LARGE (b's max) or MESH_E_NOMEM;
 * nothing is appended on error. */
int dcep_put_open(struct buf *b, const struct dcep_open *o);

/* Appends a DATA_CHANNEL_ACK to b. Returns 0 or buf_put's error. */
int dcep_put_ack(struct buf *b);

#endif
