/*
 * jansson allocations that are wiped when freed.  JSON documents in Coffer
 * carry secret values, plaintexts and unwrapped keys; with this allocator
 * every string and object jansson frees (including json_dumps output freed
 * with cf_json_free_text) is zeroed first.  Call once at start, before
 * threads and before any jansson use.
 */
#ifndef CF_JSON_SECURE_H
#define CF_JSON_SECURE_H

void cf_json_use_wiping_alloc(void);
/* Frees text returned by json_dumps() (wiped). */
void cf_json_free_text(char *text);

#endif
