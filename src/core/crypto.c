/*
 * Cryptography over OpenSSL 3 EVP (see crypto.h for the contract).
 *
 * Design:
 * - Ciphers, digests and HMAC-SHA-256 are fetched once by cf_crypto_init() into
 *   `cf_algs`, which is read-only afterwards; every call builds its own
 *   short-lived EVP context, so all functions are thread-safe after init.
 * - A cf_pkey *is* an EVP_PKEY (the pointer is cast at this boundary); keys
 *   are never mutated after creation, which OpenSSL allows to be shared
 *   between threads.
 * - Every OpenSSL object lives in a variable marked CF_SCOPED, so each
 *   failure path frees it.  Outputs into a cf_buf go through a "buffer
 *   transaction" that wipes and drops whatever was appended unless the
 *   function reached its end: callers never see half-written (and possibly
 *   unauthenticated) plaintext.
 * - OpenSSL keeps a per-thread error queue; after every handled failure it is
 *   cleared so stale entries cannot surface in an unrelated later call.
 * - Decryption failures are reported as CF_ERR_DECRYPT with one fixed detail
 *   whatever the cause, so the error does not act as a padding oracle.
 */
#define OPENSSL_NO_DEPRECATED
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/buffer.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto_internal.h"
#include "units.h"
#include "secmem.h"

/* ---- scope-bound cleanup for what only this file uses ---- */

#define CF_DECRYPT_FAILED "decryption failed"

static void cf_free_cipher_ctx(EVP_CIPHER_CTX **p)
{
    EVP_CIPHER_CTX_free(*p);
}
static void cf_free_mac_ctx(EVP_MAC_CTX **p)
{
    EVP_MAC_CTX_free(*p);
}
static void cf_free_ecdsa_sig(ECDSA_SIG **p)
{
    ECDSA_SIG_free(*p);
}
static void cf_free_encoder(OSSL_ENCODER_CTX **p)
{
    OSSL_ENCODER_CTX_free(*p);
}
static void cf_free_decoder(OSSL_DECODER_CTX **p)
{
    OSSL_DECODER_CTX_free(*p);
}
static void cf_free_ossl_bytes(unsigned char **p)
{
    OPENSSL_free(*p);
}

/* A secret region wiped on scope exit unless disarmed (p = NULL). */
typedef struct {
    void *p;
    size_t len;
} cf_wipe_guard;

static void cf_wipe_guard_end(cf_wipe_guard *g)
{
    cf_memzero(g->p, g->len);
}

static inline EVP_PKEY *cf_evp(const cf_pkey *key)
{
    /* OpenSSL takes non-const keys for operations that only read them. */
    return (EVP_PKEY *)key;
}

/* EVP lengths are ints. */
static bool cf_ensure_int_len(size_t len)
{
    CF_ENSURE(len <= INT_MAX, CF_ERR_TOO_LARGE, "input too large");
    return true;
}

/* ---- init ---- */

static struct {
    EVP_CIPHER *gcm[3], *cbc[3], *kw[3], *kwp[3]; /* by AES key size: 128, 192, 256 */
    EVP_MD *md[5];                                /* by cf_hash */
    EVP_MAC *hmac;
    /* HMAC with SHA-256 set, never keyed: each call duplicates it.  Setting
     * the digest by name per call made OpenSSL look it up every time. */
    EVP_MAC_CTX *hmac_sha256;
    bool ready;
} cf_algs;

static pthread_once_t cf_algs_once = PTHREAD_ONCE_INIT;

static const char *const cf_hash_names[] = {"SHA1", "SHA256", "SHA384", "SHA512", "MD5"};

