/* Extents (src/core/extent.c, docs/extent-format.md): the reusable GCM
 * context, known answers, round trips at every size around the segment
 * boundaries, range reads across every boundary, every tampering case from
 * the spec, writer misuse, and (last, printed, not asserted) throughput. */
#include <time.h>

#include "crypto.h"
#include "extent.h"
#include "secmem.h"
#include "test.h"
#include "vectors/kat.h"

#define SEG 4096u
#define TAG CF_EXTENT_TAG_LEN
#define HDR CF_EXTENT_HEADER_LEN

static uint8_t scope_key[32], other_key[32];
static const uint8_t key_ref[16] = "scope-7/dk-v0003";

/* ---- memory sinks and sources ---- */

static bool buf_sink_write(void *ctx, cf_slice bytes)
{
    return cf_buf_append_slice(ctx, bytes);
}

static cf_extent_sink buf_sink(cf_buf *b)
{
    return (cf_extent_sink){buf_sink_write, b};
}

typedef struct {
    const uint8_t *p;
    size_t len;
    size_t calls;
    uint64_t first_off[64]; /* offsets of the reads after the header */
} mem_source;

static bool mem_read_at(void *ctx, uint64_t off, uint8_t *buf, size_t len)
{
    mem_source *m = ctx;
    if (off > m->len || len > m->len - off) {
        CF_RAISE(CF_ERR_IO, "read past the end");
        return false;
    }
    if (m->calls < 64)
        m->first_off[m->calls] = off;
    m->calls++;
    memcpy(buf, m->p + off, len);
    return true;
}

static cf_extent_source mem_src(mem_source *m, const uint8_t *p, size_t len)
{
    *m = (mem_source){.p = p, .len = len};
    return (cf_extent_source){mem_read_at, m, len};
}

/* The buffer holds exactly these bytes (an empty buffer may have no storage). */
static bool holds(const cf_buf *b, const uint8_t *want, size_t len)
{
    return b->len == len && (len == 0 || memcmp(b->data, want, len) == 0);
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 8)) & 0xff);
}

/* Seals `pt` in chunks of `chunk` bytes (0 = one write) into `out`. */
static bool seal(const uint8_t *key, uint32_t seg, const uint8_t *pt, size_t len, size_t chunk,
                 cf_buf *out)
{
    cf_extent_writer *w = NULL;
    bool ok = cf_extent_writer_begin(cf_slice_of(key, 32), key_ref, seg, buf_sink(out), &w);
    for (size_t off = 0; ok && off < len;) {
        size_t n = chunk && chunk < len - off ? chunk : len - off;
        ok = cf_extent_write(w, cf_slice_of(pt + off, n));
        off += n;
    }
    uint64_t plen = 0, slen = 0;
    ok = ok && cf_extent_finish(w, &plen, &slen);
    cf_extent_writer_free(w);
    return ok && plen == len && slen == out->len;
}

/* Reads [off, off+len) of a stored extent into `out` (cleared first). */
static bool read_range(const uint8_t *key, cf_slice stored, uint64_t off, uint64_t len, cf_buf *out,
                       mem_source *m)
{
    mem_source local;
    cf_extent_source src = mem_src(m ? m : &local, stored.ptr, stored.len);
    cf_buf_clear(out);
    return cf_extent_read(cf_slice_of(key, 32), &src, off, len, buf_sink(out));
}

/* ---- GCM context ---- */

