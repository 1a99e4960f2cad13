/* kvm_tiles.c - see kvm_tiles.h. */
#include "agent/kvm_tiles.h"

#include <stdlib.h>

#include "base/err.h"

int kvmt_init(struct kvmt_plan *p, int cols) {
  p->cols = cols;
  p->nopen = 0;
  /* A row has at most cols runs. */
  p->open = calloc((size_t)cols, sizeof *p->open);
  p->next = calloc((size_t)cols, sizeof *p->next);
  if (!p->open || !p->next) {
    kvmt_free(p);
    return MESH_E_NOMEM;
  }
  return 0;
}

void kvmt_free(struct kvmt_plan *p) {
  free(p->open);
  free(p->next);
  p->open = p->next = NULL;
  p->nopen = 0;
}

void kvmt_reset(struct kvmt_plan *p) { p->nopen = 0; }

int kvmt_row(struct kvmt_plan *p, int ty, const uint8_t *changed,
             kvmt_emit emit, void *ctx) {
  int n = 0, o = 0, r;
  for (int tx = 0; tx < p->cols;) {
    if (!changed[tx]) {
      tx++;
      continue;
    }
    int end = tx + 1;
    while (end < p->cols && changed[end] && end - tx < KVMT_MAX_W) end++;
    /* Open rectangles left of this run cannot grow any more (both lists
     * go left to right). */
    while (o < p->nopen && p->open[o].tx < tx)
      if ((r = emit(ctx, &p->open[o++])) != 0) return r;
    struct kvmt_rect *g = &p->next[n++];
    if (o < p->nopen && p->open[o].tx == tx && p->open[o].tw == end - tx &&
        p->open[o].th < KVMT_MAX_H) {
      *g = p->open[o++];
      g->th++;
    } else {
      *g = (struct kvmt_rect){tx, ty, end - tx, 1};
    }
    tx = end;
  }
  while (o < p->nopen)
    if ((r = emit(ctx, &p->open[o++])) != 0) return r;
  struct kvmt_rect *t = p->open;
  p->open = p->next;
  p->next = t;
  p->nopen = n;
  return 0;
}

int kvmt_finish(struct kvmt_plan *p, kvmt_emit emit, void *ctx) {
  int r;
  for (int o = 0; o < p->nopen; o++)
    if ((r = emit(ctx, &p->open[o])) != 0) return r;
  p->nopen = 0;
  return 0;
}
