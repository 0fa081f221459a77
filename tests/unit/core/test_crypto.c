/*
 * Cryptography: known-answer vectors from tests/unit/vectors (FIPS 180-4,
 * RFC 4231, RFC 5869, the GCM spec, SP 800-38A, RFC 3394, RFC 7515/7520) and
 * the negative cases every primitive must reject.
 */
#include "crypto.h"
#include "encoding.h"
#include "test.h"
#include "vectors/kat.h"

#define MAXV 512

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static cf_hash hash_by_name(const char *name)
{
    if (strcmp(name, "SHA1") == 0)
        return CF_HASH_SHA1;
    if (strcmp(name, "SHA384") == 0)
        return CF_HASH_SHA384;
    if (strcmp(name, "SHA512") == 0)
        return CF_HASH_SHA512;
    return CF_HASH_SHA256;
}

static void test_hash_vectors(void)
{
    kat_file f;
    kat_rec r;
    kat_open(&f, "hash.txt");
    int n = 0;
    while (kat_next(&f, &r)) {
        uint8_t msg[MAXV], md[64], out[64];
        size_t msg_len = kat_hex(&r, "msg", msg, sizeof msg);
        size_t md_len = kat_hex(&r, "md", md, sizeof md);
        cf_hash h = hash_by_name(kat_get(&r, "alg"));
        CHECK(cf_hash_len(h) == md_len);
        CHECK(cf_hash_compute(h, cf_slice_of(msg, msg_len), out));
        CHECK_MEM(out, md, md_len);
        n++;
    }
    CHECK(n == 5);
    kat_close(&f);
}

/* MD5 (RFC 1321 A.5) one-shot and streamed in uneven pieces; the hasher is
 * reusable after final. */
static void test_md5_hasher(void)
{
    static const char msg[] =
        "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
    uint8_t want[16], out[16];
    size_t n = 0;
    cf_buf hex;
    cf_buf_init(&hex, 64);
    CHECK(cf_hash_compute(CF_HASH_MD5, CF_SLICE_STR(""), out));
    CHECK(cf_hex_encode(cf_slice_of(out, 16), &hex) && cf_buf_terminate(&hex));
    CHECK_STR((char *)hex.data, "d41d8cd98f00b204e9800998ecf8427e");
    cf_hasher *hs = NULL;
    CHECK(cf_hasher_new(CF_HASH_MD5, &hs));
    for (int round = 0; round < 2; round++) {
        for (size_t off = 0; off < sizeof msg - 1; off += n) {
            n = off % 7 + 1;
            if (n > sizeof msg - 1 - off)
                n = sizeof msg - 1 - off;
            CHECK(cf_hasher_update(hs, cf_slice_of(msg + off, n)));
        }
        CHECK(cf_hasher_final(hs, out));
        CHECK(cf_hash_compute(CF_HASH_MD5, cf_slice_of(msg, sizeof msg - 1), want));
        CHECK_MEM(out, want, 16);
        cf_buf_clear(&hex);
        CHECK(cf_hex_encode(cf_slice_of(out, 16), &hex) && cf_buf_terminate(&hex));
        CHECK_STR((char *)hex.data, "57edf4a22be3c955ac49da2e2107b67a");
    }
    cf_hasher_free(hs);
    cf_buf_free(&hex);
}

static void test_hmac_vectors(void)
{
    kat_file f;
    kat_rec r;
    kat_open(&f, "hmac_sha256.txt");
    int n = 0;
    while (kat_next(&f, &r)) {
        uint8_t key[MAXV], msg[MAXV], mac[32], out[32];
        size_t key_len = kat_hex(&r, "key", key, sizeof key);
        size_t msg_len = kat_hex(&r, "msg", msg, sizeof msg);
        kat_hex(&r, "mac", mac, sizeof mac);
        CHECK(cf_hmac_sha256(cf_slice_of(key, key_len), cf_slice_of(msg, msg_len), out));
        CHECK_MEM(out, mac, 32);
        n++;
    }
    CHECK(n == 6);
    kat_close(&f);
    /* Empty key and message are legal HMAC inputs. */
    uint8_t out[32];
    CHECK(cf_hmac_sha256((cf_slice){NULL, 0}, (cf_slice){NULL, 0}, out));
}

static void test_hkdf_vectors(void)
{
    kat_file f;
    kat_rec r;
    kat_open(&f, "hkdf_sha256.txt");
    int n = 0;
    while (kat_next(&f, &r)) {
        uint8_t ikm[MAXV], salt[MAXV], info[MAXV], okm[MAXV], out[MAXV];
        size_t ikm_len = kat_hex(&r, "ikm", ikm, sizeof ikm);
        size_t salt_len = kat_hex(&r, "salt", salt, sizeof salt);
        size_t info_len = kat_hex(&r, "info", info, sizeof info);
        size_t okm_len = kat_hex(&r, "okm", okm, sizeof okm);
        CHECK(cf_hkdf_sha256(cf_slice_of(ikm, ikm_len), cf_slice_of(salt, salt_len),
                             cf_slice_of(info, info_len), out, okm_len));
        CHECK_MEM(out, okm, okm_len);
        n++;
    }
    CHECK(n == 3);
    kat_close(&f);
    uint8_t out[32];
    CHECK(!cf_hkdf_sha256(CF_SLICE_LIT("k"), CF_SLICE_LIT(""), CF_SLICE_LIT(""), out, 0));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    static uint8_t big[255 * 32 + 1];
    CHECK(!cf_hkdf_sha256(CF_SLICE_LIT("k"), CF_SLICE_LIT(""), CF_SLICE_LIT(""), big, sizeof big));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
}

