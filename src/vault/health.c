/*
 * For the console and people on call; administrators only:
 *
 * GET /coffer/health (health/read/action): what this front end runs on.
 * Nothing secret: the seal's kind and token label, where the store is,
 * when the served certificate expires, the data directory's size, the
 * audit log's length and head.
 *
 * GET /coffer/audit (audit/read/action, which Reader's "*\/read" does not
 * reach): this front end's audit log, filtered (http/audit_query.c).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit_query.h"
#include "health_report.h"
#include "resource.h"

bool cf_health_handler(cf_vault_call *call)
{
    cf_vault *vault = call->vault;
    char cert[PATH_MAX];
    if (vault->tls_cert_file)
        snprintf(cert, sizeof cert, "%s", vault->tls_cert_file);
    else
        snprintf(cert, sizeof cert, "%s/tls/server.crt", vault->data_dir);
    const cf_health_info info = {
        .service = "coffer-vault",
        .url = vault->url,
        .store = vault->store_spec.backend == CF_DB_POSTGRES ? "postgresql" : "sqlite",
        .data_dir = vault->data_dir,
        .cert_path = cert,
        .audit = vault->audit,
    };
    json_t *reply = cf_health_report(&info);
    CF_ENSURE_ALLOC(reply);
    if (json_object_set_new(reply, "tenant_id", json_string(vault->tenant_id)) != 0) {
        json_decref(reply);
        CF_BAIL(CF_ERR_NOMEM, "out of memory");
    }
    return cf_vault_reply(call, 200, reply);
}

bool cf_audit_read_handler(cf_vault_call *call)
{
    json_t *reply = NULL;
    CF_GUARD(cf_audit_query(call->http, call->vault->data_dir, &reply));
    return cf_vault_reply(call, 200, reply);
}
