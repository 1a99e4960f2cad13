/*
 * text.h - making text from the network safe to store, print and put in
 * JSON: valid UTF-8, no control characters.
 */
#ifndef MESH_TEXT_H
#define MESH_TEXT_H

#include <stddef.h>

/* Rewrites the NUL-terminated s in place: every byte that is a control
 * character (below 0x20, or 0x7f) or not part of a well-formed UTF-8
 * sequence (RFC 3629: no overlongs, no surrogates, nothing above
 * U+10FFFF) becomes '?'. Returns the number of bytes replaced. A device
 * name with an escape sequence can then not reach an administrator's
 * terminal, and every name is a valid JSON string. */
size_t text_clean(char *s);

#endif
