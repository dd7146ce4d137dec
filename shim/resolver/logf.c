/* shim/resolver/logf.c: log lines and error texts (see logf.h). */
#include "shim/resolver/logf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void hastls_logf(hastls_log_fn log, enum hastls_log_level max, enum hastls_log_level lvl,
                 const char *fmt, ...)
{
    if (!log || lvl > max)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log(lvl, msg);
}

const char *hastls_errtext(int e, char *buf, size_t len)
{
    snprintf(buf, len, "%s", strerror(e));
    if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
        buf[0] = (char)(buf[0] + 32);
    return buf;
}
