/* The vault store: versions, latest, paging, soft delete, recover, purge,
 * restore conflicts, policies, principals, what the access cache may
 * answer after a change; and persistence across reopen. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "store.h"
#include "tde_files.h"
#include "tde_store.h"
#include "test.h"

static char db_path[256];
/* The vault's data key stands behind the store's encryption. */
static uint8_t master[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                             17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
#define MASTER cf_slice_of(master, sizeof master)

static void make_object(cf_object *o, const char *name, const char *version, int64_t created)
{
    cf_object_init(o);
    snprintf(o->kind, sizeof o->kind, "key");
    snprintf(o->name, sizeof o->name, "%s", name);
    snprintf(o->version, sizeof o->version, "%s", version);
    o->created = o->updated = created;
    o->enabled = true;
    o->props = json_pack("{s:s}", "kty", "RSA");
    CHECK(cf_buf_append_str(&o->sealed, "sealed-bytes"));
}

static bool count_cb(void *ctx, const cf_object *obj)
{
    (void)obj;
    (*(int *)ctx)++;
    return true;
}

static void test_versions_and_latest(cf_store *s)
{
    cf_object a, b, got;
    make_object(&a, "Alpha", "00000000000000000000000000000001", 100);
    make_object(&b, "alpha", "00000000000000000000000000000002", 200);
    CHECK(cf_store_object_insert(s, &a));
    CHECK(cf_store_object_insert(s, &b)); /* names are case-insensitive */
    cf_object_init(&got);
    CHECK(cf_store_object_get(s, "key", "ALPHA", NULL, false, &got));
    CHECK_STR(got.version, "00000000000000000000000000000002");
    CHECK_STR(got.name, "Alpha"); /* first spelling kept */
    CHECK(cf_store_object_get(s, "key", "alpha", "00000000000000000000000000000001", false, &got));
    CHECK(got.created == 100 && got.sealed.len == 12);
    CHECK(!cf_store_object_get(s, "key", "alpha", "ffffffffffffffffffffffffffffffff", false, &got));
    CHECK(cf_error_code() == CF_ERR_NOT_FOUND);
    CHECK(!cf_store_object_get(s, "secret", "alpha", NULL, false, &got));
    /* duplicate version id is refused, not silently replaced */
    CHECK(!cf_store_object_insert(s, &a));
    cf_object_free(&a);
    cf_object_free(&b);
    cf_object_free(&got);
}

static void test_paging(cf_store *s)
{
    char name[32], version[33];
    for (int i = 0; i < 7; i++) {
        cf_object o;
        snprintf(name, sizeof name, "page-%02d", i);
        snprintf(version, sizeof version, "%032d", i + 10);
        make_object(&o, name, version, 300 + i);
        CHECK(cf_store_object_insert(s, &o));
        cf_object_free(&o);
    }
    char marker[128] = "", next[128];
    int total = 0, pages = 0;
    do {
        int n = 0;
        CHECK(cf_store_object_list(s, "key", false, marker, 3, count_cb, &n, next, sizeof next));
        CHECK(n <= 3);
        total += n;
        pages++;
        snprintf(marker, sizeof marker, "%s", next);
    } while (next[0] && pages < 10);
    CHECK(total == 8); /* 7 pages + alpha */
    CHECK(pages == 3);
    int versions = 0;
    CHECK(cf_store_object_versions(s, "key", "alpha", "", 25, count_cb, &versions, next,
                                   sizeof next));
    CHECK(versions == 2 && next[0] == 0);
}

static void test_delete_recover_purge(cf_store *s)
{
    cf_object o, got;
    cf_object_init(&got);
    CHECK(cf_store_object_delete(s, "key", "page-00", 1000, 2000));
    CHECK(!cf_store_object_get(s, "key", "page-00", NULL, false, &got));
    CHECK(cf_store_object_get(s, "key", "page-00", NULL, true, &got));
    CHECK(got.deleted_at == 1000 && got.purge_at == 2000);
    /* a deleted name cannot take new versions */
    make_object(&o, "page-00", "0000000000000000000000000000ffff", 1);
    CHECK(!cf_store_object_insert(s, &o));
    CHECK(cf_error_code() == CF_ERR_DELETED);
    CHECK(!cf_store_object_delete(s, "key", "page-00", 1, 2)); /* already deleted */
    CHECK(cf_store_object_recover(s, "key", "page-00"));
    CHECK(!cf_store_object_recover(s, "key", "page-00"));
    CHECK(!cf_store_object_purge(s, "key", "page-00")); /* only deleted names purge */
    CHECK(cf_store_object_delete(s, "key", "page-00", 1000, 2000));
    CHECK(cf_store_object_purge(s, "key", "page-00"));
    CHECK(!cf_store_object_get(s, "key", "page-00", NULL, true, &got));
    /* the name is free again */
    CHECK(cf_store_object_insert(s, &o));
    /* expiry sweep */
    CHECK(cf_store_object_delete(s, "key", "page-01", 1000, 1500));
    unsigned purged = 0;
    CHECK(cf_store_purge_expired(s, 1499, &purged, NULL) && purged == 0);
    CHECK(cf_store_purge_expired(s, 1500, &purged, NULL) && purged == 1);
    cf_object_free(&o);
    cf_object_free(&got);
}

static void test_restore_conflict(cf_store *s)
{
    cf_object v[2];
    make_object(&v[0], "restored", "000000000000000000000000000000a1", 1);
    make_object(&v[1], "restored", "000000000000000000000000000000a2", 2);
    CHECK(cf_store_object_restore(s, v, 2));
    CHECK(!cf_store_object_restore(s, v, 2));
    CHECK(cf_error_code() == CF_ERR_CONFLICT);
    cf_object_free(&v[0]);
    cf_object_free(&v[1]);
}

static void test_update_and_policy(cf_store *s)
{
    cf_object got;
    cf_object_init(&got);
    CHECK(cf_store_object_get(s, "key", "alpha", NULL, false, &got));
    got.enabled = false;
    got.exp = 5000;
    got.tags = json_pack("{s:s}", "env", "test");
    CHECK(cf_store_object_update(s, &got));
    cf_object again;
    cf_object_init(&again);
    CHECK(cf_store_object_get(s, "key", "alpha", NULL, false, &again));
    CHECK(!again.enabled && again.exp == 5000);
    CHECK_STR(json_string_value(json_object_get(again.tags, "env")), "test");
    json_t *policy = NULL;
    CHECK(cf_store_policy_get(s, "key", "alpha", &policy) && policy == NULL);
    json_t *p = json_pack("{s:[]}", "lifetimeActions");
    CHECK(cf_store_policy_put(s, "key", "alpha", p));
    CHECK(cf_store_policy_get(s, "key", "alpha", &policy) && json_is_object(policy));
    json_decref(policy);
    json_decref(p);
    CHECK(!cf_store_policy_put(s, "key", "nope", NULL));
    cf_object_free(&got);
    cf_object_free(&again);
}

static bool cred_cb(void *ctx, cf_slice salt, cf_slice hash, int64_t expires)
{
    (void)expires;
    CHECK(salt.len == 4 && hash.len == 5);
    (*(int *)ctx)++;
    return true;
}

static void test_principals(cf_store *s)
{
    cf_principal p = {.object_id = "oid-1", .kind = "sp", .name = "admin", .client_id = "cid-1"};
    CHECK(cf_store_principal_add(s, &p));
    CHECK(!cf_store_principal_add(s, &p));
    cf_principal got;
    CHECK(cf_store_principal_by_client(s, "cid-1", &got) && strcmp(got.object_id, "oid-1") == 0);
    CHECK(cf_store_principal_by_oid(s, "oid-1", &got) && strcmp(got.name, "admin") == 0);
    CHECK(!cf_store_principal_by_oid(s, "oid-2", &got) && cf_error_code() == CF_ERR_NOT_FOUND);
    CHECK(cf_store_credential_add(s, "oid-1", CF_SLICE_LIT("salt"), CF_SLICE_LIT("hash!"), 0, 5,
                                  NULL));
    int n = 0;
    CHECK(cf_store_credential_each(s, "oid-1", cred_cb, &n) && n == 1);
}

static void test_reopen(void)
{
    cf_store *s;
    CHECK(cf_store_open(CF_DB_SQLITE, db_path, MASTER, &s));
    cf_object got;
    cf_object_init(&got);
    CHECK(cf_store_object_get(s, "key", "restored", NULL, false, &got));
    CHECK_STR(got.version, "000000000000000000000000000000a2");
    cf_buf v;
    cf_buf_init(&v, 64);
    CHECK(cf_store_meta_get(s, "m", &v) && v.len == 3);
    cf_buf_free(&v);
    cf_object_free(&got);
    cf_store_close(s);
}

/* How many times `marker` occurs in the file at `path` (0 if absent). */
static int count_in_file(const char *path, const char *marker)
{
    cf_buf data;
    cf_buf_init(&data, 64u << 20);
    int hits = 0;
    if (cf_read_file(path, 64u << 20, &data))
        for (size_t i = 0; i + strlen(marker) <= data.len; i++)
            hits += memcmp(data.data + i, marker, strlen(marker)) == 0;
    cf_buf_free(&data);
    return hits;
}

/* The store file is encrypted: no name in it, no other key opens it, and a
 * plain store an older version left is converted when opened. */
static void test_encrypted_at_rest(void)
{
    CHECK(count_in_file(db_path, "restored") == 0);
    CHECK(count_in_file(db_path, "SQLite format 3") == 0);
    uint8_t other[32] = {0};
    cf_store *s = NULL;
    CHECK(!cf_store_open(CF_DB_SQLITE, db_path, cf_slice_of(other, 32), &s));
    CHECK(strstr(cf_error_detail(), "protected by") != NULL);
    /* A plain copy, put in the store's place, is encrypted on open. */
    char plain[300];
    snprintf(plain, sizeof plain, "%s.plain", db_path);
    cf_tde_store tde;
    CHECK(cf_tde_store_prepare(db_path, MASTER, false, &tde));
    CHECK(cf_tde_decrypt_file(db_path, &(cf_tde_keys){.protector = tde.protector}, plain));
    cf_tde_store_release(&tde);
    CHECK(count_in_file(plain, "restored") > 0);
    CHECK(rename(plain, db_path) == 0);
    bool is_plain = false;
    CHECK(cf_tde_file_is_plain(db_path, &is_plain) && is_plain);
    RUN(test_reopen);
    CHECK(cf_tde_file_is_plain(db_path, &is_plain) && !is_plain);
    CHECK(count_in_file(db_path, "restored") == 0);
}

static size_t assignments_of(cf_store *s, const char *oid)
{
    cf_role_assignment rows[16];
    size_t n = 99;
    CHECK(cf_store_assignment_list(s, oid, rows, 16, &n));
    return n;
}

/* Every request reads its caller's principal and assignments, which the
 * store keeps in memory (access_cache.h): each change must show at once. */
static void test_access_changes_show_at_once(cf_store *s)
{
    cf_principal p = {.object_id = "oid-c", .kind = "sp", .name = "app", .client_id = "cid-c"};
    CHECK(cf_store_principal_add(s, &p));
    cf_principal got;
    CHECK(cf_store_principal_by_oid(s, "oid-c", &got) && strcmp(got.name, "app") == 0);
    CHECK(assignments_of(s, "oid-c") == 0);
    CHECK(assignments_of(s, "oid-c") == 0); /* now from memory */
    cf_role_assignment a = {
        .name = "ra-1", .scope = "/keys", .role_id = "r", .principal_id = "oid-c"};
    CHECK(cf_store_assignment_put(s, &a));
    CHECK(assignments_of(s, "oid-c") == 1);
    cf_role_assignment b = a;
    snprintf(b.name, sizeof b.name, "ra-2");
    CHECK(cf_store_assignment_put(s, &b));
    cf_role_assignment rows[1];
    size_t n = 0;
    /* A list longer than the caller's room is cut, as from the database. */
    CHECK(cf_store_assignment_list(s, "oid-c", rows, 1, &n) && n == 1);
    CHECK(assignments_of(s, "oid-c") == 2);
    CHECK(cf_store_assignment_delete(s, "ra-1"));
    CHECK(assignments_of(s, "oid-c") == 1);
    CHECK(cf_store_principal_delete(s, "oid-c"));
    CHECK(!cf_store_principal_by_oid(s, "oid-c", &got) && cf_error_code() == CF_ERR_NOT_FOUND);
    CHECK(assignments_of(s, "oid-c") == 0);
}

int main(void)
{
    snprintf(db_path, sizeof db_path, "/tmp/coffer-test-store-%d.db", (int)getpid());
    cf_store *s;
    CHECK(cf_store_open(CF_DB_SQLITE, db_path, MASTER, &s));
    CHECK(cf_store_meta_put(s, "m", CF_SLICE_LIT("abc")));
    RUN_WITH(test_versions_and_latest, s);
    RUN_WITH(test_paging, s);
    RUN_WITH(test_delete_recover_purge, s);
    RUN_WITH(test_restore_conflict, s);
    RUN_WITH(test_update_and_policy, s);
    RUN_WITH(test_principals, s);
    RUN_WITH(test_access_changes_show_at_once, s);
    cf_store_close(s);
    RUN(test_reopen);
    RUN(test_encrypted_at_rest);
    test_remove_db(db_path);
    TEST_DONE();
}
