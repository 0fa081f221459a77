/*
 * Shared Key, Shared Key Lite and SAS for the Blob service; see
 * storage_auth.h for the contract and docs/blob-plan.md ("Shared Key") for
 * the wire rules measured against the SDKs and Azurite.
 *
 * Design choices worth knowing:
 * - Everything is built into a local buffer capped at CF_STORAGE_MAX_STS, so
 *   no input can make a string-to-sign grow without bound.
 * - A signed header (the 12 standard ones and every x-ms-*) that appears
 *   twice is refused: the documented rule joins duplicates with ',', the JS
 *   SDK keeps one, and a handler reading "the" value would see something
 *   other than what was signed.  No SDK sends duplicates.
 * - Control characters in the path, header values and decoded query are
 *   refused so that two different requests can never share a string-to-sign
 *   (a value "x\ncomp:list" would otherwise forge a parameter line).
 * - Client quirks are variants of one builder (CF_SHAREDKEY_* flags), and
 *   the verifier tries only the variants that change the string for this
 *   request, so the common case costs one HMAC.
 */
#include "storage_auth.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "encoding.h"
#include "httpdate.h"
#include "secmem.h"

/* ---- small text helpers ---- */

static uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

/* RFC 9110 token characters (header names, methods). */
static bool is_tchar(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool eq_nocase_n(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower((uint8_t)a[i]) != lower((uint8_t)b[i]))
            return false;
    return true;
}

static bool has_ctl(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            return true;
    return false;
}

/* ---- the request view ---- */

static bool check_request(const cf_storage_request *req)
{
    CF_ENSURE(req->method && req->path && (req->headers || req->n_headers == 0), CF_ERR_BAD_INPUT,
              "incomplete request view");
    size_t mlen = strlen(req->method);
    CF_ENSURE(mlen > 0 && mlen <= 16, CF_ERR_BAD_INPUT, "bad method");
    for (size_t i = 0; i < mlen; i++)
        CF_ENSURE(is_tchar((uint8_t)req->method[i]), CF_ERR_BAD_INPUT, "bad method");
    size_t plen = strnlen(req->path, CF_STORAGE_MAX_PATH + 1);
    CF_ENSURE(plen <= CF_STORAGE_MAX_PATH, CF_ERR_TOO_LARGE, "request path too long");
    CF_ENSURE(plen > 0 && req->path[0] == '/', CF_ERR_BAD_INPUT, "request path must start with /");
    for (size_t i = 0; i < plen; i++) {
        uint8_t c = (uint8_t)req->path[i];
        CF_ENSURE(c > 0x20 && c != 0x7f && c != '?' && c != '#', CF_ERR_BAD_INPUT,
                  "invalid character in request path");
    }
    if (req->query) {
        size_t qlen = strnlen(req->query, CF_STORAGE_MAX_QUERY + 1);
        CF_ENSURE(qlen <= CF_STORAGE_MAX_QUERY, CF_ERR_TOO_LARGE, "query string too long");
        CF_ENSURE(!has_ctl((const uint8_t *)req->query, qlen), CF_ERR_BAD_INPUT,
                  "invalid character in query string");
    }
    CF_ENSURE(req->n_headers <= CF_STORAGE_MAX_HEADERS, CF_ERR_TOO_LARGE, "too many headers");
    for (size_t i = 0; i < req->n_headers; i++) {
        const cf_storage_header *h = &req->headers[i];
        CF_ENSURE(h->name && h->value, CF_ERR_BAD_INPUT, "incomplete header");
        size_t nlen = strnlen(h->name, CF_STORAGE_MAX_HEADER_NAME + 1);
        CF_ENSURE(nlen <= CF_STORAGE_MAX_HEADER_NAME, CF_ERR_TOO_LARGE, "header name too long");
        CF_ENSURE(nlen > 0, CF_ERR_BAD_INPUT, "empty header name");
        for (size_t j = 0; j < nlen; j++)
            CF_ENSURE(is_tchar((uint8_t)h->name[j]), CF_ERR_BAD_INPUT, "invalid header name");
        size_t vlen = strnlen(h->value, CF_STORAGE_MAX_HEADER_VALUE + 1);
        CF_ENSURE(vlen <= CF_STORAGE_MAX_HEADER_VALUE, CF_ERR_TOO_LARGE, "header value too long");
        for (size_t j = 0; j < vlen; j++) {
            uint8_t c = (uint8_t)h->value[j];
            CF_ENSURE(c >= 0x20 || c == '\t', CF_ERR_BAD_INPUT,
                      "control character in header value");
        }
    }
    return true;
}

/* The single value of a header, or "" when absent; duplicates are refused. */
static bool header_get(const cf_storage_request *req, const char *name, const char **out)
{
    *out = "";
    bool seen = false;
    for (size_t i = 0; i < req->n_headers; i++) {
        const cf_storage_header *h = &req->headers[i];
        if (!eq_nocase_n(h->name, strlen(h->name), name))
            continue;
        CF_ENSUREF(!seen, CF_ERR_BAD_INPUT, "duplicate %s header", name);
        seen = true;
        *out = h->value;
    }
    return true;
}

/* ---- canonicalized headers ---- */

typedef struct {
    const char *name;
    size_t nlen;
    const char *value;
} xms_header;

static bool ascii_less(const xms_header *a, const xms_header *b)
{
    size_t n = a->nlen < b->nlen ? a->nlen : b->nlen;
    for (size_t i = 0; i < n; i++) {
        uint8_t x = lower((uint8_t)a->name[i]), y = lower((uint8_t)b->name[i]);
        if (x != y)
            return x < y;
    }
    return a->nlen < b->nlen;
}

