#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static enum ce_log_level current = CE_LOG_WARN;

void ce_log_set_level(enum ce_log_level level)
{
    current = level;
}

void ce_log(enum ce_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error: ", "warning: ", "", ""};
    if (level > current)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One write per message so concurrent processes do not interleave. */
    fprintf(stderr, "cti-enrich: %s%s\n", names[level], msg);
}
