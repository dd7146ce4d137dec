/* policy/srv.h: the SRV resource record (RFC 2782).
 *
 * RDATA: priority, weight, port (two octets each, network order), then the
 * target host name.  The target should not be compressed (RFC 2782), but
 * resolvers pass on what servers send: when the RDATA lies inside its
 * message, a compression pointer into the rest of the message is followed
 * (backwards only, as policy/dnswire.h reads every name).  A target of "."
 * says that the service is decidedly not available at the domain.
 *
 * Pure: no I/O, no allocation; every byte is read through policy/dnswire.h.
 */
#ifndef HASTLS_POLICY_SRV_H
#define HASTLS_POLICY_SRV_H

#include <stddef.h>
#include <stdint.h>

#include "policy/config.h"
#include "policy/dnswire.h"

#define HASTLS_DNS_TYPE_SRV 33

struct hastls_srv {
    uint16_t priority;
    uint16_t weight;
    uint16_t port;
    char target[HASTLS_NAME_MAX]; /* presentation form, no final dot; "." */
};

enum hastls_srv_error {
    HASTLS_SRV_OK = 0,
    HASTLS_SRV_SHORT = -1,    /* fewer than the six fixed octets */
    HASTLS_SRV_BAD_NAME = -2, /* the target is malformed or too long */
    HASTLS_SRV_TRAILING = -3, /* bytes after the target inside the RDATA */
    HASTLS_SRV_NO_SPACE = -4, /* output buffer too small */
};

/* A short English description of an error code, for messages. */
const char *hastls_srv_strerror(int err);

/* Decodes the SRV RDATA (RDLEN bytes) into *OUT.  MSG (LEN bytes, may be
 * NULL) is the message RDATA came from, for compressed targets.  Returns
 * HASTLS_SRV_OK or an error (OUT unspecified then). */
int hastls_srv_decode(const uint8_t *msg, size_t len, const uint8_t *rdata, size_t rdlen,
                      struct hastls_srv *out);

/* Whether *S says "no such service here" (target "."). */
int hastls_srv_is_null(const struct hastls_srv *s);

/* Sorts V[0..N) into the order of RFC 2782's selection for a client that
 * picks, within each priority, the higher weight first (deterministic: equal
 * weights keep their order). */
void hastls_srv_order(struct hastls_srv *v, size_t n);

/* "10 60 5222 xmpp.example" into BUF.  Returns the length written, or
 * HASTLS_SRV_NO_SPACE (BUF still NUL-terminated when BUFLEN > 0). */
int hastls_srv_format(const struct hastls_srv *s, char *buf, size_t buflen);

#endif
