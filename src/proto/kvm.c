/*
 * kvm.c - the KVM binary protocol (spec sessions.md §7): see kvm.h.
 */
#include "proto/kvm.h"

#include <string.h>

#include "base/err.h"

static uint16_t get16(const uint8_t *p) {
  return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* Whether size is one the spec allows for a known viewer->agent type;
 * -1 for types the agent does not judge (unknown, TOUCH, MESSAGE, ...). */
static int size_ok(uint16_t type, uint16_t size) {
  switch (type) {
    case KVM_REFRESH:
    case KVM_CTRLALTDEL:
    case KVM_GET_DISPLAYS:
    case KVM_INIT_TOUCH:
      return size == 4;
    case KVM_PAUSE:
    case KVM_INPUT_LOCK:
      return size == 5;
    case KVM_KEY:
    case KVM_SET_DISPLAY:
    case KVM_FRAME_RATE:
      return size == 6;
    case KVM_KEY_UNICODE:
      return size == 7;
    case KVM_MOUSE:
      return size == 10 || size == 12;
    case KVM_COMPRESSION:
      return size == 6 || size == 8 || size == 10;
    default:
      return -1;
  }
}

ssize_t kvm_decode(const uint8_t *p, size_t n, struct kvm_input *out,
                   const char **why) {
  if (n < KVM_HDR) return MESH_E_INCOMPLETE;
  uint16_t type = get16(p), size = get16(p + 2);
  if (size < KVM_HDR) {
    *why = "KVM command size below 4";
    return MESH_E_MALFORMED;
  }
  /* Judge the size before waiting for the body, so a bad header fails at
   * once instead of looking like a short read. */
  if (size_ok(type, size) == 0) {
    *why = "KVM command has the wrong size for its type";
    return MESH_E_MALFORMED;
  }
  if (n < size) return MESH_E_INCOMPLETE;
  memset(out, 0, sizeof *out);
  out->type = type;
  const uint8_t *b = p + KVM_HDR;
  switch (type) {
    case KVM_KEY:
      out->u.key.action = b[0];
      out->u.key.vk = b[1];
      break;
    case KVM_KEY_UNICODE:
      out->u.ukey.up = b[0];
      out->u.ukey.ch = get16(b + 1);
      break;
    case KVM_MOUSE:
      out->u.mouse.buttons = b[1];
      out->u.mouse.x = get16(b + 2);
      out->u.mouse.y = get16(b + 4);
      if (size == 12) out->u.mouse.wheel = (int16_t)get16(b + 6);
      break;
    case KVM_COMPRESSION:
      out->u.comp.image_type = b[0];
      out->u.comp.quality = b[1];
      if (size >= 8) out->u.comp.scaling = get16(b + 2);
      if (size >= 10) out->u.comp.interval = get16(b + 4);
      break;
    case KVM_PAUSE:
      out->u.pause = b[0];
      break;
    case KVM_INPUT_LOCK:
      out->u.lock = b[0];
      break;
    case KVM_SET_DISPLAY:
      out->u.display = get16(b);
      break;
    case KVM_FRAME_RATE:
      out->u.interval = get16(b);
      break;
    default:
      break;
  }
  return (ssize_t)size;
}

int kvm_scaled(int full, unsigned scale) {
  if (scale >= KVM_SCALE_FULL) return full;
  int s = (int)((long long)full * scale / KVM_SCALE_FULL);
  return s > 0 ? s : 1;
}

uint16_t kvm_unscale(uint16_t v, int full, int scaled) {
  if (full <= 0 || scaled <= 0) return v;
  if (v >= scaled) return (uint16_t)(full - 1);
  /* The middle of the block of screen pixels the viewer's pixel was
   * averaged from (the same integer blocks as the agent's box filter). */
  long long lo = (long long)v * full / scaled;
  long long hi = ((long long)v + 1) * full / scaled;
  return (uint16_t)((lo + hi - 1) / 2);
}

void kvm_put_header(uint8_t out[KVM_HDR], uint16_t type, uint16_t size) {
  put16(out, type);
  put16(out + 2, size);
}

size_t kvm_put_screen(uint8_t out[8], uint16_t w, uint16_t h) {
  kvm_put_header(out, KVM_SCREEN, 8);
  put16(out + 4, w);
  put16(out + 6, h);
  return 8;
}

size_t kvm_put_set_display(uint8_t out[6], uint16_t id) {
  kvm_put_header(out, KVM_SET_DISPLAY, 6);
  put16(out + 4, id);
  return 6;
}

size_t kvm_put_picture_header(uint8_t out[KVM_PICTURE_HDR_MAX], uint16_t x,
                              uint16_t y, size_t img_len) {
  size_t inner = KVM_HDR + 4 + img_len;
  if (img_len > KVM_MAX_JUMBO - KVM_HDR - 4) return 0;
  size_t o = 0;
  if (inner > KVM_MAX_PLAIN) {
    kvm_put_header(out, KVM_JUMBO, KVM_JUMBO_HDR);
    out[4] = (uint8_t)(inner >> 24);
    out[5] = (uint8_t)(inner >> 16);
    out[6] = (uint8_t)(inner >> 8);
    out[7] = (uint8_t)inner;
    o = KVM_JUMBO_HDR;
    kvm_put_header(out + o, KVM_PICTURE, 0); /* size reserved in a JUMBO */
  } else {
    kvm_put_header(out, KVM_PICTURE, (uint16_t)inner);
  }
  put16(out + o + 4, x);
  put16(out + o + 6, y);
  return o + KVM_HDR + 4;
}

size_t kvm_put_text(uint8_t *out, size_t cap, uint16_t type, const char *text,
                    size_t len) {
  if (cap < KVM_HDR) return 0;
  if (len > cap - KVM_HDR) len = cap - KVM_HDR;
  if (len > KVM_MAX_PLAIN - KVM_HDR) len = KVM_MAX_PLAIN - KVM_HDR;
  kvm_put_header(out, type, (uint16_t)(KVM_HDR + len));
  memcpy(out + KVM_HDR, text, len);
  return KVM_HDR + len;
}

size_t kvm_put_displays(uint8_t *out, size_t cap, const uint16_t *ids, size_t n,
                        uint16_t selected) {
  if (n > (KVM_MAX_PLAIN - 8) / 2 || cap < 8 + 2 * n) return 0;
  size_t size = 8 + 2 * n;
  kvm_put_header(out, KVM_GET_DISPLAYS, (uint16_t)size);
  put16(out + 4, (uint16_t)n);
  for (size_t i = 0; i < n; i++) put16(out + 6 + 2 * i, ids[i]);
  put16(out + 6 + 2 * n, selected);
  return size;
}

size_t kvm_put_display_info(uint8_t *out, size_t cap,
                            const struct kvm_monitor *m, size_t n) {
  if (n > (KVM_MAX_PLAIN - KVM_HDR) / 10 || cap < KVM_HDR + 10 * n) return 0;
  size_t size = KVM_HDR + 10 * n;
  kvm_put_header(out, KVM_DISPLAY_INFO, (uint16_t)size);
  for (size_t i = 0; i < n; i++) {
    uint8_t *r = out + KVM_HDR + 10 * i;
    put16(r, m[i].id);
    put16(r + 2, m[i].x);
    put16(r + 4, m[i].y);
    put16(r + 6, m[i].w);
    put16(r + 8, m[i].h);
  }
  return size;
}
