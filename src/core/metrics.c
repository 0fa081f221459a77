/* Process-wide metrics; see metrics.h. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "metrics.h"

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Fixed tables: what a scrape can show is bounded, and so is the memory
 * (a few hundred KiB of zeroed pages, touched only as series appear). */
#define CF_METRICS_MAX_SERIES 4096
#define CF_METRICS_MAX_REQUEST_SERIES 2048
#define CF_METRICS_LABELS_MAX 160
#define CF_METRICS_MAX_FAMILIES 64

typedef struct {
    _Atomic(const cf_metric_family *) family; /* set last: the slot is then readable */
    char labels[CF_METRICS_LABELS_MAX];
    _Atomic int64_t value;
} cf_series;

/* Latency buckets' upper bounds in seconds; one more bucket counts the
 * slower requests, so the sum of all is the request count. */
static const double cf_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define CF_N_BUCKETS (sizeof cf_buckets / sizeof *cf_buckets)

typedef struct {
    _Atomic(const char *) operation; /* set last, as above */
    unsigned status;
    _Atomic uint64_t bytes_in, bytes_out, micros;
    _Atomic uint64_t buckets[CF_N_BUCKETS + 1];
} cf_request_series;

static cf_series cf_series_table[CF_METRICS_MAX_SERIES];
static cf_request_series cf_request_table[CF_METRICS_MAX_REQUEST_SERIES];
static pthread_mutex_t cf_metrics_insert_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t cf_metrics_dropped;

static struct cf_collector_slot {
    cf_metrics_collector collect;
    void *ctx;
} cf_collectors[CF_METRICS_MAX_COLLECTORS];
static size_t cf_n_collectors;
static pthread_mutex_t cf_collectors_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t cf_metrics_hash(const void *key, const char *text, unsigned extra)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)key ^ extra;
    for (const char *p = text; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return h ^ (h >> 29);
}

/* ---- plain series ---- */

static bool cf_series_is(const cf_series *s, const cf_metric_family *f, const char *labels)
{
    return atomic_load_explicit(&s->family, memory_order_acquire) == f &&
           strcmp(s->labels, labels) == 0;
}

/* Under the insert lock: probes again (another thread may have added the
 * series meanwhile) and fills the first free slot. */
static cf_series *cf_series_insert(const cf_metric_family *f, const char *labels, uint64_t h)
{
    cf_series *found = NULL;
    pthread_mutex_lock(&cf_metrics_insert_lock);
    for (size_t i = 0; i < CF_METRICS_MAX_SERIES && !found; i++) {
        cf_series *s = &cf_series_table[(h + i) % CF_METRICS_MAX_SERIES];
        if (cf_series_is(s, f, labels)) {
            found = s;
        } else if (!atomic_load_explicit(&s->family, memory_order_relaxed)) {
            snprintf(s->labels, sizeof s->labels, "%s", labels);
            atomic_store_explicit(&s->family, f, memory_order_release);
            found = s;
        }
    }
    pthread_mutex_unlock(&cf_metrics_insert_lock);
    return found;
}

static cf_series *cf_series_find(const cf_metric_family *f, const char *labels)
{
    if (strlen(labels) >= CF_METRICS_LABELS_MAX)
        return NULL;
    uint64_t h = cf_metrics_hash(f, labels, 0);
    for (size_t i = 0; i < CF_METRICS_MAX_SERIES; i++) {
        cf_series *s = &cf_series_table[(h + i) % CF_METRICS_MAX_SERIES];
        const cf_metric_family *sf = atomic_load_explicit(&s->family, memory_order_acquire);
        if (!sf)
            return cf_series_insert(f, labels, h);
        if (sf == f && strcmp(s->labels, labels) == 0)
            return s;
    }
    return NULL;
}

/* Adds `v` to the series, or sets it to `v`; a series that does not fit
 * is counted as dropped. */
static void cf_metrics_update(const cf_metric_family *family, const char *labels, int64_t v,
                              bool set)
{
    cf_series *s = cf_series_find(family, labels ? labels : "");
    if (!s)
        atomic_fetch_add_explicit(&cf_metrics_dropped, 1, memory_order_relaxed);
    else if (set)
        atomic_store_explicit(&s->value, v, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&s->value, v, memory_order_relaxed);
}

