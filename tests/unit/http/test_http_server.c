/*
 * The HTTP glue (src/http/http.c, body_stream.c) through a real
 * libmicrohttpd server on loopback, driven with raw requests over a socket
 * so that the framing is exactly what the test writes:
 *   - header (lookup and the walk in arrival order), query and raw-target
 *     accessors as a handler sees them;
 *   - the framing refusals (duplicate or non-numeric Content-Length,
 *     Content-Length with Transfer-Encoding, codings other than chunked,
 *     too many query parameters): 400, the handler never called, the
 *     connection closed;
 *   - bodies: buffered, chunked, over the cap (413, drained or, beyond
 *     the drain limit, answered at once and closed);
 *   - streamed responses read ahead on the workers, in order, with the
 *     context released exactly once, and cut short when the reader fails;
 *   - the headers and idle deadlines closing connections that never
 *     finish a request or never send another;
 *   - the response-header helpers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "body_stream.h"
#include "http.h"
#include "log.h"
#include "test.h"

#define MAX_BODY 4096
#define STREAM_LEN (600u * 1024 + 17)    /* more than two read-ahead blocks */
#define SMALL_STREAM_LEN (5u * 1024 + 3) /* read whole on the worker */

static atomic_int handler_calls;
static atomic_int stream_frees;

/* The streamed body: byte i is (i * 7 + i / 4096) mod 251; the reader
 * fails at `fail_at` when that is inside the body. */
typedef struct {
    uint64_t fail_at;
} stream_ctx;

static uint8_t stream_byte(uint64_t i)
{
    return (uint8_t)((i * 7 + i / 4096) % 251);
}

static ssize_t stream_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    stream_ctx *s = ctx;
    if (pos + max > s->fail_at)
        return CF_HTTP_READ_ABORT;
    for (size_t i = 0; i < max; i++)
        buf[i] = (char)stream_byte(pos + i);
    return (ssize_t)max;
}

static void stream_free(void *ctx)
{
    free(ctx);
    atomic_fetch_add(&stream_frees, 1);
}

/* Whether exactly `n` stream contexts have been released, waiting up to two
 * seconds (a release may trail its response: it runs when libmicrohttpd
 * lets go). */
static bool stream_frees_reach(int n)
{
    for (int i = 0; i < 100 && atomic_load(&stream_frees) < n; i++)
        usleep(20000);
    return atomic_load(&stream_frees) == n;
}

static bool add_line(cf_buf *b, const char *name, const char *value)
{
    return cf_buf_append_str(b, name) && cf_buf_append_str(b, "=") &&
           cf_buf_append_str(b, value ? value : "(null)") && cf_buf_append_str(b, "\n");
}

/* Collects header names in arrival order, stopping after "X-Stop". */
static bool list_header(void *ctx, const char *name, const char *value)
{
    (void)value;
    cf_buf *b = ctx;
    if (!cf_buf_append_str(b, name) || !cf_buf_append_str(b, ","))
        return false;
    return strcasecmp(name, "X-Stop") != 0;
}

/* Echoes what the glue parsed, one "name=value" line each; paths under
 * /stream answer with a streamed body instead. */
