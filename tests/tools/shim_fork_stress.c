/* tests/tools/shim_fork_stress.c: fork() while other threads are inside the
 * shim (tests/integration/shim_fork_stress.sh).
 *
 *   shim_fork_stress [FORKS [THREADS]]     (defaults 200 and 5)
 *
 * THREADS worker threads loop, until the end, over the shim's locked state:
 * getaddrinfo of lab names (front cache, address map, hosts file, search
 * list: read on every lookup that is not in the hosts file), getaddrinfo with service
 * names and numbers and AI_ADDRCONFIG (the service table and the interface cache of
 * shim/core/ai.c), getnameinfo, names never seen before (the resolver), and connect() to
 * lab addresses (the address map, shared).  Meanwhile the main thread forks FORKS times,
 * one child at a time.  Each child resolves a name with a service, connects to it, checks
 * that a forbidden connection is still refused, and every eighth child also resolves a
 * name its parent never looked up (a new resolver in the child); then it _exit()s.
 *
 * A child that does not finish is a lock that fork() left held: the child
 * arms alarm(CHILD_SECONDS) (it dies of SIGALRM), and the parent waits for it
 * at most WAIT_SECONDS before killing it.  The first hung child ends the run.
 *
 * Prints "NAME VALUE" lines (forks, children_ok, children_failed,
 * children_hung, worker_errors), a line per failure, and exits 0 only when
 * every child exited 0 and no worker saw an unexpected result.
 * Built by the test: cc -pthread -o shim_fork_stress shim_fork_stress.c */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_SECONDS 30
#define WAIT_SECONDS 40
#define MAX_THREADS 32

static volatile int stop;
static unsigned long worker_errors;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;

/* Names the parent keeps resolving: all in the cache after the warm-up. */
static const char *const names[] = {
    "secure.lab.example", "both.lab.example",     "clear.lab.example",
    "mail.lab.example",   "dual.lab.example",     "v6.lab.example",
    "alias.lab.example",  "norecord.lab.example", "hostsfile.lab.example",
    "localhost",
};
#define NNAMES (sizeof names / sizeof names[0])
static const char *const services[] = {"http",  "https",  "443", "smtp",
                                       "imaps", "domain", "80"};
#define NSERVICES (sizeof services / sizeof services[0])
static const char *const unknown_services[] = {"nosvc-a", "nosvc-b", "nosvc-c"};

static void worker_error(const char *what, const char *detail)
{
    pthread_mutex_lock(&err_lock);
    if (worker_errors++ < 10)
        fprintf(stderr, "worker: %s: %s\n", what, detail);
    pthread_mutex_unlock(&err_lock);
}

static int resolve(const char *name, const char *service, int socktype, int flags,
                   struct addrinfo **res)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = socktype;
    hints.ai_flags = flags;
    return getaddrinfo(name, service, &hints, res);
}

