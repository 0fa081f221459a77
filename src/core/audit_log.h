/*
 * The audit log's line format: escaping, rendering, parsing and the
 * verifier.  Specified in docs/audit.md.
 *
 * This half has no state and does no I/O except in cf_audit_verify(), which
 * reads a file; it is linked into the CLI.  The writer (open, recover, append
 * with group commit) is audit_writer.c.  Hashing goes through crypto.h,
 * so cf_crypto_init() must have run.
 */
#ifndef CF_AUDIT_LOG_H
#define CF_AUDIT_LOG_H

#include <stdint.h>

#include "buf.h"

/* A line without its newline; rendered lines are far shorter (6 fields of at
 * most 512 bytes plus ~250 bytes of members). */
#define CF_AUDIT_LINE_MAX 8192
/* Each string member, after escaping. */
#define CF_AUDIT_FIELD_MAX 512
#define CF_AUDIT_GENESIS "coffer audit log v1"
#define CF_AUDIT_HASH_LEN 32

/* What one request contributes.  Strings are borrowed; NULL means "". They
 * must never hold secret values, tokens or key material (see docs/audit.md). */
typedef struct {
    const char *request_id;
    const char *principal;
    const char *client;
    const char *operation;
    const char *object;
    const char *result;
    unsigned status;
} cf_audit_event;

/* An event with its strings escaped and capped, ready to render.  Escaping is
 * the costly part, so the writer does it before taking its lock. */
#define CF_AUDIT_N_FIELDS 6
typedef struct {
    char field[CF_AUDIT_N_FIELDS][CF_AUDIT_FIELD_MAX];
    size_t len[CF_AUDIT_N_FIELDS];
    unsigned status;
} cf_audit_fields;

/* Escapes `s` (NUL-terminated; NULL is "") into the canonical JSON string
 * form, without quotes, cut at a character boundary so the result is at most
 * `cap` bytes.  Returns the length written. */
size_t cf_audit_escape(const char *s, char *out, size_t cap);
void cf_audit_fields_from_event(const cf_audit_event *ev, cf_audit_fields *out);

/* Renders one line (without newline) into `out`, which holds
 * CF_AUDIT_LINE_MAX bytes; returns its length.  `time_ms` is milliseconds
 * since the Unix epoch. */
size_t cf_audit_line_render(uint64_t seq, int64_t time_ms, const cf_audit_fields *f,
                            const uint8_t prev[CF_AUDIT_HASH_LEN], char *out);

/* What the chain needs from a parsed line. */
typedef struct {
    uint64_t seq;
    uint8_t prev[CF_AUDIT_HASH_LEN];
    unsigned status;
} cf_audit_line_info;

/* Parses a line (without newline) in the canonical form.  Fails with
 * CF_ERR_BAD_INPUT and a detail naming what is wrong. */
CF_MUST_USE bool cf_audit_line_parse(cf_slice line, cf_audit_line_info *out);

/* SHA-256 of the genesis string: the first line's prev, an empty log's head. */
CF_MUST_USE bool cf_audit_genesis(uint8_t out[CF_AUDIT_HASH_LEN]);
CF_MUST_USE bool cf_audit_line_hash(cf_slice line, uint8_t out[CF_AUDIT_HASH_LEN]);

/* ---- verification ---- */

/* An anchor recorded outside the log (docs/audit.md): lines = 0 and
 * head = NULL check nothing. */
typedef struct {
    unsigned long long lines; /* the log must have at least this many lines */
    const char *head;         /* 64 hex: the head, or line `lines`'s hash */
} cf_audit_expect;

typedef enum {
    CF_AUDIT_INTACT = 0,
    CF_AUDIT_BROKEN,     /* bad_line and reason say where and why */
    CF_AUDIT_UNREADABLE, /* the file could not be read; reason says why */
} cf_audit_verdict;

typedef struct {
    cf_audit_verdict verdict;
    unsigned long long lines;    /* lines verified intact (before bad_line) */
    unsigned long long bad_line; /* 1-based; 0 when intact or unreadable */
    char reason[160];
    char head_hash[65]; /* hash of the last intact line (genesis for none) */
} cf_audit_report;

/* Reads `path` line by line (bounded memory) and checks format, seq and
 * chain, then `expect` (may be NULL).  Returns true when the log is intact.
 * On false, rep->verdict tells a broken log (CF_AUDIT_BROKEN, with the
 * thread-local error CF_ERR_DECRYPT, "integrity check failed") from one that
 * could not be read (CF_AUDIT_UNREADABLE, CF_ERR_IO or CF_ERR_NOT_FOUND). */
CF_MUST_USE bool cf_audit_verify(const char *path, const cf_audit_expect *expect,
                                 cf_audit_report *rep);

#endif
