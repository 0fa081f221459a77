/*
 * The coffer VFS (src/sqlite/coffer_tde.h) through SQLite itself: round
 * trips in rollback-journal and WAL mode, no plaintext in the database,
 * journal, WAL or temporary files, refusals (wrong or missing protector,
 * plain SQLite), tampered, swapped and truncated pages, a journal from
 * another database, crashes (a child that exits mid-transaction),
 * protector rotation and rekey.
 */
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coffer_tde.h"
#include "crypto.h"
#include "test.h"

#define MARKER "MARKER-7f3a-plaintext"

static char dir[256], key1[300], key2[300], db_path[300];

static void write_key(const char *path)
{
    uint8_t key[32];
    CHECK(cf_random_bytes(key, sizeof key));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, key, sizeof key) == (ssize_t)sizeof key);
    close(fd);
}

static void remove_all(const char *path)
{
    char side[400];
    test_remove_db(path);
    snprintf(side, sizeof side, "%s-journal", path);
    remove(side);
}

static int open_db(const char *path, const char *key, sqlite3 **db)
{
    char uri[1024];
    if (key)
        snprintf(uri, sizeof uri, "file:%s?vfs=coffer&protector=local:%s", path, key);
    else
        snprintf(uri, sizeof uri, "file:%s?vfs=coffer", path);
    int rc = sqlite3_open_v2(uri, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                             NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

static int exec(sqlite3 *db, const char *sql)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        fprintf(stderr, "  (%s: %s)\n", sql, sqlite3_errmsg(db));
    return rc;
}

static sqlite3_int64 scalar(sqlite3 *db, const char *sql, int *rc_out)
{
    sqlite3_stmt *st = NULL;
    sqlite3_int64 v = -1;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            v = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    if (rc_out)
        *rc_out = rc;
    return v;
}

static bool integrity_ok(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
              sqlite3_step(st) == SQLITE_ROW &&
              strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
    sqlite3_finalize(st);
    return ok;
}

/* Whether a file holds `needle` (a missing file holds nothing). */
static bool file_holds(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return memmem(buf, n, needle, strlen(needle)) != NULL;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void fill(sqlite3 *db, int rows)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT);"
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d) "
             "INSERT INTO t(v) SELECT '" MARKER "-' || i || printf('%%.200c', 'x') FROM c",
             rows);
    CHECK(exec(db, sql) == SQLITE_OK);
}

