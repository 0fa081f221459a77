/*
 * X.509 for the development CA that `make run` sets up (see crypto.h).
 *
 * Certificates are v3 with a 16-byte random serial (RFC 5280 allows up to 20
 * octets; randomness keeps serials unique across re-created CAs), a notBefore
 * five minutes in the past to absorb clock skew between hosts, and a SHA-256
 * signature.  The CA gets basicConstraints CA:TRUE (critical) and keyUsage
 * keyCertSign/cRLSign; server certificates get CA:FALSE, digitalSignature
 * (ECDHE suites only: no key encipherment), EKU serverAuth, SKI/AKI and a
 * subjectAltName built entry by entry, never from a config string, so a name
 * containing ',' or ':' cannot smuggle in extra entries.
 *
 * Signing fetches SHA-256 by name for each certificate; this runs a handful
 * of times per deployment, so the shared fetched digests are not worth an
 * internal interface here.
 */
#define OPENSSL_NO_DEPRECATED
#include <string.h>

#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto_internal.h"
#include "units.h"

#define CF_X509_MAX_DAYS 3650
#define CF_X509_SKEW_SECONDS (5 * CF_SECONDS_PER_MINUTE)
#define CF_X509_MAX_CN 64 /* ub-common-name, RFC 5280 */
#define CF_X509_MAX_SANS 100

static void cf_free_x509(X509 **p)
{
    X509_free(*p);
}
static void cf_free_md_ctx(EVP_MD_CTX **p)
{
    EVP_MD_CTX_free(*p);
}
static void cf_free_ext(X509_EXTENSION **p)
{
    X509_EXTENSION_free(*p);
}
static void cf_free_gens(GENERAL_NAMES **p)
{
    GENERAL_NAMES_free(*p);
}
static void cf_free_gen(GENERAL_NAME **p)
{
    GENERAL_NAME_free(*p);
}
static void cf_free_asn1_string(ASN1_STRING **p)
{
    ASN1_STRING_free(*p);
}

static inline EVP_PKEY *cf_evp(const cf_pkey *key)
{
    return (EVP_PKEY *)key;
}

static bool cf_x509_serial(X509 *x)
{
    uint8_t raw[16];
    CF_GUARD(cf_random_bytes(raw, sizeof raw));
    raw[0] &= 0x7f; /* positive, and never more than 16 octets in DER */
    raw[0] |= 0x01; /* never zero */
    CF_SCOPED(cf_free_bn) BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
    CF_ENSURE_ALLOC(bn);
    CF_OSSL_ENSURE(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL, CF_ERR_CRYPTO, NULL);
    return true;
}

/* A v3 certificate for `key` with serial, validity and subject CN set. */
static bool cf_x509_new(const cf_pkey *key, const char *cn, unsigned days, X509 **out)
{
    CF_ENSURE(days >= 1 && days <= CF_X509_MAX_DAYS, CF_ERR_BAD_INPUT,
              "certificate validity must be 1 to 3650 days");
    size_t cn_len = strlen(cn);
    CF_ENSURE(cn_len >= 1 && cn_len <= CF_X509_MAX_CN, CF_ERR_BAD_INPUT,
              "common name must be 1 to 64 characters");
    X509 *x = *out = X509_new();
    CF_ENSURE_ALLOC(x);
    CF_OSSL_GUARD(X509_set_version(x, X509_VERSION_3));
    CF_GUARD(cf_x509_serial(x));
    CF_OSSL_ENSURE(X509_gmtime_adj(X509_getm_notBefore(x), -CF_X509_SKEW_SECONDS) != NULL,
                   CF_ERR_CRYPTO, NULL);
    CF_OSSL_ENSURE(X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) != NULL,
                   CF_ERR_CRYPTO, NULL);
    CF_OSSL_GUARD(X509_set_pubkey(x, cf_evp(key)));
    CF_OSSL_ENSURE(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                                              (const unsigned char *)cn, (int)cn_len, -1, 0) == 1,
                   CF_ERR_BAD_INPUT, "invalid common name");
    return true;
}