static bool collect_xms(const cf_storage_request *req, xms_header *hs, size_t *n_out)
{
    size_t n = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *name = req->headers[i].name;
        size_t nlen = strlen(name);
        if (nlen < 5 || !eq_nocase_n(name, 5, "x-ms-"))
            continue;
        CF_ENSURE(n < CF_STORAGE_MAX_XMS_HEADERS, CF_ERR_TOO_LARGE, "too many x-ms- headers");
        for (size_t k = 0; k < n; k++)
            CF_ENSURE(!(hs[k].nlen == nlen && eq_nocase_n(hs[k].name, nlen, name)),
                      CF_ERR_BAD_INPUT, "duplicate x-ms- header");
        hs[n++] = (xms_header){name, nlen, req->headers[i].value};
    }
    *n_out = n;
    return true;
}

/* Stable insertion sort; n <= CF_STORAGE_MAX_XMS_HEADERS. */
static void sort_xms(xms_header *hs, size_t n, bool (*less)(const xms_header *, const xms_header *))
{
    for (size_t i = 1; i < n; i++) {
        xms_header cur = hs[i];
        size_t j = i;
        while (j > 0 && less(&cur, &hs[j - 1])) {
            hs[j] = hs[j - 1];
            j--;
        }
        hs[j] = cur;
    }
}

static bool append_header_value(cf_buf *b, const char *v, bool fold)
{
    size_t len = strlen(v), i = 0;
    while (i < len && is_ws((uint8_t)v[i]))
        i++;
    if (!fold)
        return cf_buf_append(b, v + i, len - i);
    while (len > i && is_ws((uint8_t)v[len - 1]))
        len--;
    bool in_ws = false;
    for (; i < len; i++) {
        uint8_t c = (uint8_t)v[i];
        if (is_ws(c)) {
            in_ws = true;
            continue;
        }
        if (in_ws)
            CF_GUARD(cf_buf_append_u8(b, ' '));
        in_ws = false;
        CF_GUARD(cf_buf_append_u8(b, c));
    }
    return true;
}

static bool append_canonical_headers(const cf_storage_request *req, unsigned variant, cf_buf *b)
{
    xms_header hs[CF_STORAGE_MAX_XMS_HEADERS];
    size_t n = 0;
    CF_GUARD(collect_xms(req, hs, &n));
    sort_xms(hs, n, ascii_less);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < hs[i].nlen; k++)
            CF_GUARD(cf_buf_append_u8(b, lower((uint8_t)hs[i].name[k])));
        CF_GUARD(cf_buf_append_u8(b, ':'));
        CF_GUARD(append_header_value(b, hs[i].value, !(variant & CF_SHAREDKEY_NO_FOLD)));
        CF_GUARD(cf_buf_append_u8(b, '\n'));
    }
    return true;
}

/* ---- query parameters ---- */

/* A decoded parameter; offsets into a pool because the pool may move. */
typedef struct {
    size_t noff, nlen, voff, vlen;
} qparam;

typedef struct {
    cf_buf pool;
    qparam p[CF_STORAGE_MAX_QUERY_PARAMS];
    size_t n;
} qlist;

static cf_slice q_name(const qlist *q, const qparam *p)
{
    return cf_slice_of(q->pool.data + p->noff, p->nlen);
}

static cf_slice q_value(const qlist *q, const qparam *p)
{
    return cf_slice_of(q->pool.data + p->voff, p->vlen);
}

static int slice_cmp(cf_slice a, cf_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c)
        return c;
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

static bool decode_into(cf_buf *pool, const char *p, size_t len, bool lowercase, size_t *off,
                        size_t *out_len)
{
    *off = pool->len;
    CF_GUARD(cf_percent_decode(cf_slice_of(p, len), false, pool));
    *out_len = pool->len - *off;
    CF_ENSURE(!has_ctl(pool->data ? pool->data + *off : NULL, *out_len), CF_ERR_BAD_INPUT,
              "control character in query parameter");
    if (lowercase)
        for (size_t i = 0; i < *out_len; i++)
            pool->data[*off + i] = lower(pool->data[*off + i]);
    return true;
}

/*
 * Splits a raw query into decoded parameters.  js = false: every non-empty
 * segment, names decoded and lower-cased.  js = true: what getURLQueries()
 * keeps (exactly one '=', non-empty name and value), name lower-cased but
 * not decoded, last value wins.
 */
static bool parse_query(const char *raw, bool js, qlist *q)
{
    cf_buf_init(&q->pool, CF_STORAGE_MAX_QUERY);
    q->n = 0;
    if (!raw)
        return true;
    const char *s = raw;
    while (*s) {
        const char *amp = strchr(s, '&');
        size_t seg = amp ? (size_t)(amp - s) : strlen(s);
        const char *eq = memchr(s, '=', seg);
        size_t nlen = eq ? (size_t)(eq - s) : seg;
        const char *v = eq ? eq + 1 : s + seg;
        size_t vlen = eq ? seg - nlen - 1 : 0;
        bool keep = seg > 0;
        if (js)
            keep = eq && nlen > 0 && vlen > 0 && memchr(v, '=', vlen) == NULL;
        if (keep) {
            CF_ENSURE(nlen > 0, CF_ERR_BAD_INPUT, "query parameter without a name");
            qparam p;
            if (js) {
                p.noff = q->pool.len;
                p.nlen = nlen;
                for (size_t i = 0; i < nlen; i++)
                    CF_GUARD(cf_buf_append_u8(&q->pool, lower((uint8_t)s[i])));
            } else {
                CF_GUARD(decode_into(&q->pool, s, nlen, true, &p.noff, &p.nlen));
            }
            CF_GUARD(decode_into(&q->pool, v, vlen, false, &p.voff, &p.vlen));
            size_t slot = q->n;
            if (js)
                for (size_t i = 0; i < q->n; i++)
                    if (cf_slice_eq(q_name(q, &q->p[i]), q_name(q, &p)))
                        slot = i;
            if (slot == q->n) {
                CF_ENSURE(q->n < CF_STORAGE_MAX_QUERY_PARAMS, CF_ERR_TOO_LARGE,
                          "too many query parameters");
                q->n++;
            }
            q->p[slot] = p;
        }
        s += seg;
        if (*s == '&')
            s++;
    }
    return true;
}