static void cf_algs_fetch(void)
{
    static const char *const gcm[] = {"AES-128-GCM", "AES-192-GCM", "AES-256-GCM"};
    static const char *const cbc[] = {"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"};
    static const char *const kw[] = {"AES-128-WRAP", "AES-192-WRAP", "AES-256-WRAP"};
    static const char *const kwp[] = {"AES-128-WRAP-PAD", "AES-192-WRAP-PAD", "AES-256-WRAP-PAD"};
    bool ok = true;
    for (size_t i = 0; i < 3; i++) {
        ok &= (cf_algs.gcm[i] = EVP_CIPHER_fetch(NULL, gcm[i], NULL)) != NULL;
        ok &= (cf_algs.cbc[i] = EVP_CIPHER_fetch(NULL, cbc[i], NULL)) != NULL;
        ok &= (cf_algs.kw[i] = EVP_CIPHER_fetch(NULL, kw[i], NULL)) != NULL;
        ok &= (cf_algs.kwp[i] = EVP_CIPHER_fetch(NULL, kwp[i], NULL)) != NULL;
    }
    for (size_t i = 0; i < 5; i++)
        ok &= (cf_algs.md[i] = EVP_MD_fetch(NULL, cf_hash_names[i], NULL)) != NULL;
    ok &= (cf_algs.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL;
    ok &= (cf_algs.hmac_sha256 = cf_algs.hmac ? EVP_MAC_CTX_new(cf_algs.hmac) : NULL) != NULL;
    if (ok) {
        const OSSL_PARAM digest[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
            OSSL_PARAM_construct_end(),
        };
        ok = EVP_MAC_CTX_set_params(cf_algs.hmac_sha256, digest) == 1;
    }
    cf_algs.ready = ok;
}

bool cf_crypto_init(void)
{
    CF_ENSURE(pthread_once(&cf_algs_once, cf_algs_fetch) == 0, CF_ERR_INTERNAL, NULL);
    CF_OSSL_ENSURE(cf_algs.ready, CF_ERR_CRYPTO, "cannot load OpenSSL algorithms");
    return true;
}

static bool cf_ensure_ready(void)
{
    CF_ENSURE(cf_algs.ready, CF_ERR_INTERNAL, "crypto not initialised");
    return true;
}

bool cf_random_bytes(void *out, size_t len)
{
    /* The private DRBG: callers use these bytes for keys as well as IVs. */
    uint8_t *p = out;
    while (len > 0) {
        int n = len > INT_MAX ? INT_MAX : (int)len;
        CF_OSSL_GUARD(RAND_priv_bytes(p, n));
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* ---- digests, MAC, KDF ---- */

size_t cf_hash_len(cf_hash h)
{
    switch (h) {
    case CF_HASH_SHA1: return 20;
    case CF_HASH_SHA256: return 32;
    case CF_HASH_SHA384: return 48;
    case CF_HASH_SHA512: return 64;
    case CF_HASH_MD5: return 16;
    default: return 0;
    }
}

bool cf_hash_compute(cf_hash h, cf_slice in, uint8_t *out)
{
    CF_GUARD(cf_ensure_ready());
    CF_ENSURE((unsigned)h < 5, CF_ERR_UNSUPPORTED, "unsupported hash");
    CF_OSSL_GUARD(EVP_Digest(in.ptr, in.len, out, NULL, cf_algs.md[h], NULL));
    return true;
}

struct cf_hasher {
    EVP_MD_CTX *ctx;
    cf_hash h;
};

bool cf_hasher_new(cf_hash h, cf_hasher **out)
{
    CF_GUARD(cf_ensure_ready());
    CF_ENSURE((unsigned)h < 5, CF_ERR_UNSUPPORTED, "unsupported hash");
    cf_hasher *hs = calloc(1, sizeof *hs);
    CF_ENSURE_ALLOC(hs);
    hs->h = h;
    hs->ctx = EVP_MD_CTX_new();
    if (!hs->ctx || EVP_DigestInit_ex2(hs->ctx, cf_algs.md[h], NULL) != 1) {
        cf_hasher_free(hs);
        CF_BAIL(CF_ERR_CRYPTO, "cannot start a digest");
    }
    *out = hs;
    return true;
}

bool cf_hasher_update(cf_hasher *hs, cf_slice in)
{
    CF_OSSL_GUARD(EVP_DigestUpdate(hs->ctx, in.ptr, in.len));
    return true;
}

bool cf_hasher_final(cf_hasher *hs, uint8_t *out)
{
    CF_OSSL_GUARD(EVP_DigestFinal_ex(hs->ctx, out, NULL));
    CF_OSSL_GUARD(EVP_DigestInit_ex2(hs->ctx, cf_algs.md[hs->h], NULL));
    return true;
}

void cf_hasher_free(cf_hasher *hs)
{
    if (!hs)
        return;
    EVP_MD_CTX_free(hs->ctx);
    free(hs);
}

bool cf_hmac_sha256_parts(cf_slice key, const cf_slice *parts, size_t n_parts, uint8_t out[32])
{
    /* An empty HMAC key is valid, but OpenSSL only sets a non-NULL one. */
    static const uint8_t no_key[1];
    CF_GUARD(cf_ensure_ready());
    CF_SCOPED(cf_free_mac_ctx) EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(cf_algs.hmac_sha256);
    CF_OSSL_ENSURE(ctx, CF_ERR_NOMEM, NULL);
    CF_OSSL_GUARD(EVP_MAC_init(ctx, key.len ? key.ptr : no_key, key.len, NULL));
    for (size_t i = 0; i < n_parts; i++)
        if (parts[i].len)
            CF_OSSL_GUARD(EVP_MAC_update(ctx, parts[i].ptr, parts[i].len));
    size_t n = 0;
    CF_OSSL_GUARD(EVP_MAC_final(ctx, out, &n, 32));
    CF_ENSURE(n == 32, CF_ERR_CRYPTO, NULL);
    return true;
}

bool cf_hmac_sha256(cf_slice key, cf_slice msg, uint8_t out[32])
{
    return cf_hmac_sha256_parts(key, &msg, 1, out);
}

/* RFC 5869 over cf_hmac_sha256_parts.  OpenSSL 3.0's own HKDF looks HMAC
 * and SHA-256 up by name on every call (EVP_Q_mac), which measured 6% of a
 * 1 KiB Get Blob's CPU (two derivations per read).  An empty salt is
 * HashLen zero bytes, which HMAC's zero padding of its key makes the same
 * as an empty key. */
bool cf_hkdf_sha256(cf_slice ikm, cf_slice salt, cf_slice info, uint8_t *out, size_t out_len)
{
    CF_ENSURE(out_len > 0 && out_len <= 255 * 32, CF_ERR_BAD_INPUT, "invalid HKDF output length");
    uint8_t prk[32], t[32];
    bool ok = cf_hmac_sha256(salt, ikm, prk);
    for (size_t done = 0, i = 1; ok && done < out_len; i++) {
        const uint8_t counter = (uint8_t)i;
        const cf_slice parts[] = {cf_slice_of(t, i > 1 ? sizeof t : 0), info,
                                  cf_slice_of(&counter, 1)};
        ok = cf_hmac_sha256_parts(cf_slice_of(prk, sizeof prk), parts, 3, t);
        size_t n = out_len - done < sizeof t ? out_len - done : sizeof t;
        if (ok)
            memcpy(out + done, t, n);
        done += n;
    }
    cf_memzero(prk, sizeof prk);
    cf_memzero(t, sizeof t);
    if (!ok)
        cf_memzero(out, out_len);
    return ok;
}

/* ---- symmetric ---- */

static bool cf_aes_pick(EVP_CIPHER *const table[3], size_t key_len, const EVP_CIPHER **out)
{
    CF_GUARD(cf_ensure_ready());
    CF_ENSURE(key_len == 16 || key_len == 24 || key_len == 32, CF_ERR_BAD_INPUT,
              "AES key must be 16, 24 or 32 bytes");
    *out = table[key_len / 8 - 2];
    return true;
}

static bool cf_cipher_new(EVP_CIPHER_CTX **out)
{
    *out = EVP_CIPHER_CTX_new();
    CF_ENSURE_ALLOC(*out);
    return true;
}

/* Feeds `in` through an initialised context; len 0 is a no-op (ptr may be NULL). */
static bool cf_cipher_update(EVP_CIPHER_CTX *ctx, uint8_t *out, int *out_len, cf_slice in)
{
    *out_len = 0;
    if (in.len == 0)
        return true;
    CF_OSSL_GUARD(EVP_CipherUpdate(ctx, out, out_len, in.ptr, (int)in.len));
    return true;
}

bool cf_aes_gcm_encrypt(cf_slice key, cf_slice iv, cf_slice aad, cf_slice pt, uint8_t *ct,
                        uint8_t tag[CF_GCM_TAG_LEN])
{
    const EVP_CIPHER *cipher;
    CF_GUARD(cf_aes_pick(cf_algs.gcm, key.len, &cipher));
    CF_ENSURE(iv.len == CF_GCM_IV_LEN, CF_ERR_BAD_INPUT, "GCM IV must be 12 bytes");
    CF_GUARD(cf_ensure_int_len(aad.len));
    CF_GUARD(cf_ensure_int_len(pt.len));
    CF_SCOPED(cf_free_cipher_ctx) EVP_CIPHER_CTX *ctx = NULL;
    CF_GUARD(cf_cipher_new(&ctx));
    CF_OSSL_GUARD(EVP_EncryptInit_ex2(ctx, cipher, key.ptr, iv.ptr, NULL));
    int n;
    CF_GUARD(cf_cipher_update(ctx, NULL, &n, aad));
    CF_GUARD(cf_cipher_update(ctx, ct, &n, pt));
    uint8_t tail[EVP_MAX_BLOCK_LENGTH]; /* GCM emits nothing at the end */
    int tail_len = 0;
    CF_OSSL_GUARD(EVP_EncryptFinal_ex(ctx, tail, &tail_len));
    CF_ENSURE((size_t)n == pt.len && tail_len == 0, CF_ERR_CRYPTO, NULL);
    CF_OSSL_GUARD(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, CF_GCM_TAG_LEN, tag));
    return true;
}

bool cf_aes_gcm_decrypt(cf_slice key, cf_slice iv, cf_slice aad, cf_slice ct, cf_slice tag,
                        uint8_t *pt)
{
    const EVP_CIPHER *cipher;
    CF_GUARD(cf_aes_pick(cf_algs.gcm, key.len, &cipher));
    CF_ENSURE(iv.len == CF_GCM_IV_LEN, CF_ERR_BAD_INPUT, "GCM IV must be 12 bytes");
    CF_ENSURE(tag.len == CF_GCM_TAG_LEN, CF_ERR_BAD_INPUT, "GCM tag must be 16 bytes");
    CF_GUARD(cf_ensure_int_len(aad.len));
    CF_GUARD(cf_ensure_int_len(ct.len));
    /* Until the tag has verified, whatever reached pt is unauthenticated. */
    CF_SCOPED(cf_wipe_guard_end) cf_wipe_guard guard = {pt, ct.len};
    CF_SCOPED(cf_free_cipher_ctx) EVP_CIPHER_CTX *ctx = NULL;
    CF_GUARD(cf_cipher_new(&ctx));
    CF_OSSL_GUARD(EVP_DecryptInit_ex2(ctx, cipher, key.ptr, iv.ptr, NULL));
    int n;
    CF_GUARD(cf_cipher_update(ctx, NULL, &n, aad));
    CF_GUARD(cf_cipher_update(ctx, pt, &n, ct));
    CF_OSSL_GUARD(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CF_GCM_TAG_LEN, (void *)tag.ptr));
    uint8_t tail[EVP_MAX_BLOCK_LENGTH];
    int tail_len = 0;
    CF_OSSL_ENSURE(EVP_DecryptFinal_ex(ctx, tail, &tail_len) == 1, CF_ERR_DECRYPT,
                   CF_DECRYPT_FAILED);
    CF_ENSURE((size_t)n == ct.len && tail_len == 0, CF_ERR_CRYPTO, NULL);
    guard.p = NULL;
    return true;
}

/* ---- reusable GCM context ----
 * The EVP context is keyed once; EVP_CipherInit_ex2 with a NULL cipher and
 * key keeps the schedule and only installs the IV and the direction. */

struct cf_gcm {
    EVP_CIPHER_CTX *ctx;
};

bool cf_gcm_new(cf_slice key, cf_gcm **out)
{
    const EVP_CIPHER *cipher;
    CF_GUARD(cf_aes_pick(cf_algs.gcm, key.len, &cipher));
    CF_SCOPED(cf_free_cipher_ctx) EVP_CIPHER_CTX *ctx = NULL;
    CF_GUARD(cf_cipher_new(&ctx));
    CF_OSSL_GUARD(EVP_CipherInit_ex2(ctx, cipher, key.ptr, NULL, 1, NULL));
    cf_gcm *g = malloc(sizeof *g);
    CF_ENSURE_ALLOC(g);
    g->ctx = ctx;
    ctx = NULL;
    *out = g;
    return true;
}

bool cf_gcm_rekey(cf_gcm *g, cf_slice key)
{
    CF_ENSURE(key.len == (size_t)EVP_CIPHER_CTX_get_key_length(g->ctx), CF_ERR_BAD_INPUT,
              "AES-GCM key of the wrong length");
    CF_OSSL_GUARD(EVP_CipherInit_ex2(g->ctx, NULL, key.ptr, NULL, -1, NULL));
    return true;
}

void cf_gcm_free(cf_gcm *g)
{
    if (!g)
        return;
    EVP_CIPHER_CTX_free(g->ctx); /* cleanses the key schedule */
    free(g);
}

bool cf_gcm_begin(cf_gcm *g, const uint8_t iv[CF_GCM_IV_LEN], cf_slice aad, bool encrypt)
{
    CF_GUARD(cf_ensure_int_len(aad.len));
    CF_OSSL_GUARD(EVP_CipherInit_ex2(g->ctx, NULL, NULL, iv, encrypt ? 1 : 0, NULL));
    int n;
    return cf_cipher_update(g->ctx, NULL, &n, aad);
}

bool cf_gcm_update(cf_gcm *g, cf_slice in, uint8_t *out)
{
    CF_GUARD(cf_ensure_int_len(in.len));
    int n;
    CF_GUARD(cf_cipher_update(g->ctx, out, &n, in));
    CF_ENSURE((size_t)n == in.len, CF_ERR_CRYPTO, NULL); /* GCM is a stream: nothing held back */
    return true;
}

bool cf_gcm_seal_end(cf_gcm *g, uint8_t tag[CF_GCM_TAG_LEN])
{
    uint8_t tail[EVP_MAX_BLOCK_LENGTH]; /* GCM emits nothing at the end */
    int tail_len = 0;
    CF_OSSL_GUARD(EVP_EncryptFinal_ex(g->ctx, tail, &tail_len));
    CF_ENSURE(tail_len == 0, CF_ERR_CRYPTO, NULL);
    CF_OSSL_GUARD(EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_AEAD_GET_TAG, CF_GCM_TAG_LEN, tag));
    return true;
}

