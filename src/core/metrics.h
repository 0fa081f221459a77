/*
 * Process-wide metrics in the Prometheus text exposition format (0.0.4),
 * for each service's /metrics endpoint (docs/metrics.md).
 *
 * Recording is cheap and never fails the caller: a series is found by a
 * lock-free probe of a fixed table and bumped with an atomic add; only a
 * series seen for the first time takes a mutex.  Memory is bounded: the
 * tables have a fixed size, and a new series past it is dropped and
 * counted (coffer_metrics_dropped_series_total), never allocated.
 *
 * Labels are given rendered, `name="value",name="value"`; values that may
 * hold anything a client sent go through cf_metrics_label() first.  Label
 * sets must stay small and closed (operations, statuses, algorithms): a
 * label never carries an object name, a principal or a request id.
 */
#ifndef CF_METRICS_H
#define CF_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum { CF_METRIC_COUNTER, CF_METRIC_GAUGE } cf_metric_kind;

/* A metric family, declared once (static storage) by the module that
 * records it; series are keyed by the family's address. */
typedef struct {
    const char *name; /* coffer_..., counters end in _total */
    const char *help;
    cf_metric_kind kind;
} cf_metric_family;

/* Counters: add; gauges: add (up or down) or set. */
void cf_metrics_add(const cf_metric_family *family, const char *labels, int64_t delta);
void cf_metrics_set(const cf_metric_family *family, const char *labels, int64_t value);

/* One HTTP request that ended: counted by operation and status, with its
 * latency (a histogram) and its body bytes each way.  `operation` is a
 * static string naming the route ("GetBlob", "POST /keys/{name}/sign"). */
void cf_metrics_request(const char *operation, unsigned status, uint64_t bytes_in,
                        uint64_t bytes_out, double seconds);

/* One lookup in one of the services' caches ("tokens", "keys",
 * "cmk-data-keys"...), a static name: coffer_cache_lookups_total. */
void cf_metrics_cache(const char *cache, bool hit);

/* A collector adds lines computed at scrape time (sizes, lags, process
 * figures) with the writers below.  At most CF_METRICS_MAX_COLLECTORS;
 * registration is for start-up, before the server takes requests. */
#define CF_METRICS_MAX_COLLECTORS 16
typedef bool (*cf_metrics_collector)(void *ctx, cf_buf *out);
CF_MUST_USE bool cf_metrics_register(cf_metrics_collector collect, void *ctx);
/* Forgets every collector registered with `ctx` (its owner is closing). */
void cf_metrics_unregister(void *ctx);

/* Reports the disk space used under `path` (the service's data
 * directory): walked at most every CF_METRICS_DIR_SECONDS, and never past
 * CF_METRICS_DIR_MAX_ENTRIES entries, so a scrape stays cheap. */
#define CF_METRICS_DIR_SECONDS 30
#define CF_METRICS_DIR_MAX_ENTRIES 1000000
CF_MUST_USE bool cf_metrics_register_data_dir(const char *path);
/* The same figures for a health page (zeros before registration). */
void cf_metrics_data_dir(uint64_t *bytes, uint64_t *files);

/* The family's # HELP and # TYPE lines, then one sample. */
CF_MUST_USE bool cf_metrics_write_family(cf_buf *out, const cf_metric_family *family);
CF_MUST_USE bool cf_metrics_write_sample(cf_buf *out, const char *name, const char *labels,
                                         double value);

/* `value` as a label value: backslash, quote and newline escaped, cut to
 * fit `cap` (at least 1). */
void cf_metrics_label(const char *value, char *out, size_t cap);

/* The whole exposition: every series, every collector, the process's own
 * figures (CPU, memory, descriptors, start time). */
CF_MUST_USE bool cf_metrics_render(cf_buf *out);

#define CF_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