/* Sorted by name, then value (the values of one name are joined in order). */
static void sort_query(qlist *q)
{
    for (size_t i = 1; i < q->n; i++) {
        qparam cur = q->p[i];
        size_t j = i;
        while (j > 0) {
            const qparam *prev = &q->p[j - 1];
            int c = slice_cmp(q_name(q, &cur), q_name(q, prev));
            if (c == 0)
                c = slice_cmp(q_value(q, &cur), q_value(q, prev));
            if (c >= 0)
                break;
            q->p[j] = q->p[j - 1];
            j--;
        }
        q->p[j] = cur;
    }
}

static bool append_canonical_resource(const cf_storage_request *req, const char *account, bool lite,
                                      unsigned variant, cf_buf *b)
{
    CF_GUARD(cf_buf_append_u8(b, '/'));
    CF_GUARD(cf_buf_append_str(b, account));
    CF_GUARD(cf_buf_append_str(b, req->path));
    qlist *q = malloc(sizeof *q);
    CF_ENSURE_ALLOC(q);
    bool js = !lite && (variant & CF_SHAREDKEY_JS_QUERY);
    bool ok = parse_query(req->query, js, q);
    if (ok) {
        sort_query(q);
        for (size_t i = 0; ok && i < q->n; i++) {
            cf_slice name = q_name(q, &q->p[i]);
            bool same = i > 0 && cf_slice_eq(name, q_name(q, &q->p[i - 1]));
            if (lite) {
                /* Lite signs only comp, as "?comp=v". */
                if (!cf_slice_eq_str(name, "comp"))
                    continue;
                ok = cf_buf_append_str(b, same ? "," : "?comp=");
            } else if (same) {
                ok = cf_buf_append_u8(b, ',');
            } else {
                ok = cf_buf_append_u8(b, '\n') && cf_buf_append_slice(b, name) &&
                     cf_buf_append_u8(b, ':');
            }
            ok = ok && cf_buf_append_slice(b, q_value(q, &q->p[i]));
        }
    }
    cf_buf_free(&q->pool);
    free(q);
    return ok;
}

/* ---- Shared Key string-to-sign ---- */

static bool build_sts(const cf_storage_request *req, const char *account, bool lite,
                      unsigned variant, cf_buf *b)
{
    CF_GUARD(check_request(req));
    size_t alen = strnlen(account, 65);
    CF_ENSURE(alen > 0 && alen <= 64, CF_ERR_BAD_INPUT, "bad account name");
    for (size_t i = 0; i < alen; i++)
        CF_ENSURE(is_tchar((uint8_t)account[i]), CF_ERR_BAD_INPUT, "bad account name");

    static const char *const full[] = {"Content-Encoding",
                                       "Content-Language",
                                       "Content-Length",
                                       "Content-MD5",
                                       "Content-Type",
                                       "Date",
                                       "If-Modified-Since",
                                       "If-Match",
                                       "If-None-Match",
                                       "If-Unmodified-Since",
                                       "Range"};
    static const char *const lite_hdrs[] = {"Content-MD5", "Content-Type", "Date"};
    const char *const *names = lite ? lite_hdrs : full;
    size_t count = lite ? 3 : sizeof full / sizeof *full;

    /* Every standard header is looked up, even for Lite, so duplicates are
     * refused the same way in both schemes. */
    const char *vals[11];
    for (size_t i = 0; i < 11; i++)
        CF_GUARD(header_get(req, full[i], &vals[i]));

    for (size_t i = 0; req->method[i]; i++)
        CF_GUARD(cf_buf_append_u8(b, (uint8_t)((req->method[i] >= 'a' && req->method[i] <= 'z')
                                                   ? req->method[i] - 32
                                                   : req->method[i])));
    CF_GUARD(cf_buf_append_u8(b, '\n'));
    for (size_t i = 0; i < count; i++) {
        size_t idx = 0;
        while (strcmp(full[idx], names[i]) != 0)
            idx++;
        if (!lite && (variant & CF_SHAREDKEY_LANG_FIRST) && idx <= 1)
            idx = 1 - idx;
        const char *v = vals[idx];
        if (strcmp(full[idx], "Content-Length") == 0 && strcmp(v, "0") == 0)
            v = "";
        CF_GUARD(cf_buf_append_str(b, v));
        CF_GUARD(cf_buf_append_u8(b, '\n'));
    }
    CF_GUARD(append_canonical_headers(req, variant, b));
    return append_canonical_resource(req, account, lite, variant, b);
}

