/*
 * The vault's persistent store (SQLite, WAL, synchronous=FULL).
 *
 * Objects are keys and secrets: a name (case-insensitive, first spelling
 * kept) with versions.  Each version holds attributes, tags, kind-specific
 * properties (JSON) and the sealed material (an envelope the store never
 * opens).  Deleting soft-deletes the whole name; recover and purge act on
 * the whole name too, as Key Vault does.
 *
 * Every write is one transaction, committed (and fsynced) before the call
 * returns, so an acknowledged write survives a crash.  A single connection
 * guarded by a mutex serves all threads; calls are short.
 *
 * Storage interface: handlers talk to these functions only, so another
 * backend (PostgreSQL) can replace this file.
 */
#ifndef CF_VAULT_STORE_H
#define CF_VAULT_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "audit_anchor.h"
#include "buf.h"
#include "db.h"
#include "ids.h"
#include "password.h"

#define CF_NAME_MAX 127
#define CF_VERSION_LEN 32

typedef struct cf_store cf_store;

typedef struct {
    char kind[8];               /* "key" | "secret" */
    char name[CF_NAME_MAX + 1]; /* as first created */
    char version[CF_VERSION_LEN + 1];
    int64_t created, updated;
    bool enabled;
    int64_t nbf, exp;             /* 0 = not set */
    json_t *tags;                 /* owned; NULL = none */
    json_t *props;                /* owned; kind-specific, never secret */
    cf_buf sealed;                /* owned; envelope of the material */
    int64_t deleted_at, purge_at; /* 0 unless deleted */
} cf_object;

void cf_object_init(cf_object *obj);
void cf_object_free(cf_object *obj);

/* Page through names or versions: `marker` is opaque ("" starts), up to
 * `limit` results go to `each`; `next_marker` is set ("" at the end). */
typedef bool (*cf_object_cb)(void *ctx, const cf_object *obj);

/* `where`: the database file (SQLite) or a libpq connection string.  A
 * SQLite file is encrypted through the coffer VFS under a key derived from
 * `master_key` (the vault's sealed data key, 32 bytes; src/sqlite/
 * tde_store.h), converted first if an older version left it plain;
 * PostgreSQL ignores it. */
CF_MUST_USE bool cf_store_open(cf_db_backend backend, const char *where, cf_slice master_key,
                               cf_store **out);
void cf_store_close(cf_store *store);

CF_MUST_USE bool cf_store_meta_get(cf_store *store, const char *name, cf_buf *out);
CF_MUST_USE bool cf_store_meta_put(cf_store *store, const char *name, cf_slice value);

/* Adds a version.  Fails with CF_ERR_DELETED when the name is soft-deleted. */
CF_MUST_USE bool cf_store_object_insert(cf_store *store, const cf_object *obj);
/* Adds every version of a restored object; CF_ERR_CONFLICT if the name exists. */
CF_MUST_USE bool cf_store_object_restore(cf_store *store, const cf_object *versions, size_t n);
/* `version` NULL or "" = the latest.  Deleted names are CF_ERR_NOT_FOUND
 * unless `deleted` is set, in which case only deleted names are found. */
CF_MUST_USE bool cf_store_object_get(cf_store *store, const char *kind, const char *name,
                                     const char *version, bool deleted, cf_object *out);
/* Rewrites enabled/nbf/exp/tags/props/updated of one version. */
CF_MUST_USE bool cf_store_object_update(cf_store *store, const cf_object *obj);
CF_MUST_USE bool cf_store_object_list(cf_store *store, const char *kind, bool deleted,
                                      const char *marker, unsigned limit, cf_object_cb each,
                                      void *ctx, char *next_marker, size_t next_len);
CF_MUST_USE bool cf_store_object_versions(cf_store *store, const char *kind, const char *name,
                                          const char *marker, unsigned limit, cf_object_cb each,
                                          void *ctx, char *next_marker, size_t next_len);
/* Every version of a live name, oldest first (for backup). */
CF_MUST_USE bool cf_store_object_all_versions(cf_store *store, const char *kind, const char *name,
                                              cf_object_cb each, void *ctx);
CF_MUST_USE bool cf_store_object_delete(cf_store *store, const char *kind, const char *name,
                                        int64_t now, int64_t purge_at);
