/* tests/unit/test_shim_cache.c: the front cache: hits and misses, TTL
 * expiry, replacement, bounded size with expired-first and clock eviction,
 * name normalization, and many threads at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "shim/core/cache.h"

static struct hastls_cache_val val(uint64_t expires, uint32_t tag, uint16_t n)
{
    struct hastls_cache_val v;
    memset(&v, 0, sizeof v);
    v.expires = expires;
    v.n = n;
    for (uint16_t i = 0; i < n && i < HASTLS_CACHE_MAX_ITEMS; i++)
        v.u.a[i].s_addr = tag + i;
    snprintf(v.canon, sizeof v.canon, "canon-%u", tag);
    return v;
}

static void test_hit_miss_and_types(void **state)
{
    (void)state;
    struct hastls_cache *c = hastls_cache_new(4, 8);
    assert_non_null(c);
    struct hastls_cache_val v = val(200, 7, 3), out;
    assert_int_equal(hastls_cache_get(c, "a.example", 1, 100, &out), 0);
    hastls_cache_put(c, "a.example", 1, 100, &v);
    assert_int_equal(hastls_cache_get(c, "a.example", 1, 100, &out), 1);
    assert_int_equal(out.n, 3);
    assert_int_equal(out.u.a[2].s_addr, 9);
    assert_string_equal(out.canon, "canon-7");
    /* Another type of the same name is another entry. */
    assert_int_equal(hastls_cache_get(c, "a.example", 28, 100, &out), 0);
    assert_int_equal(hastls_cache_get(c, "b.example", 1, 100, &out), 0);
    /* Replacing keeps one entry. */
    v = val(300, 42, 1);
    hastls_cache_put(c, "a.example", 1, 100, &v);
    assert_int_equal(hastls_cache_count(c), 1);
    assert_int_equal(hastls_cache_get(c, "a.example", 1, 100, &out), 1);
    assert_int_equal(out.u.a[0].s_addr, 42);
    hastls_cache_free(c);
}

static void test_ttl_expiry(void **state)
{
    (void)state;
    struct hastls_cache *c = hastls_cache_new(1, 4);
    struct hastls_cache_val v = val(110, 1, 1), out;
    hastls_cache_put(c, "t.example", 1, 100, &v);
    assert_int_equal(hastls_cache_get(c, "t.example", 1, 109, &out), 1);
    assert_int_equal(hastls_cache_get(c, "t.example", 1, 110, &out), 0);
    assert_int_equal(hastls_cache_get(c, "t.example", 1, 5000, &out), 0);
    /* An already expired value (TTL 0) is not stored and drops the old one. */
    hastls_cache_put(c, "t.example", 1, 100, &v);
    v = val(100, 2, 1);
    hastls_cache_put(c, "t.example", 1, 100, &v);
    assert_int_equal(hastls_cache_get(c, "t.example", 1, 100, &out), 0);
    assert_int_equal(hastls_cache_count(c), 0);
    /* Too many items: not cached. */
    v = val(500, 3, HASTLS_CACHE_MAX_ITEMS + 1);
    hastls_cache_put(c, "many.example", 1, 100, &v);
    assert_int_equal(hastls_cache_get(c, "many.example", 1, 100, &out), 0);
    hastls_cache_free(c);
}

static void test_eviction(void **state)
{
    (void)state;
    struct hastls_cache *c = hastls_cache_new(1, 4);
    struct hastls_cache_val out;
    const char *names[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        struct hastls_cache_val v = val(i == 3 ? 150 : 1000, (uint32_t)i, 1);
        hastls_cache_put(c, names[i], 1, 100, &v);
    }
    assert_int_equal(hastls_cache_count(c), 4);
    /* At 200 "d" has expired: a new name takes its place, the rest stay. */
    struct hastls_cache_val v = val(1000, 9, 1);
    hastls_cache_put(c, "e", 1, 200, &v);
    assert_int_equal(hastls_cache_count(c), 4);
    for (int i = 0; i < 3; i++)
        assert_int_equal(hastls_cache_get(c, names[i], 1, 200, &out), 1);
    assert_int_equal(hastls_cache_get(c, "e", 1, 200, &out), 1);
    /* Full of live entries: still bounded; the newest is there. */
    for (int i = 0; i < 50; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "n%d", i);
        v = val(1000, (uint32_t)i, 1);
        hastls_cache_put(c, nm, 1, 200, &v);
        assert_int_equal(hastls_cache_get(c, nm, 1, 200, &out), 1);
        assert_int_equal(out.u.a[0].s_addr, (uint32_t)i);
        assert_true(hastls_cache_count(c) <= 4);
    }
    /* Clock: an entry used since the hand last passed survives one victim
     * choice over one that was not. */
    hastls_cache_free(c);
    c = hastls_cache_new(1, 2);
    v = val(1000, 1, 1);
    hastls_cache_put(c, "x", 1, 100, &v);
    hastls_cache_put(c, "y", 1, 100, &v);
    hastls_cache_put(c, "z", 1, 100, &v); /* clears both bits, evicts x */
    assert_int_equal(hastls_cache_get(c, "x", 1, 100, &out), 0);
    assert_int_equal(hastls_cache_get(c, "z", 1, 100, &out), 1); /* z referenced */
    hastls_cache_put(c, "w", 1, 100, &v); /* y unreferenced: y goes */
    assert_int_equal(hastls_cache_get(c, "y", 1, 100, &out), 0);
    assert_int_equal(hastls_cache_get(c, "z", 1, 100, &out), 1);
    assert_int_equal(hastls_cache_get(c, "w", 1, 100, &out), 1);
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

/* Each value carries its name's number: a hit must never return another
 * name's data, torn or not. */
static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    long bad = 0;
    for (int i = 0; i < ROUNDS; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % 200;
        char nm[32];
        snprintf(nm, sizeof nm, "host%u.example", k);
        struct hastls_cache_val out;
        if ((seed >> 4) % 3 == 0) {
            struct hastls_cache_val v = val(1000, k * 100, 5);
            hastls_cache_put(shared, nm, 1, 100, &v);
        } else if (hastls_cache_get(shared, nm, 1, 100, &out)) {
            char want[32];
            snprintf(want, sizeof want, "canon-%u", k * 100);
            if (out.n != 5 || out.u.a[4].s_addr != k * 100 + 4 || strcmp(out.canon, want))
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
        cmocka_unit_test(test_hit_miss_and_types),
        cmocka_unit_test(test_ttl_expiry),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
