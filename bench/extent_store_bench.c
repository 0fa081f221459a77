/*
 * extent_store_bench: the extent store's write and read throughput on one
 * backend (src/blob/extent_store.h), without HTTP or crypto in the way.
 *
 *   extent_store_bench SPEC [MIB [EXTENT_KIB [THREADS [READ_KIB [CHUNK_KIB [IN_FLIGHT]]]]]]
 *
 * SPEC is files:DIR or rados:POOL (CEPH_CONF names the cluster).  Each of
 * THREADS writers (default 1) writes MIB / THREADS MiB (default 256 in
 * all) as extents of EXTENT_KIB (default 65536) through the store, in pieces
 * of 64 KiB + 16 (a sealed default segment, as the blob store hands them
 * over); then every extent is read back with read_at calls of READ_KIB
 * (default 64, one segment's worth; 0 = whole extents at once) and
 * compared, and removed.  CHUNK_KIB and IN_FLIGHT tune the RADOS backend
 * (0: defaults).  Prints one line per phase: MiB, seconds, MB/s.
 *
 * The files backend's numbers include the page cache: the fsync at finish
 * makes writes honest, reads come from memory unless the cache is dropped.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_number.h"
#include "crypto.h"
#include "extent_store.h"

#define PIECE (64 * 1024 + 16)

static cf_extent_store *store;
static uint64_t extent_bytes, per_thread;
static size_t read_len;

typedef struct {
    unsigned seed;
    size_t n;
    char (*ids)[CF_EXTENT_STORE_ID_LEN + 1];
    bool ok;
} job;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The bytes written: a random pattern, read at an offset that depends on
 * the extent, so that writing costs no more than pointing into it. */
#define PATTERN (1021 * 1024)
static uint8_t pattern[PATTERN + PIECE];

static const uint8_t *pattern_at(unsigned seed, uint64_t i)
{
    return pattern + (i + (uint64_t)seed * 7919) % PATTERN;
}

static void fail(const char *what)
{
    fprintf(stderr, "%s: %s (%s) at %s\n", what, cf_err_name(cf_error_code()), cf_error_detail(),
            cf_error_where());
}

static void *writer(void *arg)
{
    job *j = arg;
    j->ok = true;
    for (size_t e = 0; j->ok && e < j->n; e++) {
        cf_extent_store_writer *w = NULL;
        if (!cf_extent_store_new_id(j->ids[e]) || !cf_extent_store_create(store, j->ids[e], &w)) {
            fail("create");
            j->ok = false;
            break;
        }
        for (uint64_t off = 0; j->ok && off < extent_bytes; off += PIECE) {
            size_t n = extent_bytes - off < PIECE ? (size_t)(extent_bytes - off) : PIECE;
            const uint8_t *piece = pattern_at(j->seed + (unsigned)e, off);
            if (!cf_extent_store_write(w, cf_slice_of(piece, n))) {
                fail("write");
                j->ok = false;
            }
        }
        if (j->ok && !cf_extent_store_finish(w, NULL)) {
            fail("finish");
            j->ok = false;
        }
        cf_extent_store_writer_free(w);
    }
    return NULL;
}

static void *reader(void *arg)
{
    job *j = arg;
    size_t len = read_len ? read_len : (size_t)extent_bytes;
    uint8_t *buf = malloc(len ? len : 1);
    j->ok = buf != NULL;
    for (size_t e = 0; j->ok && e < j->n; e++) {
        cf_extent_store_reader *r = NULL;
        if (!cf_extent_store_reader_open(store, j->ids[e], &r)) {
            fail("open");
            j->ok = false;
            break;
        }
        for (uint64_t off = 0; j->ok && off < extent_bytes; off += len) {
            size_t n = extent_bytes - off < len ? (size_t)(extent_bytes - off) : len;
            if (!cf_extent_store_read_at(r, off, buf, n)) {
                fail("read");
                j->ok = false;
            }
            for (size_t i = 0; j->ok && i < n; i += 4093)
                if (buf[i] != *pattern_at(j->seed + (unsigned)e, off + i)) {
                    fprintf(stderr, "read: wrong byte at %llu\n", (unsigned long long)(off + i));
                    j->ok = false;
                }
        }
        cf_extent_store_reader_close(r);
    }
    free(buf);
    return NULL;
}

static void *remover(void *arg)
{
    job *j = arg;
    for (size_t e = 0; j->ok && e < j->n; e++)
        if (!cf_extent_store_remove(store, j->ids[e])) {
            fail("remove");
            j->ok = false;
        }
    return NULL;
}

static bool run(const char *phase, void *(*fn)(void *), job *jobs, unsigned threads)
{
    pthread_t t[64];
    double t0 = now_s();
    for (unsigned i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, fn, &jobs[i]);
    bool ok = true;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        ok = ok && jobs[i].ok;
    }
    double secs = now_s() - t0;
    double mib = (double)per_thread * threads / (1024.0 * 1024.0);
    printf("%-6s %s %8.0f MiB %7.2f s %8.1f MB/s\n", phase, cf_extent_store_kind(store), mib, secs,
           (double)per_thread * threads / 1e6 / secs);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 8) {
        fprintf(stderr,
                "usage: %s SPEC [MIB [EXTENT_KIB [THREADS [READ_KIB [CHUNK_KIB "
                "[IN_FLIGHT]]]]]]\n",
                argv[0]);
        return 2;
    }
    uint64_t mib = argc > 2 ? cli_number(argv[2], 1 << 20, "MIB") : 256;
    uint64_t ext_kib = argc > 3 ? cli_number(argv[3], 1 << 26, "EXTENT_KIB") : 65536;
    unsigned threads = argc > 4 ? (unsigned)cli_number(argv[4], 64, "THREADS") : 1;
    read_len = (argc > 5 ? cli_number(argv[5], 1 << 20, "READ_KIB") : 64) * 1024;
    cf_extent_store_options opt = {
        .chunk_size = (uint32_t)(argc > 6 ? cli_number(argv[6], 1 << 16, "CHUNK_KIB") : 0) * 1024,
        .in_flight = (unsigned)(argc > 7 ? cli_number(argv[7], 16, "IN_FLIGHT") : 0),
    };
    if (!threads || !ext_kib || mib * 1024 < ext_kib * threads) {
        fprintf(stderr, "need THREADS >= 1 and MIB * 1024 >= EXTENT_KIB * THREADS\n");
        return 2;
    }
    extent_bytes = ext_kib * 1024;
    size_t per = (size_t)(mib * 1024 / ext_kib / threads);
    per_thread = per * extent_bytes;
    if (!cf_crypto_init() || !cf_random_bytes(pattern, PATTERN)) {
        fail("random pattern");
        return 1;
    }
    memcpy(pattern + PATTERN, pattern, PIECE);
    if (!cf_extent_store_open(argv[1], &opt, &store)) {
        fail("open the store");
        return 1;
    }
    job jobs[64];
    bool ok = true;
    for (unsigned i = 0; i < threads; i++) {
        jobs[i] = (job){.seed = i * 1000, .n = per, .ids = calloc(per, sizeof *jobs[i].ids)};
        ok = ok && jobs[i].ids;
    }
    ok = ok && run("write", writer, jobs, threads) && run("read", reader, jobs, threads);
    for (unsigned i = 0; i < threads; i++)
        jobs[i].ok = true;
    ok = run("remove", remover, jobs, threads) && ok;
    for (unsigned i = 0; i < threads; i++)
        free(jobs[i].ids);
    cf_extent_store_close(store);
    return ok ? 0 : 1;
}
