/* tests/unit/test_shim_cache.c: the front cache: one host entry per name
 * holding both families, the record and the address-map references, apart
 * from PTR entries; hits and misses, TTL expiry, replacement, what is not
 * cached, bounded size with expired-first and clock eviction, name
 * normalization, and many threads at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy/record.h"
#include "shim/core/cache.h"

/* A host entry whose every field carries TAG, with N4 IPv4 and N6 IPv6
 * addresses and NP pairs. */
static struct hastls_cache_host host(uint64_t expires, uint32_t tag, uint16_t n4,
                                     uint16_t n6, uint16_t np)
{
    struct hastls_cache_host v;
    memset(&v, 0, sizeof v);
    v.expires = expires;
    snprintf(v.canon, sizeof v.canon, "canon-%u", tag);
    v.fam[HASTLS_ANS_A] = (struct hastls_cache_family){HASTLS_SEC_SECURE, 0, n4};
    v.fam[HASTLS_ANS_AAAA] = (struct hastls_cache_family){HASTLS_SEC_INSECURE, 3, n6};
    v.rec = HASTLS_REC_SECURE;
    v.flags = HASTLS_CACHE_V6_USABLE;
    v.npairs = np;
    for (uint16_t i = 0; i < HASTLS_CACHE_MAX_ITEMS; i++) {
        v.a[i].s_addr = tag + i;
        v.aaaa[i].s6_addr[15] = (uint8_t)(tag + i);
        v.aaaa[i].s6_addr[0] = 0xfd;
        v.ref4[i] = ((uint64_t)tag << 32) + i;
        v.ref6[i] = ((uint64_t)tag << 32) + 100 + i;
        v.pairs[i] = (struct hastls_pair){(uint16_t)tag, (uint16_t)(443 + i)};
    }
    return v;
}

/* OUT holds exactly what host(…, TAG, N4, N6, NP) put in. */
static void assert_host(const struct hastls_cache_host *out, uint32_t tag, uint16_t n4,
                        uint16_t n6, uint16_t np)
{
    struct hastls_cache_host want = host(out->expires, tag, n4, n6, np);
    assert_string_equal(out->canon, want.canon);
    assert_memory_equal(out->fam, want.fam, sizeof want.fam);
    assert_int_equal(out->rec, HASTLS_REC_SECURE);
    assert_int_equal(out->flags, HASTLS_CACHE_V6_USABLE);
    assert_int_equal(out->npairs, np);
    assert_memory_equal(out->a, want.a, n4 * sizeof want.a[0]);
    assert_memory_equal(out->ref4, want.ref4, n4 * sizeof want.ref4[0]);
    assert_memory_equal(out->aaaa, want.aaaa, n6 * sizeof want.aaaa[0]);
    assert_memory_equal(out->ref6, want.ref6, n6 * sizeof want.ref6[0]);
    assert_memory_equal(out->pairs, want.pairs, np * sizeof want.pairs[0]);
}

static struct hastls_cache_ptr ptr(uint64_t expires, const char *name)
{
    struct hastls_cache_ptr v;
    memset(&v, 0, sizeof v);
    v.expires = expires;
    v.status = HASTLS_SEC_SECURE;
    v.found = name != NULL;
    snprintf(v.name, sizeof v.name, "%s", name ? name : "");
    return v;
}

