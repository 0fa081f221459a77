/*
 * tls_ceiling: the HTTP library's own ceiling on this machine, for
 * bench/http_run.  libmicrohttpd with coffer's settings (epoll, one polling
 * thread per core, the same GnuTLS priorities and response block size),
 * and nothing behind it:
 *
 *   GET /<n>   answers n bytes from memory
 *   PUT ...    reads the body, drops it, answers 201
 *
 *   tls_ceiling PORT CERT.pem KEY.pem      (runs until killed)
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_number.h"
#include "http.h" /* CF_TLS_PRIORITIES: the same TLS policy */

#define BLOCK (256 * 1024)
static char pattern[BLOCK];

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
