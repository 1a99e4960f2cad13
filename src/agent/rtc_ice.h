/*
 * rtc_ice.h - ICE (RFC 8445) for one WebRTC data-channel peer connection
 * on one UDP socket: the agent's side, ICE-controlled, full ICE (it sends
 * its own checks too), host candidates only.
 *
 * The socket is bound to 0.0.0.0 on a port the system picks; every local
 * IPv4 interface address is offered with that port. Remote candidates come
 * from the browser's offer and, since Chrome hides its host addresses
 * behind mDNS names, from the source addresses of the browser's checks
 * (peer-reflexive). The browser nominates (USE-CANDIDATE); the nominated
 * pair whose check succeeded both ways is selected. Non-STUN datagrams
 * (DTLS) from an address that proved it knows the password go up through
 * on_packet; rtc_ice_send sends to the selected pair.
 *
 * Everything runs on the loop thread; callbacks come from the loop.
 */
#ifndef MESH_AGENT_RTC_ICE_H
#define MESH_AGENT_RTC_ICE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define RTC_ICE_UFRAG_LEN 8
#define RTC_ICE_PWD_LEN 32
#define RTC_ICE_MAX_LOCAL 8   /* host candidates offered */
#define RTC_ICE_MAX_REMOTE 16 /* remote candidates, offered and learned */
/* The largest datagram received; browsers keep DTLS datagrams near 1200
 * bytes (path MTU), STUN checks near 100. Larger ones are dropped. */
#define RTC_ICE_MAX_DATAGRAM 8192
/* Default deadlines: nothing connected within RTC_ICE_CONNECT_MS, or,
 * once connected, no valid check from the browser on the selected pair
 * for RTC_ICE_CONSENT_MS (consent freshness, RFC 7675; Chrome checks
 * about every 5 s). */
#define RTC_ICE_CONNECT_MS 30000
#define RTC_ICE_CONSENT_MS 30000
/* Checks: a new one every RTC_ICE_PACE_MS (Ta, RFC 8445 §14.2), each
 * retransmitted after RTC_ICE_RTO_MS, doubling, RTC_ICE_MAX_TX times in
 * all (about 16 s with the defaults). */
#define RTC_ICE_PACE_MS 50
#define RTC_ICE_RTO_MS 250
#define RTC_ICE_MAX_TX 7

struct rtc_ice;

enum rtc_ice_state {
  RTC_ICE_CONNECTED, /* a nominated pair is selected; rtc_ice_send works */
  RTC_ICE_FAILED     /* final: timeouts, role conflict, socket error */
};

/* A non-STUN datagram p[0..n) (borrowed for the call) from a checked
 * remote address. */
typedef void (*rtc_ice_packet_cb)(struct rtc_ice *ice, const uint8_t *p,
                                  size_t n, void *data);
/* A state change. reason (borrowed for the call) says why, for a log
 * line. CONNECTED comes at most once, FAILED at most once and last. */
typedef void (*rtc_ice_state_cb)(struct rtc_ice *ice, enum rtc_ice_state st,
                                 const char *reason, void *data);
typedef void (*rtc_ice_close_cb)(struct rtc_ice *ice, void *data);

struct rtc_ice_config {
  rtc_ice_packet_cb on_packet;
  rtc_ice_state_cb on_state;
  void *data; /* passed to the callbacks */
  /* Deadlines in ms; 0 takes RTC_ICE_CONNECT_MS / RTC_ICE_CONSENT_MS. */
  uint64_t connect_ms;
  uint64_t consent_ms;
  /* First retransmission timeout of a check in ms; 0 takes
   * RTC_ICE_RTO_MS. It doubles up to 16 times itself; after
   * RTC_ICE_MAX_TX transmissions and one more timeout the pair fails. */
  unsigned rto_ms;
  /* The host addresses to offer (borrowed, copied, at most
   * RTC_ICE_MAX_LOCAL), or NULL to take the non-internal IPv4 interface
   * addresses (127.0.0.1 when there is none). */
  const struct in_addr *host_addrs;
  size_t n_host_addrs;
};

/* A local candidate, for the answer's a=candidate line. */
struct rtc_ice_candidate {
  unsigned foundation;
  uint32_t priority; /* RFC 8445 §5.1.2, type preference 126 (host) */
  struct in_addr addr;
  uint16_t port; /* host order */
};

