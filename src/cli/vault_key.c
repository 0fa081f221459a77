/*
 * A vault key used through the vault's API (vault_key.h).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "encoding.h"
#include "https.h"
#include "vault_key.h"

#define CF_VAULT_KID_MAX 1024

struct cf_vault_key {
    cf_cli_client *client;
    char name[128], version[65];
    char kid[CF_VAULT_KID_MAX + 1];
    char kty[16];
    cf_pkey *public_key;
};

/* Opens the client on the configured vault and checks that `kid` names a
 * key there. */
static bool cf_vault_key_connect(cf_cli *cli, const char *kid, const char *hint, cf_vault_key *k)
{
    cf_cli_conn conn;
    memset(&conn, 0, sizeof conn);
    cf_buf_init_secret(&conn.secret, 4096);
    bool ok = cf_cli_conn_resolve(cli, &conn);
    char vault_origin[512], key_origin[512];
    if (ok) {
        cf_cli_https_origin(conn.vault_url, vault_origin, sizeof vault_origin);
        cf_cli_https_origin(kid, key_origin, sizeof key_origin);
        size_t n = strlen(vault_origin);
        /* scheme and host compare without case: the AE key paths are lowercased */
        if (strcasecmp(vault_origin, key_origin) != 0 || strncmp(kid + n, "/keys/", 6) != 0) {
            /* kid may come from someone else's data: printed escaped. */
            CF_RAISE(CF_ERR_BAD_INPUT, NULL);
            fputs("coffer: the key ", stderr);
            cf_out_str(stderr, kid);
            fputs(" is not a key of the configured vault ", stderr);
            cf_out_str(stderr, vault_origin);
            fprintf(stderr, " (give --vault, or %s)\n", hint);
            cf_cli_mark_reported();
            ok = false;
        }
    }
    if (ok) {
        snprintf(k->kid, sizeof k->kid, "%s", kid);
        cf_out_kid_parts(kid, k->name, sizeof k->name, k->version, sizeof k->version);
        ok = cf_cli_check_name(k->name) && (!k->version[0] || cf_cli_check_version(k->version));
    }
    ok = ok && cf_cli_client_open(&conn, &k->client);
    cf_cli_conn_free(&conn);
    return ok;
}

/* GET the key: its versioned id, its type, its public half. */
static bool cf_vault_key_lookup(cf_vault_key *k)
{
    char path[256];
    snprintf(path, sizeof path, "/keys/%s/%s", k->name, k->version);
    json_t *reply = NULL;
    CF_GUARD(cf_cli_call(k->client, "GET", path, NULL, &reply));
    json_t *jwk = json_object_get(reply, "key");
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    bool ok = kid && kty && strlen(kid) <= CF_VAULT_KID_MAX && strlen(kty) < sizeof k->kty;
    if (!ok)
        CF_RAISE(CF_ERR_IO, "the vault's reply has no key id or type");
    if (ok) {
        snprintf(k->kid, sizeof k->kid, "%s", kid);
        snprintf(k->kty, sizeof k->kty, "%s", kty);
        cf_out_kid_parts(kid, k->name, sizeof k->name, k->version, sizeof k->version);
        if (strncmp(kty, "oct", 3) != 0)
            ok = cf_pkey_from_jwk(jwk, false, &k->public_key);
    }
    json_decref(reply);
    return ok;
}

bool cf_vault_key_open(cf_cli *cli, const char *kid, bool lookup, const char *hint,
                       cf_vault_key **out)
{
    cf_vault_key *k = calloc(1, sizeof *k);
    CF_ENSURE_ALLOC(k);
    if (!cf_vault_key_connect(cli, kid, hint, k) || (lookup && !cf_vault_key_lookup(k))) {
        cf_vault_key_close(k);
        return false;
    }
    *out = k;
    return true;
}

void cf_vault_key_close(cf_vault_key *k)
{
    if (!k)
        return;
    cf_cli_client_close(k->client);
    cf_pkey_free(k->public_key);
    free(k);
}

const char *cf_vault_key_kid(const cf_vault_key *k)
{
    return k->kid;
}

const char *cf_vault_key_kty(const cf_vault_key *k)
{
    return k->kty;
}

const cf_pkey *cf_vault_key_public(const cf_vault_key *k)
{
    return k->public_key;
}

bool cf_vault_key_op(cf_vault_key *k, const char *op, const char *alg, cf_slice in, cf_buf *out)
{
    char path[256];
    snprintf(path, sizeof path, "/keys/%s/%s/%s", k->name, k->version, op);
    cf_buf value;
    cf_buf_init_secret(&value, 4096);
    json_t *body = NULL, *reply = NULL;
    bool ok = cf_base64url_encode(in, &value) && cf_buf_terminate(&value) &&
              (body = cf_cli_op_body(alg, &value)) != NULL;
    cf_buf_free(&value);
    ok = ok && cf_cli_call(k->client, "POST", path, body, &reply);
    json_decref(body);
    const char *v = ok ? json_string_value(json_object_get(reply, "value")) : NULL;
    if (ok && !v) {
        CF_RAISE(CF_ERR_IO, "the vault's reply has no \"value\"");
        ok = false;
    }
    ok = ok && cf_base64url_decode(CF_SLICE_STR(v), out);
    json_decref(reply);
    return ok;
}

cf_cli_client *cf_vault_key_client(cf_vault_key *k)
{
    return k->client;
}
