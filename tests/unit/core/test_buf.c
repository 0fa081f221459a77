/*
 * Bounded buffers and the cursor (src/core/buf.c): every read past the end
 * is refused with CF_ERR_BAD_INPUT and leaves the cursor where it was, a
 * read that ends exactly at the end is accepted, zero-length reads work on
 * empty input, and lengths near SIZE_MAX are refused without wrapping.
 * Buffers keep their hard maximum (an append up to it works, one byte more
 * is CF_ERR_TOO_LARGE) and still have room for a terminator when full.
 */
#include <stdint.h>

#include "buf.h"
#include "test.h"

static const uint8_t bytes[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09};

/* A refused read: the right error, nothing consumed. */
#define CHECK_REFUSED(c, read_ok, pos_before)       \
    do {                                            \
        cf_error_clear();                           \
        CHECK(!(read_ok));                          \
        CHECK(cf_error_code() == CF_ERR_BAD_INPUT); \
        CHECK((c)->pos == (pos_before));            \
    } while (0)

static void test_typed_reads_are_big_endian(void)
{
    cf_cursor c;
    cf_cursor_init(&c, cf_slice_of(bytes, sizeof bytes));
    uint8_t u8 = 0;
    uint16_t u16 = 0;
    uint32_t u32 = 0;
    CHECK(cf_cursor_u8(&c, &u8) && u8 == 0x01);
    CHECK(cf_cursor_be16(&c, &u16) && u16 == 0x0203);
    CHECK(cf_cursor_be32(&c, &u32) && u32 == 0x04050607);
    CHECK(cf_cursor_left(&c) == 2);
    cf_cursor_init(&c, cf_slice_of(bytes, sizeof bytes));
    uint64_t u64 = 0;
    CHECK(cf_cursor_be64(&c, &u64) && u64 == UINT64_C(0x0102030405060708));
    CHECK(cf_cursor_left(&c) == 1);
    /* Values with the high bit set come out unsigned, not sign-extended. */
    static const uint8_t high[] = {0xff, 0xfe, 0x80, 0x00, 0x00, 0x01};
    cf_cursor_init(&c, cf_slice_of(high, sizeof high));
    CHECK(cf_cursor_be16(&c, &u16) && u16 == 0xfffe);
    CHECK(cf_cursor_be32(&c, &u32) && u32 == UINT32_C(0x80000001));
}

static void test_exact_end_reads_accepted(void)
{
    cf_cursor c;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    cf_cursor_init(&c, cf_slice_of(bytes, 1));
    CHECK(cf_cursor_u8(&c, &u8) && cf_cursor_left(&c) == 0);
    cf_cursor_init(&c, cf_slice_of(bytes, 2));
    CHECK(cf_cursor_be16(&c, &u16) && cf_cursor_left(&c) == 0);
    cf_cursor_init(&c, cf_slice_of(bytes, 4));
    CHECK(cf_cursor_be32(&c, &u32) && cf_cursor_left(&c) == 0);
    cf_cursor_init(&c, cf_slice_of(bytes, 8));
    CHECK(cf_cursor_be64(&c, &u64) && cf_cursor_left(&c) == 0);
    cf_slice s;
    cf_cursor_init(&c, cf_slice_of(bytes, sizeof bytes));
    CHECK(cf_cursor_take(&c, 3, &s) && s.ptr == bytes && s.len == 3);
    CHECK(cf_cursor_take(&c, 6, &s) && s.ptr == bytes + 3 && s.len == 6);
    CHECK(cf_cursor_left(&c) == 0);
}

static void test_reads_past_end_refused(void)
{
    cf_cursor c;
    uint8_t u8 = 0xAA;
    uint16_t u16 = 0xAAAA;
    uint32_t u32 = 0xAAAAAAAA;
    cf_slice s = {NULL, 77};
    /* One byte short of every width, at the start and after a read. */
    cf_cursor_init(&c, cf_slice_of(bytes, 1));
    CHECK_REFUSED(&c, cf_cursor_be16(&c, &u16), 0);
    cf_cursor_init(&c, cf_slice_of(bytes, 3));
    CHECK_REFUSED(&c, cf_cursor_be32(&c, &u32), 0);
    CHECK(cf_cursor_u8(&c, &u8));
    CHECK_REFUSED(&c, cf_cursor_be32(&c, &u32), 1);
    CHECK_REFUSED(&c, cf_cursor_take(&c, 3, &s), 1);
    CHECK(cf_cursor_take(&c, 2, &s));
    CHECK_REFUSED(&c, cf_cursor_u8(&c, &u8), 3);
    /* A failed read leaves the caller's variable alone. */
    CHECK(u16 == 0xAAAA && u32 == 0xAAAAAAAA && u8 == 0x01);
    /* Past the end of a 7-byte input: be64 is refused, all or nothing. */
    uint64_t u64 = 0xAAAAAAAAAAAAAAAA;
    cf_cursor_init(&c, cf_slice_of(bytes, 7));
    CHECK_REFUSED(&c, cf_cursor_be64(&c, &u64), 0);
    CHECK(u64 == 0xAAAAAAAAAAAAAAAA);
    cf_cursor_init(&c, cf_slice_of(bytes, 3));
    CHECK_REFUSED(&c, cf_cursor_be64(&c, &u64), 0);
}

