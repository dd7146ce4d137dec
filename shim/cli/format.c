/* shim/cli/format.c: output helpers shared by the CLI verbs (see format.h). */
#include "shim/cli/format.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

const char *hastls_cli_rcode_name(int rcode)
{
    static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                        "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                        "NXRRSET", "NOTAUTH", "NOTZONE"};
    if (rcode < 0)
        return "none";
    if ((size_t)rcode < sizeof names / sizeof names[0])
        return names[rcode];
    return "other";
}

/* The length of the well-formed UTF-8 sequence of two or more bytes at S
 * (RFC 3629, table 3: no overlong forms, no surrogates, nothing above
 * U+10FFFF), or 0 when S does not start one.  Reads no further than the first
 * byte that does not fit, so a NUL ends the check safely. */
static size_t utf8_seq_len(const unsigned char *s)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong below */
        else if (c == 0xED)
            hi = 0x9F; /* UTF-16 surrogates above */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* beyond U+10FFFF above */
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

void hastls_cli_json_string(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    putc('"', out);
    while (*p) {
        unsigned char c = *p;
        size_t n;
        if (c == '"' || c == '\\') {
            putc('\\', out);
            putc(c, out);
            p++;
        } else if (c == '\n') {
            fputs("\\n", out);
            p++;
        } else if (c == '\t') {
            fputs("\\t", out);
            p++;
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(out, "\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            putc(c, out);
            p++;
        } else if ((n = utf8_seq_len(p)) > 0) {
            fwrite(p, 1, n, out);
            p += n;
        } else {
            /* Not UTF-8: keep the byte's value as a Latin-1 code point. */
            fprintf(out, "\\u%04x", c);
            p++;
        }
    }
    putc('"', out);
}

void hastls_cli_text(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        unsigned char c = *p;
        size_t n;
        if (c == '\\') {
            fputs("\\\\", out);
            p++;
        } else if (c >= 0x20 && c < 0x7F) {
            putc(c, out);
            p++;
        } else if (c >= 0x80 && (n = utf8_seq_len(p)) > 0 &&
                   !(c == 0xC2 && p[1] < 0xA0)) {
            /* Well-formed and not a C1 control (U+0080..U+009F), which some
             * terminals act on. */
            fwrite(p, 1, n, out);
            p += n;
        } else {
            fprintf(out, "\\%03u", c);
            p++;
        }
    }
}

void hastls_cli_print_errors(const char *err)
{
    const char *p = err;
    while (*p) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(stderr, "hastls: %.*s\n", n, p);
        p += n + (nl ? 1 : 0);
    }
}

void hastls_cli_log(enum hastls_log_level level, const char *msg)
{
    fprintf(stderr, "hastls: %s%s\n", level == HASTLS_LOG_ERROR ? "error: " : "", msg);
}
