/* Process set-up shared by Coffer's servers; see server_process.h. */
#include "server_process.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>

#include "json_secure.h"

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
}
