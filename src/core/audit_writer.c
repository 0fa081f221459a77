/*
 * Audit log writer; see audit.h and docs/audit.md.
 *
 * Ordering: one mutex covers seq, head, the file size and the write, so
 * lines reach the file in seq order, each with one complete write (a short
 * write is continued, a failed one rolled back), and each line's prev is
 * the hash of the line before it.  Escaping happens before the mutex.
 *
 * Group commit (group_sync.h): each line written is numbered under the
 * mutex; a durable append then waits, without the mutex, until an
 * fdatasync covers its number.  Concurrent durable appends share one
 * fdatasync, and at most one runs at a time.
 */
#include "audit_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "group_sync.h"
#include "log.h"
#include "metrics.h"
#include "units.h"

struct cf_audit {
    pthread_mutex_t mu; /* guards the fields below but `sync` */
    int fd;
    bool failed;  /* sticky: a write that could not be rolled back */
    uint64_t seq; /* last line written */
    off_t size;   /* bytes in the file, all complete lines */
    /* Lines written since open, numbered for the group commit; a failed
     * fdatasync there fails the log too. */
    cf_group_sync sync;
    uint8_t head[CF_AUDIT_HASH_LEN];
    char line[CF_AUDIT_LINE_MAX + 1]; /* render buffer, under mu */
};

static void cf_hex(const uint8_t h[CF_AUDIT_HASH_LEN], char out[65])
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < CF_AUDIT_HASH_LEN; i++) {
        out[2 * i] = d[h[i] >> 4];
        out[2 * i + 1] = d[h[i] & 15];
    }
    out[64] = 0;
}

static bool cf_pread_all(int fd, void *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        CF_ENSURE(n > 0, CF_ERR_IO, "cannot read the audit log");
        done += (size_t)n;
    }
    return true;
}

/* Offset of the last '\n' before `end`, or -1; scans back in chunks. */
static bool cf_find_newline(int fd, off_t end, off_t *out)
{
    char chunk[4096];
    *out = -1;
    while (end > 0) {
        size_t n = end < (off_t)sizeof chunk ? (size_t)end : sizeof chunk;
        CF_GUARD(cf_pread_all(fd, chunk, n, end - (off_t)n));
        for (size_t i = n; i > 0; i--) {
            if (chunk[i - 1] == '\n') {
                *out = end - (off_t)n + (off_t)(i - 1);
                return true;
            }
        }
        end -= (off_t)n;
    }
    return true;
}

/* Cuts a torn tail, then reads the last line for seq and head. */
static bool cf_audit_recover(cf_audit *a, cf_audit_open_info *info)
{
    struct stat st;
    CF_ENSURE(fstat(a->fd, &st) == 0, CF_ERR_IO, "cannot stat the audit log");
    CF_ENSURE(S_ISREG(st.st_mode), CF_ERR_IO, "the audit log is not a regular file");
    off_t nl;
    CF_GUARD(cf_find_newline(a->fd, st.st_size, &nl));
    a->size = nl + 1;
    if (a->size < st.st_size) {
        CF_ENSURE(ftruncate(a->fd, a->size) == 0 && fsync(a->fd) == 0, CF_ERR_IO,
                  "cannot cut the torn end of the audit log");
        info->truncated = (unsigned long long)(st.st_size - a->size);
    }
    CF_GUARD(cf_audit_genesis(a->head));
    if (a->size == 0)
        return true;
    /* The last line is at most CF_AUDIT_LINE_MAX bytes, so the newline
     * before it (or the start of the file) is within that many + 1. */
    off_t from = nl > CF_AUDIT_LINE_MAX ? nl - (CF_AUDIT_LINE_MAX + 1) : 0;
    size_t n = (size_t)(nl - from);
    CF_GUARD(cf_pread_all(a->fd, a->line, n, from));
    size_t start = 0;
    for (size_t i = n; i > 0; i--) {
        if (a->line[i - 1] == '\n') {
            start = i;
            break;
        }
    }
    CF_ENSURE(start > 0 || from == 0, CF_ERR_IO, "the audit log's last line is too long");
    cf_slice last = cf_slice_of(a->line + start, n - start);
    cf_audit_line_info li;
    CF_ENSUREF(cf_audit_line_parse(last, &li), CF_ERR_IO,
               "the audit log's last line is not a valid audit line (%s); "
               "check it with `coffer audit verify`",
               cf_error_detail());
    CF_GUARD(cf_audit_line_hash(last, a->head));
    a->seq = li.seq;
    return true;
}

