/*
 * kvm_tiles.h - which rectangles of a frame to encode, from which of its
 * tiles changed (the desktop capture, kvm_x11.c).
 *
 * Each JPEG costs its headers and tables (about 600 bytes at the stock
 * viewer's quality 40) and the viewer a decode, so changed tiles are sent
 * as few rectangles as fit: a run of changed tiles along a row (at most
 * KVMT_MAX_W tiles) grows downward while the rows below have a run over
 * exactly the same columns (at most KVMT_MAX_H tiles). A change the shape
 * of a window is then one picture, a full screen a few dozen.
 *
 * Pure: no X, no allocation after kvmt_init. Rows are fed top to bottom;
 * a rectangle is handed to the emit callback once no row can grow it.
 */
#ifndef MESH_AGENT_KVM_TILES_H
#define MESH_AGENT_KVM_TILES_H

#include <stdint.h>

#define KVMT_MAX_W 8 /* tiles */
#define KVMT_MAX_H 8

/* In tiles. */
struct kvmt_rect {
  int tx, ty, tw, th;
};

struct kvmt_plan {
  int cols;
  struct kvmt_rect *open, *next; /* growing rectangles, by column */
  int nopen;
};

/* Called for each finished rectangle; a non-zero return stops the frame
 * and is passed back by kvmt_row / kvmt_finish. */
typedef int (*kvmt_emit)(void *ctx, const struct kvmt_rect *r);

/* cols: tiles across (1..65535). 0 or MESH_E_NOMEM. */
int kvmt_init(struct kvmt_plan *p, int cols);
void kvmt_free(struct kvmt_plan *p);
/* Starts a frame (drops what a stopped one left open). */
void kvmt_reset(struct kvmt_plan *p);
/* Row ty, its changed flags (cols of them, 0 or not). */
int kvmt_row(struct kvmt_plan *p, int ty, const uint8_t *changed,
             kvmt_emit emit, void *ctx);
/* After the last row: emits what is still open. */
int kvmt_finish(struct kvmt_plan *p, kvmt_emit emit, void *ctx);

#endif
