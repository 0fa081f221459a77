/*
 * coffer-blob: the blob storage server.
 *
 *   coffer-blob --data-dir DIR --listen HOST:PORT [options]
 *
 * Serves the Azure Blob REST API path-style over HTTPS (optionally also
 * plain HTTP for development, where accounts that require secure transfer
 * refuse every request), then waits for SIGINT or SIGTERM.  All state is in
 * DIR (see bootstrap.c), or, with --store postgres:CONNINFO, the metadata
 * is in PostgreSQL and several front ends serve it (blob_store.h, "Several
 * front ends").  Bodies above 64 KiB go to the extent store: files in
 * DIR/extents, or, with --extents rados:POOL, Ceph RADOS, which every
 * front end reads.  Meanwhile the leader among them sweeps: unreferenced
 * extents once their grace is over, uncommitted blocks after a week, and
 * (RADOS) orphaned extents and stalled partial writes.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob_service.h"
#include "crypto.h"
#include "log.h"
#include "metrics.h"
#include "secmem.h"
#include "server_args.h"
#include "server_process.h"
#include "ids.h"
#include "units.h"

/* Uncommitted blocks expire after a week; expiry runs hourly.  The sweep
 * of unreferenced extents runs every tenth of their grace (a minute by
 * default), at least every second. */
#define CF_EXPIRE_INTERVAL CF_SECONDS_PER_HOUR
#define CF_SWEEP_PER_GRACE 10

static void cf_usage(FILE *out)
{
    fprintf(out,
            "usage: coffer-blob --data-dir DIR --listen HOST:PORT [options]\n"
            "  --http-listen HOST:PORT   also serve plain HTTP (development only)\n"
            "  --insecure-account NAME   an account that accepts plain HTTP (development only)\n"
            "  --vault-url URL           trust bearer tokens from this coffer-vault\n"
            "  --vault-ca FILE           the CA certificate of that vault\n"
            "  --tenant-id ID            the vault's tenant id\n"
            "  --console-origin ORIGIN   where the vault's web console is loaded from, for\n"
            "                            CORS (default: the --vault-url's origin)\n"
            "  --vault-bootstrap FILE    coffer-blob's own identity in coffer-vault, for\n"
            "                            customer-managed keys (vault_url, ca_cert, tenant_id,\n"
            "                            authority_host, client_id, client_secret)\n"
            "  --key-cache-seconds N     how long an unwrapped customer-managed key is used\n"
            "                            before the vault is asked again (default 600)\n"
            "  --owner OBJECT_ID         give this principal Storage Blob Data Owner on the\n"
            "                            default account (repeatable)\n"
            "  --extents files|rados:POOL[/NAMESPACE][@CLIENT]\n"
            "                            where bodies over 64 KiB live: files in DIR/extents\n"
            "                            (default), or a Ceph RADOS pool (CEPH_CONF) that\n"
            "                            several front ends share; the pool (namespace) is\n"
            "                            this store's alone\n"
            "  --extent-grace SECONDS    (PostgreSQL) how long an extent nothing references\n"
            "                            any more is kept for downloads on other front ends\n"
            "                            (default 600, 1..86400)\n"
            "  --extent-cleanup SECONDS  (RADOS) orphans and stalled partial writes older\n"
            "                            than this are removed, by the leader, this often\n"
            "                            (default 3600, 1..86400)\n"
            "  --log-level LEVEL         debug, info, warn or error (default info)\n" CF_STORE_USAGE
                CF_SEAL_USAGE "  --version\n");
}

/* coffer-blob's own options (the shared ones: server_args.h). */
static const struct option cf_blob_options[] = {
    {"http-listen", required_argument, 0, 'H'},
    {"insecure-account", required_argument, 0, 'I'},
    {"vault-url", required_argument, 0, 'v'},
    {"vault-ca", required_argument, 0, 'c'},
    {"tenant-id", required_argument, 0, 't'},
    {"console-origin", required_argument, 0, 'o'},
    {"owner", required_argument, 0, 'O'},
    {"vault-bootstrap", required_argument, 0, 'B'},
    {"key-cache-seconds", required_argument, 0, 'C'},
    {"extents", required_argument, 0, 'X'},
    {"extent-grace", required_argument, 0, 'G'},
    {"extent-cleanup", required_argument, 0, 'W'},
    {0, 0, 0, 0},
};

/* --extents: "files" (the default, kept as "") or rados:SOMETHING, which
 * the extent store parses at open. */
static bool cf_blob_extents_arg(cf_blob_service *s, const char *value, const char **complaint)
{
    if (strcmp(value, "files") == 0) {
        s->extents[0] = '\0';
        return true;
    }
    if (strncmp(value, "rados:", 6) != 0 || !value[6]) {
        *complaint = "--extents takes files or rados:POOL[/NAMESPACE][@CLIENT]";
        return false;
    }
    return cf_server_copy_arg(s->extents, sizeof s->extents, value);
}

