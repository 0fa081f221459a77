/*
 * coffer secret set NAME --file FILE|- [--content-type T] [--tags k=v,...]
 *                   [--disabled] [--not-before UNIX] [--expires UNIX]
 *
 * The value comes from a file or standard input ("-"), never from the
 * command line, where other users could read it (ps, /proc).  It is read
 * into locked memory, sent once and wiped.  The other secret commands
 * (show, list, versions, update, delete, recover, purge, backup, restore)
 * are the ones keys have (keys_cmd.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "secmem.h"

/* Key Vault's limit for a secret value. */
#define CF_SECRET_MAX (25 * 1024)

bool cf_cli_read_stdin(cf_buf *out)
{
    uint8_t chunk[4096];
    bool ok = true;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break;
        if (n < 0) {
            ok = false;
            CF_RAISE(CF_ERR_IO, "cannot read standard input");
            break;
        }
        if (!cf_buf_append(out, chunk, (size_t)n)) {
            ok = false;
            break;
        }
    }
    cf_memzero(chunk, sizeof chunk);
    return ok;
}

/* The value, at most CF_SECRET_MAX bytes, from --file (a path, or - for
 * standard input); `value` holds one byte more, to notice a longer one. */
static bool cf_secret_value(const cf_cli *cli, cf_buf *value)
{
    const char *file = cf_cli_opt(cli, "file");
    if (!file)
        return cf_cli_usage("secret set: --file FILE (or --file - for standard input) is required; "
                            "the value is never taken from the command line");
    bool from_stdin = strcmp(file, "-") == 0;
    struct stat st;
    if (!from_stdin && stat(file, &st) == 0 && st.st_size > CF_SECRET_MAX)
        return cf_cli_usage("the secret value is larger than 25 KiB");
    bool ok = from_stdin ? cf_cli_read_stdin(value) : cf_read_file(file, value->max, value);
    if ((!ok && cf_error_code() == CF_ERR_TOO_LARGE) || (ok && value->len > CF_SECRET_MAX))
        return cf_cli_usage("the secret value is larger than 25 KiB");
    if (!ok)
        return cf_cli_usage("--file %.128s: %s", file, cf_error_detail());
    return true;
}

bool cf_cmd_secret_set(cf_cli *cli)
{
    cf_buf value;
    cf_buf_init_secret(&value, CF_SECRET_MAX + 1);
    char path[512];
    json_t *body = json_object();
    CF_ENSURE_ALLOC(body);
    cli->hide_value = true; /* the caller has it; no need to echo it */
    bool ok = cf_secret_value(cli, &value);
    json_t *v = ok ? json_stringn((const char *)value.data, value.len) : NULL;
    if (ok && !v)
        ok = cf_cli_usage("the secret value must be UTF-8 text without NUL bytes");
    ok = ok && json_object_set_new(body, "value", v) == 0 && cf_cli_common_body(cli, body, body) &&
         snprintf(path, sizeof path, "/secrets/%s", cli->args->pos[0]) < (int)sizeof path &&
         cf_cli_bundle_call(cli, "PUT", path, body);
    json_decref(body);
    cf_buf_free(&value);
    return ok;
}
