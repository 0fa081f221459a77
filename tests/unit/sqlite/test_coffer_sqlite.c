/* ae_encrypt / ae_decrypt in SQLite (src/sqlite/coffer_sqlite.c,
 * docs/always-encrypted.md "In SQLite"), through the C API on a real
 * database file: every SQLite type round-trips in both modes, NULL stays
 * NULL, deterministic cells serve equality lookups, SQL Server's own cell
 * reads with 'bytes', and the refusals (another key, a tampered cell, bad
 * arguments, a trigger calling the functions) are errors with their codes;
 * cells encrypted by key open only with their key and, when bound, their
 * row's authenticator; the file never holds the plaintext marker or the
 * key. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ae.h"
#include "coffer_sqlite.h"
#include "crypto.h"
#include "test.h"
#include "vectors/kat.h"

#define MARK "coffer-ae-marker-7f3a9"
static const char *KEY = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
static const char *OTHER = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static char db_path[256];

static sqlite3 *open_db(void)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    CHECK(coffer_sqlite_register(db) == SQLITE_OK);
    return db;
}

static bool exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fprintf(stderr, "   sql: %s\n", err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return rc == SQLITE_OK;
}

/* Runs a one-row, one-column query; returns the step's result code and
 * leaves the statement for the caller (finalize it). */
static int query(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    CHECK(sqlite3_prepare_v2(db, sql, -1, st, NULL) == SQLITE_OK);
    return sqlite3_step(*st);
}

/* The error code and message of a query that must fail. */
static bool fails_with(sqlite3 *db, const char *sql, int code, const char *words)
{
    sqlite3_stmt *st = NULL;
    int rc = query(db, sql, &st);
    bool ok = rc == SQLITE_ERROR || rc == code;
    ok = ok && sqlite3_extended_errcode(db) == code && strstr(sqlite3_errmsg(db), words);
    if (!ok)
        fprintf(stderr, "   got %d/%d: %s\n", rc, sqlite3_extended_errcode(db), sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return ok;
}

static void test_round_trips(void)
{
    sqlite3 *db = open_db();
    char sql[2048];
    CHECK(exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, det BLOB, rnd BLOB)"));
    static const char *values[] = {
        "42", "-9223372036854775808", "4.5", "'" MARK "'", "x'00ff10'", "''", "x''", "NULL"};
    static const char *types[] = {"integer", "integer", "real", "text",
                                  "blob",    "text",    "blob", "null"};
    for (int i = 0; i < 8; i++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO t VALUES(%d, ae_encrypt(%s, '%s', 'deterministic'), "
                 "ae_encrypt(%s, '%s', 'RANDOMIZED'))",
                 i, values[i], KEY, values[i], KEY);
        CHECK(exec(db, sql));
    }
    for (int i = 0; i < 8; i++) {
        sqlite3_stmt *st = NULL;
        snprintf(sql, sizeof sql,
                 "SELECT typeof(ae_decrypt(det, '%s')), ae_decrypt(det, '%s') IS %s, "
                 "ae_decrypt(rnd, '%s') IS %s, det IS rnd, typeof(det) FROM t WHERE id = %d",
                 KEY, KEY, values[i], KEY, values[i], i);
        CHECK(query(db, sql, &st) == SQLITE_ROW);
        CHECK_STR((const char *)sqlite3_column_text(st, 0), types[i]);
        CHECK(sqlite3_column_int(st, 1) == 1 && sqlite3_column_int(st, 2) == 1);
        CHECK(sqlite3_column_int(st, 3) == (i == 7)); /* randomized differs, but NULL is NULL */
        CHECK_STR((const char *)sqlite3_column_text(st, 4), i == 7 ? "null" : "blob");
        sqlite3_finalize(st);
    }
    /* deterministic: an equality lookup on the cells */
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof sql,
             "SELECT id FROM t WHERE det = ae_encrypt('%s', '%s', 'deterministic')", MARK, KEY);
    CHECK(query(db, sql, &st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 3);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    /* a BLOB key works as well as hex */
    snprintf(sql, sizeof sql, "SELECT ae_decrypt(det, x'%s') FROM t WHERE id = 0", KEY);
    CHECK(query(db, sql, &st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 42);
    sqlite3_finalize(st);
    CHECK(sqlite3_close(db) == SQLITE_OK);
}

static void test_refusals(void)
{
    sqlite3 *db = open_db();
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT ae_decrypt(det, '%s') FROM t WHERE id = 3", OTHER);
    CHECK(fails_with(db, sql, SQLITE_AUTH, "integrity"));
    /* one byte of a stored cell changed */
    sqlite3_stmt *st = NULL;
    CHECK(query(db, "SELECT det FROM t WHERE id = 3", &st) == SQLITE_ROW);
    uint8_t cell[256];
    int len = sqlite3_column_bytes(st, 0);
    CHECK(len > 41 && len <= (int)sizeof cell);
    memcpy(cell, sqlite3_column_blob(st, 0), (size_t)len);
    sqlite3_finalize(st);
    cell[40] ^= 0x01;
    snprintf(sql, sizeof sql, "SELECT ae_decrypt(?1, '%s')", KEY);
    CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_bind_blob(st, 1, cell, len, SQLITE_STATIC) == SQLITE_OK);
    int rc = sqlite3_step(st);
    CHECK((rc == SQLITE_ERROR || rc == SQLITE_AUTH) &&
          sqlite3_extended_errcode(db) == SQLITE_AUTH && strstr(sqlite3_errmsg(db), "integrity"));
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql, "SELECT ae_decrypt(substr(det, 1, 70), '%s') FROM t WHERE id = 3",
             KEY);
    CHECK(fails_with(db, sql, SQLITE_AUTH, "size"));
    CHECK(fails_with(db, "SELECT ae_encrypt(1, x'0011', 'randomized')", SQLITE_MISUSE, "32 bytes"));
    snprintf(sql, sizeof sql, "SELECT ae_encrypt(1, '%s', 'sometimes')", KEY);
    CHECK(fails_with(db, sql, SQLITE_MISUSE, "deterministic"));
    snprintf(sql, sizeof sql, "SELECT ae_decrypt('text', '%s')", KEY);
    CHECK(fails_with(db, sql, SQLITE_MISMATCH, "BLOB"));
    snprintf(sql, sizeof sql, "SELECT ae_decrypt(det, '%s', 'other') FROM t", KEY);
    CHECK(fails_with(db, sql, SQLITE_MISUSE, "'bytes'"));
    /* direct-only: a trigger stored in the file cannot call them */
    snprintf(sql, sizeof sql,
             "CREATE TABLE log(v); CREATE TRIGGER leak AFTER INSERT ON t BEGIN "
             "INSERT INTO log VALUES(ae_decrypt(NEW.det, '%s')); END;",
             KEY);
    CHECK(exec(db, sql));
    snprintf(sql, sizeof sql, "INSERT INTO t VALUES(99, ae_encrypt(1, '%s', 'randomized'), NULL)",
             KEY);
    CHECK(!exec(db, sql));
    CHECK(strstr(sqlite3_errmsg(db), "unsafe use of ae_decrypt") != NULL);
    CHECK(exec(db, "DROP TRIGGER leak"));
    CHECK(sqlite3_close(db) == SQLITE_OK);
}

