/*
 * GET /console/...: the console's static files (assets.h), public like any
 * web page's (what they can do needs a signed-in user's token).  Every
 * page carries a Content-Security-Policy without 'unsafe-inline' or
 * 'unsafe-eval': scripts and styles come from these files only.  Files are
 * revalidated by ETag on every load, so a new build is seen at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "console.h"
#include "json_secure.h"
#include "oauth.h"

static const cf_asset *cf_asset_find(const char *path)
{
    for (size_t i = 0; i < cf_assets_count; i++)
        if (strcmp(cf_assets[i].path, path) == 0)
            return &cf_assets[i];
    return NULL;
}

/* What the console needs to know to sign in and to find the blob
 * service: nothing secret. */
static bool cf_console_config(cf_vault *vault, cf_http_response *resp)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "tenant_id", vault->tenant_id, "client_id",
                          CF_CONSOLE_CLIENT_ID, "vault_url", vault->url, "vault_resource",
                          vault->resource, "blob_url", vault->console_blob_url);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    bool ok = text && cf_buf_append_str(&resp->body, text);
    cf_json_free_text(text);
    resp->status = 200;
    resp->content_type = "application/json; charset=utf-8";
    return ok;
}

bool cf_console_route(cf_vault *vault, cf_http_request *req, cf_http_response *resp)
{
    if (strncmp(req->path, "/console/", 9) != 0 && strcmp(req->path, "/console") != 0)
        return false;
    req->operation = "GET /console";
    if (strcmp(req->method, "GET") == 0 && strcmp(req->path, "/console/config.json") == 0) {
        if (!cf_http_add_header(resp, "Cache-Control", "no-cache") ||
            !cf_console_config(vault, resp))
            resp->status = 500;
        return true;
    }
    bool get = strcmp(req->method, "GET") == 0;
    const char *path = strcmp(req->path, "/console/") == 0 || strcmp(req->path, "/console") == 0
                           ? "/console/index.html"
                           : req->path;
    const cf_asset *a = get ? cf_asset_find(path) : NULL;
    char csp[1024];
    snprintf(csp, sizeof csp,
             "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
             "connect-src 'self'%s%s; form-action 'self'; frame-ancestors 'none'; "
             "base-uri 'none'; object-src 'none'",
             vault->console_blob_url[0] ? " " : "", vault->console_blob_url);
    bool ok = cf_http_add_header(resp, "Content-Security-Policy", csp) &&
              cf_http_add_header(resp, "X-Frame-Options", "DENY") &&
              cf_http_add_header(resp, "Referrer-Policy", "no-referrer") &&
              cf_http_add_header(resp, "Cache-Control", "no-cache");
    if (ok && !a) {
        resp->status = get ? 404 : 405;
        resp->content_type = "text/plain; charset=utf-8";
        ok = cf_buf_append_str(&resp->body, get ? "Not found.\n" : "Method not allowed.\n");
    } else if (ok) {
        const char *match = cf_http_header(req, "If-None-Match");
        ok = cf_http_add_header(resp, "ETag", a->etag);
        resp->content_type = a->content_type;
        if (match && strcmp(match, a->etag) == 0)
            resp->status = 304;
        else {
            resp->status = 200;
            ok = ok && cf_buf_append(&resp->body, a->data, a->len);
        }
    }
    if (!ok)
        resp->status = 500;
    return true;
}
