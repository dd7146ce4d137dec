/* shim/cli/cmd_run.c: `hastls run [OPTIONS] [--] CMD [ARGS...]`, also
 * started as hastls-run.
 *
 * Runs CMD with libhastls.so first in LD_PRELOAD: it sets HASTLS_CONF,
 * HASTLS_APP and HASTLS_MODE for the child from the options and replaces
 * itself with CMD (execv), so arguments and exit status pass untouched.
 * scripts/hastls-run is only a way to reach this code: it finds the hastls
 * program and execs `hastls run` with argv[0] "hastls-run", and every
 * message, the usage text and --version then say hastls-run.  This is the
 * one implementation of the checks below.
 *
 * It refuses (status 126) a program into which the dynamic loader would not
 * load the shim, because that program would run unprotected: set-user-ID and
 * set-group-ID programs and programs with file capabilities (the kernel marks
 * them AT_SECURE and the loader then ignores LD_PRELOAD), statically linked
 * programs (no loader at all) and programs of another ELF class or machine
 * than the shim (the loader skips it with a warning).  --allow-unprotected
 * runs them anyway, with a warning.
 *
 * Like env(1), its own failures use statuses a program rarely does: 125 for
 * a usage error or a missing shim, 126 for a program that cannot be run
 * (protected), 127 for a program that was not found.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "shim/cli/cli.h"

/* Where `make install` puts the shim; the Makefile passes the real values. */
#ifndef HASTLS_LIBDIR
#define HASTLS_LIBDIR "/usr/local/lib"
#endif
#ifndef HASTLS_BINDIR
#define HASTLS_BINDIR "/usr/local/bin"
#endif

#define RUN_ERR_USAGE 125
#define RUN_ERR_CANNOT_RUN 126
#define RUN_ERR_NOT_FOUND 127
#define RUN_MAX_INTERP_DEPTH 4
#define SHIM_NAME "libhastls.so"

/* What the ELF header of a file says, as far as loading the shim goes. */
struct elf_facts {
    enum { FILE_ELF, FILE_SCRIPT, FILE_OTHER } kind;
    unsigned char elf_class; /* ELFCLASS32 or ELFCLASS64 */
    unsigned machine;        /* e_machine */
    bool has_interp;         /* a PT_INTERP header: started by the loader */
    char interp[PATH_MAX];   /* FILE_SCRIPT: the #! interpreter */
};

struct run_opts {
    const char *config;
    const char *app;
    const char *mode;
    bool allow_unprotected;
    const char *shim; /* the libhastls.so to preload, once found */
};

/* The name this code answers to, in messages, the usage text and --version:
 * "hastls-run" when started so (scripts/hastls-run sets argv[0]), else
 * "hastls run". */
static const char *me;

/* Writes ME, ": " and the message (FMT, with its newline) to standard
 * error. */
static void __attribute__((format(printf, 1, 2))) run_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", me);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static void run_usage(FILE *out)
{
    fprintf(
        out,
        "usage: %s [OPTIONS] [--] CMD [ARGS...]\n"
        "\n"
        "Runs CMD with libhastls.so preloaded: its name lookups go through DNSSEC\n"
        "validation over DNS-over-TLS and its connections are checked against HASTLS\n"
        "records (see libhastls(7)).\n"
        "\n"
        "  --config FILE        use FILE as configuration (sets HASTLS_CONF)\n"
        "  --app NAME           use the [app:NAME] section (sets HASTLS_APP)\n"
        "  --report             report what would be blocked, block nothing\n"
        "                       (sets HASTLS_MODE=report)\n"
        "  --enforce            block even if the configuration says mode = report\n"
        "                       (sets HASTLS_MODE=enforce)\n"
        "  --allow-unprotected  run CMD even where the shim cannot be loaded into it\n"
        "                       (setuid/setgid, file capabilities, static, other ELF\n"
        "                       class): it then runs WITHOUT protection\n"
        "  -h, --help           this text\n"
        "  -V, --version        the version\n"
        "\n"
        "Exit status: that of CMD; 125 if %s itself failed, 126 if CMD\n"
        "cannot be run protected or cannot be executed, 127 if CMD was not found.\n"
        "HASTLS_SHIM=FILE preloads FILE instead of the installed libhastls.so.\n",
        me, me);
}

