/*
 * devices.c - `meshctl devices` and finding DEVICE arguments, from the
 * control.ashx `meshes` and `nodes` lists (docs/user-api.md §7.12).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define RESPONSE_ID "meshctl"

static int node_online(json_t *n) {
  json_int_t conn = json_integer_value(json_object_get(n, "conn"));
  return (conn & 1) != 0;
}

static const char *str(json_t *o, const char *k, const char *dflt) {
  const char *v = json_string_value(json_object_get(o, k));
  return v ? v : dflt;
}

/* The nodes map {groupid: [node...]}, or NULL (printed). */
static json_t *get_nodes(struct mc_ctl *c) {
  json_t *r = mc_ctl_call(
      c, json_pack("{s:s, s:s}", "action", "nodes", "responseid", RESPONSE_ID),
      "nodes", RESPONSE_ID);
  if (!r) return NULL;
  json_t *map = json_incref(json_object_get(r, "nodes"));
  if (!json_is_object(map)) {
    mc_err("the server refused the device list: %s",
           str(r, "result", "bad reply"));
    json_decref(map);
    map = NULL;
  }
  json_decref(r);
  return map;
}

static int by_name(const void *x, const void *y) {
  json_t *const *a = x, *const *b = y;
  int r = strcmp(str(*a, "name", ""), str(*b, "name", ""));
  return r ? r : strcmp(str(*a, "_id", ""), str(*b, "_id", ""));
}

/* The array's items sorted by name (a new array). */
static json_t *sorted(json_t *arr) {
  size_t n = json_array_size(arr);
  json_t **v = calloc(n ? n : 1, sizeof *v), *out = json_array();
  for (size_t i = 0; i < n; i++) v[i] = json_array_get(arr, i);
  qsort(v, n, sizeof *v, by_name);
  for (size_t i = 0; i < n; i++) json_array_append(out, v[i]);
  free(v);
  return out;
}

static void print_text(json_t *groups, json_t *nodes) {
  size_t gi, ni, w = 4;
  json_t *g, *n;
  const char *gid;
  json_t *arr;
  json_object_foreach(nodes, gid, arr) {
    json_array_foreach(arr, ni, n) {
      size_t l = strlen(str(n, "name", ""));
      if (l > w) w = l;
    }
  }
  if (json_array_size(groups) == 0) printf("No device groups.\n");
  json_array_foreach(groups, gi, g) {
    json_t *list = sorted(json_object_get(nodes, str(g, "_id", "")));
    printf("%s%s\n", gi ? "\n" : "", str(g, "name", "?"));
    if (json_array_size(list) == 0) printf("  (no devices)\n");
    json_array_foreach(list, ni, n) {
      printf("  %-*s  %-7s  %s\n", (int)w, str(n, "name", ""),
             node_online(n) ? "online" : "offline", str(n, "_id", ""));
    }
    json_decref(list);
  }
}

static void print_json(json_t *groups, json_t *nodes) {
  json_t *out = json_array(), *g, *n;
  size_t gi, ni;
  json_array_foreach(groups, gi, g) {
    json_t *list = sorted(json_object_get(nodes, str(g, "_id", "")));
    json_array_foreach(list, ni, n) {
      json_array_append_new(
          out,
          json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", str(n, "_id", ""),
                    "name", str(n, "name", ""), "groupid", str(g, "_id", ""),
                    "group", str(g, "name", ""), "online", node_online(n)));
    }
    json_decref(list);
  }
  char *text = json_dumps(out, JSON_INDENT(2));
  if (text) printf("%s\n", text);
  free(text);
  json_decref(out);
}

int mc_cmd_devices(struct mc_app *a, int json) {
  struct mc_ctl *c;
  if (mc_ctl_open(a, &c) != 0) return MC_FAIL;
  int st = MC_FAIL;
  /* meshes first: the server answers in request order (user-api §7.12). */
  json_t *m =
      mc_ctl_call(c, json_pack("{s:s}", "action", "meshes"), "meshes", NULL);
  json_t *nodes = m ? get_nodes(c) : NULL;
  if (m && nodes) {
    json_t *groups = sorted(json_object_get(m, "meshes"));
    if (json)
      print_json(groups, nodes);
    else
      print_text(groups, nodes);
    json_decref(groups);
    st = fflush(stdout) == 0 ? MC_OK : MC_FAIL;
  }
  json_decref(m);
  json_decref(nodes);
  mc_ctl_close(c);
  return st;
}

int mc_find_device(struct mc_ctl *c, const char *arg, struct mc_device *d) {
  json_t *nodes = get_nodes(c), *arr, *n, *byid = NULL, *hits = json_array();
  const char *gid;
  size_t i;
  char full[200];
  if (!nodes) {
    json_decref(hits);
    return MC_FAIL;
  }
  snprintf(full, sizeof full, "node//%s", arg);
  json_object_foreach(nodes, gid, arr) {
    json_array_foreach(arr, i, n) {
      const char *id = str(n, "_id", "");
      if (strcmp(id, arg) == 0 || strcmp(id, full) == 0) byid = n;
      if (strcmp(str(n, "name", ""), arg) == 0) json_array_append(hits, n);
    }
  }
  /* An id is unique; names are not, and ids win over names. */
  if (!byid && json_array_size(hits) == 1) byid = json_array_get(hits, 0);
  int r = MC_FAIL;
  if (byid) {
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s", str(byid, "_id", ""));
    snprintf(d->name, sizeof d->name, "%s", str(byid, "name", ""));
    d->online = node_online(byid);
    r = 0;
  } else if (json_array_size(hits) == 0) {
    mc_err("no device called '%s' (meshctl devices lists them)", arg);
  } else {
    mc_err("%zu devices are called '%s'; name one by its id:",
           json_array_size(hits), arg);
    json_array_foreach(hits, i, n) {
      fprintf(stderr, "  %s  %s\n", str(n, "_id", ""),
              node_online(n) ? "online" : "offline");
    }
  }
  json_decref(hits);
  json_decref(nodes);
  return r;
}
