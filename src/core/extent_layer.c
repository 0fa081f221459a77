/*
 * The infrastructure layer of an extent (docs/extent-format.md, "Infrastructure
 * layer"): an outer extent whose plaintext is an inner extent.
 *
 * Writing needs nothing new: the inner writer's sink is the outer writer.
 * Reading turns the outer extent back into a source of the inner extent's
 * stored bytes.  The inner reader asks for header, segments and tags at
 * arbitrary offsets; each request is served from a cache of one decrypted
 * outer segment, so a sequential read decrypts every outer segment once.
 * Nothing leaves the cache before its outer tag has verified (cf_extent_read
 * hands out only authenticated segments).
 */
#include <stdlib.h>
#include <string.h>

#include "extent.h"
#include "secmem.h"

struct cf_extent_layer {
    uint8_t key[CF_EXTENT_SCOPE_KEY_LEN];
    const cf_extent_source *outer;
    uint64_t inner_len; /* the outer extent's plaintext length */
    uint32_t seg;       /* outer segment size */
    uint8_t *cache;     /* one outer segment's plaintext (secret memory) */
    size_t cache_len;
    uint64_t cache_index; /* UINT64_MAX = empty */
};

static bool cf_layer_write(void *ctx, cf_slice bytes)
{
    return cf_extent_write(ctx, bytes);
}

cf_extent_sink cf_extent_layer_sink(cf_extent_writer *outer)
{
    return (cf_extent_sink){cf_layer_write, outer};
}

bool cf_extent_layer_open(cf_slice outer_key, const cf_extent_source *outer, cf_extent_layer **out)
{
    *out = NULL;
    CF_ENSURE(outer_key.len == CF_EXTENT_SCOPE_KEY_LEN, CF_ERR_BAD_INPUT, "layer key length");
    cf_extent_header h;
    CF_GUARD(cf_extent_read_header(outer, &h));
    CF_ENSURE(h.cipher == CF_EXTENT_CIPHER_LAYER, CF_ERR_DECRYPT,
              "the extent lacks its infrastructure layer");
    uint64_t inner_len;
    CF_GUARD(cf_extent_plaintext_length(&h, outer->length, &inner_len));
    cf_extent_layer *l = cf_secret_alloc(sizeof *l);
    CF_ENSURE_ALLOC(l);
    memset(l, 0, sizeof *l);
    memcpy(l->key, outer_key.ptr, sizeof l->key);
    l->outer = outer;
    l->inner_len = inner_len;
    l->seg = h.segment_size;
    l->cache_index = UINT64_MAX;
    l->cache = cf_secret_alloc(l->seg);
    if (!l->cache) {
        cf_extent_layer_free(l);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    *out = l;
    return true;
}

static bool cf_layer_collect(void *ctx, cf_slice bytes)
{
    cf_extent_layer *l = ctx;
    CF_ENSURE(bytes.len <= l->seg - l->cache_len, CF_ERR_INTERNAL, "layer segment overrun");
    memcpy(l->cache + l->cache_len, bytes.ptr, bytes.len);
    l->cache_len += bytes.len;
    return true;
}

/* Decrypts outer segment `index` into the cache. */
static bool cf_layer_load(cf_extent_layer *l, uint64_t index)
{
    if (l->cache_index == index)
        return true;
    uint64_t start = index * l->seg;
    uint64_t len = l->inner_len - start < l->seg ? l->inner_len - start : l->seg;
    l->cache_index = UINT64_MAX;
    l->cache_len = 0;
    CF_GUARD(cf_extent_read(cf_slice_of(l->key, sizeof l->key), l->outer, start, len,
                            (cf_extent_sink){cf_layer_collect, l}));
    CF_ENSURE(l->cache_len == len, CF_ERR_DECRYPT, "layer segment short");
    l->cache_index = index;
    return true;
}

static bool cf_layer_read_at(void *ctx, uint64_t off, uint8_t *buf, size_t len)
{
    cf_extent_layer *l = ctx;
    CF_ENSURE(off <= l->inner_len && len <= l->inner_len - off, CF_ERR_DECRYPT,
              "read past the inner extent");
    while (len) {
        uint64_t index = off / l->seg;
        CF_GUARD(cf_layer_load(l, index));
        size_t at = (size_t)(off - index * l->seg);
        size_t k = l->cache_len - at < len ? l->cache_len - at : len;
        memcpy(buf, l->cache + at, k);
        buf += k;
        off += k;
        len -= k;
    }
    return true;
}

cf_extent_source cf_extent_layer_source(cf_extent_layer *l)
{
    return (cf_extent_source){cf_layer_read_at, l, l->inner_len};
}

void cf_extent_layer_free(cf_extent_layer *l)
{
    if (!l)
        return;
    cf_secret_free(l->cache, l->seg);
    cf_secret_free(l, sizeof *l);
}
