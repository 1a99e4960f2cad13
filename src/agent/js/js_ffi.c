/*
 * js_ffi.c - require('ffi'): call a function of a shared library by name
 * with a declared signature (libffi). This is a core's way to reach what
 * no module covers; like the stock agent's marshal module it is as unsafe
 * as C itself: a wrong signature or pointer can crash the agent.
 *
 *   var lib = require('ffi').open('libc.so.6');   // open(null): the agent
 *   var strlen = lib.func('strlen', 'size_t', ['string']);
 *   strlen('abc') === 3; lib.close();
 *
 * Types: void int uint int8 uint8 int16 uint16 int32 uint32 int64 uint64
 * long ulong size_t ssize_t float double pointer (a number; null is 0)
 * string (in: a JS string as char *; out: a copy, or null) buffer (in: a
 * Buffer's bytes, which the function may write). 64-bit integers and
 * pointers become JS numbers: exact up to 2^53.
 */
#include <dlfcn.h>
#include <ffi.h>
#include <stdlib.h>
#include <string.h>

#include "agent/js/js_int.h"

#define FFI_MAX_ARGS 16
#define LIB_FN DUK_HIDDEN_SYMBOL("fn")
#define LIB_OBJ DUK_HIDDEN_SYMBOL("lib")

static const struct {
  const char *name;
  char code;
  ffi_type *type;
} types[] = {
    {"void", 'v', &ffi_type_void},      {"int", 'i', &ffi_type_sint},
    {"uint", 'I', &ffi_type_uint},      {"int8", 'b', &ffi_type_sint8},
    {"uint8", 'B', &ffi_type_uint8},    {"int16", 'h', &ffi_type_sint16},
    {"uint16", 'H', &ffi_type_uint16},  {"int32", 'i', &ffi_type_sint32},
    {"uint32", 'I', &ffi_type_uint32},  {"int64", 'q', &ffi_type_sint64},
    {"uint64", 'Q', &ffi_type_uint64},  {"long", 'q', &ffi_type_slong},
    {"ulong", 'Q', &ffi_type_ulong},    {"size_t", 'Q', &ffi_type_uint64},
    {"ssize_t", 'q', &ffi_type_sint64}, {"float", 'f', &ffi_type_float},
    {"double", 'd', &ffi_type_double},  {"pointer", 'p', &ffi_type_pointer},
    {"string", 's', &ffi_type_pointer}, {"buffer", 'y', &ffi_type_pointer},
};

struct fn {
  struct fn *next;
  void *sym;
  ffi_cif cif;
  ffi_type *atypes[FFI_MAX_ARGS];
  char acode[FFI_MAX_ARGS];
  char rcode;
  unsigned nargs;
};

struct lib {
  struct js_handle h;
  void *dl;
  struct fn *fns;
};

static void lib_close(struct js_handle *h) {
  struct lib *l = (struct lib *)h;
  while (l->fns) {
    struct fn *f = l->fns;
    l->fns = f->next;
    free(f);
  }
  if (l->dl) dlclose(l->dl);
  free(l);
}

static int type_of(const char *name, char *code, ffi_type **t) {
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    if (!strcmp(types[i].name, name)) {
      *code = types[i].code;
      *t = types[i].type;
      return 0;
    }
  return -1;
}

union value {
  int8_t b;
  uint8_t B;
  int16_t h;
  uint16_t H;
  int i;
  unsigned I;
  int64_t q;
  uint64_t Q;
  float f;
  double d;
  void *p;
};

static duk_ret_t fn_call(duk_context *ctx) {
  duk_idx_t nargs = duk_get_top(ctx);
  duk_push_current_function(ctx);
  duk_get_prop_string(ctx, -1, LIB_OBJ);
  if (!js__handle_of(ctx, -1))
    return duk_error(ctx, DUK_ERR_ERROR, "ffi: library closed");
  duk_get_prop_string(ctx, -2, LIB_FN);
  struct fn *f = duk_get_pointer(ctx, -1);
  duk_pop_3(ctx);
  if ((unsigned)nargs != f->nargs)
    return duk_type_error(ctx, "ffi: %u arguments expected", f->nargs);
  union value v[FFI_MAX_ARGS];
  void *av[FFI_MAX_ARGS];
  for (unsigned i = 0; i < f->nargs; i++) {
    duk_idx_t k = (duk_idx_t)i;
    av[i] = &v[i];
    switch (f->acode[i]) {
      case 'b':
        v[i].b = (int8_t)duk_to_int32(ctx, k);
        break;
      case 'B':
        v[i].B = (uint8_t)duk_to_uint32(ctx, k);
        break;
      case 'h':
        v[i].h = (int16_t)duk_to_int32(ctx, k);
        break;
      case 'H':
        v[i].H = (uint16_t)duk_to_uint32(ctx, k);
        break;
      case 'i':
        v[i].i = duk_to_int32(ctx, k);
        break;
      case 'I':
        v[i].I = duk_to_uint32(ctx, k);
        break;
      case 'q':
        v[i].q = (int64_t)duk_to_number(ctx, k);
        break;
      case 'Q':
        v[i].Q = (uint64_t)duk_to_number(ctx, k);
        break;
      case 'f':
        v[i].f = (float)duk_to_number(ctx, k);
        break;
      case 'd':
        v[i].d = duk_to_number(ctx, k);
        break;
      case 'p':
        v[i].p = duk_is_null_or_undefined(ctx, k)
                     ? NULL
                     : (void *)(uintptr_t)duk_to_number(ctx, k);
        break;
      case 's':
        v[i].p = duk_is_null(ctx, k) ? NULL : (void *)duk_to_string(ctx, k);
        break;
      default: { /* 'y' */
        duk_size_t n;
        v[i].p = duk_require_buffer_data(ctx, k, &n);
        break;
      }
    }
  }
  union {
    ffi_arg a;
    ffi_sarg s;
    union value v;
  } r;
  memset(&r, 0, sizeof r);
  ffi_call(&f->cif, FFI_FN(f->sym), &r, av);
  switch (f->rcode) {
    case 'v':
      return 0;
    case 'b':
    case 'h':
    case 'i':
      duk_push_int(ctx, (int)r.s);
      break;
    case 'B':
    case 'H':
    case 'I':
      duk_push_uint(ctx, (unsigned)r.a);
      break;
    case 'q':
      duk_push_number(ctx, (double)r.v.q);
      break;
    case 'Q':
      duk_push_number(ctx, (double)r.v.Q);
      break;
    case 'f':
      duk_push_number(ctx, r.v.f);
      break;
    case 'd':
      duk_push_number(ctx, r.v.d);
      break;
    case 's':
      if (r.v.p)
        duk_push_string(ctx, r.v.p);
      else
        duk_push_null(ctx);
      break;
    default:
      duk_push_number(ctx, (double)(uintptr_t)r.v.p);
      break;
  }
  return 1;
}

