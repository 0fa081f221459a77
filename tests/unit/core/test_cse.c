/* Client-side encryption (src/core/cse*.c, docs/client-side-encryption.md):
 * known answers made by the official Python SDK (2.0 with real and with
 * patched 64-byte regions, 1.0, A256KW and RSA-OAEP KEKs), byte-identical
 * output for the same content key, round trips and every range around
 * region boundaries, the other SDKs' nonce numberings, and the refusals:
 * tampered, truncated, extended, swapped, repeated and dropped regions, a
 * wrong content key or KEK, a wrapped key for another protocol, and
 * malformed or oversized encryptiondata. */
#include <stdint.h>

#include "crypto.h"
#include "cse.h"
#include "encoding.h"
#include "secmem.h"
#include "test.h"
#include "vectors/kat.h"

#define SMALL 64u /* the region size of cse_v2_small.txt */
#define STORED(r) ((size_t)(r) + CF_CSE_REGION_OVERHEAD)

static const uint8_t aes_kek_bytes[32] = {
    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,
    0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f};
static cf_cse_kek *aes_kek, *rsa_kek;

/* ---- helpers ---- */

static bool buf_sink_write(void *ctx, cf_slice bytes)
{
    return cf_buf_append_slice(ctx, bytes);
}

static cf_cse_sink buf_sink(cf_buf *b)
{
    return (cf_cse_sink){buf_sink_write, b};
}

static bool hash_sink_write(void *ctx, cf_slice bytes)
{
    return cf_hasher_update(ctx, bytes);
}

static bool failing_sink_write(void *ctx, cf_slice bytes)
{
    (void)ctx;
    (void)bytes;
    return false;
}

static void pattern(uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)((i * 31 + 7) & 0xff);
}

static bool holds(const cf_buf *b, const uint8_t *want, size_t len)
{
    return b->len == len && (len == 0 || memcmp(b->data, want, len) == 0);
}

/* A hex field of any length, malloc'ed; *len set. */
static uint8_t *hex_field(const kat_rec *r, const char *name, size_t *len)
{
    *len = strlen(kat_get(r, name)) / 2;
    uint8_t *p = malloc(*len + 1);
    if (!p || kat_hex(r, name, p, *len) != *len)
        abort();
    return p;
}

static bool has_field(const kat_rec *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->name[i], name) == 0)
            return true;
    return false;
}

static uint64_t num_field(const kat_rec *r, const char *name)
{
    return strtoull(kat_get(r, name), NULL, 10);
}

static bool sha256_is(const uint8_t *digest, const kat_rec *r, const char *name)
{
    uint8_t want[32];
    return kat_hex(r, name, want, sizeof want) == 32 && memcmp(digest, want, 32) == 0;
}

static cf_slice json_of(const char *s)
{
    return cf_slice_of(s, strlen(s));
}

/* The 32 bytes of a content key, through the public API. */
static bool key_bytes(const cf_cse_key *key, uint8_t out[32])
{
    cf_buf b;
    cf_buf_init_secret(&b, 64);
    bool ok = cf_cse_key_to_wrap(key, CF_CSE_V2_0, &b) && b.len == 40;
    if (ok)
        memcpy(out, b.data + 8, 32);
    cf_buf_free(&b);
    return ok;
}

/* Encrypts `pt` in chunks of `chunk` (0: one call) into `out`. */
static bool encrypt_all(const cf_cse_key *key, uint32_t region, const uint8_t *pt, size_t len,
                        size_t chunk, cf_buf *out)
{
    cf_cse_encryptor *enc = NULL;
    uint64_t plen = 0, blen = 0;
    bool ok = cf_cse_encryptor_new(key, region, buf_sink(out), &enc);
    for (size_t off = 0; ok && off < len;) {
        size_t n = chunk && chunk < len - off ? chunk : len - off;
        ok = cf_cse_encrypt_update(enc, cf_slice_of(pt + off, n));
        off += n;
    }
    ok = ok && cf_cse_encrypt_finish(enc, &plen, &blen);
    cf_cse_encryptor_free(enc);
    return ok && plen == len && blen == out->len;
}

/* Decrypts plaintext [off, off+len) of `body` (fetching as the range map
 * says, in chunks of `chunk`) into `out`, cleared first. */
static bool decrypt_range(const cf_cse_key *key, const cf_cse_meta *meta, cf_slice body,
                          uint64_t off, uint64_t len, size_t chunk, cf_buf *out)
{
    cf_cse_range range;
    cf_buf_clear(out);
    if (!cf_cse_range_map(meta, body.len, off, len, &range))
        return false;
    cf_cse_decryptor *dec = NULL;
    bool ok = cf_cse_decryptor_new(key, meta, &range, buf_sink(out), &dec);
    for (uint64_t done = 0; ok && done < range.fetch_length;) {
        const uint8_t *p = body.ptr + range.fetch_offset;
        size_t n = chunk && chunk < range.fetch_length - done ? chunk
                                                              : (size_t)(range.fetch_length - done);
        ok = cf_cse_decrypt_update(dec, cf_slice_of(p + done, n));
        done += n;
    }
    ok = ok && cf_cse_decrypt_finish(dec);
    cf_cse_decryptor_free(dec);
    return ok;
}

static bool decrypt_all(const cf_cse_key *key, const cf_cse_meta *meta, cf_slice body, cf_buf *out)
{
    return decrypt_range(key, meta, body, 0, UINT64_MAX, 0, out);
}

static cf_cse_kek *kek_named(const char *name)
{
    return strcmp(name, "rsa") == 0 ? rsa_kek : aes_kek;
}

/* A fresh 2.x blob under `kek`: metadata and body. */
static bool make_blob(uint32_t region, const uint8_t *pt, size_t len, cf_cse_kek *kek,
                      cf_cse_meta *meta, cf_cse_key **key, cf_buf *body)
{
    return cf_cse_meta_init(meta, region) && cf_cse_key_generate(key) &&
           cf_cse_kek_wrap(kek, *key, meta) && encrypt_all(*key, region, pt, len, 0, body);
}

/* ---- known answers from the Python SDK ---- */

