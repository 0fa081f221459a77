/*
 * What a service runs on, for its health endpoint (the vault's
 * GET /coffer/health, coffer-blob's GET /.coffer/health).  Nothing secret:
 * the seal's kind and token label, the store, when the served certificate
 * expires, the data directory's size, the audit log's length and head.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit_writer.h"
#include "crypto.h"
#include "fsutil.h"
#include "health_report.h"
#include "metrics.h"

/* The seal as seal.json records it (no key material is read). */
static json_t *cf_seal_json(const char *data_dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/seal.json", data_dir);
    json_t *doc = json_load_file(path, 0, NULL);
    const char *kind = json_string_value(json_object_get(doc, "seal"));
    const char *token = json_string_value(json_object_get(doc, "token"));
    const char *module = json_string_value(json_object_get(doc, "module"));
    json_t *out = json_pack("{s:s, s:s, s:s}", "type", kind ? kind : "unknown", "token",
                            token ? token : "", "module",
                            module && *module                     ? module
                            : kind && strcmp(kind, "pkcs11") == 0 ? "SoftHSM2 in the data directory"
                                                                  : "");
    json_decref(doc);
    return out;
}

static json_t *cf_tls_json(const char *path)
{
    cf_buf pem;
    cf_buf_init(&pem, 256 * 1024);
    int64_t not_after = 0;
    char cn[256] = "";
    bool ok = cf_read_file(path, pem.max, &pem) &&
              cf_x509_expiry(cf_buf_slice(&pem), &not_after, cn, sizeof cn);
    cf_buf_free(&pem);
    if (!ok)
        return json_pack("{s:s}", "error", "the certificate cannot be read");
    return json_pack("{s:I, s:I, s:s}", "not_after", (json_int_t)not_after, "days_left",
                     (json_int_t)((not_after - (int64_t)time(NULL)) / 86400), "subject", cn);
}

json_t *cf_health_report(const cf_health_info *info)
{
    uint64_t bytes, files, lines;
    char head[65];
    cf_metrics_data_dir(&bytes, &files);
    cf_audit_head(info->audit, &lines, head);
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:{s:s, s:I, s:I}, s:{s:I, s:s}}", "service",
                     info->service, "url", info->url, "store", info->store, "seal",
                     cf_seal_json(info->data_dir), "tls", cf_tls_json(info->cert_path), "data_dir",
                     "path", info->data_dir, "bytes", (json_int_t)bytes, "files", (json_int_t)files,
                     "audit", "lines", (json_int_t)lines, "head", head);
}
