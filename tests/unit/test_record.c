/* tests/unit/test_record.c: the verdict rules of policy/record.h and
 * policy/verdict.h: the record state of every kind of HASTLS answer
 * (including unreadable RDATA), which records are addresses, the host-lookup
 * result for each family asked (one bogus family fails the lookup), the
 * res_query h_errno, the decision per record state under each client and
 * bogus setting, the strictest-verdict order, and the reason and explanation
 * texts. */
#include <netdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "policy/record.h"
#include "policy/verdict.h"

#define RC_NOERROR 0
#define RC_SERVFAIL 2
#define RC_NXDOMAIN 3
#define RC_REFUSED 5
#define RTYPE 65301

static const enum hastls_client clients[3] = {HASTLS_CLIENT_CIO, HASTLS_CLIENT_CFB,
                                              HASTLS_CLIENT_CSO};

static void rec_state_table(void **state)
{
    (void)state;
    static const struct {
        enum hastls_sec status;
        int rcode, err;
        size_t npairs;
        enum hastls_rec want;
    } rows[] = {
        {HASTLS_SEC_SECURE, RC_NOERROR, HASTLS_RR_OK, 1, HASTLS_REC_SECURE},
        {HASTLS_SEC_SECURE, RC_NOERROR, HASTLS_RR_OK, 0, HASTLS_REC_NONE},
        {HASTLS_SEC_SECURE, RC_NXDOMAIN, HASTLS_RR_OK, 0, HASTLS_REC_NONE},
        {HASTLS_SEC_SECURE, RC_SERVFAIL, HASTLS_RR_OK, 0, HASTLS_REC_FAILED},
        {HASTLS_SEC_SECURE, RC_REFUSED, HASTLS_RR_OK, 0, HASTLS_REC_FAILED},
        {HASTLS_SEC_SECURE, -1, HASTLS_RR_OK, 0, HASTLS_REC_FAILED},
        /* a signed record that cannot be read: bogus */
        {HASTLS_SEC_SECURE, RC_NOERROR, HASTLS_RR_ZERO_PAIR, 0, HASTLS_REC_BOGUS},
        {HASTLS_SEC_SECURE, RC_NOERROR, HASTLS_RR_BAD_LENGTH, 2, HASTLS_REC_BOGUS},
        {HASTLS_SEC_SECURE, RC_NOERROR, HASTLS_RR_TOO_MANY, 0, HASTLS_REC_BOGUS},
        /* NXDOMAIN wins over a decode error: nothing to decode there */
        {HASTLS_SEC_SECURE, RC_NXDOMAIN, HASTLS_RR_EMPTY, 0, HASTLS_REC_NONE},
        /* the status decides before anything else */
        {HASTLS_SEC_INSECURE, RC_NOERROR, HASTLS_RR_OK, 1, HASTLS_REC_INSECURE},
        {HASTLS_SEC_INSECURE, RC_NOERROR, HASTLS_RR_ZERO_PAIR, 0, HASTLS_REC_INSECURE},
        {HASTLS_SEC_INSECURE, RC_NXDOMAIN, HASTLS_RR_OK, 0, HASTLS_REC_INSECURE},
        {HASTLS_SEC_BOGUS, RC_NOERROR, HASTLS_RR_OK, 1, HASTLS_REC_BOGUS},
        {HASTLS_SEC_BOGUS, RC_SERVFAIL, HASTLS_RR_OK, 0, HASTLS_REC_BOGUS},
        {HASTLS_SEC_FAILED, -1, HASTLS_RR_OK, 0, HASTLS_REC_FAILED},
        {HASTLS_SEC_FAILED, RC_NOERROR, HASTLS_RR_OK, 1, HASTLS_REC_FAILED},
        /* an out-of-range status is no answer */
        {(enum hastls_sec)17, RC_NOERROR, HASTLS_RR_OK, 1, HASTLS_REC_FAILED},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        enum hastls_rec got =
            hastls_rec_state(rows[i].status, rows[i].rcode, rows[i].err, rows[i].npairs);
        if (got != rows[i].want)
            fail_msg("row %zu: %s, want %s", i, hastls_rec_name(got),
                     hastls_rec_name(rows[i].want));
    }
}

