/*
 * The PostgreSQL driver behind db.h (libpq): one connection per store.
 *
 * SQL: the stores' ?N parameters become $N.  Statements are prepared on
 * the server at their first run on a connection (named s1, s2, ...), so a
 * reconnect simply prepares them again.  Parameters go as text, blobs as
 * binary; results come back as text (bytea in hex, decoded on demand).
 * A run fetches the whole result: the stores bound their queries (LIMIT),
 * and another statement may run while a result is being read.
 *
 * Writers: cf_db_begin() is BEGIN plus pg_advisory_xact_lock(write_lock),
 * so writers of a store exclude each other across front ends, as SQLite's
 * BEGIN IMMEDIATE does within one file.  A writing statement run outside a
 * transaction is wrapped in one, so it waits for that lock too.
 *
 * Failures: a lost connection (PostgreSQL restarting, the network) is
 * CF_ERR_UNAVAILABLE; the next statement outside a transaction reconnects.
 * Only the primary message is kept: PostgreSQL's DETAIL can quote row
 * values.
 */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_driver.h"
#include "blocking.h"
#include "fsutil.h"
#include "log.h"

#define PG_BYTEA_OID 17
#define PG_BOOL_OID 16
/* Most parameters in one statement. */
#define PG_PARAMS_MAX 32
/* Seconds a (re)connection may take before the store gives up. */
#define PG_CONNECT_TIMEOUT "5"

typedef struct {
    PGconn *conn;
    uint64_t generation; /* bumped on every (re)connection */
    unsigned next_name;
    bool in_tx;
    int64_t changes;
    /* Session advisory locks held (cf_db_lead): the key and the connection
     * generation it was won on (0: none). */
    int64_t lead_key;
    uint64_t lead_generation;
    /* The last failure, raised by pg_fail(). */
    cf_err fail_code;
    int fail_errno;
    char fail_msg[256];
} pg_conn;

typedef struct {
    char *sql; /* with $N parameters */
    char name[16];
    uint64_t prepared; /* the generation it was prepared on; 0 = not yet */
    bool writes;       /* INSERT/UPDATE/DELETE/DDL: needs the write lock */
    int nparams;
    /* 0: the server infers the type; text for a number the SQL skips
     * (the server cannot infer those). */
    unsigned types[PG_PARAMS_MAX];
    const char *values[PG_PARAMS_MAX];
    int lengths[PG_PARAMS_MAX];
    int formats[PG_PARAMS_MAX];
    char ints[PG_PARAMS_MAX][24];
    char *copies[PG_PARAMS_MAX]; /* values bound by copy, owned */
    PGresult *res;
    int row; /* -1 before the first step */
    /* Decoded bytea of the current row, per column, on demand. */
    unsigned char *blob[PG_PARAMS_MAX];
    size_t blob_len[PG_PARAMS_MAX];
    int blob_row[PG_PARAMS_MAX];
} pg_stmt;

static pg_conn *pg(cf_db *db)
{
    return db->conn;
}

static pg_stmt *pg_st(cf_db_stmt *st)
{
    return st->impl;
}

/* ---- failures ---- */

static void pg_note_failure(cf_db *db, cf_err code, int err, const char *msg)
{
    pg_conn *c = pg(db);
    c->fail_code = code;
    c->fail_errno = err;
    snprintf(c->fail_msg, sizeof c->fail_msg, "%s", msg ? msg : "unknown error");
    /* libpq's messages end with a newline. */
    size_t n = strlen(c->fail_msg);
    while (n && (c->fail_msg[n - 1] == '\n' || c->fail_msg[n - 1] == ' '))
        c->fail_msg[--n] = '\0';
}

static bool pg_fail(cf_db *db)
{
    pg_conn *c = pg(db);
    if (c->fail_errno == ENOSPC)
        return cf_io_fail("the database", ENOSPC);
    cf_error_raisef(c->fail_code ? c->fail_code : CF_ERR_DB, __FILE__, __LINE__, "%s: %s", db->what,
                    c->fail_msg);
    return false;
}