/* SQL Server's own cell: its plaintext is the driver's (UTF-16LE nchar). */
static void test_sql_server_cell(void)
{
    size_t value_len = 0, cell_len = 0;
    char *value = kat_read("always-encrypted/swisscom_cekv.key", &value_len);
    char *cell = kat_read("always-encrypted/swisscom_column_value.enc", &cell_len);
    char *pem = kat_read("always-encrypted/swisscom_always-encrypted.pem", NULL);
    cf_pkey *cmk = NULL;
    cf_ae_cek_value v;
    cf_buf cek;
    cf_buf_init_secret(&cek, 32);
    CHECK(cf_pkey_from_private_pem(CF_SLICE_STR(pem), &cmk));
    CHECK(cf_ae_cek_value_parse(cf_slice_of(value, value_len), &v));
    CHECK(cf_ae_cek_unwrap_local(cmk, &v, &cek));
    sqlite3 *db = open_db();
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db, "SELECT ae_decrypt(?1, ?2, 'bytes')", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_bind_blob(st, 1, cell, (int)cell_len, SQLITE_STATIC) == SQLITE_OK);
    CHECK(sqlite3_bind_blob(st, 2, cek.data, 32, SQLITE_STATIC) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 20);
    CHECK(memcmp(sqlite3_column_blob(st, 0),
                 "1\0"
                 "2\0"
                 "3\0"
                 "4\0"
                 "5\0 \0 \0 \0 \0 \0",
                 20) == 0);
    sqlite3_finalize(st);
    CHECK(sqlite3_prepare_v2(db, "SELECT ae_decrypt(?1, ?2)", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_bind_blob(st, 1, cell, (int)cell_len, SQLITE_STATIC) == SQLITE_OK);
    CHECK(sqlite3_bind_blob(st, 2, cek.data, 32, SQLITE_STATIC) == SQLITE_OK);
    int rc = sqlite3_step(st);
    CHECK((rc == SQLITE_ERROR || rc == SQLITE_MISMATCH) &&
          sqlite3_extended_errcode(db) == SQLITE_MISMATCH && strstr(sqlite3_errmsg(db), "'bytes'"));
    sqlite3_finalize(st);
    CHECK(sqlite3_close(db) == SQLITE_OK);
    cf_buf_free(&cek);
    cf_pkey_free(cmk);
    free(value);
    free(cell);
    free(pem);
}

/* encrypt_by_key / decrypt_by_key: keys opened per connection, cells bound
 * to their row by an authenticator. */