static void test_round_trip(const char *mode)
{
    remove_all(db_path);
    sqlite3 *db = NULL;
    CHECK(open_db(db_path, key1, &db) == SQLITE_OK);
    char sql[128], side[400];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s", mode);
    CHECK(exec(db, sql) == SQLITE_OK);
    fill(db, 3000);
    CHECK(exec(db, "BEGIN; DELETE FROM t WHERE id % 3 = 0; ROLLBACK") == SQLITE_OK);
    CHECK(exec(db, "UPDATE t SET v = v || '-updated' WHERE id % 7 = 0") == SQLITE_OK);
    /* a transaction large enough to spill: the journal or WAL holds pages */
    CHECK(exec(db, "PRAGMA cache_size=20; BEGIN; UPDATE t SET v = v || '!'") == SQLITE_OK);
    snprintf(side, sizeof side, "%s-%s", db_path, strcmp(mode, "wal") == 0 ? "wal" : "journal");
    CHECK(file_size(side) > 100000);
    CHECK(!file_holds(side, MARKER));
    CHECK(exec(db, "COMMIT") == SQLITE_OK);
    CHECK(!file_holds(db_path, MARKER));
    CHECK(!file_holds(side, MARKER));
    sqlite3_close(db);

    CHECK(open_db(db_path, key1, &db) == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM t", NULL) == 3000);
    CHECK(scalar(db, "SELECT count(*) FROM t WHERE v LIKE '%-updated!'", NULL) == 428);
    CHECK(integrity_ok(db));
    /* temporary files: a sort that spills, a temporary table */
    CHECK(exec(db, "PRAGMA temp_store=FILE; PRAGMA cache_size=10") == SQLITE_OK);
    CHECK(scalar(db, "SELECT sum(length(v)) FROM (SELECT v FROM t ORDER BY random())", NULL) >
          600000);
    CHECK(exec(db, "CREATE TEMP TABLE tt AS SELECT * FROM t") == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM tt", NULL) == 3000);
    CHECK(exec(db, "VACUUM") == SQLITE_OK);
    CHECK(integrity_ok(db));
    coffer_tde_status st;
    CHECK(sqlite3_file_control(db, "main", COFFER_TDE_FCNTL_STATUS, &st) == SQLITE_OK);
    CHECK(st.page_size == 4096 && st.current_generation == 1);
    CHECK(strncmp(st.protector, "local:", 6) == 0);
    sqlite3_close(db);
    CHECK(!file_holds(db_path, MARKER));
}

static void test_refusals(void)
{
    sqlite3 *db = NULL;
    CHECK(open_db(db_path, key2, &db) == SQLITE_AUTH);
    CHECK(strstr(coffer_tde_last_error(), "protected by local:") != NULL);
    CHECK(open_db(db_path, NULL, &db) == SQLITE_AUTH);
    CHECK(strstr(coffer_tde_last_error(), "protector=") != NULL);
    /* plain SQLite sees no database */
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    int rc = SQLITE_OK;
    scalar(db, "SELECT count(*) FROM t", &rc);
    CHECK(rc == SQLITE_NOTADB);
    sqlite3_close(db);
    /* the coffer VFS refuses a plain database */
    char plain[400];
    snprintf(plain, sizeof plain, "%s/plain.db", dir);
    remove(plain);
    CHECK(sqlite3_open(plain, &db) == SQLITE_OK && exec(db, "CREATE TABLE p(x)") == SQLITE_OK);
    sqlite3_close(db);
    CHECK(open_db(plain, key1, &db) == SQLITE_NOTADB);
    /* a key file others may read */
    chmod(key2, 0644);
    CHECK(open_db(db_path, key2, &db) == SQLITE_AUTH);
    CHECK(strstr(coffer_tde_last_error(), "chmod 600") != NULL);
    chmod(key2, 0600);
}

/* Edits the database file underneath, then reads every row. */
static int read_after(void (*edit)(int fd))
{
    char copy[400];
    snprintf(copy, sizeof copy, "%s/edited.db", dir);
    remove_all(copy);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp %s %s", db_path, copy);
    CHECK(system(cmd) == 0);
    int fd = open(copy, O_RDWR);
    CHECK(fd >= 0);
    edit(fd);
    close(fd);
    sqlite3 *db = NULL;
    int rc = open_db(copy, key1, &db);
    if (rc == SQLITE_OK) {
        scalar(db, "SELECT sum(length(v)) FROM t", &rc);
        sqlite3_close(db);
    }
    return rc;
}

#define PAGE(n) (8192 + ((off_t)(n)-1) * 4096)

static void flip_page3(int fd)
{
    uint8_t b = 0;
    CHECK(pread(fd, &b, 1, PAGE(3) + 1000) == 1);
    b ^= 0x01;
    CHECK(pwrite(fd, &b, 1, PAGE(3) + 1000) == 1);
}

static void swap_pages(int fd)
{
    static uint8_t a[4096], b[4096];
    CHECK(pread(fd, a, 4096, PAGE(3)) == 4096 && pread(fd, b, 4096, PAGE(4)) == 4096);
    CHECK(pwrite(fd, b, 4096, PAGE(3)) == 4096 && pwrite(fd, a, 4096, PAGE(4)) == 4096);
}

static void truncate_pages(int fd)
{
    CHECK(ftruncate(fd, file_size(db_path) - 3 * 4096) == 0);
}

static void zero_page3(int fd)
{
    static uint8_t z[4096];
    CHECK(pwrite(fd, z, 4096, PAGE(3)) == 4096);
}

static void flip_at(int fd, off_t at)
{
    uint8_t b = 0;
    CHECK(pread(fd, &b, 1, at) == 1);
    b ^= 0x01;
    CHECK(pwrite(fd, &b, 1, at) == 1);
}

/* The header's two slots hold the same header: one damaged slot is
 * survived, two are not. */
static void flip_one_slot(int fd)
{
    flip_at(fd, 30);
}

static void flip_both_slots(int fd)
{
    flip_at(fd, 30);
    flip_at(fd, 4096 + 2000);
}

static void no_edit(int fd)
{
    (void)fd;
}

static void test_tampering(void)
{
    CHECK(read_after(no_edit) == SQLITE_OK);
    CHECK(read_after(flip_page3) == SQLITE_CORRUPT);
    CHECK(strstr(coffer_tde_last_error(), "page 3 failed its integrity check") != NULL);
    CHECK(read_after(swap_pages) == SQLITE_CORRUPT);
    CHECK(read_after(zero_page3) == SQLITE_CORRUPT);
    CHECK(read_after(truncate_pages) == SQLITE_CORRUPT);
    CHECK(read_after(flip_one_slot) == SQLITE_OK);
    int rc = read_after(flip_both_slots);
    CHECK(rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT);
}

/* A child that writes and exits without committing: SQLite's recovery
 * through the VFS must restore the last committed state. */
static void crash_mid_transaction(const char *path, const char *mode)
{
    pid_t pid = fork();
    if (pid == 0) {
        sqlite3 *db = NULL;
        char sql[128];
        snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s; PRAGMA cache_size=10", mode);
        if (open_db(path, key1, &db) != SQLITE_OK || exec(db, sql) != SQLITE_OK ||
            exec(db, "INSERT INTO t(v) VALUES ('committed-before-crash')") != SQLITE_OK ||
            exec(db, "BEGIN; UPDATE t SET v = 'lost'; DELETE FROM t WHERE id % 2 = 0") != SQLITE_OK)
            _exit(1);
        _exit(0); /* no COMMIT, no close: as if killed */
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_crash_recovery(const char *mode)
{
    remove_all(db_path);
    sqlite3 *db = NULL;
    CHECK(open_db(db_path, key1, &db) == SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s", mode);
    CHECK(exec(db, sql) == SQLITE_OK);
    fill(db, 2000);
    sqlite3_close(db);
    crash_mid_transaction(db_path, mode);
    char side[400];
    snprintf(side, sizeof side, "%s-%s", db_path, strcmp(mode, "wal") == 0 ? "wal" : "journal");
    CHECK(file_size(side) > 0); /* a hot journal, or a WAL with a partial transaction */
    CHECK(!file_holds(side, MARKER) && !file_holds(side, "lost"));
    CHECK(open_db(db_path, key1, &db) == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM t", NULL) == 2001);
    CHECK(scalar(db, "SELECT count(*) FROM t WHERE v = 'lost'", NULL) == 0);
    CHECK(scalar(db, "SELECT count(*) FROM t WHERE v = 'committed-before-crash'", NULL) == 1);
    CHECK(integrity_ok(db));
    sqlite3_close(db);
}

/* A hot journal from another database (same key, other salt) is not
 * replayed: its first record reads as zeros, SQLite's checksum ends the
 * replay there (as for a record a power loss tore), and the log says why. */
static void test_foreign_journal(void)
{
    char other[400], cmd[1200];
    snprintf(other, sizeof other, "%s/other.db", dir);
    remove_all(other);
    remove_all(db_path);
    sqlite3 *db = NULL;
    CHECK(open_db(other, key1, &db) == SQLITE_OK);
    fill(db, 2000);
    sqlite3_close(db);
    CHECK(open_db(db_path, key1, &db) == SQLITE_OK);
    fill(db, 2000);
    sqlite3_close(db);
    crash_mid_transaction(other, "delete");
    snprintf(cmd, sizeof cmd, "cp %s-journal %s-journal", other, db_path);
    CHECK(system(cmd) == 0);
    CHECK(open_db(db_path, key1, &db) == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM t", NULL) == 2000);
    CHECK(strstr(coffer_tde_last_error(), "failed its integrity check") != NULL);
    CHECK(integrity_ok(db));
    CHECK(scalar(db, "SELECT count(*) FROM t WHERE v = 'lost'", NULL) == 0);
    sqlite3_close(db);
    /* the other database recovers from its own journal */
    CHECK(open_db(other, key1, &db) == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM t", NULL) == 2001 && integrity_ok(db));
    sqlite3_close(db);
}

static void test_rotate_and_rekey(void)
{
    remove_all(db_path);
    sqlite3 *db = NULL;
    CHECK(open_db(db_path, key1, &db) == SQLITE_OK);
    fill(db, 1500);
    char spec[400];
    snprintf(spec, sizeof spec, "local:%s", key2);
    CHECK(exec(db, "BEGIN IMMEDIATE") == SQLITE_OK);
    CHECK(sqlite3_file_control(db, "main", COFFER_TDE_FCNTL_ROTATE_PROTECTOR, spec) == SQLITE_OK);
    CHECK(exec(db, "COMMIT") == SQLITE_OK);
    sqlite3_close(db);
    CHECK(open_db(db_path, key1, &db) == SQLITE_AUTH);
    CHECK(open_db(db_path, key2, &db) == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM t", NULL) == 1500);

    /* rekey: a second generation, every page rewritten, the first dropped */
    CHECK(exec(db, "PRAGMA journal_mode=wal") == SQLITE_OK);
    CHECK(exec(db, "BEGIN IMMEDIATE") == SQLITE_OK);
    CHECK(sqlite3_file_control(db, "main", COFFER_TDE_FCNTL_REKEY_BEGIN, NULL) == SQLITE_OK);
    CHECK(sqlite3_file_control(db, "main", COFFER_TDE_FCNTL_REKEY_BEGIN, NULL) != SQLITE_OK);
    CHECK(exec(db, "COMMIT") == SQLITE_OK);
    coffer_tde_status st;
    CHECK(sqlite3_file_control(db, "main", COFFER_TDE_FCNTL_STATUS, &st) == SQLITE_OK);
    CHECK(st.current_generation == 2 && st.generations[0] && st.generations[1]);
    CHECK(sqlite3_file_control(db, "main", COFFER_TDE_FCNTL_REKEY_END, NULL) == SQLITE_BUSY);
    /* a second connection writes under the new generation meanwhile */
    sqlite3 *other = NULL;
    CHECK(open_db(db_path, key2, &other) == SQLITE_OK);
    CHECK(exec(other, "INSERT INTO t(v) VALUES ('during rekey')") == SQLITE_OK);
    CHECK(exec(db, "VACUUM") == SQLITE_OK);
    CHECK(exec(db, "PRAGMA wal_checkpoint(TRUNCATE)") == SQLITE_OK);
    CHECK(sqlite3_file_control(db, "main", COFFER_TDE_FCNTL_REKEY_END, NULL) == SQLITE_OK);
    CHECK(sqlite3_file_control(db, "main", COFFER_TDE_FCNTL_STATUS, &st) == SQLITE_OK);
    CHECK(st.current_generation == 2 && (st.generations[0] == 0) != (st.generations[1] == 0));
    CHECK(scalar(other, "SELECT count(*) FROM t", NULL) == 1501);
    sqlite3_close(other);
    sqlite3_close(db);
    CHECK(open_db(db_path, key2, &db) == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM t", NULL) == 1501 && integrity_ok(db));
    sqlite3_close(db);
}

/* In WAL mode a reader keeps its shared lock; the cache period is checked
 * at its read marks: a protector rotated away stops it within the period. */
static void test_wal_reader_revoked(void)
{
    remove_all(db_path);
    sqlite3 *w = NULL, *r = NULL;
    CHECK(open_db(db_path, key1, &w) == SQLITE_OK);
    CHECK(exec(w, "PRAGMA journal_mode=wal") == SQLITE_OK);
    fill(w, 100);
    char uri[1024], spec[400];
    snprintf(uri, sizeof uri, "file:%s?vfs=coffer&protector=local:%s&tde_cache_seconds=1", db_path,
             key1);
    CHECK(sqlite3_open_v2(uri, &r, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL) == SQLITE_OK);
    CHECK(scalar(r, "SELECT count(*) FROM t", NULL) == 100);
    snprintf(spec, sizeof spec, "local:%s", key2);
    CHECK(exec(w, "BEGIN IMMEDIATE") == SQLITE_OK);
    CHECK(sqlite3_file_control(w, "main", COFFER_TDE_FCNTL_ROTATE_PROTECTOR, spec) == SQLITE_OK);
    CHECK(exec(w, "COMMIT") == SQLITE_OK);
    sleep(2);
    int rc = SQLITE_OK;
    scalar(r, "SELECT count(*) FROM t", &rc);
    CHECK(rc == SQLITE_AUTH);
    sqlite3_close(r);
    sqlite3_close(w);
}

/* psow=0 would have SQLite pad the WAL to sectors and split a page across
 * writes; the VFS claims powersafe overwrite, so commits go through. */
static void test_wal_psow_off(void)
{
    remove_all(db_path);
    char uri[1024];
    snprintf(uri, sizeof uri, "file:%s?vfs=coffer&protector=local:%s&psow=0", db_path, key1);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                          NULL) == SQLITE_OK);
    CHECK(exec(db, "PRAGMA journal_mode=wal; PRAGMA synchronous=FULL") == SQLITE_OK);
    fill(db, 300);
    CHECK(exec(db, "UPDATE t SET v = v || '.'") == SQLITE_OK);
    CHECK(exec(db, "INSERT INTO t(v) VALUES ('last')") == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM t", NULL) == 301 && integrity_ok(db));
    sqlite3_close(db);
}

/* A scan reads ahead; what another connection writes between two scans
 * is seen by the second (rollback-journal and WAL mode). */
static void test_read_ahead_coherent(const char *mode)
{
    remove_all(db_path);
    sqlite3 *a = NULL, *b = NULL;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s", mode);
    CHECK(open_db(db_path, key1, &a) == SQLITE_OK && exec(a, sql) == SQLITE_OK);
    fill(a, 4000);
    CHECK(open_db(db_path, key1, &b) == SQLITE_OK);
    CHECK(exec(a, "PRAGMA cache_size=5") == SQLITE_OK);
    const char *scan = "SELECT sum(length(v)) FROM t";
    sqlite3_int64 before = scalar(a, scan, NULL);
    CHECK(before > 800000);
    /* A short range read: its third leaf in a row starts read-ahead, so
     * the pages after it (about 600 rows) sit in the buffer.  Rows there
     * change in the file (checkpointed out of the WAL, in WAL mode); the
     * next read must see them, not the buffered (older, still authentic)
     * pages, so the buffer must be dropped when the transaction starts. */
    CHECK(scalar(a, "SELECT sum(length(v)) FROM t WHERE id BETWEEN 1000 AND 1100", NULL) > 0);
    CHECK(exec(b, "UPDATE t SET v = 'changed' WHERE id BETWEEN 1150 AND 1160") == SQLITE_OK);
    CHECK(exec(b, "PRAGMA wal_checkpoint(TRUNCATE)") == SQLITE_OK);
    CHECK(scalar(a, "SELECT count(*) FROM t WHERE id BETWEEN 1150 AND 1160 AND v = 'changed'",
                 NULL) == 11);
    CHECK(scalar(a, "SELECT sum(length(v)) FROM t WHERE id BETWEEN 1000 AND 1100", NULL) > 0);
    CHECK(exec(b, "UPDATE t SET v = 'again' WHERE id BETWEEN 1300 AND 1310") == SQLITE_OK);
    CHECK(exec(b, "PRAGMA wal_checkpoint(TRUNCATE)") == SQLITE_OK);
    CHECK(scalar(a, "SELECT count(*) FROM t WHERE id BETWEEN 1300 AND 1310 AND v = 'again'",
                 NULL) == 11);
    before = scalar(a, scan, NULL);
    CHECK(exec(b, "UPDATE t SET v = v || 'abc' WHERE id % 10 = 0") == SQLITE_OK);
    CHECK(scalar(a, scan, NULL) == before + 3 * 400);
    CHECK(exec(b, "DELETE FROM t WHERE id > 3000") == SQLITE_OK);
    CHECK(scalar(a, "SELECT count(*) FROM t", NULL) == 3000 && integrity_ok(a));
    sqlite3_close(b);
    sqlite3_close(a);
}

/* A transaction that spills pages to the WAL and then changes one of them
 * again makes SQLite rewrite frame headers (their checksums) after the
 * commit frame: those rewrites must be in the file when COMMIT returns,
 * with synchronous=NORMAL and no close (a child that exits as if killed). */
static void test_wal_rewritten_commit_survives(void)
{
    remove_all(db_path);
    sqlite3 *db = NULL;
    CHECK(open_db(db_path, key1, &db) == SQLITE_OK &&
          exec(db, "PRAGMA journal_mode=wal") == SQLITE_OK);
    fill(db, 10);
    sqlite3_close(db);
    pid_t pid = fork();
    if (pid == 0) {
        if (open_db(db_path, key1, &db) != SQLITE_OK ||
            exec(db, "PRAGMA synchronous=NORMAL; PRAGMA cache_size=10; "
                     "PRAGMA wal_autocheckpoint=0") != SQLITE_OK ||
            exec(db,
                 "BEGIN; "
                 "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000) "
                 "INSERT INTO t(v) SELECT printf('%.200c', 'y') FROM c; "
                 "UPDATE t SET v = 'rewritten' WHERE id <= 60; COMMIT") != SQLITE_OK)
            _exit(1);
        _exit(0); /* committed; no close */
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(open_db(db_path, key1, &db) == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM t", NULL) == 3010);
    CHECK(scalar(db, "SELECT count(*) FROM t WHERE v = 'rewritten'", NULL) == 60);
    CHECK(integrity_ok(db));
    sqlite3_close(db);
}

/* Frames a rolled-back transaction wrote (or gathered) lie past the last
 * commit; another connection then commits over the same places in the
 * WAL.  Nothing of the first may reach the file after that: in normal
 * locking mode, and after exclusive mode (where no WAL lock is taken, so
 * none is released) switched back to normal. */
static void test_wal_rollback_then_other_writer(const char *locking)
{
    remove_all(db_path);
    sqlite3 *a = NULL, *b = NULL;
    char sql[128];
    snprintf(sql, sizeof sql,
             "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA cache_size=10; PRAGMA locking_mode=%s",
             locking);
    CHECK(open_db(db_path, key1, &a) == SQLITE_OK &&
          exec(a, "PRAGMA journal_mode=wal") == SQLITE_OK);
    fill(a, 10);
    CHECK(exec(a, sql) == SQLITE_OK);
    CHECK(exec(a, "BEGIN; "
                  "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 60) "
                  "INSERT INTO t(v) SELECT printf('%.1000c', 'z') FROM c; ROLLBACK") == SQLITE_OK);
    CHECK(exec(a, "PRAGMA locking_mode=NORMAL") == SQLITE_OK);
    CHECK(scalar(a, "SELECT count(*) FROM t", NULL) == 10); /* releases an exclusive lock */
    CHECK(open_db(db_path, key1, &b) == SQLITE_OK);
    CHECK(exec(b,
               "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 60) "
               "INSERT INTO t(v) SELECT 'from-b-' || printf('%.1000c', 'b') FROM c") == SQLITE_OK);
    CHECK(scalar(a, "SELECT count(*) FROM t WHERE v LIKE 'from-b-%'", NULL) == 60);
    sqlite3_close(a);
    CHECK(scalar(b, "SELECT count(*) FROM t WHERE v LIKE 'from-b-%'", NULL) == 60);
    CHECK(integrity_ok(b));
    sqlite3_close(b);
    CHECK(open_db(db_path, key1, &b) == SQLITE_OK);
    CHECK(scalar(b, "SELECT count(*) FROM t", NULL) == 70 && integrity_ok(b));
    sqlite3_close(b);
}

/* Two connections open a database that does not exist yet; the one that
 * did not create it finds the header at its next transaction. */
static void test_two_connections_new_db(void)
{
    remove_all(db_path);
    sqlite3 *a = NULL, *b = NULL;
    CHECK(open_db(db_path, key1, &a) == SQLITE_OK && open_db(db_path, key1, &b) == SQLITE_OK);
    CHECK(exec(a, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2)") == SQLITE_OK);
    CHECK(scalar(b, "SELECT count(*) FROM t", NULL) == 2);
    CHECK(exec(b, "INSERT INTO t VALUES (3)") == SQLITE_OK);
    CHECK(scalar(a, "SELECT sum(x) FROM t", NULL) == 6);
    sqlite3_close(a);
    sqlite3_close(b);
}

/* Without the 48 reserved bytes the first write is refused: a new database
 * attached rather than opened (the auto-extension sees only "main") until
 * its reserve is set. */
static void test_reserve_required(void)
{
    remove_all(db_path);
    char attached[400], sql[1024];
    snprintf(attached, sizeof attached, "%s/attached.db", dir);
    remove_all(attached);
    sqlite3 *db = NULL;
    CHECK(open_db(db_path, key1, &db) == SQLITE_OK);
    snprintf(sql, sizeof sql, "ATTACH 'file:%s?vfs=coffer&protector=local:%s' AS a", attached,
             key1);
    CHECK(exec(db, sql) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE a.t(x)", NULL, NULL, NULL) != SQLITE_OK);
    CHECK(strstr(coffer_tde_last_error(), "48 reserved bytes") != NULL);
    CHECK(exec(db, "DETACH a") == SQLITE_OK);
    CHECK(exec(db, sql) == SQLITE_OK);
    int reserve = 48;
    CHECK(sqlite3_file_control(db, "a", SQLITE_FCNTL_RESERVE_BYTES, &reserve) == SQLITE_OK);
    CHECK(exec(db, "CREATE TABLE a.t(x); INSERT INTO a.t VALUES ('" MARKER "')") == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM a.t", NULL) == 1);
    sqlite3_close(db);
    CHECK(!file_holds(attached, MARKER));
}

/* protector=key:ID: a key given in memory opens what the same key in a
 * file protects; unknown or removed ids are refused; references count. */
static void test_memory_keys(void)
{
    remove_all(db_path);
    sqlite3 *db = NULL;
    CHECK(open_db(db_path, key1, &db) == SQLITE_OK);
    fill(db, 10);
    sqlite3_close(db);
    uint8_t raw[32], other[32];
    FILE *f = fopen(key1, "rb");
    CHECK(f && fread(raw, 1, sizeof raw, f) == sizeof raw);
    if (f)
        fclose(f);
    char id[COFFER_TDE_KEY_ID_LEN + 1], id2[COFFER_TDE_KEY_ID_LEN + 1], uri[600];
    CHECK(coffer_tde_key_add(raw, id) == SQLITE_OK && strlen(id) == 32);
    CHECK(coffer_tde_key_add(raw, id2) == SQLITE_OK && strcmp(id, id2) == 0);
    snprintf(uri, sizeof uri, "file:%s?vfs=coffer&protector=key:%s", db_path, id);
    CHECK(sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL) == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM t", NULL) == 10);
    sqlite3_close(db);
    /* A connection keeps its own copy: past its cache period it unwraps
     * again without the ring (a service's store stays open for days). */
    char aged[700];
    snprintf(aged, sizeof aged, "%s&tde_cache_seconds=1", uri);
    CHECK(sqlite3_open_v2(aged, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL) == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM t", NULL) == 10);
    coffer_tde_key_remove(id);
    coffer_tde_key_remove(id);
    struct timespec pause = {1, 200000000};
    nanosleep(&pause, NULL);
    CHECK(exec(db, "INSERT INTO t(v) VALUES ('after the cache period')") == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM t", NULL) == 11);
    sqlite3_close(db);
    CHECK(coffer_tde_key_add(raw, id) == SQLITE_OK && coffer_tde_key_add(raw, id2) == SQLITE_OK);
    /* One reference left: still there; the last one wipes it. */
    coffer_tde_key_remove(id);
    CHECK(sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL) == SQLITE_OK);
    CHECK(scalar(db, "SELECT count(*) FROM t", NULL) == 11);
    sqlite3_close(db);
    coffer_tde_key_remove(id);
    CHECK(sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL) == SQLITE_AUTH);
    CHECK(strstr(coffer_tde_last_error(), "no key") != NULL);
    sqlite3_close(db);
    /* Another key in memory: named, but not this database's protector. */
    CHECK(cf_random_bytes(other, sizeof other));
    CHECK(coffer_tde_key_add(other, id) == SQLITE_OK);
    snprintf(uri, sizeof uri, "file:%s?vfs=coffer&protector=key:%s", db_path, id);
    CHECK(sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL) == SQLITE_AUTH);
    CHECK(strstr(coffer_tde_last_error(), "protected by") != NULL);
    sqlite3_close(db);
    coffer_tde_key_remove(id);
}

int main(void)
{
    CHECK(cf_crypto_init());
    CHECK(coffer_tde_register() == SQLITE_OK && coffer_tde_register() == SQLITE_OK);
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/tde_vfs.XXXXXX", tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(key1, sizeof key1, "%s/key1", dir);
    snprintf(key2, sizeof key2, "%s/key2", dir);
    snprintf(db_path, sizeof db_path, "%s/t.db", dir);
    write_key(key1);
    write_key(key2);
    RUN_WITH(test_round_trip, "delete");
    RUN(test_refusals);
    RUN(test_tampering);
    RUN_WITH(test_round_trip, "wal");
    RUN(test_tampering);
    RUN_WITH(test_crash_recovery, "delete");
    RUN_WITH(test_crash_recovery, "wal");
    RUN(test_foreign_journal);
    RUN(test_rotate_and_rekey);
    RUN(test_two_connections_new_db);
    RUN(test_wal_rewritten_commit_survives);
    RUN_WITH(test_wal_rollback_then_other_writer, "NORMAL");
    RUN_WITH(test_wal_rollback_then_other_writer, "EXCLUSIVE");
    RUN_WITH(test_read_ahead_coherent, "delete");
    RUN_WITH(test_read_ahead_coherent, "wal");
    RUN(test_wal_reader_revoked);
    RUN(test_wal_psow_off);
    RUN(test_reserve_required);
    RUN(test_memory_keys);
    CHECK(test_remove_dir(dir));
    TEST_DONE();
}
