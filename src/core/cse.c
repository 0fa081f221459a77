/*
 * Client-side encryption: body lengths, ranges, and the region streams
 * (docs/client-side-encryption.md, "The body" and "Ranges").
 *
 * Design:
 * - Memory is allocated when a stream starts and never in its loop.  The
 *   encryptor streams: a region's nonce, then its ciphertext as the
 *   plaintext arrives (through a small scratch buffer), then its tag; it
 *   holds no plaintext.  The decryptor decrypts a region's ciphertext as it
 *   arrives into one region of plaintext (secret) and releases it only
 *   once the tag has verified.  No byte is copied on the way but into the
 *   caller's sink.
 * - The format binds no position into a region (no AAD), so the decryptor
 *   checks each region's nonce against the nonce its position would have
 *   under each SDK's numbering, and requires one numbering for the whole
 *   body: a swapped, moved or repeated region fails.  The tag is checked
 *   first, so a damaged nonce reads as damage, not as reordering.
 * - The encryptor emits a region as soon as it is full: unlike the extent
 *   format, nothing marks the last region, so there is nothing to wait for.
 * - Version 1.0 (CBC) is read with the last block held back until the end,
 *   where the padding is checked; nothing in 1.0 authenticates the body.
 */
#include "cse.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "cse_internal.h"
#include "secmem.h"

#define CF_CSE_V1_BLOCK 16
#define CF_CSE_V1_CHUNK (64 * CF_KIB) /* CBC bytes decrypted per call */
#define CF_CSE_SCRATCH (64 * CF_KIB)  /* ciphertext the encryptor hands on per call */

/* The ways the SDKs number regions in their nonces (the spec's table). */
enum {
    CF_CSE_NONCE_PYTHON = 1u, /* index, 12-byte big-endian; Coffer writes this */
    CF_CSE_NONCE_JAVA = 2u,   /* index, 8 bytes big-endian, then 4 zero bytes */
    CF_CSE_NONCE_DOTNET = 4u, /* 4 zero bytes, then index + 1, 8 bytes little-endian */
    CF_CSE_NONCE_ANY = 7u,
};

static void cf_cse_nonce(unsigned scheme, uint64_t index, uint8_t nonce[CF_CSE_NONCE_LEN])
{
    memset(nonce, 0, CF_CSE_NONCE_LEN);
    for (unsigned i = 0; i < 8; i++) {
        switch (scheme) {
        case CF_CSE_NONCE_PYTHON: nonce[11 - i] = (uint8_t)(index >> (8 * i)); break;
        case CF_CSE_NONCE_JAVA: nonce[i] = (uint8_t)(index >> (56 - 8 * i)); break;
        case CF_CSE_NONCE_DOTNET: nonce[4 + i] = (uint8_t)((index + 1) >> (8 * i)); break;
        default: break;
        }
    }
}

static bool cf_cse_region_len_ok(uint32_t region_len)
{
    return region_len >= CF_CSE_REGION_MIN && region_len <= CF_CSE_REGION_MAX;
}

/* Calls a sink; a callback that fails without raising becomes CF_ERR_IO. */
static bool cf_cse_emit(cf_cse_sink sink, const uint8_t *p, size_t len)
{
    cf_error_clear();
    if (sink.write(sink.ctx, cf_slice_of(p, len)))
        return true;
    if (cf_error_code() == CF_OK)
        CF_RAISE(CF_ERR_IO, "client-side encryption sink failed");
    return false;
}

/* ---- lengths and ranges ---- */

bool cf_cse_body_length(uint32_t region_len, uint64_t plaintext_len, uint64_t *out)
{
    CF_ENSURE(cf_cse_region_len_ok(region_len), CF_ERR_BAD_INPUT,
              "client-side encryption region size out of range");
    uint64_t regions = plaintext_len / region_len + (plaintext_len % region_len != 0);
    CF_ENSURE(regions <= (UINT64_MAX - plaintext_len) / CF_CSE_REGION_OVERHEAD, CF_ERR_TOO_LARGE,
              "plaintext too large");
    *out = plaintext_len + regions * CF_CSE_REGION_OVERHEAD;
    return true;
}

