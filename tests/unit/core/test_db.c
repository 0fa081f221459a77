/*
 * The stores' database connection (db.h) on SQLite, and on PostgreSQL when
 * COFFER_TEST_PG names a server (tests/system/db_postgres.sh starts one):
 * the statement cache (reuse by address, its bound), binding and reading
 * every type, step helpers, constraint failures, transactions (commit,
 * rollback, a failed statement inside), writers excluded across
 * connections, the schema version and migrations; on SQLite also the
 * pragmas and the group commit's numbering.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "test.h"

static char db_path[256];
static const char *pg_conninfo; /* NULL: SQLite only */
static bool on_pg;              /* the backend the current run uses */

static bool open_db(size_t cache, cf_db **db)
{
    const cf_db_config config = {
        .backend = on_pg ? CF_DB_POSTGRES : CF_DB_SQLITE,
        .path = db_path,
        .conninfo = pg_conninfo,
        .write_lock = 4242,
        .what = "the test database",
        .pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        .busy_timeout_ms = 1000,
        .stmt_cache = cache,
    };
    return cf_db_open(&config, db);
}

/* An empty database for the next test. */
static void reset_db(void)
{
    if (!on_pg) {
        test_remove_db(db_path);
        return;
    }
    cf_db *db = NULL;
    CHECK(open_db(2, &db) && cf_db_exec(db, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"));
    cf_db_close(db);
}

static int64_t count_rows(cf_db *db)
{
    static const char sql[] = "SELECT count(*) FROM t";
    int64_t n = -1;
    CHECK(cf_db_int(db, cf_db_stmt_get(db, sql), &n));
    return n;
}

static void test_statements(cf_db *db)
{
    static const char insert[] = "INSERT INTO t (k, v) VALUES (?1, ?2)";
    static const char find[] = "SELECT v FROM t WHERE k = ?1";
    CHECK(cf_db_exec(db, "CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL)"));
    cf_db_stmt *st = CF_DB_PREP(db, insert, "a", "one");
    CHECK(st && cf_db_run(db, st));
    CHECK(cf_db_changes(db) == 1);
    /* The same SQL address gives the same statement, reset and cleared. */
    cf_db_stmt *again = CF_DB_PREP(db, insert, "b", "two");
    CHECK(again == st && cf_db_run(db, again));
    bool found = false;
    CHECK(cf_db_exists(db, CF_DB_PREP(db, find, "a"), &found) && found);
    CHECK(cf_db_exists(db, CF_DB_PREP(db, find, "zz"), &found) && !found);
    CHECK(count_rows(db) == 2);
    /* A constraint failure is CF_DB_CONSTRAINT from a step, CF_ERR_DB when
     * raised, and the statement is given back. */
    st = CF_DB_PREP(db, insert, "a", "dup");
    CHECK(st && cf_db_step(st) == CF_DB_CONSTRAINT);
    cf_db_done(st);
    CHECK(!cf_db_run(db, CF_DB_PREP(db, insert, "a", "dup")) && cf_error_code() == CF_ERR_DB);
    /* NULL (a failed prepare) is a failure already raised. */
    CHECK(!cf_db_run(db, NULL));
    CHECK(cf_db_stmt_get(db, "SELECT nonsense FROM nowhere") == NULL &&
          cf_error_code() == CF_ERR_DB);
}

/* Every type in and out: integers at the edges, NULL, text with
 * non-ASCII, blobs with zero bytes (empty too), copies of short-lived
 * values, and ?N used twice. */
static void test_types(cf_db *db)
{
    static const char insert[] = "INSERT INTO typed (n, t, b, z) VALUES (?1, ?2, ?3, ?4)";
    static const char find[] = "SELECT n, t, b, z, n + 1 FROM typed WHERE n = ?1 OR n = ?1";
    CHECK(cf_db_exec(db, cf_db_sql(db, "CREATE TABLE typed (n INTEGER, t TEXT, b BLOB, z BLOB)",
                                   "CREATE TABLE typed (n BIGINT, t TEXT, b BYTEA, z BYTEA)")));
    const uint8_t bytes[] = {0, 1, 0xff, 0, 0x5c, 0x78};
    const int64_t values[] = {INT64_MIN + 1, -1, 0, INT64_MAX - 1};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        cf_db_stmt *st = cf_db_stmt_get(db, insert);
        CHECK(st != NULL);
        if (!st)
            return;
        cf_db_bind_int64(st, 1, values[i]);
        cf_db_bind_text(st, 2, "h\xc3\xa9llo 'quoted' ?2");
        char scratch[sizeof bytes];
        memcpy(scratch, bytes, sizeof bytes);
        CHECK(cf_db_bind_blob_copy(st, 3, scratch, sizeof scratch));
        memset(scratch, 0xAA, sizeof scratch); /* the copy stands */
        if (i % 2)
            cf_db_bind_blob(st, 4, NULL, 0);
        else
            cf_db_bind_null(st, 4);
        CHECK(cf_db_run(db, st));
    }
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        cf_db_stmt *st = cf_db_stmt_get(db, find);
        CHECK(st != NULL);
        if (!st)
            return;
        cf_db_bind_int64(st, 1, values[i]);
        CHECK(cf_db_step(st) == CF_DB_ROW);
        CHECK(cf_db_column_int64(st, 0) == values[i]);
        CHECK(cf_db_column_int64(st, 4) == values[i] + 1);
        CHECK(strcmp(cf_db_column_text(st, 1), "h\xc3\xa9llo 'quoted' ?2") == 0);
        CHECK(cf_db_column_is_blob(st, 2) && !cf_db_column_is_blob(st, 1));
        CHECK(cf_db_column_bytes(st, 2) == sizeof bytes &&
              memcmp(cf_db_column_blob(st, 2), bytes, sizeof bytes) == 0);
        if (i % 2)
            CHECK(!cf_db_column_is_null(st, 3) && cf_db_column_bytes(st, 3) == 0);
        else
            CHECK(cf_db_column_is_null(st, 3) && cf_db_column_bytes(st, 3) == 0);
        CHECK(cf_db_step(st) == CF_DB_DONE);
        cf_db_done(st);
    }
    /* Text that is not NUL-terminated, bound by copy. */
    static const char by_text[] = "SELECT count(*) FROM typed WHERE t = ?1";
    cf_db_stmt *st = cf_db_stmt_get(db, by_text);
    CHECK(st && cf_db_bind_text_copy(st, 1, "h\xc3\xa9llo 'quoted' ?2 and more", 18));
    int64_t n = 0;
    CHECK(cf_db_int(db, st, &n) && n == 4);
}

