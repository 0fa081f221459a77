/*
 * Cells encrypted by key (cell_key.h).
 */
#include "cell_key.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "scoped.h"
#include "secmem.h"
#include "xaes.h"

#define CF_CELL_VERSION 0x01
#define CF_CELL_AUTH_FLAG 0x01
#define CF_CELL_HEAD (2 + CF_CELL_KEY_ID_LEN)
#define CF_CELL_LABEL "coffer-cell-key"

struct cf_cell_key {
    cf_xaes *xaes;
    uint8_t id[CF_CELL_KEY_ID_LEN];
};

bool cf_cell_key_new(cf_slice key, cf_cell_key **out)
{
    CF_ENSURE(key.len == CF_CELL_KEY_LEN, CF_ERR_BAD_INPUT, "a cell key must be 32 bytes");
    cf_cell_key *k = calloc(1, sizeof *k);
    CF_ENSURE_ALLOC(k);
    uint8_t full[32];
    bool ok =
        cf_hmac_sha256(key, CF_SLICE_STR("coffer cell key id"), full) && cf_xaes_new(key, &k->xaes);
    memcpy(k->id, full, sizeof k->id);
    if (!ok) {
        cf_cell_key_free(k);
        return false;
    }
    *out = k;
    return true;
}

void cf_cell_key_free(cf_cell_key *k)
{
    if (!k)
        return;
    cf_xaes_free(k->xaes);
    free(k);
}

const uint8_t *cf_cell_key_id(const cf_cell_key *k)
{
    return k->id;
}

bool cf_cell_key_id_of(cf_slice cell, uint8_t id[CF_CELL_KEY_ID_LEN])
{
    CF_ENSURE(cell.len >= CF_CELL_KEY_OVERHEAD &&
                  cell.len <= CF_CELL_KEY_OVERHEAD + 1 + CF_CELL_KEY_VALUE_MAX &&
                  cell.ptr[0] == CF_CELL_VERSION && (cell.ptr[1] & ~CF_CELL_AUTH_FLAG) == 0,
              CF_ERR_DECRYPT, "not a cell encrypted by key (truncated, or another format)");
    memcpy(id, cell.ptr + 2, CF_CELL_KEY_ID_LEN);
    return true;
}

/* label || version || flags || key id || authenticator, as the AEAD's AAD */
static bool cf_cell_aad(const uint8_t head[CF_CELL_HEAD], const cf_slice *auth, cf_buf *aad)
{
    return cf_buf_append_str(aad, CF_CELL_LABEL) && cf_buf_append(aad, head, CF_CELL_HEAD) &&
           (!auth || cf_buf_append_slice(aad, *auth));
}

bool cf_cell_key_seal(cf_cell_key *k, const cf_slice *auth, cf_slice plaintext, cf_buf *out)
{
    CF_ENSURE(plaintext.len <= CF_CELL_KEY_VALUE_MAX + 1, CF_ERR_TOO_LARGE,
              "a value to encrypt is larger than 64 MiB");
    CF_ENSURE(!auth || auth->len <= CF_CELL_KEY_AUTH_MAX, CF_ERR_TOO_LARGE,
              "an authenticator is larger than 4 KiB");
    uint8_t head[CF_CELL_HEAD] = {CF_CELL_VERSION, auth ? CF_CELL_AUTH_FLAG : 0};
    memcpy(head + 2, k->id, CF_CELL_KEY_ID_LEN);
    cf_buf aad;
    cf_buf_init(&aad, 64 + CF_CELL_KEY_AUTH_MAX);
    CF_SCOPED(cf_buf_txn_end) cf_buf_txn txn = cf_buf_txn_begin(out);
    uint8_t *nonce, *ct, *tag;
    bool ok = cf_cell_aad(head, auth, &aad) && cf_buf_append(out, head, sizeof head) &&
              cf_buf_extend(out, 24, &nonce) && cf_random_bytes(nonce, 24) &&
              cf_buf_extend(out, plaintext.len + 16, &ct);
    if (ok) {
        nonce = ct - 24; /* the buffer may have moved while growing */
        tag = ct + plaintext.len;
        ok = cf_xaes_seal(k->xaes, nonce, cf_buf_slice(&aad), plaintext, ct, tag);
    }
    cf_buf_free(&aad);
    if (ok)
        cf_buf_txn_commit(&txn, out->len - txn.mark);
    return ok;
}

bool cf_cell_key_open(cf_cell_key *k, const cf_slice *auth, cf_slice cell, cf_buf *out)
{
    uint8_t id[CF_CELL_KEY_ID_LEN];
    CF_GUARD(cf_cell_key_id_of(cell, id));
    CF_ENSURE(memcmp(id, k->id, sizeof id) == 0, CF_ERR_DECRYPT,
              "the cell was encrypted with another key");
    bool bound = cell.ptr[1] & CF_CELL_AUTH_FLAG;
    CF_ENSURE(bound || !auth, CF_ERR_DECRYPT, "the cell was encrypted without an authenticator");
    CF_ENSURE(!bound || auth, CF_ERR_DECRYPT, "the cell needs its authenticator to decrypt");
    size_t pt_len = cell.len - CF_CELL_KEY_OVERHEAD;
    cf_buf aad;
    cf_buf_init(&aad, 64 + CF_CELL_KEY_AUTH_MAX);
    CF_SCOPED(cf_buf_txn_end) cf_buf_txn txn = cf_buf_txn_begin(out);
    uint8_t *pt;
    const uint8_t *nonce = cell.ptr + CF_CELL_HEAD, *ct = nonce + 24;
    bool ok = cf_cell_aad(cell.ptr, auth, &aad) && cf_buf_extend(out, pt_len, &pt);
    bool opened = ok && cf_xaes_open(k->xaes, nonce, cf_buf_slice(&aad), cf_slice_of(ct, pt_len),
                                     ct + pt_len, pt);
    cf_buf_free(&aad);
    if (ok && !opened && cf_error_code() == CF_ERR_DECRYPT)
        CF_BAIL(CF_ERR_DECRYPT, "the cell failed its integrity check (tampered, moved to another "
                                "row, or another authenticator)");
    if (!opened)
        return false;
    cf_buf_txn_commit(&txn, pt_len);
    return true;
}