static void test_gcm_ctx(void)
{
    uint8_t key[32], iv[12], pt[1000], ct1[1000], ct2[1000], back[1000], tag1[16], tag2[16];
    pattern(key, sizeof key, 1);
    pattern(iv, sizeof iv, 2);
    pattern(pt, sizeof pt, 3);
    cf_slice aad = CF_SLICE_LIT("header");
    cf_gcm *g = NULL;
    CHECK(cf_gcm_new(cf_slice_of(key, 32), &g));
    CHECK(!cf_gcm_new(cf_slice_of(key, 20), &(cf_gcm *){NULL}) &&
          cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(cf_aes_gcm_encrypt(cf_slice_of(key, 32), cf_slice_of(iv, 12), aad,
                             cf_slice_of(pt, sizeof pt), ct1, tag1));
    /* seal, open, seal again on one context: same answers as the one-shot API */
    for (int round = 0; round < 2; round++) {
        CHECK(cf_gcm_seal(g, iv, aad, cf_slice_of(pt, sizeof pt), ct2, tag2));
        CHECK_MEM(ct1, ct2, sizeof ct1);
        CHECK_MEM(tag1, tag2, 16);
        CHECK(cf_gcm_open(g, iv, aad, cf_slice_of(ct2, sizeof ct2), tag2, back));
        CHECK_MEM(back, pt, sizeof pt);
    }
    tag2[3] ^= 0x20;
    memset(back, 0xee, sizeof back);
    CHECK(!cf_gcm_open(g, iv, aad, cf_slice_of(ct2, sizeof ct2), tag2, back));
    CHECK(cf_error_code() == CF_ERR_DECRYPT);
    uint8_t zero[1000] = {0};
    CHECK_MEM(back, zero, sizeof back); /* unauthenticated output wiped */
    tag2[3] ^= 0x20;
    CHECK(cf_gcm_open(g, iv, aad, cf_slice_of(ct2, sizeof ct2), tag2, back)); /* still usable */
    /* empty message */
    CHECK(cf_gcm_seal(g, iv, aad, cf_slice_of(NULL, 0), NULL, tag2));
    CHECK(cf_gcm_open(g, iv, aad, cf_slice_of(NULL, 0), tag2, NULL));
    cf_gcm_free(g);
    cf_gcm_free(NULL);
}

/* ---- known answers ---- */

static void test_vectors(void)
{
    kat_file f;
    kat_rec r;
    kat_open(&f, "extent_v1.txt");
    int records = 0;
    static uint8_t pt[16384], want[20000];
    while (kat_next(&f, &r)) {
        records++;
        uint8_t key[32], ref[16], salt[32], prefix[7], ekey[32], derived[32], info[32];
        CHECK(kat_hex(&r, "scope_key", key, sizeof key) == 32);
        CHECK(kat_hex(&r, "key_ref", ref, sizeof ref) == 16);
        CHECK(kat_hex(&r, "salt", salt, sizeof salt) == 32);
        CHECK(kat_hex(&r, "nonce_prefix", prefix, sizeof prefix) == 7);
        CHECK(kat_hex(&r, "extent_key", ekey, sizeof ekey) == 32);
        uint32_t seg = (uint32_t)strtoul(kat_get(&r, "segment_size"), NULL, 10);
        size_t pt_len = kat_hex(&r, "pt", pt, sizeof pt);
        size_t want_len = kat_hex(&r, "extent", want, sizeof want);
        /* the key schedule of the spec */
        memcpy(info, "coffer extent v1", 16);
        memcpy(info + 16, ref, 16);
        CHECK(cf_hkdf_sha256(cf_slice_of(key, 32), cf_slice_of(salt, 32), cf_slice_of(info, 32),
                             derived, 32));
        CHECK_MEM(derived, ekey, 32);
        /* the writer, byte for byte, in two different chunkings */
        for (size_t chunk = 1; chunk <= 4097; chunk += 4096) {
            cf_buf out;
            cf_buf_init(&out, 1 << 20);
            cf_extent_writer *w = NULL;
            uint64_t plen = 0, slen = 0;
            CHECK(cf_extent_writer_begin_testing_only(cf_slice_of(key, 32), ref, seg, salt, prefix,
                                                      buf_sink(&out), &w));
            for (size_t off = 0; off < pt_len; off += chunk) {
                size_t n = chunk < pt_len - off ? chunk : pt_len - off;
                CHECK(cf_extent_write(w, cf_slice_of(pt + off, n)));
            }
            CHECK(cf_extent_finish(w, &plen, &slen));
            cf_extent_writer_free(w);
            CHECK(plen == pt_len && slen == want_len && out.len == want_len);
            CHECK(holds(&out, want, want_len));
            cf_buf_free(&out);
        }
        /* and the reader */
        cf_buf back;
        cf_buf_init(&back, 1 << 20);
        CHECK(read_range(key, cf_slice_of(want, want_len), 0, pt_len, &back, NULL));
        CHECK(holds(&back, pt, pt_len));
        cf_buf_free(&back);
    }
    CHECK(records == 2);
    kat_close(&f);
}

/* ---- round trips ---- */

static void test_round_trips(void)
{
    static const size_t sizes[] = {0, 1, SEG - 1, SEG, SEG + 1, 2 * SEG, 3 * SEG + 7, 5 * SEG - 1};
    static const size_t chunks[] = {0, 1, 7, 1000, SEG - 1, SEG, SEG + 1, 3 * SEG + 5};
    static uint8_t pt[5 * SEG];
    pattern(pt, sizeof pt, 9);
    cf_buf stored, back;
    cf_buf_init(&stored, 1 << 20);
    cf_buf_init(&back, 1 << 20);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        for (size_t j = 0; j < sizeof chunks / sizeof *chunks; j++) {
            size_t len = sizes[i];
            if (chunks[j] == 1 && len > 2 * SEG)
                continue; /* byte-at-a-time is covered by the smaller sizes */
            cf_buf_clear(&stored);
            CHECK(seal(scope_key, SEG, pt, len, chunks[j], &stored));
            uint64_t want_stored, plen;
            CHECK(cf_extent_stored_length(SEG, len, &want_stored) && want_stored == stored.len);
            cf_extent_header h;
            CHECK(cf_extent_header_parse(cf_slice_of(stored.data, HDR), &h));
            CHECK(h.segment_size == SEG && memcmp(h.key_ref, key_ref, 16) == 0);
            CHECK(cf_extent_plaintext_length(&h, stored.len, &plen) && plen == len);
            mem_source m;
            CHECK(read_range(scope_key, cf_buf_slice(&stored), 0, len, &back, &m));
            CHECK(holds(&back, pt, len));
            /* header + every segment, each read once */
            CHECK(m.calls == 1 + (len == 0 ? 1 : (len - 1) / SEG + 1));
        }
    }
    /* stored length of a size that is a multiple: no trailing empty segment */
    cf_buf_clear(&stored);
    CHECK(seal(scope_key, SEG, pt, 2 * SEG, 0, &stored));
    CHECK(stored.len == HDR + 2 * (SEG + TAG));
    cf_buf_clear(&stored);
    CHECK(seal(scope_key, SEG, pt, 0, 0, &stored));
    CHECK(stored.len == HDR + TAG);
    /* two extents of the same plaintext differ (random salt and prefix) */
    cf_buf again;
    cf_buf_init(&again, 1 << 20);
    CHECK(seal(scope_key, SEG, pt, 0, 0, &again));
    CHECK(again.len == stored.len && memcmp(again.data, stored.data, stored.len) != 0);
    cf_buf_free(&again);
    /* the default and the largest segment size */
    static uint8_t big[300000];
    pattern(big, sizeof big, 4);
    uint32_t segs[] = {CF_EXTENT_SEGMENT_DEFAULT, CF_EXTENT_SEGMENT_MAX};
    for (size_t k = 0; k < 2; k++) {
        cf_buf_clear(&stored);
        CHECK(seal(scope_key, segs[k], big, sizeof big, 33333, &stored));
        CHECK(read_range(scope_key, cf_buf_slice(&stored), 0, sizeof big, &back, NULL));
        CHECK(holds(&back, big, sizeof big));
        CHECK(read_range(scope_key, cf_buf_slice(&stored), 65535, 3, &back, NULL));
        CHECK(holds(&back, big + 65535, 3));
    }
    cf_buf_free(&stored);
    cf_buf_free(&back);
}

