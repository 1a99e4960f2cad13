#include "enc.h"

#include "err.h"

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_mc[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@$";

void enc_hex(const uint8_t *in, size_t n, char *out, int upper) {
  const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = d[in[i] >> 4];
    out[2 * i + 1] = d[in[i] & 15];
  }
  out[2 * n] = 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int enc_unhex(const char *in, size_t inlen, uint8_t *out, size_t outlen) {
  if (inlen != 2 * outlen) return MESH_E_MALFORMED;
  for (size_t i = 0; i < outlen; i++) {
    int h = hexval(in[2 * i]), l = hexval(in[2 * i + 1]);
    if (h < 0 || l < 0) return MESH_E_MALFORMED;
    out[i] = (uint8_t)(h << 4 | l);
  }
  return 0;
}

void enc_b64(const uint8_t *in, size_t n, char *out, int mc) {
  const char *a = mc ? b64_mc : b64_std;
  size_t o = 0, i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = a[v >> 18];
    out[o++] = a[(v >> 12) & 63];
    out[o++] = a[(v >> 6) & 63];
    out[o++] = a[v & 63];
  }
  if (i < n) {
    uint32_t v =
        (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
    out[o++] = a[v >> 18];
    out[o++] = a[(v >> 12) & 63];
    out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  out[o] = 0;
}

static int b64val(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '@') return 62;
  if (c == '/' || c == '$') return 63;
  return -1;
}

ssize_t enc_unb64(const char *in, size_t inlen, uint8_t *out, size_t outcap) {
  while (inlen && in[inlen - 1] == '=') inlen--;
  if (inlen % 4 == 1) return MESH_E_MALFORMED;
  size_t need = inlen / 4 * 3 + (inlen % 4 ? inlen % 4 - 1 : 0);
  if (need > outcap) return MESH_E_TOO_LARGE;
  uint32_t acc = 0;
  size_t o = 0;
  for (size_t i = 0; i < inlen; i++) {
    int v = b64val(in[i]);
    if (v < 0) return MESH_E_MALFORMED;
    acc = acc << 6 | (uint32_t)v;
    if (i % 4 == 3) {
      out[o++] = (uint8_t)(acc >> 16);
      out[o++] = (uint8_t)(acc >> 8);
      out[o++] = (uint8_t)acc;
      acc = 0;
    }
  }
  if (inlen % 4 == 2) {
    out[o++] = (uint8_t)(acc >> 4);
  } else if (inlen % 4 == 3) {
    out[o++] = (uint8_t)(acc >> 10);
    out[o++] = (uint8_t)(acc >> 2);
  }
  return (ssize_t)o;
}
