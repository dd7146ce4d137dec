/* tests/tools/shim_gai_a.c: getaddrinfo_a() under the shim, for the process
 * test: GAI_WAIT on two names, then GAI_NOWAIT with a SIGEV_THREAD
 * notification, gai_suspend() and gai_error().  Prints one line per request:
 * "NAME rc=N addr" (libc's gai_* functions read what the shim stored).
 * Built by the test: cc -o shim_gai_a shim_gai_a.c -lanl -pthread */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int notified;

static void done(union sigval v)
{
    (void)v;
    pthread_mutex_lock(&lock);
    notified = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

static void show(struct gaicb *r)
{
    char buf[64] = "-";
    int rc = gai_error(r);
    if (rc == 0 && r->ar_result) {
        struct sockaddr_in *s = (struct sockaddr_in *)r->ar_result->ai_addr;
        inet_ntop(AF_INET, &s->sin_addr, buf, sizeof buf);
    }
    printf("%s rc=%d %s\n", r->ar_name, rc, buf);
    if (r->ar_result)
        freeaddrinfo(r->ar_result);
}

int main(void)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    struct gaicb a = {.ar_name = "secure.lab.example", .ar_request = &hints};
    struct gaicb b = {.ar_name = "www.bogus.lab.example", .ar_request = &hints};
    struct gaicb *list[] = {&a, &b};
    printf("wait %d\n", getaddrinfo_a(GAI_WAIT, list, 2, NULL));
    show(&a);
    show(&b);
    struct gaicb c = {.ar_name = "both.lab.example", .ar_request = &hints};
    struct gaicb *one[] = {&c};
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = done;
    printf("nowait %d\n", getaddrinfo_a(GAI_NOWAIT, one, 1, &ev));
    const struct gaicb *wait[] = {&c};
    printf("suspend %d\n", gai_suspend(wait, 1, NULL));
    pthread_mutex_lock(&lock);
    while (!notified)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    printf("notified\n");
    show(&c);
    return 0;
}