CF_MUST_USE bool cf_store_object_recover(cf_store *store, const char *kind, const char *name);
CF_MUST_USE bool cf_store_object_purge(cf_store *store, const char *kind, const char *name);
/* Purges every deleted object whose purge time has passed, telling
 * `each_purged` (may be NULL) about each. */
CF_MUST_USE bool cf_store_purge_expired(cf_store *store, int64_t now, unsigned *purged,
                                        void (*each_purged)(const char *kind, const char *name));

/* Whether this front end runs the sweepers now (cf_db_lead): always on
 * SQLite; on PostgreSQL the one front end holding the store's sweeper lock,
 * until its connection dies. */
CF_MUST_USE bool cf_store_lead_sweepers(cf_store *store, bool *leader);

/* Records this front end's audit head in a shared store (audit_anchor.h). */
CF_MUST_USE bool cf_store_audit_anchor(cf_store *store, const char *front_end, const char *path,
                                       cf_audit *a, int64_t now, cf_audit_anchor_state *st);

/* The distinct string values of props.`prop` across every version of
 * `kind`, live or deleted, as a JSON array (owned by the caller). */
CF_MUST_USE bool cf_store_prop_values(cf_store *store, const char *kind, const char *prop,
                                      json_t **out);

/* Per-name policy document (the key rotation policy); NULL json = none. */
CF_MUST_USE bool cf_store_policy_get(cf_store *store, const char *kind, const char *name,
                                     json_t **out);
CF_MUST_USE bool cf_store_policy_put(cf_store *store, const char *kind, const char *name,
                                     json_t *policy);
/* Calls `each(ctx, name, policy)` for every live name that has a policy. */
typedef bool (*cf_policy_cb)(void *ctx, const char *name, json_t *policy);
CF_MUST_USE bool cf_store_policy_each(cf_store *store, const char *kind, cf_policy_cb each,
                                      void *ctx);

/* Principals: service principals and managed identities. */
typedef struct {
    char object_id[CF_UUID_LEN + 1];
    char kind[8]; /* "sp" | "mi" */
    char name[128];
    char client_id[CF_UUID_LEN + 1];
    int64_t created;
} cf_principal;

CF_MUST_USE bool cf_store_principal_add(cf_store *store, const cf_principal *p);
CF_MUST_USE bool cf_store_principal_by_oid(cf_store *store, const char *object_id,
                                           cf_principal *out);
CF_MUST_USE bool cf_store_principal_by_client(cf_store *store, const char *client_id,
                                              cf_principal *out);
typedef bool (*cf_principal_cb)(void *ctx, const cf_principal *p);
CF_MUST_USE bool cf_store_principal_list(cf_store *store, cf_principal_cb each, void *ctx);
/* Removes the principal with its credentials and role assignments. */
CF_MUST_USE bool cf_store_principal_delete(cf_store *store, const char *object_id);

/* Users: people who sign in with a password (and optionally a one-time
 * code), each a principal of kind "user" whose role assignments work as
 * any principal's.  Names are unique without regard to case. */
#define CF_USER_NAME_MAX 64
typedef struct {
    char object_id[CF_UUID_LEN + 1];
    char name[CF_USER_NAME_MAX + 1];
    char password[CF_PASSWORD_HASH_MAX + 1]; /* Argon2id, PHC format */
    bool totp;                               /* a second factor is enrolled */
    int64_t totp_step;                       /* the last one-time code's step used */
    int64_t failures;                        /* failed sign-ins in a row */
    int64_t locked_until, created, password_changed;
} cf_user;

/* The principal and its user row, in one transaction; CF_ERR_CONFLICT when
 * the name is taken.  `totp_sealed` empty: no second factor. */
CF_MUST_USE bool cf_store_user_add(cf_store *store, const cf_principal *p, const cf_user *u,
                                   cf_slice totp_sealed);
/* By name (any case) or object id; `totp_sealed` (may be NULL) receives
 * the sealed one-time-code secret. */
CF_MUST_USE bool cf_store_user_get(cf_store *store, const char *name_or_oid, cf_user *out,
                                   cf_buf *totp_sealed);
typedef bool (*cf_user_cb)(void *ctx, const cf_user *u);
CF_MUST_USE bool cf_store_user_list(cf_store *store, cf_user_cb each, void *ctx);
/* A new password hash; clears failures and the lock. */
CF_MUST_USE bool cf_store_user_set_password(cf_store *store, const char *object_id,
                                            const char *hash, int64_t now);
