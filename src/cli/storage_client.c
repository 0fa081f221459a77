/*
 * The Blob Storage client of `coffer blob|container`: where the connection
 * comes from, one signed HTTPS request (over https.c), Azure error replies,
 * and a small expat reader for the XML the service returns.
 *
 * Connection.  The connection string is the first of:
 *   --connection-string S         (wiped from argv once copied, as the
 *                                  client secret is in config.c)
 *   AZURE_STORAGE_CONNECTION_STRING
 *   --blob-dir DIR                DIR/bootstrap.json, member connection_string
 *   COFFER_BLOB_DIR               the same
 * and the CA file the first of --ca-file (or the vault commands' --ca-cert),
 * COFFER_CA_CERT, and the bootstrap's ca_cert when the connection string
 * came from that bootstrap (a blob directory is not read otherwise, so a
 * stale COFFER_BLOB_DIR does not get in the way of an explicit string).  The string holds
 * "Key=Value" pairs separated by ';' with keys case-insensitive, as the
 * Azure SDKs read it: AccountName, AccountKey (base64), BlobEndpoint,
 * DefaultEndpointsProtocol and EndpointSuffix (for the
 * https://<account>.blob.<suffix> form when there is no BlobEndpoint), and
 * SharedAccessSignature as an alternative credential.  Path-style endpoints
 * (https://127.0.0.1:PORT/<account>) are used as given: every request path
 * is the endpoint's path plus /<container>[/<blob>].  Only https endpoints
 * are accepted: the data travels in them, and a SAS in the URL is a bearer
 * credential.
 *
 * Auth.  Shared Key: the string-to-sign comes from src/core/storage_auth.c
 * (the same code the server verifies with), built from a view of exactly the
 * headers this request sends, and is signed with HMAC-SHA256 under the raw
 * account key; x-ms-date and x-ms-version go on every request.  With only a
 * SAS, its query is appended to every URL.  The account key and the
 * connection string live in secret buffers and are wiped; the Authorization
 * header's copy inside libcurl's header list is wiped before it is freed.
 *
 * Errors.  A non-2xx reply is reported from its XML body
 * (<Error><Code><Message>), or from x-ms-error-code for bodiless replies
 * (HEAD), as "coffer: Code: first line of the message (HTTP n)".
 */
#include "storage_client.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <expat.h>

#include "crypto.h"
#include "encoding.h"
#include "fsutil.h"
#include "httpdate.h"
#include "https.h"
#include "secmem.h"
#include "storage_auth.h"

#define CF_SC_CONN_MAX 4096 /* a connection string */
#define CF_SC_KEY_MAX 512   /* a decoded account key */
#define CF_SC_URL_MAX 16384 /* a request URL */
#define CF_SC_RESP_HEADERS_MAX (64u * 1024)
#define CF_SC_XML_MAX_DEPTH 32
#define CF_SC_XML_TEXT_MAX (64u * 1024)

struct cf_sc_client {
    CURL *curl;
    char endpoint[1024];  /* https://host[:port][/path], no trailing '/' */
    char origin[1024];    /* https://host[:port] */
    char base_path[1024]; /* "/account" for path-style, "" otherwise */
    char account[256];
    char ca_file[PATH_MAX]; /* empty: the system's trust store */
    cf_buf key;             /* raw account key, secret; empty without one */
    cf_buf sas;             /* SAS query without '?', secret; empty without one */
};

/* ---- connection ---- */

typedef struct {
    char dir[PATH_MAX]; /* the blob dir, or "" */
    json_t *doc;        /* its bootstrap.json, or NULL */
} cf_sc_boot;

static bool cf_boot_load(cf_sc_boot *b)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/bootstrap.json", b->dir);
    cf_buf text;
    cf_buf_init_secret(&text, CF_CLI_BOOTSTRAP_MAX); /* it holds the account keys */
    bool ok = cf_read_file(path, CF_CLI_BOOTSTRAP_MAX, &text);
    if (ok) {
        json_error_t jerr;
        b->doc = json_loadb((const char *)text.data, text.len, JSON_REJECT_DUPLICATES, &jerr);
        ok = json_is_object(b->doc);
    }
    cf_buf_free(&text);
    if (!ok) {
        fprintf(stderr, "coffer: cannot read the blob bootstrap file %s%s\n", path,
                b->doc ? ": not a JSON object" : "");
        cf_cli_mark_reported();
        CF_BAIL(CF_ERR_IO, "cannot read the blob bootstrap file");
    }
    return true;
}

/* Keeps a copy of the connection string in `out` (secret) from the first
 * source that has one; wipes the argv copy. */