static void cf_audit_free(cf_audit *a)
{
    if (a->fd >= 0)
        close(a->fd);
    cf_group_sync_destroy(&a->sync);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

bool cf_audit_open(const char *path, cf_audit **out, cf_audit_open_info *info)
{
    cf_audit_open_info scratch;
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof *info);
    *out = NULL;
    cf_audit *a = calloc(1, sizeof *a);
    CF_ENSURE_ALLOC(a);
    pthread_mutex_init(&a->mu, NULL);
    cf_group_sync_init(&a->sync, 0);
    int flags = O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
    a->fd = open(path, flags | O_CREAT | O_EXCL, 0600);
    info->created = a->fd >= 0;
    if (a->fd < 0 && errno == EEXIST)
        a->fd = open(path, flags);
    bool ok = true;
    if (a->fd < 0) {
        cf_error_raisef(CF_ERR_IO, __FILE__, __LINE__, "cannot open the audit log %.100s: %s", path,
                        strerror(errno));
        ok = false;
    } else if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
        CF_RAISE(CF_ERR_CONFLICT, "the audit log is in use by another process");
        ok = false;
    }
    ok = ok && (!info->created || cf_fsync_dir_of(path)) && cf_audit_recover(a, info);
    if (ok && fchmod(a->fd, 0600) != 0) {
        CF_RAISE(CF_ERR_IO, "cannot set the audit log's mode");
        ok = false;
    }
    if (!ok) {
        cf_audit_free(a);
        return false;
    }
    cf_group_sync_attach(&a->sync, a->fd); /* numbers the lines written from now on */
    info->seq = a->seq;
    cf_hex(a->head, info->head);
    *out = a;
    return true;
}

/* Writes all of buf at the end of the file; on failure the file is cut back
 * to its last complete line, or the log is failed when that is impossible. */
static bool cf_audit_write_locked(cf_audit *a, const char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(a->fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (done > 0 && ftruncate(a->fd, a->size) != 0)
                a->failed = true;
            CF_BAIL(CF_ERR_IO, "cannot write the audit log");
        }
        done += (size_t)n;
    }
    a->size += (off_t)len;
    return true;
}

static bool cf_audit_line_locked(cf_audit *a, const cf_audit_fields *f)
{
    CF_ENSURE(!a->failed && !cf_group_sync_failed(&a->sync), CF_ERR_IO,
              "the audit log failed earlier");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * CF_MS_PER_SECOND + ts.tv_nsec / CF_NS_PER_MS;
    size_t n = cf_audit_line_render(a->seq + 1, ms, f, a->head, a->line);
    uint8_t h[CF_AUDIT_HASH_LEN];
    CF_GUARD(cf_audit_line_hash(cf_slice_of(a->line, n), h));
    a->line[n++] = '\n';
    CF_GUARD(cf_audit_write_locked(a, a->line, n));
    a->seq++;
    cf_group_sync_note(&a->sync); /* the caller reads the number back under mu */
    memcpy(a->head, h, sizeof h);
    return true;
}

static const char cf_audit_sync_failed[] = "the audit log could not be synced";

bool cf_audit_append(cf_audit *a, const cf_audit_event *ev, bool durable)
{
    CF_ENSURE_REF(a);
    CF_ENSURE_REF(ev);
    cf_audit_fields f;
    cf_audit_fields_from_event(ev, &f);
    pthread_mutex_lock(&a->mu);
    bool ok = cf_audit_line_locked(a, &f);
    uint64_t written = cf_group_sync_last(&a->sync);
    pthread_mutex_unlock(&a->mu);
    if (ok && durable)
        ok = cf_group_sync_wait(&a->sync, written, cf_audit_sync_failed);
    return ok;
}

