/*
 * The extent header parser and reader face whatever is on disk (or in a
 * backend someone else can write to).  Any input must be refused cleanly or
 * read back within its own bounds: the first 64 bytes go to the strict
 * header parser, and when they parse, the whole input is read as an extent
 * under a fixed key, in full and as a range chosen by the input.  A read
 * that succeeds must deliver exactly the plaintext length the stored length
 * implies; a failure must be CF_ERR_DECRYPT or CF_ERR_BAD_INPUT.
 *
 * The seed corpus holds a bare header and small valid extents made with the
 * fixed key below (segment size 4096), so mutations reach the segment code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "extent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Scope key of the corpus: bytes 0x00..0x1f. */
static uint8_t fuzz_key[32];

typedef struct {
    const uint8_t *p;
    size_t len;
} fuzz_src;

static bool fuzz_read_at(void *ctx, uint64_t off, uint8_t *buf, size_t len)
{
    fuzz_src *s = ctx;
    if (off > s->len || len > s->len - off)
        __builtin_trap(); /* the reader asked past the stored length */
    memcpy(buf, s->p + off, len);
    return true;
}

static bool fuzz_sink(void *ctx, cf_slice bytes)
{
    uint64_t *n = ctx;
    *n += bytes.len;
    return true;
}

static void fuzz_read(fuzz_src *s, uint64_t off, uint64_t len)
{
    cf_extent_source src = {fuzz_read_at, s, s->len};
    uint64_t got = 0;
    if (cf_extent_read(cf_slice_of(fuzz_key, 32), &src, off, len,
                       (cf_extent_sink){fuzz_sink, &got})) {
        if (got != len)
            __builtin_trap();
    } else if (cf_error_code() != CF_ERR_DECRYPT && cf_error_code() != CF_ERR_BAD_INPUT) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        if (!cf_crypto_init())
            abort();
        for (size_t i = 0; i < sizeof fuzz_key; i++)
            fuzz_key[i] = (uint8_t)i;
        ready = true;
    }
    cf_extent_header h;
    size_t head = size < CF_EXTENT_HEADER_LEN ? size : CF_EXTENT_HEADER_LEN;
    if (!cf_extent_header_parse(cf_slice_of(data, head), &h))
        return 0;
    fuzz_src s = {data, size};
    uint64_t total;
    if (!cf_extent_plaintext_length(&h, size, &total)) {
        fuzz_read(&s, 0, 0); /* must fail cleanly */
        return 0;
    }
    fuzz_read(&s, 0, total);
    /* a range from the last input bytes, possibly out of bounds */
    if (size >= CF_EXTENT_HEADER_LEN + 4) {
        uint64_t off = (uint64_t)data[size - 1] << 8 | data[size - 2];
        uint64_t len = (uint64_t)data[size - 3] << 8 | data[size - 4];
        fuzz_read(&s, off, len);
    }
    return 0;
}
