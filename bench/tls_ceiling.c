/*
 * tls_ceiling: the HTTP library's own ceiling on this machine, for
 * bench/http_run.  libmicrohttpd with coffer's settings (epoll, one polling
 * thread per core, the same GnuTLS priorities and response block size),
 * and nothing behind it:
 *
 *   GET /<n>       answers n bytes from memory
 *   PUT ...        reads the body, drops it, answers 201
 *   POST /rsa      an RSA-2048 PKCS#1 v1.5 signature of a fixed SHA-256
 *                  digest (256 bytes): the library plus the vault's sign
 *                  primitive and nothing else, the bound for its ratio
 *   POST /kw       an AES-256 key wrap (RFC 3394) of a fixed 32-byte key
 *
 *   tls_ceiling PORT CERT.pem KEY.pem      (runs until killed)
 */
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_number.h"
#include "http.h" /* CF_TLS_PRIORITIES: the same TLS policy */

#define BLOCK (256 * 1024)
static char pattern[BLOCK];

static EVP_PKEY *rsa_key;
static unsigned char kw_key[32];

/* The POST primitives into out (>= 256 bytes); returns the length or 0. */
static size_t primitive(const char *url, unsigned char *out)
{
    static const unsigned char input[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                            11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                                            21, 22, 23, 24, 25, 26, 27, 28, 29, 30};
    size_t len = 0;
    if (strcmp(url, "/rsa") == 0) {
        /* One context per thread, set up once: each request pays for the
         * signature alone, none of OpenSSL's per-call algorithm lookups. */
        static _Thread_local EVP_PKEY_CTX *ctx;
        if (!ctx) {
            ctx = EVP_PKEY_CTX_new(rsa_key, NULL);
            if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 ||
                EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
                EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0) {
                EVP_PKEY_CTX_free(ctx);
                ctx = NULL;
                return 0;
            }
        }
        len = 256;
        if (EVP_PKEY_sign(ctx, out, &len, input, sizeof input) <= 0)
            len = 0;
    } else if (strcmp(url, "/kw") == 0) {
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        int n = 0, tail = 0;
        if (ctx) {
            EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
            if (EVP_EncryptInit_ex(ctx, EVP_aes_256_wrap(), NULL, kw_key, NULL) == 1 &&
                EVP_EncryptUpdate(ctx, out, &n, input, sizeof input) == 1 &&
                EVP_EncryptFinal_ex(ctx, out + n, &tail) == 1)
                len = (size_t)(n + tail);
        }
        EVP_CIPHER_CTX_free(ctx);
    }
    return len;
}

static ssize_t serve(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    size_t off = (size_t)(pos % BLOCK), n = BLOCK - off < max ? BLOCK - off : max;
    memcpy(buf, pattern + off, n);
    return (ssize_t)n;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *size, void **state)
{
    (void)cls;
    (void)version;
    (void)data;
    if (!*state) { /* first call: headers only */
        *state = (void *)1;
        return MHD_YES;
    }
    if (*size) {
        *size = 0; /* dropped */
        return MHD_YES;
    }
    if (strcmp(method, "POST") == 0) {
        unsigned char out[512];
        size_t len = primitive(url, out);
        struct MHD_Response *r = MHD_create_response_from_buffer(len, out, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret = MHD_queue_response(c, len ? 200 : 500, r);
        MHD_destroy_response(r);
        return ret;
    }
    bool get = strcmp(method, "GET") == 0;
    uint64_t n = get ? strtoull(url + 1, NULL, 10) : 0;
    struct MHD_Response *r =
        get ? MHD_create_response_from_callback(
                  n, n < BLOCK ? (n < 4096 ? 4096 : (size_t)n) : BLOCK, serve, NULL, NULL)
            : MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, get ? 200 : 201, r);
    MHD_destroy_response(r);
    return ret;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf && !n) {
        free(buf);
        return NULL;
    }
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: tls_ceiling PORT CERT.pem KEY.pem\n");
        return 2;
    }
    for (size_t i = 0; i < BLOCK; i++)
        pattern[i] = (char)(i * 131 + 7);
    rsa_key = EVP_RSA_gen(2048);
    if (!rsa_key) {
        fprintf(stderr, "tls_ceiling: cannot make an RSA key\n");
        return 1;
    }
    char *cert = slurp(argv[2]), *key = slurp(argv[3]);
    if (!cert || !key) {
        fprintf(stderr, "tls_ceiling: cannot read the certificate or key\n");
        return 1;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG,
        (uint16_t)cli_number(argv[1], 65535, "PORT"), NULL, NULL, access_cb, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cpus > 0 ? cpus : 2), MHD_OPTION_CONNECTION_LIMIT,
        8192u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_HTTPS_MEM_CERT,
        cert, MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_PRIORITIES, CF_TLS_PRIORITIES,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "tls_ceiling: cannot start\n");
        return 1;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    int sig;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    return 0;
}