static void test_hit_miss_and_kinds(void **state)
{
    (void)state;
    struct hastls_cache *c = hastls_cache_new(4, 8);
    assert_non_null(c);
    struct hastls_cache_host v = host(200, 7, 3, 2, 1), out;
    assert_int_equal(hastls_cache_get_host(c, "a.example", 100, &out), 0);
    assert_int_equal(hastls_cache_put_host(c, "a.example", 100, &v), 1);
    /* One entry holds both families and the record. */
    assert_int_equal(hastls_cache_count(c), 1);
    memset(&out, 0xa5, sizeof out);
    assert_int_equal(hastls_cache_get_host(c, "a.example", 100, &out), 1);
    assert_int_equal(out.expires, 200);
    assert_host(&out, 7, 3, 2, 1);
    assert_int_equal(hastls_cache_get_host(c, "b.example", 100, &out), 0);
    /* A PTR entry of the same name is another entry. */
    struct hastls_cache_ptr p = ptr(300, "host.example"), pout;
    assert_int_equal(hastls_cache_get_ptr(c, "a.example", 100, &pout), 0);
    assert_int_equal(hastls_cache_put_ptr(c, "a.example", 100, &p), 1);
    assert_int_equal(hastls_cache_count(c), 2);
    assert_int_equal(hastls_cache_get_ptr(c, "a.example", 100, &pout), 1);
    assert_string_equal(pout.name, "host.example");
    assert_int_equal(pout.found, 1);
    assert_int_equal(pout.expires, 300);
    assert_int_equal(hastls_cache_get_host(c, "a.example", 100, &out), 1);
    assert_host(&out, 7, 3, 2, 1);
    /* Replacing keeps one entry; fewer items than before are not mixed with
     * the old ones. */
    v = host(300, 42, 1, 0, 0);
    assert_int_equal(hastls_cache_put_host(c, "a.example", 100, &v), 1);
    assert_int_equal(hastls_cache_count(c), 2);
    assert_int_equal(hastls_cache_get_host(c, "a.example", 100, &out), 1);
    assert_host(&out, 42, 1, 0, 0);
    /* A full entry round-trips. */
    v = host(300, 9, HASTLS_CACHE_MAX_ITEMS, HASTLS_CACHE_MAX_ITEMS,
             HASTLS_CACHE_MAX_ITEMS);
    assert_int_equal(hastls_cache_put_host(c, "full.example", 100, &v), 1);
    assert_int_equal(hastls_cache_get_host(c, "full.example", 100, &out), 1);
    assert_host(&out, 9, HASTLS_CACHE_MAX_ITEMS, HASTLS_CACHE_MAX_ITEMS,
                HASTLS_CACHE_MAX_ITEMS);
    /* An unterminated canonical name is cut, not overrun. */
    memset(v.canon, 'x', sizeof v.canon);
    assert_int_equal(hastls_cache_put_host(c, "long.example", 100, &v), 1);
    assert_int_equal(hastls_cache_get_host(c, "long.example", 100, &out), 1);
    assert_int_equal(strlen(out.canon), HASTLS_NAME_MAX - 1);
    hastls_cache_free(c);
}

static void test_ttl_expiry(void **state)
{
    (void)state;
    struct hastls_cache *c = hastls_cache_new(1, 4);
    struct hastls_cache_host v = host(110, 1, 1, 0, 0), out;
    hastls_cache_put_host(c, "t.example", 100, &v);
    assert_int_equal(hastls_cache_get_host(c, "t.example", 109, &out), 1);
    assert_int_equal(hastls_cache_get_host(c, "t.example", 110, &out), 0);
    assert_int_equal(hastls_cache_get_host(c, "t.example", 5000, &out), 0);
    /* An already expired value (TTL 0) is not stored and drops the old one. */
    hastls_cache_put_host(c, "t.example", 100, &v);
    v = host(100, 2, 1, 0, 0);
    assert_int_equal(hastls_cache_put_host(c, "t.example", 100, &v), 0);
    assert_int_equal(hastls_cache_get_host(c, "t.example", 100, &out), 0);
    assert_int_equal(hastls_cache_count(c), 0);
    struct hastls_cache_ptr p = ptr(100, "x"), pout;
    assert_int_equal(hastls_cache_put_ptr(c, "1.2.3.4.in-addr.arpa", 100, &p), 0);
    assert_int_equal(hastls_cache_get_ptr(c, "1.2.3.4.in-addr.arpa", 100, &pout), 0);
    /* Too many items of any kind: not cached. */
    v = host(500, 3, HASTLS_CACHE_MAX_ITEMS + 1, 0, 0);
    assert_int_equal(hastls_cache_put_host(c, "many.example", 100, &v), 0);
    v = host(500, 3, 0, HASTLS_CACHE_MAX_ITEMS + 1, 0);
    assert_int_equal(hastls_cache_put_host(c, "many.example", 100, &v), 0);
    v = host(500, 3, 1, 1, HASTLS_CACHE_MAX_ITEMS + 1);
    assert_int_equal(hastls_cache_put_host(c, "many.example", 100, &v), 0);
    assert_int_equal(hastls_cache_get_host(c, "many.example", 100, &out), 0);
    /* A name too long for an entry: not cached. */
    char longname[HASTLS_NAME_MAX + 10];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    v = host(500, 4, 1, 0, 0);
    assert_int_equal(hastls_cache_put_host(c, longname, 100, &v), 0);
    hastls_cache_free(c);
}

