/*
 * Page blobs in the blob store: create, Put Page (update and clear) against
 * a shadow copy of the blob through a seeded run of random writes, ranged
 * reads and Get Page Ranges checked against it; sparse storage (rows and
 * inline extents only for chunks with data, none left after clearing);
 * the errors and their Azure reasons; sequence numbers and their
 * conditions; resize (a tail cut and grown back reads as zeros); a reader
 * crossing its plan's windows; Copy Blob; the infrastructure layer; a
 * tampered or swapped chunk refused.  On SQLite, then on PostgreSQL when
 * COFFER_TEST_PG names a server (tests/system/blob_store_postgres.sh), then
 * with the extents in RADOS when COFFER_TEST_EXTENTS names a namespace
 * (blob_store_rados.sh).
 */
#include "blob_store.h"

#include <unistd.h>

#include "crypto.h"
#include "json_secure.h"
#include "test.h"
#include "blob_store_fixture.h"

#define ACC "acct1"
#define CON "con1"
#define T0 1700000000
#define KIB 1024u
#define CHUNK CF_BLOB_PAGE_CHUNK

static uint8_t service_key[32];

static cf_blob_store *fresh_store(void)
{
    reset_store();
    cf_blob_store *s = NULL;
    CHECK(test_store_open(service_key, &s));
    CHECK(cf_blob_account_create(s, ACC, T0, false));
    CHECK(cf_blob_container_create(s, ACC, CON, NULL, CF_ACCESS_PRIVATE, T0, NULL));
    return s;
}

static bool create(cf_blob_store *s, const char *name, uint64_t size)
{
    return cf_blob_page_create(s, ACC, CON, name, size, 0, NULL, NULL, NULL, T0, NULL);
}

static bool put(cf_blob_store *s, const char *name, uint64_t off, uint64_t len, const uint8_t *data)
{
    return cf_blob_page_write(s, ACC, CON, name, off, len, data, NULL, NULL, T0, NULL);
}

typedef struct {
    uint8_t *data;
    size_t len, cap;
} collect;

static bool collect_write(void *ctx, cf_slice bytes)
{
    collect *c = ctx;
    if (bytes.len > c->cap - c->len)
        return false;
    memcpy(c->data + c->len, bytes.ptr, bytes.len);
    c->len += bytes.len;
    return true;
}

/* Whether [off, off + len) of the blob reads as `want`. */
static bool reads_as(cf_blob_store *s, const char *name, uint64_t off, size_t len,
                     const uint8_t *want)
{
    collect c = {malloc(len ? len : 1), 0, len};
    bool ok = cf_blob_read(s, ACC, CON, name, off, len, (cf_extent_sink){collect_write, &c}) &&
              c.len == len && memcmp(c.data, want, len) == 0;
    if (!ok)
        fprintf(stderr, "   read [%llu, +%zu) differs (%s)\n", (unsigned long long)off, len,
                cf_error_detail());
    free(c.data);
    return ok;
}

/* Get Page Ranges into pairs (first, last). */
typedef struct {
    uint64_t r[4096][2];
    size_t n;
} ranges;

static bool see_range(void *ctx, uint64_t first, uint64_t last)
{
    ranges *g = ctx;
    if (g->n == sizeof g->r / sizeof g->r[0])
        return false;
    g->r[g->n][0] = first;
    g->r[g->n][1] = last;
    g->n++;
    return true;
}

static bool list_ranges(cf_blob_store *s, const char *name, uint64_t off, uint64_t len,
                        unsigned max, ranges *g)
{
    g->n = 0;
    uint64_t next = 0;
    do {
        cf_blob_page_ranges_req req = {off, len, next, max};
        cf_blob_info info;
        bool ok =
            cf_blob_page_ranges(s, ACC, CON, name, &req, NULL, T0, &info, see_range, g, &next);
        cf_blob_info_free(&info);
        if (!ok)
            return false;
    } while (next);
    return true;
}

/* The shadow's written pages as merged ranges within [lo, hi). */
static void shadow_ranges(const bool *written, uint64_t lo, uint64_t hi, ranges *g)
{
    g->n = 0;
    for (uint64_t p = lo / 512; p * 512 < hi; p++) {
        if (!written[p])
            continue;
        uint64_t from = p * 512 > lo ? p * 512 : lo, to = (p + 1) * 512 < hi ? (p + 1) * 512 : hi;
        if (g->n && g->r[g->n - 1][1] + 1 == from)
            g->r[g->n - 1][1] = to - 1;
        else if (g->n < sizeof g->r / sizeof g->r[0]) {
            g->r[g->n][0] = from;
            g->r[g->n][1] = to - 1;
            g->n++;
        }
    }
}

