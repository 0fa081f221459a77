/*
 * coffer blob ...: block blobs in an Azure-compatible Blob service.
 *
 *   blob upload FILE --container C [--name NAME] [--content-type T]
 *                    [--metadata k=v,...] [--overwrite]
 *   blob download --container C --name NAME [--file OUT|-]
 *   blob list --container C [--prefix P] [--page-size N]
 *   blob show --container C --name NAME
 *   blob delete --container C --name NAME
 *
 * Memory stays bounded whatever the blob's size.  A file up to 64 MiB goes
 * up as one Put Blob whose body libcurl reads from the file; a larger one as
 * 8 MiB Put Blocks out of one fixed buffer, then a Put Block List.  Each
 * request carries x-ms-content-crc64 over its body, so the service refuses
 * a body that changed on the way (a single Put Blob reads the file twice:
 * once for the CRC, once to send it; a file changed in between is refused
 * by the service).  Without --overwrite the write is conditional
 * (If-None-Match: *), and a block upload first asks whether the blob exists
 * so that it does not send gigabytes only to be refused at the commit.
 *
 * Downloads stream into OUT.part, which is renamed to OUT once the whole
 * body arrived and its length matched Content-Length; on any failure the
 * .part file is removed.  The body's Content-MD5 is not checked: TLS
 * authenticates every byte on the way and the service's at-rest AEAD
 * refuses altered data before it is sent, and block-list blobs carry no
 * whole-blob MD5 to check anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "blob_kek.h"
#include "crc64.h"
#include "crypto.h"
#include "cse.h"
#include "encoding.h"
#include "secmem.h"
#include "storage_client.h"

#define CF_SINGLE_PUT_MAX (64ull * 1024 * 1024)
#define CF_BLOCK_SIZE (8u * 1024 * 1024)
#define CF_MAX_BLOCKS 50000u
#define CF_METADATA_MAX 16
#define CF_CRC_CHUNK (1u * 1024 * 1024)

/* ---- shared option handling ---- */

static bool cf_need(const cf_cli *cli, const char *opt, const char **out)
{
    *out = cf_cli_opt(cli, opt);
    if (!*out || !**out)
        return cf_cli_usage("missing --%s", opt);
    return true;
}

static bool cf_container_opt(const cf_cli *cli, const char **out)
{
    CF_GUARD(cf_need(cli, "container", out));
    return cf_sc_check_container(*out);
}

static bool cf_name_opt(const cf_cli *cli, const char **out)
{
    CF_GUARD(cf_need(cli, "name", out));
    return cf_sc_check_blob_name(*out);
}

static const char *cf_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* --metadata k=v,k2=v2: names are C identifiers (Azure's rule), values
 * printable ASCII without ','. */
typedef struct {
    char names[CF_METADATA_MAX][128];
    char values[CF_METADATA_MAX][512];
    size_t n;
} cf_metadata;

static bool cf_metadata_opt(const cf_cli *cli, cf_metadata *md)
{
    md->n = 0;
    const char *s = cf_cli_opt(cli, "metadata");
    if (!s)
        return true;
    while (*s) {
        const char *end = strchr(s, ',');
        size_t seg = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', seg);
        if (!eq || eq == s)
            return cf_cli_usage("--metadata: expected k=v[,k=v...]");
        if (md->n == CF_METADATA_MAX)
            return cf_cli_usage("--metadata: at most %d pairs", CF_METADATA_MAX);
        size_t kn = (size_t)(eq - s), vn = seg - kn - 1;
        if (kn + 11 > sizeof md->names[0] || vn >= sizeof md->values[0])
            return cf_cli_usage("--metadata: name or value too long");
        for (size_t i = 0; i < kn; i++) {
            char ch = s[i];
            bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
                      (i > 0 && ch >= '0' && ch <= '9');
            if (!ok)
                return cf_cli_usage("--metadata: names are letters, digits and '_'");
        }
        for (size_t i = 0; i < vn; i++)
            if (eq[1 + i] < 0x20 || eq[1 + i] > 0x7e)
                return cf_cli_usage("--metadata: values are printable ASCII");
        snprintf(md->names[md->n], sizeof md->names[0], "x-ms-meta-%.*s", (int)kn, s);
        snprintf(md->values[md->n], sizeof md->values[0], "%.*s", (int)vn, eq + 1);
        md->n++;
        if (!end)
            break;
        s = end + 1;
    }
    return true;
}

static bool cf_add_metadata(cf_sc_req *req, const cf_metadata *md)
{
    for (size_t i = 0; i < md->n; i++)
        CF_GUARD(cf_sc_req_header(req, md->names[i], md->values[i]));
    return true;
}

static bool cf_content_type_opt(const cf_cli *cli, const char **out)
{
    *out = cf_cli_opt(cli, "content-type");
    if (!*out)
        *out = "application/octet-stream";
    size_t n = strlen(*out);
    if (n == 0 || n > 256)
        return cf_cli_usage("--content-type: 1-256 characters");
    for (size_t i = 0; i < n; i++)
        if ((*out)[i] < 0x20 || (*out)[i] > 0x7e)
            return cf_cli_usage("--content-type: printable ASCII only");
    return true;
}

/* ---- upload ---- */

typedef struct {
    FILE *f;
    uint64_t size; /* what the request announced */
    uint64_t sent;
} cf_file_source;

/* libcurl pulls the Put Blob body from here; a file that ends early aborts
 * the request rather than sending a short body under a full length. */
static size_t cf_file_read(char *buf, size_t size, size_t n, void *ctx)
{
    cf_file_source *s = ctx;
    uint64_t left = s->size - s->sent;
    size_t want = size * n;
    if (want > left)
        want = (size_t)left;
    if (want == 0)
        return 0;
    size_t got = fread(buf, 1, want, s->f);
    if (got == 0) {
        CF_RAISE(CF_ERR_IO, "the file got shorter while it was being uploaded");
        return CURL_READFUNC_ABORT;
    }
    s->sent += got;
    return got;
}

/* Reads exactly `len` bytes; a short read is a file that changed. */
static bool cf_read_exact(FILE *f, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        size_t n = fread(buf + got, 1, len - got, f);
        if (n == 0) {
            CF_ENSURE(!ferror(f), CF_ERR_IO, "cannot read the file");
            CF_BAIL(CF_ERR_IO, "the file got shorter while it was being uploaded");
        }
        got += n;
    }
    return true;
}