static void test_gcm_vectors(void)
{
    kat_file f;
    kat_rec r;
    kat_open(&f, "aes_gcm.txt");
    int n = 0;
    while (kat_next(&f, &r)) {
        uint8_t key[32], iv[12], aad[MAXV], pt[MAXV], ct[MAXV], tag[16], out[MAXV], otag[16];
        size_t key_len = kat_hex(&r, "key", key, sizeof key);
        kat_hex(&r, "iv", iv, sizeof iv);
        size_t aad_len = kat_hex(&r, "aad", aad, sizeof aad);
        size_t pt_len = kat_hex(&r, "pt", pt, sizeof pt);
        kat_hex(&r, "ct", ct, sizeof ct);
        kat_hex(&r, "tag", tag, sizeof tag);
        cf_slice k = cf_slice_of(key, key_len), v = cf_slice_of(iv, 12);
        cf_slice a = cf_slice_of(aad, aad_len);
        CHECK(cf_aes_gcm_encrypt(k, v, a, cf_slice_of(pt, pt_len), out, otag));
        CHECK_MEM(out, ct, pt_len);
        CHECK_MEM(otag, tag, 16);
        CHECK(cf_aes_gcm_decrypt(k, v, a, cf_slice_of(ct, pt_len), cf_slice_of(tag, 16), out));
        CHECK_MEM(out, pt, pt_len);

        /* wrong tag: fails and leaves no plaintext behind */
        tag[0] ^= 1;
        memset(out, 0xAA, sizeof out);
        CHECK(!cf_aes_gcm_decrypt(k, v, a, cf_slice_of(ct, pt_len), cf_slice_of(tag, 16), out));
        CHECK(cf_error_code() == CF_ERR_DECRYPT);
        CHECK(all_zero(out, pt_len));
        tag[0] ^= 1;
        /* wrong AAD */
        uint8_t aad2[MAXV + 1];
        memcpy(aad2, aad, aad_len);
        aad2[aad_len] = 0;
        CHECK(!cf_aes_gcm_decrypt(k, v, cf_slice_of(aad2, aad_len + 1), cf_slice_of(ct, pt_len),
                                  cf_slice_of(tag, 16), out));
        CHECK(cf_error_code() == CF_ERR_DECRYPT);
        /* truncated ciphertext */
        if (pt_len > 0) {
            CHECK(!cf_aes_gcm_decrypt(k, v, a, cf_slice_of(ct, pt_len - 1), cf_slice_of(tag, 16),
                                      out));
            CHECK(cf_error_code() == CF_ERR_DECRYPT);
        }
        /* wrong IV */
        iv[11] ^= 1;
        CHECK(!cf_aes_gcm_decrypt(k, v, a, cf_slice_of(ct, pt_len), cf_slice_of(tag, 16), out));
        CHECK(cf_error_code() == CF_ERR_DECRYPT);
        iv[11] ^= 1;
        /* short tag, bad IV length, bad key length: caller errors */
        CHECK(!cf_aes_gcm_decrypt(k, v, a, cf_slice_of(ct, pt_len), cf_slice_of(tag, 12), out));
        CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
        CHECK(!cf_aes_gcm_encrypt(k, cf_slice_of(iv, 8), a, cf_slice_of(pt, pt_len), out, otag));
        CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
        CHECK(!cf_aes_gcm_encrypt(cf_slice_of(key, 15), v, a, cf_slice_of(pt, pt_len), out, otag));
        CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
        n++;
    }
    CHECK(n == 4);
    kat_close(&f);
}

static void test_gcm_empty(void)
{
    uint8_t key[32] = {1}, iv[12] = {2}, tag[16];
    cf_slice k = cf_slice_of(key, 32), v = cf_slice_of(iv, 12), none = {NULL, 0};
    CHECK(cf_aes_gcm_encrypt(k, v, none, none, NULL, tag));
    CHECK(cf_aes_gcm_decrypt(k, v, none, none, cf_slice_of(tag, 16), NULL));
    tag[15] ^= 0x80;
    CHECK(!cf_aes_gcm_decrypt(k, v, none, none, cf_slice_of(tag, 16), NULL));
    CHECK(cf_error_code() == CF_ERR_DECRYPT);
}

