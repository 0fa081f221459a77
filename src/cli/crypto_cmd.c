/*
 * Key operations: encrypt, decrypt, sign, verify.
 *
 * The key never leaves the vault: these commands send data to
 * POST /keys/NAME/VERSION/{encrypt|decrypt|sign|verify} (an empty VERSION,
 * "/keys/NAME//sign", means the latest, as the Azure SDKs send it).
 *
 * Input comes from --in FILE (raw bytes) or --value B64URL; binary
 * parameters (--iv, --tag, --aad, --digest, --signature) are base64url and
 * are decoded locally first, so a typo is a usage error rather than a
 * confusing service error.  For sign/verify with --in, the file is hashed
 * here with the algorithm's hash (SHA-256/384/512 by the algorithm's
 * number) and only the digest is sent.
 *
 * Results are printed base64url; with --out FILE the result value is
 * written raw (mode 0600) instead.  Plaintext (decrypt output, encrypt
 * input) only ever sits in secret buffers.  verify prints whether the
 * signature is valid and exits 1 when it is not, like `openssl dgst -verify`.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "crypto.h"
#include "encoding.h"
#include "fsutil.h"

static bool cf_op_path(const cf_cli *cli, const char *op, char *out, size_t len)
{
    const char *v = cf_cli_opt(cli, "version");
    int n = snprintf(out, len, "/keys/%s/%s/%s", cli->args->pos[0], v ? v : "", op);
    CF_ENSURE(n > 0 && (size_t)n < len, CF_ERR_BAD_INPUT, "path too long");
    return true;
}

static const char *cf_need_alg(const cf_cli *cli, const char *cmd)
{
    const char *alg = cf_cli_opt(cli, "alg");
    if (!alg)
        (void)cf_cli_usage("key %s: --alg is required", cmd);
    return alg;
}

/* Checks that option `opt` holds base64url and copies it to body[member]. */
static bool cf_b64_param(const cf_cli *cli, const char *opt, json_t *body, const char *member)
{
    const char *v = cf_cli_opt(cli, opt);
    if (!v)
        return true;
    cf_buf raw;
    cf_buf_init_secret(&raw, CF_CLI_PAYLOAD_MAX);
    bool ok = cf_base64url_decode(CF_SLICE_STR(v), &raw);
    cf_buf_free(&raw);
    if (!ok)
        return cf_cli_usage("--%s: not base64url (or too long)", opt);
    CF_ENSURE(json_object_set_new(body, member, json_string(v)) == 0, CF_ERR_NOMEM, NULL);
    return true;
}

/* The operation's input, from exactly one of --in FILE and --value B64URL,
 * as base64url into `out` (a secret buffer). */
static bool cf_payload(const cf_cli *cli, const char *cmd, cf_buf *out)
{
    const char *file = cf_cli_opt(cli, "in");
    const char *value = cf_cli_opt(cli, "value");
    if (!file == !value)
        return cf_cli_usage("key %s: give exactly one of --in FILE and --value B64URL", cmd);
    cf_buf raw;
    cf_buf_init_secret(&raw, CF_CLI_PAYLOAD_MAX);
    bool ok;
    if (file) {
        ok = cf_read_file(file, CF_CLI_PAYLOAD_MAX, &raw);
        if (!ok)
            (void)cf_cli_usage("--in %.128s: %s (at most %u bytes)", file, cf_error_detail(),
                               CF_CLI_PAYLOAD_MAX);
    } else {
        ok = cf_base64url_decode(CF_SLICE_STR(value), &raw);
        if (!ok)
            (void)cf_cli_usage("--value: not base64url (or larger than %u bytes)",
                               CF_CLI_PAYLOAD_MAX);
    }
    ok = ok && cf_base64url_encode(cf_buf_slice(&raw), out) && cf_buf_terminate(out);
    cf_buf_free(&raw);
    return ok;
}

/* Prints the result object; with --out the decoded "value" goes to the file
 * and the other members are printed. */
static bool cf_print_result(const cf_cli *cli, json_t *reply, const char *value_label)
{
    const char *out = cf_cli_opt(cli, "out");
    const char *value = json_string_value(json_object_get(reply, "value"));
    CF_ENSURE(value, CF_ERR_IO, "the vault's reply has no \"value\"");
    if (out) {
        cf_buf raw;
        cf_buf_init_secret(&raw, CF_CLI_REPLY_MAX);
        bool ok = cf_base64url_decode(CF_SLICE_STR(value), &raw) &&
                  cf_write_file_atomic(out, cf_buf_slice(&raw), 0600);
        cf_buf_free(&raw);
        CF_GUARD(ok);
    }
    if (cli->json) {
        cf_out_json(reply);
        return true;
    }
    static const char *const members[] = {"kid", "value", "iv", "tag", "aad"};
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
        const char *s = json_string_value(json_object_get(reply, members[i]));
        bool is_value = strcmp(members[i], "value") == 0;
        if (!s || (is_value && out))
            continue;
        char label[32];
        snprintf(label, sizeof label, "%s:", is_value ? value_label : members[i]);
        printf("%-12s", label);
        cf_out_str(stdout, s);
        fputc('\n', stdout);
    }
    if (out)
        printf("%s written to %s\n", value_label, out);
    return true;
}

