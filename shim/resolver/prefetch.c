/* shim/resolver/prefetch.c: the chain-of-trust prefetch (see prefetch.h). */
#include "shim/resolver/prefetch.h"

#include <stdlib.h>
#include <string.h>

/* Builds the query for the wire name NAME (NLEN octets) and TYPE into ASK. */
static int ask_for(struct hastls_prefetch_ask *ask, const uint8_t *name, size_t nlen,
                   uint16_t type)
{
    size_t qend;
    return hastls_dns_build_query(name, nlen, type, 1, ask->query, sizeof ask->query,
                                  &ask->len, &qend);
}

size_t hastls_prefetch_plan(const uint8_t *msg, size_t len,
                            struct hastls_prefetch_ask *asks, size_t cap)
{
    struct hastls_dns_question q;
    size_t labels[HASTLS_DNS_MAX_WIRE_NAME / 2 + 1], n, end, k = 0;
    if (hastls_dns_parse_query(msg, len, &q) < 0 ||
        hastls_dns_name_labels(msg, len, q.name_off, labels,
                               sizeof labels / sizeof labels[0], &n, &end) < 0)
        return 0; /* compressed or malformed: nothing to do */
    static const uint8_t root = 0;
    if (k < cap && ask_for(&asks[k], &root, 1, HASTLS_DNS_TYPE_DNSKEY) == 0)
        k++;
    /* LABELS[0] is the name itself; its ancestors start at LABELS[1..n). */
    size_t first = n > HASTLS_PREFETCH_LEVELS ? n - HASTLS_PREFETCH_LEVELS : 1;
    for (size_t i = n - 1; n > 1 && i >= first; i--) {
        const uint8_t *name = msg + labels[i];
        if (k < cap && ask_for(&asks[k], name, end - labels[i], HASTLS_DNS_TYPE_DS) == 0)
            k++;
        if (k < cap &&
            ask_for(&asks[k], name, end - labels[i], HASTLS_DNS_TYPE_DNSKEY) == 0)
            k++;
    }
    return k;
}

void hastls_prefetch_init(struct hastls_prefetch *p)
{
    memset(p, 0, sizeof *p);
}

void hastls_prefetch_free(struct hastls_prefetch *p)
{
    for (size_t i = 0; i < HASTLS_PREFETCH_STORE; i++) {
        free(p->entry[i].answer);
        p->entry[i].answer = NULL;
    }
}

static struct hastls_prefetch_entry *find(struct hastls_prefetch *p, const uint8_t *key,
                                          size_t klen)
{
    for (size_t i = 0; i < HASTLS_PREFETCH_STORE; i++)
        if (p->entry[i].qlen == klen && !memcmp(p->entry[i].question, key, klen))
            return &p->entry[i];
    return NULL;
}

/* A slot for KEY: its own, else a free one, else the one least fresh. */
static struct hastls_prefetch_entry *slot(struct hastls_prefetch *p, const uint8_t *key,
                                          size_t klen)
{
    struct hastls_prefetch_entry *e = find(p, key, klen);
    if (e)
        return e;
    e = &p->entry[0];
    for (size_t i = 0; i < HASTLS_PREFETCH_STORE; i++) {
        if (!p->entry[i].qlen) {
            e = &p->entry[i];
            break;
        }
        if (p->entry[i].fresh_until < e->fresh_until)
            e = &p->entry[i];
    }
    free(e->answer);
    memset(e, 0, sizeof *e);
    memcpy(e->question, key, klen);
    e->qlen = klen;
    return e;
}

int hastls_prefetch_lookup(struct hastls_prefetch *p, uint64_t now, const uint8_t *msg,
                           size_t len, const uint8_t **ans, size_t *alen,
                           uint64_t *follow)
{
    uint8_t key[HASTLS_PREFETCH_QUESTION_MAX];
    size_t klen = hastls_dns_question_key(msg, len, key, sizeof key);
    struct hastls_prefetch_entry *e = klen ? find(p, key, klen) : NULL;
    *follow = 0;
    if (!e)
        return 0;
    if (e->answer && now < e->serve_until) {
        *ans = e->answer;
        *alen = e->alen;
        return 1;
    }
    *follow = e->serial;
    return 0;
}

struct hastls_prefetch_entry *hastls_prefetch_claim(struct hastls_prefetch *p,
                                                    uint64_t now,
                                                    const struct hastls_prefetch_ask *ask)
{
    uint8_t key[HASTLS_PREFETCH_QUESTION_MAX];
    size_t klen = hastls_dns_question_key(ask->query, ask->len, key, sizeof key);
    if (!klen)
        return NULL;
    struct hastls_prefetch_entry *e = find(p, key, klen);
    if (e && (e->serial || now < e->fresh_until))
        return NULL;
    e = slot(p, key, klen);
    e->fresh_until = now + HASTLS_PREFETCH_FRESH_MS;
    return e;
}

void hastls_prefetch_started(struct hastls_prefetch_entry *e, uint64_t serial)
{
    e->serial = serial;
    if (!serial)
        e->fresh_until = 0; /* not sent: ask again next time */
}

void hastls_prefetch_done(struct hastls_prefetch *p, uint64_t now, uint64_t serial,
                          const uint8_t *ans, size_t alen)
{
    struct hastls_prefetch_entry *e = NULL;
    for (size_t i = 0; i < HASTLS_PREFETCH_STORE && !e; i++)
        if (p->entry[i].qlen && p->entry[i].serial == serial)
            e = &p->entry[i];
    if (!e)
        return; /* its slot went to another question meanwhile */
    e->serial = 0;
    uint8_t *copy = ans ? malloc(alen) : NULL;
    if (!copy) {
        e->fresh_until = 0; /* ask again next time */
        return;
    }
    memcpy(copy, ans, alen);
    free(e->answer);
    e->answer = copy;
    e->alen = alen;
    e->serve_until = now + HASTLS_PREFETCH_SERVE_MS;
}