/* Adds one extension given in OpenSSL's config syntax (constant values only). */
static bool cf_x509_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    CF_SCOPED(cf_free_ext) X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    CF_OSSL_ENSURE(ext != NULL, CF_ERR_CRYPTO, NULL);
    CF_OSSL_GUARD(X509_add_ext(x, ext, -1));
    return true;
}

static bool cf_x509_sign(X509 *x, const cf_pkey *key)
{
    CF_SCOPED(cf_free_md_ctx) EVP_MD_CTX *md = EVP_MD_CTX_new();
    CF_ENSURE_ALLOC(md);
    CF_OSSL_GUARD(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, cf_evp(key), NULL));
    CF_OSSL_ENSURE(X509_sign_ctx(x, md) > 0, CF_ERR_CRYPTO, NULL);
    return true;
}

static bool cf_x509_pem(X509 *x, cf_buf *out)
{
    CF_SCOPED(cf_free_bio) BIO *bio = BIO_new(BIO_s_mem());
    CF_ENSURE_ALLOC(bio);
    CF_OSSL_GUARD(PEM_write_bio_X509(bio, x));
    BUF_MEM *mem = NULL;
    CF_OSSL_ENSURE(BIO_get_mem_ptr(bio, &mem) == 1 && mem != NULL, CF_ERR_CRYPTO, NULL);
    size_t mark = out->len;
    if (!cf_buf_append(out, mem->data, mem->length)) {
        out->len = mark;
        return false;
    }
    return true;
}

static bool cf_x509_check_signer(const cf_pkey *key)
{
    CF_ENSURE(cf_pkey_has_private(key), CF_ERR_BAD_INPUT, "signing key has no private part");
    return true;
}

