/*
 * RSA-OAEP padding on its own, for tokens that do the raw RSA operation
 * but lack OAEP with SHA-2 (SoftHSM2 2.6 offers OAEP with SHA-1 only): the
 * private-key operation stays in the token and only the padding is applied
 * or checked here.
 *
 * OpenSSL 3 has no EVP interface for padding alone, so this file uses its
 * RSA padding functions, deprecated but well tried and constant-time in
 * the check; writing a constant-time OAEP decoder by hand would be worse.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "crypto.h"
#include "secmem.h"

static const EVP_MD *cf_oaep_md(cf_hash h)
{
    return h == CF_HASH_SHA1 ? EVP_sha1() : h == CF_HASH_SHA256 ? EVP_sha256() : NULL;
}

bool cf_rsa_oaep_encode(cf_hash h, size_t k, cf_slice msg, cf_buf *em)
{
    const EVP_MD *md = cf_oaep_md(h);
    CF_ENSURE(md, CF_ERR_UNSUPPORTED, "OAEP needs SHA-1 or SHA-256");
    CF_ENSURE(k >= 128 && k <= 1024 && msg.len <= k, CF_ERR_BAD_INPUT,
              "the value is too long for this key");
    uint8_t *p;
    size_t start = em->len;
    CF_GUARD(cf_buf_extend(em, k, &p));
    if (RSA_padding_add_PKCS1_OAEP_mgf1(p, (int)k, msg.ptr, (int)msg.len, NULL, 0, md, md) != 1) {
        em->len = start;
        CF_BAIL(CF_ERR_BAD_INPUT, "the value is too long for this key");
    }
    return true;
}

bool cf_rsa_oaep_decode(cf_hash h, cf_slice em, cf_buf *msg)
{
    const EVP_MD *md = cf_oaep_md(h);
    CF_ENSURE(md, CF_ERR_UNSUPPORTED, "OAEP needs SHA-1 or SHA-256");
    CF_ENSURE(em.len >= 128 && em.len <= 1024, CF_ERR_DECRYPT, "decryption failed");
    uint8_t *p;
    size_t start = msg->len;
    CF_GUARD(cf_buf_extend(msg, em.len, &p));
    int n = RSA_padding_check_PKCS1_OAEP_mgf1(p, (int)em.len, em.ptr, (int)em.len, (int)em.len,
                                              NULL, 0, md, md);
    if (n < 0) {
        cf_memzero(p, em.len);
        msg->len = start;
        CF_BAIL(CF_ERR_DECRYPT, "decryption failed");
    }
    cf_memzero(p + n, em.len - (size_t)n);
    msg->len = start + (size_t)n;
    return true;
}
