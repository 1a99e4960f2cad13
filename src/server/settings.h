/*
 * settings.h - server-wide settings an administrator changes at run time
 * (docs/user-api.md §7.22), kept in the database's meta table so that
 * every meshd sharing the database sees the same.
 */
#ifndef MESH_SERVER_SETTINGS_H
#define MESH_SERVER_SETTINGS_H

#include <stdint.h>

#include "store.h"

/* Events older than this many days are purged; 0 keeps them forever. */
#define SETTINGS_RETENTION_DEFAULT 365
#define SETTINGS_RETENTION_MAX 36500
/* How often the purge runs. */
#define SETTINGS_PURGE_EVERY_MS (3600 * 1000)

struct settings {
  int require_2fa;         /* every account must have a second factor */
  uint32_t retention_days; /* events kept this long; 0 = forever */
  /* Desktop and files sessions may move onto a direct WebRTC data
   * channel (docs/sessions.md §9); off, the relay drops the offers. */
  int webrtc;
};

/* Reads the settings; missing or unreadable values take their defaults
 * (a damaged row never locks anyone out or deletes the log). */
void settings_get(struct store *st, struct settings *out);
/* Writes every value. MESH_E_INVALID when retention_days is over
 * SETTINGS_RETENTION_MAX. */
int settings_set(struct store *st, const struct settings *in);
/* Deletes events stored before now - retention (none when it is 0).
 * Returns the number deleted, or a negative code. */
int64_t settings_purge_events(struct store *st, int64_t now);

#endif