static void test_cache_bound(void)
{
    static const char a[] = "SELECT 1", b[] = "SELECT 2", c[] = "SELECT 3";
    cf_db *db = NULL;
    CHECK(open_db(2, &db));
    if (!db)
        return;
    CHECK(cf_db_stmt_get(db, a) && cf_db_stmt_get(db, b));
    CHECK(cf_db_stmt_get(db, c) == NULL && cf_error_code() == CF_ERR_INTERNAL);
    CHECK(cf_db_stmt_get(db, a) != NULL); /* cached ones still serve */
    cf_db_close(db);
}

static void test_transactions(cf_db *db)
{
    static const char insert[] = "INSERT INTO t (k, v) VALUES (?1, 'x')";
    int64_t before = count_rows(db);
    uint64_t commits = cf_db_commits(db);
    CHECK(cf_db_begin(db));
    CHECK(cf_db_run(db, CF_DB_PREP(db, insert, "t1")));
    CHECK(cf_db_commit(db, true));
    CHECK(count_rows(db) == before + 1);
    CHECK(cf_db_commits(db) == commits + 1); /* each commit is numbered */

    CHECK(cf_db_begin(db));
    CHECK(cf_db_run(db, CF_DB_PREP(db, insert, "t2")));
    CHECK(!cf_db_commit(db, false)); /* rolled back */
    CHECK(count_rows(db) == before + 1);
    CHECK(cf_db_commits(db) == commits + 1);

    /* A failure inside: the caller passes ok = false, nothing sticks. */
    CHECK(cf_db_begin(db));
    bool ok =
        cf_db_run(db, CF_DB_PREP(db, insert, "t3")) && cf_db_run(db, CF_DB_PREP(db, insert, "t3"));
    CHECK(!ok);
    CHECK(!cf_db_commit(db, ok));
    CHECK(count_rows(db) == before + 1);
    /* No transaction is left open: a new one begins. */
    CHECK(cf_db_begin(db) && cf_db_commit(db, true));

    CHECK(cf_db_read_begin(db));
    CHECK(count_rows(db) == before + 1);
    CHECK(cf_db_read_end(db, true));
    CHECK(!cf_db_read_end(db, false)); /* returns ok; nothing open to end */
}

