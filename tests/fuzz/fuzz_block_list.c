/*
 * Put Block List bodies, two ways (the first byte's high bit picks):
 *
 * Raw (an ASCII first byte, as any XML seed has): the input is the body.  Must never crash, leak or
 * read out of bounds; a parsed list must hold 1..64-byte ids of one length, within the caps.
 *
 * Generated: the rest of the input describes a list, entry by entry (its
 * element, its id bytes, and how the id is written: padded base64, with
 * whitespace around it, a character reference, CDATA, or corrupted), and
 * the target writes the XML itself.  It therefore knows the right answer
 * from Azure's rules: accepted exactly when every element is Latest,
 * Committed or Uncommitted and every id is intact base64 of 1..64 bytes of
 * one length; then the parsed list must be exactly the generated ids and
 * kinds in order, and a refusal must carry the reason of the first bad
 * entry (InvalidXmlDocument for an unknown element, InvalidBlockList for
 * an id).  abort() on any disagreement.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GEN_MAX_ENTRIES 300

static void fuzz_raw(cf_slice body)
{
    cf_blob_block_list l;
    if (cf_blob_xml_parse_block_list(body, &l)) {
        if (l.n > CF_BLOB_MAX_BLOCKS)
            __builtin_trap();
        for (size_t k = 0; k < l.n; k++) {
            const cf_block_ref *r = &l.refs[k];
            if (r->id.len < 1 || r->id.len > CF_BLOB_BLOCK_ID_MAX ||
                r->id.len != l.refs[0].id.len ||
                (r->from != CF_BLOCK_LATEST && r->from != CF_BLOCK_COMMITTED &&
                 r->from != CF_BLOCK_UNCOMMITTED))
                __builtin_trap();
        }
        cf_blob_block_list_free(&l);
    } else if (l.n != 0 || l.refs || l.ids || !cf_error_reason()) {
        if (cf_error_code() != CF_ERR_NOMEM)
            __builtin_trap();
    }
}

/* ---- generated lists ---- */

enum { GEN_WS = 1 << 2, GEN_CORRUPT = 1 << 3, GEN_CHARREF = 1 << 4, GEN_CDATA = 1 << 5 };

typedef struct {
    unsigned kind; /* 0 Latest, 1 Committed, 2 Uncommitted, 3 an unknown element */
    unsigned flags;
    const uint8_t *id;
    size_t id_len;
} gen_entry;

static const char *const gen_names[4] = {"Latest", "Committed", "Uncommitted", "Block"};

static void append(cf_buf *b, const char *s)
{
    if (!cf_buf_append_str(b, s))
        abort();
}

/* RFC 4648 §4 with padding, one group at a time. */
static void append_base64(cf_buf *b, const uint8_t *p, size_t len, char *first_out)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char text[4 * ((CF_BLOB_BLOCK_ID_MAX + 8) / 3) + 8];
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        text[n++] = digits[v >> 18 & 63];
        text[n++] = digits[v >> 12 & 63];
        text[n++] = i + 1 < len ? digits[v >> 6 & 63] : '=';
        text[n++] = i + 2 < len ? digits[v & 63] : '=';
    }
    text[n] = 0;
    *first_out = n ? text[0] : 0;
    append(b, text);
}

static void write_entry(cf_buf *b, const gen_entry *e)
{
    append(b, "<");
    append(b, gen_names[e->kind]);
    append(b, ">");
    if (e->flags & GEN_WS)
        append(b, "\n  \t");
    if (e->flags & GEN_CDATA)
        append(b, "<![CDATA[");
    cf_buf text;
    cf_buf_init(&text, 256);
    char first;
    append_base64(&text, e->id, e->id_len, &first);
    if (e->flags & GEN_CORRUPT)
        append(&text, "!");
    if (!cf_buf_terminate(&text))
        abort();
    const char *t = (const char *)text.data;
    if ((e->flags & GEN_CHARREF) && !(e->flags & GEN_CDATA) && first) {
        char ref[16];
        snprintf(ref, sizeof ref, "&#x%X;", (unsigned)(unsigned char)first);
        append(b, ref);
        t++;
    }
    append(b, t);
    cf_buf_free(&text);
    if (e->flags & GEN_CDATA)
        append(b, "]]>");
    if (e->flags & GEN_WS)
        append(b, " \r\n");
    append(b, "</");
    append(b, gen_names[e->kind]);
    append(b, ">");
}

/* The reason for the first bad entry, or NULL when the list is valid. */
static const char *gen_verdict(const gen_entry *e, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (e[k].kind == 3)
            return "InvalidXmlDocument";
        if ((e[k].flags & GEN_CORRUPT) || e[k].id_len < 1 || e[k].id_len > CF_BLOB_BLOCK_ID_MAX ||
            e[k].id_len != e[0].id_len)
            return "InvalidBlockList";
    }
    return NULL;
}

static void fuzz_generated(const uint8_t *p, size_t len)
{
    static gen_entry e[GEN_MAX_ENTRIES];
    size_t n = 0, i = 0;
    bool declaration = len > 0 && (p[0] & 1);
    bool spaced = len > 0 && (p[0] & 2);
    i = len > 0 ? 1 : 0;
    while (n < GEN_MAX_ENTRIES && len - i >= 2) {
        unsigned h = p[i], id_len = p[i + 1] % 70;
        i += 2;
        if (len - i < id_len)
            break;
        e[n++] = (gen_entry){h & 3, h & ~3u, p + i, id_len};
        i += id_len;
    }
    cf_buf body;
    cf_buf_init(&body, 1 << 20);
    if (declaration)
        append(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    append(&body, "<BlockList>");
    for (size_t k = 0; k < n; k++) {
        if (spaced)
            append(&body, "\n  ");
        write_entry(&body, &e[k]);
    }
    if (spaced)
        append(&body, "\n");
    append(&body, "</BlockList>");

    const char *want = gen_verdict(e, n);
    cf_blob_block_list l;
    cf_error_clear();
    bool ok = cf_blob_xml_parse_block_list(cf_buf_slice(&body), &l);
    if (ok != (want == NULL))
        abort();
    if (!ok) {
        const char *reason = cf_error_reason();
        if (!reason || strcmp(reason, want) != 0)
            abort();
    } else {
        if (l.n != n)
            abort();
        for (size_t k = 0; k < n; k++)
            if ((unsigned)l.refs[k].from != e[k].kind || l.refs[k].id.len != e[k].id_len ||
                memcmp(l.refs[k].id.ptr, e[k].id, e[k].id_len) != 0)
                abort();
        cf_blob_block_list_free(&l);
    }
    cf_buf_free(&body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && (data[0] & 0x80))
        fuzz_generated(data + 1, size - 1);
    else
        fuzz_raw(cf_slice_of(data, size));
    return 0;
}
