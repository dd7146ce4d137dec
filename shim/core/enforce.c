/* shim/core/enforce.c: the connect()/sendto() decision (see enforce.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "policy/verdict.h"
#include "shim/core/enforce.h"
#include "shim/core/ip.h"
#include "shim/core/log.h"
#include "shim/core/rundir.h"
#include "shim/core/sharedtab.h"
#include "shim/core/state.h"

/* Writes the blocked / would-block line; returns the hook's result. */
static int refuse(const struct hastls_config *cfg, const char *what, const char *name,
                  const uint8_t key[16], uint16_t port, const char *reason)
{
    char addr[64];
    hastls_key_format(key, addr, sizeof addr);
    const char *client = hastls_client_name(cfg->client);
    if (cfg->mode == HASTLS_MODE_REPORT) {
        hastls_log(HASTLS_LOG_WARN, "would block %s to %s[%s]:%u: %s (client %s)", what,
                   name, addr, port, reason, client);
        return 0;
    }
    hastls_log(HASTLS_LOG_ERROR, "blocked %s to %s[%s]:%u: %s (client %s)", what, name,
               addr, port, reason, client);
    errno = EACCES;
    return -1;
}

/* ---- the user's shared address memory (shim/core/sharedtab.h) ------------
 *
 * Mapped lazily by the first connect() that the process's own memory does
 * not decide, and mapped again (at most once a second, SHARED_RETRY_S) while
 * there is none or while the mapped one is retired (its agent left or was
 * replaced).  Meanwhile a retired table still decides: what its agent wrote
 * stays true as stale entries do in the process's own memory.  Lock-free,
 * and without any atomic read-modify-write on the connect path: the current
 * view is one atomic pointer, and a replaced view is never unmapped (a
 * reader may still be inside it; a table costs address space, and only the
 * pages a reader touched): after SHARED_MAX_VIEWS replacements in one
 * process (agents restarted that often) the last view stays in use, its
 * entries deciding as stale ones do. */
#define SHARED_RETRY_S 1
#define SHARED_MAX_VIEWS 64

static struct hastls_sharedtab *shared_tab; /* atomic */
static unsigned shared_views;               /* atomic: views mapped so far */
static uint64_t shared_next_try;            /* atomic: hastls_now() seconds */
static int shared_tried;                    /* atomic: an attempt has ended */
static int shared_off;                      /* atomic: 1 never, 2 decided to use */
static int shared_warned;                   /* atomic: a refusal was logged */

/* Whether this process may use the shared table: as for the agent itself
 * (agent = auto, not set-user-ID or set-group-ID). */
static int shared_allowed(const struct hastls_config *cfg)
{
    int off = __atomic_load_n(&shared_off, __ATOMIC_RELAXED);
    if (!off) {
        off = cfg->agent == HASTLS_AGENT_AUTO && !getauxval(AT_SECURE) ? 2 : 1;
        __atomic_store_n(&shared_off, off, __ATOMIC_RELAXED);
    }
    return off == 2;
}

/* Maps the table of this process's agent; NULL when there is none or it is
 * refused (warned once per process). */
static struct hastls_sharedtab *shared_map(const struct hastls_config *cfg)
{
    char dir[HASTLS_PATH_MAX], err[512], name[64], file[96];
    int dfd = hastls_rundir_open(dir, sizeof dir, err, sizeof err);
    if (dfd < 0)
        return NULL;
    struct hastls_sharedtab *t = NULL;
    if (hastls_agent_name(cfg, name, sizeof name) == 0) {
        snprintf(file, sizeof file, "%s%s", name, HASTLS_SHAREDTAB_SUFFIX);
        if (hastls_sharedtab_open(dfd, file, geteuid(), &t, err, sizeof err) ==
                HASTLS_SHAREDTAB_REFUSED &&
            !__atomic_exchange_n(&shared_warned, 1, __ATOMIC_RELAXED))
            hastls_log(HASTLS_LOG_WARN,
                       "shared address table %s/%s: not trusted, not used (only the "
                       "addresses this process resolved are governed)",
                       dir, err);
    }
    close(dfd);
    return t;
}

/* The view to decide from (NULL for none); called inside the readers'
 * count.  In the steady state: two loads. */
