/* Process set-up shared by Coffer's servers; see server_process.h. */
#include "server_process.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "json_secure.h"
#include "log.h"

void cf_server_process_init(sigset_t *stop)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    umask(077);
    cf_json_use_wiping_alloc();
    sigemptyset(stop);
    sigaddset(stop, SIGINT);
    sigaddset(stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Connections cost a descriptor each, not a thread: allow as many as
     * the system lets this process have (the listener caps what it takes). */
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &files);
    }
}

void cf_server_log_seal(const cf_sealed_dir *sealed, const char *data_dir)
{
    if (sealed->dev)
        cf_log(CF_LOG_WARN, NULL,
               "DEVELOPMENT SEAL: the root key is the file %s/seal.key; anyone who can read it "
               "can read every key and blob kept here. Use a PKCS#11 token for real data "
               "(coffer seal migrate).",
               data_dir);
    else
        cf_log(CF_LOG_INFO, NULL, "sealed by %s", sealed->where);
    if (sealed->weak_root)
        cf_log(CF_LOG_WARN, NULL,
               "the token gave the root key no unwrap template: keys wrapped under it (HSM key "
               "backups) could be unwrapped into extractable keys by whoever holds the PIN");
    if (sealed->removed_file_key)
        cf_log(CF_LOG_WARN, NULL, "destroyed the leftover development seal key of a finished move");
}
