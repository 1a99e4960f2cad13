/*
 * relay_priv.h - what relay.c (the sockets of the tunnels) and
 * relay_guard.c (the restricted viewers) share: one socket's state and
 * the calls between them. Not for any other file; loop thread only.
 */
#ifndef MESH_SERVER_RELAY_PRIV_H
#define MESH_SERVER_RELAY_PRIV_H

#include <stdint.h>

#include "net/ws.h"
#include "proto/kvm_filter.h"
#include "relay_table.h"

struct srv;

/* One accepted /meshrelay.ashx socket, owned by relay.c from the upgrade
 * to its on_close (where it is freed). */
struct relay_end {
  struct srv *srv;
  struct ws *ws;
  struct relay_tunnel *tun; /* NULL until joined and after detaching */
  enum relay_side side;
  int held;          /* paused because the peer's queue is full */
  int proto;         /* p of this socket's URL, or -1 */
  uint64_t bytes_in; /* payload bytes received from this side */
  char ip[64];
  char user_name[RELAY_USER_MAX]; /* viewer side */
  /* Viewer side, for a user whose rights on the device restrict the
   * desktop (relay_guard.c): whether its protocol selection is still to
   * be read, the protocol it asked for (any value its URL held), the
   * desktop input filter, and what it dropped. */
  int selecting, want_proto;
  enum kvm_filter_mode mode;
  int filtering; /* mode applies: the desktop was selected */
  uint64_t dropped_cmds, dropped_text, dropped_bad;
  uint64_t dropped_offers; /* WebRTC offers while WebRTC was not allowed */
  /* On the relay's busy list (relay.c): recent is set by each message and
   * cleared by each sweep. */
  int busy, recent;
  struct relay_end *bprev, *bnext;
};

/* relay.c: ends tunnel t. Detaches both ends, closes the ones still open
 * with code and reason (except `except`, which is closing already),
 * writes the end event if it was paired, and frees t (the id is unknown
 * afterwards). t and every end's `tun` are invalid on return. */
void relay__tunnel_end(struct srv *s, struct relay_tunnel *t,
                       struct relay_end *except, uint16_t code,
                       const char *reason);

/* relay_guard.c: decides what the relay reads of viewer e, which has
 * rights on the device and joins a tunnel registered for protocol
 * reg_proto: sets e->mode, and e->selecting and e->want_proto for a
 * restricted viewer. */
void relay__guard_init(struct relay_end *e, uint32_t rights, int reg_proto);

/* relay_guard.c: reads one message of a restricted viewer e (*pp[0..*pn),
 * borrowed). Returns 1 to forward *pp and *pn (which may now point at
 * *copy, a new buffer the caller frees), 0 to drop it, -1 when the
 * session was ended (relay__tunnel_end; e->tun is NULL). */
int relay__guard_message(struct relay_end *e, enum ws_type type,
                         const uint8_t **pp, size_t *pn, uint8_t **copy);

/* relay_guard.c: nonzero if p[0..n) is a JSON object whose type is
 * "offer" (a WebRTC offer, text or, in a files session, binary). */
int relay__is_offer(const uint8_t *p, size_t n);

#endif
