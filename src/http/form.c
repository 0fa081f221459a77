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
