/*
 * kvm_filter.h - what the server lets through from a desktop viewer whose
 * rights restrict its input (docs/sessions.md, "Restricted desktop input";
 * spec sessions.md §4.3, §7.1-§7.2, §9.1), sans-I/O.
 *
 * The agent enforces view-only itself, but not DESKLIMITEDINPUT, and a
 * stock agent behind a WebRTC switch or an older agent may not enforce
 * what meshd's does; so meshd's relay filters too. It walks a viewer's
 * binary message with the same decoder the agent uses (kvm_decode), so
 * the two sides always agree on where each command starts, and keeps
 * only the commands the viewer's rights allow.
 *
 * Nothing here allocates, logs or touches a socket.
 */
#ifndef MESH_PROTO_KVM_FILTER_H
#define MESH_PROTO_KVM_FILTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/kvm.h"

enum kvm_filter_mode {
  KVM_FILTER_OFF = 0,   /* full input: nothing is parsed */
  KVM_FILTER_VIEW_ONLY, /* only the display commands pass */
  KVM_FILTER_LIMITED,   /* display commands, the mouse, printable keys */
};

/* The mode for device rights: OFF for 0xFFFFFFFF; VIEW_ONLY without
 * REMOTECONTROL (8) or with REMOTEVIEWONLY (256), the agent's own rule
 * (spec §4.3); LIMITED with DESKLIMITEDINPUT (4096); otherwise OFF. Pure. */
enum kvm_filter_mode kvm_filter_mode_for(uint32_t rights);

/* Nonzero if one decoded command (borrowed) passes under mode.
 * Display commands (COMPRESSION, REFRESH, PAUSE, GET_DISPLAYS,
 * SET_DISPLAY, FRAME_RATE_TIMER) always pass; under LIMITED also MOUSE,
 * KEY with a key code of 8 (Backspace), 13 (Enter) or 32..90 (the stock
 * viewer's rule, which also leaves out every modifier: Shift, Ctrl and
 * Alt are 16-18, the Windows keys 91-92), and KEY_UNICODE of a printable
 * UTF-16 unit (not C0, DEL or C1 controls). Everything else, unknown
 * types included, is dropped. */
int kvm_filter_allows(enum kvm_filter_mode mode, const struct kvm_input *in);

/* Filters one viewer->agent binary message p[0..n) (borrowed) under mode.
 * The message must be whole commands back to back, as the agent requires
 * (spec §7.1). When out is not NULL the kept commands are copied to it in
 * order (out must hold n bytes). *dropped is set to the number of
 * commands left out.
 * Returns the length of the filtered message: n when nothing was dropped
 * (the caller may forward p itself), 0 when everything was; or
 * MESH_E_MALFORMED with *why set to static text when the message is not
 * whole commands (a header cut short, a size below 4 or past the end, a
 * size the spec does not allow for the type). OFF returns n unparsed. */
ssize_t kvm_filter_message(enum kvm_filter_mode mode, const uint8_t *p,
                           size_t n, uint8_t *out, size_t *dropped,
                           const char **why);

/* How the agent reads a viewer message (borrowed) sent before the
 * protocol is selected (spec §4.1): a message longer than 3 bytes that
 * starts with '{' is options or control JSON, anything else (text or
 * binary, for the stock agent) is the protocol number.
 * Returns 1 for options/control; 0 for a selection written the way every
 * known viewer writes it, 1 to 6 ASCII digits, with the number (never 0)
 * in *proto; MESH_E_MALFORMED for anything else, 0 included (the stock
 * agent takes 0 as "none yet" and reads the next message as the
 * selection) (the stock agent's parseInt would
 * read " 2" or "2x" as 2, meshd's agent refuses them: the server does
 * not guess). */
int kvm_filter_selection(const uint8_t *p, size_t n, int *proto);

#endif
