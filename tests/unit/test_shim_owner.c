/* tests/unit/test_shim_owner.c: the record that governs a name's addresses
 * (shim/core/owner.c), with scripted answers: the name's own record, a
 * CNAME's target asked for itself, a record the request did not ask, a
 * failed record in a signed zone, and the expiry rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shim/core/owner.h"

#define RTYPE 65301

static const uint8_t only_tls[4] = {0, 0, 1, 187};  /* (0 443) */
static const uint8_t clear_pair[4] = {0, 80, 0, 0}; /* (80 0) */

static struct hastls_answer *answer(const char *name, uint16_t qtype,
                                    enum hastls_sec status, int rcode, uint32_t ttl,
                                    const uint8_t *rdata, uint16_t rdlen)
{
    struct hastls_answer *a = calloc(1, sizeof *a + sizeof(struct hastls_rr));
    assert_non_null(a);
    a->qtype = qtype;
    a->status = status;
    a->rcode = rcode;
    a->ttl = ttl;
    strcpy(a->qname, name);
    strcpy(a->canonname, name);
    if (rdata) {
        a->rr = (struct hastls_rr *)(a + 1);
        a->rr[0] = (struct hastls_rr){qtype, rdlen, ttl, rdata};
        a->n_rr = 1;
    }
    return a;
}

/* The scripted resolver: answers the three queries of one name. */
struct script {
    int calls, fail, freed;
    char asked[256];
    enum hastls_sec rec_status;
    int rec_rcode;
    const uint8_t *rec_rdata;
    uint32_t rec_ttl, addr_ttl;
};

static int script_lookup(void *ctx, const struct hastls_query *q, size_t nq,
                         struct hastls_answer **ans)
{
    struct script *s = ctx;
    s->calls++;
    if (s->fail)
        return -1;
    assert_int_equal(nq, 3);
    assert_int_equal(q[0].type, 1);
    assert_int_equal(q[1].type, 28);
    assert_int_equal(q[2].type, RTYPE);
    strcpy(s->asked, q[0].name);
    static const uint8_t v4[4] = {127, 0, 10, 1};
    ans[0] = answer(q[0].name, 1, HASTLS_SEC_SECURE, 0, s->addr_ttl, v4, 4);
    ans[1] = answer(q[0].name, 28, HASTLS_SEC_SECURE, 0, s->addr_ttl + 7, NULL, 0);
    ans[2] = answer(q[0].name, RTYPE, s->rec_status, s->rec_rcode, s->rec_ttl,
                    s->rec_rdata, s->rec_rdata ? 4 : 0);
    return 0;
}

static void script_free(void *ctx, struct hastls_answer *a)
{
    ((struct script *)ctx)->freed++;
    free(a);
}

static const struct hastls_addr_answer secure_addrs[2] = {{HASTLS_SEC_SECURE, 0, 1},
                                                          {HASTLS_SEC_SECURE, 0, 0}};

static void own_record(void **state)
{
    (void)state;
    struct script s = {0};
    struct hastls_owner_asker ask = {script_lookup, script_free, &s};
    struct hastls_answer *rec_ans =
        answer("secure.lab.example", RTYPE, HASTLS_SEC_SECURE, 0, 300, only_tls, 4);
    struct hastls_pair pairs[HASTLS_REC_MAX_PAIRS];
    size_t np = 0;
    enum hastls_rec rec;
    char why[128];
    uint32_t ttl = 0;
    assert_int_equal(hastls_owner_record(&ask, "secure.lab.example", "Secure.lab.example",
                                         RTYPE, rec_ans, secure_addrs, pairs, &np, &rec,
                                         NULL, why, sizeof why, &ttl),
                     0);
    assert_int_equal(s.calls, 0); /* the same name (any case): nothing asked */
    assert_int_equal(rec, HASTLS_REC_SECURE);
    assert_int_equal(np, 1);
    assert_int_equal(pairs[0].insecure, 0);
    assert_int_equal(pairs[0].secure, 443);
    assert_int_equal(ttl, 300);
    free(rec_ans);
}

