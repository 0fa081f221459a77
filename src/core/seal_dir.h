/*
 * The seal of a service's data directory, and the master key it wraps.
 *
 *   DIR/seal.json   which seal (pkcs11 or file), where its root key is
 *                   (module, token label, root key id) and the wrapped
 *                   master key, with the associated data it is bound to
 *   DIR/hsm/        the embedded SoftHSM2 token, when no module is named:
 *                   softhsm2.conf, tokens/ and user.pin (0600)
 *   DIR/seal.key    the development file seal's root key (--dev-seal only)
 *   DIR/service.lock  locked (flock) by the process that has DIR open, so
 *                   no second server, and no seal move, runs on it at once
 *
 * Both services open their directory through this one module (docs:
 * docs/seal.md).  The default, with no option, is a PKCS#11 token: a
 * SoftHSM2 token initialised under DIR/hsm on first start, so a default
 * install keeps its root key in a token with no manual step.  Any vendor
 * module can be named instead; the file seal needs --dev-seal.
 */
#ifndef CF_SEAL_DIR_H
#define CF_SEAL_DIR_H

#include "seal.h"

/* Debian's SoftHSM2 module: the embedded token's, and the default. */
#define CF_SOFTHSM2_MODULE "/usr/lib/softhsm/libsofthsm2.so"
/* The PIN of a named token may come from this variable (cleared once read). */
#define CF_PKCS11_PIN_ENV "COFFER_PKCS11_PIN"

/* The servers' usage lines for the options below. */
#define CF_SEAL_USAGE                                                                        \
    "  --pkcs11-module PATH    PKCS#11 module of the token holding the root key (default:\n" \
    "                          a SoftHSM2 token made under DIR/hsm on first start)\n"        \
    "  --pkcs11-token LABEL    that token's label\n"                                         \
    "  --pkcs11-pin-file FILE  its user PIN (or set " CF_PKCS11_PIN_ENV ")\n"                \
    "  --dev-seal              development only: the root key is a file beside the data\n"

typedef struct {
    bool dev_seal;           /* --dev-seal */
    const char *module;      /* --pkcs11-module: NULL = as recorded, else embedded SoftHSM2 */
    const char *token_label; /* --pkcs11-token: NULL = as recorded, else the service name */
    const char *pin_file;    /* --pkcs11-pin-file: NULL = as recorded, else $COFFER_PKCS11_PIN */
    /* An inspection that only reads beside a running service (coffer store
     * query): service.lock is not taken, nothing is changed, and whatever
     * seal is recorded opens (no --dev-seal needed) */
    bool beside_service;
} cf_seal_options;

typedef struct {
    int lock_fd; /* DIR/service.lock, held while open: one process a directory */
    bool locked; /* lock_fd is open */
    cf_seal *seal;
    uint8_t *master_key;   /* CF_DATA_KEY_LEN bytes of secret memory */
    bool dev;              /* the file seal: the service warns at every start */
    bool removed_file_key; /* a migrated directory's leftover seal.key was destroyed */
    bool weak_root;        /* the token could not give the root key an unwrap template */
    char where[400];       /* "PKCS#11 token 'coffer-vault' (SoftHSM2 in DIR/hsm)" */
} cf_sealed_dir;

/* The kind of service a data directory holds ("coffer-vault",
 * "coffer-blob"), from the files it has; CF_ERR_NOT_FOUND when neither. */
CF_MUST_USE bool cf_seal_dir_service(const char *data_dir, const char **service);

/* Opens DIR's seal and unwraps its master key, bound to `aad`.  With
 * `create` (a new directory) makes the seal (the embedded token and its
 * root key, or the file seal) and a random master key first.  `service`
 * ("coffer-vault", "coffer-blob") names the embedded token and root key.
 * Every failure is one line saying what is wrong. */
CF_MUST_USE bool cf_seal_dir_open(const char *data_dir, const char *service,
                                  const cf_seal_options *opt, cf_slice aad, bool create,
                                  cf_sealed_dir *out);
void cf_sealed_dir_close(cf_sealed_dir *d);

/* True when DIR has a seal.json. */
CF_MUST_USE bool cf_seal_dir_recorded(const char *data_dir);
/* The associated data DIR's master key is bound to, as seal.json records
 * it (the vault finds its id there before it can open its store). */
CF_MUST_USE bool cf_seal_dir_recorded_aad(const char *data_dir, cf_buf *aad);
/* Records a directory made before seal.json existed: the file seal with the
 * master key `wrapped` (bound to `aad`), kept where the service had it. */
CF_MUST_USE bool cf_seal_dir_adopt_file(const char *data_dir, cf_slice wrapped, cf_slice aad);

/* Moves DIR from the file seal onto a PKCS#11 token (`opt` names it as for
 * open; none = the embedded SoftHSM2 token), then destroys seal.key.  The
 * service must be stopped.  Until the atomic switch of seal.json nothing the
 * directory depends on changes, so an interrupted move leaves it on the file
 * seal and can be run again.  `service` as for open. */
CF_MUST_USE bool cf_seal_dir_migrate(const char *data_dir, const char *service,
                                     const cf_seal_options *opt, char *where, size_t where_len);

#endif