static void test_user_version_and_durability(void)
{
    reset_db();
    cf_db *db = NULL;
    CHECK(open_db(16, &db));
    if (!db)
        return;
    int64_t v = -1;
    CHECK(cf_db_user_version(db, &v) && v == 0);
    CHECK(cf_db_set_user_version(db, 7));
    CHECK(cf_db_user_version(db, &v) && v == 7);
    /* Without group commit, durable() is immediate. */
    CHECK(cf_db_durable(db, cf_db_commits(db) + 5, true));
    test_statements(db);
    test_types(db);
    CHECK(cf_db_group_commit_start(db));
    test_transactions(db);
    /* Every commit so far is durable once waited for. */
    CHECK(cf_db_durable(db, cf_db_commits(db), true));
    /* A failed call keeps its own error. */
    cf_error_clear();
    CF_RAISE(CF_ERR_NOT_FOUND, "mine");
    CHECK(!cf_db_durable(db, cf_db_commits(db), false) && cf_error_code() == CF_ERR_NOT_FOUND);
    cf_db_close(db);

    /* Reopened: the version and the rows persist. */
    CHECK(open_db(16, &db));
    if (!db)
        return;
    CHECK(cf_db_user_version(db, &v) && v == 7);
    CHECK(count_rows(db) == 3);
    cf_db_close(db);
}

static bool count_step(void *ctx)
{
    ++*(int *)ctx;
    return true;
}

static bool failing_step(void *ctx)
{
    (void)ctx;
    CF_BAIL(CF_ERR_CRYPTO, "cannot re-seal");
}

/* The migration runner: the missing steps in order, once; a failed step
 * leaves nothing behind; a newer database is refused, never downgraded. */
static void test_migrations(void)
{
    reset_db();
    cf_db *db = NULL;
    CHECK(open_db(8, &db));
    if (!db)
        return;
    int calls = 0;
    const cf_db_step_def two[] = {
        {.sql = "CREATE TABLE m (a INTEGER)"},
        {.apply = count_step},
    };
    size_t applied = 99;
    const cf_db_schema s2 = {.steps = two,
                             .n = 2,
                             .then_sql = "CREATE TABLE IF NOT EXISTS later (x INTEGER)",
                             .ctx = &calls};
    CHECK(cf_db_migrate(db, &s2, &applied));
    CHECK(applied == 2 && calls == 1);
    int64_t v = -1;
    CHECK(cf_db_user_version(db, &v) && v == 2);
    /* Already current: nothing runs again. */
    const cf_db_schema s2_plain = {.steps = two, .n = 2, .ctx = &calls};
    CHECK(cf_db_migrate(db, &s2_plain, &applied) && applied == 0 && calls == 1);
    /* A third step that fails: the version stays, the table it made is gone. */
    const cf_db_step_def three[] = {two[0], two[1], {.sql = "CREATE TABLE n (b INTEGER)"}};
    const cf_db_step_def bad[] = {
        two[0], two[1], {.sql = "CREATE TABLE n2 (b INTEGER)"}, {.apply = failing_step}};
    const cf_db_schema s_bad = {.steps = bad, .n = 4, .ctx = &calls};
    const cf_db_schema s3 = {.steps = three, .n = 3, .ctx = &calls};
    CHECK(!cf_db_migrate(db, &s_bad, NULL) && cf_error_code() == CF_ERR_CRYPTO);
    CHECK(cf_db_user_version(db, &v) && v == 2);
    CHECK(cf_db_exec(db, "CREATE TABLE n2 (b INTEGER)")); /* it was rolled back */
    CHECK(cf_db_migrate(db, &s3, &applied) && applied == 1);
    CHECK(cf_db_user_version(db, &v) && v == 3);
    /* Older code against this database: refused. */
    CHECK(!cf_db_migrate(db, &s2_plain, NULL) && cf_error_code() == CF_ERR_DB);
    CHECK(cf_db_user_version(db, &v) && v == 3);
    cf_db_close(db);

    /* A new database starts at the current version: no step runs. */
    reset_db();
    CHECK(open_db(8, &db));
    if (!db)
        return;
    const cf_db_schema fresh = {.steps = bad,
                                .n = 4,
                                .then_sql = "CREATE TABLE IF NOT EXISTS m (a INTEGER)",
                                .marker_table = "m",
                                .ctx = &calls};
    CHECK(cf_db_migrate(db, &fresh, &applied) && applied == 0 && calls == 1);
    CHECK(cf_db_user_version(db, &v) && v == 4);
    cf_db_close(db);
    test_remove_db(db_path);
}