bool cf_audit_sync(cf_audit *a)
{
    CF_ENSURE_REF(a);
    pthread_mutex_lock(&a->mu);
    uint64_t written = cf_group_sync_last(&a->sync);
    bool failed = a->failed;
    pthread_mutex_unlock(&a->mu);
    /* A write that could not be rolled back left a torn line: nothing
     * unsynced can be vouched for. */
    CF_ENSURE(!failed || cf_group_sync_covers(&a->sync, written), CF_ERR_IO, cf_audit_sync_failed);
    return cf_group_sync_wait(&a->sync, written, cf_audit_sync_failed);
}

void cf_audit_head(cf_audit *a, uint64_t *seq, char head[65])
{
    pthread_mutex_lock(&a->mu);
    *seq = a->seq;
    cf_hex(a->head, head);
    pthread_mutex_unlock(&a->mu);
}

void cf_audit_close(cf_audit *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    if (!a->failed && !cf_group_sync_failed(&a->sync) &&
        !cf_group_sync_covers(&a->sync, cf_group_sync_last(&a->sync)))
        (void)fdatasync(a->fd); /* best effort: close has no one to report to */
    pthread_mutex_unlock(&a->mu);
    cf_audit_free(a);
}

static const cf_metric_family cf_audit_lines_family = {"coffer_audit_lines",
                                                       "Lines in the audit log.", CF_METRIC_GAUGE};
static const cf_metric_family cf_audit_lag_family = {
    "coffer_audit_lines_not_durable",
    "Audit lines written but not yet known to be on disk (the log's lag).", CF_METRIC_GAUGE};
static const cf_metric_family cf_audit_bytes_family = {
    "coffer_audit_log_bytes", "Size of the audit log file.", CF_METRIC_GAUGE};
static const cf_metric_family cf_audit_failed_family = {
    "coffer_audit_log_failed", "1 once a write or fdatasync of the audit log has failed.",
    CF_METRIC_GAUGE};

static bool cf_audit_collect(void *ctx, cf_buf *out)
{
    cf_audit *a = ctx;
    pthread_mutex_lock(&a->mu);
    uint64_t seq = a->seq, size = (uint64_t)a->size;
    bool failed = a->failed || cf_group_sync_failed(&a->sync);
    pthread_mutex_unlock(&a->mu);
    uint64_t written = cf_group_sync_last(&a->sync);
    uint64_t synced = atomic_load(&a->sync.synced);
    const struct {
        const cf_metric_family *family;
        double value;
    } rows[] = {{&cf_audit_lines_family, (double)seq},
                {&cf_audit_lag_family, (double)(written > synced ? written - synced : 0)},
                {&cf_audit_bytes_family, (double)size},
                {&cf_audit_failed_family, failed ? 1 : 0}};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        CF_GUARD(cf_metrics_write_family(out, rows[i].family) &&
                 cf_metrics_write_sample(out, rows[i].family->name, NULL, rows[i].value));
    return true;
}

bool cf_audit_open_logged(const char *path, cf_audit **out)
{
    cf_audit_open_info info;
    CF_GUARD(cf_audit_open(path, out, &info));
    if (!cf_metrics_register(cf_audit_collect, *out))
        cf_log(CF_LOG_WARN, NULL, "audit log: %s", cf_error_detail());
    if (info.truncated)
        cf_log(CF_LOG_WARN, NULL, "audit log: cut off %llu bytes of a torn last line",
               info.truncated);
    cf_log(CF_LOG_INFO, NULL, "audit log %s: %llu lines, head %s", path,
           (unsigned long long)info.seq, info.head);
    return true;
}

void cf_audit_close_logged(cf_audit *a)
{
    if (!a)
        return;
    uint64_t seq;
    char head[65];
    cf_audit_head(a, &seq, head);
    cf_log(CF_LOG_INFO, NULL, "audit log closed: %llu lines, head %s", (unsigned long long)seq,
           head);
    cf_metrics_unregister(a);
    cf_audit_close(a);
}
