/*
 * Reading an audit log over HTTP (docs/audit.md): the vault's
 * GET /coffer/audit and coffer-blob's GET /.coffer/audit, for the console
 * and for scripts.  Each service decides who may; this answers:
 *
 *   ?principal=OID   exact     ?operation=TEXT   contained in the operation
 *   ?object=PREFIX   prefix    ?result=success|denied|failure|throttled
 *   ?since=UNIX ?until=UNIX   time bounds      ?top=N  (1-1000, default 100)
 *   ?verify=true     also check the whole hash chain (reads all of the log)
 *
 * Lines come newest first, as written (every member of the line, "prev"
 * included, so a client can recompute the chain over what it got).  The
 * filter reads at most the newest CF_AUDIT_SCAN_MAX bytes of the log, so a
 * request costs bounded time and memory however long the log has grown;
 * `coffer audit verify` reads all of it, as does ?verify=true.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_log.h"
#include "audit_query.h"
#include "fsutil.h"

#define CF_AUDIT_SCAN_MAX (64u << 20)
#define CF_AUDIT_TOP_MAX 1000
#define CF_AUDIT_READ_CHUNK (1u << 20)

typedef struct {
    const char *principal, *operation, *object, *result;
    char since[32], until[32]; /* ISO 8601, compared as text */
    size_t top;
} cf_audit_filter;

static bool cf_iso_bound(const char *unix_text, char out[32])
{
    out[0] = 0;
    if (!unix_text)
        return true;
    char *end;
    long long v = strtoll(unix_text, &end, 10);
    CF_ENSURE(*unix_text && !*end && v >= 0 && v < 253402300800LL, CF_ERR_BAD_INPUT,
              "since and until are Unix times in seconds");
    time_t t = (time_t)v;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    return true;
}

static bool cf_filter_read(const cf_http_request *req, cf_audit_filter *f)
{
    f->principal = cf_http_query(req, "principal");
    f->operation = cf_http_query(req, "operation");
    f->object = cf_http_query(req, "object");
    f->result = cf_http_query(req, "result");
    CF_GUARD(cf_iso_bound(cf_http_query(req, "since"), f->since));
    CF_GUARD(cf_iso_bound(cf_http_query(req, "until"), f->until));
    const char *top = cf_http_query(req, "top");
    f->top = 100;
    if (top) {
        char *end;
        long long v = strtoll(top, &end, 10);
        CF_ENSURE(*top && !*end && v >= 1 && v <= CF_AUDIT_TOP_MAX, CF_ERR_BAD_INPUT,
                  "top must be a number from 1 to 1000");
        f->top = (size_t)v;
    }
    return true;
}

static const char *cf_member(json_t *line, const char *name)
{
    const char *v = json_string_value(json_object_get(line, name));
    return v ? v : "";
}

static bool cf_matches(const cf_audit_filter *f, json_t *line)
{
    const char *time = cf_member(line, "time");
    return (!f->principal || strcmp(cf_member(line, "principal"), f->principal) == 0) &&
           (!f->operation || strstr(cf_member(line, "operation"), f->operation)) &&
           (!f->object || strncmp(cf_member(line, "object"), f->object, strlen(f->object)) == 0) &&
           (!f->result || strcmp(cf_member(line, "result"), f->result) == 0) &&
           (!f->since[0] || strcmp(time, f->since) >= 0) &&
           (!f->until[0] || strcmp(time, f->until) < 0);
}

/* The newest `top` matches, kept in a ring. */
typedef struct {
    json_t **ring;
    size_t top, count, next;
    uint64_t scanned;
} cf_audit_matches;

static void cf_keep(cf_audit_matches *m, json_t *line)
{
    json_decref(m->ring[m->next]);
    m->ring[m->next] = line;
    m->next = (m->next + 1) % m->top;
    if (m->count < m->top)
        m->count++;
}

static void cf_scan_line(const cf_audit_filter *f, cf_audit_matches *m, const char *p, size_t n)
{
    json_t *line = n ? json_loadb(p, n, 0, NULL) : NULL;
    m->scanned += line != NULL;
    if (line && cf_matches(f, line))
        cf_keep(m, line);
    else
        json_decref(line);
}

