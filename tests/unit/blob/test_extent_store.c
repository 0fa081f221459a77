/*
 * The extent store (src/blob/extent_store.h) against real backends: one
 * suite run on the files backend (a fresh directory) always, and on RADOS
 * when CEPH_CONF is set (pool CEPH_POOL, default "coffer"; a namespace of
 * its own, ES_TEST_NS or a random one, so that the walks, which remove
 * partial writes with a cut-off in the future, touch nothing else) twice:
 * with the default chunk size and with 64 KiB chunks, many boundaries for
 * little data.  Cases: sizes 0, 1, chunk - 1, chunk, chunk + 1 and several
 * chunks plus a tail, written in uneven pieces; random ranges read back
 * across chunk boundaries; sequential reads in uneven pieces (the
 * read-ahead); stored bytes lost under an open reader; reads past the end;
 * a sealed extent read through cf_extent_read; aborted writers leave
 * nothing; removal is idempotent; missing and malformed ids; writer
 * misuse; the garbage-collection walk (finished extents reported by age,
 * partial writes of a crashed process removed by age, a slow writer whose
 * partial extent was collected fails to finish; a RADOS head of a foreign
 * format left alone); RADOS namespaces kept apart; writers and readers on
 * several threads at once.  Always, without a cluster: malformed specs,
 * and a monitor that does not answer is a CF_ERR_UNAVAILABLE naming RADOS
 * after the timeout, not a hang.
 *
 * What a backend holds for an id is checked from outside the store: the
 * files themselves, or the pool's objects through librados.
 *
 * Driven by tests/system/extent_store_rados.sh (environment):
 *   ES_TEST_SAMPLE=DIR  after the suite, leaves one sealed extent holding a
 *                       plaintext marker in the store: DIR/sample.id,
 *                       DIR/sample.bin (its stored bytes), DIR/marker
 *   ES_TEST_FAULT=ID    only: with the OSD stopped, a write and a read of
 *                       extent ID each fail with CF_ERR_UNAVAILABLE (the
 *                       timeout)
 * and by itself: `--crash-writer SPEC ID SIZE CHUNK` writes SIZE bytes to
 * a new extent and exits without finishing, as a crash would.
 */
#include "extent_store.h"

#include <rados/librados.h>

#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "extent.h"
#include "fsutil.h"
#include "test.h"

#define SMALL_CHUNK (64 * CF_KIB)
#define PROBE_CHUNKS 64

static const char marker[] = "COFFER-PLAINTEXT-MARKER-e5c71d";

typedef struct {
    const char *label;
    char spec[512];
    cf_extent_store_options opt;
    cf_extent_store *s;
    uint32_t chunk;  /* sizes are chosen around it (files: the default) */
    char dir[256];   /* files: the directory */
    rados_t cluster; /* rados: the outside view */
    rados_ioctx_t io;
} env;

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint8_t *make_bytes(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len ? len : 1);
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
    return p;
}

static void show_error(const char *what)
{
    fprintf(stderr, "  %s: %s: %s (%s)\n", what, cf_err_name(cf_error_code()), cf_error_detail(),
            cf_error_where());
}

/* ---- the outside view ---- */

/* How many objects (files) the backend holds for `id`: the extent or its
 * temp file; the head and chunks 1..PROBE_CHUNKS-1. */
static int stored_objects(const env *e, const char *id)
{
    int n = 0;
    if (!e->io) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/%.2s/%.2s/%s", e->dir, id, id + 2, id);
        n += stat(path, &st) == 0;
        snprintf(path, sizeof path, "%s/%.2s/%.2s/%s.tmp", e->dir, id, id + 2, id);
        n += stat(path, &st) == 0;
        return n;
    }
    for (unsigned i = 0; i < PROBE_CHUNKS; i++) {
        char oid[64];
        uint64_t size;
        time_t mtime;
        snprintf(oid, sizeof oid, "%s.%08x", id, i);
        n += rados_stat(e->io, oid, &size, &mtime) == 0;
    }
    return n;
}

static bool probe_open(env *e)
{
    if (strncmp(e->spec, "rados:", 6) != 0)
        return true;
    char pool[256];
    snprintf(pool, sizeof pool, "%s", e->spec + 6);
    char *ns = strchr(pool, '/');
    if (ns)
        *ns++ = '\0';
    bool ok = rados_create(&e->cluster, NULL) == 0 && rados_conf_read_file(e->cluster, NULL) == 0 &&
              rados_connect(e->cluster) == 0 && rados_ioctx_create(e->cluster, pool, &e->io) == 0;
    if (ok)
        rados_ioctx_set_namespace(e->io, ns ? ns : "");
    return ok;
}

