/* hash_pipe: threaded and inline digests equal the one-shot digest for
 * every size around the slot boundaries and every way of chunking. */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "hash_pipe.h"
#include "test.h"

static void check_size(size_t size, size_t chunk, bool threaded, cf_hash h)
{
    uint8_t *data = malloc(size ? size : 1);
    CHECK(data != NULL);
    for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t)(i * 131 + (i >> 9));
    uint8_t want[CF_HASH_MAX_LEN], got[CF_HASH_MAX_LEN];
    CHECK(cf_hash_compute(h, cf_slice_of(data, size), want));
    cf_hash_pipe *p = NULL;
    CHECK(cf_hash_pipe_new(h, threaded, &p));
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        CHECK(cf_hash_pipe_update(p, cf_slice_of(data + off, n)));
    }
    CHECK(cf_hash_pipe_final(p, got));
    CHECK_MEM(got, want, cf_hash_len(h));
    cf_hash_pipe_free(p);
    free(data);
}

static void test_sizes(void)
{
    const size_t S = CF_HASH_PIPE_SLOT;
    const size_t sizes[] = {0, 1, S - 1, S, S + 1, 5 * S + 7, 3u << 20};
    const size_t chunks[] = {1000, 4096, S, S + 3, 1u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t j = 0; j < sizeof chunks / sizeof chunks[0]; j++) {
            if (chunks[j] < 4096 && sizes[i] > (1u << 20))
                continue; /* slow and adds nothing */
            check_size(sizes[i], chunks[j], true, CF_HASH_MD5);
            check_size(sizes[i], chunks[j], false, CF_HASH_MD5);
        }
    check_size(5 * S + 7, 65536, true, CF_HASH_SHA256);
}

/* Freed without final, with data queued: the worker stops cleanly. */
static void test_abandon(void)
{
    static uint8_t buf[3 * CF_HASH_PIPE_SLOT];
    cf_hash_pipe *p = NULL;
    CHECK(cf_hash_pipe_new(CF_HASH_MD5, true, &p));
    CHECK(cf_hash_pipe_update(p, cf_slice_of(buf, sizeof buf)));
    cf_hash_pipe_free(p);
    cf_hash_pipe_free(NULL);
}

int main(void)
{
    CHECK(cf_crypto_init());
    RUN(test_sizes);
    RUN(test_abandon);
    TEST_DONE();
}
