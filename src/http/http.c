/*
 * libmicrohttpd glue.  The access handler is called several times per
 * request: first with no body (we allocate per-request state and return),
 * then with body chunks, then once with nothing left (we dispatch and queue
 * the response).  Queuing on the first call would make libmicrohttpd close
 * keep-alive connections, so we never do.
 *
 * Bodies either collect in a buffer up to the cap, or stream: the service's
 * begin() hook sees the headers first and may hand every chunk to a sink
 * (coffer-blob encrypts uploads on the way in) or answer at once.  Response
 * bodies are a buffer or a reader callback; either way memory per request
 * stays bounded by the connection buffers, whatever the body size.
 */
#include "http.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "body_stream.h"
#include "crypto.h"
#include "deadlines.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "secmem.h"
#include "workers.h"
#include "units.h"

struct cf_http_server {
    struct MHD_Daemon *daemon;
    cf_http_config config;
    uint16_t port;
    cf_workers *workers;
    cf_deadlines *deadlines;
    atomic_bool stopping;
    /* TLS session tickets: GnuTLS derives the ticket keys from this master
     * key and rotates them every CF_TICKET_ROTATE_SECONDS; it lives in
     * locked memory and dies with the process, so a restart (or a memory
     * dump of the disk) never yields a key to old sessions. */
    gnutls_datum_t ticket_master;
};

#define CF_TICKET_MASTER_LEN 64 /* GnuTLS's master key size */
#define CF_TICKET_ROTATE_SECONDS CF_SECONDS_PER_HOUR

#define CF_HTTP_DRAIN_MAX (16u << 20)
/* More query parameters than any API here takes; libmicrohttpd would run
 * out of connection memory parsing them and drop the connection unanswered. */
#define CF_HTTP_MAX_QUERY_PARAMS 256

_Static_assert(CF_HTTP_READ_ABORT == MHD_CONTENT_READER_END_WITH_ERROR,
               "CF_HTTP_READ_ABORT must be libmicrohttpd's error value");

/* Work a request hands to the worker pool, in order. */
typedef enum { CF_OP_START, CF_OP_CHUNK, CF_OP_FINAL } cf_op_kind;
/* What the connection thread is suspended for. */
typedef enum { CF_WAIT_NONE, CF_WAIT_START, CF_WAIT_SLOT, CF_WAIT_FINAL } cf_wait;

#define CF_HTTP_CHUNK_SLOTS 2 /* upload chunks in flight per request */
#define CF_HTTP_CHUNK_FILL (256u * 1024)

typedef struct {
    cf_op_kind kind;
    unsigned slot; /* CF_OP_CHUNK: which chunk buffer */
} cf_http_op;

typedef struct {
    cf_job job; /* first: the pool hands it back */
    cf_http_server *server;
    cf_http_request req;
    pthread_mutex_t mu;
    /* Set up on the connection thread at the first call. */
    bool set_up, started;
    bool has_body;
    uint64_t declared; /* the Content-Length, 0 without one */
    /* The request's queue on the worker pool (under mu). */
    cf_http_op ops[CF_HTTP_CHUNK_SLOTS + 2];
    unsigned op_head, op_count;
    bool running;  /* a worker is on this request */
    bool post_due; /* running, but not yet posted: cf_http_unlock posts */
    bool finished; /* libmicrohttpd is done with it: whoever is last frees */
    cf_wait waiting;
    bool start_done, final_posted;
    cf_buf chunk[CF_HTTP_CHUNK_SLOTS];
    bool chunk_busy[CF_HTTP_CHUNK_SLOTS];
    int filling; /* the slot gathering body bytes, or -1 */
    /* The response, built on a worker, queued by the connection thread. */
    struct MHD_Response *ready;
    unsigned ready_status;
    cf_http_begin_result mode;
    bool responded; /* begin() answered; the response waits in `early` */
    bool cut;       /* no response could be built: the connection is closed */
    cf_http_response early;
    bool too_large;
    bool too_many_params;
    size_t drained; /* bytes of an oversize body read and dropped */
    char *raw_path;
    char addr[INET6_ADDRSTRLEN];
    struct timespec begun; /* the request line arrived */
    uint64_t bytes_out;    /* the response body's length */
} cf_http_state;

