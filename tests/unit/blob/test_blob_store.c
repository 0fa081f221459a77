/*
 * Blob store: round trips, ranges, block list semantics, listing, deletion,
 * persistence, crash cleanup, tamper detection, inline extents (boundary
 * sizes, tampered rows, sharing, readers' pins, expiry, orphan cleanup),
 * concurrent writers under the group commit, a plaintext scan of the data
 * directory (extents, blob.db and its WAL; bodies and metadata), and the
 * sealed metadata columns (round trips, tampered and moved values, the
 * migration of a plaintext database).  On SQLite; again on PostgreSQL when
 * COFFER_TEST_PG names a server (with two stores as two front ends); and
 * again with the extents in RADOS when COFFER_TEST_EXTENTS names a
 * namespace (tests/system/blob_store_rados.sh), on SQLite and on
 * PostgreSQL (the front ends then share every extent).
 */
#include "blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "fsutil.h"
#include <time.h>
#include "json_secure.h"
#include "test.h"
#include "blob_store_fixture.h"

#define ACC "acct1"
#define NOW 1700000000

static uint8_t service_key[32];
static const char marker[] = "COFFER-PLAINTEXT-MARKER-7f3a9c";

/* A deterministic body with the marker planted every 10 000 bytes. */
static uint8_t *make_body(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)((i * 31 + seed) % 251);
    for (size_t i = 0; i + sizeof marker < len; i += 10000)
        memcpy(p + i, marker, sizeof marker - 1);
    return p;
}

typedef struct {
    uint8_t *data;
    size_t len, cap;
} collect;

static bool collect_write(void *ctx, cf_slice bytes)
{
    collect *c = ctx;
    if (c->len + bytes.len > c->cap) {
        c->cap = (c->len + bytes.len) * 2;
        c->data = realloc(c->data, c->cap);
    }
    if (bytes.len)
        memcpy(c->data + c->len, bytes.ptr, bytes.len);
    c->len += bytes.len;
    return true;
}

static bool read_range(cf_blob_store *s, const char *cont, const char *name, uint64_t off,
                       uint64_t len, collect *out)
{
    out->len = 0;
    return cf_blob_read(s, ACC, cont, name, off, len, (cf_extent_sink){collect_write, out});
}

static bool put_blob(cf_blob_store *s, const char *cont, const char *name, const uint8_t *p,
                     size_t len, size_t chunk)
{
    cf_blob_writer *w = NULL;
    json_t *props = json_pack("{s:s}", "content-type", "application/octet-stream");
    bool ok = cf_blob_put_begin(s, ACC, cont, name, props, NULL, NULL, NOW, &w);
    json_decref(props);
    for (size_t off = 0; ok && off < len; off += chunk)
        ok = cf_blob_writer_write(w, cf_slice_of(p + off, len - off < chunk ? len - off : chunk));
    ok = ok && cf_blob_writer_commit(w, NOW, NULL);
    cf_blob_writer_free(w);
    return ok;
}

static bool put_block(cf_blob_store *s, const char *cont, const char *name, const char *id,
                      const uint8_t *p, size_t len, int64_t now)
{
    cf_blob_writer *w = NULL;
    bool ok = cf_blob_block_begin(s, ACC, cont, name, CF_SLICE_STR(id), NULL, now, &w) &&
              cf_blob_writer_write(w, cf_slice_of(p, len)) && cf_blob_writer_commit(w, now, NULL);
    cf_blob_writer_free(w);
    return ok;
}

static bool check_full(cf_blob_store *s, const char *cont, const char *name, const uint8_t *p,
                       size_t len)
{
    collect c = {0};
    bool ok = read_range(s, cont, name, 0, len, &c) && c.len == len &&
              (len == 0 || memcmp(c.data, p, len) == 0);
    free(c.data);
    return ok;
}

static void rm_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "rm failed\n");
}

static cf_blob_store *open_store(void)
{
    cf_blob_store *s = NULL;
    CHECK(test_store_open(service_key, &s));
    return s;
}

static void test_names(void)
{
    CHECK(cf_blob_account_name_valid("abc123"));
    CHECK(!cf_blob_account_name_valid("ab"));
    CHECK(!cf_blob_account_name_valid("Abc"));
    CHECK(cf_blob_container_name_valid("my-container-1"));
    CHECK(!cf_blob_container_name_valid("My-container"));
    CHECK(!cf_blob_container_name_valid("a--b"));
    CHECK(!cf_blob_container_name_valid("-ab"));
    CHECK(!cf_blob_container_name_valid("ab-"));
    CHECK(!cf_blob_container_name_valid("ab"));
    char long_name[70];
    memset(long_name, 'a', 64);
    long_name[64] = 0;
    CHECK(!cf_blob_container_name_valid(long_name));
    long_name[63] = 0;
    CHECK(cf_blob_container_name_valid(long_name));
    CHECK(cf_blob_name_valid("dir/Sub Dir/file.txt"));
    CHECK(cf_blob_name_valid("caf\xc3\xa9"));
    CHECK(!cf_blob_name_valid(""));
    CHECK(!cf_blob_name_valid("bad\xc3"));
    CHECK(!cf_blob_name_valid("nl\n"));
    char big[1100];
    memset(big, 'x', 1025);
    big[1025] = 0;
    CHECK(!cf_blob_name_valid(big));
    big[1024] = 0;
    CHECK(cf_blob_name_valid(big));
}

static void test_accounts(cf_blob_store *s)
{
    CHECK(cf_blob_account_create(s, ACC, NOW, false));
    CHECK(!cf_blob_account_create(s, ACC, NOW, false) && cf_error_code() == CF_ERR_CONFLICT);
    CHECK(!cf_blob_account_create(s, "Bad", NOW, false) && cf_error_code() == CF_ERR_BAD_INPUT);
    cf_blob_account a;
    CHECK(cf_blob_account_get(s, ACC, &a) && strcmp(a.name, ACC) == 0 && a.created == NOW);
    CHECK(!cf_blob_account_get(s, "nosuch", &a) && cf_error_code() == CF_ERR_NOT_FOUND);
    cf_buf k1, k2;
    cf_buf_init_secret(&k1, 128);
    cf_buf_init_secret(&k2, 128);
    CHECK(cf_blob_account_key(s, ACC, 1, &k1) && k1.len == CF_BLOB_ACCOUNT_KEY_LEN);
    CHECK(cf_blob_account_key(s, ACC, 2, &k2) && k2.len == CF_BLOB_ACCOUNT_KEY_LEN);
    CHECK(memcmp(k1.data, k2.data, k1.len) != 0);
    CHECK(!cf_blob_account_key(s, ACC, 3, &k1));
    cf_buf_free(&k1);
    cf_buf_free(&k2);
}

static void test_round_trips(cf_blob_store *s)
{
    CHECK(cf_blob_container_create(s, ACC, "data", NULL, CF_ACCESS_PRIVATE, NOW, NULL));
    static const size_t sizes[] = {0, 1, 100, 65536, 65537, 300000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        uint8_t *p = make_body(sizes[i], (unsigned)i);
        CHECK(put_blob(s, "data", "rt", p, sizes[i], 7000));
        CHECK(check_full(s, "data", "rt", p, sizes[i]));
        cf_blob_info b;
        CHECK(cf_blob_get(s, ACC, "data", "rt", NULL, NOW, &b));
        CHECK(b.size == sizes[i] && b.type == CF_BLOB_BLOCK && b.etag[0] == '"');
        CHECK(strcmp(json_string_value(json_object_get(b.props, "content-type")),
                     "application/octet-stream") == 0);
        cf_blob_info_free(&b);
        free(p);
    }
    /* Overwriting replaced the old extents: one file remains. */
    settle(s);
    CHECK(extents() == 1);
    /* Range reads across segment boundaries of a single extent. */
    uint8_t *p = make_body(300000, 5);
    collect c = {0};
    CHECK(read_range(s, "data", "rt", 65530, 20, &c) && c.len == 20 &&
          memcmp(c.data, p + 65530, 20) == 0);
    CHECK(read_range(s, "data", "rt", 131072, 65536 * 2 + 3, &c) &&
          memcmp(c.data, p + 131072, 65536 * 2 + 3) == 0);
    CHECK(read_range(s, "data", "rt", 299999, 1, &c) && c.len == 1 && c.data[0] == p[299999]);
    CHECK(read_range(s, "data", "rt", 300000, 0, &c) && c.len == 0);
    CHECK(!read_range(s, "data", "rt", 299999, 2, &c) && cf_error_code() == CF_ERR_BAD_INPUT);
    free(c.data);
    free(p);
    /* Errors. */
    CHECK(!put_blob(s, "nosuch", "x", (const uint8_t *)"a", 1, 1) &&
          cf_error_code() == CF_ERR_NOT_FOUND);
    cf_blob_info b;
    CHECK(!cf_blob_get(s, ACC, "data", "absent", NULL, NOW, &b) &&
          cf_error_code() == CF_ERR_NOT_FOUND);
    /* An abandoned writer leaves nothing behind. */
    cf_blob_writer *w = NULL;
    CHECK(cf_blob_put_begin(s, ACC, "data", "abandoned", NULL, NULL, NULL, NOW, &w));
    CHECK(cf_blob_writer_write(w, CF_SLICE_LIT("partial")));
    cf_blob_writer_free(w);
    CHECK(extents() == 1);
    CHECK(cf_blob_delete(s, ACC, "data", "rt", NULL, NOW));
    settle(s);
    CHECK(extents() == 0);
    CHECK(!cf_blob_delete(s, ACC, "data", "rt", NULL, NOW) && cf_error_code() == CF_ERR_NOT_FOUND);
}

typedef struct {
    char ids[16][65];
    uint64_t sizes[16];
    int n;
} block_seen;

static bool see_block(void *ctx, const cf_block_info *b)
{
    block_seen *bs = ctx;
    if (bs->n < 16) {
        memcpy(bs->ids[bs->n], b->id, b->id_len);
        bs->ids[bs->n][b->id_len] = 0;
        bs->sizes[bs->n++] = b->size;
    }
    return true;
}

