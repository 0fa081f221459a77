/*
 * Users: people who sign in to the console (docs/users.md).  Coffer's own
 * API, beside the principals API and guarded the same way (only the
 * Administrator role's "*" reaches the users actions):
 *
 *   GET    /coffer/users                           list
 *   POST   /coffer/users                           create {name, password, totp}
 *   GET    /coffer/users/{object_id}               one
 *   DELETE /coffer/users/{object_id}               remove it and its role assignments
 *   POST   /coffer/users/{object_id}/password      reset {password}: also unlocks
 *
 * A user is a principal of kind "user": role assignments name its object
 * id as any principal's.  Its password is kept as an Argon2id hash; its
 * one-time-code secret sealed under the vault's data key, shown once, as
 * an otpauth:// URI, in the reply that creates it.  Sign-in
 * (cf_users_sign_in) locks a user out for a while after repeated
 * failures, doubling each time.
 */
#include "users.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "encoding.h"
#include "crypto.h"
#include "envelope.h"
#include "log.h"
#include "password.h"
#include "resource.h"
#include "secmem.h"
#include "totp.h"

/* Letters, digits and ". _ @ -", starting with a letter or digit: what
 * fits in a URI, a log line and a cookie without escaping. */
static bool cf_user_name_ok(const char *name)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t n = strlen(name);
    return n >= 1 && n <= CF_USER_NAME_MAX && strchr(alnum, name[0]) &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") == n;
}

static bool cf_totp_aad(const char *object_id, cf_buf *aad)
{
    return cf_buf_append_str(aad, "coffer-user-totp:") && cf_buf_append_str(aad, object_id);
}

/* A fresh one-time-code secret: sealed for the store, and the otpauth://
 * URI the user's authenticator app reads. */
static bool cf_totp_enroll(cf_vault *vault, const char *object_id, const char *name, cf_buf *sealed,
                           cf_buf *uri)
{
    uint8_t secret[CF_TOTP_SECRET_LEN];
    cf_buf aad, b32;
    cf_buf_init(&aad, 128);
    cf_buf_init(&b32, 64);
    bool ok = cf_random_bytes(secret, sizeof secret) && cf_totp_aad(object_id, &aad) &&
              cf_envelope_seal(cf_slice_of(vault->data_key, CF_DATA_KEY_LEN), cf_buf_slice(&aad),
                               cf_slice_of(secret, sizeof secret), sealed) &&
              cf_base32_encode(cf_slice_of(secret, sizeof secret), &b32) &&
              cf_buf_append_str(uri, "otpauth://totp/Coffer:") && cf_buf_append_str(uri, name) &&
              cf_buf_append_str(uri, "?secret=") && cf_buf_append_slice(uri, cf_buf_slice(&b32)) &&
              cf_buf_append_str(uri, "&issuer=Coffer&algorithm=SHA1&digits=6&period=30") &&
              cf_buf_terminate(uri);
    cf_memzero(secret, sizeof secret);
    cf_buf_free(&aad);
    cf_buf_free(&b32);
    return ok;
}

static json_t *cf_user_json(const cf_user *u)
{
    return json_pack("{s:s, s:s, s:b, s:I, s:I, s:I}", "object_id", u->object_id, "name", u->name,
                     "totp", u->totp, "created", (json_int_t)u->created, "password_changed",
                     (json_int_t)u->password_changed, "locked_until", (json_int_t)u->locked_until);
}

/* The body's "password", checked against the policy; not the user's name. */
static bool cf_new_password(cf_vault_call *call, const char *name,
                            char hash[CF_PASSWORD_HASH_MAX + 1])
{
    const char *password;
    CF_GUARD(cf_vault_json_string(call->body, "password", true, &password));
    cf_slice pw = CF_SLICE_STR(password);
    CF_GUARD(cf_password_acceptable(pw));
    CF_ENSURE(strcasecmp(password, name) != 0, CF_ERR_BAD_INPUT,
              "A password must not be the user's name.");
    return cf_password_hash(pw, hash);
}

