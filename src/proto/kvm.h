/*
 * kvm.h - the remote desktop (KVM) binary protocol, sans-I/O (spec
 * sessions.md §7): encoders for the agent->viewer commands and a decoder
 * for the viewer->agent commands.
 *
 * Every command is a 4-byte header (BE uint16 type, BE uint16 total size
 * including the header) and a body. A command whose total size would pass
 * 65535 goes inside a JUMBO: type 27, size 8, a BE uint32 inner length,
 * then the inner command with its own size field 0. The agent sends one
 * command per WebSocket message; a viewer may pack several whole commands
 * into one message, never one command over two.
 *
 * Nothing here allocates, logs or touches a socket.
 */
#ifndef MESH_PROTO_KVM_H
#define MESH_PROTO_KVM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Command numbers (spec §7.2). */
enum kvm_type {
  KVM_NOP = 0,
  KVM_KEY = 1,
  KVM_MOUSE = 2,
  KVM_PICTURE = 3,
  KVM_COMPRESSION = 5,
  KVM_REFRESH = 6,
  KVM_SCREEN = 7,
  KVM_PAUSE = 8,
  KVM_CTRLALTDEL = 10,
  KVM_GET_DISPLAYS = 11,
  KVM_SET_DISPLAY = 12,
  KVM_FRAME_RATE = 13,
  KVM_INIT_TOUCH = 14,
  KVM_TOUCH = 15,
  KVM_MESSAGE = 17,
  KVM_KEYSTATE = 18,
  KVM_JUMBO = 27,
  KVM_ERROR = 65,
  KVM_DISPLAY_INFO = 82,
  KVM_KEY_UNICODE = 85,
  KVM_INPUT_LOCK = 87,
  KVM_MOUSE_CURSOR = 88
};

#define KVM_HDR 4           /* type + size */
#define KVM_JUMBO_HDR 8     /* JUMBO header in front of the inner command */
#define KVM_MAX_PLAIN 65535 /* largest total size without a JUMBO */
/* The stock viewer reads 24 bits of the JUMBO length (spec §7.1). */
#define KVM_MAX_JUMBO ((1u << 24) - 1)
/* Largest PICTURE header: JUMBO + command header + x, y. */
#define KVM_PICTURE_HDR_MAX (KVM_JUMBO_HDR + KVM_HDR + 4)

/* Mouse button flags (Windows MOUSEEVENTF_* values, spec §7.2). */
#define KVM_MOUSE_LEFT_DOWN 0x02
#define KVM_MOUSE_LEFT_UP 0x04
#define KVM_MOUSE_RIGHT_DOWN 0x08
#define KVM_MOUSE_RIGHT_UP 0x10
#define KVM_MOUSE_MIDDLE_DOWN 0x20
#define KVM_MOUSE_MIDDLE_UP 0x40

/* KEY actions. */
#define KVM_KEY_DOWN 0
#define KVM_KEY_UP 1
#define KVM_KEY_EXUP 3
#define KVM_KEY_EXDOWN 4

/* One decoded viewer->agent command. Only the member named by type is
 * set; commands without a body (REFRESH, GET_DISPLAYS, ...) and ones the
 * agent ignores (TOUCH, MESSAGE, ...) carry only the type. */
struct kvm_input {
  uint16_t type;
  union {
    struct {
      uint8_t action; /* KVM_KEY_* */
      uint8_t vk;     /* Windows virtual-key code */
    } key;
    struct {
      uint8_t up;  /* 0 down, 1 up */
      uint16_t ch; /* UTF-16 code unit */
    } ukey;
    struct {
      uint8_t buttons; /* KVM_MOUSE_* or 0 (move / wheel) */
      uint16_t x, y;
      int16_t wheel; /* 0 unless the command carried one */
    } mouse;
    struct {
      uint8_t image_type; /* 0 when left off */
      uint8_t quality;    /* 1..100, 0 when left off */
      uint16_t scaling;   /* 1024 = 100%, 0 when left off */
      uint16_t interval;  /* ms, 0 when left off */
    } comp;
    uint8_t pause;     /* PAUSE: 1 pause, 0 resume */
    uint16_t display;  /* SET_DISPLAY */
    uint16_t interval; /* FRAME_RATE (ms) */
    uint8_t lock;      /* INPUT_LOCK */
  } u;
};

/* Decodes the first command of p[0..n). Returns the bytes it takes (>= 4),
 * MESH_E_INCOMPLETE when p holds less than the header says, or
 * MESH_E_MALFORMED (a size below 4, or a known command whose size is not
 * one the spec allows; *why set to static text). Unknown types are
 * returned whole, with only the type set. */
ssize_t kvm_decode(const uint8_t *p, size_t n, struct kvm_input *out,
                   const char **why);

/* Scaling (COMPRESSION, spec §7.2): 1024 is 100%. The agent only scales
 * down: a value the spec accepts above 1024 means 100% (a larger image
 * than the screen costs bandwidth and shows nothing more). */
#define KVM_SCALE_FULL 1024
#define KVM_SCALE_MIN 64
#define KVM_SCALE_MAX 4096
/* The size of a screen side of `full` pixels at scale (64..1024): at
 * least 1. */
int kvm_scaled(int full, unsigned scale);
/* A viewer coordinate v on a side shown as `scaled` pixels back to the
 * screen's `full` pixels, clamped to the last one. */
uint16_t kvm_unscale(uint16_t v, int full, int scaled);

/* Writes a command header (type, total size) to out[0..4). */
void kvm_put_header(uint8_t out[KVM_HDR], uint16_t type, uint16_t size);

/* SCREEN (width, height): 8 bytes. */
size_t kvm_put_screen(uint8_t out[8], uint16_t w, uint16_t h);
/* SET_DISPLAY (id): 6 bytes. */
size_t kvm_put_set_display(uint8_t out[6], uint16_t id);

/* The header of a PICTURE of img_len bytes drawn at (x, y): a plain
 * 8-byte header, or a JUMBO-wrapped one of 16 bytes when the command
 * would pass 65535 bytes. The image bytes follow it. Returns the header
 * length, or 0 when img_len is past KVM_MAX_JUMBO. */
size_t kvm_put_picture_header(uint8_t out[KVM_PICTURE_HDR_MAX], uint16_t x,
                              uint16_t y, size_t img_len);

/* A command carrying text (ERROR, MESSAGE): header plus up to cap-4 bytes
 * of text (cut at 65531). Returns the total written, 0 if cap < 4. */
size_t kvm_put_text(uint8_t *out, size_t cap, uint16_t type, const char *text,
                    size_t len);

/* GET_DISPLAYS answer: n ids then the selected one; 8 + 2n bytes, or 0 if
 * that passes cap. */
size_t kvm_put_displays(uint8_t *out, size_t cap, const uint16_t *ids, size_t n,
                        uint16_t selected);

/* The display id meaning "every display" (GET_DISPLAYS, SET_DISPLAY). */
#define KVM_ALL_DISPLAYS 65535
/* One monitor of DISPLAY_INFO: its id and its rectangle on the screen. */
struct kvm_monitor {
  uint16_t id, x, y, w, h;
};
/* DISPLAY_INFO: 4 + 10n bytes, or 0 if that passes cap (or 65535). */
size_t kvm_put_display_info(uint8_t *out, size_t cap,
                            const struct kvm_monitor *m, size_t n);

#endif
