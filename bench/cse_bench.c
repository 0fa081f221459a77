/*
 * cse_bench: client-side encryption throughput in memory
 * (src/core/cse.h), the part of `coffer blob upload --encrypt-with` and
 * `download` that is Coffer's own work, without the network or the disk.
 *
 *   cse_bench [MIB [CHUNK_KIB [REPS]]]
 *
 * Encrypts MIB MiB (default 256) of random bytes in protocol 2.0 (4 MiB
 * regions), handed to the encryptor in pieces of CHUNK_KIB (default 1024,
 * what the CLI reads from a file at a time), then decrypts the result the
 * same way.  Timed passes deliver into a sink that only counts, as
 * `openssl speed` encrypts in place; the best of REPS (default 3) passes is
 * printed: "encrypt MB/s" and "decrypt MB/s".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_number.h"
#include "crypto.h"
#include "cse.h"
#include "secmem.h"

typedef struct {
    uint8_t *data;
    size_t len, cap;
} byte_sink;

static bool sink_copy(void *ctx, cf_slice bytes)
{
    byte_sink *s = ctx;
    if (bytes.len > s->cap - s->len)
        return false;
    memcpy(s->data + s->len, bytes.ptr, bytes.len);
    s->len += bytes.len;
    return true;
}

static bool sink_count(void *ctx, cf_slice bytes)
{
    *(uint64_t *)ctx += bytes.len;
    return true;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "cse_bench: %s failed: %s\n", what, cf_error_reason());
    exit(1);
}

static void encrypt_all(const cf_cse_key *key, const uint8_t *plain, size_t len, size_t chunk,
                        cf_cse_sink sink)
{
    cf_cse_encryptor *enc = NULL;
    uint64_t plain_len = 0, body_len = 0;
    if (!cf_cse_encryptor_new(key, CF_CSE_REGION_DEFAULT, sink, &enc))
        die("encryptor");
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        if (!cf_cse_encrypt_update(enc, (cf_slice){plain + off, n}))
            die("encrypt");
    }
    if (!cf_cse_encrypt_finish(enc, &plain_len, &body_len) || plain_len != len)
        die("encrypt finish");
    cf_cse_encryptor_free(enc);
}

static void decrypt_all(const cf_cse_key *key, const cf_cse_meta *meta, const uint8_t *body,
                        size_t len, size_t chunk, cf_cse_sink sink)
{
    cf_cse_range range;
    cf_cse_decryptor *dec = NULL;
    if (!cf_cse_range_map(meta, len, 0, UINT64_MAX, &range) ||
        !cf_cse_decryptor_new(key, meta, &range, sink, &dec))
        die("decryptor");
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        if (!cf_cse_decrypt_update(dec, (cf_slice){body + off, n}))
            die("decrypt");
    }
    if (!cf_cse_decrypt_finish(dec))
        die("decrypt finish");
    cf_cse_decryptor_free(dec);
}

int main(int argc, char **argv)
{
    size_t mib = cli_number(argc > 1 ? argv[1] : "256", 4096, "MIB");
    size_t chunk = cli_number(argc > 2 ? argv[2] : "1024", 1 << 20, "CHUNK_KIB") * 1024;
    unsigned reps = (unsigned)cli_number(argc > 3 ? argv[3] : "3", 100, "REPS");
    if (!mib || !chunk || !reps) {
        fputs("cse_bench: MIB, CHUNK_KIB and REPS must be positive\n", stderr);
        return 2;
    }
    if (!cf_secmem_init(1u << 20) || !cf_crypto_init()) /* as the CLI starts */
        die("crypto set-up");
    size_t len = mib << 20;
    uint64_t body_len = 0;
    cf_cse_meta meta;
    cf_cse_key *key = NULL;
    if (!cf_cse_body_length(CF_CSE_REGION_DEFAULT, len, &body_len) ||
        !cf_cse_meta_init(&meta, CF_CSE_REGION_DEFAULT) || !cf_cse_key_generate(&key))
        die("set-up");
    uint8_t *plain = malloc(len);
    byte_sink body = {.data = malloc(body_len), .cap = body_len};
    if (!plain || !body.data || !cf_random_bytes(plain, len))
        die("allocation");
    encrypt_all(key, plain, len, chunk, (cf_cse_sink){.write = sink_copy, .ctx = &body});

    double best_enc = 0, best_dec = 0;
    for (unsigned i = 0; i < reps; i++) {
        uint64_t count = 0;
        cf_cse_sink sink = {.write = sink_count, .ctx = &count};
        double t0 = now();
        encrypt_all(key, plain, len, chunk, sink);
        double t1 = now();
        decrypt_all(key, &meta, body.data, body.len, chunk, sink);
        double t2 = now();
        if (count != body.len + len)
            die("byte count");
        double enc = (double)len / (t1 - t0) / 1e6, dec = (double)len / (t2 - t1) / 1e6;
        best_enc = enc > best_enc ? enc : best_enc;
        best_dec = dec > best_dec ? dec : best_dec;
    }
    printf("encrypt %.0f\ndecrypt %.0f\n", best_enc, best_dec);
    cf_cse_key_free(key);
    free(plain);
    free(body.data);
    return 0;
}