bool cf_gcm_open_end(cf_gcm *g, const uint8_t tag[CF_GCM_TAG_LEN])
{
    CF_OSSL_GUARD(EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_AEAD_SET_TAG, CF_GCM_TAG_LEN, (void *)tag));
    uint8_t tail[EVP_MAX_BLOCK_LENGTH];
    int tail_len = 0;
    CF_OSSL_ENSURE(EVP_DecryptFinal_ex(g->ctx, tail, &tail_len) == 1, CF_ERR_DECRYPT,
                   CF_DECRYPT_FAILED);
    CF_ENSURE(tail_len == 0, CF_ERR_CRYPTO, NULL);
    return true;
}

bool cf_gcm_seal(cf_gcm *g, const uint8_t iv[CF_GCM_IV_LEN], cf_slice aad, cf_slice pt, uint8_t *ct,
                 uint8_t tag[CF_GCM_TAG_LEN])
{
    return cf_gcm_begin(g, iv, aad, true) && cf_gcm_update(g, pt, ct) && cf_gcm_seal_end(g, tag);
}

bool cf_gcm_open(cf_gcm *g, const uint8_t iv[CF_GCM_IV_LEN], cf_slice aad, cf_slice ct,
                 const uint8_t tag[CF_GCM_TAG_LEN], uint8_t *pt)
{
    /* Until the tag has verified, whatever reached pt is unauthenticated. */
    CF_SCOPED(cf_wipe_guard_end) cf_wipe_guard guard = {pt, ct.len};
    CF_GUARD(cf_gcm_begin(g, iv, aad, false));
    CF_GUARD(cf_gcm_update(g, ct, pt));
    CF_GUARD(cf_gcm_open_end(g, tag));
    guard.p = NULL;
    return true;
}

