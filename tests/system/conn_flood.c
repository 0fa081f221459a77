/*
 * conn_flood: holds thousands of slow connections against a Coffer service
 * from many loopback addresses while a legitimate client on 127.0.0.1 makes
 * requests on fresh connections, then checks what that client saw, the
 * server's peak memory, and that it serves normally afterwards.
 *
 *   conn_flood [options] HOST PORT SERVER_PID LEGIT_URL [HEADER]...
 *     --connections N   slow connections held (2000)
 *     --addresses N     attacker addresses 127.0.0.2 ... (16)
 *     --seconds N       length of the flood (30)
 *     --ca FILE         CA for the legitimate client
 *     --put-path PATH   target of the attackers' uploads (/flood)
 *     --max-rss-mib N   the server's peak RSS allowed (256)
 *     --max-p99-ms N    the legitimate requests' p99 allowed (1000)
 *     --min-success P   the share of them that must succeed (0.95)
 *
 * The slow connections cycle through six kinds: TCP only (never a byte),
 * a TLS handshake trickled a byte at a time, request headers trickled a
 * line at a time, an unauthenticated upload trickled a byte at a time, an
 * unauthenticated upload that waits for "100 Continue", and a connection
 * that makes one request and then idles on keep-alive.  A connection
 * the server closes is opened again a second later, so the pressure holds.
 *
 * Exit status 0 when at least 95% of the legitimate requests succeed (2xx),
 * their p99 latency is under 1 s, the peak RSS is under the limit and the
 * requests after the flood all succeed; 1 otherwise.  (The sanitized build's
 * run relaxes the first three: it checks survival, not speed.)
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "../../bench/cli_number.h"
#include <unistd.h>

enum {
    KIND_TCP,
    KIND_TLS_TRICKLE,
    KIND_HEADER_TRICKLE,
    KIND_BODY_TRICKLE,
    KIND_EXPECT,
    KIND_KEEPALIVE,
    KINDS
};
static const char *kind_name[KINDS] = {"tcp-only",     "tls-trickle", "header-trickle",
                                       "body-trickle", "expect-100",  "idle-keep-alive"};

typedef enum { S_IDLE, S_CONNECTING, S_HANDSHAKE, S_HOLD } conn_state;

typedef struct {
    int fd;
    int kind;
    conn_state state;
    SSL *ssl;
    int64_t next_ms; /* next trickle, or reconnect */
    unsigned sent;
    struct sockaddr_in src;
} slow_conn;

static struct {
    const char *host, *ca, *put_path, *legit_url;
    int port, pid;
    unsigned connections, addresses, seconds, max_rss_mib, max_p99_ms;
    double min_success;
    struct curl_slist *headers;
} opt = {.put_path = "/flood",
         .connections = 2000,
         .addresses = 16,
         .seconds = 30,
         .max_rss_mib = 256,
         .max_p99_ms = 1000,
         .min_success = 0.95};

static atomic_bool flooding = true;
static SSL_CTX *tls;
static unsigned long long opened, closed_by_server;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static void drop(slow_conn *c, int64_t now)
{
    if (c->ssl)
        SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = S_IDLE;
    c->next_ms = now + 1000;
}

static void start(slow_conn *c, int64_t now)
{
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    inet_pton(AF_INET, opt.host, &dst.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&c->src, sizeof c->src) != 0 ||
        (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS)) {
        drop(c, now);
        return;
    }
    opened++;
    c->state = S_CONNECTING;
    c->sent = 0;
}

/* The bytes the next trickle step sends, or NULL when this kind sends
 * nothing more. */