/* Reads N bytes at OFF of FD.  Returns 0, or -1 on error or a short file. */
static int read_at(int fd, void *buf, size_t n, off_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/* Converts a 16/32/64-bit field of an ELF file of data encoding DATA to host
 * order.  Returns the value. */
static uint64_t elf_field(const unsigned char *p, size_t n, unsigned char data)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = data == ELFDATA2MSB ? i : n - 1 - i;
        v = (v << 8) | p[k];
    }
    return v;
}

/* Fills F from the start of the file PATH.  Returns 0, or -1 with errno set if
 * the file cannot be read.  A malformed ELF file reads as an ELF file without
 * a loader, which makes the caller refuse it rather than run it unprotected. */
static int elf_inspect(const char *path, struct elf_facts *f)
{
    memset(f, 0, sizeof *f);
    f->kind = FILE_OTHER;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    unsigned char h[64];
    ssize_t got = pread(fd, h, sizeof h, 0);
    if (got < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (got >= 2 && h[0] == '#' && h[1] == '!') {
        f->kind = FILE_SCRIPT;
        char line[PATH_MAX + 2];
        ssize_t n = pread(fd, line, sizeof line - 1, 2);
        close(fd);
        if (n < 0)
            return -1;
        line[n] = '\0';
        const char *s = line + strspn(line, " \t");
        size_t len = strcspn(s, " \t\n");
        if (len >= sizeof f->interp)
            len = 0; /* the kernel would not run it either */
        memcpy(f->interp, s, len);
        f->interp[len] = '\0';
        return 0;
    }
    if (got < 52 || memcmp(h, ELFMAG, SELFMAG) != 0) {
        close(fd);
        return 0;
    }
    f->kind = FILE_ELF;
    f->elf_class = h[EI_CLASS];
    unsigned char data = h[EI_DATA];
    uint64_t phoff;
    size_t phentsize, phnum;
    /* Offsets of e_machine, e_phoff, e_phentsize and e_phnum in Elf32_Ehdr
     * and Elf64_Ehdr (the two layouts differ after e_entry). */
    f->machine = (unsigned)elf_field(h + 18, 2, data);
    if (f->elf_class == ELFCLASS64 && got >= 64) {
        phoff = elf_field(h + 32, 8, data);
        phentsize = (size_t)elf_field(h + 54, 2, data);
        phnum = (size_t)elf_field(h + 56, 2, data);
    } else if (f->elf_class == ELFCLASS32) {
        phoff = elf_field(h + 28, 4, data);
        phentsize = (size_t)elf_field(h + 42, 2, data);
        phnum = (size_t)elf_field(h + 44, 2, data);
    } else {
        close(fd);
        return 0;
    }
    if (phentsize < 4 || phentsize > 256 || phnum == 0 || phnum > 1024 ||
        phoff > (uint64_t)INT64_MAX / 2) {
        close(fd);
        return 0;
    }
    for (size_t i = 0; i < phnum; i++) {
        unsigned char type[4];
        if (read_at(fd, type, sizeof type, (off_t)(phoff + i * phentsize)) < 0)
            break;
        if (elf_field(type, 4, data) == PT_INTERP) {
            f->has_interp = true;
            break;
        }
    }
    close(fd);
    return 0;
}

/* Returns whether PATH carries file capabilities (security.capability). */
static bool has_file_caps(const char *path)
{
    return getxattr(path, "security.capability", NULL, 0) >= 0;
}

/* Finds CMD the way execvp() does: a name with a slash is a path, any other
 * is looked up in PATH (unset: /bin:/usr/bin; an empty entry is the working
 * directory).  Returns 0 with the path in OUT, or the exit status to give up
 * with (a message is written). */
static int find_program(const char *cmd, char *out, size_t outlen)
{
    if (strchr(cmd, '/')) {
        if (snprintf(out, outlen, "%s", cmd) >= (int)outlen) {
            run_err("%s: name too long\n", cmd);
            return RUN_ERR_NOT_FOUND;
        }
        if (access(out, F_OK) != 0) {
            run_err("%s: %s\n", cmd, strerror(errno));
            return RUN_ERR_NOT_FOUND;
        }
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    bool denied = false;
    for (const char *p = path;;) {
        size_t len = strcspn(p, ":");
        const char *dir = len ? p : ".";
        int dirlen = len ? (int)len : 1;
        if (snprintf(out, outlen, "%.*s/%s", dirlen, dir, cmd) < (int)outlen) {
            struct stat st;
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
                if (access(out, X_OK) == 0)
                    return 0;
                denied = true;
            }
        }
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    if (denied) {
        run_err("%s: permission denied\n", cmd);
        return RUN_ERR_CANNOT_RUN;
    }
    run_err("%s: command not found\n", cmd);
    return RUN_ERR_NOT_FOUND;
}

/* Reports that the program would run unprotected.  Returns 0 if it may run
 * anyway (--allow-unprotected, after a warning), else RUN_ERR_CANNOT_RUN. */
static int refuse(const struct run_opts *o, const char *path, const char *why)
{
    if (o->allow_unprotected) {
        run_err("warning: %s %s; running it UNPROTECTED "
                "(--allow-unprotected)\n",
                path, why);
        return 0;
    }
    run_err("%s %s; refusing to run it unprotected "
            "(--allow-unprotected overrides)\n",
            path, why);
    return RUN_ERR_CANNOT_RUN;
}

/* Checks that PATH, or the interpreter that runs it, loads the shim
 * described by SHIM.  Sets *KIND to PATH's kind at depth 0.  Returns 0 if
 * the program may run, else the exit status (a message is written). */
static int check_program(const struct run_opts *o, const char *path,
                         const struct elf_facts *shim, int depth, int *kind)
{
    if (depth > RUN_MAX_INTERP_DEPTH) {
        run_err("%s: too many levels of #! interpreters\n", path);
        return RUN_ERR_CANNOT_RUN;
    }
    struct elf_facts f;
    if (elf_inspect(path, &f) < 0) {
        run_err("%s: cannot read it to check that " SHIM_NAME
                " can be loaded into it: %s\n",
                path, strerror(errno));
        return RUN_ERR_CANNOT_RUN;
    }
    if (depth == 0)
        *kind = f.kind;
    if (f.kind == FILE_SCRIPT) {
        /* The kernel ignores set-ID bits and capabilities of scripts and runs
         * the #! interpreter: that is the program to check. */
        if (!f.interp[0]) {
            run_err("%s: empty #! line\n", path);
            return RUN_ERR_CANNOT_RUN;
        }
        if (access(f.interp, F_OK) != 0) {
            run_err("%s: interpreter %s not found\n", path, f.interp);
            return RUN_ERR_CANNOT_RUN;
        }
        return check_program(o, f.interp, shim, depth + 1, kind);
    }
    if (f.kind == FILE_OTHER) /* execv() fails with ENOEXEC: run by /bin/sh */
        return check_program(o, "/bin/sh", shim, depth + 1, kind);

    struct stat st;
    if (stat(path, &st) != 0) {
        run_err("%s: %s\n", path, strerror(errno));
        return RUN_ERR_CANNOT_RUN;
    }
    int r = 0;
    if (st.st_mode & S_ISUID)
        r = refuse(o, path,
                   "is set-user-ID: the dynamic loader ignores LD_PRELOAD in it");
    if (!r && (st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP))
        r = refuse(o, path,
                   "is set-group-ID: the dynamic loader ignores LD_PRELOAD in it");
    if (!r && has_file_caps(path))
        r = refuse(o, path,
                   "has file capabilities: the dynamic loader ignores LD_PRELOAD in it");
    if (!r && !f.has_interp)
        r = refuse(o, path,
                   "is statically linked: there is no dynamic loader to load " SHIM_NAME);
    if (!r && (f.elf_class != shim->elf_class || f.machine != shim->machine)) {
        char why[PATH_MAX + 96];
        snprintf(why, sizeof why,
                 "is built for another ELF class or machine than %s (the loader "
                 "would skip it)",
                 o->shim);
        r = refuse(o, path, why);
    }
    return r;
}

/* Returns whether FILE is a regular file. */
static bool is_file(const char *file)
{
    struct stat st;
    return stat(file, &st) == 0 && S_ISREG(st.st_mode);
}

/* Finds libhastls.so: $HASTLS_SHIM; next to this executable (a build tree);
 * ROOT$LIBDIR when this executable is ROOT$BINDIR/hastls (a DESTDIR staging
 * tree or a copied prefix); $LIBDIR.  Returns 0 with the canonical path in
 * OUT (PATH_MAX bytes), or -1 after a message. */
static int find_shim(char *out)
{
    char cand[PATH_MAX + 64];
    const char *env = secure_getenv("HASTLS_SHIM");
    if (env && *env) {
        if (!is_file(env) || !realpath(env, out)) {
            run_err("HASTLS_SHIM=%s: no such file\n", env);
            return -1;
        }
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(cand, sizeof cand, "%s/" SHIM_NAME, exe);
            if (is_file(cand) && realpath(cand, out))
                return 0;
            size_t dl = strlen(exe), bl = strlen(HASTLS_BINDIR);
            if (dl > bl && !strcmp(exe + dl - bl, HASTLS_BINDIR)) {
                snprintf(cand, sizeof cand, "%.*s%s/" SHIM_NAME, (int)(dl - bl), exe,
                         HASTLS_LIBDIR);
                if (is_file(cand) && realpath(cand, out))
                    return 0;
            }
        }
    }
    snprintf(cand, sizeof cand, "%s/" SHIM_NAME, HASTLS_LIBDIR);
    if (is_file(cand) && realpath(cand, out))
        return 0;
    run_err("cannot find " SHIM_NAME " (looked for %s; set HASTLS_SHIM=FILE)\n", cand);
    return -1;
}

/* Builds the child's LD_PRELOAD: SHIM first, so that its symbols win, then
 * the entries of OLD (split at spaces and colons, as the loader does) in
 * their order, without repeats of the shim and without any other
 * libhastls.so (another build or installation: two copies would each load a
 * configuration and a resolver).  Returns a malloc()ed string or
 * NULL when out of memory. */
static char *compose_preload(const char *shim, const char *old)
{
    size_t cap = strlen(shim) + (old ? strlen(old) : 0) + 2;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    strcpy(s, shim);
    if (!old)
        return s;
    struct stat shim_st;
    bool have_st = stat(shim, &shim_st) == 0;
    char *copy = strdup(old);
    if (!copy) {
        free(s);
        return NULL;
    }
    char *save = NULL;
    for (char *e = strtok_r(copy, " :", &save); e; e = strtok_r(NULL, " :", &save)) {
        const char *base = strrchr(e, '/');
        if (!strcmp(e, shim) || !strcmp(base ? base + 1 : e, SHIM_NAME))
            continue;
        struct stat st;
        if (have_st && stat(e, &st) == 0 && st.st_dev == shim_st.st_dev &&
            st.st_ino == shim_st.st_ino)
            continue;
        strcat(s, ":");
        strcat(s, e);
    }
    free(copy);
    return s;
}

/* Parses the options before CMD.  Returns the index of CMD in ARGV, 0 after
 * --help or --version (written), or -1 after a usage error (written). */
static int parse_opts(int argc, char **argv, struct run_opts *o)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char **target = NULL;
        const char *val = NULL, *name = a;
        if (!strcmp(a, "--")) {
            i++;
            break;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            run_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
            printf("%s %s\n", me, HASTLS_VERSION);
            return 0;
        } else if (!strcmp(a, "--report")) {
            o->mode = "report";
        } else if (!strcmp(a, "--enforce")) {
            o->mode = "enforce";
        } else if (!strcmp(a, "--allow-unprotected")) {
            o->allow_unprotected = true;
        } else if (!strcmp(a, "--config") || !strcmp(a, "--app")) {
            target = a[2] == 'c' ? &o->config : &o->app;
            if (i + 1 >= argc) {
                run_err("%s needs an argument (try --help)\n", a);
                return -1;
            }
            val = argv[++i];
        } else if (!strncmp(a, "--config=", 9)) {
            target = &o->config;
            val = a + 9;
            name = "--config";
        } else if (!strncmp(a, "--app=", 6)) {
            target = &o->app;
            val = a + 6;
            name = "--app";
        } else if (a[0] == '-') {
            run_err("unknown option '%s' (try --help)\n", a);
            return -1;
        } else {
            break;
        }
        if (target) {
            if (!*val) {
                run_err("%s needs a non-empty argument\n", name);
                return -1;
            }
            *target = val;
        }
    }
    if (i >= argc) {
        run_usage(stderr);
        return -1;
    }
    if (o->app && strchr(o->app, '/') && o->app[0] != '/') {
        run_err("--app %s: a section name is a basename or an absolute path\n", o->app);
        return -1;
    }
    return i;
}

