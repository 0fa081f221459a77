/*
 * coffer disk: encrypted virtual disks on coffer-blob page blobs, served
 * over NBD by nbdkit with coffer-disk's plugin (src/disk; docs/disks.md).
 *
 *   create NAME --size S --des KEY_ID [--sector 512|4096] [--luks2]
 *   attach NAME (--socket PATH | --port N) [--cache-seconds N]
 *          [--writeback-mib N] [--vault-identity FILE]
 *   list | show NAME | resize NAME --size S | delete NAME
 *   rotate-key NAME [--des KEY_ID] | luks-key NAME [--out FILE]
 *   (every command: [--container C], default "disks")
 *
 * The disk-encryption key (--des, a disk-encryption set's key in the vault:
 * RSA or AES) wraps each disk's own key through the vault's wrapKey with
 * the caller's credential; only the wrapping is stored.  xts-aes-256: a
 * random 64-byte XTS volume key, wrapped into the blob's metadata, used by
 * the plugin on the host.  luks2: a random 64-byte LUKS key file, wrapped
 * into a vault secret "coffer-disk-LEN-CONTAINER-NAME" whose tags name the
 * wrapping key (as Azure Disk Encryption keeps a
 * BEK wrapped by a KEK); `luks-key` unwraps it for cryptsetup, and the
 * plugin passes sectors through.  rotate-key re-wraps that key under the
 * key's newest version (or another --des): no sector is rewritten.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "crypto.h"
#include "disk_meta.h"
#include "encoding.h"
#include "secmem.h"
#include "storage_client.h"
#include "vault_key.h"

#define CF_DISK_NAME_MAX 48
#define CF_DISK_KEY_LEN 64 /* an XTS-AES-256 volume key, or a LUKS key file */

/* Disk names go into blob paths and vault secret names: 1-48 of
 * [0-9a-z-]. */
static bool cf_disk_args(cf_cli *cli, const char **name, const char **container)
{
    *name = cli->args->pos[0];
    size_t n = strlen(*name);
    bool ok = n >= 1 && n <= CF_DISK_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = ((*name)[i] >= 'a' && (*name)[i] <= 'z') || ((*name)[i] >= '0' && (*name)[i] <= '9') ||
             (*name)[i] == '-';
    if (!ok)
        return cf_cli_usage("a disk name is 1-48 of lowercase letters, digits and '-'");
    *container = cf_cli_opt(cli, "container");
    if (!*container)
        *container = CF_DISK_CONTAINER;
    return cf_sc_check_container(*container);
}

/* A size with an optional K, M, G or T (binary) suffix. */
static bool cf_disk_size_opt(const cf_cli *cli, uint64_t *out)
{
    const char *v = cf_cli_opt(cli, "size");
    if (!v)
        return cf_cli_usage("--size SIZE is required (e.g. 1G)");
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    unsigned shift = 0;
    if (end && *end) {
        const char *units = "KMGT";
        const char *u = strchr(units, end[0] & ~0x20);
        shift = u && end[1] == '\0' ? 10 * (unsigned)(u - units + 1) : 64;
    }
    if (!*v || errno || shift == 64 || n == 0 || n > (CF_DISK_SIZE_MAX >> shift))
        return cf_cli_usage("--size: a positive size up to 8T, e.g. 512M or 10G");
    *out = (uint64_t)n << shift;
    return true;
}

/* coffer-disk-LEN-CONTAINER-NAME, LEN the container name's length, so no
 * two disks share a name ('-' is in both alphabets): at most 12 + 3 + 63 +
 * 1 + 48 = 127 characters, a vault name's limit. */
static void cf_disk_secret_name(const char *container, const char *name, char *out, size_t len)
{
    snprintf(out, len, "coffer-disk-%zu-%s-%s", strlen(container), container, name);
}

