/*
 * Anchors of several front ends' audit logs in their shared PostgreSQL
 * store (docs/audit.md, "Several front ends").
 *
 * Each front end keeps its own hash chain (DATA_DIR/audit.log).  Every
 * sweep it records its log's current line count and head hash in the table
 * coffer_audit_anchors, under the log's chain id (the hash of its first
 * line) and the service ("vault", "blob").  `coffer audit verify LOG...
 * --store postgres:...` then checks every log against the latest anchor of
 * its chain, and that every chain the store knows has its log given: a log
 * cut short, rewritten or deleted on one front end no longer matches what
 * the others' database recorded.  On SQLite (one process, its log beside
 * its store) nothing is recorded.
 *
 * The caller serialises calls on `db` (the store's lock).
 */
#ifndef CF_AUDIT_ANCHOR_H
#define CF_AUDIT_ANCHOR_H

#include "audit_log.h"
#include "audit_writer.h"
#include "db.h"

typedef struct {
    char chain[2 * CF_AUDIT_HASH_LEN + 1]; /* "" until the log has a line */
    uint64_t recorded;                     /* the last line count recorded */
    bool table_ready;
} cf_audit_anchor_state;

/* The chain id of the log at `path`: the SHA-256 of its first line (hex);
 * "" when the log is empty. */
CF_MUST_USE bool cf_audit_chain_id(const char *path, char out[2 * CF_AUDIT_HASH_LEN + 1]);

/* Records the head of `a` (the log at `path`) when it moved since the last
 * call.  A no-op on SQLite. */
CF_MUST_USE bool cf_audit_anchor_record(cf_db *db, const char *service, const char *front_end,
                                        const char *path, cf_audit *a, int64_t now,
                                        cf_audit_anchor_state *st);

typedef struct {
    const char *chain, *head, *front_end;
    uint64_t lines;
    int64_t recorded;
} cf_audit_anchor;

/* Calls `each` with the latest anchor of every chain of `service`. */
CF_MUST_USE bool cf_audit_anchor_each_latest(cf_db *db, const char *service,
                                             bool (*each)(void *ctx, const cf_audit_anchor *an),
                                             void *ctx);

#endif
