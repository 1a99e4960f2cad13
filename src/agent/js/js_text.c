/*
 * js_text.c - UTF-8 at the runtime's edges. Duktape keeps a string as
 * CESU-8 when it was built from JavaScript text: a character outside the
 * BMP is two 3-byte surrogates, which JSON readers such as jansson (and
 * the server) refuse. The server and the agent speak UTF-8. So text going
 * into JavaScript gets its 4-byte sequences split into surrogate pairs
 * (a string's length is then what Node.js says), and text coming out gets
 * its pairs joined again, a lone surrogate becoming U+FFFD.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/js/js_int.h"

/* The surrogate at p (3 bytes ED A0..BF xx), or 0. */
static unsigned surrogate_at(const uint8_t *p, size_t left) {
  if (left < 3 || p[0] != 0xED || (p[1] & 0xE0) != 0xA0 ||
      (p[2] & 0xC0) != 0x80)
    return 0;
  return 0xD000u | ((unsigned)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
}

static size_t put3(uint8_t *o, unsigned u) {
  o[0] = (uint8_t)(0xE0 | (u >> 12));
  o[1] = (uint8_t)(0x80 | ((u >> 6) & 0x3F));
  o[2] = (uint8_t)(0x80 | (u & 0x3F));
  return 3;
}

char *js__to_utf8(const char *s, size_t n, size_t *out_len) {
  const uint8_t *p = (const uint8_t *)s;
  uint8_t *o = malloc(n + 1), *w = o;
  if (!o) return NULL;
  for (size_t i = 0; i < n;) {
    unsigned hi = surrogate_at(p + i, n - i);
    if (!hi) {
      *w++ = p[i++];
      continue;
    }
    unsigned lo = hi < 0xDC00 ? surrogate_at(p + i + 3, n - i - 3) : 0;
    if (lo >= 0xDC00) {
      unsigned cp = 0x10000u + ((hi - 0xD800u) << 10) + (lo - 0xDC00u);
      *w++ = (uint8_t)(0xF0 | (cp >> 18));
      *w++ = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
      *w++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
      *w++ = (uint8_t)(0x80 | (cp & 0x3F));
      i += 6;
    } else {
      w += put3(w, 0xFFFD);
      i += 3;
    }
  }
  *w = 0;
  *out_len = (size_t)(w - o);
  return (char *)o;
}

char *js__to_cesu(const char *s, size_t n, size_t *out_len) {
  const uint8_t *p = (const uint8_t *)s;
  uint8_t *o = malloc(n / 2 * 3 + 4), *w = o;
  if (!o) return NULL;
  for (size_t i = 0; i < n;) {
    if (n - i >= 4 && p[i] >= 0xF0 && p[i] <= 0xF4 &&
        (p[i + 1] & 0xC0) == 0x80 && (p[i + 2] & 0xC0) == 0x80 &&
        (p[i + 3] & 0xC0) == 0x80) {
      unsigned cp = ((unsigned)(p[i] & 7) << 18) |
                    ((unsigned)(p[i + 1] & 0x3F) << 12) |
                    ((unsigned)(p[i + 2] & 0x3F) << 6) | (p[i + 3] & 0x3F);
      if (cp >= 0x10000 && cp <= 0x10FFFF) {
        cp -= 0x10000;
        w += put3(w, 0xD800 + (cp >> 10));
        w += put3(w, 0xDC00 + (cp & 0x3FF));
        i += 4;
        continue;
      }
    }
    *w++ = p[i++];
  }
  *w = 0;
  *out_len = (size_t)(w - o);
  return (char *)o;
}