static void test_blocks(cf_blob_store *s)
{
    CHECK(cf_blob_container_create(s, ACC, "blocks", NULL, CF_ACCESS_BLOB, NOW, NULL));
    /* Blocks of different sizes, some crossing segment boundaries. */
    static const size_t sz[4] = {70000, 1, 65536, 200000};
    static const char *ids[4] = {"b0", "b1", "b2", "b3"};
    uint8_t *parts[4];
    size_t total = 0;
    for (int i = 0; i < 4; i++) {
        parts[i] = make_body(sz[i], 10u + (unsigned)i);
        CHECK(put_block(s, "blocks", "big", ids[i], parts[i], sz[i], NOW));
        total += sz[i];
    }
    CHECK(extents() == 4);
    block_seen com = {0}, unc = {0};
    CHECK(cf_blob_get_block_list(s, ACC, "blocks", "big", NULL, NOW, see_block, see_block, &unc));
    CHECK(unc.n == 4 && strcmp(unc.ids[2], "b2") == 0 && unc.sizes[3] == 200000);
    cf_blob_info b;
    CHECK(!cf_blob_get(s, ACC, "blocks", "big", NULL, NOW, &b) &&
          cf_error_code() == CF_ERR_NOT_FOUND);

    /* Commit in order 3,0,1,2 (b2 re-put first: the latest copy wins). */
    uint8_t *b2new = make_body(65536, 99);
    CHECK(put_block(s, "blocks", "big", "b2", b2new, 65536, NOW));
    settle(s);
    CHECK(extents() == 4);
    free(parts[2]);
    parts[2] = b2new;
    cf_block_ref list[4] = {{CF_SLICE_LIT("b3"), CF_BLOCK_LATEST},
                            {CF_SLICE_LIT("b0"), CF_BLOCK_UNCOMMITTED},
                            {CF_SLICE_LIT("b1"), CF_BLOCK_LATEST},
                            {CF_SLICE_LIT("b2"), CF_BLOCK_LATEST}};
    cf_blob_write_result wr;
    CHECK(cf_blob_put_block_list(s, ACC, "blocks", "big", list, 4, NULL, NULL, NULL, NOW + 1, &wr));
    const char *etag = wr.etag;
    uint8_t *expect = malloc(total);
    size_t order[4] = {3, 0, 1, 2}, off = 0;
    for (int i = 0; i < 4; i++) {
        memcpy(expect + off, parts[order[i]], sz[order[i]]);
        off += sz[order[i]];
    }
    CHECK(check_full(s, "blocks", "big", expect, total));
    CHECK(cf_blob_get(s, ACC, "blocks", "big", NULL, NOW, &b) && b.size == total &&
          strcmp(b.etag, etag) == 0 && b.last_modified == NOW + 1 && b.n_extents == 4);
    cf_blob_info_free(&b);
    /* Ranges across block boundaries: 200000 | 70000 | 1 | 65536. */
    collect c = {0};
    CHECK(read_range(s, "blocks", "big", 199990, 70020, &c) && c.len == 70020 &&
          memcmp(c.data, expect + 199990, 70020) == 0);
    CHECK(read_range(s, "blocks", "big", 269999, 3, &c) && memcmp(c.data, expect + 269999, 3) == 0);
    CHECK(read_range(s, "blocks", "big", 131000, total - 131000, &c) &&
          memcmp(c.data, expect + 131000, total - 131000) == 0);
    free(c.data);
    memset(&com, 0, sizeof com);
    memset(&unc, 0, sizeof unc);
    CHECK(cf_blob_get_block_list(s, ACC, "blocks", "big", NULL, NOW, see_block, NULL, &com));
    CHECK(com.n == 4 && strcmp(com.ids[0], "b3") == 0 && strcmp(com.ids[3], "b2") == 0);
    CHECK(cf_blob_get_block_list(s, ACC, "blocks", "big", NULL, NOW, NULL, see_block, &unc) &&
          unc.n == 0);

    /* Reuse b0 (committed) and add new "n1"; uncommitted "jk" is discarded,
     * as are the committed b1, b2, b3 that are not listed. */
    uint8_t *n1 = make_body(5000, 77);
    CHECK(put_block(s, "blocks", "big", "n1", n1, 5000, NOW));
    CHECK(put_block(s, "blocks", "big", "jk", n1, 10, NOW));
    CHECK(extents() == 6);
    cf_block_ref bad[1] = {{CF_SLICE_LIT("b1"), CF_BLOCK_UNCOMMITTED}};
    CHECK(!cf_blob_put_block_list(s, ACC, "blocks", "big", bad, 1, NULL, NULL, NULL, NOW, NULL) &&
          cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(extents() == 6);
    cf_block_ref list2[3] = {{CF_SLICE_LIT("n1"), CF_BLOCK_UNCOMMITTED},
                             {CF_SLICE_LIT("b0"), CF_BLOCK_COMMITTED},
                             {CF_SLICE_LIT("b0"), CF_BLOCK_LATEST}};
    CHECK(
        cf_blob_put_block_list(s, ACC, "blocks", "big", list2, 3, NULL, NULL, NULL, NOW + 2, NULL));
    settle(s);
    CHECK(extents() == 2); /* n1 and b0 */
    size_t t2 = 5000 + 2 * sz[0];
    uint8_t *e2 = malloc(t2);
    memcpy(e2, n1, 5000);
    memcpy(e2 + 5000, parts[0], sz[0]);
    memcpy(e2 + 5000 + sz[0], parts[0], sz[0]);
    CHECK(check_full(s, "blocks", "big", e2, t2));
    memset(&com, 0, sizeof com);
    CHECK(cf_blob_get_block_list(s, ACC, "blocks", "big", NULL, NOW, see_block, NULL, &com) &&
          com.n == 3 && strcmp(com.ids[0], "n1") == 0);

    /* Expiry: blocks older than a week go, newer ones stay. */
    CHECK(put_block(s, "blocks", "other", "old", n1, 100, NOW));
    CHECK(put_block(s, "blocks", "other", "new", n1, 100, NOW + 6 * 86400));
    unsigned expired = 0;
    CHECK(cf_blob_expire_uncommitted(s, NOW + 7 * 86400 + 1, &expired) && expired == 1);
    memset(&unc, 0, sizeof unc);
    CHECK(cf_blob_get_block_list(s, ACC, "blocks", "other", NULL, NOW, NULL, see_block, &unc) &&
          unc.n == 1 && strcmp(unc.ids[0], "new") == 0);
    settle(s);
    CHECK(extents() == 3);
    free(n1);
    free(e2);
    free(expect);
    for (int i = 0; i < 4; i++)
        free(parts[i]);
}

typedef struct {
    char names[8][64];
    int n;
} seen;

static bool see_container(void *ctx, const cf_blob_container *c)
{
    seen *sn = ctx;
    if (sn->n < 8)
        snprintf(sn->names[sn->n++], 64, "%s", c->name);
    return true;
}

static void test_containers(cf_blob_store *s)
{
    static const char *names[] = {"list-c", "list-a", "list-e", "list-b", "list-d", "other"};
    for (size_t i = 0; i < 6; i++)
        CHECK(cf_blob_container_create(s, ACC, names[i], NULL, CF_ACCESS_PRIVATE, NOW, NULL));
    CHECK(!cf_blob_container_create(s, ACC, "list-a", NULL, CF_ACCESS_PRIVATE, NOW, NULL) &&
          cf_error_code() == CF_ERR_CONFLICT);
    CHECK(!cf_blob_container_create(s, ACC, "Bad", NULL, CF_ACCESS_PRIVATE, NOW, NULL) &&
          cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_blob_container_create(s, "nosuch", "abc", NULL, CF_ACCESS_PRIVATE, NOW, NULL) &&
          cf_error_code() == CF_ERR_NOT_FOUND);
    seen sn = {0};
    char next[128];
    CHECK(cf_blob_container_list(s, ACC, "list-", NULL, 2, NOW, see_container, &sn, next,
                                 sizeof next));
    CHECK(sn.n == 2 && strcmp(sn.names[0], "list-a") == 0 && strcmp(sn.names[1], "list-b") == 0);
    CHECK(strcmp(next, "list-b") == 0);
    CHECK(cf_blob_container_list(s, ACC, "list-", next, 2, NOW, see_container, &sn, next,
                                 sizeof next));
    CHECK(sn.n == 4 && strcmp(sn.names[3], "list-d") == 0 && next[0]);
    CHECK(cf_blob_container_list(s, ACC, "list-", next, 2, NOW, see_container, &sn, next,
                                 sizeof next));
    CHECK(sn.n == 5 && strcmp(sn.names[4], "list-e") == 0 && next[0] == 0);
    memset(&sn, 0, sizeof sn);
    CHECK(cf_blob_container_list(s, ACC, "", "", 5000, NOW, see_container, &sn, next, sizeof next));
    CHECK(sn.n == 8 && next[0] == 0); /* + data, blocks */

    cf_blob_container c;
    CHECK(cf_blob_container_get(s, ACC, "list-a", NULL, NOW, &c));
    char old_etag[CF_BLOB_ETAG_LEN + 1];
    memcpy(old_etag, c.etag, sizeof old_etag);
    CHECK(json_object_size(c.metadata) == 0);
    cf_blob_container_free(&c);
    json_t *m = json_pack("{s:s}", "owner", "alice");
    CHECK(cf_blob_container_set_metadata(s, ACC, "list-a", m, NULL, NOW + 5, NULL));
    json_decref(m);
    CHECK(cf_blob_container_get(s, ACC, "list-a", NULL, NOW, &c));
    CHECK(strcmp(json_string_value(json_object_get(c.metadata, "owner")), "alice") == 0);
    CHECK(strcmp(c.etag, old_etag) != 0 && c.last_modified == NOW + 5);
    cf_blob_container_free(&c);

    /* Delete removes blobs, blocks and their files. */
    unsigned before = extents();
    uint8_t *p = make_body(1000, 1);
    CHECK(put_blob(s, "list-a", "x", p, 1000, 1000));
    CHECK(put_blob(s, "list-a", "y", p, 1000, 1000));
    CHECK(put_block(s, "list-a", "z", "blk", p, 10, NOW));
    CHECK(extents() == before + 3);
    CHECK(cf_blob_container_delete(s, ACC, "list-a", NULL, NOW));
    settle(s);
    CHECK(extents() == before);
    CHECK(!cf_blob_container_get(s, ACC, "list-a", NULL, NOW, &c) &&
          cf_error_code() == CF_ERR_NOT_FOUND);
    CHECK(!cf_blob_container_delete(s, ACC, "list-a", NULL, NOW) &&
          cf_error_code() == CF_ERR_NOT_FOUND);
    free(p);
}

static void test_persistence_and_cleanup(void)
{
    cf_blob_store *s = open_store();
    uint8_t *p = make_body(150000, 3);
    CHECK(put_blob(s, "data", "persist", p, 150000, 65536));
    cf_blob_store_close(s);
    s = open_store();
    CHECK(check_full(s, "data", "persist", p, 150000));
    /* Wrong service key: on SQLite blob.db itself does not open (it is
     * encrypted under a key derived from the service key); on PostgreSQL
     * account secrets do not open. */
    cf_blob_store *wrong = NULL;
    uint8_t other[32] = {1};
    if (!on_pg) {
        CHECK(!test_store_open(other, &wrong) && strstr(cf_error_detail(), "protected by"));
    } else {
        CHECK(test_store_open(other, &wrong));
        collect c = {0};
        CHECK(!cf_blob_read(wrong, ACC, "data", "persist", 0, 10,
                            (cf_extent_sink){collect_write, &c}) &&
              cf_error_code() == CF_ERR_DECRYPT);
        free(c.data);
        cf_blob_store_close(wrong);
    }

    /* Simulated crash: an extent and (files) a temp file with no metadata.
     * A RADOS partial write is the extent store's own test's
     * (test_extent_store.c), end to end blob_scale_rados.sh's. */
    unsigned before = extents(), planted = 1;
    CHECK(plant_extent("0011aaaaaaaaaaaaaaaaaaaaaaaaaaaa", CF_SLICE_LIT("orphan")));
    if (!extents_spec) {
        char dir[600], path[700];
        snprintf(dir, sizeof dir, "%s/extents/00/11", data_dir);
        snprintf(path, sizeof path, "%s/0011bbbbbbbbbbbbbbbbbbbbbbbbbbbb.tmp", dir);
        CHECK(cf_write_file_atomic(path, CF_SLICE_LIT("temp"), 0600));
        planted++;
    }
    CHECK(extents() == before + planted);
    unsigned removed = 99;
    CHECK(cf_blob_store_cleanup(s, NOW, &removed) && removed == 0); /* too recent */
    CHECK(cf_blob_store_cleanup(s, (int64_t)time(NULL) + 10, &removed) && removed == planted);
    CHECK(extents() == before);
    CHECK(check_full(s, "data", "persist", p, 150000));
    free(p);
    cf_blob_store_close(s);
}

/* ---- tamper ---- */

typedef struct {
    char paths[8][1024];
    int n;
} paths;

static void gather(const char *path, void *ctx)
{
    paths *ps = ctx;
    if (ps->n < 8)
        snprintf(ps->paths[ps->n++], 1024, "%s", path);
}

static void copy_file(const char *from, const char *to)
{
    cf_buf b;
    cf_buf_init(&b, 1 << 24);
    CHECK(cf_read_file(from, 1 << 24, &b));
    CHECK(cf_write_file_atomic(to, cf_buf_slice(&b), 0600));
    cf_buf_free(&b);
}

/* ---- who keeps the data key ---- */

typedef struct {
    const uint8_t *key;
    int hits;
} key_scan;

static void scan_key_in(const char *name, cf_slice bytes, void *ctx)
{
    key_scan *k = ctx;
    if (bytes.len >= 32 && memmem(bytes.ptr, bytes.len, k->key, 32)) {
        fprintf(stderr, "the data key is in %s\n", name);
        k->hits++;
    }
}

static void scan_key(const char *path, void *ctx)
{
    cf_buf b;
    cf_buf_init(&b, 1 << 26);
    if (cf_read_file(path, 1 << 26, &b))
        scan_key_in(path, cf_buf_slice(&b), ctx);
    cf_buf_free(&b);
}

static bool refused_for_key(void)
{
    return cf_error_code() == CF_ERR_FORBIDDEN && cf_error_reason() &&
           strcmp(cf_error_reason(), "KeyVaultEncryptionKeyNotFound") == 0;
}

static void test_key_sources(void)
{
    cf_blob_store *s = open_store();
    uint8_t *p = make_body(100000, 9);
    CHECK(put_blob(s, "data", "cmk", p, 100000, 65536));
    cf_buf key;
    cf_buf_init_secret(&key, 64);
    cf_blob_key_info info;
    CHECK(cf_blob_data_key(s, ACC, NULL, &key) && key.len == 32);
    CHECK(cf_blob_key_info_get(s, ACC, NULL, &info, NULL) && info.source == CF_BLOB_KEYS_SERVICE);

    /* Handed to a vault key: the store keeps only the (opaque) wrapping. */
    cf_blob_key_info v = {.source = CF_BLOB_KEYS_VAULT};
    snprintf(v.uri, sizeof v.uri, "https://vault.test/keys/k");
    snprintf(v.kid, sizeof v.kid, "https://vault.test/keys/k/1");
    uint8_t wrapped[40];
    memset(wrapped, 0xAB, sizeof wrapped);
    CHECK(cf_blob_keyring_put(s, info.ref, cf_buf_slice(&key)));
    CHECK(cf_blob_key_store(s, ACC, NULL, &v, cf_slice_of(wrapped, sizeof wrapped), NULL));
    CHECK(check_full(s, "data", "cmk", p, 100000));
    cf_buf got;
    cf_buf_init(&got, 4096);
    cf_blob_key_info now;
    CHECK(cf_blob_key_info_get(s, ACC, NULL, &now, &got) && now.source == CF_BLOB_KEYS_VAULT &&
          strcmp(now.kid, v.kid) == 0 && got.len == sizeof wrapped);
    cf_buf_free(&got);

    /* Out of the key ring: no read, no write, no metadata. */
    cf_blob_keyring_drop(s, ACC, info.ref, NULL, NULL);
    collect c = {0};
    CHECK(!read_range(s, "data", "cmk", 0, 10, &c) && refused_for_key());
    CHECK(!put_blob(s, "data", "cmk2", p, 10, 10) && refused_for_key());
    cf_blob_store_close(s);
    s = open_store(); /* a restart starts with an empty ring */
    CHECK(!read_range(s, "data", "cmk", 0, 10, &c) && refused_for_key());
    key_scan ks = {key.data, 0};
    each_file(data_dir, scan_key, &ks);
    if (extents_spec)
        each_stored(scan_key_in, &ks);
    CHECK(ks.hits == 0);

    /* A rotation that lost a race is refused, not applied. */
    CHECK(!cf_blob_key_store(s, ACC, NULL, &v, cf_slice_of(wrapped, 40),
                             "https://vault.test/keys/k/0") &&
          cf_error_code() == CF_ERR_CONFLICT);
    /* Back in the ring, then back with the service: no ring needed. */
    CHECK(cf_blob_keyring_put(s, info.ref, cf_buf_slice(&key)));
    CHECK(check_full(s, "data", "cmk", p, 100000));
    cf_blob_key_info svc = {.source = CF_BLOB_KEYS_SERVICE};
    CHECK(cf_blob_key_store(s, ACC, NULL, &svc, cf_buf_slice(&key), NULL));
    cf_blob_keyring_drop(s, ACC, info.ref, NULL, NULL);
    CHECK(check_full(s, "data", "cmk", p, 100000));
    CHECK(!cf_blob_key_store(s, ACC, NULL, &svc, cf_slice_of(wrapped, 31), NULL));

    /* Listing and deleting accounts. */
    CHECK(cf_blob_account_create(s, "gone1", NOW, false));
    CHECK(cf_blob_container_create(s, "gone1", "box", NULL, CF_ACCESS_PRIVATE, NOW, NULL));
    json_t *names = NULL;
    CHECK(cf_blob_account_names(s, &names) && json_array_size(names) == 2);
    json_decref(names);
    CHECK(cf_blob_account_delete(s, "gone1"));
    CHECK(!cf_blob_account_delete(s, "gone1") && cf_error_code() == CF_ERR_NOT_FOUND);
    CHECK(cf_blob_account_names(s, &names) && json_array_size(names) == 1);
    json_decref(names);
    CHECK(cf_blob_account_create(s, "gone1", NOW, false));
    CHECK(cf_blob_container_create(s, "gone1", "box", NULL, CF_ACCESS_PRIVATE, NOW, NULL));
    cf_buf_free(&key);
    free(c.data);
    free(p);
    cf_blob_store_close(s);
}

/* ---- infrastructure encryption ---- */

typedef struct {
    int layered, plain;
} cipher_count;

static void count_cipher(const char *name, cf_slice bytes, void *ctx)
{
    (void)name;
    cipher_count *c = ctx;
    if (bytes.len < 64)
        return;
    if (bytes.ptr[5] == CF_EXTENT_CIPHER_LAYER)
        c->layered++;
    else
        c->plain++;
}

static void test_infrastructure(void)
{
    cf_blob_store *s = open_store();
    CHECK(cf_blob_account_create(s, "infra1", NOW, true));
    CHECK(cf_blob_container_create(s, "infra1", "box", NULL, CF_ACCESS_PRIVATE, NOW, NULL));
    CHECK(cf_blob_scope_create(s, ACC, "double", true, NOW));
    CHECK(cf_blob_container_create_scoped(s, ACC, "dbl", NULL, CF_ACCESS_PRIVATE, "double", true,
                                          NOW, NULL));
    static const size_t sizes[] = {0, 10, 65536, 200003};
    uint8_t *p = make_body(200003, 5);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char name[16];
        snprintf(name, sizeof name, "b%zu", i);
        cf_blob_writer *w = NULL;
        CHECK(cf_blob_put_begin(s, "infra1", "box", name, NULL, NULL, NULL, NOW, &w) &&
              cf_blob_writer_write(w, cf_slice_of(p, sizes[i])) &&
              cf_blob_writer_commit(w, NOW, NULL));
        cf_blob_writer_free(w);
        collect c = {0};
        CHECK(cf_blob_read(s, "infra1", "box", name, 0, sizes[i],
                           (cf_extent_sink){collect_write, &c}) &&
              c.len == sizes[i] && (sizes[i] == 0 || memcmp(c.data, p, sizes[i]) == 0));
        if (sizes[i] > 70000) {
            c.len = 0;
            CHECK(cf_blob_read(s, "infra1", "box", name, 65000, 70000,
                               (cf_extent_sink){collect_write, &c}) &&
                  c.len == 70000 && memcmp(c.data, p + 65000, 70000) == 0);
        }
        free(c.data);
    }
    /* A scope with the layer, on an account without it. */
    CHECK(put_blob(s, "dbl", "x", p, 200003, 65536));
    CHECK(check_full(s, "dbl", "x", p, 200003));
    cf_blob_store_close(s);
    /* The big bodies are in the extent store: each carries the outer layer. */
    cipher_count cc = {0, 0};
    each_stored(count_cipher, &cc);
    CHECK(cc.layered >= 2);
    s = open_store();
    CHECK(check_full(s, "dbl", "x", p, 200003));
    free(p);
    cf_blob_store_close(s);
}

