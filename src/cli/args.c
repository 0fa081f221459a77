/*
 * The command line of `coffer`, below the command table: splitting argv
 * into options and words, looking options up, checked numbers and names,
 * and the bookkeeping that turns a usage error into exit code 2.  Kept
 * apart from cli.c (main and the table) so that it can be tested alone.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- error bookkeeping ---- */

/* What main needs to know of the failure: the exit code (2 for usage) and
 * whether the reason is already on stderr. */
static bool cf_usage_error;
static bool cf_reported;

bool cf_cli_usage(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cf_usage_error = true;
    CF_RAISE(CF_ERR_BAD_INPUT, msg);
    return false;
}

void cf_cli_mark_reported(void)
{
    cf_reported = true;
}

bool cf_cli_usage_failed(void)
{
    return cf_usage_error;
}

bool cf_cli_error_reported(void)
{
    return cf_reported;
}

bool cf_cli_parse_int(const char *opt, const char *s, long long min, long long max, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max)
        return cf_cli_usage("--%s: expected an integer in [%lld, %lld]", opt, min, max);
    *out = v;
    return true;
}

static bool cf_check_chars(const char *what, const char *s, size_t max, bool dash)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return cf_cli_usage("invalid %s '%.64s'", what, s);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (dash && c == '-');
        if (!ok)
            return cf_cli_usage("invalid %s: only letters, digits%s are allowed", what,
                                dash ? " and '-'" : "");
    }
    return true;
}

bool cf_cli_check_name(const char *name)
{
    return cf_check_chars("key name", name, 127, true);
}

bool cf_cli_check_user_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || !isalnum((unsigned char)name[0]) ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") != n)
        return cf_cli_usage("invalid user name: 1-64 letters, digits and . _ @ -, starting with "
                            "a letter or digit");
    return true;
}

bool cf_cli_check_version(const char *version)
{
    return cf_check_chars("key version", version, 64, false);
}

/* ---- option lookup ---- */

bool cf_cli_in_list(const char *list, const char *word, size_t word_len)
{
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == word_len && strncmp(p, word, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

const char *cf_cli_opt(const cf_cli *cli, const char *name)
{
    for (size_t i = 0; i < cli->args->n_opts; i++)
        if (strcmp(cli->args->opts[i].name, name) == 0)
            return cli->args->opts[i].value;
    return NULL;
}

bool cf_cli_flag(const cf_cli *cli, const char *name)
{
    for (size_t i = 0; i < cli->args->n_opts; i++)
        if (strcmp(cli->args->opts[i].name, name) == 0)
            return true;
    return false;
}

/* ---- splitting ---- */

bool cf_cli_split_argv(int argc, char **argv, const char *flag_names, cf_cli_args *args,
                       const char **words, size_t *n_words, size_t max_words)
{
    bool only_words = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_words || a[0] != '-' || a[1] == 0) {
            if (*n_words == max_words)
                return cf_cli_usage("too many arguments");
            words[(*n_words)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_words = true;
            continue;
        }
        if (strcmp(a, "-h") == 0)
            a = "--help";
        if (a[1] != '-')
            return cf_cli_usage("unknown option '%.64s'", a);
        char *name = a + 2;
        char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        if (args->n_opts == CF_CLI_MAX_OPTS)
            return cf_cli_usage("too many options");
        cf_cli_option *o = &args->opts[args->n_opts];
        if (cf_cli_in_list(flag_names, name, name_len)) {
            if (eq)
                return cf_cli_usage("--%.*s takes no value", (int)name_len, name);
            o->value = NULL;
        } else if (eq) {
            *eq = 0; /* argv is ours to edit */
            o->value = eq + 1;
        } else {
            if (i + 1 >= argc)
                return cf_cli_usage("--%.64s needs a value", name);
            o->value = argv[++i];
        }
        o->name = name;
        for (size_t k = 0; k < args->n_opts; k++)
            if (strcmp(args->opts[k].name, o->name) == 0)
                return cf_cli_usage("--%.64s given twice", o->name);
        args->n_opts++;
    }
    return true;
}
