/* tests/tools/shim_fd_inherit.c: no descriptor of the shim's resolver reaches
 * a fork child or an exec()ed program (tests/integration/shim_fd_inherit.sh).
 *
 *   shim_fd_inherit fork NAME ADDR NAME2 ADDR2
 *       notes its descriptors, resolves NAME (must be ADDR), forks; the child
 *       reports every descriptor it holds beyond the noted ones ("fork child
 *       keeps fd N"), then execs "list" with the noted ones; after the child
 *       ended, the parent resolves NAME2 (not cached yet: the resolver must
 *       answer it) and NAME again ("lookup ok ADDR" or "lookup wrong ..."), and
 *       tries to connect to ADDR port 80 (NAME's secure HASTLS record forbids
 *       it: "connect refused" or "connect allowed").
 *   shim_fd_inherit exec NAME ADDR
 *       resolves NAME and execs "list" directly, as a daemon running a helper.
 *   shim_fd_inherit list FD...
 *       prints "inherited fd N -> TARGET" for every open descriptor beyond
 *       0, 1, 2 and FD..., and writes garbage into each (result messages of
 *       every length, zeros and ones); prints "inherited N" at the end.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FDS 1024

/* The open descriptors, without the directory's own; returns how many. */
static int list_fds(int *out, int max)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        perror("opendir /proc/self/fd");
        exit(2);
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || fd == dirfd(d))
            continue;
        if (n < max)
            out[n++] = (int)fd;
    }
    closedir(d);
    return n;
}

static int in(int fd, const int *set, int n)
{
    for (int i = 0; i < n; i++)
        if (set[i] == fd)
            return 1;
    return 0;
}

static void target(int fd, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, buf, len - 1);
    buf[n > 0 ? n : 0] = '\0';
}

/* Garbage of the shapes libunbound's pipes carry (a length, then bytes). */
static void spray(int fd)
{
    unsigned char junk[512];
    for (int round = 0; round < 8; round++) {
        memset(junk, round & 1 ? 0xff : 0, sizeof junk);
        uint32_t len = round < 4 ? (uint32_t)(16 << round) : 0xfffffff0u;
        memcpy(junk, &len, sizeof len);
        (void)!write(fd, junk, sizeof junk);
    }
}

static int do_list(int argc, char **argv)
{
    int keep[MAX_FDS], nkeep = 0;
    for (int i = 2; i < argc && nkeep < MAX_FDS; i++)
        keep[nkeep++] = atoi(argv[i]);
    int fds[MAX_FDS];
    int n = list_fds(fds, MAX_FDS), found = 0;
    for (int i = 0; i < n; i++) {
        if (fds[i] <= 2 || in(fds[i], keep, nkeep))
            continue;
        char t[256];
        target(fds[i], t, sizeof t);
        printf("inherited fd %d -> %s\n", fds[i], t);
        fflush(stdout);
        spray(fds[i]);
        found++;
    }
    printf("inherited %d\n", found);
    return 0;
}

/* NAME's first IPv4 address, as text, or "" when it does not resolve. */
static void resolve(const char *name, char *out, size_t len)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    out[0] = '\0';
    int e = getaddrinfo(name, "80", &hints, &res);
    if (e) {
        snprintf(out, len, "(%s)", gai_strerror(e));
        return;
    }
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, out,
              (socklen_t)len);
    freeaddrinfo(res);
}

/* Execs "list" with the descriptors in BASE (those not to report). */
static void exec_list(const char *self, const int *base, int nbase)
{
    char *args[MAX_FDS + 3];
    static char bufs[MAX_FDS][16];
    int a = 0;
    args[a++] = (char *)self;
    args[a++] = "list";
    for (int i = 0; i < nbase; i++) {
        snprintf(bufs[i], sizeof bufs[i], "%d", base[i]);
        args[a++] = bufs[i];
    }
    args[a] = NULL;
    fflush(stdout);
    execv("/proc/self/exe", args);
    perror("execv");
    _exit(2);
}

static int check_lookup(const char *name, const char *want)
{
    char got[128];
    resolve(name, got, sizeof got);
    if (strcmp(got, want) == 0) {
        printf("lookup ok %s\n", got);
        return 0;
    }
    printf("lookup wrong %s (wanted %s)\n", got, want);
    return 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "list") == 0)
        return do_list(argc, argv);
    if (argc < 4) {
        fprintf(stderr,
                "usage: %s fork NAME ADDR NAME2 ADDR2 | exec NAME ADDR | list FD...\n",
                argv[0]);
        return 2;
    }
    int base[MAX_FDS];
    int nbase = list_fds(base, MAX_FDS);
    if (check_lookup(argv[2], argv[3]))
        return 1;
    if (strcmp(argv[1], "exec") == 0)
        exec_list(argv[0], base, nbase);
    if (strcmp(argv[1], "fork") != 0 || argc < 6)
        return 2;
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        int now[MAX_FDS];
        int n = list_fds(now, MAX_FDS);
        for (int i = 0; i < n; i++)
            if (!in(now[i], base, nbase)) {
                char t[256];
                target(now[i], t, sizeof t);
                printf("fork child keeps fd %d -> %s\n", now[i], t);
            }
        exec_list(argv[0], base, nbase);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    printf("child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    int wrong = check_lookup(argv[4], argv[5]);
    wrong += check_lookup(argv[2], argv[3]);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
    inet_pton(AF_INET, argv[3], &sa.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0 && errno == EACCES)
        printf("connect refused\n");
    else
        printf("connect allowed\n");
    close(s);
    return wrong ? 1 : 0;
}
