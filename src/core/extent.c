/*
 * Extents: a segmented AEAD stream (docs/extent-format.md is the spec; this
 * file follows it section by section).
 *
 * Design:
 * - The extent key is derived once per writer or read, straight into a
 *   reusable GCM context (cf_gcm); the derived bytes are wiped at once, so
 *   the only copy of the key is the context's schedule.
 * - Memory is allocated at begin/read start and never in the loop: the
 *   writer holds one plaintext segment (secret cf_buf) and one sealed
 *   segment; the reader one sealed segment and one plaintext segment
 *   (secret).  Large writes are sealed straight from the caller's slice.
 * - The writer seals a full segment only once more data arrives, because
 *   only then does it know the segment is not the last: a plaintext that is
 *   an exact multiple of the segment size ends with a full last segment, so
 *   every plaintext length has one stored length.
 * - The reader opens a segment into secret memory and calls the sink only
 *   after its tag verified; cf_gcm_open wipes the output on failure.
 */
#include "extent.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "secmem.h"

static const uint8_t cf_extent_magic[4] = {'C', 'F', 'X', 'T'};
static const char cf_extent_info[] = "coffer extent v1"; /* 16 bytes, no NUL */
#define CF_EXTENT_INFO_LEN (sizeof cf_extent_info - 1)
#define CF_EXTENT_MAX_SEGMENTS (UINT64_C(1) << 32)

struct cf_extent_writer {
    cf_extent_sink sink;
    cf_gcm *gcm;
    uint8_t header[CF_EXTENT_HEADER_LEN];
    uint8_t nonce_prefix[CF_EXTENT_NONCE_PREFIX_LEN];
    uint32_t segment_size;
    uint64_t segments;      /* sealed so far = index of the next one */
    uint64_t plaintext_len; /* accepted so far, sealed or pending */
    uint64_t stored_len;    /* handed to the sink so far */
    /* Both grow with the data, up to a segment (plus tag): a small blob
     * does not allocate, zero and wipe a whole segment of secret memory. */
    cf_buf pending;  /* secret: plaintext not yet sealed, < 1 segment */
    uint8_t *sealed; /* ciphertext and tag of the segment being sealed */
    size_t sealed_cap;
    bool failed, finished;
};

/* ---- shared ---- */

static bool cf_extent_segment_size_ok(uint32_t s)
{
    return s >= CF_EXTENT_SEGMENT_MIN && s <= CF_EXTENT_SEGMENT_MAX && (s & (s - 1)) == 0;
}

static unsigned cf_extent_shift(uint32_t s)
{
    return (unsigned)__builtin_ctz(s);
}

static void cf_extent_nonce(const uint8_t prefix[CF_EXTENT_NONCE_PREFIX_LEN], uint64_t index,
                            bool last, uint8_t nonce[CF_GCM_IV_LEN])
{
    memcpy(nonce, prefix, CF_EXTENT_NONCE_PREFIX_LEN);
    nonce[7] = (uint8_t)(index >> 24);
    nonce[8] = (uint8_t)(index >> 16);
    nonce[9] = (uint8_t)(index >> 8);
    nonce[10] = (uint8_t)index;
    nonce[11] = last ? 1 : 0;
}

/* extent_key = HKDF-SHA256(scope key, salt, "coffer extent v1" ‖ key_ref),
 * straight into a GCM context; the derived bytes do not outlive the call. */
static bool cf_extent_key(cf_slice scope_key, const uint8_t *key_ref, const uint8_t *salt,
                          cf_gcm **out)
{
    CF_ENSURE(scope_key.len == CF_EXTENT_SCOPE_KEY_LEN, CF_ERR_INTERNAL,
              "scope key must be 256 bits");
    uint8_t info[CF_EXTENT_INFO_LEN + CF_EXTENT_KEY_REF_LEN];
    memcpy(info, cf_extent_info, CF_EXTENT_INFO_LEN);
    memcpy(info + CF_EXTENT_INFO_LEN, key_ref, CF_EXTENT_KEY_REF_LEN);
    uint8_t key[32];
    bool ok = cf_hkdf_sha256(scope_key, cf_slice_of(salt, CF_EXTENT_SALT_LEN),
                             cf_slice_of(info, sizeof info), key, sizeof key) &&
              cf_gcm_new(cf_slice_of(key, sizeof key), out);
    cf_memzero(key, sizeof key);
    return ok;
}

