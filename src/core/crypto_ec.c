/*
 * Elliptic-curve points, for keys whose private half lives in a token:
 * the curve's base point (the peer of an ECDH that yields the public x)
 * and decompression of a point given by x and a parity.  These are public
 * values only.
 */
#define OPENSSL_NO_DEPRECATED
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <string.h>

#include "crypto_internal.h"

static void cf_free_group(EC_GROUP **g)
{
    EC_GROUP_free(*g);
}
static void cf_free_point(EC_POINT **p)
{
    EC_POINT_free(*p);
}

static bool cf_group(cf_curve curve, EC_GROUP **out)
{
    int nid = OBJ_sn2nid(cf_curve_group_name(curve));
    CF_OSSL_ENSURE(nid != NID_undef, CF_ERR_UNSUPPORTED, "unknown curve");
    *out = EC_GROUP_new_by_curve_name_ex(NULL, NULL, nid);
    CF_OSSL_ENSURE(*out != NULL, CF_ERR_UNSUPPORTED, "unknown curve");
    return true;
}

static bool cf_point_out(const EC_GROUP *g, const EC_POINT *pt, cf_buf *out)
{
    uint8_t buf[1 + 2 * 66];
    size_t n = EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, buf, sizeof buf, NULL);
    CF_OSSL_ENSURE(n > 0, CF_ERR_CRYPTO, NULL);
    return cf_buf_append(out, buf, n);
}

bool cf_curve_base_point(cf_curve curve, cf_buf *out)
{
    CF_SCOPED(cf_free_group) EC_GROUP *g = NULL;
    CF_GUARD(cf_group(curve, &g));
    return cf_point_out(g, EC_GROUP_get0_generator(g), out);
}

bool cf_ec_point_decompress(cf_curve curve, cf_slice x, bool odd_y, cf_buf *out)
{
    CF_ENSURE(x.len == cf_curve_field_len(curve), CF_ERR_BAD_INPUT, "x has the wrong length");
    CF_SCOPED(cf_free_group) EC_GROUP *g = NULL;
    CF_GUARD(cf_group(curve, &g));
    uint8_t compressed[1 + 66];
    compressed[0] = odd_y ? 0x03 : 0x02;
    memcpy(compressed + 1, x.ptr, x.len);
    CF_SCOPED(cf_free_point) EC_POINT *pt = EC_POINT_new(g);
    CF_ENSURE_ALLOC(pt);
    CF_OSSL_ENSURE(EC_POINT_oct2point(g, pt, compressed, 1 + x.len, NULL) == 1, CF_ERR_BAD_INPUT,
                   "x is not on the curve");
    return cf_point_out(g, pt, out);
}
