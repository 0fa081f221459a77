#include "blocking.h"

#include <errno.h>
#include <stddef.h>

static __thread cf_blocking_hook thread_hook;
static __thread void *thread_ctx;
static __thread unsigned depth;

void cf_blocking_bind(cf_blocking_hook hook, void *ctx)
{
    thread_hook = hook;
    thread_ctx = ctx;
    depth = 0;
}

/* errno survives: callers read the wait's own errno after leave. */
void cf_blocking_enter(void)
{
    int saved = errno;
    if (depth++ == 0 && thread_hook)
        thread_hook(thread_ctx, true);
    errno = saved;
}

void cf_blocking_leave(void)
{
    int saved = errno;
    if (depth > 0 && --depth == 0 && thread_hook)
        thread_hook(thread_ctx, false);
    errno = saved;
}

bool cf_blocking_settle(void)
{
    if (depth == 0)
        return true;
    depth = 1;
    cf_blocking_leave();
    return false;
}