bool cf_cse_plaintext_length(uint32_t region_len, uint64_t body_len, uint64_t *out)
{
    CF_ENSURE(cf_cse_region_len_ok(region_len), CF_ERR_BAD_INPUT,
              "client-side encryption region size out of range");
    const uint64_t stored = (uint64_t)region_len + CF_CSE_REGION_OVERHEAD;
    uint64_t full = body_len / stored, rest = body_len % stored;
    /* A last region holds at least one byte; a lone empty region is tolerated. */
    CF_ENSURE(rest == 0 || rest > CF_CSE_REGION_OVERHEAD ||
                  (rest == CF_CSE_REGION_OVERHEAD && full == 0),
              CF_ERR_DECRYPT,
              "encrypted body length does not fit its region size (truncated or extended)");
    *out = full * region_len + (rest ? rest - CF_CSE_REGION_OVERHEAD : 0);
    return true;
}

static bool cf_cse_range_map_v1(uint64_t body_len, uint64_t offset, uint64_t length,
                                cf_cse_range *out)
{
    CF_ENSURE(offset == 0 && length == UINT64_MAX, CF_ERR_UNSUPPORTED,
              "ranges of protocol 1.0 blobs are not supported; read the whole blob");
    CF_ENSURE(body_len > 0 && body_len % CF_CSE_V1_BLOCK == 0, CF_ERR_DECRYPT,
              "protocol 1.0 body is not a non-zero multiple of 16 bytes (truncated?)");
    *out = (cf_cse_range){.fetch_length = body_len, .length = UINT64_MAX, .body_length = body_len};
    return true;
}

bool cf_cse_range_map(const cf_cse_meta *meta, uint64_t body_len, uint64_t offset, uint64_t length,
                      cf_cse_range *out)
{
    if (meta->protocol == CF_CSE_V1_0)
        return cf_cse_range_map_v1(body_len, offset, length, out);
    const uint32_t r = meta->region_len;
    uint64_t plaintext_len;
    CF_GUARD(cf_cse_plaintext_length(r, body_len, &plaintext_len));
    CF_ENSURE(offset <= plaintext_len, CF_ERR_BAD_INPUT, "range starts past the end of the blob");
    if (length > plaintext_len - offset)
        length = plaintext_len - offset;
    *out = (cf_cse_range){.body_length = body_len, .length = length};
    if (length == 0)
        return true;
    const uint64_t stored = (uint64_t)r + CF_CSE_REGION_OVERHEAD;
    uint64_t first = offset / r, last = (offset + length - 1) / r;
    uint64_t end = (last + 1) * stored < body_len ? (last + 1) * stored : body_len;
    out->first_region = first;
    out->fetch_offset = first * stored;
    out->fetch_length = end - out->fetch_offset;
    out->skip = offset - first * r;
    return true;
}

/* ---- encryptor ---- */

struct cf_cse_encryptor {
    cf_cse_sink sink;
    cf_gcm *gcm;
    uint32_t region_len;
    uint32_t region_fill;   /* plaintext bytes in the open region; 0: none open */
    uint64_t regions;       /* sealed so far = index of the open or next region */
    uint64_t plaintext_len; /* accepted so far */
    uint64_t body_len;      /* handed to the sink so far */
    uint8_t *scratch;       /* ciphertext on its way to the sink */
    bool failed, finished;
};

bool cf_cse_encryptor_new(const cf_cse_key *key, uint32_t region_len, cf_cse_sink sink,
                          cf_cse_encryptor **out)
{
    CF_ENSURE(cf_cse_region_len_ok(region_len), CF_ERR_BAD_INPUT,
              "client-side encryption region size out of range");
    cf_cse_encryptor *enc = calloc(1, sizeof *enc);
    CF_ENSURE_ALLOC(enc);
    enc->sink = sink;
    enc->region_len = region_len;
    enc->scratch = malloc(CF_CSE_SCRATCH);
    if (!enc->scratch || !cf_gcm_new(cf_cse_key_slice(key), &enc->gcm)) {
        if (!enc->scratch)
            CF_RAISE(CF_ERR_NOMEM, NULL);
        cf_cse_encryptor_free(enc);
        return false;
    }
    *out = enc;
    return true;
}