/* Notes why `res` failed; returns the step result for it. */
static int pg_result_failure(cf_db *db, const PGresult *res)
{
    pg_conn *c = pg(db);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!primary)
        primary = PQerrorMessage(c->conn);
    bool lost = PQstatus(c->conn) != CONNECTION_OK || !state;
    if (lost || strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
        strcmp(state, "53300") == 0) {
        /* The connection (or the server) is gone; so is any transaction. */
        c->in_tx = false;
        pg_note_failure(db, CF_ERR_UNAVAILABLE, 0, primary);
        return CF_DB_ERROR;
    }
    if (strcmp(state, "53100") == 0) {
        pg_note_failure(db, CF_ERR_IO, ENOSPC, primary);
        return CF_DB_ERROR;
    }
    pg_note_failure(db, CF_ERR_DB, 0, primary);
    return strncmp(state, "23", 2) == 0 ? CF_DB_CONSTRAINT : CF_DB_ERROR;
}

/* ---- the connection ---- */

/* Reconnects when the connection was lost, outside a transaction only. */
static bool pg_ensure_connected(cf_db *db)
{
    pg_conn *c = pg(db);
    if (PQstatus(c->conn) == CONNECTION_OK)
        return true;
    c->in_tx = false;
    cf_blocking_enter();
    PQreset(c->conn);
    cf_blocking_leave();
    if (PQstatus(c->conn) != CONNECTION_OK) {
        pg_note_failure(db, CF_ERR_UNAVAILABLE, 0, PQerrorMessage(c->conn));
        return false;
    }
    c->generation++;
    return true;
}

/* Runs SQL without results (several statements allowed); notes failures. */
static bool pg_run_simple(cf_db *db, const char *sql)
{
    pg_conn *c = pg(db);
    PGresult *res = CF_WHILE_BLOCKED(PQexec(c->conn, sql));
    ExecStatusType status = PQresultStatus(res);
    bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    if (!ok)
        (void)pg_result_failure(db, res);
    PQclear(res);
    return ok;
}

static bool pg_exec(cf_db *db, const char *sql)
{
    return (pg_ensure_connected(db) && pg_run_simple(db, sql)) || pg_fail(db);
}

static bool pg_open(cf_db *db, const cf_db_config *config)
{
    pg_conn *c = calloc(1, sizeof *c);
    CF_ENSURE_ALLOC(c);
    db->conn = c;
    /* Ours first: the operator's connection string overrides them. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const values[] = {PG_CONNECT_TIMEOUT, "coffer", config->conninfo, NULL};
    c->conn = CF_WHILE_BLOCKED(PQconnectdbParams(keys, values, 1));
    if (!c->conn) {
        free(c);
        db->conn = NULL;
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    if (PQstatus(c->conn) != CONNECTION_OK) {
        pg_note_failure(db, CF_ERR_UNAVAILABLE, 0, PQerrorMessage(c->conn));
        return pg_fail(db);
    }
    c->generation = 1;
    /* Text results: bytea in hex, whatever the server's default. */
    return pg_exec(db, "SET bytea_output = 'hex'; SET client_min_messages = warning");
}

static void pg_close(cf_db *db)
{
    PQfinish(pg(db)->conn);
    free(db->conn);
    db->conn = NULL;
}

/* ---- statements ---- */

#define PG_TEXT_OID 25

/* ?N -> $N outside quoted strings; the highest N is the parameter count,
 * and numbers below it that never appear get the type text. */
