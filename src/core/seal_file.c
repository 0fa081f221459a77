/*
 * Development file seal: the root key is 32 random bytes in a file with
 * mode 0600, read into secret memory at start.  Anyone who can read the
 * file can unwrap every data key, which is why it is for development and
 * tests only; the PKCS#11 seal keeps the root key inside a token.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "envelope.h"
#include "fsutil.h"
#include "seal.h"
#include "secmem.h"

typedef struct {
    cf_seal base;
    uint8_t *root; /* CF_DATA_KEY_LEN bytes of secret memory */
} cf_seal_file;

static bool cf_seal_file_wrap(cf_seal *seal, cf_slice key, cf_slice aad, cf_buf *out)
{
    cf_seal_file *fs = (cf_seal_file *)seal;
    return cf_envelope_seal(cf_slice_of(fs->root, CF_DATA_KEY_LEN), aad, key, out);
}

static bool cf_seal_file_unwrap(cf_seal *seal, cf_slice wrapped, cf_slice aad, cf_buf *out)
{
    cf_seal_file *fs = (cf_seal_file *)seal;
    return cf_envelope_open(cf_slice_of(fs->root, CF_DATA_KEY_LEN), aad, wrapped, out);
}

static void cf_seal_file_destroy(cf_seal *seal)
{
    cf_seal_file *fs = (cf_seal_file *)seal;
    cf_secret_free(fs->root, CF_DATA_KEY_LEN);
    free(fs);
}

static bool cf_seal_file_create(const char *path)
{
    uint8_t key[CF_DATA_KEY_LEN];
    CF_GUARD(cf_random_bytes(key, sizeof key));
    bool ok = cf_write_file_atomic(path, cf_slice_of(key, sizeof key), 0600);
    cf_memzero(key, sizeof key);
    return ok;
}

bool cf_seal_file_open(const char *path, bool create, cf_seal **out)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        CF_ENSUREF(errno == ENOENT && create, CF_ERR_SEAL, "seal key file %s is missing", path);
        CF_GUARD(cf_seal_file_create(path));
        CF_ENSURE(stat(path, &st) == 0, CF_ERR_SEAL, "seal key file vanished");
    }
    CF_ENSUREF((st.st_mode & 077) == 0, CF_ERR_SEAL,
               "seal key file %s must not be accessible to group or others", path);
    CF_ENSUREF(st.st_size == CF_DATA_KEY_LEN, CF_ERR_SEAL, "seal key file %s is malformed", path);

    cf_seal_file *fs = calloc(1, sizeof *fs);
    CF_ENSURE_ALLOC(fs);
    fs->root = cf_secret_alloc(CF_DATA_KEY_LEN);
    if (!fs->root) {
        free(fs);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    fs->base = (cf_seal){"file", cf_seal_file_wrap, cf_seal_file_unwrap, cf_seal_file_destroy, NULL,
                         {{0}}};
    if (!cf_read_file_exact(path, fs->root, CF_DATA_KEY_LEN)) {
        cf_seal_file_destroy(&fs->base);
        return false;
    }
    *out = &fs->base;
    return true;
}
