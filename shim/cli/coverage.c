/* shim/cli/coverage.c: which TLS a program uses, from its ELF file and its
 * libraries' (see coverage.h). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim/cli/coverage.h"

/* Libraries read through .rodata for the marks of a built-in TLS library:
 * 256 KiB at a time. */
#define SCAN_BUF (256 * 1024)

ssize_t hastls_elf_fd_read(void *ctx, void *buf, size_t n, uint64_t off)
{
    if (off > (uint64_t)INT64_MAX)
        return 0;
    for (;;) {
        ssize_t r = pread(*(const int *)ctx, buf, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

/* One object to read: its name as DT_NEEDED gives it, who needs it, and
 * (once read) its own search path for what it needs. */
struct item {
    char name[HASTLS_ELF_NAME_MAX];
    int via;       /* index of the needing object in walk.items, -1: the program */
    char *runpath; /* its DT_RUNPATH or DT_RPATH, NULL for none */
    int is_rpath;
    char *origin; /* its directory, when RUNPATH names $ORIGIN */
};

struct walk {
    struct item items[HASTLS_COV_MAX_OBJECTS];
    size_t n;
    char origin[PATH_MAX]; /* the program's directory, for $ORIGIN */
    char exe_runpath[HASTLS_ELF_PATHS_MAX];
    int exe_is_rpath;
    const char *ldpath;
    unsigned char elf_class;
    unsigned machine;
    struct hastls_elf elf; /* the object being read */
};

/* Libraries that never bring a TLS library with them: not opened. */
static int is_base_library(const char *name)
{
    static const char *const base[] = {
        "libc.so.6",    "libm.so.6",     "libpthread.so.0", "libdl.so.2",
        "librt.so.1",   "libgcc_s.so.1", "libstdc++.so.6",  "libresolv.so.2",
        "libutil.so.1", "libz.so.1",
    };
    if (!strncmp(name, "ld-linux", 8) || !strncmp(name, "ld64.so", 7))
        return 1;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        if (!strcmp(name, base[i]))
            return 1;
    return 0;
}

/* The multiarch directory name of the system's libraries for this kind of
 * program, or NULL. */
static const char *triplet(unsigned machine, unsigned char elf_class)
{
    switch (machine) {
    case EM_X86_64:
        return elf_class == ELFCLASS64 ? "x86_64-linux-gnu" : "x86_64-linux-gnux32";
    case EM_386:
        return "i386-linux-gnu";
    case EM_AARCH64:
        return "aarch64-linux-gnu";
    case EM_ARM:
        return "arm-linux-gnueabihf";
    case EM_RISCV:
        return "riscv64-linux-gnu";
    case EM_PPC64:
        return "powerpc64le-linux-gnu";
    case EM_S390:
        return "s390x-linux-gnu";
    }
    return NULL;
}

/* Opens DIR/NAME if it is an ELF object of the program's class and machine
 * (the loader skips any other), its path in PATH (PATH_MAX bytes).  Returns
 * the descriptor with W->elf read, or -1. */
static int try_open(struct walk *w, const char *dir, size_t dirlen, const char *name,
                    char *path)
{
    int n = dir ? snprintf(path, PATH_MAX, "%.*s/%s", (int)dirlen, dir, name)
                : snprintf(path, PATH_MAX, "%s", name);
    if (n < 0 || n >= PATH_MAX)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct hastls_elf_src src = {hastls_elf_fd_read, &fd};
    if (hastls_elf_read(&src, 0, &w->elf) != HASTLS_ELF_OK ||
        w->elf.elf_class != w->elf_class || w->elf.machine != w->machine) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Tries NAME in each directory of the list PATHS (':'-separated; $ORIGIN
 * is ORIGIN; an entry with another $ token is skipped, as the loader's
 * expansion of it is not known here).  Returns a descriptor (the path in
 * PATH) or -1. */
static int search_list(struct walk *w, const char *paths, const char *origin,
                       const char *name, char *path)
{
    for (const char *p = paths; p && *p;) {
        size_t len = strcspn(p, ":;");
        char dir[PATH_MAX];
        size_t dl = 0;
        if (len >= 7 && !strncmp(p, "$ORIGIN", 7) && origin) {
            int k = snprintf(dir, sizeof dir, "%s%.*s", origin, (int)(len - 7), p + 7);
            dl = k > 0 && (size_t)k < sizeof dir ? (size_t)k : 0;
        } else if (len >= 9 && !strncmp(p, "${ORIGIN}", 9) && origin) {
            int k = snprintf(dir, sizeof dir, "%s%.*s", origin, (int)(len - 9), p + 9);
            dl = k > 0 && (size_t)k < sizeof dir ? (size_t)k : 0;
        } else if (len > 0 && len < sizeof dir && !memchr(p, '$', len)) {
            memcpy(dir, p, len);
            dl = len;
        }
        if (dl) {
            int fd = try_open(w, dir, dl, name, path);
            if (fd >= 0)
                return fd;
        }
        p += len;
        if (*p)
            p++;
    }
    return -1;
}

/* Finds NAME, needed by an object whose search path is RUNPATH (DT_RPATH
 * when IS_RPATH; NULL for none) and whose directory is ORIGIN, the way the
 * loader does: RPATH (the needing object's, then the program's) unless
 * there is a RUNPATH, LD_LIBRARY_PATH, RUNPATH, the system directories.
 * Returns a descriptor with W->elf read and the path in PATH, or -1. */
static int find_library(struct walk *w, const char *name, const char *runpath,
                        int is_rpath, const char *origin, char *path)
{
    if (strchr(name, '/'))
        return try_open(w, NULL, 0, name, path);
    int fd = -1;
    if (!runpath || is_rpath) {
        if (runpath && (fd = search_list(w, runpath, origin, name, path)) >= 0)
            return fd;
        if (w->exe_is_rpath &&
            (fd = search_list(w, w->exe_runpath, w->origin, name, path)) >= 0)
            return fd;
    }
    if ((fd = search_list(w, w->ldpath, NULL, name, path)) >= 0)
        return fd;
    if (runpath && !is_rpath && (fd = search_list(w, runpath, origin, name, path)) >= 0)
        return fd;
    const char *t = triplet(w->machine, w->elf_class);
    char dirs[512];
    int n = t ? snprintf(dirs, sizeof dirs,
                         "/usr/local/lib/%s:/lib/%s:/usr/lib/%s:/usr/local/lib%s", t, t,
                         t, w->elf_class == ELFCLASS64 ? ":/lib64:/usr/lib64" : "")
              : snprintf(dirs, sizeof dirs, "/usr/local/lib");
    if (n < 0 || (size_t)n >= sizeof dirs)
        return -1;
    if ((fd = search_list(w, dirs, NULL, name, path)) >= 0)
        return fd;
    return search_list(w, "/lib:/usr/lib", NULL, name, path);
}

/* Records LIB, needed as SONAME by VIA (NULL: the program), once per kind. */
static void add_lib(struct hastls_coverage *c, enum hastls_tls_lib lib,
                    const char *soname, const char *via)
{
    for (size_t i = 0; i < c->n_libs; i++)
        if (c->libs[i].lib == lib)
            return;
    if (c->n_libs >= HASTLS_COV_MAX_LIBS)
        return;
    struct hastls_cov_lib *l = &c->libs[c->n_libs++];
    l->lib = lib;
    snprintf(l->soname, sizeof l->soname, "%s", soname);
    snprintf(l->via, sizeof l->via, "%s", via ? via : "");
}

/* Queues the DT_NEEDED names of W->elf (the object VIA) not seen yet. */
static void queue_needed(struct walk *w, struct hastls_coverage *c, int via)
{
    for (size_t i = 0; i < w->elf.n_needed; i++) {
        const char *name = w->elf.needed[i];
        enum hastls_tls_lib lib = hastls_tls_of_soname(name);
        if (lib != HASTLS_TLS_NONE) {
            add_lib(c, lib, name, via >= 0 ? w->items[via].name : NULL);
            continue; /* what a TLS library needs is its own business */
        }
        if (is_base_library(name))
            continue;
        int seen = 0;
        for (size_t k = 0; k < w->n && !seen; k++)
            seen = !strcmp(w->items[k].name, name);
        if (seen)
            continue;
        if (w->n >= HASTLS_COV_MAX_OBJECTS) {
            c->cut = 1;
            return;
        }
        snprintf(w->items[w->n].name, sizeof w->items[w->n].name, "%s", name);
        w->items[w->n].via = via;
        w->n++;
    }
}

/* The directory of PATH (resolved) into OUT; "" when unknown. */
static void dir_of(const char *path, char *out)
{
    char real[PATH_MAX];
    out[0] = '\0';
    if (!realpath(path, real))
        return;
    char *slash = strrchr(real, '/');
    if (!slash)
        return;
    if (slash == real)
        slash[1] = '\0';
    else
        *slash = '\0';
    snprintf(out, PATH_MAX, "%s", real);
}

int hastls_coverage_of(const char *path, const char *ldpath, struct hastls_coverage *c)
{
    memset(c, 0, sizeof *c);
    struct walk *w = calloc(1, sizeof *w);
    unsigned char *buf = malloc(SCAN_BUF);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!w || !buf || fd < 0) {
        int e = fd < 0 ? errno : ENOMEM;
        if (fd >= 0)
            close(fd);
        free(w);
        free(buf);
        errno = e;
        return -1;
    }
    struct hastls_elf_src src = {hastls_elf_fd_read, &fd};
    int rc = hastls_elf_read(&src, HASTLS_ELF_SECTIONS, &w->elf);
    if (rc != HASTLS_ELF_OK) {
        close(fd);
        free(w);
        free(buf);
        errno = rc == HASTLS_ELF_IO ? EIO : ENOEXEC;
        return -1;
    }
    c->dynamic = w->elf.has_interp;
    c->go = w->elf.go;
    c->builtin =
        hastls_elf_scan_tls(&src, w->elf.rodata_off, w->elf.rodata_len, buf, SCAN_BUF);
    close(fd);
    free(buf);
    w->ldpath = ldpath;
    w->elf_class = w->elf.elf_class;
    w->machine = w->elf.machine;
    dir_of(path, w->origin);
    snprintf(w->exe_runpath, sizeof w->exe_runpath, "%s", w->elf.runpath);
    w->exe_is_rpath = w->elf.runpath_is_rpath;
    if (c->dynamic)
        queue_needed(w, c, -1);
    /* Breadth first, as the loader orders its search list. */
    for (size_t i = 0; c->dynamic && i < w->n; i++) {
        int via = w->items[i].via;
        const struct item *by = via >= 0 ? &w->items[via] : NULL;
        char found[PATH_MAX];
        int lfd = by ? find_library(w, w->items[i].name, by->runpath, by->is_rpath,
                                    by->origin, found)
                     : find_library(
                           w, w->items[i].name, w->exe_runpath[0] ? w->exe_runpath : NULL,
                           w->exe_is_rpath, w->origin[0] ? w->origin : NULL, found);
        if (lfd < 0) {
            c->n_missing++;
            continue;
        }
        close(lfd);
        c->n_objects++;
        struct item *it = &w->items[i];
        if (w->elf.runpath[0]) {
            it->runpath = strdup(w->elf.runpath);
            it->is_rpath = w->elf.runpath_is_rpath;
            char dir[PATH_MAX];
            dir_of(found, dir);
            if (strstr(w->elf.runpath, "ORIGIN") && dir[0])
                it->origin = strdup(dir);
        }
        queue_needed(w, c, (int)i);
    }
    for (size_t i = 0; i < w->n; i++) {
        free(w->items[i].runpath);
        free(w->items[i].origin);
    }
    free(w);
    return 0;
}

/* " needed by VIA" for a library another one needs, else "". */
static const char *needed_by(const struct hastls_cov_lib *l, char *buf, size_t len)
{
    if (!l->via[0])
        return "";
    snprintf(buf, len, ", needed by %s", l->via);
    return buf;
}

int hastls_coverage_report(FILE *out, const char *me, const char *name,
                           const struct hastls_coverage *c, int explain)
{
    int lines = 0;
    char by[HASTLS_ELF_NAME_MAX + 16];
    if (!c->dynamic) {
        /* hastls run has already said that the shim is not loaded at all */
        if (explain)
            lines += fprintf(out,
                             "%s: DANE: %s is statically linked: the shim is not "
                             "loaded into it, nothing of it applies\n",
                             me, name) > 0;
        return lines;
    }
    if (c->go)
        lines += fprintf(out,
                         "%s: DANE does not cover %s: it is a Go program, whose TLS "
                         "(crypto/tls) is built in; Go makes its system calls without "
                         "libc, so the HASTLS policy on connect() does not apply to it "
                         "either\n",
                         me, name) > 0;
    if (c->builtin != HASTLS_BUILTIN_NONE)
        lines += fprintf(out,
                         "%s: DANE does not cover %s: its TLS library (%s%s) is built "
                         "in; the HASTLS policy on connect() still applies\n",
                         me, name, hastls_tls_builtin_name(c->builtin),
                         c->builtin == HASTLS_BUILTIN_OPENSSL ? ", linked statically"
                                                              : "") > 0;
    for (size_t i = 0; i < c->n_libs; i++) {
        const struct hastls_cov_lib *l = &c->libs[i];
        if (hastls_tls_covered(l->lib))
            continue;
        lines += fprintf(out,
                         "%s: DANE does not cover %s: its TLS library is %s (%s%s), "
                         "which the shim has no DANE hook for; the HASTLS policy on "
                         "connect() still applies\n",
                         me, name, hastls_tls_name(l->lib), l->soname,
                         needed_by(l, by, sizeof by)) > 0;
    }
    if (!explain)
        return lines;
    for (size_t i = 0; i < c->n_libs; i++) {
        const struct hastls_cov_lib *l = &c->libs[i];
        if (hastls_tls_covered(l->lib))
            lines += fprintf(out, "%s: DANE covers %s's TLS through %s (%s%s)\n", me,
                             name, hastls_tls_name(l->lib), l->soname,
                             needed_by(l, by, sizeof by)) > 0;
    }
    if (!c->n_libs && !c->go && c->builtin == HASTLS_BUILTIN_NONE)
        lines += fprintf(out,
                         "%s: DANE: %s links no TLS library; one it loads at run time "
                         "is covered if it is OpenSSL or GnuTLS\n",
                         me, name) > 0;
    if (c->cut)
        lines += fprintf(out, "%s: DANE: only the first %d libraries of %s were read\n",
                         me, HASTLS_COV_MAX_OBJECTS, name) > 0;
    if (c->n_missing)
        lines += fprintf(out, "%s: DANE: %zu librar%s that %s needs not found\n", me,
                         c->n_missing, c->n_missing == 1 ? "y" : "ies", name) > 0;
    return lines;
}
