/*
 * XTS-AES-256 over sectors (xts.h), on OpenSSL's AES-256-XTS: one context
 * per direction keyed once, the tweak set per sector.
 */
#include "xts.h"

#include <openssl/evp.h>
#include <string.h>

#include "secmem.h"

struct cf_xts {
    EVP_CIPHER_CTX *enc, *dec;
    uint32_t sector;
};

static EVP_CIPHER_CTX *cf_xts_ctx(EVP_CIPHER *aes, cf_slice key, int encrypt)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx && EVP_CipherInit_ex2(ctx, aes, key.ptr, NULL, encrypt, NULL) == 1)
        return ctx;
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
}

bool cf_xts_new(cf_slice key, uint32_t sector_size, cf_xts **out)
{
    CF_ENSURE(key.len == CF_XTS_KEY_LEN, CF_ERR_BAD_INPUT, "an XTS-AES-256 key is 64 bytes");
    CF_ENSURE(sector_size == 512 || sector_size == 4096, CF_ERR_BAD_INPUT,
              "a sector is 512 or 4096 bytes");
    CF_ENSURE(!cf_memeq_ct(key.ptr, key.ptr + 32, 32), CF_ERR_BAD_INPUT,
              "the two halves of an XTS key must differ");
    cf_xts *x = cf_secret_alloc(sizeof *x);
    CF_ENSURE_ALLOC(x);
    x->sector = sector_size;
    EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-256-XTS", NULL);
    x->enc = aes ? cf_xts_ctx(aes, key, 1) : NULL;
    x->dec = aes ? cf_xts_ctx(aes, key, 0) : NULL;
    EVP_CIPHER_free(aes);
    if (!x->enc || !x->dec) {
        cf_xts_free(x);
        CF_BAIL(CF_ERR_CRYPTO, "cannot set up AES-256-XTS");
    }
    *out = x;
    return true;
}

void cf_xts_free(cf_xts *x)
{
    if (!x)
        return;
    EVP_CIPHER_CTX_free(x->enc); /* cleanses the key schedules */
    EVP_CIPHER_CTX_free(x->dec);
    cf_secret_free(x, sizeof *x);
}

uint32_t cf_xts_sector_size(const cf_xts *x)
{
    return x->sector;
}

static bool cf_xts_run(cf_xts *x, EVP_CIPHER_CTX *ctx, uint64_t first, uint8_t *buf, size_t len)
{
    CF_ENSURE(len % x->sector == 0, CF_ERR_BAD_INPUT, "XTS works on whole sectors");
    CF_ENSURE(len == 0 || len / x->sector - 1 <= UINT64_MAX - first, CF_ERR_BAD_INPUT,
              "sector number overflows");
    for (size_t off = 0; off < len; off += x->sector) {
        uint64_t n = first + off / x->sector;
        uint8_t tweak[16] = {0};
        for (int i = 0; i < 8; i++)
            tweak[i] = (uint8_t)(n >> (8 * i));
        int out = 0;
        CF_ENSURE(EVP_CipherInit_ex2(ctx, NULL, NULL, tweak, -1, NULL) == 1 &&
                      EVP_CipherUpdate(ctx, buf + off, &out, buf + off, (int)x->sector) == 1 &&
                      out == (int)x->sector,
                  CF_ERR_CRYPTO, "AES-256-XTS failed");
    }
    return true;
}

bool cf_xts_encrypt(cf_xts *x, uint64_t first, uint8_t *buf, size_t len)
{
    return cf_xts_run(x, x->enc, first, buf, len);
}

bool cf_xts_decrypt(cf_xts *x, uint64_t first, uint8_t *buf, size_t len)
{
    return cf_xts_run(x, x->dec, first, buf, len);
}
