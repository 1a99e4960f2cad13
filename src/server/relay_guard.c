/*
 * relay_guard.c - the relay's restricted viewers (relay_priv.h).
 *
 * A viewer whose rights are not full and restrict the desktop (view-only
 * or limited input, or NODESKTOP) is read by the relay instead of only
 * copied (docs/sessions.md, "Restricted viewers"):
 *  - Until the protocol is selected (spec §4.1), each message is read as
 *    the agent reads it: options/control JSON passes; the selection must
 *    be a number other than 0, and the desktop (2) exactly when the
 *    viewer's URL asked for it (whose rights were checked at join). The
 *    agent would act on any number; the server does not let a viewer
 *    that asked for a terminal switch to the desktop in-band, nor turn a
 *    desktop tunnel into something the filter would garble. Other
 *    protocols are the agent's to judge, as for every viewer.
 *  - On a desktop session with a restricted input mode, every binary
 *    message goes through kvm_filter_message, and text messages must be
 *    JSON objects that are not a WebRTC offer: an offer would move the
 *    input onto a data channel the relay never sees, and an agent that
 *    does not enforce DESKLIMITEDINPUT itself would take it all. A
 *    binary message that is not whole commands is dropped whole.
 * Any other viewer is never parsed.
 */
#define _GNU_SOURCE /* memmem */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "net/ws.h"
#include "proto/kvm_filter.h"
#include "proto/rights.h"
#include "relay_priv.h"

void relay__guard_init(struct relay_end *e, uint32_t rights, int reg_proto) {
  e->mode = kvm_filter_mode_for(rights);
  if (rights == MESH_RIGHT_ADMIN) return;
  if (e->mode != KVM_FILTER_OFF || (rights & MESH_RIGHT_NODESKTOP)) {
    e->selecting = 1;
    e->want_proto = e->proto >= 0 ? e->proto : reg_proto;
  }
}

/* Refuses the session over viewer e's input: both sides close with 1008
 * and the reason. */
static void guard_refuse(struct relay_end *e, const char *reason) {
  struct relay_tunnel *t = e->tun;
  log_info("event=relay_input_refused peer=%s id=%s user=%s reason=\"%s\"",
           ws_peer(e->ws), t->id, t->user_id, reason);
  relay__tunnel_end(e->srv, t, NULL, WS_CLOSE_POLICY, reason);
}

int relay__is_offer(const uint8_t *p, size_t n) {
  /* Cheap tests first: this runs on every viewer message while WebRTC is
   * not allowed, and almost none is JSON naming an offer. */
  if (n == 0 || p[0] != '{' || !memmem(p, n, "offer", 5)) return 0;
  json_t *j = json_loadb((const char *)p, n, 0, NULL);
  const char *type = json_string_value(json_object_get(j, "type"));
  int offer = type && strcmp(type, "offer") == 0;
  json_decref(j);
  return offer;
}

/* Whether a text message from a filtered desktop viewer may pass: a JSON
 * object that is not a WebRTC offer. Anything the relay cannot read as
 * such is dropped; the agent ignores non-JSON text on a desktop session
 * anyway. */
static int text_passes(const uint8_t *p, size_t n) {
  json_t *j = json_loadb((const char *)p, n, 0, NULL);
  int ok = json_is_object(j);
  json_decref(j);
  return ok && !relay__is_offer(p, n);
}

int relay__guard_message(struct relay_end *e, enum ws_type type,
                         const uint8_t **pp, size_t *pn, uint8_t **copy) {
  const uint8_t *p = *pp;
  size_t n = *pn;
  if (e->selecting) {
    int sel;
    int r = kvm_filter_selection(p, n, &sel);
    if (r == 1 && type == WS_TEXT) {
      if (e->mode == KVM_FILTER_OFF || text_passes(p, n)) return 1;
      e->dropped_text++;
      return 0;
    }
    /* The stock agent reads a binary message as the selection too, so
     * binary options or KVM bytes before it are refused as well. */
    if (r != 0 || (sel == 2) != (e->want_proto == 2)) {
      char why[96];
      if (r == 0)
        snprintf(why, sizeof why,
                 "protocol %d selected in the tunnel, %d asked for", sel,
                 e->want_proto);
      else
        snprintf(why, sizeof why, "malformed protocol selection");
      guard_refuse(e, why);
      return -1;
    }
    e->filtering = sel == 2 && e->mode != KVM_FILTER_OFF;
    e->selecting = 0;
    return 1;
  }
  if (!e->filtering) return 1;
  if (type == WS_TEXT) {
    if (text_passes(p, n)) return 1;
    e->dropped_text++;
    return 0;
  }
  size_t dropped;
  const char *why;
  ssize_t kept = kvm_filter_message(e->mode, p, n, NULL, &dropped, &why);
  /* A message that is not whole commands is dropped whole, and the
   * session goes on: the agent reads nothing at all of a view-only
   * viewer, so it would not have ended the session either, and nothing
   * of a message the relay could not judge reaches it. */
  if (kept < 0) {
    e->dropped_bad++;
    return 0;
  }
  e->dropped_cmds += dropped;
  if ((size_t)kept == n) return 1;
  if (kept == 0) return 0;
  /* Some kept, some dropped: the kept ones go on as one message, the
   * way the viewer packed them. */
  *copy = malloc((size_t)kept);
  if (!*copy) return 0;
  kvm_filter_message(e->mode, p, n, *copy, &dropped, &why);
  *pp = *copy;
  *pn = (size_t)kept;
  return 1;
}
