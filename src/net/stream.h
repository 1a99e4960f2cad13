/*
 * stream.h - one TCP connection, optionally TLS over memory BIOs, on libuv.
 *
 * A stream owns a uv_tcp_t, a uv_timer_t and (for TLS) an SSL. It delivers
 * plaintext through on_read, copies every write into its own queue and
 * counts the queued bytes, and applies back-pressure to itself: when its
 * own queued output passes MESH_STREAM_HIGH_WATER it stops reading (so a
 * peer that never reads cannot make us produce unbounded output), resumes
 * below MESH_STREAM_LOW_WATER (then on_drain fires), and closes with a
 * logged reason when a write would take it past MESH_STREAM_HARD_LIMIT.
 *
 * Lifetime (style.md section 5): stream_close() may be called from any
 * callback, including the stream's own; it marks the stream closing and
 * starts uv_close on both handles. The stream is freed in exactly one
 * place, after both close callbacks ran, right after on_close returns. The
 * pending close callbacks are the stream's reference count: nothing frees
 * it while a dispatch is on the stack, because uv_close never completes
 * synchronously.
 */
#ifndef MESH_NET_STREAM_H
#define MESH_NET_STREAM_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct stream;

/* Streams that belong together (one server's connections), so they can be
 * stopped together. Embed it in the owner; zero-initialise it. */
struct stream_group {
  struct stream *head;
  size_t count;
  /* Optional: called after the last member was freed. It may free the
   * struct that embeds the group. */
  void (*on_empty)(struct stream_group *g, void *data);
  void *data;
};

/* All callbacks receive the stream first and the stream's data last. */
struct stream_cbs {
  /* TLS established (TLS streams), or TCP connected and TLS established
   * (client streams). Plain accepted streams are established when
   * stream_accept() returns and get no on_connect. */
  void (*on_connect)(struct stream *s, void *data);
  /* Plaintext received; p is borrowed for the call. */
  void (*on_read)(struct stream *s, const uint8_t *p, size_t n, void *data);
  /* Optional: queued output fell below MESH_STREAM_LOW_WATER after having
   * passed MESH_STREAM_HIGH_WATER. */
  void (*on_drain)(struct stream *s, void *data);
  /* The timer set with stream_timer_start() fired. */
  void (*on_timer)(struct stream *s, void *data);
  /* Optional: the group is stopping; NULL means stream_close(). */
  void (*on_stop)(struct stream *s, void *data);
  /* Exactly once, after the handles closed. reason is 0 for an orderly
   * close, UV_EOF when the peer closed, a libuv code, or a MESH_E_* code.
   * s is freed right after this returns. */
  void (*on_close)(struct stream *s, int reason, void *data);
};

/* Creates a stream on loop. tls (borrowed, may be NULL for plain TCP) is the
 * context used by stream_accept/stream_connect. cbs is borrowed and must
 * outlive the stream (use a static const table). g (may be NULL) is joined.
 * Returns 0 and the stream in *out, or a libuv code / MESH_E_NOMEM. From
 * then on the stream must end with stream_close(); on_close follows. */
int stream_new(uv_loop_t *loop, SSL_CTX *tls, const struct stream_cbs *cbs,
               void *data, struct stream_group *g, struct stream **out);
/* Accepts a pending connection from listener and starts reading (and the
 * TLS server handshake). On error the caller calls stream_close(). */
int stream_accept(struct stream *s, uv_stream_t *listener);
/* Connects to addr (borrowed), then runs the TLS client handshake sending
 * sni (borrowed, may be NULL). label (borrowed) names the peer in logs
 * until the socket is connected. Failures close the stream with the libuv
 * or MESH_E_CRYPTO reason. */
int stream_connect(struct stream *s, const struct sockaddr *addr,
                   const char *sni, const char *label);

/* Replaces the callbacks and data (hands the stream to a new owner). */
void stream_set_cbs(struct stream *s, const struct stream_cbs *cbs, void *data);

/* Copies n bytes (borrowed) into the output queue. Returns 0,
 * MESH_E_CLOSED if the stream is closing, MESH_E_PROTO_STATE before it is
 * established, MESH_E_TOO_LARGE (the stream is then being closed, logged)
 * past MESH_STREAM_HARD_LIMIT, or a libuv code. */
int stream_write(struct stream *s, const void *p, size_t n);
size_t stream_queued(const struct stream *s);

/* Closes at once: pending output is dropped. Idempotent. */
void stream_close(struct stream *s, int reason);
/* Closes gracefully: stops delivering input, sends TLS close_notify,
 * flushes the queue, shuts down the write side and waits up to linger_ms
 * for the peer to close before closing. Idempotent. */
void stream_close_after_flush(struct stream *s, int reason, uint64_t linger_ms);
int stream_is_closing(const struct stream *s);

/* Stops/resumes reading from the socket. Bytes already read are still
 * delivered. */
void stream_pause(struct stream *s);
void stream_resume(struct stream *s);

/* One-shot timer, restarted by each call; ms == 0 fires on the next loop
 * iteration. on_timer is called when it fires. */
void stream_timer_start(struct stream *s, uint64_t ms);
void stream_timer_stop(struct stream *s);

/* "ip:port" of the peer (borrowed from s). */
const char *stream_peer(const struct stream *s);
/* The peer's TLS leaf certificate (borrowed from s) or NULL. */
X509 *stream_peer_cert(const struct stream *s);
uv_loop_t *stream_loop(const struct stream *s);

/* Calls on_stop (or stream_close) for every member of g. */
void stream_group_stop(struct stream_group *g);

/* Formats addr as "ip:port" ("[v6]:port") into out. */
void stream__fmt_addr(const struct sockaddr *addr, char *out, size_t len);

#endif
