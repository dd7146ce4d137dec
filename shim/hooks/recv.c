/* shim/hooks/recv.c: recvfrom(2), recvmsg(2), recvmmsg(2), getpeername(2),
 * getsockname(2).
 *
 * A socket whose port-53 traffic the shim answers itself (dnsredir.h) gets
 * its answers from the shim's responder on loopback; these hooks report the
 * server the program sent to as their source, as the peer of a connected
 * socket, and getsockname() the local address the socket would have towards
 * that server (a common way to learn one's outgoing address is to connect a
 * UDP socket to a DNS server and ask).  Every other socket pays one byte load: the flag of its
 * descriptor (recv(2) and read(2) report no address and are not hooked).
 */
#include <errno.h>
#include <sys/socket.h>

#include "shim/core/dnsredir.h"
#include "shim/core/real.h"

/* Returns what the next recvfrom() returns. */
__attribute__((visibility("default"))) ssize_t recvfrom(int fd, void *buf, size_t len,
                                                        int flags, struct sockaddr *src,
                                                        socklen_t *srclen)
{
    ssize_t (*real)(int, void *, size_t, int, struct sockaddr *, socklen_t *) =
        HASTLS_REAL(recvfrom);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (__builtin_expect(!hastls_dnsredir_marked(fd), 1) || !src || !srclen)
        return real(fd, buf, len, flags, src, srclen);
    socklen_t cap = *srclen;
    ssize_t n = real(fd, buf, len, flags, src, srclen);
    if (n >= 0)
        hastls_dnsredir_source(fd, src, cap, srclen);
    return n;
}

/* Returns what the next recvmsg() returns. */
__attribute__((visibility("default"))) ssize_t recvmsg(int fd, struct msghdr *msg,
                                                       int flags)
{
    ssize_t (*real)(int, struct msghdr *, int) = HASTLS_REAL(recvmsg);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (__builtin_expect(!hastls_dnsredir_marked(fd), 1) || !msg || !msg->msg_name)
        return real(fd, msg, flags);
    socklen_t cap = msg->msg_namelen;
    ssize_t n = real(fd, msg, flags);
    if (n >= 0)
        hastls_dnsredir_source(fd, msg->msg_name, cap, &msg->msg_namelen);
    return n;
}

#define MMSG_CAPS 64 /* messages whose source is fixed per call */

/* Returns what the next recvmmsg() returns. */
__attribute__((visibility("default"))) int recvmmsg(int fd, struct mmsghdr *vec,
                                                    unsigned int vlen, int flags,
                                                    struct timespec *timeout)
{
    int (*real)(int, struct mmsghdr *, unsigned int, int, struct timespec *) =
        HASTLS_REAL(recvmmsg);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (__builtin_expect(!hastls_dnsredir_marked(fd), 1) || !vec)
        return real(fd, vec, vlen, flags, timeout);
    socklen_t cap[MMSG_CAPS];
    if (vlen > MMSG_CAPS)
        vlen = MMSG_CAPS; /* fewer messages per call, as the kernel may give */
    for (unsigned i = 0; i < vlen; i++)
        cap[i] = vec[i].msg_hdr.msg_namelen;
    int n = real(fd, vec, vlen, flags, timeout);
    for (int i = 0; i < n; i++)
        if (vec[i].msg_hdr.msg_name)
            hastls_dnsredir_source(fd, vec[i].msg_hdr.msg_name, cap[i],
                                   &vec[i].msg_hdr.msg_namelen);
    return n;
}

/* Returns what the next getpeername() returns. */
__attribute__((visibility("default"))) int getpeername(int fd, struct sockaddr *addr,
                                                       socklen_t *len)
{
    int (*real)(int, struct sockaddr *, socklen_t *) = HASTLS_REAL(getpeername);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (__builtin_expect(!hastls_dnsredir_marked(fd), 1) || !addr || !len)
        return real(fd, addr, len);
    socklen_t cap = *len;
    int rc = real(fd, addr, len);
    if (rc == 0)
        hastls_dnsredir_source(fd, addr, cap, len);
    return rc;
}

/* Returns what the next getsockname() returns. */
__attribute__((visibility("default"))) int getsockname(int fd, struct sockaddr *addr,
                                                       socklen_t *len)
{
    int (*real)(int, struct sockaddr *, socklen_t *) = HASTLS_REAL(getsockname);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (__builtin_expect(!hastls_dnsredir_marked(fd), 1) || !addr || !len)
        return real(fd, addr, len);
    socklen_t cap = *len;
    int rc = real(fd, addr, len);
    if (rc == 0)
        hastls_dnsredir_local(fd, addr, cap, len);
    return rc;
}
