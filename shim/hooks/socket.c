/* shim/hooks/socket.c: the calls that create and close descriptors, and
 * pthread_create(3).
 *
 * Calls from the program pass through untouched.  Calls from libunbound (the
 * resolver's validating library: its code, or a thread it started, see
 * shim/core/ownfd.h) create their descriptors close-on-exec in the same
 * system call and record them, so that neither an exec()ed program nor a fork
 * child inherits them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim/core/dnsredir.h"
#include "shim/core/ownfd.h"
#include "shim/core/real.h"

/* Records the descriptors FDS[0..N) that a call from libunbound made (the
 * caller holds hastls_lock_ownfd).  Returns 0, or -1 with errno EMFILE and
 * every one of them closed when the table is full. */
static int record(const int *fds, int n)
{
    int (*real_close)(int) = HASTLS_REAL(close);
    for (int i = 0; i < n; i++)
        if (hastls_ownfd_add(fds[i]) < 0) {
            for (int j = 0; j < i; j++)
                hastls_ownfd_remove(fds[j]);
            for (int j = 0; j < n && real_close; j++)
                real_close(fds[j]);
            errno = EMFILE;
            return -1;
        }
    return 0;
}

/* Returns what the next socket() returns (-1 with errno EMFILE when a call
 * from libunbound finds the table full). */
__attribute__((visibility("default"))) int socket(int domain, int type, int protocol)
{
    int (*real)(int, int, int) = HASTLS_REAL(socket);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (!hastls_ownfd_from_resolver(__builtin_return_address(0)))
        return real(domain, type, protocol);
    pthread_mutex_lock(&hastls_lock_ownfd);
    int fd = real(domain, type | SOCK_CLOEXEC, protocol);
    if (fd >= 0 && record(&fd, 1) < 0)
        fd = -1;
    pthread_mutex_unlock(&hastls_lock_ownfd);
    return fd;
}

/* Returns what the next socketpair() returns (as socket() for libunbound). */
__attribute__((visibility("default"))) int socketpair(int domain, int type, int protocol,
                                                      int sv[2])
{
    int (*real)(int, int, int, int[2]) = HASTLS_REAL(socketpair);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (!hastls_ownfd_from_resolver(__builtin_return_address(0)))
        return real(domain, type, protocol, sv);
    pthread_mutex_lock(&hastls_lock_ownfd);
    int rc = real(domain, type | SOCK_CLOEXEC, protocol, sv);
    if (rc == 0 && record(sv, 2) < 0)
        rc = -1;
    pthread_mutex_unlock(&hastls_lock_ownfd);
    return rc;
}

/* Returns what the next accept4() returns (as socket() for libunbound). */
__attribute__((visibility("default"))) int accept4(int fd, struct sockaddr *addr,
                                                   socklen_t *len, int flags)
{
    int (*real)(int, struct sockaddr *, socklen_t *, int) = HASTLS_REAL(accept4);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (!hastls_ownfd_from_resolver(__builtin_return_address(0)))
        return real(fd, addr, len, flags);
    pthread_mutex_lock(&hastls_lock_ownfd);
    int nfd = real(fd, addr, len, flags | SOCK_CLOEXEC);
    if (nfd >= 0 && record(&nfd, 1) < 0)
        nfd = -1;
    pthread_mutex_unlock(&hastls_lock_ownfd);
    return nfd;
}

/* Returns what the next close() returns. */
__attribute__((visibility("default"))) int close(int fd)
{
    int (*real)(int) = HASTLS_REAL(close);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    hastls_dnsredir_closed(fd);
    if (!hastls_ownfd_from_resolver(__builtin_return_address(0)))
        return real(fd);
    pthread_mutex_lock(&hastls_lock_ownfd);
    hastls_ownfd_remove(fd);
    int rc = real(fd);
    pthread_mutex_unlock(&hastls_lock_ownfd);
    return rc;
}

/* Returns what the next pipe2() returns (as socket() for libunbound). */
__attribute__((visibility("default"))) int pipe2(int fds[2], int flags)
{
    int (*real)(int[2], int) = HASTLS_REAL(pipe2);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (!hastls_ownfd_from_resolver(__builtin_return_address(0)))
        return real(fds, flags);
    pthread_mutex_lock(&hastls_lock_ownfd);
    int rc = real(fds, flags | O_CLOEXEC);
    if (rc == 0 && record(fds, 2) < 0)
        rc = -1;
    pthread_mutex_unlock(&hastls_lock_ownfd);
    return rc;
}

/* Returns what the next pipe() returns (for libunbound: pipe2 with
 * O_CLOEXEC, recorded). */
__attribute__((visibility("default"))) int pipe(int fds[2])
{
    int (*real)(int[2]) = HASTLS_REAL(pipe);
    int (*real2)(int[2], int) = HASTLS_REAL(pipe2);
    if (!real || !real2) {
        errno = ENOSYS;
        return -1;
    }
    if (!hastls_ownfd_from_resolver(__builtin_return_address(0)))
        return real(fds);
    pthread_mutex_lock(&hastls_lock_ownfd);
    int rc = real2(fds, O_CLOEXEC);
    if (rc == 0 && record(fds, 2) < 0)
        rc = -1;
    pthread_mutex_unlock(&hastls_lock_ownfd);
    return rc;
}

/* Returns what the next epoll_create1() returns (as socket() for
 * libunbound). */
__attribute__((visibility("default"))) int epoll_create1(int flags)
{
    int (*real)(int) = HASTLS_REAL(epoll_create1);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (!hastls_ownfd_from_resolver(__builtin_return_address(0)))
        return real(flags);
    pthread_mutex_lock(&hastls_lock_ownfd);
    int fd = real(flags | EPOLL_CLOEXEC);
    if (fd >= 0 && record(&fd, 1) < 0)
        fd = -1;
    pthread_mutex_unlock(&hastls_lock_ownfd);
    return fd;
}

/* Returns what the next eventfd() returns (as socket() for libunbound). */
__attribute__((visibility("default"))) int eventfd(unsigned int initval, int flags)
{
    int (*real)(unsigned int, int) = HASTLS_REAL(eventfd);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (!hastls_ownfd_from_resolver(__builtin_return_address(0)))
        return real(initval, flags);
    pthread_mutex_lock(&hastls_lock_ownfd);
    int fd = real(initval, flags | EFD_CLOEXEC);
    if (fd >= 0 && record(&fd, 1) < 0)
        fd = -1;
    pthread_mutex_unlock(&hastls_lock_ownfd);
    return fd;
}

struct thread_start {
    void *(*fn)(void *);
    void *arg;
};

/* A thread libunbound started: marked, then its own start routine. */
static void *resolver_thread_main(void *p)
{
    struct thread_start st = *(struct thread_start *)p;
    free(p);
    hastls_ownfd_mark_thread();
    return st.fn(st.arg);
}

/* Returns what the next pthread_create() returns.  A thread that libunbound's
 * code starts (its worker) is marked first, so that the descriptors its
 * event library opens are libunbound's too. */
__attribute__((visibility("default"))) int
pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *) =
        HASTLS_REAL(pthread_create);
    if (!real)
        return ENOSYS;
    if (!hastls_ownfd_in_resolver_code(__builtin_return_address(0)))
        return real(t, attr, fn, arg);
    struct thread_start *st = malloc(sizeof *st);
    if (!st)
        return EAGAIN;
    st->fn = fn;
    st->arg = arg;
    int e = real(t, attr, resolver_thread_main, st);
    if (e != 0)
        free(st);
    return e;
}