/* ---- range reads ---- */

static void test_ranges(void)
{
    const size_t total = 3 * SEG + 100;
    static uint8_t pt[3 * SEG + 100];
    pattern(pt, sizeof pt, 5);
    cf_buf stored, back;
    cf_buf_init(&stored, 1 << 20);
    cf_buf_init(&back, 1 << 20);
    CHECK(seal(scope_key, SEG, pt, total, 777, &stored));
    static const uint64_t points[] = {
        0,           1,           SEG - 1, SEG,         SEG + 1,      2 * SEG - 1,  2 * SEG,
        2 * SEG + 1, 3 * SEG - 1, 3 * SEG, 3 * SEG + 1, 3 * SEG + 99, 3 * SEG + 100};
    const size_t np = sizeof points / sizeof *points;
    for (size_t a = 0; a < np; a++) {
        for (size_t b = a; b < np; b++) {
            uint64_t off = points[a], len = points[b] - points[a];
            mem_source m;
            CHECK(read_range(scope_key, cf_buf_slice(&stored), off, len, &back, &m));
            CHECK(holds(&back, pt + off, len));
            /* exactly the touched segments were fetched, in order */
            uint64_t first = off / SEG, last = len ? (off + len - 1) / SEG : off / SEG;
            if (last > 3)
                last = first = 3;
            CHECK(m.calls == 1 + (last - first + 1));
            CHECK(m.first_off[0] == 0 && m.first_off[1] == HDR + first * (SEG + TAG));
        }
    }
    /* out of range */
    CHECK(!read_range(scope_key, cf_buf_slice(&stored), total + 1, 0, &back, NULL));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT && back.len == 0);
    CHECK(!read_range(scope_key, cf_buf_slice(&stored), total - 1, 2, &back, NULL));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!read_range(scope_key, cf_buf_slice(&stored), 1, UINT64_MAX, &back, NULL));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!read_range(scope_key, cf_buf_slice(&stored), UINT64_MAX, 1, &back, NULL));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    cf_buf_free(&stored);
    cf_buf_free(&back);
}

/* ---- tampering ---- */

/* A read of the whole of `bad` must fail with one of the two codes and
 * deliver nothing but an authentic prefix of whole segments before
 * `bad_segment`. */
