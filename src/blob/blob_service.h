/*
 * coffer-blob, the server: declarations shared by its files.
 *
 *   main.c         arguments, listeners, signals
 *   bootstrap.c    the data directory: seal, service key, store, default
 *                  account, TLS material, bootstrap.json
 *   router.c       per request: parse the URL, find the operation in the
 *                  operation table, enforce HTTPS, authenticate, authorize,
 *                  then stream or buffer the body and call its handler;
 *                  render any error, CORS headers and the audit line
 *   errors.c       Azure error XML; one reason -> status table
 *   auth.c         Shared Key, SAS, Bearer and anonymous access decisions
 *   tokens.c       trust in coffer-vault's tokens (its signing keys)
 *   roles.c        Storage Blob Data role assignments (DIR/roles.json)
 *   admin.c        Coffer's own /.coffer/<account>/... API
 *   accounts_admin.c  account management in that API (create, list, show,
 *                  set the key source, delete)
 *   scopes_admin.c encryption scopes in that API (create, list, show,
 *                  enable/disable, key source)
 *   cmk.c          customer-managed keys: the per-account key gate and
 *                  switching who keeps an account's data key
 *   (coffer-blob's own identity in coffer-vault, get, wrap and unwrap with
 *   a vault key: core/vault_client.c, shared with the SQLite TDE protector)
 *   service_ops.c  service properties, list containers, account info
 *   container_ops.c containers, ACLs, container leases, list blobs
 *   blob_ops.c     blob reads, properties, metadata, delete, copy, leases
 *   upload_ops.c   streamed bodies: Put Blob, Put Block, Append Block,
 *                  Put Page; Put/Get Block List, Create Append Blob
 *   page_ops.c     page blobs: create, Get Page Ranges, resize and
 *                  sequence numbers, Put Page's headers
 *   headers.c      request header parsing shared by the handlers
 *   cors.c         CORS preflights and response headers from the account's rules
 *
 * Every request ends with one hash-chained audit line (DIR/audit.log, the
 * vault's format: docs/audit.md); writes are on disk before the reply.
 *
 * Handlers are thin: parse, call the store (src/blob/blob_store.h), render.
 * They share one contract (cf_blob_op_fn): true when the reply is set up,
 * false with the error raised; the router alone renders errors, adds CORS
 * headers and writes the audit line.
 */
#ifndef CF_BLOB_SERVICE_H
#define CF_BLOB_SERVICE_H

#include <limits.h>

#include "server_args.h"
#include <pthread.h>
#include <stdint.h>

#include "blob_store.h"
#include "blob_xml.h"
#include "http.h"
#include "https_fetch.h"
#include "seal_dir.h"
#include "storage_auth.h"
#include "vault_client.h"

#define CF_BLOB_VERSION_MAX "2026-10-06" /* newest x-ms-version accepted */
#define CF_BLOB_VERSION_DEFAULT "2026-10-06"
#define CF_BLOB_MAX_BODY (8u << 20) /* buffered bodies (block lists, XML) */
#define CF_BLOB_SERVER "Coffer-Blob/0.1"
#define CF_BLOB_DEFAULT_ACCOUNT "coffer"
#define CF_BLOB_MAX_INSECURE 8
#define CF_BLOB_MAX_OWNERS 8

typedef struct cf_blob_tokens cf_blob_tokens;
typedef struct cf_blob_roles cf_blob_roles;
typedef struct cf_blob_cmk cf_blob_cmk;

#define CF_BLOB_KEY_CACHE_DEFAULT 600 /* seconds, as Azure caches CMKs */
/* --extents rados:POOL[/NAMESPACE][@CLIENT]: room for a pool, a namespace
 * and a client name of a reasonable length. */
#define CF_BLOB_EXTENTS_SPEC_MAX 512
/* --extent-cleanup: with a shared extent store (RADOS), what a write may
 * leave untouched this long (RADOS notes a write's progress every 8
 * chunks, about 33 MiB), cleanup may take for a crashed writer's; and the
 * leader runs that cleanup this often. */
#define CF_BLOB_EXTENT_CLEANUP_DEFAULT CF_SECONDS_PER_HOUR

