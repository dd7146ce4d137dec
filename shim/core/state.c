/* shim/core/state.c: configuration, fork handling and the resolver loader (see
 * state.h). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/checked.h"
#include "shim/core/agent.h"
#include "shim/core/locks.h"
#include "shim/core/log.h"
#include "shim/core/ownfd.h"
#include "shim/core/state.h"

#define RESOLVER_SO "libhastls-resolver.so"
#define CACHE_SHARDS 16
#define CACHE_WAYS 64
#define ADDRMAP_MAX 4096

__thread int hastls_guard_depth __attribute__((tls_model("initial-exec")));

static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static struct hastls_config config; /* written once, then read-only */
static struct hastls_cache *cache;
static struct hastls_addrmap *addrmap;

/* The resolver, guarded by hastls_lock_resolver (in the fork list,
 * locks.h).  The lock is held while loading and creating (no network I/O
 * happens there), never across a lookup. */
enum resolver_state { RES_UNLOADED, RES_READY, RES_FAILED };
pthread_mutex_t hastls_lock_resolver = PTHREAD_MUTEX_INITIALIZER;
/* The TLS hooks' locks (shim/hooks/openssl.c, gnutls.c) live here, with the
 * fork handlers that take them, so that the core library links without the
 * hooks (unit tests). */
pthread_mutex_t hastls_lock_dane_ctx = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t hastls_lock_gnutls = PTHREAD_MUTEX_INITIALIZER;
static enum resolver_state resolver_state;
static void *resolver_handle;
static const struct hastls_resolver_api *resolver_api;
static struct hastls_resolver *resolver;

/* The resolver's entry points as the shim calls them (RESOLVER_API points
 * here once loaded): what the calling thread opens inside create(), lookup()
 * or destroy() belongs to the resolver, so that it is close-on-exec and
 * closed in a fork child (ownfd.h). */
static const struct hastls_resolver_api *loaded_api;
static struct hastls_resolver_api marked_api;

static struct hastls_resolver *marked_create(const struct hastls_config *cfg,
                                             hastls_log_fn log, char *err, size_t errlen)
{
    hastls_ownfd_enter();
    struct hastls_resolver *r = loaded_api->create(cfg, log, err, errlen);
    hastls_ownfd_leave();
    return r;
}

static int marked_lookup(struct hastls_resolver *r, const struct hastls_query *q,
                         size_t nq, struct hastls_answer **ans)
{
    hastls_ownfd_enter();
    int rc = loaded_api->lookup(r, q, nq, ans);
    hastls_ownfd_leave();
    return rc;
}

static void marked_destroy(struct hastls_resolver *r)
{
    hastls_ownfd_enter();
    loaded_api->destroy(r);
    hastls_ownfd_leave();
}

static const struct hastls_resolver_api *mark_api(const struct hastls_resolver_api *api)
{
    loaded_api = api;
    marked_api = *api;
    marked_api.create = marked_create;
    marked_api.lookup = marked_lookup;
    marked_api.destroy = marked_destroy;
    return &marked_api;
}