void cf_metrics_add(const cf_metric_family *family, const char *labels, int64_t delta)
{
    cf_metrics_update(family, labels, delta, false);
}

void cf_metrics_set(const cf_metric_family *family, const char *labels, int64_t value)
{
    cf_metrics_update(family, labels, value, true);
}

static const cf_metric_family cf_cache_family = {"coffer_cache_lookups_total",
                                                 "Cache lookups, by cache and whether they hit.",
                                                 CF_METRIC_COUNTER};

void cf_metrics_cache(const char *cache, bool hit)
{
    char labels[96];
    snprintf(labels, sizeof labels, "cache=\"%s\",result=\"%s\"", cache, hit ? "hit" : "miss");
    cf_metrics_add(&cf_cache_family, labels, 1);
}

/* ---- requests ---- */

static cf_request_series *cf_request_insert(const char *operation, unsigned status, uint64_t h)
{
    cf_request_series *found = NULL;
    pthread_mutex_lock(&cf_metrics_insert_lock);
    for (size_t i = 0; i < CF_METRICS_MAX_REQUEST_SERIES && !found; i++) {
        cf_request_series *r = &cf_request_table[(h + i) % CF_METRICS_MAX_REQUEST_SERIES];
        const char *op = atomic_load_explicit(&r->operation, memory_order_acquire);
        if (op && r->status == status && strcmp(op, operation) == 0) {
            found = r;
        } else if (!op) {
            r->status = status;
            atomic_store_explicit(&r->operation, operation, memory_order_release);
            found = r;
        }
    }
    pthread_mutex_unlock(&cf_metrics_insert_lock);
    return found;
}

static cf_request_series *cf_request_find(const char *operation, unsigned status)
{
    uint64_t h = cf_metrics_hash(NULL, operation, status);
    for (size_t i = 0; i < CF_METRICS_MAX_REQUEST_SERIES; i++) {
        cf_request_series *r = &cf_request_table[(h + i) % CF_METRICS_MAX_REQUEST_SERIES];
        const char *op = atomic_load_explicit(&r->operation, memory_order_acquire);
        if (!op)
            return cf_request_insert(operation, status, h);
        if (r->status == status && strcmp(op, operation) == 0)
            return r;
    }
    return NULL;
}

void cf_metrics_request(const char *operation, unsigned status, uint64_t bytes_in,
                        uint64_t bytes_out, double seconds)
{
    cf_request_series *r = cf_request_find(operation ? operation : "unrouted", status);
    if (!r) {
        atomic_fetch_add_explicit(&cf_metrics_dropped, 1, memory_order_relaxed);
        return;
    }
    size_t b = 0;
    while (b < CF_N_BUCKETS && seconds > cf_buckets[b])
        b++;
    atomic_fetch_add_explicit(&r->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->bytes_in, bytes_in, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->bytes_out, bytes_out, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->micros, (uint64_t)(seconds * 1e6), memory_order_relaxed);
}

/* ---- collectors ---- */

bool cf_metrics_register(cf_metrics_collector collect, void *ctx)
{
    pthread_mutex_lock(&cf_collectors_lock);
    bool room = cf_n_collectors < CF_METRICS_MAX_COLLECTORS;
    if (room)
        cf_collectors[cf_n_collectors++] = (struct cf_collector_slot){collect, ctx};
    pthread_mutex_unlock(&cf_collectors_lock);
    CF_ENSURE(room, CF_ERR_INTERNAL, "too many metrics collectors");
    return true;
}

void cf_metrics_unregister(void *ctx)
{
    pthread_mutex_lock(&cf_collectors_lock);
    size_t kept = 0;
    for (size_t i = 0; i < cf_n_collectors; i++)
        if (cf_collectors[i].ctx != ctx)
            cf_collectors[kept++] = cf_collectors[i];
    cf_n_collectors = kept;
    pthread_mutex_unlock(&cf_collectors_lock);
}

/* ---- the data directory ---- */

static const cf_metric_family cf_dir_bytes_family = {
    "coffer_data_dir_bytes", "Disk space used by the data directory (walked every 30 s at most).",
    CF_METRIC_GAUGE};
static const cf_metric_family cf_dir_files_family = {
    "coffer_data_dir_files", "Files in the data directory.", CF_METRIC_GAUGE};

