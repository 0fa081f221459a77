#include "blocking.h"

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

void cf_blocking_enter(void)
{
    if (depth++ == 0 && thread_hook)
        thread_hook(thread_ctx, true);
}

void cf_blocking_leave(void)
{
    if (depth > 0 && --depth == 0 && thread_hook)
        thread_hook(thread_ctx, false);
}
