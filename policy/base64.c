/* policy/base64.c: see base64.h. */
#include "policy/base64.h"

#include <string.h>

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int hastls_base64_decode(const char *text, uint8_t *out, size_t cap, size_t *len)
{
    size_t tlen = strlen(text);
    size_t pad = 0;

    while (pad < tlen && pad < 3 && text[tlen - 1 - pad] == '=')
        pad++;
    if (pad) {
        /* Padding only completes the last group of four. */
        if (tlen % 4 != 0 || pad > 2)
            return -1;
    }
    size_t nchars = tlen - pad;
    /* One character left over in a group cannot encode a whole byte. */
    if (nchars % 4 == 1)
        return -1;
    size_t need = nchars / 4 * 3 + (nchars % 4 ? nchars % 4 - 1 : 0);
    if (need > cap)
        return -1;

    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t k = 0; k < nchars; k++) {
        int v = b64_value((unsigned char)text[k]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits must be zero: reject "non-canonical" encodings. */
    if (acc != 0)
        return -1;
    *len = o;
    return 0;
}