static bool cf_check_eof(FILE *f)
{
    CF_ENSURE(fgetc(f) == EOF, CF_ERR_IO, "the file grew while it was being uploaded");
    return true;
}

/* CRC-64 of the whole file, read once in 1 MiB pieces. */
static bool cf_file_crc64(FILE *f, uint64_t size, char crc_b64[CF_CRC64_BASE64_SIZE])
{
    uint8_t *chunk = malloc(CF_CRC_CHUNK);
    CF_ENSURE_ALLOC(chunk);
    uint64_t st = cf_crc64_init(), done = 0;
    bool ok = true;
    while (ok && done < size) {
        size_t n = size - done < CF_CRC_CHUNK ? (size_t)(size - done) : CF_CRC_CHUNK;
        ok = cf_read_exact(f, chunk, n);
        if (ok)
            st = cf_crc64_update(st, cf_slice_of(chunk, n));
        done += n;
    }
    free(chunk);
    CF_GUARD(ok && cf_check_eof(f));
    cf_crc64_base64(cf_crc64_final(st), crc_b64);
    CF_ENSURE(fseeko(f, 0, SEEK_SET) == 0, CF_ERR_IO, "cannot rewind the file");
    return true;
}

typedef struct {
    cf_sc_client *client;
    const char *container, *name, *content_type;
    const cf_metadata *md;
    const char *encryptiondata; /* --encrypt-with: the metadata's JSON, else NULL */
    bool overwrite;
    cf_progress *progress;
    cf_sc_resp *resp; /* the final request's response */
    unsigned blocks;  /* 0 for a single Put Blob */
} cf_upload;

static bool cf_add_upload_metadata(cf_sc_req *req, const cf_upload *u)
{
    CF_GUARD(cf_add_metadata(req, u->md));
    if (u->encryptiondata)
        CF_GUARD(cf_sc_req_header(req, "x-ms-meta-" CF_CSE_METADATA_NAME, u->encryptiondata));
    return true;
}

/* An upload's body a block at a time: the file as it is, or (with
 * --encrypt-with) its sealed regions.  A block holds CF_BLOCK_SIZE bytes of
 * the file, two whole regions of 4 MiB, so an encrypted block is at most
 * CF_ENC_BLOCK_MAX bytes. */
#define CF_ENC_BLOCK_MAX (CF_BLOCK_SIZE + 2 * CF_CSE_REGION_OVERHEAD)
/* The file is read and encrypted in pieces small enough to stay in the
 * cache between read(2) and the cipher (one 8 MiB buffer cost a third
 * more client CPU per MiB in bench/cse_run). */
#define CF_PLAIN_PIECE (128 * 1024)
typedef struct {
    FILE *f;
    uint64_t left;         /* file bytes still to read */
    cf_cse_encryptor *enc; /* NULL: the body is the file */
    uint8_t *plain;        /* encrypted: CF_PLAIN_PIECE bytes the file is read through */
    uint8_t *out;          /* encrypted: the block being sealed into */
    size_t out_len;
    uint64_t crc; /* CRC-64 state of the block so far, taken while its bytes are hot */
} cf_body;

static bool cf_body_sink(void *ctx, cf_slice sealed)
{
    cf_body *b = ctx;
    CF_ENSURE(sealed.len <= CF_ENC_BLOCK_MAX - b->out_len, CF_ERR_INTERNAL, "block overflow");
    memcpy(b->out + b->out_len, sealed.ptr, sealed.len);
    b->out_len += sealed.len;
    b->crc = cf_crc64_update(b->crc, sealed);
    return true;
}

/* The next block of the body into `block` (CF_ENC_BLOCK_MAX bytes), and
 * its CRC-64 for x-ms-content-crc64. */
static bool cf_body_next(cf_body *b, uint8_t *block, size_t *len,
                         char crc_b64[CF_CRC64_BASE64_SIZE])
{
    size_t n = b->left < CF_BLOCK_SIZE ? (size_t)b->left : CF_BLOCK_SIZE;
    b->crc = cf_crc64_init();
    b->out = block;
    b->out_len = 0;
    for (size_t done = 0, piece; done < n; done += piece) {
        piece = n - done < CF_PLAIN_PIECE ? n - done : CF_PLAIN_PIECE;
        if (!b->enc) {
            CF_GUARD(cf_read_exact(b->f, block + done, piece));
            b->crc = cf_crc64_update(b->crc, cf_slice_of(block + done, piece));
            b->out_len += piece;
            continue;
        }
        CF_GUARD(cf_read_exact(b->f, b->plain, piece));
        CF_GUARD(cf_cse_encrypt_update(b->enc, cf_slice_of(b->plain, piece)));
    }
    b->left -= n;
    if (b->enc && b->left == 0)
        CF_GUARD(cf_cse_encrypt_finish(b->enc, NULL, NULL));
    *len = b->out_len;
    cf_crc64_base64(cf_crc64_final(b->crc), crc_b64);
    return true;
}

static bool cf_put_single(cf_upload *u, FILE *f, uint64_t size)
{
    char crc[CF_CRC64_BASE64_SIZE];
    CF_GUARD(cf_file_crc64(f, size, crc));
    cf_file_source src = {.f = f, .size = size};
    cf_sc_req req = {.method = "PUT",
                     .container = u->container,
                     .blob = u->name,
                     .source = cf_file_read,
                     .source_ctx = &src,
                     .body_len = size,
                     .progress = u->progress};
    CF_GUARD(cf_sc_req_header(&req, "x-ms-blob-type", "BlockBlob"));
    CF_GUARD(cf_sc_req_header(&req, "Content-Type", u->content_type));
    CF_GUARD(cf_sc_req_header(&req, "x-ms-content-crc64", crc));
    if (!u->overwrite)
        CF_GUARD(cf_sc_req_header(&req, "If-None-Match", "*"));
    CF_GUARD(cf_add_upload_metadata(&req, u));
    CF_GUARD(cf_sc_call(u->client, &req, u->resp));
    CF_ENSURE(src.sent == size, CF_ERR_IO, "the file got shorter while it was being uploaded");
    return true;
}