/* Connects a TCP socket to ADDR:PORT.  Returns 0 or the errno. */
static int try_connect(const struct sockaddr *sa, socklen_t len, int port)
{
    struct sockaddr_storage ss;
    memcpy(&ss, sa, len);
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int r = connect(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : errno;
    close(fd);
    return r;
}

static void work_names(unsigned k)
{
    struct addrinfo *res = NULL;
    const char *name = names[k % NNAMES];
    int r = resolve(name, NULL, SOCK_STREAM, 0, &res);
    if (r != 0)
        worker_error(name, gai_strerror(r));
    else
        freeaddrinfo(res);
}

static void work_services(unsigned k)
{
    struct addrinfo *res = NULL;
    const char *s = services[k % NSERVICES];
    /* Now and then a name /etc/services lacks (looked up once, then kept in
     * the shim's service table like the others). */
    int unknown = k % 16 == 15;
    if (unknown)
        s = unknown_services[k % 3];
    /* No socket type: every protocol of glibc's table is asked for S. */
    int flags = k % 2 ? AI_ADDRCONFIG : 0;
    int r = resolve(names[k % 4], s, k % 4 == 3 ? SOCK_STREAM : 0, flags, &res);
    if (unknown ? r != EAI_SERVICE : r != 0)
        worker_error(s, r ? gai_strerror(r) : "found");
    if (r == 0)
        freeaddrinfo(res);
}

/* Calls that end before any lookup, in the service table or the
 * AI_ADDRCONFIG answer of shim/core/ai.c: a name with AI_NUMERICHOST
 * (programs ask so to test for an address literal), a service /etc/services
 * lacks (ADDRCONFIG 0), or a name too long to be one, with AI_ADDRCONFIG
 * (ADDRCONFIG 1).  They never wait for a lock that fork() holds, so a thread
 * making them is inside one of ai.c's locks whenever fork() comes. */
static void work_before_lookup(unsigned k, int addrconfig)
{
    static char overlong[300];
    if (!overlong[0])
        memset(overlong, 'a', sizeof overlong - 1);
    struct addrinfo *res = NULL;
    const char *node = names[k % 4], *s, *what;
    int flags = 0, want;
    switch (addrconfig ? 2 : k % 2) {
    case 0:
        s = what = services[k % NSERVICES];
        flags = AI_NUMERICHOST;
        want = EAI_NONAME;
        break;
    case 1:
        s = what = unknown_services[k % 3];
        want = EAI_SERVICE;
        break;
    default:
        node = overlong;
        s = NULL;
        what = "a 299-character name";
        flags = AI_ADDRCONFIG;
        want = EAI_NONAME;
    }
    int r = resolve(node, s, 0, flags, &res);
    if (r != want)
        worker_error(what, r ? gai_strerror(r) : "found");
    if (r == 0)
        freeaddrinfo(res);
}

static void work_connect(unsigned k)
{
    struct addrinfo *res = NULL;
    int r = resolve("secure.lab.example", NULL, SOCK_STREAM, 0, &res);
    if (r != 0) {
        worker_error("secure.lab.example", gai_strerror(r));
        return;
    }
    int port = k % 2 ? 443 : 80;
    int e = try_connect(res->ai_addr, res->ai_addrlen, port);
    if (port == 443 && e != 0)
        worker_error("connect to secure.lab.example:443", strerror(e));
    if (port == 80 && e != EACCES)
        worker_error("connect to secure.lab.example:80", e ? strerror(e) : "allowed");
    freeaddrinfo(res);
}

static void work_fresh(unsigned k, unsigned id)
{
    /* A name no one looked up: the resolver (its lock) and the cache's
     * insertion path.  NXDOMAIN, or a timeout under load: not an error. */
    char name[64];
    struct addrinfo *res = NULL;
    snprintf(name, sizeof name, "nx%u-%u.lab.example", id, k);
    if (resolve(name, "443", SOCK_STREAM, 0, &res) == 0)
        freeaddrinfo(res);
    /* A reverse lookup: the PTR entries of the cache. */
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(0x7f000a01u + k % 4); /* 127.0.10.1-4 */
    char host[NI_MAXHOST];
    getnameinfo((struct sockaddr *)&sa, sizeof sa, host, sizeof host, NULL, 0, 0);
}

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    for (unsigned k = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED); k++) {
        /* One kind of call per thread: a thread that also made calls
         * which wait for the locks fork() holds would be waiting there,
         * not inside the service table, when fork() comes. */
        switch (id % 5) {
        case 0:
            if (k % 16 == 15)
                work_fresh(k, id);
            else
                work_names(k);
            break;
        case 1:
            work_before_lookup(k, 0);
            break;
        case 2:
            work_before_lookup(k, 1);
            break;
        case 3:
            work_connect(k);
            break;
        default:
            work_services(k);
        }
    }
    return NULL;
}

static void child_say(unsigned i, const char *what, const char *detail)
{
    char line[256];
    int n = snprintf(line, sizeof line, "child %u: %s: %s\n", i, what, detail);
    if (n > 0)
        (void)!write(STDERR_FILENO, line,
                     (size_t)n < sizeof line ? (size_t)n : sizeof line);
}