static struct {
    char path[4096];
    time_t walked; /* 0: never */
    uint64_t bytes, files, entries;
} cf_data_dir; /* under cf_collectors_lock, as collectors run */

static int cf_dir_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag == FTW_F) {
        cf_data_dir.bytes += (uint64_t)st->st_blocks * 512;
        cf_data_dir.files++;
    }
    return ++cf_data_dir.entries >= CF_METRICS_DIR_MAX_ENTRIES;
}

/* Walks again when the last walk is stale (the caller holds the
 * collectors' lock). */
static void cf_data_dir_refresh(void)
{
    time_t now = time(NULL);
    if (cf_data_dir.path[0] &&
        (!cf_data_dir.walked || now - cf_data_dir.walked >= CF_METRICS_DIR_SECONDS)) {
        cf_data_dir.bytes = cf_data_dir.files = cf_data_dir.entries = 0;
        (void)nftw(cf_data_dir.path, cf_dir_visit, 16, FTW_PHYS | FTW_MOUNT);
        cf_data_dir.walked = now;
    }
}

void cf_metrics_data_dir(uint64_t *bytes, uint64_t *files)
{
    pthread_mutex_lock(&cf_collectors_lock);
    cf_data_dir_refresh();
    *bytes = cf_data_dir.bytes;
    *files = cf_data_dir.files;
    pthread_mutex_unlock(&cf_collectors_lock);
}

static bool cf_data_dir_collect(void *ctx, cf_buf *out)
{
    (void)ctx;
    cf_data_dir_refresh();
    return cf_metrics_write_family(out, &cf_dir_bytes_family) &&
           cf_metrics_write_sample(out, cf_dir_bytes_family.name, NULL,
                                   (double)cf_data_dir.bytes) &&
           cf_metrics_write_family(out, &cf_dir_files_family) &&
           cf_metrics_write_sample(out, cf_dir_files_family.name, NULL, (double)cf_data_dir.files);
}

bool cf_metrics_register_data_dir(const char *path)
{
    CF_ENSURE(strlen(path) < sizeof cf_data_dir.path, CF_ERR_BAD_INPUT, "data directory too long");
    snprintf(cf_data_dir.path, sizeof cf_data_dir.path, "%s", path);
    return cf_metrics_register(cf_data_dir_collect, &cf_data_dir);
}

/* ---- the text format ---- */

void cf_metrics_label(const char *value, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = value; *p; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        size_t len = esc ? 2 : 1;
        if (n + len >= cap)
            break;
        if (esc)
            memcpy(out + n, esc, 2);
        else
            out[n] = *p;
        n += len;
    }
    out[n] = 0;
}

bool cf_metrics_write_family(cf_buf *out, const cf_metric_family *family)
{
    char line[512];
    int n = snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", family->name, family->help,
                     family->name, family->kind == CF_METRIC_COUNTER ? "counter" : "gauge");
    CF_ENSURE(n > 0 && (size_t)n < sizeof line, CF_ERR_INTERNAL, "metric help too long");
    return cf_buf_append(out, line, (size_t)n);
}

bool cf_metrics_write_sample(cf_buf *out, const char *name, const char *labels, double value)
{
    char line[512];
    bool has = labels && *labels;
    int n = snprintf(line, sizeof line, "%s%s%s%s %.15g\n", name, has ? "{" : "", has ? labels : "",
                     has ? "}" : "", value);
    CF_ENSURE(n > 0 && (size_t)n < sizeof line, CF_ERR_INTERNAL, "metric sample too long");
    return cf_buf_append(out, line, (size_t)n);
}

/* The distinct families of the series table, in the order first seen. */
static size_t cf_families(const cf_metric_family *list[CF_METRICS_MAX_FAMILIES])
{
    size_t n = 0;
    for (size_t i = 0; i < CF_METRICS_MAX_SERIES; i++) {
        const cf_metric_family *f =
            atomic_load_explicit(&cf_series_table[i].family, memory_order_acquire);
        bool seen = !f;
        for (size_t j = 0; j < n && !seen; j++)
            seen = list[j] == f;
        if (!seen && n < CF_METRICS_MAX_FAMILIES)
            list[n++] = f;
    }
    return n;
}

