/* shim/core/lookup.c: host, PTR and raw lookups (see lookup.h). */
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/decide.h"
#include "policy/record.h"
#include "shim/core/ai.h"
#include "shim/core/hosts.h"
#include "shim/core/log.h"
#include "shim/core/lookup.h"
#include "shim/core/search.h"
#include "shim/core/state.h"

#define TYPE_A 1
#define TYPE_PTR 12
#define TYPE_AAAA 28
#define FAILED_RECORD_TTL 30 /* seconds */

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

static uint64_t expiry(uint64_t now, uint32_t ttl)
{
    return now + ttl;
}

/* An address answer as a cache value. */
static void address_val(const struct hastls_answer *a, uint64_t now,
                        struct hastls_cache_val *v)
{
    memset(v, 0, offsetof(struct hastls_cache_val, u));
    v->status = (uint8_t)a->status;
    v->rcode = (int16_t)a->rcode;
    v->expires = expiry(now, a->ttl);
    snprintf(v->canon, sizeof v->canon, "%s", a->canonname[0] ? a->canonname : a->qname);
    strip_dot(v->canon);
    size_t want = a->qtype == TYPE_A ? 4 : 16;
    for (size_t i = 0; i < a->n_rr; i++) {
        if (a->rr[i].type != a->qtype || a->rr[i].rdlen != want)
            continue;
        if (v->n >= HASTLS_CACHE_MAX_ITEMS) {
            v->n = HASTLS_CACHE_MAX_ITEMS + 1; /* too many: not cacheable */
            break;
        }
        if (want == 4)
            memcpy(&v->u.a[v->n++], a->rr[i].rdata, 4);
        else
            memcpy(&v->u.aaaa[v->n++], a->rr[i].rdata, 16);
    }
    if (a->qtype == TYPE_AAAA && v->n > 0 && v->n <= HASTLS_CACHE_MAX_ITEMS &&
        hastls_ai_v6_usable(v->u.aaaa[0].s6_addr))
        v->flags |= HASTLS_CACHE_V6_USABLE;
}

/* What the HASTLS answer says (policy/record.h), with its pairs in
 * PAIRS[0..*N) for a secure record and the reason for a bogus or failed one. */
static enum hastls_rec record_state(const struct hastls_answer *a, uint16_t rtype,
                                    struct hastls_pair *pairs, size_t *n,
                                    const char **why)
{
    int err = HASTLS_RR_OK;
    enum hastls_rec rec = hastls_rec_of(a->status, a->rcode, a->rr, a->n_rr, rtype, pairs,
                                        HASTLS_REC_MAX_PAIRS, n, &err);
    /* The codec's error explains a bogus state that validation did not. */
    *why = rec == HASTLS_REC_BOGUS && a->status != HASTLS_SEC_BOGUS
               ? hastls_rr_strerror(err)
               : a->reason;
    if (rec != HASTLS_REC_SECURE)
        *n = 0;
    return rec;
}

/* Records the addresses of V4 and V6 for NAME in the address map. */
static void record_addresses(const char *name, const struct hastls_cache_val *v4,
                             const struct hastls_cache_val *v6, enum hastls_rec rec,
                             const struct hastls_pair *pairs, size_t np, uint64_t exp,
                             uint64_t now)
{
    struct hastls_addrmap *m = hastls_state_addrmap();
    if (!m)
        return;
    uint8_t key[16];
    for (size_t i = 0; i < v4->n && i < HASTLS_CACHE_MAX_ITEMS; i++) {
        hastls_ip_key(AF_INET, &v4->u.a[i], key);
        hastls_addrmap_record(m, key, name, rec, pairs, np, exp, now);
    }
    for (size_t i = 0; i < v6->n && i < HASTLS_CACHE_MAX_ITEMS; i++) {
        hastls_ip_key(AF_INET6, &v6->u.aaaa[i], key);
        hastls_addrmap_record(m, key, name, rec, pairs, np, exp, now);
    }
}