const char *cf_http_header(const cf_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *cf_http_query(const cf_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct {
    bool (*each)(void *ctx, const char *name, const char *value);
    void *ctx;
    bool stop;
} cf_http_header_walk;

static enum MHD_Result cf_http_header_visit(void *cls, enum MHD_ValueKind kind, const char *key,
                                            const char *value)
{
    (void)kind;
    cf_http_header_walk *walk = cls;
    if (walk->stop)
        return MHD_NO;
    if (!walk->each(walk->ctx, key, value ? value : ""))
        walk->stop = true;
    return walk->stop ? MHD_NO : MHD_YES;
}

void cf_http_each_header(const cf_http_request *req,
                         bool (*each)(void *ctx, const char *name, const char *value), void *ctx)
{
    cf_http_header_walk walk = {each, ctx, false};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, cf_http_header_visit, &walk);
}

/* The packed list is "name\0value\0" pairs; the buffer's cap bounds it. */
bool cf_http_add_header(cf_http_response *resp, const char *name, const char *value)
{
    if (!resp->headers.max)
        cf_buf_init(&resp->headers, CF_HTTP_HEADERS_MAX);
    CF_ENSURE(!strpbrk(name, "\r\n:") && !strpbrk(value, "\r\n"), CF_ERR_INTERNAL,
              "header with a line break");
    CF_ENSURE(cf_buf_append(&resp->headers, name, strlen(name) + 1) &&
                  cf_buf_append(&resp->headers, value, strlen(value) + 1),
              CF_ERR_TOO_LARGE, "response headers too large");
    return true;
}

/* Walks the packed list: *pos advances past one pair per call. */
static bool cf_http_next_header(const cf_http_response *resp, size_t *pos, const char **name,
                                const char **value)
{
    if (*pos >= resp->headers.len)
        return false;
    *name = (const char *)resp->headers.data + *pos;
    *pos += strlen(*name) + 1;
    *value = (const char *)resp->headers.data + *pos;
    *pos += strlen(*value) + 1;
    return true;
}

const char *cf_http_response_header(const cf_http_response *resp, const char *name)
{
    const char *n, *v;
    for (size_t pos = 0; cf_http_next_header(resp, &pos, &n, &v);)
        if (strcasecmp(n, name) == 0)
            return v;
    return NULL;
}

void cf_http_clear_headers(cf_http_response *resp)
{
    cf_buf_clear(&resp->headers);
}

static void cf_http_client_addr(struct MHD_Connection *conn, char *out, size_t len)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = 0;
    if (!info || !info->client_addr)
        return;
    const struct sockaddr *sa = info->client_addr;
    socklen_t salen =
        sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (getnameinfo(sa, salen, out, (socklen_t)len, NULL, 0, NI_NUMERICHOST) != 0)
        out[0] = 0;
}

/* Response bodies can carry secret values and unwrapped keys: the copy
 * libmicrohttpd sends from is wiped when it is done with it. */
static void cf_http_wiping_free(void *p)
{
    if (!p)
        return;
    cf_memzero(p, malloc_usable_size(p));
    free(p);
}

static void cf_http_response_free(cf_http_response *resp)
{
    if (resp->stream.free)
        resp->stream.free(resp->stream.ctx);
    resp->stream.free = NULL;
    cf_buf_free(&resp->body);
    cf_buf_free(&resp->headers);
}

/* A streamed body up to this size is read whole on the worker and sent from
 * a buffer: no read-ahead slots and no callback per write, and the reader
 * (a blob's snapshot and its pins) is released before the connection
 * thread sees the response. */
#define CF_HTTP_SMALL_STREAM (16u * 1024)

/* The small body read whole; NULL if the reader failed (the connection is
 * then cut, as a failed stream would be) or memory ran out. */
static struct MHD_Response *cf_http_small_stream(cf_http_response *resp)
{
    size_t len = (size_t)resp->stream.length, got = 0;
    char *copy = malloc(len ? len : 1);
    while (copy && got < len) {
        ssize_t n = resp->stream.reader(resp->stream.ctx, got, copy + got, len - got);
        if (n <= 0 || (size_t)n > len - got) {
            cf_http_wiping_free(copy);
            copy = NULL;
        } else {
            got += (size_t)n;
        }
    }
    if (resp->stream.free)
        resp->stream.free(resp->stream.ctx);
    resp->stream.free = NULL;
    resp->stream.ctx = NULL; /* freed; `reader` stays set to mark a stream */
    struct MHD_Response *r =
        copy ? MHD_create_response_from_buffer_with_free_callback(len, copy, cf_http_wiping_free)
             : NULL;
    if (copy && !r)
        cf_http_wiping_free(copy);
    return r;
}

static struct MHD_Response *cf_http_make_body(cf_http_server *server, cf_http_state *st,
                                              cf_http_response *resp)
{
    /* Not for HEAD: its body is never sent, so never read (a blob whose
     * bytes fail to open still has its properties served). */
    if (resp->stream.reader && resp->stream.length <= CF_HTTP_SMALL_STREAM &&
        strcmp(st->req.method, MHD_HTTP_METHOD_HEAD) != 0)
        return cf_http_small_stream(resp);
    if (resp->stream.reader) {
        cf_body_stream *s = cf_body_stream_new(resp, server->workers, st->req.conn);
        if (!s)
            return NULL;
        struct MHD_Response *r = MHD_create_response_from_callback(
            resp->stream.length, cf_body_stream_block(resp->stream.length), cf_body_stream_read, s,
            cf_body_stream_free);
        if (!r) {
            cf_body_stream_free(s);
            return NULL;
        }
        cf_body_stream_prime(s);
        return r;
    }
    void *copy = malloc(resp->body.len ? resp->body.len : 1);
    if (!copy)
        return NULL;
    if (resp->body.len)
        memcpy(copy, resp->body.data, resp->body.len);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(
        resp->body.len, copy, cf_http_wiping_free);
    if (!r)
        cf_http_wiping_free(copy);
    return r;
}

/* Turns a filled-in response into libmicrohttpd's, with the headers every
 * response carries, into st->ready for the connection thread to queue.  The
 * filled-in response is freed. */