static void probe_close(env *e)
{
    if (e->io)
        rados_ioctx_destroy(e->io);
    if (e->cluster)
        rados_shutdown(e->cluster);
    e->io = NULL;
    e->cluster = NULL;
}

/* ---- helpers ---- */

/* Writes `len` bytes as extent `id` in uneven pieces (and some empty
 * ones); finishes when `finish`. */
static bool put(const env *e, const char *id, const uint8_t *p, size_t len, bool finish)
{
    cf_extent_store_writer *w = NULL;
    if (!cf_extent_store_create(e->s, id, &w))
        return false;
    bool ok = true;
    for (size_t off = 0; ok && off < len;) {
        size_t n = (size_t)(rng() % (200 * CF_KIB)) + 1;
        n = n < len - off ? n : len - off;
        ok = cf_extent_store_write(w, cf_slice_of(p + off, n)) &&
             cf_extent_store_write(w, cf_slice_of(p, 0));
        off += n;
    }
    uint64_t got = 0;
    if (ok && finish) {
        ok = cf_extent_store_finish(w, &got);
        CHECK(!ok || got == len);
    }
    cf_extent_store_writer_free(w);
    return ok;
}

static bool read_back(const env *e, const char *id, const uint8_t *want, size_t len)
{
    cf_extent_store_reader *r = NULL;
    if (!cf_extent_store_reader_open(e->s, id, &r))
        return false;
    uint8_t *got = malloc(len ? len : 1);
    bool ok = cf_extent_store_reader_length(r) == len && cf_extent_store_read_at(r, 0, got, len) &&
              memcmp(got, want, len) == 0;
    free(got);
    cf_extent_store_reader_close(r);
    return ok;
}

static void new_id(char id[CF_EXTENT_STORE_ID_LEN + 1])
{
    bool ok = cf_extent_store_new_id(id);
    CHECK(ok);
}

/* ---- cases ---- */

static void test_sizes(env *e)
{
    const size_t c = e->chunk;
    const size_t sizes[] = {0, 1, c - 1, c, c + 1, 3 * c + 12345};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t len = sizes[k];
        char id[CF_EXTENT_STORE_ID_LEN + 1];
        new_id(id);
        uint8_t *p = make_bytes(len, (unsigned)k + 1);
        bool ok = put(e, id, p, len, true);
        if (!ok)
            show_error("put");
        CHECK(ok);
        CHECK(read_back(e, id, p, len));
        cf_extent_store_reader *r = NULL;
        CHECK(cf_extent_store_reader_open(e->s, id, &r));
        if (r) {
            /* Random ranges, many across chunk boundaries. */
            uint8_t *buf = malloc(3 * c);
            int bad = 0;
            for (int i = 0; len && i < 60; i++) {
                uint64_t off = rng() % len;
                size_t n = (size_t)(rng() % (len - off < 3 * c ? len - off : 3 * c)) + 1;
                if (i % 3 == 0 && len > c) { /* straddle a boundary */
                    uint64_t b = (rng() % (len / c) + 1) * c;
                    off = b - (rng() % 100 + 1);
                    n = (size_t)(len - off < 200 ? len - off : 200);
                }
                if (!cf_extent_store_read_at(r, off, buf, n) || memcmp(buf, p + off, n) != 0)
                    bad++;
            }
            CHECK(bad == 0);
            /* The end: an empty read at it works, anything past it fails. */
            CHECK(cf_extent_store_read_at(r, len, buf, 0));
            CHECK(!cf_extent_store_read_at(r, len, buf, 1));
            CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
            CHECK(!cf_extent_store_read_at(r, len + 1, buf, 0));
            CHECK(!cf_extent_store_read_at(r, UINT64_MAX, buf, 2));
            if (len)
                CHECK(!cf_extent_store_read_at(r, 1, buf, len));
            free(buf);
            cf_extent_store_reader_close(r);
        }
        CHECK(cf_extent_store_remove(e->s, id));
        CHECK(stored_objects(e, id) == 0);
        CHECK(!cf_extent_store_reader_open(e->s, id, &r));
        CHECK(cf_error_code() == CF_ERR_NOT_FOUND);
        CHECK(cf_extent_store_remove(e->s, id)); /* idempotent */
        free(p);
    }
}

/* Sequential reads in uneven pieces (the read-ahead's pattern), with the
 * short read at 0 that cf_extent_read makes before each run. */
