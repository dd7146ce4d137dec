/* shim/core/hostname.c: the host-name check of glibc's DNS source (see
 * hostname.h). */
#include <stddef.h>

#include "shim/core/hostname.h"

#define WIRE_MAX 255 /* a domain name in wire form, root label included */
#define LABEL_MAX 63

static int host_byte(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
           (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_';
}

/* Reads one byte of a label at *P, decoding an escape.  Returns the byte
 * value, or -1 for a malformed escape.  *P moves past what was read. */
static int label_byte(const char **p)
{
    const char *s = *p;
    if (s[0] != '\\') {
        *p = s + 1;
        return (unsigned char)s[0];
    }
    if (s[1] == '\0')
        return -1; /* a trailing backslash */
    if (s[1] < '0' || s[1] > '9') {
        *p = s + 2;
        return (unsigned char)s[1];
    }
    if (s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9')
        return -1;
    int v = (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    *p = s + 4;
    return v > 255 ? -1 : v;
}

int hastls_hostname_ok(const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p <= ' ' || *p > '~')
            return 0;
    if (name[0] == '.' && name[1] == '\0')
        return 1;    /* the root */
    size_t wire = 1; /* the root label at the end */
    int first = 1;
    const char *p = name;
    while (*p) {
        size_t len = 0;
        while (*p && *p != '.') {
            int ch = label_byte(&p);
            if (ch < 0 || !host_byte((unsigned char)ch) ||
                (first && len == 0 && ch == '-'))
                return 0;
            len++;
        }
        if (len == 0 || len > LABEL_MAX)
            return 0; /* an empty label, or one too long */
        wire += len + 1;
        if (wire > WIRE_MAX)
            return 0;
        first = 0;
        if (*p == '.')
            p++; /* a final dot ends the name: the loop stops */
    }
    return 1;
}