static void test_zero_length(void)
{
    cf_cursor c;
    cf_slice s = {bytes, 99};
    uint8_t u8;
    /* An empty input, with storage and without ({NULL, 0}: an empty
     * cf_buf's slice, such as an empty request body). */
    const cf_slice empties[] = {cf_slice_of(bytes, 0), {NULL, 0}};
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        cf_cursor_init(&c, empties[i]);
        CHECK(cf_cursor_left(&c) == 0);
        CHECK(cf_cursor_take(&c, 0, &s) && s.len == 0);
        CHECK_REFUSED(&c, cf_cursor_u8(&c, &u8), 0);
        CHECK_REFUSED(&c, cf_cursor_take(&c, 1, &s), 0);
        s = cf_cursor_rest(&c);
        CHECK(s.len == 0);
    }
    /* Zero-length takes at the very end are fine and consume nothing. */
    cf_cursor_init(&c, cf_slice_of(bytes, 2));
    CHECK(cf_cursor_take(&c, 2, &s));
    CHECK(cf_cursor_take(&c, 0, &s) && s.len == 0 && s.ptr == bytes + 2);
    CHECK(cf_cursor_left(&c) == 0);
}

static void test_huge_lengths_refused(void)
{
    cf_cursor c;
    cf_slice s;
    cf_cursor_init(&c, cf_slice_of(bytes, sizeof bytes));
    CHECK_REFUSED(&c, cf_cursor_take(&c, SIZE_MAX, &s), 0);
    CHECK_REFUSED(&c, cf_cursor_take(&c, SIZE_MAX - 1, &s), 0);
    CHECK_REFUSED(&c, cf_cursor_take(&c, sizeof bytes + 1, &s), 0);
    /* pos + len would wrap to a small number: still refused. */
    CHECK(cf_cursor_take(&c, 4, &s));
    CHECK_REFUSED(&c, cf_cursor_take(&c, SIZE_MAX - 2, &s), 4);
    CHECK_REFUSED(&c, cf_cursor_take(&c, (SIZE_MAX - 4) + 1, &s), 4);
    CHECK(cf_cursor_take(&c, cf_cursor_left(&c), &s) && s.len == sizeof bytes - 4);
}

static void test_rest(void)
{
    cf_cursor c;
    uint16_t u16;
    cf_cursor_init(&c, cf_slice_of(bytes, sizeof bytes));
    CHECK(cf_cursor_be16(&c, &u16));
    cf_slice rest = cf_cursor_rest(&c);
    CHECK(rest.ptr == bytes + 2 && rest.len == sizeof bytes - 2);
    CHECK(cf_cursor_left(&c) == 0);
    rest = cf_cursor_rest(&c);
    CHECK(rest.len == 0);
}

/* What a buffer writes, the cursor reads back. */
static void test_append_then_read_back(void)
{
    cf_buf b;
    cf_buf_init(&b, 64);
    CHECK(cf_buf_append_u8(&b, 0x9c));
    CHECK(cf_buf_append_be16(&b, 0xbeef));
    CHECK(cf_buf_append_be32(&b, 0xdeadbeef));
    CHECK(cf_buf_append_be64(&b, UINT64_C(0x0123456789abcdef)));
    CHECK(cf_buf_append_str(&b, "tail"));
    CHECK(b.len == 1 + 2 + 4 + 8 + 4);
    cf_cursor c;
    cf_cursor_init(&c, cf_buf_slice(&b));
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    cf_slice s;
    CHECK(cf_cursor_u8(&c, &u8) && u8 == 0x9c);
    CHECK(cf_cursor_be16(&c, &u16) && u16 == 0xbeef);
    CHECK(cf_cursor_be32(&c, &u32) && u32 == 0xdeadbeef);
    CHECK(cf_cursor_be64(&c, &u64) && u64 == UINT64_C(0x0123456789abcdef));
    CHECK(cf_cursor_take(&c, 4, &s) && cf_slice_eq_str(s, "tail"));
    CHECK(cf_cursor_left(&c) == 0);
    cf_buf_free(&b);
}

