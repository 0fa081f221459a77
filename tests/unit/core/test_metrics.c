/*
 * Metrics (src/core/metrics.c): counters and gauges by label set, the
 * request histogram (cumulative buckets, +Inf equal to the count), label
 * escaping, collectors, and the fixed tables: a series past their size is
 * dropped and counted, never allocated.  Concurrent adds lose nothing.
 * The text format itself is parsed by a Prometheus parser in
 * tests/system/metrics.sh.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "test.h"

static const cf_metric_family ops = {"test_ops_total", "Test operations.", CF_METRIC_COUNTER};
static const cf_metric_family level = {"test_level", "A test gauge.", CF_METRIC_GAUGE};
static const cf_metric_family many = {"test_many_total", "Series to fill the table.",
                                      CF_METRIC_COUNTER};

/* The exposition, rendered afresh (static: it can be large). */
static const char *render(void)
{
    static cf_buf out;
    cf_buf_free(&out);
    cf_buf_init(&out, 64u << 20);
    CHECK(cf_metrics_render(&out) && cf_buf_terminate(&out));
    return (const char *)out.data;
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p += n)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

static void test_counters_and_gauges(void)
{
    cf_metrics_add(&ops, "op=\"sign\"", 2);
    cf_metrics_add(&ops, "op=\"sign\"", 3);
    cf_metrics_add(&ops, "op=\"wrap\"", 1);
    cf_metrics_set(&level, NULL, 7);
    cf_metrics_add(&level, NULL, -2);
    const char *text = render();
    CHECK(has_line(text, "# HELP test_ops_total Test operations."));
    CHECK(has_line(text, "# TYPE test_ops_total counter"));
    CHECK(has_line(text, "test_ops_total{op=\"sign\"} 5"));
    CHECK(has_line(text, "test_ops_total{op=\"wrap\"} 1"));
    CHECK(has_line(text, "# TYPE test_level gauge"));
    CHECK(has_line(text, "test_level 5"));
    /* One HELP per family, however many series. */
    const char *first = strstr(text, "# HELP test_ops_total");
    CHECK(first && !strstr(first + 1, "# HELP test_ops_total"));
}

static void test_request_histogram(void)
{
    cf_metrics_request("TestOp", 200, 100, 1000, 0.0004); /* first bucket */
    cf_metrics_request("TestOp", 200, 50, 10, 0.3);       /* le 0.5 */
    cf_metrics_request("TestOp", 200, 0, 0, 60);          /* only +Inf */
    cf_metrics_request("TestOp", 404, 0, 0, 0.001);
    cf_metrics_request(NULL, 400, 0, 0, 0.001);
    const char *text = render();
    CHECK(has_line(text, "coffer_http_requests_total{operation=\"TestOp\",status=\"200\"} 3"));
    CHECK(has_line(text, "coffer_http_requests_total{operation=\"TestOp\",status=\"404\"} 1"));
    CHECK(has_line(text, "coffer_http_requests_total{operation=\"unrouted\",status=\"400\"} 1"));
    CHECK(has_line(text,
                   "coffer_http_received_bytes_total{operation=\"TestOp\",status=\"200\"} 150"));
    CHECK(has_line(text, "coffer_http_sent_bytes_total{operation=\"TestOp\",status=\"200\"} 1010"));
    CHECK(has_line(text, "# TYPE coffer_http_request_duration_seconds histogram"));
    CHECK(has_line(text, "coffer_http_request_duration_seconds_bucket{operation=\"TestOp\","
                         "status=\"200\",le=\"0.0005\"} 1"));
    CHECK(has_line(text, "coffer_http_request_duration_seconds_bucket{operation=\"TestOp\","
                         "status=\"200\",le=\"0.25\"} 1"));
    CHECK(has_line(text, "coffer_http_request_duration_seconds_bucket{operation=\"TestOp\","
                         "status=\"200\",le=\"0.5\"} 2"));
    CHECK(has_line(text, "coffer_http_request_duration_seconds_bucket{operation=\"TestOp\","
                         "status=\"200\",le=\"10\"} 2"));
    CHECK(has_line(text, "coffer_http_request_duration_seconds_bucket{operation=\"TestOp\","
                         "status=\"200\",le=\"+Inf\"} 3"));
    CHECK(has_line(text, "coffer_http_request_duration_seconds_count{operation=\"TestOp\","
                         "status=\"200\"} 3"));
    CHECK(has_line(text, "coffer_http_request_duration_seconds_sum{operation=\"TestOp\","
                         "status=\"200\"} 60.3004"));
}