/* Files only: the bytes are changed where they lie.  The checks are
 * cf_extent's and the blob layer's, above whichever store holds the bytes. */
static void test_tamper(void)
{
    if (extents_spec)
        return;
    char path[600];
    snprintf(path, sizeof path, "%s/extents", data_dir);
    reset_store();
    cf_blob_store *s = open_store();
    CHECK(cf_blob_account_create(s, ACC, NOW, false));
    CHECK(cf_blob_container_create(s, ACC, "tam", NULL, CF_ACCESS_PRIVATE, NOW, NULL));
    uint8_t *p = make_body(140000, 8), *q = make_body(140000, 9);
    CHECK(put_blob(s, "tam", "a", p, 140000, 4096));
    CHECK(put_blob(s, "tam", "b", q, 140000, 4096));
    paths ps = {0};
    each_file(path, gather, &ps);
    CHECK(ps.n == 2);
    collect c = {0};

    /* Swap the two extent files (same length, same account key). */
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.save", ps.paths[0]);
    copy_file(ps.paths[0], tmp);
    copy_file(ps.paths[1], ps.paths[0]);
    copy_file(tmp, ps.paths[1]);
    CHECK(!read_range(s, "tam", "a", 0, 140000, &c) && cf_error_code() == CF_ERR_DECRYPT);
    CHECK(!read_range(s, "tam", "b", 70000, 10, &c) && cf_error_code() == CF_ERR_DECRYPT);
    copy_file(ps.paths[1], tmp); /* swap back */
    copy_file(ps.paths[0], ps.paths[1]);
    copy_file(tmp, ps.paths[0]);
    unlink(tmp);
    CHECK(check_full(s, "tam", "a", p, 140000) && check_full(s, "tam", "b", q, 140000));

    /* Flip one byte in the second segment. */
    int fd = open(ps.paths[0], O_RDWR);
    uint8_t byte;
    CHECK(pread(fd, &byte, 1, 64 + 65536 + 16 + 100) == 1);
    byte ^= 0x01;
    CHECK(pwrite(fd, &byte, 1, 64 + 65536 + 16 + 100) == 1);
    const char *victim = check_full(s, "tam", "a", p, 140000) ? "b" : "a";
    CHECK(!read_range(s, "tam", victim, 65536, 10, &c) && cf_error_code() == CF_ERR_DECRYPT);
    byte ^= 0x01;
    CHECK(pwrite(fd, &byte, 1, 64 + 65536 + 16 + 100) == 1);
    CHECK(read_range(s, "tam", victim, 65536, 10, &c));

    /* Truncate at a segment boundary (looks like a valid shorter extent)
     * and mid-segment. */
    CHECK(ftruncate(fd, 64 + 2 * (65536 + 16)) == 0);
    CHECK(!read_range(s, "tam", victim, 0, 10, &c) && cf_error_code() == CF_ERR_DECRYPT);
    CHECK(ftruncate(fd, 1000) == 0);
    CHECK(!read_range(s, "tam", victim, 0, 10, &c) && cf_error_code() == CF_ERR_DECRYPT);
    CHECK(ftruncate(fd, 10) == 0);
    CHECK(!read_range(s, "tam", victim, 0, 10, &c) && cf_error_code() == CF_ERR_DECRYPT);
    close(fd);
    free(c.data);
    free(p);
    free(q);
    cf_blob_store_close(s);
}

