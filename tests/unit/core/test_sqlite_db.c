/*
 * The shared SQLite connection: pragmas applied at open, the statement
 * cache (reuse by address, its bound), step helpers, transactions (commit,
 * rollback, a failed statement inside), user_version, and the group
 * commit's numbering.
 */
#include <stdlib.h>
#include <unistd.h>

#include "sqlite_db.h"
#include "test.h"

static char db_path[256];

static bool open_db(size_t cache, cf_db **db)
{
    const cf_db_config config = {
        .path = db_path,
        .what = "the test database",
        .pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        .busy_timeout_ms = 1000,
        .stmt_cache = cache,
    };
    return cf_db_open(&config, db);
}

static int64_t count_rows(cf_db *db)
{
    static const char sql[] = "SELECT count(*) FROM t";
    int64_t n = -1;
    CHECK(cf_db_int(db, cf_db_stmt(db, sql), &n));
    return n;
}

static void test_statements(cf_db *db)
{
    static const char insert[] = "INSERT INTO t (k, v) VALUES (?1, ?2)";
    static const char find[] = "SELECT v FROM t WHERE k = ?1";
    CHECK(cf_db_exec(db, "CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL)"));
    sqlite3_stmt *st = CF_DB_PREP(db, insert, "a", "one");
    CHECK(st && cf_db_run(db, st));
    CHECK(cf_db_changes(db) == 1 && cf_db_last_rowid(db) == 1);
    /* The same SQL address gives the same statement, reset and cleared. */
    sqlite3_stmt *again = CF_DB_PREP(db, insert, "b", "two");
    CHECK(again == st && cf_db_run(db, again));
    bool found = false;
    CHECK(cf_db_exists(db, CF_DB_PREP(db, find, "a"), &found) && found);
    CHECK(cf_db_exists(db, CF_DB_PREP(db, find, "zz"), &found) && !found);
    CHECK(count_rows(db) == 2);
    /* A constraint failure is CF_ERR_DB, and the statement is given back. */
    CHECK(!cf_db_run(db, CF_DB_PREP(db, insert, "a", "dup")) && cf_error_code() == CF_ERR_DB);
    /* NULL (a failed prepare) is a failure already raised. */
    CHECK(!cf_db_run(db, NULL));
    CHECK(cf_db_stmt(db, "SELECT nonsense FROM nowhere") == NULL && cf_error_code() == CF_ERR_DB);
}

static void test_cache_bound(void)
{
    static const char a[] = "SELECT 1", b[] = "SELECT 2", c[] = "SELECT 3";
    cf_db *db = NULL;
    CHECK(open_db(2, &db));
    if (!db)
        return;
    CHECK(cf_db_stmt(db, a) && cf_db_stmt(db, b));
    CHECK(cf_db_stmt(db, c) == NULL && cf_error_code() == CF_ERR_INTERNAL);
    CHECK(cf_db_stmt(db, a) != NULL); /* cached ones still serve */
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
    cf_db *db = NULL;
    CHECK(open_db(8, &db));
    if (!db)
        return;
    int64_t v = -1;
    CHECK(cf_db_user_version(db, &v) && v == 0);
    CHECK(cf_db_set_user_version(db, 7));
    CHECK(cf_db_user_version(db, &v) && v == 7);
    /* Without group commit, durable() is immediate. */
    CHECK(cf_db_durable(db, cf_db_commits(db) + 5, true));
    test_statements(db);
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
    CHECK(open_db(8, &db));
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
    test_remove_db(db_path);
    cf_db *db = NULL;
    CHECK(open_db(8, &db));
    if (!db)
        return;
    int calls = 0;
    const cf_db_step two[] = {
        {.sql = "CREATE TABLE m (a INTEGER)"},
        {.apply = count_step},
    };
    size_t applied = 99;
    CHECK(cf_db_migrate(db, two, 2, "CREATE TABLE IF NOT EXISTS later (x)", &calls, &applied));
    CHECK(applied == 2 && calls == 1);
    int64_t v = -1;
    CHECK(cf_db_user_version(db, &v) && v == 2);
    /* Already current: nothing runs again. */
    CHECK(cf_db_migrate(db, two, 2, NULL, &calls, &applied) && applied == 0 && calls == 1);
    /* A third step that fails: the version stays, the table it made is gone. */
    const cf_db_step three[] = {two[0], two[1], {.sql = "CREATE TABLE n (b)"}};
    const cf_db_step bad[] = {
        two[0], two[1], {.sql = "CREATE TABLE n2 (b)"}, {.apply = failing_step}};
    CHECK(!cf_db_migrate(db, bad, 4, NULL, &calls, NULL) && cf_error_code() == CF_ERR_CRYPTO);
    CHECK(cf_db_user_version(db, &v) && v == 2);
    CHECK(cf_db_exec(db, "CREATE TABLE n2 (b)")); /* it was rolled back */
    CHECK(cf_db_migrate(db, three, 3, NULL, &calls, &applied) && applied == 1);
    CHECK(cf_db_user_version(db, &v) && v == 3);
    /* Older code against this database: refused. */
    CHECK(!cf_db_migrate(db, two, 2, NULL, &calls, NULL) && cf_error_code() == CF_ERR_DB);
    CHECK(cf_db_user_version(db, &v) && v == 3);
    cf_db_close(db);
    test_remove_db(db_path);
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

int main(void)
{
    snprintf(db_path, sizeof db_path, "/tmp/coffer-test-sqlite-db-%d.db", (int)getpid());
    test_remove_db(db_path);
    RUN(test_user_version_and_durability);
    RUN(test_cache_bound);
    RUN(test_migrations);
    RUN(test_open_failure);
    test_remove_db(db_path);
    TEST_DONE();
}
