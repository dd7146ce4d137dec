/* policy/srv.c: the SRV codec (srv.h). */
#include <stdio.h>
#include <string.h>

#include "policy/srv.h"

const char *hastls_srv_strerror(int err)
{
    switch (err) {
    case HASTLS_SRV_OK:
        return "no error";
    case HASTLS_SRV_SHORT:
        return "shorter than the six fixed octets";
    case HASTLS_SRV_BAD_NAME:
        return "malformed target name";
    case HASTLS_SRV_TRAILING:
        return "bytes after the target name";
    case HASTLS_SRV_NO_SPACE:
        return "output buffer too small";
    default:
        return "unknown error";
    }
}

int hastls_srv_decode(const uint8_t *msg, size_t len, const uint8_t *rdata, size_t rdlen,
                      struct hastls_srv *out)
{
    struct hastls_dns_rd r;
    if (!rdata)
        return HASTLS_SRV_SHORT;
    hastls_dns_rd_init(&r, rdata, rdlen);
    if (hastls_dns_rd_u16(&r, &out->priority) < 0 ||
        hastls_dns_rd_u16(&r, &out->weight) < 0 || hastls_dns_rd_u16(&r, &out->port) < 0)
        return HASTLS_SRV_SHORT;
    /* The target: read in the message when RDATA lies inside it (compared
     * as addresses, not through pointer arithmetic across objects). */
    const uint8_t *base = rdata;
    size_t blen = rdlen, off = 6, next;
    uintptr_t m = (uintptr_t)msg, d = (uintptr_t)rdata;
    if (msg && d >= m && d - m < len && rdlen <= len - (d - m)) {
        base = msg;
        blen = len;
        off = (size_t)(d - m) + 6;
    }
    if (hastls_dns_read_name(base, blen, off, out->target, sizeof out->target, &next) < 0)
        return HASTLS_SRV_BAD_NAME;
    if (next > off - 6 + rdlen)
        return HASTLS_SRV_BAD_NAME; /* the name runs past the RDATA */
    if (next != off - 6 + rdlen)
        return HASTLS_SRV_TRAILING;
    return HASTLS_SRV_OK;
}

int hastls_srv_is_null(const struct hastls_srv *s)
{
    return !strcmp(s->target, ".");
}

void hastls_srv_order(struct hastls_srv *v, size_t n)
{
    /* Insertion sort: stable, and an RRset is short. */
    for (size_t i = 1; i < n; i++) {
        struct hastls_srv x = v[i];
        size_t j = i;
        while (j > 0 &&
               (v[j - 1].priority > x.priority ||
                (v[j - 1].priority == x.priority && v[j - 1].weight < x.weight))) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

int hastls_srv_format(const struct hastls_srv *s, char *buf, size_t buflen)
{
    int n =
        snprintf(buf, buflen, "%u %u %u %s", s->priority, s->weight, s->port, s->target);
    if (n < 0 || (size_t)n >= buflen) {
        if (buflen)
            buf[0] = '\0';
        return HASTLS_SRV_NO_SPACE;
    }
    return n;
}