static bool cf_conn_string(cf_cli *cli, cf_sc_boot *boot, cf_buf *out)
{
    char *flag = NULL;
    for (size_t i = 0; i < cli->args->n_opts; i++)
        if (strcmp(cli->args->opts[i].name, "connection-string") == 0)
            flag = cli->args->opts[i].value;
    const char *env = getenv("AZURE_STORAGE_CONNECTION_STRING");
    const char *dir = cf_cli_opt(cli, "blob-dir");
    if (!dir || !*dir)
        dir = getenv("COFFER_BLOB_DIR");
    if (dir && *dir) {
        int n = snprintf(boot->dir, sizeof boot->dir, "%s", dir);
        if (n < 0 || (size_t)n >= sizeof boot->dir)
            return cf_cli_usage("the blob directory name is too long");
    }

    const char *v = NULL;
    bool ok = true;
    if (flag && *flag) {
        v = flag;
    } else if (env && *env) {
        v = env;
    } else if (boot->dir[0]) {
        ok = cf_boot_load(boot);
        v = ok ? json_string_value(json_object_get(boot->doc, "connection_string")) : NULL;
        if (ok && !v) {
            fprintf(stderr, "coffer: %s/bootstrap.json has no connection_string\n", boot->dir);
            cf_cli_mark_reported();
            CF_RAISE(CF_ERR_BAD_INPUT, "no connection string");
            ok = false;
        }
    }
    if (ok && !v)
        ok = cf_cli_usage("no storage connection: use --connection-string, "
                          "AZURE_STORAGE_CONNECTION_STRING, --blob-dir or COFFER_BLOB_DIR");
    ok = ok && cf_buf_append_str(out, v) && cf_buf_terminate(out);
    if (flag)
        cf_memzero(flag, strlen(flag));
    return ok;
}

static bool cf_copy(char *out, size_t len, const char *v, size_t n, const char *what)
{
    if (n >= len)
        return cf_cli_usage("the %s in the connection string is too long", what);
    memcpy(out, v, n);
    out[n] = 0;
    return true;
}

static void cf_trim(const char **p, size_t *n)
{
    while (*n && isspace((unsigned char)(*p)[0])) {
        (*p)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*p)[*n - 1]))
        (*n)--;
}

typedef struct {
    char protocol[16];
    char suffix[256];
    char endpoint[1024];
} cf_conn_parts;

/* Parses "K=V;K=V" (in place is not needed: values are copied or decoded). */
static bool cf_conn_parse(cf_sc_client *c, const char *s, cf_conn_parts *parts)
{
    const char *p = s;
    while (*p) {
        const char *end = strchr(p, ';');
        size_t seg = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', seg);
        const char *k = p, *v = eq ? eq + 1 : p + seg;
        size_t kn = eq ? (size_t)(eq - p) : seg, vn = eq ? seg - kn - 1 : 0;
        cf_trim(&k, &kn);
        cf_trim(&v, &vn);
        if (kn && !eq)
            return cf_cli_usage("the connection string has a part without '='");
        if (kn == 11 && strncasecmp(k, "AccountName", kn) == 0) {
            CF_GUARD(cf_copy(c->account, sizeof c->account, v, vn, "AccountName"));
        } else if (kn == 10 && strncasecmp(k, "AccountKey", kn) == 0) {
            cf_buf_clear(&c->key);
            if (!cf_base64_decode(cf_slice_of(v, vn), &c->key) || c->key.len == 0)
                return cf_cli_usage("the AccountKey in the connection string is not base64");
        } else if (kn == 12 && strncasecmp(k, "BlobEndpoint", kn) == 0) {
            CF_GUARD(cf_copy(parts->endpoint, sizeof parts->endpoint, v, vn, "BlobEndpoint"));
        } else if (kn == 24 && strncasecmp(k, "DefaultEndpointsProtocol", kn) == 0) {
            CF_GUARD(cf_copy(parts->protocol, sizeof parts->protocol, v, vn,
                             "DefaultEndpointsProtocol"));
        } else if (kn == 14 && strncasecmp(k, "EndpointSuffix", kn) == 0) {
            CF_GUARD(cf_copy(parts->suffix, sizeof parts->suffix, v, vn, "EndpointSuffix"));
        } else if (kn == 21 && strncasecmp(k, "SharedAccessSignature", kn) == 0) {
            if (vn && v[0] == '?') {
                v++;
                vn--;
            }
            cf_buf_clear(&c->sas);
            if (!cf_buf_append(&c->sas, v, vn) || !cf_buf_terminate(&c->sas))
                return cf_cli_usage("the SharedAccessSignature is too long");
        }
        /* Other keys (QueueEndpoint, TableEndpoint...) do not concern blobs. */
        if (!end)
            break;
        p = end + 1;
    }
    return true;
}

