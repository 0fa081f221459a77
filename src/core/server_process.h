/*
 * Process set-up shared by Coffer's servers (coffer-vault, coffer-blob).
 */
#ifndef CF_SERVER_PROCESS_H
#define CF_SERVER_PROCESS_H

#include <signal.h>

#include "seal_dir.h"

/* Line-buffered stdout (log lines), umask 077 (every file in a data
 * directory is the service's alone), jansson's wiping allocator, SIGPIPE
 * ignored, and SIGINT/SIGTERM blocked in every thread so that the main
 * thread alone takes them with sigwait()/sigtimedwait() on `stop`.  Call
 * first thing in main, before any thread starts. */
void cf_server_process_init(sigset_t *stop);

/* Logs which seal a service opened, loudly when it is the development file
 * seal or a root key without an unwrap template. */
void cf_server_log_seal(const cf_sealed_dir *sealed, const char *data_dir);

#endif