static void expect_refused(const uint8_t *key, cf_slice bad, const uint8_t *pt, size_t pt_len,
                           size_t bad_segment, int line)
{
    cf_buf back;
    cf_buf_init(&back, 1 << 20);
    mem_source m;
    cf_extent_source src = mem_src(&m, bad.ptr, bad.len);
    cf_extent_header h;
    uint64_t plen = pt_len;
    /* read what the stored length claims, as a server would */
    if (bad.len >= HDR && cf_extent_header_parse(cf_slice_of(bad.ptr, HDR), &h) &&
        !cf_extent_plaintext_length(&h, bad.len, &plen))
        plen = 0;
    bool ok = cf_extent_read(cf_slice_of(key, 32), &src, 0, plen, buf_sink(&back));
    cf_err code = cf_error_code();
    bool good = !ok && (code == CF_ERR_DECRYPT || code == CF_ERR_BAD_INPUT) &&
                back.len <= (uint64_t)bad_segment * SEG && back.len % SEG == 0 &&
                holds(&back, pt, back.len);
    if (!good)
        fprintf(stderr, "  tamper case from line %d: ok=%d code=%s delivered=%zu\n", line, ok,
                cf_err_name(code), back.len);
    CHECK(good);
    cf_buf_free(&back);
}
#define REFUSED(key, bad, len, seg) expect_refused((key), (bad), pt, pt_total, (seg), __LINE__)

static void test_tamper(void)
{
    const size_t pt_total = 3 * SEG + 500; /* segments: S, S, S, 500 */
    const size_t T = SEG + TAG;
    static uint8_t pt[3 * SEG + 500];
    pattern(pt, sizeof pt, 6);
    cf_buf a, b, bad;
    cf_buf_init(&a, 1 << 20);
    cf_buf_init(&b, 1 << 20);
    cf_buf_init(&bad, 1 << 20);
    CHECK(seal(scope_key, SEG, pt, pt_total, 1000, &a));
    CHECK(seal(scope_key, SEG, pt, pt_total, 0, &b)); /* same key and plaintext, other salt */
    const size_t n = a.len;
    CHECK(n == HDR + 4 * TAG + pt_total);
#define RESET()                                    \
    do {                                           \
        cf_buf_clear(&bad);                        \
        CHECK(cf_buf_append(&bad, a.data, a.len)); \
    } while (0)

    /* one bit flipped, anywhere: header, ciphertext, tag */
    for (size_t i = 0; i < n; i++) {
        RESET();
        bad.data[i] ^= (uint8_t)(1u << (i % 8));
        size_t seg = i < HDR ? 0 : (i - HDR) / T;
        REFUSED(scope_key, cf_buf_slice(&bad), n, seg);
    }
    /* header edits: the parser refuses some, the AAD/key the rest */
    RESET();
    bad.data[4] = 2; /* version */
    REFUSED(scope_key, cf_buf_slice(&bad), n, 0);
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    RESET();
    bad.data[6] = 13; /* another legal segment size */
    REFUSED(scope_key, cf_buf_slice(&bad), n, 0);
    CHECK(cf_error_code() == CF_ERR_DECRYPT);
    RESET();
    bad.data[8 + 15] ^= 0x01; /* key reference */
    REFUSED(scope_key, cf_buf_slice(&bad), n, 0);
    CHECK(cf_error_code() == CF_ERR_DECRYPT);
    /* ... including a key reference copied from another extent's header */
    RESET();
    memcpy(bad.data, b.data, HDR);
    REFUSED(scope_key, cf_buf_slice(&bad), n, 0);
    /* wrong scope key */
    REFUSED(other_key, cf_buf_slice(&a), n, 0);
    CHECK(cf_error_code() == CF_ERR_DECRYPT);

    /* truncation at each segment boundary, mid-segment, inside the header */
    for (size_t k = 0; k <= 3; k++) {
        REFUSED(scope_key, cf_slice_of(a.data, HDR + k * T), n, k ? k - 1 : 0);
        REFUSED(scope_key, cf_slice_of(a.data, HDR + k * T + 100), n, k);
        REFUSED(scope_key, cf_slice_of(a.data, HDR + k * T + 10), n, 0); /* not even a tag */
    }
    REFUSED(scope_key, cf_slice_of(a.data, n - 1), n, 3);
    REFUSED(scope_key, cf_slice_of(a.data, HDR - 1), n, 0);
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    REFUSED(scope_key, cf_slice_of(a.data, 0), n, 0);

    /* an extra segment appended: a copy of the last one, a full one, a stub */
    RESET();
    CHECK(cf_buf_append(&bad, a.data + HDR + 3 * T, n - HDR - 3 * T));
    REFUSED(scope_key, cf_buf_slice(&bad), n, 3);
    RESET();
    bad.len = HDR + 3 * T;                       /* drop the short last one ... */
    CHECK(cf_buf_append(&bad, a.data + HDR, T)); /* ... append a copy of segment 0 */
    REFUSED(scope_key, cf_buf_slice(&bad), n, 3);
    RESET();
    CHECK(cf_buf_append(&bad, a.data + HDR, 17));
    REFUSED(scope_key, cf_buf_slice(&bad), n, 3);

    /* two segments swapped; a segment copied to another index */
    RESET();
    memcpy(bad.data + HDR, a.data + HDR + T, T);
    memcpy(bad.data + HDR + T, a.data + HDR, T);
    REFUSED(scope_key, cf_buf_slice(&bad), n, 0);
    RESET();
    memcpy(bad.data + HDR + 2 * T, a.data + HDR + T, T);
    REFUSED(scope_key, cf_buf_slice(&bad), n, 2);
    /* a segment from another extent under the same key, at the same index */
    RESET();
    memcpy(bad.data + HDR + T, b.data + HDR + T, T);
    REFUSED(scope_key, cf_buf_slice(&bad), n, 1);
    RESET();
    memcpy(bad.data + HDR + 3 * T, b.data + HDR + 3 * T, n - HDR - 3 * T);
    REFUSED(scope_key, cf_buf_slice(&bad), n, 3);

    /* a range read of an untouched segment still works after damage elsewhere
     * (it authenticates what it returns), one of the damaged one does not */
    RESET();
    bad.data[HDR + T + 5] ^= 0x80;
    cf_buf back;
    cf_buf_init(&back, 1 << 20);
    CHECK(read_range(scope_key, cf_buf_slice(&bad), 2 * SEG, SEG + 500, &back, NULL));
    CHECK(holds(&back, pt + 2 * SEG, SEG + 500));
    CHECK(!read_range(scope_key, cf_buf_slice(&bad), SEG + 10, 1, &back, NULL));
    CHECK(cf_error_code() == CF_ERR_DECRYPT && back.len == 0);
    cf_buf_free(&back);

    /* the empty extent: one tag, and nothing can be cut, added or flipped */
    cf_buf e;
    cf_buf_init(&e, 4096);
    CHECK(seal(scope_key, SEG, pt, 0, 0, &e));
    for (size_t i = 0; i < e.len; i++) {
        cf_buf_clear(&bad);
        CHECK(cf_buf_append(&bad, e.data, e.len));
        bad.data[i] ^= 0x01;
        REFUSED(scope_key, cf_buf_slice(&bad), 0, 0);
    }
    REFUSED(other_key, cf_buf_slice(&e), 0, 0);
    cf_buf_clear(&bad);
    CHECK(cf_buf_append(&bad, e.data, e.len) && cf_buf_append(&bad, e.data + HDR, TAG));
    REFUSED(scope_key, cf_buf_slice(&bad), 0, 0);
    cf_buf_clear(&bad);
    CHECK(cf_buf_append(&bad, e.data, e.len) && cf_buf_append(&bad, a.data + HDR, T));
    REFUSED(scope_key, cf_buf_slice(&bad), 0, 0);
    cf_buf_free(&e);
#undef RESET
    cf_buf_free(&a);
    cf_buf_free(&b);
    cf_buf_free(&bad);
}