static bool cf_render_series(cf_buf *out)
{
    const cf_metric_family *families[CF_METRICS_MAX_FAMILIES];
    size_t n = cf_families(families);
    for (size_t k = 0; k < n; k++) {
        CF_GUARD(cf_metrics_write_family(out, families[k]));
        for (size_t i = 0; i < CF_METRICS_MAX_SERIES; i++) {
            cf_series *s = &cf_series_table[i];
            if (atomic_load_explicit(&s->family, memory_order_acquire) == families[k])
                CF_GUARD(cf_metrics_write_sample(
                    out, families[k]->name, s->labels,
                    (double)atomic_load_explicit(&s->value, memory_order_relaxed)));
        }
    }
    return true;
}

static const cf_metric_family cf_requests_family = {
    "coffer_http_requests_total", "HTTP requests answered, by operation and status.",
    CF_METRIC_COUNTER};
static const cf_metric_family cf_received_family = {
    "coffer_http_received_bytes_total", "Request body bytes received, by operation and status.",
    CF_METRIC_COUNTER};
static const cf_metric_family cf_sent_family = {
    "coffer_http_sent_bytes_total", "Response body bytes sent, by operation and status.",
    CF_METRIC_COUNTER};
#define CF_DURATION "coffer_http_request_duration_seconds"

typedef struct {
    char labels[CF_METRICS_LABELS_MAX];
    uint64_t buckets[CF_N_BUCKETS + 1], count, bytes_in, bytes_out, micros;
} cf_request_view;

static bool cf_request_view_of(size_t i, cf_request_view *v)
{
    cf_request_series *r = &cf_request_table[i];
    const char *op = atomic_load_explicit(&r->operation, memory_order_acquire);
    if (!op)
        return false;
    char escaped[96];
    cf_metrics_label(op, escaped, sizeof escaped);
    snprintf(v->labels, sizeof v->labels, "operation=\"%s\",status=\"%u\"", escaped, r->status);
    v->count = 0;
    for (size_t b = 0; b <= CF_N_BUCKETS; b++) {
        v->buckets[b] = atomic_load_explicit(&r->buckets[b], memory_order_relaxed);
        v->count += v->buckets[b];
    }
    v->bytes_in = atomic_load_explicit(&r->bytes_in, memory_order_relaxed);
    v->bytes_out = atomic_load_explicit(&r->bytes_out, memory_order_relaxed);
    v->micros = atomic_load_explicit(&r->micros, memory_order_relaxed);
    return true;
}

/* One counter family over every request series: `pick` chooses the figure. */
static bool cf_render_request_counter(cf_buf *out, const cf_metric_family *family,
                                      uint64_t (*pick)(const cf_request_view *))
{
    CF_GUARD(cf_metrics_write_family(out, family));
    cf_request_view v;
    for (size_t i = 0; i < CF_METRICS_MAX_REQUEST_SERIES; i++)
        if (cf_request_view_of(i, &v))
            CF_GUARD(cf_metrics_write_sample(out, family->name, v.labels, (double)pick(&v)));
    return true;
}

static uint64_t cf_pick_count(const cf_request_view *v)
{
    return v->count;
}
static uint64_t cf_pick_in(const cf_request_view *v)
{
    return v->bytes_in;
}
static uint64_t cf_pick_out(const cf_request_view *v)
{
    return v->bytes_out;
}

static bool cf_render_histogram(cf_buf *out, const cf_request_view *v)
{
    char labels[CF_METRICS_LABELS_MAX + 32];
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= CF_N_BUCKETS; b++) {
        cumulative += v->buckets[b];
        char le[32];
        if (b < CF_N_BUCKETS)
            snprintf(le, sizeof le, "%g", cf_buckets[b]);
        else
            snprintf(le, sizeof le, "+Inf");
        snprintf(labels, sizeof labels, "%s,le=\"%s\"", v->labels, le);
        CF_GUARD(cf_metrics_write_sample(out, CF_DURATION "_bucket", labels, (double)cumulative));
    }
    CF_GUARD(cf_metrics_write_sample(out, CF_DURATION "_sum", v->labels, (double)v->micros / 1e6));
    return cf_metrics_write_sample(out, CF_DURATION "_count", v->labels, (double)v->count);
}

