/*
 * glibc's malloc_trim(0) as a Node-API addon: exports one function that returns whether
 * memory went back to the OS.
 *
 * Why: the screen models of idle consoles are freed after a quiet minute, but xterm keeps
 * each line in a ~1 KB typed array whose backing store comes from malloc. glibc returns a
 * freed chunk to the OS only from the top of its heap; the rest stays in RSS (1 000
 * consoles: 166 MiB after the models were freed, 110 MiB after this call). Only
 * malloc_trim() madvises the free pages in the middle, and Node has no way to call it.
 *
 * The Node-API and libc declarations are written out here instead of including their headers,
 * so it builds with a bare cross compiler for either CPU (scripts/build-native.mjs, no libc
 * headers or libraries) and loads into any Node from 20 on: every symbol resolves against
 * the node executable that loads it and its libc.
 */
#include <stdbool.h>
#include <stddef.h>

/* glibc's (malloc.h), declared here so that no libc headers are needed to cross-compile. */
extern int malloc_trim(size_t pad);

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status;
typedef napi_value (*napi_callback)(napi_env, napi_callback_info);

extern napi_status napi_create_function(napi_env env, const char *name, size_t length, napi_callback cb, void *data,
                                        napi_value *result);
extern napi_status napi_get_boolean(napi_env env, bool value, napi_value *result);

static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value released;
  napi_get_boolean(env, malloc_trim(0) != 0, &released);
  return released;
}

#define EXPORT __attribute__((visibility("default")))

/* Node-API version 1 is all this needs. */
EXPORT int node_api_module_get_api_version_v1(void) { return 1; }

EXPORT napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  napi_value fn;
  (void)exports;
  if (napi_create_function(env, "mallocTrim", (size_t)-1, trim, NULL, &fn) != 0) return NULL;
  return fn;
}
