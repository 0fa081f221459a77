/*
 * A coffer-disk virtual disk as it is stored (docs/page-blobs.md): a page
 * blob whose metadata says how its sectors are encrypted and holds what
 * opens them, shared by the `coffer disk` commands (disk_cmd.c) and the
 * nbdkit plugin that serves the disk (src/disk).
 *
 * Metadata (x-ms-meta-*, all plain text; nothing in it opens a disk
 * without the vault):
 *   coffer_disk         format: "xts-aes-256" or "luks2"
 *   coffer_disk_sector  the sector size, 512 or 4096 (XTS's data unit)
 *   coffer_disk_kek     the disk-encryption key's versioned id in the vault
 *   coffer_disk_alg     how it wraps: RSA-OAEP-256 (RSA keys) or A256KW
 *   coffer_disk_key     xts: the 64-byte volume key wrapped by it, base64
 *   coffer_disk_secret  luks2: the vault secret whose value is the LUKS
 *                       key file wrapped by it (base64)
 */
#ifndef CF_CLI_DISK_META_H
#define CF_CLI_DISK_META_H

#include <stdint.h>

#include "buf.h"
#include "result.h"

#define CF_DISK_CONTAINER "disks"
#define CF_DISK_FORMAT_XTS "xts-aes-256"
#define CF_DISK_FORMAT_LUKS2 "luks2"
#define CF_DISK_KID_MAX 400
#define CF_DISK_WRAPPED_MAX 1024      /* base64 of an RSA-4096 wrapping is 684 */
#define CF_DISK_SIZE_MAX (8ull << 40) /* a page blob's */
/* The plugin's defaults (coffer disk attach --cache-seconds,
 * --writeback-mib): how long an unwrapped volume key is used before the
 * vault is asked again, and how much written data waits for a flush. */
#define CF_DISK_CACHE_SECONDS_DEFAULT 300
#define CF_DISK_WRITEBACK_MIB_DEFAULT 64

typedef struct {
    char format[16];
    uint32_t sector;
    char kek[CF_DISK_KID_MAX + 1];
    char alg[16];
    char wrapped[CF_DISK_WRAPPED_MAX + 1]; /* xts */
    char secret[CF_DISK_KID_MAX + 1];      /* luks2 */
} cf_disk_meta;

/* Fills `out` from metadata name/value pairs (names without x-ms-meta-,
 * any case): call cf_disk_meta_add for each, then cf_disk_meta_check. */
void cf_disk_meta_init(cf_disk_meta *out);
void cf_disk_meta_add(cf_disk_meta *m, const char *name, const char *value);
/* Whether the blob is a coffer disk with every field its format needs;
 * raises CF_ERR_BAD_INPUT saying what is missing. */
CF_MUST_USE bool cf_disk_meta_check(const cf_disk_meta *m);
/* The wrapping algorithm for a key type ("RSA", "RSA-HSM", "oct",
 * "oct-HSM"), or NULL for a key that cannot wrap. */
const char *cf_disk_wrap_alg(const char *kty);

#endif
