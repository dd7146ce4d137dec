/* tests/tools/shim_stack.c: a second preloaded library for the stacking
 * test.  It interposes connect() and getaddrinfo(), appends one line per
 * call to the file named by SHIM_STACK_LOG, and calls the next definition
 * (dlsym RTLD_NEXT), as any well-behaved preload does.  Built by the test:
 *   cc -shared -fPIC -o libshim_stack.so shim_stack.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void note(const char *what)
{
    int saved = errno;
    const char *path = getenv("SHIM_STACK_LOG");
    if (path) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            ssize_t r = write(fd, what, strlen(what));
            (void)r;
            close(fd);
        }
    }
    errno = saved;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    int (*next)(int, const struct sockaddr *, socklen_t) = dlsym(RTLD_NEXT, "connect");
    int r = next(fd, sa, len);
    int e = errno;
    char line[64];
    snprintf(line, sizeof line, "stack connect %d %s\n", r, r < 0 ? strerror(e) : "ok");
    note(line);
    errno = e;
    return r;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    int (*next)(const char *, const char *, const struct addrinfo *, struct addrinfo **) =
        dlsym(RTLD_NEXT, "getaddrinfo");
    note("stack getaddrinfo\n");
    return next(node, service, hints, res);
}
