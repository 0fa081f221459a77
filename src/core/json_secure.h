/*
 * jansson allocations that are wiped when freed.  JSON documents in Coffer
 * carry secret values, plaintexts and unwrapped keys; with this allocator
 * every string and object jansson frees (including json_dumps output freed
 * with cf_json_free_text) is zeroed first.  Call once at start, before
 * threads and before any jansson use.
 */
#ifndef CF_JSON_SECURE_H
#define CF_JSON_SECURE_H

#include <jansson.h>

#include "result.h"

void cf_json_use_wiping_alloc(void);
/* Zeroes every string value in `doc` (recursively), for a document that
 * held a secret and is about to be freed in a process that may not use the
 * wiping allocator (the SQLite library inside someone else's program). */
void cf_json_wipe_strings(json_t *doc);
/* Frees text returned by json_dumps() (wiped). */
void cf_json_free_text(char *text);
/* Copies the string member `name` of `obj` into `out` ("" when absent or
 * not a string); `code` with "`what`: NAME is too long" when it does not fit. */
CF_MUST_USE bool cf_json_copy_text(json_t *obj, const char *name, char *out, size_t len,
                                   cf_err code, const char *what);

#endif
