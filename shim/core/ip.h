/* shim/core/ip.h: one IPv4 or IPv6 address, and the 16-byte key the shim uses
 * everywhere (IPv4 as v4-mapped IPv6, so ::ffff:192.0.2.1 and 192.0.2.1 are
 * the same host to the address map). */
#ifndef HASTLS_SHIM_IP_H
#define HASTLS_SHIM_IP_H

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/config.h"

struct hastls_ip {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* AF_INET: the first 4 bytes */
};

/* The map key of FAMILY/ADDR (4 or 16 bytes). */
void hastls_ip_key(int family, const void *addr, uint8_t key[16]);

/* The key and port (host order) of an AF_INET/AF_INET6 socket address of LEN
 * bytes.  Returns 0, or -1 for any other family or a short address. */
int hastls_sockaddr_key(const struct sockaddr *sa, socklen_t len, uint8_t key[16],
                        uint16_t *port);

/* Whether KEY, PORT is one of CFG's upstreams on its DoT port: the
 * resolver's own destination.  (Port 53 to an upstream is not it: the
 * resolver never uses cleartext under strict/encrypted.)  Inline: every
 * connect() asks. */
static inline int hastls_ip_is_upstream(const struct hastls_config *cfg,
                                        const uint8_t key[16], uint16_t port)
{
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        uint8_t k[16];
        const struct hastls_upstream *u = &cfg->upstreams[i];
        hastls_ip_key(u->family,
                      u->family == AF_INET ? (const void *)&u->addr.v4
                                           : (const void *)&u->addr.v6,
                      k);
        if (port == u->port && !memcmp(k, key, 16))
            return 1;
    }
    return 0;
}

/* Formats KEY as an address ("192.0.2.1" for v4-mapped keys, else IPv6). */
const char *hastls_key_format(const uint8_t key[16], char *buf, size_t len);

#endif
