/*
 * cast.h - asciicast v2 lines for terminal recordings, without
 * I/O: the header, output events ([t,"o",text]) made of terminal bytes
 * that may split a UTF-8 character between two messages or not be UTF-8
 * at all, and resize events ([t,"r","COLSxROWS"]) from the viewer's
 * control messages.
 *
 * Pure functions; outputs go to a caller's bounded struct buf and are
 * whole lines or nothing.
 */
#ifndef MESH_PROTO_CAST_H
#define MESH_PROTO_CAST_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Bytes of an incomplete UTF-8 character kept from one output message to
 * the next. */
struct cast_utf8 {
  uint8_t carry[3];
  size_t n;
};

/* Appends {"version":2,"width":W,"height":H,"timestamp":T} and a newline. */
int cast_header(struct buf *out, int width, int height, int64_t timestamp);

/* Appends [t,"o",TEXT] and a newline, where TEXT is st's carried bytes
 * plus p[0..n) (borrowed) as UTF-8: invalid bytes become U+FFFD, NUL
 * bytes are left out, and an
 * incomplete character at the end is carried in st for the next call
 * (nothing is appended when no text results). t is seconds since the
 * start. Returns 0, MESH_E_TOO_LARGE (out's max; nothing appended and st
 * unchanged) or MESH_E_NOMEM. */
int cast_output(struct buf *out, double t, struct cast_utf8 *st,
                const uint8_t *p, size_t n);

/* Appends [t,"r","COLSxROWS"] and a newline. */
int cast_resize(struct buf *out, double t, int cols, int rows);

/* Reads the terminal size from a viewer's text message (borrowed): a
 * control message {"ctrlChannel":"102938","type":"termsize",...} or the
 * session options {"type":"options","cols":C,"rows":R}. Returns 1 and
 * sets *cols, *rows (1..10000 each) and *is_options, else 0. */
int cast_term_size(const uint8_t *p, size_t n, int *cols, int *rows,
                   int *is_options);

#endif