/* The child: its status says which step failed (0 = all passed). */
static int child_main(unsigned i)
{
    alarm(CHILD_SECONDS);
    struct addrinfo *res = NULL;
    int r = resolve("secure.lab.example", "https", SOCK_STREAM, AI_ADDRCONFIG, &res);
    if (r != 0) {
        child_say(i, "getaddrinfo secure.lab.example", gai_strerror(r));
        return 10;
    }
    int e = try_connect(res->ai_addr, res->ai_addrlen, 443);
    if (e != 0) {
        child_say(i, "connect secure.lab.example:443", strerror(e));
        return 11;
    }
    e = try_connect(res->ai_addr, res->ai_addrlen, 80);
    freeaddrinfo(res);
    if (e != EACCES) {
        child_say(i, "connect secure.lab.example:80 not refused",
                  e ? strerror(e) : "allowed");
        return 12;
    }
    if (i % 8 == 0) {
        r = resolve("odd.lab.example", "8443", SOCK_STREAM, 0, &res);
        if (r != 0) {
            child_say(i, "getaddrinfo odd.lab.example (new resolver)", gai_strerror(r));
            return 13;
        }
        e = try_connect(res->ai_addr, res->ai_addrlen, 8443);
        freeaddrinfo(res);
        if (e != 0) {
            child_say(i, "connect odd.lab.example:8443", strerror(e));
            return 14;
        }
    }
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for PID at most WAIT_SECONDS; kills it after that.  Returns 1 if it
 * exited by itself (*ST set), 0 if it had to be killed. */
static int wait_bounded(pid_t pid, int *st)
{
    double deadline = now_seconds() + WAIT_SECONDS;
    for (;;) {
        pid_t r = waitpid(pid, st, WNOHANG);
        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR) {
            *st = 0;
            return 1;
        }
        if (now_seconds() > deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, st, 0) < 0 && errno == EINTR)
                ;
            return 0;
        }
        struct timespec pause = {0, 5 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

int main(int argc, char **argv)
{
    unsigned forks = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200;
    unsigned nthreads = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 5;
    if (nthreads < 1 || nthreads > MAX_THREADS || forks < 1) {
        fprintf(stderr, "usage: shim_fork_stress [FORKS [THREADS (1-%d)]]\n",
                MAX_THREADS);
        return 2;
    }
    /* Warm-up: every name the workers use resolves (the lab works). */
    for (size_t i = 0; i < NNAMES; i++) {
        struct addrinfo *res = NULL;
        int r = resolve(names[i], NULL, SOCK_STREAM, 0, &res);
        if (r != 0) {
            fprintf(stderr, "warm-up: %s: %s\n", names[i], gai_strerror(r));
            return 3;
        }
        freeaddrinfo(res);
    }

    /* Workers get no signals: SIGCHLD and the like stay with main. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t[MAX_THREADS];
    for (unsigned i = 0; i < nthreads; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 3;
        }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    unsigned ok = 0, failed = 0, hung = 0, done = 0;
    for (unsigned i = 0; i < forks && !hung; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(child_main(i));
        if (pid < 0) {
            fprintf(stderr, "fork %u: %s\n", i, strerror(errno));
            failed++;
            break;
        }
        done++;
        int st = 0;
        if (!wait_bounded(pid, &st)) {
            fprintf(stderr, "child %u: still running after %d s: killed (deadlock)\n", i,
                    WAIT_SECONDS);
            hung++;
        } else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
            fprintf(stderr, "child %u: did not finish in %d s (deadlock)\n", i,
                    CHILD_SECONDS);
            hung++;
        } else if (WIFSIGNALED(st)) {
            fprintf(stderr, "child %u: killed by signal %d\n", i, WTERMSIG(st));
            failed++;
        } else if (WEXITSTATUS(st) != 0) {
            fprintf(stderr, "child %u: exit status %d\n", i, WEXITSTATUS(st));
            failed++;
        } else {
            ok++;
        }
    }

    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    /* After a hang a worker may itself be stuck: do not wait for it then. */
    if (!hung)
        for (unsigned i = 0; i < nthreads; i++)
            pthread_join(t[i], NULL);
    pthread_mutex_lock(&err_lock);
    unsigned long errs = worker_errors;
    pthread_mutex_unlock(&err_lock);
    printf("forks %u\nchildren_ok %u\nchildren_failed %u\nchildren_hung %u\n"
           "worker_errors %lu\n",
           done, ok, failed, hung, errs);
    fflush(stdout);
    int pass = ok == forks && failed == 0 && hung == 0 && errs == 0;
    _exit(pass ? 0 : 1);
}