bool cf_sharedkey_string_to_sign_ex(const cf_storage_request *req, const char *account, bool lite,
                                    unsigned variant, cf_buf *out)
{
    CF_ENSURE(variant < CF_SHAREDKEY_VARIANTS, CF_ERR_BAD_INPUT, "unknown variant");
    cf_buf b;
    cf_buf_init(&b, CF_STORAGE_MAX_STS);
    bool ok =
        build_sts(req, account, lite, variant, &b) && cf_buf_append_slice(out, cf_buf_slice(&b));
    cf_buf_free(&b);
    return ok;
}

bool cf_sharedkey_string_to_sign(const cf_storage_request *req, const char *account, bool lite,
                                 cf_buf *out)
{
    return cf_sharedkey_string_to_sign_ex(req, account, lite, CF_SHAREDKEY_SPEC, out);
}

/* ---- Shared Key verification ---- */

typedef struct {
    bool lite;
    cf_slice account;
    uint8_t sig[32];
} sk_authz;

static bool parse_authorization(const char *value, sk_authz *a)
{
    CF_ENSURE(value != NULL, CF_ERR_BAD_INPUT, "missing Authorization");
    size_t len = strnlen(value, CF_STORAGE_MAX_AUTHZ + 1);
    CF_ENSURE(len <= CF_STORAGE_MAX_AUTHZ, CF_ERR_TOO_LARGE, "Authorization too long");
    const char *rest;
    static const char shared_key[] = "SharedKey ", shared_key_lite[] = "SharedKeyLite ";
    if (strncmp(value, shared_key, sizeof shared_key - 1) == 0) {
        a->lite = false;
        rest = value + sizeof shared_key - 1;
    } else if (strncmp(value, shared_key_lite, sizeof shared_key_lite - 1) == 0) {
        a->lite = true;
        rest = value + 14;
    } else {
        CF_BAIL(CF_ERR_BAD_INPUT, "Authorization is not SharedKey or SharedKeyLite");
    }
    const char *colon = strchr(rest, ':');
    CF_ENSURE(colon && colon > rest, CF_ERR_BAD_INPUT, "malformed Shared Key credential");
    a->account = cf_slice_of(rest, (size_t)(colon - rest));
    for (size_t i = 0; i < a->account.len; i++)
        CF_ENSURE(is_tchar(a->account.ptr[i]), CF_ERR_BAD_INPUT, "malformed Shared Key account");
    cf_buf sig;
    cf_buf_init(&sig, 32);
    bool ok = cf_base64_decode(CF_SLICE_STR(colon + 1), &sig) && sig.len == 32;
    if (ok)
        memcpy(a->sig, sig.data, 32);
    cf_buf_free(&sig);
    CF_ENSURE(ok, CF_ERR_BAD_INPUT, "malformed Shared Key signature");
    return true;
}

static bool mac_matches(cf_slice key, cf_slice msg, const uint8_t sig[32], bool *match)
{
    uint8_t mac[32];
    CF_GUARD(cf_hmac_sha256(key, msg, mac));
    *match = cf_memeq_ct(mac, sig, 32);
    cf_memzero(mac, sizeof mac);
    return true;
}

bool cf_sharedkey_verify(const cf_storage_request *req, const char *account, cf_slice key,
                         const char *authorization, bool *ok)
{
    CF_ENSURE(ok && req && account, CF_ERR_INTERNAL, "null argument");
    *ok = false;
    CF_ENSURE(key.len > 0 && key.ptr, CF_ERR_BAD_INPUT, "empty account key");
    sk_authz a;
    CF_GUARD(parse_authorization(authorization, &a));
    CF_ENSURE(cf_slice_eq_str(a.account, account), CF_ERR_UNAUTHORIZED,
              "Shared Key account does not match");

    static const unsigned flags[] = {CF_SHAREDKEY_LANG_FIRST, CF_SHAREDKEY_JS_QUERY,
                                     CF_SHAREDKEY_NO_FOLD};
    cf_buf base, alt;
    cf_buf_init(&base, CF_STORAGE_MAX_STS);
    cf_buf_init(&alt, CF_STORAGE_MAX_STS);
    bool good = build_sts(req, account, a.lite, CF_SHAREDKEY_SPEC, &base);
    bool match = false;
    unsigned relevant = 0;
    good = good && mac_matches(key, cf_buf_slice(&base), a.sig, &match);
    /* Single flags first, noting which ones change anything... */
    for (size_t i = 0; good && !match && i < sizeof flags / sizeof *flags; i++) {
        cf_buf_clear(&alt);
        good = build_sts(req, account, a.lite, flags[i], &alt);
        if (good && !cf_slice_eq(cf_buf_slice(&base), cf_buf_slice(&alt))) {
            relevant |= flags[i];
            good = mac_matches(key, cf_buf_slice(&alt), a.sig, &match);
        }
    }
    /* ...then the combinations of those (the JS SDK's form is one). */
    for (unsigned v = 1; good && !match && v < CF_SHAREDKEY_VARIANTS; v++) {
        if ((v & ~relevant) || (v & (v - 1)) == 0)
            continue;
        cf_buf_clear(&alt);
        good = build_sts(req, account, a.lite, v, &alt) &&
               mac_matches(key, cf_buf_slice(&alt), a.sig, &match);
    }
    cf_buf_free(&base);
    cf_buf_free(&alt);
    cf_memzero(&a, sizeof a);
    CF_GUARD(good);
    CF_ENSURE(match, CF_ERR_UNAUTHORIZED, "Shared Key signature does not match");
    *ok = true;
    return true;
}