/* One more failed sign-in: the count after it into *failures. */
CF_MUST_USE bool cf_store_user_failed(cf_store *store, const char *object_id, int64_t *failures);
CF_MUST_USE bool cf_store_user_lock(cf_store *store, const char *object_id, int64_t until);
/* A sign-in that succeeded: failures cleared, `totp_step` remembered. */
CF_MUST_USE bool cf_store_user_signed_in(cf_store *store, const char *object_id, int64_t totp_step);

/* Sign-in sessions of users (sign_in.c): the cookie and the refresh token
 * are kept as SHA-256 hashes (hex), so the store never holds either. */
#define CF_HASH_HEX_LEN 64
typedef struct {
    char sid[CF_UUID_LEN + 1]; /* the session's public id, in its tokens */
    char principal_id[CF_UUID_LEN + 1];
    int64_t created, expires;
    bool revoked;
} cf_session;

CF_MUST_USE bool cf_store_session_add(cf_store *store, const cf_session *s, const char *cookie_hash,
                                      const char *refresh_hash);
/* By one of: "sid", "cookie_hash", "refresh_hash" or
 * "previous_refresh_hash" (the one the last rotation replaced). */
CF_MUST_USE bool cf_store_session_find(cf_store *store, const char *by, const char *value,
                                       cf_session *out);
CF_MUST_USE bool cf_store_session_revoke(cf_store *store, const char *sid);
/* Replaces the session's refresh token hash `old` with `fresh`; *swapped
 * false when `old` was no longer the session's (used already).  `old`
 * NULL: replaced whatever it was (a new code exchange). */
CF_MUST_USE bool cf_store_session_rotate(cf_store *store, const char *sid, const char *old,
                                         const char *fresh, bool *swapped);

/* Authorization codes: single use, short-lived, hashed like sessions. */
typedef struct {
    char sid[CF_UUID_LEN + 1];
    char principal_id[CF_UUID_LEN + 1];
    char client_id[64];
    char redirect_uri[512];
    char challenge[129];
    char resource[256];
    int64_t expires;
} cf_auth_code;

/* Also drops expired codes and long-expired sessions. */
CF_MUST_USE bool cf_store_code_add(cf_store *store, const char *code_hash, const cf_auth_code *c,
                                   int64_t now);
/* Removes the code and returns it: a second use finds nothing. */
CF_MUST_USE bool cf_store_code_take(cf_store *store, const char *code_hash, cf_auth_code *out);

/* Credentials: salted hashes only; `expires` 0 = never.  `id` may be NULL. */
CF_MUST_USE bool cf_store_credential_add(cf_store *store, const char *object_id, cf_slice salt,
                                         cf_slice hash, int64_t expires, int64_t created,
                                         int64_t *id);
typedef struct {
    int64_t id, created, expires;
} cf_credential_info;
/* Up to `cap` credentials of a principal (metadata only). */
CF_MUST_USE bool cf_store_credential_list(cf_store *store, const char *object_id,
                                          cf_credential_info *rows, size_t cap, size_t *n);
CF_MUST_USE bool cf_store_credential_delete(cf_store *store, const char *object_id, int64_t id);
typedef bool (*cf_credential_cb)(void *ctx, cf_slice salt, cf_slice hash, int64_t expires);
CF_MUST_USE bool cf_store_credential_each(cf_store *store, const char *object_id,
                                          cf_credential_cb each, void *ctx);

/* Role assignments: a principal holds a role at a scope ("/", "/keys",
 * "/keys/{name}", "/secrets/{name}"). */
#define CF_SCOPE_MAX 160

typedef struct {
    char name[CF_UUID_LEN + 1];
    char scope[CF_SCOPE_MAX + 1];
    char role_id[CF_UUID_LEN + 1];
    char principal_id[CF_UUID_LEN + 1];
    int64_t created;
} cf_role_assignment;

/* CF_ERR_CONFLICT when the name is taken. */
CF_MUST_USE bool cf_store_assignment_put(cf_store *store, const cf_role_assignment *a);
CF_MUST_USE bool cf_store_assignment_get(cf_store *store, const char *name,
                                         cf_role_assignment *out);
CF_MUST_USE bool cf_store_assignment_delete(cf_store *store, const char *name);
/* Up to `cap` assignments, of one principal or (NULL) of all. */
CF_MUST_USE bool cf_store_assignment_list(cf_store *store, const char *principal,
                                          cf_role_assignment *rows, size_t cap, size_t *n);

#endif
