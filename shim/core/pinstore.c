/* shim/core/pinstore.c: the pin file's directory, reading, locking and
 * replacing (see pinstore.h). */
#include "shim/core/pinstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PINS_FILE "pins"
#define PINS_LOCK "pins.lock"

int hastls_pinstore_dir_in(const char *xdg_state, const char *home, char *out, size_t len,
                           char *err, size_t errlen)
{
    int n;
    if (xdg_state && xdg_state[0]) {
        if (xdg_state[0] != '/') {
            snprintf(err, errlen, "XDG_STATE_HOME=%s: not an absolute path", xdg_state);
            return -1;
        }
        n = snprintf(out, len, "%s/hastls", xdg_state);
    } else if (home && home[0] == '/') {
        n = snprintf(out, len, "%s/.local/state/hastls", home);
    } else {
        snprintf(err, errlen, "no state directory: HOME is %s",
                 home && home[0] ? "not an absolute path" : "not set");
        return -1;
    }
    if (n < 0 || (size_t)n >= len) {
        snprintf(err, errlen, "the state directory's path is too long");
        return -1;
    }
    return 0;
}

int hastls_pinstore_dir(char *out, size_t len, char *err, size_t errlen)
{
    if (getauxval(AT_SECURE)) {
        snprintf(err, errlen, "no pins for setuid or setgid programs");
        return -1;
    }
    return hastls_pinstore_dir_in(secure_getenv("XDG_STATE_HOME"), secure_getenv("HOME"),
                                  out, len, err, errlen);
}

/* The directory open as FD must be ours alone. */
static int check_dir(int fd, const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen, "%s: owned by uid %u, not by this user (uid %u)", dir,
                 (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "%s: mode %03o gives other users access (want 0700)", dir,
                 (unsigned)(st.st_mode & 0777));
        return -1;
    }
    return 0;
}

/* Opens DIR (never through a final symbolic link) and checks it; with
 * CREATE, makes it and its missing parents 0700 first.  Returns the
 * descriptor; -1 with ERR; -2 when it does not exist and CREATE is 0. */
static int open_dir(const char *dir, int create, char *err, size_t errlen)
{
    if (create) {
        char path[HASTLS_PATH_MAX];
        if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
            snprintf(err, errlen, "%s: path too long", dir);
            return -1;
        }
        for (char *p = path + 1; *p; p++) {
            if (*p != '/')
                continue;
            *p = '\0';
            if (mkdir(path, 0700) < 0 && errno != EEXIST) {
                snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
                return -1;
            }
            *p = '/';
        }
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
            return -1;
        }
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT && !create)
            return -2;
        snprintf(err, errlen, "%s: %s", dir,
                 errno == ELOOP || errno == ENOTDIR
                     ? "not a directory (or a symbolic link)"
                     : strerror(errno));
        return -1;
    }
    if (check_dir(fd, dir, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void stamp_of(const struct stat *st, struct hastls_pinstore_stamp *s)
{
    s->dev = st->st_dev;
    s->ino = st->st_ino;
    s->size = (uint64_t)st->st_size;
    s->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    s->exists = 1;
}

/* Reads DIRFD's pin file into OUT.  Returns 0 (a missing file is empty),
 * -1 with ERR, or -3 with ERR for a file of ours that does not parse. */
static int load_at(int dirfd, const char *dir, struct hastls_pinset *out,
                   struct hastls_pinstore_stamp *stamp, char *err, size_t errlen)
{
    struct hastls_pinstore_stamp none = {0};
    out->n = 0;
    if (stamp)
        *stamp = none;
    int fd = openat(dirfd, PINS_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s/" PINS_FILE ": %s", dir,
                 errno == ELOOP ? "a symbolic link, not the pin file" : strerror(errno));
        return -1;
    }
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) < 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (st.st_uid != geteuid())
        why = "owned by another user";
    else if (st.st_mode & 077)
        why = "readable or writable by other users (want 0600)";
    else if (st.st_size > HASTLS_PINS_FILE_MAX)
        why = "larger than a pin file can be";
    if (why) {
        snprintf(err, errlen, "%s/" PINS_FILE ": %s", dir, why);
        close(fd);
        return -1;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        snprintf(err, errlen, "%s/" PINS_FILE ": out of memory", dir);
        close(fd);
        return -1;
    }
    while (len < cap) {
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s/" PINS_FILE ": %s", dir, strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (len != (size_t)st.st_size) {
        snprintf(err, errlen, "%s/" PINS_FILE ": changed while it was read", dir);
        free(buf);
        return -1;
    }
    size_t line;
    char why2[128];
    int rc = hastls_pins_parse(buf, len, out, &line, why2, sizeof why2);
    free(buf);
    if (rc != 0) {
        snprintf(err, errlen, "%s/" PINS_FILE ":%zu: %s", dir, line, why2);
        return -3;
    }
    if (stamp)
        stamp_of(&st, stamp);
    return 0;
}