static void test_streaming(env *e)
{
    const size_t pieces[] = {1, 64, 65552, 777, 3 * 4096, 65536, 200000};
    const size_t sizes[] = {100, (size_t)e->chunk + 3, 3 * (size_t)e->chunk + 12345};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t len = sizes[k];
        char id[CF_EXTENT_STORE_ID_LEN + 1];
        new_id(id);
        uint8_t *p = make_bytes(len, 40 + (unsigned)k);
        CHECK(put(e, id, p, len, true));
        cf_extent_store_reader *r = NULL;
        CHECK(cf_extent_store_reader_open(e->s, id, &r));
        if (!r) {
            free(p);
            continue;
        }
        uint8_t *buf = malloc(200000);
        int bad = 0;
        size_t i = 0;
        for (uint64_t off = 0; off < len; i++) {
            size_t n = pieces[i % (sizeof pieces / sizeof pieces[0])];
            n = n < len - off ? n : (size_t)(len - off);
            if (i % 5 == 0 && (!cf_extent_store_read_at(r, 0, buf, len < 64 ? len : 64) ||
                               memcmp(buf, p, len < 64 ? len : 64) != 0))
                bad++;
            if (!cf_extent_store_read_at(r, off, buf, n) || memcmp(buf, p + off, n) != 0)
                bad++;
            off += n;
        }
        CHECK(bad == 0);
        free(buf);
        cf_extent_store_reader_close(r);
        CHECK(cf_extent_store_remove(e->s, id));
        free(p);
    }
}

/* Stored bytes lost under an open reader (a chunk gone, a file cut short):
 * reads fail with CF_ERR_IO, never hand out anything else. */
static void test_damage(env *e)
{
    char id[CF_EXTENT_STORE_ID_LEN + 1];
    new_id(id);
    size_t len = 3 * (size_t)e->chunk + 100;
    uint8_t *p = make_bytes(len, 77);
    CHECK(put(e, id, p, len, true));
    cf_extent_store_reader *r = NULL;
    CHECK(cf_extent_store_reader_open(e->s, id, &r));
    if (!r) {
        free(p);
        return;
    }
    if (e->io) {
        char oid[64];
        snprintf(oid, sizeof oid, "%s.%08x", id, 2);
        CHECK(rados_remove(e->io, oid) == 0);
    } else {
        char path[512];
        snprintf(path, sizeof path, "%s/%.2s/%.2s/%s", e->dir, id, id + 2, id);
        CHECK(truncate(path, (off_t)(2 * (size_t)e->chunk)) == 0);
    }
    uint8_t *buf = malloc(len);
    CHECK(cf_extent_store_read_at(r, 0, buf, 1000) && memcmp(buf, p, 1000) == 0);
    CHECK(!cf_extent_store_read_at(r, 0, buf, len));
    CHECK(cf_error_code() == CF_ERR_IO);
    /* Streaming into the lost part. */
    bool failed = false;
    for (uint64_t off = 1000; off < len && !failed; off += 65552) {
        size_t n = len - off < 65552 ? (size_t)(len - off) : 65552;
        failed = !cf_extent_store_read_at(r, off, buf, n);
        CHECK(failed || memcmp(buf, p + off, n) == 0);
        CHECK(failed || off + n <= 2 * (size_t)e->chunk);
    }
    CHECK(failed && cf_error_code() == CF_ERR_IO);
    free(buf);
    cf_extent_store_reader_close(r);
    CHECK(cf_extent_store_remove(e->s, id));
    CHECK(stored_objects(e, id) == 0);
    free(p);
}

static void test_missing_and_malformed(env *e)
{
    cf_extent_store_reader *r = NULL;
    cf_extent_store_writer *w = NULL;
    char id[CF_EXTENT_STORE_ID_LEN + 1];
    new_id(id);
    CHECK(!cf_extent_store_reader_open(e->s, id, &r));
    CHECK(cf_error_code() == CF_ERR_NOT_FOUND);
    CHECK(cf_extent_store_remove(e->s, id));
    const char *bad[] = {"",
                         "0123",
                         "0123456789abcdef0123456789ABCDEF",
                         "0123456789abcdef0123456789abcdef0",
                         "../../../../etc/passwd0123456789ab",
                         "0123456789abcdef0123456789abcde/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!cf_extent_store_id_valid(bad[i]));
        CHECK(!cf_extent_store_reader_open(e->s, bad[i], &r));
        CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
        CHECK(!cf_extent_store_create(e->s, bad[i], &w));
        CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
        CHECK(!cf_extent_store_remove(e->s, bad[i]));
    }
    CHECK(cf_extent_store_id_valid(id));
}

