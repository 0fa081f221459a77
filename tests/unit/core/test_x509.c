/*
 * Development CA: the certificates must satisfy the openssl CLI's verifier
 * (chain, purpose sslserver, host name and IP) and carry the extensions the
 * design promises.  Shells out to `openssl`, since tests never include
 * OpenSSL headers.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "crypto.h"
#include "test.h"

static char dir[] = "/tmp/coffer-x509-XXXXXX";

static void write_file(const char *name, const cf_buf *b)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK(fwrite(b->data, 1, b->len, f) == b->len);
    fclose(f);
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* `openssl x509 -text` of a certificate file, into `out`. */
static void cert_text(const char *name, char *out, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "openssl x509 -noout -text -in %s/%s", dir, name);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    size_t n = p ? fread(out, 1, cap - 1, p) : 0;
    out[n] = 0;
    if (p)
        CHECK(pclose(p) == 0);
}

static void check_chain(cf_pkey *ca_key, cf_pkey *server_key, const char *tag)
{
    cf_buf ca, server;
    cf_buf_init(&ca, 16384);
    cf_buf_init(&server, 16384);
    CHECK(cf_x509_self_signed_ca(ca_key, "Coffer Dev CA", 3650, &ca));
    const char *sans[] = {"localhost", "127.0.0.1", "::1", "vault.coffer.test", "*.blob.test"};
    CHECK(cf_x509_issue_server(ca_key, cf_buf_slice(&ca), server_key, sans, 5, 397, &server));
    write_file("ca.pem", &ca);
    write_file("server.pem", &server);

    CHECK(run("openssl verify -CAfile %s/ca.pem -purpose sslserver -verify_hostname "
              "vault.coffer.test %s/server.pem >/dev/null",
              dir, dir) == 0);
    CHECK(run("openssl verify -CAfile %s/ca.pem -verify_ip 127.0.0.1 %s/server.pem >/dev/null", dir,
              dir) == 0);
    CHECK(run("openssl verify -CAfile %s/ca.pem -verify_ip ::1 %s/server.pem >/dev/null", dir,
              dir) == 0);
    /* negative: wrong host, and the server cert is no CA */
    CHECK(run("openssl verify -CAfile %s/ca.pem -verify_hostname evil.test %s/server.pem "
              ">/dev/null 2>&1",
              dir, dir) != 0);
    CHECK(run("openssl verify -CAfile %s/server.pem %s/server.pem >/dev/null 2>&1", dir, dir) != 0);

    static char text[16384];
    cert_text("ca.pem", text, sizeof text);
    CHECK(strstr(text, "CA:TRUE") != NULL);
    CHECK(strstr(text, "Certificate Sign, CRL Sign") != NULL);
    CHECK(strstr(text, "Subject Key Identifier") != NULL);
    CHECK(strstr(text, "sha256With") != NULL || strstr(text, "ecdsa-with-SHA256") != NULL);
    cert_text("server.pem", text, sizeof text);
    CHECK(strstr(text, "CA:FALSE") != NULL);
    CHECK(strstr(text, "Digital Signature") != NULL);
    CHECK(strstr(text, "TLS Web Server Authentication") != NULL);
    CHECK(strstr(text, "DNS:localhost") != NULL);
    CHECK(strstr(text, "IP Address:127.0.0.1") != NULL);
    CHECK(strstr(text, "IP Address:0:0:0:0:0:0:0:1") != NULL);
    CHECK(strstr(text, "DNS:*.blob.test") != NULL);
    CHECK(strstr(text, "Authority Key Identifier") != NULL);
    CHECK(strstr(text, "Issuer: CN = Coffer Dev CA") != NULL);
    fprintf(stderr, "   %s chain verified\n", tag);
    cf_buf_free(&ca);
    cf_buf_free(&server);
}