static void echo_handler(void *ctx, cf_http_request *req, cf_http_response *resp)
{
    (void)ctx;
    atomic_fetch_add(&handler_calls, 1);
    if (strncmp(req->path, "/stream", 7) == 0) {
        stream_ctx *s = calloc(1, sizeof *s);
        if (!s) {
            resp->status = 500;
            return;
        }
        bool small = strncmp(req->path, "/stream/small", 13) == 0;
        s->fail_at = strcmp(req->path, "/stream/fail") == 0         ? 300u * 1024
                     : strcmp(req->path, "/stream/small/fail") == 0 ? 2048
                                                                    : UINT64_MAX;
        resp->status = 200;
        resp->content_type = "application/octet-stream";
        resp->stream.reader = stream_read;
        resp->stream.free = stream_free;
        resp->stream.ctx = s;
        resp->stream.length = small ? SMALL_STREAM_LEN : STREAM_LEN;
        return;
    }
    char len[32];
    snprintf(len, sizeof len, "%zu", req->body.len);
    cf_buf names;
    cf_buf_init(&names, 4096);
    cf_http_each_header(req, list_header, &names);
    if (!cf_buf_terminate(&names))
        names.len = 0;
    bool ok = add_line(&resp->body, "method", req->method) &&
              add_line(&resp->body, "path", req->path) &&
              add_line(&resp->body, "raw", req->raw_path) &&
              add_line(&resp->body, "x-test", cf_http_header(req, "x-test")) &&
              add_line(&resp->body, "q-b", cf_http_query(req, "b")) &&
              add_line(&resp->body, "nul", cf_http_target_has_nul(req) ? "yes" : "no") &&
              add_line(&resp->body, "headers", names.len ? (const char *)names.data : "") &&
              add_line(&resp->body, "body-len", len) &&
              cf_buf_append_slice(&resp->body, cf_buf_slice(&req->body)) &&
              cf_http_add_header(resp, "X-Echo", "1");
    cf_buf_free(&names);
    resp->status = ok ? 200 : 500;
    resp->content_type = "text/plain";
}

/* --- a raw client -------------------------------------------------------- */

