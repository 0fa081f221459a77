/*
 * The disk's blob over HTTPS (disk.h), through the CLI's storage client
 * (Shared Key or SAS from the connection string, the service's XML errors
 * printed to nbdkit's log).  A storage client holds one libcurl handle and
 * serves one request at a time, so threads borrow one from a pool and give
 * it back; the pool grows to as many as run at once and keeps their
 * connections open.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "secmem.h"
#include "storage_client.h"

#define CF_DISK_CONN_MAX 4096

typedef struct cf_disk_conn {
    cf_sc_client *sc;
    struct cf_disk_conn *next;
} cf_disk_conn;

struct cf_disk_io {
    pthread_mutex_t lock;
    cf_disk_conn *idle;
    cf_buf conn; /* the connection string, secret */
    char ca_file[PATH_MAX];
    char container[64], name[1025];
};

bool cf_disk_io_open(const char *conn, const char *ca_file, const char *container, const char *name,
                     cf_disk_io **out)
{
    CF_ENSURE(strlen(container) < 64 && strlen(name) <= 1024 && strlen(ca_file) < PATH_MAX,
              CF_ERR_BAD_INPUT, "disk name or CA file name too long");
    cf_disk_io *io = calloc(1, sizeof *io);
    CF_ENSURE_ALLOC(io);
    pthread_mutex_init(&io->lock, NULL);
    cf_buf_init_secret(&io->conn, CF_DISK_CONN_MAX);
    snprintf(io->ca_file, sizeof io->ca_file, "%s", ca_file);
    snprintf(io->container, sizeof io->container, "%s", container);
    snprintf(io->name, sizeof io->name, "%s", name);
    if (!cf_buf_append_str(&io->conn, conn) || !cf_buf_terminate(&io->conn)) {
        cf_disk_io_close(io);
        return false;
    }
    *out = io;
    return true;
}

void cf_disk_io_close(cf_disk_io *io)
{
    if (!io)
        return;
    while (io->idle) {
        cf_disk_conn *c = io->idle;
        io->idle = c->next;
        cf_sc_client_close(c->sc);
        free(c);
    }
    cf_buf_free(&io->conn);
    pthread_mutex_destroy(&io->lock);
    free(io);
}

static bool cf_disk_borrow(cf_disk_io *io, cf_disk_conn **out)
{
    pthread_mutex_lock(&io->lock);
    cf_disk_conn *c = io->idle;
    if (c)
        io->idle = c->next;
    pthread_mutex_unlock(&io->lock);
    if (!c) {
        c = calloc(1, sizeof *c);
        CF_ENSURE_ALLOC(c);
        if (!cf_sc_client_connect((const char *)io->conn.data, io->ca_file, &c->sc)) {
            free(c);
            return false;
        }
    }
    *out = c;
    return true;
}

static void cf_disk_give_back(cf_disk_io *io, cf_disk_conn *c)
{
    pthread_mutex_lock(&io->lock);
    c->next = io->idle;
    io->idle = c;
    pthread_mutex_unlock(&io->lock);
}

/* One request on a borrowed connection. */
static bool cf_disk_call(cf_disk_io *io, cf_sc_req *req, cf_sc_resp *resp)
{
    req->container = io->container;
    req->blob = io->name;
    cf_disk_conn *c;
    CF_GUARD(cf_disk_borrow(io, &c));
    bool ok = cf_sc_call(c->sc, req, resp);
    cf_disk_give_back(io, c);
    return ok;
}

static void cf_disk_range(uint64_t off, size_t len, char *out, size_t cap)
{
    snprintf(out, cap, "bytes=%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + len - 1));
}

bool cf_disk_io_stat(cf_disk_io *io, uint64_t *size, cf_disk_meta *meta)
{
    cf_sc_req req = {.method = "HEAD"};
    cf_sc_resp resp;
    cf_sc_resp_init(&resp);
    bool ok = cf_disk_call(io, &req, &resp);
    const char *len = ok ? cf_sc_resp_header(&resp, "content-length") : NULL;
    const char *type = ok ? cf_sc_resp_header(&resp, "x-ms-blob-type") : NULL;
    if (ok && (!len || !type || strcmp(type, "PageBlob") != 0)) {
        CF_RAISE(CF_ERR_BAD_INPUT, "the disk is not a page blob");
        ok = false;
    }
    if (ok) {
        *size = strtoull(len, NULL, 10);
        cf_disk_meta_init(meta);
        size_t pos = 0;
        const char *name, *value;
        while (cf_sc_resp_next(&resp, &pos, &name, &value))
            if (strncmp(name, "x-ms-meta-", 10) == 0)
                cf_disk_meta_add(meta, name + 10, value);
    }
    cf_sc_resp_free(&resp);
    return ok;
}

typedef struct {
    uint8_t *dst;
    size_t len, cap;
} cf_disk_sink;

static bool cf_disk_sink_write(void *ctx, const uint8_t *data, size_t len)
{
    cf_disk_sink *s = ctx;
    CF_ENSURE(len <= s->cap - s->len, CF_ERR_IO, "the service sent more than was asked");
    memcpy(s->dst + s->len, data, len);
    s->len += len;
    return true;
}

bool cf_disk_io_read(cf_disk_io *io, uint64_t off, uint8_t *buf, size_t len)
{
    char range[64];
    cf_disk_range(off, len, range, sizeof range);
    cf_disk_sink sink = {buf, 0, len};
    cf_sc_req req = {.method = "GET", .sink = cf_disk_sink_write, .sink_ctx = &sink};
    cf_sc_resp resp;
    cf_sc_resp_init(&resp);
    bool ok = cf_sc_req_header(&req, "x-ms-range", range) && cf_disk_call(io, &req, &resp);
    cf_sc_resp_free(&resp);
    CF_GUARD(ok);
    CF_ENSURE(sink.len == len, CF_ERR_IO, "the service sent less than was asked");
    return true;
}

bool cf_disk_io_write(cf_disk_io *io, uint64_t off, const uint8_t *data, size_t len)
{
    char range[64];
    cf_disk_range(off, len, range, sizeof range);
    cf_sc_req req = {.method = "PUT", .query = "comp=page"};
    if (data) {
        req.has_body = true;
        req.body = cf_slice_of(data, len);
    }
    cf_sc_resp resp;
    cf_sc_resp_init(&resp);
    bool ok = cf_sc_req_header(&req, "x-ms-range", range) &&
              cf_sc_req_header(&req, "x-ms-page-write", data ? "update" : "clear") &&
              cf_disk_call(io, &req, &resp);
    cf_sc_resp_free(&resp);
    return ok;
}