static bool pg_rewrite(const char *sql, char **out, int *nparams, unsigned types[PG_PARAMS_MAX])
{
    bool used[PG_PARAMS_MAX + 1] = {false};
    size_t n = strlen(sql);
    char *p = malloc(n + 1);
    CF_ENSURE_ALLOC(p);
    int most = 0;
    char quote = 0;
    for (size_t i = 0; i <= n; i++) {
        char ch = sql[i];
        if (quote) {
            if (ch == quote)
                quote = 0;
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
        } else if (ch == '?') {
            ch = '$';
            int v = 0;
            for (size_t k = i + 1; sql[k] >= '0' && sql[k] <= '9' && v < 1000; k++)
                v = v * 10 + (sql[k] - '0');
            if (v > most)
                most = v;
            if (v <= PG_PARAMS_MAX)
                used[v] = true;
        }
        p[i] = ch;
    }
    if (most > PG_PARAMS_MAX) {
        free(p);
        CF_BAIL(CF_ERR_INTERNAL, "too many SQL parameters");
    }
    for (int i = 1; i <= most; i++)
        types[i - 1] = used[i] ? 0 : PG_TEXT_OID;
    *out = p;
    *nparams = most;
    return true;
}

static bool pg_is_write(const char *sql)
{
    while (*sql == ' ' || *sql == '\n')
        sql++;
    static const char *const verbs[] = {"INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP"};
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        if (strncmp(sql, verbs[i], strlen(verbs[i])) == 0)
            return true;
    return false;
}

/* Prepares the statement on the server, once per connection. */
static int pg_server_prepare(cf_db *db, pg_stmt *s)
{
    pg_conn *c = pg(db);
    if (s->prepared == c->generation)
        return CF_DB_DONE;
    PGresult *res = CF_WHILE_BLOCKED(PQprepare(c->conn, s->name, s->sql, s->nparams, s->types));
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    int rc = ok ? CF_DB_DONE : pg_result_failure(db, res);
    PQclear(res);
    if (ok)
        s->prepared = c->generation;
    return rc;
}

static bool pg_prepare(cf_db *db, cf_db_stmt *st)
{
    pg_stmt *s = calloc(1, sizeof *s);
    CF_ENSURE_ALLOC(s);
    if (!pg_rewrite(st->sql, &s->sql, &s->nparams, s->types)) {
        free(s);
        return false;
    }
    snprintf(s->name, sizeof s->name, "s%u", ++pg(db)->next_name);
    s->writes = pg_is_write(st->sql);
    s->row = -1;
    for (int i = 0; i < PG_PARAMS_MAX; i++)
        s->blob_row[i] = -1;
    /* Now when connected, so SQL errors show where the statement is made
     * (a reconnection prepares it again at its next run). */
    if (PQstatus(pg(db)->conn) == CONNECTION_OK && pg_server_prepare(db, s) < 0) {
        free(s->sql);
        free(s);
        return pg_fail(db);
    }
    st->impl = s;
    return true;
}

static void pg_clear_result(pg_stmt *s)
{
    PQclear(s->res);
    s->res = NULL;
    s->row = -1;
    for (int i = 0; i < PG_PARAMS_MAX; i++) {
        free(s->blob[i]);
        s->blob[i] = NULL;
        s->blob_row[i] = -1;
    }
}

static void pg_free_copies(pg_stmt *s)
{
    for (int i = 0; i < PG_PARAMS_MAX; i++) {
        free(s->copies[i]);
        s->copies[i] = NULL;
    }
}

static void pg_reset(cf_db_stmt *st)
{
    pg_stmt *s = pg_st(st);
    pg_clear_result(s);
    pg_free_copies(s);
    memset(s->values, 0, sizeof s->values);
    memset(s->lengths, 0, sizeof s->lengths);
    memset(s->formats, 0, sizeof s->formats);
}

static void pg_finalize(cf_db_stmt *st)
{
    pg_stmt *s = pg_st(st);
    if (!s)
        return;
    pg_clear_result(s);
    pg_free_copies(s);
    free(s->sql);
    free(s);
}

static bool pg_param_ok(pg_stmt *s, int i)
{
    return i >= 1 && i <= PG_PARAMS_MAX && i <= s->nparams;
}

