/*
 * Rendering.  `--output json` prints the service's JSON pretty-printed
 * (jansson escapes control characters).  The readable form prints one
 * "label: value" line per fact, or a table for listings; timestamps become
 * ISO 8601 UTC.  Every string that came from the service goes through
 * cf_out_str(), which replaces control characters, so a hostile name, tag or
 * error message cannot drive the terminal.
 */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "httpdate.h"

void cf_out_json(json_t *value)
{
    if (!value)
        return;
    json_dumpf(value, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
}

void cf_out_str(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

void cf_out_time(long long epoch, char *out, size_t len)
{
    char text[CF_ISO8601_SECONDS_LEN + 1];
    if (epoch <= 0 || !cf_iso8601_format_seconds(epoch, text))
        snprintf(out, len, "-");
    else
        snprintf(out, len, "%s", text);
}

void cf_out_kid_parts(const char *kid, char *name, size_t name_len, char *version,
                      size_t version_len)
{
    name[0] = version[0] = 0;
    /* ".../keys/NAME/VERSION" or ".../secrets/NAME/VERSION" */
    const char *p = kid ? strstr(kid, "/keys/") : NULL;
    if (p)
        p += 6;
    else if (kid && (p = strstr(kid, "/secrets/")) != NULL)
        p += 9;
    if (!p)
        return;
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    snprintf(name, name_len, "%.*s", (int)n, p);
    if (slash)
        snprintf(version, version_len, "%s", slash + 1);
}

static void cf_label(const char *label)
{
    printf("%-18s", label);
}

static void cf_line_str(const char *label, const char *value)
{
    if (!value)
        return;
    cf_label(label);
    cf_out_str(stdout, value);
    fputc('\n', stdout);
}

static void cf_line_time(const char *label, json_t *v)
{
    if (!json_is_integer(v))
        return;
    char t[64];
    cf_out_time((long long)json_integer_value(v), t, sizeof t);
    cf_label(label);
    printf("%s\n", t);
}

/* Joins the strings of an array with ", " (or "k=v" pairs of an object). */
static void cf_line_list(const char *label, json_t *v)
{
    if (!json_is_array(v) && !json_is_object(v))
        return;
    cf_label(label);
    const char *sep = "";
    if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            fputs(sep, stdout);
            cf_out_str(stdout, json_is_string(item) ? json_string_value(item) : "?");
            sep = ", ";
        }
    } else {
        const char *k;
        json_t *item;
        json_object_foreach(v, k, item)
        {
            fputs(sep, stdout);
            cf_out_str(stdout, k);
            fputc('=', stdout);
            cf_out_str(stdout, json_is_string(item) ? json_string_value(item) : "?");
            sep = ", ";
        }
    }
    if (!*sep)
        fputs("-", stdout);
    fputc('\n', stdout);
}

/* "RSA 2048" from the modulus length, "EC P-256", or just the type. */
static void cf_line_kty(json_t *key)
{
    const char *kty = json_string_value(json_object_get(key, "kty"));
    if (!kty)
        return;
    const char *n = json_string_value(json_object_get(key, "n"));
    const char *crv = json_string_value(json_object_get(key, "crv"));
    cf_label("kty:");
    cf_out_str(stdout, kty);
    if (n) {
        size_t len = strlen(n);
        while (len && n[len - 1] == '=')
            len--;
        size_t bytes = len * 6 / 8;
        if (len >= 2 && strncmp(n, "AA", 2) == 0 && bytes) /* a leading zero octet */
            bytes--;
        printf(" (%zu bits)", bytes * 8);
    } else if (crv) {
        fputs(" (", stdout);
        cf_out_str(stdout, crv);
        fputc(')', stdout);
    }
    fputc('\n', stdout);
}

static void cf_out_id(const char *id)
{
    char name[256], version[256];
    cf_out_kid_parts(id, name, sizeof name, version, sizeof version);
    cf_line_str("name:", name);
    cf_line_str("version:", version);
    cf_line_str("id:", id);
}

