/* policy/tlsa.c: the TLSA codec and the meaning of a TLSA answer (tlsa.h). */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/tlsa.h"

const char *hastls_tlsa_strerror(int err)
{
    switch (err) {
    case HASTLS_TLSA_OK:
        return "no error";
    case HASTLS_TLSA_SHORT:
        return "shorter than the three fixed octets";
    case HASTLS_TLSA_BAD_USAGE:
        return "unknown certificate usage";
    case HASTLS_TLSA_BAD_SELECTOR:
        return "unknown selector";
    case HASTLS_TLSA_BAD_MTYPE:
        return "unknown matching type";
    case HASTLS_TLSA_BAD_DIGEST:
        return "data length differs from the digest's";
    case HASTLS_TLSA_NO_DATA:
        return "no certificate association data";
    case HASTLS_TLSA_NO_SPACE:
        return "output buffer too small";
    default:
        return "unknown error";
    }
}

int hastls_tlsa_decode(const uint8_t *rdata, size_t len, struct hastls_tlsa *out)
{
    struct hastls_dns_rd r;
    struct hastls_tlsa t;
    const uint8_t *data = NULL;

    hastls_dns_rd_init(&r, rdata, len);
    if (hastls_dns_rd_u8(&r, &t.usage) < 0 || hastls_dns_rd_u8(&r, &t.selector) < 0 ||
        hastls_dns_rd_u8(&r, &t.mtype) < 0)
        return HASTLS_TLSA_SHORT;
    size_t dlen = hastls_dns_rd_left(&r);
    if (hastls_dns_rd_bytes(&r, &data, dlen) < 0 || dlen > UINT16_MAX)
        return HASTLS_TLSA_SHORT;
    t.dlen = (uint16_t)dlen;
    t.data = data;
    *out = t;
    if (t.usage > HASTLS_TLSA_DANE_EE)
        return HASTLS_TLSA_BAD_USAGE;
    if (t.selector > 1)
        return HASTLS_TLSA_BAD_SELECTOR;
    switch (t.mtype) {
    case 0:
        return t.dlen ? HASTLS_TLSA_OK : HASTLS_TLSA_NO_DATA;
    case 1:
        return t.dlen == 32 ? HASTLS_TLSA_OK : HASTLS_TLSA_BAD_DIGEST;
    case 2:
        return t.dlen == 64 ? HASTLS_TLSA_OK : HASTLS_TLSA_BAD_DIGEST;
    default:
        return HASTLS_TLSA_BAD_MTYPE;
    }
}

int hastls_tlsa_format(const struct hastls_tlsa *t, char *buf, size_t buflen)
{
    static const char hex[] = "0123456789abcdef";
    if (buflen)
        buf[0] = '\0';
    int n = snprintf(buf, buflen, "%u %u %u ", t->usage, t->selector, t->mtype);
    if (n < 0 || (size_t)n >= buflen)
        return HASTLS_TLSA_NO_SPACE;
    size_t need = (size_t)n + 2 * (size_t)t->dlen + 1;
    if (need > buflen) {
        buf[0] = '\0';
        return HASTLS_TLSA_NO_SPACE;
    }
    size_t o = (size_t)n;
    for (size_t i = 0; i < t->dlen; i++) {
        buf[o++] = hex[t->data[i] >> 4];
        buf[o++] = hex[t->data[i] & 15];
    }
    if (!t->dlen)
        buf[--o] = '\0'; /* no trailing space without data */
    buf[o] = '\0';
    return (int)o;
}

const char *hastls_dane_name(enum hastls_dane d)
{
    static const char *const names[] = {"use", "none", "insecure", "bogus", "failed"};
    if ((unsigned)d >= sizeof names / sizeof names[0])
        return "?";
    return names[d];
}

enum hastls_dane hastls_dane_state(enum hastls_sec status, int rcode, size_t nusable)
{
    switch (status) {
    case HASTLS_SEC_INSECURE:
        return HASTLS_DANE_INSECURE;
    case HASTLS_SEC_BOGUS:
        return HASTLS_DANE_BOGUS;
    case HASTLS_SEC_SECURE:
        break;
    default:
        return HASTLS_DANE_FAILED;
    }
    if (rcode == 3) /* NXDOMAIN */
        return HASTLS_DANE_NONE;
    if (rcode != 0)
        return HASTLS_DANE_FAILED;
    return nusable ? HASTLS_DANE_USE : HASTLS_DANE_NONE;
}

size_t hastls_tlsa_usable(const struct hastls_rr *rr, size_t nrr, struct hastls_tlsa *out,
                          size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < nrr; i++) {
        struct hastls_tlsa t;
        if (rr[i].type != HASTLS_DNS_TYPE_TLSA)
            continue;
        if (hastls_tlsa_decode(rr[i].rdata, rr[i].rdlen, &t) != HASTLS_TLSA_OK)
            continue;
        if (n < cap)
            out[n] = t;
        n++;
    }
    return n;
}

int hastls_tlsa_owner(uint16_t port, const char *proto, const char *name, char *out,
                      size_t outlen)
{
    if (!name || !*name || !proto)
        return -1;
    int n = snprintf(out, outlen, "_%u._%s.%s", port, proto, name);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    return 0;
}

const char *hastls_tlsa_prefetch_proto(uint16_t port, int socktype, int protocol)
{
    if (port == 0 || port == 53 || port == 80 || port == 123)
        return NULL;
    if ((socktype == SOCK_STREAM || socktype == 0) &&
        (protocol == IPPROTO_TCP || protocol == 0))
        return "tcp";
    if ((socktype == SOCK_DGRAM || socktype == 0) &&
        (protocol == IPPROTO_UDP || protocol == 0))
        return "udp";
    return NULL;
}