/* A record of cse_v2*.txt whose data is given in hex. */
static void check_small_record(const kat_rec *r, const cf_cse_meta *meta, const cf_cse_key *key)
{
    size_t pt_len, body_len;
    uint8_t *pt = hex_field(r, "pt", &pt_len);
    uint8_t *body = hex_field(r, "body", &body_len);
    CHECK(pt_len == num_field(r, "pt_len") && body_len == num_field(r, "body_len"));
    cf_buf out;
    cf_buf_init(&out, 1 << 20);
    /* coffer decrypts the SDK's body, in several chunkings */
    static const size_t chunks[] = {0, 1, 13, STORED(SMALL), STORED(SMALL) + 1};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        CHECK(
            decrypt_range(key, meta, cf_slice_of(body, body_len), 0, UINT64_MAX, chunks[i], &out));
        CHECK(holds(&out, pt, pt_len));
    }
    /* coffer's encryptor gives the SDK's bytes for the same content key */
    cf_buf_clear(&out);
    CHECK(encrypt_all(key, meta->region_len, pt, pt_len, 7, &out));
    CHECK(holds(&out, body, body_len));
    uint64_t n;
    CHECK(cf_cse_body_length(meta->region_len, pt_len, &n) && n == body_len);
    CHECK(cf_cse_plaintext_length(meta->region_len, body_len, &n) && n == pt_len);
    /* the SDK's own range mapping agrees with cf_cse_range_map */
    const char *ranges = has_field(r, "sdk_ranges") ? kat_get(r, "sdk_ranges") : "";
    while (*ranges) {
        unsigned long long off, len, start, end;
        int used = 0;
        if (sscanf(ranges, "%llu:%llu:%llu:%llu%n", &off, &len, &start, &end, &used) != 4)
            abort();
        ranges += used;
        while (*ranges == ' ')
            ranges++;
        cf_cse_range map;
        CHECK(cf_cse_range_map(meta, body_len, off, len, &map));
        CHECK(map.fetch_offset == start);
        CHECK(map.fetch_offset + map.fetch_length - 1 == (end < body_len ? end : body_len - 1));
        CHECK(decrypt_range(key, meta, cf_slice_of(body, body_len), off, len, 5, &out));
        CHECK(holds(&out, pt + off, len));
    }
    cf_buf_free(&out);
    free(pt);
    free(body);
}

/* A record whose large data is given as SHA-256 digests: coffer encrypts
 * the pattern with the vector's key, must hit the SDK's digest, and must
 * decrypt its own (= the SDK's) body back to the pattern. */
static void check_large_record(const kat_rec *r, const cf_cse_meta *meta, const cf_cse_key *key)
{
    size_t pt_len = num_field(r, "pt_len"), body_len = num_field(r, "body_len");
    uint8_t *pt = malloc(pt_len), digest[32];
    pattern(pt, pt_len);
    cf_buf body;
    cf_buf_init(&body, body_len);
    CHECK(encrypt_all(key, meta->region_len, pt, pt_len, CF_MIB + 7, &body));
    CHECK(body.len == body_len);
    CHECK(cf_hash_compute(CF_HASH_SHA256, cf_buf_slice(&body), digest));
    CHECK(sha256_is(digest, r, "body_sha256"));
    cf_hasher *h = NULL;
    CHECK(cf_hasher_new(CF_HASH_SHA256, &h));
    cf_cse_range range;
    cf_cse_decryptor *dec = NULL;
    CHECK(cf_cse_range_map(meta, body.len, 0, UINT64_MAX, &range));
    CHECK(cf_cse_decryptor_new(key, meta, &range, (cf_cse_sink){hash_sink_write, h}, &dec));
    for (size_t off = 0; off < body.len; off += 100003) {
        size_t n = body.len - off < 100003 ? body.len - off : 100003;
        CHECK(cf_cse_decrypt_update(dec, cf_slice_of(body.data + off, n)));
    }
    CHECK(cf_cse_decrypt_finish(dec));
    cf_cse_decryptor_free(dec);
    CHECK(cf_hasher_final(h, digest));
    CHECK(sha256_is(digest, r, "pt_sha256"));
    cf_hasher_free(h);
    cf_buf_free(&body);
    free(pt);
}

static int check_vector_file(const char *file, cf_cse_protocol protocol)
{
    kat_file f;
    kat_rec r;
    int records = 0;
    kat_open(&f, file);
    while (kat_next(&f, &r)) {
        records++;
        cf_cse_meta meta;
        const char *json = kat_get(&r, "encryptiondata");
        CHECK(cf_cse_meta_parse(json_of(json), &meta));
        CHECK(meta.protocol == protocol);
        CHECK(strcmp(meta.key_id, strcmp(kat_get(&r, "kek"), "rsa") == 0
                                      ? "local:cse-rsa-kek"
                                      : "local:cse-aes-kek") == 0);
        cf_cse_key *key = NULL;
        uint8_t want[32], got[32];
        CHECK(kat_hex(&r, "cek", want, sizeof want) == 32);
        CHECK(cf_cse_kek_unwrap(kek_named(kat_get(&r, "kek")), &meta, &key));
        CHECK(key && key_bytes(key, got) && memcmp(got, want, 32) == 0);
        if (!key) {
            fprintf(stderr, "%s: %s\n", kat_get(&r, "name"), cf_error_detail());
            continue;
        }
        if (protocol == CF_CSE_V1_0) {
            /* (the large 1.0 record is checked by test_v1) */
            if (has_field(&r, "body")) {
                size_t pt_len, body_len;
                uint8_t *pt = hex_field(&r, "pt", &pt_len),
                        *body = hex_field(&r, "body", &body_len);
                cf_buf out;
                cf_buf_init(&out, 1 << 20);
                CHECK(decrypt_all(key, &meta, cf_slice_of(body, body_len), &out));
                CHECK(holds(&out, pt, pt_len));
                cf_buf_free(&out);
                free(pt);
                free(body);
            }
        } else if (has_field(&r, "body")) {
            check_small_record(&r, &meta, key);
        } else {
            check_large_record(&r, &meta, key);
        }
        cf_cse_key_free(key);
    }
    kat_close(&f);
    return records;
}

