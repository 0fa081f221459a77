/*
 * A coffer disk's metadata (disk_meta.h).
 */
#include "disk_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cf_disk_meta_init(cf_disk_meta *out)
{
    memset(out, 0, sizeof *out);
}

void cf_disk_meta_add(cf_disk_meta *m, const char *name, const char *value)
{
    if (strcasecmp(name, "coffer_disk") == 0)
        snprintf(m->format, sizeof m->format, "%s", value);
    else if (strcasecmp(name, "coffer_disk_sector") == 0)
        m->sector = strcmp(value, "512") == 0 ? 512 : strcmp(value, "4096") == 0 ? 4096 : 0;
    else if (strcasecmp(name, "coffer_disk_kek") == 0)
        snprintf(m->kek, sizeof m->kek, "%s", value);
    else if (strcasecmp(name, "coffer_disk_alg") == 0)
        snprintf(m->alg, sizeof m->alg, "%s", value);
    else if (strcasecmp(name, "coffer_disk_key") == 0)
        snprintf(m->wrapped, sizeof m->wrapped, "%s", value);
    else if (strcasecmp(name, "coffer_disk_secret") == 0)
        snprintf(m->secret, sizeof m->secret, "%s", value);
}

bool cf_disk_meta_check(const cf_disk_meta *m)
{
    CF_ENSURE(m->format[0], CF_ERR_BAD_INPUT, "not a coffer disk (no coffer_disk metadata)");
    bool xts = strcmp(m->format, CF_DISK_FORMAT_XTS) == 0;
    CF_ENSURE(xts || strcmp(m->format, CF_DISK_FORMAT_LUKS2) == 0, CF_ERR_BAD_INPUT,
              "the disk's format is neither xts-aes-256 nor luks2");
    CF_ENSURE(m->sector == 512 || m->sector == 4096, CF_ERR_BAD_INPUT,
              "the disk's sector size is not 512 or 4096");
    CF_ENSURE(m->kek[0] && m->alg[0], CF_ERR_BAD_INPUT,
              "the disk names no disk-encryption key or algorithm");
    CF_ENSURE(xts ? m->wrapped[0] != 0 : m->secret[0] != 0, CF_ERR_BAD_INPUT,
              xts ? "the disk holds no wrapped volume key" : "the disk names no LUKS key secret");
    return true;
}

const char *cf_disk_wrap_alg(const char *kty)
{
    if (strcmp(kty, "RSA") == 0 || strcmp(kty, "RSA-HSM") == 0)
        return "RSA-OAEP-256";
    if (strcmp(kty, "oct") == 0 || strcmp(kty, "oct-HSM") == 0)
        return "A256KW";
    return NULL;
}