static void test_abort(env *e)
{
    const size_t sizes[] = {0, 100, 2 * (size_t)e->chunk + 5};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        char id[CF_EXTENT_STORE_ID_LEN + 1];
        new_id(id);
        uint8_t *p = make_bytes(sizes[k], 7);
        CHECK(put(e, id, p, sizes[k], false));
        CHECK(stored_objects(e, id) == 0);
        cf_extent_store_reader *r = NULL;
        CHECK(!cf_extent_store_reader_open(e->s, id, &r));
        CHECK(cf_error_code() == CF_ERR_NOT_FOUND);
        free(p);
    }
}

static void test_misuse(env *e)
{
    char id[CF_EXTENT_STORE_ID_LEN + 1];
    new_id(id);
    cf_extent_store_writer *w = NULL;
    CHECK(cf_extent_store_create(e->s, id, &w));
    if (!w)
        return;
    CHECK(cf_extent_store_write(w, CF_SLICE_LIT("abc")));
    uint64_t len = 0;
    CHECK(cf_extent_store_finish(w, &len) && len == 3);
    CHECK(!cf_extent_store_write(w, CF_SLICE_LIT("d")));
    CHECK(cf_error_code() == CF_ERR_OPERATION);
    CHECK(!cf_extent_store_finish(w, NULL));
    cf_extent_store_writer_free(w);
    CHECK(read_back(e, id, (const uint8_t *)"abc", 3)); /* freeing kept it */
    CHECK(cf_extent_store_remove(e->s, id));
}

/* A body with the marker, sealed by cf_extent straight into the store and
 * read back through cf_extent_read over the store's source. */
static bool sink_to_store(void *ctx, cf_slice bytes)
{
    return cf_extent_store_write(ctx, bytes);
}

static bool sink_to_buf(void *ctx, cf_slice bytes)
{
    return cf_buf_append_slice(ctx, bytes);
}

static bool sealed_put(const env *e, const char *id, const uint8_t *key, const uint8_t *pt,
                       size_t len)
{
    static const uint8_t ref[CF_EXTENT_KEY_REF_LEN] = "extent-store-kr";
    cf_extent_store_writer *sw = NULL;
    cf_extent_writer *ew = NULL;
    bool ok = cf_extent_store_create(e->s, id, &sw) &&
              cf_extent_writer_begin(cf_slice_of(key, 32), ref, CF_EXTENT_SEGMENT_DEFAULT,
                                     (cf_extent_sink){sink_to_store, sw}, &ew);
    for (size_t off = 0; ok && off < len; off += 100000)
        ok = cf_extent_write(ew, cf_slice_of(pt + off, len - off < 100000 ? len - off : 100000));
    ok = ok && cf_extent_finish(ew, NULL, NULL) && cf_extent_store_finish(sw, NULL);
    cf_extent_writer_free(ew);
    cf_extent_store_writer_free(sw);
    return ok;
}

static uint8_t *body_with_marker(size_t len)
{
    uint8_t *p = make_bytes(len, 99);
    for (size_t i = 0; i + sizeof marker < len; i += 10000)
        memcpy(p + i, marker, sizeof marker - 1);
    return p;
}

static void test_sealed(env *e)
{
    uint8_t key[32];
    CHECK(cf_random_bytes(key, sizeof key));
    size_t len = 2 * (size_t)e->chunk + 777;
    uint8_t *pt = body_with_marker(len);
    char id[CF_EXTENT_STORE_ID_LEN + 1];
    new_id(id);
    bool ok = sealed_put(e, id, key, pt, len);
    if (!ok)
        show_error("sealed put");
    CHECK(ok);
    cf_extent_store_reader *r = NULL;
    CHECK(cf_extent_store_reader_open(e->s, id, &r));
    if (r) {
        cf_extent_source src = cf_extent_store_source(r);
        cf_buf out;
        cf_buf_init(&out, len + 1);
        CHECK(cf_extent_read(cf_slice_of(key, 32), &src, 0, len,
                             (cf_extent_sink){sink_to_buf, &out}));
        CHECK(out.len == len && memcmp(out.data, pt, len) == 0);
        cf_buf_clear(&out);
        uint64_t off = e->chunk - 1000; /* a range across the first boundary */
        CHECK(cf_extent_read(cf_slice_of(key, 32), &src, off, 5000,
                             (cf_extent_sink){sink_to_buf, &out}));
        CHECK(out.len == 5000 && memcmp(out.data, pt + off, 5000) == 0);
        cf_buf_free(&out);
        cf_extent_store_reader_close(r);
    }
    CHECK(cf_extent_store_remove(e->s, id));
    free(pt);
}