typedef struct {
    char data_dir[PATH_MAX];
    char listen[256];
    char http_listen[256]; /* "" = no plain-HTTP listener */
    char url[300];         /* https://HOST:PORT */
    char http_url[300];
    char vault_url[512]; /* "" = no token trust */
    /* The web console's origin, allowed by CORS everywhere (cors.c):
     * --console-origin, else the vault URL's; "" without a vault. */
    char console_origin[300];
    char vault_ca[PATH_MAX];
    char tenant_id[64];
    char insecure[CF_BLOB_MAX_INSECURE][CF_BLOB_ACCOUNT_MAX + 1];
    size_t n_insecure;
    char owners[CF_BLOB_MAX_OWNERS][40]; /* --owner: Storage Blob Data Owner at start */
    size_t n_owners;
    char service_id[40];
    cf_seal_options seal_options; /* --dev-seal, --pkcs11-* */
    cf_store_spec store_spec;     /* --store: SQLite (default) or PostgreSQL */
    /* --extents: "" = files in DIR/extents, else an extent store spec
     * (extent_store.h: rados:POOL[/NAMESPACE][@CLIENT]) */
    char extents[CF_BLOB_EXTENTS_SPEC_MAX];
    int extent_grace;     /* --extent-grace: seconds before the sweep removes */
    int extent_cleanup;   /* --extent-cleanup: a shared store's cleanup age and interval */
    cf_sealed_dir sealed; /* owns the seal and the service key */
    cf_seal *seal;        /* = sealed.seal */
    uint8_t *service_key; /* = sealed.master_key: 32 bytes, secret memory */
    cf_blob_store *store;
    cf_blob_tokens *tokens;
    cf_blob_roles *roles;
    char vault_bootstrap[PATH_MAX]; /* --vault-bootstrap: our identity in coffer-vault */
    int key_cache_seconds;          /* --key-cache-seconds */
    cf_vault_client *vault;         /* NULL without --vault-bootstrap */
    cf_blob_cmk *cmk;
    struct cf_audit *audit;       /* DIR/audit.log */
    cf_audit_anchor_state anchor; /* its head, recorded in a shared store */
    struct cf_throttle *throttle; /* failed Shared Key / SAS checks, per account and address */
    pthread_mutex_t bootstrap_lock;
} cf_blob_service;

/* How a request proved who it is. */
typedef enum {
    CF_AUTH_NONE = 0, /* anonymous */
    CF_AUTH_KEY,      /* Shared Key / Shared Key Lite: full access */
    CF_AUTH_SAS,      /* account or service SAS */
    CF_AUTH_BEARER,   /* a coffer-vault token: roles decide */
} cf_auth_kind;

/* What an operation needs, in each authorization system's terms. */
typedef enum {
    CF_PERM_CONTAINER_READ = 0,
    CF_PERM_CONTAINER_WRITE,
    CF_PERM_CONTAINER_DELETE,
    CF_PERM_CONTAINER_ACL_READ,
    CF_PERM_CONTAINER_ACL_WRITE,
    CF_PERM_SERVICE_READ, /* service properties, account info */
    CF_PERM_SERVICE_WRITE,
    CF_PERM_BLOB_READ,
    CF_PERM_BLOB_WRITE,
    CF_PERM_BLOB_ADD, /* create a new blob / append */
    CF_PERM_BLOB_DELETE,
    CF_PERM_LIST_CONTAINERS,
    CF_PERM_LIST_BLOBS,
    CF_PERM_DELEGATION_KEY, /* Get User Delegation Key */
} cf_blob_perm;

typedef enum { CF_LEVEL_SERVICE = 0, CF_LEVEL_CONTAINER, CF_LEVEL_BLOB } cf_blob_level;

typedef struct cf_blob_call cf_blob_call;
/* A handler: true when it has set up its reply (status, headers, body);
 * false with the error raised (code, Azure reason, message), which the
 * router renders. */
typedef bool (*cf_blob_op_fn)(cf_blob_call *call);

/* One row of the operation table (router.c), written with designated
 * initialisers: a field left out is NULL / false. */
typedef struct {
    const char *name;   /* for logs */
    const char *method; /* "GET" also matches HEAD */
    cf_blob_level level;
    const char *restype;   /* required value, or NULL = must be absent */
    const char *comp;      /* required value, or NULL = must be absent */
    const char *blob_type; /* PUT blob: x-ms-blob-type, or NULL = any */
    bool copy;             /* PUT blob with x-ms-copy-source */
    bool streamed;         /* body streams into begin_upload's writer */
    bool anonymous_ok;     /* may be served anonymously on a public container */
    cf_blob_perm perm;
    cf_blob_op_fn run;
} cf_blob_op;