/* Calls a sink; a callback that fails without raising becomes CF_ERR_IO. */
static bool cf_extent_emit(cf_extent_sink sink, const uint8_t *p, size_t len)
{
    cf_error_clear();
    if (sink.write(sink.ctx, cf_slice_of(p, len)))
        return true;
    if (cf_error_code() == CF_OK)
        CF_RAISE(CF_ERR_IO, "extent sink failed");
    return false;
}

static bool cf_extent_fetch(const cf_extent_source *src, uint64_t off, uint8_t *buf, size_t len)
{
    cf_error_clear();
    if (src->read_at(src->ctx, off, buf, len))
        return true;
    if (cf_error_code() == CF_OK)
        CF_RAISE(CF_ERR_IO, "extent source failed");
    return false;
}

static uint64_t cf_extent_segment_count(uint32_t segment_size, uint64_t plaintext_len)
{
    return plaintext_len == 0 ? 1 : (plaintext_len - 1) / segment_size + 1;
}

/* ---- header ---- */

bool cf_extent_header_parse(cf_slice bytes, cf_extent_header *out)
{
    CF_ENSURE(bytes.len == CF_EXTENT_HEADER_LEN, CF_ERR_BAD_INPUT, "extent header length");
    cf_cursor c;
    cf_cursor_init(&c, bytes);
    cf_slice magic, key_ref, salt, prefix;
    uint8_t shift, reserved1, reserved2;
    CF_GUARD(cf_cursor_take(&c, sizeof cf_extent_magic, &magic));
    CF_GUARD(cf_cursor_u8(&c, &out->version));
    CF_GUARD(cf_cursor_u8(&c, &out->cipher));
    CF_GUARD(cf_cursor_u8(&c, &shift));
    CF_GUARD(cf_cursor_u8(&c, &reserved1));
    CF_GUARD(cf_cursor_take(&c, CF_EXTENT_KEY_REF_LEN, &key_ref));
    CF_GUARD(cf_cursor_take(&c, CF_EXTENT_SALT_LEN, &salt));
    CF_GUARD(cf_cursor_take(&c, CF_EXTENT_NONCE_PREFIX_LEN, &prefix));
    CF_GUARD(cf_cursor_u8(&c, &reserved2));
    CF_ENSURE(cf_cursor_left(&c) == 0, CF_ERR_INTERNAL, "extent header layout");
    CF_ENSURE(memcmp(magic.ptr, cf_extent_magic, sizeof cf_extent_magic) == 0, CF_ERR_BAD_INPUT,
              "not an extent");
    CF_ENSURE(out->version == CF_EXTENT_VERSION, CF_ERR_BAD_INPUT, "unknown extent version");
    CF_ENSURE(out->cipher == CF_EXTENT_CIPHER_AES256_GCM_HKDF ||
                  out->cipher == CF_EXTENT_CIPHER_LAYER,
              CF_ERR_BAD_INPUT, "unknown extent cipher");
    CF_ENSURE(shift >= 12 && shift <= 20, CF_ERR_BAD_INPUT, "extent segment size out of range");
    CF_ENSURE(reserved1 == 0 && reserved2 == 0, CF_ERR_BAD_INPUT, "extent reserved bytes");
    out->segment_size = UINT32_C(1) << shift;
    memcpy(out->key_ref, key_ref.ptr, CF_EXTENT_KEY_REF_LEN);
    memcpy(out->salt, salt.ptr, CF_EXTENT_SALT_LEN);
    memcpy(out->nonce_prefix, prefix.ptr, CF_EXTENT_NONCE_PREFIX_LEN);
    memcpy(out->raw, bytes.ptr, CF_EXTENT_HEADER_LEN);
    return true;
}

static void cf_extent_header_encode(uint32_t segment_size, uint8_t cipher, const uint8_t *key_ref,
                                    const uint8_t *salt, const uint8_t *prefix,
                                    uint8_t out[CF_EXTENT_HEADER_LEN])
{
    memcpy(out, cf_extent_magic, 4);
    out[4] = CF_EXTENT_VERSION;
    out[5] = cipher;
    out[6] = (uint8_t)cf_extent_shift(segment_size);
    out[7] = 0;
    memcpy(out + 8, key_ref, CF_EXTENT_KEY_REF_LEN);
    memcpy(out + 24, salt, CF_EXTENT_SALT_LEN);
    memcpy(out + 56, prefix, CF_EXTENT_NONCE_PREFIX_LEN);
    out[63] = 0;
}