/* Writers exclude each other across connections (front ends): a second
 * connection's begin waits until the first commits. */
typedef struct {
    cf_db *db;
    struct timespec began;
    bool ok;
} second_writer;

static void *second_writer_run(void *arg)
{
    second_writer *w = arg;
    w->ok = cf_db_begin(w->db);
    clock_gettime(CLOCK_MONOTONIC, &w->began);
    w->ok = cf_db_commit(w->db, w->ok);
    return NULL;
}

static void test_writers_exclude(void)
{
    cf_db *a = NULL, *b = NULL;
    CHECK(open_db(4, &a) && open_db(4, &b));
    if (!a || !b) {
        cf_db_close(a);
        cf_db_close(b);
        return;
    }
    CHECK(cf_db_begin(a));
    second_writer w = {.db = b};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, second_writer_run, &w) == 0);
    struct timespec held = {0, 300 * 1000 * 1000};
    nanosleep(&held, NULL);
    struct timespec released;
    clock_gettime(CLOCK_MONOTONIC, &released);
    CHECK(cf_db_commit(a, true));
    pthread_join(t, NULL);
    CHECK(w.ok);
    /* b began only after a let go. */
    CHECK(w.began.tv_sec > released.tv_sec ||
          (w.began.tv_sec == released.tv_sec && w.began.tv_nsec >= released.tv_nsec));
    cf_db_close(a);
    cf_db_close(b);
}

static void test_open_failure(void)
{
    cf_db *db = NULL;
    const cf_db_config config = {
        .path = "/nonexistent-dir/x/test.db",
        .what = "the test database",
        .pragmas = "",
        .busy_timeout_ms = 1000,
        .stmt_cache = 4,
    };
    CHECK(!cf_db_open(&config, &db) && cf_error_code() == CF_ERR_DB);
    CHECK(strstr(cf_error_detail(), "the test database") != NULL);
    cf_db_close(NULL);
}

/* Change notices: delivered when the notifying transaction commits, never
 * when it rolls back; the listener first says "anything may have changed"
 * (NULL).  On SQLite there is no listener and notifying is a no-op. */
typedef struct {
    pthread_mutex_t mu;
    int gaps;      /* NULL payloads */
    char last[64]; /* the last payload */
    int notices;
} notice_log;

static void on_notice(void *ctx, const char *payload)
{
    notice_log *n = ctx;
    pthread_mutex_lock(&n->mu);
    if (!payload) {
        n->gaps++;
    } else {
        n->notices++;
        snprintf(n->last, sizeof n->last, "%s", payload);
    }
    pthread_mutex_unlock(&n->mu);
}

static int notices_of(notice_log *n, char *last)
{
    pthread_mutex_lock(&n->mu);
    int count = n->notices;
    snprintf(last, 64, "%s", n->last);
    pthread_mutex_unlock(&n->mu);
    return count;
}