/* An encrypted file of one block or less: sealed in memory, one Put Blob. */
static bool cf_put_sealed_single(cf_upload *u, cf_body *body)
{
    uint8_t *block = malloc(CF_ENC_BLOCK_MAX);
    CF_ENSURE_ALLOC(block);
    size_t len = 0;
    char crc[CF_CRC64_BASE64_SIZE];
    bool ok = cf_body_next(body, block, &len, crc) && cf_check_eof(body->f);
    cf_sc_req req = {.method = "PUT",
                     .container = u->container,
                     .blob = u->name,
                     .has_body = true,
                     .body = cf_slice_of(block, len),
                     .progress = u->progress};
    ok = ok && cf_sc_req_header(&req, "x-ms-blob-type", "BlockBlob") &&
         cf_sc_req_header(&req, "Content-Type", u->content_type) &&
         cf_sc_req_header(&req, "x-ms-content-crc64", crc) &&
         (u->overwrite || cf_sc_req_header(&req, "If-None-Match", "*")) &&
         cf_add_upload_metadata(&req, u) && cf_sc_call(u->client, &req, u->resp);
    free(block);
    return ok;
}

/* Block ids: 12 random hex digits (so two uploads to one name do not
 * share blocks) + a 6-digit index = 18 bytes, 24 base64 characters, all of
 * one length as the service requires. */
static bool cf_block_id(const char *nonce, unsigned index, cf_buf *id)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%s%06u", nonce, index);
    cf_buf_clear(id);
    return cf_base64_encode(cf_slice_of(raw, 18), id) && cf_buf_terminate(id);
}

static bool cf_put_block(cf_upload *u, const cf_buf *id, cf_slice data, const char *crc,
                         uint64_t offset)
{
    cf_buf query;
    cf_buf_init(&query, 256);
    bool ok = cf_buf_append_str(&query, "comp=block&blockid=") &&
              cf_percent_encode(&query, (const char *)id->data, false) && cf_buf_terminate(&query);
    cf_sc_req req = {.method = "PUT",
                     .container = u->container,
                     .blob = u->name,
                     .query = (const char *)query.data,
                     .has_body = true,
                     .body = data,
                     .progress = u->progress,
                     .progress_base = offset};
    ok = ok && cf_sc_req_header(&req, "x-ms-content-crc64", crc) &&
         cf_sc_call(u->client, &req, u->resp);
    cf_buf_free(&query);
    return ok;
}

static bool cf_put_block_list(cf_upload *u, const cf_buf *xml)
{
    char crc[CF_CRC64_BASE64_SIZE];
    cf_crc64_base64(cf_crc64(cf_buf_slice(xml)), crc);
    cf_sc_req req = {.method = "PUT",
                     .container = u->container,
                     .blob = u->name,
                     .query = "comp=blocklist",
                     .has_body = true,
                     .body = cf_buf_slice(xml)};
    CF_GUARD(cf_sc_req_header(&req, "Content-Type", "application/xml"));
    CF_GUARD(cf_sc_req_header(&req, "x-ms-blob-content-type", u->content_type));
    CF_GUARD(cf_sc_req_header(&req, "x-ms-content-crc64", crc));
    if (!u->overwrite)
        CF_GUARD(cf_sc_req_header(&req, "If-None-Match", "*"));
    CF_GUARD(cf_add_upload_metadata(&req, u));
    return cf_sc_call(u->client, &req, u->resp);
}

/* Refuses early when the blob exists and --overwrite was not given. */
static bool cf_check_absent(cf_upload *u)
{
    cf_sc_req req = {.method = "HEAD", .container = u->container, .blob = u->name, .also_ok = 404};
    CF_GUARD(cf_sc_call(u->client, &req, u->resp));
    if (u->resp->status == 404)
        return true;
    fputs("coffer: BlobAlreadyExists: The specified blob already exists (use --overwrite).\n",
          stderr);
    cf_cli_mark_reported();
    CF_BAIL(CF_ERR_CONFLICT, "BlobAlreadyExists");
}

/* The next block is read (and encrypted) on a helper thread while this one
 * sends the last, so reading the file and sealing it overlap the network. */
typedef struct {
    cf_body *body;
    uint8_t *block; /* CF_ENC_BLOCK_MAX bytes */
    size_t len;
    char crc[CF_CRC64_BASE64_SIZE];
    bool ok, running;
    struct cf_error_record *error; /* the helper's error, handed over */
    pthread_t thread;
} cf_block_fill;

static void *cf_block_fill_main(void *arg)
{
    cf_block_fill *f = arg;
    f->ok = cf_body_next(f->body, f->block, &f->len, f->crc);
    f->error = f->ok ? NULL : cf_error_save();
    return NULL;
}

static bool cf_block_fill_start(cf_block_fill *f)
{
    f->running = pthread_create(&f->thread, NULL, cf_block_fill_main, f) == 0;
    CF_ENSURE(f->running, CF_ERR_INTERNAL, "cannot start a thread to read the file");
    return true;
}

static bool cf_block_fill_wait(cf_block_fill *f)
{
    if (!f->running)
        return true;
    pthread_join(f->thread, NULL);
    f->running = false;
    if (!f->ok)
        cf_error_restore(f->error);
    return f->ok;
}

static bool cf_put_blocks(cf_upload *u, cf_body *body, uint64_t size)
{
    uint64_t n_blocks = (size + CF_BLOCK_SIZE - 1) / CF_BLOCK_SIZE;
    CF_ENSURE(n_blocks <= CF_MAX_BLOCKS, CF_ERR_TOO_LARGE,
              "the file is too large for 50000 blocks of 8 MiB");
    if (!u->overwrite)
        CF_GUARD(cf_check_absent(u));
    uint8_t rnd[6];
    CF_GUARD(cf_random_bytes(rnd, sizeof rnd));
    char nonce[13];
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);

    cf_block_fill fill[2] = {{.body = body, .block = malloc(CF_ENC_BLOCK_MAX)},
                             {.body = body, .block = malloc(CF_ENC_BLOCK_MAX)}};
    cf_buf id, xml;
    cf_buf_init(&id, 64);
    cf_buf_init(&xml, (size_t)n_blocks * 48 + 256);
    bool ok = fill[0].block && fill[1].block;
    if (!ok)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    ok = ok && cf_buf_append_str(&xml, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>") &&
         cf_block_fill_start(&fill[0]);
    uint64_t offset = 0;
    for (unsigned i = 0; ok && i < n_blocks; i++) {
        cf_block_fill *f = &fill[i % 2];
        ok = cf_block_fill_wait(f) &&
             (i + 1 == n_blocks || cf_block_fill_start(&fill[(i + 1) % 2])) &&
             cf_block_id(nonce, i, &id) &&
             cf_put_block(u, &id, cf_slice_of(f->block, f->len), f->crc, offset) &&
             cf_buf_append_str(&xml, "<Latest>") &&
             cf_buf_append_str(&xml, (const char *)id.data) && cf_buf_append_str(&xml, "</Latest>");
        offset += f->len;
    }
    for (int i = 0; i < 2; i++) {
        struct cf_error_record *kept = ok ? NULL : cf_error_save();
        (void)cf_block_fill_wait(&fill[i]); /* a failed send leaves a helper running */
        if (!ok)
            cf_error_restore(kept);
        if (fill[i].block)
            cf_memzero(fill[i].block, CF_ENC_BLOCK_MAX);
        free(fill[i].block);
    }
    ok = ok && cf_check_eof(body->f) && cf_buf_append_str(&xml, "</BlockList>") &&
         cf_put_block_list(u, &xml);
    u->blocks = (unsigned)n_blocks;
    cf_buf_free(&id);
    cf_buf_free(&xml);
    return ok;
}