/* ---- header parser, lengths, writer misuse ---- */

/* ---- the infrastructure layer ---- */

/* Seals `pt` twice: inner under `inner`, outer (cipher 2) under `outer`. */
static bool seal_layered(const uint8_t *inner, const uint8_t *outer, const uint8_t *pt, size_t len,
                         size_t chunk, cf_buf *out)
{
    static const uint8_t infra_ref[16] = "infra-ref-000001";
    cf_extent_writer *o = NULL, *i = NULL;
    bool ok =
        cf_extent_writer_begin_cipher(cf_slice_of(outer, 32), infra_ref, 65536,
                                      CF_EXTENT_CIPHER_LAYER, buf_sink(out), &o) &&
        cf_extent_writer_begin(cf_slice_of(inner, 32), key_ref, 65536, cf_extent_layer_sink(o), &i);
    for (size_t off = 0; ok && off < len;) {
        size_t n = chunk && chunk < len - off ? chunk : len - off;
        ok = cf_extent_write(i, cf_slice_of(pt + off, n));
        off += n;
    }
    uint64_t plen = 0, ilen = 0, slen = 0;
    ok = ok && cf_extent_finish(i, &plen, &ilen) && cf_extent_finish(o, NULL, &slen);
    uint64_t want_inner = 0, want_stored = 0;
    ok = ok && cf_extent_stored_length(65536, len, &want_inner) &&
         cf_extent_stored_length(65536, want_inner, &want_stored);
    cf_extent_writer_free(i);
    cf_extent_writer_free(o);
    return ok && plen == len && ilen == want_inner && slen == want_stored && slen == out->len;
}