static void test_notices(void)
{
    cf_db *db = NULL;
    CHECK(open_db(8, &db));
    if (!db)
        return;
    notice_log log = {.mu = PTHREAD_MUTEX_INITIALIZER};
    cf_db_listener *l = NULL;
    const cf_db_config config = {
        .backend = on_pg ? CF_DB_POSTGRES : CF_DB_SQLITE,
        .path = db_path,
        .conninfo = pg_conninfo,
        .what = "the test database",
    };
    CHECK(cf_db_listen(&config, "coffer_test", on_notice, &log, &l));
    cf_db_listener *bad = NULL;
    CHECK(!cf_db_listen(&config, "bad-name; DROP", on_notice, &log, &bad) || !on_pg);
    if (!on_pg) {
        CHECK(l == NULL && cf_db_notify(db, "coffer_test", "x"));
        cf_db_close(db);
        return;
    }
    CHECK(l != NULL);
    CHECK(cf_db_begin(db) && cf_db_notify(db, "coffer_test", "dropped"));
    CHECK(!cf_db_commit(db, false));
    CHECK(cf_db_begin(db) && cf_db_notify(db, "coffer_test", "account a1"));
    CHECK(cf_db_commit(db, true));
    char last[64] = "";
    int count = 0;
    for (int i = 0; i < 100 && (count = notices_of(&log, last)) < 1; i++)
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    CHECK(count == 1 && strcmp(last, "account a1") == 0);
    pthread_mutex_lock(&log.mu);
    CHECK(log.gaps >= 1);
    pthread_mutex_unlock(&log.mu);
    cf_db_listener_stop(l);
    cf_db_close(db);
}

/* One leader among connections; when it goes, another can lead. */
static void test_leader(void)
{
    cf_db *a = NULL, *b = NULL;
    CHECK(open_db(4, &a) && open_db(4, &b));
    bool la = false, lb = true;
    CHECK(a && cf_db_lead(a, 77, &la) && la);
    CHECK(a && cf_db_lead(a, 77, &la) && la); /* still */
    CHECK(b && cf_db_lead(b, 77, &lb) && lb == !on_pg);
    cf_db_close(a);
    /* The server lets go once it has seen the connection end. */
    bool ok = b != NULL;
    lb = false;
    for (int i = 0; ok && !lb && i < 100; i++) {
        ok = cf_db_lead(b, 77, &lb);
        if (!lb)
            nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    CHECK(ok && lb);
    cf_db_close(b);
}

/* PostgreSQL: a server that cannot be reached is CF_ERR_UNAVAILABLE. */
static void test_pg_unreachable(void)
{
    cf_db *db = NULL;
    const cf_db_config config = {
        .backend = CF_DB_POSTGRES,
        .conninfo = "host=127.0.0.1 port=1 user=nobody connect_timeout=2",
        .what = "the test database",
        .stmt_cache = 4,
    };
    CHECK(!cf_db_open(&config, &db) && cf_error_code() == CF_ERR_UNAVAILABLE);
    CHECK(strstr(cf_error_detail(), "the test database") != NULL);
}

int main(void)
{
    snprintf(db_path, sizeof db_path, "/tmp/coffer-test-sqlite-db-%d.db", (int)getpid());
    test_remove_db(db_path);
    RUN(test_user_version_and_durability);
    RUN(test_cache_bound);
    RUN(test_migrations);
    RUN(test_writers_exclude);
    RUN(test_notices);
    RUN(test_leader);
    RUN(test_open_failure);
    test_remove_db(db_path);
    pg_conninfo = getenv("COFFER_TEST_PG");
    if (pg_conninfo && *pg_conninfo) {
        on_pg = true;
        RUN(test_user_version_and_durability);
        RUN(test_cache_bound);
        RUN(test_migrations);
        RUN(test_writers_exclude);
        RUN(test_notices);
        RUN(test_leader);
    }
    RUN(test_pg_unreachable);
    TEST_DONE();
}