static void cf_http_build(cf_http_server *server, cf_http_state *st, cf_http_response *resp)
{
    struct MHD_Response *r = cf_http_make_body(server, st, resp);
    if (r) {
        const char *n, *v;
        for (size_t pos = 0; cf_http_next_header(resp, &pos, &n, &v);)
            MHD_add_response_header(r, n, v);
        bool has_type = cf_http_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE) != NULL;
        if (!has_type && (resp->body.len || resp->content_type))
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                    resp->content_type ? resp->content_type
                                                       : "application/json; charset=utf-8");
        MHD_add_response_header(r, "x-ms-request-id", st->req.request_id);
        if (!server->config.cacheable &&
            !cf_http_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL))
            MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (st->req.tls)
            MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    }
    st->ready = r;
    st->cut = r == NULL;
    st->ready_status = resp->status ? resp->status : 500;
    st->bytes_out = resp->stream.reader ? resp->stream.length : resp->body.len;
    cf_http_response_free(resp);
}

static void cf_http_default_too_large(void *ctx, cf_http_response *resp)
{
    (void)ctx;
    resp->status = 413;
    if (!cf_buf_append_str(&resp->body,
                           "{\"error\":{\"code\":\"RequestTooLarge\","
                           "\"message\":\"The request body exceeds the service's limit.\"}}"))
        resp->body.len = 0;
}

/* Decides the response: begin()'s answer, 413, or the handler's.  Runs on a
 * worker, except for 413 decided mid-body (no service call that blocks). */
static void cf_http_respond(cf_http_server *server, cf_http_state *st)
{
    if (st->responded) {
        cf_http_build(server, st, &st->early);
        return;
    }
    cf_http_response resp = {0};
    cf_buf_init(&resp.body, 64 * CF_MIB);
    cf_buf_init(&resp.headers, CF_HTTP_HEADERS_MAX);
    if (st->mode != CF_HTTP_STREAM && !st->too_large && !cf_buf_terminate(&st->req.body))
        st->too_large = true;
    if (st->too_large) {
        void (*render)(void *, cf_http_response *) = server->config.render_too_large
                                                         ? server->config.render_too_large
                                                         : cf_http_default_too_large;
        render(server->config.ctx, &resp);
    } else {
        cf_error_clear();
        server->config.handler(server->config.ctx, &st->req, &resp);
    }
    cf_http_build(server, st, &resp);
}

/* Message framing, strictly (RFC 9112 §6): at most one Content-Length, all
 * digits; Transfer-Encoding only as "chunked" and never with a
 * Content-Length.  Anything else could frame the body one way here and
 * another way in a proxy, smuggling a second request through. */
typedef struct {
    unsigned content_length, transfer_encoding;
    bool bad, has_body;
    uint64_t declared; /* Content-Length, saturated; 0 without one */
} cf_http_framing;

static enum MHD_Result cf_http_framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                              const char *value)
{
    (void)kind;
    cf_http_framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        f->content_length++;
        if (!value || !*value || strspn(value, "0123456789") != strlen(value))
            f->bad = true;
        else if (value[strspn(value, "0")]) {
            f->has_body = true;
            f->declared = strtoull(value, NULL, 10); /* ULLONG_MAX when too long */
        }
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding++;
        f->has_body = true;
        if (!value || strcasecmp(value, "chunked") != 0)
            f->bad = true;
    }
    return MHD_YES;
}

static const char *cf_http_framing_refusal(struct MHD_Connection *conn, bool *has_body,
                                           uint64_t *declared)
{
    cf_http_framing f = {0, 0, false, false, 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, cf_http_framing_header, &f);
    *has_body = f.has_body;
    *declared = f.declared;
    if (f.bad || f.content_length > 1 || f.transfer_encoding > 1 ||
        (f.content_length && f.transfer_encoding))
        return "Conflicting or unsupported message framing (Content-Length, Transfer-Encoding).";
    return NULL;
}

/* A request refused from its request line and headers alone, before any
 * service code: 400 and the connection closed. */
static void cf_http_refuse(cf_http_server *server, cf_http_state *st, const char *message)
{
    cf_buf_init(&st->early.body, 1024);
    cf_buf_init(&st->early.headers, CF_HTTP_HEADERS_MAX);
    st->early.status = 400;
    st->responded = true;
    if (!cf_buf_append_str(&st->early.body, "{\"error\":{\"code\":\"BadRequest\",\"message\":\"") ||
        !cf_buf_append_str(&st->early.body, message) ||
        !cf_buf_append_str(&st->early.body, "\"}}") ||
        !cf_http_add_header(&st->early, "Connection", "close"))
        st->early.status = 500;
    cf_log(CF_LOG_WARN, st->req.request_id, "refused request from %s: %s", st->addr, message);
    cf_http_build(server, st, &st->early);
}

/* --- The request's queue on the worker pool --------------------------- */

/* Status 0: the client went away before a response was built. */
static void cf_http_count_request(const cf_http_state *st)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double seconds =
        (double)(now.tv_sec - st->begun.tv_sec) + (double)(now.tv_nsec - st->begun.tv_nsec) / 1e9;
    cf_metrics_request(st->req.operation, st->ready_status,
                       st->req.body_received + st->req.body.len, st->bytes_out, seconds);
}