static void test_cell_keys(void)
{
    sqlite3 *db = open_db();
    char sql[1024];
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof sql, "SELECT coffer_open_key('k1', '%s')", KEY);
    CHECK(query(db, sql, &st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32);
    sqlite3_finalize(st);
    CHECK(exec(db, "CREATE TABLE cells(id INTEGER PRIMARY KEY, v BLOB, w BLOB);"
                   "INSERT INTO cells VALUES(1, encrypt_by_key('" MARK "-1', 'k1', 1), "
                   "  encrypt_by_key(x'0102', 'k1'));"
                   "INSERT INTO cells VALUES(2, encrypt_by_key('" MARK "-2', 'k1', 2), "
                   "  encrypt_by_key(NULL, 'k1'));"));
    CHECK(query(db,
                "SELECT decrypt_by_key(v, id) = '" MARK "-1', hex(decrypt_by_key(w)), "
                "typeof(decrypt_by_key(v, id)) FROM cells WHERE id = 1",
                &st) == SQLITE_ROW);
    CHECK(sqlite3_column_int(st, 0) == 1);
    CHECK_STR((const char *)sqlite3_column_text(st, 1), "0102");
    CHECK_STR((const char *)sqlite3_column_text(st, 2), "text");
    sqlite3_finalize(st);
    CHECK(query(db, "SELECT w IS NULL FROM cells WHERE id = 2", &st) == SQLITE_ROW &&
          sqlite3_column_int(st, 0) == 1);
    sqlite3_finalize(st);
    /* a cell moved to another row, its authenticator missing or unexpected */
    CHECK(fails_with(db, "SELECT decrypt_by_key(v, 2) FROM cells WHERE id = 1", SQLITE_AUTH,
                     "another authenticator"));
    CHECK(fails_with(db, "SELECT decrypt_by_key(v) FROM cells WHERE id = 1", SQLITE_AUTH,
                     "needs its authenticator"));
    CHECK(fails_with(db, "SELECT decrypt_by_key(w, 1) FROM cells WHERE id = 1", SQLITE_AUTH,
                     "without an authenticator"));
    CHECK(fails_with(db, "SELECT decrypt_by_key(v, NULL) FROM cells WHERE id = 1", SQLITE_MISUSE,
                     "NULL"));
    CHECK(fails_with(db, "SELECT decrypt_by_key(x'0102', 1)", SQLITE_AUTH, "not a cell"));
    CHECK(fails_with(db, "SELECT encrypt_by_key(1, 'nope')", SQLITE_ERROR, "not open"));
    CHECK(fails_with(db, "SELECT coffer_open_key('k2', x'00')", SQLITE_MISUSE, "32 bytes"));
    /* another key under the same name: the old cells no longer find theirs */
    snprintf(sql, sizeof sql, "SELECT coffer_open_key('k1', '%s')", OTHER);
    CHECK(exec(db, sql));
    CHECK(fails_with(db, "SELECT decrypt_by_key(v, id) FROM cells WHERE id = 1", SQLITE_AUTH,
                     "no open key matches"));
    CHECK(query(db, "SELECT coffer_close_key('k1'), coffer_close_key('k1')", &st) == SQLITE_ROW &&
          sqlite3_column_int(st, 0) == 1 && sqlite3_column_int(st, 1) == 0);
    sqlite3_finalize(st);
    CHECK(sqlite3_close(db) == SQLITE_OK);
    /* a new connection has no open keys */
    db = open_db();
    CHECK(fails_with(db, "SELECT decrypt_by_key(v, id) FROM cells WHERE id = 2", SQLITE_AUTH,
                     "no open key matches"));
    snprintf(sql, sizeof sql, "SELECT coffer_open_key('again', x'%s'); SELECT 1;", KEY);
    CHECK(exec(db, sql));
    CHECK(query(db, "SELECT decrypt_by_key(v, id) = '" MARK "-2' FROM cells WHERE id = 2", &st) ==
              SQLITE_ROW &&
          sqlite3_column_int(st, 0) == 1);
    sqlite3_finalize(st);
    CHECK(sqlite3_close(db) == SQLITE_OK);
}

/* Neither the marker (a stored value) nor the key is in the file. */
static void test_file_at_rest(void)
{
    FILE *f = fopen(db_path, "rb");
    CHECK(f != NULL);
    static uint8_t data[1 << 20];
    size_t n = f ? fread(data, 1, sizeof data, f) : 0;
    if (f)
        fclose(f);
    CHECK(n > 0 && n < sizeof data);
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0x20 + i);
    CHECK(memmem(data, n, MARK, strlen(MARK)) == NULL);
    CHECK(memmem(data, n, key, sizeof key) == NULL && memmem(data, n, KEY, 64) == NULL);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(db_path, sizeof db_path, "%s/coffer-ae-%d.db", tmp ? tmp : "/tmp", (int)getpid());
    RUN(test_round_trips);
    RUN(test_refusals);
    RUN(test_sql_server_cell);
    RUN(test_cell_keys);
    RUN(test_file_at_rest);
    remove(db_path);
    TEST_DONE();
}
