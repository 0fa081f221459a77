/* Form field lookup: a linear scan; token request forms are small. */
#include "form.h"

#include <string.h>

#include "encoding.h"

bool cf_form_get(cf_slice form, const char *name, cf_buf *out)
{
    bool found = false;
    size_t pos = 0;
    while (pos < form.len) {
        const uint8_t *start = form.ptr + pos;
        const uint8_t *amp = memchr(start, '&', form.len - pos);
        size_t len = amp ? (size_t)(amp - start) : form.len - pos;
        pos += len + 1;
        const uint8_t *eq = memchr(start, '=', len);
        size_t key_len = eq ? (size_t)(eq - start) : len;
        cf_buf key;
        cf_buf_init(&key, 256);
        bool match = cf_percent_decode(cf_slice_of(start, key_len), true, &key) &&
                     cf_slice_eq_str(cf_buf_slice(&key), name);
        cf_buf_free(&key);
        if (!match)
            continue;
        CF_ENSURE(!found, CF_ERR_BAD_INPUT, "a form field is repeated");
        found = true;
        if (eq)
            CF_GUARD(cf_percent_decode(cf_slice_of(eq + 1, len - key_len - 1), true, out));
    }
    CF_ENSURE(found, CF_ERR_NOT_FOUND, NULL);
    return true;
}

bool cf_form_append(cf_buf *out, const char *name, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (out->len)
        CF_GUARD(cf_buf_append_u8(out, '&'));
    CF_GUARD(cf_buf_append_str(out, name));
    CF_GUARD(cf_buf_append_u8(out, '='));
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            CF_GUARD(cf_buf_append_u8(out, ch));
        } else {
            uint8_t esc[3] = {'%', (uint8_t)hex[ch >> 4], (uint8_t)hex[ch & 15]};
            CF_GUARD(cf_buf_append(out, esc, 3));
        }
    }
    return true;
}