/* lib.func(name, returnType, [argTypes]) */
static duk_ret_t lib_func(duk_context *ctx) {
  const char *name = duk_require_string(ctx, 0);
  const char *ret = duk_require_string(ctx, 1);
  duk_push_this(ctx);
  struct lib *l = (struct lib *)js__handle_of(ctx, -1);
  if (!l) return duk_error(ctx, DUK_ERR_ERROR, "ffi: library closed");
  struct fn tmp;
  memset(&tmp, 0, sizeof tmp);
  ffi_type *rt;
  if (type_of(ret, &tmp.rcode, &rt) || tmp.rcode == 'y')
    return duk_type_error(ctx, "ffi: bad return type %s", ret);
  if (duk_is_array(ctx, 2)) {
    duk_size_t n = duk_get_length(ctx, 2);
    if (n > FFI_MAX_ARGS)
      return duk_range_error(ctx, "ffi: at most %d arguments", FFI_MAX_ARGS);
    for (duk_size_t i = 0; i < n; i++) {
      duk_get_prop_index(ctx, 2, (duk_uarridx_t)i);
      const char *t = duk_to_string(ctx, -1);
      if (type_of(t, &tmp.acode[i], &tmp.atypes[i]) || tmp.acode[i] == 'v')
        return duk_type_error(ctx, "ffi: bad argument type %s", t);
      duk_pop(ctx);
    }
    tmp.nargs = (unsigned)n;
  }
  dlerror();
  tmp.sym = dlsym(l->dl, name);
  if (!tmp.sym) return duk_error(ctx, DUK_ERR_ERROR, "ffi: no symbol %s", name);
  js__handle_check(ctx, sizeof tmp);
  struct fn *f = malloc(sizeof *f);
  if (!f) return duk_error(ctx, DUK_ERR_RANGE_ERROR, "out of memory");
  *f = tmp;
  if (ffi_prep_cif(&f->cif, FFI_DEFAULT_ABI, f->nargs, rt, f->atypes) !=
      FFI_OK) {
    free(f);
    return duk_error(ctx, DUK_ERR_ERROR, "ffi: cannot prepare %s", name);
  }
  f->next = l->fns;
  l->fns = f;
  l->h.charge += sizeof *f;
  js__rt(ctx)->used += sizeof *f;
  duk_push_c_function(ctx, fn_call, DUK_VARARGS);
  duk_push_pointer(ctx, f);
  duk_put_prop_string(ctx, -2, LIB_FN);
  duk_dup(ctx, 3); /* this: the library keeps f alive */
  duk_put_prop_string(ctx, -2, LIB_OBJ);
  return 1;
}

static duk_ret_t lib_close_js(duk_context *ctx) {
  duk_push_this(ctx);
  struct js_handle *h = js__handle_of(ctx, -1);
  if (h) {
    js__handle_remove(h);
    lib_close(h);
  }
  return 0;
}

/* open(path | null) */
static duk_ret_t ffi_open(duk_context *ctx) {
  struct js *rt = js__rt(ctx);
  const char *path =
      duk_is_null_or_undefined(ctx, 0) ? NULL : duk_require_string(ctx, 0);
  duk_push_object(ctx);
  duk_push_c_function(ctx, lib_func, 3);
  duk_put_prop_string(ctx, -2, "func");
  duk_push_c_function(ctx, lib_close_js, 0);
  duk_put_prop_string(ctx, -2, "close");
  js__handle_check(ctx, sizeof(struct lib));
  void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!dl) return duk_error(ctx, DUK_ERR_ERROR, "ffi: %s", dlerror());
  struct lib *l = calloc(1, sizeof *l);
  if (!l) {
    dlclose(dl);
    return duk_error(ctx, DUK_ERR_RANGE_ERROR, "out of memory");
  }
  l->dl = dl;
  l->h.close = lib_close;
  js__handle_add(rt, &l->h, -1, sizeof *l);
  return 1;
}

duk_ret_t js__mod_ffi(duk_context *ctx) {
  duk_push_object(ctx);
  duk_push_c_function(ctx, ffi_open, 1);
  duk_put_prop_string(ctx, -2, "open");
  return 1;
}
