/*
 * coffer audit verify FILE... [--expect-lines N] [--expect-head HASH]
 *                   [--store postgres:CONNINFO [--service vault|blob]]
 *
 * Checks audit logs offline (docs/audit.md): each file's format, sequence
 * and hash chain, with bounded memory whatever its size.  An anchor given
 * on the command line (one file only) must match too.  With --store, the
 * logs are the front ends of one service sharing a PostgreSQL store: every
 * log must match the latest anchor its front end recorded there, and every
 * chain the store knows must have its log among the files, so a log cut
 * short, rewritten or left out is caught.  Exit 0 when all is intact, 1
 * otherwise.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "audit_anchor.h"
#include "audit_log.h"
#include "cli.h"
#include "server_args.h"

/* Most chains (front ends) one verification takes. */
#define CF_AUDIT_CHAINS_MAX 64

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

static void cf_audit_print_json(const char *path, const cf_audit_report *rep)
{
    json_t *o = NULL;
    switch (rep->verdict) {
    case CF_AUDIT_INTACT:
        o = json_pack("{s:s, s:b, s:I, s:s}", "file", path, "intact", 1, "lines",
                      (json_int_t)rep->lines, "head", rep->head_hash);
        break;
    case CF_AUDIT_BROKEN:
        o = json_pack("{s:s, s:b, s:I, s:I, s:s, s:s}", "file", path, "intact", 0, "lines",
                      (json_int_t)rep->lines, "bad_line", (json_int_t)rep->bad_line, "reason",
                      rep->reason, "head", rep->head_hash);
        break;
    case CF_AUDIT_UNREADABLE:
    default:
        o = json_pack("{s:s, s:b, s:s}", "file", path, "intact", 0, "error", rep->reason);
        break;
    }
    cf_out_json(o);
    json_decref(o);
}

/* The latest anchors of a service's chains, copied out of the store. */
typedef struct {
    struct {
        char chain[65], head[65], front_end[128];
        unsigned long long lines;
        bool matched; /* a file given has this chain */
    } row[CF_AUDIT_CHAINS_MAX];
    size_t n;
} cf_anchor_set;

static bool cf_anchor_collect(void *ctx, const cf_audit_anchor *an)
{
    cf_anchor_set *set = ctx;
    CF_ENSURE(set->n < CF_AUDIT_CHAINS_MAX, CF_ERR_TOO_LARGE, "too many audit chains");
    snprintf(set->row[set->n].chain, sizeof set->row[set->n].chain, "%s", an->chain);
    snprintf(set->row[set->n].head, sizeof set->row[set->n].head, "%s", an->head);
    snprintf(set->row[set->n].front_end, sizeof set->row[set->n].front_end, "%s", an->front_end);
    set->row[set->n].lines = an->lines;
    set->n++;
    return true;
}

static bool cf_anchors_load(cf_cli *cli, cf_anchor_set *set)
{
    const char *spec = cf_cli_opt(cli, "store");
    const char *service = cf_cli_opt(cli, "service");
    cf_store_spec store;
    if (!cf_store_spec_parse(spec, &store) || store.backend != CF_DB_POSTGRES)
        return cf_cli_usage("--store: expected postgres:CONNINFO (the front ends' shared store)");
    if (!service)
        service = "vault";
    if (strcmp(service, "vault") != 0 && strcmp(service, "blob") != 0)
        return cf_cli_usage("--service: expected 'vault' or 'blob'");
    const cf_db_config config = {
        .backend = CF_DB_POSTGRES,
        .conninfo = store.conninfo,
        .what = "the store",
        .stmt_cache = 8,
        .store_name = service,
    };
    cf_db *db = NULL;
    CF_GUARD(cf_db_open(&config, &db));
    bool ok = cf_audit_anchor_each_latest(db, service, cf_anchor_collect, set);
    cf_db_close(db);
    return ok;
}

/* Verifies one file; false when it is not intact (reported), or unreadable. */
static bool cf_verify_one(cf_cli *cli, const char *path, const cf_audit_expect *ex,
                          const char *anchored_by)
{
    cf_audit_report rep;
    bool intact = cf_audit_verify(path, ex, &rep);
    if (cli->json)
        cf_audit_print_json(path, &rep);
    else if (rep.verdict == CF_AUDIT_UNREADABLE)
        printf("%s: cannot be read: %s\n", path, rep.reason);
    else if (intact)
        printf("%s: audit log intact: %llu lines, head %s%s%s\n", path, rep.lines, rep.head_hash,
               anchored_by ? ", matches the anchor of " : "", anchored_by ? anchored_by : "");
    else
        printf("%s: audit log BROKEN at line %llu: %s\n", path, rep.bad_line, rep.reason);
    return intact;
}

bool cf_cmd_audit_verify(cf_cli *cli)
{
    cf_audit_expect given;
    CF_GUARD(cf_audit_expect_from_args(cli, &given));
    size_t n = cli->args->n_pos;
    if ((given.lines || given.head) && n != 1)
        return cf_cli_usage("--expect-lines and --expect-head check one file");
    bool shared = cf_cli_opt(cli, "store") != NULL;
    static cf_anchor_set set; /* large: not on the stack */
    memset(&set, 0, sizeof set);
    if (shared)
        CF_GUARD(cf_anchors_load(cli, &set));
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        const char *path = cli->args->pos[i];
        cf_audit_expect ex = given;
        const char *by = NULL;
        char chain[65] = "";
        if (shared && cf_audit_chain_id(path, chain) && chain[0]) {
            for (size_t k = 0; k < set.n; k++) {
                if (strcmp(set.row[k].chain, chain) != 0)
                    continue;
                set.row[k].matched = true;
                ex.lines = set.row[k].lines;
                ex.head = set.row[k].head;
                by = set.row[k].front_end;
            }
        }
        if (!cf_verify_one(cli, path, &ex, by))
            all = false;
    }
    for (size_t k = 0; k < set.n; k++) {
        if (set.row[k].matched)
            continue;
        all = false;
        if (!cli->json)
            printf("missing: the store has an audit chain of front end %s (%llu lines, head %s)"
                   " and no file given holds it\n",
                   set.row[k].front_end, set.row[k].lines, set.row[k].head);
    }
    if (!all)
        cli->exit_code = CF_CLI_EXIT_FAIL;
    return true;
}
