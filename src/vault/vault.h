/*
 * coffer-vault: shared state and the per-request call context.
 *
 * Request flow (router.c): authenticate (the 401 challenge comes before
 * anything else) -> check api-version -> parse the JSON body -> find the
 * operation in the router's table -> check the path's parameters ->
 * authorize the operation's data action -> call its handler (keys.c,
 * key_ops.c, ...), which validates its input, calls the store and crypto,
 * and renders the reply.  Handlers return false with the thread's error
 * set; the router renders that error in Key Vault's format (errors.c).
 */
#ifndef CF_VAULT_H
#define CF_VAULT_H

#include <jansson.h>
#include <limits.h>
#include <stdint.h>

#include "crypto.h"
#include "http.h"
#include "seal_dir.h"
#include "server_args.h"
#include "store.h"
#include "ids.h"
#include "units.h"

#define CF_VAULT_MAX_BODY CF_MIB
#define CF_LIST_DEFAULT 25
#define CF_LIST_MAX 25

typedef struct {
    /* configuration */
    char data_dir[PATH_MAX];
    char listen[256];
    char url[512];              /* https://host:port, no trailing slash */
    char console_blob_url[256]; /* the console's blob service origin, or "" */
    char resource[256];         /* token audience, e.g. https://vault.azure.net */
    char tenant_id[CF_UUID_LEN + 1];
    int retention_days;    /* soft-delete retention, fixed at creation */
    bool purge_protection; /* fixed at creation: no purge before retention ends */
    bool retention_given;  /* --retention-days / --purge-protection were passed */
    bool protection_given;
    int rotation_interval;        /* seconds between rotation/purge sweeps */
    bool sweeping;                /* the sweeper thread: this front end leads the sweeps */
    int token_lifetime;           /* seconds */
    const char *tls_cert_file;    /* optional: use this certificate chain... */
    const char *tls_key_file;     /* ...and key instead of the generated ones */
    const char *extra_san;        /* optional extra DNS name / IP for the certificate */
    cf_seal_options seal_options; /* --dev-seal, --pkcs11-* */
    cf_store_spec store_spec;     /* --store: SQLite (default) or PostgreSQL */
    /* state */
    char vault_id[CF_UUID_LEN + 1];
    cf_store *store;
    cf_sealed_dir sealed;         /* owns the seal and the data key */
    cf_seal *seal;                /* = sealed.seal */
    uint8_t *data_key;            /* = sealed.master_key: CF_DATA_KEY_LEN bytes, secret memory */
    cf_pkey *token_key;           /* signs access tokens */
    struct cf_audit *audit;       /* DIR/audit.log */
    cf_audit_anchor_state anchor; /* its head, recorded in a shared store */
    struct cf_throttle *throttle; /* failed sign-ins, per client id and address */
    char token_kid[64];
} cf_vault;

/* What a route's path pattern captured (router.c); NULL when the pattern
 * has no such part.  The strings point into the request's path copy. */
typedef struct {
    const char *name;       /* {name}: a key or secret name, already validated */
    const char *version;    /* {version}: 32 characters, or "" = the latest */
    const char *principal;  /* {principal}: an object id of CF_UUID_LEN characters */
    const char *credential; /* {credential}: a principal's credential id, unchecked */
    const char *role;       /* {role}: a role definition name, unchecked */
    const char *assignment; /* {assignment}: a role assignment name, a GUID */
    const char *scope;      /* the RBAC API's scope ("/", "/keys/k"), else NULL */
} cf_vault_params;

struct cf_vault_route;

typedef struct {
    cf_vault *vault;
    cf_http_request *http;
    cf_http_response *resp;
    cf_principal caller;
    json_t *body;                       /* the parsed request body, or NULL */
    const char *action;                 /* the data action authorized, for the audit log */
    const struct cf_vault_route *route; /* the operation being served */
    cf_vault_params params;
} cf_vault_call;

/* ---- replies (errors.c) ---- */
/* Takes ownership of `body`. */
CF_MUST_USE bool cf_vault_reply(cf_vault_call *call, unsigned status, json_t *body);
/* Renders the thread's current error: its reason (below) when it has one,
 * else its code, through the one table in errors.c. */
void cf_vault_reply_error(cf_vault_call *call);

/* Reasons (cf_error_reason) with a reply of their own, beyond the error
 * codes' defaults: Key Vault's finer error codes. */