/* ---- the walk ---- */

typedef struct {
    const char *want[4];
    bool seen[4];
    const char *remove; /* remove this one when seen */
    cf_extent_store *s;
    bool fail;
    unsigned calls;
} walk_ctx;

static bool walk_cb(void *ctx, const char *id)
{
    walk_ctx *w = ctx;
    w->calls++;
    if (w->fail)
        CF_BAIL(CF_ERR_CONFLICT, "stop the walk");
    for (int i = 0; i < 4; i++)
        if (w->want[i] && strcmp(w->want[i], id) == 0)
            w->seen[i] = true;
    if (w->remove && strcmp(w->remove, id) == 0)
        CF_GUARD(cf_extent_store_remove(w->s, id));
    return true;
}

/* Runs `--crash-writer` in a child: SIZE bytes into extent ID, no finish. */
static bool crash_writer(const env *e, const char *id, size_t size)
{
    char size_text[32], chunk_text[32];
    snprintf(size_text, sizeof size_text, "%zu", size);
    snprintf(chunk_text, sizeof chunk_text, "%u", e->opt.chunk_size);
    pid_t pid = fork();
    if (pid == 0) {
        char *args[] = {"test_extent_store",
                        "--crash-writer",
                        (char *)e->spec,
                        (char *)id,
                        size_text,
                        chunk_text,
                        NULL};
        execv("/proc/self/exe", args);
        _exit(127);
    }
    int status = 0;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

static int crash_writer_main(char **argv)
{
    cf_extent_store_options opt = {.chunk_size = (uint32_t)strtoul(argv[5], NULL, 10)};
    cf_extent_store *s = NULL;
    cf_extent_store_writer *w = NULL;
    size_t len = (size_t)strtoull(argv[4], NULL, 10);
    uint8_t *p = make_bytes(len, 5);
    if (!cf_extent_store_open(argv[2], &opt, &s) || !cf_extent_store_create(s, argv[3], &w) ||
        !cf_extent_store_write(w, cf_slice_of(p, len))) {
        show_error("crash writer");
        _exit(1);
    }
    sleep(1); /* the writes in flight land; then "crash" */
    _exit(0);
}

static void test_walk(env *e)
{
    char done[CF_EXTENT_STORE_ID_LEN + 1], big[CF_EXTENT_STORE_ID_LEN + 1],
        small[CF_EXTENT_STORE_ID_LEN + 1];
    new_id(done);
    new_id(big);
    new_id(small);
    uint8_t *p = make_bytes(3 * (size_t)e->chunk, 3);
    CHECK(put(e, done, p, 1000, true));
    /* A crashed writer past its first chunk: RADOS has its head (and
     * more); files its temp file.  One within its first chunk: files has
     * the temp file, RADOS nothing yet. */
    CHECK(crash_writer(e, big, 2 * (size_t)e->chunk + 100));
    CHECK(crash_writer(e, small, 100));
    int big_objects = stored_objects(e, big);
    CHECK(big_objects >= 1);
    CHECK(stored_objects(e, small) == (e->io ? 0 : 1));
    cf_extent_store_reader *r = NULL;
    CHECK(!cf_extent_store_reader_open(e->s, big, &r));
    CHECK(cf_error_code() == CF_ERR_NOT_FOUND);

    /* A cut-off an hour ago: everything here is younger. */
    time_t now = time(NULL);
    walk_ctx w = {.want = {done, big, small}};
    unsigned partials = 0;
    CHECK(cf_extent_store_each(e->s, (int64_t)now - 3600, walk_cb, &w, &partials));
    CHECK(!w.seen[0] && !w.seen[1] && !w.seen[2]);
    CHECK(stored_objects(e, big) == big_objects);
    CHECK(stored_objects(e, done) == 1);

    /* A cut-off in the future: the finished one reported (and removed by
     * the callback), the partial ones removed, never reported. */
    walk_ctx all = {.want = {done, big, small}, .remove = done, .s = e->s};
    partials = 0;
    bool ok = cf_extent_store_each(e->s, (int64_t)now + 2, walk_cb, &all, &partials);
    if (!ok)
        show_error("each");
    CHECK(ok);
    CHECK(all.seen[0] && !all.seen[1] && !all.seen[2]);
    CHECK(partials >= (e->io ? 1u : 2u));
    CHECK(stored_objects(e, done) == 0);
    CHECK(stored_objects(e, big) == 0);
    CHECK(stored_objects(e, small) == 0);

    /* A callback's failure stops the walk with its error. */
    CHECK(put(e, done, p, 10, true));
    walk_ctx stop = {.fail = true};
    CHECK(!cf_extent_store_each(e->s, (int64_t)now + 2, walk_cb, &stop, NULL));
    CHECK(cf_error_code() == CF_ERR_CONFLICT && stop.calls == 1);
    CHECK(cf_extent_store_remove(e->s, done));
    free(p);
}

/* A writer slower than the cut-off: the walk takes its partial extent, and
 * the writer then fails instead of finishing an extent with holes. */
static void test_slow_writer(env *e)
{
    char id[CF_EXTENT_STORE_ID_LEN + 1];
    new_id(id);
    size_t len = 2 * (size_t)e->chunk + 100;
    uint8_t *p = make_bytes(len + e->chunk, 11);
    cf_extent_store_writer *w = NULL;
    CHECK(cf_extent_store_create(e->s, id, &w));
    if (!w)
        return;
    CHECK(cf_extent_store_write(w, cf_slice_of(p, len)));
    walk_ctx none = {0};
    unsigned partials = 0;
    CHECK(cf_extent_store_each(e->s, (int64_t)time(NULL) + 2, walk_cb, &none, &partials));
    CHECK(partials >= 1);
    bool ok =
        cf_extent_store_write(w, cf_slice_of(p + len, e->chunk)) && cf_extent_store_finish(w, NULL);
    CHECK(!ok);
    CHECK(cf_error_code() == CF_ERR_IO);
    cf_extent_store_writer_free(w);
    cf_extent_store_reader *r = NULL;
    CHECK(!cf_extent_store_reader_open(e->s, id, &r));
    CHECK(cf_error_code() == CF_ERR_NOT_FOUND);
    CHECK(stored_objects(e, id) == 0);
    free(p);
}

/* RADOS: a head whose marker is of a format this code does not write (a
 * later version, or damage) is not read, not removed by guess, and not
 * reported by the walk. */
static void test_foreign_head(env *e)
{
    if (!e->io)
        return;
    char id[CF_EXTENT_STORE_ID_LEN + 1], oid[64];
    new_id(id);
    uint8_t *p = make_bytes(100, 5);
    CHECK(put(e, id, p, 100, true));
    snprintf(oid, sizeof oid, "%s.%08x", id, 0);
    const char v9[] = "v9 100 4259840";
    CHECK(rados_setxattr(e->io, oid, "coffer.extent", v9, sizeof v9 - 1) == 0);
    cf_extent_store_reader *r = NULL;
    CHECK(!cf_extent_store_reader_open(e->s, id, &r));
    CHECK(cf_error_code() == CF_ERR_IO);
    CHECK(!cf_extent_store_remove(e->s, id));
    CHECK(cf_error_code() == CF_ERR_IO);
    walk_ctx w = {.want = {id}};
    CHECK(cf_extent_store_each(e->s, (int64_t)time(NULL) + 2, walk_cb, &w, NULL));
    CHECK(!w.seen[0]);
    CHECK(stored_objects(e, id) == 1);
    CHECK(rados_remove(e->io, oid) == 0);
    free(p);
}

/* RADOS: a store sees its own namespace only; its walk does not reach
 * into another's. */
static void test_namespace(env *e)
{
    if (!e->io)
        return;
    char spec[600], id[CF_EXTENT_STORE_ID_LEN + 1];
    snprintf(spec, sizeof spec, "%s-other", e->spec);
    cf_extent_store *other = NULL;
    CHECK(cf_extent_store_open(spec, &e->opt, &other));
    if (!other)
        return;
    new_id(id);
    CHECK(put(e, id, (const uint8_t *)"namespaced", 10, true));
    cf_extent_store_reader *r = NULL;
    CHECK(!cf_extent_store_reader_open(other, id, &r));
    CHECK(cf_error_code() == CF_ERR_NOT_FOUND);
    walk_ctx w = {.want = {id}};
    CHECK(cf_extent_store_each(other, (int64_t)time(NULL) + 2, walk_cb, &w, NULL));
    CHECK(!w.seen[0]);
    CHECK(cf_extent_store_remove(other, id)); /* nothing there: no effect here */
    CHECK(read_back(e, id, (const uint8_t *)"namespaced", 10));
    CHECK(cf_extent_store_remove(e->s, id));
    cf_extent_store_close(other);
}

/* ---- threads ---- */

#define THREADS 4
#define PER_THREAD 3

typedef struct {
    env *e;
    unsigned seed;
    int failures;
} thread_job;

static void *thread_main(void *arg)
{
    thread_job *j = arg;
    for (unsigned k = 0; k < PER_THREAD; k++) {
        char id[CF_EXTENT_STORE_ID_LEN + 1];
        size_t len = (size_t)j->e->chunk + (size_t)(j->seed * 1000 + k * 77);
        uint8_t *p = make_bytes(len, j->seed * 10 + k);
        cf_extent_store_writer *w = NULL;
        bool ok = cf_extent_store_new_id(id) && cf_extent_store_create(j->e->s, id, &w) &&
                  cf_extent_store_write(w, cf_slice_of(p, len / 3)) &&
                  cf_extent_store_write(w, cf_slice_of(p + len / 3, len - len / 3)) &&
                  cf_extent_store_finish(w, NULL);
        cf_extent_store_writer_free(w);
        ok = ok && read_back(j->e, id, p, len) && cf_extent_store_remove(j->e->s, id);
        j->failures += !ok;
        free(p);
    }
    return NULL;
}

static void test_threads(env *e)
{
    pthread_t t[THREADS];
    thread_job jobs[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        jobs[i] = (thread_job){.e = e, .seed = i + 1};
        pthread_create(&t[i], NULL, thread_main, &jobs[i]);
    }
    int failures = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        failures += jobs[i].failures;
    }
    CHECK(failures == 0);
}

