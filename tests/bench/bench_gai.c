/* tests/bench/bench_gai.c: getaddrinfo() timings for `make bench`.
 *
 * Linked against libc only, so that the same binary measures glibc alone and,
 * run with LD_PRELOAD=libhastls.so, the shim.  Every mode prints one line of
 * KEY=VALUE pairs on standard output (scripts/bench parses it):
 *
 *   bench_gai loop NAME N         one first lookup, then N more of the same
 *                                 name: first_ns, per_call_ns (warm), rc
 *   bench_gai once NAME           one lookup: first_ns, rc (exit status 1 when
 *                                 it failed, so that a failure cannot pass for
 *                                 a fast start), VmRSS and RssAnon after it
 *   bench_gai distinct SUFFIX N   N lookups of dN-I.SUFFIX, one after the other
 *                                 (I = 0..N-1): elapsed_ns, rest_ns (all but
 *                                 the first lookup), counts by result,
 *                                 VmRSS before the first and after the last, and
 *                                 RssAnon (private memory) after the last
 *                                 (BENCH_SMAPS=FILE: a copy of /proc/self/smaps
 *                                 at the end)
 *   bench_gai threads T SUFFIX N  the same N names spread over T threads:
 *                                 elapsed_ns, lookups_per_s, counts by result,
 *                                 memory as above
 *
 * Lookups use AF_UNSPEC and SOCK_STREAM, as a typical client does.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int lookup(const char *name)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(name, "443", &hints, &res);
    if (rc == 0)
        freeaddrinfo(res);
    return rc;
}

/* A field of /proc/self/status in KiB (VmRSS, RssAnon, ...), or -1. */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    size_t len = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, len) && line[len] == ':') {
            kib = strtol(line + len + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

/* With BENCH_SMAPS=FILE, a copy of /proc/self/smaps: where the memory went. */
static void copy_smaps(const char *path)
{
    if (!path || !*path)
        return;
    FILE *in = fopen("/proc/self/smaps", "r"), *out = fopen(path, "w");
    char buf[4096];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
}

static long parse_count(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v <= 0 || v > 100000000) {
        fprintf(stderr, "bench_gai: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

/* Results by class: 0 = answer, EAI_NONAME, EAI_AGAIN, anything else. */
struct tally {
    atomic_long ok, noname, again, other;
};

static void count(struct tally *t, int rc)
{
    if (rc == 0)
        atomic_fetch_add(&t->ok, 1);
    else if (rc == EAI_NONAME)
        atomic_fetch_add(&t->noname, 1);
    else if (rc == EAI_AGAIN)
        atomic_fetch_add(&t->again, 1);
    else
        atomic_fetch_add(&t->other, 1);
}

static void print_tally(struct tally *t)
{
    printf(" ok=%ld noname=%ld again=%ld other=%ld", atomic_load(&t->ok),
           atomic_load(&t->noname), atomic_load(&t->again), atomic_load(&t->other));
}

struct worker {
    pthread_t tid;
    const char *suffix;
    long n;
    atomic_long *next;
    struct tally *tally;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    char name[512];
    for (;;) {
        long i = atomic_fetch_add(w->next, 1);
        if (i >= w->n)
            break;
        snprintf(name, sizeof name, "d%ld-%ld.%s", w->n, i, w->suffix);
        count(w->tally, lookup(name));
    }
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_gai loop NAME N | once NAME | distinct SUFFIX N |"
                    " threads T SUFFIX N\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        usage();
    const char *mode = argv[1];

    if (!strcmp(mode, "once") && argc == 3) {
        long long t0 = now_ns();
        int rc = lookup(argv[2]);
        long long t = now_ns() - t0;
        printf("first_ns=%lld rc=%d rss_kib=%ld anon_kib=%ld\n", t, rc,
               status_kib("VmRSS"), status_kib("RssAnon"));
        return rc != 0;
    }
    if (!strcmp(mode, "loop") && argc == 4) {
        long n = parse_count(argv[3], "N");
        long long t0 = now_ns();
        int rc = lookup(argv[2]);
        long long first = now_ns() - t0;
        int bad = 0;
        t0 = now_ns();
        for (long i = 0; i < n; i++)
            bad += lookup(argv[2]) != rc;
        long long total = now_ns() - t0;
        printf("first_ns=%lld per_call_ns=%.1f rc=%d changed=%d\n", first,
               (double)total / (double)n, rc, bad);
        return 0;
    }
    if (!strcmp(mode, "distinct") && argc == 4) {
        long n = parse_count(argv[3], "N");
        struct tally t = {0};
        long before = status_kib("VmRSS");
        char name[512];
        long long t0 = now_ns(), t1 = t0;
        for (long i = 0; i < n; i++) {
            snprintf(name, sizeof name, "d%ld-%ld.%s", n, i, argv[2]);
            count(&t, lookup(name));
            if (i == 0)
                t1 = now_ns();
        }
        long long end = now_ns();
        printf("n=%ld elapsed_ns=%lld rest_ns=%lld rss_before_kib=%ld rss_after_kib=%ld "
               "anon_after_kib=%ld",
               n, end - t0, end - t1, before, status_kib("VmRSS"), status_kib("RssAnon"));
        copy_smaps(getenv("BENCH_SMAPS"));
        print_tally(&t);
        printf("\n");
        return 0;
    }
    if (!strcmp(mode, "threads") && argc == 5) {
        long nt = parse_count(argv[2], "T");
        long n = parse_count(argv[4], "N");
        if (nt > 1024)
            usage();
        struct worker *w = calloc((size_t)nt, sizeof *w);
        struct tally t = {0};
        atomic_long next = 0;
        if (!w)
            return 1;
        long before = status_kib("VmRSS");
        long long t0 = now_ns();
        for (long i = 0; i < nt; i++) {
            w[i] = (struct worker){.suffix = argv[3], .n = n, .next = &next, .tally = &t};
            int e = pthread_create(&w[i].tid, NULL, work, &w[i]);
            if (e) {
                fprintf(stderr, "bench_gai: pthread_create: %s\n", strerror(e));
                return 1;
            }
        }
        for (long i = 0; i < nt; i++)
            pthread_join(w[i].tid, NULL);
        long long total = now_ns() - t0;
        printf("n=%ld threads=%ld elapsed_ns=%lld lookups_per_s=%.1f rss_before_kib=%ld "
               "rss_after_kib=%ld anon_after_kib=%ld",
               n, nt, total, (double)n * 1e9 / (double)total, before, status_kib("VmRSS"),
               status_kib("RssAnon"));
        print_tally(&t);
        printf("\n");
        free(w);
        return 0;
    }
    usage();
}