static void test_eviction(void **state)
{
    (void)state;
    struct hastls_cache *c = hastls_cache_new(1, 4);
    struct hastls_cache_host out;
    const char *names[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        struct hastls_cache_host v = host(i == 3 ? 150 : 1000, (uint32_t)i, 1, 0, 0);
        hastls_cache_put_host(c, names[i], 100, &v);
    }
    assert_int_equal(hastls_cache_count(c), 4);
    /* At 200 "d" has expired: a new name takes its place, the rest stay. */
    struct hastls_cache_host v = host(1000, 9, 1, 0, 0);
    hastls_cache_put_host(c, "e", 200, &v);
    assert_int_equal(hastls_cache_count(c), 4);
    for (int i = 0; i < 3; i++)
        assert_int_equal(hastls_cache_get_host(c, names[i], 200, &out), 1);
    assert_int_equal(hastls_cache_get_host(c, "e", 200, &out), 1);
    /* Full of live entries: still bounded; the newest is there. */
    for (int i = 0; i < 50; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "n%d", i);
        v = host(1000, (uint32_t)i, 1, 0, 0);
        hastls_cache_put_host(c, nm, 200, &v);
        assert_int_equal(hastls_cache_get_host(c, nm, 200, &out), 1);
        assert_int_equal(out.a[0].s_addr, (uint32_t)i);
        assert_true(hastls_cache_count(c) <= 4);
    }
    /* Clock: an entry used since the hand last passed survives one victim
     * choice over one that was not. */
    hastls_cache_free(c);
    c = hastls_cache_new(1, 2);
    v = host(1000, 1, 1, 0, 0);
    hastls_cache_put_host(c, "x", 100, &v);
    hastls_cache_put_host(c, "y", 100, &v);
    hastls_cache_put_host(c, "z", 100, &v); /* clears both bits, evicts x */
    assert_int_equal(hastls_cache_get_host(c, "x", 100, &out), 0);
    assert_int_equal(hastls_cache_get_host(c, "z", 100, &out), 1); /* z referenced */
    hastls_cache_put_host(c, "w", 100, &v); /* y unreferenced: y goes */
    assert_int_equal(hastls_cache_get_host(c, "y", 100, &out), 0);
    assert_int_equal(hastls_cache_get_host(c, "z", 100, &out), 1);
    assert_int_equal(hastls_cache_get_host(c, "w", 100, &out), 1);
    hastls_cache_free(c);
}

static void test_normalize(void **state)
{
    (void)state;
    char out[HASTLS_NAME_MAX];
    assert_int_equal(hastls_name_normalize("WWW.Example.COM.", out), 0);
    assert_string_equal(out, "www.example.com");
    assert_int_equal(hastls_name_normalize("a", out), 0);
    assert_string_equal(out, "a");
    assert_int_equal(hastls_name_normalize("", out), -1);
    assert_int_equal(hastls_name_normalize(".", out), -1);
    char longname[400];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(hastls_name_normalize(longname, out), -1);
    longname[HASTLS_NAME_MAX - 1] = '\0'; /* 255 characters: fits */
    assert_int_equal(hastls_name_normalize(longname, out), 0);
}

#define THREADS 8
#define ROUNDS 20000
static struct hastls_cache *shared;

/* Each value carries its name's number in every field: a hit must never
 * return another name's data, torn or not. */
static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    long bad = 0;
    for (int i = 0; i < ROUNDS; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % 200;
        char nm[32];
        snprintf(nm, sizeof nm, "host%u.example", k);
        struct hastls_cache_host out;
        if ((seed >> 4) % 3 == 0) {
            struct hastls_cache_host v = host(1000, k * 100, 5, 2, 3);
            hastls_cache_put_host(shared, nm, 100, &v);
        } else if (hastls_cache_get_host(shared, nm, 100, &out)) {
            char want[32];
            snprintf(want, sizeof want, "canon-%u", k * 100);
            if (out.fam[0].n != 5 || out.fam[1].n != 2 || out.npairs != 3 ||
                out.a[4].s_addr != k * 100 + 4 || out.ref6[1] >> 32 != k * 100 ||
                out.pairs[2].insecure != (uint16_t)(k * 100) || strcmp(out.canon, want))
                bad++;
        }
    }
    return (void *)bad;
}

static void test_threads(void **state)
{
    (void)state;
    shared = hastls_cache_new(4, 16); /* smaller than the name set: evictions */
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(i + 1)), 0);
    long bad = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    assert_int_equal(bad, 0);
    assert_true(hastls_cache_count(shared) <= 64);
    hastls_cache_free(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_miss_and_kinds),
        cmocka_unit_test(test_ttl_expiry),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