int hastls_pinstore_load(const char *dir, struct hastls_pinset *out,
                         struct hastls_pinstore_stamp *stamp, char *err, size_t errlen)
{
    out->n = 0;
    if (stamp)
        memset(stamp, 0, sizeof *stamp);
    int dirfd = open_dir(dir, 0, err, errlen);
    if (dirfd == -2)
        return 0;
    if (dirfd < 0)
        return -1;
    int rc = load_at(dirfd, dir, out, stamp, err, errlen);
    close(dirfd);
    return rc == 0 ? 0 : -1;
}

int hastls_pinstore_stat(const char *dir, struct hastls_pinstore_stamp *stamp)
{
    char path[HASTLS_PATH_MAX + 8];
    struct stat st;
    memset(stamp, 0, sizeof *stamp);
    if (snprintf(path, sizeof path, "%s/" PINS_FILE, dir) >= (int)sizeof path)
        return -1;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    stamp_of(&st, stamp);
    return 0;
}

int hastls_pinstore_same(const struct hastls_pinstore_stamp *a,
                         const struct hastls_pinstore_stamp *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* Takes the writers' lock in DIRFD, waiting at most WAIT_MS.  Returns the
 * lock's descriptor, or -1 with ERR. */
static int take_lock(int dirfd, const char *dir, unsigned wait_ms, char *err,
                     size_t errlen)
{
    int fd = openat(dirfd, PINS_LOCK,
                    O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        snprintf(err, errlen, "%s/" PINS_LOCK ": %s", dir,
                 fd < 0 ? strerror(errno) : "not a regular file of this user");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    for (unsigned waited = 0;; waited += 5) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return fd;
        if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= wait_ms)
            break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    snprintf(err, errlen, "%s/" PINS_LOCK ": %s", dir,
             errno == EWOULDBLOCK ? "held by another writer for too long"
                                  : strerror(errno));
    close(fd);
    return -1;
}

/* Writes S to a new file and renames it over the pin file. */
static int replace_at(int dirfd, const char *dir, const struct hastls_pinset *s,
                      char *err, size_t errlen)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "pins.%ld.tmp", (long)getpid());
    size_t cap = hastls_pins_format_size(s);
    char *buf = malloc(cap);
    size_t len = buf ? hastls_pins_format(s, buf, cap) : 0;
    if (len == 0) {
        snprintf(err, errlen, "%s/" PINS_FILE ": out of memory", dir);
        free(buf);
        return -1;
    }
    (void)unlinkat(dirfd, tmp, 0); /* left by a writer of this pid that died */
    int fd =
        openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s/%s: %s", dir, tmp, strerror(errno));
        free(buf);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(buf);
    int saved = errno;
    if (close(fd) < 0 && off == len)
        saved = errno, off = 0;
    if (off != len || renameat(dirfd, tmp, dirfd, PINS_FILE) < 0) {
        if (off == len)
            saved = errno;
        snprintf(err, errlen, "%s/" PINS_FILE ": cannot write: %s", dir, strerror(saved));
        (void)unlinkat(dirfd, tmp, 0);
        return -1;
    }
    return 0;
}

int hastls_pinstore_update(const char *dir,
                           int (*fn)(struct hastls_pinset *set, void *arg), void *arg,
                           unsigned wait_ms, char *err, size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    int dirfd = open_dir(dir, 1, err, errlen);
    if (dirfd < 0)
        return -1;
    int lockfd = take_lock(dirfd, dir, wait_ms, err, errlen);
    if (lockfd < 0) {
        close(dirfd);
        return -1;
    }
    struct hastls_pinset set;
    hastls_pins_init(&set);
    int rc = load_at(dirfd, dir, &set, NULL, err, errlen);
    if (rc == -3) {
        /* Our own file, but unreadable: its pins are lost either way.  Keep
         * it for inspection as pins.bad and start again, rather than never
         * pinning anything until someone notices. */
        char why[384];
        snprintf(why, sizeof why, "%s", err);
        if (renameat(dirfd, PINS_FILE, dirfd, PINS_FILE ".bad") == 0) {
            snprintf(err, errlen, "%s (kept as " PINS_FILE ".bad; starting afresh)", why);
            rc = 0;
        } else {
            rc = -1;
        }
    }
    if (rc == 0) {
        int change = fn(&set, arg);
        if (change < 0) {
            snprintf(err, errlen, "%s/" PINS_FILE ": the update gave up", dir);
            rc = -1;
        } else if (change > 0) {
            rc = replace_at(dirfd, dir, &set, err, errlen);
        }
    }
    hastls_pins_free(&set);
    close(lockfd); /* releases the lock */
    close(dirfd);
    return rc;
}
