/*
 * Bounded buffers.
 *
 * cf_slice is a borrowed {ptr, len} view; it owns nothing.
 * cf_buf is an owned, growable byte buffer with a hard maximum: appends past
 * `max` fail with CF_ERR_TOO_LARGE, so every attacker-fed buffer has a cap.
 * A buffer created with cf_buf_init_secret() takes its storage from the
 * secret allocator (locked, excluded from core dumps) and is wiped whenever
 * it is freed or regrown.  All buffers are wiped on free; that costs little
 * and means a forgotten "secret" flag never leaves key bytes in the heap.
 *
 * cf_cursor reads a slice front to back with overflow-checked typed readers.
 */
#ifndef CF_BUF_H
#define CF_BUF_H

#include <stdint.h>

#include "result.h"

typedef struct {
    const uint8_t *ptr;
    size_t len;
} cf_slice;

typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max;
    bool secret;
} cf_buf;

#define CF_SLICE_STR(s) ((cf_slice){(const uint8_t *)(s), strlen(s)})
#define CF_SLICE_LIT(s) ((cf_slice){(const uint8_t *)(s), sizeof(s) - 1})

static inline cf_slice cf_slice_of(const void *p, size_t len)
{
    return (cf_slice){(const uint8_t *)p, len};
}

static inline cf_slice cf_buf_slice(const cf_buf *b)
{
    return (cf_slice){b->data, b->len};
}

CF_MUST_USE bool cf_slice_eq(cf_slice a, cf_slice b);
CF_MUST_USE bool cf_slice_eq_str(cf_slice a, const char *s);
CF_MUST_USE bool cf_slice_eq_nocase(cf_slice a, const char *s);
CF_MUST_USE bool cf_slice_has_prefix(cf_slice a, const char *prefix);

void cf_buf_init(cf_buf *b, size_t max);
void cf_buf_init_secret(cf_buf *b, size_t max);
/* Wipes and releases the storage; the buffer may be reused after init. */
void cf_buf_free(cf_buf *b);
/* Drops the contents (wiped) but keeps the storage. */
void cf_buf_clear(cf_buf *b);
/* Drops (and wipes) everything past the first `len` bytes: how a decoder
 * that fails takes back what it appended, leaving the caller's bytes. */
void cf_buf_truncate(cf_buf *b, size_t len);

/* A pending append: unless committed, everything appended to the buffer
 * since cf_buf_txn_begin is wiped and the buffer returns to its old length
 * (scope it with CF_SCOPED(cf_buf_txn_end)), so a failed step leaves the
 * caller's buffer as it was. */
typedef struct {
    cf_buf *buf;
    size_t mark;
} cf_buf_txn;

cf_buf_txn cf_buf_txn_begin(cf_buf *b);
void cf_buf_txn_end(cf_buf_txn *t);
/* Keeps `used` of the bytes appended since the mark and wipes the rest. */
void cf_buf_txn_commit(cf_buf_txn *t, size_t used);
CF_MUST_USE bool cf_buf_reserve(cf_buf *b, size_t extra);
CF_MUST_USE bool cf_buf_append(cf_buf *b, const void *p, size_t len);
CF_MUST_USE bool cf_buf_append_slice(cf_buf *b, cf_slice s);
CF_MUST_USE bool cf_buf_append_str(cf_buf *b, const char *s);
CF_MUST_USE bool cf_buf_append_u8(cf_buf *b, uint8_t v);
CF_MUST_USE bool cf_buf_append_be16(cf_buf *b, uint16_t v);
CF_MUST_USE bool cf_buf_append_be32(cf_buf *b, uint32_t v);
CF_MUST_USE bool cf_buf_append_be64(cf_buf *b, uint64_t v);
/* Appends a NUL without counting it in len, so data can be used as a C string. */
CF_MUST_USE bool cf_buf_terminate(cf_buf *b);
/* Returns a writable tail of `len` bytes and counts it as used. */
CF_MUST_USE bool cf_buf_extend(cf_buf *b, size_t len, uint8_t **out);

typedef struct {
    cf_slice in;
    size_t pos;
} cf_cursor;

static inline void cf_cursor_init(cf_cursor *c, cf_slice in)
{
    c->in = in;
    c->pos = 0;
}

static inline size_t cf_cursor_left(const cf_cursor *c)
{
    return c->in.len - c->pos;
}

CF_MUST_USE bool cf_cursor_u8(cf_cursor *c, uint8_t *out);
CF_MUST_USE bool cf_cursor_be16(cf_cursor *c, uint16_t *out);
CF_MUST_USE bool cf_cursor_be32(cf_cursor *c, uint32_t *out);
CF_MUST_USE bool cf_cursor_be64(cf_cursor *c, uint64_t *out);
/* Borrow the next `len` bytes. */
CF_MUST_USE bool cf_cursor_take(cf_cursor *c, size_t len, cf_slice *out);
/* Borrow everything left. */
cf_slice cf_cursor_rest(cf_cursor *c);

#endif
