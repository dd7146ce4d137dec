/* tests/unit/test_danematch.c: the RFC 7671 matching rules of
 * shim/core/danematch.c per usage, selector and matching type, against a
 * scripted chain (certificates and keys are byte strings, digests real
 * SHA2-256/512, the DANE-TA path check scripted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "shim/core/danematch.h"

#define MAXC 4

/* The scripted peer: chain[i] and its key, and what the path check says. */
struct fake {
    size_t n;
    uint8_t cert[MAXC][40];
    uint8_t spki[MAXC][24];
    int fail_spki;   /* spki() fails */
    int fail_digest; /* digest() fails */
    int path_rc;     /* ta_path's answer */
    int path_calls;
    size_t path_ta;          /* its latest TA argument */
    const uint8_t *path_anc; /* ... and ANCHOR */
    char path_name[64];
};

static int f_cert(void *ctx, size_t i, const uint8_t **der, size_t *len)
{
    struct fake *f = ctx;
    assert_true(i < f->n);
    *der = f->cert[i];
    *len = sizeof f->cert[i];
    return 0;
}

static int f_spki(void *ctx, size_t i, const uint8_t **der, size_t *len)
{
    struct fake *f = ctx;
    assert_true(i < f->n);
    if (f->fail_spki)
        return -1;
    *der = f->spki[i];
    *len = sizeof f->spki[i];
    return 0;
}

static int f_digest(void *ctx, uint8_t mtype, const uint8_t *in, size_t len, uint8_t *out,
                    size_t *outlen)
{
    struct fake *f = ctx;
    unsigned n = 0;
    if (f->fail_digest)
        return -1;
    if (!EVP_Digest(in, len, out, &n, mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL))
        return -1;
    *outlen = n;
    return 0;
}

static int f_ta_path(void *ctx, size_t ta, const uint8_t *anchor, size_t alen,
                     const char *name, char *why, size_t whylen)
{
    struct fake *f = ctx;
    (void)alen;
    f->path_calls++;
    f->path_ta = ta;
    f->path_anc = anchor;
    snprintf(f->path_name, sizeof f->path_name, "%s", name);
    if (f->path_rc == 1)
        snprintf(why, whylen, "the certificate is not valid for %s", name);
    else if (f->path_rc < 0)
        snprintf(why, whylen, "the chain does not lead to the anchor");
    return f->path_rc;
}

static struct fake fk;
static struct hastls_danematch_ops ops;

/* A set of up to 4 records; data in its own storage. */
static struct {
    struct hastls_dane_set set;
    struct hastls_tlsa rec[4];
} S;
static uint8_t data[4][64];

static int setup(void **state)
{
    (void)state;
    memset(&fk, 0, sizeof fk);
    fk.n = 2;
    for (size_t i = 0; i < MAXC; i++) {
        memset(fk.cert[i], 0x30 + (int)i, sizeof fk.cert[i]);
        memset(fk.spki[i], 0x60 + (int)i, sizeof fk.spki[i]);
    }
    ops = (struct hastls_danematch_ops){&fk, 2, f_cert, f_spki, f_digest, f_ta_path};
    memset(&S, 0, sizeof S);
    S.set.state = HASTLS_DANE_USE;
    snprintf(S.set.owner, sizeof S.set.owner, "_443._tcp.www.example");
    return 0;
}

/* Adds record USAGE SELECTOR MTYPE for certificate I of the chain (its
 * whole certificate or key, or their digest); CORRUPT flips a bit. */
static void add(uint8_t usage, uint8_t sel, uint8_t mtype, size_t i, int corrupt)
{
    size_t k = S.set.n++;
    const uint8_t *src = sel == 0 ? fk.cert[i] : fk.spki[i];
    size_t len = sel == 0 ? sizeof fk.cert[i] : sizeof fk.spki[i];
    unsigned n = (unsigned)len;
    if (mtype == 0)
        memcpy(data[k], src, len);
    else
        assert_true(EVP_Digest(src, len, data[k], &n,
                               mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL));
    if (corrupt)
        data[k][0] ^= 1;
    S.rec[k] = (struct hastls_tlsa){usage, sel, mtype, (uint16_t)n, data[k]};
}