static bool cf_render_requests(cf_buf *out)
{
    CF_GUARD(cf_render_request_counter(out, &cf_requests_family, cf_pick_count));
    CF_GUARD(cf_render_request_counter(out, &cf_received_family, cf_pick_in));
    CF_GUARD(cf_render_request_counter(out, &cf_sent_family, cf_pick_out));
    CF_GUARD(cf_buf_append_str(out, "# HELP " CF_DURATION
                                    " Time from the request line to the end of the response.\n"
                                    "# TYPE " CF_DURATION " histogram\n"));
    cf_request_view v;
    for (size_t i = 0; i < CF_METRICS_MAX_REQUEST_SERIES; i++)
        if (cf_request_view_of(i, &v))
            CF_GUARD(cf_render_histogram(out, &v));
    return true;
}

/* ---- the process ---- */

static const cf_metric_family cf_cpu_family = {
    "process_cpu_seconds_total", "User and system CPU time spent, in seconds.", CF_METRIC_COUNTER};
static const cf_metric_family cf_rss_family = {"process_resident_memory_bytes",
                                               "Resident memory size in bytes.", CF_METRIC_GAUGE};
static const cf_metric_family cf_fds_family = {"process_open_fds",
                                               "Number of open file descriptors.", CF_METRIC_GAUGE};
static const cf_metric_family cf_start_family = {
    "process_start_time_seconds", "Start time of the process since the epoch, in seconds.",
    CF_METRIC_GAUGE};
static const cf_metric_family cf_dropped_family = {
    "coffer_metrics_dropped_series_total",
    "Samples not recorded because their series did not fit the fixed tables.", CF_METRIC_COUNTER};

static double cf_boot_time(void)
{
    FILE *f = fopen("/proc/stat", "re");
    char line[256];
    double btime = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "btime %lf", &btime) == 1)
            break;
    if (f)
        fclose(f);
    return btime;
}

static size_t cf_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n ? n - 1 : 0; /* not the descriptor reading the directory */
}

static bool cf_render_process(cf_buf *out)
{
    double ticks = (double)sysconf(_SC_CLK_TCK);
    unsigned long utime = 0, stime = 0;
    unsigned long long start = 0;
    FILE *f = fopen("/proc/self/stat", "re");
    char stat[1024] = "";
    if (f) {
        if (!fgets(stat, sizeof stat, f))
            stat[0] = 0;
        fclose(f);
    }
    /* Fields after the command name, which may hold spaces and ')'. */
    const char *rest = strrchr(stat, ')');
    if (rest)
        (void)sscanf(rest + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
                     "%*d %*d %llu",
                     &utime, &stime, &start);
    long pages = 0;
    f = fopen("/proc/self/statm", "re");
    if (f) {
        if (fscanf(f, "%*s %ld", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    CF_GUARD(cf_metrics_write_family(out, &cf_cpu_family));
    CF_GUARD(
        cf_metrics_write_sample(out, cf_cpu_family.name, NULL, (double)(utime + stime) / ticks));
    CF_GUARD(cf_metrics_write_family(out, &cf_rss_family));
    CF_GUARD(cf_metrics_write_sample(out, cf_rss_family.name, NULL,
                                     (double)pages * (double)sysconf(_SC_PAGESIZE)));
    CF_GUARD(cf_metrics_write_family(out, &cf_fds_family));
    CF_GUARD(cf_metrics_write_sample(out, cf_fds_family.name, NULL, (double)cf_open_fds()));
    CF_GUARD(cf_metrics_write_family(out, &cf_start_family));
    CF_GUARD(cf_metrics_write_sample(out, cf_start_family.name, NULL,
                                     cf_boot_time() + (double)start / ticks));
    CF_GUARD(cf_metrics_write_family(out, &cf_dropped_family));
    return cf_metrics_write_sample(out, cf_dropped_family.name, NULL,
                                   (double)atomic_load(&cf_metrics_dropped));
}

bool cf_metrics_render(cf_buf *out)
{
    CF_GUARD(cf_render_requests(out));
    CF_GUARD(cf_render_series(out));
    pthread_mutex_lock(&cf_collectors_lock);
    bool ok = true;
    for (size_t i = 0; ok && i < cf_n_collectors; i++)
        ok = cf_collectors[i].collect(cf_collectors[i].ctx, out);
    pthread_mutex_unlock(&cf_collectors_lock);
    return ok && cf_render_process(out);
}
