/* tests/bench/bench_spawn.c: process start-up time, bare and preloaded.
 *
 *   bench_spawn -p LIB N PROG [ARG...]   bare and preloaded, alternating
 *   bench_spawn -P LIB N PROG [ARG...]   preloaded only
 *   bench_spawn -b N PROG [ARG...]       bare only
 *
 * Runs PROG N times (per series), each time from posix_spawn() to waitpid()
 * returning, with its output sent to /dev/null; with -p it alternates bare
 * and LD_PRELOAD=LIB runs so that both see the same machine state.  In every
 * ARG, "{i}" becomes the run's number (0..N-1) and "{s}" "b" for a bare run,
 * "s" for a preloaded one: each run can look up a name no run asked before.
 * Prints the median, minimum and maximum of each series in ns, and how many
 * runs exited non-zero:
 *   bare_median_ns=.. bare_min_ns=.. bare_max_ns=.. bare_failed=.. shim_median_ns=.. ...
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
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

/* ARG with "{i}" replaced by I and "{s}" by S, in BUF (truncated to LEN). */
static const char *expand(const char *arg, long i, const char *s, char *buf, size_t len)
{
    if (!strchr(arg, '{'))
        return arg;
    size_t o = 0;
    for (const char *p = arg; *p && o + 1 < len;) {
        int n = 0;
        if (!strncmp(p, "{i}", 3))
            n = snprintf(buf + o, len - o, "%ld", i), p += 3;
        else if (!strncmp(p, "{s}", 3))
            n = snprintf(buf + o, len - o, "%s", s), p += 3;
        else
            buf[o] = *p++, n = 1;
        o += (size_t)n < len - o ? (size_t)n : len - o - 1;
    }
    buf[o] = '\0';
    return buf;
}

#define ARG_MAX_LEN 512

/* One run of PROG (its NP arguments expanded for run I of series S); returns
 * its duration in ns, or -1 when it could not start.  *FAILED grows when the
 * program exits non-zero. */
static long long run(char **prog, int np, long i, const char *s, char **envp,
                     posix_spawn_file_actions_t *fa, int *failed)
{
    char *argv[np + 1];
    char bufs[np][ARG_MAX_LEN];
    for (int k = 0; k < np; k++)
        argv[k] = (char *)expand(prog[k], i, s, bufs[k], sizeof bufs[k]);
    argv[np] = NULL;
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
    printf("%s_median_ns=%lld %s_min_ns=%lld %s_max_ns=%lld %s_failed=%d ", tag, med, tag,
           v[0], tag, v[n - 1], tag, failed);
}

int main(int argc, char **argv)
{
    if (argc < 4)
        goto usage;
    int want_bare = 1, want_shim = 1, a = 2;
    const char *lib = NULL;
    if (!strcmp(argv[1], "-p") || !strcmp(argv[1], "-P")) {
        if (argc < 5)
            goto usage;
        lib = argv[2];
        want_bare = argv[1][1] == 'p';
        a = 3;
    } else if (!strcmp(argv[1], "-b")) {
        want_shim = 0;
    } else {
        goto usage;
    }
    char *end;
    long n = strtol(argv[a], &end, 10);
    if (*end || n <= 0 || n > 1000000)
        goto usage;
    char **prog = argv + a + 1;
    int np = argc - a - 1;

    /* The environment without any LD_PRELOAD, and the same plus ours. */
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **bare = calloc(ne + 1, sizeof *bare), **shim = calloc(ne + 2, sizeof *shim);
    long long *tb = calloc((size_t)n, sizeof *tb), *ts = calloc((size_t)n, sizeof *ts);
    char *pre = malloc((lib ? strlen(lib) : 0) + sizeof "LD_PRELOAD=");
    if (!bare || !shim || !tb || !ts || !pre)
        return 1;
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11))
            bare[k] = shim[k] = environ[i], k++;
    sprintf(pre, "LD_PRELOAD=%s", lib ? lib : "");
    shim[k] = pre;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);

    int fb = 0, fs = 0;
    for (long i = 0; i < n; i++) {
        if (want_bare && (tb[i] = run(prog, np, i, "b", bare, &fa, &fb)) < 0)
            goto cannot;
        if (want_shim && (ts[i] = run(prog, np, i, "s", shim, &fa, &fs)) < 0)
            goto cannot;
    }
    if (want_bare)
        report("bare", tb, n, fb);
    if (want_shim)
        report("shim", ts, n, fs);
    printf("\n");
    return 0;

cannot:
    fprintf(stderr, "bench_spawn: cannot run %s\n", prog[0]);
    return 1;
usage:
    fprintf(stderr, "usage: bench_spawn -p LIB | -P LIB | -b  N PROG [ARG...]\n");
    return 2;
}
