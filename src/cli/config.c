/*
 * Connection settings.  Each one is taken from the first source that has
 * it: the command-line flag, then the environment, then the vault's
 * bootstrap.json (--bootstrap FILE or COFFER_BOOTSTRAP).
 *
 *   setting        flag             environment           bootstrap.json
 *   vault URL      --vault          COFFER_VAULT_URL      vault_url
 *   tenant         --tenant         AZURE_TENANT_ID       tenant_id
 *   client id      --client-id      AZURE_CLIENT_ID       client_id
 *   client secret  --client-secret  AZURE_CLIENT_SECRET   client_secret
 *   CA file        --ca-cert        COFFER_CA_CERT        ca_cert
 *   authority      -                AZURE_AUTHORITY_HOST  authority_host
 *   resource       -                -                     resource
 *
 * Tenant, authority and resource may stay empty: client.c then learns them
 * from the vault's 401 challenge.  The client secret is copied into secret
 * memory; when it came from argv the argv copy is wiped at once, so it is
 * visible in /proc/PID/cmdline only for the first instants of the process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsutil.h"
#include "secmem.h"

typedef struct {
    json_t *doc; /* bootstrap.json, or NULL */
} cf_sources;

static bool cf_load_bootstrap(const char *path, cf_sources *src)
{
    cf_buf text;
    cf_buf_init_secret(&text, CF_CLI_BOOTSTRAP_MAX);
    bool ok = cf_read_file(path, CF_CLI_BOOTSTRAP_MAX, &text);
    if (ok) {
        json_error_t jerr;
        src->doc = json_loadb((const char *)text.data, text.len, JSON_REJECT_DUPLICATES, &jerr);
        if (!src->doc || !json_is_object(src->doc)) {
            json_decref(src->doc);
            src->doc = NULL;
            CF_RAISE(CF_ERR_BAD_INPUT, NULL);
            ok = false;
        }
    }
    cf_buf_free(&text);
    if (!ok)
        fprintf(stderr, "coffer: cannot read the bootstrap file %s: %s\n", path,
                cf_error_code() == CF_ERR_BAD_INPUT ? "not a JSON object" : cf_error_detail());
    if (!ok)
        cf_cli_mark_reported();
    return ok;
}

/* The first non-empty value of flag, environment variable and bootstrap
 * member; NULL when none has one. */
static const char *cf_pick(const cf_cli *cli, const cf_sources *src, const char *flag,
                           const char *env, const char *member)
{
    const char *v = flag ? cf_cli_opt(cli, flag) : NULL;
    if (v && *v)
        return v;
    v = env ? getenv(env) : NULL;
    if (v && *v)
        return v;
    v = member && src->doc ? json_string_value(json_object_get(src->doc, member)) : NULL;
    return v && *v ? v : NULL;
}

static bool cf_set(char *out, size_t len, const char *v, const char *what)
{
    if (!v)
        return true;
    int n = snprintf(out, len, "%s", v);
    if (n < 0 || (size_t)n >= len)
        return cf_cli_usage("the %s is too long", what);
    return true;
}

static void cf_trim_slashes(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        s[--n] = 0;
}

static bool cf_check_https(const char *url, const char *what)
{
    if (strncmp(url, "https://", 8) != 0 || url[8] == 0)
        return cf_cli_usage("the %s must be an https:// URL", what);
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' || (unsigned char)*p >= 0x7f)
            return cf_cli_usage("the %s contains characters not allowed in a URL", what);
    return true;
}

static bool cf_check_tenant(const char *t)
{
    for (const char *p = t; *p; p++) {
        char c = *p;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '.'))
            return cf_cli_usage("the tenant id may hold only letters, digits, '-' and '.'");
    }
    return true;
}

static bool cf_take_secret(cf_cli *cli, const cf_sources *src, cf_cli_conn *conn)
{
    char *flag = NULL;
    for (size_t i = 0; i < cli->args->n_opts; i++)
        if (strcmp(cli->args->opts[i].name, "client-secret") == 0)
            flag = cli->args->opts[i].value;
    const char *v = cf_pick(cli, src, "client-secret", "AZURE_CLIENT_SECRET", "client_secret");
    bool ok = v && cf_buf_append_str(&conn->secret, v) && cf_buf_terminate(&conn->secret);
    if (flag)
        cf_memzero(flag, strlen(flag));
    if (!v)
        return cf_cli_usage("no client secret: use AZURE_CLIENT_SECRET, --bootstrap or "
                            "--client-secret");
    return ok;
}

static bool cf_fill(cf_cli *cli, const cf_sources *src, cf_cli_conn *conn)
{
    CF_GUARD(cf_set(conn->vault_url, sizeof conn->vault_url,
                    cf_pick(cli, src, "vault", "COFFER_VAULT_URL", "vault_url"), "vault URL"));
    CF_GUARD(cf_set(conn->tenant, sizeof conn->tenant,
                    cf_pick(cli, src, "tenant", "AZURE_TENANT_ID", "tenant_id"), "tenant id"));
    CF_GUARD(cf_set(conn->client_id, sizeof conn->client_id,
                    cf_pick(cli, src, "client-id", "AZURE_CLIENT_ID", "client_id"), "client id"));
    CF_GUARD(cf_set(conn->ca_cert, sizeof conn->ca_cert,
                    cf_pick(cli, src, "ca-cert", "COFFER_CA_CERT", "ca_cert"), "CA file name"));
    CF_GUARD(cf_set(conn->authority, sizeof conn->authority,
                    cf_pick(cli, src, NULL, "AZURE_AUTHORITY_HOST", "authority_host"),
                    "authority host"));
    CF_GUARD(cf_set(conn->resource, sizeof conn->resource,
                    cf_pick(cli, src, NULL, NULL, "resource"), "resource"));
    CF_GUARD(cf_take_secret(cli, src, conn));

    if (!conn->vault_url[0])
        return cf_cli_usage("no vault URL: use --vault, COFFER_VAULT_URL or --bootstrap");
    if (!conn->client_id[0])
        return cf_cli_usage("no client id: use --client-id, AZURE_CLIENT_ID or --bootstrap");
    cf_trim_slashes(conn->vault_url);
    cf_trim_slashes(conn->authority);
    CF_GUARD(cf_check_https(conn->vault_url, "vault URL"));
    if (conn->authority[0])
        CF_GUARD(cf_check_https(conn->authority, "authority host"));
    return cf_check_tenant(conn->tenant);
}

bool cf_cli_conn_resolve(cf_cli *cli, cf_cli_conn *conn)
{
    cf_sources src = {NULL};
    const char *boot = cf_pick(cli, &src, "bootstrap", "COFFER_BOOTSTRAP", NULL);
    bool ok = !boot || cf_load_bootstrap(boot, &src);
    ok = ok && cf_fill(cli, &src, conn);
    json_decref(src.doc);
    return ok;
}

void cf_cli_conn_free(cf_cli_conn *conn)
{
    cf_buf_free(&conn->secret);
}
