/* shim/cli/format.h: output helpers shared by the CLI verbs.
 *
 * Names and reasons printed by the verbs come from the command line and from
 * DNS answers, so they may hold any byte.  Text output escapes what a terminal
 * would interpret; JSON output escapes what JSON forbids and never emits
 * invalid UTF-8 (consumers such as python3's json module reject it).
 */
#ifndef HASTLS_CLI_FORMAT_H
#define HASTLS_CLI_FORMAT_H

#include <stdio.h>

#include "policy/config.h"

/* The mnemonic of a DNS RCODE ("NOERROR", "NXDOMAIN", ...); "none" for a
 * negative value (no answer at all), "other" for codes beyond NOTZONE. */
const char *hastls_cli_rcode_name(int rcode);

/* Writes S as a JSON string literal, quotes included.  '"', '\\' and control
 * characters are escaped; well-formed UTF-8 sequences pass through; any other
 * byte (stray continuation, overlong form, surrogate, truncated sequence) is
 * written as the code point of the same value (\u00XX), i.e. read as
 * Latin-1, so the output is always valid JSON and no byte is silently lost. */
void hastls_cli_json_string(FILE *out, const char *s);

/* Writes S for a terminal: printable ASCII and well-formed UTF-8 as they are,
 * a backslash as "\\", every other byte as "\DDD" (decimal, as in DNS
 * presentation form), so a name cannot carry terminal control sequences. */
void hastls_cli_text(FILE *out, const char *s);

/* Prints each line of ERR ("FILE:LINE: message", as the configuration loader
 * writes them) to standard error, prefixed with "hastls: ". */
void hastls_cli_print_errors(const char *err);

/* The resolver's log callback for the CLI: "hastls: MSG" on standard error,
 * "hastls: error: MSG" at error level. */
void hastls_cli_log(enum hastls_log_level level, const char *msg);

#endif
