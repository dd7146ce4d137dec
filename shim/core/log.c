/* shim/core/log.c: one write(2) per line, errno preserved (see log.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim/core/log.h"

/* Read on every logging call from any thread: an atomic int, no lock. */
static int log_threshold = HASTLS_LOG_WARN;

void hastls_log_set_level(enum hastls_log_level level)
{
    __atomic_store_n(&log_threshold, (int)level, __ATOMIC_RELAXED);
}

int hastls_log_enabled(enum hastls_log_level level)
{
    return (int)level <= __atomic_load_n(&log_threshold, __ATOMIC_RELAXED);
}

static void write_line(char *buf, size_t len)
{
    /* One write(2): stderr may be a pipe shared with other threads; a short
     * write to a full pipe is not retried (the line is best-effort). */
    ssize_t r = write(STDERR_FILENO, buf, len);
    (void)r;
}

void hastls_vlog(enum hastls_log_level level, const char *fmt, va_list ap)
{
    if (!hastls_log_enabled(level))
        return;
    int saved = errno;
    char buf[1024];
    static const char prefix[] = "hastls: ";
    memcpy(buf, prefix, sizeof prefix - 1);
    size_t room = sizeof buf - (sizeof prefix - 1) - 1; /* keep one for '\n' */
    int n = vsnprintf(buf + sizeof prefix - 1, room + 1, fmt, ap);
    size_t len;
    if (n < 0) {
        len = sizeof prefix - 1;
    } else if ((size_t)n > room) {
        len = sizeof buf - 1;
        memcpy(buf + len - 3, "...", 3);
    } else {
        len = sizeof prefix - 1 + (size_t)n;
    }
    buf[len++] = '\n';
    write_line(buf, len);
    errno = saved;
}

void hastls_log(enum hastls_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hastls_vlog(level, fmt, ap);
    va_end(ap);
}

void hastls_log_raw(const char *line)
{
    int saved = errno;
    char buf[1024];
    int n = snprintf(buf, sizeof buf - 1, "hastls: %s", line);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof buf - 1 ? sizeof buf - 2 : (size_t)n;
    buf[len++] = '\n';
    write_line(buf, len);
    errno = saved;
}
