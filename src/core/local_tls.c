/*
 * Local CA and server certificate for a service (see local_tls.h).  The
 * keys are P-256; the certificate names localhost, 127.0.0.1, ::1, the
 * listen host and an optional extra name.
 */
#include "local_tls.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "envelope.h"
#include "fsutil.h"
#include "units.h"

#define CF_PEM_MAX (64 * CF_KIB)
#define CF_CERT_DAYS 825
#define CF_CA_DAYS 3650

static bool cf_tls_path(char *out, size_t len, const cf_local_tls *t, const char *rel)
{
    int n = snprintf(out, len, "%s/%s", t->data_dir, rel);
    CF_ENSURE(n > 0 && (size_t)n < len, CF_ERR_IO, "data directory path too long");
    return true;
}

static bool cf_sealed_file_aad(const cf_local_tls *t, const char *rel, cf_buf *aad)
{
    CF_GUARD(cf_buf_append_str(aad, t->label));
    CF_GUARD(cf_buf_append_str(aad, " file "));
    CF_GUARD(cf_buf_append_str(aad, rel));
    CF_GUARD(cf_buf_append_u8(aad, ' '));
    return cf_buf_append_str(aad, t->service_id);
}

bool cf_local_tls_write_sealed(const cf_local_tls *t, const char *rel, cf_slice secret)
{
    char path[PATH_MAX];
    cf_buf sealed, aad;
    cf_buf_init(&sealed, CF_PEM_MAX);
    cf_buf_init(&aad, 512);
    bool ok = cf_tls_path(path, sizeof path, t, rel) && cf_sealed_file_aad(t, rel, &aad) &&
              cf_envelope_seal(t->data_key, cf_buf_slice(&aad), secret, &sealed) &&
              cf_write_file_atomic(path, cf_buf_slice(&sealed), 0600);
    cf_buf_free(&sealed);
    cf_buf_free(&aad);
    return ok;
}

bool cf_local_tls_read_sealed(const cf_local_tls *t, const char *rel, cf_buf *secret)
{
    char path[PATH_MAX];
    cf_buf sealed, aad;
    cf_buf_init(&sealed, CF_PEM_MAX);
    cf_buf_init(&aad, 512);
    bool ok = cf_tls_path(path, sizeof path, t, rel) && cf_read_file(path, CF_PEM_MAX, &sealed) &&
              cf_sealed_file_aad(t, rel, &aad) &&
              cf_envelope_open(t->data_key, cf_buf_slice(&aad), cf_buf_slice(&sealed), secret);
    cf_buf_free(&sealed);
    cf_buf_free(&aad);
    return ok;
}

/* The host part of "HOST:PORT" / "[V6]:PORT". */
static void cf_listen_host(const char *listen, char *out, size_t len)
{
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : strlen(listen);
    if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']') {
        listen++;
        n -= 2;
    }
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), listen);
}

static bool cf_tls_generate(const cf_local_tls *t)
{
    char host[256];
    cf_listen_host(t->listen, host, sizeof host);
    const char *sans[5] = {"localhost", "127.0.0.1", "::1", host, t->extra_san};
    size_t n_sans = t->extra_san ? 5 : 4;
    cf_pkey *ca = NULL, *server = NULL;
    cf_buf ca_pem, cert_pem, ca_key, server_key;
    cf_buf_init(&ca_pem, CF_PEM_MAX);
    cf_buf_init(&cert_pem, CF_PEM_MAX);
    cf_buf_init_secret(&ca_key, CF_PEM_MAX);
    cf_buf_init_secret(&server_key, CF_PEM_MAX);
    char dir[PATH_MAX], ca_path[PATH_MAX], cert_path[PATH_MAX];
    bool ok = cf_tls_path(dir, sizeof dir, t, "tls") && cf_mkdirs(dir, 0700) &&
              cf_tls_path(ca_path, sizeof ca_path, t, "tls/ca.crt") &&
              cf_tls_path(cert_path, sizeof cert_path, t, "tls/server.crt") &&
              cf_pkey_generate_ec(CF_CURVE_P256, &ca) &&
              cf_pkey_generate_ec(CF_CURVE_P256, &server) &&
              cf_x509_self_signed_ca(ca, "Coffer local CA", CF_CA_DAYS, &ca_pem) &&
              cf_x509_issue_server(ca, cf_buf_slice(&ca_pem), server, sans, n_sans, CF_CERT_DAYS,
                                   &cert_pem) &&
              cf_pkey_private_pem(ca, &ca_key) && cf_pkey_private_pem(server, &server_key) &&
              cf_local_tls_write_sealed(t, "tls/ca.key.sealed", cf_buf_slice(&ca_key)) &&
              cf_local_tls_write_sealed(t, "tls/server.key.sealed", cf_buf_slice(&server_key)) &&
              cf_write_file_atomic(ca_path, cf_buf_slice(&ca_pem), 0644) &&
              cf_write_file_atomic(cert_path, cf_buf_slice(&cert_pem), 0644);
    cf_pkey_free(ca);
    cf_pkey_free(server);
    cf_buf_free(&ca_pem);
    cf_buf_free(&cert_pem);
    cf_buf_free(&ca_key);
    cf_buf_free(&server_key);
    return ok;
}

bool cf_local_tls_load(const cf_local_tls *t, cf_buf *cert, cf_buf *key)
{
    char cert_path[PATH_MAX];
    CF_GUARD(cf_tls_path(cert_path, sizeof cert_path, t, "tls/server.crt"));
    if (!cf_file_exists(cert_path))
        CF_GUARD(cf_tls_generate(t));
    return cf_read_file(cert_path, CF_PEM_MAX, cert) &&
           cf_local_tls_read_sealed(t, "tls/server.key.sealed", key);
}