static void test_vectors(void)
{
    CHECK(check_vector_file("cse_v2.txt", CF_CSE_V2_0) == 10);
    CHECK(check_vector_file("cse_v2_small.txt", CF_CSE_V2_0) == 7);
    CHECK(check_vector_file("cse_v1.txt", CF_CSE_V1_0) == 5);
}

/* ---- round trips and ranges ---- */

static void test_round_trips(void)
{
    static const size_t sizes[] = {0, 1, 15, 16, 17, 63, 64, 65, 128, 129, 1000};
    static const uint32_t regions[] = {16, 17, 64, 4096};
    static const size_t chunks[] = {0, 1, 5, 64, 93};
    static uint8_t pt[1000];
    pattern(pt, sizeof pt);
    cf_buf body, back;
    cf_buf_init(&body, 1 << 20);
    cf_buf_init(&back, 1 << 20);
    for (size_t ri = 0; ri < sizeof regions / sizeof regions[0]; ri++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            cf_cse_key *key = NULL;
            cf_cse_meta meta;
            cf_buf_clear(&body);
            CHECK(make_blob(regions[ri], pt, sizes[si], aes_kek, &meta, &key, &body));
            uint64_t n = 0;
            CHECK(cf_cse_body_length(regions[ri], sizes[si], &n) && n == body.len);
            for (size_t ci = 0; ci < sizeof chunks / sizeof chunks[0]; ci++) {
                cf_buf_clear(&body);
                CHECK(encrypt_all(key, regions[ri], pt, sizes[si], chunks[ci], &body));
                CHECK(decrypt_range(key, &meta, cf_buf_slice(&body), 0, UINT64_MAX, chunks[ci],
                                    &back));
                CHECK(holds(&back, pt, sizes[si]));
            }
            cf_cse_key_free(key);
        }
    }
    cf_buf_free(&body);
    cf_buf_free(&back);
}

/* Every range of a 200-byte blob with 64-byte regions. */
static void test_ranges(void)
{
    uint8_t pt[200];
    pattern(pt, sizeof pt);
    cf_cse_key *key = NULL;
    cf_cse_meta meta;
    cf_buf body, out;
    cf_buf_init(&body, 1 << 16);
    cf_buf_init(&out, 1 << 16);
    CHECK(make_blob(SMALL, pt, sizeof pt, aes_kek, &meta, &key, &body));
    CHECK(meta.protocol == CF_CSE_V2_1);
    int bad = 0;
    for (uint64_t off = 0; off <= sizeof pt; off++)
        for (uint64_t len = 0; len <= sizeof pt - off + 1; len++) {
            uint64_t want = len < sizeof pt - off ? len : sizeof pt - off;
            cf_cse_range range;
            bool ok = cf_cse_range_map(&meta, body.len, off, len, &range) &&
                      decrypt_range(key, &meta, cf_buf_slice(&body), off, len, 0, &out) &&
                      holds(&out, pt + off, want);
            /* only the regions the range touches are fetched */
            uint64_t first = off / SMALL, last = want ? (off + want - 1) / SMALL : first;
            ok = ok && (want == 0 ? range.fetch_length == 0
                                  : range.fetch_offset == first * STORED(SMALL) &&
                                        range.skip == off - first * SMALL &&
                                        range.fetch_length ==
                                            (last == 3 ? body.len : (last + 1) * STORED(SMALL)) -
                                                first * STORED(SMALL));
            bad += !ok;
        }
    CHECK(bad == 0);
    cf_cse_range range;
    CHECK(!cf_cse_range_map(&meta, body.len, 201, 1, &range) &&
          cf_error_code() == CF_ERR_BAD_INPUT);
    /* an empty blob: nothing to fetch */
    CHECK(cf_cse_range_map(&meta, 0, 0, UINT64_MAX, &range) && range.fetch_length == 0 &&
          range.length == 0);
    cf_cse_key_free(key);
    cf_buf_free(&body);
    cf_buf_free(&out);
}

/* Bodies numbered as the .NET and Java SDKs number their nonces decrypt;
 * a body that switches numbering does not. */
static void seal_with_nonce(const uint8_t *key, const uint8_t nonce[12], const uint8_t *pt,
                            size_t len, cf_buf *body)
{
    uint8_t *p = NULL;
    CHECK(cf_buf_extend(body, len + CF_CSE_REGION_OVERHEAD, &p));
    memcpy(p, nonce, 12);
    CHECK(cf_aes_gcm_encrypt(cf_slice_of(key, 32), cf_slice_of(nonce, 12), (cf_slice){0},
                             cf_slice_of(pt, len), p + 12, p + 12 + len));
}

static void nonce_of(int scheme, uint64_t i, uint8_t n[12])
{
    memset(n, 0, 12);
    for (int b = 0; b < 8; b++) {
        if (scheme == 0)
            n[4 + b] = (uint8_t)((i + 1) >> (8 * b)); /* .NET */
        else
            n[b] = (uint8_t)(i >> (56 - 8 * b)); /* Java */
    }
}

static void test_other_sdk_nonces(void)
{
    uint8_t key_raw[32], pt[150], nonce[12];
    pattern(pt, sizeof pt);
    CHECK(cf_random_bytes(key_raw, sizeof key_raw));
    cf_cse_key *key = NULL;
    CHECK(cf_cse_key_from_bytes(cf_slice_of(key_raw, 32), &key));
    cf_cse_meta meta;
    CHECK(cf_cse_meta_init(&meta, SMALL));
    cf_buf body, out;
    cf_buf_init(&body, 4096);
    cf_buf_init(&out, 4096);
    for (int scheme = 0; scheme < 3; scheme++) {
        cf_buf_clear(&body);
        for (uint64_t i = 0; i < 3; i++) {
            /* scheme 2: .NET for region 0, Java after it */
            nonce_of(scheme == 2 ? (i == 0 ? 0 : 1) : scheme, i, nonce);
            size_t n = i == 2 ? sizeof pt - 2 * SMALL : SMALL;
            seal_with_nonce(key_raw, nonce, pt + i * SMALL, n, &body);
        }
        bool ok = decrypt_all(key, &meta, cf_buf_slice(&body), &out);
        CHECK(ok == (scheme != 2));
        CHECK(ok ? holds(&out, pt, sizeof pt) : cf_error_code() == CF_ERR_DECRYPT);
        if (ok) { /* and a range starting in region 1 checks from position 1 */
            CHECK(decrypt_range(key, &meta, cf_buf_slice(&body), 70, 80, 0, &out));
            CHECK(holds(&out, pt + 70, 80));
        }
    }
    cf_cse_key_free(key);
    cf_buf_free(&body);
    cf_buf_free(&out);
}

