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
 * error.
 *
 *   resolver_signals gai-a-thread NAME  block SIGUSR1 and SIGUSR2, then
 *                                       getaddrinfo_a(GAI_NOWAIT) with a
 *                                       SIGEV_THREAD notification, which
 *                                       prints the signals its thread blocks
 *                                       ("notify blocks: none" under glibc:
 *                                       its notification thread opens all)
 * exit status 10 when the notification came and the name resolved.  Built by the test: cc
 * -o resolver_signals resolver_signals.c -pthread */
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

static pthread_mutex_t notify_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t notify_cv = PTHREAD_COND_INITIALIZER;
static int notified;

static void on_notify(union sigval v)
{
    (void)v;
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    char line[512] = "notify blocks:";
    int any = 0;
    for (int s = 1; s < NSIG; s++)
        if (sigismember(&cur, s) == 1) {
            snprintf(line + strlen(line), sizeof line - strlen(line), " %d", s);
            any = 1;
        }
    printf("%s%s\n", line, any ? "" : " none");
    fflush(stdout);
    pthread_mutex_lock(&notify_mu);
    notified = 1;
    pthread_cond_signal(&notify_cv);
    pthread_mutex_unlock(&notify_mu);
}

static int gai_a_thread(const char *name)
{
    sigset_t two;
    sigemptyset(&two);
    sigaddset(&two, SIGUSR1);
    sigaddset(&two, SIGUSR2);
    if (pthread_sigmask(SIG_BLOCK, &two, NULL) != 0)
        return 3;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    struct gaicb req = {.ar_name = name, .ar_service = "443", .ar_request = &hints};
    struct gaicb *list[] = {&req};
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = on_notify;
    if (getaddrinfo_a(GAI_NOWAIT, list, 1, &sev) != 0)
        return 3;
    pthread_mutex_lock(&notify_mu);
    while (!notified)
        pthread_cond_wait(&notify_cv, &notify_mu);
    pthread_mutex_unlock(&notify_mu);
    if (gai_error(&req) != 0) {
        fprintf(stderr, "resolver_signals: %s: %s\n", name,
                gai_strerror(gai_error(&req)));
        return 2;
    }
    printf("%s resolved\n", name);
    freeaddrinfo(req.ar_result);
    return 10;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "gai-a-thread"))
        return gai_a_thread(argv[2]);
    if (argc != 3 ||
        (strcmp(argv[1], "block-first") && strcmp(argv[1], "lookup-first"))) {
        fprintf(stderr,
                "usage: resolver_signals block-first|lookup-first|gai-a-thread NAME\n");
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
