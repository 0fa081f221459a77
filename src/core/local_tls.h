/*
 * A service's own TLS material in its data directory, made on first use:
 *
 *   DIR/tls/ca.crt                    local CA certificate clients trust
 *   DIR/tls/server.crt                server certificate it issued
 *   DIR/tls/{ca,server}.key.sealed    the private keys, sealed (AES-256-GCM
 *                                     envelope) under the service's data key
 *
 * Sealed files bind "<label> file <relative path> <service id>" as
 * associated data, so a sealed file cannot be moved to another name or
 * another service's directory.  Services: coffer-vault, coffer-blob.
 */
#ifndef CF_LOCAL_TLS_H
#define CF_LOCAL_TLS_H

#include "buf.h"

typedef struct {
    const char *data_dir;
    const char *label;      /* e.g. "coffer-vault/v1" */
    const char *service_id; /* the service instance's id */
    cf_slice data_key;      /* 32 bytes, borrowed */
    const char *listen;     /* HOST:PORT: HOST goes into the certificate */
    const char *extra_san;  /* another DNS name or IP, or NULL */
} cf_local_tls;

/* Writes `secret` sealed to DIR/rel (mode 0600, atomically). */
CF_MUST_USE bool cf_local_tls_write_sealed(const cf_local_tls *t, const char *rel,
                                           cf_slice secret) CF_NONNULL;
/* Reads and opens DIR/rel into `secret` (a secret buffer). */
CF_MUST_USE bool cf_local_tls_read_sealed(const cf_local_tls *t, const char *rel,
                                          cf_buf *secret) CF_NONNULL;
/* The server certificate chain and private key PEM, generating the CA and
 * the certificate first if DIR/tls/server.crt does not exist yet. */
CF_MUST_USE bool cf_local_tls_load(const cf_local_tls *t, cf_buf *cert, cf_buf *key) CF_NONNULL;

#endif