static bool cf_conn_endpoint(cf_sc_client *c, cf_conn_parts *parts)
{
    if (!parts->endpoint[0]) {
        if (!c->account[0])
            return cf_cli_usage("the connection string has neither BlobEndpoint nor AccountName");
        const char *proto = parts->protocol[0] ? parts->protocol : "https";
        const char *suffix = parts->suffix[0] ? parts->suffix : "core.windows.net";
        snprintf(parts->endpoint, sizeof parts->endpoint, "%s://%s.blob.%s", proto, c->account,
                 suffix);
    }
    size_t n = strlen(parts->endpoint);
    while (n && parts->endpoint[n - 1] == '/')
        parts->endpoint[--n] = 0;
    if (strncasecmp(parts->endpoint, "https://", 8) != 0 || n <= 8)
        return cf_cli_usage("the blob endpoint must be an https:// URL");
    for (const char *q = parts->endpoint; *q; q++)
        if ((unsigned char)*q <= ' ' || *q == '?' || *q == '#' || (unsigned char)*q >= 0x7f)
            return cf_cli_usage("the blob endpoint contains characters not allowed in a URL");
    if (n >= sizeof c->endpoint)
        return cf_cli_usage("the blob endpoint is too long");
    snprintf(c->endpoint, sizeof c->endpoint, "%s", parts->endpoint);
    cf_cli_https_origin(c->endpoint, c->origin, sizeof c->origin);
    const char *slash = strchr(c->endpoint + 8, '/');
    snprintf(c->base_path, sizeof c->base_path, "%s", slash ? slash : "");
    if (c->key.len && !c->account[0])
        return cf_cli_usage("the connection string has an AccountKey but no AccountName");
    return true;
}

/* CA: --ca-file / --ca-cert, COFFER_CA_CERT, then the bootstrap's ca_cert
 * (or DIR/tls/ca.crt when that path does not exist as written). */
static bool cf_conn_ca(cf_cli *cli, const cf_sc_boot *boot, char *ca_file, size_t len)
{
    const char *v = cf_cli_opt(cli, "ca-file");
    if (!v || !*v)
        v = cf_cli_opt(cli, "ca-cert");
    if (!v || !*v)
        v = getenv("COFFER_CA_CERT");
    char fallback[PATH_MAX + 16] = "";
    if ((!v || !*v) && boot->doc) {
        v = json_string_value(json_object_get(boot->doc, "ca_cert"));
        snprintf(fallback, sizeof fallback, "%s/tls/ca.crt", boot->dir);
        if ((!v || !cf_file_exists(v)) && cf_file_exists(fallback))
            v = fallback;
    }
    ca_file[0] = '\0';
    if (!v || !*v)
        return true;
    int n = snprintf(ca_file, len, "%s", v);
    if (n < 0 || (size_t)n >= len)
        return cf_cli_usage("the CA file name is too long");
    return true;
}

bool cf_sc_connection(cf_cli *cli, cf_buf *conn, char ca_file[PATH_MAX])
{
    cf_sc_boot boot;
    memset(&boot, 0, sizeof boot);
    bool ok = cf_conn_string(cli, &boot, conn) && cf_conn_ca(cli, &boot, ca_file, PATH_MAX);
    json_decref(boot.doc);
    return ok;
}

bool cf_sc_client_connect(const char *conn, const char *ca_file, cf_sc_client **out)
{
    cf_sc_client *c = calloc(1, sizeof *c);
    CF_ENSURE_ALLOC(c);
    cf_buf_init_secret(&c->key, CF_SC_KEY_MAX);
    cf_buf_init_secret(&c->sas, CF_SC_CONN_MAX);
    cf_conn_parts parts;
    memset(&parts, 0, sizeof parts);
    bool ok = cf_conn_parse(c, conn, &parts) && cf_conn_endpoint(c, &parts);
    if (ok && ca_file && strlen(ca_file) >= sizeof c->ca_file)
        ok = cf_cli_usage("the CA file name is too long");
    if (ok && ca_file)
        snprintf(c->ca_file, sizeof c->ca_file, "%s", ca_file);
    ok = ok && cf_cli_https_handle(&c->curl);
    if (!ok) {
        cf_sc_client_close(c);
        return false;
    }
    *out = c;
    return true;
}

bool cf_sc_client_open(cf_cli *cli, cf_sc_client **out)
{
    cf_buf conn;
    cf_buf_init_secret(&conn, CF_SC_CONN_MAX);
    char ca_file[PATH_MAX];
    bool ok = cf_sc_connection(cli, &conn, ca_file) &&
              cf_sc_client_connect((const char *)conn.data, ca_file, out);
    cf_buf_free(&conn);
    return ok;
}

