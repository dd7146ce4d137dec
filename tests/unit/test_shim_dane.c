/* tests/unit/test_shim_dane.c: the DANE cache of shim/core/dane.c with
 * scripted answers, as a host lookup's batch leaves them there: what a
 * handshake's lookup then finds (_tcp and _udp), what is not kept (failed
 * answers), the names that never reach DNS, and when a lookup fetches the
 * TLSA RRset along (only in a program with a TLS library). */
#include <dlfcn.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "shim/core/dane.h"
#include "shim/resolver/resolver.h"

/* A DANE-EE SPKI SHA-256 record: 3 1 1 and 32 bytes. */
static uint8_t ee[35] = {3, 1, 1};

static struct hastls_answer *answer(const char *owner, enum hastls_sec status, int rcode,
                                    uint32_t ttl, int with_record)
{
    struct hastls_answer *a = calloc(1, sizeof *a + sizeof(struct hastls_rr));
    assert_non_null(a);
    a->qtype = HASTLS_DNS_TYPE_TLSA;
    a->status = status;
    a->rcode = rcode;
    a->ttl = ttl;
    strcpy(a->qname, owner);
    strcpy(a->canonname, owner);
    if (with_record) {
        a->rr = (struct hastls_rr *)(a + 1);
        a->rr[0] = (struct hastls_rr){HASTLS_DNS_TYPE_TLSA, sizeof ee, ttl, ee};
        a->n_rr = 1;
    }
    return a;
}

static int setup(void **state)
{
    (void)state;
    for (size_t i = 3; i < sizeof ee; i++)
        ee[i] = (uint8_t)i;
    /* Built-in defaults (dane = enforce), whatever the machine has. */
    setenv("HASTLS_CONF", "/dev/null", 1);
    return 0;
}

/* An answer kept from a lookup's batch is what the handshake gets, without
 * a resolver, for the name in any spelling; its copy is the caller's. */
static void kept_then_found(void **state)
{
    (void)state;
    size_t before = hastls_dane_cache_count();
    struct hastls_answer *a =
        answer("_443._tcp.www.example", HASTLS_SEC_SECURE, 0, 300, 1);
    hastls_dane_keep(a->qname, a, "fetched with the addresses");
    free(a);
    assert_int_equal(hastls_dane_cache_count(), before + 1);
    struct hastls_dane_set *s = hastls_dane_lookup("WWW.Example.", 443);
    assert_non_null(s);
    assert_int_equal(s->state, HASTLS_DANE_USE);
    assert_string_equal(s->owner, "_443._tcp.www.example");
    assert_int_equal(s->n, 1);
    assert_int_equal(s->rec[0].usage, 3);
    assert_int_equal(s->rec[0].dlen, 32);
    assert_memory_equal(s->rec[0].data, ee + 3, 32);
    free(s);
    /* Kept again: the same entry, not a second one. */
    a = answer("_443._tcp.www.example", HASTLS_SEC_SECURE, 0, 300, 1);
    hastls_dane_keep(a->qname, a, "came late");
    free(a);
    assert_int_equal(hastls_dane_cache_count(), before + 1);
}

/* _udp answers are for DTLS peers, apart from _tcp ones. */
static void udp_apart(void **state)
{
    (void)state;
    struct hastls_answer *a =
        answer("_4433._udp.dtls.example", HASTLS_SEC_SECURE, 3 /* NXDOMAIN */, 60, 0);
    hastls_dane_keep(a->qname, a, "fetched with the addresses");
    free(a);
    struct hastls_dane_set *s =
        hastls_dane_lookup_proto("dtls.example", 4433, IPPROTO_UDP);
    assert_non_null(s);
    assert_int_equal(s->state, HASTLS_DANE_NONE);
    assert_string_equal(s->owner, "_4433._udp.dtls.example");
    free(s);
    assert_null(hastls_dane_lookup_proto("dtls.example", 4433, IPPROTO_SCTP));
}

/* A failed answer is not kept (the next handshake asks again); a bogus one
 * is, with its reason. */
static void failed_not_kept(void **state)
{
    (void)state;
    size_t before = hastls_dane_cache_count();
    struct hastls_answer *a =
        answer("_443._tcp.slow.example", HASTLS_SEC_FAILED, -1, 0, 0);
    strcpy(a->reason, "no answer within 750 ms of the address answers");
    hastls_dane_keep(a->qname, a, "fetched with the addresses");
    free(a);
    assert_int_equal(hastls_dane_cache_count(), before);
    a = answer("_443._tcp.broken.example", HASTLS_SEC_BOGUS, 2, 3600, 1);
    strcpy(a->reason, "signature expired");
    hastls_dane_keep(a->qname, a, "fetched with the addresses");
    free(a);
    assert_int_equal(hastls_dane_cache_count(), before + 1);
    struct hastls_dane_set *s = hastls_dane_lookup("broken.example", 443);
    assert_non_null(s);
    assert_int_equal(s->state, HASTLS_DANE_BOGUS);
    assert_string_equal(s->why, "signature expired");
    free(s);
}

/* Literals and localhost names have no TLSA records and are never asked. */
static void never_in_dns(void **state)
{
    (void)state;
    assert_null(hastls_dane_lookup("192.0.2.1", 443));
    assert_null(hastls_dane_lookup("2001:db8::1", 443));
    assert_null(hastls_dane_lookup("localhost", 443));
    assert_null(hastls_dane_lookup_proto("db.localhost", 443, IPPROTO_UDP));
    assert_null(hastls_dane_lookup(NULL, 443));
}

/* A lookup fetches the RRset along only in a program with a TLS library of
 * its own, for a port worth it, when the cache lacks it. */
static void prefetch_owner(void **state)
{
    (void)state;
    char owner[HASTLS_DANE_OWNER_MAX];
    /* Without a TLS library none (a sanitizer build links the resolver's
     * libssl into the test itself). */
    void *ssl = dlopen("libssl.so.3", RTLD_NOW | RTLD_NOLOAD);
    if (!ssl)
        assert_int_equal(
            hastls_dane_prefetch_owner("new.example", 443, SOCK_STREAM, 0, owner), 0);
    else
        dlclose(ssl);
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        skip(); /* nothing at hand that needs libssl */
    assert_int_equal(
        hastls_dane_prefetch_owner("new.example", 443, SOCK_STREAM, 0, owner), 1);
    assert_string_equal(owner, "_443._tcp.new.example");
    assert_int_equal(
        hastls_dane_prefetch_owner("new.example", 4433, SOCK_DGRAM, 0, owner), 1);
    assert_string_equal(owner, "_4433._udp.new.example");
    assert_int_equal(hastls_dane_prefetch_owner("new.example", 80, SOCK_STREAM, 0, owner),
                     0);
    /* Cached already (kept_then_found): not asked again. */
    assert_int_equal(
        hastls_dane_prefetch_owner("www.example", 443, SOCK_STREAM, 0, owner), 0);
    dlclose(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kept_then_found), cmocka_unit_test(udp_apart),
        cmocka_unit_test(failed_not_kept), cmocka_unit_test(never_in_dns),
        cmocka_unit_test(prefetch_owner),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
