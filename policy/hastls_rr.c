/* policy/hastls_rr.c: wire and presentation forms of the HASTLS record.
 *
 * Every length is checked before a byte is read or written; the codec never
 * allocates.  The presentation parser accepts exactly the form of seed 000,
 * section 3: an optional "(" ... ")" around decimal port numbers separated by
 * white space.  Both parentheses or neither: an unbalanced one is a syntax
 * error, and so is anything after the closing one.
 */
#include "policy/hastls_rr.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

const char *hastls_rr_strerror(int err)
{
    switch (err) {
    case HASTLS_RR_OK:
        return "no error";
    case HASTLS_RR_EMPTY:
        return "no port pair";
    case HASTLS_RR_BAD_LENGTH:
        return "RDATA length is not a multiple of 4";
    case HASTLS_RR_ZERO_PAIR:
        return "the pair (0 0) is undefined";
    case HASTLS_RR_TOO_MANY:
        return "too many port pairs";
    case HASTLS_RR_SYNTAX:
        return "syntax error (expected \"(INSECURE SECURE ...)\")";
    case HASTLS_RR_ODD_COUNT:
        return "a port without its partner (odd count)";
    case HASTLS_RR_PORT_RANGE:
        return "port number over 65535";
    case HASTLS_RR_NO_SPACE:
        return "output buffer too small";
    }
    return "unknown error";
}

int hastls_rdata_decode(const uint8_t *rdata, size_t len, struct hastls_pair *out,
                        size_t cap, size_t *n)
{
    if (len == 0)
        return HASTLS_RR_EMPTY;
    /* An RDATA is at most 65535 bytes; more cannot come from the wire. */
    if (len % 4 != 0 || len > 65535)
        return HASTLS_RR_BAD_LENGTH;
    size_t count = len / 4;
    if (*n > cap || count > cap - *n)
        return HASTLS_RR_TOO_MANY;
    /* Validate everything before writing, so *N and OUT stay as they were on
     * error (OUT past *N is scratch, but callers should not see half a record). */
    for (size_t k = 0; k < count; k++) {
        const uint8_t *p = rdata + 4 * k;
        if ((p[0] | p[1] | p[2] | p[3]) == 0)
            return HASTLS_RR_ZERO_PAIR;
    }
    for (size_t k = 0; k < count; k++) {
        const uint8_t *p = rdata + 4 * k;
        out[*n + k].insecure = (uint16_t)(p[0] << 8 | p[1]);
        out[*n + k].secure = (uint16_t)(p[2] << 8 | p[3]);
    }
    *n += count;
    return HASTLS_RR_OK;
}

int hastls_rdata_encode(const struct hastls_pair *pairs, size_t n, uint8_t *out,
                        size_t cap, size_t *len)
{
    if (n == 0)
        return HASTLS_RR_EMPTY;
    if (n > HASTLS_RDATA_MAX_PAIRS)
        return HASTLS_RR_TOO_MANY;
    for (size_t k = 0; k < n; k++)
        if (pairs[k].insecure == 0 && pairs[k].secure == 0)
            return HASTLS_RR_ZERO_PAIR;
    if (cap < 4 * n)
        return HASTLS_RR_NO_SPACE;
    for (size_t k = 0; k < n; k++) {
        out[4 * k] = (uint8_t)(pairs[k].insecure >> 8);
        out[4 * k + 1] = (uint8_t)pairs[k].insecure;
        out[4 * k + 2] = (uint8_t)(pairs[k].secure >> 8);
        out[4 * k + 3] = (uint8_t)pairs[k].secure;
    }
    *len = 4 * n;
    return HASTLS_RR_OK;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int fail(int err, size_t pos, size_t *errpos)
{
    if (errpos)
        *errpos = pos;
    return err;
}

int hastls_pairs_parse(const char *text, struct hastls_pair *out, size_t cap, size_t *n,
                       size_t *errpos)
{
    size_t i = 0, count = 0, ports = 0;
    size_t open_pos = 0, first_of_pair = 0;
    int open = 0, closed = 0;
    uint16_t insecure = 0;

    while (is_space(text[i]))
        i++;
    if (text[i] == '(') {
        open = 1;
        open_pos = i++;
    }
    for (;;) {
        while (is_space(text[i]))
            i++;
        char c = text[i];
        if (c == '\0')
            break;
        if (c == ')') {
            if (!open)
                return fail(HASTLS_RR_SYNTAX, i, errpos);
            closed = 1;
            i++;
            while (is_space(text[i]))
                i++;
            if (text[i] != '\0')
                return fail(HASTLS_RR_SYNTAX, i, errpos);
            break;
        }
        if (c < '0' || c > '9')
            return fail(HASTLS_RR_SYNTAX, i, errpos);
        size_t start = i;
        unsigned long v = 0;
        while (text[i] >= '0' && text[i] <= '9') {
            v = v * 10 + (unsigned long)(text[i] - '0');
            if (v > 65535) /* also stops the accumulator from overflowing */
                return fail(HASTLS_RR_PORT_RANGE, start, errpos);
            i++;
        }
        /* A number must end at white space, ')' or the end: "443x" is junk. */
        if (text[i] != '\0' && text[i] != ')' && !is_space(text[i]))
            return fail(HASTLS_RR_SYNTAX, i, errpos);
        if (ports % 2 == 0) {
            insecure = (uint16_t)v;
            first_of_pair = start;
        } else {
            if (insecure == 0 && v == 0)
                return fail(HASTLS_RR_ZERO_PAIR, first_of_pair, errpos);
            if (count >= cap)
                return fail(HASTLS_RR_TOO_MANY, first_of_pair, errpos);
            out[count].insecure = insecure;
            out[count].secure = (uint16_t)v;
            count++;
        }
        ports++;
    }
    if (open && !closed)
        return fail(HASTLS_RR_SYNTAX, open_pos, errpos);
    if (ports % 2 != 0)
        return fail(HASTLS_RR_ODD_COUNT, first_of_pair, errpos);
    if (count == 0)
        return fail(HASTLS_RR_EMPTY, i, errpos);
    *n = count;
    return HASTLS_RR_OK;
}

int hastls_pairs_format(const struct hastls_pair *pairs, size_t n, char *buf,
                        size_t buflen)
{
    size_t used = 0;

    if (buflen == 0)
        return HASTLS_RR_NO_SPACE;
    buf[0] = '\0';
    /* "(" + per pair "I S" with a separating space + ")" */
    if (buflen < 2)
        return HASTLS_RR_NO_SPACE;
    buf[used++] = '(';
    for (size_t k = 0; k < n; k++) {
        char tmp[16];
        int w = snprintf(tmp, sizeof tmp, "%s%u %u", k ? " " : "",
                         (unsigned)pairs[k].insecure, (unsigned)pairs[k].secure);
        if (w < 0 || (size_t)w + 2 > buflen - used) { /* room for ")" and NUL */
            buf[used] = '\0';
            return HASTLS_RR_NO_SPACE;
        }
        memcpy(buf + used, tmp, (size_t)w);
        used += (size_t)w;
    }
    if (buflen - used < 2) {
        buf[used] = '\0';
        return HASTLS_RR_NO_SPACE;
    }
    buf[used++] = ')';
    buf[used] = '\0';
    /* A caller may format more pairs than one RDATA holds; the length must
     * still fit the int we return. */
    if (used > (size_t)INT_MAX)
        return HASTLS_RR_NO_SPACE;
    return (int)used;
}
