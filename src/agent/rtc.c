/*
 * rtc.c - one WebRTC peer connection: the offer read, the answer written,
 * and the three layers wired together (ICE datagrams <-> DTLS records <->
 * SCTP packets <-> the viewer's data channel). See rtc.h.
 *
 * Teardown: rtc_close frees SCTP, then DTLS (whose close_notify still
 * goes out through ICE), then closes ICE; the record itself goes in
 * ICE's close callback, after every layer has promised silence, so a
 * callback still on the stack when rtc_close runs never sees freed memory.
 */
#include "agent/rtc.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/rtc_dtls.h"
#include "agent/rtc_ice.h"
#include "agent/rtc_sctp.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/rand.h"
#include "proto/sdp.h"

/* Without a=max-message-size the peer takes 64 KiB (RFC 8841 §6). */
#define RTC_DEFAULT_PEER_MESSAGE 65536

struct rtc {
  uv_loop_t *loop;
  struct rtc_cbs cbs;
  void *data;
  struct rtc_ice *ice;
  struct rtc_dtls *dtls;
  struct rtc_sctp *sctp;
  uint16_t sctp_port; /* the offer's a=sctp-port */
  size_t peer_max;    /* the largest message the viewer takes */
  int has_channel;
  uint16_t stream; /* the viewer's channel, once has_channel */
  int over;        /* on_closed was called, or rtc_close */
};

static void fail(struct rtc *r, const char *why) {
  if (r->over) return;
  r->over = 1;
  r->cbs.on_closed(r->data, why);
}

/* ------------------------------------------------ SCTP */

static void sctp_send(void *data, const uint8_t *p, size_t n) {
  struct rtc *r = data;
  if (r->dtls) rtc_dtls_send(r->dtls, p, n);
}

static void sctp_channel(void *data, uint16_t stream, const char *label,
                         const char *protocol) {
  struct rtc *r = data;
  (void)label;
  (void)protocol;
  /* The label means nothing (spec §8.2): the first channel is the one. */
  if (r->has_channel || r->over) return;
  r->has_channel = 1;
  r->stream = stream;
  r->cbs.on_open(r->data);
}

static void sctp_message(void *data, uint16_t stream, int binary,
                         const uint8_t *p, size_t n) {
  struct rtc *r = data;
  if (r->has_channel && stream == r->stream && !r->over)
    r->cbs.on_message(r->data, binary, p, n);
}

static void sctp_writable(void *data) {
  struct rtc *r = data;
  if (!r->over) r->cbs.on_writable(r->data);
}

static void sctp_channel_closed(void *data, uint16_t stream) {
  struct rtc *r = data;
  if (r->has_channel && stream == r->stream) fail(r, "data channel closed");
}

static void sctp_closed(void *data, const char *reason) { fail(data, reason); }

static const struct rtc_sctp_cbs sctp_cbs = {
    .send = sctp_send,
    .on_channel = sctp_channel,
    .on_message = sctp_message,
    .on_writable = sctp_writable,
    .on_channel_closed = sctp_channel_closed,
    .on_closed = sctp_closed,
};

/* ------------------------------------------------ DTLS */

static void dtls_send(struct rtc_dtls *d, const uint8_t *p, size_t n,
                      void *data) {
  struct rtc *r = data;
  (void)d;
  if (r->ice) rtc_ice_send(r->ice, p, n);
}

static void dtls_connected(struct rtc_dtls *d, void *data) {
  struct rtc *r = data;
  (void)d;
  log_debug("event=webrtc_dtls state=connected");
  if (rtc_sctp_new(&r->sctp, r->loop, SDP_SCTP_PORT, r->sctp_port, &sctp_cbs,
                   r) != 0) {
    r->sctp = NULL;
    fail(r, "SCTP could not start");
    return;
  }
  rtc_sctp_set_remote_max_message(r->sctp, r->peer_max);
}

static void dtls_data(struct rtc_dtls *d, const uint8_t *p, size_t n,
                      void *data) {
  struct rtc *r = data;
  (void)d;
  if (r->sctp) rtc_sctp_input(r->sctp, p, n);
}

static void dtls_closed(struct rtc_dtls *d, int err, const char *why,
                        void *data) {
  (void)d;
  (void)err;
  fail(data, why);
}

static const struct rtc_dtls_cbs dtls_cbs = {
    .send = dtls_send,
    .on_connected = dtls_connected,
    .on_data = dtls_data,
    .on_closed = dtls_closed,
};

/* ------------------------------------------------ ICE */

static void ice_packet(struct rtc_ice *ice, const uint8_t *p, size_t n,
                       void *data) {
  struct rtc *r = data;
  (void)ice;
  if (r->dtls) rtc_dtls_input(r->dtls, p, n);
}

static void ice_state(struct rtc_ice *ice, enum rtc_ice_state st,
                      const char *reason, void *data) {
  struct rtc *r = data;
  (void)ice;
  log_debug("event=webrtc_ice state=%s reason=\"%s\"",
            st == RTC_ICE_FAILED ? "failed" : "connected", reason);
  if (st == RTC_ICE_FAILED) fail(r, reason);
}

static void ice_closed(struct rtc_ice *ice, void *data) {
  (void)ice;
  free(data);
}

/* ------------------------------------------------ the answer */