#define CF_VAULT_REASON_KEY_NOT_FOUND "KeyNotFound"
#define CF_VAULT_REASON_SECRET_NOT_FOUND "SecretNotFound"
#define CF_VAULT_REASON_SECRET_DISABLED "SecretDisabled"
#define CF_VAULT_REASON_ROLE_DEFINITION_NOT_FOUND "RoleDefinitionNotFound"
#define CF_VAULT_REASON_ROLE_ASSIGNMENT_NOT_FOUND "RoleAssignmentNotFound"
/* The core's (fsutil.h): the disk is full. */
#define CF_VAULT_REASON_DISK_FULL "InsufficientStorage"

/* 401 with the Bearer challenge. */
void cf_vault_reply_challenge(cf_vault_call *call, const char *message);
/* A failed authentication: 401 with the challenge, or the failure itself
 * when the store or HSM could not answer (503). */
void cf_vault_reply_auth_failure(cf_vault_call *call);

/* ---- helpers shared by resource handlers (objects.c) ---- */
CF_MUST_USE bool cf_vault_valid_object_name(const char *name);
CF_MUST_USE bool cf_vault_new_version_id(char out[CF_VERSION_LEN + 1]);
int64_t cf_vault_now(void);
/* The associated data binding sealed material to its identity. */
CF_MUST_USE bool cf_object_aad(const cf_vault *vault, const char *kind, const char *name,
                               const char *version, cf_buf *out);
CF_MUST_USE bool cf_object_seal(const cf_vault *vault, cf_object *obj, cf_slice material);
/* `out` must be a secret buffer. */
CF_MUST_USE bool cf_object_unseal(const cf_vault *vault, const cf_object *obj, cf_buf *out);
/* Attributes JSON in Key Vault's shape (enabled, nbf, exp, created, ...). */
json_t *cf_object_attributes(const cf_vault *vault, const cf_object *obj);
/* Reads "attributes" and "tags" from a request into `obj`; absent members
 * leave obj unchanged. */
CF_MUST_USE bool cf_object_parse_attributes(json_t *body, cf_object *obj);
/* The maxresults and $skiptoken of a list request. */
CF_MUST_USE bool cf_vault_list_params(cf_vault_call *call, unsigned *limit, const char **marker);
/* Adds "nextLink" for the given marker (if any) to a list reply. */
CF_MUST_USE bool cf_vault_list_next_link(cf_vault_call *call, json_t *reply, const char *path,
                                         const char *marker, unsigned limit);

/* JSON body accessors: fail with BadParameter naming the member. */
CF_MUST_USE bool cf_vault_json_string(json_t *obj, const char *member, bool required,
                                      const char **out);
/* base64url member decoded into `out` (cap from out->max). */
CF_MUST_USE bool cf_vault_json_b64url(json_t *obj, const char *member, bool required, cf_buf *out);
CF_MUST_USE bool cf_vault_json_set_b64url(json_t *obj, const char *member, cf_slice value);

/* ---- the operation table (router.c) ---- */
/* A handler serves one operation.  It runs only after the router has
 * matched its route, validated the path's parameters (call->params) and
 * authorized the route's data action, so it never checks access itself. */
typedef bool (*cf_vault_handler)(cf_vault_call *call);

struct cf_resource;

typedef struct cf_vault_route {
    const char *method; /* NULL = any method */
    /* Segments: literals, or {name} {version} {principal} {credential}
     * {role} {assignment}; RBAC API routes start at /providers/... */
    const char *pattern;
    /* The Azure data action the caller must hold (rbac.h). */
    const char *action;
    /* Keys or secrets: the action is checked on "/keys/{name}", or on
     * "/keys" when the pattern names no object.  NULL: on the vault, "/". */
    const struct cf_resource *resource;
    cf_vault_handler handler;
    /* The 400 message for a method no route of this path takes; NULL: the
     * router's default. */
    const char *method_error;
} cf_vault_route;

/* The table, for tests and documentation. */
const cf_vault_route *cf_vault_routes(size_t *count);

/* ---- handlers: keys.c, key_ops.c, secrets.c ---- */
CF_MUST_USE bool cf_key_create_handler(cf_vault_call *call);
CF_MUST_USE bool cf_key_import_handler(cf_vault_call *call);
CF_MUST_USE bool cf_key_update_handler(cf_vault_call *call);
CF_MUST_USE bool cf_key_rotate_handler(cf_vault_call *call);
/* encrypt, decrypt, wrapkey, unwrapkey, sign, verify: the operation is the
 * route pattern's last segment. */
