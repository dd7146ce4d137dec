/* shim/core/srvmemo.c: the process's SRV answers and the rule of secure SRV
 * delegation (see srvmemo.h). */
#include "shim/core/srvmemo.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/srv.h"
#include "shim/core/cache.h"
#include "shim/core/ip.h"
#include "shim/core/locks.h"
#include "shim/core/log.h"
#include "shim/core/state.h"

#define TYPE_A 1
#define TYPE_AAAA 28

pthread_mutex_t hastls_lock_srvmemo = PTHREAD_MUTEX_INITIALIZER;
static struct hastls_srvmemo_entry memo[HASTLS_SRVMEMO_SLOTS]; /* owner "" = free */

/* NAME normalized into OUT when it is in A-label form (ASCII only).
 * Returns 0 or -1. */
static int alabel(const char *name, char *out)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p >= 0x80)
            return -1;
    return hastls_name_normalize(name, out);
}

static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static uint64_t lifetime(enum hastls_sec status, uint32_t ttl)
{
    uint64_t t = ttl;
    if (t < HASTLS_SRVMEMO_MIN_TTL)
        t = HASTLS_SRVMEMO_MIN_TTL;
    if (t > HASTLS_SRVMEMO_MAX_TTL)
        t = HASTLS_SRVMEMO_MAX_TTL;
    if (status == HASTLS_SEC_BOGUS && t > HASTLS_SRVMEMO_BOGUS_TTL)
        t = HASTLS_SRVMEMO_BOGUS_TTL;
    return t;
}

/* The entry of answer A into *E.  Returns 0, or -1 when A is not one to
 * keep. */
static int entry_of(const struct hastls_answer *a, uint64_t now,
                    struct hastls_srvmemo_entry *e)
{
    if (a->qtype != HASTLS_DNS_TYPE_SRV ||
        (a->status != HASTLS_SEC_SECURE && a->status != HASTLS_SEC_INSECURE &&
         a->status != HASTLS_SEC_BOGUS) ||
        alabel(a->qname, e->owner) < 0)
        return -1;
    e->status = a->status;
    e->expires = now + lifetime(a->status, a->ttl);
    e->n = 0;
    e->why[0] = '\0';
    if (a->status == HASTLS_SEC_BOGUS)
        copy_cut(e->why, sizeof e->why, a->reason[0] ? a->reason : "validation failed");
    for (size_t i = 0; i < a->n_rr && e->n < HASTLS_SRVMEMO_TARGETS; i++) {
        struct hastls_srv srv;
        const struct hastls_rr *rr = &a->rr[i];
        if (rr->type != HASTLS_DNS_TYPE_SRV ||
            hastls_srv_decode(a->packet, a->packet_len, rr->rdata, rr->rdlen, &srv) !=
                HASTLS_SRV_OK ||
            hastls_srv_is_null(&srv))
            continue;
        struct hastls_srvmemo_target *t = &e->t[e->n];
        if (alabel(srv.target, t->name) < 0)
            continue;
        t->port = srv.port;
        e->n++;
    }
    /* A secure or insecure answer without a target delegates nothing. */
    return e->n || a->status == HASTLS_SEC_BOGUS ? 0 : -1;
}

int hastls_srvmemo_note(const struct hastls_answer *a, uint64_t now)
{
    struct hastls_srvmemo_entry *e = malloc(sizeof *e);
    if (!a || !e || entry_of(a, now, e) < 0) {
        free(e);
        return 0;
    }
    pthread_mutex_lock(&hastls_lock_srvmemo);
    size_t victim = 0;
    for (size_t i = 0; i < HASTLS_SRVMEMO_SLOTS; i++) {
        if (memo[i].owner[0] && !strcmp(memo[i].owner, e->owner)) {
            victim = i;
            break;
        }
        if (!memo[i].owner[0] || memo[i].expires <= now) {
            victim = i;
            continue;
        }
        if (memo[victim].owner[0] && memo[victim].expires > now &&
            memo[i].expires < memo[victim].expires)
            victim = i;
    }
    memo[victim] = *e;
    pthread_mutex_unlock(&hastls_lock_srvmemo);
    free(e);
    return 1;
}