/* Starts ICE with the offer's credentials and candidates. */
static int start_ice(struct rtc *r, const struct sdp_desc *o) {
  struct rtc_ice_config cfg = {
      .on_packet = ice_packet, .on_state = ice_state, .data = r};
  struct rtc_ice_remote rem[SDP_MAX_CANDIDATES];
  int e = rtc_ice_new(r->loop, &cfg, &r->ice);
  if (e) {
    r->ice = NULL;
    return e;
  }
  for (size_t i = 0; i < o->n_candidates; i++) {
    memcpy(&rem[i].addr, o->candidates[i].ip, 4);
    rem[i].port = o->candidates[i].port;
    rem[i].priority = o->candidates[i].priority;
  }
  return rtc_ice_set_remote(r->ice, o->ufrag, o->pwd, rem, o->n_candidates);
}

static int write_answer(struct rtc *r, const struct sdp_desc *o,
                        char **answer) {
  struct rtc_ice_candidate lc[RTC_ICE_MAX_LOCAL];
  struct sdp_local_candidate sc[RTC_ICE_MAX_LOCAL];
  char found[RTC_ICE_MAX_LOCAL][12], fp[RTC_DTLS_FP_TEXT];
  size_t n = rtc_ice_local_candidates(r->ice, lc, RTC_ICE_MAX_LOCAL);
  int e = rtc_dtls_fingerprint(fp);
  if (e) return e;
  for (size_t i = 0; i < n; i++) {
    snprintf(found[i], sizeof found[i], "%u", lc[i].foundation);
    sc[i] = (struct sdp_local_candidate){.foundation = found[i],
                                         .priority = lc[i].priority,
                                         .port = lc[i].port,
                                         .type = SDP_CAND_HOST};
    memcpy(sc[i].ip, &lc[i].addr, 4);
  }
  struct sdp_answer a = {
      .ufrag = rtc_ice_ufrag(r->ice),
      .pwd = rtc_ice_pwd(r->ice),
      .fingerprint = fp,
      .mid = o->mid,
      .candidates = sc,
      .n_candidates = n,
      .sctp_port = SDP_SCTP_PORT,
      .max_message_size = RTC_SCTP_MAX_MESSAGE,
  };
  if ((e = rand_bytes(&a.session_id, sizeof a.session_id)) != 0) return e;
  struct buf b;
  buf_init(&b, SDP_MAX_BYTES);
  e = sdp_write_answer(&a, &b);
  if (!e && !(*answer = malloc(b.len + 1))) e = MESH_E_NOMEM;
  if (!e) {
    memcpy(*answer, b.data, b.len);
    (*answer)[b.len] = 0;
  }
  /* The text held our ICE password. */
  if (b.data) OPENSSL_cleanse(b.data, b.len);
  buf_cleanup(&b);
  return e;
}

int rtc_answer(uv_loop_t *loop, const char *offer, size_t n,
               const struct rtc_cbs *cbs, void *data, struct rtc **out,
               char **answer, const char **why) {
  struct sdp_desc *o = calloc(1, sizeof *o);
  struct rtc *r = calloc(1, sizeof *r);
  int e = o && r ? sdp_parse_offer(offer, n, o, why) : MESH_E_NOMEM;
  *out = NULL;
  *answer = NULL;
  if (e) {
    if (e == MESH_E_NOMEM) *why = "out of memory";
    free(o);
    free(r);
    return e;
  }
  r->loop = loop;
  r->cbs = *cbs;
  r->data = data;
  r->sctp_port = o->sctp_port;
  r->peer_max =
      !o->has_max_message_size ? RTC_DEFAULT_PEER_MESSAGE
      : o->max_message_size == 0 || o->max_message_size > RTC_SCTP_MAX_MESSAGE
          ? RTC_SCTP_MAX_MESSAGE
          : (size_t)o->max_message_size;
  log_debug(
      "event=webrtc_offer candidates=%zu dropped_mdns=%zu dropped_ipv6=%zu "
      "dropped_tcp=%zu",
      o->n_candidates, o->dropped_mdns, o->dropped_ipv6, o->dropped_tcp);
  *why = "ICE could not start";
  e = start_ice(r, o);
  if (!e) {
    *why = "DTLS could not start";
    e = rtc_dtls_new(loop, o->fingerprint, RTC_DTLS_HANDSHAKE_MS, &dtls_cbs, r,
                     &r->dtls);
    if (e) r->dtls = NULL;
  }
  if (!e) {
    *why = "the answer could not be written";
    e = write_answer(r, o, answer);
  }
  OPENSSL_cleanse(o->pwd, sizeof o->pwd);
  free(o);
  if (e) {
    r->over = 1;
    rtc_close(r);
    return e;
  }
  *why = NULL;
  *out = r;
  return 0;
}

int rtc_send(struct rtc *r, int binary, const uint8_t *p, size_t n) {
  if (r->over || !r->has_channel || !r->sctp) return MESH_E_PROTO_STATE;
  return rtc_sctp_send(r->sctp, r->stream, binary, p, n);
}

size_t rtc_buffered(const struct rtc *r) {
  return r->sctp ? rtc_sctp_buffered(r->sctp) : 0;
}

size_t rtc_max_message(const struct rtc *r) { return r->peer_max; }

void rtc_close(struct rtc *r) {
  if (!r) return;
  r->over = 1;
  rtc_sctp_free(r->sctp);
  r->sctp = NULL;
  rtc_dtls_free(r->dtls);
  r->dtls = NULL;
  if (r->ice) {
    struct rtc_ice *ice = r->ice;
    r->ice = NULL;
    rtc_ice_close(ice, ice_closed, r);
  } else {
    free(r);
  }
}
