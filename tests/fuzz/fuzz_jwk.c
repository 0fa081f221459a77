/*
 * libFuzzer target for JWK import: bytes -> jansson -> cf_pkey_from_jwk, both
 * as a private and as a public key.  An accepted key must also export to a
 * public JWK that imports again (the round trip the vault relies on), and
 * nothing may leak on any path.
 */
#include <jansson.h>
#include <stdlib.h>

#include "crypto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!cf_crypto_init())
        abort();
    return 0;
}

static void round_trip(const cf_pkey *key)
{
    json_t *pub = json_object();
    cf_pkey *again = NULL;
    if (!pub || !cf_pkey_to_jwk_public(key, pub) || !cf_pkey_from_jwk(pub, false, &again))
        abort();
    cf_pkey_free(again);
    json_decref(pub);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    json_t *jwk = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!jwk)
        return 0;
    for (int want_private = 0; want_private < 2; want_private++) {
        cf_pkey *key = NULL;
        if (cf_pkey_from_jwk(jwk, want_private, &key)) {
            if (cf_pkey_has_private(key) != (bool)want_private)
                abort();
            round_trip(key);
            cf_pkey_free(key);
        }
    }
    json_decref(jwk);
    return 0;
}