bool cf_user_create_handler(cf_vault_call *call)
{
    CF_GUARD(cf_vault_require_body(call));
    const char *name;
    CF_GUARD(cf_vault_json_string(call->body, "name", true, &name));
    CF_ENSURE(cf_user_name_ok(name), CF_ERR_BAD_INPUT,
              "A user name is 1-64 letters, digits and . _ @ -, starting with a letter or digit.");
    json_t *want_totp = json_object_get(call->body, "totp");
    CF_ENSURE(!want_totp || json_is_boolean(want_totp), CF_ERR_BAD_INPUT, "totp must be a boolean");
    cf_user u = {.created = cf_vault_now(), .totp = json_is_true(want_totp)};
    u.password_changed = u.created;
    snprintf(u.name, sizeof u.name, "%s", name);
    cf_principal p = {.created = u.created};
    snprintf(p.kind, sizeof p.kind, "user");
    snprintf(p.name, sizeof p.name, "%s", name);
    CF_GUARD(cf_uuid_v4(p.object_id) && cf_uuid_v4(p.client_id));
    memcpy(u.object_id, p.object_id, sizeof u.object_id);
    CF_GUARD(cf_new_password(call, name, u.password));
    cf_buf sealed, uri;
    cf_buf_init(&sealed, 256);
    cf_buf_init(&uri, 512);
    json_t *reply = NULL;
    bool ok = (!u.totp || cf_totp_enroll(call->vault, u.object_id, name, &sealed, &uri)) &&
              cf_store_user_add(call->vault->store, &p, &u, cf_buf_slice(&sealed)) &&
              (reply = cf_user_json(&u)) != NULL &&
              (!u.totp ||
               json_object_set_new(reply, "totp_uri", json_string((const char *)uri.data)) == 0);
    cf_memzero(u.password, sizeof u.password);
    cf_buf_free(&sealed);
    cf_buf_free(&uri); /* wiped: it holds the secret */
    if (!ok) {
        json_decref(reply);
        CF_ENSURE(cf_error_code() != CF_OK, CF_ERR_NOMEM, NULL);
        return false;
    }
    cf_log(CF_LOG_INFO, call->http->request_id, "user %s (%s) created%s", u.name, u.object_id,
           u.totp ? " with a one-time-code factor" : "");
    return cf_vault_reply(call, 201, reply);
}

static bool cf_user_list_each(void *ctx, const cf_user *u)
{
    json_t *item = cf_user_json(u);
    CF_ENSURE(item && json_array_append_new(ctx, item) == 0, CF_ERR_NOMEM, NULL);
    return true;
}

bool cf_user_list_handler(cf_vault_call *call)
{
    json_t *list = json_array();
    CF_ENSURE_ALLOC(list);
    if (!cf_store_user_list(call->vault->store, cf_user_list_each, list)) {
        json_decref(list);
        return false;
    }
    json_t *reply = json_pack("{s:o}", "value", list);
    CF_ENSURE_ALLOC(reply);
    return cf_vault_reply(call, 200, reply);
}

/* The user the path names, by object id (not by name). */
static bool cf_user_of_path(cf_vault_call *call, cf_user *u)
{
    CF_GUARD(cf_store_user_get(call->vault->store, call->params.principal, u, NULL));
    CF_ENSURE(strcmp(u->object_id, call->params.principal) == 0, CF_ERR_NOT_FOUND,
              "The user does not exist.");
    return true;
}

bool cf_user_show_handler(cf_vault_call *call)
{
    cf_user u;
    CF_GUARD(cf_user_of_path(call, &u));
    json_t *reply = cf_user_json(&u);
    cf_memzero(&u, sizeof u);
    CF_ENSURE_ALLOC(reply);
    return cf_vault_reply(call, 200, reply);
}

bool cf_user_delete_handler(cf_vault_call *call)
{
    cf_user u;
    CF_GUARD(cf_user_of_path(call, &u));
    cf_memzero(&u, sizeof u);
    CF_ENSURE(strcmp(call->params.principal, call->caller.object_id) != 0, CF_ERR_CONFLICT,
              "A user cannot delete itself.");
    CF_GUARD(cf_store_principal_delete(call->vault->store, call->params.principal));
    cf_log(CF_LOG_INFO, call->http->request_id, "user %s deleted", call->params.principal);
    return cf_vault_reply(call, 204, NULL);
}

