/*
 * kvm_filter.c - the server's filter of a restricted desktop viewer's
 * input: see kvm_filter.h.
 */
#include "proto/kvm_filter.h"

#include <string.h>

#include "base/err.h"
#include "proto/rights.h"

enum kvm_filter_mode kvm_filter_mode_for(uint32_t rights) {
  if (rights == MESH_RIGHT_ADMIN) return KVM_FILTER_OFF;
  if (!(rights & MESH_RIGHT_REMOTECONTROL) || (rights & MESH_RIGHT_VIEWONLY))
    return KVM_FILTER_VIEW_ONLY;
  if (rights & MESH_RIGHT_LIMITEDINPUT) return KVM_FILTER_LIMITED;
  return KVM_FILTER_OFF;
}

/* The stock viewer's limited-input rule is written over the browser's
 * keyCode, which it sends as the VK: nothing below 32 but Backspace and
 * Enter, nothing above 90 (letters end at 90). */
static int limited_key(uint8_t vk) {
  return vk == 8 || vk == 13 || (vk >= 32 && vk <= 90);
}

/* A UTF-16 unit that types something: not a C0 or C1 control, not DEL.
 * Surrogate halves pass, since a character past U+FFFF comes as two. */
static int printable_unit(uint16_t ch) {
  return ch >= 0x20 && ch != 0x7F && !(ch >= 0x80 && ch <= 0x9F);
}

int kvm_filter_allows(enum kvm_filter_mode mode, const struct kvm_input *in) {
  if (mode == KVM_FILTER_OFF) return 1;
  switch (in->type) {
    case KVM_COMPRESSION:
    case KVM_REFRESH:
    case KVM_PAUSE:
    case KVM_GET_DISPLAYS:
    case KVM_SET_DISPLAY:
    case KVM_FRAME_RATE:
      return 1;
    case KVM_MOUSE:
      return mode == KVM_FILTER_LIMITED;
    case KVM_KEY:
      return mode == KVM_FILTER_LIMITED && limited_key(in->u.key.vk);
    case KVM_KEY_UNICODE:
      return mode == KVM_FILTER_LIMITED && printable_unit(in->u.ukey.ch);
    default:
      return 0;
  }
}

ssize_t kvm_filter_message(enum kvm_filter_mode mode, const uint8_t *p,
                           size_t n, uint8_t *out, size_t *dropped,
                           const char **why) {
  *dropped = 0;
  if (mode == KVM_FILTER_OFF) {
    if (out && n) memcpy(out, p, n);
    return (ssize_t)n;
  }
  size_t off = 0, kept = 0, ndropped = 0;
  /* An empty message holds no command; the agent's loop reads nothing
   * from it either, so it passes as it is. */
  while (off < n) {
    struct kvm_input in;
    const char *w = "truncated KVM command";
    ssize_t r = kvm_decode(p + off, n - off, &in, &w);
    /* Incomplete is as bad as malformed here: the agent does not carry a
     * command over to the next message, and a filter that did not see a
     * command whole could not judge it. */
    if (r < 0) {
      *why = w;
      return MESH_E_MALFORMED;
    }
    size_t len = (size_t)r;
    if (kvm_filter_allows(mode, &in)) {
      if (out) memcpy(out + kept, p + off, len);
      kept += len;
    } else {
      ndropped++;
    }
    off += len;
  }
  *dropped = ndropped;
  return (ssize_t)kept;
}

int kvm_filter_selection(const uint8_t *p, size_t n, int *proto) {
  if (n > 3 && p[0] == '{') return 1;
  if (n == 0 || n > 6) return MESH_E_MALFORMED;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return MESH_E_MALFORMED;
    v = v * 10 + (p[i] - '0');
  }
  /* 0 is no protocol: the stock agent would read the next message as
   * the selection again, one the server would not see. */
  if (v == 0) return MESH_E_MALFORMED;
  *proto = v;
  return 0;
}