static const char *next_piece(slow_conn *c, char *buf, size_t len)
{
    if (c->kind == KIND_HEADER_TRICKLE) {
        if (c->sent == 0)
            snprintf(buf, len, "GET / HTTP/1.1\r\nHost: %s\r\n", opt.host);
        else
            snprintf(buf, len, "X-Slow-%u: 1\r\n", c->sent);
        return buf;
    }
    if (c->kind == KIND_BODY_TRICKLE || c->kind == KIND_EXPECT) {
        if (c->sent == 0) {
            snprintf(
                buf, len,
                "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 1048576\r\n"
                "Content-Type: application/octet-stream\r\nx-ms-blob-type: BlockBlob\r\n%s\r\n",
                opt.put_path, opt.host, c->kind == KIND_EXPECT ? "Expect: 100-continue\r\n" : "");
            return buf;
        }
        return c->kind == KIND_BODY_TRICKLE ? "x" : NULL;
    }
    if (c->kind == KIND_KEEPALIVE) /* one complete request, then silence */
        return c->sent == 0
                   ? (snprintf(buf, len, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", opt.host), buf)
                   : NULL;
    if (c->kind == KIND_TLS_TRICKLE)
        /* A handshake record header announcing 512 bytes, then one byte
         * at a time of a ClientHello that never completes. */
        return c->sent == 0 ? "\x16\x03\x01\x02\x00" : "\x01";
    return NULL;
}

static void step(slow_conn *c, short revents, int64_t now)
{
    char buf[512];
    if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
            return;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
            drop(c, now);
            return;
        }
        if (c->kind >= KIND_HEADER_TRICKLE) {
            c->ssl = SSL_new(tls);
            SSL_set_fd(c->ssl, c->fd);
            SSL_set_connect_state(c->ssl);
            c->state = S_HANDSHAKE;
        } else {
            c->state = S_HOLD;
            c->next_ms = now;
        }
    }
    if (c->state == S_HANDSHAKE) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                closed_by_server++;
                drop(c, now);
            }
            return;
        }
        c->state = S_HOLD;
        c->next_ms = now;
    }
    if (c->state != S_HOLD)
        return;
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        /* An answer (a refusal) or the end: read it; at the end, reconnect. */
        ssize_t n = c->ssl ? SSL_read(c->ssl, buf, sizeof buf) : recv(c->fd, buf, sizeof buf, 0);
        bool again = c->ssl ? (n <= 0 && SSL_get_error(c->ssl, (int)n) == SSL_ERROR_WANT_READ)
                            : (n < 0 && errno == EAGAIN);
        if (n <= 0 && !again) {
            closed_by_server++;
            drop(c, now);
            return;
        }
    }
    if (now < c->next_ms)
        return;
    const char *piece = next_piece(c, buf, sizeof buf);
    if (piece) {
        size_t len = c->kind == KIND_TLS_TRICKLE && c->sent == 0 ? 5 : strlen(piece);
        if (c->ssl)
            SSL_write(c->ssl, piece, (int)len);
        else
            (void)send(c->fd, piece, len, MSG_NOSIGNAL);
        c->sent++;
    }
    c->next_ms = now + 2000;
}

