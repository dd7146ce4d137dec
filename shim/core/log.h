/* shim/core/log.h: "hastls: ..." lines on stderr.
 *
 * A line is written with a single write(2) so that lines of concurrent threads
 * never interleave, and errno is preserved: hooks log on paths where the
 * program reads errno afterwards.  The threshold is the configuration's log
 * level (with HASTLS_LOG applied by the loader); before the configuration is
 * loaded it is "warn".
 */
#ifndef HASTLS_SHIM_LOG_H
#define HASTLS_SHIM_LOG_H

#include <stdarg.h>

#include "policy/config.h"

/* Sets the threshold: lines at or below LEVEL are written. */
void hastls_log_set_level(enum hastls_log_level level);

/* Nonzero when a line at LEVEL would be written (callers skip formatting
 * expensive details otherwise). */
int hastls_log_enabled(enum hastls_log_level level);

/* Writes "hastls: " FMT "\n" when LEVEL is enabled.  Long lines are truncated
 * (ending in "..."). */
void hastls_log(enum hastls_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void hastls_vlog(enum hastls_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Writes "hastls: " LINE "\n" unconditionally (configuration errors). */
void hastls_log_raw(const char *line);

#endif