static void rec_decode_answers(void **state)
{
    (void)state;
    static const uint8_t tls443[] = {0, 0, 0x01, 0xbb};
    static const uint8_t mail[] = {0, 25, 0, 25, 0, 0, 0x03, 0xe1};
    static const uint8_t zero[] = {0, 0, 0, 0};
    static const uint8_t odd[] = {0, 80, 0x01};
    static const uint8_t addr[] = {192, 0, 2, 1};
    struct hastls_pair pairs[8];
    size_t n = 99;
    int err = 1;

    /* The RRset combined, other types skipped. */
    struct hastls_rr rrs[] = {
        {1, sizeof addr, 60, addr},
        {RTYPE, sizeof tls443, 60, tls443},
        {RTYPE, sizeof mail, 60, mail},
    };
    assert_int_equal(
        hastls_rec_of(HASTLS_SEC_SECURE, RC_NOERROR, rrs, 3, RTYPE, pairs, 8, &n, &err),
        HASTLS_REC_SECURE);
    assert_int_equal(err, HASTLS_RR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(pairs[0].secure, 443);
    assert_int_equal(pairs[1].insecure, 25);
    assert_int_equal(pairs[2].secure, 993);

    /* No record of the type: a secure absence. */
    assert_int_equal(
        hastls_rec_of(HASTLS_SEC_SECURE, RC_NOERROR, rrs, 1, RTYPE, pairs, 8, &n, &err),
        HASTLS_REC_NONE);
    assert_int_equal(n, 0);
    assert_int_equal(
        hastls_rec_of(HASTLS_SEC_SECURE, RC_NOERROR, NULL, 0, RTYPE, pairs, 8, &n, NULL),
        HASTLS_REC_NONE);

    /* Malformed RDATA after a good one: bogus, the good pairs kept for
     * display, the codec's error reported. */
    struct hastls_rr bad[] = {{RTYPE, sizeof tls443, 60, tls443},
                              {RTYPE, sizeof zero, 60, zero}};
    assert_int_equal(
        hastls_rec_of(HASTLS_SEC_SECURE, RC_NOERROR, bad, 2, RTYPE, pairs, 8, &n, &err),
        HASTLS_REC_BOGUS);
    assert_int_equal(err, HASTLS_RR_ZERO_PAIR);
    assert_int_equal(n, 1);
    struct hastls_rr shorter[] = {{RTYPE, sizeof odd, 60, odd}};
    assert_int_equal(hastls_rec_of(HASTLS_SEC_SECURE, RC_NOERROR, shorter, 1, RTYPE,
                                   pairs, 8, &n, &err),
                     HASTLS_REC_BOGUS);
    assert_int_equal(err, HASTLS_RR_BAD_LENGTH);
    struct hastls_rr empty[] = {{RTYPE, 0, 60, tls443}};
    assert_int_equal(
        hastls_rec_of(HASTLS_SEC_SECURE, RC_NOERROR, empty, 1, RTYPE, pairs, 8, &n, &err),
        HASTLS_REC_BOGUS);
    assert_int_equal(err, HASTLS_RR_EMPTY);
    /* More pairs than the caller holds: unreadable, so bogus (fail closed). */
    assert_int_equal(hastls_rec_of(HASTLS_SEC_SECURE, RC_NOERROR, rrs + 1, 2, RTYPE,
                                   pairs, 2, &n, &err),
                     HASTLS_REC_BOGUS);
    assert_int_equal(err, HASTLS_RR_TOO_MANY);
    /* The same RDATA unsigned: decoded for display, never enforced. */
    assert_int_equal(
        hastls_rec_of(HASTLS_SEC_INSECURE, RC_NOERROR, rrs, 3, RTYPE, pairs, 8, &n, &err),
        HASTLS_REC_INSECURE);
    assert_int_equal(n, 3);
}

static void address_records(void **state)
{
    (void)state;
    static const uint8_t b16[16] = {0xfd, 0, 1, 0xab};
    const struct hastls_rr rows[] = {
        {1, 4, 60, b16}, {28, 16, 60, b16}, {1, 16, 60, b16}, {28, 4, 60, b16},
        {1, 0, 60, b16}, {28, 15, 60, b16}, {5, 4, 60, b16},  {RTYPE, 16, 60, b16},
    };
    const int want[] = {AF_INET, AF_INET6, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (hastls_rr_address_family(&rows[i]) != want[i])
            fail_msg("row %zu: %d, want %d", i, hastls_rr_address_family(&rows[i]),
                     want[i]);
}

static struct hastls_addr_answer ans(enum hastls_sec s, int rcode, size_t n)
{
    struct hastls_addr_answer a = {s, rcode, n};
    return a;
}

/* Every family asked, for one pair of answers. */
struct host_row {
    struct hastls_addr_answer a, aaaa;
    int unspec, inet, inet6;
    int cause_unspec; /* the answer that explains a failure of AF_UNSPEC */
};

static void host_result_table(void **state)
{
    (void)state;
    const struct hastls_addr_answer ok4 = ans(HASTLS_SEC_SECURE, RC_NOERROR, 1);
    const struct hastls_addr_answer ok6 = ans(HASTLS_SEC_SECURE, RC_NOERROR, 2);
    const struct hastls_addr_answer nodata = ans(HASTLS_SEC_SECURE, RC_NOERROR, 0);
    const struct hastls_addr_answer nx = ans(HASTLS_SEC_SECURE, RC_NXDOMAIN, 0);
    const struct hastls_addr_answer bogus = ans(HASTLS_SEC_BOGUS, RC_SERVFAIL, 0);
    const struct hastls_addr_answer bogus_data = ans(HASTLS_SEC_BOGUS, RC_NOERROR, 1);
    const struct hastls_addr_answer failed = ans(HASTLS_SEC_FAILED, -1, 0);
    const struct hastls_addr_answer servfail = ans(HASTLS_SEC_INSECURE, RC_SERVFAIL, 0);
    const struct hastls_addr_answer insecure = ans(HASTLS_SEC_INSECURE, RC_NOERROR, 1);
    const int A = HASTLS_ANS_A, Q = HASTLS_ANS_AAAA;
    const struct host_row rows[] = {
        /* both families fine, or one empty */
        {ok4, ok6, 0, 0, 0, A},
        {ok4, nodata, 0, 0, EAI_NODATA, A},
        {nodata, ok6, 0, EAI_NODATA, 0, A},
        {insecure, nodata, 0, 0, EAI_NODATA, A},
        {nodata, nodata, EAI_NODATA, EAI_NODATA, EAI_NODATA, A},
        {nx, nx, EAI_NONAME, EAI_NONAME, EAI_NONAME, A},
        /* one family bogus: fails whenever that family is asked, even with
         * addresses in the other; the other alone still resolves */
        {ok4, bogus, EAI_FAIL, 0, EAI_FAIL, Q},
        {bogus, ok6, EAI_FAIL, EAI_FAIL, 0, A},
        {ok4, bogus_data, EAI_FAIL, 0, EAI_FAIL, Q},
        {bogus, bogus, EAI_FAIL, EAI_FAIL, EAI_FAIL, A},
        {bogus, failed, EAI_FAIL, EAI_FAIL, EAI_AGAIN, A},
        {failed, bogus, EAI_FAIL, EAI_AGAIN, EAI_FAIL, Q},
        /* no answer: another family's addresses still do */
        {failed, ok6, 0, EAI_AGAIN, 0, A},
        {failed, failed, EAI_AGAIN, EAI_AGAIN, EAI_AGAIN, A},
        {nodata, failed, EAI_AGAIN, EAI_NODATA, EAI_AGAIN, Q},
        {servfail, nodata, EAI_AGAIN, EAI_AGAIN, EAI_NODATA, A},
        /* no answer beats NXDOMAIN: the name may exist */
        {nx, failed, EAI_AGAIN, EAI_NONAME, EAI_AGAIN, Q},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct hastls_addr_answer pair[2] = {rows[i].a, rows[i].aaaa};
        const int fam[3] = {AF_UNSPEC, AF_INET, AF_INET6};
        const int want[3] = {rows[i].unspec, rows[i].inet, rows[i].inet6};
        for (int f = 0; f < 3; f++) {
            int cause = -1;
            int got = hastls_host_result(fam[f], pair, &cause);
            if (got != want[f])
                fail_msg("row %zu family %d: %s, want %s", i, fam[f],
                         hastls_host_result_name(got), hastls_host_result_name(want[f]));
            if (f == 0 && got != 0 && cause != rows[i].cause_unspec)
                fail_msg("row %zu: cause %d, want %d", i, cause, rows[i].cause_unspec);
        }
        assert_int_equal(hastls_host_result(AF_UNSPEC, pair, NULL), rows[i].unspec);
    }
}

static void local_and_raw_results(void **state)
{
    (void)state;
    assert_int_equal(hastls_local_result(AF_UNSPEC, 1, 0), 0);
    assert_int_equal(hastls_local_result(AF_INET, 1, 0), 0);
    assert_int_equal(hastls_local_result(AF_INET6, 1, 0), EAI_NONAME);
    assert_int_equal(hastls_local_result(AF_INET6, 0, 1), 0);
    assert_int_equal(hastls_local_result(AF_UNSPEC, 0, 0), EAI_NONAME);

    assert_int_equal(hastls_raw_herr(HASTLS_SEC_SECURE, RC_NOERROR, 2), NETDB_SUCCESS);
    assert_int_equal(hastls_raw_herr(HASTLS_SEC_INSECURE, RC_NOERROR, 0), NO_DATA);
    assert_int_equal(hastls_raw_herr(HASTLS_SEC_SECURE, RC_NXDOMAIN, 0), HOST_NOT_FOUND);
    assert_int_equal(hastls_raw_herr(HASTLS_SEC_INSECURE, RC_SERVFAIL, 0), TRY_AGAIN);
    assert_int_equal(hastls_raw_herr(HASTLS_SEC_SECURE, RC_REFUSED, 0), NO_RECOVERY);
    /* bogus data is never handed out, whatever the RCODE says */
    assert_int_equal(hastls_raw_herr(HASTLS_SEC_BOGUS, RC_NOERROR, 1), TRY_AGAIN);
    assert_int_equal(hastls_raw_herr(HASTLS_SEC_FAILED, -1, 0), TRY_AGAIN);
    assert_int_equal(hastls_raw_herr(HASTLS_SEC_SECURE, -1, 0), TRY_AGAIN);
}

static void rec_decide_states(void **state)
{
    (void)state;
    static const struct hastls_pair tls443[] = {{0, 443}};
    for (int k = 0; k < 3; k++) {
        /* secure: the table */
        struct hastls_decision d = hastls_rec_decide(HASTLS_REC_SECURE, tls443, 1, 80,
                                                     clients[k], HASTLS_BOGUS_BLOCK);
        struct hastls_decision t = hastls_decide(tls443, 1, 80, clients[k]);
        assert_int_equal(d.cls, t.cls);
        assert_int_equal(d.verdict, t.verdict);
        assert_int_equal(d.verdict, HASTLS_VERDICT_BLOCK);
        assert_int_equal(d.pair.secure, 443);
        /* bogus: every port blocked, or nothing under bogus = ignore */
        for (uint16_t port = 1; port < 1000; port += 111) {
            d = hastls_rec_decide(HASTLS_REC_BOGUS, tls443, 1, port, clients[k],
                                  HASTLS_BOGUS_BLOCK);
            assert_int_equal(d.verdict, HASTLS_VERDICT_BLOCK);
            assert_int_equal(d.cls, HASTLS_CLASS_UNLISTED);
            d = hastls_rec_decide(HASTLS_REC_BOGUS, tls443, 1, port, clients[k],
                                  HASTLS_BOGUS_IGNORE);
            assert_int_equal(d.verdict, HASTLS_VERDICT_ALLOW);
        }
        /* the pairs of a non-secure record never decide */
        const enum hastls_rec others[] = {HASTLS_REC_NONE, HASTLS_REC_INSECURE,
                                          HASTLS_REC_FAILED};
        for (int r = 0; r < 3; r++) {
            d = hastls_rec_decide(others[r], tls443, 1, 80, clients[k],
                                  HASTLS_BOGUS_BLOCK);
            assert_int_equal(d.verdict, HASTLS_VERDICT_ALLOW);
            assert_int_equal(d.cls, HASTLS_CLASS_UNLISTED);
        }
        d = hastls_ungoverned_decide();
        assert_int_equal(d.verdict, HASTLS_VERDICT_ALLOW);
    }
    /* an unknown bogus setting blocks: fail closed */
    assert_true(hastls_rec_blocks_all(HASTLS_REC_BOGUS, (enum hastls_bogus)9));
    assert_false(hastls_rec_blocks_all(HASTLS_REC_SECURE, HASTLS_BOGUS_BLOCK));
    assert_true(hastls_rec_enforced(HASTLS_REC_SECURE));
    assert_false(hastls_rec_enforced(HASTLS_REC_BOGUS));
    assert_false(hastls_rec_enforced(HASTLS_REC_INSECURE));
}

static void verdict_order(void **state)
{
    (void)state;
    assert_true(hastls_verdict_rank(HASTLS_VERDICT_BLOCK) >
                hastls_verdict_rank(HASTLS_VERDICT_ALLOW_NOTE));
    assert_true(hastls_verdict_rank(HASTLS_VERDICT_ALLOW_NOTE) >
                hastls_verdict_rank(HASTLS_VERDICT_ALLOW));
    /* out of range: as strict as a block */
    assert_int_equal(hastls_verdict_rank((enum hastls_verdict)42),
                     hastls_verdict_rank(HASTLS_VERDICT_BLOCK));
}

static void texts(void **state)
{
    (void)state;
    static const struct hastls_pair tls443[] = {{0, 443}};
    char buf[256], want[256];
    struct hastls_decision d = hastls_rec_decide(HASTLS_REC_SECURE, tls443, 1, 80,
                                                 HASTLS_CLIENT_CFB, HASTLS_BOGUS_BLOCK);
    hastls_decision_reason(&d, 80, want, sizeof want);
    assert_string_equal(
        hastls_rec_reason(HASTLS_REC_SECURE, HASTLS_BOGUS_BLOCK, &d, 80, buf, sizeof buf),
        want);
    d = hastls_rec_decide(HASTLS_REC_BOGUS, NULL, 0, 80, HASTLS_CLIENT_CFB,
                          HASTLS_BOGUS_BLOCK);
    /* the shim's log line and the CLI's row share this text */
    assert_string_equal(
        hastls_rec_reason(HASTLS_REC_BOGUS, HASTLS_BOGUS_BLOCK, &d, 80, buf, sizeof buf),
        "its HASTLS record is bogus (it failed DNSSEC validation, or is signed but "
        "cannot be used; bogus = block)");
    assert_non_null(strstr(
        hastls_rec_reason(HASTLS_REC_BOGUS, HASTLS_BOGUS_IGNORE, &d, 80, buf, sizeof buf),
        "ignored (bogus = ignore)"));
    assert_non_null(strstr(
        hastls_rec_reason(HASTLS_REC_NONE, HASTLS_BOGUS_BLOCK, &d, 80, buf, sizeof buf),
        "no HASTLS record"));
    assert_non_null(strstr(hastls_rec_reason(HASTLS_REC_INSECURE, HASTLS_BOGUS_BLOCK, &d,
                                             80, buf, sizeof buf),
                           "never enforced"));
    assert_non_null(strstr(
        hastls_rec_reason(HASTLS_REC_FAILED, HASTLS_BOGUS_BLOCK, &d, 80, buf, sizeof buf),
        "lookup failed"));
    /* a short buffer is cut, still terminated */
    hastls_rec_reason(HASTLS_REC_FAILED, HASTLS_BOGUS_BLOCK, &d, 80, buf, 5);
    assert_string_equal(buf, "the ");

    assert_string_equal(hastls_rec_effect(HASTLS_REC_SECURE, HASTLS_BOGUS_BLOCK),
                        "enforced");
    assert_string_equal(hastls_rec_effect(HASTLS_REC_NONE, HASTLS_BOGUS_BLOCK), "absent");
    assert_string_equal(hastls_rec_effect(HASTLS_REC_INSECURE, HASTLS_BOGUS_BLOCK),
                        "insecure");
    assert_string_equal(hastls_rec_effect(HASTLS_REC_BOGUS, HASTLS_BOGUS_BLOCK),
                        "bogus-block");
    assert_string_equal(hastls_rec_effect(HASTLS_REC_BOGUS, HASTLS_BOGUS_IGNORE),
                        "bogus-ignore");
    assert_string_equal(hastls_rec_effect(HASTLS_REC_FAILED, HASTLS_BOGUS_BLOCK),
                        "failed");
    assert_string_equal(hastls_ungoverned_effect(HASTLS_UNGOVERNED_LITERAL), "literal");
    assert_string_equal(hastls_ungoverned_effect(HASTLS_UNGOVERNED_HOSTS), "hosts");
    assert_non_null(strstr(hastls_rec_explanation(HASTLS_REC_BOGUS, HASTLS_BOGUS_BLOCK),
                           "every connection to this name is blocked"));
    assert_non_null(strstr(hastls_rec_explanation(HASTLS_REC_SECURE, HASTLS_BOGUS_BLOCK),
                           "enforced"));
    assert_non_null(
        strstr(hastls_ungoverned_explanation(HASTLS_UNGOVERNED_HOSTS), "hosts file"));
    assert_non_null(
        strstr(hastls_ungoverned_reason(HASTLS_UNGOVERNED_LITERAL), "not governed"));

    assert_string_equal(hastls_rec_name(HASTLS_REC_NONE), "none");
    assert_string_equal(hastls_rec_name((enum hastls_rec)9), "?");
    assert_string_equal(hastls_sec_name(HASTLS_SEC_BOGUS), "bogus");
    assert_string_equal(hastls_host_result_name(0), "ok");
    assert_string_equal(hastls_host_result_name(EAI_FAIL), "EAI_FAIL");
    assert_string_equal(hastls_host_result_name(EAI_NODATA), "EAI_NODATA");
    assert_string_equal(hastls_host_result_name(12345), "?");
}

/* A record answer that failed is bogus when the same batch's address
 * answers show a signed zone (libunbound's SERVFAIL for a record of zero
 * bytes), failed otherwise (no answer at all, or an unsigned zone). */
static void rec_in_signed_zone(void **state)
{
    (void)state;
    static const struct {
        enum hastls_sec s4;
        int r4;
        enum hastls_sec s6;
        int r6;
        int want;
    } zones[] = {
        {HASTLS_SEC_SECURE, RC_NOERROR, HASTLS_SEC_SECURE, RC_NOERROR, 1},
        /* a secure NODATA or NXDOMAIN is a proof from the signed zone too */
        {HASTLS_SEC_FAILED, -1, HASTLS_SEC_SECURE, RC_NOERROR, 1},
        {HASTLS_SEC_SECURE, RC_NXDOMAIN, HASTLS_SEC_FAILED, -1, 1},
        {HASTLS_SEC_INSECURE, RC_NOERROR, HASTLS_SEC_INSECURE, RC_NOERROR, 0},
        {HASTLS_SEC_FAILED, -1, HASTLS_SEC_FAILED, -1, 0},
        {HASTLS_SEC_FAILED, RC_SERVFAIL, HASTLS_SEC_FAILED, RC_SERVFAIL, 0},
        {HASTLS_SEC_BOGUS, RC_SERVFAIL, HASTLS_SEC_BOGUS, RC_SERVFAIL, 0},
        /* secure but SERVFAIL or REFUSED: no proof of anything */
        {HASTLS_SEC_SECURE, RC_SERVFAIL, HASTLS_SEC_SECURE, RC_REFUSED, 0},
    };
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        struct hastls_addr_answer a[2] = {{zones[i].s4, zones[i].r4, 1},
                                          {zones[i].s6, zones[i].r6, 0}};
        if (hastls_addrs_signed(a) != zones[i].want)
            fail_msg("zone row %zu: signed %d, want %d", i, hastls_addrs_signed(a),
                     zones[i].want);
    }
    /* Only a failed record changes, and only in a signed zone. */
    assert_int_equal(hastls_rec_in_zone(HASTLS_REC_FAILED, 1), HASTLS_REC_BOGUS);
    assert_int_equal(hastls_rec_in_zone(HASTLS_REC_FAILED, 0), HASTLS_REC_FAILED);
    static const enum hastls_rec same[] = {HASTLS_REC_SECURE, HASTLS_REC_NONE,
                                           HASTLS_REC_INSECURE, HASTLS_REC_BOGUS};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        for (int z = 0; z < 2; z++)
            assert_int_equal(hastls_rec_in_zone(same[i], z), same[i]);
    /* The answers of the empty record the lab serves, end to end: A secure,
     * AAAA secure NODATA, HASTLS SERVFAIL without data -> bogus. */
    struct hastls_addr_answer lab[2] = {{HASTLS_SEC_SECURE, RC_NOERROR, 1},
                                        {HASTLS_SEC_SECURE, RC_NOERROR, 0}};
    struct hastls_pair pairs[2];
    size_t n = 0;
    enum hastls_rec rec =
        hastls_rec_of(HASTLS_SEC_FAILED, RC_SERVFAIL, NULL, 0, RTYPE, pairs, 2, &n, NULL);
    assert_int_equal(hastls_rec_in_zone(rec, hastls_addrs_signed(lab)), HASTLS_REC_BOGUS);
}

/* The addresses are named by the A answer when it has some, else AAAA. */
static void owner_answer(void **state)
{
    (void)state;
    struct hastls_addr_answer a[2] = {{HASTLS_SEC_SECURE, RC_NOERROR, 1},
                                      {HASTLS_SEC_SECURE, RC_NOERROR, 1}};
    assert_int_equal(hastls_owner_answer(a), HASTLS_ANS_A);
    a[HASTLS_ANS_A].n = 0;
    assert_int_equal(hastls_owner_answer(a), HASTLS_ANS_AAAA);
    a[HASTLS_ANS_AAAA].n = 0;
    assert_int_equal(hastls_owner_answer(a), HASTLS_ANS_AAAA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rec_state_table),       cmocka_unit_test(rec_decode_answers),
        cmocka_unit_test(address_records),       cmocka_unit_test(host_result_table),
        cmocka_unit_test(local_and_raw_results), cmocka_unit_test(rec_decide_states),
        cmocka_unit_test(verdict_order),         cmocka_unit_test(texts),
        cmocka_unit_test(rec_in_signed_zone),    cmocka_unit_test(owner_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