static void cname_target_asked(void **state)
{
    (void)state;
    struct script s = {.rec_status = HASTLS_SEC_SECURE,
                       .rec_rdata = clear_pair,
                       .rec_ttl = 600,
                       .addr_ttl = 120};
    struct hastls_owner_asker ask = {script_lookup, script_free, &s};
    /* The alias's own answer (the chain's record) must not decide. */
    struct hastls_answer *rec_ans =
        answer("alias.lab.example", RTYPE, HASTLS_SEC_INSECURE, 0, 300, only_tls, 4);
    struct hastls_pair pairs[HASTLS_REC_MAX_PAIRS];
    size_t np = 0;
    enum hastls_rec rec;
    char why[128];
    uint32_t ttl = 0;
    assert_int_equal(hastls_owner_record(&ask, "alias.lab.example", "clear.lab.example",
                                         RTYPE, rec_ans, secure_addrs, pairs, &np, &rec,
                                         NULL, why, sizeof why, &ttl),
                     0);
    assert_int_equal(s.calls, 1);
    assert_string_equal(s.asked, "clear.lab.example");
    assert_int_equal(s.freed, 3);
    assert_int_equal(rec, HASTLS_REC_SECURE);
    assert_int_equal(np, 1);
    assert_int_equal(pairs[0].insecure, 80);
    assert_int_equal(ttl, 120); /* the least of the record and its addresses */
    free(rec_ans);
}

static void record_not_in_request(void **state)
{
    (void)state;
    struct script s = {.rec_status = HASTLS_SEC_SECURE,
                       .rec_rdata = only_tls,
                       .rec_ttl = 60,
                       .addr_ttl = 120};
    struct hastls_owner_asker ask = {script_lookup, script_free, &s};
    struct hastls_pair pairs[HASTLS_REC_MAX_PAIRS];
    size_t np = 0;
    enum hastls_rec rec;
    char why[128];
    uint32_t ttl = 0;
    assert_int_equal(hastls_owner_record(&ask, "secure.lab.example", "secure.lab.example",
                                         RTYPE, NULL, secure_addrs, pairs, &np, &rec,
                                         NULL, why, sizeof why, &ttl),
                     0);
    assert_int_equal(s.calls, 1);
    assert_int_equal(rec, HASTLS_REC_SECURE);
    assert_int_equal(ttl, 60);
    /* Could not ask: no record is made up. */
    s.fail = 1;
    assert_int_equal(hastls_owner_record(&ask, "secure.lab.example", "secure.lab.example",
                                         RTYPE, NULL, secure_addrs, pairs, &np, &rec,
                                         NULL, why, sizeof why, &ttl),
                     -1);
}

static void failed_in_signed_zone(void **state)
{
    (void)state;
    struct script s = {0};
    struct hastls_owner_asker ask = {script_lookup, script_free, &s};
    struct hastls_answer *rec_ans =
        answer("empty.lab.example", RTYPE, HASTLS_SEC_FAILED, 2, 0, NULL, 0);
    strcpy(rec_ans->reason, "SERVFAIL");
    struct hastls_pair pairs[HASTLS_REC_MAX_PAIRS];
    size_t np = 0;
    enum hastls_rec rec;
    char why[128];
    uint32_t ttl = 0;
    assert_int_equal(hastls_owner_record(&ask, "empty.lab.example", "empty.lab.example",
                                         RTYPE, rec_ans, secure_addrs, pairs, &np, &rec,
                                         NULL, why, sizeof why, &ttl),
                     0);
    assert_int_equal(rec, HASTLS_REC_BOGUS);
    assert_non_null(strstr(why, "unusable record in a signed zone: SERVFAIL"));
    assert_int_equal(ttl, 30);
    /* The same failure where the zone is not shown signed stays failed. */
    const struct hastls_addr_answer unsigned_addrs[2] = {{HASTLS_SEC_INSECURE, 0, 1},
                                                         {HASTLS_SEC_INSECURE, 0, 0}};
    assert_int_equal(hastls_owner_record(&ask, "empty.lab.example", "empty.lab.example",
                                         RTYPE, rec_ans, unsigned_addrs, pairs, &np, &rec,
                                         NULL, why, sizeof why, &ttl),
                     0);
    assert_int_equal(rec, HASTLS_REC_FAILED);
    free(rec_ans);
}

static void expiry(void **state)
{
    (void)state;
    assert_int_equal(hastls_owner_expires(1000, 300, HASTLS_REC_SECURE, 60), 1060);
    assert_int_equal(hastls_owner_expires(1000, 30, HASTLS_REC_SECURE, 60), 1030);
    assert_int_equal(hastls_owner_expires(1000, 300, HASTLS_REC_NONE, 5), 1005);
    /* A failed record has no TTL of its own. */
    assert_int_equal(hastls_owner_expires(1000, 300, HASTLS_REC_FAILED, 0), 1300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(own_record),
        cmocka_unit_test(cname_target_asked),
        cmocka_unit_test(record_not_in_request),
        cmocka_unit_test(failed_in_signed_zone),
        cmocka_unit_test(expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