/* What a failed read still tells the client (errors.c): 304 Not Modified
 * carries the blob's ETag and Last-Modified, 416 its size. */
typedef struct {
    bool known;                      /* set by a read handler before it fails */
    char etag[CF_BLOB_ETAG_LEN + 1]; /* "" when the blob was not found */
    int64_t last_modified;
    uint64_t size;
} cf_blob_read_validators;

/* Per-request state, created in the begin hook, freed when the request is
 * done (router.c). */
struct cf_blob_call {
    cf_blob_service *svc;
    cf_http_request *http;
    cf_http_response *resp;
    const cf_blob_op *op;
    bool head;
    int64_t now;
    char account[CF_BLOB_ACCOUNT_MAX + 1];
    char container[CF_BLOB_CONTAINER_MAX + 1];
    char *blob;        /* decoded name, owned; NULL below blob level */
    const char *query; /* raw query text (after '?'), "" if none */
    char version[16];  /* x-ms-version to answer with */
    cf_auth_kind auth;
    char principal[40]; /* CF_AUTH_BEARER: object id */
    unsigned app_roles; /* CF_AUTH_BEARER: CF_APP_ROLE_* bits (token_roles.h) */
    cf_blob_cond cond;
    cf_blob_cpk *cpk;             /* x-ms-encryption-key (secret memory), or NULL */
    cf_blob_read_validators read; /* for the error reply of a failed read */
    bool audited;
    unsigned retry_after; /* refused by failed-credential throttling: seconds */
    /* Streamed uploads (upload_ops.c). */
    struct cf_blob_upload *upload;
};

/* ---- router.c ---- */
cf_http_begin_result cf_blob_begin(void *ctx, cf_http_request *req, cf_http_response *resp);
void cf_blob_handle(void *ctx, cf_http_request *req, cf_http_response *resp);
void cf_blob_request_done(void *ctx, cf_http_request *req);
/* A query parameter of the call's request, or NULL. */
const char *cf_blob_query(const cf_blob_call *call, const char *name);
const char *cf_blob_header(const cf_blob_call *call, const char *name);
/* Whether `account` requires HTTPS (all but --insecure-account ones). */
bool cf_blob_https_only(const cf_blob_service *svc, const char *account);

/* ---- errors.c ---- */
/* Raises `code` with Azure error code `reason` (a row of errors.c's table)
 * and a message for the client, recording the caller's file:line; the
 * expression is false, so `return CF_BLOB_FAIL(...)` fails a function. */
#define CF_BLOB_FAIL(code, reason, message) (CF_RAISE_REASON((code), (reason), (message)), false)
/* Renders the current thread error (cf_error_code / reason / detail) as
 * Azure's error response; only the router calls it. */
void cf_blob_reply_error(cf_blob_call *call);
/* HTTP status of an Azure error code. */
unsigned cf_blob_reason_status(const char *reason, cf_err fallback);

/* ---- headers.c ---- */
/* Common success headers (x-ms-version, Date, Server, client request id). */
CF_MUST_USE bool cf_blob_common_headers(cf_blob_call *call);
CF_MUST_USE bool cf_blob_add_date(cf_blob_call *call, const char *name, int64_t t);
CF_MUST_USE bool cf_blob_add_etag(cf_blob_call *call, const char *etag, int64_t last_modified);
/* x-ms-request-server-encrypted: true, and x-ms-encryption-scope when the
 * write went to a scope. */
CF_MUST_USE bool cf_blob_add_encrypted(cf_blob_call *call, const char *scope);
/* Fills call->cond from If-Match, If-None-Match, If-(Un)Modified-Since,
 * x-ms-lease-id and the customer-provided key headers.  400 on malformed
 * dates or keys. */
CF_MUST_USE bool cf_blob_parse_conditions(cf_blob_call *call);
/* x-ms-meta-* headers into a new object (NULL when none). */
CF_MUST_USE bool cf_blob_parse_metadata(cf_blob_call *call, json_t **out);
/* x-ms-blob-content-* (or, with `plain`, Content-* as Put Blob allows). */
CF_MUST_USE bool cf_blob_parse_props(cf_blob_call *call, bool plain, json_t **out);
CF_MUST_USE bool cf_blob_add_metadata(cf_blob_call *call, json_t *metadata);
/* An integer header in [min, max] into *out (left alone when absent);
 * 400 InvalidHeaderValue naming it otherwise. */