/* ---- inline extents (bodies up to one sealed 64 KiB segment) ---- */

static cf_blob_store *fresh_store(const char *container)
{
    reset_store();
    cf_blob_store *s = open_store();
    CHECK(cf_blob_account_create(s, ACC, NOW, false));
    CHECK(cf_blob_container_create(s, ACC, container, NULL, CF_ACCESS_PRIVATE, NOW, NULL));
    return s;
}

/* Every boundary size, as Put Blob and as Put Block + Put Block List: up to
 * 64 KiB inline, above it a file; reads (whole and ranged) before and after
 * a reopen. */
static void test_inline_sizes(void)
{
    cf_blob_store *s = fresh_store("inl");
    static const size_t sizes[] = {0, 1, 65535, 65536, 65537, 1 << 20};
    enum { N = sizeof sizes / sizeof *sizes };
    uint8_t *bodies[N];
    char name[32];
    unsigned files = 0, rows = 0;
    for (size_t i = 0; i < N; i++) {
        bodies[i] = make_body(sizes[i], (unsigned)i + 40);
        bool inl = sizes[i] <= 65536;
        snprintf(name, sizeof name, "put-%zu", sizes[i]);
        CHECK(put_blob(s, "inl", name, bodies[i], sizes[i], 5000));
        files += !inl;
        rows += inl;
        CHECK(extent_files() == files && inline_rows() == rows);
        CHECK(check_full(s, "inl", name, bodies[i], sizes[i]));
        /* The same body as one block, committed. */
        snprintf(name, sizeof name, "blk-%zu", sizes[i]);
        if (sizes[i]) {
            CHECK(put_block(s, "inl", name, "b0", bodies[i], sizes[i], NOW));
            cf_block_ref l = {CF_SLICE_LIT("b0"), CF_BLOCK_LATEST};
            CHECK(cf_blob_put_block_list(s, ACC, "inl", name, &l, 1, NULL, NULL, NULL, NOW, NULL));
            files += !inl;
            rows += inl;
            CHECK(check_full(s, "inl", name, bodies[i], sizes[i]));
        }
        CHECK(extent_files() == files && inline_rows() == rows);
    }
    /* A blob of mixed blocks: inline, file, inline; ranges across them. */
    CHECK(put_block(s, "inl", "mixed", "m0", bodies[2], 65535, NOW));
    CHECK(put_block(s, "inl", "mixed", "m1", bodies[4], 65537, NOW));
    CHECK(put_block(s, "inl", "mixed", "m2", bodies[1], 1, NOW));
    cf_block_ref ml[3] = {{CF_SLICE_LIT("m0"), CF_BLOCK_LATEST},
                          {CF_SLICE_LIT("m1"), CF_BLOCK_LATEST},
                          {CF_SLICE_LIT("m2"), CF_BLOCK_LATEST}};
    CHECK(cf_blob_put_block_list(s, ACC, "inl", "mixed", ml, 3, NULL, NULL, NULL, NOW, NULL));
    uint8_t *mixed = malloc(65535 + 65537 + 1);
    memcpy(mixed, bodies[2], 65535);
    memcpy(mixed + 65535, bodies[4], 65537);
    mixed[65535 + 65537] = bodies[1][0];
    collect c = {0};
    CHECK(check_full(s, "inl", "mixed", mixed, 65535 + 65537 + 1));
    CHECK(read_range(s, "inl", "mixed", 65530, 10, &c) && c.len == 10 &&
          memcmp(c.data, mixed + 65530, 10) == 0);
    CHECK(read_range(s, "inl", "mixed", 131070, 3, &c) && c.len == 3 &&
          memcmp(c.data, mixed + 131070, 3) == 0);
    cf_blob_store_close(s);
    s = open_store();
    for (size_t i = 0; i < N; i++) {
        snprintf(name, sizeof name, "put-%zu", sizes[i]);
        CHECK(check_full(s, "inl", name, bodies[i], sizes[i]));
        snprintf(name, sizeof name, "blk-%zu", sizes[i]);
        if (sizes[i])
            CHECK(check_full(s, "inl", name, bodies[i], sizes[i]));
    }
    CHECK(check_full(s, "inl", "mixed", mixed, 65535 + 65537 + 1));
    /* Deleting removes the rows (and files) in the same transaction (on
     * PostgreSQL, records them for the sweep in it). */
    CHECK(cf_blob_container_delete(s, ACC, "inl", NULL, NOW));
    settle(s);
    CHECK(extents() == 0);
    cf_blob_store_close(s);
    for (size_t i = 0; i < N; i++)
        free(bodies[i]);
    free(mixed);
    free(c.data);
}

/* A flipped byte, a truncated row, or two rows' bytes swapped: the extent
 * key is bound to the id, so every variant fails to decrypt. */
static void test_inline_tamper(void)
{
    cf_blob_store *s = fresh_store("tam");
    uint8_t *p = make_body(3000, 1), *q = make_body(3000, 2);
    CHECK(put_blob(s, "tam", "a", p, 3000, 3000));
    CHECK(put_blob(s, "tam", "b", q, 3000, 3000));
    cf_blob_store_close(s);
    static const char get_a[] = "SELECT data FROM inline_extents WHERE id = (SELECT extent FROM "
                                "blob_extents WHERE blob = 'a')";
    static const char get_b[] = "SELECT data FROM inline_extents WHERE id = (SELECT extent FROM "
                                "blob_extents WHERE blob = 'b')";
    static const char set_a[] = "UPDATE inline_extents SET data = ?1 WHERE id = (SELECT extent"
                                " FROM blob_extents WHERE blob = 'a')";
    static const char set_b[] = "UPDATE inline_extents SET data = ?1 WHERE id = (SELECT extent"
                                " FROM blob_extents WHERE blob = 'b')";
    uint8_t *a = NULL, *b = NULL;
    int alen = 0, blen = 0;
    CHECK(db_exec(get_a, NULL, 0, &a, &alen) && alen == 64 + 3000 + 16);
    CHECK(db_exec(get_b, NULL, 0, &b, &blen) && blen == alen);
    collect c = {0};

    a[64 + 1500] ^= 0x01; /* a ciphertext byte */
    CHECK(db_exec(set_a, a, alen, NULL, NULL));
    s = open_store();
    CHECK(!read_range(s, "tam", "a", 0, 3000, &c) && cf_error_code() == CF_ERR_DECRYPT);
    CHECK(check_full(s, "tam", "b", q, 3000));
    cf_blob_store_close(s);
    a[64 + 1500] ^= 0x01;

    CHECK(db_exec(set_a, a, alen - 1, NULL, NULL)); /* truncated by one byte */
    s = open_store();
    CHECK(!read_range(s, "tam", "a", 0, 10, &c) && cf_error_code() == CF_ERR_DECRYPT);
    cf_blob_store_close(s);

    CHECK(db_exec(set_a, b, blen, NULL, NULL)); /* the rows' bytes swapped */
    CHECK(db_exec(set_b, a, alen, NULL, NULL));
    s = open_store();
    CHECK(!read_range(s, "tam", "a", 0, 10, &c) && cf_error_code() == CF_ERR_DECRYPT);
    CHECK(!read_range(s, "tam", "b", 0, 10, &c) && cf_error_code() == CF_ERR_DECRYPT);
    cf_blob_store_close(s);

    CHECK(db_exec(set_a, a, alen, NULL, NULL)); /* restored: both read again */
    CHECK(db_exec(set_b, b, blen, NULL, NULL));
    s = open_store();
    CHECK(check_full(s, "tam", "a", p, 3000) && check_full(s, "tam", "b", q, 3000));
    /* A row gone from under its metadata is an error, never an empty body. */
    cf_blob_store_close(s);
    CHECK(db_exec("DELETE FROM inline_extents WHERE id = (SELECT extent FROM blob_extents"
                  " WHERE blob = 'a')",
                  NULL, 0, NULL, NULL));
    s = open_store();
    CHECK(!read_range(s, "tam", "a", 0, 10, &c) && cf_error_code() == CF_ERR_IO);
    cf_blob_store_close(s);
    free(a);
    free(b);
    free(p);
    free(q);
    free(c.data);
}

