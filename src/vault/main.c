/*
 * coffer-vault: the key vault server.
 *
 *   coffer-vault --data-dir DIR --listen HOST:PORT [options]
 *
 * Starts the HTTPS listener and the rotation/purge sweeper, then waits for
 * SIGINT or SIGTERM.  All state is in DIR (see bootstrap.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "secmem.h"
#include "server_args.h"
#include "server_process.h"
#include "vault.h"

static void cf_usage(FILE *out)
{
    fprintf(
        out,
        "usage: coffer-vault --data-dir DIR --listen HOST:PORT [options]\n"
        "  --url URL               public base URL (default https://HOST:PORT)\n"
        "  --resource URL          token audience (default https://vault.azure.net)\n"
        "  --tenant UUID           tenant id on first start (default: random)\n"
        "  --retention-days N      soft-delete retention, 7-90 (default 90); fixed at creation\n"
        "  --purge-protection      refuse purges until retention ends; fixed at creation\n"
        "  --rotation-interval S   seconds between rotation/purge sweeps (default 60)\n"
        "  --token-lifetime S      access token lifetime in seconds (default 3600)\n"
        "  --console-blob-url URL  the blob service the console at /console/ may call\n"
        "  --tls-cert FILE --tls-key FILE  serve this certificate instead of the local CA's\n"
        "  --tls-san NAME          extra DNS name or IP for the generated certificate\n"
        "  --log-level LEVEL       debug, info, warn or error (default info)\n" CF_STORE_USAGE
            CF_SEAL_USAGE "  --version\n");
}

/* coffer-vault's own options (the shared ones: server_args.h). */
static const struct option cf_vault_options[] = {
    {"url", required_argument, 0, 'u'},
    {"resource", required_argument, 0, 'r'},
    {"tenant", required_argument, 0, 't'},
    {"retention-days", required_argument, 0, 'R'},
    {"rotation-interval", required_argument, 0, 'i'},
    {"token-lifetime", required_argument, 0, 'T'},
    {"tls-cert", required_argument, 0, 'c'},
    {"tls-key", required_argument, 0, 'k'},
    {"tls-san", required_argument, 0, 's'},
    {"purge-protection", no_argument, 0, 'P'},
    {"console-blob-url", required_argument, 0, 'B'},
    {0, 0, 0, 0},
};

static bool cf_vault_option(void *ctx, int code, const char *value, const char **complaint)
{
    cf_vault *v = ctx;
    switch (code) {
    case 'u': return cf_server_copy_arg(v->url, sizeof v->url, value);
    case 'r': return cf_server_copy_arg(v->resource, sizeof v->resource, value);
    case 't':
        return strlen(value) == 36 && cf_server_copy_arg(v->tenant_id, sizeof v->tenant_id, value);
    case 'R':
        v->retention_given = true;
        *complaint = "--retention-days must be a number of days from 7 to 90";
        return cf_server_parse_int(value, 7, 90, &v->retention_days);
    case 'P':
        v->purge_protection = true;
        v->protection_given = true;
        return true;
    case 'i': return cf_server_parse_int(value, 1, CF_SECONDS_PER_DAY, &v->rotation_interval);
    case 'T': return cf_server_parse_int(value, 1, CF_SECONDS_PER_DAY, &v->token_lifetime);
    case 'c': v->tls_cert_file = value; return true;
    case 'k': v->tls_key_file = value; return true;
    case 's': v->extra_san = value; return true;
    case 'B':
        /* It goes into a Content-Security-Policy: an https origin only. */
        *complaint = "--console-blob-url must be an https:// origin (scheme, host, port)";
        return strncmp(value, "https://", 8) == 0 && !strpbrk(value + 8, "/;, '\"") &&
               cf_server_copy_arg(v->console_blob_url, sizeof v->console_blob_url, value);
    default: return false;
    }
}

static cf_server_args_result cf_parse_args(int argc, char **argv, cf_vault *v)
{
    const cf_server_args shared = CF_SERVER_ARGS_OF("coffer-vault", cf_usage, v);
    cf_server_args_result r =
        cf_server_args_parse(argc, argv, &shared, cf_vault_options, cf_vault_option, v);
    if (r != CF_SERVER_ARGS_RUN)
        return r;
    if (!cf_server_args_complete(&shared, argc) ||
        (v->tls_cert_file != NULL) != (v->tls_key_file != NULL)) {
        cf_usage(stderr);
        return CF_SERVER_ARGS_INVALID;
    }
    if (!v->url[0])
        snprintf(v->url, sizeof v->url, "https://%s", v->listen);
    size_t n = strlen(v->url);
    while (n && v->url[n - 1] == '/')
        v->url[--n] = 0;
    return CF_SERVER_ARGS_RUN;
}

int main(int argc, char **argv)
{
    cf_vault vault = {
        .resource = "https://vault.azure.net",
        .retention_days = 90,
        .rotation_interval = 60,
        .token_lifetime = 3600,
    };
    cf_server_args_result args = cf_parse_args(argc, argv, &vault);
    if (args != CF_SERVER_ARGS_RUN)
        return args == CF_SERVER_ARGS_DONE ? 0 : 2;
    /* Signals are taken synchronously by the main thread only. */
    sigset_t stop;
    cf_server_process_init(&stop);

    cf_buf cert, key;
    cf_buf_init(&cert, 1 << 20);
    cf_buf_init_secret(&key, 1 << 20);
    cf_http_server *server = NULL;
    /* 32 MiB of locked memory: the data key, opened key material, cached
     * private keys (shared and per connection thread) and request secrets. */
    if (!cf_secmem_init(1 << 25) || !cf_crypto_init() || !cf_vault_open(&vault, &cert, &key)) {
        cf_log(CF_LOG_ERROR, NULL, "start-up failed: %s (%s)", cf_error_detail(), cf_error_where());
        cf_buf_free(&key);
        cf_buf_free(&cert);
        cf_vault_close(&vault);
        return 1;
    }
    cf_http_config config = {
        .name = "coffer-vault",
        .listen = vault.listen,
        .tls_cert_pem = cf_buf_slice(&cert),
        .tls_key_pem = cf_buf_slice(&key),
        .max_body = CF_VAULT_MAX_BODY,
        .max_connections = 8192,
        .max_per_ip = 128,
        .timeout_seconds = 60,
        .handler = cf_vault_handle,
        .begin = cf_vault_begin,
        .begin_inline = cf_vault_begin_inline,
        .ctx = &vault,
    };
    if (!cf_metrics_register_data_dir(vault.data_dir))
        cf_log(CF_LOG_WARN, NULL, "metrics: %s", cf_error_detail());
    bool started = cf_http_start(&config, &server);
    cf_buf_free(&key);
    cf_buf_free(&cert);
    if (!started || !cf_rotation_start(&vault)) {
        cf_log(CF_LOG_ERROR, NULL, "start-up failed: %s", cf_error_detail());
        cf_http_stop(server);
        cf_vault_close(&vault);
        return 1;
    }
    cf_log(CF_LOG_INFO, NULL, "coffer-vault listening on %s (%s), tenant %s", vault.listen,
           vault.url, vault.tenant_id);
    int sig = 0;
    sigwait(&stop, &sig);
    cf_log(CF_LOG_INFO, NULL, "stopping on signal %d", sig);
    cf_http_stop(server);
    cf_rotation_stop();
    cf_vault_close(&vault);
    return 0;
}