static uint16_t server_port;

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(server_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

typedef struct {
    unsigned status;
    char *head; /* status line and headers, NUL-terminated */
    uint8_t *body;
    size_t body_len; /* bytes received */
    size_t declared; /* the response's Content-Length */
    bool closed;     /* the server closed the connection after it */
} response;

static void response_free(response *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* A header of the response (case-insensitive name), copied into out. */
static bool response_header(const response *r, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    for (const char *line = strstr(r->head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
            h += n + 1;
            while (*h == ' ')
                h++;
            size_t vlen = strcspn(h, "\r");
            if (vlen >= outlen)
                return false;
            memcpy(out, h, vlen);
            out[vlen] = 0;
            return true;
        }
    }
    return false;
}

/* Reads one response (Content-Length framed); with `wait_close`, then
 * waits for the end of the stream (or the 5 s receive timeout). */
static bool read_response(int fd, response *r, bool wait_close)
{
    memset(r, 0, sizeof *r);
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    char *end = NULL;
    while (!end) {
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0) {
            free(buf);
            return false;
        }
        len += (size_t)n;
        buf[len] = 0;
        end = strstr((char *)buf, "\r\n\r\n");
        if (!end && len + 1 == cap) {
            free(buf);
            return false;
        }
    }
    size_t head_len = (size_t)(end - (char *)buf) + 4;
    r->head = strndup((char *)buf, head_len);
    r->status = (unsigned)strtoul(r->head + 9, NULL, 10);
    char cl[32] = "0";
    (void)response_header(r, "Content-Length", cl, sizeof cl);
    r->declared = strtoull(cl, NULL, 10);
    r->body = malloc(r->declared + 1);
    r->body_len = len - head_len < r->declared ? len - head_len : r->declared;
    memcpy(r->body, buf + head_len, r->body_len);
    free(buf);
    while (r->body_len < r->declared) {
        ssize_t n = recv(fd, r->body + r->body_len, r->declared - r->body_len, 0);
        if (n <= 0) {
            r->closed = n == 0;
            r->body[r->body_len] = 0;
            return true; /* cut short: the caller looks at body_len */
        }
        r->body_len += (size_t)n;
    }
    r->body[r->body_len] = 0;
    if (wait_close) {
        uint8_t extra;
        r->closed = recv(fd, &extra, 1, 0) == 0;
    }
    return true;
}

/* One request on a fresh connection. */
static bool exchange(const char *request, response *r, bool wait_close)
{
    int fd = connect_server();
    if (fd < 0)
        return false;
    bool ok = send_all(fd, request, strlen(request)) && read_response(fd, r, wait_close);
    close(fd);
    return ok;
}

/* POSTs `len` bytes of 'x' with a Content-Length. */
static bool post_filler(size_t len, response *r)
{
    char head[256];
    snprintf(head, sizeof head,
             "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
             len);
    char *body = malloc(len);
    int fd = connect_server();
    bool ok = body && fd >= 0;
    if (ok) {
        memset(body, 'x', len);
        ok = send_all(fd, head, strlen(head)) && send_all(fd, body, len) &&
             read_response(fd, r, false);
    }
    if (fd >= 0)
        close(fd);
    free(body);
    return ok;
}

static bool body_has(const response *r, const char *line)
{
    return r->body && strstr((const char *)r->body, line) != NULL;
}

/* --- tests ------------------------------------------------------------------ */

static void test_accessors(void)
{
    response r;
    CHECK(exchange("GET /a%20b/c?b=x%20y&a=1 HTTP/1.1\r\nHost: t\r\nX-TEST: hello\r\n"
                   "Connection: close\r\n\r\n",
                   &r, false));
    CHECK(r.status == 200);
    CHECK(body_has(&r, "method=GET\n"));
    CHECK(body_has(&r, "path=/a b/c\n"));              /* decoded, no query */
    CHECK(body_has(&r, "raw=/a%20b/c?b=x%20y&a=1\n")); /* as sent */
    CHECK(body_has(&r, "x-test=hello\n"));             /* names case-insensitive */
    CHECK(body_has(&r, "q-b=x y\n"));
    CHECK(body_has(&r, "nul=no\n"));
    CHECK(body_has(&r, "headers=Host,X-TEST,Connection,\n")); /* in arrival order */
    char v[128];
    CHECK(response_header(&r, "X-Echo", v, sizeof v) && strcmp(v, "1") == 0);
    CHECK(response_header(&r, "x-ms-request-id", v, sizeof v) && strlen(v) == CF_REQUEST_ID_LEN);
    CHECK(response_header(&r, "Cache-Control", v, sizeof v) && strcmp(v, "no-store") == 0);
    CHECK(response_header(&r, "X-Content-Type-Options", v, sizeof v) && strcmp(v, "nosniff") == 0);
    CHECK(response_header(&r, "Content-Type", v, sizeof v) && strcmp(v, "text/plain") == 0);
    /* Plain HTTP: no HSTS promise. */
    CHECK(!response_header(&r, "Strict-Transport-Security", v, sizeof v));
    response_free(&r);

    CHECK(exchange("GET /x?q HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r, false));
    CHECK(body_has(&r, "x-test=(null)\n") && body_has(&r, "q-b=(null)\n"));
    response_free(&r);
    /* The walk stops when the callback says so. */
    CHECK(exchange("GET /x HTTP/1.1\r\nA: 1\r\nX-Stop: 1\r\nB: 2\r\nConnection: close\r\n\r\n", &r,
                   false));
    CHECK(body_has(&r, "headers=A,X-Stop,\n"));
    response_free(&r);

    /* An encoded NUL anywhere in the target is visible to the service. */
    CHECK(
        exchange("GET /a%00evil?b=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r, false));
    CHECK(r.status == 200 && body_has(&r, "nul=yes\n"));
    response_free(&r);
    CHECK(exchange("GET /a?b=%00 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r, false));
    CHECK(body_has(&r, "nul=yes\n"));
    response_free(&r);
}

static void test_bodies(void)
{
    /* Content-Length (leading zeros are still one number) and chunked. */
    static const struct {
        const char *request, *echo;
    } cases[] = {
        {"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
         "body-len=5\nhello"},
        {"POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
         "Connection: close\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
         "body-len=7\nabcdefg"},
        {"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
         "body-len=0\n"},
        {"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 003\r\nConnection: close\r\n\r\nxyz",
         "body-len=3\nxyz"},
    };
    response r;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK(exchange(cases[i].request, &r, false));
        CHECK(r.status == 200 && body_has(&r, cases[i].echo));
        response_free(&r);
    }

    /* Over the cap: 413 without the handler; exactly at it: fine. */
    int before = atomic_load(&handler_calls);
    CHECK(post_filler(MAX_BODY + 1, &r));
    CHECK(r.status == 413 && body_has(&r, "RequestTooLarge"));
    CHECK(atomic_load(&handler_calls) == before);
    response_free(&r);
    CHECK(post_filler(MAX_BODY, &r));
    CHECK(r.status == 200 && body_has(&r, "body-len=4096\n"));
    response_free(&r);
    /* Declared beyond what the server drains: the 413 comes at once, with
     * no body sent, and the connection closes. */
    CHECK(exchange("POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n", &r, true));
    CHECK(r.status == 413 && r.closed);
    CHECK(atomic_load(&handler_calls) == before + 1);
    response_free(&r);
}

/* The read-ahead block: the body's length within 4 KiB..256 KiB. */
static void test_stream_block_size(void)
{
    CHECK(cf_body_stream_block(0) == 4096);
    CHECK(cf_body_stream_block(1) == 4096);
    CHECK(cf_body_stream_block(5000) == 5000);
    CHECK(cf_body_stream_block(256u * 1024) == 256u * 1024);
    CHECK(cf_body_stream_block(256u * 1024 + 1) == 256u * 1024);
    CHECK(cf_body_stream_block(UINT64_MAX) == 256u * 1024);
}

/* Each of these frames its body ambiguously: 400, never the handler, and
 * the connection closed after the answer (nothing after it is read as a
 * second request).  Where libmicrohttpd passes the request on, the glue's
 * own check answers (its JSON body); a malformed Content-Length
 * libmicrohttpd refuses itself, before the glue sees it. */
static void test_framing_refusals(void)
{
    static const struct {
        const char *request;
        bool by_glue;
    } bad[] = {
        {"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", true},
        {"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", true},
        {"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
         "3\r\nabc\r\n0\r\n\r\n",
         true},
        {"POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", true},
        {"POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", true},
        {"POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         true},
        {"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc", false},
        {"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 3x\r\n\r\nabc", false},
        {"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", false},
        {"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length:\r\n\r\n", false},
        {"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 1 2\r\n\r\nab", false},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int before = atomic_load(&handler_calls);
        int fd = connect_server();
        CHECK(fd >= 0);
        /* A smuggled second request rides behind the first. */
        cf_buf req;
        cf_buf_init(&req, 4096);
        CHECK(cf_buf_append_str(&req, bad[i].request) &&
              cf_buf_append_str(&req, "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"));
        CHECK(send_all(fd, (const char *)req.data, req.len));
        cf_buf_free(&req);
        response r;
        bool got = read_response(fd, &r, true);
        close(fd);
        CHECK(got);
        if (!got) {
            fprintf(stderr, "  no answer to framing case %zu\n", i);
            continue;
        }
        bool glue_body = body_has(&r, "Conflicting or unsupported message framing");
        if (r.status != 400 || !r.closed || glue_body != bad[i].by_glue)
            fprintf(stderr, "  framing case %zu: status %u, closed %d, glue %d\n", i, r.status,
                    r.closed, glue_body);
        CHECK(r.status == 400);
        CHECK(r.closed);
        CHECK(glue_body == bad[i].by_glue);
        CHECK(atomic_load(&handler_calls) == before);
        response_free(&r);
    }
}

/* A GET with `count` query parameters. */
static bool get_with_params(int count, response *r)
{
    cf_buf req;
    cf_buf_init(&req, 8192);
    bool ok = cf_buf_append_str(&req, "GET /q?a=0");
    for (int i = 1; ok && i < count; i++)
        ok = cf_buf_append_str(&req, "&a=1");
    ok = ok && cf_buf_append_str(&req, " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n") &&
         cf_buf_terminate(&req) && exchange((const char *)req.data, r, false);
    cf_buf_free(&req);
    return ok;
}

/* 256 parameters are served; one more is refused before libmicrohttpd
 * would run out of connection memory parsing them. */
static void test_too_many_query_params(void)
{
    response r;
    CHECK(get_with_params(256, &r));
    CHECK(r.status == 200);
    response_free(&r);
    int before = atomic_load(&handler_calls);
    CHECK(get_with_params(257, &r));
    CHECK(r.status == 400 && body_has(&r, "Too many query parameters"));
    CHECK(atomic_load(&handler_calls) == before);
    response_free(&r);
}

static void test_keep_alive(void)
{
    int fd = connect_server();
    CHECK(fd >= 0);
    const char *one = "GET /first HTTP/1.1\r\nHost: t\r\n\r\n";
    const char *two = "GET /second HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    response r;
    CHECK(send_all(fd, one, strlen(one)) && read_response(fd, &r, false));
    CHECK(r.status == 200 && body_has(&r, "path=/first\n"));
    response_free(&r);
    CHECK(send_all(fd, two, strlen(two)) && read_response(fd, &r, true));
    CHECK(r.status == 200 && body_has(&r, "path=/second\n") && r.closed);
    response_free(&r);
    close(fd);
}

/* Whether the body received so far is the stream's, byte for byte. */
static bool body_matches_stream(const response *r)
{
    size_t wrong = 0;
    for (size_t i = 0; i < r->body_len; i++)
        wrong += r->body[i] != stream_byte(i);
    return wrong == 0;
}

/* A small streamed body is read whole before the response goes out: all
 * of it arrives, and a reader failing part way means no response at all
 * (the connection is cut), never a short or wrong body; HEAD reads nothing;
 * every context is freed. */
static void test_small_streamed_response(void)
{
    int frees = atomic_load(&stream_frees);
    response r;
    CHECK(
        exchange("GET /stream/small HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r, false));
    CHECK(r.status == 200 && r.declared == SMALL_STREAM_LEN && r.body_len == SMALL_STREAM_LEN);
    CHECK(body_matches_stream(&r));
    response_free(&r);
    CHECK(!exchange("GET /stream/small/fail HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r,
                    false));
    /* HEAD never reads the body, so a reader that would fail does not
     * stop the headers. */
    CHECK(exchange("HEAD /stream/small/fail HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r,
                   false));
    CHECK(r.status == 200 && r.declared == SMALL_STREAM_LEN && r.body_len == 0);
    response_free(&r);
    CHECK(stream_frees_reach(frees + 3));
}

static void test_streamed_response(void)
{
    int frees = atomic_load(&stream_frees);
    response r;
    CHECK(exchange("GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r, false));
    CHECK(r.status == 200 && r.declared == STREAM_LEN && r.body_len == STREAM_LEN);
    CHECK(body_matches_stream(&r));
    response_free(&r);
    /* A reader failing part way: the client gets a short body, never
     * bytes that are not the body, and the context is still freed. */
    CHECK(exchange("GET /stream/fail HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r, false));
    CHECK(r.status == 200 && r.declared == STREAM_LEN && r.body_len < STREAM_LEN);
    CHECK(body_matches_stream(&r));
    response_free(&r);
    /* Both contexts released, once each (the release may trail the
     * response by a moment: it runs when libmicrohttpd lets go). */
    CHECK(stream_frees_reach(frees + 2));
}

/* Seconds until the server ends the stream on `fd`; -1 when it does not
 * within the 5 s receive timeout (or sends data instead). */
static double seconds_until_cut(int fd)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char c;
    ssize_t n = recv(fd, &c, 1, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    bool cut = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    return cut ? (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 : -1;
}

/* Headers that never finish, and a keep-alive connection left idle, are
 * cut after their deadlines (1 s and 2 s here), not held open. */
static void test_deadlines_on_server(void)
{
    int fd = connect_server();
    CHECK(fd >= 0);
    const char *partial = "GET /slow HTTP/1.1\r\nHost: t\r\n";
    CHECK(send_all(fd, partial, strlen(partial)));
    double waited = seconds_until_cut(fd);
    CHECK(waited >= 0.9 && waited < 4.0);
    close(fd);

    fd = connect_server();
    const char *one = "GET /idle HTTP/1.1\r\nHost: t\r\n\r\n";
    response r;
    CHECK(fd >= 0 && send_all(fd, one, strlen(one)) && read_response(fd, &r, false));
    CHECK(r.status == 200);
    response_free(&r);
    waited = seconds_until_cut(fd);
    CHECK(waited >= 1.9 && waited < 4.5);
    close(fd);
}

static void test_response_header_helpers(void)
{
    cf_http_response resp = {0};
    CHECK(cf_http_add_header(&resp, "ETag", "\"0x1\""));
    CHECK(cf_http_add_header(&resp, "x-ms-meta-a", ""));
    CHECK(cf_http_response_header(&resp, "etag") &&
          strcmp(cf_http_response_header(&resp, "etag"), "\"0x1\"") == 0);
    CHECK(cf_http_response_header(&resp, "X-MS-META-A") &&
          strcmp(cf_http_response_header(&resp, "X-MS-META-A"), "") == 0);
    CHECK(cf_http_response_header(&resp, "ETa") == NULL);
    /* No header splitting: line breaks in names or values, colons in names. */
    cf_error_clear();
    CHECK(!cf_http_add_header(&resp, "X-A", "v\r\nSet-Cookie: x"));
    CHECK(cf_error_code() == CF_ERR_INTERNAL);
    CHECK(!cf_http_add_header(&resp, "X-A", "v\nw"));
    CHECK(!cf_http_add_header(&resp, "X-A\r\nX-B", "v"));
    CHECK(!cf_http_add_header(&resp, "X-A: b", "v"));
    CHECK(cf_http_response_header(&resp, "X-A") == NULL);
    /* The cap on all headers together. */
    static char value[CF_HTTP_HEADERS_MAX];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = 0;
    cf_error_clear();
    CHECK(!cf_http_add_header(&resp, "X-Big", value));
    CHECK(cf_error_code() == CF_ERR_TOO_LARGE);
    cf_http_clear_headers(&resp);
    CHECK(cf_http_response_header(&resp, "etag") == NULL);
    CHECK(cf_http_add_header(&resp, "ETag", "2") &&
          strcmp(cf_http_response_header(&resp, "ETag"), "2") == 0);
    cf_buf_free(&resp.headers);
}

int main(void)
{
    cf_log_set_level(CF_LOG_ERROR); /* refusals log warnings by design */
    cf_http_config config = {0};
    config.name = "test";
    config.listen = "127.0.0.1:0";
    config.max_body = MAX_BODY;
    config.workers = 2;
    config.deadlines.headers_seconds = 1;
    config.deadlines.idle_seconds = 2;
    config.drain_max = 64 * 1024;
    config.handler = echo_handler;
    cf_http_server *server = NULL;
    if (!cf_http_start(&config, &server)) {
        fprintf(stderr, "cannot start the server: %s\n", cf_error_detail());
        return 1;
    }
    server_port = cf_http_port(server);
    RUN(test_response_header_helpers);
    RUN(test_stream_block_size);
    RUN(test_accessors);
    RUN(test_bodies);
    RUN(test_framing_refusals);
    RUN(test_too_many_query_params);
    RUN(test_keep_alive);
    RUN(test_streamed_response);
    RUN(test_small_streamed_response);
    RUN(test_deadlines_on_server);
    cf_http_stop(server);
    TEST_DONE();
}
