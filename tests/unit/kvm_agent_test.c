/* The agent side of the remote desktop without an X server: which display
 * is captured (a Wayland-only session refused), who gets input, the
 * rights check at selection, and the key table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <X11/keysym.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/kvm.h"
#include "agent/tunnel.h"
#include "base/err.h"
#include "testutil.h"

/* A fresh folder (testutil's) with unix sockets named as given
 * (X11-unix style); tu_rmdir_r removes it. */
static const char *sock_dir(const char *const *names, size_t n) {
  const char *dir = tu_tmpdir();
  for (size_t i = 0; i < n; i++) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, names[i]);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    close(fd);
  }
  return dir;
}

static void picks_the_display(void **state) {
  (void)state;
  char out[64], xauth[256];
  const char *why = NULL;
  /* DISPLAY wins, even beside WAYLAND_DISPLAY (Xwayland). */
  assert_int_equal(kvmx_pick_display(":7", "wayland-0", "/nonexistent", out,
                                     sizeof out, xauth, sizeof xauth, &why),
                   0);
  assert_string_equal(out, ":7");
  assert_string_equal(xauth, "");
  /* Wayland without X: a clear refusal, never a black screen. */
  assert_int_equal(kvmx_pick_display(NULL, "wayland-0", "/nonexistent", out,
                                     sizeof out, xauth, sizeof xauth, &why),
                   MESH_E_INVALID);
  assert_non_null(strstr(why, "Wayland sessions are not supported: "));
  /* An empty DISPLAY counts as unset. */
  assert_int_equal(kvmx_pick_display("", "wayland-1", "/nonexistent", out,
                                     sizeof out, xauth, sizeof xauth, &why),
                   MESH_E_INVALID);
  /* Nothing at all. */
  assert_int_equal(kvmx_pick_display(NULL, NULL, "/nonexistent", out,
                                     sizeof out, xauth, sizeof xauth, &why),
                   MESH_E_NOT_FOUND);
  /* The lowest X<N> socket; other names and plain files are skipped. */
  const char *const names[] = {"X12", "X3", "Xabc", "X", "X10"};
  const char *dir = sock_dir(names, 5);
  char file[256];
  snprintf(file, sizeof file, "%s/X1", dir);
  FILE *f = fopen(file, "w");
  fclose(f);
  assert_int_equal(kvmx_pick_display(NULL, NULL, dir, out, sizeof out, xauth,
                                     sizeof xauth, &why),
                   0);
  assert_string_equal(out, ":3");
  tu_rmdir_r(dir);
  /* A DISPLAY too long for the buffer is refused, not cut. */
  assert_int_equal(kvmx_pick_display(":1234567", NULL, "/nonexistent", out, 4,
                                     xauth, sizeof xauth, &why),
                   MESH_E_INVALID);
}

static void input_only_with_control_rights(void **state) {
  (void)state;
  assert_int_equal(kvm_input_allowed(MESH_RIGHT_ADMIN, 0), KVM_INPUT_FULL);
  assert_int_equal(kvm_input_allowed(MESH_RIGHT_REMOTECONTROL, 0),
                   KVM_INPUT_FULL);
  assert_int_equal(kvm_input_allowed(MESH_RIGHT_VIEWONLY, 0), KVM_INPUT_NONE);
  assert_int_equal(
      kvm_input_allowed(MESH_RIGHT_REMOTECONTROL | MESH_RIGHT_VIEWONLY, 0),
      KVM_INPUT_NONE);
  /* DESKLIMITEDINPUT narrows REMOTECONTROL; alone it grants nothing, and
   * view-only beats it. */
  assert_int_equal(
      kvm_input_allowed(MESH_RIGHT_REMOTECONTROL | MESH_RIGHT_LIMITEDINPUT, 0),
      KVM_INPUT_LIMITED);
  assert_int_equal(kvm_input_allowed(MESH_RIGHT_LIMITEDINPUT, 0),
                   KVM_INPUT_NONE);
  assert_int_equal(
      kvm_input_allowed(MESH_RIGHT_REMOTECONTROL | MESH_RIGHT_LIMITEDINPUT |
                            MESH_RIGHT_VIEWONLY,
                        0),
      KVM_INPUT_NONE);
  /* desktopviewonly from the server beats every right. */
  assert_int_equal(kvm_input_allowed(MESH_RIGHT_ADMIN, 1), KVM_INPUT_NONE);
  assert_int_equal(kvm_input_allowed(MESH_RIGHT_REMOTECONTROL, 1),
                   KVM_INPUT_NONE);
  assert_int_equal(
      kvm_input_allowed(MESH_RIGHT_REMOTECONTROL | MESH_RIGHT_LIMITEDINPUT, 1),
      KVM_INPUT_NONE);
}

