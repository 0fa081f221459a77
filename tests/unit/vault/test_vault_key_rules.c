/* When a key may be used (keys.h, cf_key_permits): Key Vault refuses
 * encrypt, wrapKey and sign with a key that is disabled, not yet valid
 * (nbf) or expired (exp), and still allows decrypt, unwrapKey and verify
 * outside the nbf/exp window so that data protected earlier stays
 * readable; an operation missing from key_ops is refused whatever the
 * dates. */
#include "keys.h"
#include "test.h"

#define NOW ((int64_t)1700000000)

static const unsigned creates[] = {CF_OP_ENCRYPT, CF_OP_WRAP, CF_OP_SIGN};
static const unsigned reads[] = {CF_OP_DECRYPT, CF_OP_UNWRAP, CF_OP_VERIFY};
#define N_EACH (sizeof creates / sizeof *creates)

static const unsigned all_ops =
    CF_OP_ENCRYPT | CF_OP_DECRYPT | CF_OP_WRAP | CF_OP_UNWRAP | CF_OP_SIGN | CF_OP_VERIFY;

static void key_with(cf_key *key, bool enabled, int64_t nbf, int64_t exp, unsigned ops)
{
    cf_key_init(key);
    key->obj.enabled = enabled;
    key->obj.nbf = nbf;
    key->obj.exp = exp;
    key->ops = ops;
}

static bool refused_as(bool ok, cf_err code)
{
    return !ok && cf_error_code() == code;
}

static void test_inside_window(void)
{
    cf_key key;
    /* No dates at all, and the edges of a window: nbf == now is valid,
     * exp is the first instant no longer valid. */
    int64_t windows[][2] = {{0, 0}, {NOW, 0}, {0, NOW + 1}, {NOW - 10, NOW + 10}};
    for (size_t w = 0; w < sizeof windows / sizeof *windows; w++) {
        key_with(&key, true, windows[w][0], windows[w][1], all_ops);
        for (size_t i = 0; i < N_EACH; i++) {
            CHECK(cf_key_permits(&key, creates[i], NOW));
            CHECK(cf_key_permits(&key, reads[i], NOW));
        }
        cf_key_free(&key);
    }
}

static void test_not_yet_valid(void)
{
    cf_key key;
    key_with(&key, true, NOW + 1, 0, all_ops);
    for (size_t i = 0; i < N_EACH; i++) {
        CHECK(refused_as(cf_key_permits(&key, creates[i], NOW), CF_ERR_DISABLED));
        CHECK(strstr(cf_error_detail(), "not yet valid") != NULL);
        CHECK(cf_key_permits(&key, reads[i], NOW));
    }
    cf_key_free(&key);
}

static void test_expired(void)
{
    cf_key key;
    int64_t exps[] = {NOW, NOW - 86400};
    for (size_t e = 0; e < sizeof exps / sizeof *exps; e++) {
        key_with(&key, true, 0, exps[e], all_ops);
        for (size_t i = 0; i < N_EACH; i++) {
            CHECK(refused_as(cf_key_permits(&key, creates[i], NOW), CF_ERR_DISABLED));
            CHECK(strstr(cf_error_detail(), "expired") != NULL);
            CHECK(cf_key_permits(&key, reads[i], NOW));
        }
        cf_key_free(&key);
    }
}

static void test_disabled(void)
{
    cf_key key;
    key_with(&key, false, 0, 0, all_ops);
    for (size_t i = 0; i < N_EACH; i++) {
        CHECK(refused_as(cf_key_permits(&key, creates[i], NOW), CF_ERR_DISABLED));
        CHECK(refused_as(cf_key_permits(&key, reads[i], NOW), CF_ERR_DISABLED));
    }
    cf_key_free(&key);
}

static void test_key_ops(void)
{
    cf_key key;
    /* Each operation alone: only it is permitted. */
    for (size_t i = 0; i < N_EACH; i++) {
        unsigned pair[] = {creates[i], reads[i]};
        for (size_t p = 0; p < 2; p++) {
            key_with(&key, true, 0, 0, pair[p]);
            for (size_t j = 0; j < N_EACH; j++) {
                bool c = cf_key_permits(&key, creates[j], NOW);
                CHECK(c == (creates[j] == pair[p]));
                if (!c)
                    CHECK(cf_error_code() == CF_ERR_OPERATION);
                bool r = cf_key_permits(&key, reads[j], NOW);
                CHECK(r == (reads[j] == pair[p]));
                if (!r)
                    CHECK(cf_error_code() == CF_ERR_OPERATION);
            }
            cf_key_free(&key);
        }
    }
    /* import and export are key_ops names, not operations one performs. */
    key_with(&key, true, 0, 0, all_ops | CF_OP_IMPORT | CF_OP_EXPORT);
    CHECK(!cf_key_permits(&key, CF_OP_EXPORT, NOW));
    CHECK(!cf_key_permits(&key, 0, NOW));
    cf_key_free(&key);
}

int main(void)
{
    RUN(test_inside_window);
    RUN(test_not_yet_valid);
    RUN(test_expired);
    RUN(test_disabled);
    RUN(test_key_ops);
    TEST_DONE();
}
