/*
 * CRC-64/NVME: the check value, the committed vectors (computed bit by bit in
 * Python and by the Azure SDK), a bit-at-a-time reference here, the PCLMULQDQ
 * code against the table code on every length 0..4096 at random alignments
 * and on large buffers, streaming splits, and the header formatting.  Ends by
 * printing (not asserting) the speed of both versions.
 */
#include <stdint.h>
#include <time.h>

#include "crc64.h"
#include "test.h"
#include "vectors/kat.h"

/* The definition, one bit at a time: shares no code or constant with crc64.c
 * but the polynomial. */
static uint64_t ref_crc64(const uint8_t *p, size_t len)
{
    uint64_t crc = UINT64_C(0xFFFFFFFFFFFFFFFF);
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ ((crc & 1) ? UINT64_C(0x9A6C9329AC4BC9B5) : 0);
    }
    return ~crc;
}

/* xorshift64*: reproducible test data without a dependency. */
static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(0x2545F4914F6CDD1D);
}

static void fill_random(uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(rng() >> 56);
}

static uint64_t crc_portable(const uint8_t *p, size_t len)
{
    return cf_crc64_final(cf_crc64_update_portable(cf_crc64_init(), cf_slice_of(p, len)));
}

static uint64_t crc_clmul(const uint8_t *p, size_t len)
{
    return cf_crc64_final(cf_crc64_update_clmul(cf_crc64_init(), cf_slice_of(p, len)));
}

static void test_check_value(void)
{
    cf_slice check = CF_SLICE_LIT("123456789");
    char b64[CF_CRC64_BASE64_SIZE];
    CHECK(cf_crc64(check) == UINT64_C(0xAE8B14860A799888));
    CHECK(crc_portable(check.ptr, check.len) == UINT64_C(0xAE8B14860A799888));
    CHECK(crc_clmul(check.ptr, check.len) == UINT64_C(0xAE8B14860A799888));
    CHECK(ref_crc64(check.ptr, check.len) == UINT64_C(0xAE8B14860A799888));
    cf_crc64_base64(cf_crc64(check), b64);
    CHECK_STR(b64, "iJh5CoYUi64=");
    /* Empty input: init and xorout cancel. */
    CHECK(cf_crc64(cf_slice_of(NULL, 0)) == 0);
    cf_crc64_base64(0, b64);
    CHECK_STR(b64, "AAAAAAAAAAA=");
    cf_crc64_base64(UINT64_MAX, b64);
    CHECK_STR(b64, "//////////8=");
}

/* A vector's input: `msg` in hex, or `pattern = len mul add`. */
static uint8_t *vector_input(const kat_rec *r, size_t *len)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->name[i], "msg") == 0) {
            *len = strlen(r->value[i]) / 2;
            uint8_t *p = malloc(*len + 1);
            CHECK(p != NULL && kat_hex(r, "msg", p, *len) == *len);
            return p;
        }
    unsigned long n, mul, add;
    CHECK(sscanf(kat_get(r, "pattern"), "%lu %lu %lu", &n, &mul, &add) == 3);
    uint8_t *p = malloc(n + 1);
    CHECK(p != NULL);
    for (unsigned long i = 0; i < n; i++)
        p[i] = (uint8_t)(i * mul + add);
    *len = n;
    return p;
}

static void test_vectors(void)
{
    kat_file k;
    kat_rec r;
    int count = 0;
    kat_open(&k, "crc64_nvme.txt");
    while (kat_next(&k, &r)) {
        size_t len;
        uint8_t *msg = vector_input(&r, &len);
        unsigned long long want;
        char b64[CF_CRC64_BASE64_SIZE];
        CHECK(sscanf(kat_get(&r, "crc"), "%llx", &want) == 1);
        CHECK(crc_portable(msg, len) == want);
        CHECK(crc_clmul(msg, len) == want);
        CHECK(cf_crc64(cf_slice_of(msg, len)) == want);
        CHECK(ref_crc64(msg, len) == want);
        cf_crc64_base64(want, b64);
        CHECK_STR(b64, kat_get(&r, "b64"));
        free(msg);
        count++;
    }
    kat_close(&k);
    CHECK(count >= 20);
}

/* Every length 0..4096 at a random offset into the buffer, so the SIMD
 * loads see every alignment; the bit reference covers the short end. */