void cf_cse_encryptor_free(cf_cse_encryptor *enc)
{
    if (!enc)
        return;
    cf_gcm_free(enc->gcm);
    free(enc->scratch);
    free(enc);
}

static bool cf_cse_emit_counted(cf_cse_encryptor *enc, const uint8_t *p, size_t len)
{
    CF_GUARD(cf_cse_emit(enc->sink, p, len));
    enc->body_len += len;
    return true;
}

static bool cf_cse_open_new_region(cf_cse_encryptor *enc)
{
    uint8_t nonce[CF_CSE_NONCE_LEN];
    cf_cse_nonce(CF_CSE_NONCE_PYTHON, enc->regions, nonce);
    CF_GUARD(cf_gcm_begin(enc->gcm, nonce, (cf_slice){0}, true));
    return cf_cse_emit_counted(enc, nonce, sizeof nonce);
}

static bool cf_cse_close_region(cf_cse_encryptor *enc)
{
    uint8_t tag[CF_CSE_TAG_LEN];
    CF_GUARD(cf_gcm_seal_end(enc->gcm, tag));
    CF_GUARD(cf_cse_emit_counted(enc, tag, sizeof tag));
    enc->regions++;
    enc->region_fill = 0;
    return true;
}

static bool cf_cse_encrypt_some(cf_cse_encryptor *enc, cf_slice in)
{
    cf_cursor c;
    cf_cursor_init(&c, in);
    while (cf_cursor_left(&c) > 0) {
        if (enc->region_fill == 0)
            CF_GUARD(cf_cse_open_new_region(enc));
        size_t n = enc->region_len - enc->region_fill;
        n = n < CF_CSE_SCRATCH ? n : CF_CSE_SCRATCH;
        n = n < cf_cursor_left(&c) ? n : cf_cursor_left(&c);
        cf_slice part;
        CF_GUARD(cf_cursor_take(&c, n, &part));
        CF_GUARD(cf_gcm_update(enc->gcm, part, enc->scratch));
        CF_GUARD(cf_cse_emit_counted(enc, enc->scratch, n));
        enc->region_fill += (uint32_t)n;
        if (enc->region_fill == enc->region_len)
            CF_GUARD(cf_cse_close_region(enc));
    }
    enc->plaintext_len += in.len;
    return true;
}

bool cf_cse_encrypt_update(cf_cse_encryptor *enc, cf_slice plaintext)
{
    CF_ENSURE(!enc->failed && !enc->finished, CF_ERR_INTERNAL,
              "client-side encryptor already failed or finished");
    enc->failed = !cf_cse_encrypt_some(enc, plaintext);
    return !enc->failed;
}

bool cf_cse_encrypt_finish(cf_cse_encryptor *enc, uint64_t *plaintext_len, uint64_t *body_len)
{
    CF_ENSURE_REF(enc);
    CF_ENSURE(!enc->failed && !enc->finished, CF_ERR_INTERNAL,
              "client-side encryptor already failed or finished");
    /* An empty plaintext has no region at all, as every SDK writes it. */
    if (enc->region_fill > 0 && !cf_cse_close_region(enc)) {
        enc->failed = true;
        return false;
    }
    enc->finished = true;
    if (plaintext_len)
        *plaintext_len = enc->plaintext_len;
    if (body_len)
        *body_len = enc->body_len;
    return true;
}

/* ---- decryptor ---- */