static void test_cbc(void)
{
    kat_file f;
    kat_rec r;
    kat_open(&f, "aes_cbc.txt");
    CHECK(kat_next(&f, &r));
    uint8_t key[16], iv[16], pt[64], ct[64];
    kat_hex(&r, "key", key, sizeof key);
    kat_hex(&r, "iv", iv, sizeof iv);
    size_t pt_len = kat_hex(&r, "pt", pt, sizeof pt);
    kat_hex(&r, "ct", ct, sizeof ct);
    kat_close(&f);
    cf_slice k = cf_slice_of(key, 16), v = cf_slice_of(iv, 16);
    cf_buf out;
    cf_buf_init_secret(&out, 1024);
    CHECK(cf_aes_cbc_encrypt(k, v, false, cf_slice_of(pt, pt_len), &out));
    CHECK(out.len == pt_len && memcmp(out.data, ct, pt_len) == 0);
    cf_buf_clear(&out);
    CHECK(cf_aes_cbc_decrypt(k, v, false, cf_slice_of(ct, pt_len), &out));
    CHECK(out.len == pt_len && memcmp(out.data, pt, pt_len) == 0);
    cf_buf_clear(&out);

    /* PKCS#7: a full block of padding is added to aligned input */
    CHECK(cf_aes_cbc_encrypt(k, v, true, cf_slice_of(pt, 16), &out));
    CHECK(out.len == 32 && memcmp(out.data, ct, 16) == 0);
    uint8_t padded[32];
    memcpy(padded, out.data, 32);
    cf_buf_clear(&out);
    CHECK(cf_aes_cbc_decrypt(k, v, true, cf_slice_of(padded, 32), &out));
    CHECK(out.len == 16 && memcmp(out.data, pt, 16) == 0);
    cf_buf_clear(&out);
    CHECK(cf_aes_cbc_encrypt(k, v, true, CF_SLICE_LIT("hello"), &out));
    CHECK(out.len == 16);
    cf_buf_clear(&out);

    /* wrong padding: the SP 800-38A block decrypts to bytes that are no valid
     * PKCS#7 padding; nothing is appended */
    CHECK(cf_buf_append(&out, "x", 1));
    CHECK(!cf_aes_cbc_decrypt(k, v, true, cf_slice_of(ct, 16), &out));
    CHECK(cf_error_code() == CF_ERR_DECRYPT);
    CHECK(out.len == 1);
    cf_buf_clear(&out);
    /* lengths */
    CHECK(!cf_aes_cbc_encrypt(k, v, false, cf_slice_of(pt, 15), &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_aes_cbc_decrypt(k, v, true, cf_slice_of(ct, 17), &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_aes_cbc_decrypt(k, v, true, (cf_slice){NULL, 0}, &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_aes_cbc_decrypt(k, cf_slice_of(iv, 12), false, cf_slice_of(ct, 16), &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    /* output cap */
    cf_buf small;
    cf_buf_init(&small, 16);
    CHECK(!cf_aes_cbc_encrypt(k, v, false, cf_slice_of(pt, 64), &small));
    CHECK(cf_error_code() == CF_ERR_TOO_LARGE);
    CHECK(small.len == 0);
    cf_buf_free(&small);
    cf_buf_free(&out);
}

static void test_kw_vectors(void)
{
    kat_file f;
    kat_rec r;
    kat_open(&f, "aes_kw.txt");
    int n = 0;
    cf_buf out;
    cf_buf_init_secret(&out, 1024);
    while (kat_next(&f, &r)) {
        uint8_t kek[32], key[64], wrapped[72];
        size_t kek_len = kat_hex(&r, "kek", kek, sizeof kek);
        size_t key_len = kat_hex(&r, "key", key, sizeof key);
        size_t w_len = kat_hex(&r, "wrapped", wrapped, sizeof wrapped);
        cf_slice k = cf_slice_of(kek, kek_len);
        cf_buf_clear(&out);
        CHECK(cf_aes_kw_wrap(k, cf_slice_of(key, key_len), &out));
        CHECK(out.len == w_len && memcmp(out.data, wrapped, w_len) == 0);
        cf_buf_clear(&out);
        CHECK(cf_aes_kw_unwrap(k, cf_slice_of(wrapped, w_len), &out));
        CHECK(out.len == key_len && memcmp(out.data, key, key_len) == 0);
        cf_buf_clear(&out);
        /* tampered */
        wrapped[w_len - 1] ^= 1;
        CHECK(!cf_aes_kw_unwrap(k, cf_slice_of(wrapped, w_len), &out));
        CHECK(cf_error_code() == CF_ERR_DECRYPT);
        CHECK(out.len == 0);
        wrapped[w_len - 1] ^= 1;
        /* wrong KEK */
        kek[0] ^= 1;
        CHECK(!cf_aes_kw_unwrap(k, cf_slice_of(wrapped, w_len), &out));
        CHECK(cf_error_code() == CF_ERR_DECRYPT);
        kek[0] ^= 1;
        /* truncated */
        CHECK(!cf_aes_kw_unwrap(k, cf_slice_of(wrapped, w_len - 8), &out));
        CHECK(cf_error_code() == CF_ERR_DECRYPT || w_len - 8 < 24);
        n++;
    }
    CHECK(n == 6);
    kat_close(&f);
    uint8_t kek[16] = {0}, key[24] = {0};
    CHECK(!cf_aes_kw_wrap(cf_slice_of(kek, 16), cf_slice_of(key, 12), &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_aes_kw_wrap(cf_slice_of(kek, 16), cf_slice_of(key, 8), &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_aes_kw_unwrap(cf_slice_of(kek, 16), cf_slice_of(key, 16), &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_aes_kw_unwrap(cf_slice_of(kek, 16), cf_slice_of(key, 23), &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_aes_kw_wrap(cf_slice_of(kek, 10), cf_slice_of(key, 16), &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    static uint8_t huge[(1u << 20) + 8];
    CHECK(!cf_aes_kw_wrap(cf_slice_of(kek, 16), cf_slice_of(huge, sizeof huge), &out));
    CHECK(cf_error_code() == CF_ERR_TOO_LARGE);
    cf_buf_free(&out);
}

static void test_kwp_vectors(void)
{
    kat_file f;
    kat_rec r;
    kat_open(&f, "aes_kwp.txt");
    int n = 0;
    cf_buf out;
    cf_buf_init_secret(&out, 1024);
    while (kat_next(&f, &r)) {
        uint8_t kek[32], key[64], wrapped[80];
        size_t kek_len = kat_hex(&r, "kek", kek, sizeof kek);
        size_t key_len = kat_hex(&r, "key", key, sizeof key);
        size_t w_len = kat_hex(&r, "wrapped", wrapped, sizeof wrapped);
        cf_slice k = cf_slice_of(kek, kek_len);
        cf_buf_clear(&out);
        CHECK(cf_aes_kwp_wrap(k, cf_slice_of(key, key_len), &out));
        CHECK(out.len == w_len && memcmp(out.data, wrapped, w_len) == 0);
        cf_buf_clear(&out);
        CHECK(cf_aes_kwp_unwrap(k, cf_slice_of(wrapped, w_len), &out));
        CHECK(out.len == key_len && memcmp(out.data, key, key_len) == 0);
        for (size_t i = 0; i < w_len; i++) { /* every flip is detected */
            wrapped[i] ^= 0x20;
            cf_buf_clear(&out);
            CHECK(!cf_aes_kwp_unwrap(k, cf_slice_of(wrapped, w_len), &out));
            CHECK(cf_error_code() == CF_ERR_DECRYPT && out.len == 0);
            wrapped[i] ^= 0x20;
        }
        CHECK(!cf_aes_kwp_unwrap(k, cf_slice_of(wrapped, w_len - 8), &out));
        n++;
    }
    CHECK(n == 2);
    kat_close(&f);
    uint8_t kek[32] = {0}, odd[12] = {0};
    CHECK(!cf_aes_kwp_wrap(cf_slice_of(kek, 32), cf_slice_of(odd, 0), &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_aes_kwp_unwrap(cf_slice_of(kek, 32), cf_slice_of(odd, 12), &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    cf_buf_free(&out);
}

/* OAEP padding alone, as used around raw RSA in a token: the decoder takes
 * what the encoder made and refuses any change (the cross-check against
 * OpenSSL's own OAEP through a token's raw RSA is in test_p11.c). */
static void test_oaep_padding(void)
{
    for (int h = 0; h < 2; h++) {
        cf_hash hash = h ? CF_HASH_SHA256 : CF_HASH_SHA1;
        size_t hlen = h ? 32 : 20;
        cf_buf em, msg;
        cf_buf_init(&em, 512);
        cf_buf_init_secret(&msg, 512);
        CHECK(cf_rsa_oaep_encode(hash, 256, CF_SLICE_LIT("thirty-two bytes of key material"), &em));
        CHECK(em.len == 256 && em.data[0] == 0);
        CHECK(cf_rsa_oaep_decode(hash, cf_buf_slice(&em), &msg));
        CHECK(msg.len == 32 && memcmp(msg.data, "thirty-two bytes of key material", 32) == 0);
        for (size_t i = 0; i < em.len; i += 17) {
            em.data[i] ^= 1;
            cf_buf_clear(&msg);
            CHECK(!cf_rsa_oaep_decode(hash, cf_buf_slice(&em), &msg));
            CHECK(cf_error_code() == CF_ERR_DECRYPT && msg.len == 0);
            em.data[i] ^= 1;
        }
        CHECK(!cf_rsa_oaep_decode(h ? CF_HASH_SHA1 : CF_HASH_SHA256, cf_buf_slice(&em), &msg));
        uint8_t big[256] = {0};
        cf_buf_clear(&em);
        CHECK(!cf_rsa_oaep_encode(hash, 256, cf_slice_of(big, 256 - 2 * hlen - 1), &em));
        CHECK(cf_rsa_oaep_encode(hash, 256, cf_slice_of(big, 256 - 2 * hlen - 2), &em));
        cf_buf_free(&em);
        cf_buf_free(&msg);
    }
    cf_buf em;
    cf_buf_init(&em, 512);
    CHECK(!cf_rsa_oaep_encode(CF_HASH_SHA384, 256, CF_SLICE_LIT("x"), &em));
    CHECK(cf_error_code() == CF_ERR_UNSUPPORTED);
    cf_buf_free(&em);
}

static void test_ec_points(void)
{
    static const cf_curve curves[] = {CF_CURVE_P256, CF_CURVE_P384, CF_CURVE_P521, CF_CURVE_P256K};
    for (size_t i = 0; i < 4; i++) {
        size_t n = cf_curve_field_len(curves[i]);
        cf_buf g, even, odd;
        cf_buf_init(&g, 200);
        cf_buf_init(&even, 200);
        cf_buf_init(&odd, 200);
        CHECK(cf_curve_base_point(curves[i], &g));
        CHECK(g.len == 1 + 2 * n && g.data[0] == 0x04);
        /* G from its x and either parity: one of them is G. */
        cf_slice x = cf_slice_of(g.data + 1, n);
        CHECK(cf_ec_point_decompress(curves[i], x, false, &even));
        CHECK(cf_ec_point_decompress(curves[i], x, true, &odd));
        bool g_odd = g.data[g.len - 1] & 1;
        cf_buf *same = g_odd ? &odd : &even, *other = g_odd ? &even : &odd;
        CHECK(same->len == g.len && memcmp(same->data, g.data, g.len) == 0);
        CHECK(other->len == g.len && memcmp(other->data, g.data, g.len) != 0);
        cf_pkey *pk = NULL;
        CHECK(cf_pkey_from_ec_point(curves[i], cf_buf_slice(&g), &pk));
        CHECK(pk && cf_pkey_curve(pk) == curves[i]);
        cf_pkey_free(pk);
        g.data[5] ^= 1; /* off the curve */
        CHECK(!cf_pkey_from_ec_point(curves[i], cf_buf_slice(&g), &pk));
        CHECK(!cf_ec_point_decompress(curves[i], cf_slice_of(g.data, n - 1), false, &even));
        cf_buf_free(&g);
        cf_buf_free(&even);
        cf_buf_free(&odd);
    }
}

static void test_random_and_curves(void)
{
    uint8_t a[32] = {0}, b[32] = {0};
    CHECK(cf_random_bytes(a, sizeof a));
    CHECK(cf_random_bytes(b, sizeof b));
    CHECK(memcmp(a, b, 32) != 0);
    CHECK(cf_random_bytes(NULL, 0));

    const char *names[] = {"P-256", "P-384", "P-521", "P-256K"};
    size_t sizes[] = {32, 48, 66, 32};
    for (int i = 0; i < 4; i++) {
        cf_curve c;
        CHECK(cf_curve_from_name(CF_SLICE_STR(names[i]), &c));
        CHECK((int)c == i);
        CHECK_STR(cf_curve_name(c), names[i]);
        CHECK(cf_curve_field_len(c) == sizes[i]);
    }
    cf_curve c;
    CHECK(!cf_curve_from_name(CF_SLICE_LIT("P-224"), &c));
    CHECK(cf_error_code() == CF_ERR_UNSUPPORTED);
    CHECK(!cf_curve_from_name(CF_SLICE_LIT("p-256"), &c));
    CHECK(cf_sig_hash(CF_SIG_ES256K) == CF_HASH_SHA256);
    CHECK(cf_sig_hash(CF_SIG_PS384) == CF_HASH_SHA384);
    CHECK(cf_sig_hash(CF_SIG_ES512) == CF_HASH_SHA512);
}

static void test_keygen_rejects(void)
{
    cf_pkey *k = NULL;
    CHECK(!cf_pkey_generate_rsa(1024, 65537, &k));
    CHECK(cf_error_code() == CF_ERR_UNSUPPORTED);
    CHECK(!cf_pkey_generate_rsa(2047, 65537, &k));
    CHECK(cf_error_code() == CF_ERR_UNSUPPORTED);
    CHECK(!cf_pkey_generate_rsa(2048, 65536, &k));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_pkey_generate_rsa(2048, 1, &k));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_pkey_generate_ec((cf_curve)9, &k));
    CHECK(cf_error_code() == CF_ERR_UNSUPPORTED);
    CHECK(k == NULL);
}

/* RSA encryption round trips and the uniform failure on every decrypt error. */
static void test_rsa_encrypt(cf_pkey *rsa, cf_pkey *ec)
{
    cf_rsa_pad pads[] = {CF_RSA_PKCS1, CF_RSA_OAEP_SHA1, CF_RSA_OAEP_SHA256};
    cf_buf ct, pt;
    cf_buf_init(&ct, 1024);
    cf_buf_init_secret(&pt, 1024);
    for (int i = 0; i < 3; i++) {
        cf_buf_clear(&ct);
        cf_buf_clear(&pt);
        CHECK(cf_rsa_encrypt(rsa, pads[i], CF_SLICE_LIT("a content key, 32 bytes long!!!"), &ct));
        CHECK(ct.len == 256);
        CHECK(cf_rsa_decrypt(rsa, pads[i], cf_buf_slice(&ct), &pt));
        CHECK(pt.len == 31 && memcmp(pt.data, "a content key, 32 bytes long!!!", 31) == 0);
        cf_buf_clear(&pt);
        /* wrong padding mode */
        bool ok = cf_rsa_decrypt(rsa, pads[(i + 1) % 3], cf_buf_slice(&ct), &pt);
        CHECK(!ok || pads[(i + 1) % 3] == CF_RSA_PKCS1); /* implicit rejection, OpenSSL >= 3.2 */
        if (!ok) {
            CHECK(cf_error_code() == CF_ERR_DECRYPT);
            CHECK_STR(cf_error_detail(), "decryption failed");
            CHECK(pt.len == 0);
        }
        cf_buf_clear(&pt);
        /* tampered and truncated */
        ct.data[100] ^= 1;
        ok = cf_rsa_decrypt(rsa, pads[i], cf_buf_slice(&ct), &pt);
        CHECK(!ok || pads[i] == CF_RSA_PKCS1);
        if (!ok)
            CHECK(cf_error_code() == CF_ERR_DECRYPT && pt.len == 0);
        cf_buf_clear(&pt);
        CHECK(!cf_rsa_decrypt(rsa, pads[i], cf_slice_of(ct.data, ct.len - 1), &pt));
        CHECK(cf_error_code() == CF_ERR_DECRYPT);
        CHECK_STR(cf_error_detail(), "decryption failed");
    }
    /* oversize plaintext, wrong key type, bad padding id */
    static uint8_t big[256];
    CHECK(!cf_rsa_encrypt(rsa, CF_RSA_PKCS1, cf_slice_of(big, 246), &ct));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_rsa_encrypt(rsa, CF_RSA_OAEP_SHA256, cf_slice_of(big, 191), &ct));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    cf_buf_clear(&ct);
    CHECK(cf_rsa_encrypt(rsa, CF_RSA_OAEP_SHA256, cf_slice_of(big, 190), &ct));
    CHECK(!cf_rsa_encrypt(ec, CF_RSA_OAEP_SHA256, CF_SLICE_LIT("x"), &ct));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_rsa_decrypt(ec, CF_RSA_OAEP_SHA256, cf_slice_of(big, 256), &pt));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_rsa_encrypt(rsa, (cf_rsa_pad)7, CF_SLICE_LIT("x"), &ct));
    CHECK(cf_error_code() == CF_ERR_UNSUPPORTED);
    cf_buf_free(&ct);
    cf_buf_free(&pt);
}

static void test_rsa_decrypt_vectors(void)
{
    kat_file f;
    kat_rec r;
    kat_open(&f, "rsa_decrypt.txt");
    cf_buf out;
    cf_buf_init_secret(&out, 1024);
    int n = 0;
    while (kat_next(&f, &r)) {
        cf_pkey *key = kat_jwk_key(kat_get(&r, "jwk"), true);
        CHECK(key != NULL);
        if (!key)
            continue;
        const char *pad = kat_get(&r, "pad");
        cf_rsa_pad p = strcmp(pad, "RSA1_5") == 0     ? CF_RSA_PKCS1
                       : strcmp(pad, "RSA-OAEP") == 0 ? CF_RSA_OAEP_SHA1
                                                      : CF_RSA_OAEP_SHA256;
        uint8_t pt[64], ct[512];
        size_t pt_len = kat_hex(&r, "pt", pt, sizeof pt);
        size_t ct_len = kat_hex(&r, "ct", ct, sizeof ct);
        cf_buf_clear(&out);
        CHECK(cf_rsa_decrypt(key, p, cf_slice_of(ct, ct_len), &out));
        CHECK(out.len == pt_len && memcmp(out.data, pt, pt_len) == 0);
        cf_pkey_free(key);
        n++;
    }
    CHECK(n == 3);
    cf_buf_free(&out);
    kat_close(&f);
}

static cf_sig_alg sig_by_name(const char *name)
{
    static const char *names[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                  "PS512", "ES256", "ES384", "ES512", "ES256K"};
    for (int i = 0; i < 10; i++)
        if (strcmp(names[i], name) == 0)
            return (cf_sig_alg)i;
    abort();
}

/* Signatures from RFC 7515/7520 (and pyca-made ones) verify; altered ones do not. */
static void test_sig_vectors(void)
{
    kat_file f;
    kat_rec r;
    kat_open(&f, "signatures.txt");
    int n = 0;
    while (kat_next(&f, &r)) {
        cf_pkey *key = kat_jwk_key(kat_get(&r, "jwk"), false);
        CHECK(key != NULL);
        if (!key)
            continue;
        cf_sig_alg alg = sig_by_name(kat_get(&r, "alg"));
        uint8_t digest[64];
        const char *input = kat_get(&r, "input");
        CHECK(cf_hash_compute(cf_sig_hash(alg), CF_SLICE_STR(input), digest));
        cf_slice dg = cf_slice_of(digest, cf_hash_len(cf_sig_hash(alg)));
        cf_buf sig;
        cf_buf_init(&sig, 1024);
        CHECK(cf_base64url_decode(CF_SLICE_STR(kat_get(&r, "sig")), &sig));
        bool valid = false;
        CHECK(cf_verify_digest(key, alg, dg, cf_buf_slice(&sig), &valid));
        CHECK(valid);
        sig.data[sig.len / 2] ^= 0x10;
        CHECK(cf_verify_digest(key, alg, dg, cf_buf_slice(&sig), &valid));
        CHECK(!valid);
        sig.data[sig.len / 2] ^= 0x10;
        digest[0] ^= 1;
        CHECK(cf_verify_digest(key, alg, dg, cf_buf_slice(&sig), &valid));
        CHECK(!valid);
        cf_buf_free(&sig);
        cf_pkey_free(key);
        n++;
    }
    CHECK(n == 6);
    kat_close(&f);

    /* RS256 is deterministic: signing reproduces RFC 7520 4.1 exactly. */
    kat_open(&f, "signatures.txt");
    CHECK(kat_next(&f, &r));
    CHECK_STR(kat_get(&r, "alg"), "RS256");
    cf_pkey *key = kat_jwk_key(kat_get(&r, "jwk"), true);
    CHECK(key != NULL);
    if (key) {
        uint8_t digest[32];
        CHECK(cf_hash_compute(CF_HASH_SHA256, CF_SLICE_STR(kat_get(&r, "input")), digest));
        cf_buf sig, b64;
        cf_buf_init(&sig, 1024);
        cf_buf_init(&b64, 1024);
        CHECK(cf_sign_digest(key, CF_SIG_RS256, cf_slice_of(digest, 32), &sig));
        CHECK(cf_base64url_encode(cf_buf_slice(&sig), &b64));
        CHECK(cf_buf_terminate(&b64) && strcmp((char *)b64.data, kat_get(&r, "sig")) == 0);
        cf_buf_free(&sig);
        cf_buf_free(&b64);
        cf_pkey_free(key);
    }
    kat_close(&f);
}

/* Sign/verify round trip for one algorithm, with the malformed-input cases. */
static void check_sign_alg(cf_pkey *key, cf_sig_alg alg, size_t sig_len)
{
    uint8_t digest[64];
    size_t dlen = cf_hash_len(cf_sig_hash(alg));
    CHECK(cf_hash_compute(cf_sig_hash(alg), CF_SLICE_LIT("message"), digest));
    cf_buf sig;
    cf_buf_init(&sig, 1024);
    CHECK(cf_sign_digest(key, alg, cf_slice_of(digest, dlen), &sig));
    CHECK(sig.len == sig_len);
    bool valid = false;
    CHECK(cf_verify_digest(key, alg, cf_slice_of(digest, dlen), cf_buf_slice(&sig), &valid));
    CHECK(valid);
    /* bad signature, wrong-length signature: not valid, not an error */
    sig.data[sig.len - 1] ^= 1;
    CHECK(cf_verify_digest(key, alg, cf_slice_of(digest, dlen), cf_buf_slice(&sig), &valid));
    CHECK(!valid);
    CHECK(cf_verify_digest(key, alg, cf_slice_of(digest, dlen), cf_slice_of(sig.data, sig.len - 1),
                           &valid));
    CHECK(!valid);
    CHECK(cf_verify_digest(key, alg, cf_slice_of(digest, dlen), (cf_slice){NULL, 0}, &valid));
    CHECK(!valid);
    static uint8_t zeros[1024];
    CHECK(
        cf_verify_digest(key, alg, cf_slice_of(digest, dlen), cf_slice_of(zeros, sig_len), &valid));
    CHECK(!valid);
    /* wrong digest length */
    cf_buf_clear(&sig);
    CHECK(!cf_sign_digest(key, alg, cf_slice_of(digest, dlen - 1), &sig));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(sig.len == 0);
    CHECK(
        !cf_verify_digest(key, alg, cf_slice_of(digest, 20), cf_slice_of(zeros, sig_len), &valid));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    /* output cap */
    cf_buf small;
    cf_buf_init(&small, 8);
    CHECK(!cf_sign_digest(key, alg, cf_slice_of(digest, dlen), &small));
    CHECK(cf_error_code() == CF_ERR_TOO_LARGE);
    cf_buf_free(&small);
    cf_buf_free(&sig);
}

static void test_sign(cf_pkey *rsa, cf_pkey *ec[4])
{
    for (cf_sig_alg a = CF_SIG_RS256; a <= CF_SIG_PS512; a++)
        check_sign_alg(rsa, a, 256);
    check_sign_alg(ec[CF_CURVE_P256], CF_SIG_ES256, 64);
    check_sign_alg(ec[CF_CURVE_P384], CF_SIG_ES384, 96);
    check_sign_alg(ec[CF_CURVE_P521], CF_SIG_ES512, 132);
    check_sign_alg(ec[CF_CURVE_P256K], CF_SIG_ES256K, 64);

    /* mismatched key and algorithm */
    uint8_t digest[64] = {0};
    cf_buf sig;
    cf_buf_init(&sig, 1024);
    bool valid = true;
    CHECK(!cf_sign_digest(ec[CF_CURVE_P256], CF_SIG_ES384, cf_slice_of(digest, 48), &sig));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_sign_digest(ec[CF_CURVE_P256K], CF_SIG_ES256, cf_slice_of(digest, 32), &sig));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_sign_digest(ec[CF_CURVE_P256], CF_SIG_ES256K, cf_slice_of(digest, 32), &sig));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_sign_digest(rsa, CF_SIG_ES256, cf_slice_of(digest, 32), &sig));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_sign_digest(ec[CF_CURVE_P256], CF_SIG_RS256, cf_slice_of(digest, 32), &sig));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_verify_digest(ec[CF_CURVE_P256], CF_SIG_PS256, cf_slice_of(digest, 32),
                            cf_slice_of(digest, 64), &valid));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!valid);
    CHECK(!cf_sign_digest(rsa, (cf_sig_alg)42, cf_slice_of(digest, 32), &sig));
    CHECK(cf_error_code() == CF_ERR_UNSUPPORTED);
    CHECK(sig.len == 0);
    cf_buf_free(&sig);
}

/* PKCS#8 / SPKI / PEM round trips and malformed DER. */
static void test_der(cf_pkey *key)
{
    cf_buf priv, pub, pub2, pem;
    cf_buf_init_secret(&priv, 8192);
    cf_buf_init(&pub, 8192);
    cf_buf_init(&pub2, 8192);
    cf_buf_init_secret(&pem, 8192);
    CHECK(cf_pkey_private_der(key, &priv));
    CHECK(cf_pkey_public_der(key, &pub));
    CHECK(cf_pkey_private_pem(key, &pem));
    CHECK(pem.len > 40 && memcmp(pem.data, "-----BEGIN PRIVATE KEY-----", 27) == 0);

    cf_pkey *k2 = NULL, *k3 = NULL;
    CHECK(cf_pkey_from_private_pem(cf_buf_slice(&pem), &k3));
    CHECK(k3 && cf_pkey_has_private(k3) && cf_pkey_bits(k3) == cf_pkey_bits(key));
    cf_pkey_free(k3);
    k3 = NULL;
    CHECK(!cf_pkey_from_private_pem(
        CF_SLICE_LIT("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), &k3));
    CHECK(!cf_pkey_from_private_der(cf_buf_slice(&pem), &k3));
    CHECK(cf_pkey_from_private_der(cf_buf_slice(&priv), &k2));
    CHECK(k2 && cf_pkey_has_private(k2));
    CHECK(k2 && cf_pkey_kty(k2) == cf_pkey_kty(key) && cf_pkey_bits(k2) == cf_pkey_bits(key));
    CHECK(k2 && cf_pkey_public_der(k2, &pub2));
    CHECK(cf_slice_eq(cf_buf_slice(&pub), cf_buf_slice(&pub2)));
    CHECK(cf_pkey_from_public_der(cf_buf_slice(&pub), &k3));
    CHECK(k3 && !cf_pkey_has_private(k3));
    /* a public key cannot export or sign privately */
    cf_buf_clear(&pem);
    CHECK(k3 && !cf_pkey_private_der(k3, &pem));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    uint8_t digest[32] = {0};
    CHECK(k3 && !cf_sign_digest(k3, cf_pkey_kty(k3) == CF_KTY_RSA ? CF_SIG_RS256 : CF_SIG_ES256,
                                cf_slice_of(digest, 32), &pem));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    cf_pkey_free(k2);
    cf_pkey_free(k3);

    /* malformed: truncated, trailing bytes, empty, wrong structure */
    cf_pkey *bad = NULL;
    CHECK(!cf_pkey_from_private_der(cf_slice_of(priv.data, priv.len - 5), &bad));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_pkey_from_public_der(cf_slice_of(pub.data, pub.len / 2), &bad));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_pkey_from_public_der((cf_slice){NULL, 0}, &bad));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_pkey_from_private_der(cf_buf_slice(&pub), &bad));
    CHECK(cf_buf_append(&pub, "\0", 1));
    CHECK(!cf_pkey_from_public_der(cf_buf_slice(&pub), &bad));
    CHECK(bad == NULL);
    cf_buf_free(&priv);
    cf_buf_free(&pub);
    cf_buf_free(&pub2);
    cf_buf_free(&pem);
}

int main(void)
{
    CHECK(cf_crypto_init());
    CHECK(cf_crypto_init()); /* idempotent */
    RUN(test_hash_vectors);
    RUN(test_md5_hasher);
    RUN(test_hmac_vectors);
    RUN(test_hkdf_vectors);
    RUN(test_gcm_vectors);
    RUN(test_gcm_empty);
    RUN(test_cbc);
    RUN(test_kw_vectors);
    RUN(test_kwp_vectors);
    RUN(test_ec_points);
    RUN(test_oaep_padding);
    RUN(test_random_and_curves);
    RUN(test_keygen_rejects);
    RUN(test_rsa_decrypt_vectors);
    RUN(test_sig_vectors);

    cf_pkey *rsa = NULL, *ec[4] = {NULL};
    CHECK(cf_pkey_generate_rsa(2048, 65537, &rsa));
    for (int i = 0; i < 4; i++)
        CHECK(cf_pkey_generate_ec((cf_curve)i, &ec[i]));
    if (!rsa || !ec[0] || !ec[1] || !ec[2] || !ec[3])
        TEST_DONE();
    CHECK(cf_pkey_kty(rsa) == CF_KTY_RSA && cf_pkey_bits(rsa) == 2048 && cf_pkey_has_private(rsa));
    for (int i = 0; i < 4; i++)
        CHECK(cf_pkey_kty(ec[i]) == CF_KTY_EC && cf_pkey_curve(ec[i]) == (cf_curve)i);
    fprintf(stderr, "-- test_rsa_encrypt\n");
    test_rsa_encrypt(rsa, ec[0]);
    fprintf(stderr, "-- test_sign\n");
    test_sign(rsa, ec);
    fprintf(stderr, "-- test_der\n");
    test_der(rsa);
    for (int i = 0; i < 4; i++)
        test_der(ec[i]);
    cf_pkey_free(rsa);
    for (int i = 0; i < 4; i++)
        cf_pkey_free(ec[i]);
    TEST_DONE();
}
