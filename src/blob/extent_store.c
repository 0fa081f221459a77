/*
 * The extent store's public calls (extent_store.h): they parse the spec,
 * check ids and ranges, keep the writer's state (a failed writer stays
 * failed, finish happens once, lengths cannot wrap) and then hand over to
 * the backend's operation (extent_store_internal.h), so each backend only
 * moves bytes.
 */
#include "extent_store_internal.h"

#include <string.h>

#include "crypto.h"

static bool es_is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool cf_extent_store_id_valid(const char *id)
{
    for (size_t i = 0; i < CF_EXTENT_STORE_ID_LEN; i++)
        if (!es_is_lower_hex(id[i]))
            return false;
    return id[CF_EXTENT_STORE_ID_LEN] == '\0';
}

bool cf_extent_store_new_id(char id[CF_EXTENT_STORE_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t r[CF_EXTENT_STORE_ID_LEN / 2];
    CF_GUARD(cf_random_bytes(r, sizeof r));
    for (size_t i = 0; i < sizeof r; i++) {
        id[2 * i] = hex[r[i] >> 4];
        id[2 * i + 1] = hex[r[i] & 15];
    }
    id[CF_EXTENT_STORE_ID_LEN] = '\0';
    return true;
}

#define ES_CHECK_ID(id) \
    CF_ENSURE(cf_extent_store_id_valid(id), CF_ERR_BAD_INPUT, "malformed extent id")

/* ---- open / close ---- */

static bool es_options(const cf_extent_store_options *in, cf_extent_store_options *out)
{
    *out = in ? *in : (cf_extent_store_options){0};
    if (!out->chunk_size)
        out->chunk_size = CF_EXTENT_STORE_CHUNK_DEFAULT;
    if (!out->in_flight)
        out->in_flight = CF_EXTENT_STORE_IN_FLIGHT_DEFAULT;
    if (!out->timeout_s)
        out->timeout_s = CF_EXTENT_STORE_TIMEOUT_DEFAULT;
    CF_ENSURE(out->chunk_size >= CF_EXTENT_STORE_CHUNK_MIN &&
                  out->chunk_size <= CF_EXTENT_STORE_CHUNK_MAX,
              CF_ERR_BAD_INPUT, "extent store chunk size out of range");
    CF_ENSURE(out->in_flight <= CF_EXTENT_STORE_IN_FLIGHT_MAX, CF_ERR_BAD_INPUT,
              "extent store in-flight count out of range");
    CF_ENSURE(out->timeout_s <= CF_SECONDS_PER_HOUR, CF_ERR_BAD_INPUT,
              "extent store timeout out of range");
    return true;
}

bool cf_extent_store_open(const char *spec, const cf_extent_store_options *opt,
                          cf_extent_store **out)
{
    cf_extent_store_options o;
    CF_GUARD(es_options(opt, &o));
    if (strncmp(spec, "files:", 6) == 0 && spec[6])
        return cf_es_files_open(spec + 6, &o, out);
    if (strncmp(spec, "rados:", 6) == 0 && spec[6])
        return cf_es_rados_open(spec + 6, &o, out);
    CF_BAIL(CF_ERR_BAD_INPUT, "extent store: expected files:DIR or rados:POOL[/NS][@CLIENT]");
}

void cf_extent_store_close(cf_extent_store *s)
{
    if (s)
        s->ops->close(s);
}

const char *cf_extent_store_kind(const cf_extent_store *s)
{
    return s->ops->kind;
}

/* ---- writing ---- */

bool cf_extent_store_create(cf_extent_store *s, const char *id, cf_extent_store_writer **out)
{
    ES_CHECK_ID(id);
    CF_GUARD(s->ops->create(s, id, out));
    (*out)->s = s;
    memcpy((*out)->id, id, CF_EXTENT_STORE_ID_LEN + 1);
    (*out)->length = 0;
    (*out)->failed = (*out)->finished = false;
    return true;
}

bool cf_extent_store_write(cf_extent_store_writer *w, cf_slice bytes)
{
    CF_ENSURE(!w->failed && !w->finished, CF_ERR_OPERATION, "extent writer failed or finished");
    CF_ENSURE(w->length + bytes.len >= w->length, CF_ERR_TOO_LARGE, "extent too large");
    if (!bytes.len)
        return true;
    w->failed = true; /* until the backend took the bytes */
    CF_GUARD(w->s->ops->write(w, bytes));
    w->length += bytes.len;
    w->failed = false;
    return true;
}

bool cf_extent_store_finish(cf_extent_store_writer *w, uint64_t *length)
{
    CF_ENSURE(!w->failed && !w->finished, CF_ERR_OPERATION, "extent writer failed or finished");
    w->failed = true;
    CF_GUARD(w->s->ops->finish(w));
    w->failed = false;
    w->finished = true;
    if (length)
        *length = w->length;
    return true;
}

void cf_extent_store_writer_free(cf_extent_store_writer *w)
{
    if (w)
        w->s->ops->writer_free(w);
}

/* ---- reading ---- */

bool cf_extent_store_reader_open(cf_extent_store *s, const char *id, cf_extent_store_reader **out)
{
    ES_CHECK_ID(id);
    CF_GUARD(s->ops->reader_open(s, id, out));
    (*out)->s = s;
    return true;
}

uint64_t cf_extent_store_reader_length(const cf_extent_store_reader *r)
{
    return r->length;
}

bool cf_extent_store_read_at(cf_extent_store_reader *r, uint64_t off, uint8_t *buf, size_t len)
{
    CF_ENSURE(off <= r->length && len <= r->length - off, CF_ERR_BAD_INPUT,
              "read past the end of an extent");
    return !len || r->s->ops->read_at(r, off, buf, len);
}

static bool es_source_read_at(void *ctx, uint64_t off, uint8_t *buf, size_t len)
{
    return cf_extent_store_read_at(ctx, off, buf, len);
}

cf_extent_source cf_extent_store_source(cf_extent_store_reader *r)
{
    return (cf_extent_source){.read_at = es_source_read_at, .ctx = r, .length = r->length};
}

void cf_extent_store_reader_close(cf_extent_store_reader *r)
{
    if (r)
        r->s->ops->reader_close(r);
}

/* ---- removal and the walk ---- */

bool cf_extent_store_remove(cf_extent_store *s, const char *id)
{
    ES_CHECK_ID(id);
    return s->ops->remove(s, id);
}

bool cf_extent_store_each(cf_extent_store *s, int64_t older_than, cf_extent_store_each_fn fn,
                          void *ctx, unsigned *partials)
{
    unsigned count = 0;
    bool ok = s->ops->each(s, older_than, fn, ctx, &count);
    if (partials)
        *partials = count;
    return ok;
}