void cf_sc_client_close(cf_sc_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    cf_buf_free(&c->key);
    cf_buf_free(&c->sas);
    cf_memzero(c, sizeof *c);
    free(c);
}

const char *cf_sc_client_endpoint(const cf_sc_client *c)
{
    return c->endpoint;
}

/* ---- URL pieces ---- */

bool cf_sc_req_header(cf_sc_req *req, const char *name, const char *value)
{
    CF_ENSURE(req->n_headers < CF_SC_MAX_HEADERS, CF_ERR_TOO_LARGE, "too many request headers");
    req->hname[req->n_headers] = name;
    req->hvalue[req->n_headers] = value;
    req->n_headers++;
    return true;
}

/* The request path as sent (and signed): base path + /container[/blob]. */
static bool cf_req_path(const cf_sc_client *c, const cf_sc_req *req, cf_buf *path)
{
    if (req->admin) {
        if (!c->base_path[0] || strchr(c->base_path + 1, '/'))
            return cf_cli_usage(
                "the admin API needs a path-style endpoint (https://HOST:PORT/ACCOUNT)");
        CF_GUARD(cf_buf_append_str(path, "/.coffer"));
        CF_GUARD(cf_buf_append_str(path, c->base_path));
        CF_GUARD(cf_buf_append_u8(path, '/'));
        CF_GUARD(cf_buf_append_str(path, req->admin));
        return cf_buf_terminate(path);
    }
    CF_GUARD(cf_buf_append_str(path, c->base_path));
    CF_GUARD(cf_buf_append_u8(path, '/'));
    if (req->container) {
        CF_GUARD(cf_percent_encode(path, req->container, false));
        if (req->blob) {
            CF_GUARD(cf_buf_append_u8(path, '/'));
            CF_GUARD(cf_percent_encode(path, req->blob, true));
        }
    }
    return cf_buf_terminate(path);
}

bool cf_sc_check_container(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 63)
        return cf_cli_usage("invalid container name '%.64s': 1-63 characters", name);
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              (i == 0 && ch == '$')))
            return cf_cli_usage("invalid container name '%.64s': only lowercase letters, "
                                "digits and '-'",
                                name);
    }
    return true;
}

bool cf_sc_check_blob_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 1024)
        return cf_cli_usage("invalid blob name: 1-1024 characters");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return cf_cli_usage("invalid blob name: control characters are not allowed");
    return true;
}

void cf_sc_time_iso(const char *rfc1123, char *out, size_t len)
{
    int64_t t;
    if (rfc1123 && cf_httpdate_parse(cf_slice_of(rfc1123, strlen(rfc1123)), &t))
        cf_out_time((long long)t, out, len);
    else
        snprintf(out, len, "%s", rfc1123 ? rfc1123 : "-");
}

bool cf_sc_json_set(json_t *obj, const char *key, json_t *value)
{
    CF_ENSURE(json_object_set_new(obj, key, value ? value : json_null()) == 0, CF_ERR_NOMEM, NULL);
    return true;
}

/* ---- response bookkeeping ---- */

void cf_sc_resp_init(cf_sc_resp *r)
{
    r->status = 0;
    cf_buf_init(&r->headers, CF_SC_RESP_HEADERS_MAX);
    cf_buf_init(&r->body, CF_SC_REPLY_MAX);
}

void cf_sc_resp_free(cf_sc_resp *r)
{
    cf_buf_free(&r->headers);
    cf_buf_free(&r->body);
}

bool cf_sc_resp_next(const cf_sc_resp *r, size_t *pos, const char **name, const char **value)
{
    if (*pos >= r->headers.len)
        return false;
    *name = (const char *)r->headers.data + *pos;
    *pos += strlen(*name) + 1;
    *value = (const char *)r->headers.data + *pos;
    *pos += strlen(*value) + 1;
    return true;
}

const char *cf_sc_resp_header(const cf_sc_resp *r, const char *name)
{
    size_t pos = 0;
    const char *n, *v;
    while (cf_sc_resp_next(r, &pos, &n, &v))
        if (strcmp(n, name) == 0)
            return v;
    return NULL;
}

/* ---- one exchange ---- */

typedef struct {
    const cf_sc_req *req;
    cf_sc_resp *resp;
    cf_slice mem; /* in-memory body still to send */
    bool sink_failed;
    bool headers_overflow;
} cf_sc_xfer;