/* One-shot AES-CBC or AES-KW into `out`; `bad` is the error for a rejected
 * final block (padding or integrity), `out_max` bounds what OpenSSL writes. */
static bool cf_block_cipher(const EVP_CIPHER *cipher, bool enc, int padding, cf_slice key,
                            cf_slice iv, cf_slice in, size_t out_max, cf_err bad, cf_buf *out)
{
    CF_GUARD(cf_ensure_int_len(in.len));
    CF_SCOPED(cf_free_cipher_ctx) EVP_CIPHER_CTX *ctx = NULL;
    CF_GUARD(cf_cipher_new(&ctx));
    /* Key wrap modes refuse to run unless explicitly allowed. */
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    CF_OSSL_GUARD(EVP_CipherInit_ex2(ctx, cipher, key.ptr, iv.ptr, enc ? 1 : 0, NULL));
    CF_OSSL_GUARD(EVP_CIPHER_CTX_set_padding(ctx, padding));
    CF_SCOPED(cf_buf_txn_end) cf_buf_txn txn = cf_buf_txn_begin(out);
    uint8_t *p;
    CF_GUARD(cf_buf_extend(out, out_max, &p));
    int n = 0, tail = 0;
    CF_OSSL_ENSURE(EVP_CipherUpdate(ctx, p, &n, in.ptr, (int)in.len) == 1, bad,
                   bad == CF_ERR_DECRYPT ? CF_DECRYPT_FAILED : NULL);
    CF_OSSL_ENSURE(EVP_CipherFinal_ex(ctx, p + n, &tail) == 1, bad,
                   bad == CF_ERR_DECRYPT ? CF_DECRYPT_FAILED : NULL);
    CF_ENSURE((size_t)n + (size_t)tail <= out_max, CF_ERR_CRYPTO, NULL);
    cf_buf_txn_commit(&txn, (size_t)n + (size_t)tail);
    return true;
}

bool cf_aes_cbc_encrypt(cf_slice key, cf_slice iv, bool pad, cf_slice pt, cf_buf *out)
{
    const EVP_CIPHER *cipher;
    CF_GUARD(cf_aes_pick(cf_algs.cbc, key.len, &cipher));
    CF_ENSURE(iv.len == CF_CBC_IV_LEN, CF_ERR_BAD_INPUT, "CBC IV must be 16 bytes");
    CF_ENSURE(pad || pt.len % 16 == 0, CF_ERR_BAD_INPUT,
              "input must be a multiple of 16 bytes without padding");
    CF_ENSURE(pt.len <= INT_MAX - 16, CF_ERR_TOO_LARGE, "input too large");
    return cf_block_cipher(cipher, true, pad, key, iv, pt, pt.len + 16, CF_ERR_CRYPTO, out);
}

bool cf_aes_cbc_decrypt(cf_slice key, cf_slice iv, bool pad, cf_slice ct, cf_buf *out)
{
    const EVP_CIPHER *cipher;
    CF_GUARD(cf_aes_pick(cf_algs.cbc, key.len, &cipher));
    CF_ENSURE(iv.len == CF_CBC_IV_LEN, CF_ERR_BAD_INPUT, "CBC IV must be 16 bytes");
    CF_ENSURE(ct.len % 16 == 0 && (!pad || ct.len > 0), CF_ERR_BAD_INPUT,
              "ciphertext must be a non-empty multiple of 16 bytes");
    CF_ENSURE(ct.len <= INT_MAX - 16, CF_ERR_TOO_LARGE, "input too large");
    return cf_block_cipher(cipher, false, pad, key, iv, ct, ct.len + 16, CF_ERR_DECRYPT, out);
}

#define CF_KW_MAX CF_MIB /* far above any key; keeps int arithmetic safe */

/* Key wrap one way or the other; the callers' checks on the input length
 * are the only difference between RFC 3394 and RFC 5649 here. */
static bool cf_key_wrap(EVP_CIPHER *const table[3], bool wrap, cf_slice kek, cf_slice in,
                        cf_buf *out)
{
    const EVP_CIPHER *cipher;
    CF_GUARD(cf_aes_pick(table, kek.len, &cipher));
    CF_ENSURE(in.len <= CF_KW_MAX, CF_ERR_TOO_LARGE,
              wrap ? "key to wrap too large" : "wrapped key too large");
    return cf_block_cipher(cipher, wrap, 0, kek, (cf_slice){0}, in, in.len + (wrap ? 16 : 8),
                           wrap ? CF_ERR_CRYPTO : CF_ERR_DECRYPT, out);
}

bool cf_aes_kw_wrap(cf_slice kek, cf_slice key, cf_buf *out)
{
    CF_ENSURE(key.len >= 16 && key.len % 8 == 0, CF_ERR_BAD_INPUT,
              "key to wrap must be a multiple of 8 bytes, at least 16");
    return cf_key_wrap(cf_algs.kw, true, kek, key, out);
}

bool cf_aes_kw_unwrap(cf_slice kek, cf_slice wrapped, cf_buf *out)
{
    CF_ENSURE(wrapped.len >= 24 && wrapped.len % 8 == 0, CF_ERR_BAD_INPUT,
              "wrapped key must be a multiple of 8 bytes, at least 24");
    return cf_key_wrap(cf_algs.kw, false, kek, wrapped, out);
}

