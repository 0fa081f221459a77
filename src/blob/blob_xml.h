/*
 * coffer-blob's XML: a small writer for response bodies, and the request
 * body parsers (Put Block List, Set Container ACL, Set Blob Service
 * Properties) with the renderers that write their canonical form back.
 *
 * Writer.  Appends to a caller's cf_buf, so its cap bounds the output.
 * Element and attribute names must be plain ASCII XML names
 * ([A-Za-z_][A-Za-z0-9_.-]*); text must be UTF-8 made only of characters
 * XML 1.0 allows, else CF_ERR_BAD_INPUT (a caller holding such text, e.g.
 * a blob name, checks with cf_xml_text_valid() and writes Azure's
 * Encoded="true" form instead).  CR, TAB and LF in attributes are written
 * as character references so they survive a parser's normalisation.
 *
 * Parsers.  expat, without namespaces, over the whole body at once, with
 * per-body caps on input size, nesting depth, element count and text
 * length.  Any DOCTYPE (and so any entity declaration) is refused, which
 * rules out entity-expansion attacks outright.  Errors are CF_ERR_BAD_INPUT
 * with an Azure code as the reason (cf_error_reason()):
 *   InvalidXmlDocument   malformed XML, a DTD, a cap, wrong or missing
 *                        elements, too many identifiers or CORS rules;
 *   InvalidXmlNodeValue  a value that is not of its type or out of range;
 *   InvalidBlockList     a block id that is not base64 of 1..64 bytes, or
 *                        ids of different lengths in one list;
 *   BlockListTooLong     more than CF_BLOB_MAX_BLOCKS entries;
 * and CF_ERR_TOO_LARGE with RequestBodyTooLarge for a body over its cap.
 * Leading and trailing XML whitespace around a value is ignored.
 */
#ifndef CF_BLOB_XML_H
#define CF_BLOB_XML_H

#include <stdint.h>

#include "blob_store.h"
#include "buf.h"

/* ---- writer ---- */

#define CF_XML_MAX_DEPTH 16

typedef struct {
    cf_buf *out;
    const char *names[CF_XML_MAX_DEPTH]; /* borrowed: each open element's name */
    size_t depth;
    bool tag_open; /* "<name" written, '>' not yet: attributes may follow */
} cf_xml_writer;

/* `out` is borrowed and must outlive the writer. */
void cf_xml_writer_init(cf_xml_writer *w, cf_buf *out);
/* <?xml version="1.0" encoding="utf-8"?> */
CF_MUST_USE bool cf_xml_declaration(cf_xml_writer *w);
/* Opens <name>; `name` is borrowed until the matching cf_xml_close(). */
CF_MUST_USE bool cf_xml_open(cf_xml_writer *w, const char *name);
/* An attribute of the element just opened (before any content). */
CF_MUST_USE bool cf_xml_attr(cf_xml_writer *w, const char *name, cf_slice value);
/* Escaped text content of the open element. */
CF_MUST_USE bool cf_xml_text(cf_xml_writer *w, cf_slice text);
/* Closes the innermost element; one with no content becomes <name/>. */
CF_MUST_USE bool cf_xml_close(cf_xml_writer *w);
/* <name/> */
CF_MUST_USE bool cf_xml_empty(cf_xml_writer *w, const char *name);
/* <name>text</name>, or <name/> for empty text. */
CF_MUST_USE bool cf_xml_element(cf_xml_writer *w, const char *name, cf_slice text);
CF_MUST_USE bool cf_xml_element_str(cf_xml_writer *w, const char *name, const char *text);
CF_MUST_USE bool cf_xml_element_i64(cf_xml_writer *w, const char *name, int64_t v);
CF_MUST_USE bool cf_xml_element_bool(cf_xml_writer *w, const char *name, bool v);
/* Checks that every element was closed (CF_ERR_INTERNAL otherwise). */
CF_MUST_USE bool cf_xml_finish(cf_xml_writer *w);

/* Appends `text` escaped for content (&amp; &lt; &gt;) or, with `attr`,
 * for a double- or single-quoted attribute (also &quot; &apos; and
 * references for TAB, LF, CR).  CR is always written as &#xD;. */
CF_MUST_USE bool cf_xml_escape(cf_buf *out, cf_slice text, bool attr);
/* Whether `text` is valid UTF-8 of characters allowed in XML 1.0. */
bool cf_xml_text_valid(cf_slice text);

/* ---- Put Block List ---- */

#define CF_BLOB_XML_BLOCK_LIST_MAX (8u << 20) /* body bytes */

typedef struct {
    cf_block_ref *refs; /* n entries; each id points into `ids` */
    size_t n;
    uint8_t *ids; /* owned storage of the decoded ids */
} cf_blob_block_list;

/* Parses <BlockList> with <Latest>|<Committed>|<Uncommitted> children in
 * document order; an empty list is allowed.  `out` must be freed with
 * cf_blob_block_list_free() after success (it is left empty on failure). */
CF_MUST_USE CF_NONNULL bool cf_blob_xml_parse_block_list(cf_slice body, cf_blob_block_list *out);
void cf_blob_block_list_free(cf_blob_block_list *l);

