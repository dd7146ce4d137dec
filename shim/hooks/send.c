/* shim/hooks/send.c: sendto(2), sendmsg(2), sendmmsg(2) with a destination.
 *
 * An unconnected UDP socket names its destination per datagram (and TCP Fast
 * Open connects with sendto()); those are decided like connect().  Without a
 * destination the socket is connected and connect() was decided already.
 */
#include <errno.h>
#include <sys/socket.h>

#include "shim/core/enforce.h"
#include "shim/core/real.h"

/* Returns what the next sendto() returns, or -1/EACCES when refused. */
__attribute__((visibility("default"))) ssize_t sendto(int fd, const void *buf, size_t len,
                                                      int flags,
                                                      const struct sockaddr *dest,
                                                      socklen_t destlen)
{
    ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t) =
        HASTLS_REAL(sendto);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (dest && hastls_enforce(dest, destlen, "send") < 0)
        return -1;
    return real(fd, buf, len, flags, dest, destlen);
}

/* Returns what the next sendmsg() returns, or -1/EACCES when refused. */
__attribute__((visibility("default"))) ssize_t sendmsg(int fd, const struct msghdr *msg,
                                                       int flags)
{
    ssize_t (*real)(int, const struct msghdr *, int) = HASTLS_REAL(sendmsg);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (msg && msg->msg_name &&
        hastls_enforce(msg->msg_name, msg->msg_namelen, "send") < 0)
        return -1;
    return real(fd, msg, flags);
}

/* Sends the messages before the first refused one.  Returns their count, or
 * -1/EACCES when the first message is refused. */
__attribute__((visibility("default"))) int sendmmsg(int fd, struct mmsghdr *vec,
                                                    unsigned int vlen, int flags)
{
    int (*real)(int, struct mmsghdr *, unsigned int, int) = HASTLS_REAL(sendmmsg);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (!vec)
        return real(fd, vec, vlen, flags); /* EFAULT, from the kernel */
    unsigned int ok = 0;
    for (; ok < vlen; ok++) {
        const struct msghdr *m = &vec[ok].msg_hdr;
        if (m->msg_name && hastls_enforce(m->msg_name, m->msg_namelen, "send") < 0)
            break;
    }
    if (ok == 0 && vlen > 0)
        return -1;
    return real(fd, vec, ok, flags);
}