/* HEAD of the disk: its size, ETag and metadata (checked). */
static bool cf_disk_stat(cf_sc_client *sc, const char *container, const char *name, uint64_t *size,
                         char *etag, size_t etag_len, cf_disk_meta *meta)
{
    cf_sc_req req = {.method = "HEAD", .container = container, .blob = name};
    cf_sc_resp resp;
    cf_sc_resp_init(&resp);
    bool ok = cf_sc_call(sc, &req, &resp);
    if (ok) {
        const char *len = cf_sc_resp_header(&resp, "content-length");
        const char *tag = cf_sc_resp_header(&resp, "etag");
        *size = len ? strtoull(len, NULL, 10) : 0;
        if (etag)
            snprintf(etag, etag_len, "%s", tag ? tag : "");
        cf_disk_meta_init(meta);
        size_t pos = 0;
        const char *h, *v;
        while (cf_sc_resp_next(&resp, &pos, &h, &v))
            if (strncmp(h, "x-ms-meta-", 10) == 0)
                cf_disk_meta_add(meta, h + 10, v);
        ok = cf_disk_meta_check(meta);
        if (!ok) {
            fprintf(stderr, "coffer: %s/%s: %s\n", container, name, cf_error_detail());
            cf_cli_mark_reported();
        }
    }
    cf_sc_resp_free(&resp);
    return ok;
}

/* Wraps `key` under vault key `kid` (its newest version when unversioned):
 * the versioned id, algorithm and wrapping (base64) into `meta`; *out (may
 * be NULL) gets the opened key. */
static bool cf_disk_wrap(cf_cli *cli, const char *kid, cf_slice key, cf_disk_meta *meta,
                         cf_vault_key **out)
{
    cf_vault_key *k = NULL;
    cf_buf raw;
    cf_buf_init(&raw, CF_DISK_WRAPPED_MAX);
    bool ok = cf_vault_key_open(cli, kid, true, "a key of the configured vault", &k);
    const char *alg = ok ? cf_disk_wrap_alg(cf_vault_key_kty(k)) : NULL;
    if (ok && !alg)
        ok = cf_cli_usage("--des: an RSA or AES key is needed to wrap disk keys");
    ok = ok && cf_vault_key_op(k, "wrapkey", alg, key, &raw);
    if (ok) {
        snprintf(meta->kek, sizeof meta->kek, "%s", cf_vault_key_kid(k));
        snprintf(meta->alg, sizeof meta->alg, "%s", alg);
        cf_buf b64;
        cf_buf_init(&b64, sizeof meta->wrapped);
        ok = cf_base64_encode(cf_buf_slice(&raw), &b64) && cf_buf_terminate(&b64);
        if (ok)
            snprintf(meta->wrapped, sizeof meta->wrapped, "%s", (const char *)b64.data);
        cf_buf_free(&b64);
    }
    cf_buf_free(&raw);
    if (ok && out)
        *out = k;
    else
        cf_vault_key_close(k);
    return ok;
}

/* The disk's key (volume key or LUKS key file), unwrapped: `b64` is its
 * wrapping under meta->kek.  `k` (may be NULL) gets the opened vault key. */
static bool cf_disk_unwrap(cf_cli *cli, const cf_disk_meta *meta, const char *b64, cf_buf *key,
                           cf_vault_key **out)
{
    cf_vault_key *k = NULL;
    cf_buf raw;
    cf_buf_init(&raw, CF_DISK_WRAPPED_MAX);
    bool ok = cf_base64_decode(CF_SLICE_STR(b64), &raw) &&
              cf_vault_key_open(cli, meta->kek, false, "the vault that holds the disk's key", &k) &&
              cf_vault_key_op(k, "unwrapkey", meta->alg, cf_buf_slice(&raw), key);
    cf_buf_free(&raw);
    if (ok && key->len != CF_DISK_KEY_LEN) {
        CF_RAISE(CF_ERR_DECRYPT, "the disk's key is not 64 bytes");
        ok = false;
    }
    if (ok && out)
        *out = k;
    else
        cf_vault_key_close(k);
    return ok;
}

/* The luks2 disk's secret: its value (the wrapped key file, base64). */
/* A luks2 disk's secret: its value (the wrapped key file, base64) and the
 * wrapping it records in its tags (kek, alg) into `meta`: the secret
 * describes itself, so rewrapping it is one write. */