static void pg_bind_text(cf_db_stmt *st, int i, const char *text)
{
    pg_stmt *s = pg_st(st);
    if (!pg_param_ok(s, i))
        return;
    s->values[i - 1] = text;
    s->lengths[i - 1] = 0;
    s->formats[i - 1] = 0;
}

static void pg_bind_int64(cf_db_stmt *st, int i, int64_t v)
{
    pg_stmt *s = pg_st(st);
    if (!pg_param_ok(s, i))
        return;
    snprintf(s->ints[i - 1], sizeof s->ints[i - 1], "%" PRId64, v);
    pg_bind_text(st, i, s->ints[i - 1]);
}

static void pg_bind_blob(cf_db_stmt *st, int i, const void *p, size_t n)
{
    pg_stmt *s = pg_st(st);
    if (!pg_param_ok(s, i))
        return;
    s->values[i - 1] = p ? p : "";
    s->lengths[i - 1] = (int)n;
    s->formats[i - 1] = 1;
}

static void pg_bind_null(cf_db_stmt *st, int i)
{
    pg_stmt *s = pg_st(st);
    if (pg_param_ok(s, i))
        s->values[i - 1] = NULL;
}

static bool pg_bind_copy(cf_db_stmt *st, int i, const void *p, size_t n, bool blob)
{
    pg_stmt *s = pg_st(st);
    CF_ENSURE(pg_param_ok(s, i), CF_ERR_INTERNAL, "no such SQL parameter");
    char *copy = malloc(n + 1);
    CF_ENSURE_ALLOC(copy);
    if (n)
        memcpy(copy, p, n);
    copy[n] = '\0';
    free(s->copies[i - 1]);
    s->copies[i - 1] = copy;
    if (blob)
        pg_bind_blob(st, i, copy, n);
    else
        pg_bind_text(st, i, copy);
    return true;
}

/* Whether the connection was lost (the server restarted since the last
 * statement: libpq notices only when a statement fails). */
static bool pg_lost(cf_db *db)
{
    return PQstatus(pg(db)->conn) != CONNECTION_OK;
}

/* Starts a transaction with `sql`; a connection found dead on the way is
 * reset and the start tried once more (nothing had happened yet). */
static bool pg_start_tx(cf_db *db, const char *sql)
{
    bool ok = pg_ensure_connected(db) && pg_run_simple(db, sql);
    if (!ok && pg_lost(db))
        ok = pg_ensure_connected(db) && pg_run_simple(db, sql);
    if (ok)
        pg(db)->in_tx = true;
    return ok;
}

static bool pg_lock_writers(cf_db *db)
{
    char sql[96];
    snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%" PRId64 ")", db->write_lock);
    return pg_start_tx(db, sql);
}

/* Prepares and runs the statement. */
static int pg_execute(cf_db *db, pg_stmt *s)
{
    pg_conn *c = pg(db);
    if (!c->in_tx && !pg_ensure_connected(db))
        return CF_DB_ERROR;
    int rc = pg_server_prepare(db, s);
    if (rc < 0)
        return rc;
    s->res = CF_WHILE_BLOCKED(
        PQexecPrepared(c->conn, s->name, s->nparams, s->values, s->lengths, s->formats, 0));
    ExecStatusType status = PQresultStatus(s->res);
    if (status == PGRES_COMMAND_OK) {
        c->changes = strtoll(PQcmdTuples(s->res), NULL, 10);
        return CF_DB_DONE;
    }
    if (status == PGRES_TUPLES_OK)
        return CF_DB_ROW; /* rows or not: pg_step looks */
    rc = pg_result_failure(db, s->res);
    pg_clear_result(s);
    return rc;
}

