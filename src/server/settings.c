/*
 * settings.c - server-wide settings in the meta table, and the events
 * purge they drive.
 */
#include "settings.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "db.h"

#define KEY_2FA "require_2fa"
#define KEY_RETENTION "event_retention_days"
#define KEY_WEBRTC "webrtc"

static long meta_long(struct store *st, const char *key, long dflt, long max) {
  char *v = NULL, *end;
  long out = dflt;
  if (store_meta_get(st, key, &v) == 0 && v && *v) {
    long n = strtol(v, &end, 10);
    if (*end == 0 && n >= 0 && n <= max) out = n;
  }
  free(v);
  return out;
}

void settings_get(struct store *st, struct settings *out) {
  out->require_2fa = meta_long(st, KEY_2FA, 0, 1) != 0;
  out->retention_days = (uint32_t)meta_long(
      st, KEY_RETENTION, SETTINGS_RETENTION_DEFAULT, SETTINGS_RETENTION_MAX);
  out->webrtc = meta_long(st, KEY_WEBRTC, 0, 1) != 0;
}

int settings_set(struct store *st, const struct settings *in) {
  char num[16];
  int r;
  if (in->retention_days > SETTINGS_RETENTION_MAX) return MESH_E_INVALID;
  if ((r = store_meta_set(st, KEY_2FA, in->require_2fa ? "1" : "0")) != 0 ||
      (r = store_meta_set(st, KEY_WEBRTC, in->webrtc ? "1" : "0")) != 0)
    return r;
  snprintf(num, sizeof num, "%u", in->retention_days);
  return store_meta_set(st, KEY_RETENTION, num);
}

int64_t settings_purge_events(struct store *st, int64_t now) {
  struct settings cfg;
  struct db_stmt *s;
  settings_get(st, &cfg);
  if (cfg.retention_days == 0) return 0;
  if (store_prep(st, "DELETE FROM events WHERE time < ?1", &s, NULL) != 0)
    return MESH_E_IO;
  db_bind_int64(s, 1, now - (int64_t)cfg.retention_days * 86400);
  int64_t r = db_step(s) == DB_DONE ? db_changes(s) : MESH_E_IO;
  db_finalize(s);
  return r;
}