/* An origin is "https://HOST[:PORT]": no path, no trailing slash. */
static bool cf_blob_origin_arg(char *out, size_t len, const char *value)
{
    const char *host = strncmp(value, "https://", 8) == 0 ? value + 8 : NULL;
    return host && *host && !strpbrk(host, "/?# ") && cf_server_copy_arg(out, len, value);
}

static bool cf_blob_option(void *ctx, int code, const char *value, const char **complaint)
{
    cf_blob_service *s = ctx;
    switch (code) {
    case 'H': return cf_server_copy_arg(s->http_listen, sizeof s->http_listen, value);
    case 'I':
        return s->n_insecure < CF_BLOB_MAX_INSECURE && cf_blob_account_name_valid(value) &&
               strcmp(value, CF_BLOB_DEFAULT_ACCOUNT) != 0 &&
               cf_server_copy_arg(s->insecure[s->n_insecure++], sizeof s->insecure[0], value);
    case 'v': return cf_server_copy_arg(s->vault_url, sizeof s->vault_url, value);
    case 'c': return cf_server_copy_arg(s->vault_ca, sizeof s->vault_ca, value);
    case 't': return cf_server_copy_arg(s->tenant_id, sizeof s->tenant_id, value);
    case 'o': return cf_blob_origin_arg(s->console_origin, sizeof s->console_origin, value);
    case 'B': return cf_server_copy_arg(s->vault_bootstrap, sizeof s->vault_bootstrap, value);
    case 'C': return cf_server_parse_int(value, 1, CF_SECONDS_PER_DAY, &s->key_cache_seconds);
    case 'X': return cf_blob_extents_arg(s, value, complaint);
    case 'G': return cf_server_parse_int(value, 1, CF_SECONDS_PER_DAY, &s->extent_grace);
    case 'W': return cf_server_parse_int(value, 1, CF_SECONDS_PER_DAY, &s->extent_cleanup);
    case 'O':
        return s->n_owners < CF_BLOB_MAX_OWNERS && strlen(value) == CF_UUID_LEN &&
               cf_server_copy_arg(s->owners[s->n_owners++], sizeof s->owners[0], value);
    default: return false;
    }
}

static cf_server_args_result cf_parse_args(int argc, char **argv, cf_blob_service *s)
{
    const cf_server_args shared = CF_SERVER_ARGS_OF("coffer-blob", cf_usage, s);
    s->key_cache_seconds = CF_BLOB_KEY_CACHE_DEFAULT;
    s->extent_grace = CF_BLOB_EXTENT_GRACE;
    s->extent_cleanup = CF_BLOB_EXTENT_CLEANUP_DEFAULT;
    cf_server_args_result r =
        cf_server_args_parse(argc, argv, &shared, cf_blob_options, cf_blob_option, s);
    if (r != CF_SERVER_ARGS_RUN)
        return r;
    bool vault_partial = (s->vault_url[0] || s->vault_ca[0] || s->tenant_id[0]) &&
                         !(s->vault_url[0] && s->vault_ca[0] && s->tenant_id[0]);
    if (!cf_server_args_complete(&shared, argc) || vault_partial) {
        if (vault_partial)
            fprintf(stderr, "coffer-blob: --vault-url, --vault-ca and --tenant-id go together\n");
        cf_usage(stderr);
        return CF_SERVER_ARGS_INVALID;
    }
    if (!s->console_origin[0] && s->vault_url[0]) { /* the vault URL's scheme://host:port */
        const char *host = strstr(s->vault_url, "://");
        host = host ? host + 3 : s->vault_url;
        int n = (int)(host - s->vault_url) + (int)strcspn(host, "/?#");
        snprintf(s->console_origin, sizeof s->console_origin, "%.*s", n, s->vault_url);
    }
    snprintf(s->url, sizeof s->url, "https://%s", s->listen);
    if (s->http_listen[0])
        snprintf(s->http_url, sizeof s->http_url, "http://%s", s->http_listen);
    return CF_SERVER_ARGS_RUN;
}

static bool cf_start_listener(cf_blob_service *svc, const char *listen, cf_slice cert, cf_slice key,
                              cf_http_server **out)
{
    cf_http_config config = {
        .name = "coffer-blob",
        .listen = listen,
        .tls_cert_pem = cert,
        .tls_key_pem = key,
        .max_body = CF_BLOB_MAX_BODY,
        .max_connections = 8192,
        .max_per_ip = 128,
        .timeout_seconds = 120,
        .cacheable = true,
        /* Up to a whole Put Blob: an upload refused from its headers (bad
         * signature, failed condition) still ends in Azure's error, not a
         * reset, for clients that send the body regardless. */
        .drain_max = CF_BLOB_MAX_PUT_SIZE + CF_MIB,
        .handler = cf_blob_handle,
        .begin = cf_blob_begin,
        .request_done = cf_blob_request_done,
        .ctx = svc,
    };
    return cf_http_start(&config, out);
}

/* Once per process, whatever the listeners. */
static void cf_register_metrics(const cf_blob_service *svc)
{
    if (!cf_metrics_register_data_dir(svc->data_dir))
        cf_log(CF_LOG_WARN, NULL, "metrics: %s", cf_error_detail());
}

/* When each kind of background work last ran. */
typedef struct {
    int64_t expired, cleaned;
} cf_blob_rounds;