static bool cf_upload_output(const cf_cli *cli, const cf_upload *u, uint64_t size, double secs)
{
    const char *etag = cf_sc_resp_header(u->resp, "etag");
    char when[64];
    cf_sc_time_iso(cf_sc_resp_header(u->resp, "last-modified"), when, sizeof when);
    if (cli->json) {
        json_t *o = json_object();
        CF_ENSURE_ALLOC(o);
        bool ok = cf_sc_json_set(o, "container", json_string(u->container)) &&
                  cf_sc_json_set(o, "name", json_string(u->name)) &&
                  cf_sc_json_set(o, "size", json_integer((json_int_t)size)) &&
                  cf_sc_json_set(o, "etag", etag ? json_string(etag) : NULL) &&
                  cf_sc_json_set(o, "last_modified", json_string(when)) &&
                  cf_sc_json_set(o, "content_type", json_string(u->content_type)) &&
                  cf_sc_json_set(o, "blocks", json_integer(u->blocks)) &&
                  cf_sc_json_set(o, "client_side_encrypted", json_boolean(u->encryptiondata)) &&
                  cf_sc_json_set(o, "seconds", json_real(secs));
        if (ok)
            cf_out_json(o);
        json_decref(o);
        return ok;
    }
    char sz[32], rate[32];
    cf_progress_size(size, sz, sizeof sz);
    cf_progress_rate(size, secs, rate, sizeof rate);
    printf("uploaded %s/", u->container);
    cf_out_str(stdout, u->name);
    printf(" (%llu bytes, %s", (unsigned long long)size, sz);
    if (u->blocks)
        printf(", %u blocks", u->blocks);
    if (u->encryptiondata)
        printf(", client-side encrypted");
    printf(") in %.1f s, %s, etag ", secs, rate);
    cf_out_str(stdout, etag ? etag : "-");
    fputc('\n', stdout);
    return true;
}

/* --encrypt-with: a fresh content key wrapped by the KEK, the metadata
 * that records it, and the encryptor the body is read through. */
typedef struct {
    cf_blob_kek *kek;
    cf_cse_key *key;
    cf_buf json; /* encryptiondata, NUL-terminated */
    uint64_t body_len;
} cf_upload_cse;

static bool cf_upload_cse_start(cf_cli *cli, const char *spec, cf_body *body, cf_upload_cse *c)
{
    cf_buf_init(&c->json, CF_CSE_META_MAX);
    cf_cse_meta meta;
    CF_GUARD(cf_blob_kek_open(cli, spec, &c->kek));
    CF_GUARD(cf_cse_key_generate(&c->key));
    CF_GUARD(cf_cse_meta_init(&meta, CF_CSE_REGION_DEFAULT));
    CF_GUARD(cf_blob_kek_wrap(c->kek, c->key, &meta));
    CF_GUARD(cf_cse_meta_build(&meta, &c->json) && cf_buf_terminate(&c->json));
    CF_GUARD(cf_cse_body_length(CF_CSE_REGION_DEFAULT, body->left, &c->body_len));
    body->plain = malloc(CF_PLAIN_PIECE);
    CF_ENSURE_ALLOC(body->plain);
    return cf_cse_encryptor_new(c->key, CF_CSE_REGION_DEFAULT,
                                (cf_cse_sink){.write = cf_body_sink, .ctx = body}, &body->enc);
}

static void cf_upload_cse_end(cf_upload_cse *c, cf_body *body)
{
    cf_cse_encryptor_free(body->enc);
    if (body->plain) {
        cf_memzero(body->plain, CF_PLAIN_PIECE);
        free(body->plain);
    }
    cf_cse_key_free(c->key);
    cf_blob_kek_close(c->kek);
    cf_buf_free(&c->json);
}

bool cf_cmd_blob_upload(cf_cli *cli)
{
    const char *path = cli->args->pos[0];
    const char *container, *name = cf_cli_opt(cli, "name"), *content_type;
    cf_metadata md;
    CF_GUARD(cf_container_opt(cli, &container));
    if (!name)
        name = cf_basename(path);
    CF_GUARD(cf_sc_check_blob_name(name));
    CF_GUARD(cf_content_type_opt(cli, &content_type));
    CF_GUARD(cf_metadata_opt(cli, &md));
    const char *kek_spec = cf_cli_opt(cli, "encrypt-with");
    for (size_t i = 0; kek_spec && i < md.n; i++)
        if (strcasecmp(md.names[i], "x-ms-meta-" CF_CSE_METADATA_NAME) == 0)
            return cf_cli_usage("--metadata: " CF_CSE_METADATA_NAME
                                " is written by --encrypt-with");

    FILE *f = fopen(path, "rb");
    CF_ENSUREF(f, CF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        CF_BAIL(CF_ERR_IO, "the file to upload must be a regular file");
    }
    uint64_t size = (uint64_t)st.st_size;
    cf_body body = {.f = f, .left = size};
    cf_upload_cse cse = {0};
    if (kek_spec && !cf_upload_cse_start(cli, kek_spec, &body, &cse)) {
        fclose(f);
        cf_upload_cse_end(&cse, &body);
        return false;
    }

    cf_sc_client *client = NULL;
    cf_sc_resp resp;
    cf_sc_resp_init(&resp);
    cf_progress progress;
    cf_upload u = {.container = container,
                   .name = name,
                   .content_type = content_type,
                   .md = &md,
                   .encryptiondata = kek_spec ? (const char *)cse.json.data : NULL,
                   .overwrite = cf_cli_flag(cli, "overwrite"),
                   .progress = &progress,
                   .resp = &resp};
    bool ok = cf_sc_client_open(cli, &client);
    u.client = client;
    if (ok) {
        cf_progress_start(&progress, "upload", kek_spec ? cse.body_len : size, !cli->json);
        if (kek_spec)
            ok = size <= CF_BLOCK_SIZE ? cf_put_sealed_single(&u, &body)
                                       : cf_put_blocks(&u, &body, size);
        else
            ok = size <= CF_SINGLE_PUT_MAX ? cf_put_single(&u, f, size)
                                           : cf_put_blocks(&u, &body, size);
        cf_progress_end(&progress);
    }
    fclose(f);
    ok = ok && cf_upload_output(cli, &u, size, cf_progress_elapsed(&progress));
    cf_upload_cse_end(&cse, &body);
    cf_sc_resp_free(&resp);
    cf_sc_client_close(client);
    return ok;
}