static void cf_http_state_free(cf_http_server *server, cf_http_state *st)
{
    if (st->started)
        cf_http_count_request(st);
    if (st->started && server->config.request_done)
        server->config.request_done(server->config.ctx, &st->req);
    if (st->ready)
        MHD_destroy_response(st->ready);
    cf_http_response_free(&st->early);
    cf_buf_free(&st->req.body); /* wiped: bodies can carry key material */
    for (unsigned i = 0; i < CF_HTTP_CHUNK_SLOTS; i++)
        cf_buf_free(&st->chunk[i]);
    pthread_mutex_destroy(&st->mu);
    free(st->raw_path);
    free(st);
}

/* begin(), and the 413 decision for a declared oversize body. */
static void cf_http_begin_request(cf_http_server *server, cf_http_state *st)
{
    if (server->config.begin) {
        cf_buf_init(&st->early.body, CF_MIB);
        cf_buf_init(&st->early.headers, CF_HTTP_HEADERS_MAX);
        cf_error_clear();
        st->mode = server->config.begin(server->config.ctx, &st->req, &st->early);
        if (st->mode == CF_HTTP_RESPOND)
            st->responded = true;
        else
            cf_http_response_free(&st->early);
    }
    /* A declared oversize body is never stored.  Up to the drain limit it
     * is read and dropped so the client can read the 413; beyond that the
     * 413 goes out at once and the connection closes. */
    if (!st->responded && st->mode == CF_HTTP_BUFFER && st->declared > server->config.max_body)
        st->too_large = true;
}

static void cf_http_op_start(cf_http_server *server, cf_http_state *st)
{
    cf_http_begin_request(server, st);
    /* Nothing to wait for: answer in the same trip. */
    if (st->responded || !st->has_body)
        cf_http_respond(server, st);
}

static void cf_http_op_chunk(cf_http_state *st, const cf_buf *chunk)
{
    st->req.body_received += chunk->len;
    if (!st->req.stream_failed && !st->req.body_sink(st->req.body_ctx, chunk->data, chunk->len))
        st->req.stream_failed = true;
}

static void cf_http_run(cf_job *job)
{
    cf_http_state *st = (cf_http_state *)job;
    cf_http_server *server = st->server;
    pthread_mutex_lock(&st->mu);
    while (st->op_count) {
        cf_http_op op = st->ops[st->op_head];
        st->op_head = (st->op_head + 1) % (sizeof st->ops / sizeof st->ops[0]);
        st->op_count--;
        bool gone = st->finished;
        pthread_mutex_unlock(&st->mu);
        cf_wait satisfied = CF_WAIT_SLOT;
        if (op.kind == CF_OP_START) {
            cf_http_op_start(server, st);
            satisfied = CF_WAIT_START;
        } else if (op.kind == CF_OP_FINAL) {
            if (!st->ready)
                cf_http_respond(server, st);
            satisfied = CF_WAIT_FINAL;
        } else if (!gone) {
            cf_http_op_chunk(st, &st->chunk[op.slot]);
        }
        pthread_mutex_lock(&st->mu);
        if (op.kind == CF_OP_START)
            st->start_done = true;
        if (op.kind == CF_OP_CHUNK) {
            st->chunk[op.slot].len = 0;
            st->chunk_busy[op.slot] = false;
        }
        if (st->waiting == satisfied) {
            st->waiting = CF_WAIT_NONE;
            MHD_resume_connection(st->req.conn);
        }
    }
    st->running = false;
    bool finished = st->finished;
    pthread_mutex_unlock(&st->mu);
    if (finished)
        cf_http_state_free(server, st);
}

static cf_conn *cf_http_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

/* Suspends the connection (st->mu held) until a worker has done `wait`'s
 * op; the time is the server's, so no client deadline runs meanwhile. */
static void cf_http_wait(cf_http_state *st, cf_wait wait)
{
    st->waiting = wait;
    cf_conn_phase(st->server->deadlines, cf_http_conn_of(st->req.conn), CF_PHASE_BUSY);
    MHD_suspend_connection(st->req.conn);
}

/* Queues one op (with st->mu held) and, with `wait`, suspends the
 * connection until a worker has done it.  The worker needs st->mu to
 * resume, so it cannot resume before the suspension.  The request goes to
 * the pool in cf_http_unlock, once st->mu is free: a worker woken while the
 * connection thread still held it only waited for it, and that wait and
 * its wake-up were a quarter of the vault's context switches. */
static bool cf_http_enqueue(cf_http_state *st, cf_op_kind kind, unsigned slot, cf_wait wait)
{
    const unsigned cap = sizeof st->ops / sizeof st->ops[0];
    if (st->op_count == cap)
        return false;
    if (!st->running)
        st->running = st->post_due = true;
    st->ops[(st->op_head + st->op_count) % cap] = (cf_http_op){kind, slot};
    st->op_count++;
    if (wait != CF_WAIT_NONE)
        cf_http_wait(st, wait);
    return true;
}

/* Releases st->mu and posts a request cf_http_enqueue queued.  False when
 * the pool is shutting down: the ops are dropped and the connection
 * resumed, to be closed.  Only the connection thread enqueues, and a
 * running request is never freed by it, so `st` stays valid until the post. */