bool cf_aes_kwp_wrap(cf_slice kek, cf_slice key, cf_buf *out)
{
    CF_ENSURE(key.len >= 1, CF_ERR_BAD_INPUT, "key to wrap is empty");
    return cf_key_wrap(cf_algs.kwp, true, kek, key, out);
}

bool cf_aes_kwp_unwrap(cf_slice kek, cf_slice wrapped, cf_buf *out)
{
    CF_ENSURE(wrapped.len >= 16 && wrapped.len % 8 == 0, CF_ERR_BAD_INPUT,
              "wrapped key must be a multiple of 8 bytes, at least 16");
    return cf_key_wrap(cf_algs.kwp, false, kek, wrapped, out);
}

/* ---- curves and keys ---- */

static const struct {
    const char *jwk;
    const char *group;
    size_t field_len;
} cf_curves[] = {
    [CF_CURVE_P256] = {"P-256", "prime256v1", 32},
    [CF_CURVE_P384] = {"P-384", "secp384r1", 48},
    [CF_CURVE_P521] = {"P-521", "secp521r1", 66},
    [CF_CURVE_P256K] = {"P-256K", "secp256k1", 32},
};
#define CF_N_CURVES (sizeof cf_curves / sizeof *cf_curves)

bool cf_curve_from_name(cf_slice name, cf_curve *out)
{
    for (size_t i = 0; i < CF_N_CURVES; i++) {
        if (cf_slice_eq_str(name, cf_curves[i].jwk)) {
            *out = (cf_curve)i;
            return true;
        }
    }
    CF_BAIL(CF_ERR_UNSUPPORTED, "unsupported curve");
}

const char *cf_curve_name(cf_curve c)
{
    return (unsigned)c < CF_N_CURVES ? cf_curves[c].jwk : "unknown";
}

size_t cf_curve_field_len(cf_curve c)
{
    return (unsigned)c < CF_N_CURVES ? cf_curves[c].field_len : 0;
}

const char *cf_curve_group_name(cf_curve c)
{
    return (unsigned)c < CF_N_CURVES ? cf_curves[c].group : "unknown";
}

/* The curve of an EC key, if it is one we support. */
static bool cf_evp_curve(const EVP_PKEY *pkey, cf_curve *out)
{
    char group[64];
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       NULL) == 1) {
        for (size_t i = 0; i < CF_N_CURVES; i++) {
            if (strcmp(group, cf_curves[i].group) == 0) {
                *out = (cf_curve)i;
                return true;
            }
        }
    }
    ERR_clear_error();
    CF_BAIL(CF_ERR_UNSUPPORTED, "unsupported curve");
}

static bool cf_rsa_bits_ok(unsigned bits)
{
    CF_ENSURE(bits == 2048 || bits == 3072 || bits == 4096, CF_ERR_UNSUPPORTED,
              "RSA key size must be 2048, 3072 or 4096 bits");
    return true;
}

/* Import policy shared by every way a key enters: RSA of an allowed size or
 * EC on a supported curve; anything else (DSA, RSA-PSS, X25519...) is refused. */
static bool cf_evp_supported(const EVP_PKEY *pkey)
{
    if (EVP_PKEY_is_a(pkey, "RSA"))
        return cf_rsa_bits_ok((unsigned)EVP_PKEY_get_bits(pkey));
    if (EVP_PKEY_is_a(pkey, "EC")) {
        cf_curve c;
        return cf_evp_curve(pkey, &c);
    }
    CF_BAIL(CF_ERR_UNSUPPORTED, "unsupported key type");
}

static bool cf_keygen(const char *type, const OSSL_PARAM *params, cf_pkey **out)
{
    CF_SCOPED(cf_free_pkey_ctx) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    CF_OSSL_ENSURE(ctx != NULL, CF_ERR_CRYPTO, NULL);
    CF_OSSL_GUARD(EVP_PKEY_keygen_init(ctx));
    CF_OSSL_GUARD(EVP_PKEY_CTX_set_params(ctx, params));
    EVP_PKEY *pkey = NULL;
    CF_OSSL_GUARD(EVP_PKEY_generate(ctx, &pkey));
    *out = (cf_pkey *)pkey;
    return true;
}

bool cf_pkey_generate_rsa(unsigned bits, uint32_t e, cf_pkey **out)
{
    CF_GUARD(cf_rsa_bits_ok(bits));
    CF_ENSURE(e >= 3 && (e & 1) == 1, CF_ERR_BAD_INPUT, "RSA public exponent must be odd and >= 3");
    size_t nbits = bits;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_RSA_BITS, &nbits),
        OSSL_PARAM_construct_uint32(OSSL_PKEY_PARAM_RSA_E, &e),
        OSSL_PARAM_construct_end(),
    };
    return cf_keygen("RSA", params, out);
}

bool cf_pkey_generate_ec(cf_curve curve, cf_pkey **out)
{
    CF_ENSURE((unsigned)curve < CF_N_CURVES, CF_ERR_UNSUPPORTED, "unsupported curve");
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)cf_curves[curve].group,
                                         0),
        OSSL_PARAM_construct_end(),
    };
    return cf_keygen("EC", params, out);
}

void cf_pkey_free(cf_pkey *key)
{
    EVP_PKEY_free(cf_evp(key));
}

cf_pkey *cf_pkey_ref(cf_pkey *key)
{
    return key && EVP_PKEY_up_ref(cf_evp(key)) == 1 ? key : NULL;
}

bool cf_pkey_dup(const cf_pkey *key, cf_pkey **out)
{
    EVP_PKEY *copy = EVP_PKEY_dup(cf_evp(key));
    CF_OSSL_ENSURE(copy != NULL, CF_ERR_CRYPTO, "cannot copy key");
    *out = (cf_pkey *)copy;
    return true;
}

cf_kty cf_pkey_kty(const cf_pkey *key)
{
    if (EVP_PKEY_is_a(cf_evp(key), "RSA"))
        return CF_KTY_RSA;
    if (EVP_PKEY_is_a(cf_evp(key), "EC"))
        return CF_KTY_EC;
    return CF_KTY_OCT; /* never for keys made by this module */
}

unsigned cf_pkey_bits(const cf_pkey *key)
{
    int bits = EVP_PKEY_get_bits(cf_evp(key));
    return bits > 0 ? (unsigned)bits : 0;
}

cf_curve cf_pkey_curve(const cf_pkey *key)
{
    cf_curve c = CF_CURVE_P256;
    if (!cf_evp_curve(cf_evp(key), &c))
        cf_error_clear(); /* contract: only called for EC keys */
    return c;
}