/* ---- download ---- */

typedef struct {
    int fd;
    uint64_t written;
} cf_file_sink;

/* At most this much per write(2): one 4 MiB write of a decrypted region
 * cost up to twice the CPU of the same bytes in 128 KiB writes here
 * (bench/cse_run), the kernel copying a buffer that no longer sits in the
 * cache into page-cache folios. */
#define CF_WRITE_PIECE (128 * 1024)

static bool cf_write_all(void *ctx, const uint8_t *data, size_t len)
{
    cf_file_sink *s = ctx;
    while (len) {
        ssize_t n = write(s->fd, data, len < CF_WRITE_PIECE ? len : CF_WRITE_PIECE);
        if (n < 0 && errno == EINTR)
            continue;
        CF_ENSUREF(n > 0, CF_ERR_IO, "cannot write the download: %s", strerror(errno));
        data += n;
        len -= (size_t)n;
        s->written += (uint64_t)n;
    }
    return true;
}

/* A response's Content-Length. */
static bool cf_content_length(const cf_sc_resp *resp, uint64_t *out)
{
    const char *cl = cf_sc_resp_header(resp, "content-length");
    char *end = NULL;
    errno = 0;
    unsigned long long v = cl ? strtoull(cl, &end, 10) : 0;
    CF_ENSURE(cl && *cl && end && *end == 0 && errno == 0, CF_ERR_IO,
              "the service sent no valid Content-Length");
    *out = v;
    return true;
}

/* The body length must match what the service announced. */
static bool cf_check_length(const cf_sc_resp *resp, uint64_t written, uint64_t *size)
{
    uint64_t want;
    CF_GUARD(cf_content_length(resp, &want));
    CF_ENSUREF(want == written, CF_ERR_IO, "the download is incomplete: %llu of %llu bytes arrived",
               (unsigned long long)written, (unsigned long long)want);
    *size = want;
    return true;
}

static bool cf_download_output(const cf_cli *cli, const char *container, const char *name,
                               const char *out, const cf_sc_resp *resp, uint64_t size, double secs)
{
    if (cli->json) {
        json_t *o = json_object();
        CF_ENSURE_ALLOC(o);
        const char *etag = cf_sc_resp_header(resp, "etag");
        bool ok = cf_sc_json_set(o, "container", json_string(container)) &&
                  cf_sc_json_set(o, "name", json_string(name)) &&
                  cf_sc_json_set(o, "file", json_string(out)) &&
                  cf_sc_json_set(o, "size", json_integer((json_int_t)size)) &&
                  cf_sc_json_set(o, "etag", etag ? json_string(etag) : NULL) &&
                  cf_sc_json_set(o, "seconds", json_real(secs));
        if (ok)
            cf_out_json(o);
        json_decref(o);
        return ok;
    }
    char sz[32], rate[32];
    cf_progress_size(size, sz, sizeof sz);
    cf_progress_rate(size, secs, rate, sizeof rate);
    /* With the data on stdout, the summary goes to stderr. */
    FILE *where = strcmp(out, "-") == 0 ? stderr : stdout;
    fprintf(where, "downloaded %s/", container);
    cf_out_str(where, name);
    fputs(" to ", where);
    cf_out_str(where, strcmp(out, "-") == 0 ? "stdout" : out);
    fprintf(where, " (%llu bytes, %s) in %.1f s, %s\n", (unsigned long long)size, sz, secs, rate);
    return true;
}

/* --range START-END (bytes, inclusive, as HTTP's Range header) or START-. */
static bool cf_range_opt(const cf_cli *cli, uint64_t *offset, uint64_t *length)
{
    *offset = 0;
    *length = UINT64_MAX;
    const char *r = cf_cli_opt(cli, "range");
    if (!r)
        return true;
    char *end = NULL;
    errno = 0;
    unsigned long long first = r[0] >= '0' && r[0] <= '9' ? strtoull(r, &end, 10) : 0;
    if (!end || errno || *end != '-')
        return cf_cli_usage("--range: expected START-END or START- (bytes, inclusive)");
    *offset = first;
    const char *rest = end + 1;
    if (!*rest)
        return true;
    unsigned long long last = rest[0] >= '0' && rest[0] <= '9' ? strtoull(rest, &end, 10) : 0;
    if (errno || *end || end == rest || last < first)
        return cf_cli_usage("--range: expected START-END or START- with END >= START");
    *length = last - first + 1;
    return true;
}

/* One download: where it comes from and where it goes. */
typedef struct {
    cf_sc_client *client;
    const char *container, *name;
    const char *etag; /* from the HEAD: the GET must read that very blob */
    cf_file_sink *file;
    cf_progress *progress;
    cf_sc_resp *resp;
} cf_download;

/* GETs body bytes [offset, offset + length) (everything for 0, UINT64_MAX)
 * into `sink`. */
static bool cf_get_body(cf_download *d, uint64_t offset, uint64_t length, cf_sc_sink sink,
                        void *ctx)
{
    cf_sc_req req = {.method = "GET",
                     .container = d->container,
                     .blob = d->name,
                     .sink = sink,
                     .sink_ctx = ctx,
                     .progress = d->progress};
    char range[64];
    if (offset || length != UINT64_MAX) {
        if (length == UINT64_MAX)
            snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)offset);
        else
            snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)offset,
                     (unsigned long long)(offset + length - 1));
        CF_GUARD(cf_sc_req_header(&req, "x-ms-range", range));
    }
    if (d->etag)
        CF_GUARD(cf_sc_req_header(&req, "If-Match", d->etag));
    return cf_sc_call(d->client, &req, d->resp);
}