static void test_label_escaping(void)
{
    char out[64];
    cf_metrics_label("a\"b\\c\nd", out, sizeof out);
    CHECK_STR(out, "a\\\"b\\\\c\\nd");
    cf_metrics_label("abcdef", out, 4);
    CHECK_STR(out, "abc");
    cf_metrics_label("ab\"", out, 4); /* an escape never cut in half */
    CHECK_STR(out, "ab");
    /* A request operation is escaped when rendered. */
    cf_metrics_request("Odd\"Op", 200, 0, 0, 0.01);
    CHECK(
        has_line(render(), "coffer_http_requests_total{operation=\"Odd\\\"Op\",status=\"200\"} 1"));
}

static int collected;
static bool collect(void *ctx, cf_buf *out)
{
    collected++;
    return cf_metrics_write_family(out, ctx) &&
           cf_metrics_write_sample(out, ((const cf_metric_family *)ctx)->name, "k=\"v\"", 42);
}

static void test_collectors(void)
{
    static const cf_metric_family scraped = {"test_scraped", "Computed at scrape time.",
                                             CF_METRIC_GAUGE};
    CHECK(cf_metrics_register(collect, (void *)&scraped));
    CHECK(has_line(render(), "test_scraped{k=\"v\"} 42") && collected == 1);
    cf_metrics_unregister((void *)&scraped);
    CHECK(!strstr(render(), "test_scraped") && collected == 1);
    /* The table of collectors is fixed too. */
    int registered = 0;
    for (int i = 0; i < CF_METRICS_MAX_COLLECTORS + 2; i++)
        registered += cf_metrics_register(collect, (void *)&many);
    CHECK(registered == CF_METRICS_MAX_COLLECTORS);
    CHECK(cf_error_code() == CF_ERR_INTERNAL);
    cf_metrics_unregister((void *)&many);
}

static void test_process_figures(void)
{
    const char *text = render();
    CHECK(strstr(text, "\nprocess_cpu_seconds_total "));
    CHECK(strstr(text, "\nprocess_resident_memory_bytes "));
    CHECK(strstr(text, "\nprocess_open_fds "));
    CHECK(strstr(text, "\nprocess_start_time_seconds "));
    CHECK(strstr(text, "\ncoffer_metrics_dropped_series_total "));
}

typedef struct {
    int n;
} adder_arg;

static void *adder(void *arg)
{
    for (int i = 0; i < ((adder_arg *)arg)->n; i++) {
        cf_metrics_add(&ops, "op=\"race\"", 1);
        cf_metrics_request("RaceOp", 200, 1, 1, 0.001);
    }
    return NULL;
}

static void test_concurrent_adds_lose_nothing(void)
{
    pthread_t t[4];
    adder_arg arg = {20000};
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, adder, &arg) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    const char *text = render();
    CHECK(has_line(text, "test_ops_total{op=\"race\"} 80000"));
    CHECK(has_line(text, "coffer_http_requests_total{operation=\"RaceOp\",status=\"200\"} 80000"));
}

/* Last: fills the series table. */
static void test_table_is_bounded(void)
{
    char labels[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(labels, sizeof labels, "n=\"%d\"", i);
        cf_metrics_add(&many, labels, 1);
    }
    const char *text = render();
    double dropped = 0;
    const char *d = strstr(text, "\ncoffer_metrics_dropped_series_total ");
    CHECK(d && sscanf(d + strlen("\ncoffer_metrics_dropped_series_total "), "%lf", &dropped) == 1);
    /* 4096 slots, a few taken by the earlier tests' series. */
    CHECK(dropped >= 5000 - 4096 && dropped < 5000 - 4096 + 16);
    /* Existing series still count; a label set too long is dropped. */
    cf_metrics_add(&ops, "op=\"sign\"", 1);
    char longer[300];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = 0;
    cf_metrics_add(&ops, longer, 1);
    text = render();
    CHECK(has_line(text, "test_ops_total{op=\"sign\"} 6"));
    CHECK(!strstr(text, "xxxxxxxx"));
}

int main(void)
{
    RUN(test_counters_and_gauges);
    RUN(test_request_histogram);
    RUN(test_label_escaping);
    RUN(test_collectors);
    RUN(test_process_figures);
    RUN(test_concurrent_adds_lose_nothing);
    RUN(test_table_is_bounded);
    TEST_DONE();
}