static bool cf_disk_secret_get(cf_vault_key *k, cf_disk_meta *meta, cf_buf *value)
{
    char path[160];
    snprintf(path, sizeof path, "/secrets/%s", meta->secret);
    json_t *reply = NULL;
    CF_GUARD(cf_cli_call(cf_vault_key_client(k), "GET", path, NULL, &reply));
    json_t *tags = json_object_get(reply, "tags");
    const char *v = json_string_value(json_object_get(reply, "value"));
    const char *kek = json_string_value(json_object_get(tags, "kek"));
    const char *alg = json_string_value(json_object_get(tags, "alg"));
    bool ok = v && kek && alg && strlen(kek) < sizeof meta->kek && strlen(alg) < sizeof meta->alg &&
              cf_buf_append_str(value, v) && cf_buf_terminate(value);
    if (ok) {
        snprintf(meta->kek, sizeof meta->kek, "%s", kek);
        snprintf(meta->alg, sizeof meta->alg, "%s", alg);
    }
    json_decref(reply);
    CF_ENSURE(ok, CF_ERR_IO, "the disk's key secret has no value or no wrapping tags");
    return true;
}

static bool cf_disk_secret_put(cf_vault_key *k, const cf_disk_meta *meta)
{
    char path[128];
    snprintf(path, sizeof path, "/secrets/%s", meta->secret);
    json_t *body =
        json_pack("{s:s, s:s, s:{s:s, s:s}}", "value", meta->wrapped, "contentType",
                  "application/vnd.coffer.wrapped-key", "tags", "kek", meta->kek, "alg", meta->alg);
    CF_ENSURE_ALLOC(body);
    json_t *reply = NULL;
    bool ok = cf_cli_call(cf_vault_key_client(k), "PUT", path, body, &reply);
    json_decref(body);
    json_decref(reply);
    return ok;
}

/* The metadata headers of `meta` on a request (values borrowed). */
static bool cf_disk_meta_headers(cf_sc_req *req, const cf_disk_meta *meta, char *sector)
{
    bool xts = strcmp(meta->format, CF_DISK_FORMAT_XTS) == 0;
    snprintf(sector, 8, "%u", meta->sector);
    return cf_sc_req_header(req, "x-ms-meta-coffer_disk", meta->format) &&
           cf_sc_req_header(req, "x-ms-meta-coffer_disk_sector", sector) &&
           cf_sc_req_header(req, "x-ms-meta-coffer_disk_kek", meta->kek) &&
           cf_sc_req_header(req, "x-ms-meta-coffer_disk_alg", meta->alg) &&
           cf_sc_req_header(req, xts ? "x-ms-meta-coffer_disk_key" : "x-ms-meta-coffer_disk_secret",
                            xts ? meta->wrapped : meta->secret);
}

static bool cf_disk_call(cf_sc_client *sc, cf_sc_req *req)
{
    cf_sc_resp resp;
    cf_sc_resp_init(&resp);
    bool ok = cf_sc_call(sc, req, &resp);
    cf_sc_resp_free(&resp);
    return ok;
}

/* ---- create ---- */

static bool cf_disk_create_blob(cf_sc_client *sc, const char *container, const char *name,
                                uint64_t size, const cf_disk_meta *meta)
{
    cf_sc_req mk = {
        .method = "PUT", .container = container, .query = "restype=container", .also_ok = 409};
    char len[24], sector[8];
    snprintf(len, sizeof len, "%llu", (unsigned long long)size);
    cf_sc_req req = {.method = "PUT", .container = container, .blob = name};
    return cf_disk_call(sc, &mk) && cf_sc_req_header(&req, "x-ms-blob-type", "PageBlob") &&
           cf_sc_req_header(&req, "x-ms-blob-content-length", len) &&
           cf_sc_req_header(&req, "If-None-Match", "*") &&
           cf_disk_meta_headers(&req, meta, sector) && cf_disk_call(sc, &req);
}