/* A shared extent store's cleanup (RADOS; files are looked at only at
 * start-up, when nothing is in flight): extents left by crashes, and
 * partial writes stalled for longer than --extent-cleanup. */
static void cf_blob_cleanup_shared(cf_blob_service *svc, int64_t now, cf_blob_rounds *last)
{
    if (!cf_blob_store_extents_shared(svc->store) || now - last->cleaned < svc->extent_cleanup)
        return;
    last->cleaned = now;
    unsigned n = 0;
    if (!cf_blob_store_cleanup(svc->store, now - svc->extent_cleanup, &n))
        cf_log(CF_LOG_WARN, NULL, "cleaning up the extent store: %s", cf_error_detail());
    else if (n)
        cf_log(CF_LOG_INFO, NULL, "removed %u orphaned extents or partial writes", n);
}

/* One round of the background work: every front end anchors its audit
 * log; the rest on the leader only (every front end asks; on SQLite the
 * one process leads). */
static void cf_blob_background(cf_blob_service *svc, cf_blob_rounds *last)
{
    if (!cf_blob_anchor_audit(svc))
        cf_log(CF_LOG_WARN, NULL, "audit anchor: %s", cf_error_detail());
    bool leader = false;
    if (!cf_blob_store_lead(svc->store, &leader)) {
        cf_log(CF_LOG_WARN, NULL, "background work: %s", cf_error_detail());
        return;
    }
    if (!leader)
        return;
    unsigned n = 0;
    if (!cf_blob_store_sweep(svc->store, svc->extent_grace, &n))
        cf_log(CF_LOG_WARN, NULL, "removing unreferenced extents: %s", cf_error_detail());
    else if (n)
        cf_log(CF_LOG_INFO, NULL, "removed %u unreferenced extents", n);
    int64_t now = (int64_t)time(NULL);
    cf_blob_cleanup_shared(svc, now, last);
    if (now - last->expired < CF_EXPIRE_INTERVAL)
        return;
    last->expired = now;
    if (!cf_blob_expire_uncommitted(svc->store, now, &n))
        cf_log(CF_LOG_WARN, NULL, "expiring uncommitted blocks: %s", cf_error_detail());
    else if (n)
        cf_log(CF_LOG_INFO, NULL, "expired %u uncommitted blocks", n);
}

int main(int argc, char **argv)
{
    static cf_blob_service svc;
    cf_server_args_result args = cf_parse_args(argc, argv, &svc);
    if (args != CF_SERVER_ARGS_RUN)
        return args == CF_SERVER_ARGS_DONE ? 0 : 2;
    sigset_t stop;
    cf_server_process_init(&stop);

    cf_buf cert, key;
    cf_buf_init(&cert, CF_MIB);
    cf_buf_init_secret(&key, CF_MIB);
    cf_http_server *https = NULL, *http = NULL;
    if (!cf_secmem_init(1 << 25) || !cf_crypto_init() || !cf_blob_service_open(&svc, &cert, &key)) {
        cf_log(CF_LOG_ERROR, NULL, "start-up failed: %s (%s)", cf_error_detail(), cf_error_where());
        cf_buf_free(&key);
        cf_buf_free(&cert);
        cf_blob_service_close(&svc);
        return 1;
    }
    cf_register_metrics(&svc);
    bool started =
        cf_start_listener(&svc, svc.listen, cf_buf_slice(&cert), cf_buf_slice(&key), &https);
    cf_buf_free(&key);
    cf_buf_free(&cert);
    if (started && svc.http_listen[0]) {
        cf_log(CF_LOG_WARN, NULL,
               "plain HTTP on %s: development only; accounts that require "
               "secure transfer refuse it",
               svc.http_listen);
        started = cf_start_listener(&svc, svc.http_listen, (cf_slice){0}, (cf_slice){0}, &http);
    }
    if (!started) {
        cf_log(CF_LOG_ERROR, NULL, "start-up failed: %s", cf_error_detail());
        cf_http_stop(https);
        cf_blob_service_close(&svc);
        return 1;
    }
    cf_log(CF_LOG_INFO, NULL, "coffer-blob listening on %s, account %s at %s/%s", svc.listen,
           CF_BLOB_DEFAULT_ACCOUNT, svc.url, CF_BLOB_DEFAULT_ACCOUNT);
    int sig = 0;
    /* The first expiry an hour in; start-up cleaned up (bootstrap.c). */
    cf_blob_rounds last = {(int64_t)time(NULL), (int64_t)time(NULL)};
    int sweep = svc.extent_grace / CF_SWEEP_PER_GRACE;
    for (;;) {
        struct timespec wait = {sweep > 0 ? sweep : 1, 0};
        int got = sigtimedwait(&stop, NULL, &wait);
        if (got > 0) {
            sig = got;
            break;
        }
        cf_blob_background(&svc, &last);
    }
    cf_log(CF_LOG_INFO, NULL, "stopping on signal %d", sig);
    cf_http_stop(http);
    cf_http_stop(https);
    cf_blob_service_close(&svc);
    return 0;
}