/* Prints the loader's error lines with the "hastls: " prefix. */
static void print_errors(char *err)
{
    char *save = NULL;
    for (char *line = strtok_r(err, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        hastls_log_raw(line);
}

/* ---- fork() ----
 * The three handlers walk the one list of every lock (HASTLS_LOCKS in
 * locks.h): prepare takes each, parent releases each, child re-initializes
 * each.  A lock is added there, never here. */

/* The tables prepare locked, so that parent and child release exactly those
 * even if another thread made them meanwhile (make_tables runs unlocked). */
static struct hastls_cache *fork_cache;
static struct hastls_addrmap *fork_addrmap;

#define FORK_TAKE_MUTEX(l) pthread_mutex_lock(&l);
#define FORK_TAKE_RWLOCK(l) pthread_rwlock_wrlock(&l);
#define FORK_TAKE_TABLE(t, lock_all, unlock_all, reinit)                                 \
    fork_##t = __atomic_load_n(&t, __ATOMIC_ACQUIRE);                                    \
    if (fork_##t)                                                                        \
        lock_all(fork_##t);
#define FORK_RELEASE_MUTEX(l) pthread_mutex_unlock(&l);
#define FORK_RELEASE_RWLOCK(l) pthread_rwlock_unlock(&l);
#define FORK_RELEASE_TABLE(t, lock_all, unlock_all, reinit)                              \
    if (fork_##t)                                                                        \
        unlock_all(fork_##t);
#define FORK_REINIT_MUTEX(l) pthread_mutex_init(&l, NULL);
#define FORK_REINIT_RWLOCK(l) pthread_rwlock_init(&l, NULL);
#define FORK_REINIT_TABLE(t, lock_all, unlock_all, reinit)                               \
    if (fork_##t)                                                                        \
        reinit(fork_##t);

#define FORK_TAKE_HANDLERS(prepare, parent, child) prepare();
#define FORK_RELEASE_HANDLERS(prepare, parent, child) parent();
#define FORK_REINIT_HANDLERS(prepare, parent, child) child();

static void atfork_prepare(void)
{
    HASTLS_LOCKS(FORK_TAKE_MUTEX, FORK_TAKE_RWLOCK, FORK_TAKE_HANDLERS, FORK_TAKE_TABLE)
}

static void atfork_parent(void)
{
    HASTLS_LOCKS(FORK_RELEASE_MUTEX, FORK_RELEASE_RWLOCK, FORK_RELEASE_HANDLERS,
                 FORK_RELEASE_TABLE)
}

static void atfork_child(void)
{
    HASTLS_LOCKS(FORK_REINIT_MUTEX, FORK_REINIT_RWLOCK, FORK_REINIT_HANDLERS,
                 FORK_REINIT_TABLE)
    /* The parent's resolver threads are gone: close its descriptors (those
     * libunbound opened, then the resolver's own) and let the first lookup
     * here create a new one (cache and map stay valid). */
    hastls_ownfd_close_all();
    if (resolver_state == RES_READY && resolver) {
        resolver_api->forget(resolver);
        resolver = NULL;
        resolver_state = RES_UNLOADED;
    }
}

/* Installs the fork handlers.  Returns 0, or -1 with errno set.
 *
 * Without them a child forked while another thread holds one of the shim's
 * locks deadlocks, and every child would go on using its parent's resolver,
 * whose threads it does not have.  pthread_atfork fails only when out of
 * memory; the caller then fails closed: the process exits at start, as for
 * an invalid configuration, rather than run as if fork() were safe. */
static int install_fork_handlers(void)
{
    int rc = pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    if (rc != 0)
        errno = rc;
    HASTLS_GUARD_ZERO(rc);
    return 0;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The retry under argv[0]'s name, in its own frame: its 22 KiB struct would
 * otherwise sit in load_config's and push every deeper frame onto stack pages
 * the process never touches. */
static __attribute__((noinline)) void load_config_argv0(const char *argv0)
{
    struct hastls_config alt;
    char err2[4096];
    err2[0] = '\0';
    if (hastls_config_load_default(argv0, &alt, err2, sizeof err2) == 0 &&
        alt.app_section[0] != '\0')
        config = alt;
}

static void load_config(void)
{
    hastls_guard_enter();
    /* [app:NAME] matches the executable (/proc/self/exe, its basename or full
     * path); if no section matched it, argv[0]'s basename is tried, so that
     * "python3" matches although the binary is python3.11. */
    char exe[HASTLS_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    const char *argv0 = program_invocation_name;
    /* Not zero-filled: the loader writes the string; a 4 KiB initializer
     * would touch stack pages in every process. */
    char err[4096];
    err[0] = '\0';
    int rc = hastls_config_load_default(exe[0] ? exe : argv0, &config, err, sizeof err);
    if (rc == 0 && config.app_section[0] == '\0' && argv0 && argv0[0] && exe[0] &&
        strcmp(base_name(exe), base_name(argv0)) != 0)
        load_config_argv0(argv0);
    if (rc != 0) {
        print_errors(err);
        hastls_log_raw("invalid configuration: refusing to run unprotected");
        _exit(1);
    }
    hastls_log_set_level(config.log_level);
    /* Fail closed (see install_fork_handlers and libhastls(7)). */
    if (install_fork_handlers() < 0) {
        char line[256];
        snprintf(line, sizeof line,
                 "cannot install the fork handlers (%s): refusing to run unprotected",
                 strerror(errno));
        hastls_log_raw(line);
        _exit(1);
    }
    hastls_guard_leave();
}

const struct hastls_config *hastls_state_config(void)
{
    int saved = errno;
    pthread_once(&config_once, load_config);
    errno = saved;
    return &config;
}

/* The cache and the map are made on the first lookup, not at start-up:
 * programs that never resolve a name do not pay for them. */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void make_tables(void)
{
    struct hastls_cache *c = hastls_cache_new(CACHE_SHARDS, CACHE_WAYS);
    struct hastls_addrmap *m = hastls_addrmap_new(ADDRMAP_MAX);
    if (!c || !m)
        hastls_log(HASTLS_LOG_ERROR, "out of memory: lookups will fail");
    __atomic_store_n(&cache, c, __ATOMIC_RELEASE);
    __atomic_store_n(&addrmap, m, __ATOMIC_RELEASE);
}

struct hastls_cache *hastls_state_cache(void)
{
    hastls_state_config();
    pthread_once(&tables_once, make_tables);
    return cache;
}

struct hastls_addrmap *hastls_state_addrmap(void)
{
    hastls_state_config();
    pthread_once(&tables_once, make_tables);
    return addrmap;
}

struct hastls_addrmap *hastls_state_addrmap_if_any(void)
{
    return __atomic_load_n(&addrmap, __ATOMIC_ACQUIRE);
}

/* Loads the configuration before main(), so a bad file stops the program
 * before it does anything. */
__attribute__((constructor)) static void hastls_constructor(void)
{
    hastls_state_config();
}

static void resolver_log(enum hastls_log_level level, const char *msg)
{
    hastls_log(level, "%s", msg);
}

/* dlopen()s the resolver object: next to libhastls.so (a build tree), in
 * hastls/ next to it (the installed layout, also when staged under DESTDIR or
 * moved to another prefix), else the compiled-in PKGLIBDIR. */
static void *open_resolver(char *why, size_t whylen)
{
    static const char *const subdirs[] = {"", "/hastls"};
    char path[HASTLS_PATH_MAX];
    Dl_info info;
    why[0] = '\0';
    if (dladdr((void *)open_resolver, &info) && info.dli_fname &&
        strchr(info.dli_fname, '/')) {
        const char *slash = strrchr(info.dli_fname, '/');
        for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
            int len = snprintf(path, sizeof path, "%.*s%s/" RESOLVER_SO,
                               (int)(slash - info.dli_fname), info.dli_fname, subdirs[i]);
            if (len <= 0 || (size_t)len >= sizeof path || access(path, R_OK) != 0)
                continue;
            void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
            if (h)
                return h;
            size_t used = strlen(why);
            snprintf(why + used, whylen - used, "%s; ", dlerror());
        }
    }
    snprintf(path, sizeof path, "%s/" RESOLVER_SO, HASTLS_PKGLIBDIR);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        size_t used = strlen(why);
        snprintf(why + used, whylen - used, "%s", dlerror());
    }
    return h;
}

/* The in-process resolver (libhastls-resolver.so). */
static int local_resolver(const struct hastls_resolver_api **api,
                          struct hastls_resolver **r)
{
    const struct hastls_config *cfg = hastls_state_config();
    int saved = errno;
    hastls_guard_enter();
    pthread_mutex_lock(&hastls_lock_resolver);
    if (resolver_state == RES_UNLOADED) {
        char why[1024];
        if (!resolver_handle) {
            resolver_handle = open_resolver(why, sizeof why);
            if (resolver_handle) {
                resolver_api = dlsym(resolver_handle, HASTLS_RESOLVER_API_SYMBOL);
                if (!resolver_api ||
                    resolver_api->version != HASTLS_RESOLVER_API_VERSION) {
                    snprintf(why, sizeof why, "%s: no %s of version %u", RESOLVER_SO,
                             HASTLS_RESOLVER_API_SYMBOL, HASTLS_RESOLVER_API_VERSION);
                    resolver_api = NULL;
                }
            }
        }
        /* Fail closed: without knowing libunbound's code the socket hooks
         * could not keep its descriptors from exec()ed programs (ownfd.h). */
        if (resolver_api && hastls_ownfd_find_resolver() < 0) {
            snprintf(why, sizeof why, "%s: libunbound's code not found", RESOLVER_SO);
            resolver_api = NULL;
        }
        if (resolver_api && resolver_api != &marked_api)
            resolver_api = mark_api(resolver_api);
        if (resolver_api) {
            char err[1024] = "";
            resolver = resolver_api->create(cfg, resolver_log, err, sizeof err);
            if (!resolver)
                snprintf(why, sizeof why, "%s", err);
        }
        if (resolver) {
            resolver_state = RES_READY;
        } else {
            resolver_state = RES_FAILED;
            hastls_log(HASTLS_LOG_ERROR,
                       "cannot start the resolver (%s): every name lookup will fail",
                       why);
        }
    }
    int ok = resolver_state == RES_READY;
    if (ok) {
        *api = resolver_api;
        *r = resolver;
    }
    pthread_mutex_unlock(&hastls_lock_resolver);
    hastls_guard_leave();
    errno = saved;
    return ok ? 0 : -1;
}

int hastls_state_resolver(const struct hastls_resolver_api **api,
                          struct hastls_resolver **r)
{
    /* The user's agent when this process may use one (shim/core/agent.c);
     * its lookups fall back to local_resolver by themselves. */
    if (hastls_agent_resolver(hastls_state_config(), local_resolver, api, r) == 0)
        return 0;
    return local_resolver(api, r);
}
