/*
 * Reader for the known-answer files in this folder (see README.md): records
 * of `name = value` lines separated by blank lines; lines starting with '#'
 * are comments.  Files are found through $COFFER_VECTORS (CTest sets it).
 * Test-only code: it aborts on anything unexpected rather than recovering.
 */
#ifndef CF_KAT_H
#define CF_KAT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto.h"

#define KAT_MAX_FIELDS 16

typedef struct {
    char *text; /* the whole file, split in place */
    char *pos;
} kat_file;

typedef struct {
    const char *name[KAT_MAX_FIELDS];
    const char *value[KAT_MAX_FIELDS];
    size_t n;
} kat_rec;

static inline char *kat_read(const char *file, size_t *len_out)
{
    const char *dir = getenv("COFFER_VECTORS");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/unit/vectors", file);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s (set COFFER_VECTORS)\n", path);
        abort();
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    if (!text || fread(text, 1, (size_t)len, f) != (size_t)len)
        abort();
    fclose(f);
    text[len] = 0;
    if (len_out)
        *len_out = (size_t)len;
    return text;
}

static inline void kat_open(kat_file *k, const char *file)
{
    k->text = kat_read(file, NULL);
    k->pos = k->text;
}

static inline void kat_close(kat_file *k)
{
    free(k->text);
}

/* Next line, NUL-terminated in place; NULL at the end. */
static inline char *kat_line(kat_file *k)
{
    if (*k->pos == 0)
        return NULL;
    char *line = k->pos;
    char *nl = strchr(line, '\n');
    if (nl) {
        *nl = 0;
        k->pos = nl + 1;
    } else {
        k->pos = line + strlen(line);
    }
    return line;
}

static inline int kat_next(kat_file *k, kat_rec *r)
{
    char *line;
    r->n = 0;
    while ((line = kat_line(k)) != NULL) {
        if (line[0] == '#')
            continue;
        if (line[0] == 0) {
            if (r->n)
                return 1;
            continue;
        }
        char *eq = strstr(line, " = ");
        if (!eq || r->n == KAT_MAX_FIELDS)
            abort();
        *eq = 0;
        r->name[r->n] = line;
        r->value[r->n++] = eq + 3;
    }
    return r->n > 0;
}

static inline const char *kat_get(const kat_rec *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->name[i], name) == 0)
            return r->value[i];
    fprintf(stderr, "vector field %s missing\n", name);
    abort();
}

/* Hex field into `out` (capacity `cap`); returns the byte count. */
static inline size_t kat_hex(const kat_rec *r, const char *name, uint8_t *out, size_t cap)
{
    const char *h = kat_get(r, name);
    size_t n = strlen(h) / 2;
    if (n > cap)
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            abort();
        out[i] = (uint8_t)v;
    }
    return n;
}

/* A JSON vector file (a JWK), parsed; the caller json_decref()s it. */
static inline json_t *kat_json(const char *file)
{
    char *text = kat_read(file, NULL);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    if (!j)
        abort();
    return j;
}

/* The key in a JWK vector file, or NULL (with the reason printed). */
static inline cf_pkey *kat_jwk_key(const char *file, bool want_private)
{
    json_t *j = kat_json(file);
    cf_pkey *key = NULL;
    if (!cf_pkey_from_jwk(j, want_private, &key))
        fprintf(stderr, "%s: %s (%s)\n", file, cf_error_detail(), cf_error_where());
    json_decref(j);
    return key;
}

#endif