bool cf_pkey_has_private(const cf_pkey *key)
{
    const char *name =
        cf_pkey_kty(key) == CF_KTY_RSA ? OSSL_PKEY_PARAM_RSA_D : OSSL_PKEY_PARAM_PRIV_KEY;
    CF_SCOPED(cf_free_bn) BIGNUM *priv = NULL;
    bool has = EVP_PKEY_get_bn_param(cf_evp(key), name, &priv) == 1;
    ERR_clear_error();
    return has;
}

/* ---- DER / PEM ---- */

static bool cf_pkey_encode(const cf_pkey *key, int selection, const char *type,
                           const char *structure, cf_buf *out)
{
    CF_SCOPED(cf_free_encoder)
    OSSL_ENCODER_CTX *ectx =
        OSSL_ENCODER_CTX_new_for_pkey(cf_evp(key), selection, type, structure, NULL);
    CF_OSSL_ENSURE(ectx != NULL && OSSL_ENCODER_CTX_get_num_encoders(ectx) > 0, CF_ERR_CRYPTO,
                   NULL);
    /* A secure-heap memory BIO, since the encoding may be a private key. */
    CF_SCOPED(cf_free_bio) BIO *bio = BIO_new(BIO_s_secmem());
    CF_ENSURE_ALLOC(bio);
    CF_OSSL_GUARD(OSSL_ENCODER_to_bio(ectx, bio));
    BUF_MEM *mem = NULL;
    CF_OSSL_ENSURE(BIO_get_mem_ptr(bio, &mem) == 1 && mem != NULL, CF_ERR_CRYPTO, NULL);
    CF_SCOPED(cf_buf_txn_end) cf_buf_txn txn = cf_buf_txn_begin(out);
    CF_GUARD(cf_buf_append(out, mem->data, mem->length));
    cf_buf_txn_commit(&txn, mem->length);
    return true;
}

/*
 * DER import checks the type, size and curve policy but does not repeat
 * OpenSSL's consistency checks (EVP_PKEY_check): DER comes from keys this
 * module made, via the vault's own authenticated (sealed) storage, and the
 * RSA check runs primality tests, tens of milliseconds per load.  Untrusted
 * key material enters through cf_pkey_from_jwk, which does check.
 */
/* `format` "DER" or "PEM"; `structure` NULL accepts any the decoders know
 * (PKCS#8 and the traditional RSA and EC forms). */
static bool cf_pkey_decode_as(cf_slice in, const char *format, int selection, const char *structure,
                              cf_pkey **out)
{
    CF_SCOPED(cf_free_pkey) EVP_PKEY *pkey = NULL;
    CF_SCOPED(cf_free_decoder)
    OSSL_DECODER_CTX *dctx =
        OSSL_DECODER_CTX_new_for_pkey(&pkey, format, structure, NULL, selection, NULL, NULL);
    CF_OSSL_ENSURE(dctx != NULL, CF_ERR_CRYPTO, NULL);
    const unsigned char *p = in.ptr;
    size_t left = in.len;
    CF_OSSL_ENSURE(in.len > 0 && OSSL_DECODER_from_data(dctx, &p, &left) == 1 && pkey != NULL,
                   CF_ERR_BAD_INPUT, "malformed key");
    CF_ENSURE(left == 0 || strcmp(format, "PEM") == 0, CF_ERR_BAD_INPUT, "trailing data after key");
    CF_GUARD(cf_evp_supported(pkey));
    *out = (cf_pkey *)pkey;
    pkey = NULL;
    return true;
}

static bool cf_pkey_decode(cf_slice der, int selection, const char *structure, cf_pkey **out)
{
    return cf_pkey_decode_as(der, "DER", selection, structure, out);
}

static bool cf_ensure_private(const cf_pkey *key)
{
    CF_ENSURE(cf_pkey_has_private(key), CF_ERR_BAD_INPUT, "key has no private part");
    return true;
}

bool cf_pkey_private_der(const cf_pkey *key, cf_buf *out)
{
    CF_GUARD(cf_ensure_private(key));
    return cf_pkey_encode(key, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", out);
}

bool cf_pkey_from_private_der(cf_slice der, cf_pkey **out)
{
    cf_pkey *key = NULL;
    CF_GUARD(cf_pkey_decode(der, EVP_PKEY_KEYPAIR, "PrivateKeyInfo", &key));
    if (!cf_ensure_private(key)) {
        cf_pkey_free(key);
        return false;
    }
    *out = key;
    return true;
}

bool cf_pkey_from_private_pem(cf_slice pem, cf_pkey **out)
{
    cf_pkey *key = NULL;
    CF_GUARD(cf_pkey_decode_as(pem, "PEM", EVP_PKEY_KEYPAIR, NULL, &key));
    if (!cf_ensure_private(key)) {
        cf_pkey_free(key);
        return false;
    }
    *out = key;
    return true;
}

bool cf_pkey_from_public_pem(cf_slice pem, cf_pkey **out)
{
    return cf_pkey_decode_as(pem, "PEM", EVP_PKEY_PUBLIC_KEY, NULL, out);
}

bool cf_pkey_public_der(const cf_pkey *key, cf_buf *out)
{
    return cf_pkey_encode(key, EVP_PKEY_PUBLIC_KEY, "DER", "SubjectPublicKeyInfo", out);
}

bool cf_pkey_from_public_der(cf_slice der, cf_pkey **out)
{
    return cf_pkey_decode(der, EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo", out);
}

bool cf_pkey_private_pem(const cf_pkey *key, cf_buf *out)
{
    CF_GUARD(cf_ensure_private(key));
    return cf_pkey_encode(key, EVP_PKEY_KEYPAIR, "PEM", "PrivateKeyInfo", out);
}

/* ---- RSA encryption ---- */

static bool cf_rsa_params(cf_rsa_pad pad, OSSL_PARAM params[4], size_t *overhead)
{
    switch (pad) {
    case CF_RSA_PKCS1:
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE,
                                                     OSSL_PKEY_RSA_PAD_MODE_PKCSV15, 0);
        params[1] = OSSL_PARAM_construct_end();
        *overhead = 11;
        return true;
    case CF_RSA_OAEP_SHA1:
    case CF_RSA_OAEP_SHA256: {
        char *md = pad == CF_RSA_OAEP_SHA1 ? "SHA1" : "SHA256";
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE,
                                                     OSSL_PKEY_RSA_PAD_MODE_OAEP, 0);
        params[1] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, md, 0);
        params[2] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, md, 0);
        params[3] = OSSL_PARAM_construct_end();
        *overhead = 2 * (pad == CF_RSA_OAEP_SHA1 ? 20 : 32) + 2;
        return true;
    }
    default: CF_BAIL(CF_ERR_UNSUPPORTED, "unsupported RSA padding");
    }
}

