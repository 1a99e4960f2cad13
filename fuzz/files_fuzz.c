/* libFuzzer target: one frame from a viewer into the files protocol (a
 * command, an upload chunk) and the same bytes as a download block; plus
 * round trips: an escaped chunk classifies back to itself, a path that
 * normalises once normalises to itself. */
#include <stdlib.h>
#include <string.h>

#include "proto/files.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n) {
  struct files_cmd c;
  const char *why;
  const uint8_t *d;
  size_t len;
  int last;
  if (files_frame_classify(p, n, &d, &len) == FILES_FRAME_JSON) {
    (void)files_cmd_parse(p, n, &c, &why);
    files_cmd_cleanup(&c);
  }
  (void)files_block_decode(p, n, &d, &len, &last);
  struct buf b;
  buf_init(&b, n + 1);
  if (files_chunk_escape(&b, p, n) != 0) abort();
  if (files_frame_classify(b.data, b.len, &d, &len) != FILES_FRAME_DATA ||
      len != n || (n && memcmp(d, p, n) != 0))
    abort();
  buf_cleanup(&b);
  static char out[MESH_FILES_MAX_PATH + 1], again[MESH_FILES_MAX_PATH + 1];
  if (files_path_normalize((const char *)p, n, out, sizeof out, &why) == 0) {
    if (files_path_normalize(out, strlen(out), again, sizeof again, &why) ||
        strcmp(out, again) != 0 || strstr(out, "/../") || strstr(out, "//"))
      abort();
  }
  return 0;
}
