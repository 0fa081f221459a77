/* The CLI's shared libcurl transport; see https.h. */
#include "https.h"

#include <stdio.h>
#include <string.h>

#include "secmem.h"

bool cf_cli_https_handle(CURL **out)
{
    *out = curl_easy_init();
    CF_ENSURE(*out, CF_ERR_NOMEM, "cannot create a libcurl handle");
    return true;
}

void cf_cli_https_origin(const char *url, char *out, size_t len)
{
    const char *slash = strchr(url + 8, '/'); /* after "https://" */
    size_t n = slash ? (size_t)(slash - url) : strlen(url);
    snprintf(out, len, "%.*s", (int)n, url);
}

bool cf_cli_https_setup(CURL *h, const char *url, struct curl_slist *headers, const char *ca_file,
                        char *errbuf)
{
    bool ok =
        CF_CURL_SET(h, CURLOPT_URL, url) && CF_CURL_SET(h, CURLOPT_PROTOCOLS_STR, "https") &&
        CF_CURL_SET(h, CURLOPT_REDIR_PROTOCOLS_STR, "https") &&
        CF_CURL_SET(h, CURLOPT_FOLLOWLOCATION, 0L) && CF_CURL_SET(h, CURLOPT_SSL_VERIFYPEER, 1L) &&
        CF_CURL_SET(h, CURLOPT_SSL_VERIFYHOST, 2L) && CF_CURL_SET(h, CURLOPT_NOSIGNAL, 1L) &&
        CF_CURL_SET(h, CURLOPT_CONNECTTIMEOUT, 15L) &&
        CF_CURL_SET(h, CURLOPT_USERAGENT, "coffer-cli/0.1") &&
        CF_CURL_SET(h, CURLOPT_HTTPHEADER, headers) && CF_CURL_SET(h, CURLOPT_ERRORBUFFER, errbuf);
    if (ok && ca_file && ca_file[0])
        ok = CF_CURL_SET(h, CURLOPT_CAINFO, ca_file);
    CF_ENSURE(ok, CF_ERR_INTERNAL, "cannot configure libcurl");
    return true;
}

CURLcode cf_cli_https_perform(CURL *h, struct curl_slist *headers)
{
    CURLcode rc = curl_easy_perform(h);
    cf_cli_https_release(h, headers);
    return rc;
}

void cf_cli_https_release(CURL *h, struct curl_slist *headers)
{
    /* The handle is reused: it must not keep a pointer to the freed list. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    cf_cli_https_headers_free(headers);
}

bool cf_cli_https_header_add(struct curl_slist **list, const char *line)
{
    struct curl_slist *next = curl_slist_append(*list, line);
    CF_ENSURE_ALLOC(next);
    *list = next;
    return true;
}

/* curl_slist_append copies; wipe those copies (the Authorization line)
 * before curl frees them. */
void cf_cli_https_headers_free(struct curl_slist *list)
{
    for (struct curl_slist *h = list; h; h = h->next)
        cf_memzero(h->data, strlen(h->data));
    curl_slist_free_all(list);
}

size_t cf_cli_https_write_buf(char *p, size_t size, size_t n, void *ctx)
{
    cf_buf *b = ctx;
    return cf_buf_append(b, p, size * n) ? size * n : 0;
}

void cf_cli_https_raise(CURLcode rc, const char *errbuf, const char *whose_reply,
                        const char *failed)
{
    if (rc == CURLE_WRITE_ERROR)
        cf_error_raisef(CF_ERR_TOO_LARGE, __FILE__, __LINE__, "%s exceeds the %u MiB limit",
                        whose_reply, CF_CLI_REPLY_MAX >> 20);
    else
        cf_error_raisef(CF_ERR_IO, __FILE__, __LINE__, "%s: %s", failed,
                        errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

cf_err cf_cli_https_status_err(long status)
{
    switch (status) {
    case 400: return CF_ERR_BAD_INPUT;
    case 401: return CF_ERR_UNAUTHORIZED;
    case 403: return CF_ERR_FORBIDDEN;
    case 404: return CF_ERR_NOT_FOUND;
    case 409:
    case 412: return CF_ERR_CONFLICT;
    case 413: return CF_ERR_TOO_LARGE;
    default: return CF_ERR_IO;
    }
}

void cf_cli_https_print_error(long status, const char *code, const char *message,
                              const char *fallback)
{
    fputs("coffer: ", stderr);
    cf_out_str(stderr, code ? code : "error");
    fputs(": ", stderr);
    cf_out_str(stderr, message ? message : fallback);
    fprintf(stderr, " (HTTP %ld)\n", status);
    cf_cli_mark_reported();
}
