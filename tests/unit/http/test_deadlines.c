/*
 * Per-phase connection deadlines (src/http/deadlines.c) without a server:
 * each "connection" is one end of a socket pair, and the sweeper's cut
 * shows at the other end as the end of the stream.  One timeline runs all
 * cases at once (the deadlines are whole seconds):
 *   headers   cut after headers_seconds, counted as headers;
 *   idle      cut after idle_seconds, counted as idle;
 *   busy, sending, closed
 *             never cut (the server's time; a closed entry is gone);
 *   body fed  at the minimum rate: kept;  body starved: cut, as body;
 *   request line
 *             an idle connection that starts a request is in headers,
 *             with a fresh clock;
 *   busy inside a body
 *             pauses the body's window instead of spending it.
 * Timing checks that a loaded machine could upset are made only while the
 * measured time still allows a firm answer.
 */
#include <errno.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "deadlines.h"
#include "log.h"
#include "test.h"

typedef struct {
    int fd[2]; /* [0] registered, [1] the test's view */
    cf_conn *conn;
} pair;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    double left = t - now_s();
    if (left > 0)
        usleep((useconds_t)(left * 1e6));
}

static bool open_pair(cf_deadlines *d, pair *p)
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd) != 0)
        return false;
    p->conn = cf_conn_open(d, p->fd[0]);
    return p->conn != NULL;
}

/* Whether the sweeper has shut the registered end down. */
static bool was_cut(const pair *p)
{
    char c;
    ssize_t n = recv(p->fd[1], &c, 1, MSG_DONTWAIT);
    return n == 0;
}

static void close_pair(cf_deadlines *d, pair *p, bool registered)
{
    if (registered)
        cf_conn_close(d, p->conn);
    close(p->fd[0]);
    close(p->fd[1]);
}

static void test_deadlines_timeline(void)
{
    cf_deadline_policy policy = {.headers_seconds = 1,
                                 .idle_seconds = 2,
                                 .body_window_seconds = 1,
                                 .body_window_bytes = 100};
    cf_deadlines *d = NULL;
    CHECK(cf_deadlines_start(&policy, "test", &d));
    if (!d)
        return;
    pair headers, idle, busy, sending, fed, starved, closed, reline, paused;
    CHECK(open_pair(d, &headers) && open_pair(d, &idle) && open_pair(d, &busy) &&
          open_pair(d, &sending) && open_pair(d, &fed) && open_pair(d, &starved) &&
          open_pair(d, &closed) && open_pair(d, &reline) && open_pair(d, &paused));
    double t0 = now_s();
    cf_conn_phase(d, idle.conn, CF_PHASE_IDLE);
    cf_conn_phase(d, busy.conn, CF_PHASE_BUSY);
    cf_conn_phase(d, sending.conn, CF_PHASE_SENDING);
    cf_conn_phase(d, fed.conn, CF_PHASE_BODY);
    cf_conn_phase(d, starved.conn, CF_PHASE_BODY);
    cf_conn_phase(d, reline.conn, CF_PHASE_IDLE);
    cf_conn_phase(d, paused.conn, CF_PHASE_BODY);
    cf_conn_close(d, closed.conn); /* gone from the registry at once */
    /* NULL connections (out of memory at open) are ignored everywhere. */
    cf_conn_phase(d, NULL, CF_PHASE_BODY);
    cf_conn_body_bytes(d, NULL, 10);
    cf_conn_request_line(d, NULL);
    cf_conn_close(d, NULL);

    bool paused_busy = false, paused_back = false, relined = false;
    double reline_at = 0, back_at = 0;
    bool reline_early_cut = false, paused_early_cut = false;
    for (double t = t0; t < t0 + 3.6; t += 0.1) {
        sleep_until(t);
        double el = now_s() - t0;
        /* Each tick alone meets the window minimum, so only a stall of a
         * whole window here could starve it. */
        cf_conn_body_bytes(d, fed.conn, 100);
        cf_conn_phase(d, fed.conn, CF_PHASE_BODY); /* a chunk: must not restart the window */
        if (!paused_busy && el >= 0.3) {
            cf_conn_phase(d, paused.conn, CF_PHASE_BUSY);
            paused_busy = true;
        }
        if (!paused_back && el >= 2.0) {
            cf_conn_phase(d, paused.conn, CF_PHASE_BODY);
            paused_back = true;
            back_at = now_s();
        }
        if (!relined && el >= 1.2) {
            cf_conn_request_line(d, reline.conn);
            relined = true;
            reline_at = now_s();
        }
        /* Firm only with margin: a sweep every 250 ms. */
        if (relined && now_s() - reline_at < 0.7 && was_cut(&reline))
            reline_early_cut = true;
        if (paused_back && now_s() - back_at < 0.4 && was_cut(&paused))
            paused_early_cut = true;
    }
    sleep_until(t0 + 3.9);
    CHECK(was_cut(&headers));
    CHECK(was_cut(&idle));
    CHECK(!was_cut(&busy));
    CHECK(!was_cut(&sending));
    CHECK(!was_cut(&fed));
    CHECK(was_cut(&starved));
    CHECK(!was_cut(&closed));
    CHECK(was_cut(&reline) && !reline_early_cut); /* headers clock from the request line */
    CHECK(was_cut(&paused) && !paused_early_cut); /* ran out of body time after the pause */
    cf_deadline_counts counts;
    cf_deadlines_counts(d, &counts);
    CHECK(counts.headers == 2); /* headers, reline */
    CHECK(counts.idle == 1);
    CHECK(counts.body == 2); /* starved, paused */

    /* Stop feeding: the fed body runs dry within a window or two. */
    double stop = now_s();
    while (!was_cut(&fed) && now_s() - stop < 4.0)
        usleep(50000);
    CHECK(was_cut(&fed));
    cf_deadlines_counts(d, &counts);
    CHECK(counts.body == 3 && counts.headers == 2 && counts.idle == 1);
    /* A cut connection is not cut (or counted) twice. */
    usleep(600000);
    cf_deadline_counts again;
    cf_deadlines_counts(d, &again);
    CHECK(again.headers == counts.headers && again.body == counts.body &&
          again.idle == counts.idle);

    pair *all[] = {&headers, &idle, &busy, &sending, &fed, &starved, &reline, &paused};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        close_pair(d, all[i], true);
    close_pair(d, &closed, false);
    /* Entries left registered at stop belong to the stopped daemon: freed. */
    pair left;
    CHECK(open_pair(d, &left));
    cf_deadlines_stop(d);
    close(left.fd[0]);
    close(left.fd[1]);
}

/* A zero policy means the documented defaults: nothing is cut within a
 * second and a half (the shortest default is 10 s). */
static void test_default_policy(void)
{
    cf_deadline_policy policy = {0};
    cf_deadlines *d = NULL;
    CHECK(cf_deadlines_start(&policy, NULL, &d));
    if (!d)
        return;
    pair p;
    CHECK(open_pair(d, &p));
    usleep(1500000);
    CHECK(!was_cut(&p));
    close_pair(d, &p, true);
    cf_deadlines_stop(d);
    cf_deadlines_stop(NULL); /* tolerated */
}

int main(void)
{
    cf_log_set_level(CF_LOG_ERROR);
    RUN(test_deadlines_timeline);
    RUN(test_default_policy);
    TEST_DONE();
}
