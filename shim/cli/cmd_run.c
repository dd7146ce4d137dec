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
 * Where `dane` is not off for CMD, it also says, one line per reason, how
 * CMD's TLS escapes the shim's DANE check (shim/cli/coverage.h): a TLS
 * library built in (BoringSSL, OpenSSL linked statically), one without a
 * hook (NSS), a Go program.  Never more, never blocking, nothing when its
 * TLS is covered; --quiet drops those lines, --explain adds what is covered.
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

#include "policy/config.h"
#include "policy/elfinfo.h"
#include "shim/cli/cli.h"
#include "shim/cli/coverage.h"

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
    bool quiet;       /* no DANE coverage lines */
    bool explain;     /* also what DANE covers */
    bool unprotected; /* a refusal was overridden: the shim will not load */
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
        "  -q, --quiet          do not say how CMD's TLS escapes DANE\n"
        "  -v, --explain        also say which TLS library of CMD DANE covers\n"
        "  -h, --help           this text\n"
        "  -V, --version        the version\n"
        "\n"
        "Exit status: that of CMD; 125 if %s itself failed, 126 if CMD\n"
        "cannot be run protected or cannot be executed, 127 if CMD was not found.\n"
        "HASTLS_SHIM=FILE preloads FILE instead of the installed libhastls.so.\n",
        me, me);
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
    struct hastls_elf *e = malloc(sizeof *e);
    if (!e) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    struct hastls_elf_src src = {hastls_elf_fd_read, &fd};
    int rc = hastls_elf_read(&src, 0, e);
    close(fd);
    if (rc == HASTLS_ELF_IO) {
        free(e);
        errno = EIO;
        return -1;
    }
    if (rc != HASTLS_ELF_NOT_ELF) {
        f->kind = FILE_ELF;
        f->elf_class = e->elf_class;
        f->machine = e->machine;
        f->has_interp = rc == HASTLS_ELF_OK && e->has_interp;
    }
    free(e);
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
static int refuse(struct run_opts *o, const char *path, const char *why)
{
    if (o->allow_unprotected) {
        o->unprotected = true;
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
 * described by SHIM.  Sets *KIND to PATH's kind at depth 0, and ELF
 * (PATH_MAX bytes) to the ELF program that will run (PATH or its
 * interpreter).  Returns 0 if the program may run, else the exit status (a
 * message is written). */
static int check_program(struct run_opts *o, const char *path,
                         const struct elf_facts *shim, int depth, int *kind, char *elf)
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
        return check_program(o, f.interp, shim, depth + 1, kind, elf);
    }
    if (f.kind == FILE_OTHER) /* execv() fails with ENOEXEC: run by /bin/sh */
        return check_program(o, "/bin/sh", shim, depth + 1, kind, elf);

    struct stat st;
    if (stat(path, &st) != 0) {
        run_err("%s: %s\n", path, strerror(errno));
        return RUN_ERR_CANNOT_RUN;
    }
    snprintf(elf, PATH_MAX, "%s", path);
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

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The configuration CMD will run with (the environment as the child gets
 * it), chosen as the shim chooses it: [app:] sections by the executable ELF,
 * else by CMD's name.  Returns a malloc()ed configuration, or NULL when it
 * cannot be loaded (the shim in CMD then says why and stops). */
static struct hastls_config *child_config(const char *elf, const char *cmd)
{
    struct hastls_config *cfg = malloc(sizeof *cfg), *alt = malloc(sizeof *alt);
    char err[1024];
    char real[PATH_MAX];
    const char *exe = realpath(elf, real) ? real : elf;
    if (!cfg || !alt || hastls_config_load_default(exe, cfg, err, sizeof err) != 0) {
        free(cfg);
        free(alt);
        return NULL;
    }
    if (!cfg->app_section[0] && strcmp(base_name(exe), base_name(cmd)) != 0 &&
        hastls_config_load_default(cmd, alt, err, sizeof err) == 0 &&
        alt->app_section[0]) {
        struct hastls_config *t = cfg;
        cfg = alt;
        alt = t;
    }
    free(alt);
    return cfg;
}

/* Says, unless `dane` is off for the program, how the TLS of ELF (which runs
 * PROG, started as CMD) escapes the shim's DANE check: nothing when it does
 * not (with --explain, what is covered). */
static void diagnose_dane(const struct run_opts *o, const char *elf, const char *prog,
                          const char *cmd)
{
    struct hastls_config *cfg = child_config(elf, cmd);
    if (!cfg) {
        if (o->explain)
            run_err("DANE: not looked at: the configuration cannot be loaded\n");
        return;
    }
    enum hastls_dane_mode dane = cfg->dane;
    free(cfg);
    const char *name = base_name(elf);
    if (dane == HASTLS_DANE_OFF) {
        if (o->explain)
            run_err("DANE: dane = off for %s\n", name);
        return;
    }
    struct hastls_coverage *c = malloc(sizeof *c);
    if (!c || hastls_coverage_of(elf, getenv("LD_LIBRARY_PATH"), c) < 0) {
        if (o->explain)
            run_err("DANE: cannot read %s: %s\n", elf, strerror(c ? errno : ENOMEM));
        free(c);
        return;
    }
    if (o->explain && strcmp(elf, prog) != 0)
        run_err("DANE: %s is run by %s: that program is looked at, not the programs "
                "it starts\n",
                prog, elf);
    hastls_coverage_report(stderr, me, name, c, o->explain);
    free(c);
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
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o->quiet = true;
        } else if (!strcmp(a, "--explain") || !strcmp(a, "-v")) {
            o->explain = true;
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
    char elf[PATH_MAX] = "";
    r = check_program(&o, prog, &shim_facts, 0, &kind, elf);
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
    if (!o.quiet && !o.unprotected && elf[0])
        diagnose_dane(&o, elf, prog, cmd);

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