struct cf_cse_decryptor {
    cf_cse_protocol protocol;
    cf_cse_sink sink;
    cf_cse_range range;
    uint64_t received;     /* body bytes consumed so far */
    uint64_t next_region;  /* index of the open or next region */
    uint64_t skip_left;    /* plaintext still to drop */
    uint64_t deliver_left; /* plaintext still to hand out */
    unsigned schemes;      /* nonce numberings consistent with every region so far */
    size_t stored_len;     /* bytes of a full region (2.x), of a CBC chunk plus one block (1.0) */
    cf_buf plain;          /* secret: one region's (one chunk's) plaintext */
    /* 2.x: the open region, opened as its bytes arrive */
    cf_gcm *gcm;
    size_t region_stored; /* its length in the body; 0: none open */
    size_t region_pos;    /* its bytes consumed so far */
    uint8_t nonce[CF_CSE_NONCE_LEN];
    uint8_t tag[CF_CSE_TAG_LEN];
    /* 1.0 */
    cf_cse_key *key;               /* a copy, for CBC */
    uint8_t iv[CF_CSE_CBC_IV_LEN]; /* the previous ciphertext block */
    uint8_t *held;                 /* body bytes not yet decrypted: < stored_len */
    size_t held_len;
    bool failed, finished;
};

void cf_cse_decryptor_free(cf_cse_decryptor *dec)
{
    if (!dec)
        return;
    cf_gcm_free(dec->gcm);
    cf_cse_key_free(dec->key);
    cf_buf_free(&dec->plain);
    free(dec->held);
    free(dec);
}

static bool cf_cse_decryptor_setup(cf_cse_decryptor *dec, const cf_cse_key *key,
                                   const cf_cse_meta *meta)
{
    if (meta->protocol == CF_CSE_V1_0) {
        CF_ENSURE(dec->range.fetch_offset == 0 && dec->range.skip == 0 &&
                      dec->range.fetch_length == dec->range.body_length,
                  CF_ERR_UNSUPPORTED, "protocol 1.0 blobs are read whole");
        dec->stored_len = CF_CSE_V1_CHUNK + CF_CSE_V1_BLOCK;
        memcpy(dec->iv, meta->content_iv, sizeof dec->iv);
        cf_buf_init_secret(&dec->plain, dec->stored_len + CF_CSE_V1_BLOCK);
        CF_GUARD(cf_cse_key_from_bytes(cf_cse_key_slice(key), &dec->key));
        dec->held = malloc(dec->stored_len);
        CF_ENSURE_ALLOC(dec->held);
    } else {
        CF_ENSURE(cf_cse_region_len_ok(meta->region_len), CF_ERR_BAD_INPUT,
                  "client-side encryption region size out of range");
        dec->stored_len = (size_t)meta->region_len + CF_CSE_REGION_OVERHEAD;
        cf_buf_init_secret(&dec->plain, meta->region_len);
        CF_GUARD(cf_gcm_new(cf_cse_key_slice(key), &dec->gcm));
    }
    return cf_buf_reserve(&dec->plain, dec->plain.max);
}

bool cf_cse_decryptor_new(const cf_cse_key *key, const cf_cse_meta *meta, const cf_cse_range *range,
                          cf_cse_sink sink, cf_cse_decryptor **out)
{
    CF_ENSURE(range->fetch_length <= range->body_length &&
                  range->fetch_offset <= range->body_length - range->fetch_length,
              CF_ERR_BAD_INPUT, "range outside the body");
    cf_cse_decryptor *dec = calloc(1, sizeof *dec);
    CF_ENSURE_ALLOC(dec);
    dec->protocol = meta->protocol;
    dec->sink = sink;
    dec->range = *range;
    dec->next_region = range->first_region;
    dec->skip_left = range->skip;
    dec->deliver_left = range->length;
    dec->schemes = CF_CSE_NONCE_ANY;
    if (!cf_cse_decryptor_setup(dec, key, meta)) {
        cf_cse_decryptor_free(dec);
        return false;
    }
    *out = dec;
    return true;
}

/* Hands out what of a region's plaintext falls inside the range. */
static bool cf_cse_deliver(cf_cse_decryptor *dec, cf_slice plaintext)
{
    uint64_t drop = dec->skip_left < plaintext.len ? dec->skip_left : plaintext.len;
    dec->skip_left -= drop;
    uint64_t give = plaintext.len - drop;
    if (give > dec->deliver_left)
        give = dec->deliver_left;
    dec->deliver_left -= give;
    return give == 0 || cf_cse_emit(dec->sink, plaintext.ptr + drop, (size_t)give);
}

