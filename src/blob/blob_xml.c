/*
 * The parsers share one bounded reader: expat feeds a flat tree (nodes in
 * one array, linked by index; names and leaf texts in one pool), and each
 * body's walker then checks the shape it expects.  A tree costs a little
 * memory (bounded by the input cap) but keeps each walker a straight read
 * of the schema instead of a state machine per body.  Handlers never
 * return errors through expat: the first failure is recorded in the
 * reader and the parser is stopped.
 */
#include "blob_xml.h"

#include <expat.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "httpdate.h"
#include "utf8.h"

#define R_DOC "InvalidXmlDocument"
#define R_VALUE "InvalidXmlNodeValue"

#define CF_BAIL_REASON_DOC(detail)                          \
    do {                                                    \
        CF_RAISE_REASON(CF_ERR_BAD_INPUT, R_DOC, (detail)); \
        return false;                                       \
    } while (0)

/* ================= writer ================= */

static bool xml_name_ok(const char *n)
{
    if (!n || !((*n >= 'A' && *n <= 'Z') || (*n >= 'a' && *n <= 'z') || *n == '_'))
        return false;
    for (; *n; n++) {
        char c = *n;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static bool xml_char_ok(uint32_t c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

bool cf_xml_text_valid(cf_slice text)
{
    for (size_t i = 0; i < text.len;) {
        uint32_t cp;
        size_t n = cf_utf8_decode(text.ptr + i, text.len - i, &cp);
        if (n == 0 || !xml_char_ok(cp))
            return false;
        i += n;
    }
    return true;
}

bool cf_xml_escape(cf_buf *out, cf_slice text, bool attr)
{
    if (text.len == 0)
        return true;
    size_t run = 0; /* start of the pending run of bytes copied as they are */
    for (size_t i = 0; i < text.len;) {
        uint32_t cp;
        size_t n = cf_utf8_decode(text.ptr + i, text.len - i, &cp);
        CF_ENSURE(n != 0, CF_ERR_BAD_INPUT, "text is not valid UTF-8");
        CF_ENSURE(xml_char_ok(cp), CF_ERR_BAD_INPUT, "text has a character XML does not allow");
        const char *rep = NULL;
        switch (cp) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '\r': rep = "&#xD;"; break;
        case '"': rep = attr ? "&quot;" : NULL; break;
        case '\'': rep = attr ? "&apos;" : NULL; break;
        case '\t': rep = attr ? "&#x9;" : NULL; break;
        case '\n': rep = attr ? "&#xA;" : NULL; break;
        default: break;
        }
        if (rep) {
            CF_GUARD(cf_buf_append(out, text.ptr + run, i - run));
            CF_GUARD(cf_buf_append_str(out, rep));
            run = i + n;
        }
        i += n;
    }
    return cf_buf_append(out, text.ptr + run, text.len - run);
}

void cf_xml_writer_init(cf_xml_writer *w, cf_buf *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
}

static bool end_start_tag(cf_xml_writer *w)
{
    if (w->tag_open) {
        CF_GUARD(cf_buf_append_u8(w->out, '>'));
        w->tag_open = false;
    }
    return true;
}

bool cf_xml_declaration(cf_xml_writer *w)
{
    CF_ENSURE(w->depth == 0, CF_ERR_INTERNAL, "XML declaration inside an element");
    return cf_buf_append_str(w->out, "<?xml version=\"1.0\" encoding=\"utf-8\"?>");
}

bool cf_xml_open(cf_xml_writer *w, const char *name)
{
    CF_ENSURE(xml_name_ok(name), CF_ERR_BAD_INPUT, "not an XML element name");
    CF_ENSURE(w->depth < CF_XML_MAX_DEPTH, CF_ERR_INTERNAL, "XML nesting too deep");
    CF_GUARD(end_start_tag(w));
    CF_GUARD(cf_buf_append_u8(w->out, '<'));
    CF_GUARD(cf_buf_append_str(w->out, name));
    w->names[w->depth++] = name;
    w->tag_open = true;
    return true;
}

bool cf_xml_attr(cf_xml_writer *w, const char *name, cf_slice value)
{
    CF_ENSURE(w->tag_open, CF_ERR_INTERNAL, "XML attribute after content");
    CF_ENSURE(xml_name_ok(name), CF_ERR_BAD_INPUT, "not an XML attribute name");
    CF_GUARD(cf_buf_append_u8(w->out, ' '));
    CF_GUARD(cf_buf_append_str(w->out, name));
    CF_GUARD(cf_buf_append_str(w->out, "=\""));
    CF_GUARD(cf_xml_escape(w->out, value, true));
    return cf_buf_append_u8(w->out, '"');
}

bool cf_xml_text(cf_xml_writer *w, cf_slice text)
{
    CF_ENSURE(w->depth > 0, CF_ERR_INTERNAL, "XML text outside an element");
    if (text.len == 0)
        return true;
    CF_GUARD(end_start_tag(w));
    return cf_xml_escape(w->out, text, false);
}

bool cf_xml_close(cf_xml_writer *w)
{
    CF_ENSURE(w->depth > 0, CF_ERR_INTERNAL, "XML close without open");
    const char *name = w->names[--w->depth];
    if (w->tag_open) {
        w->tag_open = false;
        return cf_buf_append_str(w->out, "/>");
    }
    CF_GUARD(cf_buf_append_str(w->out, "</"));
    CF_GUARD(cf_buf_append_str(w->out, name));
    return cf_buf_append_u8(w->out, '>');
}

bool cf_xml_empty(cf_xml_writer *w, const char *name)
{
    CF_GUARD(cf_xml_open(w, name));
    return cf_xml_close(w);
}

bool cf_xml_element(cf_xml_writer *w, const char *name, cf_slice text)
{
    CF_GUARD(cf_xml_open(w, name));
    CF_GUARD(cf_xml_text(w, text));
    return cf_xml_close(w);
}

bool cf_xml_element_str(cf_xml_writer *w, const char *name, const char *text)
{
    return cf_xml_element(w, name, CF_SLICE_STR(text ? text : ""));
}

bool cf_xml_element_i64(cf_xml_writer *w, const char *name, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRId64, v);
    return cf_xml_element(w, name, cf_slice_of(num, (size_t)n));
}

bool cf_xml_element_bool(cf_xml_writer *w, const char *name, bool v)
{
    return cf_xml_element_str(w, name, v ? "true" : "false");
}

bool cf_xml_finish(cf_xml_writer *w)
{
    CF_ENSURE(w->depth == 0 && !w->tag_open, CF_ERR_INTERNAL, "XML element left open");
    return true;
}

/* ================= reader ================= */

#define XML_READER_MAX_DEPTH 8

typedef struct {
    size_t max_input, max_depth, max_elements, max_text;
    const char *too_many; /* reason when max_elements is passed */
} xml_limits;

typedef struct {
    uint32_t name, name_len; /* in the pool */
    uint32_t text, text_len; /* in the pool; leaves only, trimmed */
    int32_t first_child, last_child, next;
} xml_node;

typedef struct {
    XML_Parser parser;
    const xml_limits *lim;
    xml_node *nodes;
    size_t n, cap;
    cf_buf pool;
    cf_buf pending; /* character data of the innermost open element */
    int32_t stack[XML_READER_MAX_DEPTH];
    size_t depth;
    bool failed;
    cf_err code;
    const char *reason, *detail;
} xml_doc;

static void doc_fail(xml_doc *d, cf_err code, const char *reason, const char *detail)
{
    if (!d->failed) {
        d->failed = true;
        d->code = code;
        d->reason = reason;
        d->detail = detail;
        XML_StopParser(d->parser, XML_FALSE);
    }
}

static bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static cf_slice trim(cf_slice s)
{
    while (s.len && is_ws(s.ptr[0]))
        s.ptr++, s.len--;
    while (s.len && is_ws(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    (void)atts;
    xml_doc *d = ud;
    if (d->failed)
        return;
    if (d->depth >= d->lim->max_depth) {
        doc_fail(d, CF_ERR_BAD_INPUT, R_DOC, "XML nested too deeply");
        return;
    }
    if (d->n >= d->lim->max_elements) {
        doc_fail(d, CF_ERR_BAD_INPUT, d->lim->too_many, "too many XML elements");
        return;
    }
    if (trim(cf_buf_slice(&d->pending)).len) {
        doc_fail(d, CF_ERR_BAD_INPUT, R_DOC, "text mixed with elements");
        return;
    }
    cf_buf_clear(&d->pending);
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        xml_node *nn = realloc(d->nodes, cap * sizeof *nn);
        if (!nn) {
            doc_fail(d, CF_ERR_NOMEM, NULL, NULL);
            return;
        }
        d->nodes = nn;
        d->cap = cap;
    }
    size_t len = strlen(name);
    xml_node *node = &d->nodes[d->n];
    *node = (xml_node){(uint32_t)d->pool.len, (uint32_t)len, 0, 0, -1, -1, -1};
    if (!cf_buf_append(&d->pool, name, len)) {
        doc_fail(d, CF_ERR_BAD_INPUT, R_DOC, "XML too large");
        return;
    }
    int32_t idx = (int32_t)d->n++;
    if (d->depth) {
        xml_node *parent = &d->nodes[d->stack[d->depth - 1]];
        if (parent->last_child >= 0)
            d->nodes[parent->last_child].next = idx;
        else
            parent->first_child = idx;
        parent->last_child = idx;
    }
    d->stack[d->depth++] = idx;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    (void)name;
    xml_doc *d = ud;
    if (d->failed || d->depth == 0)
        return;
    xml_node *node = &d->nodes[d->stack[--d->depth]];
    cf_slice t = trim(cf_buf_slice(&d->pending));
    if (node->first_child >= 0) {
        if (t.len)
            doc_fail(d, CF_ERR_BAD_INPUT, R_DOC, "text mixed with elements");
    } else {
        node->text = (uint32_t)d->pool.len;
        node->text_len = (uint32_t)t.len;
        if (!cf_buf_append_slice(&d->pool, t))
            doc_fail(d, CF_ERR_BAD_INPUT, R_DOC, "XML too large");
    }
    cf_buf_clear(&d->pending);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    xml_doc *d = ud;
    if (d->failed || d->depth == 0)
        return;
    if (!cf_buf_append(&d->pending, s, (size_t)len))
        doc_fail(d, CF_ERR_BAD_INPUT, R_DOC, "XML text too long");
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    doc_fail(ud, CF_ERR_BAD_INPUT, R_DOC, "DTDs are not allowed");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
                              int value_len, const XML_Char *base, const XML_Char *sysid,
                              const XML_Char *pubid, const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid;
    (void)pubid, (void)notation;
    doc_fail(ud, CF_ERR_BAD_INPUT, R_DOC, "entity declarations are not allowed");
}

static void doc_free(xml_doc *d)
{
    if (d->parser)
        XML_ParserFree(d->parser);
    free(d->nodes);
    cf_buf_free(&d->pool);
    cf_buf_free(&d->pending);
    memset(d, 0, sizeof *d);
}

/* Parses `body` into `d` (root at index 0); `d` must be freed either way. */
static bool doc_parse(xml_doc *d, cf_slice body, const xml_limits *lim)
{
    memset(d, 0, sizeof *d);
    d->lim = lim;
    cf_buf_init(&d->pool, 2 * lim->max_input);
    cf_buf_init(&d->pending, lim->max_text);
    if (body.len > lim->max_input) {
        CF_RAISE_REASON(CF_ERR_TOO_LARGE, "RequestBodyTooLarge", "XML body too large");
        return false;
    }
    d->parser = XML_ParserCreate(NULL);
    CF_ENSURE_ALLOC(d->parser);
    XML_SetUserData(d->parser, d);
    XML_SetElementHandler(d->parser, on_start, on_end);
    XML_SetCharacterDataHandler(d->parser, on_text);
    XML_SetStartDoctypeDeclHandler(d->parser, on_doctype);
    XML_SetEntityDeclHandler(d->parser, on_entity);
    XML_SetParamEntityParsing(d->parser, XML_PARAM_ENTITY_PARSING_NEVER);
    enum XML_Status st = XML_Parse(d->parser, (const char *)body.ptr, (int)body.len, XML_TRUE);
    if (d->failed) {
        CF_RAISE_REASON(d->code, d->reason, d->detail);
        return false;
    }
    if (st != XML_STATUS_OK) {
        enum XML_Error e = XML_GetErrorCode(d->parser);
        if (e == XML_ERROR_NO_MEMORY) {
            CF_RAISE(CF_ERR_NOMEM, NULL);
        } else {
            char msg[128];
            snprintf(msg, sizeof msg, "XML is not well-formed: %s (line %lu)", XML_ErrorString(e),
                     (unsigned long)XML_GetCurrentLineNumber(d->parser));
            CF_RAISE_REASON(CF_ERR_BAD_INPUT, R_DOC, msg);
        }
        return false;
    }
    CF_ENSURE_REASON(d->n > 0, CF_ERR_BAD_INPUT, R_DOC, "no root element");
    return true;
}

static bool node_is(const xml_doc *d, int32_t i, const char *name)
{
    const xml_node *n = &d->nodes[i];
    return strlen(name) == n->name_len && memcmp(d->pool.data + n->name, name, n->name_len) == 0;
}

/* The text of a leaf element; an element with children is a document error. */
static bool leaf(const xml_doc *d, int32_t i, cf_slice *out)
{
    const xml_node *n = &d->nodes[i];
    CF_ENSURE_REASON(n->first_child < 0, CF_ERR_BAD_INPUT, R_DOC, "element must hold only text");
    *out = cf_slice_of(d->pool.data + n->text, n->text_len);
    return true;
}

typedef struct {
    const char *name;
    int32_t idx; /* -1 when absent */
} xml_field;

/* Finds the named children of `parent`, each at most once.  With `strict`
 * any other child is an error; otherwise it is ignored. */
static bool fields(const xml_doc *d, int32_t parent, xml_field *f, size_t nf, bool strict)
{
    for (size_t k = 0; k < nf; k++)
        f[k].idx = -1;
    for (int32_t c = d->nodes[parent].first_child; c >= 0; c = d->nodes[c].next) {
        size_t k = 0;
        while (k < nf && !node_is(d, c, f[k].name))
            k++;
        if (k == nf) {
            CF_ENSURE_REASON(!strict, CF_ERR_BAD_INPUT, R_DOC, "unexpected XML element");
            continue;
        }
        CF_ENSURE_REASON(f[k].idx < 0, CF_ERR_BAD_INPUT, R_DOC, "repeated XML element");
        f[k].idx = c;
    }
    return true;
}

static bool require(const xml_field *f, const char *detail)
{
    CF_ENSURE_REASON(f->idx >= 0, CF_ERR_BAD_INPUT, R_DOC, detail);
    return true;
}

/* xs:boolean */
static bool leaf_bool(const xml_doc *d, int32_t i, bool *out)
{
    cf_slice t;
    CF_GUARD(leaf(d, i, &t));
    if (cf_slice_eq_str(t, "true") || cf_slice_eq_str(t, "1"))
        *out = true;
    else if (cf_slice_eq_str(t, "false") || cf_slice_eq_str(t, "0"))
        *out = false;
    else
        CF_ENSURE_REASON(false, CF_ERR_BAD_INPUT, R_VALUE, "XML value is not a boolean");
    return true;
}

/* A non-negative decimal integer no larger than `max`. */
static bool leaf_uint(const xml_doc *d, int32_t i, uint32_t max, uint32_t *out)
{
    cf_slice t;
    CF_GUARD(leaf(d, i, &t));
    uint64_t v = 0;
    CF_ENSURE_REASON(t.len >= 1 && t.len <= 10, CF_ERR_BAD_INPUT, R_VALUE,
                     "XML value is not a number");
    for (size_t k = 0; k < t.len; k++) {
        CF_ENSURE_REASON(t.ptr[k] >= '0' && t.ptr[k] <= '9', CF_ERR_BAD_INPUT, R_VALUE,
                         "XML value is not a number");
        v = v * 10 + (t.ptr[k] - '0');
    }
    CF_ENSURE_REASON(v <= max, CF_ERR_BAD_INPUT, R_VALUE, "XML value out of range");
    *out = (uint32_t)v;
    return true;
}

/* Copies a leaf's text into a fixed array of `size` bytes (with the NUL). */
static bool leaf_copy(const xml_doc *d, int32_t i, char *dst, size_t size)
{
    cf_slice t;
    CF_GUARD(leaf(d, i, &t));
    CF_ENSURE_REASON(t.len < size, CF_ERR_BAD_INPUT, R_VALUE, "XML value too long");
    memcpy(dst, t.ptr, t.len);
    dst[t.len] = 0;
    return true;
}

/* Copies a leaf's text into a new string of at most `max` bytes. */
static bool leaf_dup(const xml_doc *d, int32_t i, size_t max, char **out)
{
    cf_slice t;
    CF_GUARD(leaf(d, i, &t));
    CF_ENSURE_REASON(t.len <= max, CF_ERR_BAD_INPUT, R_VALUE, "XML value too long");
    char *s = malloc(t.len + 1);
    CF_ENSURE_ALLOC(s);
    memcpy(s, t.ptr, t.len);
    s[t.len] = 0;
    *out = s;
    return true;
}

/* ================= Put Block List ================= */

static const xml_limits block_list_limits = {
    .max_input = CF_BLOB_XML_BLOCK_LIST_MAX,
    .max_depth = 2,
    .max_elements = CF_BLOB_MAX_BLOCKS + 1,
    .max_text = 256,
    .too_many = "BlockListTooLong",
};

void cf_blob_block_list_free(cf_blob_block_list *l)
{
    free(l->refs);
    free(l->ids);
    memset(l, 0, sizeof *l);
}

static bool walk_block_list(const xml_doc *d, cf_blob_block_list *out, cf_buf *tmp)
{
    CF_ENSURE_REASON(node_is(d, 0, "BlockList"), CF_ERR_BAD_INPUT, R_DOC,
                     "the root element must be BlockList");
    size_t n = 0;
    for (int32_t c = d->nodes[0].first_child; c >= 0; c = d->nodes[c].next)
        n++;
    CF_ENSURE_REASON(n <= CF_BLOB_MAX_BLOCKS, CF_ERR_BAD_INPUT, "BlockListTooLong",
                     "more than 50,000 blocks in the list");
    out->refs = calloc(n ? n : 1, sizeof *out->refs);
    out->ids = malloc(n ? n * CF_BLOB_BLOCK_ID_MAX : 1);
    CF_ENSURE_ALLOC(out->refs);
    CF_ENSURE_ALLOC(out->ids);
    size_t id_len = 0;
    for (int32_t c = d->nodes[0].first_child; c >= 0; c = d->nodes[c].next) {
        cf_block_from from;
        if (node_is(d, c, "Latest"))
            from = CF_BLOCK_LATEST;
        else if (node_is(d, c, "Committed"))
            from = CF_BLOCK_COMMITTED;
        else if (node_is(d, c, "Uncommitted"))
            from = CF_BLOCK_UNCOMMITTED;
        else
            CF_BAIL_REASON_DOC("unexpected element in BlockList");
        cf_slice t;
        CF_GUARD(leaf(d, c, &t));
        cf_buf_clear(tmp);
        /* Padded base64 only, as Azure decodes it. */
        bool ok = t.len > 0 && t.len % 4 == 0 && t.len <= 4 * ((CF_BLOB_BLOCK_ID_MAX + 2) / 3) &&
                  cf_base64_decode(t, tmp) && tmp->len >= 1 && tmp->len <= CF_BLOB_BLOCK_ID_MAX;
        CF_ENSURE_REASON(ok, CF_ERR_BAD_INPUT, "InvalidBlockList",
                         "a block id is not base64 of 1 to 64 bytes");
        if (out->n == 0)
            id_len = tmp->len;
        CF_ENSURE_REASON(tmp->len == id_len, CF_ERR_BAD_INPUT, "InvalidBlockList",
                         "block ids of one blob must all have the same length");
        uint8_t *slot = out->ids + out->n * CF_BLOB_BLOCK_ID_MAX;
        memcpy(slot, tmp->data, tmp->len);
        out->refs[out->n++] = (cf_block_ref){cf_slice_of(slot, tmp->len), from};
    }
    return true;
}

bool cf_blob_xml_parse_block_list(cf_slice body, cf_blob_block_list *out)
{
    memset(out, 0, sizeof *out);
    xml_doc d;
    cf_buf tmp;
    cf_buf_init(&tmp, CF_BLOB_BLOCK_ID_MAX + 3);
    bool ok = doc_parse(&d, body, &block_list_limits);
    ok = ok && walk_block_list(&d, out, &tmp);
    doc_free(&d);
    cf_buf_free(&tmp);
    if (!ok)
        cf_blob_block_list_free(out);
    return ok;
}

/* ================= container ACL ================= */

static const xml_limits acl_limits = {
    .max_input = CF_BLOB_XML_ACL_MAX,
    .max_depth = 4,
    .max_elements = 64,
    .max_text = 256,
    .too_many = R_DOC,
};

/* Letters a stored access policy may grant (container and blob SAS). */
static const char acl_permission_letters[] = "racwdxyltmeopif";

static bool acl_time(const xml_doc *d, int32_t i, char *out, size_t size)
{
    cf_slice s;
    CF_GUARD(leaf(d, i, &s));
    if (s.len == 0)
        return true;
    int64_t t;
    uint32_t ticks;
    bool ok = cf_iso8601_parse(s, &t, &ticks);
    CF_ENSURE_REASON(ok, CF_ERR_BAD_INPUT, R_VALUE, "access policy time is not ISO 8601 UTC");
    char iso[CF_ISO8601_LEN + 1];
    CF_GUARD(cf_iso8601_format(t, ticks, iso));
    CF_ENSURE(sizeof iso <= size, CF_ERR_INTERNAL, "policy time field too small");
    memcpy(out, iso, sizeof iso);
    return true;
}

static bool walk_policy(const xml_doc *d, int32_t node, cf_blob_access_policy *pol)
{
    xml_field f[] = {{"Id", -1}, {"AccessPolicy", -1}};
    CF_GUARD(fields(d, node, f, 2, true));
    CF_GUARD(require(&f[0], "SignedIdentifier needs an Id"));
    cf_slice t;
    CF_GUARD(leaf(d, f[0].idx, &t));
    CF_ENSURE_REASON(t.len >= 1 && t.len <= CF_BLOB_POLICY_ID_MAX, CF_ERR_BAD_INPUT, R_VALUE,
                     "signed identifier Id must be 1 to 64 characters");
    memcpy(pol->id, t.ptr, t.len);
    pol->id[t.len] = 0;
    if (f[1].idx < 0)
        return true;
    xml_field p[] = {{"Start", -1}, {"Expiry", -1}, {"Permission", -1}};
    CF_GUARD(fields(d, f[1].idx, p, 3, true));
    if (p[0].idx >= 0)
        CF_GUARD(acl_time(d, p[0].idx, pol->start, sizeof pol->start));
    if (p[1].idx >= 0)
        CF_GUARD(acl_time(d, p[1].idx, pol->expiry, sizeof pol->expiry));
    if (p[2].idx >= 0) {
        CF_GUARD(leaf(d, p[2].idx, &t));
        CF_ENSURE_REASON(t.len < sizeof pol->permission, CF_ERR_BAD_INPUT, R_VALUE,
                         "access policy permission too long");
        for (size_t k = 0; k < t.len; k++)
            CF_ENSURE_REASON(t.ptr[k] && strchr(acl_permission_letters, t.ptr[k]), CF_ERR_BAD_INPUT,
                             R_VALUE, "unknown access policy permission");
        memcpy(pol->permission, t.ptr, t.len);
        pol->permission[t.len] = 0;
    }
    return true;
}

static bool walk_acl(const xml_doc *d, cf_blob_acl *acl)
{
    CF_ENSURE_REASON(node_is(d, 0, "SignedIdentifiers"), CF_ERR_BAD_INPUT, R_DOC,
                     "the root element must be SignedIdentifiers");
    for (int32_t c = d->nodes[0].first_child; c >= 0; c = d->nodes[c].next) {
        CF_ENSURE_REASON(node_is(d, c, "SignedIdentifier"), CF_ERR_BAD_INPUT, R_DOC,
                         "unexpected element in SignedIdentifiers");
        CF_ENSURE_REASON(acl->n < CF_BLOB_ACL_MAX, CF_ERR_BAD_INPUT, R_DOC,
                         "more than 5 signed identifiers");
        cf_blob_access_policy *pol = &acl->policies[acl->n];
        CF_GUARD(walk_policy(d, c, pol));
        for (size_t k = 0; k < acl->n; k++)
            CF_ENSURE_REASON(strcmp(acl->policies[k].id, pol->id) != 0, CF_ERR_BAD_INPUT, R_DOC,
                             "repeated signed identifier Id");
        acl->n++;
    }
    return true;
}

static void acl_clear(cf_blob_acl *acl)
{
    acl->n = 0;
    memset(acl->policies, 0, sizeof acl->policies);
}

bool cf_blob_xml_parse_acl(cf_slice body, cf_blob_acl *acl)
{
    acl_clear(acl);
    if (trim(body).len == 0)
        return true;
    xml_doc d;
    bool ok = doc_parse(&d, body, &acl_limits) && walk_acl(&d, acl);
    doc_free(&d);
    if (!ok)
        acl_clear(acl);
    return ok;
}

/* A stored time in the canonical form, or as stored if it does not parse
 * (it came from elsewhere; better shown than dropped). */
static bool render_time(cf_xml_writer *w, const char *name, const char *stored)
{
    int64_t t;
    uint32_t ticks;
    char iso[CF_ISO8601_LEN + 1];
    if (cf_iso8601_parse(CF_SLICE_STR(stored), &t, &ticks) && cf_iso8601_format(t, ticks, iso))
        return cf_xml_element_str(w, name, iso);
    cf_error_clear();
    return cf_xml_element_str(w, name, stored);
}

bool cf_blob_xml_render_acl(const cf_blob_acl *acl, cf_buf *out)
{
    CF_ENSURE(acl->n <= CF_BLOB_ACL_MAX, CF_ERR_INTERNAL, "too many signed identifiers");
    cf_xml_writer w;
    cf_xml_writer_init(&w, out);
    CF_GUARD(cf_xml_declaration(&w));
    CF_GUARD(cf_xml_open(&w, "SignedIdentifiers"));
    for (size_t k = 0; k < acl->n; k++) {
        const cf_blob_access_policy *pol = &acl->policies[k];
        CF_GUARD(cf_xml_open(&w, "SignedIdentifier"));
        CF_GUARD(cf_xml_element_str(&w, "Id", pol->id));
        CF_GUARD(cf_xml_open(&w, "AccessPolicy"));
        if (pol->start[0])
            CF_GUARD(render_time(&w, "Start", pol->start));
        if (pol->expiry[0])
            CF_GUARD(render_time(&w, "Expiry", pol->expiry));
        if (pol->permission[0])
            CF_GUARD(cf_xml_element_str(&w, "Permission", pol->permission));
        CF_GUARD(cf_xml_close(&w));
        CF_GUARD(cf_xml_close(&w));
    }
    CF_GUARD(cf_xml_close(&w));
    return cf_xml_finish(&w);
}

/* ================= service properties ================= */

static const xml_limits props_limits = {
    .max_input = CF_BLOB_XML_PROPS_MAX,
    .max_depth = XML_READER_MAX_DEPTH,
    .max_elements = 512,
    .max_text = 32u << 10,
    .too_many = R_DOC,
};

#define CORS_ITEMS_MAX 64
#define CORS_PREFIXED_MAX 2
#define CORS_ITEM_LEN_MAX 256
#define WEBSITE_PATH_MAX 1024

static void website_free(cf_blob_static_website *s)
{
    free(s->index_document);
    free(s->error_document_404_path);
    free(s->default_index_document_path);
    s->index_document = s->error_document_404_path = s->default_index_document_path = NULL;
}

static void cors_rule_free(cf_blob_cors_rule *r)
{
    free(r->allowed_origins);
    free(r->allowed_methods);
    free(r->allowed_headers);
    free(r->exposed_headers);
    memset(r, 0, sizeof *r);
}

void cf_blob_service_props_free(cf_blob_service_props *p)
{
    for (size_t k = 0; k < p->n_cors && k < CF_BLOB_CORS_MAX; k++)
        cors_rule_free(&p->cors[k]);
    website_free(&p->static_website);
    memset(p, 0, sizeof *p);
}

void cf_blob_service_props_init(cf_blob_service_props *p)
{
    memset(p, 0, sizeof *p);
    p->has_logging = p->has_hour_metrics = p->has_minute_metrics = true;
    p->has_cors = p->has_delete_retention = p->has_static_website = true;
    memcpy(p->logging.version, "1.0", 4);
    memcpy(p->hour_metrics.version, "1.0", 4);
    memcpy(p->minute_metrics.version, "1.0", 4);
}

/* <RetentionPolicy>/<DeleteRetentionPolicy>: Days only, and then
 * required, when enabled (Azure refuses Days on a disabled policy). */
static bool walk_retention(const xml_doc *d, int32_t node, cf_blob_retention *r)
{
    xml_field f[] = {{"Enabled", -1}, {"Days", -1}, {"AllowPermanentDelete", -1}};
    CF_GUARD(fields(d, node, f, 3, false));
    CF_GUARD(require(&f[0], "RetentionPolicy needs Enabled"));
    CF_GUARD(leaf_bool(d, f[0].idx, &r->enabled));
    if (r->enabled) {
        CF_GUARD(require(&f[1], "Days is required when the retention policy is enabled"));
        CF_GUARD(leaf_uint(d, f[1].idx, CF_BLOB_RETENTION_DAYS_MAX, &r->days));
        CF_ENSURE_REASON(r->days >= 1, CF_ERR_BAD_INPUT, R_VALUE, "Days must be 1 to 365");
    } else {
        CF_ENSURE_REASON(f[1].idx < 0, CF_ERR_BAD_INPUT, R_DOC,
                         "Days is only expected when the retention policy is enabled");
        r->days = 0;
    }
    if (f[2].idx >= 0) {
        r->has_allow_permanent_delete = true;
        CF_GUARD(leaf_bool(d, f[2].idx, &r->allow_permanent_delete));
    }
    return true;
}

/* Analytics versions ("1.0") and service versions ("2020-10-02"). */
static bool walk_version(const xml_doc *d, int32_t node, char out[CF_BLOB_PROPS_VERSION_MAX + 1],
                         bool date)
{
    CF_GUARD(leaf_copy(d, node, out, CF_BLOB_PROPS_VERSION_MAX + 1));
    size_t len = strlen(out);
    bool ok = len > 0;
    for (size_t k = 0; ok && k < len; k++) {
        char c = out[k];
        ok = date ? ((k == 4 || k == 7) ? c == '-' : (c >= '0' && c <= '9'))
                  : ((c >= '0' && c <= '9') || c == '.');
    }
    CF_ENSURE_REASON(ok && (!date || len == 10), CF_ERR_BAD_INPUT, R_VALUE, "not a valid version");
    return true;
}

static bool walk_logging(const xml_doc *d, int32_t node, cf_blob_logging *l)
{
    xml_field f[] = {
        {"Version", -1}, {"Delete", -1}, {"Read", -1}, {"Write", -1}, {"RetentionPolicy", -1}};
    CF_GUARD(fields(d, node, f, 5, false));
    for (size_t k = 1; k < 5; k++)
        CF_GUARD(require(&f[k], "Logging needs Delete, Read, Write and RetentionPolicy"));
    memcpy(l->version, "1.0", 4);
    if (f[0].idx >= 0)
        CF_GUARD(walk_version(d, f[0].idx, l->version, false));
    CF_GUARD(leaf_bool(d, f[1].idx, &l->del));
    CF_GUARD(leaf_bool(d, f[2].idx, &l->read));
    CF_GUARD(leaf_bool(d, f[3].idx, &l->write));
    return walk_retention(d, f[4].idx, &l->retention);
}

static bool walk_metrics(const xml_doc *d, int32_t node, cf_blob_metrics *m)
{
    xml_field f[] = {
        {"Version", -1}, {"Enabled", -1}, {"IncludeAPIs", -1}, {"RetentionPolicy", -1}};
    CF_GUARD(fields(d, node, f, 4, false));
    CF_GUARD(require(&f[1], "Metrics needs Enabled"));
    memcpy(m->version, "1.0", 4);
    if (f[0].idx >= 0)
        CF_GUARD(walk_version(d, f[0].idx, m->version, false));
    CF_GUARD(leaf_bool(d, f[1].idx, &m->enabled));
    m->include_apis = false;
    if (m->enabled) {
        CF_GUARD(require(&f[2], "IncludeAPIs is required when metrics are enabled"));
        CF_GUARD(leaf_bool(d, f[2].idx, &m->include_apis));
    } else if (f[2].idx >= 0) {
        bool ignored;
        CF_GUARD(leaf_bool(d, f[2].idx, &ignored));
    }
    memset(&m->retention, 0, sizeof m->retention);
    if (f[3].idx >= 0)
        CF_GUARD(walk_retention(d, f[3].idx, &m->retention));
    return true;
}

static bool is_cors_method(cf_slice m)
{
    static const char *const methods[] = {"DELETE", "GET",     "HEAD", "MERGE",
                                          "POST",   "OPTIONS", "PUT",  "PATCH"};
    for (size_t k = 0; k < sizeof methods / sizeof *methods; k++)
        if (cf_slice_eq_str(m, methods[k]))
            return true;
    return false;
}

typedef enum { CORS_ORIGINS, CORS_METHODS, CORS_HEADERS } cors_list_kind;

/* A comma-separated CORS list, within Azure's limits for its kind. */
static bool cors_list_ok(const char *s, cors_list_kind kind)
{
    size_t items = 0, prefixed = 0, len = strlen(s);
    if (len == 0)
        return kind == CORS_HEADERS;
    for (size_t start = 0; start <= len;) {
        const char *comma = memchr(s + start, ',', len - start);
        size_t end = comma ? (size_t)(comma - s) : len;
        cf_slice item = trim(cf_slice_of(s + start, end - start));
        if (item.len == 0 || item.len > CORS_ITEM_LEN_MAX)
            return false;
        if (kind == CORS_METHODS && !is_cors_method(item))
            return false;
        if (kind == CORS_HEADERS && item.ptr[item.len - 1] == '*')
            prefixed++;
        else
            items++;
        start = end + 1;
    }
    if (kind == CORS_ORIGINS)
        return items + prefixed <= CORS_ITEMS_MAX;
    return items <= CORS_ITEMS_MAX && prefixed <= CORS_PREFIXED_MAX;
}

static bool walk_cors_rule(const xml_doc *d, int32_t node, cf_blob_cors_rule *r)
{
    xml_field f[] = {{"AllowedOrigins", -1},
                     {"AllowedMethods", -1},
                     {"AllowedHeaders", -1},
                     {"ExposedHeaders", -1},
                     {"MaxAgeInSeconds", -1}};
    CF_GUARD(fields(d, node, f, 5, false));
    for (size_t k = 0; k < 5; k++)
        CF_GUARD(require(&f[k], "a CorsRule needs AllowedOrigins, AllowedMethods, "
                                "AllowedHeaders, ExposedHeaders and MaxAgeInSeconds"));
    size_t max = props_limits.max_text;
    CF_GUARD(leaf_dup(d, f[0].idx, max, &r->allowed_origins));
    CF_GUARD(leaf_dup(d, f[1].idx, max, &r->allowed_methods));
    CF_GUARD(leaf_dup(d, f[2].idx, max, &r->allowed_headers));
    CF_GUARD(leaf_dup(d, f[3].idx, max, &r->exposed_headers));
    CF_GUARD(leaf_uint(d, f[4].idx, INT32_MAX, &r->max_age));
    CF_ENSURE_REASON(cors_list_ok(r->allowed_origins, CORS_ORIGINS), CF_ERR_BAD_INPUT, R_VALUE,
                     "invalid CORS AllowedOrigins");
    CF_ENSURE_REASON(cors_list_ok(r->allowed_methods, CORS_METHODS), CF_ERR_BAD_INPUT, R_VALUE,
                     "invalid CORS AllowedMethods");
    CF_ENSURE_REASON(cors_list_ok(r->allowed_headers, CORS_HEADERS), CF_ERR_BAD_INPUT, R_VALUE,
                     "invalid CORS AllowedHeaders");
    CF_ENSURE_REASON(cors_list_ok(r->exposed_headers, CORS_HEADERS), CF_ERR_BAD_INPUT, R_VALUE,
                     "invalid CORS ExposedHeaders");
    return true;
}

static bool walk_cors(const xml_doc *d, int32_t node, cf_blob_service_props *p)
{
    for (int32_t c = d->nodes[node].first_child; c >= 0; c = d->nodes[c].next) {
        CF_ENSURE_REASON(node_is(d, c, "CorsRule"), CF_ERR_BAD_INPUT, R_DOC,
                         "unexpected element in Cors");
        CF_ENSURE_REASON(p->n_cors < CF_BLOB_CORS_MAX, CF_ERR_BAD_INPUT, R_DOC,
                         "more than 5 CORS rules");
        /* Counted first so that free() releases a half-read rule. */
        p->n_cors++;
        CF_GUARD(walk_cors_rule(d, c, &p->cors[p->n_cors - 1]));
    }
    return true;
}

static bool walk_website(const xml_doc *d, int32_t node, cf_blob_static_website *s)
{
    xml_field f[] = {{"Enabled", -1},
                     {"IndexDocument", -1},
                     {"ErrorDocument404Path", -1},
                     {"DefaultIndexDocumentPath", -1}};
    CF_GUARD(fields(d, node, f, 4, false));
    CF_GUARD(require(&f[0], "StaticWebsite needs Enabled"));
    CF_GUARD(leaf_bool(d, f[0].idx, &s->enabled));
    if (!s->enabled)
        return true;
    char **dst[] = {&s->index_document, &s->error_document_404_path,
                    &s->default_index_document_path};
    for (size_t k = 0; k < 3; k++) {
        if (f[k + 1].idx < 0)
            continue;
        CF_GUARD(leaf_dup(d, f[k + 1].idx, WEBSITE_PATH_MAX, dst[k]));
        if (!**dst[k]) {
            free(*dst[k]);
            *dst[k] = NULL;
        }
    }
    return true;
}

static bool walk_props(const xml_doc *d, cf_blob_service_props *p)
{
    CF_ENSURE_REASON(node_is(d, 0, "StorageServiceProperties"), CF_ERR_BAD_INPUT, R_DOC,
                     "the root element must be StorageServiceProperties");
    xml_field f[] = {
        {"Logging", -1},      {"HourMetrics", -1},           {"MinuteMetrics", -1},
        {"Cors", -1},         {"DefaultServiceVersion", -1}, {"DeleteRetentionPolicy", -1},
        {"StaticWebsite", -1}};
    CF_GUARD(fields(d, 0, f, 7, false));
    if ((p->has_logging = f[0].idx >= 0))
        CF_GUARD(walk_logging(d, f[0].idx, &p->logging));
    if ((p->has_hour_metrics = f[1].idx >= 0))
        CF_GUARD(walk_metrics(d, f[1].idx, &p->hour_metrics));
    if ((p->has_minute_metrics = f[2].idx >= 0))
        CF_GUARD(walk_metrics(d, f[2].idx, &p->minute_metrics));
    if ((p->has_cors = f[3].idx >= 0))
        CF_GUARD(walk_cors(d, f[3].idx, p));
    if ((p->has_default_service_version = f[4].idx >= 0))
        CF_GUARD(walk_version(d, f[4].idx, p->default_service_version, true));
    if ((p->has_delete_retention = f[5].idx >= 0))
        CF_GUARD(walk_retention(d, f[5].idx, &p->delete_retention));
    if ((p->has_static_website = f[6].idx >= 0))
        CF_GUARD(walk_website(d, f[6].idx, &p->static_website));
    return true;
}

bool cf_blob_xml_parse_service_props(cf_slice body, cf_blob_service_props *out)
{
    memset(out, 0, sizeof *out);
    xml_doc d;
    bool ok = doc_parse(&d, body, &props_limits) && walk_props(&d, out);
    doc_free(&d);
    if (!ok)
        cf_blob_service_props_free(out);
    return ok;
}

static bool dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (!s)
        return true;
    *out = strdup(s);
    CF_ENSURE_ALLOC(*out);
    return true;
}

bool cf_blob_service_props_merge(cf_blob_service_props *dst, const cf_blob_service_props *src)
{
    /* Copy everything that allocates first, so a failure changes nothing. */
    cf_blob_cors_rule cors[CF_BLOB_CORS_MAX];
    cf_blob_static_website web = {0};
    memset(cors, 0, sizeof cors);
    size_t n_cors = src->has_cors ? src->n_cors : 0;
    bool ok = n_cors <= CF_BLOB_CORS_MAX;
    if (!ok)
        CF_RAISE(CF_ERR_INTERNAL, "too many CORS rules");
    for (size_t k = 0; ok && k < n_cors; k++) {
        const cf_blob_cors_rule *r = &src->cors[k];
        cors[k].max_age = r->max_age;
        ok = dup_opt(r->allowed_origins, &cors[k].allowed_origins) &&
             dup_opt(r->allowed_methods, &cors[k].allowed_methods) &&
             dup_opt(r->allowed_headers, &cors[k].allowed_headers) &&
             dup_opt(r->exposed_headers, &cors[k].exposed_headers);
    }
    if (ok && src->has_static_website) {
        const cf_blob_static_website *s = &src->static_website;
        web.enabled = s->enabled;
        ok = dup_opt(s->index_document, &web.index_document) &&
             dup_opt(s->error_document_404_path, &web.error_document_404_path) &&
             dup_opt(s->default_index_document_path, &web.default_index_document_path);
    }
    if (!ok) {
        for (size_t k = 0; k < CF_BLOB_CORS_MAX; k++)
            cors_rule_free(&cors[k]);
        website_free(&web);
        return false;
    }
    if (src->has_logging) {
        dst->has_logging = true;
        dst->logging = src->logging;
    }
    if (src->has_hour_metrics) {
        dst->has_hour_metrics = true;
        dst->hour_metrics = src->hour_metrics;
    }
    if (src->has_minute_metrics) {
        dst->has_minute_metrics = true;
        dst->minute_metrics = src->minute_metrics;
    }
    if (src->has_cors) {
        for (size_t k = 0; k < dst->n_cors && k < CF_BLOB_CORS_MAX; k++)
            cors_rule_free(&dst->cors[k]);
        dst->has_cors = true;
        dst->n_cors = n_cors;
        memcpy(dst->cors, cors, sizeof cors);
    }
    if (src->has_default_service_version) {
        dst->has_default_service_version = true;
        memcpy(dst->default_service_version, src->default_service_version,
               sizeof dst->default_service_version);
    }
    if (src->has_delete_retention) {
        dst->has_delete_retention = true;
        dst->delete_retention = src->delete_retention;
    }
    if (src->has_static_website) {
        website_free(&dst->static_website);
        dst->has_static_website = true;
        dst->static_website = web;
    }
    return true;
}

static bool render_retention(cf_xml_writer *w, const char *name, const cf_blob_retention *r)
{
    CF_GUARD(cf_xml_open(w, name));
    CF_GUARD(cf_xml_element_bool(w, "Enabled", r->enabled));
    if (r->enabled)
        CF_GUARD(cf_xml_element_i64(w, "Days", r->days));
    if (r->has_allow_permanent_delete)
        CF_GUARD(cf_xml_element_bool(w, "AllowPermanentDelete", r->allow_permanent_delete));
    return cf_xml_close(w);
}

static bool render_metrics(cf_xml_writer *w, const char *name, const cf_blob_metrics *m)
{
    CF_GUARD(cf_xml_open(w, name));
    CF_GUARD(cf_xml_element_str(w, "Version", m->version));
    CF_GUARD(cf_xml_element_bool(w, "Enabled", m->enabled));
    if (m->enabled)
        CF_GUARD(cf_xml_element_bool(w, "IncludeAPIs", m->include_apis));
    CF_GUARD(render_retention(w, "RetentionPolicy", &m->retention));
    return cf_xml_close(w);
}

static bool render_cors_rule(cf_xml_writer *w, const cf_blob_cors_rule *r)
{
    CF_GUARD(cf_xml_open(w, "CorsRule"));
    CF_GUARD(cf_xml_element_str(w, "AllowedOrigins", r->allowed_origins));
    CF_GUARD(cf_xml_element_str(w, "AllowedMethods", r->allowed_methods));
    CF_GUARD(cf_xml_element_i64(w, "MaxAgeInSeconds", r->max_age));
    CF_GUARD(cf_xml_element_str(w, "ExposedHeaders", r->exposed_headers));
    CF_GUARD(cf_xml_element_str(w, "AllowedHeaders", r->allowed_headers));
    return cf_xml_close(w);
}

bool cf_blob_xml_render_service_props(const cf_blob_service_props *p, cf_buf *out)
{
    CF_ENSURE(p->n_cors <= CF_BLOB_CORS_MAX, CF_ERR_INTERNAL, "too many CORS rules");
    cf_xml_writer w;
    cf_xml_writer_init(&w, out);
    CF_GUARD(cf_xml_declaration(&w));
    CF_GUARD(cf_xml_open(&w, "StorageServiceProperties"));
    if (p->has_logging) {
        const cf_blob_logging *l = &p->logging;
        CF_GUARD(cf_xml_open(&w, "Logging"));
        CF_GUARD(cf_xml_element_str(&w, "Version", l->version));
        CF_GUARD(cf_xml_element_bool(&w, "Delete", l->del));
        CF_GUARD(cf_xml_element_bool(&w, "Read", l->read));
        CF_GUARD(cf_xml_element_bool(&w, "Write", l->write));
        CF_GUARD(render_retention(&w, "RetentionPolicy", &l->retention));
        CF_GUARD(cf_xml_close(&w));
    }
    if (p->has_hour_metrics)
        CF_GUARD(render_metrics(&w, "HourMetrics", &p->hour_metrics));
    if (p->has_minute_metrics)
        CF_GUARD(render_metrics(&w, "MinuteMetrics", &p->minute_metrics));
    if (p->has_cors) {
        CF_GUARD(cf_xml_open(&w, "Cors"));
        for (size_t k = 0; k < p->n_cors; k++)
            CF_GUARD(render_cors_rule(&w, &p->cors[k]));
        CF_GUARD(cf_xml_close(&w));
    }
    if (p->has_default_service_version)
        CF_GUARD(cf_xml_element_str(&w, "DefaultServiceVersion", p->default_service_version));
    if (p->has_delete_retention)
        CF_GUARD(render_retention(&w, "DeleteRetentionPolicy", &p->delete_retention));
    if (p->has_static_website) {
        const cf_blob_static_website *s = &p->static_website;
        CF_GUARD(cf_xml_open(&w, "StaticWebsite"));
        CF_GUARD(cf_xml_element_bool(&w, "Enabled", s->enabled));
        if (s->enabled && s->index_document)
            CF_GUARD(cf_xml_element_str(&w, "IndexDocument", s->index_document));
        if (s->enabled && s->error_document_404_path)
            CF_GUARD(cf_xml_element_str(&w, "ErrorDocument404Path", s->error_document_404_path));
        if (s->enabled && s->default_index_document_path)
            CF_GUARD(
                cf_xml_element_str(&w, "DefaultIndexDocumentPath", s->default_index_document_path));
        CF_GUARD(cf_xml_close(&w));
    }
    CF_GUARD(cf_xml_close(&w));
    return cf_xml_finish(&w);
}

/* ================= Get User Delegation Key ================= */

static const xml_limits key_info_limits = {
    .max_input = 1024,
    .max_depth = 2,
    .max_elements = 8,
    .max_text = 64,
    .too_many = R_DOC,
};

static bool key_info_time(const xml_doc *d, int32_t i, int64_t *out)
{
    cf_slice s;
    uint32_t ticks;
    CF_GUARD(leaf(d, i, &s));
    CF_ENSURE_REASON(cf_iso8601_parse(s, out, &ticks), CF_ERR_BAD_INPUT, R_VALUE,
                     "KeyInfo times are ISO 8601 UTC");
    return true;
}

bool cf_blob_xml_parse_key_info(cf_slice body, bool *has_start, int64_t *start, int64_t *expiry)
{
    xml_doc d;
    bool ok = doc_parse(&d, body, &key_info_limits);
    if (ok && !node_is(&d, 0, "KeyInfo")) {
        CF_RAISE_REASON(CF_ERR_BAD_INPUT, R_DOC, "the root element must be KeyInfo");
        ok = false;
    }
    xml_field f[] = {{"Start", -1}, {"Expiry", -1}, {"DelegatedUserTid", -1}};
    ok = ok && fields(&d, 0, f, 3, true) && require(&f[1], "KeyInfo needs an Expiry");
    if (ok && f[2].idx >= 0) {
        CF_RAISE_REASON(CF_ERR_BAD_INPUT, R_VALUE, "DelegatedUserTid is not supported");
        ok = false;
    }
    *has_start = ok && f[0].idx >= 0;
    ok = ok && (!*has_start || key_info_time(&d, f[0].idx, start)) &&
         key_info_time(&d, f[1].idx, expiry);
    doc_free(&d);
    return ok;
}
