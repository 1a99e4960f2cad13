/*
 * consent.c - the pure half of consent.h: which consent bits apply to a
 * protocol, soptions' auto-accept rules and texts, and the prompt's state
 * machine. No X, no loop: the clock comes from the caller.
 */
#include <stdio.h>
#include <string.h>

#include "agent/consent.h"

enum consent_kind consent_kind_of(int proto) {
  switch (proto) {
    case 1:
    case 6:
    case 8:
    case 9:
      return CONSENT_KIND_TERMINAL;
    case 2:
      return CONSENT_KIND_DESKTOP;
    case 5:
      return CONSENT_KIND_FILES;
    default:
      return CONSENT_KIND_NONE;
  }
}

void consent_format(const char *tmpl, const char *a, const char *b, char *out,
                    size_t cap) {
  size_t o = 0;
  if (!cap) return;
  for (const char *s = tmpl; *s && o + 1 < cap; s++) {
    const char *put = NULL;
    if (s[0] == '{' && (s[1] == '0' || s[1] == '1') && s[2] == '}') {
      put = s[1] == '0' ? a : b;
      s += 2;
    }
    if (!put) {
      out[o++] = *s;
      continue;
    }
    size_t n = strlen(put);
    if (n > cap - 1 - o) n = cap - 1 - o;
    memcpy(out + o, put, n);
    o += n;
  }
  out[o] = 0;
}

static int opt_true(const json_t *so, const char *key) {
  return json_is_true(json_object_get(so, key));
}

static const char *opt_str(const json_t *so, const char *key) {
  return json_string_value(json_object_get(so, key));
}

/* Per kind: its bits, soptions keys and default words. */
struct kind_info {
  uint32_t prompt, notify;
  const char *msg_key, *notify_key, *nouser_key, *what;
};

static const struct kind_info *info_of(enum consent_kind k) {
  static const struct kind_info desktop = {CONSENT_PROMPT_DESKTOP,
                                           CONSENT_NOTIFY_DESKTOP,
                                           "consentMsgDesktop",
                                           "notifyMsgDesktop",
                                           "consentAutoAcceptIfDesktopNoUser",
                                           "desktop"};
  static const struct kind_info terminal = {CONSENT_PROMPT_TERMINAL,
                                            CONSENT_NOTIFY_TERMINAL,
                                            "consentMsgTerminal",
                                            "notifyMsgTerminal",
                                            "consentAutoAcceptIfTerminalNoUser",
                                            "terminal"};
  static const struct kind_info files = {CONSENT_PROMPT_FILES,
                                         CONSENT_NOTIFY_FILES,
                                         "consentMsgFiles",
                                         "notifyMsgFiles",
                                         "consentAutoAcceptIfFileNoUser",
                                         "files"};
  switch (k) {
    case CONSENT_KIND_DESKTOP:
      return &desktop;
    case CONSENT_KIND_TERMINAL:
      return &terminal;
    case CONSENT_KIND_FILES:
      return &files;
    default:
      return NULL;
  }
}