static bool cf_http_unlock(cf_http_state *st)
{
    bool post = st->post_due;
    st->post_due = false;
    pthread_mutex_unlock(&st->mu);
    if (!post || cf_workers_post(st->server->workers, &st->job))
        return true;
    pthread_mutex_lock(&st->mu);
    st->running = false;
    st->op_count = 0;
    if (st->waiting != CF_WAIT_NONE) {
        st->waiting = CF_WAIT_NONE;
        MHD_resume_connection(st->req.conn);
    }
    pthread_mutex_unlock(&st->mu);
    return false;
}

/* --- The connection thread ---------------------------------------------- */

static void cf_http_queue_ready(cf_http_state *st, enum MHD_Result *ret)
{
    *ret = MHD_queue_response(st->req.conn, st->ready_status, st->ready);
    MHD_destroy_response(st->ready);
    st->ready = NULL;
    cf_conn_phase(st->server->deadlines, cf_http_conn_of(st->req.conn), CF_PHASE_SENDING);
}

/* A refused request whose declared body is larger than the service will
 * drain is answered at once, and libmicrohttpd closes the connection after
 * the answer instead of reading a body nobody will use. */
static bool cf_http_beyond_drain(const cf_http_server *server, const cf_http_state *st)
{
    uint64_t limit = server->config.drain_max ? server->config.drain_max : CF_HTTP_DRAIN_MAX;
    return st->declared > limit;
}

/* First call: the headers are in.  Sets up the request, refuses what the
 * headers alone condemn, and hands the rest to begin() on a worker. */
static enum MHD_Result cf_http_on_headers(cf_http_server *server, struct MHD_Connection *conn,
                                          cf_http_state *st, const char *url, const char *method)
{
    if (!st->set_up) {
        st->set_up = true;
        st->req.raw_path = st->raw_path;
        st->req.method = method;
        st->req.path = url;
        st->req.conn = conn;
        st->req.tls = server->config.tls_cert_pem.len > 0;
        if (!cf_uuid_v4(st->req.request_id))
            return MHD_NO;
        cf_http_client_addr(conn, st->addr, sizeof st->addr);
        st->req.client_addr = st->addr;
        cf_buf_init(&st->req.body, server->config.max_body);
        st->mode = CF_HTTP_BUFFER;
        const char *refusal = cf_http_framing_refusal(conn, &st->has_body, &st->declared);
        if (!refusal && st->too_many_params)
            refusal = "Too many query parameters.";
        if (refusal) {
            /* Answered now: a body this request frames wrongly (or not at
             * all, as with an unknown transfer coding) is never read, and
             * libmicrohttpd closes the connection after the answer. */
            cf_http_refuse(server, st, refusal);
            st->start_done = true;
            st->started = true;
            enum MHD_Result ret = MHD_NO;
            if (st->ready)
                cf_http_queue_ready(st, &ret);
            return ret;
        }
        if (!server->config.begin_inline ||
            !server->config.begin_inline(server->config.ctx, &st->req)) {
            pthread_mutex_lock(&st->mu);
            bool queued = cf_http_enqueue(st, CF_OP_START, 0, CF_WAIT_START);
            return cf_http_unlock(st) && queued ? MHD_YES : MHD_NO;
        }
        /* A begin() the service calls cheap runs here: one trip through
         * the pool per request (the handler's) instead of two. */
        cf_http_begin_request(server, st);
        st->start_done = true;
        if (st->responded) {
            cf_http_respond(server, st);
        } else if (!st->has_body) {
            pthread_mutex_lock(&st->mu);
            st->final_posted = true;
            bool queued = cf_http_enqueue(st, CF_OP_FINAL, 0, CF_WAIT_FINAL);
            return cf_http_unlock(st) && queued ? MHD_YES : MHD_NO;
        }
    }
    if (!st->start_done)
        return MHD_NO; /* resumed without its answer: cannot happen */
    st->started = true;
    cf_conn_phase(server->deadlines, cf_http_conn_of(conn),
                  st->has_body ? CF_PHASE_BODY : CF_PHASE_BUSY);
    /* A refused request whose client waits for "100 Continue" before its
     * body gets the answer now instead: no 100, no body read.  (Clients
     * that send the body regardless are drained, so they read the answer
     * rather than a reset.) */
    const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    enum MHD_Result ret = MHD_YES;
    bool beyond = (st->responded || st->too_large) && cf_http_beyond_drain(server, st);
    if (beyond && !st->ready)
        cf_http_respond(server, st); /* the 413: no service call */
    if (st->ready &&
        (beyond || (st->responded && expect && strcasecmp(expect, "100-continue") == 0)))
        cf_http_queue_ready(st, &ret);
    return ret;
}

/* A body chunk kept in a buffer or dropped, on the connection thread (a
 * copy, nothing that blocks).  Returns false when the response should go
 * out now (too much body to keep reading). */
