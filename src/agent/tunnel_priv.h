/*
 * tunnel_priv.h - the tunnel record, shared by tunnel.c (the relay
 * session and its state machine) and consent_tunnel.c (holding a session
 * until the local user answers, spec sessions.md §4.4). Nothing else
 * includes it. Loop thread only.
 */
#ifndef MESH_AGENT_TUNNEL_PRIV_H
#define MESH_AGENT_TUNNEL_PRIV_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "agent/consent.h"
#include "agent/tunnel.h"
#include "crypto/hash.h"

enum tunnel_state {
  T_CONNECTING,
  T_WAIT_START,
  T_SELECT,
  T_CONSENT,
  T_ACTIVE,
  T_CLOSED
};

/* A viewer message kept while the local user is asked. */
struct held {
  struct held *next;
  enum ws_type type;
  size_t n;
  uint8_t p[];
};

struct rtc;

/* Where a session's WebRTC switch-over stands (tunnel_rtc.c). */
enum rtc_phase {
  RTC_NONE,    /* no offer yet */
  RTC_OFFERED, /* answered; the channel is not open yet */
  RTC_OPEN,    /* the channel is open; webrtc0 sent */
  RTC_HOLD,    /* webrtc1 sent: output waits for the viewer's webrtc2 */
  RTC_ACTIVE,  /* output goes on the channel */
  RTC_OVER     /* it failed or closed: the WebSocket carries on */
};

/* Protocol numbers (spec §4.2). */
enum {
  P_TERM = 1,
  P_DESKTOP = 2,
  P_FILES = 5,
  P_PS = 6,
  P_USER = 8,
  P_UPS = 9
};

struct tunnel {
  struct agent *a;
  struct tunnel *next;
  struct ws *ws; /* NULL once on_close ran */
  uv_timer_t timer;
  int timer_open;
  enum tunnel_state state;
  int proto; /* 1 (terminal, also for 6/8/9), 2 or 5 once ACTIVE */
  uint32_t rights;
  int desktopviewonly; /* the request's desktopviewonly (spec §2.5) */
  char *userid;
  json_t *options; /* the viewer's options, or NULL */
  /* Consent (spec §2.4, §4.4): the request's bits and texts. */
  uint32_t consent;
  char *username, *realname, *privacybartext; /* may be NULL */
  json_t *soptions;                           /* may be NULL */
  char display[64];          /* where the prompt, toast and bar go */
  int pending_proto;         /* the protocol waiting for the user's answer */
  struct consent_plan *plan; /* while asking */
  struct consent_ui *prompt, *toast, *bar; /* owned */
  struct held *held, **held_tail;
  size_t held_n, held_bytes;
  int held_paused; /* the hold is full: the relay is not read */
  uint8_t ctrl_hash[MESH_HASH_LEN];
  uint8_t tls_hash[MESH_HASH_LEN];
  int has_tls_hash;
  struct term *term;
  struct fsess *files;
  struct kvm *kvm;
  int recorded; /* the relay said "cr": the server records the session */
  /* WebRTC (tunnel_rtc.c): the connection and the output it holds. */
  struct rtc *rtc;
  enum rtc_phase rtc_phase;
  struct held *rtc_out, **rtc_out_tail;
  size_t rtc_out_bytes;
  char name[96];
};

/* ------------------------------------------------ tunnel.c */

/* Starts protocol proto (rights and consent settled; pl borrowed): the
 * session, the sessions report, then pl's toast and privacy bar. Refuses
 * the tunnel when the session cannot start. */
void tunnel__start(struct tunnel *t, long proto, const struct consent_plan *pl);
/* One viewer message for the running session (p borrowed). */
void tunnel__active_message(struct tunnel *t, enum ws_type type,
                            const uint8_t *p, size_t n);
/* The tunnel's timer callback (start deadline, prompt backstop). */
void tunnel__deadline(uv_timer_t *h);
/* Sends the viewer a console line (ctrl channel, spec §3.1): msgid 1
 * waiting, 2 refused, 0 with msg NULL (sent as null) clears it. */
void tunnel__console(struct tunnel *t, int msgid, const char *msg);
/* A viewer's JSON text message (p borrowed) up to the command size
 * limit, or NULL; the caller checks its type and frees it. */
json_t *tunnel__json(const uint8_t *p, size_t n);

/* The sessions' drain callbacks: the output queue has room again. */
void tunnel__drain(struct tunnel *t);

/* ------------------------------------------------ tunnel_rtc.c */

/* A control message of the switch-over (offer, webrtc0/1/2; j borrowed).
 * Returns 1 when type was one of them, 0 otherwise. */
int tunnel_rtc_ctrl(struct tunnel *t, const char *type, json_t *j);
/* Output once the switch-over began (rtc_phase HOLD or ACTIVE). */
int tunnel_rtc_send(struct tunnel *t, enum ws_type type, const void *p,
                    size_t n);
size_t tunnel_rtc_queued(const struct tunnel *t);
/* Tears the peer connection down and drops held output. */
void tunnel_rtc_close(struct tunnel *t);

/* ------------------------------------------------ consent_tunnel.c */

/* Settles consent for proto and starts it through tunnel__start(), now
 * or once the local user allows it; refuses the tunnel otherwise. */
void consent_gate(struct tunnel *t, long proto);
/* A viewer message while the user is asked (p borrowed): keep-alive and
 * close are handled now, the rest is kept for after the answer. */
void consent_hold(struct tunnel *t, enum ws_type type, const uint8_t *p,
                  size_t n);
/* The prompt's backstop ran out (tunnel__deadline): window down,
 * tunnel refused. */
void consent_expired(struct tunnel *t);
/* The session's toast and privacy bar, as pl says. */
void consent_show_notices(struct tunnel *t, const struct consent_plan *pl);
/* Drops what was held (tunnel closing or answered). */
void consent_free_held(struct tunnel *t);

#endif
