/*
 * Azure Storage request authentication: Shared Key, Shared Key Lite and SAS
 * (account and service SAS) for the Blob service.
 *
 * Pure functions over a request view the caller fills in; no HTTP server,
 * no I/O, no clock.  coffer-blob (src/blob/auth.c) builds a cf_storage_request
 * from the HTTP request, calls cf_sharedkey_verify() or the cf_sas_*
 * functions, and maps failures to Azure errors (403 AuthenticationFailed and
 * friends); the CLI signs its own requests with the same code.  The wire
 * rules, including where the official clients differ from the
 * documentation, are in docs/blob-plan.md ("Shared Key") and docs/blob.md
 * ("Authentication and authorization"); the known-answer vectors in
 * tests/unit/vectors/storage_auth.txt come from the official JS SDK.
 *
 * Errors: CF_ERR_BAD_INPUT for anything malformed, CF_ERR_TOO_LARGE for an
 * input past a cap, CF_ERR_UNAUTHORIZED for a well-formed credential that
 * does not verify (wrong account, wrong signature, outside its time window),
 * CF_ERR_FORBIDDEN for a valid SAS used where it does not apply (IP,
 * protocol).  Details never carry key or signature bytes.
 *
 * Ownership: every pointer in the request view is borrowed for the call.
 * Keys are raw (base64-decoded) account-key bytes, borrowed; internal copies
 * of secrets (none today besides HMAC outputs on the stack) are wiped.
 */
#ifndef CF_STORAGE_AUTH_H
#define CF_STORAGE_AUTH_H

#include <stdint.h>

#include "buf.h"

/* ---- caps (every attacker-controlled size has one) ---- */
#define CF_STORAGE_MAX_PATH 8192         /* raw request path, bytes */
#define CF_STORAGE_MAX_QUERY 16384       /* raw query string, bytes */
#define CF_STORAGE_MAX_QUERY_PARAMS 64   /* query parameters */
#define CF_STORAGE_MAX_HEADER_VALUE 8192 /* any one header value */
#define CF_STORAGE_MAX_HEADER_NAME 256   /* any one header name */
#define CF_STORAGE_MAX_HEADERS 256       /* headers in the view */
#define CF_STORAGE_MAX_XMS_HEADERS 128   /* x-ms-* headers */
#define CF_STORAGE_MAX_STS 65536         /* a whole string-to-sign */
#define CF_STORAGE_MAX_AUTHZ 512         /* the Authorization header value */

/* One request header as received (name in any case). */
typedef struct {
    const char *name;
    const char *value;
} cf_storage_header;

/*
 * What the authenticator needs to see of a request.  `path` is the request
 * target's path exactly as sent, still percent-encoded (for path-style URLs
 * it begins with "/<account>"); `query` is the raw text after '?', without
 * the '?', or NULL/"" for none.  Header names are matched case-insensitively.
 * A header that appears twice must appear twice here: duplicates of a signed
 * header are refused rather than guessed at (see storage_auth.c).
 */
typedef struct {
    const char *method;
    const char *path;
    const char *query;
    const cf_storage_header *headers;
    size_t n_headers;
} cf_storage_request;

/*
 * String-to-sign variants.  CF_SHAREDKEY_SPEC is the documented form: the
 * 12 standard headers in Microsoft's order, x-ms-* headers sorted by ASCII
 * with values trimmed and inner whitespace runs folded to one space, query
 * parameters with repeated values sorted and joined with ','.  The flags
 * switch one rule each to what a real client does instead:
 *   LANG_FIRST    Content-Language before Content-Encoding (released JS
 *                 @azure/storage-common <= 12.5.0);
 *   JS_QUERY      only the last value of a repeated parameter, and
 *                 parameters with an empty value or a second '=' dropped;
 *   NO_FOLD       header values only left-trimmed, inner whitespace kept.
 * CF_SHAREDKEY_JS is the JS SDK's form for every request whose x-ms-*
 * names sort the same in ASCII and in the Windows culture-insensitive
 * collation the SDK uses; names mixing '-' or '_' after the prefix (e.g.
 * "x-ms-meta-a-b" next to "x-ms-meta-ab") can sort differently there, and
 * that collation is not implemented yet.
 */