static bool cf_http_keep_chunk(const cf_http_server *server, cf_http_state *st, const char *data,
                               size_t len)
{
    bool dropping = st->responded || st->too_large;
    if (!dropping && !cf_buf_append(&st->req.body, data, len)) {
        st->too_large = true;
        cf_buf_free(&st->req.body);
        dropping = true;
    }
    if (dropping) {
        st->drained += len;
        if (st->drained > (server->config.drain_max ? server->config.drain_max : CF_HTTP_DRAIN_MAX))
            return false;
    }
    return true;
}

/* Streamed body bytes are gathered into a slot until CF_HTTP_CHUNK_FILL
 * bytes (or the end of the body), then handed to the sink on a worker,
 * while the connection fills the other slot: one trip through the pool per
 * quarter MiB, not per network read.  With both slots busy the connection
 * waits, the rest of the data left where it is. */
static enum MHD_Result cf_http_on_stream_chunk(cf_http_state *st, const char *data, size_t *len)
{
    pthread_mutex_lock(&st->mu);
    bool ok = true;
    while (*len && ok) {
        if (st->filling < 0) {
            unsigned slot = 0;
            while (slot < CF_HTTP_CHUNK_SLOTS && st->chunk_busy[slot])
                slot++;
            if (slot == CF_HTTP_CHUNK_SLOTS) {
                cf_http_wait(st, CF_WAIT_SLOT);
                break;
            }
            if (!st->chunk[slot].max)
                cf_buf_init(&st->chunk[slot], CF_HTTP_CHUNK_FILL);
            st->chunk_busy[slot] = true;
            st->filling = (int)slot;
        }
        cf_buf *b = &st->chunk[st->filling];
        size_t n = b->max - b->len < *len ? b->max - b->len : *len;
        ok = cf_buf_append(b, data, n);
        data += n;
        *len -= n;
        if (ok && b->len == b->max) {
            ok = cf_http_enqueue(st, CF_OP_CHUNK, (unsigned)st->filling, CF_WAIT_NONE);
            st->filling = -1;
        }
    }
    return cf_http_unlock(st) && ok ? MHD_YES : MHD_NO;
}

static enum MHD_Result cf_http_on_body(cf_http_server *server, cf_http_state *st, const char *data,
                                       size_t *len)
{
    cf_conn *c = cf_http_conn_of(st->req.conn);
    cf_conn_phase(server->deadlines, c, CF_PHASE_BODY);
    cf_conn_body_bytes(server->deadlines, c, *len);
    if (st->mode == CF_HTTP_STREAM && !st->responded && !st->too_large)
        return cf_http_on_stream_chunk(st, data, len);
    bool keep_reading = cf_http_keep_chunk(server, st, data, *len);
    *len = 0;
    if (keep_reading)
        return MHD_YES;
    if (!st->ready)
        cf_http_respond(server, st);
    enum MHD_Result ret;
    cf_http_queue_ready(st, &ret);
    return ret;
}

/* Last call: the whole body is in.  The response is built on a worker,
 * after any chunks still in flight, and queued when the connection is
 * resumed. */
static enum MHD_Result cf_http_on_end(cf_http_state *st)
{
    enum MHD_Result ret = MHD_YES;
    if (st->ready) {
        cf_http_queue_ready(st, &ret);
        return ret;
    }
    pthread_mutex_lock(&st->mu);
    if (st->filling >= 0) { /* the body's last bytes, short of a full slot */
        unsigned slot = (unsigned)st->filling;
        st->filling = -1;
        if (st->chunk[slot].len == 0)
            st->chunk_busy[slot] = false;
        else if (!cf_http_enqueue(st, CF_OP_CHUNK, slot, CF_WAIT_NONE))
            ret = MHD_NO;
    }
    if (ret == MHD_NO) {
        /* the op queue is full: cannot happen */
    } else if (!st->final_posted) {
        st->final_posted = true;
        if (!cf_http_enqueue(st, CF_OP_FINAL, 0, CF_WAIT_FINAL))
            ret = MHD_NO;
    } else if (st->waiting == CF_WAIT_NONE) {
        cf_http_wait(st, CF_WAIT_FINAL); /* resumed for a chunk slot meanwhile */
    }
    if (!cf_http_unlock(st))
        ret = MHD_NO;
    return ret;
}

static enum MHD_Result cf_http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    (void)version;
    cf_http_server *server = cls;
    cf_http_state *st = *con_cls;
    if (!st || atomic_load(&server->stopping) || st->cut)
        return MHD_NO;
    if (!st->started)
        return cf_http_on_headers(server, conn, st, url, method);
    if (*upload_data_size)
        return cf_http_on_body(server, st, upload_data, upload_data_size);
    return cf_http_on_end(st);
}

static void cf_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    cf_http_server *server = cls;
    cf_http_state *st = *con_cls;
    *con_cls = NULL;
    cf_conn_phase(server->deadlines, cf_http_conn_of(conn), CF_PHASE_IDLE);
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    st->finished = true;
    bool busy = st->running; /* then the worker frees it when done */
    /* An abandoned request may have cleaning up to do (a half-written
     * upload to remove, its audit line): that goes to a worker too.  A
     * finished one only frees memory, here. */
    if (!busy && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && st->started &&
        cf_workers_post(server->workers, &st->job)) {
        st->running = true;
        busy = true;
    }
    pthread_mutex_unlock(&st->mu);
    if (!busy)
        cf_http_state_free(server, st);
}