/* Reads [off, off+len) through the layer. */
static bool read_layered(const uint8_t *inner, const uint8_t *outer, cf_slice stored, uint64_t off,
                         uint64_t len, cf_buf *out)
{
    mem_source m;
    cf_extent_source src = mem_src(&m, stored.ptr, stored.len);
    cf_extent_layer *l = NULL;
    cf_buf_clear(out);
    if (!cf_extent_layer_open(cf_slice_of(outer, 32), &src, &l))
        return false;
    cf_extent_source in = cf_extent_layer_source(l);
    bool ok = cf_extent_read(cf_slice_of(inner, 32), &in, off, len, buf_sink(out));
    cf_extent_layer_free(l);
    return ok;
}

static void test_layer(void)
{
    static const size_t sizes[] = {0, 1, 65535, 65536, 65552 * 3 + 7, 300001};
    size_t max = 300001;
    uint8_t *pt = malloc(max);
    pattern(pt, max, 11);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t len = sizes[k];
        cf_buf stored, got;
        cf_buf_init(&stored, 1 << 21);
        cf_buf_init(&got, 1 << 21);
        CHECK(seal_layered(scope_key, other_key, pt, len, 10007, &stored));
        CHECK(stored.data[5] == CF_EXTENT_CIPHER_LAYER);
        CHECK(read_layered(scope_key, other_key, cf_buf_slice(&stored), 0, len, &got) &&
              holds(&got, pt, len));
        if (len > 70000) { /* a range straddling inner and outer segment ends */
            CHECK(read_layered(scope_key, other_key, cf_buf_slice(&stored), 65530, 70000, &got) &&
                  holds(&got, pt + 65530, 70000));
        }
        /* Either key wrong: refused. */
        CHECK(!read_layered(scope_key, scope_key, cf_buf_slice(&stored), 0, len, &got) &&
              cf_error_code() == CF_ERR_DECRYPT);
        CHECK(!read_layered(other_key, other_key, cf_buf_slice(&stored), 0, len, &got) &&
              cf_error_code() == CF_ERR_DECRYPT);
        /* A flipped bit anywhere in the outer extent: refused. */
        for (size_t pos = 64; pos < stored.len; pos += stored.len / 7 + 1) {
            stored.data[pos] ^= 0x10;
            CHECK(!read_layered(scope_key, other_key, cf_buf_slice(&stored), 0, len, &got) &&
                  cf_error_code() == CF_ERR_DECRYPT);
            stored.data[pos] ^= 0x10;
        }
        /* A plain (single-layer) extent is not an outer layer. */
        cf_buf plain;
        cf_buf_init(&plain, 1 << 21);
        CHECK(seal(scope_key, 65536, pt, len, 0, &plain));
        CHECK(!read_layered(scope_key, other_key, cf_buf_slice(&plain), 0, len, &got) &&
              cf_error_code() == CF_ERR_DECRYPT);
        /* The cipher byte is authenticated: rewriting 2 -> 1 fails its tags. */
        stored.data[5] = CF_EXTENT_CIPHER_AES256_GCM_HKDF;
        CHECK(!read_range(other_key, cf_buf_slice(&stored), 0, 1, &got, NULL) || len == 0 ||
              cf_error_code() == CF_ERR_DECRYPT);
        cf_buf_free(&plain);
        cf_buf_free(&stored);
        cf_buf_free(&got);
    }
    free(pt);
}

static bool failing_sink(void *ctx, cf_slice bytes)
{
    size_t *budget = ctx;
    if (bytes.len > *budget)
        return false; /* raises nothing: the extent layer reports CF_ERR_IO */
    *budget -= bytes.len;
    return true;
}

