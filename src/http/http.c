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
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ids.h"
#include "log.h"
#include "secmem.h"

struct cf_http_server {
    struct MHD_Daemon *daemon;
    cf_http_config config;
    uint16_t port;
};

#define CF_HTTP_DRAIN_MAX (16u << 20)

_Static_assert(CF_HTTP_READ_ABORT == MHD_CONTENT_READER_END_WITH_ERROR,
               "CF_HTTP_READ_ABORT must be libmicrohttpd's error value");

typedef struct {
    cf_http_request req;
    bool started;
    cf_http_begin_result mode;
    bool responded;   /* begin() answered; the response waits in `early` */
    cf_http_response early;
    bool too_large;
    size_t drained; /* bytes of an oversize body read and dropped */
    char *raw_path;
    char addr[INET6_ADDRSTRLEN];
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
    socklen_t salen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in);
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

static struct MHD_Response *cf_http_make_body(cf_http_response *resp)
{
    if (resp->stream.reader) {
        /* libmicrohttpd allocates (and clears) a buffer of this size per
         * response: no bigger than the body needs. */
        size_t block = resp->stream.length < 256 * 1024 ? (size_t)resp->stream.length : 256 * 1024;
        if (block < 4096)
            block = 4096;
        struct MHD_Response *r = MHD_create_response_from_callback(
            resp->stream.length, block, resp->stream.reader, resp->stream.ctx, resp->stream.free);
        if (r) /* libmicrohttpd owns ctx now and calls free when done */
            resp->stream.free = NULL;
        return r;
    }
    void *copy = malloc(resp->body.len ? resp->body.len : 1);
    if (!copy)
        return NULL;
    if (resp->body.len)
        memcpy(copy, resp->body.data, resp->body.len);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(resp->body.len, copy,
                                                           cf_http_wiping_free);
    if (!r)
        cf_http_wiping_free(copy);
    return r;
}

static enum MHD_Result cf_http_send(const cf_http_server *server, struct MHD_Connection *conn,
                                    cf_http_request *req, cf_http_response *resp)
{
    struct MHD_Response *r = cf_http_make_body(resp);
    if (!r)
        return MHD_NO;
    const char *n, *v;
    for (size_t pos = 0; cf_http_next_header(resp, &pos, &n, &v);)
        MHD_add_response_header(r, n, v);
    bool has_type = cf_http_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE) != NULL;
    if (!has_type && (resp->body.len || resp->content_type))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type ? resp->content_type
                                                   : "application/json; charset=utf-8");
    MHD_add_response_header(r, "x-ms-request-id", req->request_id);
    if (!server->config.cacheable && !cf_http_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (req->tls)
        MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(conn, resp->status ? resp->status : 500, r);
    MHD_destroy_response(r);
    return ret;
}

static void cf_http_response_free(cf_http_response *resp)
{
    if (resp->stream.free)
        resp->stream.free(resp->stream.ctx);
    resp->stream.free = NULL;
    cf_buf_free(&resp->body);
    cf_buf_free(&resp->headers);
}

static void cf_http_default_too_large(void *ctx, cf_http_response *resp)
{
    (void)ctx;
    resp->status = 413;
    if (!cf_buf_append_str(&resp->body, "{\"error\":{\"code\":\"RequestTooLarge\","
                                        "\"message\":\"The request body exceeds the service's limit.\"}}"))
        resp->body.len = 0;
}

static enum MHD_Result cf_http_dispatch(cf_http_server *server, struct MHD_Connection *conn,
                                        cf_http_state *st)
{
    if (st->responded) {
        enum MHD_Result ret = cf_http_send(server, conn, &st->req, &st->early);
        cf_http_response_free(&st->early);
        st->responded = false;
        return ret;
    }
    cf_http_response resp = {0};
    cf_buf_init(&resp.body, 64 * 1024 * 1024);
    cf_buf_init(&resp.headers, CF_HTTP_HEADERS_MAX);
    if (st->too_large) {
        void (*render)(void *, cf_http_response *) = server->config.render_too_large
                                                         ? server->config.render_too_large
                                                         : cf_http_default_too_large;
        render(server->config.ctx, &resp);
    } else {
        cf_error_clear();
        server->config.handler(server->config.ctx, &st->req, &resp);
    }
    enum MHD_Result ret = cf_http_send(server, conn, &st->req, &resp);
    cf_http_response_free(&resp);
    return ret;
}

