/* tests/bench/bench_spawn.c: process start-up time, bare and preloaded.
 *
 *   bench_spawn -p LIB N PROG [ARG...]
 *
 * Runs PROG N times bare and N times with LD_PRELOAD=LIB, alternating so that
 * both see the same machine state, each time from posix_spawn() to waitpid()
 * returning, with its output sent to /dev/null.  Prints the median, minimum
 * and maximum of each series in ns, and how many runs exited non-zero:
 *   bare_median_ns=.. bare_min_ns=.. bare_max_ns=.. shim_median_ns=.. ...
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

extern char **environ;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* One run; returns its duration in ns, or -1 when it could not start.
 * *FAILED grows when the program exits non-zero. */
static long long run(char **argv, char **envp, posix_spawn_file_actions_t *fa, int *failed)
{
    pid_t pid;
    long long t0 = now_ns();
    if (posix_spawn(&pid, argv[0], fa, NULL, argv, envp) != 0)
        return -1;
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    long long t = now_ns() - t0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        (*failed)++;
    return t;
}

static void report(const char *tag, long long *v, long n, int failed)
{
    qsort(v, (size_t)n, sizeof *v, cmp_ll);
    long long med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    printf("%s_median_ns=%lld %s_min_ns=%lld %s_max_ns=%lld %s_failed=%d ", tag, med, tag, v[0],
           tag, v[n - 1], tag, failed);
}

int main(int argc, char **argv)
{
    if (argc < 5 || strcmp(argv[1], "-p"))
        goto usage;
    const char *lib = argv[2];
    long n = strtol(argv[3], NULL, 10);
    if (n <= 0 || n > 1000000)
        goto usage;
    char **prog = argv + 4;

    /* The environment without any LD_PRELOAD, and the same plus ours. */
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **bare = calloc(ne + 1, sizeof *bare), **shim = calloc(ne + 2, sizeof *shim);
    long long *tb = calloc((size_t)n, sizeof *tb), *ts = calloc((size_t)n, sizeof *ts);
    char *pre = malloc(strlen(lib) + sizeof "LD_PRELOAD=");
    if (!bare || !shim || !tb || !ts || !pre)
        return 1;
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11))
            bare[k] = shim[k] = environ[i], k++;
    sprintf(pre, "LD_PRELOAD=%s", lib);
    shim[k] = pre;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);

    int fb = 0, fs = 0;
    for (long i = 0; i < n; i++) {
        tb[i] = run(prog, bare, &fa, &fb);
        ts[i] = run(prog, shim, &fa, &fs);
        if (tb[i] < 0 || ts[i] < 0) {
            fprintf(stderr, "bench_spawn: cannot run %s\n", prog[0]);
            return 1;
        }
    }
    report("bare", tb, n, fb);
    report("shim", ts, n, fs);
    printf("\n");
    return 0;

usage:
    fprintf(stderr, "usage: bench_spawn -p LIB N PROG [ARG...]\n");
    return 2;
}