bool cf_user_password_handler(cf_vault_call *call)
{
    CF_GUARD(cf_vault_require_body(call));
    cf_user u;
    CF_GUARD(cf_user_of_path(call, &u));
    char hash[CF_PASSWORD_HASH_MAX + 1];
    bool ok = cf_new_password(call, u.name, hash) &&
              cf_store_user_set_password(call->vault->store, u.object_id, hash, cf_vault_now());
    cf_memzero(hash, sizeof hash);
    cf_memzero(u.password, sizeof u.password);
    CF_GUARD(ok);
    cf_log(CF_LOG_INFO, call->http->request_id, "user %s: password reset", u.object_id);
    return cf_vault_reply(call, 204, NULL);
}

/* ---- sign-in ---- */

/* Locked for 30 s after the fifth failure in a row, doubling with each
 * further one, up to an hour. */
static int64_t cf_lockout_seconds(int64_t failures)
{
    if (failures < CF_USER_LOCKOUT_AFTER)
        return 0;
    int64_t shift = failures - CF_USER_LOCKOUT_AFTER;
    return shift >= 7 ? CF_USER_LOCKOUT_MAX : CF_USER_LOCKOUT_FIRST << shift;
}

static bool cf_check_code(cf_vault *vault, const cf_user *u, cf_slice sealed, const char *code,
                          int64_t now, int64_t *step)
{
    cf_buf aad, secret;
    cf_buf_init(&aad, 128);
    cf_buf_init(&secret, 64);
    bool ok = cf_totp_aad(u->object_id, &aad) &&
              cf_envelope_open(cf_slice_of(vault->data_key, CF_DATA_KEY_LEN), cf_buf_slice(&aad),
                               sealed, &secret);
    cf_buf_free(&aad);
    if (!ok) {
        cf_buf_free(&secret);
        CF_BAIL(CF_ERR_INTERNAL, "a user's one-time-code secret cannot be opened");
    }
    CF_ENSURE(code && *code, CF_ERR_UNAUTHORIZED, "A one-time code is required.");
    ok = cf_totp_check(cf_buf_slice(&secret), code, now, u->totp_step, step);
    cf_buf_free(&secret);
    return ok;
}

#define CF_SIGN_IN_REFUSED "Wrong user name, password or one-time code."

/* Counts the failure (and locks the user out past the limit); the caller
 * then fails with one message, whichever factor was wrong. */
static void cf_sign_in_failed(cf_vault *vault, const cf_user *u, int64_t now)
{
    int64_t failures = 0;
    if (!cf_store_user_failed(vault->store, u->object_id, &failures) ||
        (cf_lockout_seconds(failures) > 0 &&
         !cf_store_user_lock(vault->store, u->object_id, now + cf_lockout_seconds(failures))))
        cf_log(CF_LOG_WARN, NULL, "user %s: cannot record a failed sign-in", u->object_id);
}

bool cf_users_sign_in(cf_vault *vault, const char *name, cf_slice password, const char *code,
                      cf_principal *out)
{
    int64_t now = cf_vault_now();
    cf_user u = {0};
    cf_buf sealed;
    cf_buf_init(&sealed, 256);
    bool valid_name = name && cf_user_name_ok(name);
    bool known = valid_name && cf_store_user_get(vault->store, name, &u, &sealed);
    if (valid_name && !known && cf_error_code() != CF_ERR_NOT_FOUND) {
        cf_buf_free(&sealed);
        return false; /* the store failed: say so, not "wrong password" */
    }
    /* The hash runs whatever happens, so timing tells nothing. */
    bool ok = cf_password_verify(known ? u.password : NULL, password);
    cf_memzero(u.password, sizeof u.password);
    if (known && u.locked_until > now) {
        cf_buf_free(&sealed);
        CF_RAISE_REASON(CF_ERR_FORBIDDEN, "UserLocked",
                        "The account is locked after repeated failed sign-ins; try again later "
                        "or ask an administrator to reset the password.");
        return false;
    }
    int64_t step = u.totp_step;
    if (ok && known && u.totp)
        ok = cf_check_code(vault, &u, cf_buf_slice(&sealed), code, now, &step);
    cf_buf_free(&sealed);
    if (!ok && known && cf_error_code() == CF_ERR_INTERNAL)
        return false;
    if (!ok) {
        if (known)
            cf_sign_in_failed(vault, &u, now);
        CF_BAIL(CF_ERR_UNAUTHORIZED, CF_SIGN_IN_REFUSED);
    }
    CF_GUARD(cf_store_user_signed_in(vault->store, u.object_id, step));
    return cf_store_principal_by_oid(vault->store, u.object_id, out);
}
