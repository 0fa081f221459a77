/*
 * Bounded buffers; see buf.h for the invariants:
 *   len <= cap, cap <= max (+1 for a terminator), data == NULL iff cap == 0.
 */
#include "buf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "secmem.h"

bool cf_slice_eq(cf_slice a, cf_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool cf_slice_eq_str(cf_slice a, const char *s)
{
    return cf_slice_eq(a, cf_slice_of(s, strlen(s)));
}

bool cf_slice_eq_nocase(cf_slice a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && (n == 0 || strncasecmp((const char *)a.ptr, s, n) == 0);
}

bool cf_slice_has_prefix(cf_slice a, const char *prefix)
{
    size_t n = strlen(prefix);
    return n == 0 || (a.len >= n && memcmp(a.ptr, prefix, n) == 0);
}

void cf_buf_init(cf_buf *b, size_t max)
{
    *b = (cf_buf){.max = max};
}

void cf_buf_init_secret(cf_buf *b, size_t max)
{
    *b = (cf_buf){.max = max, .secret = true};
}

static void cf_buf_release(uint8_t *data, size_t cap, bool secret)
{
    if (!data)
        return;
    if (secret) {
        cf_secret_free(data, cap);
    } else {
        cf_memzero(data, cap);
        free(data);
    }
}

void cf_buf_free(cf_buf *b)
{
    cf_buf_release(b->data, b->cap, b->secret);
    b->data = NULL;
    b->len = b->cap = 0;
}

void cf_buf_clear(cf_buf *b)
{
    cf_buf_truncate(b, 0);
}

void cf_buf_truncate(cf_buf *b, size_t len)
{
    if (len >= b->len)
        return;
    cf_memzero(b->data + len, b->len - len);
    b->len = len;
}

cf_buf_txn cf_buf_txn_begin(cf_buf *b)
{
    return (cf_buf_txn){b, b->len};
}

void cf_buf_txn_end(cf_buf_txn *t)
{
    if (!t->buf || t->buf->len <= t->mark)
        return;
    cf_memzero(t->buf->data + t->mark, t->buf->len - t->mark);
    t->buf->len = t->mark;
}

void cf_buf_txn_commit(cf_buf_txn *t, size_t used)
{
    size_t reserved = t->buf->len - t->mark;
    if (used < reserved)
        cf_memzero(t->buf->data + t->mark + used, reserved - used);
    t->buf->len = t->mark + used;
    t->buf = NULL;
}

bool cf_buf_reserve(cf_buf *b, size_t extra)
{
    CF_ENSURE(extra <= b->max && b->len <= b->max - extra, CF_ERR_TOO_LARGE, NULL);
    size_t need = b->len + extra + 1; /* room for a terminator */
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    uint8_t *data = b->secret ? cf_secret_alloc(cap) : malloc(cap);
    CF_ENSURE_ALLOC(data);
    if (b->len)
        memcpy(data, b->data, b->len);
    cf_buf_release(b->data, b->cap, b->secret);
    b->data = data;
    b->cap = cap;
    return true;
}

bool cf_buf_append(cf_buf *b, const void *p, size_t len)
{
    if (len == 0)
        return true;
    CF_GUARD(cf_buf_reserve(b, len));
    memcpy(b->data + b->len, p, len);
    b->len += len;
    return true;
}

bool cf_buf_append_slice(cf_buf *b, cf_slice s)
{
    return cf_buf_append(b, s.ptr, s.len);
}

bool cf_buf_append_str(cf_buf *b, const char *s)
{
    return cf_buf_append(b, s, strlen(s));
}

bool cf_buf_append_u8(cf_buf *b, uint8_t v)
{
    return cf_buf_append(b, &v, 1);
}

bool cf_buf_append_be16(cf_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return cf_buf_append(b, x, sizeof x);
}

bool cf_buf_append_be32(cf_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return cf_buf_append(b, x, sizeof x);
}

bool cf_buf_append_be64(cf_buf *b, uint64_t v)
{
    CF_GUARD(cf_buf_append_be32(b, (uint32_t)(v >> 32)));
    return cf_buf_append_be32(b, (uint32_t)v);
}

bool cf_buf_terminate(cf_buf *b)
{
    CF_GUARD(cf_buf_reserve(b, 0));
    b->data[b->len] = 0;
    return true;
}

bool cf_buf_extend(cf_buf *b, size_t len, uint8_t **out)
{
    CF_GUARD(cf_buf_reserve(b, len));
    *out = b->data + b->len;
    b->len += len;
    return true;
}

/* The next `len` bytes as a slice.  An empty input may have no storage at
 * all ({NULL, 0}, an empty body): then the slice is {NULL, 0} too, never
 * NULL plus an offset. */
static cf_slice cf_cursor_here(const cf_cursor *c, size_t len)
{
    return c->in.ptr ? cf_slice_of(c->in.ptr + c->pos, len) : cf_slice_of(NULL, 0);
}

bool cf_cursor_take(cf_cursor *c, size_t len, cf_slice *out)
{
    CF_ENSURE(len <= cf_cursor_left(c), CF_ERR_BAD_INPUT, "truncated input");
    *out = cf_cursor_here(c, len);
    c->pos += len;
    return true;
}

cf_slice cf_cursor_rest(cf_cursor *c)
{
    cf_slice s = cf_cursor_here(c, cf_cursor_left(c));
    c->pos = c->in.len;
    return s;
}

bool cf_cursor_u8(cf_cursor *c, uint8_t *out)
{
    cf_slice s;
    CF_GUARD(cf_cursor_take(c, 1, &s));
    *out = s.ptr[0];
    return true;
}

bool cf_cursor_be16(cf_cursor *c, uint16_t *out)
{
    cf_slice s;
    CF_GUARD(cf_cursor_take(c, 2, &s));
    *out = (uint16_t)((s.ptr[0] << 8) | s.ptr[1]);
    return true;
}

bool cf_cursor_be32(cf_cursor *c, uint32_t *out)
{
    cf_slice s;
    CF_GUARD(cf_cursor_take(c, 4, &s));
    *out = ((uint32_t)s.ptr[0] << 24) | ((uint32_t)s.ptr[1] << 16) | ((uint32_t)s.ptr[2] << 8) |
           s.ptr[3];
    return true;
}

bool cf_cursor_be64(cf_cursor *c, uint64_t *out)
{
    /* All or nothing: with fewer than 8 bytes left nothing is consumed. */
    CF_ENSURE(cf_cursor_left(c) >= 8, CF_ERR_BAD_INPUT, "truncated input");
    uint32_t hi, lo;
    CF_GUARD(cf_cursor_be32(c, &hi));
    CF_GUARD(cf_cursor_be32(c, &lo));
    *out = ((uint64_t)hi << 32) | lo;
    return true;
}