/* ---- the system test's sample ---- */

static void leave_sample(env *e, const char *dir)
{
    uint8_t key[32];
    CHECK(cf_random_bytes(key, sizeof key));
    size_t len = 2 * (size_t)e->chunk + 4321;
    uint8_t *pt = body_with_marker(len);
    char id[CF_EXTENT_STORE_ID_LEN + 1], path[512];
    new_id(id);
    CHECK(sealed_put(e, id, key, pt, len));
    cf_extent_store_reader *r = NULL;
    CHECK(cf_extent_store_reader_open(e->s, id, &r));
    if (r) {
        uint64_t n = cf_extent_store_reader_length(r);
        uint8_t *stored = malloc(n);
        CHECK(cf_extent_store_read_at(r, 0, stored, n));
        snprintf(path, sizeof path, "%s/sample.bin", dir);
        CHECK(cf_write_file_atomic(path, cf_slice_of(stored, n), 0600));
        free(stored);
        cf_extent_store_reader_close(r);
    }
    snprintf(path, sizeof path, "%s/sample.id", dir);
    CHECK(cf_write_file_atomic(path, CF_SLICE_STR(id), 0600));
    snprintf(path, sizeof path, "%s/marker", dir);
    CHECK(cf_write_file_atomic(path, CF_SLICE_LIT(marker), 0600));
    free(pt);
}