/* Reads the log's newest CF_AUDIT_SCAN_MAX bytes line by line. */
static bool cf_scan(const char *path, const cf_audit_filter *f, cf_audit_matches *m)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CF_ENSURE(fd >= 0, CF_ERR_IO, "the audit log cannot be read");
    struct stat st;
    bool ok = fstat(fd, &st) == 0;
    off_t off = ok && st.st_size > (off_t)CF_AUDIT_SCAN_MAX ? st.st_size - CF_AUDIT_SCAN_MAX : 0;
    bool skip_partial = off > 0; /* the first line read may be cut */
    cf_buf buf;
    cf_buf_init(&buf, CF_AUDIT_READ_CHUNK + CF_AUDIT_LINE_MAX + 2);
    while (ok) {
        size_t room = CF_AUDIT_READ_CHUNK;
        if (!cf_buf_reserve(&buf, room)) {
            ok = false;
            break;
        }
        ssize_t got = pread(fd, buf.data + buf.len, room, off);
        if (got <= 0) {
            ok = got == 0;
            break;
        }
        off += got;
        buf.len += (size_t)got;
        size_t start = 0;
        for (size_t i = 0; i < buf.len; i++) {
            if (buf.data[i] != '\n')
                continue;
            if (!skip_partial)
                cf_scan_line(f, m, (const char *)buf.data + start, i - start);
            skip_partial = false;
            start = i + 1;
        }
        memmove(buf.data, buf.data + start, buf.len - start);
        buf.len -= start;
        if (buf.len > CF_AUDIT_LINE_MAX) /* not a line of ours: drop it */
            buf.len = 0;
    }
    close(fd);
    cf_buf_free(&buf);
    CF_ENSURE(ok, CF_ERR_IO, "the audit log cannot be read");
    return true;
}

static json_t *cf_verification(const char *path)
{
    cf_audit_report rep;
    if (!cf_audit_verify(path, NULL, &rep))
        cf_error_clear(); /* the report says what is wrong */
    const char *status = rep.verdict == CF_AUDIT_INTACT   ? "intact"
                         : rep.verdict == CF_AUDIT_BROKEN ? "broken"
                                                          : "unreadable";
    return json_pack("{s:s, s:I, s:I, s:s, s:s}", "status", status, "lines", (json_int_t)rep.lines,
                     "bad_line", (json_int_t)rep.bad_line, "reason", rep.reason, "head",
                     rep.head_hash);
}

bool cf_audit_query(const cf_http_request *req, const char *data_dir, json_t **out)
{
    cf_audit_filter f;
    CF_GUARD(cf_filter_read(req, &f));
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/audit.log", data_dir);
    CF_ENSURE(n > 0 && (size_t)n < sizeof path, CF_ERR_INTERNAL, "data directory path too long");
    cf_audit_matches m = {.top = f.top};
    m.ring = calloc(f.top, sizeof *m.ring);
    CF_ENSURE_ALLOC(m.ring);
    bool ok = cf_scan(path, &f, &m);
    json_t *lines = json_array();
    for (size_t k = 0; ok && lines && k < m.count; k++) {
        size_t i = (m.next + m.top - 1 - k) % m.top; /* newest first */
        ok = json_array_append(lines, m.ring[i]) == 0;
    }
    for (size_t i = 0; i < m.top; i++)
        json_decref(m.ring[i]);
    free(m.ring);
    const char *verify = cf_http_query(req, "verify");
    json_t *reply = ok && lines
                        ? json_pack("{s:o, s:I}", "value", lines, "scanned", (json_int_t)m.scanned)
                        : NULL;
    if (!reply)
        json_decref(lines);
    if (reply && verify && strcmp(verify, "true") == 0)
        ok = json_object_set_new(reply, "verification", cf_verification(path)) == 0;
    if (!ok) {
        json_decref(reply);
        reply = NULL;
    }
    CF_ENSURE(reply, cf_error_code() ? cf_error_code() : CF_ERR_NOMEM,
              "the audit log cannot be listed");
    *out = reply;
    return true;
}