bool cf_x509_self_signed_ca(const cf_pkey *key, const char *common_name, unsigned days,
                            cf_buf *cert_pem)
{
    CF_GUARD(cf_x509_check_signer(key));
    CF_SCOPED(cf_free_x509) X509 *x = NULL;
    CF_GUARD(cf_x509_new(key, common_name, days, &x));
    CF_OSSL_GUARD(X509_set_issuer_name(x, X509_get_subject_name(x)));
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    CF_GUARD(cf_x509_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
    CF_GUARD(cf_x509_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
    /* The SKI must exist before the AKI, which copies it. */
    CF_GUARD(cf_x509_ext(x, &ctx, NID_subject_key_identifier, "hash"));
    CF_GUARD(cf_x509_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"));
    CF_GUARD(cf_x509_sign(x, key));
    return cf_x509_pem(x, cert_pem);
}

/* Host names: letters, digits, '-', '.', '_' and a leading "*." wildcard. */
static bool cf_dns_name_ok(const char *s, size_t len)
{
    if (len >= 2 && s[0] == '*' && s[1] == '.') {
        s += 2;
        len -= 2;
    }
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

/* One subjectAltName entry: IP: when it parses as IPv4/IPv6, else DNS:. */
static bool cf_san_push(GENERAL_NAMES *gens, const char *san)
{
    CF_ENSURE(san != NULL, CF_ERR_BAD_INPUT, "invalid subject alternative name");
    size_t len = strlen(san);
    CF_SCOPED(cf_free_gen) GENERAL_NAME *gn = GENERAL_NAME_new();
    CF_ENSURE_ALLOC(gn);
    CF_SCOPED(cf_free_asn1_string) ASN1_STRING *value = a2i_IPADDRESS(san);
    int type = GEN_IPADD;
    if (value == NULL) {
        ERR_clear_error();
        CF_ENSURE(cf_dns_name_ok(san, len), CF_ERR_BAD_INPUT, "invalid subject alternative name");
        value = ASN1_IA5STRING_new();
        CF_ENSURE_ALLOC(value);
        CF_OSSL_GUARD(ASN1_STRING_set(value, san, (int)len));
        type = GEN_DNS;
    }
    GENERAL_NAME_set0_value(gn, type, value);
    value = NULL; /* now owned by gn */
    CF_OSSL_ENSURE(sk_GENERAL_NAME_push(gens, gn) > 0, CF_ERR_NOMEM, NULL);
    gn = NULL; /* now owned by gens */
    return true;
}

static bool cf_x509_sans(X509 *x, const char *const *sans, size_t n_sans)
{
    CF_SCOPED(cf_free_gens) GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    CF_ENSURE_ALLOC(gens);
    for (size_t i = 0; i < n_sans; i++)
        CF_GUARD(cf_san_push(gens, sans[i]));
    CF_OSSL_GUARD(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT));
    return true;
}

static bool cf_x509_parse_pem(cf_slice pem, X509 **out)
{
    CF_ENSURE(pem.len > 0 && pem.len <= INT32_MAX, CF_ERR_BAD_INPUT, "malformed CA certificate");
    CF_SCOPED(cf_free_bio) BIO *bio = BIO_new_mem_buf(pem.ptr, (int)pem.len);
    CF_ENSURE_ALLOC(bio);
    *out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    CF_OSSL_ENSURE(*out != NULL, CF_ERR_BAD_INPUT, "malformed CA certificate");
    return true;
}

bool cf_x509_issue_server(const cf_pkey *ca_key, cf_slice ca_cert_pem, const cf_pkey *key,
                          const char *const *sans, size_t n_sans, unsigned days, cf_buf *cert_pem)
{
    CF_GUARD(cf_x509_check_signer(ca_key));
    CF_ENSURE(n_sans >= 1 && n_sans <= CF_X509_MAX_SANS && sans != NULL, CF_ERR_BAD_INPUT,
              "a server certificate needs 1 to 100 subject alternative names");
    CF_SCOPED(cf_free_x509) X509 *ca = NULL;
    CF_GUARD(cf_x509_parse_pem(ca_cert_pem, &ca));
    CF_OSSL_ENSURE(X509_check_private_key(ca, cf_evp(ca_key)) == 1, CF_ERR_BAD_INPUT,
                   "CA key does not match the CA certificate");
    CF_SCOPED(cf_free_x509) X509 *x = NULL;
    /* The first name doubles as the CN, for tools that still display it. */
    CF_GUARD(cf_x509_new(key, sans[0] ? sans[0] : "", days, &x));
    CF_OSSL_GUARD(X509_set_issuer_name(x, X509_get_subject_name(ca)));
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
    CF_GUARD(cf_x509_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE"));
    CF_GUARD(cf_x509_ext(x, &ctx, NID_key_usage, "critical,digitalSignature"));
    CF_GUARD(cf_x509_ext(x, &ctx, NID_ext_key_usage, "serverAuth"));
    CF_GUARD(cf_x509_ext(x, &ctx, NID_subject_key_identifier, "hash"));
    CF_GUARD(cf_x509_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"));
    CF_GUARD(cf_x509_sans(x, sans, n_sans));
    CF_GUARD(cf_x509_sign(x, ca_key));
    return cf_x509_pem(x, cert_pem);
}

bool cf_x509_expiry(cf_slice pem, int64_t *not_after, char *cn, size_t cn_len)
{
    BIO *bio = BIO_new_mem_buf(pem.ptr, (int)pem.len);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    CF_ENSURE(x, CF_ERR_BAD_INPUT, "not a PEM certificate");
    struct tm tm;
    bool ok = ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1;
    if (ok)
        *not_after = (int64_t)timegm(&tm);
    cn[0] = 0;
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)cn_len);
    X509_free(x);
    CF_ENSURE(ok, CF_ERR_BAD_INPUT, "the certificate's expiry cannot be read");
    return true;
}