bool cf_extent_stored_length(uint32_t segment_size, uint64_t plaintext_len, uint64_t *out)
{
    CF_ENSURE(cf_extent_segment_size_ok(segment_size), CF_ERR_BAD_INPUT,
              "extent segment size must be a power of two, 4 KiB..1 MiB");
    uint64_t n = cf_extent_segment_count(segment_size, plaintext_len);
    CF_ENSURE(n <= CF_EXTENT_MAX_SEGMENTS, CF_ERR_TOO_LARGE, "extent too large");
    *out = CF_EXTENT_HEADER_LEN + n * CF_EXTENT_TAG_LEN + plaintext_len;
    return true;
}

bool cf_extent_plaintext_length(const cf_extent_header *h, uint64_t stored_len, uint64_t *out)
{
    CF_ENSURE(cf_extent_segment_size_ok(h->segment_size), CF_ERR_BAD_INPUT, "extent segment size");
    const uint64_t t = (uint64_t)h->segment_size + CF_EXTENT_TAG_LEN;
    CF_ENSURE(stored_len >= CF_EXTENT_HEADER_LEN + CF_EXTENT_TAG_LEN, CF_ERR_DECRYPT,
              "extent truncated");
    uint64_t body = stored_len - CF_EXTENT_HEADER_LEN;
    uint64_t n = body / t + (body % t != 0);
    uint64_t last = body - (n - 1) * t;
    CF_ENSURE(n <= CF_EXTENT_MAX_SEGMENTS, CF_ERR_DECRYPT, "extent too long");
    CF_ENSURE(last > CF_EXTENT_TAG_LEN || (n == 1 && last == CF_EXTENT_TAG_LEN), CF_ERR_DECRYPT,
              "extent truncated or extended");
    *out = body - n * CF_EXTENT_TAG_LEN;
    return true;
}

bool cf_extent_read_header(const cf_extent_source *src, cf_extent_header *out)
{
    CF_ENSURE(src->length >= CF_EXTENT_HEADER_LEN, CF_ERR_BAD_INPUT, "extent header truncated");
    uint8_t raw[CF_EXTENT_HEADER_LEN];
    CF_GUARD(cf_extent_fetch(src, 0, raw, sizeof raw));
    return cf_extent_header_parse(cf_slice_of(raw, sizeof raw), out);
}

/* ---- writing ---- */

static bool cf_extent_writer_start(cf_slice scope_key, const uint8_t *key_ref,
                                   uint32_t segment_size, uint8_t cipher, const uint8_t *salt,
                                   const uint8_t *prefix, cf_extent_sink sink, cf_extent_writer *w)
{
    CF_ENSURE(sink.write != NULL, CF_ERR_INTERNAL, "extent sink missing");
    CF_ENSURE(cf_extent_segment_size_ok(segment_size), CF_ERR_BAD_INPUT,
              "extent segment size must be a power of two, 4 KiB..1 MiB");
    w->sink = sink;
    w->segment_size = segment_size;
    memcpy(w->nonce_prefix, prefix, CF_EXTENT_NONCE_PREFIX_LEN);
    cf_extent_header_encode(segment_size, cipher, key_ref, salt, prefix, w->header);
    CF_GUARD(cf_extent_key(scope_key, key_ref, salt, &w->gcm));
    CF_GUARD(cf_extent_emit(w->sink, w->header, sizeof w->header));
    w->stored_len = sizeof w->header;
    return true;
}

static bool cf_extent_writer_new(cf_slice scope_key, const uint8_t *key_ref, uint32_t segment_size,
                                 uint8_t cipher, const uint8_t *salt, const uint8_t *prefix,
                                 cf_extent_sink sink, cf_extent_writer **out)
{
    *out = NULL;
    cf_extent_writer *w = calloc(1, sizeof *w);
    CF_ENSURE_ALLOC(w);
    cf_buf_init_secret(&w->pending, segment_size);
    if (!cf_extent_writer_start(scope_key, key_ref, segment_size, cipher, salt, prefix, sink, w)) {
        cf_extent_writer_free(w);
        return false;
    }
    *out = w;
    return true;
}

bool cf_extent_writer_begin_testing_only(cf_slice scope_key,
                                         const uint8_t key_ref[CF_EXTENT_KEY_REF_LEN],
                                         uint32_t segment_size,
                                         const uint8_t salt[CF_EXTENT_SALT_LEN],
                                         const uint8_t nonce_prefix[CF_EXTENT_NONCE_PREFIX_LEN],
                                         cf_extent_sink sink, cf_extent_writer **out)
{
    return cf_extent_writer_new(scope_key, key_ref, segment_size, CF_EXTENT_CIPHER_AES256_GCM_HKDF,
                                salt, nonce_prefix, sink, out);
}

