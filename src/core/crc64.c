/*
 * CRC-64/NVME in two implementations with identical results.
 *
 * Portable: slice-by-8.  Eight 256-entry tables (16 KiB, built once) let the
 * loop consume 8 bytes per step with eight independent lookups instead of
 * eight dependent ones; about 1.5-2 GB/s, enough on its own for the upload
 * path but not with room to spare.
 *
 * x86-64 with PCLMULQDQ: folding with carry-less multiplication, after Intel's
 * "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ" (Gopal et
 * al., 2009).  Eight 16-byte lanes fold 128 bytes per step, the lanes are
 * folded into one, and a Barrett reduction yields the 64-bit state; bytes
 * that do not fill a 16-byte block go through the table code.  Chosen at run
 * time, so the build stays portable: only the functions marked CLMUL_TARGET
 * are compiled for PCLMULQDQ, and they run only if the CPU reports it.
 *
 * The arithmetic, and where the constants come from.  Polynomials are over
 * GF(2); P = x^64 + 0xAD93D23594C93659 (normal form).  "Reflected" means the
 * first message bit (bit 0 of byte 0) is the highest power of x, so a
 * little-endian 16-byte load puts bit i of the register at x^(127-i): the low
 * qword holds the high-degree half H and the high qword the low half L, each
 * bit-reversed (rev64).  Multiplying reflected operands gains a factor x:
 *
 *     clmul(rev64(A), rev64(B)) = rev128(A * B * x)
 *
 * Folding a 128-bit value X = H*x^64 + L forward over D bits (onto the data
 * D bits later) uses X*x^D = H*x^(D+64) + L*x^D (mod P), so with the x above
 * the constants are
 *
 *     for the low qword (H):   rev64(x^(D+63) mod P)
 *     for the high qword (L):  rev64(x^(D-1)  mod P)
 *
 * for D = 1024 (the 8-lane loop), D = 128*k for k = 1..7 (lane k steps
 * before the last lane) and D = 128 (one block at a time).  The final
 * 128-bit value X stands for state X*x^64 mod P: fold H by x^128 (constant
 * rev64(x^127 mod P)) to get T = T1*x^64 + T0 of degree < 128, then Barrett:
 * with mu = floor(x^128 / P), q = floor(T1 * mu / x^64) and the state is
 * T0 + (q * P mod x^64).  To keep the x^64 terms of mu and P out of the
 * 64-bit multiplier the constants are rev64(mu >> 1) and rev64(P >> 1); the
 * factor x of the reflected multiply puts them back (the dropped constant
 * terms only change bits that the reduction discards, or add q, which the
 * code XORs back out).  The values below were computed by polynomial long
 * division (a dozen lines of Python, not part of the build); the unit test
 * proves them against the table code on every length 0..4096 and more.
 *
 * The state passed around is the running register before xorout.  XORing it
 * into the first 8 bytes is the same as starting the division with it, which
 * is how a streaming update continues where the last one stopped.
 */
#include "crc64.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CF_CRC64_X86 1
#include <immintrin.h>
#else
#define CF_CRC64_X86 0
#endif

#define CRC64_POLY_REFLECTED UINT64_C(0x9A6C9329AC4BC9B5)
#define CRC64_INIT UINT64_C(0xFFFFFFFFFFFFFFFF)
#define CRC64_XOROUT UINT64_C(0xFFFFFFFFFFFFFFFF)

/* ---- portable: slice-by-8 ---- */