static enum hastls_danematch_verdict run(struct hastls_danematch_result *r)
{
    ops.n = fk.n;
    return hastls_danematch(&S.set, "www.example", &ops, r);
}

static void ee_every_selector_and_type(void **state)
{
    (void)state;
    struct hastls_danematch_result r;
    for (uint8_t sel = 0; sel <= 1; sel++)
        for (uint8_t mt = 0; mt <= 2; mt++) {
            setup(NULL);
            add(3, sel, mt, 0, 0);
            assert_int_equal(run(&r), HASTLS_DANEMATCH_DANE);
            assert_int_equal(r.depth, 0);
            assert_int_equal(fk.path_calls, 0); /* no chain, no name */
            setup(NULL);
            add(3, sel, mt, 0, 1);
            assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
            assert_string_equal(r.reason,
                                "no matching DANE TLSA records at _443._tcp.www.example");
        }
}

static void ee_only_the_leaf(void **state)
{
    (void)state;
    struct hastls_danematch_result r;
    add(3, 1, 1, 1, 0); /* the issuer's key */
    assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
}

static void ta_issuer_in_chain(void **state)
{
    (void)state;
    struct hastls_danematch_result r;
    fk.n = 3;
    add(2, 0, 1, 2, 0);
    assert_int_equal(run(&r), HASTLS_DANEMATCH_DANE);
    assert_int_equal(r.depth, 2);
    assert_int_equal(fk.path_calls, 1);
    assert_int_equal(fk.path_ta, 2);
    assert_null(fk.path_anc);
    assert_string_equal(fk.path_name, "www.example");

    setup(NULL);
    add(2, 1, 2, 1, 0);
    assert_int_equal(run(&r), HASTLS_DANEMATCH_DANE);
    assert_int_equal(r.depth, 1);
}

static void ta_never_the_leaf(void **state)
{
    (void)state;
    struct hastls_danematch_result r;
    add(2, 1, 1, 0, 0);
    assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
    assert_int_equal(fk.path_calls, 0);
}

static void ta_name_or_path_fails(void **state)
{
    (void)state;
    struct hastls_danematch_result r;
    fk.path_rc = 1;
    add(2, 0, 1, 1, 0);
    assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
    assert_true(r.name_mismatch);
    assert_string_equal(r.reason,
                        "no matching DANE TLSA records at _443._tcp.www.example: "
                        "a DANE-TA anchor matches, but the certificate is not "
                        "valid for www.example");
    setup(NULL);
    fk.path_rc = -1;
    add(2, 0, 1, 1, 0);
    assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
    assert_false(r.name_mismatch);
    assert_non_null(strstr(r.reason, "does not lead to the anchor"));
}

static void ta_full_certificate_outside_the_chain(void **state)
{
    (void)state;
    struct hastls_danematch_result r;
    /* 2 0 0 with a certificate the server does not send */
    add(2, 0, 0, 3, 0);
    assert_int_equal(run(&r), HASTLS_DANEMATCH_DANE);
    assert_int_equal(fk.path_calls, 1);
    assert_ptr_equal(fk.path_anc, data[0]);
    assert_int_equal(r.depth, 2); /* beyond the chain */
    setup(NULL);
    fk.path_rc = -1; /* not an issuer of the chain: no match, no TA reason */
    add(2, 0, 0, 3, 0);
    assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
    assert_string_equal(r.reason,
                        "no matching DANE TLSA records at _443._tcp.www.example");
}

