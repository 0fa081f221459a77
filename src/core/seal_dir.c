/*
 * The seal of a data directory (seal_dir.h): seal.json, the embedded
 * SoftHSM2 token, PINs, the master key, and the move from the file seal
 * onto a token.
 *
 * seal.json is written whole and atomically (temporary file, fsync,
 * rename), so it always names one seal and a master key that seal can
 * unwrap; every change of seal is that one rename.
 */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "encoding.h"
#include "envelope.h"
#include "fsutil.h"
#include "json_secure.h"
#include "seal_dir.h"
#include "secmem.h"

#define CF_SEAL_JSON_MAX 8192
#define CF_PIN_MAX 256
#define CF_WRAPPED_MAX 512
#define CF_AAD_MAX 256

/* What seal.json records. */
typedef struct {
    char seal[8];          /* "pkcs11" | "file" */
    char module[PATH_MAX]; /* "" = the embedded SoftHSM2 token */
    char token[33];
    char pin_file[PATH_MAX]; /* "" = embedded, or PIN from the environment */
    cf_seal_roots roots;     /* pkcs11: the root keys' ids */
    cf_buf wrapped;          /* the master key, wrapped by the seal */
    cf_buf aad;              /* what the wrapping binds (for migration) */
} cf_seal_record;

static void cf_record_init(cf_seal_record *r)
{
    memset(r, 0, sizeof *r);
    cf_buf_init(&r->wrapped, CF_WRAPPED_MAX);
    cf_buf_init(&r->aad, CF_AAD_MAX);
}

static void cf_record_free(cf_seal_record *r)
{
    cf_buf_free(&r->wrapped);
    cf_buf_free(&r->aad);
}

static bool cf_dir_path(const char *dir, const char *rel, char *out)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, rel);
    CF_ENSURE(n > 0 && n < PATH_MAX, CF_ERR_IO, "data directory path too long");
    return true;
}

bool cf_seal_dir_recorded(const char *data_dir)
{
    char path[PATH_MAX];
    return cf_dir_path(data_dir, "seal.json", path) && cf_file_exists(path);
}

/* ---- seal.json ---- */

static bool cf_json_b64(json_t *doc, const char *name, cf_buf *out)
{
    const char *v = json_string_value(json_object_get(doc, name));
    CF_ENSUREF(v && cf_base64_decode(CF_SLICE_STR(v), out), CF_ERR_IO,
               "seal.json: %s is missing or malformed", name);
    return true;
}

static bool cf_json_id(json_t *doc, const char *name, cf_p11_id *id)
{
    const char *hex = json_string_value(json_object_get(doc, name));
    CF_ENSUREF(hex && cf_p11_id_from_hex(hex, id), CF_ERR_IO,
               "seal.json: %s is missing or malformed", name);
    return true;
}

static bool cf_record_parse(json_t *doc, cf_seal_record *r)
{
    CF_ENSURE(json_integer_value(json_object_get(doc, "version")) == 1, CF_ERR_IO,
              "seal.json has an unknown version");
    CF_GUARD(cf_json_copy_text(doc, "seal", r->seal, sizeof r->seal, CF_ERR_IO, "seal.json"));
    CF_ENSURE(strcmp(r->seal, "pkcs11") == 0 || strcmp(r->seal, "file") == 0, CF_ERR_IO,
              "seal.json names an unknown seal");
    CF_GUARD(cf_json_b64(doc, "master_key", &r->wrapped));
    CF_GUARD(cf_json_b64(doc, "master_key_aad", &r->aad));
    if (strcmp(r->seal, "file") == 0)
        return true;
    CF_GUARD(cf_json_copy_text(doc, "module", r->module, sizeof r->module, CF_ERR_IO, "seal.json"));
    CF_GUARD(cf_json_copy_text(doc, "token", r->token, sizeof r->token, CF_ERR_IO, "seal.json"));
    CF_GUARD(cf_json_copy_text(doc, "pin_file", r->pin_file, sizeof r->pin_file, CF_ERR_IO,
                               "seal.json"));
    r->roots.sealed_unwrap = json_is_true(json_object_get(doc, "root_unwrap_template"));
    CF_GUARD(cf_json_id(doc, "root_key_id", &r->roots.root));
    CF_GUARD(cf_json_id(doc, "wrap_key_id", &r->roots.wrap));
    return true;
}