/* ---- suites ---- */

static void suite(env *e)
{
    fprintf(stderr, "== %s (%s)\n", e->label, e->spec);
    bool ok = cf_extent_store_open(e->spec, &e->opt, &e->s);
    if (!ok)
        show_error("open");
    CHECK(ok);
    CHECK(probe_open(e));
    if (!ok)
        return;
    RUN_WITH(test_sizes, e);
    RUN_WITH(test_streaming, e);
    RUN_WITH(test_damage, e);
    RUN_WITH(test_missing_and_malformed, e);
    RUN_WITH(test_abort, e);
    RUN_WITH(test_misuse, e);
    RUN_WITH(test_sealed, e);
    RUN_WITH(test_walk, e);
    RUN_WITH(test_slow_writer, e);
    RUN_WITH(test_foreign_head, e);
    RUN_WITH(test_namespace, e);
    RUN_WITH(test_threads, e);
    const char *sample = getenv("ES_TEST_SAMPLE");
    if (sample && e->io && e->opt.chunk_size == 0)
        leave_sample(e, sample);
    cf_extent_store_close(e->s);
    probe_close(e);
}

static void test_specs(void)
{
    cf_extent_store *s = NULL;
    const char *bad[] = {
        "",          "files:",     "rados:",    "rados:@x", "rados:pool@", "rados:pool/",
        "rados:/ns", "rados:p/@x", "s3:bucket", "files"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!cf_extent_store_open(bad[i], NULL, &s));
        CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    }
    cf_extent_store_options opt = {.chunk_size = 100};
    CHECK(!cf_extent_store_open("files:/tmp", &opt, &s));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    opt = (cf_extent_store_options){.in_flight = CF_EXTENT_STORE_IN_FLIGHT_MAX + 1};
    CHECK(!cf_extent_store_open("files:/tmp", &opt, &s));
}

/* A monitor nobody answers for (a closed loopback port): the connect
 * gives up after the timeout with an error that names RADOS. */