static size_t cf_on_header(char *p, size_t size, size_t n, void *ctx)
{
    cf_sc_xfer *x = ctx;
    size_t len = size * n;
    cf_slice line = cf_slice_of(p, len);
    while (line.len && (line.ptr[line.len - 1] == '\r' || line.ptr[line.len - 1] == '\n'))
        line.len--;
    if (cf_slice_has_prefix(line, "HTTP/")) {
        /* A new response (after a 100 Continue, too): start over. */
        const uint8_t *sp = memchr(line.ptr, ' ', line.len);
        long status = 0;
        for (const uint8_t *q = sp ? sp + 1 : line.ptr + line.len;
             q < line.ptr + line.len && *q >= '0' && *q <= '9' && status < 1000; q++)
            status = status * 10 + (*q - '0');
        x->resp->status = status;
        cf_buf_clear(&x->resp->headers);
        return len;
    }
    const uint8_t *colon = memchr(line.ptr, ':', line.len);
    if (!colon || colon == line.ptr)
        return len;
    size_t nl = (size_t)(colon - line.ptr);
    cf_slice v = cf_slice_of(colon + 1, line.len - nl - 1);
    while (v.len && (v.ptr[0] == ' ' || v.ptr[0] == '\t'))
        v = cf_slice_of(v.ptr + 1, v.len - 1);
    cf_buf *h = &x->resp->headers;
    bool ok = true;
    for (size_t i = 0; ok && i < nl; i++) {
        uint8_t ch = line.ptr[i];
        ok = ch != 0 && cf_buf_append_u8(h, (uint8_t)tolower(ch));
    }
    ok = ok && cf_buf_append_u8(h, 0) && !memchr(v.ptr, 0, v.len) && cf_buf_append_slice(h, v) &&
         cf_buf_append_u8(h, 0);
    if (!ok) {
        x->headers_overflow = true;
        return 0;
    }
    return len;
}

static size_t cf_on_body(char *p, size_t size, size_t n, void *ctx)
{
    cf_sc_xfer *x = ctx;
    size_t len = size * n;
    bool success = x->resp->status >= 200 && x->resp->status <= 299;
    if (success && x->req->sink) {
        if (!x->req->sink(x->req->sink_ctx, (const uint8_t *)p, len)) {
            x->sink_failed = true;
            return 0;
        }
        return len;
    }
    return cf_cli_https_write_buf(p, size, n, &x->resp->body);
}

static size_t cf_on_read_mem(char *buf, size_t size, size_t n, void *ctx)
{
    cf_sc_xfer *x = ctx;
    size_t take = size * n < x->mem.len ? size * n : x->mem.len;
    memcpy(buf, x->mem.ptr, take);
    x->mem = cf_slice_of(x->mem.ptr + take, x->mem.len - take);
    return take;
}

static int cf_on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                          curl_off_t ulnow)
{
    (void)ultotal;
    cf_sc_xfer *x = ctx;
    cf_progress *p = x->req->progress;
    if (!p)
        return 0;
    bool upload = x->req->has_body || x->req->source;
    curl_off_t now = upload ? ulnow : dlnow;
    if (!upload && p->total == 0 && dltotal > 0)
        p->total = x->req->progress_base + (uint64_t)dltotal;
    if (now > 0)
        cf_progress_update(p, x->req->progress_base + (uint64_t)now);
    return 0;
}

/* x-ms-date: RFC 1123 in GMT. */
static void cf_sc_request_date(char out[CF_HTTPDATE_LEN + 1])
{
    if (!cf_httpdate_format((int64_t)time(NULL), out))
        snprintf(out, CF_HTTPDATE_LEN + 1, "Thu, 01 Jan 1970 00:00:00 GMT");
}

static bool cf_headers_add(struct curl_slist **list, const char *name, const char *value)
{
    cf_buf line;
    cf_buf_init_secret(&line, CF_STORAGE_MAX_HEADER_VALUE + CF_STORAGE_MAX_HEADER_NAME + 4);
    bool ok = cf_buf_append_str(&line, name) && cf_buf_append_str(&line, ": ") &&
              cf_buf_append_str(&line, value) && cf_buf_terminate(&line);
    if (!ok) {
        cf_buf_free(&line);
        CF_BAIL(CF_ERR_TOO_LARGE, "a request header is too long");
    }
    ok = cf_cli_https_header_add(list, (const char *)line.data);
    cf_buf_free(&line);
    return ok;
}

