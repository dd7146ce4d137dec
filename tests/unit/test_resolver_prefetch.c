/* tests/unit/test_resolver_prefetch.c: the chain-of-trust prefetch
 * (shim/resolver/prefetch.c): which queries a name leads to, and the store of
 * their answers with its time limits, on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/dnswire.h"
#include "shim/resolver/prefetch.h"

#define T0 5000000u

/* A query for the dotted NAME (no final dot; "" for the root) and TYPE. */
static size_t make_query(uint8_t *out, const char *name, uint16_t type, uint16_t id)
{
    uint8_t wire[300];
    size_t n = 0, len, qend;
    for (const char *p = name; *p;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        wire[n++] = (uint8_t)l;
        memcpy(wire + n, p, l);
        n += l;
        p += l + (dot ? 1 : 0);
    }
    wire[n++] = 0;
    assert_int_equal(hastls_dns_build_query(wire, n, type, 1, out, 600, &len, &qend), 0);
    hastls_dns_set_id(out, id);
    return len;
}

/* ASK asks NAME and TYPE, with DNSSEC OK. */
static void expect_ask(const struct hastls_prefetch_ask *ask, const char *name,
                       uint16_t type)
{
    uint8_t q[600];
    size_t len = make_query(q, name, type, 0);
    struct hastls_dns_question qq;
    assert_int_equal(hastls_dns_parse_query(ask->query, ask->len, &qq), 0);
    assert_int_equal(qq.qtype, type);
    assert_int_equal(hastls_dns_same_question(q, len, ask->query, ask->len), 1);
    assert_int_equal(hastls_dns_has_do(ask->query, ask->len), 1);
}

static void test_plan_ancestors(void **state)
{
    (void)state;
    struct hastls_prefetch_ask asks[HASTLS_PREFETCH_MAX_ASKS];
    uint8_t q[600];
    size_t len = make_query(q, "www.Example.com", 1, 7);
    assert_int_equal(hastls_prefetch_plan(q, len, asks, HASTLS_PREFETCH_MAX_ASKS), 5);
    expect_ask(&asks[0], "", HASTLS_DNS_TYPE_DNSKEY);
    expect_ask(&asks[1], "com", HASTLS_DNS_TYPE_DS);
    expect_ask(&asks[2], "com", HASTLS_DNS_TYPE_DNSKEY);
    expect_ask(&asks[3], "example.com", HASTLS_DNS_TYPE_DS);
    expect_ask(&asks[4], "example.com", HASTLS_DNS_TYPE_DNSKEY);
    /* Never the name itself; at most the four levels closest to the root. */
    len = make_query(q, "a.b.c.d.e.f", 28, 7);
    assert_int_equal(hastls_prefetch_plan(q, len, asks, HASTLS_PREFETCH_MAX_ASKS), 9);
    expect_ask(&asks[1], "f", HASTLS_DNS_TYPE_DS);
    expect_ask(&asks[7], "c.d.e.f", HASTLS_DNS_TYPE_DS);
    expect_ask(&asks[8], "c.d.e.f", HASTLS_DNS_TYPE_DNSKEY);
    /* Less room: the plan stops there. */
    assert_int_equal(hastls_prefetch_plan(q, len, asks, 2), 2);
    /* A top-level name and the root itself: the root's key only. */
    len = make_query(q, "com", 1, 7);
    assert_int_equal(hastls_prefetch_plan(q, len, asks, HASTLS_PREFETCH_MAX_ASKS), 1);
    len = make_query(q, "", 1, 7);
    assert_int_equal(hastls_prefetch_plan(q, len, asks, HASTLS_PREFETCH_MAX_ASKS), 1);
}

static void test_plan_refuses_malformed(void **state)
{
    (void)state;
    struct hastls_prefetch_ask asks[HASTLS_PREFETCH_MAX_ASKS];
    uint8_t q[600];
    size_t len = make_query(q, "www.example.com", 1, 7);
    for (size_t l = 0; l < 12 + 17 + 4; l++)
        assert_int_equal(hastls_prefetch_plan(q, l, asks, HASTLS_PREFETCH_MAX_ASKS), 0);
    /* A compressed question name. */
    const uint8_t comp[] = {0, 7, 1, 0,   0,    1,  0, 0, 0, 0,
                            0, 0, 1, 'a', 0xc0, 12, 0, 1, 0, 1};
    assert_int_equal(
        hastls_prefetch_plan(comp, sizeof comp, asks, HASTLS_PREFETCH_MAX_ASKS), 0);
    /* An answer, not a query. */
    q[2] |= 0x80;
    assert_int_equal(hastls_prefetch_plan(q, len, asks, HASTLS_PREFETCH_MAX_ASKS), 0);
}

