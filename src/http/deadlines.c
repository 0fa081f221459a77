#include "deadlines.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "units.h"

struct cf_conn {
    cf_conn *prev, *next; /* the registry (cf_deadlines.mu) */
    pthread_mutex_t mu;   /* the fields below: the connection's own
                             threads and, four times a second, the
                             sweeper; never a global lock per request */
    int fd;
    cf_phase phase;
    int64_t since_ms;     /* phase start; BODY: start of the current window */
    int64_t busy_from_ms; /* BUSY entered from BODY: the window pauses */
    cf_phase before_busy;
    uint64_t body_bytes, window_mark;
    bool cut;
};

struct cf_deadlines {
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t sweeper;
    bool stopping;
    cf_conn *head;
    int64_t headers_ms, idle_ms, window_ms;
    uint64_t window_bytes;
    cf_deadline_counts cut;
    const char *service;
};

#define CF_SWEEP_MS 250

static int64_t cf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * CF_MS_PER_SECOND + ts.tv_nsec / CF_NS_PER_MS;
}

/* Which deadline the connection has missed, if any (under the lock). */
static uint64_t *cf_deadline_missed(cf_deadlines *d, cf_conn *c, int64_t now)
{
    switch (c->phase) {
    case CF_PHASE_HEADERS: return now - c->since_ms > d->headers_ms ? &d->cut.headers : NULL;
    case CF_PHASE_IDLE: return now - c->since_ms > d->idle_ms ? &d->cut.idle : NULL;
    case CF_PHASE_BODY:
        if (now - c->since_ms < d->window_ms)
            return NULL;
        if (c->body_bytes - c->window_mark < d->window_bytes)
            return &d->cut.body;
        c->since_ms = now;
        c->window_mark = c->body_bytes;
        return NULL;
    case CF_PHASE_BUSY:
    case CF_PHASE_SENDING: return NULL;
    }
    return NULL;
}

static void *cf_sweeper_main(void *arg)
{
    cf_deadlines *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += CF_SWEEP_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&d->wake, &d->mu, &until);
        int64_t now = cf_now_ms();
        unsigned cut = 0;
        for (cf_conn *c = d->head; c; c = c->next) {
            pthread_mutex_lock(&c->mu);
            uint64_t *counter = c->cut ? NULL : cf_deadline_missed(d, c, now);
            if (counter)
                c->cut = true;
            pthread_mutex_unlock(&c->mu);
            if (!counter)
                continue;
            /* libmicrohttpd reads the end of the stream and closes. */
            shutdown(c->fd, SHUT_RDWR);
            (*counter)++;
            cut++;
        }
        if (cut)
            cf_log(CF_LOG_INFO, NULL,
                   "%s: cut %u slow connections (totals: headers %llu, body %llu, idle %llu)",
                   d->service, cut, (unsigned long long)d->cut.headers,
                   (unsigned long long)d->cut.body, (unsigned long long)d->cut.idle);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

bool cf_deadlines_start(const cf_deadline_policy *policy, const char *service, cf_deadlines **out)
{
    cf_deadlines *d = calloc(1, sizeof *d);
    CF_ENSURE_ALLOC(d);
    d->headers_ms = 1000LL * (policy->headers_seconds ? policy->headers_seconds : 10);
    d->idle_ms = 1000LL * (policy->idle_seconds ? policy->idle_seconds : 30);
    d->window_ms = 1000LL * (policy->body_window_seconds ? policy->body_window_seconds : 10);
    d->window_bytes = policy->body_window_bytes ? policy->body_window_bytes : 16 * 1024;
    d->service = service ? service : "http";
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->wake, NULL);
    if (pthread_create(&d->sweeper, NULL, cf_sweeper_main, d) != 0) {
        pthread_cond_destroy(&d->wake);
        pthread_mutex_destroy(&d->mu);
        free(d);
        CF_BAIL(CF_ERR_IO, "cannot start the connection sweeper");
    }
    *out = d;
    return true;
}

void cf_deadlines_stop(cf_deadlines *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stopping = true;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->sweeper, NULL);
    /* Connections still registered belong to a daemon already stopped. */
    while (d->head) {
        cf_conn *c = d->head;
        d->head = c->next;
        pthread_mutex_destroy(&c->mu);
        free(c);
    }
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

cf_conn *cf_conn_open(cf_deadlines *d, int fd)
{
    cf_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->mu, NULL);
    c->fd = fd;
    c->phase = CF_PHASE_HEADERS;
    c->since_ms = cf_now_ms();
    pthread_mutex_lock(&d->mu);
    c->next = d->head;
    if (d->head)
        d->head->prev = c;
    d->head = c;
    pthread_mutex_unlock(&d->mu);
    return c;
}

void cf_conn_close(cf_deadlines *d, cf_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&d->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        d->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&d->mu);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void cf_conn_phase(cf_deadlines *d, cf_conn *c, cf_phase phase)
{
    if (!c)
        return;
    (void)d;
    int64_t now = cf_now_ms();
    pthread_mutex_lock(&c->mu);
    if (phase == c->phase) {
        /* Still in it: a body chunk must not restart the body's window. */
    } else if (phase == CF_PHASE_BUSY) {
        c->before_busy = c->phase;
        c->busy_from_ms = now;
    } else if (phase == CF_PHASE_BODY && c->phase == CF_PHASE_BUSY &&
               c->before_busy == CF_PHASE_BODY) {
        c->since_ms += now - c->busy_from_ms; /* the server's time is not the client's */
    } else if (phase == CF_PHASE_BODY) {
        c->since_ms = now;
        c->window_mark = c->body_bytes;
    } else if (phase != CF_PHASE_BUSY) {
        c->since_ms = now;
    }
    c->phase = phase;
    pthread_mutex_unlock(&c->mu);
}

void cf_conn_request_line(cf_deadlines *d, cf_conn *c)
{
    (void)d;
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    if (c->phase == CF_PHASE_IDLE) {
        c->phase = CF_PHASE_HEADERS;
        c->since_ms = cf_now_ms();
    }
    pthread_mutex_unlock(&c->mu);
}

void cf_conn_body_bytes(cf_deadlines *d, cf_conn *c, size_t n)
{
    (void)d;
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->body_bytes += n;
    pthread_mutex_unlock(&c->mu);
}

void cf_deadlines_counts(cf_deadlines *d, cf_deadline_counts *out)
{
    pthread_mutex_lock(&d->mu);
    *out = d->cut;
    pthread_mutex_unlock(&d->mu);
}