bool cf_cmd_disk_create(cf_cli *cli)
{
    const char *name, *container, *des = cf_cli_opt(cli, "des"),
                                  *sector = cf_cli_opt(cli, "sector");
    uint64_t size;
    CF_GUARD(cf_disk_args(cli, &name, &container));
    CF_GUARD(cf_disk_size_opt(cli, &size));
    if (!des)
        return cf_cli_usage("--des KEY_ID (the disk-encryption key in the vault) is required");
    cf_disk_meta meta;
    cf_disk_meta_init(&meta);
    bool luks = cf_cli_flag(cli, "luks2");
    snprintf(meta.format, sizeof meta.format, "%s",
             luks ? CF_DISK_FORMAT_LUKS2 : CF_DISK_FORMAT_XTS);
    meta.sector = !sector                       ? 4096
                  : strcmp(sector, "512") == 0  ? 512
                  : strcmp(sector, "4096") == 0 ? 4096
                                                : 0;
    if (!meta.sector)
        return cf_cli_usage("--sector: 512 or 4096");
    if (size % meta.sector)
        return cf_cli_usage("--size must be a whole number of %u-byte sectors", meta.sector);
    cf_buf key;
    cf_buf_init_secret(&key, CF_DISK_KEY_LEN);
    uint8_t *raw;
    cf_vault_key *k = NULL;
    cf_sc_client *sc = NULL;
    /* XTS needs two different halves; a collision is 2^-256 but is checked. */
    bool ok = cf_buf_extend(&key, CF_DISK_KEY_LEN, &raw);
    do
        ok = ok && cf_random_bytes(raw, CF_DISK_KEY_LEN);
    while (ok && cf_memeq_ct(raw, raw + 32, 32));
    ok = ok && cf_sc_client_open(cli, &sc) && cf_disk_wrap(cli, des, cf_buf_slice(&key), &meta, &k);
    if (ok && luks)
        cf_disk_secret_name(container, name, meta.secret, sizeof meta.secret);
    /* The blob first (never over an existing one), then its key file's
     * secret: a second create of a luks2 disk must not replace the key
     * file of the first. */
    ok = ok && cf_disk_create_blob(sc, container, name, size, &meta);
    if (ok && luks && !cf_disk_secret_put(k, &meta)) {
        struct cf_error_record *saved = cf_error_save();
        cf_sc_req undo = {.method = "DELETE", .container = container, .blob = name};
        if (!cf_disk_call(sc, &undo))
            cf_error_clear();
        cf_error_restore(saved);
        ok = false;
    }
    if (ok)
        printf("created disk %s (%llu bytes, %s, %u-byte sectors) under %s\n", name,
               (unsigned long long)size, meta.format, meta.sector, meta.kek);
    cf_buf_free(&key);
    cf_vault_key_close(k);
    cf_sc_client_close(sc);
    return ok;
}

/* ---- attach ---- */

/* nbdkit's plugin: COFFER_DISK_PLUGIN, else ../lib beside this program. */
static bool cf_disk_plugin_path(char *out, size_t len)
{
    const char *env = getenv("COFFER_DISK_PLUGIN");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return true;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CF_ENSURE(n > 0, CF_ERR_IO, "cannot find this program's directory");
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, len, "%s/../lib/nbdkit-coffer-plugin.so", self);
    CF_ENSURE(access(out, R_OK) == 0, CF_ERR_IO,
              "coffer-disk's nbdkit plugin is not installed beside this program");
    return true;
}

/* The identity the plugin unwraps the volume key with. */
static const char *cf_disk_identity(const cf_cli *cli)
{
    const char *v = cf_cli_opt(cli, "vault-identity");
    if (!v || !*v)
        v = getenv("COFFER_VAULT_IDENTITY");
    if (!v || !*v)
        v = cf_cli_opt(cli, "bootstrap");
    if (!v || !*v)
        v = getenv("COFFER_BOOTSTRAP");
    return v && *v ? v : NULL;
}