bool cf_extent_writer_begin_cipher(cf_slice scope_key, const uint8_t key_ref[CF_EXTENT_KEY_REF_LEN],
                                   uint32_t segment_size, uint8_t cipher, cf_extent_sink sink,
                                   cf_extent_writer **out)
{
    uint8_t fresh[CF_EXTENT_SALT_LEN + CF_EXTENT_NONCE_PREFIX_LEN];
    *out = NULL;
    CF_ENSURE(cipher == CF_EXTENT_CIPHER_AES256_GCM_HKDF || cipher == CF_EXTENT_CIPHER_LAYER,
              CF_ERR_BAD_INPUT, "unknown extent cipher");
    CF_GUARD(cf_random_bytes(fresh, sizeof fresh));
    return cf_extent_writer_new(scope_key, key_ref, segment_size, cipher, fresh,
                                fresh + CF_EXTENT_SALT_LEN, sink, out);
}

bool cf_extent_writer_begin(cf_slice scope_key, const uint8_t key_ref[CF_EXTENT_KEY_REF_LEN],
                            uint32_t segment_size, cf_extent_sink sink, cf_extent_writer **out)
{
    return cf_extent_writer_begin_cipher(scope_key, key_ref, segment_size,
                                         CF_EXTENT_CIPHER_AES256_GCM_HKDF, sink, out);
}

/* Seals one segment and hands it to the sink. */
static bool cf_extent_seal(cf_extent_writer *w, cf_slice pt, bool last)
{
    /* Index 2^32 - 1 can only be the last segment. */
    CF_ENSURE(last || w->segments < CF_EXTENT_MAX_SEGMENTS - 1, CF_ERR_TOO_LARGE,
              "extent too large");
    uint8_t nonce[CF_GCM_IV_LEN];
    cf_extent_nonce(w->nonce_prefix, w->segments, last, nonce);
    if (pt.len + CF_EXTENT_TAG_LEN > w->sealed_cap) {
        uint8_t *grown = realloc(w->sealed, pt.len + CF_EXTENT_TAG_LEN);
        CF_ENSURE_ALLOC(grown);
        w->sealed = grown;
        w->sealed_cap = pt.len + CF_EXTENT_TAG_LEN;
    }
    CF_GUARD(cf_gcm_seal(w->gcm, nonce, cf_slice_of(w->header, sizeof w->header), pt, w->sealed,
                         w->sealed + pt.len));
    CF_GUARD(cf_extent_emit(w->sink, w->sealed, pt.len + CF_EXTENT_TAG_LEN));
    w->segments++;
    w->stored_len += pt.len + CF_EXTENT_TAG_LEN;
    return true;
}

static bool cf_extent_write_all(cf_extent_writer *w, cf_slice data)
{
    const size_t s = w->segment_size;
    while (data.len > 0) {
        if (w->pending.len == s) {
            /* More data follows, so the buffered segment is not the last.
             * Its plaintext stays in secret memory until overwritten or
             * wiped by cf_extent_writer_free. */
            CF_GUARD(cf_extent_seal(w, cf_buf_slice(&w->pending), false));
            w->pending.len = 0;
        } else if (w->pending.len == 0 && data.len > s) {
            /* A whole segment with more after it: seal it in place. */
            CF_GUARD(cf_extent_seal(w, cf_slice_of(data.ptr, s), false));
            data.ptr += s;
            data.len -= s;
            w->plaintext_len += s;
        } else {
            size_t n = s - w->pending.len;
            if (n > data.len)
                n = data.len;
            CF_GUARD(cf_buf_append(&w->pending, data.ptr, n));
            data.ptr += n;
            data.len -= n;
            w->plaintext_len += n;
        }
    }
    return true;
}

bool cf_extent_write(cf_extent_writer *w, cf_slice data)
{
    CF_ENSURE(!w->failed && !w->finished, CF_ERR_OPERATION, "extent writer is closed");
    if (!cf_extent_write_all(w, data)) {
        w->failed = true;
        return false;
    }
    return true;
}

bool cf_extent_finish(cf_extent_writer *w, uint64_t *plaintext_len, uint64_t *stored_len)
{
    CF_ENSURE_REF(w);
    CF_ENSURE(!w->failed && !w->finished, CF_ERR_OPERATION, "extent writer is closed");
    w->finished = true;
    if (!cf_extent_seal(w, cf_buf_slice(&w->pending), true)) {
        w->failed = true;
        return false;
    }
    cf_buf_clear(&w->pending);
    if (plaintext_len)
        *plaintext_len = w->plaintext_len;
    if (stored_len)
        *stored_len = w->stored_len;
    return true;
}