/* ---- SAS: times ---- */

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool cf_sas_parse_time(const char *t, int64_t *out)
{
    /* The forms Azure takes in st, se, skt, ske and stored access
     * policies are httpdate.h's ISO 8601 forms.  Every time field is at
     * most as long as cf_sas.st, so the bound never cuts a valid time. */
    size_t len = strnlen(t, sizeof((cf_sas *)0)->st);
    CF_ENSURE(cf_iso8601_parse(cf_slice_of(t, len), out, NULL), CF_ERR_BAD_INPUT,
              "SAS time is not an ISO 8601 UTC time");
    return true;
}

/* ---- SAS: parsing ---- */

typedef struct {
    const char *name;
    size_t off, size;
} sas_field;

#define SAS_FIELD(f)                                      \
    {                                                     \
#f, offsetof(cf_sas, f), sizeof(((cf_sas *)0)->f) \
    }
static const sas_field sas_fields[] = {
    SAS_FIELD(sv),       SAS_FIELD(ss),        SAS_FIELD(srt),     SAS_FIELD(sp),
    SAS_FIELD(st),       SAS_FIELD(se),        SAS_FIELD(sip),     SAS_FIELD(spr),
    SAS_FIELD(sr),       SAS_FIELD(si),        SAS_FIELD(sdd),     SAS_FIELD(ses),
    SAS_FIELD(rscc),     SAS_FIELD(rscd),      SAS_FIELD(rsce),    SAS_FIELD(rscl),
    SAS_FIELD(rsct),     SAS_FIELD(skoid),     SAS_FIELD(sktid),   SAS_FIELD(skt),
    SAS_FIELD(ske),      SAS_FIELD(sks),       SAS_FIELD(skv),     SAS_FIELD(saoid),
    SAS_FIELD(suoid),    SAS_FIELD(scid),      SAS_FIELD(skdutid), SAS_FIELD(sduoid),
    SAS_FIELD(snapshot), SAS_FIELD(versionid),
};

bool cf_sas_in_query(const char *raw_query)
{
    const char *s = raw_query;
    while (*s) {
        if (strncmp(s, "sig=", 4) == 0)
            return true;
        s = strchr(s, '&');
        if (!s)
            break;
        s++;
    }
    return false;
}

/* Each letter of `v` from `allowed`, none twice, at least one. */
static bool letters_ok(const char *v, const char *allowed)
{
    if (!*v)
        return false;
    for (size_t i = 0; v[i]; i++) {
        if (!strchr(allowed, v[i]) || strchr(v + i + 1, v[i]))
            return false;
    }
    return true;
}

static bool parse_ip(const char *text, int *family, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, text, addr) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, text, addr) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(addr, mapped, 12) == 0) {
            memmove(addr, addr + 12, 4);
            memset(addr + 4, 0, 12);
            *family = AF_INET;
        } else {
            *family = AF_INET6;
        }
        return true;
    }
    return false;
}

typedef struct {
    int family;
    uint8_t lo[16], hi[16];
} ip_range;

static bool parse_sip(const char *sip, ip_range *r)
{
    char a[48], b[48];
    const char *dash = strchr(sip, '-');
    size_t alen = dash ? (size_t)(dash - sip) : strlen(sip);
    size_t blen = dash ? strlen(dash + 1) : alen;
    CF_ENSURE(alen > 0 && alen < sizeof a && blen > 0 && blen < sizeof b, CF_ERR_BAD_INPUT,
              "bad sip");
    memcpy(a, sip, alen);
    a[alen] = 0;
    memcpy(b, dash ? dash + 1 : sip, blen);
    b[blen] = 0;
    int fb;
    CF_ENSURE(parse_ip(a, &r->family, r->lo) && parse_ip(b, &fb, r->hi) && fb == r->family &&
                  memcmp(r->lo, r->hi, 16) <= 0,
              CF_ERR_BAD_INPUT, "bad sip");
    return true;
}