int hastls_srvmemo_get(const char *owner, uint64_t now, struct hastls_srvmemo_entry *out)
{
    char key[HASTLS_NAME_MAX];
    int found = 0;
    if (!owner || alabel(owner, key) < 0)
        return 0;
    pthread_mutex_lock(&hastls_lock_srvmemo);
    for (size_t i = 0; i < HASTLS_SRVMEMO_SLOTS && !found; i++)
        if (memo[i].owner[0] && memo[i].expires > now && !strcmp(memo[i].owner, key)) {
            *out = memo[i];
            found = 1;
        }
    pthread_mutex_unlock(&hastls_lock_srvmemo);
    return found;
}

/* Whether OWNER is "_SERVICE._tcp.SOURCE". */
static int owner_of(const char *owner, const char *source)
{
    if (owner[0] != '_')
        return 0;
    const char *dot = strchr(owner, '.');
    return dot && !strncmp(dot, "._tcp.", 6) && !strcmp(dot + 6, source);
}

static int lists(const struct hastls_srvmemo_entry *e, const char *target, uint16_t port)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->t[i].port == port && !strcmp(e->t[i].name, target))
            return 1;
    return 0;
}

int hastls_srvmemo_find(const char *source, const char *target, uint16_t port,
                        uint64_t now, struct hastls_srvmemo_entry *out)
{
    char s[HASTLS_NAME_MAX], t[HASTLS_NAME_MAX];
    if (!source || !target || alabel(source, s) < 0 || alabel(target, t) < 0)
        return 0;
    int found = 0, bogus = -1;
    pthread_mutex_lock(&hastls_lock_srvmemo);
    for (size_t i = 0; i < HASTLS_SRVMEMO_SLOTS && !found; i++) {
        const struct hastls_srvmemo_entry *e = &memo[i];
        if (!e->owner[0] || e->expires <= now || !owner_of(e->owner, s))
            continue;
        if (lists(e, t, port)) {
            *out = *e;
            found = 1;
        } else if (e->status == HASTLS_SEC_BOGUS && bogus < 0) {
            bogus = (int)i;
        }
    }
    if (!found && bogus >= 0) {
        *out = memo[bogus];
        found = 1;
    }
    pthread_mutex_unlock(&hastls_lock_srvmemo);
    return found;
}

void hastls_srvmemo_clear(void)
{
    pthread_mutex_lock(&hastls_lock_srvmemo);
    memset(memo, 0, sizeof memo);
    pthread_mutex_unlock(&hastls_lock_srvmemo);
}

const char *hastls_deleg_name(enum hastls_deleg d)
{
    switch (d) {
    case HASTLS_DELEG_NONE:
        return "none";
    case HASTLS_DELEG_SECURE:
        return "secure";
    case HASTLS_DELEG_INSECURE:
        return "insecure";
    case HASTLS_DELEG_BOGUS:
        return "bogus";
    }
    return "?";
}

/* ---- the rule ---- */

/* The SRV service of a port the shim looks up itself (RFC 6120, 7712). */
static const char *service_of(uint16_t port)
{
    switch (port) {
    case 5222:
        return "xmpp-client";
    case 5269:
        return "xmpp-server";
    default:
        return NULL;
    }
}

/* Asks the resolver Q[0..NQ); answers into ANS.  Returns 0 with *API, or -1
 * (resolver unavailable or out of memory). */
static int ask(const struct hastls_query *q, size_t nq, struct hastls_answer **ans,
               const struct hastls_resolver_api **api_out)
{
    const struct hastls_resolver_api *api;
    struct hastls_resolver *r;
    int saved = errno;
    if (hastls_state_resolver(&api, &r) < 0) {
        errno = saved;
        return -1;
    }
    hastls_guard_enter();
    int rc = api->lookup(r, q, nq, ans);
    hastls_guard_leave();
    errno = saved;
    if (rc < 0)
        return -1;
    *api_out = api;
    return 0;
}

/* Looks up the SRV of SOURCE for PORT's service and remembers it. */
static void lookup_srv(const char *source, uint16_t port, uint64_t now)
{
    const char *svc = service_of(port);
    char owner[HASTLS_NAME_MAX + 32];
    if (!svc)
        return;
    snprintf(owner, sizeof owner, "_%s._tcp.%s.", svc, source);
    struct hastls_query q = {owner, HASTLS_DNS_TYPE_SRV};
    struct hastls_answer *a = NULL;
    const struct hastls_resolver_api *api;
    if (ask(&q, 1, &a, &api) < 0 || !a)
        return;
    (void)hastls_srvmemo_note(a, now);
    hastls_log(HASTLS_LOG_DEBUG, "SRV %s looked up for a connection named %s", owner,
               source);
    api->answer_free(a);
}

