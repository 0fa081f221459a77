/* Wiping allocator for jansson; see json_secure.h.  Each block carries its
 * length in a header so that free can wipe exactly what was allocated. */
#include "json_secure.h"

#include <string.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "secmem.h"

typedef union {
    size_t len;
    max_align_t align;
} cf_json_hdr;

static void *cf_json_malloc(size_t len)
{
    if (len > SIZE_MAX - sizeof(cf_json_hdr))
        return NULL;
    cf_json_hdr *h = malloc(sizeof *h + len);
    if (!h)
        return NULL;
    h->len = len;
    return h + 1;
}

static void cf_json_free(void *p)
{
    if (!p)
        return;
    cf_json_hdr *h = (cf_json_hdr *)p - 1;
    cf_memzero(p, h->len);
    free(h);
}

void cf_json_use_wiping_alloc(void)
{
    json_set_alloc_funcs(cf_json_malloc, cf_json_free);
}

void cf_json_wipe_strings(json_t *doc)
{
    const char *key;
    json_t *v;
    size_t i;
    if (json_is_string(doc))
        cf_memzero((char *)json_string_value(doc), json_string_length(doc));
    else if (json_is_object(doc))
        json_object_foreach(doc, key, v) cf_json_wipe_strings(v);
    else if (json_is_array(doc))
        json_array_foreach(doc, i, v) cf_json_wipe_strings(v);
}

void cf_json_free_text(char *text)
{
    json_malloc_t m;
    json_free_t f;
    /* Wiped here too, for a process without the wiping allocator. */
    if (text)
        cf_memzero(text, strlen(text));
    json_get_alloc_funcs(&m, &f);
    if (f)
        f(text);
    else
        free(text);
}

bool cf_json_copy_text(json_t *obj, const char *name, char *out, size_t len, cf_err code,
                       const char *what)
{
    const char *v = json_string_value(json_object_get(obj, name));
    if (!v)
        v = "";
    CF_ENSUREF(strlen(v) < len, code, "%s: %s is too long", what, name);
    memcpy(out, v, strlen(v) + 1);
    return true;
}