/* "Authorization: SharedKey account:base64(HMAC-SHA256(key, string-to-sign))". */
static bool cf_sign(const cf_sc_client *c, const cf_sc_req *req, const char *path, const char *date,
                    const char *length, struct curl_slist **list)
{
    cf_storage_header view[CF_SC_MAX_HEADERS + 3];
    size_t n = 0;
    for (size_t i = 0; i < req->n_headers; i++)
        view[n++] = (cf_storage_header){req->hname[i], req->hvalue[i]};
    view[n++] = (cf_storage_header){"x-ms-date", date};
    view[n++] = (cf_storage_header){"x-ms-version", CF_SC_API_VERSION};
    if (length)
        view[n++] = (cf_storage_header){"Content-Length", length};
    cf_storage_request sr = {
        .method = req->method, .path = path, .query = req->query, .headers = view, .n_headers = n};
    cf_buf sts, sig, value;
    cf_buf_init(&sts, CF_STORAGE_MAX_STS);
    cf_buf_init(&sig, 64);
    cf_buf_init(&value, CF_STORAGE_MAX_AUTHZ);
    uint8_t mac[32];
    bool ok = cf_sharedkey_string_to_sign(&sr, c->account, false, &sts) &&
              cf_hmac_sha256(cf_buf_slice(&c->key), cf_buf_slice(&sts), mac) &&
              cf_base64_encode(cf_slice_of(mac, sizeof mac), &sig) &&
              cf_buf_append_str(&value, "SharedKey ") && cf_buf_append_str(&value, c->account) &&
              cf_buf_append_u8(&value, ':') && cf_buf_append_slice(&value, cf_buf_slice(&sig)) &&
              cf_buf_terminate(&value) &&
              cf_headers_add(list, "Authorization", (const char *)value.data);
    cf_memzero(mac, sizeof mac);
    cf_buf_free(&sts);
    cf_buf_free(&sig);
    cf_buf_free(&value);
    return ok;
}

static bool cf_build_headers(const cf_sc_client *c, const cf_sc_req *req, const char *path,
                             struct curl_slist **list)
{
    char date[CF_HTTPDATE_LEN + 1], length[32];
    cf_sc_request_date(date);
    bool upload = strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0;
    uint64_t body_len = req->has_body ? req->body.len : req->body_len;
    snprintf(length, sizeof length, "%llu", (unsigned long long)body_len);
    for (size_t i = 0; i < req->n_headers; i++)
        CF_GUARD(cf_headers_add(list, req->hname[i], req->hvalue[i]));
    CF_GUARD(cf_headers_add(list, "x-ms-date", date));
    CF_GUARD(cf_headers_add(list, "x-ms-version", CF_SC_API_VERSION));
    /* No 100-continue round trip; curl must not add a Content-Type. */
    CF_GUARD(cf_cli_https_header_add(list, "Expect:"));
    if (c->key.len)
        CF_GUARD(cf_sign(c, req, path, date, upload ? length : NULL, list));
    return true;
}

static bool cf_setup(cf_sc_client *c, const cf_sc_req *req, cf_sc_xfer *x, const char *url,
                     struct curl_slist *headers, char *errbuf)
{
    CURL *h = c->curl;
    CF_GUARD(cf_cli_https_setup(h, url, headers, c->ca_file, errbuf));
    /* Big transfers take as long as they take; a stalled one does not. */
    bool ok = CF_CURL_SET(h, CURLOPT_LOW_SPEED_LIMIT, 1L) &&
              CF_CURL_SET(h, CURLOPT_LOW_SPEED_TIME, 120L) &&
              CF_CURL_SET(h, CURLOPT_HEADERFUNCTION, cf_on_header) &&
              CF_CURL_SET(h, CURLOPT_HEADERDATA, x) &&
              CF_CURL_SET(h, CURLOPT_WRITEFUNCTION, cf_on_body) &&
              CF_CURL_SET(h, CURLOPT_WRITEDATA, x) &&
              CF_CURL_SET(h, CURLOPT_XFERINFOFUNCTION, cf_on_progress) &&
              CF_CURL_SET(h, CURLOPT_XFERINFODATA, x) &&
              CF_CURL_SET(h, CURLOPT_NOPROGRESS, req->progress ? 0L : 1L);
    if (ok && strcmp(req->method, "GET") == 0) {
        ok = CF_CURL_SET(h, CURLOPT_HTTPGET, 1L);
    } else if (ok && strcmp(req->method, "HEAD") == 0) {
        ok = CF_CURL_SET(h, CURLOPT_NOBODY, 1L);
    } else if (ok && (strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0)) {
        if (strcmp(req->method, "PATCH") == 0)
            ok = CF_CURL_SET(h, CURLOPT_CUSTOMREQUEST, "PATCH");
        x->mem = req->has_body ? req->body : cf_slice_of("", 0);
        bool stream = !req->has_body && req->source;
        ok = ok && CF_CURL_SET(h, CURLOPT_UPLOAD, 1L) &&
             CF_CURL_SET(h, CURLOPT_READFUNCTION, stream ? req->source : cf_on_read_mem) &&
             CF_CURL_SET(h, CURLOPT_READDATA, stream ? req->source_ctx : (void *)x) &&
             CF_CURL_SET(h, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)(stream ? req->body_len : x->mem.len));
    } else if (ok) {
        ok = CF_CURL_SET(h, CURLOPT_CUSTOMREQUEST, req->method);
    }
    CF_ENSURE(ok, CF_ERR_INTERNAL, "cannot configure libcurl");
    return true;
}