/* Message framing, strictly (RFC 9112 §6): at most one Content-Length, all
 * digits; Transfer-Encoding only as "chunked" and never with a
 * Content-Length.  Anything else could frame the body one way here and
 * another way in a proxy, smuggling a second request through. */
typedef struct {
    unsigned content_length, transfer_encoding;
    bool bad;
} cf_http_framing;

static enum MHD_Result cf_http_framing_header(void *cls, enum MHD_ValueKind kind,
                                              const char *key, const char *value)
{
    (void)kind;
    cf_http_framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        f->content_length++;
        if (!value || !*value || strspn(value, "0123456789") != strlen(value))
            f->bad = true;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding++;
        if (!value || strcasecmp(value, "chunked") != 0)
            f->bad = true;
    }
    return MHD_YES;
}

static bool cf_http_framing_ok(struct MHD_Connection *conn)
{
    cf_http_framing f = {0, 0, false};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, cf_http_framing_header, &f);
    return !f.bad && f.content_length <= 1 && f.transfer_encoding <= 1 &&
           !(f.content_length && f.transfer_encoding);
}

/* First call: the headers are in.  Sets up the request and lets the service
 * choose how its body is taken. */
static bool cf_http_start_request(cf_http_server *server, struct MHD_Connection *conn,
                                  cf_http_state *st, const char *url, const char *method)
{
    st->started = true;
    st->req.raw_path = st->raw_path;
    st->req.method = method;
    st->req.path = url;
    st->req.conn = conn;
    st->req.tls = server->config.tls_cert_pem.len > 0;
    if (!cf_uuid_v4(st->req.request_id))
        return false;
    cf_http_client_addr(conn, st->addr, sizeof st->addr);
    st->req.client_addr = st->addr;
    cf_buf_init(&st->req.body, server->config.max_body);
    st->mode = CF_HTTP_BUFFER;
    if (!cf_http_framing_ok(conn)) {
        cf_buf_init(&st->early.body, 1024);
        cf_buf_init(&st->early.headers, CF_HTTP_HEADERS_MAX);
        st->early.status = 400;
        st->mode = CF_HTTP_RESPOND;
        st->responded = true;
        if (!cf_buf_append_str(&st->early.body,
                               "{\"error\":{\"code\":\"BadRequest\",\"message\":\"Conflicting or "
                               "unsupported message framing (Content-Length, Transfer-Encoding).\"}}") ||
            !cf_http_add_header(&st->early, "Connection", "close"))
            st->early.status = 500;
        cf_log(CF_LOG_WARN, st->req.request_id, "refused request framing from %s", st->addr);
        return true;
    }
    if (server->config.begin) {
        cf_buf_init(&st->early.body, 1 << 20);
        cf_buf_init(&st->early.headers, CF_HTTP_HEADERS_MAX);
        cf_error_clear();
        st->mode = server->config.begin(server->config.ctx, &st->req, &st->early);
        if (st->mode == CF_HTTP_RESPOND) {
            st->responded = true;
            return true;
        }
        cf_http_response_free(&st->early);
        if (st->mode == CF_HTTP_STREAM)
            return true;
    }
    /* A declared oversize body is never stored.  Up to the drain limit it
     * is read and dropped so the client can read the 413; beyond that the
     * 413 goes out at once and the connection closes. */
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end = NULL;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end == cl || *end || n > server->config.max_body)
            st->too_large = true;
    }
    return true;
}

/* One body chunk: into the sink, the buffer, or dropped. Returns false when
 * the response should go out now (too much body to keep reading). */