/* The connection string goes to nbdkit through a pipe: never argv. */
static bool cf_disk_conn_pipe(const cf_buf *conn, int *fd)
{
    int p[2];
    CF_ENSURE(pipe(p) == 0, CF_ERR_IO, "pipe failed");
    size_t n = strlen((const char *)conn->data);
    bool ok = write(p[1], conn->data, n) == (ssize_t)n;
    close(p[1]);
    if (!ok) {
        close(p[0]);
        CF_BAIL(CF_ERR_IO, "cannot hand the connection to nbdkit");
    }
    *fd = p[0];
    return true;
}

bool cf_cmd_disk_attach(cf_cli *cli)
{
    const char *name, *container, *sock = cf_cli_opt(cli, "socket"),
                                  *port = cf_cli_opt(cli, "port");
    CF_GUARD(cf_disk_args(cli, &name, &container));
    if (!sock == !port)
        return cf_cli_usage("give one of --socket PATH or --port N");
    long long cache = CF_DISK_CACHE_SECONDS_DEFAULT, mib = CF_DISK_WRITEBACK_MIB_DEFAULT, n;
    if (cf_cli_opt(cli, "cache-seconds"))
        CF_GUARD(cf_cli_parse_int("--cache-seconds", cf_cli_opt(cli, "cache-seconds"), 1, 86400,
                                  &cache));
    if (cf_cli_opt(cli, "writeback-mib"))
        CF_GUARD(
            cf_cli_parse_int("--writeback-mib", cf_cli_opt(cli, "writeback-mib"), 1, 65536, &mib));
    if (port)
        CF_GUARD(cf_cli_parse_int("--port", port, 1, 65535, &n));
    cf_buf conn;
    cf_buf_init_secret(&conn, 4096);
    char ca[PATH_MAX], plugin[PATH_MAX + 64];
    cf_sc_client *sc = NULL;
    cf_disk_meta meta;
    uint64_t size = 0;
    int fd = -1;
    const char *identity = cf_disk_identity(cli);
    bool ok = cf_disk_plugin_path(plugin, sizeof plugin) && cf_sc_connection(cli, &conn, ca) &&
              cf_sc_client_connect((const char *)conn.data, ca, &sc) &&
              cf_disk_stat(sc, container, name, &size, NULL, 0, &meta);
    if (ok && !identity && strcmp(meta.format, CF_DISK_FORMAT_XTS) == 0)
        ok = cf_cli_usage("an xts-aes-256 disk needs --vault-identity FILE (or "
                          "COFFER_VAULT_IDENTITY, or the vault's bootstrap) to unwrap its key");
    ok = ok && cf_disk_conn_pipe(&conn, &fd);
    cf_sc_client_close(sc);
    cf_buf_free(&conn);
    if (!ok)
        return false;
    char a_disk[1200], a_conn[32], a_ca[PATH_MAX + 8], a_id[PATH_MAX + 20], a_cache[40], a_wb[40],
        a_min[32];
    snprintf(a_disk, sizeof a_disk, "disk=%s/%s", container, name);
    snprintf(a_conn, sizeof a_conn, "connection=-%d", fd);
    snprintf(a_ca, sizeof a_ca, "ca=%s", ca);
    snprintf(a_id, sizeof a_id, "vault-identity=%s", identity ? identity : "");
    snprintf(a_cache, sizeof a_cache, "cache-seconds=%lld", cache);
    snprintf(a_wb, sizeof a_wb, "writeback=%lldM", mib);
    snprintf(a_min, sizeof a_min, "minblock=%u", meta.sector);
    const char *argv[32];
    size_t i = 0;
    argv[i++] = "nbdkit";
    argv[i++] = "--foreground";
    if (sock) {
        argv[i++] = "--unix";
        argv[i++] = sock;
    } else {
        argv[i++] = "--ipaddr";
        argv[i++] = "127.0.0.1";
        argv[i++] = "--port";
        argv[i++] = port;
    }
    argv[i++] = "--filter=blocksize";
    argv[i++] = plugin;
    argv[i++] = a_disk;
    argv[i++] = a_conn;
    if (ca[0])
        argv[i++] = a_ca;
    if (identity)
        argv[i++] = a_id;
    argv[i++] = a_cache;
    argv[i++] = a_wb;
    argv[i++] = a_min;
    argv[i] = NULL;
    fprintf(stderr, "coffer: serving disk %s (%llu bytes, %s) on %s%s\n", name,
            (unsigned long long)size, meta.format,
            sock ? "nbd+unix:///?socket=" : "nbd://127.0.0.1:", sock ? sock : port);
    execvp("nbdkit", (char *const *)argv);
    close(fd);
    CF_RAISE(CF_ERR_IO, "cannot run nbdkit (install it: scripts/install-deps)");
    fprintf(stderr, "coffer: cannot run nbdkit: %s\n", strerror(errno));
    cf_cli_mark_reported();
    return false;
}