CF_MUST_USE bool cf_blob_number_header(cf_blob_call *call, const char *name, int64_t min,
                                       int64_t max, int64_t *out);
/* x-ms-range, else Range: "bytes=S-E" (inclusive) or "bytes=S-" (length
 * CF_BLOB_WHOLE); *has false when neither is sent.  A malformed x-ms-range
 * is 400 InvalidHeaderValue; a malformed Range is ignored, as HTTP allows. */
CF_MUST_USE bool cf_blob_parse_range(cf_blob_call *call, bool *has, uint64_t *offset,
                                     uint64_t *length);
/* "BlockBlob", "AppendBlob", "PageBlob". */
const char *cf_blob_type_name(cf_blob_type type);
/* Appends a base64 value; `out` is NUL-terminated. */
CF_MUST_USE bool cf_blob_base64(cf_slice in, char *out, size_t len);

/* ---- shared by the handlers (service_ops.c) ---- */
/* Success: status, common headers, XML content type when there is a body. */
CF_MUST_USE bool cf_blob_reply_ok(cf_blob_call *call, unsigned status);
/* A write's success: its ETag and Last-Modified, then as cf_blob_reply_ok. */
CF_MUST_USE bool cf_blob_reply_written(cf_blob_call *call, unsigned status,
                                       const cf_blob_write_result *r);
CF_MUST_USE bool cf_blob_max_results(cf_blob_call *call, unsigned *out);
/* Whether the "include" query list names `what`. */
bool cf_blob_include(cf_blob_call *call, const char *what);
/* "container", "blob" or NULL (private). */
const char *cf_blob_access_name(cf_public_access a);
CF_MUST_USE bool cf_blob_xml_metadata(cf_xml_writer *w, json_t *metadata);
CF_MUST_USE bool cf_blob_xml_date(cf_xml_writer *w, const char *name, int64_t t);
CF_MUST_USE bool cf_blob_xml_lease(cf_xml_writer *w, const cf_lease_info *lease);
/* <?xml?><EnumerationResults ServiceEndpoint= [ContainerName=]> with
 * Prefix, Marker, MaxResults; the caller continues and closes. */
CF_MUST_USE bool cf_blob_xml_list_head(cf_blob_call *call, cf_xml_writer *w, const char *container,
                                       unsigned max);
/* Lease headers (x-ms-lease-state/-status/-duration). */
CF_MUST_USE bool cf_blob_add_lease(cf_blob_call *call, const cf_lease_info *lease);
/* Parses the x-ms-lease-* request headers of Lease Blob / Lease Container. */
CF_MUST_USE bool cf_blob_parse_lease(cf_blob_call *call, cf_lease_req *out);
/* Renders a lease operation's reply. */
CF_MUST_USE bool cf_blob_reply_lease(cf_blob_call *call, const cf_lease_req *req,
                                     const cf_lease_result *r);

/* ---- auth.c ---- */
/* Authenticates and authorizes the call for call->op; on failure the
 * error is raised (reason set) for cf_blob_reply_error, except for the
 * anonymous challenge, which sets the WWW-Authenticate header too. */
CF_MUST_USE bool cf_blob_authorize(cf_blob_call *call);
/* GET /metrics: a vault token whose roles claim reads metrics. */
CF_MUST_USE bool cf_blob_authorize_metrics(cf_blob_call *call);
/* A vault token (Authorization: Bearer) whose roles claim holds `role`
 * (a CF_APP_ROLE_* bit); 403 with `refusal` when it does not. */
CF_MUST_USE bool cf_blob_authorize_app_role(cf_blob_call *call, unsigned role, const char *refusal);
/* Shared Key / Shared Key Lite against call->account's two keys. */
CF_MUST_USE bool cf_blob_verify_shared_key(cf_blob_call *call, const char *authorization);
/* For copy: whether the caller may read `container` (same account). */
CF_MUST_USE bool cf_blob_may_read_source(cf_blob_call *call, const char *container,
                                         const char *name, const char *source_query);

/* ---- tokens.c ---- */
CF_MUST_USE bool cf_blob_tokens_open(const char *vault_url, const char *ca_file,
                                     const char *tenant_id, cf_blob_tokens **out);