static size_t cf_http_count_params(const char *query)
{
    size_t n = 1;
    for (const char *p = query; *p; p++)
        n += *p == '&';
    return n;
}

/* Called first for every request with the target as sent (path and query,
 * still percent-encoded): allocate the per-request state here to keep it. */
static void *cf_http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    cf_http_server *server = cls;
    cf_conn_request_line(server->deadlines, cf_http_conn_of(conn));
    cf_http_state *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->raw_path = strdup(uri ? uri : "");
    if (!st->raw_path) {
        free(st);
        return NULL;
    }
    st->server = server;
    st->filling = -1;
    clock_gettime(CLOCK_MONOTONIC, &st->begun);
    st->job.run = cf_http_run;
    pthread_mutex_init(&st->mu, NULL);
    char *query = uri ? strchr(uri, '?') : NULL;
    if (query && cf_http_count_params(query + 1) > CF_HTTP_MAX_QUERY_PARAMS) {
        /* libmicrohttpd parses the query right after this call, into the
         * connection's memory, and drops the connection unanswered when it
         * runs out.  The target lives in its writable read buffer: ending
         * the query there leaves nothing to parse, and the request is
         * refused with 400 at the first call. */
        query[1] = 0;
        st->too_many_params = true;
    }
    return st;
}

/* Resumption: a client that comes back skips the key exchange and the
 * certificate signature, which is most of a handshake's cost. */
static void cf_http_enable_tickets(cf_http_server *server, struct MHD_Connection *conn)
{
    if (!server->ticket_master.data)
        return;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!info || !info->tls_session)
        return;
    gnutls_session_t session = info->tls_session;
    gnutls_db_set_cache_expiration(session, CF_TICKET_ROTATE_SECONDS);
    if (gnutls_session_ticket_enable_server(session, &server->ticket_master) != GNUTLS_E_SUCCESS)
        cf_log(CF_LOG_DEBUG, NULL, "http: session tickets unavailable on a connection");
}

static const cf_metric_family cf_http_connections_open = {
    "coffer_http_open_connections", "Client connections open now.", CF_METRIC_GAUGE};
static const cf_metric_family cf_http_connections_total = {
    "coffer_http_connections_total", "Client connections accepted.", CF_METRIC_COUNTER};

static void cf_http_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                      enum MHD_ConnectionNotificationCode code)
{
    cf_http_server *server = cls;
    cf_metrics_add(&cf_http_connections_open, NULL, code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        cf_metrics_add(&cf_http_connections_total, NULL, 1);
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = info ? cf_conn_open(server->deadlines, info->connect_fd) : NULL;
        cf_http_enable_tickets(server, conn);
    } else {
        cf_conn_close(server->deadlines, *socket_context);
        *socket_context = NULL;
    }
}

CF_PRINTF(2, 0) static void cf_http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    /* libmicrohttpd's own diagnostics (TLS handshake failures and the like)
     * at debug level, escaped like every log line; they never contain
     * request bodies. */
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    cf_log(CF_LOG_DEBUG, NULL, "http: %s", line);
}

static bool cf_http_parse_listen(const char *listen, struct sockaddr_storage *ss, bool *v6)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    CF_ENSURE(colon && colon != listen, CF_ERR_BAD_INPUT, "listen address must be HOST:PORT");
    size_t hlen = (size_t)(colon - listen);
    CF_ENSURE(hlen < sizeof host, CF_ERR_BAD_INPUT, "listen host too long");
    memcpy(host, listen, hlen);
    host[hlen] = 0;
    if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = 0;
    }
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    CF_ENSURE(end && *end == 0 && end != colon + 1 && port <= 65535, CF_ERR_BAD_INPUT,
              "invalid listen port");
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *v6 = false;
        return true;
    }
    if (strcmp(host, "localhost") == 0) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *v6 = false;
        return true;
    }
    CF_ENSURE(inet_pton(AF_INET6, host, &in6->sin6_addr) == 1, CF_ERR_BAD_INPUT,
              "listen host must be an IP address or localhost");
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    *v6 = true;
    return true;
}

static void cf_http_server_free(cf_http_server *server)
{
    cf_workers_free(server->workers);
    cf_deadlines_stop(server->deadlines);
    if (server->ticket_master.data) {
        cf_memzero(server->ticket_master.data, CF_TICKET_MASTER_LEN);
        cf_secret_free(server->ticket_master.data, CF_TICKET_MASTER_LEN);
    }
    free(server);
}

/* The cores this process may run on (its CPU affinity, at most 64): the
 * polling threads, and the jobs the worker pool runs at once. */
static unsigned cf_http_cores(void)
{
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 2;
    return cpus < 1 ? 1 : cpus > 64 ? 64 : (unsigned)cpus;
}

/* Worker threads: four per core (at least eight), so that requests waiting
 * on fsync, PostgreSQL or the vault leave others running and more puts share
 * one group commit; one per core runs at a time (cf_http_cores) while none
 * blocks, since more only add lock contention (docs/benchmarks.md).
 * COFFER_WORKERS overrides the count. */
