/*
 * The CLI's one HTTPS transport: what the vault client (client.c) and the
 * storage client (storage_client.c) do alike with libcurl.
 *
 *   - every handle is set up the same way: https only (redirects too, and
 *     none followed), peer and host verification always on, the CA file
 *     from the settings (else the system's trust store), libcurl's own
 *     proxy handling from the environment (nothing set here), 15 s to
 *     connect, one user agent;
 *   - request header lists are wiped before they are freed (they carry the
 *     Authorization header);
 *   - a reply held in memory is capped by its buffer (CF_CLI_REPLY_MAX);
 *     going over it fails the transfer with CURLE_WRITE_ERROR;
 *   - a failed transfer and an error status are reported in one shape,
 *     "coffer: CODE: message (HTTP n)", with one status-to-category table.
 *
 * What differs stays with each client: the vault's whole-request timeout
 * and bearer token; storage's stall timeout, streaming bodies, Shared Key
 * signing and progress.  Names: `cf_cli_https_`.
 */
#ifndef CF_CLI_HTTPS_H
#define CF_CLI_HTTPS_H

#include <curl/curl.h>

#include "cli.h"

/* One curl_easy_setopt that succeeded, for chains of && in the set-ups. */
#define CF_CURL_SET(h, opt, val) (curl_easy_setopt((h), (opt), (val)) == CURLE_OK)

/* A new easy handle (freed with curl_easy_cleanup). */
CF_MUST_USE bool cf_cli_https_handle(CURL **out);

/* "https://host[:port]" of an https URL (whatever follows is dropped). */
void cf_cli_https_origin(const char *url, char *out, size_t len);

/* Sets the options every CLI request shares (see above) on a handle that
 * was just reset.  `ca_file` may be NULL or "" for the system's store;
 * `errbuf` (CURL_ERROR_SIZE bytes) receives libcurl's reason on failure.
 * The header list and errbuf must outlive the transfer. */
CF_MUST_USE bool cf_cli_https_setup(CURL *h, const char *url, struct curl_slist *headers,
                                    const char *ca_file, char *errbuf);

/* Runs the transfer, then releases `headers` (below).  Returns libcurl's
 * code; raises nothing. */
CURLcode cf_cli_https_perform(CURL *h, struct curl_slist *headers);
/* Detaches `headers` from the handle (which is reused) and frees them,
 * wiped: after a transfer, or instead of one when the set-up failed. */
void cf_cli_https_release(CURL *h, struct curl_slist *headers);

/* Appends one "Name: value" line (libcurl copies it). */
CF_MUST_USE bool cf_cli_https_header_add(struct curl_slist **list, const char *line);
/* Wipes every line, then frees the list (NULL is fine). */
void cf_cli_https_headers_free(struct curl_slist *list);

/* A CURLOPT_WRITEFUNCTION that appends to the cf_buf `ctx`; a reply beyond
 * the buffer's cap returns 0, which libcurl reports as CURLE_WRITE_ERROR. */
size_t cf_cli_https_write_buf(char *p, size_t size, size_t n, void *ctx);

/* Raises the error of a failed transfer: CURLE_WRITE_ERROR (a reply over
 * CF_CLI_REPLY_MAX) as CF_ERR_TOO_LARGE "<whose_reply> exceeds the 16 MiB
 * limit"; anything else as CF_ERR_IO "<failed>: <libcurl's reason>". */
void cf_cli_https_raise(CURLcode rc, const char *errbuf, const char *whose_reply,
                        const char *failed);

/* The error category of an HTTP error status. */
cf_err cf_cli_https_status_err(long status);

/* Prints "coffer: CODE: message (HTTP n)" to stderr, service strings with
 * control characters replaced; a NULL `code` prints "error", a NULL
 * `message` prints `fallback`.  Marks the error as shown to the user. */
void cf_cli_https_print_error(long status, const char *code, const char *message,
                              const char *fallback);

#endif