static bool cf_http_take_chunk(const cf_http_server *server, cf_http_state *st,
                               const char *data, size_t len)
{
    bool dropping = st->responded || st->too_large;
    if (!dropping && st->mode == CF_HTTP_STREAM) {
        st->req.body_received += len;
        if (!st->req.stream_failed && !st->req.body_sink(st->req.body_ctx, (const uint8_t *)data,
                                                          len))
            st->req.stream_failed = true;
        return true;
    }
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

static enum MHD_Result cf_http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    (void)version;
    cf_http_server *server = cls;
    cf_http_state *st = *con_cls;
    if (!st)
        return MHD_NO;
    if (!st->started) {
        if (!cf_http_start_request(server, conn, st, url, method))
            return MHD_NO;
        /* A refused request whose client waits for "100 Continue" before
         * its body gets the answer now instead: no 100, no body read.
         * (Clients that send the body regardless are drained, so they read
         * the answer rather than a reset.) */
        const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_EXPECT);
        if (st->responded && expect && strcasecmp(expect, "100-continue") == 0)
            return cf_http_dispatch(server, conn, st);
        return MHD_YES;
    }
    if (*upload_data_size) {
        bool keep_reading = cf_http_take_chunk(server, st, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return keep_reading ? MHD_YES : cf_http_dispatch(server, conn, st);
    }
    if (st->mode != CF_HTTP_STREAM && !st->responded && !cf_buf_terminate(&st->req.body))
        st->too_large = true;
    return cf_http_dispatch(server, conn, st);
}

static void cf_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    cf_http_server *server = cls;
    cf_http_state *st = *con_cls;
    if (!st)
        return;
    if (st->started && server->config.request_done)
        server->config.request_done(server->config.ctx, &st->req);
    cf_http_response_free(&st->early);
    cf_buf_free(&st->req.body); /* wiped: bodies can carry key material */
    free(st->raw_path);
    free(st);
    *con_cls = NULL;
}

/* Called first for every request with the target as sent (path and query,
 * still percent-encoded): allocate the per-request state here to keep it. */
static void *cf_http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    cf_http_state *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->raw_path = strdup(uri ? uri : "");
    if (!st->raw_path) {
        free(st);
        return NULL;
    }
    return st;
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

bool cf_http_start(const cf_http_config *config, cf_http_server **out)
{
    struct sockaddr_storage ss;
    bool v6 = false;
    CF_GUARD(cf_http_parse_listen(config->listen, &ss, &v6));
    cf_http_server *server = calloc(1, sizeof *server);
    CF_ENSURE_ALLOC(server);
    server->config = *config;

    /* libmicrohttpd wants NUL-terminated PEM; copy into buffers we wipe. */
    cf_buf cert, key;
    cf_buf_init(&cert, 1 << 20);
    cf_buf_init_secret(&key, 1 << 20);
    bool tls = config->tls_cert_pem.len > 0;
    if (tls && (!cf_buf_append_slice(&cert, config->tls_cert_pem) || !cf_buf_terminate(&cert) ||
                !cf_buf_append_slice(&key, config->tls_key_pem) || !cf_buf_terminate(&key))) {
        cf_buf_free(&cert);
        cf_buf_free(&key);
        free(server);
        return false;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) | (tls ? MHD_USE_TLS : 0);
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)cf_http_mhd_log, NULL},
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_CONNECTION_LIMIT, config->max_connections ? config->max_connections : 512, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, config->timeout_seconds ? config->timeout_seconds : 120, NULL},
        /* One client address cannot take every connection slot. */
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, config->max_per_ip ? config->max_per_ip : 128, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)cf_http_completed, server},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)cf_http_uri_log, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT,
         config->connection_memory ? (intptr_t)config->connection_memory : 128 * 1024, NULL},
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
        free(server);
        CF_BAIL(CF_ERR_IO, "cannot start the HTTPS listener (address in use or bad TLS key)");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(server->daemon,
                                                           MHD_DAEMON_INFO_BIND_PORT);
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
    MHD_stop_daemon(server->daemon);
    free(server);
}

bool cf_http_target_has_nul(const cf_http_request *req)
{
    return req->raw_path && strcasestr(req->raw_path, "%00") != NULL;
}