static void test_rejects(cf_pkey *ca_key, cf_pkey *other_key, cf_pkey *server_key)
{
    cf_buf ca, out;
    cf_buf_init(&ca, 16384);
    cf_buf_init(&out, 16384);
    CHECK(cf_x509_self_signed_ca(ca_key, "Coffer Dev CA", 30, &ca));
    cf_slice ca_pem = cf_buf_slice(&ca);
    const char *ok[] = {"localhost"};
    const char *bad1[] = {"localhost,IP:1.2.3.4"};
    const char *bad2[] = {"a b"};
    const char *bad3[] = {""};
    const char *bad4[] = {"localhost", NULL};
    CHECK(!cf_x509_issue_server(ca_key, ca_pem, server_key, bad1, 1, 30, &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_x509_issue_server(ca_key, ca_pem, server_key, bad2, 1, 30, &out));
    CHECK(!cf_x509_issue_server(ca_key, ca_pem, server_key, bad3, 1, 30, &out));
    CHECK(!cf_x509_issue_server(ca_key, ca_pem, server_key, bad4, 2, 30, &out));
    CHECK(!cf_x509_issue_server(ca_key, ca_pem, server_key, ok, 0, 30, &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_x509_issue_server(ca_key, ca_pem, server_key, ok, 1, 0, &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    /* a CA key that does not match the CA certificate */
    CHECK(!cf_x509_issue_server(other_key, ca_pem, server_key, ok, 1, 30, &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    /* malformed CA certificate */
    CHECK(!cf_x509_issue_server(ca_key, cf_slice_of(ca.data, ca.len / 2), server_key, ok, 1, 30,
                                &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_x509_issue_server(ca_key, CF_SLICE_LIT("junk"), server_key, ok, 1, 30, &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(out.len == 0);
    /* CA name limits */
    char long_cn[70];
    memset(long_cn, 'a', 69);
    long_cn[69] = 0;
    CHECK(!cf_x509_self_signed_ca(ca_key, long_cn, 30, &out));
    CHECK(!cf_x509_self_signed_ca(ca_key, "", 30, &out));
    CHECK(!cf_x509_self_signed_ca(ca_key, "ca", 100000, &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    /* a public-only key cannot sign */
    cf_buf der;
    cf_buf_init(&der, 16384);
    cf_pkey *pub = NULL;
    CHECK(cf_pkey_public_der(ca_key, &der) && cf_pkey_from_public_der(cf_buf_slice(&der), &pub));
    CHECK(pub && !cf_x509_self_signed_ca(pub, "ca", 30, &out));
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    /* two certificates never share a serial */
    cf_buf ca2;
    cf_buf_init(&ca2, 16384);
    CHECK(cf_x509_self_signed_ca(ca_key, "Coffer Dev CA", 30, &ca2));
    write_file("a.pem", &ca);
    write_file("b.pem", &ca2);
    CHECK(run("test \"$(openssl x509 -noout -serial -in %s/a.pem)\" != "
              "\"$(openssl x509 -noout -serial -in %s/b.pem)\"",
              dir, dir) == 0);
    cf_pkey_free(pub);
    cf_buf_free(&der);
    cf_buf_free(&ca2);
    cf_buf_free(&ca);
    cf_buf_free(&out);
}

int main(void)
{
    CHECK(cf_crypto_init());
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    cf_pkey *ec = NULL, *ec2 = NULL, *rsa = NULL;
    CHECK(cf_pkey_generate_ec(CF_CURVE_P256, &ec));
    CHECK(cf_pkey_generate_ec(CF_CURVE_P384, &ec2));
    CHECK(cf_pkey_generate_rsa(2048, 65537, &rsa));
    if (ec && ec2 && rsa) {
        fprintf(stderr, "-- check_chain\n");
        check_chain(ec, rsa, "EC CA, RSA server");
        check_chain(rsa, ec2, "RSA CA, EC server");
        fprintf(stderr, "-- test_rejects\n");
        test_rejects(ec, ec2, rsa);
    }
    cf_pkey_free(ec);
    cf_pkey_free(ec2);
    cf_pkey_free(rsa);
    CHECK(run("rm -rf %s", dir) == 0);
    TEST_DONE();
}
