/*
 * The header slots (tde_header.h).
 */
#include "tde_header.h"

#include <string.h>

#include "crypto.h"
#include "secmem.h"

static const char cf_tde_magic[16] = "Coffer TDE v1";

enum {
    CF_H_SEQ = 16,
    CF_H_PAGE_SIZE = 24,
    CF_H_SALT = 28,
    CF_H_CURRENT = 44,
    CF_H_KIND = 45,
    CF_H_ALG = 46,
    CF_H_ID_LEN = 48,
    CF_H_ID = 50,
    CF_H_DEKS = 1080,
    CF_H_DEK_LEN = 4 + CF_TDE_WRAPPED_MAX,
    CF_H_MAC = CF_TDE_SLOT_LEN - 32,
};

static uint64_t cf_be_get(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void cf_be_put(uint8_t *p, int n, uint64_t v)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static bool cf_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static bool cf_tde_header_mac(const uint8_t slot[CF_TDE_SLOT_LEN], cf_slice dek, uint8_t mac[32])
{
    uint8_t key[32];
    static const char label[] = "coffer tde header mac";
    bool ok = cf_hmac_sha256(dek, cf_slice_of(label, sizeof label - 1), key) &&
              cf_hmac_sha256(cf_slice_of(key, sizeof key), cf_slice_of(slot, CF_H_MAC), mac);
    cf_memzero(key, sizeof key);
    return ok;
}

#define CF_HEADER_BAD(why) CF_BAIL(CF_ERR_BAD_INPUT, "coffer tde header: " why)

bool cf_tde_header_parse(const uint8_t slot[CF_TDE_SLOT_LEN], cf_tde_header *out)
{
    memset(out, 0, sizeof *out);
    if (memcmp(slot, cf_tde_magic, sizeof cf_tde_magic) != 0)
        CF_HEADER_BAD("not a Coffer TDE header (wrong magic)");
    out->sequence = cf_be_get(slot + CF_H_SEQ, 8);
    out->page_size = (uint32_t)cf_be_get(slot + CF_H_PAGE_SIZE, 4);
    if (out->page_size < CF_TDE_PAGE_MIN || out->page_size > CF_TDE_PAGE_MAX ||
        (out->page_size & (out->page_size - 1)) != 0)
        CF_HEADER_BAD("invalid page size");
    memcpy(out->salt, slot + CF_H_SALT, CF_TDE_SALT_LEN);
    out->current = slot[CF_H_CURRENT];
    out->protector_kind = slot[CF_H_KIND];
    out->wrap_alg = slot[CF_H_ALG];
    if (out->protector_kind != CF_TDE_PROTECTOR_LOCAL &&
        out->protector_kind != CF_TDE_PROTECTOR_VAULT)
        CF_HEADER_BAD("unknown protector kind");
    if (out->wrap_alg != CF_TDE_WRAP_A256KW && out->wrap_alg != CF_TDE_WRAP_RSA_OAEP_256)
        CF_HEADER_BAD("unknown wrapping algorithm");
    size_t id_len = (size_t)cf_be_get(slot + CF_H_ID_LEN, 2);
    if (slot[47] != 0 || id_len == 0 || id_len > CF_TDE_PROTECTOR_ID_MAX ||
        memchr(slot + CF_H_ID, 0, id_len) != NULL ||
        !cf_zero(slot + CF_H_ID + id_len, CF_TDE_PROTECTOR_ID_MAX - id_len))
        CF_HEADER_BAD("invalid protector id");
    memcpy(out->protector_id, slot + CF_H_ID, id_len);
    bool have_current = false;
    for (int i = 0; i < 2; i++) {
        const uint8_t *e = slot + CF_H_DEKS + i * CF_H_DEK_LEN;
        cf_tde_wrapped_dek *d = &out->dek[i];
        d->generation = e[0];
        d->len = (uint16_t)cf_be_get(e + 2, 2);
        if (e[1] != 0 || d->len > CF_TDE_WRAPPED_MAX || (d->generation == 0) != (d->len == 0) ||
            !cf_zero(e + 4 + d->len, CF_TDE_WRAPPED_MAX - d->len))
            CF_HEADER_BAD("invalid DEK entry");
        memcpy(d->wrapped, e + 4, d->len);
        have_current = have_current || (d->generation != 0 && d->generation == out->current);
    }
    if (!have_current || out->dek[0].generation == out->dek[1].generation)
        CF_HEADER_BAD("the DEK entries do not name the current generation once");
    if (!cf_zero(slot + CF_H_DEKS + 2 * CF_H_DEK_LEN, CF_H_MAC - CF_H_DEKS - 2 * CF_H_DEK_LEN))
        CF_HEADER_BAD("reserved bytes are not zero");
    return true;
}

bool cf_tde_header_build(const cf_tde_header *h, cf_slice current_dek,
                         uint8_t slot[CF_TDE_SLOT_LEN])
{
    size_t id_len = strnlen(h->protector_id, sizeof h->protector_id);
    CF_ENSURE(id_len > 0 && id_len <= CF_TDE_PROTECTOR_ID_MAX, CF_ERR_BAD_INPUT,
              "protector id missing or too long");
    memset(slot, 0, CF_TDE_SLOT_LEN);
    memcpy(slot, cf_tde_magic, sizeof cf_tde_magic);
    cf_be_put(slot + CF_H_SEQ, 8, h->sequence);
    cf_be_put(slot + CF_H_PAGE_SIZE, 4, h->page_size);
    memcpy(slot + CF_H_SALT, h->salt, CF_TDE_SALT_LEN);
    slot[CF_H_CURRENT] = h->current;
    slot[CF_H_KIND] = h->protector_kind;
    slot[CF_H_ALG] = h->wrap_alg;
    cf_be_put(slot + CF_H_ID_LEN, 2, id_len);
    memcpy(slot + CF_H_ID, h->protector_id, id_len);
    for (int i = 0; i < 2; i++) {
        const cf_tde_wrapped_dek *d = &h->dek[i];
        CF_ENSURE(d->len <= CF_TDE_WRAPPED_MAX, CF_ERR_BAD_INPUT, "wrapped DEK too long");
        uint8_t *e = slot + CF_H_DEKS + i * CF_H_DEK_LEN;
        e[0] = d->generation;
        cf_be_put(e + 2, 2, d->len);
        memcpy(e + 4, d->wrapped, d->len);
    }
    cf_tde_header check;
    CF_GUARD(cf_tde_header_parse(slot, &check));
    return cf_tde_header_mac(slot, current_dek, slot + CF_H_MAC);
}

bool cf_tde_header_verify(const uint8_t slot[CF_TDE_SLOT_LEN], cf_slice current_dek)
{
    uint8_t mac[32];
    CF_GUARD(cf_tde_header_mac(slot, current_dek, mac));
    CF_ENSURE(cf_memeq_ct(mac, slot + CF_H_MAC, sizeof mac), CF_ERR_DECRYPT,
              "coffer tde header: MAC does not verify (tampered, or another key)");
    return true;
}

const cf_tde_wrapped_dek *cf_tde_header_dek(const cf_tde_header *h, uint8_t generation)
{
    for (int i = 0; i < 2; i++)
        if (generation != 0 && h->dek[i].generation == generation)
            return &h->dek[i];
    return NULL;
}

bool cf_tde_header_sequence(const uint8_t prefix[CF_TDE_PREFIX_LEN], uint64_t *seq)
{
    if (memcmp(prefix, cf_tde_magic, sizeof cf_tde_magic) != 0)
        return false;
    *seq = cf_be_get(prefix + CF_H_SEQ, 8);
    return true;
}