/* A remote candidate from the offer (component 1, UDP, IPv4). */
struct rtc_ice_remote {
  struct in_addr addr;
  uint16_t port; /* host order */
  uint32_t priority;
};

/* Counters for a debug line; datagrams dropped are never answered. */
struct rtc_ice_stats {
  uint64_t rx_dropped;  /* garbage, oversize, unchecked source, bad STUN */
  uint64_t rx_requests; /* valid Binding requests answered with success */
  uint64_t rx_rejected; /* requests answered with an error */
  uint64_t tx_checks;   /* our Binding requests, retransmissions included */
};

/* Creates the agent's ICE side on loop (borrowed): fresh credentials from
 * the CSPRNG, a UDP socket bound to 0.0.0.0:0 and reading, the host
 * candidates, and the connect deadline running. cfg is borrowed (copied).
 * On success *out is the new object, to be ended with rtc_ice_close.
 * Returns 0, MESH_E_INVALID (no on_state), MESH_E_NOMEM, MESH_E_CRYPTO or
 * a libuv error; on failure *out is NULL and any handle already opened
 * closes on the next loop turn. */
int rtc_ice_new(uv_loop_t *loop, const struct rtc_ice_config *cfg,
                struct rtc_ice **out);

/* The local credentials for a=ice-ufrag / a=ice-pwd: NUL-terminated,
 * owned by ice, valid until it is freed. Never log the password. */
const char *rtc_ice_ufrag(const struct rtc_ice *ice);
const char *rtc_ice_pwd(const struct rtc_ice *ice);

/* Copies up to max local candidates into out (borrowed); returns how many
 * there are (at least 1, at most RTC_ICE_MAX_LOCAL). */
size_t rtc_ice_local_candidates(const struct rtc_ice *ice,
                                struct rtc_ice_candidate *out, size_t max);

/* Writes "candidate:<f> 1 UDP <prio> <ip> <port> typ host" (no "a=", no
 * line end) into out[0..cap). Returns the length, or MESH_E_TOO_LARGE. */
int rtc_ice_candidate_line(const struct rtc_ice_candidate *c, char *out,
                           size_t cap);

/* Sets the browser's credentials (borrowed, copied: ufrag 4..256 and pwd
 * 22..256 ice-chars, RFC 8839 §5.4) and its candidates c[0..n) (borrowed,
 * copied; beyond RTC_ICE_MAX_REMOTE they are dropped), then starts the
 * checks. Once only. Returns 0, MESH_E_INVALID (bad credentials, or
 * called twice) or MESH_E_PROTO_STATE (closing or failed). */
int rtc_ice_set_remote(struct rtc_ice *ice, const char *ufrag, const char *pwd,
                       const struct rtc_ice_remote *c, size_t n);

/* Adds one more remote candidate (trickled). Returns 0, MESH_E_EXISTS,
 * MESH_E_TOO_LARGE (table full) or MESH_E_PROTO_STATE. */
int rtc_ice_add_remote(struct rtc_ice *ice, const struct rtc_ice_remote *c);

/* Sends the datagram p[0..n) (borrowed, sent before returning) to the
 * selected pair; before one is selected, to the address the last accepted
 * datagram came from (so a DTLS reply to a ClientHello that overtook the
 * nomination is not lost). No allocation; a full socket buffer drops the
 * datagram, as UDP may. Returns 0, MESH_E_PROTO_STATE (nowhere to send,
 * closing or failed), MESH_E_TOO_LARGE (n > 65507) or a libuv error. */
int rtc_ice_send(struct rtc_ice *ice, const uint8_t *p, size_t n);

/* The selected remote address in *addr; 0, or MESH_E_NOT_FOUND. */
int rtc_ice_selected(const struct rtc_ice *ice, struct sockaddr_in *addr);

void rtc_ice_get_stats(const struct rtc_ice *ice, struct rtc_ice_stats *st);

/* Stops everything and closes the socket and timers; no callback of cfg
 * runs after this returns. cb (may be NULL) runs from the loop once the
 * handles are closed, then ice is freed (credentials wiped). Safe to call
 * from inside any of ice's callbacks; a second call does nothing. */
void rtc_ice_close(struct rtc_ice *ice, rtc_ice_close_cb cb, void *data);

#endif