/* Copy shares an inline extent; the row goes with the last reference, and
 * not while a reader holds it.  Expiry and orphan cleanup. */
static void test_inline_sharing(void)
{
    cf_blob_store *s = fresh_store("shr");
    uint8_t *p = make_body(5000, 3);
    CHECK(put_blob(s, "shr", "src", p, 5000, 5000));
    cf_blob_copy_result cr;
    CHECK(cf_blob_copy(s, ACC, "shr", "src", NULL, "shr", "dst", NULL, NULL, "u", NOW, &cr));
    CHECK(inline_rows() == 1 && extent_files() == 0);
    CHECK(cf_blob_delete(s, ACC, "shr", "src", NULL, NOW));
    settle(s);
    CHECK(inline_rows() == 1);
    CHECK(check_full(s, "shr", "dst", p, 5000));

    /* A reader over two inline blocks (the second one fetched lazily)
     * serves its snapshot after the blob is deleted; the rows go when it
     * is freed. */
    CHECK(put_block(s, "shr", "two", "x1", p, 2500, NOW));
    CHECK(put_block(s, "shr", "two", "x2", p + 2500, 2500, NOW));
    cf_block_ref l[2] = {{CF_SLICE_LIT("x1"), CF_BLOCK_LATEST},
                         {CF_SLICE_LIT("x2"), CF_BLOCK_LATEST}};
    CHECK(cf_blob_put_block_list(s, ACC, "shr", "two", l, 2, NULL, NULL, NULL, NOW, NULL));
    CHECK(inline_rows() == 3);
    cf_blob_info info;
    cf_blob_reader *r = NULL;
    CHECK(cf_blob_reader_open(s, ACC, "shr", "two", 0, CF_BLOB_WHOLE, NULL, NOW, &info, &r));
    cf_blob_info_free(&info);
    CHECK(cf_blob_delete(s, ACC, "shr", "two", NULL, NOW));
    CHECK(cf_blob_delete(s, ACC, "shr", "dst", NULL, NOW));
    settle(s);
    CHECK(inline_rows() == 2); /* dst's went at once; the reader holds two's */
    uint8_t buf[5000];
    size_t got = 0, total = 0;
    do {
        CHECK(cf_blob_reader_read(r, buf + total, sizeof buf - total, &got));
        total += got;
    } while (got && total < sizeof buf);
    CHECK(total == 5000 && memcmp(buf, p, 5000) == 0);
    cf_blob_reader_free(r);
    settle(s);
    CHECK(inline_rows() == 0);

    /* Uncommitted inline blocks: replaced, then expired. */
    CHECK(put_block(s, "shr", "pend", "a", p, 100, NOW));
    CHECK(put_block(s, "shr", "pend", "a", p, 200, NOW));
    settle(s);
    CHECK(inline_rows() == 1);
    unsigned expired = 0;
    CHECK(cf_blob_expire_uncommitted(s, NOW + CF_BLOB_UNCOMMITTED_TTL + 1, &expired) &&
          expired == 1);
    settle(s);
    CHECK(inline_rows() == 0);

    /* Cleanup removes an orphan row (a deferred delete lost to a crash)
     * and keeps referenced ones. */
    CHECK(put_blob(s, "shr", "keep", p, 5000, 5000));
    cf_blob_store_close(s);
    CHECK(db_exec("INSERT INTO inline_extents (id, data) VALUES"
                  " ('00112233445566778899aabbccddeeff', ?1)",
                  "x", 1, NULL, NULL));
    s = open_store();
    CHECK(inline_rows() == 2);
    unsigned removed = 0;
    CHECK(cf_blob_store_cleanup(s, NOW, &removed) && removed == 1);
    settle(s);
    CHECK(inline_rows() == 1 && check_full(s, "shr", "keep", p, 5000));
    cf_blob_store_close(s);
    free(p);
}

/* Writers in several threads (group commit): all succeed, and every write
 * is there after a reopen. */
enum { GC_THREADS = 6, GC_PUTS = 40 };

typedef struct {
    cf_blob_store *s;
    int t;
    int ok;
} gc_arg;

static uint8_t *gc_body(int t, int i, size_t *len)
{
    /* Mostly small (inline); every 8th one a file. */
    *len = i % 8 == 7 ? 70000 : (size_t)(1000 + 37 * i + t);
    return make_body(*len, (unsigned)(t * 1000 + i));
}

static void *gc_writer(void *v)
{
    gc_arg *a = v;
    for (int i = 0; i < GC_PUTS; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d-%d", a->t, i);
        size_t len;
        uint8_t *p = gc_body(a->t, i, &len);
        a->ok += put_blob(a->s, "gcw", name, p, len, 4096);
        free(p);
    }
    return NULL;
}

static void test_concurrent_writers(void)
{
    cf_blob_store *s = fresh_store("gcw");
    pthread_t th[GC_THREADS];
    gc_arg args[GC_THREADS];
    for (int t = 0; t < GC_THREADS; t++) {
        args[t] = (gc_arg){s, t, 0};
        CHECK(pthread_create(&th[t], NULL, gc_writer, &args[t]) == 0);
    }
    for (int t = 0; t < GC_THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK(args[t].ok == GC_PUTS);
    }
    cf_blob_store_close(s);
    s = open_store();
    int good = 0;
    for (int t = 0; t < GC_THREADS; t++)
        for (int i = 0; i < GC_PUTS; i++) {
            char name[32];
            snprintf(name, sizeof name, "t%d-%d", t, i);
            size_t len;
            uint8_t *p = gc_body(t, i, &len);
            good += check_full(s, "gcw", name, p, len);
            free(p);
        }
    CHECK(good == GC_THREADS * GC_PUTS);
    CHECK(inline_rows() == GC_THREADS * (GC_PUTS - GC_PUTS / 8) &&
          extent_files() == GC_THREADS * (GC_PUTS / 8));
    cf_blob_store_close(s);
}

/* ---- no plaintext at rest ---- */

static void meta_fixture(cf_blob_store *s);

static void scan_file(const char *path, void *ctx)
{
    int *hits = ctx;
    cf_buf b;
    cf_buf_init(&b, 1 << 26);
    if (!cf_read_file(path, 1 << 26, &b))
        return;
    if (b.len >= sizeof marker - 1 && memmem(b.data, b.len, marker, sizeof marker - 1)) {
        fprintf(stderr, "plaintext marker found in %s\n", path);
        (*hits)++;
    }
    cf_buf_free(&b);
}

static void test_no_plaintext_at_rest(void)
{
    reset_store();
    cf_blob_store *s = open_store();
    CHECK(cf_blob_account_create(s, ACC, NOW, false));
    json_t *m = json_pack("{s:s}", "k", "v");
    CHECK(cf_blob_container_create(s, ACC, "scan", m, CF_ACCESS_PRIVATE, NOW, NULL));
    json_decref(m);
    uint8_t *p = make_body(200000, 4);
    CHECK(put_blob(s, "scan", "whole", p, 200000, 3333));
    CHECK(put_block(s, "scan", "blocky", "one", p, 100000, NOW));
    CHECK(put_block(s, "scan", "blocky", "two", p + 100000, 100000, NOW));
    cf_block_ref l[2] = {{CF_SLICE_LIT("one"), CF_BLOCK_LATEST},
                         {CF_SLICE_LIT("two"), CF_BLOCK_LATEST}};
    CHECK(cf_blob_put_block_list(s, ACC, "scan", "blocky", l, 2, NULL, NULL, NULL, NOW, NULL));
    CHECK(put_block(s, "scan", "pending", "x", p, 50000, NOW));
    CHECK(check_full(s, "scan", "blocky", p, 200000));
    /* Inline bodies (the marker is at offset 0 of each). */
    CHECK(put_blob(s, "scan", "small", p, 1000, 1000));
    CHECK(put_blob(s, "scan", "seg", p, 65536, 10000));
    CHECK(put_block(s, "scan", "pending", "y", p, 20000, NOW));
    CHECK(inline_rows() == 4); /* with pending's 50000-byte block */
    /* The marker in metadata values, content-type, a copy source, container
     * metadata, a stored access policy and service properties. */
    meta_fixture(s);
    /* With the store open the new pages are in blob.db-wal: scan it too. */
    int hits = 0;
    char wal[600];
    snprintf(wal, sizeof wal, "%s/blob.db-wal", data_dir);
    struct stat wst;
    CHECK(stat(wal, &wst) == 0 && wst.st_size > 0);
    each_file(data_dir, scan_file, &hits);
    CHECK(hits == 0);
    cf_blob_store_close(s); /* checkpoints the WAL into the database file */
    hits = 0;
    each_file(data_dir, scan_file, &hits);
    CHECK(hits == 0);
    free(p);
}

/* ---- sealed metadata columns ---- */