static void pkix_usages(void **state)
{
    (void)state;
    struct hastls_danematch_result r;
    add(1, 1, 1, 0, 0);
    assert_int_equal(run(&r), HASTLS_DANEMATCH_PKIX);
    setup(NULL);
    add(0, 0, 1, 1, 0);
    assert_int_equal(run(&r), HASTLS_DANEMATCH_PKIX);
    assert_int_equal(r.depth, 1);
    setup(NULL);
    add(0, 0, 1, 0, 0); /* PKIX-TA naming the leaf */
    assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
    setup(NULL);
    add(1, 1, 1, 1, 0); /* PKIX-EE naming the issuer */
    assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
    assert_int_equal(fk.path_calls, 0);
}

static void dane_wins_over_pkix_and_failures(void **state)
{
    (void)state;
    struct hastls_danematch_result r;
    fk.path_rc = 1;
    add(1, 1, 1, 0, 0); /* PKIX-EE matches */
    add(2, 0, 1, 1, 0); /* DANE-TA anchor, wrong name */
    add(3, 1, 1, 0, 1); /* DANE-EE, no match */
    add(3, 0, 2, 0, 0); /* DANE-EE matches */
    assert_int_equal(run(&r), HASTLS_DANEMATCH_DANE);
    assert_int_equal(r.record, 3);
    assert_false(r.name_mismatch);
    setup(NULL);
    fk.path_rc = 1;
    add(2, 0, 1, 1, 0);
    add(1, 1, 1, 0, 0);
    assert_int_equal(run(&r), HASTLS_DANEMATCH_PKIX);
    assert_int_equal(r.record, 1);
    assert_false(r.name_mismatch);
}

static void no_certificate(void **state)
{
    (void)state;
    struct hastls_danematch_result r;
    add(3, 1, 1, 0, 0);
    fk.n = 0;
    assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
    assert_string_equal(r.reason, "the peer presented no certificate, and "
                                  "_443._tcp.www.example has TLSA records");
}

static void errors_fail_closed(void **state)
{
    (void)state;
    struct hastls_danematch_result r;
    add(3, 1, 1, 0, 0);
    add(3, 1, 0, 0, 0);
    fk.fail_spki = 1;
    assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
    setup(NULL);
    add(3, 0, 1, 0, 0);
    fk.fail_digest = 1;
    assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
    /* a digest record whose length is not the digest's */
    setup(NULL);
    add(3, 0, 1, 0, 0);
    S.rec[0].dlen = 31;
    assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
    /* a whole-certificate record one byte short */
    setup(NULL);
    add(3, 0, 0, 0, 0);
    S.rec[0].dlen--;
    assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
    /* an unknown usage or selector never matches */
    setup(NULL);
    add(3, 1, 1, 0, 0);
    S.rec[0].usage = 4;
    assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
    S.rec[0].usage = 3;
    S.rec[0].selector = 2;
    assert_int_equal(run(&r), HASTLS_DANEMATCH_FAIL);
}

static void usage_names(void **state)
{
    (void)state;
    assert_string_equal(hastls_danematch_usage_name(0), "PKIX-TA");
    assert_string_equal(hastls_danematch_usage_name(1), "PKIX-EE");
    assert_string_equal(hastls_danematch_usage_name(2), "DANE-TA");
    assert_string_equal(hastls_danematch_usage_name(3), "DANE-EE");
    assert_string_equal(hastls_danematch_usage_name(9), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(ee_every_selector_and_type, setup),
        cmocka_unit_test_setup(ee_only_the_leaf, setup),
        cmocka_unit_test_setup(ta_issuer_in_chain, setup),
        cmocka_unit_test_setup(ta_never_the_leaf, setup),
        cmocka_unit_test_setup(ta_name_or_path_fails, setup),
        cmocka_unit_test_setup(ta_full_certificate_outside_the_chain, setup),
        cmocka_unit_test_setup(pkix_usages, setup),
        cmocka_unit_test_setup(dane_wins_over_pkix_and_failures, setup),
        cmocka_unit_test_setup(no_certificate, setup),
        cmocka_unit_test_setup(errors_fail_closed, setup),
        cmocka_unit_test(usage_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