/* ---- list, show ---- */

typedef struct {
    char name[CF_DISK_NAME_MAX + 2];
    char size[24];
    cf_disk_meta meta;
    unsigned shown;
} cf_disk_lister;

static bool cf_disk_list_leaf(void *ctx, const char *path, const char *text)
{
    cf_disk_lister *l = ctx;
    static const char blob[] = "EnumerationResults/Blobs/Blob";
    if (strncmp(path, blob, sizeof blob - 1) != 0)
        return true;
    const char *rest = path + sizeof blob - 1;
    if (strcmp(rest, "/Name") == 0) {
        snprintf(l->name, sizeof l->name, "%s", text);
        cf_disk_meta_init(&l->meta);
    } else if (strcmp(rest, "/Properties/Content-Length") == 0) {
        snprintf(l->size, sizeof l->size, "%s", text);
    } else if (strncmp(rest, "/Metadata/", 10) == 0) {
        cf_disk_meta_add(&l->meta, rest + 10, text);
    } else if (rest[0] == '\0' && cf_disk_meta_check(&l->meta)) {
        if (l->shown++ == 0)
            printf("%-32s %16s %-12s %6s %s\n", "NAME", "SIZE", "FORMAT", "SECTOR", "KEY");
        printf("%-32s %16s %-12s %6u ", l->name, l->size, l->meta.format, l->meta.sector);
        cf_out_str(stdout, l->meta.kek);
        fputc('\n', stdout);
    } else if (rest[0] == '\0') {
        cf_error_clear(); /* a blob that is not a disk */
    }
    return true;
}

bool cf_cmd_disk_list(cf_cli *cli)
{
    const char *container = cf_cli_opt(cli, "container");
    if (!container)
        container = CF_DISK_CONTAINER;
    CF_GUARD(cf_sc_check_container(container));
    cf_sc_client *sc = NULL;
    cf_disk_lister l;
    memset(&l, 0, sizeof l);
    bool ok = cf_sc_client_open(cli, &sc) &&
              cf_sc_list_pages(sc, container, "restype=container&comp=list&include=metadata", NULL,
                               0, cf_disk_list_leaf, &l);
    if (ok && !l.shown)
        printf("no disks in %s\n", container);
    cf_sc_client_close(sc);
    return ok;
}

/* The disk a command acts on: its names, a storage client, and the disk as
 * stored (size, ETag, metadata checked).  Close it in every case. */
typedef struct {
    const char *name, *container;
    cf_sc_client *sc;
    cf_disk_meta meta;
    uint64_t size;
    char etag[128];
} cf_disk_target;

static bool cf_disk_target_open(cf_cli *cli, cf_disk_target *t)
{
    memset(t, 0, sizeof *t);
    return cf_disk_args(cli, &t->name, &t->container) && cf_sc_client_open(cli, &t->sc) &&
           cf_disk_stat(t->sc, t->container, t->name, &t->size, t->etag, sizeof t->etag, &t->meta);
}

static void cf_disk_target_close(cf_disk_target *t)
{
    cf_sc_client_close(t->sc);
    t->sc = NULL;
}