void cf_blob_tokens_close(cf_blob_tokens *t);
/* Verifies a vault token for the storage audience: its principal into
 * `oid`, and the app roles its "roles" claim names (CF_APP_ROLE_* bits,
 * token_roles.h). */
CF_MUST_USE bool cf_blob_tokens_verify(cf_blob_tokens *t, const char *token, char oid[40],
                                       unsigned *app_roles);
/* "https://VAULT/TENANT/oauth2/authorize" for the 401 challenge. */
const char *cf_blob_tokens_authority(const cf_blob_tokens *t);

/* ---- cmk.c ---- */
CF_MUST_USE bool cf_blob_cmk_open(int cache_seconds, cf_blob_cmk **out);
void cf_blob_cmk_close(cf_blob_cmk *c);
/* The gate: true when the account's data key can be used now (always for
 * service-managed keys); else 403 with the Azure code that says why. */
CF_MUST_USE bool cf_blob_cmk_ready(cf_blob_service *svc, const char *account);
/* Hands the data key of the account (scope NULL) or of one of its scopes
 * to vault key `uri` (or back to the service with NULL): wrapped, checked
 * by unwrapping, stored. */
CF_MUST_USE bool cf_blob_cmk_set(cf_blob_service *svc, const char *account, const char *scope,
                                 const char *uri);
/* Forgets what the gate knew of `account` (NULL: of every account), so it
 * asks the store (and the vault) again. */
void cf_blob_cmk_forget(cf_blob_service *svc, const char *account);

/* ---- accounts_admin.c ---- */
/* https://VAULT/keys/NAME[/VERSION] with plain names (400 otherwise). */
CF_MUST_USE bool cf_blob_key_uri_check(const char *uri);
/* /.coffer/<admin>/accounts[/<name>] (the default account's key only):
 * *handled says whether `rest` is such a path; then the answer is in
 * *status (200 unless set) and *out, or the error is raised. */
CF_MUST_USE bool cf_blob_admin_accounts(cf_blob_call *call, const char *rest, unsigned *status,
                                        json_t *body, json_t **out, bool *handled);

/* ---- scopes_admin.c ---- */
/* /.coffer/<account>/encryptionScopes[/<name>], as cf_blob_admin_accounts. */
CF_MUST_USE bool cf_blob_admin_scopes(cf_blob_call *call, const char *rest, unsigned *status,
                                      json_t *body, json_t **out, bool *handled);

/* ---- roles.c ---- */
/* `store`: when it is shared (PostgreSQL) the assignments live there (a
 * roles.json at `path` seeds an empty store); else in the file. */
CF_MUST_USE bool cf_blob_roles_open(const char *path, cf_blob_store *store, cf_blob_roles **out);
void cf_blob_roles_close(cf_blob_roles *r);
/* Whether principal `oid` holds a role granting `perm` on the container
 * (or account-wide when container is NULL). */
bool cf_blob_roles_permit(cf_blob_roles *r, const char *account, const char *oid,
                          const char *container, cf_blob_perm perm);
CF_MUST_USE bool cf_blob_roles_put(cf_blob_roles *r, const char *account, const char *name,
                                   json_t *body, json_t **out);
/* Removes assignment `name`, or with NULL every assignment of the account. */
CF_MUST_USE bool cf_blob_roles_delete(cf_blob_roles *r, const char *account, const char *name);
CF_MUST_USE bool cf_blob_roles_list(cf_blob_roles *r, const char *account, json_t **out);

/* ---- bootstrap.c ---- */
CF_MUST_USE bool cf_blob_service_open(cf_blob_service *svc, cf_buf *tls_cert, cf_buf *tls_key);
void cf_blob_service_close(cf_blob_service *svc);
/* Records the audit log's head in a shared (PostgreSQL) store: every
 * background round, and at shutdown. */
CF_MUST_USE bool cf_blob_anchor_audit(cf_blob_service *svc);
/* Rewrites bootstrap.json after an account key changed. */
CF_MUST_USE bool cf_blob_write_bootstrap(cf_blob_service *svc);
/* An account's endpoint, keys and connection string as a JSON object
 * (account_name, account_key, account_key2, blob_endpoint,
 * connection_string, https_only[, http_blob_endpoint]). */