static const char *meta_get(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* A blob with metadata and properties, a copy of it with the copy source,
 * container metadata and ACL, and service properties, every value carrying
 * the marker. */
static void meta_fixture(cf_blob_store *s)
{
    json_t *cm = json_pack("{s:s}", "owner", marker);
    CHECK(cf_blob_container_create(s, ACC, "mcon", cm, CF_ACCESS_PRIVATE, NOW, NULL));
    json_decref(cm);
    cf_blob_writer *w = NULL;
    json_t *props = json_pack("{s:s, s:s}", "content-type", marker, "cache-control", "no-cache");
    json_t *meta = json_pack("{s:s, s:s}", "secret", marker, "other", "x");
    CHECK(cf_blob_put_begin(s, ACC, "mcon", "a", props, meta, NULL, NOW, &w) &&
          cf_blob_writer_write(w, CF_SLICE_LIT("hello")) && cf_blob_writer_commit(w, NOW, NULL));
    cf_blob_writer_free(w);
    json_object_set_new(meta, "secret", json_string("b-value"));
    CHECK(cf_blob_put_begin(s, ACC, "mcon", "b", props, meta, NULL, NOW, &w) &&
          cf_blob_writer_write(w, CF_SLICE_LIT("world")) && cf_blob_writer_commit(w, NOW, NULL));
    cf_blob_writer_free(w);
    json_decref(props);
    json_decref(meta);
    char url[256];
    snprintf(url, sizeof url, "https://h/acct1/mcon/a?%s", marker);
    cf_blob_copy_result cr;
    CHECK(cf_blob_copy(s, ACC, "mcon", "a", NULL, "mcon", "c", NULL, NULL, url, NOW + 1, &cr));
    cf_blob_acl acl = {0};
    acl.n = 1;
    snprintf(acl.policies[0].id, sizeof acl.policies[0].id, "%s", marker);
    snprintf(acl.policies[0].permission, sizeof acl.policies[0].permission, "rl");
    CHECK(cf_blob_container_set_acl(s, ACC, "mcon", &acl, NULL, NOW, NULL));
    char xml[128];
    snprintf(xml, sizeof xml, "<StorageServiceProperties>%s</StorageServiceProperties>", marker);
    CHECK(cf_blob_service_props_set(s, ACC, CF_SLICE_STR(xml)));
}

typedef struct {
    unsigned n, with_secret;
} meta_seen;

static bool meta_list_cb(void *ctx, const cf_blob_info *b, const char *prefix)
{
    meta_seen *m = ctx;
    (void)prefix;
    m->n++;
    if (b && strcmp(meta_get(b->metadata, "secret"), marker) == 0)
        m->with_secret++;
    return b && strcmp(meta_get(b->props, "content-type"), marker) == 0;
}

static bool meta_list(cf_blob_store *s, bool with_meta, meta_seen *m)
{
    cf_blob_list_req req = {.max_results = 100, .include_metadata = with_meta};
    char next[CF_BLOB_MARKER_MAX + 1];
    *m = (meta_seen){0};
    return cf_blob_list(s, ACC, "mcon", &req, NOW, meta_list_cb, m, next, sizeof next);
}

static void meta_check_all(cf_blob_store *s)
{
    cf_blob_info b;
    CHECK(cf_blob_get(s, ACC, "mcon", "a", NULL, NOW, &b));
    CHECK_STR(meta_get(b.metadata, "secret"), marker);
    CHECK_STR(meta_get(b.metadata, "other"), "x");
    CHECK_STR(meta_get(b.props, "content-type"), marker);
    CHECK_STR(meta_get(b.props, "cache-control"), "no-cache");
    CHECK(b.copy.id[0] == '\0' && !b.copy.source);
    cf_blob_info_free(&b);
    /* The copy: the source's values, sealed again for its own row. */
    CHECK(cf_blob_get(s, ACC, "mcon", "c", NULL, NOW, &b));
    CHECK_STR(meta_get(b.metadata, "secret"), marker);
    CHECK_STR(meta_get(b.props, "content-type"), marker);
    CHECK(b.copy.source && strstr(b.copy.source, marker) && strcmp(b.copy.status, "success") == 0);
    cf_blob_info_free(&b);
    /* The reader's snapshot. */
    cf_blob_reader *r = NULL;
    CHECK(cf_blob_reader_open(s, ACC, "mcon", "c", 0, CF_BLOB_WHOLE, NULL, NOW, &b, &r));
    CHECK_STR(meta_get(b.metadata, "secret"), marker);
    CHECK(b.copy.source && strstr(b.copy.source, marker));
    cf_blob_reader_free(r);
    cf_blob_info_free(&b);
    meta_seen m;
    CHECK(meta_list(s, true, &m) && m.n == 3 && m.with_secret == 2);
    CHECK(meta_list(s, false, &m) && m.n == 3 && m.with_secret == 0);
    cf_blob_container c;
    CHECK(cf_blob_container_get(s, ACC, "mcon", NULL, NOW, &c));
    CHECK_STR(meta_get(c.metadata, "owner"), marker);
    cf_blob_container_free(&c);
    cf_blob_access_policy pol;
    CHECK(cf_blob_container_policy(s, ACC, "mcon", marker, &pol) &&
          strcmp(pol.permission, "rl") == 0);
    cf_buf xml;
    cf_buf_init(&xml, 1 << 16);
    CHECK(cf_blob_service_props_get(s, ACC, &xml) &&
          memmem(xml.data, xml.len, marker, sizeof marker - 1));
    cf_buf_free(&xml);
}

static bool column_is_blob(const char *sql)
{
    uint8_t *out = NULL;
    int n = 0;
    bool ok = db_exec(sql, NULL, 0, &out, &n) && n == 4 && memcmp(out, "blob", 4) == 0;
    free(out);
    return ok;
}

static void test_meta_round_trips(void)
{
    reset_store();
    cf_blob_store *s = open_store();
    CHECK(cf_blob_account_create(s, ACC, NOW, false));
    meta_fixture(s);
    meta_check_all(s);
    /* Every sealed column holds a blob, never text (PostgreSQL: they are
     * bytea, and hold nothing else). */
    if (!on_pg) {
        CHECK(column_is_blob("SELECT typeof(metadata) FROM blobs WHERE name = 'a'"));
        CHECK(column_is_blob("SELECT typeof(props) FROM blobs WHERE name = 'a'"));
        CHECK(column_is_blob("SELECT typeof(copy) FROM blobs WHERE name = 'c'"));
        CHECK(column_is_blob("SELECT typeof(metadata) FROM containers WHERE name = 'mcon'"));
        CHECK(column_is_blob("SELECT typeof(acl) FROM containers WHERE name = 'mcon'"));
    }
    /* Updates: Set Metadata / Properties (which ends the copy info), a copy
     * with new metadata, container metadata. */
    json_t *m = json_pack("{s:s}", "k2", "v2");
    CHECK(cf_blob_set_metadata(s, ACC, "mcon", "a", m, NULL, NOW, NULL));
    CHECK(cf_blob_container_set_metadata(s, ACC, "mcon", m, NULL, NOW, NULL));
    cf_blob_copy_result cr;
    CHECK(cf_blob_copy(s, ACC, "mcon", "b", NULL, "mcon", "d", NULL, m, "u", NOW, &cr));
    json_decref(m);
    json_t *p = json_pack("{s:s}", "content-language", "fr");
    CHECK(cf_blob_set_properties(s, ACC, "mcon", "c", p, NULL, NOW, NULL));
    json_decref(p);
    cf_blob_info b;
    CHECK(cf_blob_get(s, ACC, "mcon", "a", NULL, NOW, &b));
    CHECK(json_object_size(b.metadata) == 1 && strcmp(meta_get(b.metadata, "k2"), "v2") == 0);
    cf_blob_info_free(&b);
    CHECK(cf_blob_get(s, ACC, "mcon", "d", NULL, NOW, &b));
    CHECK(json_object_size(b.metadata) == 1 && strcmp(meta_get(b.metadata, "k2"), "v2") == 0);
    CHECK_STR(meta_get(b.props, "content-type"), marker);
    CHECK(b.copy.source && strcmp(b.copy.source, "u") == 0);
    cf_blob_info_free(&b);
    CHECK(cf_blob_get(s, ACC, "mcon", "c", NULL, NOW, &b));
    CHECK(json_object_size(b.props) == 1 &&
          strcmp(meta_get(b.props, "content-language"), "fr") == 0);
    CHECK(!b.copy.source && b.copy.id[0] == '\0');
    cf_blob_info_free(&b);
    /* Empty metadata and an append blob through the other writers. */
    CHECK(cf_blob_append_create(s, ACC, "mcon", "app", NULL, NULL, NULL, NOW, NULL));
    CHECK(cf_blob_get(s, ACC, "mcon", "app", NULL, NOW, &b));
    CHECK(json_object_size(b.metadata) == 0 && json_object_size(b.props) == 0);
    cf_blob_info_free(&b);
    /* A second account gets its own key: its values do not open under the first's. */
    CHECK(cf_blob_account_create(s, "acct2", NOW, false));
    CHECK(cf_blob_container_create(s, "acct2", "mcon", NULL, CF_ACCESS_PRIVATE, NOW, NULL));
    CHECK(db_exec("UPDATE containers SET metadata = (SELECT metadata FROM containers WHERE"
                  " account = 'acct2') WHERE account = 'acct1'",
                  NULL, 0, NULL, NULL));
    cf_blob_container c;
    CHECK(!cf_blob_container_get(s, ACC, "mcon", NULL, NOW, &c) &&
          cf_error_code() == CF_ERR_DECRYPT);
    cf_blob_store_close(s);
}

/* Runs `sql` with the sealed value read by `get` bound as ?1, after
 * flipping byte `flip` of it (-1: unchanged). */
static void move_sealed(const char *get, const char *set, int flip)
{
    uint8_t *v = NULL;
    int n = 0;
    CHECK(db_exec(get, NULL, 0, &v, &n) && n > 30);
    if (flip >= 0 && flip < n)
        v[flip] ^= 0x20;
    CHECK(db_exec(set, v, n, NULL, NULL));
    free(v);
}

static bool get_fails_decrypt(cf_blob_store *s, const char *name)
{
    cf_blob_info b;
    bool ok = cf_blob_get(s, ACC, "mcon", name, NULL, NOW, &b);
    cf_blob_info_free(&b);
    return !ok && cf_error_code() == CF_ERR_DECRYPT;
}

static void test_meta_tamper(void)
{
    reset_store();
    cf_blob_store *s = open_store();
    CHECK(cf_blob_account_create(s, ACC, NOW, false));
    meta_fixture(s);
    const char *get_b = "SELECT metadata FROM blobs WHERE name = 'b'";
    uint8_t *orig = NULL;
    int orig_n = 0;
    CHECK(db_exec("SELECT metadata FROM blobs WHERE name = 'a'", NULL, 0, &orig, &orig_n));

    /* A flipped byte in the ciphertext, the tag, the nonce. */
    int flips[3] = {20, orig_n - 1, 3};
    for (int i = 0; i < 3; i++) {
        CHECK(db_exec("UPDATE blobs SET metadata = ?1 WHERE name = 'a'", orig, orig_n, NULL, NULL));
        move_sealed("SELECT metadata FROM blobs WHERE name = 'a'",
                    "UPDATE blobs SET metadata = ?1 WHERE name = 'a'", flips[i]);
        CHECK(get_fails_decrypt(s, "a"));
    }
    /* The reader and List Blobs with metadata fail too; without metadata the
     * listing does not open it and succeeds. */
    cf_blob_info b;
    cf_blob_reader *r = NULL;
    CHECK(!cf_blob_reader_open(s, ACC, "mcon", "a", 0, CF_BLOB_WHOLE, NULL, NOW, &b, &r) &&
          cf_error_code() == CF_ERR_DECRYPT);
    cf_blob_info_free(&b);
    meta_seen m;
    CHECK(!meta_list(s, true, &m) && cf_error_code() == CF_ERR_DECRYPT);
    CHECK(meta_list(s, false, &m) && m.n == 3);

    /* Another blob's sealed metadata moved into this row: same key, same
     * column, valid envelope, wrong row. */
    move_sealed(get_b, "UPDATE blobs SET metadata = ?1 WHERE name = 'a'", -1);
    CHECK(get_fails_decrypt(s, "a"));
    /* A column's value moved to another column of the same row. */
    CHECK(db_exec("UPDATE blobs SET metadata = ?1 WHERE name = 'a'", orig, orig_n, NULL, NULL));
    CHECK(db_exec("UPDATE blobs SET props = metadata WHERE name = 'b'", NULL, 0, NULL, NULL));
    CHECK(get_fails_decrypt(s, "b"));
    /* A container's metadata moved into a blob's metadata column. */
    move_sealed("SELECT metadata FROM containers WHERE name = 'mcon'",
                "UPDATE blobs SET metadata = ?1 WHERE name = 'c'", -1);
    CHECK(get_fails_decrypt(s, "c"));
    /* Plaintext written behind the store's back is refused, not served. */
    CHECK(db_exec("UPDATE blobs SET metadata = '{\"evil\":\"1\"}' WHERE name = 'a'", NULL, 0, NULL,
                  NULL));
    CHECK(get_fails_decrypt(s, "a"));
    /* Copy info moved to another blob's row; a tampered copy source. */
    CHECK(db_exec("UPDATE blobs SET metadata = ?1 WHERE name = 'a'", orig, orig_n, NULL, NULL));
    CHECK(db_exec("UPDATE blobs SET copy = (SELECT copy FROM blobs WHERE name = 'c')"
                  " WHERE name = 'a'",
                  NULL, 0, NULL, NULL));
    CHECK(get_fails_decrypt(s, "a"));
    /* Copy Blob opens the source's values: a tampered source fails the copy. */
    cf_blob_copy_result cr;
    CHECK(!cf_blob_copy(s, ACC, "mcon", "b", NULL, "mcon", "e", NULL, NULL, "u", NOW, &cr) &&
          cf_error_code() == CF_ERR_DECRYPT);
    /* Container metadata, ACL and service properties. */
    cf_blob_container c;
    move_sealed("SELECT metadata FROM containers WHERE name = 'mcon'",
                "UPDATE containers SET metadata = ?1 WHERE name = 'mcon'", 25);
    CHECK(!cf_blob_container_get(s, ACC, "mcon", NULL, NOW, &c) &&
          cf_error_code() == CF_ERR_DECRYPT);
    move_sealed("SELECT acl FROM containers WHERE name = 'mcon'",
                "UPDATE containers SET acl = ?1 WHERE name = 'mcon'", 25);
    cf_blob_access_policy pol;
    CHECK(!cf_blob_container_policy(s, ACC, "mcon", marker, &pol) &&
          cf_error_code() == CF_ERR_DECRYPT);
    move_sealed("SELECT xml FROM service_props", "UPDATE service_props SET xml = ?1", 25);
    cf_buf xml;
    cf_buf_init(&xml, 1 << 16);
    CHECK(!cf_blob_service_props_get(s, ACC, &xml) && cf_error_code() == CF_ERR_DECRYPT);
    cf_buf_free(&xml);
    /* Restored bytes read again: the failures were the tampering. */
    CHECK(db_exec("UPDATE blobs SET metadata = ?1 WHERE name = 'a'", orig, orig_n, NULL, NULL));
    CHECK(db_exec("UPDATE blobs SET copy = NULL WHERE name = 'a'", NULL, 0, NULL, NULL));
    CHECK(cf_blob_get(s, ACC, "mcon", "a", NULL, NOW, &b));
    CHECK_STR(meta_get(b.metadata, "secret"), marker);
    cf_blob_info_free(&b);
    free(orig);
    cf_blob_store_close(s);
}

/* A database as the code before sealing left it: every sealed column
 * rewritten as plaintext (JSON text; the service XML as a blob, as it was
 * bound), user_version 0 and (SQLite) the file itself plain.  Reopening
 * encrypts the file and seals every column in place. */
static void test_meta_migration(void)
{
    reset_store();
    cf_blob_store *s = open_store();
    CHECK(cf_blob_account_create(s, ACC, NOW, false));
    meta_fixture(s);
    cf_blob_store_close(s);
    char copy[512], cmeta[128], acl[256], props[128], meta[128], xml[128];
    snprintf(props, sizeof props, "{\"cache-control\":\"no-cache\",\"content-type\":\"%s\"}",
             marker);
    snprintf(meta, sizeof meta, "{\"other\":\"x\",\"secret\":\"%s\"}", marker);
    snprintf(copy, sizeof copy,
             "{\"id\":\"0b5e7a0c-1c1e-4f7e-9d43-5a1f3c2e9b10\",\"status\":\"success\","
             "\"progress\":\"5/5\",\"completion\":%d,\"source\":\"https://h/acct1/mcon/a?%s\"}",
             NOW + 1, marker);
    snprintf(cmeta, sizeof cmeta, "{\"owner\":\"%s\"}", marker);
    snprintf(acl, sizeof acl,
             "[{\"id\":\"%s\",\"start\":\"\",\"expiry\":\"\",\"permission\":\"rl\"}]", marker);
    snprintf(xml, sizeof xml, "<StorageServiceProperties>%s</StorageServiceProperties>", marker);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "UPDATE blobs SET props = '%s', metadata = CASE name WHEN 'b' THEN"
             " '{\"other\":\"x\",\"secret\":\"b-value\"}' ELSE '%s' END",
             props, meta);
    CHECK(db_exec(sql, NULL, 0, NULL, NULL));
    snprintf(sql, sizeof sql, "UPDATE blobs SET copy = '%s' WHERE name = 'c'", copy);
    CHECK(db_exec(sql, NULL, 0, NULL, NULL));
    snprintf(sql, sizeof sql, "UPDATE containers SET metadata = '%s', acl = '%s'", cmeta, acl);
    CHECK(db_exec(sql, NULL, 0, NULL, NULL));
    CHECK(db_exec("UPDATE service_props SET xml = ?1", xml, (int)strlen(xml), NULL, NULL));
    CHECK(db_exec("PRAGMA user_version = 0", NULL, 0, NULL, NULL));
    CHECK(!column_is_blob("SELECT typeof(metadata) FROM blobs WHERE name = 'a'"));
    /* That code kept blob.db plain too (opening encrypts it again). */
    if (!on_pg)
        CHECK(test_db_decrypt());
    int hits = 0;
    each_file(data_dir, scan_file, &hits); /* the scan sees plaintext where there is some */
    CHECK(on_pg || hits > 0);

    s = open_store();
    CHECK(column_is_blob("SELECT typeof(metadata) FROM blobs WHERE name = 'a'"));
    CHECK(column_is_blob("SELECT typeof(props) FROM blobs WHERE name = 'b'"));
    CHECK(column_is_blob("SELECT typeof(copy) FROM blobs WHERE name = 'c'"));
    CHECK(column_is_blob("SELECT typeof(acl) FROM containers WHERE name = 'mcon'"));
    uint8_t *v = NULL;
    int n = 0;
    CHECK(db_exec("PRAGMA user_version", NULL, 0, &v, &n) && n == 1 && v[0] == '1');
    free(v);
    CHECK(db_exec("SELECT count(*) FROM blobs WHERE typeof(metadata) != 'blob' OR typeof(props)"
                  " != 'blob' OR typeof(copy) = 'text'",
                  NULL, 0, &v, &n) &&
          n == 1 && v[0] == '0');
    free(v);
    meta_check_all(s);
    /* Nothing of the plaintext is left behind in blob.db or its WAL. */
    hits = 0;
    each_file(data_dir, scan_file, &hits);
    CHECK(hits == 0);
    cf_blob_store_close(s);
    hits = 0;
    each_file(data_dir, scan_file, &hits);
    CHECK(hits == 0);
    /* Reopening does not migrate again (sealed values stay as they are). */
    uint8_t *before = NULL, *after = NULL;
    int nb = 0, na = 0;
    CHECK(db_exec("SELECT metadata FROM blobs WHERE name = 'a'", NULL, 0, &before, &nb));
    s = open_store();
    CHECK(db_exec("SELECT metadata FROM blobs WHERE name = 'a'", NULL, 0, &after, &na));
    CHECK(nb == na && memcmp(before, after, (size_t)na) == 0);
    free(before);
    free(after);
    meta_check_all(s);
    cf_blob_store_close(s);
    /* A database from a newer version is refused, not downgraded. */
    CHECK(db_exec("PRAGMA user_version = 99", NULL, 0, NULL, NULL));
    CHECK(!test_store_open(service_key, &s) && cf_error_code() == CF_ERR_DB);
    cf_error_clear();
}