static void test_every_length(void)
{
    enum { MAX = 4096, SLACK = 64 };
    uint8_t *buf = malloc(MAX + SLACK);
    CHECK(buf != NULL);
    fill_random(buf, MAX + SLACK);
    int bad = 0;
    for (size_t len = 0; len <= MAX; len++) {
        const uint8_t *p = buf + rng() % SLACK;
        uint64_t want = crc_portable(p, len);
        bad += crc_clmul(p, len) != want;
        if (len <= 600)
            bad += ref_crc64(p, len) != want;
    }
    CHECK(bad == 0);
    free(buf);
}

/* Big buffers with sizes around the 128-byte and 16-byte steps. */
static void test_large(void)
{
    const size_t sizes[] = {1 << 20,         (1 << 20) + 1,       (1 << 20) + 15, (1 << 20) + 16,
                            (1 << 20) + 127, 3 * 1000 * 1000 + 7, 8 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        uint8_t *buf = malloc(sizes[i] + 8);
        CHECK(buf != NULL);
        fill_random(buf, sizes[i] + 8);
        size_t off = (size_t)(rng() % 8);
        CHECK(crc_clmul(buf + off, sizes[i]) == crc_portable(buf + off, sizes[i]));
        free(buf);
    }
    uint8_t *one = malloc(3 << 20);
    CHECK(one != NULL);
    memset(one, 0xff, 3 << 20);
    CHECK(crc_clmul(one, 3 << 20) == ref_crc64(one, 3 << 20));
    free(one);
}

/* A body split in two at every offset, and in random pieces, gives the
 * one-shot result, through both implementations. */
static void test_streaming(void)
{
    enum { LEN = 1024 };
    uint8_t buf[LEN];
    fill_random(buf, LEN);
    uint64_t want = ref_crc64(buf, LEN);
    int bad = 0;
    for (size_t cut = 0; cut <= LEN; cut++) {
        uint64_t a = cf_crc64_update_portable(cf_crc64_init(), cf_slice_of(buf, cut));
        uint64_t b = cf_crc64_update_clmul(cf_crc64_init(), cf_slice_of(buf, cut));
        a = cf_crc64_update_portable(a, cf_slice_of(buf + cut, LEN - cut));
        b = cf_crc64_update_clmul(b, cf_slice_of(buf + cut, LEN - cut));
        bad += cf_crc64_final(a) != want;
        bad += cf_crc64_final(b) != want;
    }
    for (int round = 0; round < 200; round++) {
        uint64_t st = cf_crc64_init();
        for (size_t pos = 0, n; pos < LEN; pos += n) {
            n = (size_t)(rng() % 300);
            n = n > LEN - pos ? LEN - pos : n;
            st = cf_crc64_update(st, cf_slice_of(buf + pos, n));
        }
        bad += cf_crc64_final(st) != want;
    }
    CHECK(bad == 0);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_one(const char *name, uint64_t (*update)(uint64_t, cf_slice), const uint8_t *buf,
                      size_t len)
{
    double t0 = now_seconds();
    uint64_t crc = cf_crc64_final(update(cf_crc64_init(), cf_slice_of(buf, len)));
    double dt = now_seconds() - t0;
    fprintf(stderr, "   %-8s %8.0f MB/s  (%zu MiB in %.3f s, crc %016llx)\n", name,
            (double)len / 1e6 / dt, len >> 20, dt, (unsigned long long)crc);
}

/* Printed, not asserted: timings vary with the machine and sanitizers. */
static void bench(void)
{
    size_t len = (size_t)256 << 20;
    uint8_t *buf = malloc(len);
    CHECK(buf != NULL);
    fill_random(buf, 4096);
    for (size_t i = 4096; i < len; i += 4096)
        memcpy(buf + i, buf, 4096); /* touch every page before timing */
    bench_one("portable", cf_crc64_update_portable, buf, len);
    if (cf_crc64_clmul_available())
        bench_one("pclmul", cf_crc64_update_clmul, buf, len);
    else
        fprintf(stderr, "   pclmul   not available on this CPU/build\n");
    free(buf);
}

int main(void)
{
    RUN(test_check_value);
    RUN(test_vectors);
    RUN(test_every_length);
    RUN(test_large);
    RUN(test_streaming);
    RUN(bench);
    TEST_DONE();
}
