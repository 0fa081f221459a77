/*
 * vault_load: drives coffer-vault's HTTPS API at a fixed concurrency and
 * reports operations per second, for bench/run.
 *
 *   vault_load BOOTSTRAP_JSON OP SECONDS CONNECTIONS
 *   OP: sign-rsa2048 | unwrap-rsa2048 | sign-ec256 | wrap-aes256, each also
 *       with "-hsm": the same operation with an HSM-protected key
 *
 * Each connection is one thread with its own keep-alive curl handle; all
 * share one token.  Setup (key creation, a wrapped key to unwrap) happens
 * before the clock starts.  Every response is checked for status 200.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "load_clock.h"

typedef struct {
    char *data;
    size_t len;
} body_t;

static char vault_url[512], ca_cert[1024], auth_header[9000];
static char op_path[1024], op_body[4096];

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    body_t *b = ctx;
    size_t add = size * n;
    if (b->len + add > (1u << 20))
        return 0;
    char *grown = realloc(b->data, b->len + add + 1);
    if (!grown)
        return 0;
    b->data = grown;
    memcpy(b->data + b->len, p, add);
    b->len += add;
    b->data[b->len] = 0;
    return add;
}

/* One request; returns the HTTP status and fills `out` (caller frees). */
static long request(CURL *c, const char *method, const char *url, const char *body,
                    const char *content_type, int with_auth, body_t *out)
{
    struct curl_slist *h = NULL;
    char ct[128];
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
    h = curl_slist_append(h, ct);
    if (with_auth)
        h = curl_slist_append(h, auth_header);
    out->data = NULL;
    out->len = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca_cert);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    return status;
}

static json_t *call_json(CURL *c, const char *method, const char *path, const char *body)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s%sapi-version=7.5", vault_url, path,
             strchr(path, '?') ? "&" : "?");
    body_t out;
    long status = request(c, method, url, body, "application/json", 1, &out);
    json_t *j = out.data ? json_loads(out.data, 0, NULL) : NULL;
    if (status != 200) {
        fprintf(stderr, "setup %s %s failed: %ld %s\n", method, path, status,
                out.data ? out.data : "");
        exit(1);
    }
    free(out.data);
    return j;
}

static void get_token(CURL *c, json_t *boot)
{
    char url[1024], form[2048];
    snprintf(url, sizeof url, "%s/%s/oauth2/v2.0/token",
             json_string_value(json_object_get(boot, "authority_host")),
             json_string_value(json_object_get(boot, "tenant_id")));
    char *secret =
        curl_easy_escape(c, json_string_value(json_object_get(boot, "client_secret")), 0);
    snprintf(form, sizeof form,
             "grant_type=client_credentials&client_id=%s&client_secret=%s&scope=%s/.default",
             json_string_value(json_object_get(boot, "client_id")), secret,
             json_string_value(json_object_get(boot, "resource")));
    curl_free(secret);
    body_t out;
    long status = request(c, "POST", url, form, "application/x-www-form-urlencoded", 0, &out);
    json_t *j = out.data ? json_loads(out.data, 0, NULL) : NULL;
    const char *tok = json_string_value(json_object_get(j, "access_token"));
    if (status != 200 || !tok) {
        fprintf(stderr, "token request failed: %ld\n", status);
        exit(1);
    }
    snprintf(auth_header, sizeof auth_header, "Authorization: Bearer %s", tok);
    json_decref(j);
    free(out.data);
}

/* OP is BASE or BASE-hsm: the same operation with a software key or with
 * an HSM-protected key of the same shape (kty with "-HSM"). */
static void setup_op(CURL *c, const char *op_arg)
{
    char op[64], path[256], body[256];
    snprintf(op, sizeof op, "%s", op_arg);
    size_t n = strlen(op);
    int hsm = n > 4 && strcmp(op + n - 4, "-hsm") == 0;
    if (hsm)
        op[n - 4] = 0;
    const char *suffix = hsm ? "-HSM" : "";
    json_t *r;
    if (strcmp(op, "wrap-aes256") == 0) {
        snprintf(path, sizeof path, "/keys/bench-aes256%s/create", hsm ? "-hsm" : "");
        snprintf(body, sizeof body, "{\"kty\":\"oct%s\",\"key_size\":256}", suffix);
        json_decref(call_json(c, "POST", path, body));
        snprintf(op_path, sizeof op_path, "/keys/bench-aes256%s//wrapkey", hsm ? "-hsm" : "");
        snprintf(op_body, sizeof op_body,
                 "{\"alg\":\"A256KW\",\"value\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"}");
        return;
    }
    if (strcmp(op, "sign-ec256") == 0) {
        snprintf(path, sizeof path, "/keys/bench-ec256%s/create", hsm ? "-hsm" : "");
        snprintf(body, sizeof body, "{\"kty\":\"EC%s\",\"crv\":\"P-256\"}", suffix);
        json_decref(call_json(c, "POST", path, body));
        snprintf(op_path, sizeof op_path, "/keys/bench-ec256%s//sign", hsm ? "-hsm" : "");
        snprintf(op_body, sizeof op_body,
                 "{\"alg\":\"ES256\",\"value\":\"n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg\"}");
        return;
    }
    const char *name = hsm ? "bench-rsa2048-hsm" : "bench-rsa2048";
    snprintf(path, sizeof path, "/keys/%s/create", name);
    snprintf(body, sizeof body, "{\"kty\":\"RSA%s\",\"key_size\":2048}", suffix);
    r = call_json(c, "POST", path, body);
    json_decref(r);
    if (strcmp(op, "sign-rsa2048") == 0) {
        snprintf(op_path, sizeof op_path, "/keys/%s//sign", name);
        snprintf(op_body, sizeof op_body,
                 "{\"alg\":\"RS256\",\"value\":\"n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg\"}");
        return;
    }
    snprintf(path, sizeof path, "/keys/%s//wrapkey", name);
    r = call_json(
        c, "POST", path,
        "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"}");
    snprintf(op_path, sizeof op_path, "/keys/%s//unwrapkey", name);
    snprintf(op_body, sizeof op_body, "{\"alg\":\"RSA-OAEP-256\",\"value\":\"%s\"}",
             json_string_value(json_object_get(r, "value")));
    json_decref(r);
}

static void *worker(void *arg)
{
    (void)arg;
    CURL *c = curl_easy_init();
    char url[2048];
    snprintf(url, sizeof url, "%s%s?api-version=7.5", vault_url, op_path);
    while (!load_stopped()) {
        body_t out;
        long status = request(c, "POST", url, op_body, "application/json", 1, &out);
        free(out.data);
        load_count(status == 200);
    }
    curl_easy_cleanup(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: vault_load BOOTSTRAP OP SECONDS CONNECTIONS\n");
        return 2;
    }
    int seconds = (int)strtol(argv[3], NULL, 10), conns = (int)strtol(argv[4], NULL, 10);
    if (seconds < 1 || conns < 1 || conns > 256)
        return 2;
    json_t *boot = json_load_file(argv[1], 0, NULL);
    if (!boot)
        return 2;
    snprintf(vault_url, sizeof vault_url, "%s",
             json_string_value(json_object_get(boot, "vault_url")));
    snprintf(ca_cert, sizeof ca_cert, "%s", json_string_value(json_object_get(boot, "ca_cert")));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    get_token(c, boot);
    setup_op(c, argv[2]);
    curl_easy_cleanup(c);

    double rate;
    long failed;
    load_run(conns, seconds, worker, &rate, &failed);
    printf("%s %.1f %ld\n", argv[2], rate, failed);
    json_decref(boot);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