CF_MUST_USE bool cf_blob_account_entry(cf_blob_service *svc, const char *name, json_t **out);

/* ---- delegation.c ---- */
/* POST /?restype=service&comp=userdelegationkey (bearer tokens only). */
CF_MUST_USE bool cf_blob_op_user_delegation_key(cf_blob_call *call);
/* The user delegation key a SAS names, recomputed into `key` under
 * `root` (the account's key1; it may lie in `key` itself). */
CF_MUST_USE bool cf_blob_delegation_sas_key(cf_blob_call *call, const cf_sas *sas, cf_slice root,
                                            cf_buf *key);
/* After its signature: the key's window and tenant, and the signer's own
 * roles still allowing the operation. */
CF_MUST_USE bool cf_blob_delegation_sas_checks(cf_blob_call *call, const cf_sas *sas);

/* ---- cors.c ---- */
/* Answers a CORS preflight (OPTIONS) from the account's rules: 200 with the
 * Access-Control-Allow-* headers, or raises 403 CorsPreflightFailure. */
CF_MUST_USE bool cf_blob_cors_preflight(cf_blob_call *call);
/* Adds Access-Control-Allow-Origin / -Expose-Headers to a response: on
 * every path for the console's origin, and on the Blob API (data_plane)
 * when the request has an Origin a rule allows. */
void cf_blob_cors_response(cf_blob_call *call, bool data_plane);
/* Whether the request's Origin is the console's (svc->console_origin). */
CF_MUST_USE bool cf_blob_cors_from_console(const cf_blob_call *call);
/* A preflight from the console: any path, the usual methods, the headers
 * it names. */
CF_MUST_USE bool cf_blob_cors_console_preflight(cf_blob_call *call);

/* ---- admin.c ---- */
/* From the headers: the account, HTTPS, Shared Key; raises the error when
 * refused. */
CF_MUST_USE bool cf_blob_admin_begin(cf_blob_call *call);
/* Whether an admin path (after /.coffer/<account>/) is `collection` or
 * lies below it. */
bool cf_blob_admin_under(const char *rest, const char *collection);
/* The admin API's handler, under the handlers' contract. */
CF_MUST_USE bool cf_blob_admin(cf_blob_call *call);
/* Renders the current thread error as the admin API's JSON error. */
void cf_blob_admin_reply_error(cf_blob_call *call);

/* ---- operations: handlers (cf_blob_op_fn) ---- */
CF_MUST_USE bool cf_blob_op_get_service_props(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_set_service_props(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_list_containers(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_account_info(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_container_create(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_container_delete(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_container_props(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_container_set_metadata(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_container_get_acl(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_container_set_acl(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_container_lease(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_list_blobs(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_get_blob(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_get_metadata(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_set_properties(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_set_metadata(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_delete(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_copy(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_blob_lease(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_put_block_list(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_get_block_list(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_append_create(cf_blob_call *call);
/* Page blobs (page_ops.c): Create Page Blob, Get Page Ranges; Put Page
 * streams through upload_ops.c. */
CF_MUST_USE bool cf_blob_op_page_create(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_page_ranges(cf_blob_call *call);
/* Set Blob Properties on a page blob with x-ms-blob-content-length
 * (resize) or x-ms-sequence-number-action: *handled says it was one, and
 * then the reply is set up. */
CF_MUST_USE bool cf_blob_page_properties(cf_blob_call *call, bool *handled);
/* Put Page's range and mode, checked before its body is read. */
typedef struct {
    uint64_t offset, length;
    bool clear;
} cf_blob_page_range;
CF_MUST_USE bool cf_blob_page_request(cf_blob_call *call, uint64_t declared,
                                      cf_blob_page_range *out);
/* x-ms-blob-sequence-number of a page blob's reply. */
CF_MUST_USE bool cf_blob_add_sequence(cf_blob_call *call, int64_t sequence);
/* Put Page's x-ms-if-sequence-number-le / -lt / -eq. */
CF_MUST_USE bool cf_blob_page_seq_cond(cf_blob_call *call, cf_blob_seq_cond *out);
/* Streamed: begin (in the begin hook, opens the writer) + finish. */
CF_MUST_USE bool cf_blob_upload_begin(cf_blob_call *call);
CF_MUST_USE bool cf_blob_op_upload_finish(cf_blob_call *call);
void cf_blob_upload_free(cf_blob_call *call);

#endif