void cf_extent_writer_free(cf_extent_writer *w)
{
    if (!w)
        return;
    cf_gcm_free(w->gcm);
    cf_buf_free(&w->pending); /* wipes the whole capacity */
    free(w->sealed);          /* ciphertext only */
    cf_memzero(w, sizeof *w);
    free(w);
}

/* ---- reading ---- */

typedef struct {
    cf_extent_header h;
    cf_gcm *gcm;
    uint8_t *sealed; /* segment_size + tag */
    uint8_t *plain;  /* secret, plain_cap: a segment, or the whole extent if shorter */
    size_t plain_cap;
} cf_extent_reader;

/* Opens segment `index` (holding `pt_len` plaintext bytes) into r->plain. */
static bool cf_extent_open_segment(cf_extent_reader *r, const cf_extent_source *src, uint64_t index,
                                   uint64_t count, size_t pt_len)
{
    const uint64_t t = (uint64_t)r->h.segment_size + CF_EXTENT_TAG_LEN;
    CF_GUARD(cf_extent_fetch(src, CF_EXTENT_HEADER_LEN + index * t, r->sealed,
                             pt_len + CF_EXTENT_TAG_LEN));
    uint8_t nonce[CF_GCM_IV_LEN];
    cf_extent_nonce(r->h.nonce_prefix, index, index == count - 1, nonce);
    return cf_gcm_open(r->gcm, nonce, cf_slice_of(r->h.raw, sizeof r->h.raw),
                       cf_slice_of(r->sealed, pt_len), r->sealed + pt_len, r->plain);
}

static bool cf_extent_read_range(cf_extent_reader *r, cf_slice scope_key,
                                 const cf_extent_source *src, uint64_t offset, uint64_t length,
                                 cf_extent_sink sink)
{
    CF_ENSURE(sink.write != NULL && src->read_at != NULL, CF_ERR_INTERNAL, "extent callbacks");
    CF_ENSURE(scope_key.len == CF_EXTENT_SCOPE_KEY_LEN, CF_ERR_INTERNAL,
              "scope key must be 256 bits");
    CF_GUARD(cf_extent_read_header(src, &r->h));
    uint64_t total;
    CF_GUARD(cf_extent_plaintext_length(&r->h, src->length, &total));
    CF_ENSURE(offset <= total && length <= total - offset, CF_ERR_BAD_INPUT,
              "range past the end of the extent");
    const uint64_t s = r->h.segment_size;
    const uint64_t count = cf_extent_segment_count(r->h.segment_size, total);
    uint64_t first = offset / s, last;
    if (length > 0) {
        last = (offset + length - 1) / s;
    } else {
        first = first < count - 1 ? first : count - 1;
        last = first;
    }
    CF_GUARD(cf_extent_key(scope_key, r->h.key_ref, r->h.salt, &r->gcm));
    /* Buffers of one segment, or of the whole extent when it is shorter
     * (small blobs are the common case). */
    const size_t seg_buf = (size_t)(total < s ? (total ? total : 1) : s);
    r->sealed = malloc(seg_buf + CF_EXTENT_TAG_LEN);
    CF_ENSURE_ALLOC(r->sealed);
    r->plain_cap = seg_buf;
    r->plain = cf_secret_alloc(seg_buf);
    CF_ENSURE_ALLOC(r->plain);
    const uint64_t end = offset + length;
    for (uint64_t i = first; i <= last; i++) {
        const uint64_t start = i * s;
        const size_t pt_len = (size_t)(i == count - 1 ? total - start : s);
        CF_GUARD(cf_extent_open_segment(r, src, i, count, pt_len));
        uint64_t lo = offset > start ? offset - start : 0;
        uint64_t hi = end - start < pt_len ? end - start : pt_len;
        if (hi > lo)
            CF_GUARD(cf_extent_emit(sink, r->plain + lo, (size_t)(hi - lo)));
    }
    return true;
}

bool cf_extent_read(cf_slice scope_key, const cf_extent_source *src, uint64_t offset,
                    uint64_t length, cf_extent_sink sink)
{
    cf_extent_reader r = {0};
    bool ok = cf_extent_read_range(&r, scope_key, src, offset, length, sink);
    cf_gcm_free(r.gcm);
    free(r.sealed);
    cf_secret_free(r.plain, r.plain_cap);
    return ok;
}
