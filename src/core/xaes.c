/*
 * XAES-256-GCM (xaes.h), on OpenSSL's AES-256-ECB for the key derivation
 * and a reusable AES-256-GCM context (crypto.h) re-keyed per message.
 */
#include "xaes.h"

#include <openssl/evp.h>
#include <string.h>

#include "crypto.h"
#include "secmem.h"

struct cf_xaes {
    EVP_CIPHER_CTX *ecb; /* AES-256 under the key, one block at a time */
    cf_gcm *gcm;         /* re-keyed with each message's derived key */
    uint8_t k1[16];      /* the CMAC subkey: L = AES(0^128), doubled in GF(2^128) */
    /* The nonce half the GCM context is keyed for: consecutive messages
     * from one writer share it (tde_page.h's nonces), and skip the KDF. */
    uint8_t derived_for[12];
    bool derived;
};

static bool cf_xaes_block(cf_xaes *x, const uint8_t in[16], uint8_t out[16])
{
    int n = 0;
    CF_ENSURE(EVP_EncryptUpdate(x->ecb, out, &n, in, 16) == 1 && n == 16, CF_ERR_CRYPTO,
              "AES block operation failed");
    return true;
}

bool cf_xaes_new(cf_slice key, cf_xaes **out)
{
    CF_ENSURE(key.len == CF_XAES_KEY_LEN, CF_ERR_BAD_INPUT, "an XAES-256-GCM key is 32 bytes");
    cf_xaes *x = cf_secret_alloc(sizeof *x);
    CF_ENSURE_ALLOC(x);
    EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-256-ECB", NULL);
    x->ecb = EVP_CIPHER_CTX_new();
    bool ok = aes && x->ecb && EVP_EncryptInit_ex2(x->ecb, aes, key.ptr, NULL, NULL) == 1 &&
              EVP_CIPHER_CTX_set_padding(x->ecb, 0) == 1;
    EVP_CIPHER_free(aes);
    if (!ok)
        CF_RAISE(CF_ERR_CRYPTO, "cannot set up AES-256");
    static const uint8_t zero[16];
    uint8_t l[16];
    ok = ok && cf_xaes_block(x, zero, l) && cf_gcm_new(key, &x->gcm);
    if (ok) {
        for (int i = 0; i < 15; i++)
            x->k1[i] = (uint8_t)(l[i] << 1 | l[i + 1] >> 7);
        x->k1[15] = (uint8_t)(l[15] << 1 ^ (l[0] & 0x80 ? 0x87 : 0));
    }
    cf_memzero(l, sizeof l);
    if (!ok) {
        cf_xaes_free(x);
        return false;
    }
    *out = x;
    return true;
}

void cf_xaes_free(cf_xaes *x)
{
    if (!x)
        return;
    EVP_CIPHER_CTX_free(x->ecb); /* cleanses the key schedule */
    cf_gcm_free(x->gcm);
    cf_secret_free(x, sizeof *x);
}

/* Re-keys the GCM context with the key derived from the nonce's first
 * half: AES(M1 ^ K1) || AES(M2 ^ K1), Mi = 0x00 i 'X' 0x00 || nonce[0:12]. */
static bool cf_xaes_derive(cf_xaes *x, const uint8_t nonce[CF_XAES_NONCE_LEN])
{
    if (x->derived && memcmp(x->derived_for, nonce, sizeof x->derived_for) == 0)
        return true;
    x->derived = false;
    uint8_t m[16], derived[32];
    bool ok = true;
    for (uint8_t i = 1; ok && i <= 2; i++) {
        m[0] = 0x00;
        m[1] = i;
        m[2] = 'X';
        m[3] = 0x00;
        memcpy(m + 4, nonce, 12);
        for (int b = 0; b < 16; b++)
            m[b] ^= x->k1[b];
        ok = cf_xaes_block(x, m, derived + 16 * (i - 1));
    }
    ok = ok && cf_gcm_rekey(x->gcm, cf_slice_of(derived, sizeof derived));
    if (ok) {
        memcpy(x->derived_for, nonce, sizeof x->derived_for);
        x->derived = true;
    }
    cf_memzero(m, sizeof m); /* holds the CMAC subkey, XORed with public bytes */
    cf_memzero(derived, sizeof derived);
    return ok;
}

bool cf_xaes_seal(cf_xaes *x, const uint8_t nonce[CF_XAES_NONCE_LEN], cf_slice aad, cf_slice pt,
                  uint8_t *ct, uint8_t tag[CF_XAES_TAG_LEN])
{
    return cf_xaes_derive(x, nonce) && cf_gcm_seal(x->gcm, nonce + 12, aad, pt, ct, tag);
}

bool cf_xaes_open(cf_xaes *x, const uint8_t nonce[CF_XAES_NONCE_LEN], cf_slice aad, cf_slice ct,
                  const uint8_t tag[CF_XAES_TAG_LEN], uint8_t *pt)
{
    return cf_xaes_derive(x, nonce) && cf_gcm_open(x->gcm, nonce + 12, aad, ct, tag, pt);
}
