/*
 * CORS for browser clients, from the account's Blob service properties (the
 * <Cors> rules set through Set Blob Service Properties), as Azure applies
 * them:
 *
 *   - a preflight (OPTIONS with Origin and Access-Control-Request-Method) is
 *     answered without credentials: 200 with the Access-Control-Allow-*
 *     headers of the first rule that allows the origin, the method and every
 *     requested header; 403 CorsPreflightFailure otherwise (raised, for the
 *     router to render);
 *   - an actual request with an Origin header gets Access-Control-Allow-Origin
 *     and Access-Control-Expose-Headers when a rule allows its origin and
 *     method; it is authorized exactly as without CORS.
 *
 * The console's origin (the vault's, or --console-origin) is allowed on
 * every path, the admin API and /metrics included, whatever the account's
 * rules: the console calls with the signed-in person's vault token, and
 * no response is ever credentialed (no cookies here to ride along).
 *
 * Origins match exactly (case-insensitively) or "*"; header names match
 * exactly or by a prefix ending in "*" ("x-ms-meta-*").  Rules are read from
 * the store per request that carries an Origin header, so a change applies
 * at once; requests without one never pay for it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "blob_service.h"

/* Whether comma-separated `list` holds `item` (exactly, or by a
 * "prefix*" entry when prefixes are allowed; "*" holds everything). */