/* Attributes, tags and deletion facts, the same for keys and secrets. */
static void cf_out_common(json_t *bundle)
{
    json_t *attrs = json_object_get(bundle, "attributes");
    json_t *enabled = json_object_get(attrs, "enabled");
    if (json_is_boolean(enabled))
        cf_line_str("enabled:", json_is_true(enabled) ? "true" : "false");
    cf_line_time("created:", json_object_get(attrs, "created"));
    cf_line_time("updated:", json_object_get(attrs, "updated"));
    cf_line_time("not_before:", json_object_get(attrs, "nbf"));
    cf_line_time("expires:", json_object_get(attrs, "exp"));
    cf_line_str("recovery_level:", json_string_value(json_object_get(attrs, "recoveryLevel")));
    json_t *days = json_object_get(attrs, "recoverableDays");
    if (json_is_integer(days)) {
        cf_label("recoverable_days:");
        printf("%lld\n", (long long)json_integer_value(days));
    }
    json_t *managed = json_object_get(bundle, "managed");
    if (json_is_true(managed))
        cf_line_str("managed:", "true");
    json_t *tags = json_object_get(bundle, "tags");
    if (tags)
        cf_line_list("tags:", tags);
    else
        cf_line_str("tags:", "-");
    cf_line_str("recovery_id:", json_string_value(json_object_get(bundle, "recoveryId")));
    cf_line_time("deleted:", json_object_get(bundle, "deletedDate"));
    cf_line_time("purge_scheduled:", json_object_get(bundle, "scheduledPurgeDate"));
}

void cf_out_key_bundle(json_t *bundle)
{
    json_t *key = json_object_get(bundle, "key");
    cf_out_id(json_string_value(json_object_get(key, "kid")));
    cf_line_kty(key);
    cf_line_list("key_ops:", json_object_get(key, "key_ops"));
    cf_out_common(bundle);
}

void cf_out_secret_bundle(json_t *bundle, bool with_value)
{
    cf_out_id(json_string_value(json_object_get(bundle, "id")));
    cf_line_str("content_type:", json_string_value(json_object_get(bundle, "contentType")));
    cf_line_str("key_id:", json_string_value(json_object_get(bundle, "kid")));
    cf_out_common(bundle);
    if (with_value)
        cf_line_str("value:", json_string_value(json_object_get(bundle, "value")));
}

static const char *cf_item_kty(json_t *item)
{
    const char *kty = json_string_value(json_object_get(item, "kty"));
    if (!kty)
        kty = json_string_value(json_object_get(json_object_get(item, "key"), "kty"));
    return kty ? kty : "-";
}

/* Keys carry "kid", secrets "id". */
static const char *cf_item_id(json_t *item)
{
    const char *id = json_string_value(json_object_get(item, "kid"));
    return id ? id : json_string_value(json_object_get(item, "id"));
}

static void cf_cell(const char *s, int width)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, stdout);
    for (; n < width; n++)
        fputc(' ', stdout);
}

void cf_out_table(json_t *items, bool versions, bool secrets)
{
    int width = versions ? 7 : 4;
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        char name[256], version[256];
        cf_out_kid_parts(cf_item_id(item), name, sizeof name, version, sizeof version);
        int n = (int)strlen(versions ? version : name);
        if (n > width)
            width = n;
    }
    width += 2;
    if (versions)
        printf("%-*s%-9s%-22s%-22s%s\n", width, "VERSION", "ENABLED", "CREATED", "UPDATED",
               "EXPIRES");
    else
        printf("%-*s%-*s%-9s%s\n", width, "NAME", secrets ? 26 : 8,
               secrets ? "CONTENT TYPE" : "KTY", "ENABLED", "UPDATED");
    json_array_foreach(items, i, item)
    {
        char name[256], version[256], created[64], updated[64], expires[64];
        cf_out_kid_parts(cf_item_id(item), name, sizeof name, version, sizeof version);
        json_t *attrs = json_object_get(item, "attributes");
        cf_out_time((long long)json_integer_value(json_object_get(attrs, "created")), created,
                    sizeof created);
        cf_out_time((long long)json_integer_value(json_object_get(attrs, "updated")), updated,
                    sizeof updated);
        cf_out_time((long long)json_integer_value(json_object_get(attrs, "exp")), expires,
                    sizeof expires);
        json_t *en = json_object_get(attrs, "enabled");
        const char *enabled = json_is_boolean(en) ? (json_is_true(en) ? "true" : "false") : "-";
        if (versions) {
            cf_cell(version, width);
            printf("%-9s%-22s%-22s%s\n", enabled, created, updated, expires);
        } else {
            cf_cell(name, width);
            if (secrets) {
                const char *ct = json_string_value(json_object_get(item, "contentType"));
                cf_cell(ct ? ct : "-", 26);
            } else {
                cf_cell(cf_item_kty(item), 8);
            }
            printf("%-9s%s\n", enabled, updated);
        }
    }
}