/* Whether TARGET's address answers are DNSSEC-secure and list KEY (when not
 * NULL).  Returns 1, or 0 with WHY. */
static int addresses_secure(const char *target, const uint8_t key[16], char *why,
                            size_t cap)
{
    char name[HASTLS_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s.", target);
    struct hastls_query q[2] = {{name, TYPE_A}, {name, TYPE_AAAA}};
    struct hastls_answer *a[2] = {NULL, NULL};
    const struct hastls_resolver_api *api;
    if (ask(q, 2, a, &api) < 0) {
        snprintf(why, cap, "the addresses of %s could not be looked up", target);
        return 0;
    }
    int ok = 1, listed = key == NULL;
    for (int i = 0; i < 2; i++) {
        if (!a[i] || a[i]->status != HASTLS_SEC_SECURE) {
            if (ok)
                snprintf(why, cap, "the %s answer of %s is %s", i ? "AAAA" : "A", target,
                         !a[i]                                 ? "missing"
                         : a[i]->status == HASTLS_SEC_INSECURE ? "not signed"
                         : a[i]->status == HASTLS_SEC_BOGUS    ? "DNSSEC-bogus"
                                                               : "unavailable");
            ok = 0;
            continue;
        }
        for (size_t k = 0; k < a[i]->n_rr && !listed; k++) {
            int family = hastls_rr_address_family(&a[i]->rr[k]);
            uint8_t ip[16];
            if (!family)
                continue;
            hastls_ip_key(family, a[i]->rr[k].rdata, ip);
            listed = !memcmp(ip, key, 16);
        }
    }
    if (ok && !listed) {
        snprintf(why, cap, "the secure addresses of %s do not include the peer's",
                 target);
        ok = 0;
    }
    for (int i = 0; i < 2; i++)
        if (a[i])
            api->answer_free(a[i]);
    return ok;
}

int hastls_srv_delegation(const char *source, const char *target, uint16_t port,
                          const uint8_t key[16], struct hastls_deleg_result *out)
{
    if (!source || !target || !out)
        return -1;
    memset(out, 0, sizeof *out);
    out->state = HASTLS_DELEG_NONE;
    if (alabel(source, out->source) < 0 || alabel(target, out->target) < 0 ||
        !strcmp(out->source, out->target))
        return 0;
    uint64_t now = hastls_now();
    struct hastls_srvmemo_entry *e = malloc(sizeof *e);
    if (!e) {
        hastls_log(HASTLS_LOG_ERROR, "out of memory checking the SRV delegation of %s",
                   out->source);
        return 0; /* no delegation: the source name alone */
    }
    int found = hastls_srvmemo_find(out->source, out->target, port, now, e);
    if (!found) {
        lookup_srv(out->source, port, now);
        found = hastls_srvmemo_find(out->source, out->target, port, now, e);
    }
    if (found) {
        snprintf(out->owner, sizeof out->owner, "%s", e->owner);
        if (e->status == HASTLS_SEC_BOGUS) {
            out->state = HASTLS_DELEG_BOGUS;
            snprintf(out->why, sizeof out->why,
                     "the SRV records at %s are DNSSEC-bogus: %s", e->owner, e->why);
        } else if (e->status != HASTLS_SEC_SECURE) {
            out->state = HASTLS_DELEG_INSECURE;
            snprintf(out->why, sizeof out->why, "the SRV records at %s are not signed",
                     e->owner);
        } else if (addresses_secure(out->target, key, out->why, sizeof out->why)) {
            out->state = HASTLS_DELEG_SECURE;
        } else {
            out->state = HASTLS_DELEG_INSECURE;
        }
    }
    free(e);
    if (out->state != HASTLS_DELEG_NONE && hastls_log_enabled(HASTLS_LOG_DEBUG))
        hastls_log(HASTLS_LOG_DEBUG, "SRV delegation of %s to %s:%u: %s%s%s", out->source,
                   out->target, port, hastls_deleg_name(out->state),
                   out->why[0] ? ": " : "", out->why);
    return 0;
}