static bool is_scope_name(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

#define SAS_ACCOUNT_PERMS "rwdxylacuptfi"
#define SAS_SERVICE_PERMS "racwdxyltfmeopi"

static bool sas_store(cf_sas *out, const sas_field *f, cf_slice raw)
{
    char *dst = (char *)out + f->off;
    CF_ENSUREF(dst[0] == 0, CF_ERR_BAD_INPUT, "duplicate SAS parameter %s", f->name);
    cf_buf val;
    cf_buf_init(&val, CF_STORAGE_MAX_QUERY);
    bool ok = cf_percent_decode(raw, false, &val);
    if (ok && (val.len == 0 || has_ctl(val.data, val.len))) {
        CF_RAISE(CF_ERR_BAD_INPUT, "empty or invalid SAS parameter");
        ok = false;
    }
    if (ok && val.len >= f->size) {
        CF_RAISE(CF_ERR_TOO_LARGE, "SAS parameter too long");
        ok = false;
    }
    if (ok)
        memcpy(dst, val.data, val.len);
    cf_buf_free(&val);
    return ok;
}

static bool sas_store_sig(cf_sas *out, bool *seen, cf_slice raw)
{
    CF_ENSURE(!*seen, CF_ERR_BAD_INPUT, "duplicate SAS parameter sig");
    *seen = true;
    cf_buf dec, sig;
    cf_buf_init(&dec, 128);
    cf_buf_init(&sig, 32);
    bool ok = cf_percent_decode(raw, false, &dec) && cf_base64_decode(cf_buf_slice(&dec), &sig) &&
              sig.len == 32;
    if (ok)
        memcpy(out->sig, sig.data, 32);
    cf_buf_free(&dec);
    cf_buf_free(&sig);
    CF_ENSURE(ok, CF_ERR_BAD_INPUT, "malformed SAS signature");
    return true;
}

static bool sas_split(const char *raw, cf_sas *out)
{
    bool have_sig = false;
    size_t count = 0;
    const char *s = raw;
    while (*s) {
        const char *amp = strchr(s, '&');
        size_t seg = amp ? (size_t)(amp - s) : strlen(s);
        if (seg > 0) {
            CF_ENSURE(++count <= CF_STORAGE_MAX_QUERY_PARAMS, CF_ERR_TOO_LARGE,
                      "too many query parameters");
            const char *eq = memchr(s, '=', seg);
            size_t nlen = eq ? (size_t)(eq - s) : seg;
            cf_slice name = cf_slice_of(s, nlen);
            cf_slice value = eq ? cf_slice_of(eq + 1, seg - nlen - 1) : cf_slice_of(s + seg, 0);
            if (cf_slice_eq_str(name, "sig")) {
                CF_GUARD(sas_store_sig(out, &have_sig, value));
            } else {
                for (size_t i = 0; i < sizeof sas_fields / sizeof *sas_fields; i++)
                    if (cf_slice_eq_str(name, sas_fields[i].name))
                        CF_GUARD(sas_store(out, &sas_fields[i], value));
            }
        }
        s += seg;
        if (*s == '&')
            s++;
    }
    CF_ENSURE(have_sig, CF_ERR_BAD_INPUT, "SAS without sig");
    return true;
}

static bool sas_validate_common(cf_sas *out)
{
    int y, m, d;
    CF_ENSURE(strlen(out->sv) == 10 && digits(out->sv, 4, &y) && out->sv[4] == '-' &&
                  digits(out->sv + 5, 2, &m) && out->sv[7] == '-' && digits(out->sv + 8, 2, &d),
              CF_ERR_BAD_INPUT, "missing or malformed sv");
    CF_ENSURE(strcmp(out->sv, "2020-12-06") >= 0, CF_ERR_BAD_INPUT,
              "SAS versions before 2020-12-06 are not supported");
    if (out->st[0]) {
        CF_GUARD(cf_sas_parse_time(out->st, &out->start));
        out->has_start = true;
    }
    if (out->se[0]) {
        CF_GUARD(cf_sas_parse_time(out->se, &out->expiry));
        out->has_expiry = true;
    }
    if (out->sip[0]) {
        ip_range r;
        CF_GUARD(parse_sip(out->sip, &r));
    }
    CF_ENSURE(!out->spr[0] || strcmp(out->spr, "https") == 0 || strcmp(out->spr, "https,http") == 0,
              CF_ERR_BAD_INPUT, "spr must be https or https,http");
    CF_ENSURE(!out->ses[0] || is_scope_name(out->ses), CF_ERR_BAD_INPUT, "bad ses");
    return true;
}

/* Whether any of the fields at `offsets` (0-terminated: no field sits at
 * offset 0, `kind` does) is present. */
static bool any_set(const cf_sas *s, const size_t *offsets)
{
    for (size_t i = 0; offsets[i]; i++)
        if (((const char *)s)[offsets[i]])
            return true;
    return false;
}

#define SAS_AT(f) offsetof(cf_sas, f)
static const size_t service_only[] = {SAS_AT(sr),   SAS_AT(si),   SAS_AT(sdd),
                                      SAS_AT(rscc), SAS_AT(rscd), SAS_AT(rsce),
                                      SAS_AT(rscl), SAS_AT(rsct), 0};
static const size_t delegation[] = {SAS_AT(skoid), SAS_AT(sktid),   SAS_AT(skt),    SAS_AT(ske),
                                    SAS_AT(sks),   SAS_AT(skv),     SAS_AT(saoid),  SAS_AT(suoid),
                                    SAS_AT(scid),  SAS_AT(skdutid), SAS_AT(sduoid), 0};

static bool sas_validate_kind(cf_sas *out)
{
    if (out->ss[0] || out->srt[0]) {
        out->kind = CF_SAS_ACCOUNT;
        CF_ENSURE(!any_set(out, service_only) && !any_set(out, delegation), CF_ERR_BAD_INPUT,
                  "account SAS with service SAS fields");
        CF_ENSURE(letters_ok(out->ss, "bqtf"), CF_ERR_BAD_INPUT, "bad ss");
        CF_ENSURE(letters_ok(out->srt, "sco"), CF_ERR_BAD_INPUT, "bad srt");
        CF_ENSURE(letters_ok(out->sp, SAS_ACCOUNT_PERMS), CF_ERR_BAD_INPUT, "bad sp");
        CF_ENSURE(out->has_expiry, CF_ERR_BAD_INPUT, "account SAS without se");
        return true;
    }
    CF_ENSURE(out->sr[0], CF_ERR_BAD_INPUT, "SAS has neither sr nor ss/srt");
    static const char *const srs[] = {"c", "b", "bs", "bv", "d"};
    bool sr_ok = false;
    for (size_t i = 0; i < sizeof srs / sizeof *srs; i++)
        sr_ok = sr_ok || strcmp(out->sr, srs[i]) == 0;
    CF_ENSURE(sr_ok, CF_ERR_BAD_INPUT, "bad sr");
    int depth;
    CF_ENSURE(
        (strcmp(out->sr, "d") == 0) == (out->sdd[0] != 0) &&
            (!out->sdd[0] || (strlen(out->sdd) <= 3 && digits(out->sdd, strlen(out->sdd), &depth))),
        CF_ERR_BAD_INPUT, "sdd must come with sr=d, as a number");
    CF_ENSURE(strcmp(out->sr, "bs") != 0 || out->snapshot[0], CF_ERR_BAD_INPUT,
              "sr=bs without a snapshot");
    CF_ENSURE(strcmp(out->sr, "bv") != 0 || out->versionid[0], CF_ERR_BAD_INPUT,
              "sr=bv without a versionid");
    CF_ENSURE(!out->sp[0] || letters_ok(out->sp, SAS_SERVICE_PERMS), CF_ERR_BAD_INPUT, "bad sp");
    if (out->skoid[0]) {
        out->kind = CF_SAS_USER_DELEGATION;
        CF_ENSURE(out->sktid[0] && out->skt[0] && out->ske[0] && out->sks[0] && out->skv[0] &&
                      !out->si[0],
                  CF_ERR_BAD_INPUT, "incomplete user delegation SAS");
        CF_GUARD(cf_sas_parse_time(out->skt, &out->key_start));
        CF_GUARD(cf_sas_parse_time(out->ske, &out->key_expiry));
    } else {
        out->kind = CF_SAS_SERVICE;
        CF_ENSURE(!any_set(out, delegation), CF_ERR_BAD_INPUT, "delegation fields without skoid");
        /* Without a stored policy the SAS itself must say what and until when. */
        CF_ENSURE(out->si[0] || (out->sp[0] && out->has_expiry), CF_ERR_BAD_INPUT,
                  "service SAS without sp/se or si");
        CF_ENSURE(strlen(out->si) <= 64, CF_ERR_BAD_INPUT, "si longer than 64");
    }
    return true;
}

bool cf_sas_parse(const char *raw_query, cf_sas *out)
{
    memset(out, 0, sizeof *out);
    size_t len = strnlen(raw_query, CF_STORAGE_MAX_QUERY + 1);
    bool ok = len <= CF_STORAGE_MAX_QUERY;
    if (!ok)
        CF_RAISE(CF_ERR_TOO_LARGE, "query string too long");
    ok = ok && sas_split(raw_query, out) && sas_validate_common(out) && sas_validate_kind(out);
    if (!ok)
        memset(out, 0, sizeof *out);
    return ok;
}

/* ---- SAS: strings to sign ---- */

static bool append_fields(cf_buf *b, const char *const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            CF_GUARD(cf_buf_append_u8(b, '\n'));
        CF_GUARD(cf_buf_append_str(b, fields[i]));
    }
    return true;
}