static bool cf_cors_list_has(const char *list, const char *item, size_t item_len, bool prefixes)
{
    for (const char *p = list; p && *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m && p[m - 1] == ' ')
            m--;
        if (m == 1 && p[0] == '*')
            return true;
        if (m == item_len && strncasecmp(p, item, m) == 0)
            return true;
        if (prefixes && m > 1 && p[m - 1] == '*' && item_len >= m - 1 &&
            strncasecmp(p, item, m - 1) == 0)
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

/* Every header named in the comma-separated request list is allowed. */
static bool cf_cors_headers_allowed(const cf_blob_cors_rule *r, const char *requested)
{
    for (const char *p = requested; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if (n && !cf_cors_list_has(r->allowed_headers, p, n, true))
            return false;
        p += n;
    }
    return true;
}

static const cf_blob_cors_rule *cf_cors_match(const cf_blob_service_props *props,
                                              const char *origin, const char *method,
                                              const char *requested_headers)
{
    for (size_t i = 0; i < props->n_cors; i++) {
        const cf_blob_cors_rule *r = &props->cors[i];
        if (cf_cors_list_has(r->allowed_origins, origin, strlen(origin), false) &&
            cf_cors_list_has(r->allowed_methods, method, strlen(method), false) &&
            (!requested_headers || cf_cors_headers_allowed(r, requested_headers)))
            return r;
    }
    return NULL;
}

/* The account's CORS rules into `props` (free it in every case); false
 * when there are none to apply or they cannot be read. */
static bool cf_cors_load(cf_blob_call *call, cf_blob_service_props *props)
{
    cf_buf stored;
    cf_buf_init(&stored, CF_BLOB_SERVICE_PROPS_MAX);
    cf_blob_service_props_init(props);
    bool ok = cf_blob_service_props_get(call->svc->store, call->account, &stored) && stored.len;
    if (ok) {
        cf_blob_service_props_free(props);
        ok = cf_blob_xml_parse_service_props(cf_buf_slice(&stored), props);
        if (!ok)
            cf_blob_service_props_init(props);
    }
    cf_buf_free(&stored);
    return ok && props->n_cors > 0;
}

static bool cf_cors_allow_origin(cf_blob_call *call, const cf_blob_cors_rule *r, const char *origin)
{
    bool any = cf_cors_list_has(r->allowed_origins, "*", 1, false) &&
               !cf_cors_list_has(r->allowed_origins, origin, strlen(origin), false);
    CF_GUARD(cf_http_add_header(call->resp, "Access-Control-Allow-Origin", any ? "*" : origin));
    if (!any)
        CF_GUARD(cf_http_add_header(call->resp, "Access-Control-Allow-Credentials", "true"));
    return cf_http_add_header(call->resp, "Vary", "Origin");
}

/* How long a browser may reuse the console's preflight answer. */
#define CF_CONSOLE_PREFLIGHT_AGE "600"

bool cf_blob_cors_from_console(const cf_blob_call *call)
{
    const char *origin = cf_blob_header(call, "Origin");
    return origin && call->svc->console_origin[0] &&
           strcasecmp(origin, call->svc->console_origin) == 0;
}

bool cf_blob_cors_console_preflight(cf_blob_call *call)
{
    const char *headers = cf_blob_header(call, "Access-Control-Request-Headers");
    CF_ENSURE_REASON(!headers || strlen(headers) <= 1024, CF_ERR_FORBIDDEN, "CorsPreflightFailure",
                     "Too many request headers named.");
    call->resp->status = 200;
    cf_http_response *resp = call->resp;
    bool ok = cf_blob_common_headers(call) &&
              cf_http_add_header(resp, "Access-Control-Allow-Origin", call->svc->console_origin) &&
              cf_http_add_header(resp, "Vary", "Origin") &&
              cf_http_add_header(resp, "Access-Control-Allow-Methods",
                                 "GET, HEAD, PUT, POST, DELETE, PATCH") &&
              (!headers || cf_http_add_header(resp, "Access-Control-Allow-Headers", headers)) &&
              cf_http_add_header(resp, "Access-Control-Max-Age", CF_CONSOLE_PREFLIGHT_AGE);
    CF_ENSURE(ok, CF_ERR_NOMEM, "cannot build the preflight answer");
    return true;
}

bool cf_blob_cors_preflight(cf_blob_call *call)
{
    const char *origin = cf_blob_header(call, "Origin");
    const char *method = cf_blob_header(call, "Access-Control-Request-Method");
    const char *headers = cf_blob_header(call, "Access-Control-Request-Headers");
    cf_blob_service_props props;
    const cf_blob_cors_rule *r = NULL;
    bool asked = origin && method && strlen(origin) <= 1024;
    if (asked && cf_cors_load(call, &props))
        r = cf_cors_match(&props, origin, method, headers);
    bool ok = r != NULL;
    if (ok) {
        char age[16];
        snprintf(age, sizeof age, "%u", r->max_age);
        call->resp->status = 200;
        ok =
            cf_blob_common_headers(call) && cf_cors_allow_origin(call, r, origin) &&
            cf_http_add_header(call->resp, "Access-Control-Allow-Methods", method) &&
            (!headers || cf_http_add_header(call->resp, "Access-Control-Allow-Headers", headers)) &&
            cf_http_add_header(call->resp, "Access-Control-Max-Age", age);
    }
    if (asked)
        cf_blob_service_props_free(&props);
    if (!ok)
        return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "CorsPreflightFailure",
                            "CORS not enabled or no matching rule found for this request.");
    return true;
}

void cf_blob_cors_response(cf_blob_call *call, bool data_plane)
{
    const char *origin = cf_blob_header(call, "Origin");
    if (!origin || strlen(origin) > 1024 || call->resp->status == 0)
        return;
    if (cf_blob_cors_from_console(call)) {
        if (!cf_http_add_header(call->resp, "Access-Control-Allow-Origin", origin) ||
            !cf_http_add_header(call->resp, "Vary", "Origin") ||
            !cf_http_add_header(call->resp, "Access-Control-Expose-Headers", "*"))
            call->resp->status = 500;
        return;
    }
    if (!data_plane)
        return;
    cf_blob_service_props props;
    const cf_blob_cors_rule *r = NULL;
    if (cf_cors_load(call, &props))
        r = cf_cors_match(&props, origin, call->head ? "HEAD" : call->http->method, NULL);
    if (r && cf_cors_allow_origin(call, r, origin) && r->exposed_headers && r->exposed_headers[0] &&
        !cf_http_add_header(call->resp, "Access-Control-Expose-Headers", r->exposed_headers))
        call->resp->status = 500;
    cf_blob_service_props_free(&props);
}