/* Narrows the nonce numberings to those that give this region's nonce. */
static bool cf_cse_check_position(cf_cse_decryptor *dec, const uint8_t *nonce)
{
    unsigned match = 0;
    for (unsigned scheme = 1; scheme <= CF_CSE_NONCE_DOTNET; scheme <<= 1) {
        uint8_t want[CF_CSE_NONCE_LEN];
        cf_cse_nonce(scheme, dec->next_region, want);
        if (memcmp(want, nonce, CF_CSE_NONCE_LEN) == 0)
            match |= scheme;
    }
    dec->schemes &= match;
    CF_ENSUREF(dec->schemes != 0, CF_ERR_DECRYPT,
               "client-side encryption region %llu is out of order (its nonce belongs to another "
               "position: regions were swapped, moved or repeated)",
               (unsigned long long)dec->next_region);
    return true;
}

/* 2.x: the stored length of the region starting now, which the fetched
 * length fixes: full regions, then what is left. */
static bool cf_cse_start_region(cf_cse_decryptor *dec)
{
    uint64_t left = dec->range.fetch_length - dec->received;
    dec->region_stored = left < dec->stored_len ? (size_t)left : dec->stored_len;
    dec->region_pos = 0;
    /* A region holds at least one byte, but for the one region some SDKs
     * write for an empty blob. */
    CF_ENSURE(dec->region_stored > CF_CSE_REGION_OVERHEAD ||
                  (dec->region_stored == CF_CSE_REGION_OVERHEAD &&
                   dec->range.body_length == CF_CSE_REGION_OVERHEAD),
              CF_ERR_DECRYPT, "last client-side encryption region truncated");
    return true;
}

/* 2.x: the open region's tag has arrived; check it, then hand out. */
static bool cf_cse_end_region(cf_cse_decryptor *dec)
{
    size_t pt_len = dec->region_stored - CF_CSE_REGION_OVERHEAD;
    dec->region_stored = 0;
    if (!cf_gcm_open_end(dec->gcm, dec->tag)) {
        cf_memzero(dec->plain.data, pt_len);
        CF_ENSUREF(cf_error_code() != CF_ERR_DECRYPT, CF_ERR_DECRYPT,
                   "client-side encryption region %llu failed its integrity check (tampered, "
                   "truncated, or the wrong content key)",
                   (unsigned long long)dec->next_region);
        return false;
    }
    CF_GUARD(cf_cse_check_position(dec, dec->nonce));
    CF_GUARD(cf_cse_deliver(dec, cf_slice_of(dec->plain.data, pt_len)));
    dec->next_region++;
    return true;
}

/* 2.x: consumes bytes of the open region (opening one if none is), in
 * three stretches: nonce, ciphertext (decrypted at once into `plain`,
 * released only after the tag), tag. */
static bool cf_cse_take_gcm(cf_cse_decryptor *dec, cf_cursor *c)
{
    if (dec->region_stored == 0)
        CF_GUARD(cf_cse_start_region(dec));
    const size_t ct_end = dec->region_stored - CF_CSE_TAG_LEN;
    size_t pos = dec->region_pos, n;
    cf_slice part;
    if (pos < CF_CSE_NONCE_LEN) {
        n = CF_CSE_NONCE_LEN - pos;
        CF_GUARD(cf_cursor_take(c, n < cf_cursor_left(c) ? n : cf_cursor_left(c), &part));
        memcpy(dec->nonce + pos, part.ptr, part.len);
        if (pos + part.len == CF_CSE_NONCE_LEN)
            CF_GUARD(cf_gcm_begin(dec->gcm, dec->nonce, (cf_slice){0}, false));
    } else if (pos < ct_end) {
        n = ct_end - pos;
        CF_GUARD(cf_cursor_take(c, n < cf_cursor_left(c) ? n : cf_cursor_left(c), &part));
        CF_GUARD(cf_gcm_update(dec->gcm, part, dec->plain.data + (pos - CF_CSE_NONCE_LEN)));
    } else {
        n = dec->region_stored - pos;
        CF_GUARD(cf_cursor_take(c, n < cf_cursor_left(c) ? n : cf_cursor_left(c), &part));
        memcpy(dec->tag + (pos - ct_end), part.ptr, part.len);
    }
    dec->region_pos += part.len;
    dec->received += part.len;
    if (dec->region_pos == dec->region_stored)
        return cf_cse_end_region(dec);
    return true;
}

