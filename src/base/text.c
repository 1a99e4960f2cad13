#include "text.h"

#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at p, or 0. */
static size_t utf8_len(const uint8_t *p) {
  uint8_t c = p[0];
  uint8_t lo = 0x80, hi = 0xBF;
  size_t n;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0; /* overlong */
    if (c == 0xED) hi = 0x9F; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90; /* overlong */
    if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
  } else {
    return 0;
  }
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  return n;
}

size_t text_clean(char *s) {
  uint8_t *p = (uint8_t *)s;
  size_t replaced = 0;
  while (*p) {
    if (*p < 0x80) {
      if (*p < 0x20 || *p == 0x7f) *p = '?', replaced++;
      p++;
      continue;
    }
    /* utf8_len stops at the NUL terminator: it is not a continuation. */
    size_t n = utf8_len(p);
    if (n) {
      p += n;
    } else {
      *p++ = '?';
      replaced++;
    }
  }
  return replaced;
}