/* ---- refusals on the body ---- */

static void test_tamper(void)
{
    uint8_t pt[200];
    pattern(pt, sizeof pt);
    cf_cse_key *key = NULL, *other = NULL;
    cf_cse_meta meta;
    cf_buf body, bad, out;
    cf_buf_init(&body, 4096);
    cf_buf_init(&bad, 4096);
    cf_buf_init(&out, 4096);
    CHECK(make_blob(SMALL, pt, sizeof pt, aes_kek, &meta, &key, &body));
    CHECK(cf_cse_key_generate(&other));
    const size_t t = STORED(SMALL); /* body: 3 full regions (92 bytes) + one of 36 */
    CHECK(body.len == 3 * t + 36);

    /* a flipped bit anywhere in region 1 (nonce, ciphertext, tag): region 0
     * is delivered, nothing of region 1 */
    int bad_count = 0;
    for (size_t at = t; at < 2 * t; at++) {
        cf_buf_clear(&bad);
        CHECK(cf_buf_append_slice(&bad, cf_buf_slice(&body)));
        bad.data[at] ^= 0x04;
        bool ok = decrypt_all(key, &meta, cf_buf_slice(&bad), &out);
        bad_count += ok || cf_error_code() != CF_ERR_DECRYPT || !holds(&out, pt, SMALL);
    }
    CHECK(bad_count == 0);

    /* the wrong content key fails on the first region, delivering nothing */
    CHECK(!decrypt_all(other, &meta, cf_buf_slice(&body), &out));
    CHECK(cf_error_code() == CF_ERR_DECRYPT && out.len == 0);

    /* truncated: the length no longer fits (cut inside the last region's
     * overhead), or the last region's tag fails, or fewer bytes arrive */
    for (size_t cut = 1; cut <= 40; cut++) {
        bool ok = decrypt_all(key, &meta, cf_slice_of(body.data, body.len - cut), &out);
        if (cut == 36) {
            /* the whole last region gone and the length shortened to match:
             * a valid 3-region body, which the format cannot tell (spec) */
            CHECK(ok && holds(&out, pt, 3 * SMALL));
            continue;
        }
        CHECK(!ok && cf_error_code() == CF_ERR_DECRYPT);
    }
    cf_cse_range range;
    cf_cse_decryptor *dec = NULL;
    CHECK(cf_cse_range_map(&meta, body.len, 0, UINT64_MAX, &range));
    cf_buf_clear(&out);
    CHECK(cf_cse_decryptor_new(key, &meta, &range, buf_sink(&out), &dec));
    CHECK(cf_cse_decrypt_update(dec, cf_slice_of(body.data, body.len - 10)));
    CHECK(!cf_cse_decrypt_finish(dec) && cf_error_code() == CF_ERR_DECRYPT);
    CHECK(strstr(cf_error_detail(), "truncated") != NULL);
    CHECK(out.len == 3 * SMALL);        /* the last region was never opened */
    CHECK(!cf_cse_decrypt_finish(dec)); /* and the decryptor stays failed */
    cf_cse_decryptor_free(dec);

    /* extended: more bytes than the range holds */
    CHECK(cf_cse_decryptor_new(key, &meta, &range, buf_sink(&out), &dec));
    CHECK(cf_cse_decrypt_update(dec, cf_buf_slice(&body)));
    CHECK(!cf_cse_decrypt_update(dec, CF_SLICE_LIT("x")) && cf_error_code() == CF_ERR_DECRYPT);
    cf_cse_decryptor_free(dec);

    /* swapped regions 0 and 1; region 0 repeated; region 1 dropped (the
     * length still fits): every tag verifies, the positions do not */
    for (int kind = 0; kind < 3; kind++) {
        cf_buf_clear(&bad);
        CHECK(cf_buf_append_slice(&bad, cf_buf_slice(&body)));
        if (kind == 0) {
            memcpy(bad.data, body.data + t, t);
            memcpy(bad.data + t, body.data, t);
        } else if (kind == 1) {
            memcpy(bad.data + t, body.data, t);
        } else {
            memmove(bad.data + t, bad.data + 2 * t, bad.len - 2 * t);
            bad.len -= t;
        }
        CHECK(!decrypt_all(key, &meta, cf_buf_slice(&bad), &out));
        CHECK(cf_error_code() == CF_ERR_DECRYPT && strstr(cf_error_detail(), "out of order"));
        CHECK(out.len == (kind == 0 ? 0 : SMALL));
    }

    /* a sink that fails stops the stream with CF_ERR_IO */
    CHECK(cf_cse_decryptor_new(key, &meta, &range, (cf_cse_sink){failing_sink_write, NULL}, &dec));
    CHECK(!cf_cse_decrypt_update(dec, cf_buf_slice(&body)) && cf_error_code() == CF_ERR_IO);
    CHECK(!cf_cse_decrypt_update(dec, cf_buf_slice(&body))); /* stays failed */
    cf_cse_decryptor_free(dec);
    cf_cse_encryptor *enc = NULL;
    CHECK(cf_cse_encryptor_new(key, SMALL, (cf_cse_sink){failing_sink_write, NULL}, &enc));
    CHECK(!cf_cse_encrypt_update(enc, cf_slice_of(pt, sizeof pt)) && cf_error_code() == CF_ERR_IO);
    CHECK(!cf_cse_encrypt_finish(enc, NULL, NULL));
    cf_cse_encryptor_free(enc);
    CHECK(cf_cse_encryptor_new(key, SMALL, buf_sink(&out), &enc));
    CHECK(cf_cse_encrypt_finish(enc, NULL, NULL));
    CHECK(!cf_cse_encrypt_update(enc, CF_SLICE_LIT("late"))); /* finished */
    cf_cse_encryptor_free(enc);
    CHECK(!cf_cse_encryptor_new(key, 8, buf_sink(&out), &enc));
    CHECK(!cf_cse_encryptor_new(key, CF_CSE_REGION_MAX + 1, buf_sink(&out), &enc));

    cf_cse_key_free(key);
    cf_cse_key_free(other);
    cf_buf_free(&body);
    cf_buf_free(&bad);
    cf_buf_free(&out);
}

