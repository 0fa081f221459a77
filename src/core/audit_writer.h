/*
 * The audit log writer of Coffer's servers (coffer-vault, coffer-blob): one
 * hash-chained JSON line per data-plane request, appended to
 * DATA_DIR/audit.log.  Format and guarantees:
 * docs/audit.md; the line format and the verifier are src/core/audit_log.c
 * (shared with the CLI).
 *
 * One cf_audit per log file and process (an exclusive flock enforces it).
 * cf_audit_append() is called concurrently by request threads; everything
 * else is called once at start-up or shutdown.  cf_crypto_init() must have
 * run (lines are hashed with SHA-256).
 */
#ifndef CF_AUDIT_WRITER_H
#define CF_AUDIT_WRITER_H

#include <stdint.h>

#include "audit_log.h"

typedef struct cf_audit cf_audit;

/* What opening found; the caller logs it (library code does not log). */
typedef struct {
    uint64_t seq;                 /* the last line's seq; 0 for a new or empty log */
    char head[65];                /* its hash (hex), or the genesis hash */
    unsigned long long truncated; /* bytes of a torn last line cut off; 0 normally */
    bool created;                 /* the file did not exist */
} cf_audit_open_info;

/* Creates `path` (0600, directory fsynced) or opens it for append, locks it,
 * cuts off a torn tail (reported in info->truncated) and recovers seq and
 * head from the last line.  Fails with CF_ERR_CONFLICT when another process
 * holds the log, CF_ERR_IO when the last line is not a valid audit line
 * (a server will not extend a log it cannot chain onto).  `info` may be
 * NULL. */
CF_MUST_USE bool cf_audit_open(const char *path, cf_audit **out, cf_audit_open_info *info);

/* cf_audit_open for a server's start-up: logs what it found (lines, head,
 * a torn tail cut off) at info/warn level. */
CF_MUST_USE bool cf_audit_open_logged(const char *path, cf_audit **out);

/* Logs the head, flushes and closes: a server's shutdown anchor. */
void cf_audit_close_logged(cf_audit *a);

/* Flushes (fdatasync) what was written and closes; NULL is a no-op. */
void cf_audit_close(cf_audit *a);

/* Appends one line for `ev` (strings escaped and capped at
 * CF_AUDIT_FIELD_MAX bytes; NULL strings are "").  Thread-safe.  With
 * `durable` the line is on disk when this returns; concurrent durable
 * appends share fdatasync calls (group commit).  After a failed fdatasync,
 * or a failed write that could not be rolled back, the log is failed and
 * every later call fails with CF_ERR_IO. */
CF_MUST_USE bool cf_audit_append(cf_audit *a, const cf_audit_event *ev, bool durable);

/* Makes every line written so far durable. */
CF_MUST_USE bool cf_audit_sync(cf_audit *a);

/* The last line's seq and hash (hex), for anchoring the log elsewhere
 * (`coffer audit verify --expect-lines SEQ --expect-head HASH`). */
void cf_audit_head(cf_audit *a, uint64_t *seq, char head[65]);

#endif