static void test_header_and_misuse(void)
{
    cf_buf stored;
    cf_buf_init(&stored, 1 << 20);
    static uint8_t pt[3 * SEG];
    CHECK(seal(scope_key, SEG, pt, 10, 0, &stored));
    cf_extent_header h;
    CHECK(cf_extent_header_parse(cf_slice_of(stored.data, HDR), &h));
    CHECK(h.version == 1 && h.cipher == 1 && h.segment_size == SEG);
    CHECK(!cf_extent_header_parse(cf_slice_of(stored.data, HDR - 1), &h));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_extent_header_parse(cf_slice_of(stored.data, HDR + 1), &h));
    uint8_t raw[HDR];
    static const struct {
        size_t at;
        uint8_t v;
    } bad[] = {{0, 'c'}, {3, 'U'}, {4, 0},    {4, 2}, {5, 0}, {5, 3},
               {6, 11},  {6, 21},  {6, 0xff}, {7, 1}, {63, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memcpy(raw, stored.data, HDR);
        raw[bad[i].at] = bad[i].v;
        CHECK(!cf_extent_header_parse(cf_slice_of(raw, HDR), &h) &&
              cf_error_code() == CF_ERR_BAD_INPUT);
    }
    for (uint8_t shift = 12; shift <= 20; shift++) {
        memcpy(raw, stored.data, HDR);
        raw[6] = shift;
        CHECK(cf_extent_header_parse(cf_slice_of(raw, HDR), &h) && h.segment_size == 1u << shift);
    }
    /* stored length arithmetic, at its edges */
    CHECK(cf_extent_header_parse(cf_slice_of(stored.data, HDR), &h));
    uint64_t len, stored_len;
    CHECK(cf_extent_plaintext_length(&h, HDR + TAG, &len) && len == 0);
    CHECK(!cf_extent_plaintext_length(&h, HDR + TAG - 1, &len) &&
          cf_error_code() == CF_ERR_DECRYPT);
    CHECK(!cf_extent_plaintext_length(&h, HDR + SEG + TAG + TAG, &len)); /* empty non-first last */
    CHECK(cf_extent_plaintext_length(&h, HDR + SEG + TAG + TAG + 1, &len) && len == SEG + 1);
    CHECK(!cf_extent_plaintext_length(&h, UINT64_MAX, &len));
    CHECK(cf_extent_stored_length(SEG, (uint64_t)SEG << 32, &stored_len));
    CHECK(cf_extent_plaintext_length(&h, stored_len, &len) && len == (uint64_t)SEG << 32);
    CHECK(!cf_extent_stored_length(SEG, ((uint64_t)SEG << 32) + 1, &stored_len) &&
          cf_error_code() == CF_ERR_TOO_LARGE);
    CHECK(!cf_extent_plaintext_length(&h, stored_len + 1, &len));
    CHECK(!cf_extent_stored_length(3000, 1, &stored_len) && cf_error_code() == CF_ERR_BAD_INPUT);

    /* bad writer parameters */
    cf_extent_writer *w = (cf_extent_writer *)&h; /* must be reset to NULL on failure */
    static const uint32_t bad_sizes[] = {0, 1, 2048, 4095, 4097, 3 * 4096, 1u << 21, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof *bad_sizes; i++) {
        cf_buf_clear(&stored);
        CHECK(!cf_extent_writer_begin(cf_slice_of(scope_key, 32), key_ref, bad_sizes[i],
                                      buf_sink(&stored), &w));
        CHECK(cf_error_code() == CF_ERR_BAD_INPUT && w == NULL && stored.len == 0);
    }
    CHECK(!cf_extent_writer_begin(cf_slice_of(scope_key, 16), key_ref, SEG, buf_sink(&stored), &w));
    CHECK(w == NULL);
    /* a closed writer stays closed */
    CHECK(cf_extent_writer_begin(cf_slice_of(scope_key, 32), key_ref, SEG, buf_sink(&stored), &w));
    CHECK(cf_extent_write(w, CF_SLICE_LIT("abc")));
    CHECK(cf_extent_finish(w, NULL, NULL));
    CHECK(!cf_extent_write(w, CF_SLICE_LIT("d")) && cf_error_code() == CF_ERR_OPERATION);
    CHECK(!cf_extent_finish(w, NULL, NULL));
    cf_extent_writer_free(w);
    /* a failing sink fails the writer for good */
    size_t budget = HDR + SEG + TAG; /* header and one segment, then refuse */
    CHECK(cf_extent_writer_begin(cf_slice_of(scope_key, 32), key_ref, SEG,
                                 (cf_extent_sink){failing_sink, &budget}, &w));
    CHECK(!cf_extent_write(w, cf_slice_of(pt, sizeof pt)) && cf_error_code() == CF_ERR_IO);
    CHECK(!cf_extent_write(w, cf_slice_of(pt, 1)));
    CHECK(!cf_extent_finish(w, NULL, NULL));
    cf_extent_writer_free(w);
    budget = 10;
    CHECK(!cf_extent_writer_begin(cf_slice_of(scope_key, 32), key_ref, SEG,
                                  (cf_extent_sink){failing_sink, &budget}, &w));
    CHECK(cf_error_code() == CF_ERR_IO && w == NULL);
    cf_extent_writer_free(NULL);
    /* a failing plaintext sink fails the read */
    cf_buf_clear(&stored);
    CHECK(seal(scope_key, SEG, pt, sizeof pt, 0, &stored));
    mem_source m;
    cf_extent_source src = mem_src(&m, stored.data, stored.len);
    budget = SEG;
    CHECK(!cf_extent_read(cf_slice_of(scope_key, 32), &src, 0, sizeof pt,
                          (cf_extent_sink){failing_sink, &budget}));
    CHECK(cf_error_code() == CF_ERR_IO);
    /* read_header tells which key to ask for */
    CHECK(cf_extent_read_header(&src, &h) && memcmp(h.key_ref, key_ref, 16) == 0);
    /* a source shorter than it claims */
    cf_buf out;
    cf_buf_init(&out, 1 << 20);
    src.length = stored.len + SEG + TAG;
    CHECK(!cf_extent_read(cf_slice_of(scope_key, 32), &src, 0, 3 * SEG + SEG, buf_sink(&out)));
    CHECK(out.len <= 2 * SEG);
    cf_buf_free(&out);
    cf_buf_free(&stored);
}

