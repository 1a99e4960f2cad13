/*
 * js_buffer.c - Duktape's built-in Node.js Buffer, completed with what
 * cores use and Duktape 2.7 lacks: Buffer.from, Buffer.alloc, and
 * toString with an encoding (hex, base64, latin1/binary, utf8).
 */
#include <string.h>

#include "agent/js/js_int.h"

#define ORIG_TOSTRING DUK_HIDDEN_SYMBOL("toString")

void js__push_buffer(duk_context *ctx, const void *p, size_t n) {
  void *d = duk_push_fixed_buffer(ctx, n);
  if (n) memcpy(d, p, n);
  duk_push_buffer_object(ctx, -1, 0, n, DUK_BUFOBJ_NODEJS_BUFFER);
  duk_remove(ctx, -2);
}

const void *js__get_bytes(duk_context *ctx, duk_idx_t idx, size_t *n) {
  duk_size_t len = 0;
  const void *p;
  if (duk_is_string(ctx, idx)) {
    p = duk_get_lstring(ctx, idx, &len);
  } else if (duk_is_buffer_data(ctx, idx)) {
    p = duk_get_buffer_data(ctx, idx, &len);
    if (!p) p = "";
  } else {
    (void)duk_type_error(ctx, "expected a string or a Buffer");
    return NULL;
  }
  *n = len;
  return p;
}

/* Which encoding a name means: 'h'ex, 'b'ase64, 'l'atin1, or 'u'tf8. */
static char encoding(duk_context *ctx, duk_idx_t idx) {
  if (duk_is_null_or_undefined(ctx, idx)) return 'u';
  const char *e = duk_require_string(ctx, idx);
  if (!strcmp(e, "hex")) return 'h';
  if (!strcmp(e, "base64")) return 'b';
  if (!strcmp(e, "latin1") || !strcmp(e, "binary")) return 'l';
  if (!strcmp(e, "utf8") || !strcmp(e, "utf-8")) return 'u';
  return (char)duk_type_error(ctx, "unknown encoding: %s", e);
}

/* Buffer.from(string[, encoding]) | Buffer.from(array | buffer) */
static duk_ret_t buffer_from(duk_context *ctx) {
  size_t n;
  if (duk_is_string(ctx, 0)) {
    switch (encoding(ctx, 1)) {
      case 'h':
        duk_dup(ctx, 0);
        duk_hex_decode(ctx, -1); /* throws on bad hex */
        break;
      case 'b':
        duk_dup(ctx, 0);
        duk_base64_decode(ctx, -1);
        break;
      case 'l': {
        /* One byte per UTF-16 code unit, as Node.js does. */
        duk_size_t units = duk_get_length(ctx, 0);
        uint8_t *d = duk_push_fixed_buffer(ctx, units);
        for (duk_size_t i = 0; i < units; i++)
          d[i] = (uint8_t)duk_char_code_at(ctx, 0, i);
        break;
      }
      default: {
        const void *p = js__get_bytes(ctx, 0, &n);
        js__push_buffer(ctx, p, n);
        return 1;
      }
    }
    const void *p = duk_get_buffer_data(ctx, -1, &n);
    js__push_buffer(ctx, p, n);
    return 1;
  }
  if (duk_is_array(ctx, 0)) {
    duk_size_t len = duk_get_length(ctx, 0);
    uint8_t *d = duk_push_fixed_buffer(ctx, len);
    for (duk_size_t i = 0; i < len; i++) {
      duk_get_prop_index(ctx, 0, (duk_uarridx_t)i);
      d[i] = (uint8_t)duk_to_uint32(ctx, -1);
      duk_pop(ctx);
    }
    duk_push_buffer_object(ctx, -1, 0, len, DUK_BUFOBJ_NODEJS_BUFFER);
    return 1;
  }
  const void *p = js__get_bytes(ctx, 0, &n);
  js__push_buffer(ctx, p, n);
  return 1;
}

/* Buffer.alloc(size[, fill]) */
static duk_ret_t buffer_alloc(duk_context *ctx) {
  double size = duk_require_number(ctx, 0);
  if (!(size >= 0 && size <= 0x7fffffff))
    return duk_range_error(ctx, "invalid size");
  size_t n = (size_t)size;
  uint8_t *d = duk_push_fixed_buffer(ctx, n); /* zeroed */
  if (duk_is_number(ctx, 1)) memset(d, duk_to_int(ctx, 1) & 0xff, n);
  duk_push_buffer_object(ctx, -1, 0, n, DUK_BUFOBJ_NODEJS_BUFFER);
  return 1;
}

/* buf.toString([encoding[, start[, end]]]) */
static duk_ret_t buffer_to_string(duk_context *ctx) {
  char enc = encoding(ctx, 0);
  duk_push_this(ctx);
  duk_size_t len;
  const uint8_t *p = duk_require_buffer_data(ctx, -1, &len);
  double s = duk_get_number_default(ctx, 1, 0);
  double e = duk_get_number_default(ctx, 2, (double)len);
  size_t start = s > 0 ? (s < (double)len ? (size_t)s : len) : 0;
  size_t end = e > 0 ? (e < (double)len ? (size_t)e : len) : 0;
  if (end < start) end = start;
  switch (enc) {
    case 'h':
    case 'b': {
      void *d = duk_push_fixed_buffer(ctx, end - start);
      if (end > start) memcpy(d, p + start, end - start);
      if (enc == 'h')
        duk_hex_encode(ctx, -1);
      else
        duk_base64_encode(ctx, -1);
      return 1;
    }
    case 'l': {
      /* Build the string 4 KiB of code units at a time. */
      duk_push_string(ctx, "");
      for (size_t at = start; at < end;) {
        char chunk[4096 * 2];
        size_t k = 0;
        for (; at < end && k + 2 <= sizeof chunk; at++) {
          uint8_t c = p[at];
          if (c < 0x80) {
            chunk[k++] = (char)c;
          } else {
            chunk[k++] = (char)(0xc0 | (c >> 6));
            chunk[k++] = (char)(0x80 | (c & 0x3f));
          }
        }
        duk_push_lstring(ctx, chunk, k);
        duk_concat(ctx, 2);
      }
      return 1;
    }
    default:
      /* Duktape's own, which decodes UTF-8 with replacement characters. */
      duk_get_prop_string(ctx, -1, ORIG_TOSTRING);
      duk_dup(ctx, -2);
      duk_push_string(ctx, "utf8");
      duk_push_number(ctx, (double)start);
      duk_push_number(ctx, (double)end);
      duk_call_method(ctx, 3);
      return 1;
  }
}

void js__buffer_init(duk_context *ctx) {
  duk_get_global_string(ctx, "Buffer");
  duk_push_c_function(ctx, buffer_from, 2);
  duk_put_prop_string(ctx, -2, "from");
  duk_push_c_function(ctx, buffer_alloc, 2);
  duk_put_prop_string(ctx, -2, "alloc");
  duk_push_c_function(ctx, buffer_alloc, 2);
  duk_put_prop_string(ctx, -2, "allocUnsafe");
  duk_get_prop_string(ctx, -1, "prototype");
  duk_get_prop_string(ctx, -1, "toString");
  duk_put_prop_string(ctx, -2, ORIG_TOSTRING);
  duk_push_c_function(ctx, buffer_to_string, 3);
  duk_put_prop_string(ctx, -2, "toString");
  duk_pop_2(ctx);
}