CF_MUST_USE bool cf_key_op_handler(cf_vault_call *call);
CF_MUST_USE bool cf_rng_handler(cf_vault_call *call);
CF_MUST_USE bool cf_secret_set_handler(cf_vault_call *call);
CF_MUST_USE bool cf_secret_get_handler(cf_vault_call *call);
CF_MUST_USE bool cf_secret_update_handler(cf_vault_call *call);

/* ---- identity (identity.c) ---- */
CF_MUST_USE bool cf_identity_init(cf_vault *vault);
/* Handles the token-issuer endpoints; returns false if `path` is not one. */
bool cf_identity_route(cf_vault *vault, cf_http_request *req, cf_http_response *resp);
/* Verifies an access token: RS256 with the vault's token key and kid, this
 * vault's issuer (and so its tenant) and audience, inside nbf..exp, naming
 * a principal that still exists; loads that principal.  Fails with
 * CF_ERR_UNAUTHORIZED. */
CF_MUST_USE bool cf_identity_verify_token(cf_vault *vault, cf_slice token, cf_principal *caller);
/* Validates "Authorization: Bearer ..." and loads the caller. */
CF_MUST_USE bool cf_identity_authenticate(cf_vault *vault, const cf_http_request *req,
                                          cf_principal *caller);
/* Adds a fresh random credential (stored only as a salted hash) and
 * returns it once in `secret`; expires 0 = never. */
CF_MUST_USE bool cf_identity_new_credential(cf_vault *vault, const char *object_id, int64_t expires,
                                            char *secret, size_t secret_len, int64_t *id);
/* Creates a principal ("sp" or "mi") with a first credential. */
CF_MUST_USE bool cf_identity_create_principal(cf_vault *vault, const char *kind, const char *name,
                                              int64_t expires, cf_principal *out, char *secret,
                                              size_t secret_len, int64_t *credential_id);

/* GET /coffer/health: what this front end runs on (health.c). */
CF_MUST_USE bool cf_health_handler(cf_vault_call *call);
/* GET /coffer/audit: the audit log, filtered, newest first (audit_api.c). */
CF_MUST_USE bool cf_audit_read_handler(cf_vault_call *call);

/* ---- principal administration API (principals.c) ---- */
CF_MUST_USE bool cf_principal_list_handler(cf_vault_call *call);
CF_MUST_USE bool cf_principal_create_handler(cf_vault_call *call);
CF_MUST_USE bool cf_principal_show_handler(cf_vault_call *call);
CF_MUST_USE bool cf_principal_delete_handler(cf_vault_call *call);
CF_MUST_USE bool cf_principal_secret_add_handler(cf_vault_call *call);
CF_MUST_USE bool cf_principal_secret_remove_handler(cf_vault_call *call);
/* GET /coffer/principals/{id}/permissions?scope=S: the principal's
 * effective data actions on S (default "/"). */
CF_MUST_USE bool cf_principal_permissions_handler(cf_vault_call *call);
/* {"action": allowed, ...} for every data action of the API on `scope`;
 * NULL with the error raised (router.c). */
json_t *cf_vault_permissions(cf_vault *vault, const char *object_id, const char *scope);

/* ---- rotation and purge sweeps (rotation.c) ---- */
CF_MUST_USE bool cf_rotation_start(cf_vault *vault);
void cf_rotation_stop(void);
/* Rotates `name` now: a new version with the latest version's parameters. */
CF_MUST_USE bool cf_key_rotate(cf_vault *vault, const char *name, cf_object *out);

/* ---- start-up (bootstrap.c) ---- */
/* Opens (and on first start initialises) the data directory: seal, store,
 * data key, token key, the administrator principals, TLS certificates and
 * bootstrap.json.  Fills the TLS PEMs for the listener (key: secret). */
CF_MUST_USE bool cf_vault_open(cf_vault *vault, cf_buf *tls_cert, cf_buf *tls_key);
void cf_vault_close(cf_vault *vault);
/* Records the audit log's head in a shared (PostgreSQL) store: every
 * sweep, and at shutdown. */
CF_MUST_USE bool cf_vault_anchor_audit(cf_vault *vault);

/* ---- router (router.c) ---- */
void cf_vault_handle(void *ctx, cf_http_request *req, cf_http_response *resp);
cf_http_begin_result cf_vault_begin(void *ctx, cf_http_request *req, cf_http_response *resp);
bool cf_vault_begin_inline(void *ctx, const cf_http_request *req);

#endif