int hastls_cmd_run(int argc, char **argv)
{
    me =
        strcmp(program_invocation_short_name, "hastls-run") ? "hastls run" : "hastls-run";
    struct run_opts o = {0};
    int first = parse_opts(argc, argv, &o);
    if (first <= 0)
        return first == 0 ? 0 : RUN_ERR_USAGE;

    char conf[PATH_MAX];
    if (o.config) {
        /* Absolute, so that the program finds it whatever its working
         * directory. */
        if (!is_file(o.config) || access(o.config, R_OK) != 0 ||
            !realpath(o.config, conf)) {
            run_err("--config %s: no such readable file\n", o.config);
            return RUN_ERR_USAGE;
        }
    }

    char shim[PATH_MAX];
    if (find_shim(shim) < 0)
        return RUN_ERR_USAGE;
    if (strpbrk(shim, " :")) {
        run_err("%s: LD_PRELOAD cannot carry a path with a space or a colon "
                "(set HASTLS_SHIM)\n",
                shim);
        return RUN_ERR_USAGE;
    }
    o.shim = shim;
    struct elf_facts shim_facts;
    if (elf_inspect(shim, &shim_facts) < 0 || shim_facts.kind != FILE_ELF) {
        run_err("%s: not an ELF shared object\n", shim);
        return RUN_ERR_USAGE;
    }

    const char *cmd = argv[first];
    char prog[PATH_MAX];
    int r = find_program(cmd, prog, sizeof prog);
    if (r)
        return r;
    struct stat st;
    if (stat(prog, &st) != 0 || !S_ISREG(st.st_mode)) {
        run_err("%s: not a regular file\n", prog);
        return RUN_ERR_CANNOT_RUN;
    }
    if (access(prog, X_OK) != 0) {
        run_err("%s: permission denied\n", prog);
        return RUN_ERR_CANNOT_RUN;
    }
    int kind = FILE_OTHER;
    r = check_program(&o, prog, &shim_facts, 0, &kind);
    if (r)
        return r;

    char *preload = compose_preload(shim, getenv("LD_PRELOAD"));
    if (!preload || setenv("LD_PRELOAD", preload, 1) != 0 ||
        (o.config && setenv("HASTLS_CONF", conf, 1) != 0) ||
        (o.app && setenv("HASTLS_APP", o.app, 1) != 0) ||
        (o.mode && setenv("HASTLS_MODE", o.mode, 1) != 0)) {
        run_err("out of memory\n");
        free(preload);
        return RUN_ERR_USAGE;
    }
    free(preload);

    /* argv[0] stays as the user wrote it, as execvp() would leave it. */
    char **args = argv + first;
    if (kind == FILE_OTHER) {
        /* What execvp() does with a file the kernel cannot execute. */
        size_t n = (size_t)(argc - first);
        char **sh = calloc(n + 2, sizeof *sh);
        if (!sh) {
            run_err("out of memory\n");
            return RUN_ERR_USAGE;
        }
        sh[0] = (char *)cmd;
        sh[1] = prog;
        for (size_t k = 1; k < n; k++)
            sh[k + 1] = args[k];
        execv("/bin/sh", sh);
        run_err("/bin/sh: %s\n", strerror(errno));
        free(sh);
        return RUN_ERR_CANNOT_RUN;
    }
    execv(prog, args);
    int e = errno;
    run_err("%s: %s\n", prog, strerror(e));
    return e == ENOENT ? RUN_ERR_NOT_FOUND : RUN_ERR_CANNOT_RUN;
}
