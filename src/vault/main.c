/*
 * coffer-vault: the key vault server.
 *
 *   coffer-vault --data-dir DIR --listen HOST:PORT [options]
 *
 * Starts the HTTPS listener and the rotation/purge sweeper, then waits for
 * SIGINT or SIGTERM.  All state is in DIR (see bootstrap.c).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "secmem.h"
#include "server_process.h"
#include "vault.h"

static void cf_usage(FILE *out)
{
    fprintf(out,
            "usage: coffer-vault --data-dir DIR --listen HOST:PORT [options]\n"
            "  --url URL               public base URL (default https://HOST:PORT)\n"
            "  --resource URL          token audience (default https://vault.azure.net)\n"
            "  --tenant UUID           tenant id on first start (default: random)\n"
            "  --retention-days N      soft-delete retention, 7-90 (default 90); fixed at creation\n"
            "  --purge-protection      refuse purges until retention ends; fixed at creation\n"
            "  --rotation-interval S   seconds between rotation/purge sweeps (default 60)\n"
            "  --token-lifetime S      access token lifetime in seconds (default 3600)\n"
            "  --tls-cert FILE --tls-key FILE  serve this certificate instead of the local CA's\n"
            "  --tls-san NAME          extra DNS name or IP for the generated certificate\n"
            "  --log-level LEVEL       debug, info, warn or error (default info)\n"
            CF_SEAL_USAGE
            "  --version\n");
}

static bool cf_parse_int(const char *s, long min, long max, int *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

static bool cf_parse_args(int argc, char **argv, cf_vault *v)
{
    static const struct option opts[] = {
        {"data-dir", required_argument, 0, 'd'},     {"listen", required_argument, 0, 'l'},
        {"url", required_argument, 0, 'u'},          {"resource", required_argument, 0, 'r'},
        {"tenant", required_argument, 0, 't'},       {"retention-days", required_argument, 0, 'R'},
        {"rotation-interval", required_argument, 0, 'i'},
        {"token-lifetime", required_argument, 0, 'T'},
        {"tls-cert", required_argument, 0, 'c'},     {"tls-key", required_argument, 0, 'k'},
        {"tls-san", required_argument, 0, 's'},      {"log-level", required_argument, 0, 'L'},
        {"purge-protection", no_argument, 0, 'P'},
        {"dev-seal", no_argument, 0, 'D'},           {"pkcs11-module", required_argument, 0, 'M'},
        {"pkcs11-token", required_argument, 0, 'K'}, {"pkcs11-pin-file", required_argument, 0, 'N'},
        {"version", no_argument, 0, 'V'},            {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c, index = -1;
    while ((c = getopt_long(argc, argv, "", opts, &index)) != -1) {
        bool ok = true;
        switch (c) {
        case 'd': ok = snprintf(v->data_dir, sizeof v->data_dir, "%s", optarg) < (int)sizeof v->data_dir; break;
        case 'l': ok = snprintf(v->listen, sizeof v->listen, "%s", optarg) < (int)sizeof v->listen; break;
        case 'u': ok = snprintf(v->url, sizeof v->url, "%s", optarg) < (int)sizeof v->url; break;
        case 'r': ok = snprintf(v->resource, sizeof v->resource, "%s", optarg) < (int)sizeof v->resource; break;
        case 't': ok = strlen(optarg) == 36 && snprintf(v->tenant_id, sizeof v->tenant_id, "%s", optarg) > 0; break;
        case 'R': ok = cf_parse_int(optarg, 7, 90, &v->retention_days); v->retention_given = true; break;
        case 'P': v->purge_protection = true; v->protection_given = true; break;
        case 'i': ok = cf_parse_int(optarg, 1, 86400, &v->rotation_interval); break;
        case 'T': ok = cf_parse_int(optarg, 1, 86400, &v->token_lifetime); break;
        case 'c': v->tls_cert_file = optarg; break;
        case 'k': v->tls_key_file = optarg; break;
        case 's': v->extra_san = optarg; break;
        case 'L': ok = cf_log_set_level_name(optarg); break;
        case 'D': v->seal_options.dev_seal = true; break;
        case 'M': v->seal_options.module = optarg; break;
        case 'K': v->seal_options.token_label = optarg; break;
        case 'N': v->seal_options.pin_file = optarg; break;
        case 'V': puts("coffer-vault 0.1.0"); exit(0);
        case 'h': cf_usage(stdout); exit(0);
        default: ok = false; break;
        }
        if (!ok) {
            if (c == 'R')
                fprintf(stderr, "coffer-vault: --retention-days must be a number of days from 7 to 90\n");
            else if (index >= 0 && c != '?')
                fprintf(stderr, "coffer-vault: invalid value for --%s\n", opts[index].name);
            else
                cf_usage(stderr);
            return false;
        }
    }
    if (optind != argc || !v->data_dir[0] || !v->listen[0] ||
        (v->tls_cert_file != NULL) != (v->tls_key_file != NULL)) {
        cf_usage(stderr);
        return false;
    }
    if (!v->url[0])
        snprintf(v->url, sizeof v->url, "https://%s", v->listen);
    size_t n = strlen(v->url);
    while (n && v->url[n - 1] == '/')
        v->url[--n] = 0;
    return true;
}

int main(int argc, char **argv)
{
    cf_vault vault = {
        .resource = "https://vault.azure.net",
        .retention_days = 90,
        .rotation_interval = 60,
        .token_lifetime = 3600,
    };
    if (!cf_parse_args(argc, argv, &vault))
        return 2;
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