static void *flood_main(void *arg)
{
    (void)arg;
    slow_conn *conns = calloc(opt.connections, sizeof *conns);
    struct pollfd *pfd = calloc(opt.connections, sizeof *pfd);
    int64_t now = now_ms();
    for (unsigned i = 0; i < opt.connections; i++) {
        slow_conn *c = &conns[i];
        c->fd = -1;
        c->kind = (int)(i % KINDS);
        c->src.sin_family = AF_INET;
        c->src.sin_addr.s_addr = htonl(0x7f000002u + i % opt.addresses);
        c->next_ms = now + i / 100; /* ramp up over the first ~20 ms per 2,000 */
    }
    while (atomic_load(&flooding)) {
        now = now_ms();
        for (unsigned i = 0; i < opt.connections; i++) {
            slow_conn *c = &conns[i];
            if (c->state == S_IDLE && now >= c->next_ms)
                start(c, now);
            pfd[i].fd = c->fd;
            pfd[i].revents = 0;
            pfd[i].events = c->state == S_CONNECTING ? POLLOUT : POLLIN;
            if (c->state == S_HANDSHAKE && c->ssl && SSL_want_write(c->ssl))
                pfd[i].events |= POLLOUT;
        }
        poll(pfd, opt.connections, 100);
        now = now_ms();
        for (unsigned i = 0; i < opt.connections; i++)
            if (conns[i].fd >= 0)
                step(&conns[i], pfd[i].revents, now);
    }
    for (unsigned i = 0; i < opt.connections; i++)
        drop(&conns[i], now);
    free(conns);
    free(pfd);
    return NULL;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* One legitimate request on a fresh connection: its latency in ms, or -1. */
static double legit_request(long *status)
{
    CURL *curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, opt.legit_url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, opt.headers);
    curl_easy_setopt(curl, CURLOPT_CAINFO, opt.ca);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
    int64_t t0 = now_ms();
    CURLcode rc = curl_easy_perform(curl);
    double ms = (double)(now_ms() - t0);
    *status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(curl);
    return rc == CURLE_OK ? ms : -1;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int parse(int argc, char **argv)
{
    static const struct option longs[] = {
        {"connections", required_argument, 0, 'c'},
        {"addresses", required_argument, 0, 'a'},
        {"seconds", required_argument, 0, 's'},
        {"ca", required_argument, 0, 'C'},
        {"put-path", required_argument, 0, 'p'},
        {"max-rss-mib", required_argument, 0, 'm'},
        {"max-p99-ms", required_argument, 0, 'l'},
        {"min-success", required_argument, 0, 'S'},
        {0, 0, 0, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (o) {
        case 'c': opt.connections = (unsigned)cli_number(optarg, 1000000, "--connections"); break;
        case 'a': opt.addresses = (unsigned)cli_number(optarg, 1000000, "--addresses"); break;
        case 's': opt.seconds = (unsigned)cli_number(optarg, 1000000, "--seconds"); break;
        case 'C': opt.ca = optarg; break;
        case 'p': opt.put_path = optarg; break;
        case 'm': opt.max_rss_mib = (unsigned)cli_number(optarg, 1000000, "--max-rss-mib"); break;
        case 'l': opt.max_p99_ms = (unsigned)cli_number(optarg, 1000000, "--max-p99-ms"); break;
        case 'S': opt.min_success = cli_share(optarg, "--min-success"); break;
        default: return -1;
        }
    }
    if (argc - optind < 4 || !opt.connections || !opt.addresses || opt.addresses > 250)
        return -1;
    opt.host = argv[optind];
    opt.port = (int)cli_number(argv[optind + 1], 65535, "PORT");
    opt.pid = (int)cli_number(argv[optind + 2], 4194304, "PID");
    opt.legit_url = argv[optind + 3];
    for (int i = optind + 4; i < argc; i++)
        opt.headers = curl_slist_append(opt.headers, argv[i]);
    return 0;
}

int main(int argc, char **argv)
{
    if (parse(argc, argv) != 0) {
        fprintf(stderr, "usage: conn_flood [--connections N] [--addresses N] [--seconds N] "
                        "[--ca FILE] [--put-path P] [--max-rss-mib N] HOST PORT SERVER_PID "
                        "LEGIT_URL [HEADER]...\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a server closing on us is expected */
    struct rlimit files;
    getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tls = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(tls, SSL_VERIFY_NONE, NULL);

    long rss_before = rss_kib(opt.pid);
    pthread_t flood;
    pthread_create(&flood, NULL, flood_main, NULL);
    sleep(2); /* let the slow connections pile up first */

    size_t cap = 100000, n = 0, ok = 0;
    double *lat = calloc(cap, sizeof *lat);
    long peak_rss = rss_before;
    int64_t end = now_ms() + (int64_t)opt.seconds * 1000;
    unsigned long long statuses[6] = {0};
    while (now_ms() < end && n < cap) {
        long status;
        double ms = legit_request(&status);
        lat[n++] = ms < 0 ? 1e9 : ms;
        statuses[status / 100 < 6 ? status / 100 : 0]++;
        if (ms >= 0 && status / 100 == 2)
            ok++;
        long rss = rss_kib(opt.pid);
        if (rss > peak_rss)
            peak_rss = rss;
        usleep(20000);
    }
    atomic_store(&flooding, false);
    pthread_join(flood, NULL);

    qsort(lat, n, sizeof *lat, by_value);
    double p50 = n ? lat[n / 2] : 0, p99 = n ? lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] : 0;
    double success = n ? (double)ok / (double)n : 0;

    sleep(1);
    unsigned after_ok = 0;
    for (int i = 0; i < 20; i++) {
        long status;
        if (legit_request(&status) >= 0 && status / 100 == 2)
            after_ok++;
    }
    bool pass = n >= 20 && success >= opt.min_success && p99 < (double)opt.max_p99_ms &&
                peak_rss >= 0 && peak_rss < (long)opt.max_rss_mib * 1024 && after_ok == 20;
    printf("flood: %u slow connections from %u addresses (%s, %s, %s, %s, %s, %s) for %u s; "
           "%llu opened, %llu closed by the server\n",
           opt.connections, opt.addresses, kind_name[0], kind_name[1], kind_name[2], kind_name[3],
           kind_name[4], kind_name[5], opt.seconds, opened, closed_by_server);
    printf("legitimate: %zu requests, %.1f%% succeeded (2xx %llu, 4xx %llu, 5xx %llu, "
           "none %llu), p50 %.0f ms, p99 %.0f ms\n",
           n, 100.0 * success, statuses[2], statuses[4], statuses[5], statuses[0], p50, p99);
    printf("server RSS: %ld MiB before, %ld MiB peak (limit %u); after the flood %u/20 ok\n",
           rss_before / 1024, peak_rss / 1024, opt.max_rss_mib, after_ok);
    printf("%s\n", pass ? "PASS" : "FAIL");
    free(lat);
    curl_slist_free_all(opt.headers);
    SSL_CTX_free(tls);
    return pass ? 0 : 1;
}