bool cf_cmd_disk_show(cf_cli *cli)
{
    cf_disk_target t;
    bool ok = cf_disk_target_open(cli, &t);
    if (ok) {
        char n[24], s[8];
        snprintf(n, sizeof n, "%llu", (unsigned long long)t.size);
        snprintf(s, sizeof s, "%u", t.meta.sector);
        cf_out_line("disk", t.name);
        cf_out_line("container", t.container);
        cf_out_line("size", n);
        cf_out_line("format", t.meta.format);
        cf_out_line("sector", s);
        cf_out_line("key", t.meta.kek);
        cf_out_line("wrapping", t.meta.alg);
        if (t.meta.secret[0])
            cf_out_line("luks secret", t.meta.secret);
    }
    cf_disk_target_close(&t);
    return ok;
}

/* ---- resize, delete ---- */

bool cf_cmd_disk_resize(cf_cli *cli)
{
    uint64_t size;
    CF_GUARD(cf_disk_size_opt(cli, &size));
    cf_disk_target t;
    bool ok = cf_disk_target_open(cli, &t);
    if (ok && size % t.meta.sector)
        ok = cf_cli_usage("--size must be a whole number of %u-byte sectors", t.meta.sector);
    char len[24];
    snprintf(len, sizeof len, "%llu", (unsigned long long)size);
    cf_sc_req req = {
        .method = "PUT", .container = t.container, .blob = t.name, .query = "comp=properties"};
    ok = ok && cf_sc_req_header(&req, "x-ms-blob-content-length", len) && cf_disk_call(t.sc, &req);
    if (ok)
        printf("disk %s: %llu -> %llu bytes (attach it again to see the new size)\n", t.name,
               (unsigned long long)t.size, (unsigned long long)size);
    cf_disk_target_close(&t);
    return ok;
}

bool cf_cmd_disk_delete(cf_cli *cli)
{
    cf_disk_target t;
    bool ok = cf_disk_target_open(cli, &t);
    cf_sc_req req = {.method = "DELETE", .container = t.container, .blob = t.name};
    ok = ok && cf_disk_call(t.sc, &req);
    /* A luks2 disk's key file goes with it (soft-deleted, as vault secrets are). */
    if (ok && t.meta.secret[0]) {
        cf_vault_key *k = NULL;
        char path[128];
        snprintf(path, sizeof path, "/secrets/%s", t.meta.secret);
        json_t *reply = NULL;
        ok = cf_vault_key_open(cli, t.meta.kek, false, "the vault that holds the disk's key", &k) &&
             cf_cli_call(cf_vault_key_client(k), "DELETE", path, NULL, &reply);
        json_decref(reply);
        cf_vault_key_close(k);
    }
    if (ok)
        printf("deleted disk %s\n", t.name);
    cf_disk_target_close(&t);
    return ok;
}

/* ---- rotate-key, luks-key ---- */

/* The wrapped key of a disk: in its metadata (xts) or its secret (luks2). */
/* The disk's key: unwrapped from its metadata (xts) or its secret (luks2,
 * whose wrapping then replaces meta's). */
static bool cf_disk_key_of(cf_cli *cli, cf_disk_meta *meta, cf_buf *key)
{
    if (!meta->secret[0])
        return cf_disk_unwrap(cli, meta, meta->wrapped, key, NULL);
    cf_vault_key *vk = NULL;
    cf_buf value;
    cf_buf_init(&value, CF_DISK_WRAPPED_MAX + 1);
    bool ok =
        cf_vault_key_open(cli, meta->kek, false, "the vault that holds the disk's key", &vk) &&
        cf_disk_secret_get(vk, meta, &value) &&
        cf_disk_unwrap(cli, meta, (const char *)value.data, key, NULL);
    cf_vault_key_close(vk);
    cf_buf_free(&value);
    return ok;
}

/* Stores the disk's metadata with If-Match on its ETag; an attached disk's
 * writes move the ETag, so a refusal is tried again on a fresh look, as
 * long as the disk still names the key it named (`kek`). */