static bool cf_plain_to_file(void *ctx, cf_slice plain)
{
    return cf_write_all(ctx, plain.ptr, plain.len);
}

static bool cf_body_to_decryptor(void *ctx, const uint8_t *data, size_t len)
{
    return cf_cse_decrypt_update(ctx, cf_slice_of(data, len));
}

/* A client-side encrypted blob (its encryptiondata in `json`): the content
 * key unwrapped with --decrypt-with or the vault key the metadata names,
 * then only the regions the range touches fetched and decrypted. */
static bool cf_download_sealed(cf_cli *cli, cf_download *d, const char *json, uint64_t body_len,
                               uint64_t offset, uint64_t length)
{
    cf_cse_meta meta;
    CF_GUARD(cf_cse_meta_parse(CF_SLICE_STR(json), &meta));
    if (meta.protocol == CF_CSE_V1_0)
        fputs("coffer: warning: " CF_CSE_V1_WARNING "\n", stderr);
    const char *spec = cf_cli_opt(cli, "decrypt-with");
    cf_blob_kek *kek = NULL;
    cf_cse_key *key = NULL;
    cf_cse_decryptor *dec = NULL;
    cf_cse_range r;
    bool ok = (spec ? cf_blob_kek_open(cli, spec, &kek) : cf_blob_kek_for(cli, &meta, &kek)) &&
              cf_blob_kek_unwrap(kek, &meta, &key) &&
              cf_cse_range_map(&meta, body_len, offset, length, &r) &&
              cf_cse_decryptor_new(key, &meta, &r,
                                   (cf_cse_sink){.write = cf_plain_to_file, .ctx = d->file}, &dec);
    cf_cse_key_free(key);
    cf_blob_kek_close(kek);
    if (ok && r.fetch_length) {
        bool whole = r.fetch_offset == 0 && r.fetch_length == body_len;
        ok = cf_get_body(d, whole ? 0 : r.fetch_offset, whole ? UINT64_MAX : r.fetch_length,
                         cf_body_to_decryptor, dec);
    }
    ok = ok && cf_cse_decrypt_finish(dec);
    cf_cse_decryptor_free(dec);
    return ok;
}

bool cf_cmd_blob_download(cf_cli *cli)
{
    const char *container, *name;
    uint64_t offset, length;
    CF_GUARD(cf_container_opt(cli, &container));
    CF_GUARD(cf_name_opt(cli, &name));
    CF_GUARD(cf_range_opt(cli, &offset, &length));
    const char *out = cf_cli_opt(cli, "file");
    if (!out)
        out = cf_basename(name);
    if (!*out)
        return cf_cli_usage("the blob name ends with '/': give --file OUT");
    bool to_stdout = strcmp(out, "-") == 0;
    if (to_stdout && cli->json)
        return cf_cli_usage("--output json prints to stdout: give --file OUT");

    char part[PATH_MAX];
    int n = snprintf(part, sizeof part, "%s.part", out);
    if (n < 0 || (size_t)n >= sizeof part)
        return cf_cli_usage("--file: the name is too long");

    cf_sc_client *client = NULL;
    CF_GUARD(cf_sc_client_open(cli, &client));
    cf_file_sink sink = {.fd = STDOUT_FILENO};
    if (!to_stdout) {
        sink.fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (sink.fd < 0) {
            cf_sc_client_close(client);
            CF_BAIL(CF_ERR_IO, "cannot create the output file");
        }
    }
    cf_sc_resp head, resp;
    cf_sc_resp_init(&head);
    cf_sc_resp_init(&resp);
    cf_progress progress;
    cf_download d = {.client = client,
                     .container = container,
                     .name = name,
                     .file = &sink,
                     .progress = &progress,
                     .resp = &resp};
    /* The HEAD says whether the blob is client-side encrypted, and pins
     * its version (If-Match) for the GET. */
    cf_sc_req hreq = {.method = "HEAD", .container = container, .blob = name};
    uint64_t body_len = 0, size = 0;
    bool ok = cf_sc_call(client, &hreq, &head) && cf_content_length(&head, &body_len);
    const char *sealed = ok ? cf_sc_resp_header(&head, "x-ms-meta-" CF_CSE_METADATA_NAME) : NULL;
    d.etag = cf_sc_resp_header(&head, "etag");
    if (ok && !sealed && cf_cli_opt(cli, "decrypt-with")) {
        CF_RAISE(CF_ERR_BAD_INPUT, "--decrypt-with: the blob is not client-side encrypted");
        ok = false;
    }
    cf_progress_start(&progress, "download", 0, !cli->json);
    if (ok && sealed) {
        ok = cf_download_sealed(cli, &d, sealed, body_len, offset, length);
        size = sink.written;
    } else if (ok) {
        ok = cf_get_body(&d, offset, length, cf_write_all, &sink) &&
             cf_check_length(&resp, sink.written, &size);
    }
    cf_progress_end(&progress);
    if (!to_stdout) {
        if (ok && fsync(sink.fd) != 0) {
            CF_RAISE(CF_ERR_IO, "cannot write the download to disk");
            ok = false;
        }
        if (close(sink.fd) != 0 && ok) {
            CF_RAISE(CF_ERR_IO, "cannot write the download to disk");
            ok = false;
        }
        if (ok && rename(part, out) != 0) {
            cf_error_raisef(CF_ERR_IO, __FILE__, __LINE__, "cannot rename %s: %s", part,
                            strerror(errno));
            ok = false;
        }
        if (!ok)
            unlink(part);
    }
    ok = ok &&
         cf_download_output(cli, container, name, out, &head, size, cf_progress_elapsed(&progress));
    cf_sc_resp_free(&head);
    cf_sc_resp_free(&resp);
    cf_sc_client_close(client);
    return ok;
}

/* ---- list ---- */

bool cf_sc_page_size_opt(const cf_cli *cli, unsigned *out)
{
    long long v = 0;
    const char *s = cf_cli_opt(cli, "page-size");
    if (s)
        CF_GUARD(cf_cli_parse_int("page-size", s, 1, 5000, &v));
    *out = (unsigned)v;
    return true;
}