static bool cf_ensure_rsa(const cf_pkey *key)
{
    CF_ENSURE(cf_pkey_kty(key) == CF_KTY_RSA, CF_ERR_BAD_INPUT,
              "key type does not match the algorithm");
    return true;
}

static bool cf_pkey_ctx(const cf_pkey *key, EVP_PKEY_CTX **out)
{
    *out = EVP_PKEY_CTX_new_from_pkey(NULL, cf_evp(key), NULL);
    CF_OSSL_ENSURE(*out != NULL, CF_ERR_CRYPTO, NULL);
    return true;
}

bool cf_rsa_encrypt(const cf_pkey *key, cf_rsa_pad pad, cf_slice pt, cf_buf *out)
{
    CF_GUARD(cf_ensure_rsa(key));
    OSSL_PARAM params[4];
    size_t overhead;
    CF_GUARD(cf_rsa_params(pad, params, &overhead));
    size_t k = (size_t)EVP_PKEY_get_size(cf_evp(key));
    CF_ENSURE(pt.len + overhead <= k, CF_ERR_BAD_INPUT, "plaintext too long for the key");
    CF_SCOPED(cf_free_pkey_ctx) EVP_PKEY_CTX *ctx = NULL;
    CF_GUARD(cf_pkey_ctx(key, &ctx));
    CF_OSSL_GUARD(EVP_PKEY_encrypt_init_ex(ctx, params));
    CF_SCOPED(cf_buf_txn_end) cf_buf_txn txn = cf_buf_txn_begin(out);
    uint8_t *p;
    CF_GUARD(cf_buf_extend(out, k, &p));
    size_t n = k;
    CF_OSSL_GUARD(EVP_PKEY_encrypt(ctx, p, &n, pt.ptr, pt.len));
    CF_ENSURE(n == k, CF_ERR_CRYPTO, NULL);
    cf_buf_txn_commit(&txn, n);
    return true;
}

/*
 * Every failure after the key checks is the same CF_ERR_DECRYPT with the same
 * detail, whether the length, the padding or OpenSSL itself objected.  On
 * OpenSSL 3.0 (Debian 12) a bad PKCS#1 v1.5 block is an error; OpenSSL >= 3.2
 * instead returns a deterministic random plaintext (implicit rejection).
 */
bool cf_rsa_decrypt(const cf_pkey *key, cf_rsa_pad pad, cf_slice ct, cf_buf *out)
{
    CF_GUARD(cf_ensure_rsa(key));
    CF_GUARD(cf_ensure_private(key));
    OSSL_PARAM params[4];
    size_t overhead;
    CF_GUARD(cf_rsa_params(pad, params, &overhead));
    size_t k = (size_t)EVP_PKEY_get_size(cf_evp(key));
    CF_ENSURE(ct.len == k, CF_ERR_DECRYPT, CF_DECRYPT_FAILED);
    CF_SCOPED(cf_free_pkey_ctx) EVP_PKEY_CTX *ctx = NULL;
    CF_GUARD(cf_pkey_ctx(key, &ctx));
    CF_OSSL_GUARD(EVP_PKEY_decrypt_init_ex(ctx, params));
    CF_SCOPED(cf_buf_txn_end) cf_buf_txn txn = cf_buf_txn_begin(out);
    uint8_t *p;
    CF_GUARD(cf_buf_extend(out, k, &p));
    size_t n = k;
    CF_OSSL_ENSURE(EVP_PKEY_decrypt(ctx, p, &n, ct.ptr, ct.len) == 1 && n <= k, CF_ERR_DECRYPT,
                   CF_DECRYPT_FAILED);
    cf_buf_txn_commit(&txn, n);
    return true;
}

/* ---- signatures ---- */

typedef enum { CF_SIG_KIND_RS, CF_SIG_KIND_PS, CF_SIG_KIND_ES } cf_sig_kind;

typedef struct {
    cf_sig_kind kind;
    cf_hash hash;
    cf_curve curve; /* ES only */
} cf_sig_spec;

static const cf_sig_spec cf_sig_specs[] = {
    [CF_SIG_RS256] = {CF_SIG_KIND_RS, CF_HASH_SHA256, 0},
    [CF_SIG_RS384] = {CF_SIG_KIND_RS, CF_HASH_SHA384, 0},
    [CF_SIG_RS512] = {CF_SIG_KIND_RS, CF_HASH_SHA512, 0},
    [CF_SIG_PS256] = {CF_SIG_KIND_PS, CF_HASH_SHA256, 0},
    [CF_SIG_PS384] = {CF_SIG_KIND_PS, CF_HASH_SHA384, 0},
    [CF_SIG_PS512] = {CF_SIG_KIND_PS, CF_HASH_SHA512, 0},
    [CF_SIG_ES256] = {CF_SIG_KIND_ES, CF_HASH_SHA256, CF_CURVE_P256},
    [CF_SIG_ES384] = {CF_SIG_KIND_ES, CF_HASH_SHA384, CF_CURVE_P384},
    [CF_SIG_ES512] = {CF_SIG_KIND_ES, CF_HASH_SHA512, CF_CURVE_P521},
    [CF_SIG_ES256K] = {CF_SIG_KIND_ES, CF_HASH_SHA256, CF_CURVE_P256K},
};
#define CF_N_SIGS (sizeof cf_sig_specs / sizeof *cf_sig_specs)

cf_hash cf_sig_hash(cf_sig_alg alg)
{
    return (unsigned)alg < CF_N_SIGS ? cf_sig_specs[alg].hash : CF_HASH_SHA256;
}

/* Checks that the key and digest fit `alg`; yields the algorithm's spec. */
static bool cf_sig_check(const cf_pkey *key, cf_sig_alg alg, cf_slice digest, cf_sig_spec *spec)
{
    CF_ENSURE((unsigned)alg < CF_N_SIGS, CF_ERR_UNSUPPORTED, "unsupported signature algorithm");
    *spec = cf_sig_specs[alg];
    if (spec->kind == CF_SIG_KIND_ES) {
        cf_curve c;
        CF_ENSURE(cf_pkey_kty(key) == CF_KTY_EC && cf_evp_curve(cf_evp(key), &c) &&
                      c == spec->curve,
                  CF_ERR_BAD_INPUT, "key type does not match the algorithm");
    } else {
        CF_GUARD(cf_ensure_rsa(key));
    }
    CF_ENSURE(digest.len == cf_hash_len(spec->hash), CF_ERR_BAD_INPUT,
              "digest length does not match the algorithm");
    return true;
}

