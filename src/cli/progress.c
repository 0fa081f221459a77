/*
 * Transfer progress for blob upload and download.
 *
 * The bar is one line on stderr, redrawn in place with '\r' at most ten
 * times a second, and only when stderr is a terminal: a log file or a pipe
 * gets no escape-less noise, and JSON output (the caller passes
 * want_bar = false) keeps stderr for errors.  The callers print a one-line
 * summary of their own when the transfer is over.
 *
 * Rates are in MB/s (10^6 bytes), sizes in binary units, as curl and most
 * transfer tools show them.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "storage_client.h"

static double cf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cf_progress_size(uint64_t bytes, char *out, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(out, len, "%llu B", (unsigned long long)bytes);
    else
        snprintf(out, len, "%.1f %s", v, units[u]);
}

void cf_progress_rate(uint64_t bytes, double seconds, char *out, size_t len)
{
    double mbs = seconds > 0.0 ? (double)bytes / seconds / 1e6 : 0.0;
    snprintf(out, len, "%.1f MB/s", mbs);
}

void cf_progress_start(cf_progress *p, const char *verb, uint64_t total, bool want_bar)
{
    *p = (cf_progress){.verb = verb, .total = total, .start = cf_now()};
    p->bar = want_bar && isatty(STDERR_FILENO);
}

double cf_progress_elapsed(const cf_progress *p)
{
    return cf_now() - p->start;
}

static void cf_progress_draw(cf_progress *p, double now)
{
    char done[32], total[32], rate[32], eta[32] = "--:--";
    double secs = now - p->start;
    cf_progress_size(p->done, done, sizeof done);
    cf_progress_size(p->total, total, sizeof total);
    cf_progress_rate(p->done, secs, rate, sizeof rate);
    double pct = p->total ? 100.0 * (double)p->done / (double)p->total : 0.0;
    if (p->total && p->done && p->done <= p->total && secs > 0.2) {
        double left = (double)(p->total - p->done) / ((double)p->done / secs);
        if (left < 100.0 * 3600)
            snprintf(eta, sizeof eta, "%02d:%02d", (int)left / 60, (int)left % 60);
    }
    /* 20-cell bar; the line is padded so a shorter redraw leaves no tail. */
    char bar[21];
    int fill = p->total ? (int)(pct / 5.0) : 0;
    for (int i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[20] = 0;
    if (p->total)
        fprintf(stderr, "\r%s [%s] %5.1f%%  %s / %s  %s  ETA %s   ", p->verb, bar, pct, done, total,
                rate, eta);
    else
        fprintf(stderr, "\r%s %s  %s   ", p->verb, done, rate);
    fflush(stderr);
    p->drawn = true;
    p->drawn_done = p->done;
    p->last_draw = now;
}

void cf_progress_update(cf_progress *p, uint64_t done)
{
    p->done = done;
    if (!p->bar)
        return;
    double now = cf_now();
    /* The last step is always drawn, once: curl keeps reporting it while
     * it waits for the response. */
    bool finished = p->total && done == p->total && p->drawn_done != done;
    if (now - p->last_draw >= 0.1 || finished)
        cf_progress_draw(p, now);
}

void cf_progress_end(cf_progress *p)
{
    if (p->drawn) {
        /* Erase the bar: the summary (or an error) starts on a clean line. */
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->drawn = false;
}
