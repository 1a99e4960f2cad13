#include "cli.h"
#include "cli_users.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/err.h"
#include "msh_text.h"
#include "srv.h"

int cli_create_group(const char *dir, const char *name) {
  struct store *st = cli_open_store(dir);
  struct store_group g;
  if (!st) return 1;
  if (!name[0] || strlen(name) > 255) {
    fprintf(stderr, "meshd: a group name has 1 to 255 bytes\n");
    store_close(st);
    return 2;
  }
  int r = store_group_create(st, name, NULL, NULL, NULL, &g);
  store_close(st);
  if (r) {
    fprintf(stderr, "meshd: cannot create group: %s\n", mesh_strerror(r));
    return 1;
  }
  printf("%s\n", g.id);
  store_group_cleanup(&g);
  return 0;
}

int cli_agent_config(const char *dir, const char *group, const char *url) {
  struct store *st = cli_open_store(dir);
  struct store_group g;
  struct srv_keys keys;
  struct buf out;
  char *name = NULL, *port = NULL, def_url[600];
  int r, status = 1;
  if (!st) return 1;
  r = store_group_get(st, group, 0, &g);
  if (r == MESH_E_NOT_FOUND) r = store_group_get(st, group, 1, &g);
  if (r) {
    fprintf(stderr, "meshd: no device group \"%s\"\n", group);
    store_close(st);
    return 1;
  }
  buf_init(&out, MSH_TEXT_MAX);
  if (store_meta_get(st, "name", &name) != 0) name = strdup("127.0.0.1");
  if (store_meta_get(st, "port", &port) != 0) port = strdup("443");
  if (!name || !port) goto out;
  if ((r = srv_keys_load(dir, name, &keys)) != 0) {
    fprintf(stderr, "meshd: cannot load keys: %s\n", mesh_strerror(r));
    goto out;
  }
  if (!url) {
    snprintf(def_url, sizeof def_url, "wss://%s:%s/agent.ashx", name, port);
    url = def_url;
  }
  r = srv_msh_text(st, &keys, g.id, url, &out);
  srv_keys_cleanup(&keys);
  if (r == MESH_E_MALFORMED) {
    fprintf(stderr, "meshd: group %s has a legacy id; no .msh\n", g.id);
  } else if (r) {
    fprintf(stderr, "meshd: cannot write the .msh: %s\n", mesh_strerror(r));
  } else if (fwrite(out.data, 1, out.len, stdout) == out.len) {
    status = 0;
  }
out:
  buf_cleanup(&out);
  free(name);
  free(port);
  store_group_cleanup(&g);
  store_close(st);
  return status;
}

struct list_ctx {
  int json, running;
  json_t *arr;
};

static void iso_time(int64_t t, char out[32]) {
  struct tm tm;
  time_t tt = (time_t)t;
  gmtime_r(&tt, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *or_empty(const char *s) { return s ? s : ""; }

static void list_one(const struct store_device *d, void *data) {
  struct list_ctx *c = data;
  int online = d->online && c->running;
  char last[32], first[32];
  iso_time(d->last_seen, last);
  iso_time(d->first_seen, first);
  if (!c->json) {
    printf("%s  %-16s  %-20s  %-7s  %s  %s\n", d->id, or_empty(d->group_name),
           or_empty(d->name), online ? "online" : "offline", last,
           or_empty(d->os));
    return;
  }
  json_array_append_new(
      c->arr,
      json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s, "
                "s:I, s:I, s:I}",
                "id", d->id, "name", or_empty(d->name), "group",
                or_empty(d->group_name), "groupId", d->group_id, "os",
                or_empty(d->os), "online", online, "lastSeen", last,
                "firstSeen", first, "address", or_empty(d->addr), "commitDate",
                or_empty(d->commit_date), "agentHash", or_empty(d->agent_hash),
                "platform", (json_int_t)d->platform, "agentId",
                (json_int_t)d->agent_id, "caps", (json_int_t)d->caps));
}

int cli_list_devices(const char *dir, int json) {
  struct store *st = cli_open_store(dir);
  if (!st) return 1;
  /* A device marked online by a server that is no longer running is not
   * online: the lock tells whether one runs. */
  struct list_ctx c = {json, srv_is_running(dir), json_array()};
  int r = store_devices_each(st, NULL, NULL, list_one, &c);
  store_close(st);
  if (r) {
    fprintf(stderr, "meshd: cannot list devices: %s\n", mesh_strerror(r));
    json_decref(c.arr);
    return 1;
  }
  if (json) {
    char *s = json_dumps(c.arr, JSON_INDENT(2));
    if (s) printf("%s\n", s);
    free(s);
  }
  json_decref(c.arr);
  return 0;
}