static int pg_step(cf_db_stmt *st)
{
    pg_stmt *s = pg_st(st);
    cf_db *db = st->db;
    if (!s->res) {
        bool wrap = s->writes && !pg(db)->in_tx;
        if (wrap && !pg_lock_writers(db))
            return CF_DB_ERROR;
        bool alone = !pg(db)->in_tx;
        int rc = pg_execute(db, s);
        /* A read on its own found the connection dead: once more on a new
         * one (it changed nothing). */
        if (rc == CF_DB_ERROR && alone && pg_lost(db))
            rc = pg_execute(db, s);
        if (wrap) {
            bool ended = rc >= 0 ? pg_run_simple(db, "COMMIT") : pg_run_simple(db, "ROLLBACK");
            pg(db)->in_tx = false;
            if (rc >= 0 && !ended)
                return CF_DB_ERROR;
        }
        if (rc != CF_DB_ROW)
            return rc;
    }
    s->row++;
    return s->row < PQntuples(s->res) ? CF_DB_ROW : CF_DB_DONE;
}

static bool pg_has_value(pg_stmt *s, int i)
{
    return s->res && i >= 0 && i < PQnfields(s->res) && s->row >= 0 && s->row < PQntuples(s->res) &&
           !PQgetisnull(s->res, s->row, i);
}

static bool pg_column_is_null(cf_db_stmt *st, int i)
{
    return !pg_has_value(pg_st(st), i);
}

static bool pg_column_is_blob(cf_db_stmt *st, int i)
{
    pg_stmt *s = pg_st(st);
    return pg_has_value(s, i) && PQftype(s->res, i) == PG_BYTEA_OID;
}

static int64_t pg_column_int64(cf_db_stmt *st, int i)
{
    pg_stmt *s = pg_st(st);
    if (!pg_has_value(s, i))
        return 0;
    const char *v = PQgetvalue(s->res, s->row, i);
    if (PQftype(s->res, i) == PG_BOOL_OID)
        return v[0] == 't';
    return strtoll(v, NULL, 10);
}

static const char *pg_column_text(cf_db_stmt *st, int i)
{
    pg_stmt *s = pg_st(st);
    return pg_has_value(s, i) ? PQgetvalue(s->res, s->row, i) : NULL;
}

static int pg_hex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The current row's bytea column `i`, decoded from hex once. */
static bool pg_decode_blob(pg_stmt *s, int i)
{
    if (i >= PG_PARAMS_MAX || !pg_has_value(s, i) || PQftype(s->res, i) != PG_BYTEA_OID)
        return false;
    if (s->blob_row[i] == s->row)
        return true;
    const char *v = PQgetvalue(s->res, s->row, i);
    size_t n = (size_t)PQgetlength(s->res, s->row, i);
    if (n < 2 || v[0] != '\\' || v[1] != 'x' || n % 2)
        return false;
    size_t len = (n - 2) / 2;
    unsigned char *p = realloc(s->blob[i], len ? len : 1);
    if (!p)
        return false;
    for (size_t k = 0; k < len; k++) {
        int hi = pg_hex(v[2 + 2 * k]), lo = pg_hex(v[3 + 2 * k]);
        if (hi < 0 || lo < 0) {
            free(p);
            s->blob[i] = NULL;
            return false;
        }
        p[k] = (unsigned char)(hi << 4 | lo);
    }
    s->blob[i] = p;
    s->blob_len[i] = len;
    s->blob_row[i] = s->row;
    return true;
}

static const void *pg_column_blob(cf_db_stmt *st, int i)
{
    pg_stmt *s = pg_st(st);
    if (pg_decode_blob(s, i))
        return s->blob[i];
    return pg_column_text(st, i); /* a text column read as bytes */
}

static size_t pg_column_bytes(cf_db_stmt *st, int i)
{
    pg_stmt *s = pg_st(st);
    if (pg_decode_blob(s, i))
        return s->blob_len[i];
    return pg_has_value(s, i) ? (size_t)PQgetlength(s->res, s->row, i) : 0;
}

static int64_t pg_changes(cf_db *db)
{
    return pg(db)->changes;
}

/* ---- transactions ---- */

