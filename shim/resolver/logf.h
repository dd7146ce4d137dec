/* shim/resolver/logf.h: the resolver's log lines and error texts.
 *
 * Owns: formatting one log line for the configured log callback (nothing is
 * printed unless the level asks for it), and system error texts worded to
 * follow "ADDR@PORT: ".
 */
#ifndef HASTLS_RESOLVER_LOGF_H
#define HASTLS_RESOLVER_LOGF_H

#include <stddef.h>

#include "shim/resolver/resolver.h"

/* Formats one line and hands it to LOG when LVL is within MAX. */
void hastls_logf(hastls_log_fn log, enum hastls_log_level max, enum hastls_log_level lvl,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* strerror(E) starting in lower case, into BUF; returns BUF. */
const char *hastls_errtext(int e, char *buf, size_t len);

#endif