static bool cf_disk_meta_update(cf_disk_target *t, const cf_disk_meta *meta, const char *kek)
{
    for (int tries = 0;; tries++) {
        char sector[8];
        cf_sc_req req = {
            .method = "PUT", .container = t->container, .blob = t->name, .query = "comp=metadata"};
        cf_sc_resp resp;
        cf_sc_resp_init(&resp);
        req.also_ok = 412;
        bool ok = cf_sc_req_header(&req, "If-Match", t->etag) &&
                  cf_disk_meta_headers(&req, meta, sector) && cf_sc_call(t->sc, &req, &resp);
        long status = resp.status;
        cf_sc_resp_free(&resp);
        if (!ok || status != 412)
            return ok;
        CF_ENSURE(tries < 20, CF_ERR_CONFLICT, "the disk kept changing; try again");
        CF_GUARD(cf_disk_stat(t->sc, t->container, t->name, &t->size, t->etag, sizeof t->etag,
                              &t->meta));
        if (strcmp(t->meta.kek, kek) != 0) {
            fprintf(stderr, "coffer: disk %s was re-keyed meanwhile; nothing changed\n", t->name);
            cf_cli_mark_reported();
            CF_BAIL(CF_ERR_CONFLICT, "the disk was re-keyed meanwhile");
        }
    }
}

bool cf_cmd_disk_rotate(cf_cli *cli)
{
    cf_disk_target t;
    cf_buf key;
    cf_buf_init_secret(&key, CF_DISK_WRAPPED_MAX);
    cf_vault_key *k = NULL;
    char named[CF_DISK_KID_MAX + 1] = "", old[CF_DISK_KID_MAX + 1] = "";
    cf_disk_meta meta;
    bool ok = cf_disk_target_open(cli, &t);
    if (ok) {
        snprintf(named, sizeof named, "%s", t.meta.kek); /* what the blob names */
        meta = t.meta;
        ok = cf_disk_key_of(cli, &meta, &key);
        snprintf(old, sizeof old, "%s", meta.kek); /* what wraps the key now */
    }
    /* The same key's newest version, unless another key is named. */
    char latest[CF_DISK_KID_MAX + 1];
    const char *des = cf_cli_opt(cli, "des");
    if (ok && !des) {
        snprintf(latest, sizeof latest, "%s", old);
        char *keys = strstr(latest, "/keys/"), *v = strrchr(latest, '/');
        if (keys && v > keys + 6)
            *v = '\0';
        des = latest;
    }
    ok = ok && cf_disk_wrap(cli, des, cf_buf_slice(&key), &meta, &k);
    /* luks2: the secret carries its own wrapping, so this one write is the
     * rotation; the blob's copy of the key id follows. */
    if (ok && meta.secret[0])
        ok = cf_disk_secret_put(k, &meta);
    ok = ok && cf_disk_meta_update(&t, &meta, named);
    if (ok)
        printf("disk %s: its key re-wrapped from %s to %s\n", t.name, old, meta.kek);
    cf_buf_free(&key);
    cf_vault_key_close(k);
    cf_disk_target_close(&t);
    return ok;
}

bool cf_cmd_disk_luks_key(cf_cli *cli)
{
    const char *out = cf_cli_opt(cli, "out");
    cf_disk_target t;
    cf_buf key;
    cf_buf_init_secret(&key, CF_DISK_WRAPPED_MAX);
    bool ok = cf_disk_target_open(cli, &t);
    if (ok && !t.meta.secret[0])
        ok = cf_cli_usage("disk %s is %s, not luks2: its key never leaves the host's plugin",
                          t.name, t.meta.format);
    ok = ok && cf_disk_key_of(cli, &t.meta, &key);
    if (ok && out) {
        int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ok = fd >= 0 && write(fd, key.data, key.len) == (ssize_t)key.len;
        ok = (fd >= 0 && close(fd) == 0) && ok;
        if (!ok) {
            fprintf(stderr, "coffer: cannot write the key file %s (it must not exist)\n", out);
            cf_cli_mark_reported();
            CF_RAISE(CF_ERR_IO, "cannot write the key file");
        }
    } else if (ok) {
        ok = fwrite(key.data, 1, key.len, stdout) == key.len && fflush(stdout) == 0;
    }
    cf_buf_free(&key);
    cf_disk_target_close(&t);
    return ok;
}