/* 1.0: decrypts `ct` (whole blocks), the last chunk with the padding. */
static bool cf_cse_open_cbc(cf_cse_decryptor *dec, cf_slice ct, bool last)
{
    cf_buf_clear(&dec->plain);
    bool ok = cf_aes_cbc_decrypt(cf_cse_key_slice(dec->key), cf_slice_of(dec->iv, sizeof dec->iv),
                                 last, ct, &dec->plain);
    if (!ok) {
        CF_ENSURE(cf_error_code() != CF_ERR_DECRYPT, CF_ERR_DECRYPT,
                  "protocol 1.0 body has bad padding (tampered, truncated, or the wrong key)");
        return false;
    }
    memcpy(dec->iv, ct.ptr + ct.len - CF_CSE_V1_BLOCK, CF_CSE_V1_BLOCK);
    ok = cf_cse_deliver(dec, cf_buf_slice(&dec->plain));
    cf_buf_clear(&dec->plain);
    return ok;
}

/* 1.0: gathers whole chunks; the last block is kept back, since only the
 * end of the body knows it is last. */
static bool cf_cse_take_cbc(cf_cse_decryptor *dec, cf_cursor *c)
{
    size_t room = dec->stored_len - dec->held_len;
    cf_slice part;
    CF_GUARD(cf_cursor_take(c, cf_cursor_left(c) < room ? cf_cursor_left(c) : room, &part));
    memcpy(dec->held + dec->held_len, part.ptr, part.len);
    dec->held_len += part.len;
    dec->received += part.len;
    if (dec->held_len < dec->stored_len)
        return true;
    size_t n = dec->held_len - CF_CSE_V1_BLOCK;
    CF_GUARD(cf_cse_open_cbc(dec, cf_slice_of(dec->held, n), false));
    memmove(dec->held, dec->held + n, CF_CSE_V1_BLOCK);
    dec->held_len = CF_CSE_V1_BLOCK;
    return true;
}

static bool cf_cse_decrypt_some(cf_cse_decryptor *dec, cf_slice in)
{
    CF_ENSURE(in.len <= dec->range.fetch_length - dec->received, CF_ERR_DECRYPT,
              "more encrypted bytes than the requested range holds");
    cf_cursor c;
    cf_cursor_init(&c, in);
    while (cf_cursor_left(&c) > 0)
        CF_GUARD(dec->protocol == CF_CSE_V1_0 ? cf_cse_take_cbc(dec, &c)
                                              : cf_cse_take_gcm(dec, &c));
    return true;
}

bool cf_cse_decrypt_update(cf_cse_decryptor *dec, cf_slice body)
{
    CF_ENSURE(!dec->failed && !dec->finished, CF_ERR_INTERNAL,
              "client-side decryptor already failed or finished");
    dec->failed = !cf_cse_decrypt_some(dec, body);
    return !dec->failed;
}

static bool cf_cse_decrypt_last(cf_cse_decryptor *dec)
{
    CF_ENSURE(dec->received == dec->range.fetch_length, CF_ERR_DECRYPT,
              "encrypted body truncated: fewer bytes arrived than the range holds");
    if (dec->protocol != CF_CSE_V1_0 || dec->held_len == 0)
        return true; /* 2.x: the last region ended with the last byte */
    CF_ENSURE(dec->held_len % CF_CSE_V1_BLOCK == 0, CF_ERR_DECRYPT,
              "protocol 1.0 body is not a multiple of 16 bytes (truncated?)");
    return cf_cse_open_cbc(dec, cf_slice_of(dec->held, dec->held_len), true);
}

bool cf_cse_decrypt_finish(cf_cse_decryptor *dec)
{
    CF_ENSURE(!dec->failed && !dec->finished, CF_ERR_INTERNAL,
              "client-side decryptor already failed or finished");
    dec->failed = !cf_cse_decrypt_last(dec);
    dec->finished = !dec->failed;
    return !dec->failed;
}
