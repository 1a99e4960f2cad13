/*
 * signals.h - graceful stop on SIGINT or SIGTERM, for the programs' main().
 */
#ifndef MESH_NET_SIGNALS_H
#define MESH_NET_SIGNALS_H

#include <uv.h>

/* Ignores SIGPIPE, then watches SIGINT and SIGTERM: the first one logs,
 * closes both watchers (so they keep no loop alive) and calls on_stop once.
 * One caller per process. Returns 0 or a libuv error. */
int signals_start(uv_loop_t *loop, void (*on_stop)(void *data), void *data);

#endif
