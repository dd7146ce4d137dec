/* shim/core/ip.c: address keys (see ip.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "shim/core/ip.h"

void hastls_ip_key(int family, const void *addr, uint8_t key[16])
{
    if (family == AF_INET) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        memcpy(key, mapped, 12);
        memcpy(key + 12, addr, 4);
    } else {
        memcpy(key, addr, 16);
    }
}

int hastls_sockaddr_key(const struct sockaddr *sa, socklen_t len, uint8_t key[16],
                        uint16_t *port)
{
    if (!sa || len < (socklen_t)sizeof(sa_family_t))
        return -1;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        hastls_ip_key(AF_INET, &s4->sin_addr, key);
        *port = ntohs(s4->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        hastls_ip_key(AF_INET6, &s6->sin6_addr, key);
        *port = ntohs(s6->sin6_port);
        return 0;
    }
    return -1;
}

const char *hastls_key_format(const uint8_t key[16], char *buf, size_t len)
{
    struct in6_addr a6;
    memcpy(&a6, key, 16);
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        if (!inet_ntop(AF_INET, key + 12, buf, (socklen_t)len))
            buf[0] = '\0';
    } else if (!inet_ntop(AF_INET6, key, buf, (socklen_t)len)) {
        buf[0] = '\0';
    }
    return buf;
}
