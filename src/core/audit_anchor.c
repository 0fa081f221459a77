/*
 * Audit anchors in a shared PostgreSQL store (see audit_anchor.h).
 */
#include "audit_anchor.h"

#include <stdio.h>
#include <string.h>

#include "encoding.h"

static const char cf_anchor_table[] =
    "CREATE TABLE IF NOT EXISTS coffer_audit_anchors ("
    "  service TEXT NOT NULL, chain TEXT NOT NULL, lines BIGINT NOT NULL,"
    "  head TEXT NOT NULL, front_end TEXT NOT NULL, recorded BIGINT NOT NULL,"
    "  PRIMARY KEY (service, chain, lines))";

bool cf_audit_chain_id(const char *path, char out[2 * CF_AUDIT_HASH_LEN + 1])
{
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    CF_ENSURE(f, CF_ERR_IO, "cannot read the audit log");
    char line[CF_AUDIT_LINE_MAX + 2];
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    size_t n = got ? strlen(line) : 0;
    if (n == 0 || line[n - 1] != '\n')
        return true; /* empty, or a first line still being written */
    uint8_t hash[CF_AUDIT_HASH_LEN];
    CF_GUARD(cf_audit_line_hash(cf_slice_of(line, n - 1), hash));
    cf_buf hex;
    cf_buf_init(&hex, 2 * CF_AUDIT_HASH_LEN + 1);
    bool ok = cf_hex_encode(cf_slice_of(hash, sizeof hash), &hex);
    if (ok)
        snprintf(out, 2 * CF_AUDIT_HASH_LEN + 1, "%.*s", (int)hex.len, (const char *)hex.data);
    cf_buf_free(&hex);
    return ok;
}

bool cf_audit_anchor_record(cf_db *db, const char *service, const char *front_end, const char *path,
                            cf_audit *a, int64_t now, cf_audit_anchor_state *st)
{
    static const char insert[] =
        "INSERT INTO coffer_audit_anchors (service, chain, lines, head, front_end, recorded)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";
    if (cf_db_backend_of(db) != CF_DB_POSTGRES)
        return true;
    uint64_t lines;
    char head[65];
    cf_audit_head(a, &lines, head);
    if (lines == 0 || lines == st->recorded)
        return true;
    /* The line is on disk before its anchor is anywhere else. */
    CF_GUARD(cf_audit_sync(a));
    if (!st->chain[0])
        CF_GUARD(cf_audit_chain_id(path, st->chain));
    if (!st->chain[0])
        return true;
    if (!st->table_ready) {
        CF_GUARD(cf_db_exec(db, cf_anchor_table));
        st->table_ready = true;
    }
    cf_db_stmt *s = CF_DB_PREP(db, insert, service, st->chain, NULL, head, front_end);
    CF_GUARD(s);
    cf_db_bind_int64(s, 3, (int64_t)lines);
    cf_db_bind_int64(s, 6, now);
    CF_GUARD(cf_db_run(db, s));
    st->recorded = lines;
    return true;
}

bool cf_audit_anchor_each_latest(cf_db *db, const char *service,
                                 bool (*each)(void *ctx, const cf_audit_anchor *an), void *ctx)
{
    static const char latest[] =
        "SELECT DISTINCT ON (chain) chain, lines, head, front_end, recorded"
        " FROM coffer_audit_anchors WHERE service = ?1 ORDER BY chain, lines DESC";
    if (cf_db_backend_of(db) != CF_DB_POSTGRES)
        return true;
    CF_GUARD(cf_db_exec(db, cf_anchor_table));
    cf_db_stmt *st = CF_DB_PREP(db, latest, service);
    CF_GUARD(st);
    int rc;
    bool ok = true;
    while (ok && (rc = cf_db_step(st)) == CF_DB_ROW) {
        const cf_audit_anchor an = {
            .chain = cf_db_column_text(st, 0),
            .lines = (uint64_t)cf_db_column_int64(st, 1),
            .head = cf_db_column_text(st, 2),
            .front_end = cf_db_column_text(st, 3),
            .recorded = cf_db_column_int64(st, 4),
        };
        ok = an.chain && an.head && an.front_end && each(ctx, &an);
    }
    if (ok)
        ok = cf_db_ok(db, rc);
    cf_db_done(st);
    return ok;
}
