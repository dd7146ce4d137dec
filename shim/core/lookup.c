/* shim/core/lookup.c: host, PTR and raw lookups (see lookup.h).
 *
 * What the answers mean (the record state, whether a lookup fails and with
 * which code) is policy/record.h's; this file asks, caches, records the
 * addresses in the address map and hands out only addresses it governs.
 */
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/checked.h"
#include "policy/dnswire.h"
#include "policy/httpsrr.h"
#include "policy/record.h"
#include "policy/verdict.h"
#include "shim/core/ai.h"
#include "shim/core/dane.h"
#include "shim/core/hostpins.h"
#include "shim/core/hosts.h"
#include "shim/core/log.h"
#include "shim/core/lookup.h"
#include "shim/core/owner.h"
#include "shim/core/search.h"
#include "shim/core/srvmemo.h"
#include "shim/core/state.h"

#define TYPE_A 1
#define TYPE_PTR 12
#define TYPE_AAAA 28
#define FAILED_RECORD_TTL 30 /* seconds */

static void late_answer(const struct hastls_answer *a);

/* One batched resolver call with the guard set (the resolver's own sockets
 * must pass the hooks untouched).  Returns 0, or -1 (logged) when the
 * resolver is unavailable or out of memory. */
static int resolve(const struct hastls_query *q, size_t nq, struct hastls_answer **ans,
                   const struct hastls_resolver_api **api_out)
{
    const struct hastls_resolver_api *api;
    struct hastls_resolver *r;
    for (size_t i = 0; i < nq; i++)
        ans[i] = NULL;
    if (hastls_state_resolver(&api, &r) < 0)
        return -1;
    /* The in-process resolver hands over HASTLS answers that came late (the
     * agent keeps them in its cache for the next lookup instead). */
    if (api->set_late)
        api->set_late(r, late_answer);
    int saved = errno;
    hastls_guard_enter();
    int rc = api->lookup(r, q, nq, ans);
    hastls_guard_leave();
    errno = saved;
    if (rc < 0) {
        hastls_log(HASTLS_LOG_ERROR, "resolver out of memory looking up %s", q[0].name);
        return -1;
    }
    *api_out = api;
    return 0;
}

static void strip_dot(char *s)
{
    size_t len = strlen(s);
    if (len > 1 && s[len - 1] == '.')
        s[len - 1] = '\0';
}