/* ---- throughput (printed, not asserted) ---- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} flat;

static bool flat_write(void *ctx, cf_slice bytes)
{
    flat *f = ctx;
    if (bytes.len > f->cap - f->len)
        return false;
    memcpy(f->p + f->len, bytes.ptr, bytes.len);
    f->len += bytes.len;
    return true;
}

static bool count_write(void *ctx, cf_slice bytes)
{
    uint64_t *sum = ctx;
    *sum += bytes.len + bytes.ptr[bytes.len - 1];
    return true;
}

static bool flat_read_at(void *ctx, uint64_t off, uint8_t *buf, size_t len)
{
    flat *f = ctx;
    memcpy(buf, f->p + off, len);
    return true;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_throughput(void)
{
    const char *env = getenv("COFFER_EXTENT_BENCH_MIB");
    size_t mib = env ? strtoul(env, NULL, 10) : 256;
    if (mib == 0)
        return;
    const size_t total = mib << 20, chunk = 1 << 20, seg = CF_EXTENT_SEGMENT_DEFAULT;
    uint8_t *pt = malloc(chunk);
    flat store = {malloc(total + total / seg * TAG + 4096), 0, total + total / seg * TAG + 4096};
    CHECK(pt && store.p);
    if (!pt || !store.p)
        return;
    pattern(pt, chunk, 8);
    memset(store.p, 0, store.cap); /* fault the pages in outside the timings */
    /* raw one-shot AES-256-GCM and the reusable context, 64 KiB messages */
    uint8_t iv[12] = {0}, tag[16];
    double t0 = now();
    for (size_t off = 0; off < total; off += seg)
        CHECK(cf_aes_gcm_encrypt(cf_slice_of(scope_key, 32), cf_slice_of(iv, 12),
                                 cf_slice_of(NULL, 0), cf_slice_of(pt, seg), store.p, tag));
    double raw = now() - t0;
    cf_gcm *g = NULL;
    CHECK(cf_gcm_new(cf_slice_of(scope_key, 32), &g));
    t0 = now();
    for (size_t off = 0; off < total; off += seg)
        CHECK(cf_gcm_seal(g, iv, cf_slice_of(NULL, 0), cf_slice_of(pt, seg), store.p, tag));
    double ctx = now() - t0;
    cf_gcm_free(g);
    /* write: 1 MiB writes into a memory sink */
    cf_extent_writer *w = NULL;
    t0 = now();
    CHECK(cf_extent_writer_begin(cf_slice_of(scope_key, 32), key_ref, (uint32_t)seg,
                                 (cf_extent_sink){flat_write, &store}, &w));
    for (size_t off = 0; off < total; off += chunk)
        CHECK(cf_extent_write(w, cf_slice_of(pt, chunk)));
    CHECK(cf_extent_finish(w, NULL, NULL));
    double wr = now() - t0;
    cf_extent_writer_free(w);
    /* read: the whole extent from memory to a counting sink */
    uint64_t sum = 0;
    cf_extent_source src = {flat_read_at, &store, store.len};
    t0 = now();
    CHECK(cf_extent_read(cf_slice_of(scope_key, 32), &src, 0, total,
                         (cf_extent_sink){count_write, &sum}));
    double rd = now() - t0;
    CHECK(sum >= total);
    double m = (double)mib * 1048576.0 / 1e6;
    fprintf(stderr,
            "  %zu MiB, 64 KiB segments: cf_aes_gcm_encrypt %.0f MB/s, cf_gcm_seal %.0f MB/s, "
            "extent write %.0f MB/s, extent read %.0f MB/s\n",
            mib, m / raw, m / ctx, m / wr, m / rd);
    free(pt);
    free(store.p);
}

int main(void)
{
    CHECK(cf_crypto_init());
    CHECK(cf_random_bytes(scope_key, 32) && cf_random_bytes(other_key, 32));
    RUN(test_gcm_ctx);
    RUN(test_vectors);
    RUN(test_round_trips);
    RUN(test_ranges);
    RUN(test_tamper);
    RUN(test_header_and_misuse);
    RUN(test_layer);
    RUN(test_throughput);
    TEST_DONE();
}
