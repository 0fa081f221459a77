/*
 * coffer blob|container|account|scope: the Azure Blob Storage client behind
 * those commands (storage_client.c), its XML reader, and the transfer
 * progress display (progress.c).  Kept apart from cli.h because nothing
 * else in the CLI speaks the storage protocol, and libcurl types appear in
 * it.
 *
 * Names: `cf_sc_` ("storage client") marks everything here, so that the
 * CLI's client is never taken for coffer-blob's server code (`cf_blob_`).
 * The client is deliberately independent of coffer-blob's own library
 * (src/blob): the CLI must work against any Azure-compatible endpoint and
 * must not share the server's parsing code, so it has its own small expat
 * reader here.
 */
#ifndef CF_CLI_STORAGE_CLIENT_H
#define CF_CLI_STORAGE_CLIENT_H

#include <limits.h>
#include <stdint.h>

#include "cli.h"

/* The x-ms-version every request carries. */
#define CF_SC_API_VERSION "2026-10-06"
/* Cap on a listing page or an error body held in memory. */
#define CF_SC_REPLY_MAX CF_CLI_REPLY_MAX
/* Extra request headers per request (metadata included). */
#define CF_SC_MAX_HEADERS 48

/* ---- progress.c ---- */

/*
 * One transfer's progress.  The bar (bytes, percent, MB/s, ETA) is drawn on
 * stderr, at most ten times a second, only when `bar` was asked for and
 * stderr is a terminal; otherwise updates only count.  `total` may be 0
 * while unknown (a download before its headers).
 */
typedef struct {
    const char *verb; /* "upload", "download" */
    uint64_t total;
    uint64_t done;
    double start; /* monotonic seconds */
    double last_draw;
    uint64_t drawn_done; /* `done` at the last draw */
    bool bar;
    bool drawn; /* a bar line is on screen and must be cleared */
} cf_progress;

void cf_progress_start(cf_progress *p, const char *verb, uint64_t total, bool want_bar);
void cf_progress_update(cf_progress *p, uint64_t done);
/* Clears the bar line (if any); the caller prints its own summary. */
void cf_progress_end(cf_progress *p);
double cf_progress_elapsed(const cf_progress *p);
/* "12.3 MiB", "512 B"... */
void cf_progress_size(uint64_t bytes, char *out, size_t len);
/* "93.7 MB/s" for `bytes` over `seconds`. */
void cf_progress_rate(uint64_t bytes, double seconds, char *out, size_t len);

/* ---- storage_client.c: the connection ---- */

typedef struct cf_sc_client cf_sc_client;

/*
 * Resolves the connection (see storage_client.c for the sources and their
 * order) and opens the client.  Usage problems (no connection string, a
 * malformed one) are usage errors; a missing or unreadable bootstrap file
 * is a failure.
 */
CF_MUST_USE bool cf_sc_client_open(cf_cli *cli, cf_sc_client **out);
/* The two halves of open: the connection string (into `conn`, a secret
 * buffer) and the CA file ("" for the system's) the command line and
 * environment name; and a client from them, for a process that has no
 * command line of its own (coffer-disk's nbdkit plugin). */
CF_MUST_USE bool cf_sc_connection(cf_cli *cli, cf_buf *conn, char ca_file[PATH_MAX]);
CF_MUST_USE bool cf_sc_client_connect(const char *conn, const char *ca_file, cf_sc_client **out);
void cf_sc_client_close(cf_sc_client *c);
/* The endpoint URL, for messages and JSON output (no credentials). */
const char *cf_sc_client_endpoint(const cf_sc_client *c);

/* ---- storage_client.c: one request ---- */

/* Receives a 2xx response body piece by piece; false aborts the transfer
 * (the sink raised the error). */
typedef bool (*cf_sc_sink)(void *ctx, const uint8_t *data, size_t len);
/* libcurl's read callback (fills up to size*n bytes; 0 at the end,
 * CURL_READFUNC_ABORT to abort). */
typedef size_t (*cf_sc_source)(char *buf, size_t size, size_t n, void *ctx);

typedef struct {
    const char *method;    /* GET, HEAD, PUT, DELETE */
    const char *container; /* NULL: the account (service) level */
    const char *blob;      /* NULL: the container itself; percent-encoded here */
    const char *query;     /* raw, already encoded, without '?'; NULL for none */
    /* Coffer's admin API instead: the path after /.coffer/<account>/
     * (already encoded); container and blob are then ignored. */
    const char *admin;
    /* Extra headers as name/value pairs (x-ms-date, x-ms-version and the
     * authorization are added by the client). */
    const char *hname[CF_SC_MAX_HEADERS];
    const char *hvalue[CF_SC_MAX_HEADERS];
    size_t n_headers;
    /* Request body: `body` when has_body, or `source` streaming body_len
     * bytes.  PUT without either sends an empty body. */
    bool has_body;
    cf_slice body;
    cf_sc_source source;
    void *source_ctx;
    uint64_t body_len;
    /* Where a 2xx body goes: `sink`, or resp->body when NULL. */
    cf_sc_sink sink;
    void *sink_ctx;
    /* A non-2xx status that is an expected answer (404 for "does it
     * exist?"): returned as success, nothing printed.  0 for none. */
    long also_ok;
    /* Transfer progress: this request's bytes count from progress_base. */
    cf_progress *progress;
    uint64_t progress_base;
} cf_sc_req;

