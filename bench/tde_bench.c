/*
 * One engine's side of the TDE benchmark (bench/tde_run): the same three
 * workloads on a fresh database of ROWS rows, each timed in a fresh
 * connection (SQLite's page cache cold, the OS cache warm):
 *
 *   insert  ROWS rows (id, n, ~100-byte payload) in one transaction
 *   scan    SELECT count(*), sum(n), sum(length(payload)) over the table
 *   rescan  the same again in the same connection
 *   point   LOOKUPS random primary-key lookups
 *
 * Built twice: against libsqlite3 with the coffer VFS (modes plain and
 * coffer), and against Debian's libsqlcipher (mode sqlcipher, a raw key).
 * Prints "insert SECONDS", "scan SECONDS", "rescan SECONDS", "point SECONDS".
 *
 *   tde_bench MODE DIR ROWS LOOKUPS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "cli_number.h"
#ifndef CF_BENCH_SQLCIPHER
#include "coffer_tde.h"
#endif

static const char *mode, *dir;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(sqlite3 *db, const char *what)
{
    fprintf(stderr, "tde_bench %s: %s: %s\n", mode, what, db ? sqlite3_errmsg(db) : "");
    exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die(db, sql);
}

static sqlite3 *open_db(void)
{
    char uri[1024];
    sqlite3 *db = NULL;
    if (strcmp(mode, "coffer") == 0)
        snprintf(uri, sizeof uri, "file:%s/bench.db?vfs=coffer&protector=local:%s/key", dir, dir);
    else
        snprintf(uri, sizeof uri, "file:%s/bench.db", dir);
    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                        NULL) != SQLITE_OK)
        die(db, "open");
    if (strcmp(mode, "sqlcipher") == 0)
        exec(db, "PRAGMA key = \"x'000102030405060708090a0b0c0d0e0f"
                 "101112131415161718191a1b1c1d1e1f'\"");
    return db;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: tde_bench plain|coffer|sqlcipher DIR ROWS LOOKUPS\n");
        return 2;
    }
    mode = argv[1];
    dir = argv[2];
    long rows = (long)cli_number(argv[3], 100000000, "ROWS");
    long lookups = (long)cli_number(argv[4], 100000000, "LOOKUPS");
#ifndef CF_BENCH_SQLCIPHER
    if (coffer_tde_register() != SQLITE_OK)
        die(NULL, "coffer_tde_register");
#endif
    sqlite3_stmt *st = NULL;
    srandom(42);

    sqlite3 *db = open_db();
    double t0 = now();
    exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER, payload TEXT)");
    exec(db, "BEGIN");
    if (sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
        die(db, "prepare insert");
    char payload[128];
    for (long i = 1; i <= rows; i++) {
        snprintf(payload, sizeof payload,
                 "row %ld payload %08lx %08lx %08lx %08lx %08lx %08lx %08lx %08lx", i, random(),
                 random(), random(), random(), random(), random(), random(), random());
        sqlite3_bind_int64(st, 1, i);
        sqlite3_bind_int64(st, 2, random() % 1000);
        sqlite3_bind_text(st, 3, payload, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            die(db, "insert");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    exec(db, "COMMIT");
    printf("insert %.6f\n", now() - t0);
    sqlite3_close(db);

    /* The scan twice in one connection: the first also pays for the
     * connection's first reads, the second only for the pages (the table
     * is larger than SQLite's cache, so every page is read again). */
    db = open_db();
    for (int pass = 0; pass < 2; pass++) {
        t0 = now();
        if (sqlite3_prepare_v2(db, "SELECT count(*), sum(n), sum(length(payload)) FROM t", -1, &st,
                               NULL) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) != rows)
            die(db, "scan");
        sqlite3_finalize(st);
        printf("%s %.6f\n", pass == 0 ? "scan" : "rescan", now() - t0);
    }
    sqlite3_close(db);

    db = open_db();
    t0 = now();
    if (sqlite3_prepare_v2(db, "SELECT payload FROM t WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        die(db, "prepare lookup");
    for (long i = 0; i < lookups; i++) {
        sqlite3_bind_int64(st, 1, 1 + random() % rows);
        if (sqlite3_step(st) != SQLITE_ROW)
            die(db, "lookup");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    printf("point %.6f\n", now() - t0);
    sqlite3_close(db);
    return 0;
}
