/*
 * rtc_dtls.h - the DTLS 1.2 server side of one WebRTC peer connection
 * (RFC 6347, RFC 8827 for the fingerprint rule), over datagrams handed in
 * and out as byte buffers: no socket of its own.
 *
 * The glue feeds every DTLS datagram ICE delivers to rtc_dtls_input and
 * sends what the send callback emits through ICE. The browser is the DTLS
 * client (our answer says a=setup:passive). Its certificate is
 * self-signed; it is trusted because its SHA-256 fingerprint over DER
 * equals the offer's a=fingerprint, which came over the authenticated
 * relay. Once connected, application data (SCTP packets) goes up through
 * on_data and down with rtc_dtls_send.
 *
 * Our own certificate is an ECDSA P-256 self-signed one made on first use
 * and kept in memory for the life of the process (never written, never
 * logged); rtc_dtls_fingerprint gives its fingerprint for the answer.
 *
 * Everything runs on the loop thread. Callbacks may call rtc_dtls_send and
 * rtc_dtls_free on their own object; the send callback may only call
 * rtc_dtls_free (it runs inside OpenSSL). After rtc_dtls_free returns no
 * callback runs again.
 */
#ifndef MESH_AGENT_RTC_DTLS_H
#define MESH_AGENT_RTC_DTLS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Datagrams we emit stay within this size (the usual WebRTC path MTU). */
#define RTC_DTLS_MTU 1200
/* Connected within this long of rtc_dtls_new, or failed. */
#define RTC_DTLS_HANDSHAKE_MS 30000
/* A SHA-256 fingerprint, and its "AA:BB:..." text with the NUL. */
#define RTC_DTLS_FP_LEN 32
#define RTC_DTLS_FP_TEXT (RTC_DTLS_FP_LEN * 3)

struct rtc_dtls;

struct rtc_dtls_cbs {
  /* One datagram to send to the peer (p borrowed, n <= RTC_DTLS_MTU during
   * the handshake). Must not block; a lost datagram is retransmitted. */
  void (*send)(struct rtc_dtls *d, const uint8_t *p, size_t n, void *data);
  /* The handshake is done and the peer's fingerprint matched. */
  void (*on_connected)(struct rtc_dtls *d, void *data);
  /* One record of application data (an SCTP packet; p borrowed). */
  void (*on_data)(struct rtc_dtls *d, const uint8_t *p, size_t n, void *data);
  /* The connection is over, once: err is MESH_E_CLOSED (the peer sent
   * close_notify), MESH_E_AUTH (its certificate does not match the
   * offer's fingerprint), MESH_E_TIMEOUT (no handshake in time, or too
   * many retransmissions), or MESH_E_PROTO_STATE (a fatal alert, or a
   * handshake OpenSSL refused); why is static text. The object must still
   * be freed with rtc_dtls_free. */
  void (*on_closed)(struct rtc_dtls *d, int err, const char *why, void *data);
};

/* Starts a DTLS server waiting for the client's first flight. loop is
 * borrowed for the life of the object (the retransmission timer lives on
 * it); peer_fp (copied) is the offer's SHA-256 fingerprint; cbs (copied)
 * must have all four callbacks; handshake_ms is the deadline, normally
 * RTC_DTLS_HANDSHAKE_MS. The handshake timer starts now.
 * Returns 0 with *out new (free with rtc_dtls_free); MESH_E_INVALID for a
 * NULL argument or callback or handshake_ms 0; MESH_E_NOMEM /
 * MESH_E_CRYPTO (including a failure to make our certificate). */
int rtc_dtls_new(uv_loop_t *loop, const uint8_t peer_fp[RTC_DTLS_FP_LEN],
                 uint64_t handshake_ms, const struct rtc_dtls_cbs *cbs,
                 void *data, struct rtc_dtls **out);

/* Feeds one datagram received from the peer (p borrowed, used only during
 * the call). Datagrams that are not DTLS (first byte outside 20..63, RFC
 * 7983) are ignored, and so are records that fail to parse or
 * authenticate, as DTLS requires. Callbacks run from inside this call.
 * Returns 0; MESH_E_CLOSED once the connection is over or being freed (the
 * datagram is dropped); MESH_E_PROTO_STATE when called from inside the
 * send callback. A failure the datagram causes is reported through
 * on_closed, and then returned too. */
int rtc_dtls_input(struct rtc_dtls *d, const uint8_t *p, size_t n);

/* Sends one record of application data (p borrowed; copied into the
 * record). Keep n <= rtc_dtls_data_mtu(d) so the datagram fits the MTU.
 * Returns 0; MESH_E_PROTO_STATE before on_connected or from inside the
 * send callback; MESH_E_CLOSED after the end; MESH_E_TOO_LARGE past
 * 16384 bytes; MESH_E_CRYPTO if OpenSSL refused (the connection is then
 * reported closed). */
int rtc_dtls_send(struct rtc_dtls *d, const uint8_t *p, size_t n);

/* The largest application payload whose record fits in RTC_DTLS_MTU with
 * the negotiated cipher (a conservative value before the handshake). */
size_t rtc_dtls_data_mtu(const struct rtc_dtls *d);

/* Sends close_notify if connected (through the send callback, before
 * returning), then stops the object: no callback runs after this returns.
 * The memory is released when the loop next runs the timer's close
 * callback, so the loop must run before it is closed. Safe from inside
 * any of the object's callbacks; d may be NULL. */
void rtc_dtls_free(struct rtc_dtls *d);

/* Writes our certificate's SHA-256 fingerprint as "AA:BB:..." (upper case,
 * NUL-terminated) into out, making the certificate on first use.
 * Returns 0, or MESH_E_CRYPTO / MESH_E_NOMEM if it could not be made. */
int rtc_dtls_fingerprint(char out[RTC_DTLS_FP_TEXT]);

#endif