static unsigned cf_http_worker_count(const cf_http_config *config)
{
    if (config->workers)
        return config->workers;
    const char *env = getenv("COFFER_WORKERS");
    char *end = NULL;
    unsigned long wanted = env ? strtoul(env, &end, 10) : 0;
    if (env && end != env && !*end && wanted > 0 && wanted <= 1024)
        return (unsigned)wanted;
    unsigned n = 4 * cf_http_cores();
    return n < 8 ? 8 : n;
}

/* The connection limit, within the descriptors this process may open
 * (a few hundred kept for files, the database and the HSM). */
static unsigned cf_http_connection_limit(const cf_http_config *config)
{
    unsigned want = config->max_connections ? config->max_connections : 512;
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY &&
        files.rlim_cur < (rlim_t)want + 512) {
        unsigned fit = files.rlim_cur > 1024 ? (unsigned)files.rlim_cur - 512 : 512;
        cf_log(CF_LOG_WARN, NULL, "%s: %u connections at most (open file limit %llu)",
               config->name ? config->name : "http", fit, (unsigned long long)files.rlim_cur);
        want = fit;
    }
    return want;
}

bool cf_http_start(const cf_http_config *config, cf_http_server **out)
{
    struct sockaddr_storage ss;
    bool v6 = false;
    CF_GUARD(cf_http_parse_listen(config->listen, &ss, &v6));
    cf_http_server *server = calloc(1, sizeof *server);
    CF_ENSURE_ALLOC(server);
    server->config = *config;
    if (!cf_workers_start(cf_http_worker_count(config), cf_http_cores(), &server->workers) ||
        !cf_deadlines_start(&config->deadlines, config->name, &server->deadlines)) {
        cf_http_server_free(server);
        return false;
    }

    /* libmicrohttpd wants NUL-terminated PEM; copy into buffers we wipe. */
    cf_buf cert, key;
    cf_buf_init(&cert, CF_MIB);
    cf_buf_init_secret(&key, CF_MIB);
    bool tls = config->tls_cert_pem.len > 0;
    if (tls) {
        server->ticket_master.data = cf_secret_alloc(CF_TICKET_MASTER_LEN);
        server->ticket_master.size = CF_TICKET_MASTER_LEN;
        if (!server->ticket_master.data ||
            !cf_random_bytes(server->ticket_master.data, CF_TICKET_MASTER_LEN) ||
            !cf_buf_append_slice(&cert, config->tls_cert_pem) || !cf_buf_terminate(&cert) ||
            !cf_buf_append_slice(&key, config->tls_key_pem) || !cf_buf_terminate(&key)) {
            cf_buf_free(&cert);
            cf_buf_free(&key);
            cf_http_server_free(server);
            return false;
        }
    }
    /* A few polling threads move bytes (epoll: an idle connection costs a
     * socket and its buffers, not a thread); service code runs on the
     * worker pool. */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     (v6 ? MHD_USE_IPv6 : 0) | (tls ? MHD_USE_TLS : 0);
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)cf_http_mhd_log, NULL},
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_THREAD_POOL_SIZE, cf_http_cores(), NULL},
        {MHD_OPTION_CONNECTION_LIMIT, cf_http_connection_limit(config), NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, config->timeout_seconds ? config->timeout_seconds : 120,
         NULL},
        /* One client address cannot take every connection slot. */
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, config->max_per_ip ? config->max_per_ip : 128, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)cf_http_completed, server},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)cf_http_notify_connection, server},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)cf_http_uri_log, server},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT,
         config->connection_memory ? (intptr_t)config->connection_memory : CF_HTTP_CONN_MEMORY,
         NULL},
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)cert.data},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key.data},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)CF_TLS_PRIORITIES},
        {MHD_OPTION_END, 0, NULL},
    };
    server->daemon = MHD_start_daemon(flags, 0, NULL, NULL, cf_http_access, server,
                                      MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    cf_buf_free(&cert);
    cf_buf_free(&key);
    if (!server->daemon) {
        cf_http_server_free(server);
        CF_BAIL(CF_ERR_IO, "cannot start the HTTPS listener (address in use or bad TLS key)");
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info ? info->port : 0;
    *out = server;
    return true;
}

uint16_t cf_http_port(const cf_http_server *server)
{
    return server->port;
}

void cf_http_stop(cf_http_server *server)
{
    if (!server)
        return;
    /* Every suspended connection has a job posted that resumes it (a post
     * refused by the stopping pool resumes it at once, cf_http_unlock);
     * once the pool has run them all, no connection is left suspended,
     * which libmicrohttpd requires before it stops. */
    atomic_store(&server->stopping, true);
    cf_workers_stop(server->workers);
    MHD_stop_daemon(server->daemon);
    cf_http_server_free(server);
}

bool cf_http_target_has_nul(const cf_http_request *req)
{
    return req->raw_path && strcasestr(req->raw_path, "%00") != NULL;
}

bool cf_http_is_metrics_request(const cf_http_request *req)
{
    return strcmp(req->method, "GET") == 0 && strcmp(req->raw_path, "/metrics") == 0;
}

bool cf_http_reply_metrics(cf_http_response *resp)
{
    CF_GUARD(cf_metrics_render(&resp->body));
    resp->status = 200;
    resp->content_type = CF_METRICS_CONTENT_TYPE;
    return true;
}
