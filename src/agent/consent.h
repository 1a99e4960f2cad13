/*
 * consent.h - asking the local user before a remote session starts, and
 * telling them while it runs (spec sessions.md §4.4, §9.2;
 * docs/sessions.md "Consent").
 *
 * Two halves:
 *  - consent.c is pure: which bits of the tunnel's consent apply to which
 *    protocol, the auto-accept rules of soptions, the texts, and the
 *    prompt's state machine (answer, timeout) over a clock the caller
 *    passes in. Unit tested without X.
 *  - consent_x11.c draws: the prompt (Allow / Deny), the notification
 *    toast and the desktop privacy bar, each its own small Xlib window on
 *    its own connection, driven on the loop by a uv_poll on the
 *    connection's socket. The display is opened on the thread pool (a
 *    hung X server must not stall the loop).
 *
 * Ownership: every window object is owned by its tunnel until its
 * callback ran or consent_ui_close() was called; after either the caller
 * never touches it again and it frees itself once its handles are closed.
 * Loop thread only.
 */
#ifndef MESH_AGENT_CONSENT_H
#define MESH_AGENT_CONSENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Consent bits (spec §9.2). */
#define CONSENT_NOTIFY_DESKTOP 0x01u
#define CONSENT_NOTIFY_TERMINAL 0x02u
#define CONSENT_NOTIFY_FILES 0x04u
#define CONSENT_PROMPT_DESKTOP 0x08u
#define CONSENT_PROMPT_TERMINAL 0x10u
#define CONSENT_PROMPT_FILES 0x20u
#define CONSENT_PRIVACY_BAR 0x40u

/* Prompt timeout when soptions has no consentTimeout (spec §2.4), and the
 * bounds a given one is clamped to. */
#define CONSENT_TIMEOUT_DEFAULT_S 30
#define CONSENT_TIMEOUT_MAX_S 600
/* The tunnel gives up on a prompt this long after its timeout, should
 * the prompt's own timer never run (its display never opened). */
#define CONSENT_BACKSTOP_MS 5000
/* How long a notification toast stays up. */
#define CONSENT_TOAST_MS 5000
/* What a tunnel keeps of the viewer's messages while the prompt is up
 * (they are replayed once the user allows); past either it stops reading
 * the relay until the answer. */
#define CONSENT_HOLD_MAX_MESSAGES 64
#define CONSENT_HOLD_MAX_BYTES (1024 * 1024)

/* The console texts (spec §3.1, §4.4). */
#define CONSENT_WAITING_TEXT "Waiting for user to grant access..."

enum consent_kind {
  CONSENT_KIND_NONE, /* a protocol consent does not cover */
  CONSENT_KIND_DESKTOP,
  CONSENT_KIND_TERMINAL,
  CONSENT_KIND_FILES
};

/* The kind of session protocol p is (spec §4.2: 1/6/8/9 terminal, 2
 * desktop, 5 files). */
enum consent_kind consent_kind_of(int proto);

/* What to do before and while a session of one protocol runs. */
struct consent_plan {
  enum consent_kind kind;
  int prompt;            /* ask first */
  int notify;            /* show a toast once started */
  int privacy_bar;       /* desktop: keep the bar up while it runs */
  int timeout_s;         /* prompt timeout */
  int timeout_allow;     /* soptions oldStyle + consentAutoAccept */
  const char *deny;      /* refuse at once with this text (static) */
  char title[128];       /* prompt title */
  char toast_title[128]; /* toast title (soptions notifyTitle) */
  char text[512];        /* prompt text, or the toast's */
  char bar[256];         /* privacy bar text */
};

/* Plans a session of protocol proto for the tunnel's consent bits (the
 * request's OR the agent's local ones), its soptions (borrowed, may be
 * NULL), who asks (realname may be NULL: username is used), and whether
 * a local display exists to ask on. Without a display a prompt becomes
 * an immediate refusal unless soptions' consentAutoAcceptIfNoUser (or the
 * kind's own ...IfDesktopNoUser, ...IfTerminalNoUser, ...IfFileNoUser,
 * or the server's misspelled consentAautoAcceptIfFileNoUser) says accept;
 * toast and bar are then left out. privacybartext (may be NULL) replaces
 * the bar's default text. Pure. */
void consent_plan(uint32_t consent, int proto, const json_t *soptions,
                  int have_display, const char *username, const char *realname,
                  const char *privacybartext, struct consent_plan *out);

/* Replaces every {0} in tmpl with a and every {1} with b, into out
 * (always terminated, cut at cap). Pure. */
void consent_format(const char *tmpl, const char *a, const char *b, char *out,
                    size_t cap);

/* ------------------------------------------------ prompt state machine */

enum consent_state { CONSENT_PENDING, CONSENT_ALLOWED, CONSENT_DENIED };
enum consent_event {
  CONSENT_EV_ALLOW, /* Allow clicked, or Enter */
  CONSENT_EV_DENY,  /* Deny clicked, or Escape */
  CONSENT_EV_CLOSE, /* the window was closed (window manager) */
  CONSENT_EV_LOST,  /* the X server went away */
  CONSENT_EV_TICK   /* time passed: checks the deadline */
};
struct consent_sm {
  enum consent_state state;
  uint64_t deadline_ms;
  int timeout_s, timeout_allow;
  const char *reason; /* why it was denied (static), once DENIED */
  char reason_buf[96];
};
/* Starts a prompt at now_ms. */
void consent_sm_start(struct consent_sm *m, uint64_t now_ms, int timeout_s,
                      int timeout_allow);
/* Feeds one event at now_ms; returns the state after it. Once ALLOWED or
 * DENIED nothing changes it. */
enum consent_state consent_sm_feed(struct consent_sm *m, enum consent_event ev,
                                   uint64_t now_ms);
/* Whole seconds left before the timeout (rounded up), for the countdown. */
int consent_sm_left(const struct consent_sm *m, uint64_t now_ms);

/* ------------------------------------------------ consent_x11.c */

struct consent_ui;
/* The prompt's answer: allowed or not, with why not (static or m's text,
 * valid during the call). Called once, unless consent_ui_close() came
 * first; u is freed after the callback returns. */
typedef void (*consent_answer_cb)(struct consent_ui *u, int allowed,
                                  const char *reason, void *data);
/* The privacy bar's Disconnect was clicked; the bar stays until closed. */
typedef void (*consent_disconnect_cb)(struct consent_ui *u, void *data);

/* Opens the prompt for plan p on display. The answer comes through cb.
 * Returns 0 with *out, or a negative code (nothing started). */
int consent_ui_prompt(uv_loop_t *loop, const char *display,
                      const struct consent_plan *p, consent_answer_cb cb,
                      void *data, struct consent_ui **out);
/* A toast with p's text, taken down after CONSENT_TOAST_MS (or by
 * consent_ui_close()); the object itself lives until consent_ui_close(). */
int consent_ui_toast(uv_loop_t *loop, const char *display,
                     const struct consent_plan *p, struct consent_ui **out);
/* The privacy bar at the top of the screen with p's bar text and a
 * Disconnect button, until consent_ui_close(). */
int consent_ui_bar(uv_loop_t *loop, const char *display,
                   const struct consent_plan *p, consent_disconnect_cb cb,
                   void *data, struct consent_ui **out);
/* Takes the window down, if still up; no callback follows. u may be
 * NULL. */
void consent_ui_close(struct consent_ui *u);

#endif
