/*
 * coffer audit verify FILE [--expect-lines N] [--expect-head HASH]
 *
 * Checks a vault audit log offline (docs/audit.md): no connection, no vault
 * state, only the file.  Exit 0 when intact, 1 when broken or unreadable.
 * The verifier (src/core/audit_log.c) reads with bounded memory, so any
 * size of log can be checked.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "audit_log.h"
#include "cli.h"

static bool cf_audit_expect_from_args(cf_cli *cli, cf_audit_expect *ex)
{
    memset(ex, 0, sizeof *ex);
    const char *lines = cf_cli_opt(cli, "expect-lines");
    if (lines) {
        long long v;
        CF_GUARD(cf_cli_parse_int("expect-lines", lines, 1, LLONG_MAX, &v));
        ex->lines = (unsigned long long)v;
    }
    const char *head = cf_cli_opt(cli, "expect-head");
    if (head) {
        bool ok = strlen(head) == 2 * CF_AUDIT_HASH_LEN;
        for (size_t i = 0; ok && head[i]; i++)
            ok = strchr("0123456789abcdefABCDEF", head[i]) != NULL;
        if (!ok)
            return cf_cli_usage("--expect-head: expected 64 hex digits");
        ex->head = head;
    }
    return true;
}

static void cf_audit_print_json(const cf_audit_report *rep)
{
    json_t *o = NULL;
    switch (rep->verdict) {
    case CF_AUDIT_INTACT:
        o = json_pack("{s:b, s:I, s:s}", "intact", 1, "lines", (json_int_t)rep->lines, "head",
                      rep->head_hash);
        break;
    case CF_AUDIT_BROKEN:
        o = json_pack("{s:b, s:I, s:I, s:s, s:s}", "intact", 0, "lines", (json_int_t)rep->lines,
                      "bad_line", (json_int_t)rep->bad_line, "reason", rep->reason, "head",
                      rep->head_hash);
        break;
    case CF_AUDIT_UNREADABLE:
    default: o = json_pack("{s:b, s:s}", "intact", 0, "error", rep->reason); break;
    }
    cf_out_json(o);
    json_decref(o);
}

bool cf_cmd_audit_verify(cf_cli *cli)
{
    cf_audit_expect ex;
    CF_GUARD(cf_audit_expect_from_args(cli, &ex));
    cf_audit_report rep;
    bool intact = cf_audit_verify(cli->args->pos[0], &ex, &rep);
    if (cli->json)
        cf_audit_print_json(&rep);
    if (rep.verdict == CF_AUDIT_UNREADABLE)
        return false; /* main prints the error and exits 1 */
    if (intact) {
        if (!cli->json)
            printf("audit log intact: %llu lines, head %s\n", rep.lines, rep.head_hash);
        return true;
    }
    if (!cli->json)
        printf("audit log BROKEN at line %llu: %s\n", rep.bad_line, rep.reason);
    cli->exit_code = CF_CLI_EXIT_FAIL;
    return true;
}