enum {
    CF_SHAREDKEY_SPEC = 0,
    CF_SHAREDKEY_LANG_FIRST = 1u << 0,
    CF_SHAREDKEY_JS_QUERY = 1u << 2,
    CF_SHAREDKEY_NO_FOLD = 1u << 3,
    CF_SHAREDKEY_VARIANTS = 1u << 4, /* number of flag combinations */
    CF_SHAREDKEY_JS = CF_SHAREDKEY_LANG_FIRST | CF_SHAREDKEY_JS_QUERY | CF_SHAREDKEY_NO_FOLD,
};

/*
 * Appends the Blob service string-to-sign for Shared Key (lite = false) or
 * Shared Key Lite (lite = true) in the documented form.  `out` should have
 * max >= CF_STORAGE_MAX_STS; the function also enforces that cap itself.
 */
CF_MUST_USE CF_NONNULL bool cf_sharedkey_string_to_sign(const cf_storage_request *req,
                                                        const char *account, bool lite,
                                                        cf_buf *out);
/* The same with CF_SHAREDKEY_* variant flags (Lite ignores LANG_FIRST and
 * JS_QUERY: it signs neither header nor query parameters beyond comp). */
CF_MUST_USE CF_NONNULL bool cf_sharedkey_string_to_sign_ex(const cf_storage_request *req,
                                                           const char *account, bool lite,
                                                           unsigned variant, cf_buf *out);

/*
 * Verifies an Authorization value "SharedKey <account>:<base64 sig>" or
 * "SharedKeyLite <account>:<base64 sig>" against the request, the expected
 * account name and one raw account key.  Each variant that actually changes
 * the string-to-sign for this request is tried (at most 16 HMACs, usually 1);
 * signatures are compared with cf_memeq_ct.  Returns true and sets *ok only
 * on a match.  Failures: CF_ERR_BAD_INPUT (malformed header or request),
 * CF_ERR_TOO_LARGE (a cap), CF_ERR_UNAUTHORIZED (other account, or no
 * variant matches).  To accept key1 or key2, call once per key.
 */
CF_MUST_USE bool cf_sharedkey_verify(const cf_storage_request *req, const char *account,
                                     cf_slice key, const char *authorization, bool *ok);

/* ---- SAS ---- */

typedef enum {
    CF_SAS_ACCOUNT = 1,     /* ss + srt present */
    CF_SAS_SERVICE,         /* sr present, signed with the account key */
    CF_SAS_USER_DELEGATION, /* sr + skoid...: signed with a user delegation key */
} cf_sas_kind;

#define CF_SAS_FIELD_MAX 256 /* decoded length of any one SAS field */

/*
 * A parsed SAS.  Fields hold the URL-decoded values as sent (empty string =
 * absent; an explicitly empty value is refused at parse time) and are what
 * gets signed.  The struct is self-contained (no heap), may be copied, and
 * needs no free.  `snapshot` and `versionid` are the request's own query
 * parameters, captured because a bs/bv SAS signs them.
 */
typedef struct {
    cf_sas_kind kind;
    char sv[16], ss[8], srt[8], sp[32], st[40], se[40], sip[96], spr[16];
    char sr[8], si[72], sdd[8], ses[72];
    char rscc[CF_SAS_FIELD_MAX], rscd[CF_SAS_FIELD_MAX], rsce[CF_SAS_FIELD_MAX];
    char rscl[CF_SAS_FIELD_MAX], rsct[CF_SAS_FIELD_MAX];
    char skoid[40], sktid[40], skt[40], ske[40], sks[8], skv[16];
    char saoid[40], suoid[40], scid[40], skdutid[40], sduoid[40];
    char snapshot[40], versionid[40];
    uint8_t sig[32];
    /* Derived from st/se: seconds since the epoch (UTC); has_* false if absent. */
    bool has_start, has_expiry;
    int64_t start, expiry;
    /* A user delegation SAS: its key's skt and ske, the same way. */
    int64_t key_start, key_expiry;
} cf_sas;

/* True if the raw query carries a "sig" parameter (i.e. it is a SAS request). */
CF_MUST_USE CF_NONNULL bool cf_sas_in_query(const char *raw_query);