static struct hastls_sharedtab *shared_current(const struct hastls_config *cfg,
                                               uint64_t now)
{
    struct hastls_sharedtab *t = __atomic_load_n(&shared_tab, __ATOMIC_ACQUIRE);
    if (t && !hastls_sharedtab_retired(t))
        return t;
    if (__atomic_load_n(&shared_views, __ATOMIC_RELAXED) >= SHARED_MAX_VIEWS)
        return t;
    /* Until one attempt has ended every thread tries: none may pass
     * undecided because another is still mapping.  Then one thread a second. */
    if (__atomic_load_n(&shared_tried, __ATOMIC_ACQUIRE)) {
        uint64_t next = __atomic_load_n(&shared_next_try, __ATOMIC_RELAXED);
        if (now < next ||
            !__atomic_compare_exchange_n(&shared_next_try, &next, now + SHARED_RETRY_S, 0,
                                         __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return t;
    }
    struct hastls_sharedtab *n = shared_map(cfg);
    if (n)
        __atomic_add_fetch(&shared_views, 1, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&shared_tried, __ATOMIC_RELAXED)) {
        __atomic_store_n(&shared_next_try, now + SHARED_RETRY_S, __ATOMIC_RELAXED);
        __atomic_store_n(&shared_tried, 1, __ATOMIC_RELEASE);
    }
    if (!n)
        return t;
    /* The view T replaced stays mapped (see above). */
    if (!__atomic_compare_exchange_n(&shared_tab, &t, n, 0, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST)) {
        hastls_sharedtab_close(n); /* another thread mapped one first */
        return t;
    }
    hastls_log(HASTLS_LOG_DEBUG, "using the shared address table of the agent");
    return n;
}

/* The shared table's verdict for KEY, PORT: 0 not known there, 1 with *V
 * set, -1 a slot kept changing (fail closed). */
static int shared_decide(const struct hastls_config *cfg, const uint8_t key[16],
                         uint16_t port, uint64_t now, struct hastls_addrmap_verdict *v)
{
    if (!shared_allowed(cfg))
        return 0;
    int saved = errno; /* mapping makes system calls; the program's errno stays */
    struct hastls_sharedtab *t = shared_current(cfg, now);
    int r =
        t ? hastls_sharedtab_decide(t, key, port, cfg->client, cfg->bogus, now, v) : 0;
    errno = saved;
    return r;
}

int hastls_enforce(const struct sockaddr *sa, socklen_t len, const char *what)
{
    uint8_t key[16];
    uint16_t port;
    if (hastls_guarded() || hastls_sockaddr_key(sa, len, key, &port) < 0)
        return 0;
    const struct hastls_config *cfg = hastls_state_config();
    /* the resolver's own connections (port 53 to an upstream is not exempt:
     * under opportunistic/off it is not refused in the first place) */
    if (hastls_ip_is_upstream(cfg, key, port))
        return 0;
    if (port == 53 && (cfg->privacy == HASTLS_PRIVACY_STRICT ||
                       cfg->privacy == HASTLS_PRIVACY_ENCRYPTED)) {
        char reason[128];
        snprintf(reason, sizeof reason, "cleartext DNS is refused under privacy %s",
                 hastls_privacy_name(cfg->privacy));
        return refuse(cfg, what, "", key, port, reason);
    }
    struct hastls_addrmap *map = hastls_state_addrmap_if_any();
    struct hastls_addrmap_verdict v;
    uint64_t now = hastls_now();
    if (!map ||
        !hastls_addrmap_decide(map, key, port, cfg->client, cfg->bogus, now, &v)) {
        int r = shared_decide(cfg, key, port, now, &v);
        if (r < 0)
            return refuse(cfg, what, "", key, port,
                          "the user's shared address memory kept changing while read "
                          "(fail closed)");
        if (r == 0)
            return 0;
    }
    if (v.d.verdict == HASTLS_VERDICT_ALLOW)
        return 0;
    char reason[256];
    hastls_rec_reason(v.rec, cfg->bogus, &v.d, port, reason, sizeof reason);
    if (v.d.verdict == HASTLS_VERDICT_ALLOW_NOTE) {
        if (hastls_log_enabled(HASTLS_LOG_INFO)) {
            char addr[64];
            hastls_key_format(key, addr, sizeof addr);
            hastls_log(HASTLS_LOG_INFO,
                       "cleartext %s to %s[%s]:%u allowed: %s (client %s)", what, v.name,
                       addr, port, reason, hastls_client_name(cfg->client));
        }
        return 0;
    }
    return refuse(cfg, what, v.name, key, port, reason);
}