static uint64_t min3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* The result code for FAMILY (policy/record.h's rule), logged with the
 * reason of the answer that explains a failure. */
static int host_result(const char *name, int family, const struct hastls_cache_val *v4,
                       const struct hastls_cache_val *v6, const char *why4,
                       const char *why6)
{
    const struct hastls_cache_val *v[2] = {v4, v6};
    const char *why[2] = {why4, why6};
    struct hastls_addr_answer a[2];
    for (int i = 0; i < 2; i++) {
        a[i].status = (enum hastls_sec)v[i]->status;
        a[i].rcode = v[i]->rcode;
        a[i].n = v[i]->n;
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

static void fill_info(const struct hastls_cache_val *v4,
                      const struct hastls_cache_val *v6, struct hastls_hostinfo *out)
{
    out->n4 = out->n6 = 0;
    for (size_t i = 0; i < v4->n && i < HASTLS_LOOKUP_MAX; i++) {
        out->v4[i].family = AF_INET;
        memset(out->v4[i].addr, 0, 16);
        memcpy(out->v4[i].addr, &v4->u.a[i], 4);
        out->n4++;
    }
    for (size_t i = 0; i < v6->n && i < HASTLS_LOOKUP_MAX; i++) {
        out->v6[i].family = AF_INET6;
        memcpy(out->v6[i].addr, &v6->u.aaaa[i], 16);
        out->n6++;
    }
    out->v6_first = (v6->flags & HASTLS_CACHE_V6_USABLE) != 0;
    snprintf(out->canon, sizeof out->canon, "%s", v4->n ? v4->canon : v6->canon);
}

/* The hosts file and the RFC 6761 localhost names.  Returns 1 when answered
 * (*RC set), 0 to go on to DNS. */
static int from_hosts(const char *key, int family, struct hastls_hostinfo *out, int *rc)
{
    struct hastls_ip ips[2 * HASTLS_LOOKUP_MAX];
    size_t n = 0;
    if (!hastls_hosts_lookup_local(key, ips, 2 * HASTLS_LOOKUP_MAX, &n, out->canon))
        return 0;
    out->n4 = out->n6 = 0;
    for (size_t i = 0; i < n; i++) {
        if (ips[i].family == AF_INET && out->n4 < HASTLS_LOOKUP_MAX)
            out->v4[out->n4++] = ips[i];
        else if (ips[i].family == AF_INET6 && out->n6 < HASTLS_LOOKUP_MAX)
            out->v6[out->n6++] = ips[i];
    }
    out->v6_first = out->n6 && hastls_ai_v6_usable(out->v6[0].addr);
    *rc = hastls_local_result(family, out->n4, out->n6);
    return 1;
}

/* One name through the front cache and the resolver. */
static int lookup_one(const char *key, int family, struct hastls_hostinfo *out)
{
    const struct hastls_config *cfg = hastls_state_config();
    struct hastls_cache *cache = hastls_state_cache();
    struct hastls_addrmap *map = hastls_state_addrmap();
    if (!cache || !map)
        return EAI_MEMORY;
    uint16_t rtype = cfg->record_type;
    uint64_t now = hastls_now();
    /* Large values: static per thread would be reentrancy-fragile; they are
     * below 2 KiB each, fine on the stack. */
    struct hastls_cache_val v4, v6, vr;
    if (hastls_cache_get(cache, key, TYPE_A, now, &v4) &&
        hastls_cache_get(cache, key, TYPE_AAAA, now, &v6) &&
        hastls_cache_get(cache, key, rtype, now, &vr)) {
        unsigned long gen = hastls_addrmap_generation(map);
        if (v4.gen != gen || v6.gen != gen) {
            /* The map evicted since: record the addresses again. */
            enum hastls_rec rec = (enum hastls_rec)vr.flags;
            struct hastls_cache_val r4 = v4, r6 = v6;
            if (r4.status == HASTLS_SEC_BOGUS)
                r4.n = 0; /* never handed out, so never governed */
            if (r6.status == HASTLS_SEC_BOGUS)
                r6.n = 0;
            record_addresses(key, &r4, &r6, rec, vr.u.pairs, vr.n,
                             min3(v4.expires, v6.expires, vr.expires), now);
            v4.gen = v6.gen = gen;
            hastls_cache_put(cache, key, TYPE_A, now, &v4);
            hastls_cache_put(cache, key, TYPE_AAAA, now, &v6);
        }
        fill_info(&v4, &v6, out);
        return host_result(key, family, &v4, &v6, "", "");
    }

    struct hastls_query q[3] = {{key, TYPE_A}, {key, TYPE_AAAA}, {key, rtype}};
    struct hastls_answer *ans[3];
    const struct hastls_resolver_api *api = NULL;
    if (resolve(q, 3, ans, &api) < 0) {
        hastls_log(HASTLS_LOG_WARN, "no answer for %s: resolver unavailable", key);
        return EAI_AGAIN;
    }
    unsigned long gen = hastls_addrmap_generation(map);
    address_val(ans[0], now, &v4);
    address_val(ans[1], now, &v6);

    /* Heap, not stack or TLS: up to 16 KiB, and this is the miss path. */
    struct hastls_pair *pairs = malloc(HASTLS_REC_MAX_PAIRS * sizeof *pairs);
    if (!pairs) {
        for (int i = 0; i < 3; i++)
            api->answer_free(ans[i]);
        return EAI_MEMORY;
    }
    size_t np = 0;
    const char *why = "";
    enum hastls_rec rec = record_state(ans[2], rtype, pairs, &np, &why);
    memset(&vr, 0, offsetof(struct hastls_cache_val, u));
    vr.status = (uint8_t)ans[2]->status;
    vr.rcode = (int16_t)ans[2]->rcode;
    vr.flags = (uint8_t)rec; /* the record verdict, for re-recording on a hit */
    vr.expires = expiry(now, ans[2]->ttl);
    vr.n = (uint16_t)(np > HASTLS_CACHE_MAX_ITEMS ? HASTLS_CACHE_MAX_ITEMS + 1 : np);
    if (np <= HASTLS_CACHE_MAX_ITEMS)
        memcpy(vr.u.pairs, pairs, np * sizeof pairs[0]);

    /* Warn about the record only when there are usable addresses to connect
     * to (a bogus address answer fails the lookup with its own line). */
    int usable =
        (v4.n && v4.status != HASTLS_SEC_BOGUS && v4.status != HASTLS_SEC_FAILED) ||
        (v6.n && v6.status != HASTLS_SEC_BOGUS && v6.status != HASTLS_SEC_FAILED);
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
                   (size_t)v4.n, (size_t)v6.n, hastls_sec_name(ans[0]->status),
                   hastls_sec_name(ans[1]->status), hastls_rec_name(rec), np ? text : "");
    }

    /* Only usable addresses are recorded: a bogus address answer is not. */
    struct hastls_cache_val r4 = v4, r6 = v6;
    if (v4.status == HASTLS_SEC_BOGUS || v4.n > HASTLS_CACHE_MAX_ITEMS)
        r4.n = v4.n > HASTLS_CACHE_MAX_ITEMS && v4.status != HASTLS_SEC_BOGUS
                   ? HASTLS_CACHE_MAX_ITEMS
                   : 0;
    if (v6.status == HASTLS_SEC_BOGUS || v6.n > HASTLS_CACHE_MAX_ITEMS)
        r6.n = v6.n > HASTLS_CACHE_MAX_ITEMS && v6.status != HASTLS_SEC_BOGUS
                   ? HASTLS_CACHE_MAX_ITEMS
                   : 0;
    uint64_t exp = min3(v4.expires, v6.expires, vr.expires);
    if (rec == HASTLS_REC_FAILED)
        exp = v4.expires < v6.expires ? v4.expires : v6.expires;
    record_addresses(key, &r4, &r6, rec, pairs, np, exp, now);

    /* Failed address answers are not cached: the next lookup tries again. */
    v4.gen = v6.gen = gen;
    if (v4.status != HASTLS_SEC_FAILED)
        hastls_cache_put(cache, key, TYPE_A, now, &v4);
    if (v6.status != HASTLS_SEC_FAILED)
        hastls_cache_put(cache, key, TYPE_AAAA, now, &v6);
    /* A failed HASTLS lookup is kept briefly: connections are allowed either
     * way, and a resolver that cannot answer the type would otherwise cost a
     * round trip and a warning on every lookup of the name. */
    if (rec == HASTLS_REC_FAILED)
        vr.expires = now + FAILED_RECORD_TTL;
    hastls_cache_put(cache, key, rtype, now, &vr);

    char why4[512], why6[512];
    snprintf(why4, sizeof why4, "%s", ans[0]->reason);
    snprintf(why6, sizeof why6, "%s", ans[1]->reason);
    for (int i = 0; i < 3; i++)
        api->answer_free(ans[i]);
    free(pairs);
    if (v4.n > HASTLS_CACHE_MAX_ITEMS)
        v4.n = HASTLS_CACHE_MAX_ITEMS;
    if (v6.n > HASTLS_CACHE_MAX_ITEMS)
        v6.n = HASTLS_CACHE_MAX_ITEMS;
    int result = host_result(key, family, &v4, &v6, why4, why6);
    if (result == 0)
        fill_info(&v4, &v6, out);
    return result;
}

int hastls_lookup_host(const char *name, int family, struct hastls_hostinfo *out)
{
    char key[HASTLS_NAME_MAX];
    if (hastls_name_normalize(name, key) < 0)
        return EAI_NONAME;
    int rc;
    if (from_hosts(key, family, out, &rc))
        return rc;
    size_t len = strlen(name);
    if (name[len - 1] == '.') /* absolute: no search list */
        return lookup_one(key, family, out);
    /* On the stack (3.5 KiB): the warm path allocates nothing. */
    struct hastls_search srch;
    hastls_search_current(&srch);
    if (srch.n == 0)
        return lookup_one(key, family, out);
    char cand[HASTLS_SEARCH_MAX + 1][HASTLS_NAME_MAX];
    size_t n = hastls_search_candidates(&srch, key, cand, HASTLS_SEARCH_MAX + 1);
    /* As glibc's res_search: go on after NXDOMAIN and NODATA, stop at
     * anything else; NODATA anywhere beats NXDOMAIN at the end. */
    int nodata = 0;
    rc = EAI_NONAME;
    for (size_t i = 0; i < n; i++) {
        rc = lookup_one(cand[i], family, out);
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
    struct hastls_cache_val v;
    if (cache && hastls_cache_get(cache, rev, TYPE_PTR, now, &v)) {
        if (v.status == HASTLS_SEC_BOGUS)
            return EAI_FAIL;
        if (!v.n)
            return EAI_NONAME;
        snprintf(name, HASTLS_NAME_MAX, "%s", v.canon);
        return 0;
    }
    struct hastls_query q = {rev, TYPE_PTR};
    struct hastls_answer *ans;
    const struct hastls_resolver_api *api = NULL;
    if (resolve(&q, 1, &ans, &api) < 0)
        return EAI_AGAIN;
    int rc;
    memset(&v, 0, offsetof(struct hastls_cache_val, u));
    v.status = (uint8_t)ans->status;
    v.rcode = (int16_t)ans->rcode;
    v.expires = now + ans->ttl;
    if (ans->status == HASTLS_SEC_FAILED) {
        hastls_log(HASTLS_LOG_WARN, "no answer for %s: %s", rev, ans->reason);
        rc = EAI_AGAIN;
    } else if (ans->status == HASTLS_SEC_BOGUS) {
        hastls_log(HASTLS_LOG_WARN, "lookup of %s failed DNSSEC validation: %s", rev,
                   ans->reason);
        rc = EAI_FAIL;
    } else {
        rc = EAI_NONAME;
        for (size_t i = 0; i < ans->n_rr && rc; i++) {
            if (ans->rr[i].type != TYPE_PTR)
                continue;
            char target[NS_MAXDNAME];
            int n = -1;
            if (ans->packet && ans->rr[i].rdata >= ans->packet &&
                ans->rr[i].rdata < ans->packet + ans->packet_len)
                n = dn_expand(ans->packet, ans->packet + ans->packet_len,
                              ans->rr[i].rdata, target, sizeof target);
            else
                n = dn_expand(ans->rr[i].rdata, ans->rr[i].rdata + ans->rr[i].rdlen,
                              ans->rr[i].rdata, target, sizeof target);
            size_t len = n > 0 ? strlen(target) : 0;
            if (n > 0 && len < sizeof v.canon) {
                strip_dot(target);
                /* length checked above (snprintf here trips -Wformat-truncation at -O1)
                 */
                memcpy(v.canon, target, len + 1);
                v.n = 1;
                rc = 0;
            }
        }
        if (ans->rcode == ns_r_servfail)
            rc = EAI_AGAIN;
    }
    api->answer_free(ans);
    if (cache && v.status != HASTLS_SEC_FAILED && rc != EAI_AGAIN)
        hastls_cache_put(cache, rev, TYPE_PTR, now, &v);
    if (rc == 0)
        snprintf(name, HASTLS_NAME_MAX, "%s", v.canon);
    return rc;
}

/* Records the addresses of a res_query() A or AAAA answer ADDRS for NAME
 * with what the HASTLS answer REC says (see hastls_lookup_raw). */
static void record_raw(const char *name, const struct hastls_answer *addrs,
                       const struct hastls_answer *rec_ans, uint16_t rtype)
{
    char key[HASTLS_NAME_MAX];
    struct hastls_addrmap *m = hastls_state_addrmap();
    if (!m || hastls_name_normalize(name, key) < 0 || addrs->n_rr == 0 ||
        (addrs->status != HASTLS_SEC_SECURE && addrs->status != HASTLS_SEC_INSECURE))
        return;
    struct hastls_pair *pairs = malloc(HASTLS_REC_MAX_PAIRS * sizeof *pairs);
    if (!pairs)
        return;
    size_t np = 0;
    const char *why = "";
    enum hastls_rec rec = record_state(rec_ans, rtype, pairs, &np, &why);
    uint64_t now = hastls_now();
    uint32_t ttl = addrs->ttl;
    if (rec != HASTLS_REC_FAILED && rec_ans->ttl < ttl)
        ttl = rec_ans->ttl;
    for (size_t i = 0; i < addrs->n_rr; i++) {
        const struct hastls_rr *rr = &addrs->rr[i];
        uint8_t k[16];
        if (rr->type == TYPE_A && rr->rdlen == 4)
            hastls_ip_key(AF_INET, rr->rdata, k);
        else if (rr->type == TYPE_AAAA && rr->rdlen == 16)
            hastls_ip_key(AF_INET6, rr->rdata, k);
        else
            continue;
        hastls_addrmap_record(m, k, key, rec, pairs, np, now + ttl, now);
    }
    free(pairs);
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
    if (governed) {
        record_raw(name, ans, answers[1], cfg->record_type);
        api->answer_free(answers[1]);
    }
    int rc = -1;
    if (ans->status == HASTLS_SEC_FAILED || !ans->packet || ans->packet_len < HFIXEDSZ) {
        hastls_log(HASTLS_LOG_WARN, "no answer for %s: %s", name, ans->reason);
        *herr = TRY_AGAIN;
    } else {
        size_t len = ans->packet_len;
        if (len > (size_t)anslen)
            len = (size_t)anslen;
        memcpy(answer, ans->packet, len);
        if (len >= 2) {
            answer[0] = (unsigned char)(id >> 8);
            answer[1] = (unsigned char)id;
        }
        if (len < ans->packet_len && len >= 3)
            answer[2] |= 0x02; /* TC: the caller's buffer was too small */
        rc = (int)len;
        if (ans->status == HASTLS_SEC_BOGUS)
            hastls_log(HASTLS_LOG_WARN, "lookup of %s failed DNSSEC validation: %s", name,
                       ans->reason);
        switch (ans->rcode) {
        case ns_r_noerror:
            /* ANCOUNT 0: the name exists without this type */
            *herr = ans->packet[6] == 0 && ans->packet[7] == 0 ? NO_DATA : NETDB_SUCCESS;
            break;
        case ns_r_nxdomain:
            *herr = HOST_NOT_FOUND;
            break;
        case ns_r_servfail:
            *herr = TRY_AGAIN;
            break;
        default:
            *herr = NO_RECOVERY;
        }
    }
    api->answer_free(ans);
    return rc;
}
