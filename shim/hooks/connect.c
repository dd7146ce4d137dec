/* shim/hooks/connect.c: connect(2).
 *
 * TCP and UDP alike: a UDP connect() fixes the destination of later send()s.
 * The decision is made before the real call, so a non-blocking connect keeps
 * its semantics (EINPROGRESS and all) when allowed.
 *
 * A connect() to port 53 is the program's own DNS client: with dns_redirect
 * (the default) the socket is connected to the shim's responder instead
 * (dnsredir.h), and getpeername() reports the address the program asked
 * for.  With dns_redirect = no it is decided as any other destination.
 */
#include <errno.h>
#include <sys/socket.h>

#include "shim/core/dane.h"
#include "shim/core/dnsredir.h"
#include "shim/core/enforce.h"
#include "shim/core/real.h"

/* Returns what the next connect() returns, or -1 with errno EACCES when the
 * policy refuses the destination. */
__attribute__((visibility("default"))) int connect(int fd, const struct sockaddr *addr,
                                                   socklen_t len)
{
    int (*real)(int, const struct sockaddr *, socklen_t) = HASTLS_REAL(connect);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (hastls_dnsredir_wanted(addr, len, __builtin_return_address(0))) {
        struct sockaddr_storage to;
        socklen_t tolen;
        int rc = hastls_dnsredir_divert(fd, addr, len, 1, &to, &tolen);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return real(fd, (const struct sockaddr *)&to, tolen);
    }
    if (hastls_enforce(addr, len, "connect") < 0)
        return -1;
    hastls_dane_note_connect(fd, addr, len);
    return real(fd, addr, len);
}
