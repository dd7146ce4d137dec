/* shim/hooks/send.c: sendto(2), sendmsg(2), sendmmsg(2) with a destination.
 *
 * An unconnected UDP socket names its destination per datagram (and TCP Fast
 * Open connects with sendto()); those are decided like connect().  Without a
 * destination the socket is connected and connect() was decided already.
 *
 * A datagram to port 53 is the program's own DNS query: with dns_redirect
 * (the default) it goes to the shim's responder instead (dnsredir.h), which
 * answers it through the validating resolver.  With dns_redirect = no it is
 * decided like any other destination (refused under strict and encrypted).
 */
#include <errno.h>
#include <sys/socket.h>

#include "shim/core/dnsredir.h"
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
    if (dest && hastls_dnsredir_wanted(dest, destlen, __builtin_return_address(0))) {
        struct sockaddr_storage to;
        socklen_t tolen;
        int rc = hastls_dnsredir_divert(fd, dest, destlen, 0, &to, &tolen);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return real(fd, buf, len, flags, (const struct sockaddr *)&to, tolen);
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
        hastls_dnsredir_wanted(msg->msg_name, msg->msg_namelen,
                               __builtin_return_address(0))) {
        struct sockaddr_storage to;
        struct msghdr m = *msg;
        int rc = hastls_dnsredir_divert(fd, msg->msg_name, msg->msg_namelen, 0, &to,
                                        &m.msg_namelen);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            m.msg_name = &to;
            return real(fd, &m, flags);
        }
    }
    if (msg && msg->msg_name &&
        hastls_enforce(msg->msg_name, msg->msg_namelen, "send") < 0)
        return -1;
    return real(fd, msg, flags);
}

#define MMSG_REDIRECTS 64 /* port-53 messages redirected per call */

/* Sends the messages before the first refused one.  Returns their count, or
 * -1/EACCES when the first message is refused.  Messages to port 53 go to
 * the responder (their names are swapped for the call and put back). */
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
    struct sockaddr_storage to[MMSG_REDIRECTS];
    void *name[MMSG_REDIRECTS];
    socklen_t namelen[MMSG_REDIRECTS];
    unsigned int ok = 0, swapped = 0;
    int err = 0;
    for (; ok < vlen; ok++) {
        struct msghdr *m = &vec[ok].msg_hdr;
        if (!m->msg_name)
            continue;
        if (hastls_dnsredir_wanted(m->msg_name, m->msg_namelen,
                                   __builtin_return_address(0))) {
            if (ok >= MMSG_REDIRECTS)
                break; /* the rest in a later call */
            socklen_t tl;
            int rc =
                hastls_dnsredir_divert(fd, m->msg_name, m->msg_namelen, 0, &to[ok], &tl);
            if (rc < 0) {
                err = errno;
                break;
            }
            if (rc == 0) {
                name[ok] = m->msg_name;
                namelen[ok] = m->msg_namelen;
                m->msg_name = &to[ok];
                m->msg_namelen = tl;
                swapped = ok + 1;
                continue;
            }
        }
        if (hastls_enforce(m->msg_name, m->msg_namelen, "send") < 0) {
            err = errno;
            break;
        }
    }
    int n = -1;
    if (ok > 0 || vlen == 0)
        n = real(fd, vec, ok, flags);
    int e = errno;
    for (unsigned int i = 0; i < swapped; i++)
        if (vec[i].msg_hdr.msg_name == &to[i]) {
            vec[i].msg_hdr.msg_name = name[i];
            vec[i].msg_hdr.msg_namelen = namelen[i];
        }
    if (ok == 0 && vlen > 0) {
        errno = err ? err : EACCES;
        return -1;
    }
    errno = e;
    return n;
}