/* ---- two front ends on one PostgreSQL ---- */

/* Changes heard by a listener, named (a NULL notice says only "maybe"). */
typedef struct {
    pthread_mutex_t lock;
    unsigned named;
    char last[CF_BLOB_ACCOUNT_MAX + 1];
} heard;

static void hear(void *ctx, const char *account)
{
    heard *h = ctx;
    if (!account)
        return;
    pthread_mutex_lock(&h->lock);
    h->named++;
    snprintf(h->last, sizeof h->last, "%s", account);
    pthread_mutex_unlock(&h->lock);
}

static unsigned heard_named(heard *h)
{
    pthread_mutex_lock(&h->lock);
    unsigned n = h->named;
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* Whether front end `s` has key1 == `want` (after a regeneration elsewhere). */
static bool has_key1(cf_blob_store *s, const cf_buf *want)
{
    cf_buf k;
    cf_buf_init_secret(&k, 128);
    bool ok =
        cf_blob_account_key(s, ACC, 1, &k) && cf_slice_eq(cf_buf_slice(&k), cf_buf_slice(want));
    cf_buf_free(&k);
    return ok;
}

/* Whether front end `s` opens container `name`'s metadata k = v. */
static bool reads_container(cf_blob_store *s, const char *name)
{
    cf_blob_container c = {0};
    bool ok = cf_blob_container_get(s, ACC, name, NULL, NOW, &c);
    const char *v = ok ? json_string_value(json_object_get(c.metadata, "k")) : NULL;
    ok = v && strcmp(v, "v") == 0;
    cf_blob_container_free(&c);
    return ok;
}

/* The notice takes milliseconds; ten seconds is a dead listener. */
#define NOTICE_WAIT_MS 10000

#define EVENTUALLY(cond)                                                       \
    ({                                                                         \
        bool got_ = false;                                                     \
        for (int ms_ = 0; !(got_ = (cond)) && ms_ < NOTICE_WAIT_MS; ms_ += 10) \
            usleep(10000);                                                     \
        got_;                                                                  \
    })

/* A reader on one front end over a blob of two blocks of `half` bytes each
 * (the second fetched lazily: inline up to 64 KiB, else in the extent
 * store), the blob then deleted on the other. */
static cf_blob_reader *reader_over_deleted(cf_blob_store *reader, cf_blob_store *writer,
                                           const char *name, const uint8_t *p, size_t half)
{
    CHECK(put_block(writer, "fec", name, "x1", p, half, NOW));
    CHECK(put_block(writer, "fec", name, "x2", p + half, half, NOW));
    cf_block_ref l[2] = {{CF_SLICE_LIT("x1"), CF_BLOCK_LATEST},
                         {CF_SLICE_LIT("x2"), CF_BLOCK_LATEST}};
    CHECK(cf_blob_put_block_list(writer, ACC, "fec", name, l, 2, NULL, NULL, NULL, NOW, NULL));
    cf_blob_info info;
    cf_blob_reader *r = NULL;
    CHECK(cf_blob_reader_open(reader, ACC, "fec", name, 0, CF_BLOB_WHOLE, NULL, NOW, &info, &r));
    cf_blob_info_free(&info);
    CHECK(cf_blob_delete(writer, ACC, "fec", name, NULL, NOW));
    return r;
}

static bool read_all(cf_blob_reader *r, uint8_t *buf, size_t cap, size_t *total)
{
    size_t got = 0;
    *total = 0;
    do {
        if (!cf_blob_reader_read(r, buf + *total, cap - *total, &got))
            return false;
        *total += got;
    } while (got && *total < cap);
    return true;
}

static void test_front_ends(void)
{
    reset_store();
    cf_blob_store *a = open_store(), *b = open_store();
    heard ha = {PTHREAD_MUTEX_INITIALIZER, 0, ""}, hb = {PTHREAD_MUTEX_INITIALIZER, 0, ""};
    CHECK(cf_blob_store_listen(a, hear, &ha) && cf_blob_store_listen(b, hear, &hb));
    CHECK(cf_blob_account_create(a, ACC, NOW, false));
    json_t *m = json_pack("{s:s}", "k", "v");
    CHECK(cf_blob_container_create(a, ACC, "fec", m, CF_ACCESS_PRIVATE, NOW, NULL));
    CHECK(reads_container(b, "fec")); /* b caches the account and its metadata key */

    /* A key regenerated on one front end: the other's cached key goes. */
    cf_buf k1;
    cf_buf_init_secret(&k1, 128);
    CHECK(cf_blob_account_key(b, ACC, 1, &k1));
    CHECK(cf_blob_account_regenerate_key(a, ACC, 1));
    CHECK(!has_key1(a, &k1));
    cf_buf_clear(&k1);
    CHECK(cf_blob_account_key(a, ACC, 1, &k1));
    CHECK(EVENTUALLY(has_key1(b, &k1)));
    CHECK(EVENTUALLY(heard_named(&hb) > 0) && strcmp(hb.last, ACC) == 0);
    CHECK(heard_named(&ha) == 0); /* its own notices: handled in the call */
    cf_buf_free(&k1);

    /* The account deleted and made again (a new data key): the other front
     * end's metadata key of the old one goes too. */
    CHECK(cf_blob_account_delete(a, ACC));
    CHECK(cf_blob_account_create(a, ACC, NOW, false));
    CHECK(cf_blob_container_create(a, ACC, "fec", m, CF_ACCESS_PRIVATE, NOW, NULL));
    CHECK(EVENTUALLY(reads_container(b, "fec")));
    json_decref(m);

    /* Conditional creates exclude each other across front ends. */
    uint8_t *p = make_body(5000, 21);
    cf_blob_writer *wa = NULL, *wb = NULL;
    cf_blob_cond none_star = {.if_none_match = "*"};
    CHECK(cf_blob_put_begin(a, ACC, "fec", "once", NULL, NULL, &none_star, NOW, &wa) &&
          cf_blob_writer_write(wa, cf_slice_of(p, 100)));
    CHECK(cf_blob_put_begin(b, ACC, "fec", "once", NULL, NULL, &none_star, NOW, &wb) &&
          cf_blob_writer_write(wb, cf_slice_of(p, 200)));
    CHECK(cf_blob_writer_commit(wb, NOW, NULL));
    CHECK(!cf_blob_writer_commit(wa, NOW, NULL) && cf_error_code() == CF_ERR_CONFLICT &&
          strcmp(cf_error_reason(), "BlobAlreadyExists") == 0);
    cf_blob_writer_free(wa);
    cf_blob_writer_free(wb);
    cf_blob_info info;
    CHECK(cf_blob_get(a, ACC, "fec", "once", NULL, NOW, &info) && info.size == 200);
    cf_blob_info_free(&info);

    /* A reader on b keeps its extents through a delete on a for the grace;
     * the sweep (on a) removes them after it. */
    unsigned rows = inline_rows(), removed = 9;
    cf_blob_reader *r = reader_over_deleted(b, a, "held", p, 2500);
    CHECK(cf_blob_store_sweep(a, CF_BLOB_EXTENT_GRACE, &removed) && removed == 0);
    CHECK(inline_rows() == rows + 2);
    uint8_t buf[5000];
    size_t total = 0;
    CHECK(read_all(r, buf, sizeof buf, &total) && total == 5000 && memcmp(buf, p, 5000) == 0);
    cf_blob_reader_free(r);
    CHECK(cf_blob_store_sweep(a, 0, &removed) && removed == 2);
    CHECK(inline_rows() == rows);
    /* The grace is the bound: swept at once, b's reader loses its second
     * extent (a's sweep cannot see b's readers). */
    r = reader_over_deleted(b, a, "lost", p, 2500);
    CHECK(cf_blob_store_sweep(a, 0, &removed) && removed == 2);
    CHECK(!read_all(r, buf, sizeof buf, &total) && cf_error_code() == CF_ERR_IO);
    cf_blob_reader_free(r);

    /* One leader at a time; the other takes over when it goes. */
    bool la = false, lb = false;
    CHECK(cf_blob_store_lead(a, &la) && cf_blob_store_lead(b, &lb) && la != lb);
    cf_blob_store *follower = la ? b : a;
    cf_blob_store_close(la ? a : b);
    /* Its session ends on the server a moment after the close. */
    CHECK(EVENTUALLY(cf_blob_store_lead(follower, &lb) && lb));
    cf_blob_store_close(follower);
    free(p);
}

/* Two front ends over one PostgreSQL and one RADOS namespace: a body above
 * the inline threshold written on one reads on the other; a reader on one
 * keeps stored extents through a delete on the other for the grace, and
 * the sweep removes them from RADOS after it; an orphan (a crash between
 * write and commit) is the leader's cleanup's, and only once old; a
 * deleted blob's extents waiting out the grace are not cleanup's. */
static void test_shared_extents(void)
{
    reset_store();
    cf_blob_store *a = open_store(), *b = open_store();
    CHECK(cf_blob_account_create(a, ACC, NOW, false));
    CHECK(cf_blob_container_create(a, ACC, "fec", NULL, CF_ACCESS_PRIVATE, NOW, NULL));
    const size_t half = 150000;
    uint8_t *p = make_body(2 * half, 33);
    CHECK(put_blob(a, "fec", "big", p, 2 * half, 65536));
    CHECK(check_full(b, "fec", "big", p, 2 * half));
    CHECK(extent_files() == 1 && inline_rows() == 0);

    unsigned removed = 9;
    cf_blob_reader *r = reader_over_deleted(b, a, "held", p, half);
    CHECK(extent_files() == 3);
    CHECK(cf_blob_store_sweep(a, CF_BLOB_EXTENT_GRACE, &removed) && removed == 0);
    uint8_t *buf = malloc(2 * half);
    size_t total = 0;
    CHECK(read_all(r, buf, 2 * half, &total) && total == 2 * half && memcmp(buf, p, total) == 0);
    cf_blob_reader_free(r);
    CHECK(cf_blob_store_sweep(a, 0, &removed) && removed == 2);
    CHECK(extent_files() == 1);
    /* Swept at once, b's reader loses the extents: an I/O error, never
     * another blob's bytes or a 404. */
    r = reader_over_deleted(b, a, "lost", p, half);
    CHECK(cf_blob_store_sweep(a, 0, &removed) && removed == 2);
    CHECK(!read_all(r, buf, 2 * half, &total) && cf_error_code() == CF_ERR_IO);
    cf_blob_reader_free(r);
    CHECK(extent_files() == 1);

    /* Cleanup: the leader walks the shared store, the other does not. */
    bool la = false;
    CHECK(cf_blob_store_lead(a, &la));
    cf_blob_store *leader = la ? a : b, *other = la ? b : a;
    CHECK(plant_extent("0022aaaaaaaaaaaaaaaaaaaaaaaaaaaa", CF_SLICE_LIT("orphan")));
    CHECK(cf_blob_delete(a, ACC, "fec", "big", NULL, NOW)); /* waits out its grace */
    CHECK(extent_files() == 2);
    int64_t later = (int64_t)time(NULL) + 10;
    CHECK(cf_blob_store_cleanup(other, later, &removed) && removed == 0);
    CHECK(cf_blob_store_cleanup(leader, NOW, &removed) && removed == 0); /* too recent */
    CHECK(cf_blob_store_cleanup(leader, later, &removed) && removed == 1);
    CHECK(extent_files() == 1); /* big's, for the sweep */
    CHECK(cf_blob_store_sweep(other, 0, &removed) && removed == 1);
    CHECK(extent_files() == 0);
    free(buf);
    free(p);
    cf_blob_store_close(a);
    cf_blob_store_close(b);
}

/* Two stores as front ends over one PostgreSQL (and one RADOS namespace). */
static void run_front_ends(void)
{
    RUN(test_front_ends);
    if (extents_spec)
        RUN(test_shared_extents);
}

/* The tests that need nothing of SQLite's files. */
static void run_neutral(void)
{
    reset_store();
    RUN(test_names);
    cf_blob_store *s = open_store();
    RUN_WITH(test_accounts, s);
    RUN_WITH(test_round_trips, s);
    RUN_WITH(test_blocks, s);
    RUN_WITH(test_containers, s);
    cf_blob_store_close(s);
    RUN(test_persistence_and_cleanup);
    RUN(test_key_sources);
    RUN(test_infrastructure);
    RUN(test_tamper);
    RUN(test_inline_sizes);
    RUN(test_inline_tamper);
    RUN(test_inline_sharing);
    RUN(test_concurrent_writers);
    RUN(test_meta_round_trips);
    RUN(test_meta_tamper);
}

int main(void)
{
    /* The servers' allocator: text freed with the wrong free crashes here. */
    cf_json_use_wiping_alloc();
    CHECK(cf_crypto_init());
    CHECK(cf_random_bytes(service_key, sizeof service_key));
    snprintf(data_dir, sizeof data_dir, "/tmp/coffer-test-blob-%d", (int)getpid());
    run_neutral();
    /* SQLite's own: its WAL scanned, its plaintext databases migrated. */
    RUN(test_no_plaintext_at_rest);
    RUN(test_meta_migration);
    pg_conninfo = getenv("COFFER_TEST_PG");
    if (pg_conninfo && *pg_conninfo) {
        fprintf(stderr, "-- again on PostgreSQL\n");
        on_pg = true;
        run_neutral();
        run_front_ends();
        reset_store();
    }
    /* The same with the extents in RADOS: on SQLite, and on PostgreSQL as
     * several front ends share them. */
    run_with_rados(run_neutral, run_front_ends);
    rm_tree(data_dir);
    TEST_DONE();
}