/* RS/PS parameters: PKCS#1 v1.5 or PSS with salt length = digest length. */
static void cf_rsa_sig_params(const cf_sig_spec *spec, OSSL_PARAM params[5])
{
    char *md = (char *)cf_hash_names[spec->hash];
    bool pss = spec->kind == CF_SIG_KIND_PS;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, md, 0);
    params[1] = OSSL_PARAM_construct_utf8_string(
        OSSL_SIGNATURE_PARAM_PAD_MODE,
        pss ? OSSL_PKEY_RSA_PAD_MODE_PSS : OSSL_PKEY_RSA_PAD_MODE_PKCSV15, 0);
    if (!pss) {
        params[2] = OSSL_PARAM_construct_end();
        return;
    }
    params[2] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN,
                                                 OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST, 0);
    params[3] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, md, 0);
    params[4] = OSSL_PARAM_construct_end();
}

/* DER ECDSA-Sig-Value -> JWS r||s, each half `n` bytes. */
static bool cf_ecdsa_der_to_raw(const uint8_t *der, size_t der_len, size_t n, uint8_t *raw)
{
    const unsigned char *p = der;
    CF_SCOPED(cf_free_ecdsa_sig) ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    CF_OSSL_ENSURE(sig != NULL, CF_ERR_CRYPTO, NULL);
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    CF_OSSL_ENSURE(BN_bn2binpad(r, raw, (int)n) == (int)n &&
                       BN_bn2binpad(s, raw + n, (int)n) == (int)n,
                   CF_ERR_CRYPTO, NULL);
    return true;
}

/* JWS r||s (2n bytes) -> DER ECDSA-Sig-Value, allocated by OpenSSL. */
static bool cf_ecdsa_raw_to_der(cf_slice raw, size_t n, unsigned char **der, int *der_len)
{
    CF_SCOPED(cf_free_ecdsa_sig) ECDSA_SIG *sig = ECDSA_SIG_new();
    CF_ENSURE_ALLOC(sig);
    BIGNUM *r = BN_bin2bn(raw.ptr, (int)n, NULL);
    BIGNUM *s = BN_bin2bn(raw.ptr + n, (int)n, NULL);
    if (!r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        CF_OSSL_ENSURE(false, CF_ERR_CRYPTO, NULL);
    }
    *der = NULL;
    *der_len = i2d_ECDSA_SIG(sig, der);
    CF_OSSL_ENSURE(*der_len > 0, CF_ERR_CRYPTO, NULL);
    return true;
}

static bool cf_sign_init(const cf_pkey *key, const cf_sig_spec *spec, bool sign, EVP_PKEY_CTX **ctx)
{
    OSSL_PARAM params[5] = {OSSL_PARAM_construct_end()};
    if (spec->kind != CF_SIG_KIND_ES)
        cf_rsa_sig_params(spec, params);
    CF_GUARD(cf_pkey_ctx(key, ctx));
    if (sign)
        CF_OSSL_GUARD(EVP_PKEY_sign_init_ex(*ctx, params));
    else
        CF_OSSL_GUARD(EVP_PKEY_verify_init_ex(*ctx, params));
    return true;
}

bool cf_sign_digest(const cf_pkey *key, cf_sig_alg alg, cf_slice digest, cf_buf *sig)
{
    cf_sig_spec spec;
    CF_GUARD(cf_sig_check(key, alg, digest, &spec));
    CF_GUARD(cf_ensure_private(key));
    CF_SCOPED(cf_free_pkey_ctx) EVP_PKEY_CTX *ctx = NULL;
    CF_GUARD(cf_sign_init(key, &spec, true, &ctx));
    size_t max = (size_t)EVP_PKEY_get_size(cf_evp(key));
    CF_SCOPED(cf_buf_txn_end) cf_buf_txn txn = cf_buf_txn_begin(sig);
    if (spec.kind != CF_SIG_KIND_ES) {
        uint8_t *p;
        CF_GUARD(cf_buf_extend(sig, max, &p));
        size_t n = max;
        CF_OSSL_GUARD(EVP_PKEY_sign(ctx, p, &n, digest.ptr, digest.len));
        cf_buf_txn_commit(&txn, n);
        return true;
    }
    uint8_t der[256]; /* a P-521 ECDSA-Sig-Value is at most 139 bytes */
    size_t der_len = sizeof der;
    CF_ENSURE(max <= sizeof der, CF_ERR_INTERNAL, NULL);
    CF_OSSL_GUARD(EVP_PKEY_sign(ctx, der, &der_len, digest.ptr, digest.len));
    size_t n = cf_curve_field_len(spec.curve);
    uint8_t *p;
    CF_GUARD(cf_buf_extend(sig, 2 * n, &p));
    CF_GUARD(cf_ecdsa_der_to_raw(der, der_len, n, p));
    cf_buf_txn_commit(&txn, 2 * n);
    return true;
}

bool cf_verify_digest(const cf_pkey *key, cf_sig_alg alg, cf_slice digest, cf_slice sig,
                      bool *valid)
{
    *valid = false;
    cf_sig_spec spec;
    CF_GUARD(cf_sig_check(key, alg, digest, &spec));
    CF_SCOPED(cf_free_pkey_ctx) EVP_PKEY_CTX *ctx = NULL;
    CF_GUARD(cf_sign_init(key, &spec, false, &ctx));
    CF_SCOPED(cf_free_ossl_bytes) unsigned char *der = NULL;
    cf_slice to_check = sig;
    if (spec.kind == CF_SIG_KIND_ES) {
        size_t n = cf_curve_field_len(spec.curve);
        if (sig.len != 2 * n)
            return true; /* a wrong-length signature is simply not valid */
        int der_len;
        CF_GUARD(cf_ecdsa_raw_to_der(sig, n, &der, &der_len));
        to_check = cf_slice_of(der, (size_t)der_len);
    } else if (sig.len != (size_t)EVP_PKEY_get_size(cf_evp(key))) {
        return true;
    }
    *valid = EVP_PKEY_verify(ctx, to_check.ptr, to_check.len, digest.ptr, digest.len) == 1;
    ERR_clear_error(); /* a failed verification leaves entries behind */
    return true;
}