static bool same_ranges(const ranges *a, const ranges *b)
{
    if (a->n != b->n) {
        fprintf(stderr, "   %zu ranges, wanted %zu\n", a->n, b->n);
        return false;
    }
    return memcmp(a->r, b->r, a->n * sizeof a->r[0]) == 0;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(uint64_t n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state % n;
}

/* ---- the shadow run ---- */

static void test_shadow(void)
{
    cf_blob_store *s = fresh_store();
    /* Not a whole number of chunks: the last chunk is partly past the end. */
    const uint64_t size = 20 * CHUNK + 3 * 512;
    uint8_t *shadow = calloc(1, size), *buf = malloc(CF_BLOB_PAGE_MAX_WRITE);
    bool *written = calloc(size / 512, sizeof *written);
    CHECK(create(s, "disk", size));
    CHECK(reads_as(s, "disk", 0, size, shadow));
    ranges got, want;
    CHECK(list_ranges(s, "disk", 0, CF_BLOB_WHOLE, 100, &got) && got.n == 0);
    for (int op = 0; op < 300; op++) {
        uint64_t pages = 1 + rnd(op % 10 == 0 ? 300 : 40);
        uint64_t first = rnd(size / 512 - pages + 1);
        uint64_t off = first * 512, len = pages * 512;
        bool clear = rnd(4) == 0;
        for (uint64_t i = 0; i < len; i++)
            buf[i] = (uint8_t)(op * 7 + i * 13 + 1);
        CHECK(put(s, "disk", off, len, clear ? NULL : buf));
        if (clear)
            memset(shadow + off, 0, len);
        else
            memcpy(shadow + off, buf, len);
        for (uint64_t p = first; p < first + pages; p++)
            written[p] = !clear;
        if (op % 25 == 0) {
            uint64_t ro = rnd(size), rl = 1 + rnd(size - ro);
            CHECK(reads_as(s, "disk", ro, rl, shadow + ro));
            CHECK(list_ranges(s, "disk", ro, rl, 3, &got));
            shadow_ranges(written, ro, ro + rl, &want);
            CHECK(same_ranges(&got, &want));
        }
    }
    CHECK(reads_as(s, "disk", 0, size, shadow));
    CHECK(list_ranges(s, "disk", 0, CF_BLOB_WHOLE, CF_BLOB_PAGE_RANGES_MAX, &got));
    shadow_ranges(written, 0, size, &want);
    CHECK(same_ranges(&got, &want));
    /* Sparse: a row per chunk with data, no more; and no extent stored that
     * no row names (a call's chunks share one extent). */
    int64_t chunks = 0;
    for (uint64_t c = 0; c * CHUNK < size; c++) {
        bool any = false;
        for (uint64_t p = c * CHUNK / 512; p < (c + 1) * CHUNK / 512 && p < size / 512; p++)
            any = any || written[p];
        chunks += any;
    }
    CHECK(db_count("SELECT count(*) FROM blob_extents") == chunks);
    settle(s); /* PostgreSQL: replaced chunks wait for the sweep */
    int64_t named = db_count("SELECT count(DISTINCT extent) FROM blob_extents");
    CHECK(named > 0 && named < chunks && (int64_t)extents() == named);
    /* Cleared everywhere: nothing stored at all. */
    for (uint64_t off = 0; off < size; off += CF_BLOB_PAGE_MAX_WRITE) {
        uint64_t len = size - off < CF_BLOB_PAGE_MAX_WRITE ? size - off : CF_BLOB_PAGE_MAX_WRITE;
        CHECK(put(s, "disk", off, len, NULL));
    }
    memset(shadow, 0, size);
    CHECK(reads_as(s, "disk", 0, size, shadow));
    CHECK(db_count("SELECT count(*) FROM blob_extents") == 0);
    settle(s);
    CHECK(extents() == 0);
    free(shadow);
    free(buf);
    free(written);
    cf_blob_store_close(s);
}

/* ---- errors ---- */

static void test_errors(void)
{
    cf_blob_store *s = fresh_store();
    uint8_t page[1024] = {1};
    CHECK_FAILS(create(s, "odd", 1000), "InvalidHeaderValue");
    CHECK_FAILS(create(s, "huge", CF_BLOB_PAGE_MAX_SIZE + 512), "InvalidHeaderValue");
    CHECK_FAILS(cf_blob_page_create(s, ACC, CON, "neg", 512, -1, NULL, NULL, NULL, T0, NULL),
                "InvalidHeaderValue");
    CHECK(create(s, "p", 4 * CHUNK));
    CHECK_FAILS(put(s, "p", 100, 512, page), "InvalidPageRange");
    CHECK_FAILS(put(s, "p", 0, 500, page), "InvalidPageRange");
    CHECK_FAILS(put(s, "p", 4 * CHUNK, 512, page), "InvalidPageRange");
    CHECK_FAILS(put(s, "p", 4 * CHUNK - 512, 1024, page), "InvalidPageRange");
    CHECK_FAILS(put(s, "p", 0, CF_BLOB_PAGE_MAX_WRITE + 512, NULL), "InvalidHeaderValue");
    CHECK_FAILS(put(s, "missing", 0, 512, page), "BlobNotFound");
    /* Other blob types refuse page operations, and page blobs block ones. */
    cf_blob_writer *w = NULL;
    CHECK(cf_blob_put_begin(s, ACC, CON, "block", NULL, NULL, NULL, T0, &w) &&
          cf_blob_writer_commit(w, T0, NULL));
    cf_blob_writer_free(w);
    CHECK_FAILS(put(s, "block", 0, 512, page), "InvalidBlobType");
    CHECK_FAILS(cf_blob_page_resize(s, ACC, CON, "block", 512, NULL, T0, NULL), "InvalidBlobType");
    w = NULL;
    CHECK_FAILS(cf_blob_block_begin(s, ACC, CON, "p", CF_SLICE_LIT("b1"), NULL, T0, &w),
                "InvalidBlobType");
    cf_blob_writer_free(w);
    w = NULL;
    CHECK_FAILS(cf_blob_append_begin(s, ACC, CON, "p", NULL, NULL, T0, &w), "InvalidBlobType");
    cf_blob_writer_free(w);
    cf_blob_page_ranges_req req = {5 * CHUNK, CF_BLOB_WHOLE, 0, 10};
    cf_blob_info info;
    uint64_t next;
    ranges g = {.n = 0};
    CHECK_FAILS(cf_blob_page_ranges(s, ACC, CON, "p", &req, NULL, T0, &info, see_range, &g, &next),
                "InvalidRange");
    cf_blob_info_free(&info);
    /* Conditions and leases as for any write. */
    cf_blob_cond stale = {.if_match = "\"0x0000000000000000\""};
    CHECK_FAILS(cf_blob_page_write(s, ACC, CON, "p", 0, 512, page, &stale, NULL, T0, NULL),
                "ConditionNotMet");
    cf_lease_req acquire = {.action = CF_LEASE_ACQUIRE, .duration = -1};
    cf_lease_result lease;
    CHECK(cf_blob_lease(s, ACC, CON, "p", &acquire, NULL, T0, &lease));
    CHECK_FAILS(put(s, "p", 0, 512, page), "LeaseIdMissing");
    cf_blob_cond leased = {.lease_id = lease.lease_id};
    CHECK(cf_blob_page_write(s, ACC, CON, "p", 0, 512, page, &leased, NULL, T0, NULL));
    /* The blob's info says what it is. */
    cf_blob_info b;
    CHECK(cf_blob_get(s, ACC, CON, "p", NULL, T0, &b) && b.type == CF_BLOB_PAGE &&
          b.size == 4 * CHUNK);
    cf_blob_info_free(&b);
    cf_blob_store_close(s);
}

/* ---- sequence numbers ---- */

static void test_sequence(void)
{
    cf_blob_store *s = fresh_store();
    uint8_t page[512] = {7};
    cf_blob_write_result r;
    CHECK(cf_blob_page_create(s, ACC, CON, "q", CHUNK, 5, NULL, NULL, NULL, T0, &r) &&
          r.sequence == 5);
    cf_blob_seq_cond le4 = {4, -1, -1}, lt5 = {-1, 5, -1}, eq6 = {-1, -1, 6}, ok = {5, 6, 5};
    CHECK_FAILS(cf_blob_page_write(s, ACC, CON, "q", 0, 512, page, NULL, &le4, T0, NULL),
                "SequenceNumberConditionNotMet");
    CHECK_FAILS(cf_blob_page_write(s, ACC, CON, "q", 0, 512, page, NULL, &lt5, T0, NULL),
                "SequenceNumberConditionNotMet");
    CHECK_FAILS(cf_blob_page_write(s, ACC, CON, "q", 0, 512, page, NULL, &eq6, T0, NULL),
                "SequenceNumberConditionNotMet");
    CHECK(cf_blob_page_write(s, ACC, CON, "q", 0, 512, page, NULL, &ok, T0, &r) && r.sequence == 5);
    CHECK(cf_blob_page_sequence(s, ACC, CON, "q", CF_SEQ_MAX, 3, NULL, T0, &r) && r.sequence == 5);
    CHECK(cf_blob_page_sequence(s, ACC, CON, "q", CF_SEQ_MAX, 9, NULL, T0, &r) && r.sequence == 9);
    CHECK(cf_blob_page_sequence(s, ACC, CON, "q", CF_SEQ_UPDATE, 2, NULL, T0, &r) &&
          r.sequence == 2);
    CHECK(cf_blob_page_sequence(s, ACC, CON, "q", CF_SEQ_INCREMENT, 0, NULL, T0, &r) &&
          r.sequence == 3);
    CHECK_FAILS(cf_blob_page_sequence(s, ACC, CON, "q", CF_SEQ_UPDATE, -1, NULL, T0, NULL),
                "InvalidHeaderValue");
    CHECK(cf_blob_page_sequence(s, ACC, CON, "q", CF_SEQ_UPDATE, INT64_MAX, NULL, T0, NULL));
    CHECK_FAILS(cf_blob_page_sequence(s, ACC, CON, "q", CF_SEQ_INCREMENT, 0, NULL, T0, NULL),
                "SequenceNumberIncrementTooLarge");
    cf_blob_info b;
    CHECK(cf_blob_get(s, ACC, CON, "q", NULL, T0, &b) && b.sequence == INT64_MAX);
    cf_blob_info_free(&b);
    cf_blob_store_close(s);
}

/* ---- resize ---- */

static void test_resize(void)
{
    cf_blob_store *s = fresh_store();
    uint8_t *data = malloc(3 * CHUNK), *zeros = calloc(1, 3 * CHUNK);
    memset(data, 0xab, 3 * CHUNK);
    CHECK(create(s, "r", 3 * CHUNK));
    CHECK(put(s, "r", 0, 3 * CHUNK, data));
    /* Cut in the middle of the second chunk, then grow back. */
    CHECK(cf_blob_page_resize(s, ACC, CON, "r", CHUNK + 1024, NULL, T0, NULL));
    CHECK(db_count("SELECT count(*) FROM blob_extents") == 2);
    ranges got;
    CHECK(list_ranges(s, "r", 0, CF_BLOB_WHOLE, 10, &got) && got.n == 1 && got.r[0][0] == 0 &&
          got.r[0][1] == CHUNK + 1023);
    CHECK_FAILS(put(s, "r", CHUNK + 1024, 512, data), "InvalidPageRange");
    CHECK(cf_blob_page_resize(s, ACC, CON, "r", 3 * CHUNK, NULL, T0, NULL));
    CHECK(reads_as(s, "r", 0, CHUNK + 1024, data));
    CHECK(reads_as(s, "r", CHUNK + 1024, 2 * CHUNK - 1024, zeros));
    CHECK_FAILS(cf_blob_page_resize(s, ACC, CON, "r", 700, NULL, T0, NULL), "InvalidHeaderValue");
    /* To nothing: no rows, no inline extents. */
    CHECK(cf_blob_page_resize(s, ACC, CON, "r", 0, NULL, T0, NULL));
    CHECK(db_count("SELECT count(*) FROM blob_extents") == 0);
    settle(s);
    CHECK(db_count("SELECT count(*) FROM inline_extents") == 0);
    free(data);
    free(zeros);
    cf_blob_store_close(s);
}

/* ---- a reader's snapshot ---- */

static void test_snapshot(void)
{
    cf_blob_store *s = fresh_store();
    uint8_t *a = malloc(2 * CHUNK), *b = malloc(2 * CHUNK), *buf = malloc(2 * CHUNK);
    memset(a, 0xaa, 2 * CHUNK);
    memset(b, 0xbb, 2 * CHUNK);
    CHECK(create(s, "snap", 2 * CHUNK) && put(s, "snap", 0, 2 * CHUNK, a));
    /* A whole read (no range) serves the blob as it was when it opened,
     * the state its headers and conditions saw. */
    cf_blob_info info;
    cf_blob_reader *r = NULL;
    CHECK(cf_blob_reader_open(s, ACC, CON, "snap", 0, CF_BLOB_WHOLE, NULL, T0, &info, &r));
    cf_blob_info_free(&info);
    CHECK(put(s, "snap", 0, 2 * CHUNK, b));
    size_t got = 0, total = 0;
    while (r && total < 2 * CHUNK && cf_blob_reader_read(r, buf + total, 2 * CHUNK - total, &got) &&
           got)
        total += got;
    CHECK(total == 2 * CHUNK && memcmp(buf, a, 2 * CHUNK) == 0);
    cf_blob_reader_free(r);
    CHECK(reads_as(s, "snap", 0, 2 * CHUNK, b));
    free(a);
    free(b);
    free(buf);
    cf_blob_store_close(s);
}

/* ---- a read across windows, copy, paging ---- */

static void test_large(void)
{
    cf_blob_store *s = fresh_store();
    /* Past two windows of 4096 chunks (256 MiB each). */
    const uint64_t size = 600ull * CF_MIB;
    uint8_t page[512];
    const uint64_t at[] = {0, 256ull * CF_MIB - 512, 256ull * CF_MIB, 512ull * CF_MIB + 4096,
                           size - 512};
    CHECK(create(s, "big", size));
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        memset(page, (int)(i + 1), sizeof page);
        CHECK(put(s, "big", at[i], 512, page));
    }
    /* One reader over the whole blob: every page where it was written. */
    cf_blob_info info;
    cf_blob_reader *r = NULL;
    CHECK(cf_blob_reader_open(s, ACC, CON, "big", 0, CF_BLOB_WHOLE, NULL, T0, &info, &r));
    cf_blob_info_free(&info);
    uint8_t *buf = malloc(CF_MIB);
    uint64_t pos = 0;
    uint8_t *want = malloc(CF_MIB);
    size_t got = 1, bad = 0;
    while (r && got && cf_blob_reader_read(r, buf, CF_MIB, &got)) {
        /* What [pos, pos + got) should hold: zeros, and the pages written. */
        memset(want, 0, got);
        for (size_t k = 0; k < sizeof at / sizeof at[0]; k++)
            for (uint64_t b = at[k]; b < at[k] + 512; b++)
                if (b >= pos && b < pos + got)
                    want[b - pos] = (uint8_t)(k + 1);
        bad += memcmp(buf, want, got) != 0;
        pos += got;
    }
    free(want);
    CHECK(pos == size && bad == 0);
    cf_blob_reader_free(r);
    free(buf);
    /* Paged listing: one range per call, the markers in between. */
    ranges g;
    CHECK(list_ranges(s, "big", 0, CF_BLOB_WHOLE, 1, &g) && g.n == 4);
    CHECK(g.r[1][0] == 256ull * CF_MIB - 512 && g.r[1][1] == 256ull * CF_MIB + 511);
    /* Copy: the same pages, sharing the chunks. */
    cf_blob_copy_result cr;
    CHECK(cf_blob_copy(s, ACC, CON, "big", NULL, CON, "copy", NULL, NULL, NULL, T0, &cr));
    ranges g2;
    CHECK(list_ranges(s, "copy", 0, CF_BLOB_WHOLE, 100, &g2) && g2.n == 4);
    memset(page, 5, sizeof page);
    CHECK(reads_as(s, "copy", size - 512, 512, page));
    CHECK(db_count("SELECT count(*) FROM inline_extents") == 5);
    /* Writing the copy leaves the source as it was. */
    memset(page, 9, sizeof page);
    CHECK(put(s, "copy", 0, 512, page));
    CHECK(reads_as(s, "copy", 0, 512, page));
    memset(page, 1, sizeof page);
    CHECK(reads_as(s, "big", 0, 512, page));
    CHECK(cf_blob_delete(s, ACC, CON, "big", NULL, T0));
    CHECK(cf_blob_delete(s, ACC, CON, "copy", NULL, T0));
    settle(s);
    CHECK(db_count("SELECT count(*) FROM inline_extents") == 0);
    cf_blob_store_close(s);
}