/* The GET_DISPLAYS answer lists the monitors, and "all" with several. */
static void answers_get_displays(void **state) {
  (void)state;
  struct kvmx_view v = {.display = KVM_ALL_DISPLAYS, .n = 2};
  v.mon[0] = (struct kvm_monitor){1, 0, 0, 800, 600};
  v.mon[1] = (struct kvm_monitor){2, 800, 0, 800, 600};
  uint8_t b[64];
  static const uint8_t two[] = {0, 11, 0, 14,   0,    3,    0,
                                1, 0,  2, 0xFF, 0xFF, 0xFF, 0xFF};
  assert_int_equal(kvmx_put_displays(&v, b, sizeof b), sizeof two);
  assert_memory_equal(b, two, sizeof two);
  /* One monitor: no "all" entry. */
  v.n = 1;
  v.display = 1;
  static const uint8_t one[] = {0, 11, 0, 10, 0, 1, 0, 1, 0, 1};
  assert_int_equal(kvmx_put_displays(&v, b, sizeof b), sizeof one);
  assert_memory_equal(b, one, sizeof one);
  /* No RandR: an empty list, the whole screen selected. */
  v.n = 0;
  v.display = KVM_ALL_DISPLAYS;
  static const uint8_t none[] = {0, 11, 0, 8, 0, 0, 0xFF, 0xFF};
  assert_int_equal(kvmx_put_displays(&v, b, sizeof b), sizeof none);
  assert_memory_equal(b, none, sizeof none);
}

static void desktop_rights_at_selection(void **state) {
  (void)state;
  assert_null(tunnel_rights_refusal(2, MESH_RIGHT_ADMIN));
  assert_null(tunnel_rights_refusal(2, MESH_RIGHT_REMOTECONTROL));
  assert_null(tunnel_rights_refusal(2, MESH_RIGHT_VIEWONLY));
  assert_non_null(tunnel_rights_refusal(2, 0));
  assert_non_null(tunnel_rights_refusal(2, 4 | 1));
  assert_non_null(tunnel_rights_refusal(
      2, MESH_RIGHT_REMOTECONTROL | MESH_RIGHT_NODESKTOP));
  assert_non_null(
      tunnel_rights_refusal(2, MESH_RIGHT_VIEWONLY | MESH_RIGHT_NODESKTOP));
  /* View-only opens no terminal or files session either. */
  assert_non_null(tunnel_rights_refusal(1, MESH_RIGHT_VIEWONLY));
  assert_non_null(tunnel_rights_refusal(5, MESH_RIGHT_VIEWONLY));
}

static void maps_virtual_keys(void **state) {
  (void)state;
  assert_int_equal(kvmx_vk_keysym('A', 0), XK_a);
  assert_int_equal(kvmx_vk_keysym('Z', 0), XK_z);
  assert_int_equal(kvmx_vk_keysym('0', 0), XK_0);
  assert_int_equal(kvmx_vk_keysym(0x70, 0), XK_F1);
  assert_int_equal(kvmx_vk_keysym(0x87, 0), XK_F24);
  assert_int_equal(kvmx_vk_keysym(0x0D, 0), XK_Return);
  assert_int_equal(kvmx_vk_keysym(0x0D, 1), XK_KP_Enter);
  assert_int_equal(kvmx_vk_keysym(0x11, 1), XK_Control_R);
  assert_int_equal(kvmx_vk_keysym(0x25, 0), XK_Left);
  assert_int_equal(kvmx_vk_keysym(0xBA, 0), XK_semicolon);
  assert_int_equal(kvmx_vk_keysym(0xE1, 0), XK_ISO_Level3_Shift);
  assert_int_equal(kvmx_vk_keysym(0x07, 0), 0); /* undefined VK */
  assert_int_equal(kvmx_vk_keysym(0xFF, 0), 0);
}

static void maps_cursor_names(void **state) {
  (void)state;
  assert_int_equal(kvmx_cursor_id("left_ptr"), 0);
  assert_int_equal(kvmx_cursor_id("xterm"), 5);
  assert_int_equal(kvmx_cursor_id("text"), 5);
  assert_int_equal(kvmx_cursor_id("hand2"), 3);
  assert_int_equal(kvmx_cursor_id("pointer"), 3);
  assert_int_equal(kvmx_cursor_id("watch"), 13);
  assert_int_equal(kvmx_cursor_id("left_ptr_watch"), 1);
  assert_int_equal(kvmx_cursor_id("sb_h_double_arrow"), 11);
  assert_int_equal(kvmx_cursor_id("sb_v_double_arrow"), 9);
  assert_int_equal(kvmx_cursor_id("bottom_right_corner"), 10);
  assert_int_equal(kvmx_cursor_id("bottom_left_corner"), 8);
  assert_int_equal(kvmx_cursor_id("fleur"), 7);
  assert_int_equal(kvmx_cursor_id("crossed_circle"), 15);
  assert_int_equal(kvmx_cursor_id("row-resize"), 17);
  assert_int_equal(kvmx_cursor_id("zoom-out"), 20);
  /* No name, an unknown one, a prefix: the arrow. */
  assert_int_equal(kvmx_cursor_id(NULL), 0);
  assert_int_equal(kvmx_cursor_id(""), 0);
  assert_int_equal(kvmx_cursor_id("my-app-cursor"), 0);
  assert_int_equal(kvmx_cursor_id("xter"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(picks_the_display),
      cmocka_unit_test(input_only_with_control_rights),
      cmocka_unit_test(answers_get_displays),
      cmocka_unit_test(desktop_rights_at_selection),
      cmocka_unit_test(maps_virtual_keys),
      cmocka_unit_test(maps_cursor_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
