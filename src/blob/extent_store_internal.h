/*
 * Internals of the extent store (extent_store.h), shared by its files:
 *   extent_store.c        the public calls: checks, the writer's state,
 *                         range checks, then the backend's operation
 *   extent_store_files.c  files:DIR
 *   extent_store_rados.c  rados:POOL (the only librados user)
 *
 * A backend's store, writer and reader structs begin with the common ones
 * below, so the public calls can reach the operations table; each backend
 * casts back to its own type.
 */
#ifndef CF_EXTENT_STORE_INTERNAL_H
#define CF_EXTENT_STORE_INTERNAL_H

#include "extent_store.h"

typedef struct {
    const char *kind;
    void (*close)(cf_extent_store *s);
    bool (*create)(cf_extent_store *s, const char *id, cf_extent_store_writer **out);
    bool (*write)(cf_extent_store_writer *w, cf_slice bytes);
    /* Called once, with the total length; success makes the extent visible. */
    bool (*finish)(cf_extent_store_writer *w);
    /* Frees; removes what an unfinished writer (w->finished false) wrote. */
    void (*writer_free)(cf_extent_store_writer *w);
    bool (*reader_open)(cf_extent_store *s, const char *id, cf_extent_store_reader **out);
    /* The range is checked against r->length before the call, len > 0. */
    bool (*read_at)(cf_extent_store_reader *r, uint64_t off, uint8_t *buf, size_t len);
    void (*reader_close)(cf_extent_store_reader *r);
    bool (*remove)(cf_extent_store *s, const char *id);
    bool (*each)(cf_extent_store *s, int64_t older_than, cf_extent_store_each_fn fn, void *ctx,
                 unsigned *partials);
} es_ops;

struct cf_extent_store {
    const es_ops *ops;
};

struct cf_extent_store_writer {
    cf_extent_store *s;
    char id[CF_EXTENT_STORE_ID_LEN + 1];
    uint64_t length; /* bytes accepted so far */
    bool failed, finished;
};

struct cf_extent_store_reader {
    cf_extent_store *s;
    uint64_t length;
};

/* The backends' constructors: `arg` is the spec after "files:" or "rados:";
 * `opt` has every field filled in. */
CF_MUST_USE bool cf_es_files_open(const char *arg, const cf_extent_store_options *opt,
                                  cf_extent_store **out) CF_NONNULL;
CF_MUST_USE bool cf_es_rados_open(const char *arg, const cf_extent_store_options *opt,
                                  cf_extent_store **out) CF_NONNULL;

#endif