/* ---- error replies ---- */

typedef struct {
    char code[128];
    char message[512];
} cf_azure_error;

static bool cf_error_leaf(void *ctx, const char *path, const char *text)
{
    cf_azure_error *e = ctx;
    if (strcmp(path, "Error/Code") == 0)
        snprintf(e->code, sizeof e->code, "%s", text);
    else if (strcmp(path, "Error/Message") == 0)
        snprintf(e->message, sizeof e->message, "%.*s", (int)strcspn(text, "\r\n"), text);
    return true;
}

/* Messages for the codes a bodiless (HEAD) reply can carry. */
static const char *cf_known_message(const char *code)
{
    static const struct {
        const char *code, *message;
    } table[] = {
        {"BlobNotFound", "The specified blob does not exist."},
        {"ContainerNotFound", "The specified container does not exist."},
        {"AuthenticationFailed", "Server failed to authenticate the request."},
        {"AuthorizationFailure", "This request is not authorized to perform this operation."},
        {"AuthorizationPermissionMismatch",
         "This request is not authorized to perform this operation using this permission."},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].code, code) == 0)
            return table[i].message;
    return NULL;
}

static bool cf_report(const cf_sc_resp *resp)
{
    cf_azure_error e;
    memset(&e, 0, sizeof e);
    if (resp->body.len && resp->body.data[0] == '{') { /* the admin API answers JSON */
        json_t *doc = json_loadb((const char *)resp->body.data, resp->body.len, 0, NULL);
        json_t *err = json_object_get(doc, "error");
        const char *code = json_string_value(json_object_get(err, "code"));
        const char *message = json_string_value(json_object_get(err, "message"));
        snprintf(e.code, sizeof e.code, "%s", code ? code : "");
        snprintf(e.message, sizeof e.message, "%s", message ? message : "");
        json_decref(doc);
    } else if (resp->body.len && !cf_sc_xml_walk(cf_buf_slice(&resp->body), cf_error_leaf, &e)) {
        memset(&e, 0, sizeof e); /* not XML: fall back on the header */
    }
    const char *hcode = cf_sc_resp_header(resp, "x-ms-error-code");
    if (!e.code[0] && hcode)
        snprintf(e.code, sizeof e.code, "%s", hcode);
    if (!e.message[0] && e.code[0] && cf_known_message(e.code))
        snprintf(e.message, sizeof e.message, "%s", cf_known_message(e.code));
    cf_cli_https_print_error(resp->status, e.code[0] ? e.code : NULL,
                             e.message[0] ? e.message : NULL,
                             "the storage service returned an error");
    cf_error_raisef(cf_cli_https_status_err(resp->status), __FILE__, __LINE__, "%s",
                    e.code[0] ? e.code : "error");
    return false;
}

bool cf_sc_call(cf_sc_client *c, const cf_sc_req *req, cf_sc_resp *resp)
{
    cf_buf path, url;
    cf_buf_init(&path, CF_STORAGE_MAX_PATH);
    cf_buf_init_secret(&url, CF_SC_URL_MAX); /* may carry a SAS */
    bool has_query = req->query && req->query[0];
    bool ok = cf_req_path(c, req, &path) && cf_buf_append_str(&url, c->origin) &&
              cf_buf_append_str(&url, (const char *)path.data);
    if (ok && has_query)
        ok = cf_buf_append_u8(&url, '?') && cf_buf_append_str(&url, req->query);
    if (ok && !c->key.len && c->sas.len)
        ok = cf_buf_append_u8(&url, has_query ? '&' : '?') &&
             cf_buf_append_slice(&url, cf_buf_slice(&c->sas));
    ok = ok && cf_buf_terminate(&url);
    if (!ok && cf_error_code() == CF_ERR_TOO_LARGE)
        ok = cf_cli_usage("the request URL is too long");

    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    cf_sc_xfer x = {.req = req, .resp = resp};
    cf_buf_clear(&resp->headers);
    cf_buf_clear(&resp->body);
    resp->status = 0;
    curl_easy_reset(c->curl);
    ok = ok && cf_build_headers(c, req, (const char *)path.data, &headers) &&
         cf_setup(c, req, &x, (const char *)url.data, headers, errbuf);
    CURLcode rc = CURLE_OK;
    if (ok) {
        rc = cf_cli_https_perform(c->curl, headers);
        ok = rc == CURLE_OK;
    } else {
        cf_cli_https_release(c->curl, headers);
    }
    cf_buf_free(&url);
    cf_buf_free(&path);
    if (!ok && x.sink_failed)
        return false; /* the sink raised its own error */
    if (!ok && rc != CURLE_OK) {
        if (x.headers_overflow)
            CF_BAIL(CF_ERR_TOO_LARGE, "the service's response headers are too large");
        if (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_READ_ERROR) {
            /* The source raised the reason (a file that changed size...). */
            if (cf_error_code() == CF_OK)
                CF_RAISE(CF_ERR_IO, "reading the upload failed");
            return false;
        }
        char failed[sizeof c->origin + 32];
        snprintf(failed, sizeof failed, "request to %s failed", c->origin);
        cf_cli_https_raise(rc, errbuf, "the service's reply", failed);
        return false;
    }
    CF_GUARD(ok);
    if ((resp->status < 200 || resp->status > 299) &&
        !(req->also_ok && resp->status == req->also_ok))
        return cf_report(resp);
    return true;
}

