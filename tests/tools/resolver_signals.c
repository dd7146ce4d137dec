/* tests/tools/resolver_signals.c: a program that waits for SIGUSR1 with
 * sigwait(), as daemons do, and resolves a name under the shim.  The threads
 * the resolver brings into the process (its event thread, libunbound's
 * worker) must block every signal; one that did not would take the
 * process-directed SIGUSR1, whose default action kills the program.
 *
 *   resolver_signals block-first NAME   block SIGUSR1, then resolve
 *   resolver_signals lookup-first NAME  resolve (the resolver's threads start
 *                                       while SIGUSR1 is open), then block it
 *                                       and resolve again
 * then kill(getpid(), SIGUSR1) and sigwait() for it.  Exit status 10 when
 * sigwait() received it; 2 when a lookup failed; 3 on a usage or system
 * error.  Built by the test: cc -o resolver_signals resolver_signals.c
 * -pthread */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int lookup(const char *name)
{
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(name, "443", &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "resolver_signals: %s: %s\n", name, gai_strerror(rc));
        return -1;
    }
    char a[INET6_ADDRSTRLEN] = "?";
    if (res->ai_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, a, sizeof a);
    else if (res->ai_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, a,
                  sizeof a);
    printf("%s %s\n", name, a);
    freeaddrinfo(res);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 ||
        (strcmp(argv[1], "block-first") && strcmp(argv[1], "lookup-first"))) {
        fprintf(stderr, "usage: resolver_signals block-first|lookup-first NAME\n");
        return 3;
    }
    int block_first = !strcmp(argv[1], "block-first");
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    if (!block_first && lookup(argv[2]) < 0)
        return 2;
    if (pthread_sigmask(SIG_BLOCK, &usr1, NULL) != 0)
        return 3;
    if (lookup(argv[2]) < 0)
        return 2;
    fflush(stdout);
    if (kill(getpid(), SIGUSR1) < 0)
        return 3;
    int sig = 0;
    if (sigwait(&usr1, &sig) != 0 || sig != SIGUSR1)
        return 3;
    printf("sigwait: SIGUSR1\n");
    return 10;
}