void consent_plan(uint32_t consent, int proto, const json_t *so,
                  int have_display, const char *username, const char *realname,
                  const char *privacybartext, struct consent_plan *out) {
  memset(out, 0, sizeof *out);
  out->kind = consent_kind_of(proto);
  out->timeout_s = CONSENT_TIMEOUT_DEFAULT_S;
  const struct kind_info *ki = info_of(out->kind);
  if (!ki) return;
  if (!username) username = "";
  if (!realname || !*realname) realname = username;
  out->prompt = (consent & ki->prompt) != 0;
  out->notify = (consent & ki->notify) != 0;
  out->privacy_bar =
      out->kind == CONSENT_KIND_DESKTOP && (consent & CONSENT_PRIVACY_BAR);
  json_t *t = json_object_get(so, "consentTimeout");
  if (json_is_number(t)) {
    double s = json_number_value(t);
    out->timeout_s = s < 1                       ? 1
                     : s > CONSENT_TIMEOUT_MAX_S ? CONSENT_TIMEOUT_MAX_S
                                                 : (int)s;
  }
  out->timeout_allow =
      opt_true(so, "oldStyle") && opt_true(so, "consentAutoAccept");
  if (!have_display) {
    /* Nobody to ask and nowhere to show anything (a headless server):
     * the server's options may say that means yes. */
    int yes = opt_true(so, "consentAutoAcceptIfNoUser") ||
              opt_true(so, ki->nouser_key) ||
              (out->kind == CONSENT_KIND_FILES &&
               opt_true(so, "consentAautoAcceptIfFileNoUser"));
    if (out->prompt && !yes)
      out->deny =
          "No local user to grant access: this device has no display to "
          "ask on";
    out->prompt = out->notify = out->privacy_bar = 0;
    return;
  }
  const char *title = opt_str(so, "consentTitle");
  snprintf(out->title, sizeof out->title, "%s",
           title ? title : "Remote access request");
  title = opt_str(so, "notifyTitle");
  snprintf(out->toast_title, sizeof out->toast_title, "%s",
           title ? title : "Remote session");
  char who[200]; /* leaves room for the words around it in text and bar */
  consent_format(strcmp(realname, username) ? "{0} ({1})" : "{1}", realname,
                 username, who, sizeof who);
  const char *tmpl = opt_str(so, out->prompt ? ki->msg_key : ki->notify_key);
  if (tmpl) {
    consent_format(tmpl, realname, username, out->text, sizeof out->text);
  } else if (out->prompt) {
    if (out->kind == CONSENT_KIND_FILES)
      snprintf(out->text, sizeof out->text,
               "%s wants to access this computer's files.", who);
    else
      snprintf(out->text, sizeof out->text,
               "%s wants to control this computer's %s.", who, ki->what);
  } else {
    snprintf(out->text, sizeof out->text,
             "%s started a remote %s session on this computer.", who,
             out->kind == CONSENT_KIND_FILES ? "file" : ki->what);
  }
  if (privacybartext && *privacybartext)
    consent_format(privacybartext, realname, username, out->bar,
                   sizeof out->bar);
  else
    snprintf(out->bar, sizeof out->bar, "%s is viewing this desktop", who);
}

/* ------------------------------------------------ prompt state machine */

void consent_sm_start(struct consent_sm *m, uint64_t now_ms, int timeout_s,
                      int timeout_allow) {
  memset(m, 0, sizeof *m);
  m->state = CONSENT_PENDING;
  m->timeout_s = timeout_s > 0 ? timeout_s : CONSENT_TIMEOUT_DEFAULT_S;
  m->timeout_allow = timeout_allow;
  m->deadline_ms = now_ms + (uint64_t)m->timeout_s * 1000;
}

enum consent_state consent_sm_feed(struct consent_sm *m, enum consent_event ev,
                                   uint64_t now_ms) {
  if (m->state != CONSENT_PENDING) return m->state;
  switch (ev) {
    case CONSENT_EV_ALLOW:
      m->state = CONSENT_ALLOWED;
      break;
    case CONSENT_EV_DENY:
      m->state = CONSENT_DENIED;
      m->reason = "The local user denied access";
      break;
    case CONSENT_EV_CLOSE:
      m->state = CONSENT_DENIED;
      m->reason = "The local user closed the access request";
      break;
    case CONSENT_EV_LOST:
      m->state = CONSENT_DENIED;
      m->reason = "The local display went away before the user answered";
      break;
    case CONSENT_EV_TICK:
      if (now_ms < m->deadline_ms) break;
      if (m->timeout_allow) {
        m->state = CONSENT_ALLOWED;
        break;
      }
      m->state = CONSENT_DENIED;
      snprintf(m->reason_buf, sizeof m->reason_buf,
               "The local user did not answer within %d seconds", m->timeout_s);
      m->reason = m->reason_buf;
      break;
  }
  return m->state;
}

int consent_sm_left(const struct consent_sm *m, uint64_t now_ms) {
  if (now_ms >= m->deadline_ms) return 0;
  return (int)((m->deadline_ms - now_ms + 999) / 1000);
}
