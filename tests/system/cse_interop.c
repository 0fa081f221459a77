/*
 * Test driver for tests/system/cse_python_interop.sh: encrypts and decrypts
 * files with Coffer's client-side encryption (src/core/cse.h) so that the
 * official Python SDK can read what Coffer writes and the other way round.
 * Files are streamed in odd-sized chunks, as a transfer would feed them.
 *
 *   cse_interop encrypt KEYFILE KEYID REGION_LEN PLAIN BODY META
 *   cse_interop decrypt KEYFILE META BODY OUT [OFFSET LENGTH]
 *
 * KEYFILE: a raw 32-byte AES key or an RSA key in PEM.  Exit 0 on success,
 * 1 with the error on stderr.  Test-only: not part of the product.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "cse.h"

#define CHUNK (256 * 1024 + 13)

static bool file_sink(void *ctx, cf_slice bytes)
{
    if (bytes.len && fwrite(bytes.ptr, 1, bytes.len, ctx) != bytes.len)
        CF_BAIL(CF_ERR_IO, "cannot write output");
    return true;
}

static bool read_small(const char *path, size_t max, cf_buf *out)
{
    FILE *f = fopen(path, "rb");
    CF_ENSURE(f != NULL, CF_ERR_IO, "cannot open input");
    uint8_t *p;
    bool ok = cf_buf_extend(out, max, &p);
    size_t n = ok ? fread(p, 1, max, f) : 0;
    fclose(f);
    cf_buf_truncate(out, out->len - (max - n));
    return ok;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    *out = strtoull(s, &end, 10);
    CF_ENSURE(*s && !*end, CF_ERR_BAD_INPUT, "not a number");
    return true;
}

static bool load_kek(const char *path, const char *key_id, cf_cse_kek **out)
{
    cf_buf bytes;
    cf_buf_init_secret(&bytes, 16384);
    bool ok = read_small(path, 16384, &bytes) &&
              cf_cse_kek_from_key_file(cf_buf_slice(&bytes), key_id, out);
    cf_buf_free(&bytes);
    return ok;
}

static bool stream_encrypt(cf_cse_key *key, uint32_t region, FILE *in, FILE *out)
{
    static uint8_t chunk[CHUNK];
    cf_cse_encryptor *enc = NULL;
    CF_GUARD(cf_cse_encryptor_new(key, region, (cf_cse_sink){file_sink, out}, &enc));
    bool ok = true;
    size_t n;
    while (ok && (n = fread(chunk, 1, sizeof chunk, in)) > 0)
        ok = cf_cse_encrypt_update(enc, cf_slice_of(chunk, n));
    ok = ok && cf_cse_encrypt_finish(enc, NULL, NULL);
    cf_cse_encryptor_free(enc);
    return ok;
}

/* Closes the files that opened; false (and an error) when one did not open,
 * false when a write did not reach its file on close. */
static bool close_files(bool ok, FILE **files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!files[i])
            CF_RAISE(CF_ERR_IO, "cannot open a file");
        if (!files[i] || fclose(files[i]) != 0)
            ok = false;
    }
    return ok;
}

static bool cmd_encrypt(char **argv)
{
    uint64_t region;
    CF_GUARD(parse_u64(argv[3], &region));
    cf_cse_kek *kek = NULL;
    cf_cse_key *key = NULL;
    cf_cse_meta meta;
    cf_buf json;
    cf_buf_init(&json, CF_CSE_META_MAX);
    FILE *in = fopen(argv[4], "rb"), *body = fopen(argv[5], "wb"), *out = fopen(argv[6], "wb");
    bool ok = in && body && out && load_kek(argv[1], argv[2], &kek) &&
              cf_cse_meta_init(&meta, (uint32_t)region) && cf_cse_key_generate(&key) &&
              cf_cse_kek_wrap(kek, key, &meta) && cf_cse_meta_build(&meta, &json) &&
              fwrite(json.data, 1, json.len, out) == json.len &&
              stream_encrypt(key, (uint32_t)region, in, body);
    ok = close_files(ok, (FILE *[]){in, body, out}, 3);
    cf_cse_key_free(key);
    cf_cse_kek_free(kek);
    cf_buf_free(&json);
    return ok;
}

