/* shim/core/rundir.c: the agent's directory and name (see rundir.h). */
#include "shim/core/rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Checks that the directory open as FD is ours alone.  Returns 0, or -1 with
 * ERR naming PATH and what is wrong. */
static int check_private(int fd, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a directory", path);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen, "%s: owned by uid %u, not by this user (uid %u)", path,
                 (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "%s: mode %03o gives other users access (want 0700)", path,
                 (unsigned)(st.st_mode & 0777));
        return -1;
    }
    return 0;
}

/* Opens NAME below BASEFD (BASE in messages) as a private directory,
 * creating it 0700. */
static int open_private(int basefd, const char *base, const char *name, char *path,
                        size_t pathlen, char *err, size_t errlen)
{
    int n = snprintf(path, pathlen, "%s/%s", base, name);
    if (n < 0 || (size_t)n >= pathlen) {
        snprintf(err, errlen, "%s/%s: path too long", base, name);
        return -1;
    }
    if (mkdirat(basefd, name, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    int fd = openat(basefd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path,
                 errno == ELOOP || errno == ENOTDIR
                     ? "not a directory (or a symbolic link)"
                     : strerror(errno));
        return -1;
    }
    if (check_private(fd, path, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int hastls_rundir_open_in(const char *xdg, const char *tmp, char *path, size_t pathlen,
                          char *err, size_t errlen)
{
    const char *base = xdg && xdg[0] ? xdg : tmp;
    char name[32];
    if (xdg && xdg[0])
        snprintf(name, sizeof name, "hastls");
    else
        snprintf(name, sizeof name, "hastls-%u", (unsigned)geteuid());
    if (base[0] != '/') {
        snprintf(err, errlen, "%s: not an absolute path", base);
        return -1;
    }
    int basefd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (basefd < 0) {
        snprintf(err, errlen, "%s: %s", base, strerror(errno));
        return -1;
    }
    /* XDG_RUNTIME_DIR itself must be the user's own (the spec says so; a
     * variable pointing elsewhere is not trusted).  /tmp is shared by design:
     * only our directory inside it is checked. */
    if (base == xdg && check_private(basefd, base, err, errlen) < 0) {
        close(basefd);
        return -1;
    }
    int fd = open_private(basefd, base, name, path, pathlen, err, errlen);
    close(basefd);
    return fd;
}

int hastls_rundir_open(char *path, size_t pathlen, char *err, size_t errlen)
{
    return hastls_rundir_open_in(secure_getenv("XDG_RUNTIME_DIR"), "/tmp", path, pathlen,
                                 err, errlen);
}

static void mix(unsigned long long *h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        *h = (*h ^ p[i]) * 1099511628211ull;
    /* A separator, so that ("ab","c") and ("a","bc") differ. */
    *h = (*h ^ 0xff) * 1099511628211ull;
}

static void mix_str(unsigned long long *h, const char *s)
{
    mix(h, s, strlen(s));
}

unsigned long long hastls_resolver_settings_hash(const struct hastls_config *cfg)
{
    unsigned long long h = 14695981039346656037ull;
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        const struct hastls_upstream *u = &cfg->upstreams[i];
        mix(&h, &u->family, sizeof u->family);
        if (u->family == AF_INET)
            mix(&h, &u->addr.v4, sizeof u->addr.v4);
        else
            mix(&h, &u->addr.v6, sizeof u->addr.v6);
        mix(&h, &u->port, sizeof u->port);
        mix_str(&h, u->auth_name);
    }
    mix(&h, &cfg->privacy, sizeof cfg->privacy);
    mix_str(&h, cfg->ca_bundle);
    for (size_t i = 0; i < cfg->n_pins; i++)
        mix(&h, cfg->pins[i], sizeof cfg->pins[i]);
    mix_str(&h, cfg->alpn);
    mix_str(&h, cfg->trust_anchor);
    mix(&h, &cfg->timeout_ms, sizeof cfg->timeout_ms);
    return h;
}

int hastls_agent_name(const struct hastls_config *cfg, char *out, size_t len)
{
    struct stat st;
    HASTLS_GUARD(stat("/proc/self/ns/net", &st));
    int n = snprintf(out, len, "agent-%llx-%016llx", (unsigned long long)st.st_ino,
                     hastls_resolver_settings_hash(cfg));
    HASTLS_ENSURE(n > 0 && (size_t)n < len);
    return 0;
}