static uint64_t min2(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* The addresses of answer A (of type A or AAAA) into H's family I.  A bogus
 * answer gives none: its addresses are never handed out nor governed.
 * Returns 1 when the answer had more addresses than an entry holds (the first
 * HASTLS_CACHE_MAX_ITEMS are kept; the entry is then not cached). */
/* A bogus answer's reason WHY into the cache's bounded OUT, cut to fit. */
static void keep_why(char out[HASTLS_CACHE_WHY_MAX], const char *why)
{
    size_t n = strnlen(why, HASTLS_CACHE_WHY_MAX - 1);
    memcpy(out, why, n);
    out[n] = '\0';
}

static int take_family(const struct hastls_answer *a, struct hastls_cache_host *h, int i)
{
    struct hastls_cache_family *f = &h->fam[i];
    f->status = (uint8_t)a->status;
    f->rcode = (int16_t)a->rcode;
    f->n = 0;
    if (a->status == HASTLS_SEC_BOGUS)
        return 0;
    int want = i == HASTLS_ANS_A ? AF_INET : AF_INET6;
    for (size_t k = 0; k < a->n_rr; k++) {
        if (hastls_rr_address_family(&a->rr[k]) != want)
            continue;
        if (f->n == HASTLS_CACHE_MAX_ITEMS)
            return 1;
        if (i == HASTLS_ANS_A)
            memcpy(&h->a[f->n++], a->rr[k].rdata, 4);
        else
            memcpy(&h->aaaa[f->n++], a->rr[k].rdata, 16);
    }
    return 0;
}

/* Records every address of H for NAME in the address map, with H's record
 * state and pairs, until EXPIRES; sets H's references.  Returns 0, or -1
 * (logged) when the map is out of memory: the caller must not hand the
 * addresses out. */
static int record_host(struct hastls_addrmap *m, const char *name,
                       struct hastls_cache_host *h, const struct hastls_pair *pairs,
                       size_t np, uint64_t expires, uint64_t now)
{
    enum hastls_rec rec = (enum hastls_rec)h->rec;
    uint8_t key[16];
    int rc = 0;
    for (size_t i = 0; i < h->fam[HASTLS_ANS_A].n && rc == 0; i++) {
        hastls_ip_key(AF_INET, &h->a[i], key);
        rc = hastls_addrmap_record(m, key, name, rec, pairs, np, expires, now,
                                   &h->ref4[i]);
    }
    for (size_t i = 0; i < h->fam[HASTLS_ANS_AAAA].n && rc == 0; i++) {
        hastls_ip_key(AF_INET6, &h->aaaa[i], key);
        rc = hastls_addrmap_record(m, key, name, rec, pairs, np, expires, now,
                                   &h->ref6[i]);
    }
    if (rc == HASTLS_ADDRMAP_FULL)
        hastls_log(HASTLS_LOG_ERROR,
                   "an address of %s already has %d names with distinct HASTLS records: "
                   "lookup refused",
                   name, HASTLS_ADDRMAP_MAX_NAMES);
    else if (rc < 0)
        hastls_log(HASTLS_LOG_ERROR,
                   "out of memory recording the addresses of %s: lookup refused", name);
    return rc;
}

/* Whether the address map still holds the record of every address of H (it
 * evicts when full, and a program may look a name up long after). */
static int host_governed(struct hastls_addrmap *m, const struct hastls_cache_host *h)
{
    for (size_t i = 0; i < h->fam[HASTLS_ANS_A].n; i++)
        if (!hastls_addrmap_holds(m, h->ref4[i]))
            return 0;
    for (size_t i = 0; i < h->fam[HASTLS_ANS_AAAA].n; i++)
        if (!hastls_addrmap_holds(m, h->ref6[i]))
            return 0;
    return 1;
}

/* The result code for FAMILY (policy/record.h's rule), logged with the
 * reason WHY[i] of the answer that explains a failure ("" when unknown). */
static int host_result(const char *name, int family, const struct hastls_cache_host *h,
                       const char *const why[2])
{
    struct hastls_addr_answer a[2];
    for (int i = 0; i < 2; i++) {
        a[i].status = (enum hastls_sec)h->fam[i].status;
        a[i].rcode = h->fam[i].rcode;
        a[i].n = h->fam[i].n;
    }
    int cause = HASTLS_ANS_A;
    int rc = hastls_host_result(family, a, &cause);
    const char *w = why[cause];
    if (rc == EAI_FAIL) {
        hastls_log(HASTLS_LOG_WARN, "lookup of %s failed DNSSEC validation: %s", name,
                   w[0] ? w : "bogus answer");
    } else if (rc == EAI_AGAIN) {
        const struct hastls_config *cfg = hastls_state_config();
        hastls_log(HASTLS_LOG_WARN, "no answer for %s under privacy %s: %s", name,
                   hastls_privacy_name(cfg->privacy), w[0] ? w : "resolver failure");
    }
    return rc;
}

/* Copies the first N bytes of SRC (at most HASTLS_NAME_MAX - 1) into DST and
 * terminates it: the names on the warm path, without snprintf's cost. */
static void copy_name(char *dst, const char *src, size_t n)
{
    if (n > HASTLS_NAME_MAX - 1)
        n = HASTLS_NAME_MAX - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void fill_info(const struct hastls_cache_host *h, struct hastls_hostinfo *out)
{
    out->n4 = out->n6 = 0;
    for (size_t i = 0; i < h->fam[HASTLS_ANS_A].n && i < HASTLS_LOOKUP_MAX; i++) {
        out->v4[i].family = AF_INET;
        memset(out->v4[i].addr, 0, 16);
        memcpy(out->v4[i].addr, &h->a[i], 4);
        out->n4++;
    }
    for (size_t i = 0; i < h->fam[HASTLS_ANS_AAAA].n && i < HASTLS_LOOKUP_MAX; i++) {
        out->v6[i].family = AF_INET6;
        memcpy(out->v6[i].addr, &h->aaaa[i], 16);
        out->n6++;
    }
    out->v6_first = (h->flags & HASTLS_CACHE_V6_USABLE) != 0;
    copy_name(out->canon, h->canon, strnlen(h->canon, sizeof h->canon));
}

/* A hit: the entry's result, its addresses recorded again first when the map
 * has let some go.  Allocation-free unless re-recording. */
static int from_cache(const char *key, int family, struct hastls_cache_host *h,
                      struct hastls_cache *cache, struct hastls_addrmap *map,
                      uint64_t now, struct hastls_hostinfo *out)
{
    const char *const why[2] = {h->why, h->why};
    int rc = host_result(key, family, h, why);
    if (rc)
        return rc;
    if (!host_governed(map, h)) {
        if (record_host(map, key, h, h->pairs, h->npairs, h->expires, now) < 0)
            return EAI_MEMORY;
        (void)hastls_cache_put_host(cache, key, now, h); /* the new references */
    }
    fill_info(h, out);
    return 0;
}

/* The warnings about the record (only when there are usable addresses to
 * connect to: a bogus address answer fails the lookup with its own line),
 * and the debug line. */
static void log_record(const char *key, const struct hastls_cache_host *h,
                       struct hastls_answer *const ans[3], const char *why,
                       const struct hastls_pair *pairs, size_t np)
{
    const struct hastls_config *cfg = hastls_state_config();
    enum hastls_rec rec = (enum hastls_rec)h->rec;
    int usable = 0;
    for (int i = 0; i < 2; i++)
        usable |= h->fam[i].n && h->fam[i].status != HASTLS_SEC_FAILED;
    if (rec == HASTLS_REC_FAILED && usable)
        hastls_log(HASTLS_LOG_WARN,
                   "HASTLS lookup for %s failed (%s): its connections are not checked",
                   key, why[0] ? why : "no answer");
    else if (rec == HASTLS_REC_BOGUS && usable)
        hastls_log(cfg->bogus == HASTLS_BOGUS_BLOCK ? HASTLS_LOG_WARN : HASTLS_LOG_INFO,
                   "HASTLS record of %s is bogus (%s): %s", key, why[0] ? why : "bogus",
                   cfg->bogus == HASTLS_BOGUS_BLOCK ? "its connections will be blocked"
                                                    : "ignored (bogus = ignore)");
    if (hastls_log_enabled(HASTLS_LOG_DEBUG)) {
        char text[256];
        hastls_pairs_format(pairs, np, text, sizeof text);
        hastls_log(HASTLS_LOG_DEBUG, "%s: %zu A, %zu AAAA (%s/%s), HASTLS %s %s", key,
                   ans[0]->n_rr, ans[1]->n_rr, hastls_sec_name(ans[0]->status),
                   hastls_sec_name(ans[1]->status), hastls_rec_name(rec), np ? text : "");
    }
}

/* The address answers of ANS[0..2) as policy/record.h sees them. */
static void addr_answers(struct hastls_answer *const ans[2],
                         struct hastls_addr_answer out[2])
{
    for (int i = 0; i < 2; i++) {
        out[i].status = ans[i]->status;
        out[i].rcode = ans[i]->rcode;
        out[i].n = ans[i]->n_rr;
    }
}

/* The HTTPS record as a "serves TLS" signal (policy/httpsrr.h): with
 * https_rr on, a name that the HASTLS answer leaves unenforced (none,
 * insecure, failed) is asked for its HTTPS record, one more round trip only
 * then; under enforce a secure one makes *REC HASTLS_REC_HTTPS with the pair
 * (80 443), under report it is only logged. */
static void https_signal(const char *canon, enum hastls_rec *rec,
                         struct hastls_pair *pairs, size_t *np, uint32_t *ttl)
{
    const struct hastls_config *cfg = hastls_state_config();
    if (cfg->https_rr == HASTLS_HTTPS_RR_IGNORE ||
        hastls_https_governs(*rec, 1, HASTLS_HTTPS_RR_ENFORCE) != HASTLS_REC_HTTPS)
        return;
    struct hastls_query q = {canon, HASTLS_DNS_TYPE_HTTPS};
    struct hastls_answer *a = NULL;
    const struct hastls_resolver_api *api = NULL;
    if (resolve(&q, 1, &a, &api) < 0)
        return;
    int signal = hastls_https_answer(a->status, a->rcode, a->rr, a->n_rr);
    if (signal == 1 && cfg->https_rr == HASTLS_HTTPS_RR_ENFORCE) {
        hastls_log(HASTLS_LOG_INFO,
                   "%s has no usable HASTLS record: its DNSSEC-secure HTTPS record "
                   "stands for (80 443) (https_rr = enforce)",
                   canon);
        *rec = hastls_https_governs(*rec, 1, cfg->https_rr);
        memcpy(pairs, hastls_https_pairs, sizeof hastls_https_pairs);
        *np = 1;
        *ttl = a->ttl;
    } else if (signal == 1) {
        hastls_log(HASTLS_LOG_WARN,
                   "%s has no usable HASTLS record but a DNSSEC-secure HTTPS record: "
                   "under https_rr = enforce it would stand for (80 443) "
                   "(https_rr = report)",
                   canon);
    }
    /* Under enforce the signal pins the host, as a HASTLS record does. */
    if (hastls_hostpins_https(cfg, 1, canon, signal, hastls_https_pairs, a->ttl, rec,
                              pairs, HASTLS_REC_MAX_PAIRS, np))
        *ttl = FAILED_RECORD_TTL;
    api->answer_free(a);
}

/* The resolver as shim/core/owner.h asks it; CTX holds the API that
 * answered, to free its answers. */
static int ask_lookup(void *ctx, const struct hastls_query *q, size_t nq,
                      struct hastls_answer **ans)
{
    return resolve(q, nq, ans, (const struct hastls_resolver_api **)ctx);
}

static void ask_free(void *ctx, struct hastls_answer *a)
{
    (*(const struct hastls_resolver_api **)ctx)->answer_free(a);
}

/* The record of the name that owns the addresses (shim/core/owner.h), asking
 * through the process's resolver; then the owner's pin (learnt from a secure
 * answer, in force otherwise) and the HTTPS signal. */
static int owner_record(const char *key, const char *canon, uint16_t rtype,
                        const struct hastls_answer *rec_ans,
                        const struct hastls_addr_answer addrs[2],
                        struct hastls_pair *pairs, size_t *np, enum hastls_rec *rec,
                        char *whybuf, size_t whylen, uint32_t *ttl)
{
    const struct hastls_resolver_api *api = NULL;
    const struct hastls_owner_asker ask = {ask_lookup, ask_free, &api};
    enum hastls_rec raw;
    if (hastls_owner_record(&ask, key, canon, rtype, rec_ans, addrs, pairs, np, rec, &raw,
                            whybuf, whylen, ttl) < 0)
        return -1;
    if (hastls_hostpins_apply_cfg(hastls_state_config(), 1, canon, raw, rec, pairs,
                                  HASTLS_REC_MAX_PAIRS, np, *ttl, whybuf))
        *ttl = FAILED_RECORD_TTL; /* try the lookup again soon */
    https_signal(canon, rec, pairs, np, ttl);
    return 0;
}

/* A miss: A, AAAA and HASTLS in one batch (and the canonical name's record,
 * see owner_record; and SVC's TLSA RRset, see lookup.h), the addresses
 * recorded with that record, the whole lookup cached as one entry. */
static int from_resolver(const char *key, int family,
                         const struct hastls_lookup_service *svc,
                         struct hastls_cache *cache, struct hastls_addrmap *map,
                         uint64_t now, struct hastls_hostinfo *out)
{
    uint16_t rtype = hastls_state_config()->record_type;
    char owner[HASTLS_DANE_OWNER_MAX];
    size_t nq = 3;
    if (svc &&
        hastls_dane_prefetch_owner(key, svc->port, svc->socktype, svc->protocol, owner))
        nq = 4;
    struct hastls_query q[4] = {
        {key, TYPE_A}, {key, TYPE_AAAA}, {key, rtype}, {owner, HASTLS_DNS_TYPE_TLSA}};
    struct hastls_answer *ans[4];
    const struct hastls_resolver_api *api = NULL;
    if (resolve(q, nq, ans, &api) < 0) {
        hastls_log(HASTLS_LOG_WARN, "no answer for %s: resolver unavailable", key);
        return EAI_AGAIN;
    }
    if (nq == 4)
        hastls_dane_keep(owner, ans[3], "fetched with the addresses");
    /* Heap, not stack or TLS: up to 16 KiB, and this is the miss path. */
    struct hastls_pair *pairs = malloc(HASTLS_REC_MAX_PAIRS * sizeof *pairs);
    /* On the stack (under 2 KiB); the miss path may allocate, but need not. */
    struct hastls_cache_host h;
    int rc = EAI_MEMORY;
    if (!pairs)
        goto out;
    memset(&h, 0, offsetof(struct hastls_cache_host, a));
    int too_many = take_family(ans[0], &h, HASTLS_ANS_A);
    too_many |= take_family(ans[1], &h, HASTLS_ANS_AAAA);
    for (int i = 1; i >= 0; i--) /* A's reason when both are bogus */
        if (ans[i]->status == HASTLS_SEC_BOGUS)
            keep_why(h.why, ans[i]->reason);
    struct hastls_addr_answer got[2];
    addr_answers(ans, got);
    got[HASTLS_ANS_A].n = h.fam[HASTLS_ANS_A].n;
    got[HASTLS_ANS_AAAA].n = h.fam[HASTLS_ANS_AAAA].n;
    const struct hastls_answer *named = ans[hastls_owner_answer(got)];
    snprintf(h.canon, sizeof h.canon, "%s",
             named->canonname[0] ? named->canonname : named->qname);
    strip_dot(h.canon);

    size_t np = 0;
    enum hastls_rec rec = HASTLS_REC_FAILED;
    char why[600];
    uint32_t rec_ttl = 0;
    if (owner_record(key, h.canon, rtype, ans[2], got, pairs, &np, &rec, why, sizeof why,
                     &rec_ttl) < 0)
        goto out;
    if (!hastls_rec_enforced(rec))
        np = 0;
    too_many |= np > HASTLS_CACHE_MAX_ITEMS;
    h.rec = (uint8_t)rec;
    h.npairs = (uint16_t)(too_many ? 0 : np);
    if (!too_many)
        memcpy(h.pairs, pairs, np * sizeof pairs[0]);
    if (h.fam[HASTLS_ANS_AAAA].n && hastls_ai_v6_usable(h.aaaa[0].s6_addr))
        h.flags |= HASTLS_CACHE_V6_USABLE;
    log_record(key, &h, ans, why, pairs, np);

    /* The map keeps the addresses as long as all answers hold (a failed
     * HASTLS answer has no TTL: as long as the addresses); the cache keeps a
     * failed HASTLS answer only briefly: connections are allowed either way,
     * and a resolver that cannot answer the type would otherwise cost a round
     * trip and a warning on every lookup of the name. */
    uint64_t addr_exp = min2(now + ans[0]->ttl, now + ans[1]->ttl);
    uint64_t rec_exp =
        hastls_owner_expires(now, (uint32_t)(addr_exp - now), rec, rec_ttl);
    h.expires =
        rec == HASTLS_REC_FAILED ? min2(addr_exp, now + FAILED_RECORD_TTL) : rec_exp;
    /* The canonical name's record governs the addresses; a refusal names
     * the name the program asked for. */
    if (record_host(map, key, &h, pairs, np, rec_exp, now) < 0)
        goto out;

    /* Failed address answers are not cached: the next lookup tries again. */
    if (!too_many && h.fam[HASTLS_ANS_A].status != HASTLS_SEC_FAILED &&
        h.fam[HASTLS_ANS_AAAA].status != HASTLS_SEC_FAILED)
        (void)hastls_cache_put_host(cache, key, now, &h);

    const char *const reasons[2] = {ans[0]->reason, ans[1]->reason};
    rc = host_result(key, family, &h, reasons);
    if (rc == 0)
        fill_info(&h, out);
out:
    for (size_t i = 0; i < nq; i++)
        api->answer_free(ans[i]);
    free(pairs);
    return rc;
}

/* A HASTLS answer A that came after its lookup had stopped waiting for it
 * (the lookup's record was failed; see hastls_resolver_lookup), in the
 * resolver's event thread: the name's cached lookup takes the record it
 * gives, and so do its addresses in the address map, for the connections
 * made without a new lookup.  Only for a name that is its own canonical
 * name: behind a CNAME the target's record governs, and the next lookup asks
 * for it (libunbound has this answer cached by then). */
static void late_answer(const struct hastls_answer *a)
{
    if (a->qtype == HASTLS_DNS_TYPE_TLSA) { /* fetched for a handshake */
        hastls_dane_keep(a->qname, a, "came late");
        return;
    }
    char key[HASTLS_NAME_MAX];
    struct hastls_cache *cache = hastls_state_cache();
    struct hastls_addrmap *map = hastls_state_addrmap();
    if (!cache || !map || hastls_name_normalize(a->qname, key) < 0)
        return;
    uint64_t now = hastls_now();
    struct hastls_cache_host h;
    if (!hastls_cache_get_host(cache, key, now, &h) || strcasecmp(h.canon, key) != 0)
        return;
    struct hastls_pair *pairs = malloc(HASTLS_REC_MAX_PAIRS * sizeof *pairs);
    if (!pairs)
        return;
    struct hastls_addr_answer got[2];
    for (int i = 0; i < 2; i++) {
        got[i].status = (enum hastls_sec)h.fam[i].status;
        got[i].rcode = h.fam[i].rcode;
        got[i].n = h.fam[i].n;
    }
    size_t np = 0;
    int derr = HASTLS_RR_OK;
    uint16_t rtype = hastls_state_config()->record_type;
    enum hastls_rec raw = hastls_rec_of(a->status, a->rcode, a->rr, a->n_rr, rtype, pairs,
                                        HASTLS_REC_MAX_PAIRS, &np, &derr);
    enum hastls_rec rec = hastls_rec_in_zone(raw, hastls_addrs_signed(got));
    uint32_t ttl = a->ttl;
    if (hastls_hostpins_apply_cfg(hastls_state_config(), 1, key, raw, &rec, pairs,
                                  HASTLS_REC_MAX_PAIRS, &np, ttl, a->reason))
        ttl = FAILED_RECORD_TTL;
    if (!hastls_rec_enforced(rec))
        np = 0;
    uint64_t rec_exp = now + ttl;
    h.rec = (uint8_t)rec;
    int fits = np <= HASTLS_CACHE_MAX_ITEMS;
    h.npairs = (uint16_t)(fits ? np : 0);
    if (fits && np)
        memcpy(h.pairs, pairs, np * sizeof pairs[0]);
    hastls_log(rec == HASTLS_REC_BOGUS ? HASTLS_LOG_WARN : HASTLS_LOG_INFO,
               "HASTLS answer for %s came late: the record is %s, governing its "
               "addresses from now on",
               key, hastls_rec_name(rec));
    if (record_host(map, key, &h, pairs, np, rec_exp, now) == 0 && fits) {
        h.expires = min2(h.expires, rec_exp);
        (void)hastls_cache_put_host(cache, key, now, &h);
    }
    free(pairs);
}

/* One name through the front cache and the resolver. */
static int lookup_one(const char *key, int family,
                      const struct hastls_lookup_service *svc,
                      struct hastls_hostinfo *out)
{
    struct hastls_cache *cache = hastls_state_cache();
    struct hastls_addrmap *map = hastls_state_addrmap();
    if (!cache || !map)
        return EAI_MEMORY;
    uint64_t now = hastls_now();
    /* On the stack (under 2 KiB): static per thread would be
     * reentrancy-fragile, and the warm path allocates nothing. */
    struct hastls_cache_host h;
    if (hastls_cache_get_host(cache, key, now, &h))
        return from_cache(key, family, &h, cache, map, now, out);
    return from_resolver(key, family, svc, cache, map, now, out);
}

/* OUT's canonical name and alias as glibc spells them for the question
 * QUESTION (the name sent, as the program spelled it, no trailing dot), whose
 * normalized form KEY answered (see lookup.h). */
static void spell_names(const char *question, const char *key,
                        struct hastls_hostinfo *out)
{
    out->alias[0] = '\0';
    if (strcasecmp(out->canon, key) == 0) {
        copy_name(out->canon, question, strlen(question));
        return;
    }
    copy_name(out->alias, question, strlen(question));
    /* The longest run of whole labels the two names end with. */
    size_t i = strlen(out->canon), j = strlen(question);
    while (i > 0 && j > 0 && strncasecmp(out->canon + i - 1, question + j - 1, 1) == 0) {
        i--;
        j--;
    }
    while (out->canon[i] && !((i == 0 || out->canon[i - 1] == '.') &&
                              (j == 0 || question[j - 1] == '.'))) {
        i++;
        j++;
    }
    memcpy(out->canon + i, question + j, strlen(question + j));
}

/* The hosts file and the RFC 6761 localhost names for NAME (no trailing dot,
 * any case).  Returns 1 when answered (*RC set), 0 to go on to DNS. */
static int from_hosts(const char *name, int family, struct hastls_hostinfo *out, int *rc)
{
    struct hastls_ip ips[2 * HASTLS_LOOKUP_MAX];
    size_t n = 0;
    if (!hastls_hosts_lookup_local(name, ips, 2 * HASTLS_LOOKUP_MAX, &n, out->canon))
        return 0;
    out->n4 = out->n6 = 0;
    for (size_t i = 0; i < n; i++) {
        if (ips[i].family == AF_INET && out->n4 < HASTLS_LOOKUP_MAX)
            out->v4[out->n4++] = ips[i];
        else if (ips[i].family == AF_INET6 && out->n6 < HASTLS_LOOKUP_MAX)
            out->v6[out->n6++] = ips[i];
    }
    out->v6_first = out->n6 && hastls_ai_v6_usable(out->v6[0].addr);
    out->alias[0] = '\0';
    *rc = hastls_local_result(family, out->n4, out->n6);
    return 1;
}

/* lookup_one for the candidate KEY, with the names spelled after NAME, the
 * name as the program spelled it (its first strlen(KEY) characters, or fewer
 * when KEY is NAME plus a search domain). */
static int lookup_spelled(const char *name, const char *key, size_t name_len, int family,
                          const struct hastls_lookup_service *svc,
                          struct hastls_hostinfo *out)
{
    int rc = lookup_one(key, family, svc, out);
    if (rc == 0) {
        char question[HASTLS_NAME_MAX];
        size_t tail = strlen(key + name_len);
        copy_name(question, name, name_len);
        if (name_len + tail < sizeof question)
            memcpy(question + name_len, key + name_len, tail + 1);
        spell_names(question, key, out);
    }
    return rc;
}

int hastls_lookup_host(const char *name, int family, struct hastls_hostinfo *out)
{
    return hastls_lookup_host_service(name, family, NULL, out);
}

int hastls_lookup_host_service(const char *name, int family,
                               const struct hastls_lookup_service *svc,
                               struct hastls_hostinfo *out)
{
    char key[HASTLS_NAME_MAX];
    if (hastls_name_normalize(name, key) < 0)
        return EAI_NONAME;
    int rc;
    size_t len = strlen(name), klen = strlen(key);
    /* The file's lookup ignores case; a built-in localhost name keeps the
     * spelling asked, as glibc's DNS answer would. */
    char asked[HASTLS_NAME_MAX];
    copy_name(asked, name, klen);
    if (from_hosts(asked, family, out, &rc))
        return rc;
    if (name[len - 1] == '.') /* absolute: no search list */
        return lookup_spelled(name, key, klen, family, svc, out);
    /* On the stack (3.5 KiB): the warm path allocates nothing. */
    struct hastls_search srch;
    hastls_search_current(&srch);
    if (srch.n == 0)
        return lookup_spelled(name, key, klen, family, svc, out);
    char cand[HASTLS_SEARCH_MAX + 1][HASTLS_NAME_MAX];
    size_t n = hastls_search_candidates(&srch, key, cand, HASTLS_SEARCH_MAX + 1);
    /* As glibc's res_search: go on after NXDOMAIN and NODATA, stop at
     * anything else; NODATA anywhere beats NXDOMAIN at the end. */
    int nodata = 0;
    rc = EAI_NONAME;
    for (size_t i = 0; i < n; i++) {
        /* A candidate is the name itself or the name with a domain added. */
        size_t same = strncmp(cand[i], key, klen) == 0 ? klen : 0;
        rc = lookup_spelled(name, cand[i], same, family,
                            strcmp(cand[i], key) == 0 ? svc : NULL, out);
        if (rc != EAI_NONAME && rc != EAI_NODATA)
            break;
        nodata |= rc == EAI_NODATA;
    }
    if (rc == EAI_NONAME && nodata)
        rc = EAI_NODATA;
    return rc;
}

void hastls_reverse_name(int family, const void *addr, char *out, size_t len)
{
    const uint8_t *a = addr;
    if (family == AF_INET) {
        snprintf(out, len, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    size_t p = 0;
    for (int i = 15; i >= 0 && p + 4 < len; i--) {
        out[p++] = hex[a[i] & 0xf];
        out[p++] = '.';
        out[p++] = hex[a[i] >> 4];
        out[p++] = '.';
    }
    snprintf(out + p, len - p, "ip6.arpa");
}

int hastls_lookup_ptr(int family, const void *addr, char *name)
{
    if (hastls_hosts_lookup_addr(family, addr, name))
        return 0;
    char rev[80];
    hastls_reverse_name(family, addr, rev, sizeof rev);
    struct hastls_cache *cache = hastls_state_cache();
    uint64_t now = hastls_now();
    struct hastls_cache_ptr v;
    if (cache && hastls_cache_get_ptr(cache, rev, now, &v)) {
        if (v.status == HASTLS_SEC_BOGUS) {
            hastls_log(HASTLS_LOG_WARN, "lookup of %s failed DNSSEC validation: %s", rev,
                       v.why[0] ? v.why : "bogus answer");
            return EAI_FAIL;
        }
        if (!v.found)
            return EAI_NONAME;
        snprintf(name, HASTLS_NAME_MAX, "%s", v.name);
        return 0;
    }
    struct hastls_query q = {rev, TYPE_PTR};
    struct hastls_answer *ans;
    const struct hastls_resolver_api *api = NULL;
    if (resolve(&q, 1, &ans, &api) < 0)
        return EAI_AGAIN;
    int rc;
    memset(&v, 0, sizeof v);
    v.status = (uint8_t)ans->status;
    v.rcode = (int16_t)ans->rcode;
    v.expires = now + ans->ttl;
    if (ans->status == HASTLS_SEC_FAILED) {
        hastls_log(HASTLS_LOG_WARN, "no answer for %s: %s", rev, ans->reason);
        rc = EAI_AGAIN;
    } else if (ans->status == HASTLS_SEC_BOGUS) {
        hastls_log(HASTLS_LOG_WARN, "lookup of %s failed DNSSEC validation: %s", rev,
                   ans->reason);
        keep_why(v.why, ans->reason);
        rc = EAI_FAIL;
    } else {
        rc = EAI_NONAME;
        for (size_t i = 0; i < ans->n_rr && rc; i++) {
            const struct hastls_rr *rr = &ans->rr[i];
            if (rr->type != TYPE_PTR)
                continue;
            /* The target may be compressed against the rest of the message. */
            if (hastls_dns_ptr_target(ans->packet, ans->packet_len, rr->rdata, rr->rdlen,
                                      v.name, sizeof v.name) == 0) {
                v.found = 1;
                rc = 0;
            }
        }
        if (!v.found)
            v.name[0] = '\0';
        if (ans->rcode == ns_r_servfail)
            rc = EAI_AGAIN;
    }
    api->answer_free(ans);
    if (cache && v.status != HASTLS_SEC_FAILED && rc != EAI_AGAIN)
        (void)hastls_cache_put_ptr(cache, rev, now, &v);
    if (rc == 0)
        snprintf(name, HASTLS_NAME_MAX, "%s", v.name);
    return rc;
}

/* Records the addresses of a res_query() A or AAAA answer ADDRS for NAME
 * with what the HASTLS answer REC_ANS says, under the rule of a host lookup
 * (owner_record: a CNAME's target is governed by its own record; see
 * hastls_lookup_raw).  Returns 0 (also when there is nothing to record: no
 * address, or an answer that is not handed out), or -1 when they could not
 * all be recorded. */
static int record_raw(const char *name, const struct hastls_answer *addrs,
                      const struct hastls_answer *rec_ans, uint16_t rtype)
{
    if (addrs->n_rr == 0 ||
        (addrs->status != HASTLS_SEC_SECURE && addrs->status != HASTLS_SEC_INSECURE))
        return 0;
    char key[HASTLS_NAME_MAX], canon[HASTLS_NAME_MAX];
    struct hastls_addrmap *m = hastls_state_addrmap();
    HASTLS_ENSURE_REF(m);
    HASTLS_GUARD(hastls_name_normalize(name, key));
    snprintf(canon, sizeof canon, "%s", addrs->canonname[0] ? addrs->canonname : key);
    strip_dot(canon);
    /* Only the family asked was answered; the other one shows nothing. */
    struct hastls_addr_answer got[2] = {{HASTLS_SEC_FAILED, -1, 0},
                                        {HASTLS_SEC_FAILED, -1, 0}};
    int i = addrs->qtype == TYPE_A ? HASTLS_ANS_A : HASTLS_ANS_AAAA;
    got[i].status = addrs->status;
    got[i].rcode = addrs->rcode;
    got[i].n = addrs->n_rr;
    struct hastls_pair *pairs = malloc(HASTLS_REC_MAX_PAIRS * sizeof *pairs);
    HASTLS_ENSURE_REF(pairs);
    size_t np = 0;
    enum hastls_rec rec = HASTLS_REC_FAILED;
    char why[600];
    uint32_t rec_ttl = 0;
    if (owner_record(key, canon, rtype, rec_ans, got, pairs, &np, &rec, why, sizeof why,
                     &rec_ttl) < 0) {
        free(pairs);
        return -1;
    }
    if (!hastls_rec_enforced(rec))
        np = 0;
    uint64_t now = hastls_now();
    uint64_t expires = hastls_owner_expires(now, addrs->ttl, rec, rec_ttl);
    int rc = 0;
    for (size_t k = 0; k < addrs->n_rr && rc == 0; k++) {
        const struct hastls_rr *rr = &addrs->rr[k];
        int family = hastls_rr_address_family(rr);
        if (!family)
            continue;
        uint8_t ip[16];
        hastls_ip_key(family, rr->rdata, ip);
        rc = hastls_addrmap_record(m, ip, key, rec, pairs, np, expires, now, NULL);
    }
    free(pairs);
    return rc;
}

/* The response ANS copied into ANSWER (ANSLEN bytes) with ID; returns the
 * length copied. */
static int copy_response(const struct hastls_answer *ans, uint16_t id,
                         unsigned char *answer, int anslen)
{
    size_t len = ans->packet_len;
    if (len > (size_t)anslen)
        len = (size_t)anslen;
    memcpy(answer, ans->packet, len);
    if (len >= 2)
        hastls_dns_set_id(answer, id);
    /* TC when the caller's buffer was too small (none when even the flags
     * did not fit). */
    if (len < ans->packet_len)
        (void)hastls_dns_set_tc(answer, len);
    return (int)len;
}

int hastls_lookup_raw(const char *name, int cls, int type, uint16_t id,
                      unsigned char *answer, int anslen, int *herr)
{
    *herr = NETDB_INTERNAL;
    if (cls != ns_c_in || type < 0 || type > 65535 || !name || !answer || anslen < 0) {
        *herr = NO_RECOVERY;
        return -1;
    }
    /* Programs with their own DNS logic (mail transfer agents looking up MX
     * then A/AAAA with res_search) connect to what res_query returned: ask
     * the HASTLS record along with A and AAAA and record the addresses, as
     * a host lookup does. */
    const struct hastls_config *cfg = hastls_state_config();
    int governed = type == TYPE_A || type == TYPE_AAAA;
    struct hastls_query q[2] = {{name, (uint16_t)type}, {name, cfg->record_type}};
    struct hastls_answer *answers[2];
    const struct hastls_resolver_api *api = NULL;
    if (resolve(q, governed ? 2 : 1, answers, &api) < 0) {
        *herr = TRY_AGAIN;
        return -1;
    }
    struct hastls_answer *ans = answers[0];
    int recorded = 0;
    if (governed) {
        recorded = record_raw(name, ans, answers[1], cfg->record_type);
        api->answer_free(answers[1]);
    }
    /* The TLS hooks check an SRV delegation against it (bogus ones too). */
    if (type == HASTLS_DNS_TYPE_SRV)
        (void)hastls_srvmemo_note(ans, hastls_now());
    int rc = -1;
    *herr = TRY_AGAIN;
    if (recorded < 0) {
        /* Fail closed: an address that is not governed is not handed out. */
        hastls_log(HASTLS_LOG_ERROR, "%s recording the addresses of %s: lookup refused",
                   recorded == HASTLS_ADDRMAP_FULL
                       ? "an address with too many names of distinct HASTLS records"
                       : "out of memory",
                   name);
    } else if (ans->status == HASTLS_SEC_FAILED || !ans->packet ||
               ans->packet_len < HASTLS_DNS_HEADER_LEN) {
        hastls_log(HASTLS_LOG_WARN, "no answer for %s: %s", name, ans->reason);
    } else if (ans->status == HASTLS_SEC_BOGUS) {
        /* As a validating resolver's SERVFAIL: the records are not handed out. */
        hastls_log(HASTLS_LOG_WARN, "lookup of %s failed DNSSEC validation: %s", name,
                   ans->reason);
    } else {
        rc = copy_response(ans, id, answer, anslen);
        *herr =
            hastls_raw_herr(ans->status, ans->rcode, hastls_dns_count(ans->packet, 1));
    }
    api->answer_free(ans);
    return rc;
}

int hastls_lookup_answer(const char *name, uint16_t type, struct hastls_answer **out,
                         const struct hastls_resolver_api **api_out)
{
    /* As hastls_lookup_raw: A and AAAA come with the HASTLS record, and their
     * addresses are recorded before the answer is handed out. */
    const struct hastls_config *cfg = hastls_state_config();
    int governed = type == TYPE_A || type == TYPE_AAAA;
    struct hastls_query q[2] = {{name, type}, {name, cfg->record_type}};
    struct hastls_answer *answers[2];
    const struct hastls_resolver_api *api = NULL;
    *out = NULL;
    if (resolve(q, governed ? 2 : 1, answers, &api) < 0)
        return -1;
    int recorded = 0;
    if (governed) {
        recorded = record_raw(name, answers[0], answers[1], cfg->record_type);
        api->answer_free(answers[1]);
    }
    if (recorded < 0) {
        hastls_log(HASTLS_LOG_ERROR,
                   "out of memory recording the addresses of %s: lookup refused", name);
        api->answer_free(answers[0]);
        return -1;
    }
    *out = answers[0];
    *api_out = api;
    return 0;
}