static void test_buffer_cap(void)
{
    cf_buf b;
    cf_buf_init(&b, 8);
    CHECK(cf_buf_append(&b, bytes, 8)); /* exactly the maximum */
    cf_error_clear();
    CHECK(!cf_buf_append_u8(&b, 0));
    CHECK(cf_error_code() == CF_ERR_TOO_LARGE);
    CHECK(b.len == 8 && memcmp(b.data, bytes, 8) == 0);
    CHECK(cf_buf_append(&b, NULL, 0)); /* nothing to add is never too much */
    /* A full buffer still takes its terminator (cap is max + 1). */
    CHECK(cf_buf_terminate(&b) && b.data[8] == 0 && b.len == 8);
    CHECK(b.cap <= b.max + 1);
    cf_buf_clear(&b);
    CHECK(b.len == 0 && b.data != NULL);
    CHECK(cf_buf_append(&b, bytes, 5));
    cf_error_clear();
    CHECK(!cf_buf_append(&b, bytes, 4));
    CHECK(cf_error_code() == CF_ERR_TOO_LARGE && b.len == 5);
    cf_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);

    /* Sizes that would wrap len + extra are refused, not truncated. */
    cf_buf_init(&b, SIZE_MAX - 1);
    CHECK(cf_buf_append(&b, bytes, 3));
    cf_error_clear();
    CHECK(!cf_buf_reserve(&b, SIZE_MAX));
    CHECK(cf_error_code() == CF_ERR_TOO_LARGE);
    CHECK(!cf_buf_reserve(&b, SIZE_MAX - 2));
    uint8_t *tail = NULL;
    CHECK(!cf_buf_extend(&b, SIZE_MAX - 3, &tail) && tail == NULL);
    CHECK(b.len == 3);
    cf_buf_free(&b);

    /* A zero-maximum buffer takes nothing but can still be terminated. */
    cf_buf_init(&b, 0);
    CHECK(!cf_buf_append_u8(&b, 1));
    CHECK(cf_buf_terminate(&b) && b.len == 0 && b.data[0] == 0);
    cf_buf_free(&b);
}

static void test_growth_keeps_contents(void)
{
    cf_buf b;
    cf_buf_init_secret(&b, 1 << 16);
    for (unsigned i = 0; i < 5000; i++)
        CHECK(cf_buf_append_u8(&b, (uint8_t)i));
    CHECK(b.len == 5000 && b.cap > 5000 && b.cap <= b.max + 1);
    int same = 1;
    for (unsigned i = 0; i < 5000; i++)
        same &= b.data[i] == (uint8_t)i;
    CHECK(same);
    uint8_t *tail;
    CHECK(cf_buf_extend(&b, 10, &tail) && tail == b.data + 5000 && b.len == 5010);
    cf_buf_free(&b);
}

static void test_slice_helpers(void)
{
    cf_slice empty = cf_slice_of(bytes, 0);
    CHECK(cf_slice_has_prefix((cf_slice){NULL, 0}, ""));
    CHECK(!cf_slice_has_prefix((cf_slice){NULL, 0}, "a"));
    CHECK(cf_slice_eq((cf_slice){NULL, 0}, CF_SLICE_LIT("")));
    CHECK(cf_slice_eq_str((cf_slice){NULL, 0}, ""));
    CHECK(cf_slice_eq_nocase((cf_slice){NULL, 0}, ""));
    CHECK(cf_slice_eq(empty, CF_SLICE_LIT("")));
    CHECK(cf_slice_eq_str(empty, ""));
    CHECK(cf_slice_eq_nocase(empty, ""));
    CHECK(cf_slice_has_prefix(empty, ""));
    CHECK(!cf_slice_has_prefix(empty, "a"));
    cf_slice abc = CF_SLICE_LIT("AbC");
    CHECK(cf_slice_eq_str(abc, "AbC") && !cf_slice_eq_str(abc, "abc"));
    CHECK(cf_slice_eq_nocase(abc, "abc") && cf_slice_eq_nocase(abc, "ABC"));
    CHECK(!cf_slice_eq_nocase(abc, "ab") && !cf_slice_eq_nocase(abc, "abcd"));
    CHECK(cf_slice_has_prefix(abc, "Ab") && !cf_slice_has_prefix(abc, "ab"));
    CHECK(!cf_slice_has_prefix(abc, "AbCd"));
    /* Embedded NUL bytes count: a slice is not a C string. */
    cf_slice nul = cf_slice_of("a\0b", 3);
    CHECK(!cf_slice_eq_str(nul, "a"));
    CHECK(cf_slice_eq(nul, cf_slice_of("a\0b", 3)) && !cf_slice_eq(nul, cf_slice_of("a\0c", 3)));
    CHECK(!cf_slice_eq_nocase(nul, "a"));
}

int main(void)
{
    RUN(test_typed_reads_are_big_endian);
    RUN(test_exact_end_reads_accepted);
    RUN(test_reads_past_end_refused);
    RUN(test_zero_length);
    RUN(test_huge_lengths_refused);
    RUN(test_rest);
    RUN(test_append_then_read_back);
    RUN(test_buffer_cap);
    RUN(test_growth_keeps_contents);
    RUN(test_slice_helpers);
    TEST_DONE();
}
