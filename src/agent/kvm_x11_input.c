/*
 * kvm_x11_input.c - the viewer's keyboard and mouse injected with XTest
 * (spec sessions.md §7.4), on the input connection that kvm_x11.c opens
 * for sessions with input. Loop thread only.
 */
#include <X11/XKBlib.h>
#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>
#include <stdlib.h>

#include "agent/kvm_x11_priv.h"

unsigned long kvmx_vk_keysym(uint8_t vk, int extended) {
  if (vk >= 'A' && vk <= 'Z') return XK_a + (unsigned long)(vk - 'A');
  if (vk >= '0' && vk <= '9') return XK_0 + (unsigned long)(vk - '0');
  if (vk >= 0x60 && vk <= 0x69) return XK_KP_0 + (unsigned long)(vk - 0x60);
  if (vk >= 0x70 && vk <= 0x87) return XK_F1 + (unsigned long)(vk - 0x70);
  switch (vk) {
    case 0x08:
      return XK_BackSpace;
    case 0x09:
      return XK_Tab;
    case 0x0D:
      return extended ? XK_KP_Enter : XK_Return;
    case 0x10:
      return XK_Shift_L;
    case 0x11:
      return extended ? XK_Control_R : XK_Control_L;
    case 0x12:
      return extended ? XK_Alt_R : XK_Alt_L;
    case 0x13:
      return XK_Pause;
    case 0x14:
      return XK_Caps_Lock;
    case 0x1B:
      return XK_Escape;
    case 0x20:
      return XK_space;
    case 0x21:
      return XK_Prior;
    case 0x22:
      return XK_Next;
    case 0x23:
      return XK_End;
    case 0x24:
      return XK_Home;
    case 0x25:
      return XK_Left;
    case 0x26:
      return XK_Up;
    case 0x27:
      return XK_Right;
    case 0x28:
      return XK_Down;
    case 0x2C:
      return XK_Print;
    case 0x2D:
      return XK_Insert;
    case 0x2E:
      return XK_Delete;
    case 0x5B:
      return XK_Super_L;
    case 0x5C:
      return XK_Super_R;
    case 0x5D:
      return XK_Menu;
    case 0x6A:
      return XK_KP_Multiply;
    case 0x6B:
      return XK_KP_Add;
    case 0x6D:
      return XK_KP_Subtract;
    case 0x6E:
      return XK_KP_Decimal;
    case 0x6F:
      return XK_KP_Divide;
    case 0x90:
      return XK_Num_Lock;
    case 0x91:
      return XK_Scroll_Lock;
    case 0xA0:
      return XK_Shift_L;
    case 0xA1:
      return XK_Shift_R;
    case 0xA2:
      return XK_Control_L;
    case 0xA3:
      return XK_Control_R;
    case 0xA4:
      return XK_Alt_L;
    case 0xA5:
      return XK_Alt_R;
    case 0xBA:
      return XK_semicolon;
    case 0xBB:
      return XK_equal;
    case 0xBC:
      return XK_comma;
    case 0xBD:
      return XK_minus;
    case 0xBE:
      return XK_period;
    case 0xBF:
      return XK_slash;
    case 0xC0:
      return XK_grave;
    case 0xDB:
      return XK_bracketleft;
    case 0xDC:
      return XK_backslash;
    case 0xDD:
      return XK_bracketright;
    case 0xDE:
      return XK_apostrophe;
    case 0xE1:
      return XK_ISO_Level3_Shift; /* AltGr from a Windows browser */
    default:
      return 0;
  }
}

static void key(struct kvm_x11 *x, KeySym ks, int down) {
  KeyCode kc = XKeysymToKeycode(x->in, ks);
  if (kc) XTestFakeKeyEvent(x->in, kc, down ? True : False, CurrentTime);
}

/* A unicode character: its keycode (with Shift when it is the shifted
 * level), or a spare keycode mapped to it for the press. */
