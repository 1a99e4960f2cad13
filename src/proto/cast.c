/*
 * cast.c - asciicast v2 lines (cast.h).
 */
#include "proto/cast.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

/* Appends j (taken) as one compact line, all or nothing. */
static int put_line(struct buf *out, json_t *j) {
  char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
  json_decref(j);
  if (!text) return MESH_E_NOMEM;
  size_t n = strlen(text), start = out->len;
  int r = buf_put(out, text, n);
  if (r == 0 && (r = buf_put_u8(out, '\n')) != 0) out->len = start;
  free(text);
  return r;
}

int cast_header(struct buf *out, int width, int height, int64_t timestamp) {
  return put_line(
      out, json_pack("{s:i, s:i, s:i, s:I}", "version", 2, "width", width,
                     "height", height, "timestamp", (json_int_t)timestamp));
}

int cast_resize(struct buf *out, double t, int cols, int rows) {
  char size[32];
  snprintf(size, sizeof size, "%dx%d", cols, rows);
  return put_line(out, json_pack("[f, s, s]", t, "r", size));
}

/* The length of the UTF-8 character a lead byte starts, 0 if none. */
static size_t seq_len(uint8_t b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

/* Whether b may be byte i (1..3) of the character led by lead: no
 * overlong forms, no surrogates, nothing past U+10FFFF. */
static int cont_ok(uint8_t lead, size_t i, uint8_t b) {
  if ((b & 0xC0) != 0x80) return 0;
  if (i != 1) return 1;
  if (lead == 0xE0) return b >= 0xA0;
  if (lead == 0xED) return b <= 0x9F;
  if (lead == 0xF0) return b >= 0x90;
  if (lead == 0xF4) return b <= 0x8F;
  return 1;
}

int cast_output(struct buf *out, double t, struct cast_utf8 *st,
                const uint8_t *p, size_t n) {
  size_t total = st->n + n, o = 0, i = 0;
  uint8_t *text = malloc(total * 3 + 1); /* each byte at worst U+FFFD */
  struct cast_utf8 next = {{0}, 0};
  if (!text) return MESH_E_NOMEM;
#define AT(k) ((k) < st->n ? st->carry[(k)] : p[(k)-st->n])
  while (i < total) {
    uint8_t b = AT(i);
    if (b == 0) { /* terminals ignore NUL; players choke on \u0000 */
      i++;
      continue;
    }
    size_t len = seq_len(b), k = 1;
    while (len > 1 && k < len && i + k < total && cont_ok(b, k, AT(i + k))) k++;
    if (len && k == len) { /* a whole valid character */
      for (size_t j = 0; j < len; j++) text[o++] = AT(i + j);
      i += len;
    } else if (len > 1 && i + k == total) { /* cut short: carry it */
      for (size_t j = 0; j < k; j++) next.carry[next.n++] = AT(i + j);
      i += k;
    } else { /* not UTF-8: one replacement per bad byte */
      text[o++] = 0xEF, text[o++] = 0xBF, text[o++] = 0xBD;
      i++;
    }
  }
#undef AT
  int r = 0;
  if (o > 0) {
    json_t *s = json_stringn((const char *)text, o);
    r = s ? put_line(out, json_pack("[f, s, o]", t, "o", s)) : MESH_E_NOMEM;
  }
  free(text);
  if (r == 0) *st = next;
  return r;
}

int cast_term_size(const uint8_t *p, size_t n, int *cols, int *rows,
                   int *is_options) {
  if (n < 2 || p[0] != '{') return 0;
  json_t *j = json_loadb((const char *)p, n, 0, NULL);
  const char *type = json_string_value(json_object_get(j, "type"));
  json_t *c = json_object_get(j, "cols"), *r = json_object_get(j, "rows");
  int opts = type && strcmp(type, "options") == 0;
  int term = type && strcmp(type, "termsize") == 0;
  int found = (opts || term) && json_is_integer(c) && json_is_integer(r) &&
              json_integer_value(c) >= 1 && json_integer_value(c) <= 10000 &&
              json_integer_value(r) >= 1 && json_integer_value(r) <= 10000;
  if (found) {
    *cols = (int)json_integer_value(c);
    *rows = (int)json_integer_value(r);
    *is_options = opts;
  }
  json_decref(j);
  return found;
}