/* Adds one header to a request (values borrowed for the call). */
CF_MUST_USE bool cf_sc_req_header(cf_sc_req *req, const char *name, const char *value);

typedef struct {
    long status;
    cf_buf headers; /* "name\0value\0" pairs, names lower-cased */
    cf_buf body;    /* the 2xx body (no sink), or the error body */
} cf_sc_resp;

void cf_sc_resp_init(cf_sc_resp *r);
void cf_sc_resp_free(cf_sc_resp *r);
/* The value of response header `name` (lower case), or NULL. */
const char *cf_sc_resp_header(const cf_sc_resp *r, const char *name);
/* Iterates the response headers: start with *pos = 0; false at the end. */
bool cf_sc_resp_next(const cf_sc_resp *r, size_t *pos, const char **name, const char **value);

/*
 * Sends the request and reads the response.  A 2xx status succeeds.  Any
 * other status prints the service's error ("coffer: BlobNotFound: The
 * specified blob does not exist. (HTTP 404)") and fails with the Azure code
 * as the error reason; transport failures fail with CF_ERR_IO.
 */
CF_MUST_USE bool cf_sc_call(cf_sc_client *c, const cf_sc_req *req, cf_sc_resp *resp);

/* ---- storage_client.c: URL pieces ---- */

/* Container names go into URL paths: 1-63 of [a-z0-9-], or a leading '$'
 * ($root, $logs); the service checks the finer rules.  Blob names: 1-1024
 * bytes without control characters.  Both are usage errors otherwise. */
CF_MUST_USE bool cf_sc_check_container(const char *name);
CF_MUST_USE bool cf_sc_check_blob_name(const char *name);
/* An RFC 1123 date from the service as ISO 8601 UTC (or as given when it
 * does not parse). */
void cf_sc_time_iso(const char *rfc1123, char *out, size_t len);
/* Sets obj[key] = value (value may be NULL: then JSON null); takes value. */
CF_MUST_USE bool cf_sc_json_set(json_t *obj, const char *key, json_t *value);

/* ---- storage_client.c: XML ---- */

/*
 * Called at the end of every element with its path from the root
 * ("EnumerationResults/Blobs/Blob/Name") and its text content (leading and
 * trailing text of mixed content included; "" for none).  Return false to
 * stop the walk (the callback raised the error).
 */
typedef bool (*cf_sc_xml_on_end)(void *ctx, const char *path, const char *text);

/* Parses a whole document with expat; DOCTYPE declarations are refused
 * (no entities, no external anything), depth and text are capped. */
CF_MUST_USE bool cf_sc_xml_walk(cf_slice xml, cf_sc_xml_on_end on_end, void *ctx);

/* ---- account_cmd.c: shared with scope_cmd.c ---- */

/* One call to coffer-blob's admin API (/.coffer/<account>/<path>) with a
 * JSON body (may be NULL); `reply` (may be NULL) gets the parsed answer. */
CF_MUST_USE bool cf_sc_admin_call(cf_cli *cli, const char *method, const char *path,
                                  const char *body, json_t **reply);
/* Prints one flattened admin object (JSON with --output json, else "key
 * value" lines) and frees it; false when `flat` is NULL (out of memory). */
CF_MUST_USE bool cf_sc_admin_render(const cf_cli *cli, json_t *flat);
/* GET of an admin collection: each member flattened, printed as a table
 * row (`row`) or, with --output json, as one JSON array. */
CF_MUST_USE bool cf_sc_admin_list(cf_cli *cli, const char *path, json_t *(*flatten)(json_t *),
                                  void (*row)(json_t *flat));

/* ---- blob_cmd.c: shared with container_cmd.c ---- */

/* Lists every page of a listing (GET <container or account>?<base_query>
 * [&maxresults=][&prefix=][&marker=]), following NextMarker; on_leaf sees
 * every element of every page except NextMarker.  page_size 0: the
 * service's default (5000). */
CF_MUST_USE bool cf_sc_list_pages(cf_sc_client *client, const char *container,
                                  const char *base_query, const char *prefix, unsigned page_size,
                                  cf_sc_xml_on_end on_leaf, void *ctx);
/* --page-size N (1-5000), 0 when absent. */
CF_MUST_USE bool cf_sc_page_size_opt(const cf_cli *cli, unsigned *out);

#endif
