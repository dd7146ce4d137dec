/* shim/core/ip.h: one IPv4 or IPv6 address, and the 16-byte key the shim uses
 * everywhere (IPv4 as v4-mapped IPv6, so ::ffff:192.0.2.1 and 192.0.2.1 are
 * the same host to the address map). */
#ifndef HASTLS_SHIM_IP_H
#define HASTLS_SHIM_IP_H

#include <stdint.h>
#include <sys/socket.h>

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

/* Formats KEY as an address ("192.0.2.1" for v4-mapped keys, else IPv6). */
const char *hastls_key_format(const uint8_t key[16], char *buf, size_t len);

#endif