/*
 * Parses and strictly validates the SAS parameters of a raw query string
 * (other parameters are ignored).  Requires sv >= 2020-12-06 (the layouts
 * below), sig (32 bytes), and the fields of exactly one kind.  Failures:
 * CF_ERR_BAD_INPUT, CF_ERR_TOO_LARGE.
 */
CF_MUST_USE CF_NONNULL bool cf_sas_parse(const char *raw_query, cf_sas *out);

/* Appends the account-SAS string-to-sign (sv >= 2020-12-06). */
CF_MUST_USE CF_NONNULL bool cf_sas_string_to_sign_account(const cf_sas *sas, const char *account,
                                                          cf_buf *out);
/*
 * Appends the blob/container service-SAS or user-delegation-SAS
 * string-to-sign (sv >= 2020-12-06; 16 fields, or 24 (26 from 2025-07-05)
 * for a user delegation SAS).  `container` and `blob` are the decoded names from the request
 * path; `blob` may be NULL or "" for a container SAS (sr=c).  A blob-scoped
 * SAS (sr=b/bs/bv) needs a blob name.
 */
CF_MUST_USE bool cf_sas_string_to_sign_service_blob(const cf_sas *sas, const char *account,
                                                    const char *container, const char *blob,
                                                    cf_buf *out);
/*
 * HMAC-SHA256(key, string_to_sign) compared with sas->sig in constant time.
 * Returns true only on a match; CF_ERR_UNAUTHORIZED otherwise.
 */
CF_MUST_USE bool cf_sas_verify_signature(const cf_sas *sas, cf_slice string_to_sign, cf_slice key,
                                         bool *ok);

/* ---- SAS policy helpers: each a single decision with explicit inputs ---- */

/* A stored access policy (Set Container ACL): absent fields have has_* false
 * and an empty permission string. */
typedef struct {
    bool has_start, has_expiry;
    int64_t start, expiry;
    const char *permissions; /* NULL or "" for none */
} cf_sas_policy;

/*
 * Merges the policy named by sas->si into the SAS.  Each of start, expiry
 * and permissions must come from exactly one place; giving one in both, or
 * ending with no expiry or no permissions, is CF_ERR_UNAUTHORIZED (Azure's
 * 403 AuthenticationFailed).  The signature must be verified on the SAS as
 * parsed, before this merge.
 */
CF_MUST_USE bool cf_sas_apply_policy(cf_sas *sas, const cf_sas_policy *policy);
/* st <= now < se (now in epoch seconds); needs an expiry. CF_ERR_UNAUTHORIZED. */
CF_MUST_USE CF_NONNULL bool cf_sas_check_time(const cf_sas *sas, int64_t now);
/* sip absent, or the client address (IPv4 or IPv6 text) within it. CF_ERR_FORBIDDEN. */
CF_MUST_USE CF_NONNULL bool cf_sas_check_ip(const cf_sas *sas, const char *client_ip);
/* spr absent or "https,http": any; spr "https": https only. CF_ERR_FORBIDDEN. */
CF_MUST_USE CF_NONNULL bool cf_sas_check_protocol(const cf_sas *sas, bool https);
/* Whether sp grants `permission` (one letter, e.g. 'r'). */
CF_MUST_USE CF_NONNULL bool cf_sas_permits(const cf_sas *sas, char permission);
/* Account SAS: whether ss includes `service` ('b') / srt includes `type` ('s','c','o'). */
CF_MUST_USE CF_NONNULL bool cf_sas_permits_service(const cf_sas *sas, char service);
CF_MUST_USE CF_NONNULL bool cf_sas_permits_resource_type(const cf_sas *sas, char type);

/* ISO 8601 UTC as SAS uses it: "YYYY-MM-DD", "YYYY-MM-DDThh:mmZ",
 * "YYYY-MM-DDThh:mm:ssZ" or with 1-7 fractional digits; fractions ignored
 * (cf_iso8601_parse, httpdate.h). */
CF_MUST_USE CF_NONNULL bool cf_sas_parse_time(const char *text, int64_t *out);

#endif