/* ---- Container ACL (stored access policies) ---- */

#define CF_BLOB_XML_ACL_MAX (64u << 10) /* body bytes */

/* Parses <SignedIdentifiers> into acl->n and acl->policies (the store's
 * cf_blob_acl; its other fields are left alone).  An empty or all-whitespace
 * body is no policies; more than CF_BLOB_ACL_MAX is InvalidXmlDocument.
 * Each identifier needs a unique Id of 1..64 bytes; AccessPolicy and its
 * Start, Expiry and Permission are optional, and an empty one is absent
 * (""). Start and Expiry must parse with cf_iso8601_parse and are stored in
 * the canonical form "YYYY-MM-DDThh:mm:ss.fffffffZ"; Permission is up to 15
 * letters of "racwdxyltmeopif", kept as given. */
CF_MUST_USE CF_NONNULL bool cf_blob_xml_parse_acl(cf_slice body, cf_blob_acl *acl);
/* Writes the declaration and <SignedIdentifiers> as Get Container ACL
 * returns it; times are written in the canonical form. */
CF_MUST_USE CF_NONNULL bool cf_blob_xml_render_acl(const cf_blob_acl *acl, cf_buf *out);

/* ---- Blob service properties ---- */

#define CF_BLOB_XML_PROPS_MAX (64u << 10) /* body bytes, as the store keeps */
#define CF_BLOB_CORS_MAX 5                /* rules */
#define CF_BLOB_PROPS_VERSION_MAX 15      /* "1.0", "2020-10-02" */
#define CF_BLOB_RETENTION_DAYS_MAX 365

typedef struct {
    bool enabled;
    uint32_t days; /* 1..365 when enabled, 0 when not */
    bool has_allow_permanent_delete, allow_permanent_delete;
} cf_blob_retention;

typedef struct {
    char version[CF_BLOB_PROPS_VERSION_MAX + 1];
    bool del, read, write;
    cf_blob_retention retention;
} cf_blob_logging;

typedef struct {
    char version[CF_BLOB_PROPS_VERSION_MAX + 1];
    bool enabled;
    bool include_apis; /* only meaningful (and written) when enabled */
    cf_blob_retention retention;
} cf_blob_metrics;

/* Comma-separated lists, owned, NUL-terminated; headers may be "". */
typedef struct {
    char *allowed_origins, *allowed_methods, *allowed_headers, *exposed_headers;
    uint32_t max_age;
} cf_blob_cors_rule;

typedef struct {
    bool enabled;
    /* owned, NULL when absent; kept only while enabled */
    char *index_document, *error_document_404_path, *default_index_document_path;
} cf_blob_static_website;

/* Each has_* says whether the section is present: in a parsed request, the
 * sections to change; in stored properties, the sections to return. */
typedef struct {
    bool has_logging, has_hour_metrics, has_minute_metrics, has_cors;
    bool has_default_service_version, has_delete_retention, has_static_website;
    cf_blob_logging logging;
    cf_blob_metrics hour_metrics, minute_metrics;
    size_t n_cors;
    cf_blob_cors_rule cors[CF_BLOB_CORS_MAX];
    char default_service_version[CF_BLOB_PROPS_VERSION_MAX + 1];
    cf_blob_retention delete_retention;
    cf_blob_static_website static_website;
} cf_blob_service_props;

/* A new account's properties: everything off, version 1.0, no CORS rules,
 * no DefaultServiceVersion.  Owns nothing yet, but free it all the same. */
void cf_blob_service_props_init(cf_blob_service_props *p);
/* Parses <StorageServiceProperties> into `out` (overwritten: free it first
 * if it held anything); only the sections present get has_* set.  Unknown
 * elements are ignored, as newer API versions add some.  `out` must be
 * freed after success and is left empty on failure. */
CF_MUST_USE CF_NONNULL bool cf_blob_xml_parse_service_props(cf_slice body,
                                                            cf_blob_service_props *out);
/* Azure's Set semantics: each section present in `src` replaces that
 * section of `dst` (deep copy); the others keep their values.  On failure
 * (CF_ERR_NOMEM) `dst` is unchanged. */
CF_MUST_USE CF_NONNULL bool cf_blob_service_props_merge(cf_blob_service_props *dst,
                                                        const cf_blob_service_props *src);
/* Writes the declaration and <StorageServiceProperties> with the present
 * sections, in the order Get Blob Service Properties returns them. */
CF_MUST_USE CF_NONNULL bool cf_blob_xml_render_service_props(const cf_blob_service_props *p,
                                                             cf_buf *out);
void cf_blob_service_props_free(cf_blob_service_props *p);

/* <KeyInfo><Start/>?<Expiry/></KeyInfo> of Get User Delegation Key, in
 * epoch seconds (fractions dropped); *has_start false when absent. */
CF_MUST_USE CF_NONNULL bool cf_blob_xml_parse_key_info(cf_slice body, bool *has_start,
                                                       int64_t *start, int64_t *expiry);

#endif