/* table[k][b]: the effect of byte b followed by k zero bytes. */
static uint64_t crc64_table[8][256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;
static bool crc64_use_clmul;

static uint64_t crc64_byte_bitwise(uint64_t b)
{
    for (int i = 0; i < 8; i++)
        b = (b >> 1) ^ ((b & 1) ? CRC64_POLY_REFLECTED : 0);
    return b;
}

static void crc64_build_tables(void)
{
    for (unsigned b = 0; b < 256; b++)
        crc64_table[0][b] = crc64_byte_bitwise(b);
    for (unsigned b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++) {
            uint64_t prev = crc64_table[k - 1][b];
            crc64_table[k][b] = (prev >> 8) ^ crc64_table[0][prev & 0xff];
        }
}

/* memcpy, not a cast: input may sit at any alignment (UBSan), and the byte
 * order is fixed by the CRC, not by the host. */
static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static uint64_t crc64_step8(uint64_t crc)
{
    return crc64_table[7][crc & 0xff] ^ crc64_table[6][(crc >> 8) & 0xff] ^
           crc64_table[5][(crc >> 16) & 0xff] ^ crc64_table[4][(crc >> 24) & 0xff] ^
           crc64_table[3][(crc >> 32) & 0xff] ^ crc64_table[2][(crc >> 40) & 0xff] ^
           crc64_table[1][(crc >> 48) & 0xff] ^ crc64_table[0][crc >> 56];
}

/* Tables must be built (crc64_setup) before this runs. */
static uint64_t crc64_table_update(uint64_t crc, const uint8_t *p, size_t len)
{
    for (; len >= 8; p += 8, len -= 8)
        crc = crc64_step8(crc ^ load_le64(p));
    for (; len > 0; p++, len--)
        crc = (crc >> 8) ^ crc64_table[0][(crc ^ *p) & 0xff];
    return crc;
}

/* ---- x86-64: PCLMULQDQ folding ---- */

#if CF_CRC64_X86

#define CLMUL_TARGET __attribute__((target("pclmul")))

/* {low-qword constant, high-qword constant} per fold distance D, in bits;
 * see the design comment: rev64(x^(D+63) mod P), rev64(x^(D-1) mod P). */
#define K_D128_LO UINT64_C(0xeadc41fd2ba3d420)  /* x^191 */
#define K_D128_HI UINT64_C(0x21e9761e252621ac)  /* x^127 */
#define K_D1024_LO UINT64_C(0xa1ca681e733f9c40) /* x^1087 */
#define K_D1024_HI UINT64_C(0x5f852fb61e8d92dc) /* x^1023 */
/* Barrett: rev64(floor(x^128 / P) >> 1) and rev64(P >> 1). */
#define K_MU UINT64_C(0x27ecfa329aef9f77)
#define K_POLY UINT64_C(0x34d926535897936b)

/* Folding lane i of 8 onto the last lane: D = 128 * (7 - i). */
static const uint64_t k_lane[7][2] = {
    {UINT64_C(0xd083dd594d96319d), UINT64_C(0x946588403d4adcbc)}, /* D=896: x^959, x^895 */
    {UINT64_C(0x3c255f5ebc414423), UINT64_C(0x34f5a24e22d66e90)}, /* D=768: x^831, x^767 */
    {UINT64_C(0x7b0ab10dd0f809fe), UINT64_C(0x03363823e6e791e5)}, /* D=640: x^703, x^639 */
    {UINT64_C(0x0c32cdb31e18a84a), UINT64_C(0x62242240ace5045a)}, /* D=512: x^575, x^511 */
    {UINT64_C(0xbdd7ac0ee1a4a0f0), UINT64_C(0xa3ffdc1fe8e82a8b)}, /* D=384: x^447, x^383 */
    {UINT64_C(0xb0bc2e589204f500), UINT64_C(0xe1e0bb9d45d7a44c)}, /* D=256: x^319, x^255 */
    {K_D128_LO, K_D128_HI},                                       /* D=128 */
};

/* Below this the setup and reduction cost more than the table loop. */
#define CLMUL_MIN_LEN 128

CLMUL_TARGET static inline __m128i k_pair(uint64_t lo, uint64_t hi)
{
    return _mm_set_epi64x((long long)hi, (long long)lo);
}

CLMUL_TARGET static inline __m128i load128(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p); /* unaligned by design */
}