static bool name_ok(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    return n <= max && !has_ctl((const uint8_t *)s, n);
}

bool cf_sas_string_to_sign_account(const cf_sas *sas, const char *account, cf_buf *out)
{
    CF_ENSURE(sas->kind == CF_SAS_ACCOUNT, CF_ERR_BAD_INPUT, "not an account SAS");
    CF_ENSURE(account[0] && name_ok(account, 64), CF_ERR_BAD_INPUT, "bad account name");
    /* Ends with an empty field, i.e. a trailing newline. */
    const char *f[] = {account,  sas->sp,  sas->ss, sas->srt, sas->st, sas->se,
                       sas->sip, sas->spr, sas->sv, sas->ses, ""};
    return append_fields(out, f, sizeof f / sizeof *f);
}

bool cf_sas_string_to_sign_service_blob(const cf_sas *sas, const char *account,
                                        const char *container, const char *blob, cf_buf *out)
{
    CF_ENSURE(sas && account && container && out, CF_ERR_INTERNAL, "null argument");
    CF_ENSURE(sas->kind == CF_SAS_SERVICE || sas->kind == CF_SAS_USER_DELEGATION, CF_ERR_BAD_INPUT,
              "not a service or user delegation SAS");
    CF_ENSURE(account[0] && name_ok(account, 64), CF_ERR_BAD_INPUT, "bad account name");
    CF_ENSURE(container[0] && name_ok(container, 1024), CF_ERR_BAD_INPUT, "bad container name");
    bool container_scope = strcmp(sas->sr, "c") == 0;
    if (!blob)
        blob = "";
    CF_ENSURE(container_scope || blob[0], CF_ERR_BAD_INPUT, "blob SAS without a blob name");
    CF_ENSURE(name_ok(blob, CF_STORAGE_MAX_PATH), CF_ERR_BAD_INPUT, "bad blob name");
    const char *stamp = strcmp(sas->sr, "bs") == 0   ? sas->snapshot
                        : strcmp(sas->sr, "bv") == 0 ? sas->versionid
                                                     : "";
    cf_buf b;
    cf_buf_init(&b, CF_STORAGE_MAX_STS);
    bool ok = cf_buf_append_str(&b, sas->sp) && cf_buf_append_u8(&b, '\n') &&
              cf_buf_append_str(&b, sas->st) && cf_buf_append_u8(&b, '\n') &&
              cf_buf_append_str(&b, sas->se) && cf_buf_append_str(&b, "\n/blob/") &&
              cf_buf_append_str(&b, account) && cf_buf_append_u8(&b, '/') &&
              cf_buf_append_str(&b, container);
    if (ok && !container_scope)
        ok = cf_buf_append_u8(&b, '/') && cf_buf_append_str(&b, blob);
    /* A user delegation SAS signs its key's fields where a service SAS
     * signs si; from 2025-07-05 also the delegated user's tenant and id,
     * from 2026-04-06 the signed request headers and query (which Coffer
     * does not take: they sign as empty, so a SAS using them fails). */
    bool delegated = sas->kind == CF_SAS_USER_DELEGATION;
    bool v2025 = strcmp(sas->sv, "2025-07-05") >= 0, v2026 = strcmp(sas->sv, "2026-04-06") >= 0;
    const char *f[32];
    size_t n = 0;
    f[n++] = "";
    if (!delegated) {
        f[n++] = sas->si;
    } else {
        const char *key[] = {sas->skoid, sas->sktid, sas->skt,   sas->ske, sas->sks,
                             sas->skv,   sas->saoid, sas->suoid, sas->scid};
        for (size_t k = 0; k < sizeof key / sizeof *key; k++)
            f[n++] = key[k];
        if (v2025) {
            f[n++] = sas->skdutid;
            f[n++] = sas->sduoid;
        }
    }
    const char *middle[] = {sas->sip, sas->spr, sas->sv, sas->sr, stamp, sas->ses};
    for (size_t k = 0; k < sizeof middle / sizeof *middle; k++)
        f[n++] = middle[k];
    if (delegated && v2026) {
        f[n++] = ""; /* srh */
        f[n++] = ""; /* srq */
    }
    const char *tail[] = {sas->rscc, sas->rscd, sas->rsce, sas->rscl, sas->rsct};
    for (size_t k = 0; k < sizeof tail / sizeof *tail; k++)
        f[n++] = tail[k];
    ok = ok && append_fields(&b, f, n) && cf_buf_append_slice(out, cf_buf_slice(&b));
    cf_buf_free(&b);
    return ok;
}