typedef struct {
    const cf_cli *cli;
    json_t *items; /* JSON output */
    char name[1100], size[32], modified[64], content_type[260], etag[80], type[32];
    unsigned long count;
} cf_cli_blob_listing;

static void cf_field(char *out, size_t len, const char *text)
{
    snprintf(out, len, "%s", text);
}

/* The table header comes with the first row, so that a failed listing
 * prints only its error. */
static void cf_cli_blob_list_header(void)
{
    printf("%14s  %-20s  %s\n", "SIZE", "LAST MODIFIED", "NAME");
}

static bool cf_emit_blob(cf_cli_blob_listing *l)
{
    char when[64];
    cf_sc_time_iso(l->modified, when, sizeof when);
    char *end = NULL;
    long long size = strtoll(l->size, &end, 10);
    l->count++;
    if (l->cli->json) {
        json_t *o = json_object();
        CF_ENSURE_ALLOC(o);
        bool ok = cf_sc_json_set(o, "name", json_string(l->name)) &&
                  cf_sc_json_set(o, "size", json_integer(size)) &&
                  cf_sc_json_set(o, "last_modified", json_string(when)) &&
                  cf_sc_json_set(o, "content_type",
                                 l->content_type[0] ? json_string(l->content_type) : NULL) &&
                  cf_sc_json_set(o, "etag", json_string(l->etag)) &&
                  cf_sc_json_set(o, "blob_type", json_string(l->type));
        if (!ok || json_array_append_new(l->items, o) != 0) {
            json_decref(o);
            CF_BAIL(CF_ERR_NOMEM, NULL);
        }
        return true;
    }
    if (l->count == 1)
        cf_cli_blob_list_header();
    printf("%14lld  %-20s  ", size, when);
    cf_out_str(stdout, l->name);
    fputc('\n', stdout);
    return true;
}

static bool cf_cli_blob_leaf(void *ctx, const char *path, const char *text)
{
    cf_cli_blob_listing *l = ctx;
    static const char blob[] = "EnumerationResults/Blobs/Blob";
    static const char props[] = "EnumerationResults/Blobs/Blob/Properties/";
    if (strcmp(path, blob) == 0) {
        CF_GUARD(cf_emit_blob(l));
        l->name[0] = l->size[0] = l->modified[0] = l->content_type[0] = l->etag[0] = l->type[0] = 0;
    } else if (strcmp(path, "EnumerationResults/Blobs/Blob/Name") == 0) {
        cf_field(l->name, sizeof l->name, text);
    } else if (strncmp(path, props, sizeof props - 1) == 0) {
        const char *p = path + sizeof props - 1;
        if (strcmp(p, "Content-Length") == 0)
            cf_field(l->size, sizeof l->size, text);
        else if (strcmp(p, "Last-Modified") == 0)
            cf_field(l->modified, sizeof l->modified, text);
        else if (strcmp(p, "Content-Type") == 0)
            cf_field(l->content_type, sizeof l->content_type, text);
        else if (strcmp(p, "Etag") == 0)
            cf_field(l->etag, sizeof l->etag, text);
        else if (strcmp(p, "BlobType") == 0)
            cf_field(l->type, sizeof l->type, text);
    }
    return true;
}

/* "restype=container&comp=list[&prefix=P][&marker=M]" or the service form. */
static bool cf_list_query(cf_buf *q, const char *base, const char *prefix, const char *marker,
                          unsigned page_size)
{
    cf_buf_clear(q);
    CF_GUARD(cf_buf_append_str(q, base));
    if (page_size) {
        char n[32];
        snprintf(n, sizeof n, "&maxresults=%u", page_size);
        CF_GUARD(cf_buf_append_str(q, n));
    }
    if (prefix && *prefix) {
        CF_GUARD(cf_buf_append_str(q, "&prefix="));
        CF_GUARD(cf_percent_encode(q, prefix, false));
    }
    if (marker && *marker) {
        CF_GUARD(cf_buf_append_str(q, "&marker="));
        CF_GUARD(cf_percent_encode(q, marker, false));
    }
    return cf_buf_terminate(q);
}

/* Takes NextMarker out of each page and hands every other element on. */
typedef struct {
    cf_sc_xml_on_end on_leaf;
    void *ctx;
    char marker[1100];
} cf_pager;

static bool cf_pager_leaf(void *ctx, const char *path, const char *text)
{
    cf_pager *p = ctx;
    if (strcmp(path, "EnumerationResults/NextMarker") != 0)
        return p->on_leaf(p->ctx, path, text);
    CF_ENSURE(strlen(text) < sizeof p->marker, CF_ERR_IO,
              "the service's continuation marker is too long");
    snprintf(p->marker, sizeof p->marker, "%s", text);
    return true;
}

bool cf_sc_list_pages(cf_sc_client *client, const char *container, const char *base_query,
                      const char *prefix, unsigned page_size, cf_sc_xml_on_end on_leaf, void *ctx)
{
    cf_pager *pager = calloc(1, sizeof *pager);
    CF_ENSURE_ALLOC(pager);
    pager->on_leaf = on_leaf;
    pager->ctx = ctx;
    cf_buf query;
    cf_buf_init(&query, 8192);
    cf_sc_resp resp;
    cf_sc_resp_init(&resp);
    char last[sizeof pager->marker];
    bool ok = true;
    do {
        snprintf(last, sizeof last, "%s", pager->marker);
        pager->marker[0] = 0;
        cf_sc_req req = {.method = "GET", .container = container};
        ok = cf_list_query(&query, base_query, prefix, last, page_size);
        req.query = (const char *)query.data;
        ok = ok && cf_sc_call(client, &req, &resp) &&
             cf_sc_xml_walk(cf_buf_slice(&resp.body), cf_pager_leaf, pager);
        /* A service that hands back the marker it was given would loop. */
        if (ok && pager->marker[0] && strcmp(pager->marker, last) == 0) {
            CF_RAISE(CF_ERR_IO, "the service repeats its continuation marker");
            ok = false;
        }
    } while (ok && pager->marker[0]);
    cf_buf_free(&query);
    cf_sc_resp_free(&resp);
    free(pager);
    return ok;
}