static bool stream_decrypt(cf_cse_key *key, const cf_cse_meta *meta, const cf_cse_range *range,
                           FILE *body, FILE *out)
{
    static uint8_t chunk[CHUNK];
    cf_cse_decryptor *dec = NULL;
    CF_ENSURE(fseek(body, (long)range->fetch_offset, SEEK_SET) == 0, CF_ERR_IO, "seek");
    CF_GUARD(cf_cse_decryptor_new(key, meta, range, (cf_cse_sink){file_sink, out}, &dec));
    bool ok = true;
    for (uint64_t left = range->fetch_length; ok && left > 0;) {
        size_t want = left < sizeof chunk ? (size_t)left : sizeof chunk;
        size_t n = fread(chunk, 1, want, body);
        if (n == 0)
            break; /* the decryptor reports the truncation */
        ok = cf_cse_decrypt_update(dec, cf_slice_of(chunk, n));
        left -= n;
    }
    ok = ok && cf_cse_decrypt_finish(dec);
    cf_cse_decryptor_free(dec);
    return ok;
}

static bool cmd_decrypt(int argc, char **argv)
{
    uint64_t offset = 0, length = UINT64_MAX;
    if (argc == 8)
        CF_GUARD(parse_u64(argv[6], &offset) && parse_u64(argv[7], &length));
    cf_buf json;
    cf_buf_init(&json, CF_CSE_META_MAX + 1);
    cf_cse_meta meta;
    cf_cse_kek *kek = NULL;
    cf_cse_key *key = NULL;
    cf_cse_range range;
    FILE *body = fopen(argv[4], "rb"), *out = fopen(argv[5], "wb");
    long body_len = -1;
    if (body && fseek(body, 0, SEEK_END) == 0)
        body_len = ftell(body);
    bool ok = body && out && body_len >= 0 && read_small(argv[3], CF_CSE_META_MAX + 1, &json) &&
              cf_cse_meta_parse(cf_buf_slice(&json), &meta) &&
              load_kek(argv[2], meta.key_id, &kek) && cf_cse_kek_unwrap(kek, &meta, &key) &&
              cf_cse_range_map(&meta, (uint64_t)body_len, offset, length, &range) &&
              stream_decrypt(key, &meta, &range, body, out);
    if (ok && meta.protocol == CF_CSE_V1_0)
        fprintf(stderr, "warning: %s\n", CF_CSE_V1_WARNING);
    ok = close_files(ok, (FILE *[]){body, out}, 2);
    cf_cse_key_free(key);
    cf_cse_kek_free(kek);
    cf_buf_free(&json);
    return ok;
}

int main(int argc, char **argv)
{
    bool ok;
    if (!cf_crypto_init()) {
        fprintf(stderr, "cse_interop: crypto init failed\n");
        return 1;
    }
    if (argc == 8 && strcmp(argv[1], "encrypt") == 0) {
        ok = cmd_encrypt(argv + 1);
    } else if ((argc == 6 || argc == 8) && strcmp(argv[1], "decrypt") == 0) {
        ok = cmd_decrypt(argc, argv);
    } else {
        fprintf(stderr, "usage: cse_interop encrypt KEYFILE KEYID REGION_LEN PLAIN BODY META\n"
                        "       cse_interop decrypt KEYFILE META BODY OUT [OFFSET LENGTH]\n");
        return 2;
    }
    if (!ok)
        fprintf(stderr, "cse_interop: %s (%s, %s)\n", cf_error_detail(),
                cf_err_name(cf_error_code()), cf_error_where());
    return ok ? 0 : 1;
}