/* ---- XML ---- */

typedef struct {
    XML_Parser parser;
    char path[1024];
    size_t marks[CF_SC_XML_MAX_DEPTH]; /* path length before each open element */
    size_t depth;
    cf_buf text;
    cf_sc_xml_on_end on_end;
    void *ctx;
    bool failed;   /* stopped by us */
    bool callback; /* the callback raised the error */
} cf_sc_xml_state;

static void cf_sc_xml_stop(cf_sc_xml_state *s, const char *why)
{
    if (!s->failed && why)
        CF_RAISE(CF_ERR_BAD_INPUT, why);
    s->failed = true;
    XML_StopParser(s->parser, XML_FALSE);
}

static void XMLCALL cf_sc_xml_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    cf_sc_xml_state *s = ud;
    if (s->failed)
        return;
    size_t len = strlen(s->path), nl = strlen(name);
    if (s->depth == CF_SC_XML_MAX_DEPTH || len + nl + 2 > sizeof s->path) {
        cf_sc_xml_stop(s, "the service's XML is nested too deeply");
        return;
    }
    s->marks[s->depth++] = len;
    if (len)
        s->path[len++] = '/';
    memcpy(s->path + len, name, nl + 1);
    cf_buf_clear(&s->text);
}

static void XMLCALL cf_sc_xml_end(void *ud, const XML_Char *name)
{
    (void)name;
    cf_sc_xml_state *s = ud;
    if (s->failed)
        return;
    if (!cf_buf_terminate(&s->text)) {
        cf_sc_xml_stop(s, "the service's XML has a text too long");
        return;
    }
    if (!s->on_end(s->ctx, s->path, (const char *)s->text.data)) {
        s->callback = true;
        cf_sc_xml_stop(s, NULL);
        return;
    }
    s->path[s->marks[--s->depth]] = 0;
    cf_buf_clear(&s->text);
}

static void XMLCALL cf_sc_xml_text(void *ud, const XML_Char *p, int len)
{
    cf_sc_xml_state *s = ud;
    if (!s->failed && len > 0 && !cf_buf_append(&s->text, p, (size_t)len))
        cf_sc_xml_stop(s, "the service's XML has a text too long");
}

static void XMLCALL cf_sc_xml_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                                      const XML_Char *pubid, int has_internal)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal;
    cf_sc_xml_stop(ud, "the service's XML has a DOCTYPE");
}

bool cf_sc_xml_walk(cf_slice xml, cf_sc_xml_on_end on_end, void *ctx)
{
    CF_ENSURE(xml.len <= INT_MAX, CF_ERR_TOO_LARGE, "XML too large");
    cf_sc_xml_state s;
    memset(&s, 0, sizeof s);
    s.on_end = on_end;
    s.ctx = ctx;
    cf_buf_init(&s.text, CF_SC_XML_TEXT_MAX);
    s.parser = XML_ParserCreate("UTF-8");
    CF_ENSURE_ALLOC(s.parser);
    XML_SetUserData(s.parser, &s);
    XML_SetElementHandler(s.parser, cf_sc_xml_start, cf_sc_xml_end);
    XML_SetCharacterDataHandler(s.parser, cf_sc_xml_text);
    XML_SetStartDoctypeDeclHandler(s.parser, cf_sc_xml_doctype);
    enum XML_Status st = XML_Parse(s.parser, (const char *)xml.ptr, (int)xml.len, XML_TRUE);
    bool ok = st == XML_STATUS_OK && !s.failed;
    if (!ok && !s.failed)
        cf_error_raisef(CF_ERR_BAD_INPUT, __FILE__, __LINE__,
                        "the service's reply is not well-formed XML (line %lu: %s)",
                        (unsigned long)XML_GetCurrentLineNumber(s.parser),
                        XML_ErrorString(XML_GetErrorCode(s.parser)));
    XML_ParserFree(s.parser);
    cf_buf_free(&s.text);
    return ok;
}