/* ---- keys ---- */

static void test_keys(void)
{
    uint8_t pt[10] = "0123456789";
    cf_cse_key *key = NULL, *back = NULL;
    cf_cse_meta meta;
    cf_buf body, out;
    cf_buf_init(&body, 4096);
    cf_buf_init(&out, 4096);

    /* a wrong AES KEK; an RSA KEK for an AES-wrapped key and the reverse */
    cf_cse_kek *other = NULL;
    uint8_t other_bytes[32];
    CHECK(cf_random_bytes(other_bytes, 32));
    CHECK(cf_cse_kek_from_key_file(cf_slice_of(other_bytes, 32), "other", &other));
    CHECK(make_blob(CF_CSE_REGION_DEFAULT, pt, sizeof pt, aes_kek, &meta, &key, &body));
    CHECK(meta.protocol == CF_CSE_V2_0 && meta.wrap_alg == CF_CSE_WRAP_A256KW &&
          meta.wrapped_key_len == 48);
    CHECK(!cf_cse_kek_unwrap(other, &meta, &back) && cf_error_code() == CF_ERR_DECRYPT);
    CHECK(strstr(cf_error_detail(), "wrong key-encryption key") != NULL);
    CHECK(!cf_cse_kek_unwrap(rsa_kek, &meta, &back) && cf_error_code() == CF_ERR_DECRYPT);
    cf_cse_key_free(key);
    cf_buf_clear(&body);
    CHECK(make_blob(CF_CSE_REGION_DEFAULT, pt, sizeof pt, rsa_kek, &meta, &key, &body));
    CHECK(meta.wrap_alg == CF_CSE_WRAP_RSA_OAEP && meta.wrapped_key_len == 256);
    CHECK(!cf_cse_kek_unwrap(aes_kek, &meta, &back) && cf_error_code() == CF_ERR_DECRYPT);
    meta.wrapped_key[100] ^= 1;
    CHECK(!cf_cse_kek_unwrap(rsa_kek, &meta, &back) && cf_error_code() == CF_ERR_DECRYPT);
    meta.wrapped_key[100] ^= 1;
    CHECK(cf_cse_kek_unwrap(rsa_kek, &meta, &back));
    CHECK(decrypt_all(back, &meta, cf_buf_slice(&body), &out) && holds(&out, pt, sizeof pt));
    cf_cse_key_free(back);
    back = NULL;

    /* the metadata's Protocol edited after the wrap: the prefix disagrees */
    meta.protocol = CF_CSE_V2_1;
    CHECK(!cf_cse_kek_unwrap(rsa_kek, &meta, &back) && cf_error_code() == CF_ERR_DECRYPT);
    CHECK(strstr(cf_error_detail(), "another protocol") != NULL);
    meta.protocol = CF_CSE_V1_0; /* a downgrade: 40 bytes where 1.0 wraps 32 */
    CHECK(!cf_cse_kek_unwrap(rsa_kek, &meta, &back) && cf_error_code() == CF_ERR_DECRYPT);
    meta.protocol = CF_CSE_V2_0;
    cf_cse_key_free(key);

    /* the prefix rules on their own */
    uint8_t unwrapped[40] = "2.0";
    CHECK(cf_cse_key_from_unwrapped(CF_CSE_V2_0, cf_slice_of(unwrapped, 40), &back));
    cf_cse_key_free(back);
    unwrapped[5] = 1; /* padding must be NUL */
    CHECK(!cf_cse_key_from_unwrapped(CF_CSE_V2_0, cf_slice_of(unwrapped, 40), &back));
    unwrapped[5] = 0;
    unwrapped[2] = '1';
    CHECK(!cf_cse_key_from_unwrapped(CF_CSE_V2_0, cf_slice_of(unwrapped, 40), &back));
    CHECK(cf_cse_key_from_unwrapped(CF_CSE_V2_1, cf_slice_of(unwrapped, 40), &back));
    cf_cse_key_free(back);
    CHECK(!cf_cse_key_from_unwrapped(CF_CSE_V2_1, cf_slice_of(unwrapped, 39), &back));
    CHECK(cf_cse_key_generate(&key));
    CHECK(!cf_cse_key_to_wrap(key, CF_CSE_V1_0, &out) && cf_error_code() == CF_ERR_UNSUPPORTED);
    cf_cse_key_free(key);

    /* RSA-OAEP-256 round trip; a public-key KEK wraps but cannot unwrap */
    cf_buf_clear(&body);
    cf_cse_kek *oaep256 = NULL, *public_kek = NULL;
    char *pem_text = kat_read("cse_rsa_kek.pem", NULL);
    CHECK(cf_cse_kek_from_key_file(json_of(pem_text), "rsa256", &oaep256));
    CHECK(cf_cse_kek_use_oaep_256(oaep256));
    CHECK(!cf_cse_kek_use_oaep_256(aes_kek));
    CHECK(make_blob(CF_CSE_REGION_DEFAULT, pt, sizeof pt, oaep256, &meta, &key, &body));
    CHECK(meta.wrap_alg == CF_CSE_WRAP_RSA_OAEP_256);
    CHECK(cf_cse_kek_unwrap(oaep256, &meta, &back));
    CHECK(decrypt_all(back, &meta, cf_buf_slice(&body), &out) && holds(&out, pt, sizeof pt));
    cf_cse_key_free(back);
    cf_cse_key_free(key);
    cf_pkey *rsa = NULL;
    cf_buf der, b64, pem;
    cf_buf_init(&der, 4096);
    cf_buf_init(&b64, 4096);
    cf_buf_init(&pem, 4096);
    CHECK(cf_pkey_from_private_pem(json_of(pem_text), &rsa));
    CHECK(cf_pkey_public_der(rsa, &der) && cf_base64_encode(cf_buf_slice(&der), &b64));
    CHECK(cf_buf_append_str(&pem, "-----BEGIN PUBLIC KEY-----\n"));
    for (size_t i = 0; i < b64.len; i += 64) {
        CHECK(cf_buf_append(&pem, b64.data + i, b64.len - i < 64 ? b64.len - i : 64));
        CHECK(cf_buf_append_u8(&pem, '\n'));
    }
    CHECK(cf_buf_append_str(&pem, "-----END PUBLIC KEY-----\n"));
    CHECK(cf_cse_kek_from_key_file(cf_buf_slice(&pem), "local:cse-rsa-kek", &public_kek));
    cf_buf_clear(&body);
    CHECK(make_blob(CF_CSE_REGION_DEFAULT, pt, sizeof pt, public_kek, &meta, &key, &body));
    CHECK(!cf_cse_kek_unwrap(public_kek, &meta, &back) && cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(cf_cse_kek_unwrap(rsa_kek, &meta, &back)); /* the private key unwraps it */
    cf_cse_key_free(back);
    cf_cse_key_free(key);
    /* key files that are neither */
    cf_cse_kek *junk = NULL;
    CHECK(!cf_cse_kek_from_key_file(CF_SLICE_LIT("not a key"), "x", &junk) &&
          cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_cse_kek_from_key_file(cf_slice_of(aes_kek_bytes, 31), "x", &junk));
    CHECK(!cf_cse_kek_from_key_file(cf_slice_of(aes_kek_bytes, 32), "", &junk));
    /* unsupported local unwraps */
    meta.wrap_alg = CF_CSE_WRAP_RSA1_5;
    CHECK(!cf_cse_kek_unwrap(rsa_kek, &meta, &back) && cf_error_code() == CF_ERR_UNSUPPORTED);
    meta.wrap_alg = CF_CSE_WRAP_A128KW;
    CHECK(!cf_cse_kek_unwrap(aes_kek, &meta, &back) && cf_error_code() == CF_ERR_UNSUPPORTED);

    free(pem_text);
    cf_pkey_free(rsa);
    cf_cse_kek_free(public_kek);
    cf_cse_kek_free(oaep256);
    cf_cse_kek_free(other);
    cf_buf_free(&der);
    cf_buf_free(&b64);
    cf_buf_free(&pem);
    cf_buf_free(&body);
    cf_buf_free(&out);
}

/* ---- version 1.0 ---- */

static void test_v1(void)
{
    kat_file f;
    kat_rec r;
    kat_open(&f, "cse_v1.txt");
    cf_buf out, bad;
    cf_buf_init(&out, 1 << 20);
    cf_buf_init(&bad, 4096);
    while (kat_next(&f, &r)) {
        if (strcmp(kat_get(&r, "name"), "v1-100") != 0)
            continue;
        cf_cse_meta meta;
        cf_cse_key *key = NULL;
        size_t body_len;
        uint8_t *body = hex_field(&r, "body", &body_len), pt[100];
        pattern(pt, sizeof pt);
        CHECK(cf_cse_meta_parse(json_of(kat_get(&r, "encryptiondata")), &meta));
        CHECK(cf_cse_kek_unwrap(aes_kek, &meta, &key));
        CHECK(decrypt_range(key, &meta, cf_slice_of(body, body_len), 0, UINT64_MAX, 3, &out));
        CHECK(holds(&out, pt, sizeof pt));
        cf_cse_range range;
        CHECK(!cf_cse_range_map(&meta, body_len, 16, 10, &range) &&
              cf_error_code() == CF_ERR_UNSUPPORTED);
        CHECK(!cf_cse_range_map(&meta, body_len - 1, 0, UINT64_MAX, &range) &&
              cf_error_code() == CF_ERR_DECRYPT);
        /* the padding byte changed through the previous block */
        CHECK(cf_buf_append(&bad, body, body_len));
        bad.data[body_len - 17] ^= 0x01;
        CHECK(!decrypt_all(key, &meta, cf_buf_slice(&bad), &out));
        CHECK(cf_error_code() == CF_ERR_DECRYPT);
        /* 1.0 is never written */
        CHECK(!cf_cse_meta_build(&meta, &out) && cf_error_code() == CF_ERR_UNSUPPORTED);
        cf_cse_key_free(key);
        free(body);
    }
    kat_close(&f);
    /* a 70000-byte v1 body, larger than one CBC chunk: decrypt with the
     * vector's key and compare digests */
    kat_open(&f, "cse_v1.txt");
    while (kat_next(&f, &r)) {
        if (strcmp(kat_get(&r, "name"), "v1-70000") != 0)
            continue;
        cf_cse_meta meta;
        cf_cse_key *key = NULL;
        CHECK(cf_cse_meta_parse(json_of(kat_get(&r, "encryptiondata")), &meta));
        CHECK(cf_cse_kek_unwrap(aes_kek, &meta, &key));
        /* the body is not stored; re-create it by CBC under the same key and IV */
        uint8_t cek[32], digest[32];
        CHECK(key_bytes(key, cek));
        static uint8_t pt[70000];
        pattern(pt, sizeof pt);
        cf_buf body;
        cf_buf_init(&body, 80000);
        CHECK(cf_aes_cbc_encrypt(cf_slice_of(cek, 32), cf_slice_of(meta.content_iv, 16), true,
                                 cf_slice_of(pt, sizeof pt), &body));
        CHECK(cf_hash_compute(CF_HASH_SHA256, cf_buf_slice(&body), digest));
        CHECK(sha256_is(digest, &r, "body_sha256"));
        CHECK(decrypt_range(key, &meta, cf_buf_slice(&body), 0, UINT64_MAX, 4099, &out));
        CHECK(holds(&out, pt, sizeof pt));
        cf_memzero(cek, sizeof cek);
        cf_buf_free(&body);
        cf_cse_key_free(key);
    }
    kat_close(&f);
    cf_buf_free(&out);
    cf_buf_free(&bad);
}

/* ---- encryptiondata ---- */

#define WK                                                                               \
    "\"WrappedContentKey\":{\"KeyId\":\"k\",\"EncryptedKey\":\"" B64 "\",\"Algorithm\":" \
    "\"A256KW\"}"
#define B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v"
#define AGENT "\"EncryptionAgent\":{\"Protocol\":\"2.0\",\"EncryptionAlgorithm\":\"AES_GCM_256\"}"
#define REGIONS "\"EncryptedRegionInfo\":{\"DataLength\":4194304,\"NonceLength\":12}"

static void test_meta(void)
{
    static const char *const accepted[] = {
        "{" WK "," AGENT "," REGIONS "}",
        /* .NET's order, with EncryptionMode first and KeyWrappingMetadata */
        "{\"EncryptionMode\":\"FullBlob\"," WK "," AGENT "," REGIONS
        ",\"KeyWrappingMetadata\":{\"EncryptionLibrary\":\"azsdk-net-Azure.Storage.Blobs/12.19\"}}",
        /* names in any case; IV null; unpadded and URL-safe base64 */
        "{\"wrappedcontentkey\":{\"keyid\":\"k\",\"encryptedkey\":\"" B64
        "\",\"ALGORITHM\":\"A256KW\"},\"encryptionAgent\":{\"protocol\":\"2.0\","
        "\"encryptionalgorithm\":\"AES_GCM_256\"},\"encryptedregioninfo\":{\"datalength\":4194304,"
        "\"noncelength\":12},\"ContentEncryptionIV\":null,\"KeyWrappingMetadata\":null}",
        "{\"WrappedContentKey\":{\"KeyId\":\"k\",\"EncryptedKey\":\"AAECAwQFBgcICQoLDA0ODxAR\","
        "\"Algorithm\":\"RSA-OAEP\"}," AGENT "," REGIONS "}",
        "{\"WrappedContentKey\":{\"KeyId\":\"k\",\"EncryptedKey\":\"-_-_-_-_-_-_-_-_-_-_-_8\","
        "\"Algorithm\":\"RSA-OAEP-256\"}," AGENT "," REGIONS "}",
        /* 2.1 with its own region size */
        "{" WK
        ",\"EncryptionAgent\":{\"Protocol\":\"2.1\",\"EncryptionAlgorithm\":\"AES_GCM_256\"},"
        "\"EncryptedRegionInfo\":{\"DataLength\":1048576,\"NonceLength\":12}}",
        /* 1.0 */
        "{" WK
        ",\"EncryptionAgent\":{\"Protocol\":\"1.0\",\"EncryptionAlgorithm\":\"AES_CBC_256\"},"
        "\"ContentEncryptionIV\":\"AAECAwQFBgcICQoLDA0ODw==\",\"EncryptionMode\":\"FullBlob\"}",
    };
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        cf_cse_meta meta;
        bool ok = cf_cse_meta_parse(json_of(accepted[i]), &meta);
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "accepted[%zu]: %s\n", i, cf_error_detail());
        CHECK(strcmp(meta.key_id, "k") == 0);
    }

    static const struct {
        const char *json, *detail;
    } refused[] = {
        {"", "not valid JSON"},
        {"[]", "must be an object"},
        {"{" AGENT "," REGIONS "}", "WrappedContentKey is missing"},
        {"{" WK "," REGIONS "}", "EncryptionAgent is missing"},
        {"{" WK "," AGENT "}", "EncryptedRegionInfo is missing"},
        {"{" WK ",\"EncryptionAgent\":{\"Protocol\":\"3.0\",\"EncryptionAlgorithm\":\"AES_GCM_"
         "256\"}," REGIONS "}",
         "unknown EncryptionAgent.Protocol"},
        {"{" WK ",\"EncryptionAgent\":{\"Protocol\":\"2.0\",\"EncryptionAlgorithm\":\"AES_CBC_"
         "256\"}," REGIONS "}",
         "does not match the protocol"},
        {"{" WK ",\"EncryptionAgent\":{\"Protocol\":\"2.0\",\"EncryptionAlgorithm\":\"AES_GCM_"
         "128\"}," REGIONS "}",
         "unknown EncryptionAgent.EncryptionAlgorithm"},
        {"{\"WrappedContentKey\":{\"KeyId\":\"k\",\"EncryptedKey\":\"@@@@\",\"Algorithm\":"
         "\"A256KW\"}," AGENT "," REGIONS "}",
         "not valid base64"},
        {"{\"WrappedContentKey\":{\"KeyId\":\"k\",\"EncryptedKey\":\"AAEC AwQF\",\"Algorithm\":"
         "\"A256KW\"}," AGENT "," REGIONS "}",
         "not valid base64"},
        {"{\"WrappedContentKey\":{\"KeyId\":\"k\",\"EncryptedKey\":\"AAECAwQF\",\"Algorithm\":"
         "\"A256KW\"}," AGENT "," REGIONS "}",
         "too short"},
        {"{\"WrappedContentKey\":{\"KeyId\":\"k\",\"EncryptedKey\":\"" B64 "\",\"Algorithm\":"
         "\"A512KW\"}," AGENT "," REGIONS "}",
         "unknown WrappedContentKey.Algorithm"},
        {"{\"WrappedContentKey\":{\"KeyId\":\"\",\"EncryptedKey\":\"" B64 "\",\"Algorithm\":"
         "\"A256KW\"}," AGENT "," REGIONS "}",
         "KeyId has the wrong length"},
        {"{\"WrappedContentKey\":{\"KeyId\":\"a\\nb\",\"EncryptedKey\":\"" B64 "\",\"Algorithm\":"
         "\"A256KW\"}," AGENT "," REGIONS "}",
         "control characters"},
        {"{" WK "," AGENT ",\"EncryptedRegionInfo\":{\"DataLength\":0,\"NonceLength\":12}}",
         "DataLength out of range"},
        {"{" WK "," AGENT
         ",\"EncryptedRegionInfo\":{\"DataLength\":1073741824,\"NonceLength\":12}}",
         "DataLength out of range"},
        {"{" WK "," AGENT
         ",\"EncryptedRegionInfo\":{\"DataLength\":\"4194304\",\"NonceLength\":12}}",
         "DataLength must be an integer"},
        {"{" WK "," AGENT ",\"EncryptedRegionInfo\":{\"DataLength\":4194304.0,\"NonceLength\":12}}",
         "DataLength must be an integer"},
        {"{" WK "," AGENT ",\"EncryptedRegionInfo\":{\"DataLength\":4194304,\"NonceLength\":16}}",
         "NonceLength must be 12"},
        {"{" WK "," AGENT ",\"EncryptedRegionInfo\":{\"DataLength\":4194304}}",
         "NonceLength is missing"},
        {"{" WK "," AGENT "," REGIONS ",\"encryptionagent\":{}}", "duplicate member"},
        {"{" WK ",\"EncryptionAgent\":{\"Protocol\":\"2.0\",\"protocol\":\"2.0\","
         "\"EncryptionAlgorithm\":\"AES_GCM_256\"}," REGIONS "}",
         "duplicate member"},
        {"{" WK "," AGENT "," REGIONS ",\"Extra\":1}", "unknown member"},
        {"{" WK "," AGENT "," REGIONS ",\"EncryptionMode\":\"Partial\"}", "must be FullBlob"},
        {"{" WK "," AGENT "," REGIONS ",\"ContentEncryptionIV\":\"AAECAwQFBgcICQoLDA0ODw==\"}",
         "not part of protocol 2.x"},
        {"{" WK "," AGENT "," REGIONS ",\"KeyWrappingMetadata\":{\"a\":1}}", "must be strings"},
        {"{" WK ",\"EncryptionAgent\":{\"Protocol\":\"1.0\",\"EncryptionAlgorithm\":\"AES_CBC_"
         "256\"}," REGIONS ",\"ContentEncryptionIV\":\"AAECAwQFBgcICQoLDA0ODw==\"}",
         "not part of protocol 1.0"},
        {"{" WK
         ",\"EncryptionAgent\":{\"Protocol\":\"1.0\",\"EncryptionAlgorithm\":\"AES_CBC_256\"},"
         "\"ContentEncryptionIV\":\"AAECAwQFBgcICQoLDA0O\"}",
         "must be 16 bytes"},
        {"{" WK "," AGENT "," REGIONS "} trailing", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        cf_cse_meta meta;
        bool ok = cf_cse_meta_parse(json_of(refused[i].json), &meta);
        bool named = !ok && strstr(cf_error_detail(), refused[i].detail) != NULL;
        CHECK(named);
        if (!named)
            fprintf(stderr, "refused[%zu]: %s\n", i, ok ? "accepted" : cf_error_detail());
    }

    /* oversized: a valid document padded past 64 KiB */
    size_t big_len = CF_CSE_META_MAX + 1;
    char *big = malloc(big_len);
    const char *small = accepted[0];
    memset(big, ' ', big_len);
    memcpy(big, small, strlen(small));
    cf_cse_meta meta;
    CHECK(cf_cse_meta_parse(cf_slice_of(big, CF_CSE_META_MAX), &meta));
    CHECK(!cf_cse_meta_parse(cf_slice_of(big, big_len), &meta) &&
          cf_error_code() == CF_ERR_TOO_LARGE);
    free(big);

    /* build: the Python SDK's member order, compact, and it parses back */
    cf_cse_key *key = NULL;
    cf_buf json;
    cf_buf_init(&json, CF_CSE_META_MAX);
    CHECK(cf_cse_meta_init(&meta, CF_CSE_REGION_DEFAULT) && cf_cse_key_generate(&key) &&
          cf_cse_kek_wrap(aes_kek, key, &meta));
    CHECK(cf_cse_meta_build(&meta, &json) && cf_buf_terminate(&json));
    static const char head[] =
        "{\"WrappedContentKey\":{\"KeyId\":\"local:cse-aes-kek\",\"EncryptedKey\":\"";
    CHECK(strncmp((char *)json.data, head, sizeof head - 1) == 0);
    CHECK(strstr((char *)json.data,
                 "\",\"Algorithm\":\"A256KW\"},\"EncryptionAgent\":{\"Protocol\":\"2.0\","
                 "\"EncryptionAlgorithm\":\"AES_GCM_256\"},\"EncryptedRegionInfo\":{\"DataLength\":"
                 "4194304,\"NonceLength\":12},\"KeyWrappingMetadata\":{\"EncryptionLibrary\":"
                 "\"Coffer\"},\"EncryptionMode\":\"FullBlob\"}") != NULL);
    cf_cse_meta again;
    CHECK(cf_cse_meta_parse(cf_buf_slice(&json), &again));
    CHECK(memcmp(&again, &meta, sizeof meta) == 0);
    /* 2.0 means 4 MiB regions */
    meta.region_len = SMALL;
    CHECK(!cf_cse_meta_build(&meta, &json) && cf_error_code() == CF_ERR_BAD_INPUT);
    cf_cse_key_free(key);
    cf_buf_free(&json);
    CHECK(strcmp(cf_cse_protocol_name(CF_CSE_V2_1), "2.1") == 0);
    CHECK(strcmp(cf_cse_wrap_alg_name(CF_CSE_WRAP_RSA_OAEP), "RSA-OAEP") == 0);
}

int main(void)
{
    CHECK(cf_crypto_init());
    char *pem = kat_read("cse_rsa_kek.pem", NULL);
    CHECK(cf_cse_kek_from_key_file(cf_slice_of(aes_kek_bytes, 32), "local:cse-aes-kek", &aes_kek));
    CHECK(cf_cse_kek_from_key_file(json_of(pem), "local:cse-rsa-kek", &rsa_kek));
    free(pem);
    RUN(test_vectors);
    RUN(test_round_trips);
    RUN(test_ranges);
    RUN(test_other_sdk_nonces);
    RUN(test_tamper);
    RUN(test_keys);
    RUN(test_v1);
    RUN(test_meta);
    cf_cse_kek_free(aes_kek);
    cf_cse_kek_free(rsa_kek);
    TEST_DONE();
}
