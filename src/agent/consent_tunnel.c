/*
 * consent_tunnel.c - a tunnel waiting for its local user (spec sessions.md
 * §4.4; docs/sessions.md §8): the consent plan for the chosen protocol,
 * the console messages to the viewer, the prompt's answer, what the
 * viewer sends meanwhile, and the toast and privacy bar of a started
 * session. The windows themselves are consent_x11.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent/consent.h"
#include "agent/kvm.h"
#include "agent/tunnel_priv.h"
#include "base/log.h"
#include "net/ws.h"

static void on_bar_disconnect(struct consent_ui *u, void *data) {
  struct tunnel *t = data;
  (void)u;
  const char *why = "The local user disconnected the session";
  log_info("event=consent_bar_disconnect %s", t->name);
  tunnel__console(t, 2, why);
  tunnel_close(t, 1000, why);
}

/* The toast and privacy bar of a session that just started. */
void consent_show_notices(struct tunnel *t, const struct consent_plan *pl) {
  if (pl->notify &&
      consent_ui_toast(t->a->loop, t->display, pl, &t->toast) != 0)
    log_warn("event=consent_toast_failed %s", t->name);
  if (pl->privacy_bar && consent_ui_bar(t->a->loop, t->display, pl,
                                        on_bar_disconnect, t, &t->bar) != 0)
    log_warn("event=consent_bar_failed %s", t->name);
}

void consent_free_held(struct tunnel *t) {
  while (t->held) {
    struct held *h = t->held;
    t->held = h->next;
    free(h);
  }
  t->held_tail = &t->held;
  t->held_n = t->held_bytes = 0;
}

/* A message while the user is asked: keep-alive and close are answered
 * now (the viewer may give up waiting); the rest waits for the answer. */
void consent_hold(struct tunnel *t, enum ws_type type, const uint8_t *p,
                  size_t n) {
  if (type == WS_TEXT && n > 0 && p[0] == '{') {
    json_t *j = tunnel__json(p, n);
    const char *ty = json_string_value(json_object_get(j, "type"));
    int now =
        json_object_get(j, "ctrlChannel") && ty &&
        (!strcmp(ty, "ping") || !strcmp(ty, "rtt") || !strcmp(ty, "close"));
    if (now) tunnel_ctrl(t, j);
    json_decref(j);
    if (now) return;
  }
  struct held *h = malloc(sizeof *h + n);
  if (!h) {
    tunnel_refuse(t, "out of memory");
    return;
  }
  h->next = NULL;
  h->type = type;
  h->n = n;
  memcpy(h->p, p, n);
  *t->held_tail = h;
  t->held_tail = &h->next;
  t->held_n++;
  t->held_bytes += n;
  /* Full: stop reading the relay until the user answers; the viewer's
   * messages wait in the socket (back-pressure, as spec §4.4 pauses). */
  if (!t->held_paused && (t->held_n >= CONSENT_HOLD_MAX_MESSAGES ||
                          t->held_bytes >= CONSENT_HOLD_MAX_BYTES)) {
    t->held_paused = 1;
    tunnel_pause(t);
  }
}

static void on_answer(struct consent_ui *u, int allowed, const char *reason,
                      void *data) {
  struct tunnel *t = data;
  (void)u;
  t->prompt = NULL;
  struct consent_plan *pl = t->plan;
  t->plan = NULL;
  if (t->state != T_CONSENT) { /* closing already */
    free(pl);
    return;
  }
  if (!allowed) {
    log_info("event=consent_denied %s reason=\"%s\"", t->name, reason);
    tunnel_refuse(t, reason);
    free(pl);
    return;
  }
  log_info("event=consent_granted %s", t->name);
  tunnel__console(t, 0, NULL);
  tunnel__start(t, t->pending_proto, pl);
  free(pl);
  if (t->held_paused) {
    t->held_paused = 0;
    tunnel_resume(t);
  }
  /* What the viewer sent meanwhile, in order, as if it came now. */
  while (t->held && t->state == T_ACTIVE) {
    struct held *h = t->held;
    t->held = h->next;
    if (!t->held) t->held_tail = &t->held;
    tunnel__active_message(t, h->type, h->p, h->n);
    free(h);
  }
  consent_free_held(t);
}

/* Settles consent for proto (spec §4.4) and starts it, now or once the
 * local user allows it. */
void consent_gate(struct tunnel *t, long proto) {
  struct consent_plan *pl = calloc(1, sizeof *pl);
  if (!pl) {
    tunnel_refuse(t, "out of memory");
    return;
  }
  uint32_t bits = t->consent;
  /* The display is looked for only when something is to be shown. */
  const char *why;
  int have_display = (bits & 0x7fu) &&
                     kvm_find_display(t->display, sizeof t->display, &why) == 0;
  consent_plan(bits, (int)proto, t->soptions, have_display, t->username,
               t->realname, t->privacybartext, pl);
  if (pl->deny) {
    log_info("event=consent_denied %s reason=\"%s\"", t->name, pl->deny);
    tunnel_refuse(t, pl->deny);
    free(pl);
    return;
  }
  if (!pl->prompt) {
    tunnel__start(t, proto, pl);
    free(pl);
    return;
  }
  tunnel__console(t, 1, CONSENT_WAITING_TEXT);
  if (consent_ui_prompt(t->a->loop, t->display, pl, on_answer, t, &t->prompt) !=
      0) {
    tunnel_refuse(t, "cannot show the access request to the local user");
    free(pl);
    return;
  }
  log_info("event=consent_asked %s display=%s timeout=%d", t->name, t->display,
           pl->timeout_s);
  t->plan = pl;
  t->pending_proto = (int)proto;
  t->state = T_CONSENT;
  /* The prompt has its own deadline; this one is the backstop for a
   * prompt that never came up (an X server that takes the connection
   * and never answers keeps XOpenDisplay waiting on the pool). */
  uv_timer_start(&t->timer, tunnel__deadline,
                 (uint64_t)pl->timeout_s * 1000 + CONSENT_BACKSTOP_MS, 0);
}

void consent_expired(struct tunnel *t) {
  char why[80];
  snprintf(why, sizeof why, "The local user did not answer within %d seconds",
           t->plan ? t->plan->timeout_s : CONSENT_TIMEOUT_DEFAULT_S);
  consent_ui_close(t->prompt);
  t->prompt = NULL;
  tunnel_refuse(t, why);
}