/* x carried D bits forward: low qword times k.lo, high qword times k.hi. */
CLMUL_TARGET static inline __m128i fold(__m128i x, __m128i k)
{
    return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

/* The 64-bit state for a final 128-bit value X: X*x^64 mod P, reflected. */
CLMUL_TARGET static uint64_t reduce128(__m128i x)
{
    /* T = H*x^128 + L*x^64: H folded by x^128, L moved up into the low qword. */
    __m128i t =
        _mm_xor_si128(_mm_clmulepi64_si128(x, k_pair(K_D128_HI, 0), 0x00), _mm_srli_si128(x, 8));
    __m128i barrett = k_pair(K_MU, K_POLY);
    __m128i q = _mm_clmulepi64_si128(t, barrett, 0x00);  /* low qword: rev64(q) */
    __m128i qp = _mm_clmulepi64_si128(q, barrett, 0x10); /* high qword: rev64(q*P + q) */
    __m128i r = _mm_xor_si128(t, qp);
    return (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(r, r)) ^ (uint64_t)_mm_cvtsi128_si64(q);
}

/* Eight lanes of 16 bytes each, folded 1024 bits forward per step.  The
 * loops over lanes are unrolled so the lanes live in registers; otherwise
 * gcc keeps them on the stack and loses about a third of the speed. */
typedef struct {
    __m128i v[8];
} lanes8;

CLMUL_TARGET static inline void lanes_load(lanes8 *l, const uint8_t *p)
{
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        l->v[i] = load128(p + 16 * i);
}

CLMUL_TARGET static inline void lanes_fold(lanes8 *l, const uint8_t *p, __m128i k)
{
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        l->v[i] = _mm_xor_si128(fold(l->v[i], k), load128(p + 16 * i));
}

CLMUL_TARGET static inline __m128i lanes_merge(const lanes8 *l)
{
    __m128i acc = l->v[7];
#pragma GCC unroll 7
    for (int i = 0; i < 7; i++)
        acc = _mm_xor_si128(acc, fold(l->v[i], k_pair(k_lane[i][0], k_lane[i][1])));
    return acc;
}

/* len >= CLMUL_MIN_LEN.  Returns the state after all whole 16-byte blocks;
 * *done says how many bytes that covered. */
CLMUL_TARGET static uint64_t clmul_blocks(uint64_t crc, const uint8_t *p, size_t len, size_t *done)
{
    lanes8 l;
    const uint8_t *start = p;
    lanes_load(&l, p);
    l.v[0] = _mm_xor_si128(l.v[0], _mm_cvtsi64_si128((long long)crc)); /* continue from crc */
    p += 128;
    len -= 128;
    __m128i k1024 = k_pair(K_D1024_LO, K_D1024_HI);
    for (; len >= 128; p += 128, len -= 128)
        lanes_fold(&l, p, k1024);
    __m128i acc = lanes_merge(&l);
    __m128i k128 = k_pair(K_D128_LO, K_D128_HI);
    for (; len >= 16; p += 16, len -= 16)
        acc = _mm_xor_si128(fold(acc, k128), load128(p));
    *done = (size_t)(p - start);
    return reduce128(acc);
}

static uint64_t crc64_clmul_update(uint64_t crc, const uint8_t *p, size_t len)
{
    if (len < CLMUL_MIN_LEN)
        return crc64_table_update(crc, p, len);
    size_t done;
    crc = clmul_blocks(crc, p, len, &done);
    return crc64_table_update(crc, p + done, len - done);
}

static bool cpu_has_clmul(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul");
}

#else

static uint64_t crc64_clmul_update(uint64_t crc, const uint8_t *p, size_t len)
{
    return crc64_table_update(crc, p, len);
}

static bool cpu_has_clmul(void)
{
    return false;
}

#endif

/* ---- dispatch and API ---- */

static void crc64_init_once(void)
{
    crc64_build_tables();
    crc64_use_clmul = cpu_has_clmul();
}

static void crc64_setup(void)
{
    pthread_once(&crc64_once, crc64_init_once);
}

uint64_t cf_crc64_init(void)
{
    return CRC64_INIT;
}

uint64_t cf_crc64_update_portable(uint64_t state, cf_slice data)
{
    crc64_setup();
    return crc64_table_update(state, data.ptr, data.len);
}

bool cf_crc64_clmul_available(void)
{
    crc64_setup();
    return crc64_use_clmul;
}

uint64_t cf_crc64_update_clmul(uint64_t state, cf_slice data)
{
    if (!cf_crc64_clmul_available())
        return crc64_table_update(state, data.ptr, data.len);
    return crc64_clmul_update(state, data.ptr, data.len);
}

uint64_t cf_crc64_update(uint64_t state, cf_slice data)
{
    return cf_crc64_update_clmul(state, data);
}

uint64_t cf_crc64_final(uint64_t state)
{
    return state ^ CRC64_XOROUT;
}

uint64_t cf_crc64(cf_slice data)
{
    return cf_crc64_final(cf_crc64_update(cf_crc64_init(), data));
}

/* Standard base64 of 8 bytes: two full 3-byte groups, then 2 bytes + '='. */
void cf_crc64_base64(uint64_t crc, char out[CF_CRC64_BASE64_SIZE])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t b[9] = {0}; /* one zero byte of padding for the last group */
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(crc >> (8 * i)); /* little-endian, as Azure sends it */
    for (int g = 0; g < 3; g++) {
        uint32_t v = (uint32_t)b[3 * g] << 16 | (uint32_t)b[3 * g + 1] << 8 | b[3 * g + 2];
        for (int j = 0; j < 4; j++)
            out[4 * g + j] = alphabet[(v >> (18 - 6 * j)) & 0x3f];
    }
    out[11] = '=';
    out[12] = '\0';
}