static bool cf_crypt(cf_cli *cli, const char *op, const char *const *params, size_t n_params,
                     const char *label)
{
    const char *alg = cf_need_alg(cli, op);
    CF_GUARD(alg);
    char path[512];
    cf_buf value;
    cf_buf_init_secret(&value, CF_CLI_PAYLOAD_MAX * 2);
    json_t *body = NULL, *reply = NULL;
    bool ok = cf_op_path(cli, op, path, sizeof path) && cf_payload(cli, op, &value) &&
              (body = cf_cli_op_body(alg, &value)) != NULL;
    cf_buf_free(&value);
    for (size_t i = 0; ok && i < n_params; i++)
        ok = cf_b64_param(cli, params[i], body, params[i]);
    ok = ok && cf_cli_call(cli->client, "POST", path, body, &reply);
    json_decref(body);
    if (ok && !reply)
        CF_RAISE(CF_ERR_IO, "the vault returned an empty reply");
    ok = ok && reply && cf_print_result(cli, reply, label);
    json_decref(reply);
    return ok;
}

bool cf_cmd_encrypt(cf_cli *cli)
{
    static const char *const params[] = {"iv", "aad"};
    return cf_crypt(cli, "encrypt", params, 2, "ciphertext");
}

bool cf_cmd_decrypt(cf_cli *cli)
{
    static const char *const params[] = {"iv", "tag", "aad"};
    return cf_crypt(cli, "decrypt", params, 3, "plaintext");
}

/* ---- sign, verify ---- */

/* The hash named by the algorithm's number: RS256, PS384, ES512, ES256K... */
static bool cf_alg_hash(const char *alg, cf_hash *out)
{
    if (strstr(alg, "512"))
        *out = CF_HASH_SHA512;
    else if (strstr(alg, "384"))
        *out = CF_HASH_SHA384;
    else if (strstr(alg, "256"))
        *out = CF_HASH_SHA256;
    else
        return cf_cli_usage("--alg %.32s: no hash known for it; pass --digest", alg);
    return true;
}

/* The digest to sign or verify, base64url, from --digest or by hashing --in. */
static bool cf_digest(const cf_cli *cli, const char *cmd, const char *alg, cf_buf *out)
{
    const char *file = cf_cli_opt(cli, "in");
    const char *digest = cf_cli_opt(cli, "digest");
    if (!file == !digest)
        return cf_cli_usage("key %s: give exactly one of --digest B64URL and --in FILE", cmd);
    cf_buf raw;
    cf_buf_init(&raw, 1024);
    bool ok;
    if (digest) {
        ok = cf_base64url_decode(CF_SLICE_STR(digest), &raw) && raw.len > 0;
        if (!ok)
            (void)cf_cli_usage("--digest: not base64url");
    } else {
        cf_hash h = CF_HASH_SHA256;
        cf_buf data;
        cf_buf_init(&data, CF_CLI_HASH_INPUT_MAX);
        uint8_t *md = NULL;
        ok = cf_alg_hash(alg, &h);
        if (ok && !cf_read_file(file, CF_CLI_HASH_INPUT_MAX, &data))
            ok = cf_cli_usage("--in %.128s: %s (at most %u bytes)", file, cf_error_detail(),
                              CF_CLI_HASH_INPUT_MAX);
        ok = ok && cf_buf_extend(&raw, cf_hash_len(h), &md) &&
             cf_hash_compute(h, cf_buf_slice(&data), md);
        cf_buf_free(&data);
    }
    ok = ok && cf_base64url_encode(cf_buf_slice(&raw), out) && cf_buf_terminate(out);
    cf_buf_free(&raw);
    return ok;
}

bool cf_cmd_sign(cf_cli *cli)
{
    const char *alg = cf_need_alg(cli, "sign");
    CF_GUARD(alg);
    char path[512];
    cf_buf digest;
    cf_buf_init(&digest, 1024);
    json_t *body = NULL, *reply = NULL;
    bool ok = cf_op_path(cli, "sign", path, sizeof path) && cf_digest(cli, "sign", alg, &digest);
    if (ok) {
        body = json_pack("{s:s, s:s}", "alg", alg, "value", (const char *)digest.data);
        ok = body != NULL;
        if (!ok)
            CF_RAISE(CF_ERR_NOMEM, NULL);
    }
    cf_buf_free(&digest);
    ok = ok && cf_cli_call(cli->client, "POST", path, body, &reply);
    json_decref(body);
    if (ok && !reply)
        CF_RAISE(CF_ERR_IO, "the vault returned an empty reply");
    ok = ok && reply && cf_print_result(cli, reply, "signature");
    json_decref(reply);
    return ok;
}

bool cf_cmd_verify(cf_cli *cli)
{
    const char *alg = cf_need_alg(cli, "verify");
    CF_GUARD(alg);
    const char *sig = cf_cli_opt(cli, "signature");
    if (!sig)
        return cf_cli_usage("key verify: --signature B64URL is required");
    char path[512];
    cf_buf digest;
    cf_buf_init(&digest, 1024);
    json_t *body = NULL, *reply = NULL;
    bool ok =
        cf_op_path(cli, "verify", path, sizeof path) && cf_digest(cli, "verify", alg, &digest);
    if (ok) {
        body = json_pack("{s:s, s:s}", "alg", alg, "digest", (const char *)digest.data);
        ok = body != NULL;
        if (!ok)
            CF_RAISE(CF_ERR_NOMEM, NULL);
    }
    cf_buf_free(&digest);
    ok = ok && cf_b64_param(cli, "signature", body, "value") &&
         cf_cli_call(cli->client, "POST", path, body, &reply);
    json_decref(body);
    json_t *valid = json_object_get(reply, "value");
    if (ok && !json_is_boolean(valid)) {
        CF_RAISE(CF_ERR_IO, "the vault's verify reply has no boolean \"value\"");
        ok = false;
    }
    if (ok) {
        if (cli->json)
            cf_out_json(reply);
        else
            printf("signature is %s\n", json_is_true(valid) ? "valid" : "NOT valid");
        cli->exit_code = json_is_true(valid) ? CF_CLI_EXIT_OK : CF_CLI_EXIT_FAIL;
    }
    json_decref(reply);
    return ok;
}