static bool pg_begin(cf_db *db)
{
    return pg_lock_writers(db) || pg_fail(db);
}

static bool pg_commit(cf_db *db)
{
    bool ok = pg_run_simple(db, "COMMIT");
    pg(db)->in_tx = false;
    return ok || pg_fail(db);
}

static void pg_rollback(cf_db *db)
{
    if (PQstatus(pg(db)->conn) == CONNECTION_OK)
        (void)pg_run_simple(db, "ROLLBACK");
    pg(db)->in_tx = false;
}

static bool pg_read_begin(cf_db *db)
{
    return pg_start_tx(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") || pg_fail(db);
}

static bool pg_in_transaction(cf_db *db)
{
    return pg(db)->in_tx;
}

static bool pg_lead(cf_db *db, int64_t key, bool *leader)
{
    pg_conn *c = pg(db);
    *leader = false;
    if (!pg_ensure_connected(db))
        return pg_fail(db);
    if (c->lead_generation == c->generation && c->lead_key == key) {
        *leader = true; /* the same session: the lock is still ours */
        return true;
    }
    char sql[80];
    snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%" PRId64 ")", key);
    PGresult *res = CF_WHILE_BLOCKED(PQexec(c->conn, sql));
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    if (!ok)
        (void)pg_result_failure(db, res);
    else if (PQgetvalue(res, 0, 0)[0] == 't') {
        *leader = true;
        c->lead_key = key;
        c->lead_generation = c->generation;
    }
    PQclear(res);
    return ok || pg_fail(db);
}

/* ---- schema version: one row per store in coffer_schema ---- */

/* Runs `sql` with $1 = the store's name (and $2 = `version` text, if any). */
static bool pg_version_query(cf_db *db, const char *sql, const char *version, PGresult **out)
{
    const char *params[2] = {db->store_name, version};
    *out = PQexecParams(pg(db)->conn, sql, version ? 2 : 1, NULL, params, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(*out);
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)
        return true;
    (void)pg_result_failure(db, *out);
    PQclear(*out);
    *out = NULL;
    return pg_fail(db);
}

static bool pg_user_version(cf_db *db, int64_t *version)
{
    *version = 0;
    if (!pg_exec(db, "CREATE TABLE IF NOT EXISTS coffer_schema"
                     " (store TEXT PRIMARY KEY, version BIGINT NOT NULL)"))
        return false;
    PGresult *res;
    CF_GUARD(
        pg_version_query(db, "SELECT version FROM coffer_schema WHERE store = $1", NULL, &res));
    if (PQntuples(res) > 0)
        *version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return true;
}

static bool pg_set_user_version(cf_db *db, int64_t version)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, version);
    PGresult *res;
    CF_GUARD(pg_version_query(db,
                              "INSERT INTO coffer_schema (store, version) VALUES ($1, $2)"
                              " ON CONFLICT (store) DO UPDATE SET version = excluded.version",
                              text, &res));
    PQclear(res);
    return true;
}

const cf_db_driver cf_db_postgres_driver = {
    .open = pg_open,
    .close = pg_close,
    .fail = pg_fail,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .reset = pg_reset,
    .finalize = pg_finalize,
    .bind_text = pg_bind_text,
    .bind_int64 = pg_bind_int64,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .bind_copy = pg_bind_copy,
    .step = pg_step,
    .column_is_null = pg_column_is_null,
    .column_is_blob = pg_column_is_blob,
    .column_int64 = pg_column_int64,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .column_bytes = pg_column_bytes,
    .changes = pg_changes,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .read_begin = pg_read_begin,
    .in_transaction = pg_in_transaction,
    .lead = pg_lead,
    .user_version = pg_user_version,
    .set_user_version = pg_set_user_version,
};

/* ---- the listener (db.h: change notices) ---- */

/* How long the listener waits between reconnection attempts, and at most
 * for a notice before checking whether it should stop (milliseconds). */