bool cf_sas_verify_signature(const cf_sas *sas, cf_slice string_to_sign, cf_slice key, bool *ok)
{
    CF_ENSURE(sas && ok, CF_ERR_INTERNAL, "null argument");
    *ok = false;
    CF_ENSURE(key.len > 0 && key.ptr, CF_ERR_BAD_INPUT, "empty account key");
    bool match = false;
    CF_GUARD(mac_matches(key, string_to_sign, sas->sig, &match));
    CF_ENSURE(match, CF_ERR_UNAUTHORIZED, "SAS signature does not match");
    *ok = true;
    return true;
}

/* ---- SAS: policy helpers ---- */

bool cf_sas_apply_policy(cf_sas *sas, const cf_sas_policy *policy)
{
    CF_ENSURE(sas && policy, CF_ERR_INTERNAL, "null argument");
    CF_ENSURE(sas->kind == CF_SAS_SERVICE && sas->si[0], CF_ERR_BAD_INPUT,
              "not a service SAS with si");
    const char *perms = policy->permissions ? policy->permissions : "";
    CF_ENSURE(!(policy->has_start && sas->has_start) && !(policy->has_expiry && sas->has_expiry) &&
                  !(perms[0] && sas->sp[0]),
              CF_ERR_UNAUTHORIZED, "SAS and stored access policy both set a field");
    if (policy->has_start) {
        sas->has_start = true;
        sas->start = policy->start;
    }
    if (policy->has_expiry) {
        sas->has_expiry = true;
        sas->expiry = policy->expiry;
    }
    if (perms[0]) {
        CF_ENSURE(strlen(perms) < sizeof sas->sp && letters_ok(perms, SAS_SERVICE_PERMS),
                  CF_ERR_UNAUTHORIZED, "bad stored policy permissions");
        memcpy(sas->sp, perms, strlen(perms) + 1);
    }
    CF_ENSURE(sas->has_expiry && sas->sp[0], CF_ERR_UNAUTHORIZED,
              "SAS and policy together lack expiry or permissions");
    return true;
}

bool cf_sas_check_time(const cf_sas *sas, int64_t now)
{
    CF_ENSURE(sas->has_expiry, CF_ERR_UNAUTHORIZED, "SAS has no expiry");
    CF_ENSURE(!sas->has_start || now >= sas->start, CF_ERR_UNAUTHORIZED, "SAS not yet valid");
    CF_ENSURE(now < sas->expiry, CF_ERR_UNAUTHORIZED, "SAS expired");
    return true;
}

bool cf_sas_check_ip(const cf_sas *sas, const char *client_ip)
{
    if (!sas->sip[0])
        return true;
    ip_range r;
    CF_GUARD(parse_sip(sas->sip, &r));
    int family;
    uint8_t addr[16];
    CF_ENSURE(parse_ip(client_ip, &family, addr), CF_ERR_BAD_INPUT, "bad client address");
    CF_ENSURE(family == r.family && memcmp(addr, r.lo, 16) >= 0 && memcmp(addr, r.hi, 16) <= 0,
              CF_ERR_FORBIDDEN, "client address outside the SAS range");
    return true;
}

bool cf_sas_check_protocol(const cf_sas *sas, bool https)
{
    CF_ENSURE(https || strcmp(sas->spr, "https") != 0, CF_ERR_FORBIDDEN, "SAS requires https");
    return true;
}

bool cf_sas_permits(const cf_sas *sas, char permission)
{
    return permission != 0 && strchr(sas->sp, permission) != NULL;
}

bool cf_sas_permits_service(const cf_sas *sas, char service)
{
    return sas->kind == CF_SAS_ACCOUNT && service != 0 && strchr(sas->ss, service) != NULL;
}

bool cf_sas_permits_resource_type(const cf_sas *sas, char type)
{
    return sas->kind == CF_SAS_ACCOUNT && type != 0 && strchr(sas->srt, type) != NULL;
}
