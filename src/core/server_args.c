/* Command-line parsing shared by Coffer's servers; see server_args.h. */
#include "server_args.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

#define CF_SERVER_OWN_MAX 48

static const struct option cf_shared_options[] = {
    {"data-dir", required_argument, 0, 'd'},
    {"listen", required_argument, 0, 'l'},
    {"log-level", required_argument, 0, 'L'},
    {"dev-seal", no_argument, 0, 'D'},
    {"pkcs11-module", required_argument, 0, 'M'},
    {"pkcs11-token", required_argument, 0, 'K'},
    {"pkcs11-pin-file", required_argument, 0, 'N'},
    {"store", required_argument, 0, 'S'},
    {"version", no_argument, 0, 'V'},
    {"help", no_argument, 0, 'h'},
};
#define CF_SHARED_COUNT (sizeof cf_shared_options / sizeof cf_shared_options[0])

bool cf_server_copy_arg(char *out, size_t size, const char *value)
{
    int n = snprintf(out, size, "%s", value);
    return n >= 0 && (size_t)n < size;
}

bool cf_server_parse_int(const char *s, long min, long max, int *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

bool cf_store_spec_parse(const char *value, cf_store_spec *out)
{
    static const char pg[] = "postgres:";
    if (strcmp(value, "sqlite") == 0) {
        *out = (cf_store_spec){.backend = CF_DB_SQLITE};
        return true;
    }
    if (strncmp(value, pg, sizeof pg - 1) == 0) {
        *out = (cf_store_spec){.backend = CF_DB_POSTGRES, .conninfo = value + sizeof pg - 1};
        return true;
    }
    return false;
}

/* One shared option; false for an invalid value. */
static bool cf_shared_option(const cf_server_args *a, int code, const char *value)
{
    switch (code) {
    case 'd': return cf_server_copy_arg(a->data_dir, a->data_dir_size, value);
    case 'l': return cf_server_copy_arg(a->listen, a->listen_size, value);
    case 'L': return cf_log_set_level_name(value);
    case 'D': a->seal->dev_seal = true; return true;
    case 'M': a->seal->module = value; return true;
    case 'K': a->seal->token_label = value; return true;
    case 'N': a->seal->pin_file = value; return true;
    case 'S': return cf_store_spec_parse(value, a->store);
    default: return false;
    }
}

cf_server_args_result cf_server_args_parse(int argc, char **argv, const cf_server_args *args,
                                           const struct option *own, cf_server_option_fn on_own,
                                           void *ctx)
{
    /* One table for getopt_long: the server's options, then the shared. */
    struct option table[CF_SERVER_OWN_MAX + CF_SHARED_COUNT + 1];
    size_t n = 0;
    for (; own[n].name; n++)
        if (n == CF_SERVER_OWN_MAX)
            abort(); /* a programming error: raise the maximum */
    memcpy(table, own, n * sizeof *own);
    memcpy(table + n, cf_shared_options, sizeof cf_shared_options);
    memset(&table[n + CF_SHARED_COUNT], 0, sizeof table[0]);

    optind = 0; /* a fresh scan, also when called again (tests) */
    int c, index = -1;
    while ((c = getopt_long(argc, argv, "", table, &index)) != -1) {
        const char *complaint = NULL;
        bool ok;
        if (c == 'V') {
            printf("%s 0.1.0\n", args->name);
            return CF_SERVER_ARGS_DONE;
        }
        if (c == 'h') {
            args->usage(stdout);
            return CF_SERVER_ARGS_DONE;
        }
        if (c == '?' || c == ':')
            ok = false;
        else if (c > 0 && strchr(CF_SERVER_ARGS_RESERVED, c))
            ok = cf_shared_option(args, c, optarg);
        else
            ok = on_own(ctx, c, optarg, &complaint);
        if (!ok) {
            if (complaint)
                fprintf(stderr, "%s: %s\n", args->name, complaint);
            else if (index >= 0 && c != '?')
                fprintf(stderr, "%s: invalid value for --%s\n", args->name, table[index].name);
            else
                args->usage(stderr);
            return CF_SERVER_ARGS_INVALID;
        }
        index = -1;
    }
    return CF_SERVER_ARGS_RUN;
}

bool cf_server_args_complete(const cf_server_args *args, int argc)
{
    return optind == argc && args->data_dir[0] && args->listen[0];
}
