/*
 * ws_internal.h - the seam between http_srv.c and ws.c (not public API).
 */
#ifndef MESH_NET_WS_INTERNAL_H
#define MESH_NET_WS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "net/stream.h"
#include "net/ws.h"

/* Takes over st (an established server stream that just sent 101) as a
 * server-role websocket. early (borrowed, copied) holds bytes that arrived
 * after the upgrade request; they are processed on the next loop iteration,
 * after on_open. Returns the ws, or NULL (out of memory) leaving st with
 * its current owner. */
struct ws *ws__from_stream(struct stream *st, const uint8_t *early, size_t n,
                           const struct ws_cbs *cbs, void *data);

#endif
