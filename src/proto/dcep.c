/*
 * dcep.c - DATA_CHANNEL_OPEN / DATA_CHANNEL_ACK (RFC 8832) codec.
 */
#include "proto/dcep.h"

#include <string.h>

#include "base/err.h"

static int channel_type_known(uint8_t t) {
  switch (t & (uint8_t)~DCEP_CHANNEL_UNORDERED) {
    case DCEP_CHANNEL_RELIABLE:
    case DCEP_CHANNEL_PARTIAL_RELIABLE_REXMIT:
    case DCEP_CHANNEL_PARTIAL_RELIABLE_TIMED:
      return 1;
    default:
      return 0;
  }
}

ssize_t dcep_parse(const uint8_t *p, size_t n, struct dcep_msg *out) {
  struct rd r = rd_make(p, n);
  struct dcep_msg m;
  uint16_t label_len, proto_len;
  int rc;

  memset(out, 0, sizeof *out);
  memset(&m, 0, sizeof m);
  if ((rc = rd_u8(&r, &m.type)) != 0) return rc;
  if (m.type == DCEP_MSG_ACK) {
    out->type = m.type;
    return 1;
  }
  if (m.type != DCEP_MSG_OPEN) return MESH_E_MALFORMED;
  /* The channel type is judged as soon as it is there, so a bad one is
   * reported the same way however much of the message has arrived. */
  if ((rc = rd_u8(&r, &m.open.channel_type)) != 0) return rc;
  if (!channel_type_known(m.open.channel_type)) return MESH_E_MALFORMED;
  if ((rc = rd_u16be(&r, &m.open.priority)) != 0 ||
      (rc = rd_u32be(&r, &m.open.reliability)) != 0 ||
      (rc = rd_u16be(&r, &label_len)) != 0 ||
      (rc = rd_u16be(&r, &proto_len)) != 0 ||
      (rc = rd_bytes(&r, label_len, &m.open.label)) != 0 ||
      (rc = rd_bytes(&r, proto_len, &m.open.protocol)) != 0)
    return rc;
  m.open.label_len = label_len;
  m.open.protocol_len = proto_len;
  *out = m;
  return (ssize_t)(DCEP_OPEN_HEADER + (size_t)label_len + proto_len);
}

int dcep_put_open(struct buf *b, const struct dcep_open *o) {
  size_t start = b->len;
  int rc;

  if (o->label_len > UINT16_MAX || o->protocol_len > UINT16_MAX ||
      !channel_type_known(o->channel_type))
    return MESH_E_INVALID;
  if ((rc = buf_put_u8(b, DCEP_MSG_OPEN)) != 0 ||
      (rc = buf_put_u8(b, o->channel_type)) != 0 ||
      (rc = buf_put_u16be(b, o->priority)) != 0 ||
      (rc = buf_put_u32be(b, o->reliability)) != 0 ||
      (rc = buf_put_u16be(b, (uint16_t)o->label_len)) != 0 ||
      (rc = buf_put_u16be(b, (uint16_t)o->protocol_len)) != 0 ||
      (rc = buf_put(b, o->label, o->label_len)) != 0 ||
      (rc = buf_put(b, o->protocol, o->protocol_len)) != 0) {
    b->len = start; /* all or nothing */
    return rc;
  }
  return 0;
}

int dcep_put_ack(struct buf *b) { return buf_put_u8(b, DCEP_MSG_ACK); }