bool cf_cmd_blob_list(cf_cli *cli)
{
    const char *container;
    CF_GUARD(cf_container_opt(cli, &container));
    const char *prefix = cf_cli_opt(cli, "prefix");
    unsigned page_size;
    CF_GUARD(cf_sc_page_size_opt(cli, &page_size));
    cf_cli_blob_listing *l = calloc(1, sizeof *l);
    CF_ENSURE_ALLOC(l);
    l->cli = cli;
    if (cli->json)
        l->items = json_array();
    cf_sc_client *client = NULL;
    bool ok = (!cli->json || l->items) && cf_sc_client_open(cli, &client);
    ok = ok && cf_sc_list_pages(client, container, "restype=container&comp=list", prefix, page_size,
                                cf_cli_blob_leaf, l);
    if (ok && cli->json)
        cf_out_json(l->items);
    else if (ok && l->count == 0)
        cf_cli_blob_list_header();
    json_decref(l->items);
    free(l);
    cf_sc_client_close(client);
    return ok;
}

/* ---- show ---- */

static bool cf_show_json(const cf_sc_resp *r, const char *container, const char *name,
                         const char *when)
{
    json_t *o = json_object(), *md = json_object();
    bool ok = o && md;
    const char *enc = cf_sc_resp_header(r, "x-ms-server-encrypted");
    const char *cl = cf_sc_resp_header(r, "content-length");
    ok =
        ok && cf_sc_json_set(o, "container", json_string(container)) &&
        cf_sc_json_set(o, "name", json_string(name)) &&
        cf_sc_json_set(o, "size", json_integer(cl ? strtoll(cl, NULL, 10) : 0)) &&
        cf_sc_json_set(o, "blob_type", json_string(cf_sc_resp_header(r, "x-ms-blob-type") ?: "")) &&
        cf_sc_json_set(o, "etag", json_string(cf_sc_resp_header(r, "etag") ?: "")) &&
        cf_sc_json_set(o, "last_modified", json_string(when)) &&
        cf_sc_json_set(o, "content_type",
                       cf_sc_resp_header(r, "content-type")
                           ? json_string(cf_sc_resp_header(r, "content-type"))
                           : NULL) &&
        cf_sc_json_set(o, "content_md5",
                       cf_sc_resp_header(r, "content-md5")
                           ? json_string(cf_sc_resp_header(r, "content-md5"))
                           : NULL) &&
        cf_sc_json_set(o, "server_encrypted", json_boolean(enc && strcmp(enc, "true") == 0));
    size_t pos = 0;
    const char *hn, *hv;
    while (ok && cf_sc_resp_next(r, &pos, &hn, &hv))
        if (strncmp(hn, "x-ms-meta-", 10) == 0)
            ok = json_object_set_new(md, hn + 10, json_string(hv)) == 0;
    ok = ok && json_object_set_new(o, "metadata", md) == 0;
    if (ok)
        cf_out_json(o);
    else
        json_decref(md);
    json_decref(o);
    CF_ENSURE(ok, CF_ERR_NOMEM, NULL);
    return true;
}

static void cf_show_text(const cf_sc_resp *r, const char *container, const char *name,
                         const char *when)
{
    cf_out_line("container:", container);
    cf_out_line("name:", name);
    cf_out_line("size:", cf_sc_resp_header(r, "content-length"));
    cf_out_line("blob_type:", cf_sc_resp_header(r, "x-ms-blob-type"));
    cf_out_line("etag:", cf_sc_resp_header(r, "etag"));
    cf_out_line("last_modified:", when);
    cf_out_line("content_type:", cf_sc_resp_header(r, "content-type"));
    cf_out_line("content_md5:", cf_sc_resp_header(r, "content-md5"));
    cf_out_line("server_encrypted:", cf_sc_resp_header(r, "x-ms-server-encrypted"));
    size_t pos = 0;
    const char *hn, *hv;
    bool first = true;
    while (cf_sc_resp_next(r, &pos, &hn, &hv)) {
        if (strncmp(hn, "x-ms-meta-", 10) != 0)
            continue;
        printf("%-18s", first ? "metadata:" : "");
        cf_out_str(stdout, hn + 10);
        fputc('=', stdout);
        cf_out_str(stdout, hv);
        fputc('\n', stdout);
        first = false;
    }
}

/* A bodiless request on one blob named by --container and --name: *ok
 * says whether it succeeded; the caller renders, then frees resp and
 * closes the client.  False (nothing to free) when the options or the
 * connection are wrong. */
static bool cf_cli_blob_single(cf_cli *cli, const char *method, const char **container,
                               const char **name, cf_sc_client **client, cf_sc_resp *resp, bool *ok)
{
    CF_GUARD(cf_container_opt(cli, container));
    CF_GUARD(cf_name_opt(cli, name));
    CF_GUARD(cf_sc_client_open(cli, client));
    cf_sc_resp_init(resp);
    cf_sc_req req = {.method = method, .container = *container, .blob = *name};
    *ok = cf_sc_call(*client, &req, resp);
    return true;
}

bool cf_cmd_blob_show(cf_cli *cli)
{
    const char *container, *name;
    cf_sc_client *client = NULL;
    cf_sc_resp resp;
    bool ok;
    CF_GUARD(cf_cli_blob_single(cli, "HEAD", &container, &name, &client, &resp, &ok));
    if (ok) {
        char when[64];
        cf_sc_time_iso(cf_sc_resp_header(&resp, "last-modified"), when, sizeof when);
        if (cli->json)
            ok = cf_show_json(&resp, container, name, when);
        else
            cf_show_text(&resp, container, name, when);
    }
    cf_sc_resp_free(&resp);
    cf_sc_client_close(client);
    return ok;
}

/* ---- delete ---- */

bool cf_cmd_blob_delete(cf_cli *cli)
{
    const char *container, *name;
    cf_sc_client *client = NULL;
    cf_sc_resp resp;
    bool ok;
    CF_GUARD(cf_cli_blob_single(cli, "DELETE", &container, &name, &client, &resp, &ok));
    if (ok && cli->json) {
        json_t *o = json_object();
        ok = o && cf_sc_json_set(o, "container", json_string(container)) &&
             cf_sc_json_set(o, "name", json_string(name)) &&
             cf_sc_json_set(o, "deleted", json_true());
        if (ok)
            cf_out_json(o);
        json_decref(o);
    } else if (ok) {
        printf("deleted %s/", container);
        cf_out_str(stdout, name);
        fputc('\n', stdout);
    }
    cf_sc_resp_free(&resp);
    cf_sc_client_close(client);
    return ok;
}
