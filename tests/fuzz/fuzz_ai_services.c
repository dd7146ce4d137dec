/* tests/fuzz/fuzz_ai_services.c: getaddrinfo's service parsing
 * (shim/core/ai.c, hastls_ai_services) on arbitrary input: the first four
 * bytes pick the hints' flags, socket type and protocol, the rest is the
 * service string (numbers, names looked up in /etc/services, garbage). */
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "shim/core/ai.h"

static const int socktypes[] = {
    0, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET, SOCK_DCCP, 99, -1};
static const int protocols[] = {
    0, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_UDPLITE, IPPROTO_DCCP, 255, -1};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = (data[0] & 1) ? AI_NUMERICSERV : 0;
    hints.ai_socktype = socktypes[data[1] % 8];
    hints.ai_protocol = protocols[data[2] % 8];
    char service[256];
    size_t n = size - 4 < sizeof service - 1 ? size - 4 : sizeof service - 1;
    memcpy(service, data + 4, n);
    service[n] = '\0';
    struct hastls_svc_list out;
    memset(&out, 0xa5, sizeof out);
    int rc = hastls_ai_services((data[3] & 1) ? NULL : service, &hints, &out);
    if (rc == 0) {
        if (out.n > HASTLS_AI_MAX_SVC)
            __builtin_trap();
        for (size_t i = 0; i < out.n; i++)
            if (hints.ai_socktype && out.s[i].socktype != hints.ai_socktype)
                __builtin_trap();
    } else if (rc != EAI_SERVICE && rc != EAI_SOCKTYPE && rc != EAI_NONAME) {
        __builtin_trap();
    }
    return 0;
}