static bool cf_record_read(const char *dir, cf_seal_record *r)
{
    char path[PATH_MAX];
    CF_GUARD(cf_dir_path(dir, "seal.json", path));
    cf_buf text;
    cf_buf_init(&text, CF_SEAL_JSON_MAX);
    bool ok = cf_read_file(path, CF_SEAL_JSON_MAX, &text);
    json_t *doc =
        ok ? json_loadb((const char *)text.data, text.len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    cf_buf_free(&text);
    if (!ok && cf_error_code() == CF_ERR_NOT_FOUND)
        cf_error_raisef(CF_ERR_SEAL, __FILE__, __LINE__,
                        "%s is missing: %s is not a Coffer data directory", path, dir);
    CF_GUARD(ok);
    CF_ENSUREF(json_is_object(doc), CF_ERR_IO, "%s is damaged", path);
    ok = cf_record_parse(doc, r);
    json_decref(doc);
    return ok;
}

static bool cf_set_b64(json_t *doc, const char *name, cf_slice value)
{
    cf_buf text;
    cf_buf_init(&text, 2 * CF_WRAPPED_MAX);
    bool ok = cf_base64_encode(value, &text) &&
              json_object_set_new(doc, name, json_stringn((const char *)text.data, text.len)) == 0;
    cf_buf_free(&text);
    CF_ENSURE(ok, CF_ERR_NOMEM, NULL);
    return true;
}

static bool cf_record_write(const char *dir, const cf_seal_record *r)
{
    char path[PATH_MAX];
    CF_GUARD(cf_dir_path(dir, "seal.json", path));
    json_t *doc = json_pack("{s:i, s:s}", "version", 1, "seal", r->seal);
    CF_ENSURE_ALLOC(doc);
    bool ok = cf_set_b64(doc, "master_key", cf_buf_slice(&r->wrapped)) &&
              cf_set_b64(doc, "master_key_aad", cf_buf_slice(&r->aad));
    if (ok && strcmp(r->seal, "pkcs11") == 0) {
        char root[CF_P11_ID_HEX], wrap[CF_P11_ID_HEX];
        cf_p11_id_to_hex(&r->roots.root, root);
        cf_p11_id_to_hex(&r->roots.wrap, wrap);
        ok = json_object_set_new(doc, "module", json_string(r->module)) == 0 &&
             json_object_set_new(doc, "token", json_string(r->token)) == 0 &&
             json_object_set_new(doc, "pin_file", json_string(r->pin_file)) == 0 &&
             json_object_set_new(doc, "root_key_id", json_string(root)) == 0 &&
             json_object_set_new(doc, "wrap_key_id", json_string(wrap)) == 0 &&
             json_object_set_new(doc, "root_unwrap_template",
                                 json_boolean(r->roots.sealed_unwrap)) == 0;
    }
    char *text = ok ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    CF_ENSURE(text, CF_ERR_NOMEM, NULL);
    ok = cf_write_file_atomic(path, CF_SLICE_STR(text), 0600);
    cf_json_free_text(text);
    return ok;
}

/* ---- PINs and the embedded token ---- */

static bool cf_pin_from_file(const char *path, cf_buf *pin)
{
    CF_GUARD(cf_read_file(path, CF_PIN_MAX, pin));
    while (pin->len && (pin->data[pin->len - 1] == '\n' || pin->data[pin->len - 1] == '\r'))
        pin->len--;
    CF_ENSUREF(pin->len > 0, CF_ERR_SEAL, "the PIN file %s is empty", path);
    return true;
}

/* The PIN from $COFFER_PKCS11_PIN, which is then wiped from the environment. */
static bool cf_pin_from_env(cf_buf *pin)
{
    char *v = getenv(CF_PKCS11_PIN_ENV);
    CF_ENSURE(
        v && *v, CF_ERR_SEAL,
        "no PIN for the PKCS#11 token: give --pkcs11-pin-file FILE or set " CF_PKCS11_PIN_ENV);
    bool ok = cf_buf_append_str(pin, v);
    cf_memzero(v, strlen(v));
    unsetenv(CF_PKCS11_PIN_ENV);
    return ok;
}

static bool cf_write_secret_text(const char *path, const char *text)
{
    return cf_write_file_atomic(path, CF_SLICE_STR(text), 0600);
}

/* A fresh random PIN as 32 hex digits. */
static bool cf_random_pin(char out[33])
{
    uint8_t raw[16];
    cf_buf hex;
    cf_buf_init_secret(&hex, 33);
    bool ok = cf_random_bytes(raw, sizeof raw) && cf_hex_encode(cf_slice_of(raw, 16), &hex) &&
              hex.len == 32;
    if (ok)
        memcpy(out, hex.data, 32), out[32] = 0;
    cf_memzero(raw, sizeof raw);
    cf_buf_free(&hex);
    CF_ENSURE(ok, CF_ERR_INTERNAL, "cannot make a PIN");
    return true;
}

/* Lays out DIR/hsm for a new embedded token: its own softhsm2.conf, token
 * directory and PINs (0600). */
static bool cf_embedded_create(const char *dir, cf_buf *so_pin)
{
    char hsm[PATH_MAX], tokens[PATH_MAX], conf[PATH_MAX], path[PATH_MAX], text[PATH_MAX + 128];
    char so[33] = "", user[33] = "";
    CF_GUARD(cf_dir_path(dir, "hsm", hsm));
    CF_GUARD(cf_dir_path(dir, "hsm/tokens", tokens));
    CF_GUARD(cf_dir_path(dir, "hsm/softhsm2.conf", conf));
    /* No seal.json names it, so nothing depends on a leftover from an
     * interrupted start or move. */
    CF_GUARD(cf_remove_tree(hsm));
    CF_GUARD(cf_mkdirs(tokens, 0700));
    int n = snprintf(text, sizeof text,
                     "# SoftHSM2 token of this Coffer data directory (written by Coffer)\n"
                     "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
                     "slots.removable = false\n",
                     tokens);
    CF_ENSURE(n > 0 && (size_t)n < sizeof text, CF_ERR_IO, "path too long");
    CF_GUARD(cf_write_file_atomic(conf, CF_SLICE_STR(text), 0600));
    /* The SO PIN is needed once, to initialise the token, and is not kept:
     * it could only reset the user PIN, which sits beside it anyway. */
    bool ok = cf_random_pin(so) && cf_random_pin(user) && cf_buf_append_str(so_pin, so) &&
              cf_dir_path(dir, "hsm/user.pin", path) && cf_write_secret_text(path, user);
    cf_memzero(so, sizeof so);
    cf_memzero(user, sizeof user);
    return ok;
}

/* Points SoftHSM2 at DIR/hsm (before the module is initialised). */
static bool cf_embedded_env(const char *dir)
{
    char conf[PATH_MAX];
    CF_GUARD(cf_dir_path(dir, "hsm/softhsm2.conf", conf));
    CF_ENSUREF(cf_file_exists(conf), CF_ERR_SEAL, "the embedded token's %s is missing", conf);
    CF_ENSURE(setenv("SOFTHSM2_CONF", conf, 1) == 0, CF_ERR_INTERNAL, "setenv failed");
    return true;
}

/* Opens the token `r` describes, with `opt` overriding what is recorded;
 * `create` lays out a new embedded token first. */
static bool cf_token_open(const char *dir, const char *service, cf_seal_record *r,
                          const cf_seal_options *opt, bool create, cf_p11 **out)
{
    if (opt->module)
        snprintf(r->module, sizeof r->module, "%s", opt->module);
    if (opt->token_label)
        CF_ENSURE(snprintf(r->token, sizeof r->token, "%s", opt->token_label) <
                      (int)sizeof r->token,
                  CF_ERR_BAD_INPUT, "PKCS#11 token labels are at most 32 characters");
    if (opt->pin_file)
        snprintf(r->pin_file, sizeof r->pin_file, "%s", opt->pin_file);
    bool embedded = !r->module[0];
    char path[PATH_MAX];
    cf_buf pin, so;
    cf_buf_init_secret(&pin, CF_PIN_MAX);
    cf_buf_init_secret(&so, CF_PIN_MAX);
    bool ok = true;
    if (embedded) {
        snprintf(r->token, sizeof r->token, "%s", service);
        r->pin_file[0] = 0;
        ok = (!create || cf_embedded_create(dir, &so)) && cf_embedded_env(dir) &&
             cf_dir_path(dir, "hsm/user.pin", path) && cf_pin_from_file(path, &pin);
    } else if (!r->token[0]) {
        cf_error_raise(CF_ERR_SEAL, __FILE__, __LINE__,
                       "name the PKCS#11 token with --pkcs11-token LABEL");
        ok = false;
    } else {
        ok = r->pin_file[0] ? cf_pin_from_file(r->pin_file, &pin) : cf_pin_from_env(&pin);
    }
    cf_p11_config cfg = {
        .module = embedded ? CF_SOFTHSM2_MODULE : r->module,
        .token_label = r->token,
        .pin = cf_buf_slice(&pin),
        .init_so_pin = cf_buf_slice(&so),
    };
    ok = ok && cf_p11_open(&cfg, out);
    cf_buf_free(&pin);
    cf_buf_free(&so);
    return ok;
}

static void cf_describe(const cf_seal_record *r, const char *dir, char *out, size_t len)
{
    if (strcmp(r->seal, "file") == 0)
        snprintf(out, len, "the development file seal %s/seal.key", dir);
    else if (!r->module[0])
        snprintf(out, len, "PKCS#11 token '%s' (SoftHSM2 in %s/hsm)", r->token, dir);
    else
        snprintf(out, len, "PKCS#11 token '%s' (%s)", r->token, r->module);
}

/* ---- open and create ---- */

static bool cf_master_unwrap(cf_sealed_dir *d, const cf_seal_record *r, cf_slice aad,
                             const char *dir)
{
    cf_buf key;
    cf_buf_init_secret(&key, CF_DATA_KEY_LEN);
    bool ok = d->seal->unwrap(d->seal, cf_buf_slice(&r->wrapped), aad, &key);
    if (!ok && cf_error_code() == CF_ERR_DECRYPT)
        cf_error_raisef(CF_ERR_SEAL, __FILE__, __LINE__,
                        "%s cannot unwrap the master key of %s (wrong token or root key, or "
                        "seal.json was altered)",
                        d->where, dir);
    if (ok && key.len != CF_DATA_KEY_LEN) {
        cf_error_raisef(CF_ERR_SEAL, __FILE__, __LINE__,
                        "the master key of %s has the wrong length", dir);
        ok = false;
    }
    ok = ok && (d->master_key = cf_secret_alloc(CF_DATA_KEY_LEN));
    if (ok)
        memcpy(d->master_key, key.data, CF_DATA_KEY_LEN);
    cf_buf_free(&key);
    return ok;
}

static bool cf_open_recorded(const char *dir, const char *service, const cf_seal_options *opt,
                             cf_seal_record *r, cf_sealed_dir *d)
{
    char key_path[PATH_MAX];
    CF_GUARD(cf_dir_path(dir, "seal.key", key_path));
    cf_describe(r, dir, d->where, sizeof d->where);
    if (strcmp(r->seal, "file") == 0) {
        CF_ENSUREF(opt->dev_seal || opt->beside_service, CF_ERR_SEAL,
                   "%s is on the development file seal; start with --dev-seal, or move it onto "
                   "a PKCS#11 token with: coffer seal migrate --data-dir %s",
                   dir, dir);
        CF_ENSURE(!opt->module && !opt->token_label && !opt->pin_file, CF_ERR_SEAL,
                  "--pkcs11-* options do not open a directory on the development file seal; "
                  "move it with coffer seal migrate first");
        d->dev = true;
        return cf_seal_file_open(key_path, false, &d->seal);
    }
    CF_ENSUREF(!opt->dev_seal, CF_ERR_SEAL, "%s is sealed by %s; --dev-seal cannot open it", dir,
               d->where);
    cf_p11 *token;
    CF_GUARD(cf_token_open(dir, service, r, opt, false, &token));
    cf_describe(r, dir, d->where, sizeof d->where);
    d->weak_root = !r->roots.sealed_unwrap;
    CF_GUARD(cf_seal_pkcs11_open(token, &r->roots, &d->seal));
    /* A move onto the token that stopped after its switch left the file key. */
    if (!opt->beside_service && cf_file_exists(key_path)) {
        CF_GUARD(cf_destroy_file(key_path));
        d->removed_file_key = true;
    }
    return true;
}

/* Makes the seal of a new directory; fills the record's seal fields. */
static bool cf_seal_create(const char *dir, const char *service, const cf_seal_options *opt,
                           cf_seal_record *r, cf_seal **out)
{
    if (opt->dev_seal) {
        char key_path[PATH_MAX];
        CF_ENSURE(!opt->module && !opt->token_label && !opt->pin_file, CF_ERR_BAD_INPUT,
                  "--dev-seal and --pkcs11-* options exclude each other");
        snprintf(r->seal, sizeof r->seal, "file");
        return cf_dir_path(dir, "seal.key", key_path) && cf_seal_file_open(key_path, true, out);
    }
    snprintf(r->seal, sizeof r->seal, "pkcs11");
    cf_p11 *token;
    CF_GUARD(cf_token_open(dir, service, r, opt, true, &token));
    if (!cf_seal_pkcs11_create_roots(token, service, &r->roots)) {
        cf_p11_close(token);
        return false;
    }
    return cf_seal_pkcs11_open(token, &r->roots, out);
}

static bool cf_master_create(cf_sealed_dir *d, cf_seal_record *r, cf_slice aad)
{
    d->master_key = cf_secret_alloc(CF_DATA_KEY_LEN);
    CF_ENSURE_ALLOC(d->master_key);
    CF_GUARD(cf_random_bytes(d->master_key, CF_DATA_KEY_LEN));
    return cf_buf_append_slice(&r->aad, aad) &&
           d->seal->wrap(d->seal, cf_slice_of(d->master_key, CF_DATA_KEY_LEN), aad, &r->wrapped);
}

/* One process a directory: a second server, or a seal move, is refused. */
static bool cf_dir_lock(const char *dir, int *fd)
{
    char path[PATH_MAX];
    CF_GUARD(cf_dir_path(dir, "service.lock", path));
    if (!cf_lock_file(path, fd)) {
        CF_ENSUREF(cf_error_code() != CF_ERR_CONFLICT, CF_ERR_CONFLICT,
                   "%s is in use by another process (a running service?); stop it first", dir);
        return false;
    }
    return true;
}

bool cf_seal_dir_service(const char *data_dir, const char **service)
{
    char path[PATH_MAX];
    CF_GUARD(cf_dir_path(data_dir, "service.json", path));
    if (cf_file_exists(path)) {
        *service = "coffer-blob";
        return true;
    }
    CF_GUARD(cf_dir_path(data_dir, "vault.db", path));
    CF_ENSUREF(cf_file_exists(path), CF_ERR_NOT_FOUND,
               "%s holds neither a coffer-vault nor a coffer-blob data directory", data_dir);
    *service = "coffer-vault";
    return true;
}

bool cf_seal_dir_recorded_aad(const char *data_dir, cf_buf *aad)
{
    cf_seal_record r;
    cf_record_init(&r);
    bool ok = cf_record_read(data_dir, &r) && cf_buf_append_slice(aad, cf_buf_slice(&r.aad));
    cf_record_free(&r);
    return ok;
}

bool cf_seal_dir_open(const char *data_dir, const char *service, const cf_seal_options *opt,
                      cf_slice aad, bool create, cf_sealed_dir *out)
{
    memset(out, 0, sizeof *out);
    CF_ENSURE(!(create && opt->beside_service), CF_ERR_INTERNAL, "an inspection creates nothing");
    if (!opt->beside_service) {
        CF_GUARD(cf_dir_lock(data_dir, &out->lock_fd));
        out->locked = true;
    }
    cf_seal_record r;
    cf_record_init(&r);
    bool ok;
    if (create) {
        ok = !cf_seal_dir_recorded(data_dir);
        if (!ok)
            cf_error_raisef(CF_ERR_IO, __FILE__, __LINE__,
                            "%s holds an unfinished initialisation; remove it and start again",
                            data_dir);
        ok = ok && cf_seal_create(data_dir, service, opt, &r, &out->seal);
        if (ok && !(cf_master_create(out, &r, aad) && cf_record_write(data_dir, &r))) {
            cf_seal_pkcs11_discard_roots(out->seal); /* no seal.json names them */
            ok = false;
        }
        cf_describe(&r, data_dir, out->where, sizeof out->where);
        out->dev = opt->dev_seal;
        out->weak_root = !opt->dev_seal && !r.roots.sealed_unwrap;
    } else {
        ok = cf_record_read(data_dir, &r) && cf_open_recorded(data_dir, service, opt, &r, out) &&
             cf_master_unwrap(out, &r, aad, data_dir);
    }
    cf_record_free(&r);
    if (!ok)
        cf_sealed_dir_close(out);
    return ok;
}

void cf_sealed_dir_close(cf_sealed_dir *d)
{
    cf_secret_free(d->master_key, CF_DATA_KEY_LEN);
    cf_seal_destroy(d->seal);
    if (d->locked)
        close(d->lock_fd);
    d->master_key = NULL;
    d->seal = NULL;
    d->locked = false;
}

bool cf_seal_dir_adopt_file(const char *data_dir, cf_slice wrapped, cf_slice aad)
{
    cf_seal_record r;
    cf_record_init(&r);
    snprintf(r.seal, sizeof r.seal, "file");
    bool ok = cf_buf_append_slice(&r.wrapped, wrapped) && cf_buf_append_slice(&r.aad, aad) &&
              cf_record_write(data_dir, &r);
    cf_record_free(&r);
    return ok;
}

/* ---- the move onto a token ---- */

static bool cf_migrate_steps(const char *dir, const char *service, const cf_seal_options *opt,
                             cf_seal_record *from, char *where, size_t where_len)
{
    char key_path[PATH_MAX];
    CF_GUARD(cf_dir_path(dir, "seal.key", key_path));
    if (strcmp(from->seal, "pkcs11") == 0) {
        cf_describe(from, dir, where, where_len);
        CF_ENSUREF(cf_file_exists(key_path), CF_ERR_CONFLICT, "%s is already sealed by %s", dir,
                   where);
        return cf_destroy_file(key_path); /* a move that stopped after its switch */
    }
    /* The master key, through the file seal. */
    cf_seal *file = NULL;
    cf_buf master;
    cf_buf_init_secret(&master, CF_DATA_KEY_LEN);
    bool ok = cf_seal_file_open(key_path, false, &file) &&
              file->unwrap(file, cf_buf_slice(&from->wrapped), cf_buf_slice(&from->aad), &master);
    cf_seal_destroy(file);
    if (!ok && cf_error_code() == CF_ERR_DECRYPT)
        cf_error_raise(CF_ERR_SEAL, __FILE__, __LINE__,
                       "seal.key cannot unwrap the master key (seal.json or seal.key altered)");
    /* The token, a new root key, the master key wrapped there and read
     * back.  Nothing the directory depends on has changed yet. */
    cf_seal_record to;
    cf_record_init(&to);
    cf_seal *token = NULL;
    cf_buf check;
    cf_buf_init_secret(&check, CF_DATA_KEY_LEN);
    ok = ok && cf_buf_append_slice(&to.aad, cf_buf_slice(&from->aad)) &&
         cf_seal_create(dir, service, opt, &to, &token) &&
         token->wrap(token, cf_buf_slice(&master), cf_buf_slice(&to.aad), &to.wrapped) &&
         token->unwrap(token, cf_buf_slice(&to.wrapped), cf_buf_slice(&to.aad), &check);
    if (ok && !(master.len == CF_DATA_KEY_LEN && check.len == CF_DATA_KEY_LEN &&
                cf_memeq_ct(check.data, master.data, CF_DATA_KEY_LEN))) {
        CF_RAISE(CF_ERR_SEAL, "the master key did not survive the token's round trip");
        ok = false;
    }
    cf_describe(&to, dir, where, where_len);
    /* The switch (one rename), then the file key goes.  Root keys made for
     * a move that did not switch are destroyed: nothing will use them. */
    bool switched = ok && cf_record_write(dir, &to);
    if (!switched)
        cf_seal_pkcs11_discard_roots(token);
    ok = switched && cf_destroy_file(key_path);
    cf_seal_destroy(token);
    cf_record_free(&to);
    cf_buf_free(&master);
    cf_buf_free(&check);
    return ok;
}

bool cf_seal_dir_migrate(const char *data_dir, const char *service, const cf_seal_options *opt,
                         char *where, size_t where_len)
{
    CF_ENSURE(!opt->dev_seal, CF_ERR_BAD_INPUT, "the move is onto a PKCS#11 token");
    char key_path[PATH_MAX];
    CF_GUARD(cf_dir_path(data_dir, "seal.key", key_path));
    CF_ENSUREF(cf_seal_dir_recorded(data_dir) || !cf_file_exists(key_path), CF_ERR_CONFLICT,
               "%s was made before seal.json existed: start the service once with --dev-seal, "
               "stop it, then move it",
               data_dir);
    int lock = -1;
    CF_GUARD(cf_dir_lock(data_dir, &lock));
    cf_seal_record r;
    cf_record_init(&r);
    bool ok = cf_record_read(data_dir, &r) &&
              cf_migrate_steps(data_dir, service, opt, &r, where, where_len);
    cf_record_free(&r);
    close(lock);
    return ok;
}