static void unicode_key(struct kvm_x11 *x, uint16_t ch) {
  /* Latin-1 keysyms equal the code point; others are 0x1000000 + it. */
  KeySym ks = ch < 0x100 ? (KeySym)ch : (KeySym)(0x1000000ul | ch);
  if (ch < 0x20 || (ch >= 0xD800 && ch <= 0xDFFF)) return;
  KeyCode kc = XKeysymToKeycode(x->in, ks);
  if (kc) {
    int shift = XkbKeycodeToKeysym(x->in, kc, 0, 0) != ks &&
                XkbKeycodeToKeysym(x->in, kc, 0, 1) == ks;
    if (shift) key(x, XK_Shift_L, 1);
    XTestFakeKeyEvent(x->in, kc, True, CurrentTime);
    XTestFakeKeyEvent(x->in, kc, False, CurrentTime);
    if (shift) key(x, XK_Shift_L, 0);
    return;
  }
  /* Borrow the highest keycode with no symbols, then give it back. */
  int lo, hi, per;
  XDisplayKeycodes(x->in, &lo, &hi);
  KeySym *map = XGetKeyboardMapping(x->in, (KeyCode)lo, hi - lo + 1, &per);
  if (!map) return;
  int spare = 0;
  for (int k = hi; k >= lo && !spare; k--) {
    int empty = 1;
    for (int i = 0; i < per; i++)
      if (map[(k - lo) * per + i] != NoSymbol) empty = 0;
    if (empty) spare = k;
  }
  XFree(map);
  if (!spare) return;
  KeySym syms[2] = {ks, ks};
  XChangeKeyboardMapping(x->in, spare, 2, syms, 1);
  XSync(x->in, False);
  XTestFakeKeyEvent(x->in, (KeyCode)spare, True, CurrentTime);
  XTestFakeKeyEvent(x->in, (KeyCode)spare, False, CurrentTime);
  XSync(x->in, False);
  KeySym none[2] = {NoSymbol, NoSymbol};
  XChangeKeyboardMapping(x->in, spare, 2, none, 1);
}

static void mouse(struct kvm_x11 *x, const struct kvm_input *in) {
  static const struct {
    uint8_t flag;
    unsigned button;
    Bool down;
  } map[] = {
      {KVM_MOUSE_LEFT_DOWN, 1, True},   {KVM_MOUSE_LEFT_UP, 1, False},
      {KVM_MOUSE_RIGHT_DOWN, 3, True},  {KVM_MOUSE_RIGHT_UP, 3, False},
      {KVM_MOUSE_MIDDLE_DOWN, 2, True}, {KVM_MOUSE_MIDDLE_UP, 2, False},
  };
  XTestFakeMotionEvent(x->in, -1, in->u.mouse.x, in->u.mouse.y, CurrentTime);
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (in->u.mouse.buttons == map[i].flag)
      XTestFakeButtonEvent(x->in, map[i].button, map[i].down, CurrentTime);
  if (in->u.mouse.wheel) { /* one click per message (spec §7.2) */
    unsigned b = in->u.mouse.wheel > 0 ? 4 : 5;
    XTestFakeButtonEvent(x->in, b, True, CurrentTime);
    XTestFakeButtonEvent(x->in, b, False, CurrentTime);
  }
}

void kvmx_input(struct kvm_x11 *x, const struct kvm_input *in) {
  if (!x->in || x->in_lost) return;
  switch (in->type) {
    case KVM_KEY: {
      int ext = in->u.key.action == KVM_KEY_EXUP ||
                in->u.key.action == KVM_KEY_EXDOWN;
      int down = in->u.key.action == KVM_KEY_DOWN ||
                 in->u.key.action == KVM_KEY_EXDOWN;
      KeySym ks = kvmx_vk_keysym(in->u.key.vk, ext);
      if (ks) key(x, ks, down);
      break;
    }
    case KVM_KEY_UNICODE:
      /* Down only: the agent presses and releases (spec §7.4). */
      if (!in->u.ukey.up) unicode_key(x, in->u.ukey.ch);
      break;
    case KVM_MOUSE:
      mouse(x, in);
      break;
    default:
      return;
  }
  XFlush(x->in);
}