static void test_store_lifetimes(void **state)
{
    (void)state;
    struct hastls_prefetch p;
    hastls_prefetch_init(&p);
    struct hastls_prefetch_ask ask;
    ask.len = make_query(ask.query, "com", HASTLS_DNS_TYPE_DS, 0);
    uint8_t q[600], ans[600];
    size_t qlen = make_query(q, "COM", HASTLS_DNS_TYPE_DS, 0x1234);
    const uint8_t *a;
    size_t alen;
    uint64_t follow;

    struct hastls_prefetch_entry *e = hastls_prefetch_claim(&p, T0, &ask);
    assert_non_null(e);
    assert_null(hastls_prefetch_claim(&p, T0, &ask)); /* asked already */
    hastls_prefetch_started(e, 42);
    /* In flight: libunbound's query follows it. */
    assert_int_equal(hastls_prefetch_lookup(&p, T0, q, qlen, &a, &alen, &follow), 0);
    assert_int_equal(follow, 42);
    /* Answered: handed out for a while, then no more. */
    memcpy(ans, ask.query, ask.len);
    ans[2] |= 0x80;
    hastls_prefetch_done(&p, T0 + 10, 42, ans, ask.len);
    assert_int_equal(hastls_prefetch_lookup(&p, T0 + 10, q, qlen, &a, &alen, &follow), 1);
    assert_int_equal(alen, ask.len);
    assert_memory_equal(a, ans, alen);
    assert_int_equal(hastls_prefetch_lookup(&p, T0 + 10 + HASTLS_PREFETCH_SERVE_MS, q,
                                            qlen, &a, &alen, &follow),
                     0);
    assert_int_equal(follow, 0);
    /* Not asked again while fresh, asked again after. */
    assert_null(hastls_prefetch_claim(&p, T0 + HASTLS_PREFETCH_FRESH_MS - 1, &ask));
    e = hastls_prefetch_claim(&p, T0 + HASTLS_PREFETCH_FRESH_MS, &ask);
    assert_non_null(e);
    /* Failed: asked again at once next time. */
    hastls_prefetch_started(e, 43);
    hastls_prefetch_done(&p, T0 + HASTLS_PREFETCH_FRESH_MS, 43, NULL, 0);
    assert_non_null(hastls_prefetch_claim(&p, T0 + HASTLS_PREFETCH_FRESH_MS, &ask));
    /* Not sent at all: likewise. */
    e = hastls_prefetch_claim(&p, T0 + 2 * HASTLS_PREFETCH_FRESH_MS, &ask);
    assert_non_null(e);
    hastls_prefetch_started(e, 0);
    assert_non_null(hastls_prefetch_claim(&p, T0 + 2 * HASTLS_PREFETCH_FRESH_MS, &ask));
    /* A done for a serial nobody has is ignored. */
    hastls_prefetch_done(&p, T0, 999, ans, ask.len);
    hastls_prefetch_free(&p);
}

static void test_store_evicts_least_fresh(void **state)
{
    (void)state;
    struct hastls_prefetch p;
    hastls_prefetch_init(&p);
    struct hastls_prefetch_ask ask;
    char name[32];
    for (int i = 0; i <= HASTLS_PREFETCH_STORE; i++) {
        snprintf(name, sizeof name, "n%d.example", i);
        ask.len = make_query(ask.query, name, HASTLS_DNS_TYPE_DNSKEY, 0);
        struct hastls_prefetch_entry *e =
            hastls_prefetch_claim(&p, T0 + (uint64_t)i, &ask);
        assert_non_null(e);
        hastls_prefetch_started(e, (uint64_t)i + 1);
        hastls_prefetch_done(&p, T0 + (uint64_t)i, (uint64_t)i + 1, ask.query, ask.len);
    }
    /* The first one made room for the last. */
    uint8_t q[600];
    const uint8_t *a;
    size_t alen, qlen;
    uint64_t follow;
    qlen = make_query(q, "n0.example", HASTLS_DNS_TYPE_DNSKEY, 0);
    assert_int_equal(hastls_prefetch_lookup(&p, T0 + 100, q, qlen, &a, &alen, &follow),
                     0);
    snprintf(name, sizeof name, "n%d.example", HASTLS_PREFETCH_STORE);
    qlen = make_query(q, name, HASTLS_DNS_TYPE_DNSKEY, 0);
    assert_int_equal(hastls_prefetch_lookup(&p, T0 + 100, q, qlen, &a, &alen, &follow),
                     1);
    hastls_prefetch_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_ancestors),
        cmocka_unit_test(test_plan_refuses_malformed),
        cmocka_unit_test(test_store_lifetimes),
        cmocka_unit_test(test_store_evicts_least_fresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