#define PG_LISTEN_RETRY_MS 1000
#define PG_LISTEN_POLL_MS 200

struct cf_db_listener {
    pthread_t thread;
    char *conninfo;
    char channel[64];
    cf_db_notice_fn fn;
    void *ctx;
    _Atomic bool stop;
    PGconn *conn;
};

/* Connects and LISTENs; NULL on failure. */
static PGconn *pg_listen_connect(cf_db_listener *l)
{
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const values[] = {PG_CONNECT_TIMEOUT, "coffer-listener", l->conninfo, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        PQfinish(conn);
        return NULL;
    }
    char sql[96];
    snprintf(sql, sizeof sql, "LISTEN %s", l->channel);
    PGresult *res = PQexec(conn, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* Waits for notices on the live connection; returns when it is lost or the
 * listener stops. */
static void pg_listen_serve(cf_db_listener *l)
{
    while (!l->stop) {
        struct pollfd p = {.fd = PQsocket(l->conn), .events = POLLIN};
        int n = poll(&p, 1, PG_LISTEN_POLL_MS);
        if (n < 0 && errno != EINTR)
            return;
        if (n > 0 && !PQconsumeInput(l->conn))
            return;
        PGnotify *note;
        while ((note = PQnotifies(l->conn)) != NULL) {
            l->fn(l->ctx, note->extra ? note->extra : "");
            PQfreemem(note);
        }
        if (PQstatus(l->conn) != CONNECTION_OK)
            return;
    }
}

static void *pg_listen_main(void *arg)
{
    cf_db_listener *l = arg;
    while (!l->stop) {
        if (!l->conn)
            l->conn = pg_listen_connect(l);
        if (l->conn) {
            /* Notices sent while no one listened are gone. */
            l->fn(l->ctx, NULL);
            pg_listen_serve(l);
            if (l->stop)
                break;
            cf_log(CF_LOG_WARN, NULL, "change notices (%s): connection lost; reconnecting",
                   l->channel);
            PQfinish(l->conn);
            l->conn = NULL;
            l->fn(l->ctx, NULL);
        }
        for (int waited = 0; waited < PG_LISTEN_RETRY_MS && !l->stop; waited += PG_LISTEN_POLL_MS)
            poll(NULL, 0, PG_LISTEN_POLL_MS);
    }
    return NULL;
}

bool cf_db_listen(const cf_db_config *config, const char *channel, cf_db_notice_fn fn, void *ctx,
                  cf_db_listener **out)
{
    *out = NULL;
    if (config->backend != CF_DB_POSTGRES)
        return true;
    size_t n = strlen(channel);
    CF_ENSURE(n > 0 && n < sizeof((cf_db_listener *)NULL)->channel &&
                  strspn(channel, "abcdefghijklmnopqrstuvwxyz0123456789_") == n,
              CF_ERR_INTERNAL, "bad notice channel name");
    cf_db_listener *l = calloc(1, sizeof *l);
    CF_ENSURE_ALLOC(l);
    memcpy(l->channel, channel, n + 1);
    l->fn = fn;
    l->ctx = ctx;
    l->conninfo = strdup(config->conninfo ? config->conninfo : "");
    if (!l->conninfo) {
        free(l);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    l->conn = pg_listen_connect(l);
    if (!l->conn) {
        free(l->conninfo);
        free(l);
        cf_error_raisef(CF_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: cannot listen for changes",
                        config->what);
        return false;
    }
    if (pthread_create(&l->thread, NULL, pg_listen_main, l) != 0) {
        PQfinish(l->conn);
        free(l->conninfo);
        free(l);
        CF_BAIL(CF_ERR_INTERNAL, "cannot start the change listener");
    }
    *out = l;
    return true;
}

void cf_db_listener_stop(cf_db_listener *l)
{
    if (!l)
        return;
    l->stop = true;
    pthread_join(l->thread, NULL);
    PQfinish(l->conn);
    free(l->conninfo);
    free(l);
}