/* ---- the infrastructure layer, tampering ---- */

static void test_infrastructure_and_tamper(void)
{
    cf_blob_store *s = fresh_store();
    CHECK(cf_blob_account_create(s, "infra1", T0, true));
    CHECK(cf_blob_container_create(s, "infra1", CON, NULL, CF_ACCESS_PRIVATE, T0, NULL));
    uint8_t *data = malloc(2 * CHUNK);
    for (size_t i = 0; i < 2 * CHUNK; i++)
        data[i] = (uint8_t)(i * 3);
    CHECK(cf_blob_page_create(s, "infra1", CON, "d", 2 * CHUNK, 0, NULL, NULL, NULL, T0, NULL));
    /* Both chunks in one call (one extent in the extent store, inside the
     * outer layer), then each rewritten alone (inline, inside it too). */
    CHECK(cf_blob_page_write(s, "infra1", CON, "d", 512, 2 * CHUNK - 1024, data + 512, NULL, NULL,
                             T0, NULL));
    CHECK(db_count("SELECT count(DISTINCT extent) FROM blob_extents") == 1);
    memset(data, 0, 512);
    memset(data + 2 * CHUNK - 512, 0, 512);
    collect c = {malloc(2 * CHUNK), 0, 2 * CHUNK};
    CHECK(cf_blob_read(s, "infra1", CON, "d", 0, 2 * CHUNK, (cf_extent_sink){collect_write, &c}) &&
          memcmp(c.data, data, 2 * CHUNK) == 0);
    for (int k = 0; k < 2; k++)
        CHECK(cf_blob_page_write(s, "infra1", CON, "d", (uint64_t)k * CHUNK + 4096, 512,
                                 data + k * CHUNK + 4096, NULL, NULL, T0, NULL));
    CHECK(db_count("SELECT count(DISTINCT extent) FROM blob_extents") == 2);
    c.len = 0;
    CHECK(cf_blob_read(s, "infra1", CON, "d", 0, 2 * CHUNK, (cf_extent_sink){collect_write, &c}) &&
          memcmp(c.data, data, 2 * CHUNK) == 0);
    /* The two chunks' sealed bytes swapped between their extent ids: refused. */
    uint8_t *a = NULL, *b = NULL;
    int a_len = 0, b_len = 0;
    CHECK(db_exec("SELECT data FROM inline_extents WHERE id = (SELECT extent FROM blob_extents"
                  " WHERE seq = 0)",
                  NULL, 0, &a, &a_len));
    CHECK(db_exec("SELECT data FROM inline_extents WHERE id = (SELECT extent FROM blob_extents"
                  " WHERE seq = 1)",
                  NULL, 0, &b, &b_len));
    CHECK(a_len > (int)CHUNK && a_len == b_len);
    CHECK(db_exec("UPDATE inline_extents SET data = ?1 WHERE id = (SELECT extent FROM"
                  " blob_extents WHERE seq = 0)",
                  b, b_len, NULL, NULL));
    CHECK(db_exec("UPDATE inline_extents SET data = ?1 WHERE id = (SELECT extent FROM"
                  " blob_extents WHERE seq = 1)",
                  a, a_len, NULL, NULL));
    free(a);
    free(b);
    c.len = 0;
    CHECK(!cf_blob_read(s, "infra1", CON, "d", 0, 512, (cf_extent_sink){collect_write, &c}) &&
          cf_error_code() == CF_ERR_DECRYPT);
    /* A partial write opens the chunk it keeps part of: refused too. */
    CHECK(!cf_blob_page_write(s, "infra1", CON, "d", 0, 512, data, NULL, NULL, T0, NULL) &&
          cf_error_code() == CF_ERR_DECRYPT);
    free(c.data);
    free(data);
    cf_blob_store_close(s);
}

static void run_all(void)
{
    RUN(test_shadow);
    RUN(test_errors);
    RUN(test_sequence);
    RUN(test_resize);
    RUN(test_snapshot);
    RUN(test_large);
    RUN(test_infrastructure_and_tamper);
}

int main(void)
{
    run_on_every_backend("blob-page", service_key, run_all);
    TEST_DONE();
}