static void test_unreachable(const char *dir)
{
    char conf[512], old[512] = "";
    snprintf(conf, sizeof conf, "%s/dead.conf", dir);
    const char text[] = "[global]\nmon host = v2:127.0.0.1:9\nauth client required = none\n";
    CHECK(cf_write_file_atomic(conf, CF_SLICE_LIT(text), 0600));
    const char *prev = getenv("CEPH_CONF");
    if (prev)
        snprintf(old, sizeof old, "%s", prev);
    setenv("CEPH_CONF", conf, 1);
    cf_extent_store_options opt = {.timeout_s = 2};
    cf_extent_store *s = NULL;
    CHECK(!cf_extent_store_open("rados:coffer", &opt, &s));
    CHECK(cf_error_code() == CF_ERR_UNAVAILABLE);
    CHECK(strstr(cf_error_detail(), "RADOS") != NULL);
    show_error("expected");
    if (prev)
        setenv("CEPH_CONF", old, 1);
    else
        unsetenv("CEPH_CONF");
    unlink(conf);
}

/* ES_TEST_FAULT: the OSD is down; a write and a read fail, not hang. */
static int fault_main(const char *spec, const char *id)
{
    cf_extent_store *s = NULL;
    bool ok = cf_extent_store_open(spec, NULL, &s);
    if (!ok)
        show_error("open");
    CHECK(ok);
    if (!ok)
        TEST_DONE();
    env e = {.s = s, .chunk = CF_EXTENT_STORE_CHUNK_DEFAULT};
    char fresh[CF_EXTENT_STORE_ID_LEN + 1];
    new_id(fresh);
    size_t len = 2 * (size_t)CF_EXTENT_STORE_CHUNK_DEFAULT + 10;
    uint8_t *p = make_bytes(len, 1);
    time_t t0 = time(NULL);
    CHECK(!put(&e, fresh, p, len, true));
    CHECK(cf_error_code() == CF_ERR_UNAVAILABLE);
    show_error("write with the OSD down");
    cf_extent_store_reader *r = NULL;
    CHECK(!cf_extent_store_reader_open(s, id, &r));
    CHECK(cf_error_code() == CF_ERR_UNAVAILABLE);
    show_error("read with the OSD down");
    fprintf(stderr, "  both failed after %ld s\n", (long)(time(NULL) - t0));
    free(p);
    cf_extent_store_close(s);
    TEST_DONE();
}

int main(int argc, char **argv)
{
    CHECK(cf_crypto_init());
    if (argc == 6 && strcmp(argv[1], "--crash-writer") == 0)
        return crash_writer_main(argv);
    const char *conf = getenv("CEPH_CONF");
    const char *pool = getenv("CEPH_POOL") ? getenv("CEPH_POOL") : "coffer";
    char ns[64], spec[512];
    if (getenv("ES_TEST_NS")) {
        snprintf(ns, sizeof ns, "%s", getenv("ES_TEST_NS"));
    } else {
        char r[CF_EXTENT_STORE_ID_LEN + 1];
        CHECK(cf_extent_store_new_id(r));
        snprintf(ns, sizeof ns, "coffer-test-%.8s", r);
    }
    snprintf(spec, sizeof spec, "rados:%s/%s", pool, ns);
    if (getenv("ES_TEST_FAULT"))
        return fault_main(spec, getenv("ES_TEST_FAULT"));

    char tmpl[] = "/tmp/coffer-es-XXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    if (!dir)
        TEST_DONE();
    RUN(test_specs);
    RUN_WITH(test_unreachable, dir);

    env files = {.label = "files", .chunk = CF_EXTENT_STORE_CHUNK_DEFAULT};
    snprintf(files.dir, sizeof files.dir, "%s/extents", dir);
    snprintf(files.spec, sizeof files.spec, "files:%s", files.dir);
    suite(&files);
    if (conf && *conf) {
        env big = {.label = "rados, default chunks", .chunk = CF_EXTENT_STORE_CHUNK_DEFAULT};
        snprintf(big.spec, sizeof big.spec, "%s", spec);
        suite(&big);
        env small = {.label = "rados, 64 KiB chunks",
                     .chunk = SMALL_CHUNK,
                     .opt = {.chunk_size = SMALL_CHUNK, .in_flight = 3}};
        snprintf(small.spec, sizeof small.spec, "%s", spec);
        suite(&small);
    } else {
        fprintf(stderr, "CEPH_CONF not set: the RADOS suites are skipped\n");
    }
    if (!cf_remove_tree(dir))
        show_error("removing the test directory");
    TEST_DONE();
}
