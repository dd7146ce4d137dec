/* tests/unit/test_shim_sharedtab.c: the shared address table: what a reader
 * gets back, eviction, validation of slots it must not trust, and readers
 * racing the writer never seeing a torn entry. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shim/core/sharedtab.h"

static void key_of(unsigned v, uint8_t key[16])
{
    memset(key, 0, 16);
    key[10] = key[11] = 0xff;
    key[12] = 127;
    key[13] = (uint8_t)(v >> 16);
    key[14] = (uint8_t)(v >> 8);
    key[15] = (uint8_t)v;
}

static void *new_mem(uint32_t nslots, size_t *size)
{
    *size = hastls_sharedtab_size(nslots);
    assert_true(*size > 0);
    void *mem = calloc(1, *size);
    assert_non_null(mem);
    return mem;
}

static void sizes(void **state)
{
    (void)state;
    assert_int_equal(hastls_sharedtab_size(0), 0);
    assert_int_equal(hastls_sharedtab_size(3), 0);
    assert_int_equal(hastls_sharedtab_size(HASTLS_SHAREDTAB_MAX_SLOTS * 2), 0);
    assert_true(hastls_sharedtab_size(1024) > hastls_sharedtab_size(512));
}

static void put_get(void **state)
{
    (void)state;
    size_t size;
    void *mem = new_mem(64, &size);
    struct hastls_sharedtab *w = hastls_sharedtab_init(mem, size);
    struct hastls_sharedtab *r = hastls_sharedtab_attach(mem, size);
    assert_non_null(w);
    assert_non_null(r);
    uint8_t k[16], other[16];
    key_of(1, k);
    key_of(2, other);
    struct hastls_pair p[2] = {{0, 443}, {25, 25}};
    assert_int_equal(hastls_sharedtab_put(w, k, "secure.lab.example", HASTLS_REC_SECURE,
                                          p, 2, 100, 10),
                     0);
    assert_int_equal(
        hastls_sharedtab_put(w, k, "alias.lab.example", HASTLS_REC_BOGUS, p, 2, 100, 10),
        0);
    struct hastls_sharedtab_entry e[4];
    int busy = 1;
    size_t n = hastls_sharedtab_get(r, k, e, 4, &busy);
    assert_int_equal(n, 2);
    assert_int_equal(busy, 0);
    int si = strcmp(e[0].name, "secure.lab.example") == 0 ? 0 : 1;
    assert_string_equal(e[si].name, "secure.lab.example");
    assert_int_equal(e[si].rec, HASTLS_REC_SECURE);
    assert_int_equal(e[si].n, 2);
    assert_int_equal(e[si].pairs[1].secure, 25);
    assert_int_equal(e[si].expires, 100);
    assert_int_equal(e[1 - si].rec, HASTLS_REC_BOGUS);
    assert_int_equal(e[1 - si].n, 0); /* pairs only for a secure record */
    assert_int_equal(hastls_sharedtab_get(r, other, e, 4, NULL), 0);
    /* The same (address, name) is replaced, not added. */
    assert_int_equal(hastls_sharedtab_put(w, k, "secure.lab.example", HASTLS_REC_NONE,
                                          NULL, 0, 200, 10),
                     0);
    n = hastls_sharedtab_get(r, k, e, 4, NULL);
    assert_int_equal(n, 2);
    si = strcmp(e[0].name, "secure.lab.example") == 0 ? 0 : 1;
    assert_int_equal(e[si].rec, HASTLS_REC_NONE);
    assert_int_equal(e[si].expires, 200);
    /* CAP bounds the copy. */
    assert_int_equal(hastls_sharedtab_get(r, k, e, 1, NULL), 1);
    /* Bad arguments. */
    assert_int_equal(hastls_sharedtab_put(w, k, "", HASTLS_REC_NONE, NULL, 0, 1, 0), -1);
    char longname[HASTLS_NAME_MAX + 1];
    memset(longname, 'a', sizeof longname - 1);
    longname[HASTLS_NAME_MAX] = '\0';
    assert_int_equal(hastls_sharedtab_put(w, k, longname, HASTLS_REC_NONE, NULL, 0, 1, 0),
                     -1);
    assert_int_equal(
        hastls_sharedtab_put(w, k, "x.example", (enum hastls_rec)9, NULL, 0, 1, 0), -1);
    assert_false(hastls_sharedtab_retired(r));
    hastls_sharedtab_retire(w);
    assert_true(hastls_sharedtab_retired(r));
    hastls_sharedtab_detach(w);
    hastls_sharedtab_detach(r);
    free(mem);
}

static void truncated_fails_closed(void **state)
{
    (void)state;
    size_t size;
    void *mem = new_mem(16, &size);
    struct hastls_sharedtab *t = hastls_sharedtab_init(mem, size);
    uint8_t k[16];
    key_of(7, k);
    struct hastls_pair p[HASTLS_SHAREDTAB_PAIRS + 1];
    for (size_t i = 0; i < HASTLS_SHAREDTAB_PAIRS + 1; i++)
        p[i] = (struct hastls_pair){(uint16_t)(1000 + i), 0};
    assert_int_equal(hastls_sharedtab_put(t, k, "many.lab.example", HASTLS_REC_SECURE, p,
                                          HASTLS_SHAREDTAB_PAIRS + 1, 50, 0),
                     0);
    struct hastls_sharedtab_entry e;
    assert_int_equal(hastls_sharedtab_get(t, k, &e, 1, NULL), 1);
    assert_int_equal(e.rec, HASTLS_REC_BOGUS);
    assert_true(e.flags & HASTLS_SHAREDTAB_TRUNCATED);
    assert_int_equal(e.n, 0);
    /* Exactly a slot's worth is kept whole. */
    assert_int_equal(hastls_sharedtab_put(t, k, "many.lab.example", HASTLS_REC_SECURE, p,
                                          HASTLS_SHAREDTAB_PAIRS, 50, 0),
                     0);
    assert_int_equal(hastls_sharedtab_get(t, k, &e, 1, NULL), 1);
    assert_int_equal(e.rec, HASTLS_REC_SECURE);
    assert_int_equal(e.n, HASTLS_SHAREDTAB_PAIRS);
    hastls_sharedtab_detach(t);
    free(mem);
}

/* Every enforced state keeps its pairs: a pinned record or the HTTPS
 * signal's (80 443) without them would allow every port. */
static void enforced_states_keep_pairs(void **state)
{
    (void)state;
    size_t size;
    void *mem = new_mem(16, &size);
    struct hastls_sharedtab *t = hastls_sharedtab_init(mem, size);
    uint8_t k[16];
    key_of(9, k);
    const struct hastls_pair p[1] = {{0, 443}};
    const enum hastls_rec recs[] = {HASTLS_REC_SECURE, HASTLS_REC_PINNED, HASTLS_REC_HTTPS};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(hastls_sharedtab_put(t, k, "pin.lab.example", recs[i], p, 1, 50, 0),
                         0);
        struct hastls_sharedtab_entry e;
        assert_int_equal(hastls_sharedtab_get(t, k, &e, 1, NULL), 1);
        assert_int_equal(e.rec, recs[i]);
        assert_int_equal(e.n, 1);
        assert_int_equal(e.pairs[0].secure, 443);
    }
    /* The others carry none. */
    assert_int_equal(hastls_sharedtab_put(t, k, "pin.lab.example", HASTLS_REC_FAILED, p, 1,
                                          50, 0),
                     0);
    struct hastls_sharedtab_entry e;
    assert_int_equal(hastls_sharedtab_get(t, k, &e, 1, NULL), 1);
    assert_int_equal(e.n, 0);
    hastls_sharedtab_detach(t);
    free(mem);
}

static void eviction(void **state)
{
    (void)state;
    size_t size;
    void *mem = new_mem(16, &size); /* the whole table is one probe window */
    struct hastls_sharedtab *t = hastls_sharedtab_init(mem, size);
    uint8_t k[16];
    key_of(9, k);
    char name[64];
    for (unsigned i = 0; i < 16; i++) {
        snprintf(name, sizeof name, "n%u.example", i);
        assert_int_equal(
            hastls_sharedtab_put(t, k, name, HASTLS_REC_NONE, NULL, 0, 100 + i, 0), 0);
    }
    struct hastls_sharedtab_entry e[32];
    assert_int_equal(hastls_sharedtab_get(t, k, e, 32, NULL), 16);
    /* Full: the one expiring first (n0, 100) goes. */
    assert_int_equal(
        hastls_sharedtab_put(t, k, "new.example", HASTLS_REC_NONE, NULL, 0, 500, 0), 0);
    size_t n = hastls_sharedtab_get(t, k, e, 32, NULL);
    assert_int_equal(n, 16);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(e[i].name, "n0.example");
    /* An expired slot is reused before a live one: at NOW 105, n1..n5 have
     * expired; the new name takes one of them, n6.. stay. */
    assert_int_equal(
        hastls_sharedtab_put(t, k, "later.example", HASTLS_REC_NONE, NULL, 0, 600, 105),
        0);
    n = hastls_sharedtab_get(t, k, e, 32, NULL);
    int seen6 = 0, seen_later = 0;
    for (size_t i = 0; i < n; i++) {
        seen6 |= !strcmp(e[i].name, "n6.example");
        seen_later |= !strcmp(e[i].name, "later.example");
    }
    assert_true(seen6 && seen_later);
    hastls_sharedtab_detach(t);
    free(mem);
}

/* The reader refuses a header that disagrees with the size, and slots whose
 * bytes are not what a writer writes. */
static void untrusted_bytes(void **state)
{
    (void)state;
    size_t size;
    uint8_t *mem = new_mem(16, &size);
    assert_null(hastls_sharedtab_attach(mem, size)); /* no magic yet */
    struct hastls_sharedtab *t = hastls_sharedtab_init(mem, size);
    assert_null(hastls_sharedtab_attach(mem, size - 1));
    assert_null(hastls_sharedtab_attach(mem, size + 64));
    assert_null(hastls_sharedtab_attach(mem, 3));
    assert_null(hastls_sharedtab_init(mem, size - 1));
    uint8_t k[16];
    key_of(3, k);
    assert_int_equal(
        hastls_sharedtab_put(t, k, "a.example", HASTLS_REC_SECURE, NULL, 0, 9, 0), 0);
    struct hastls_sharedtab_entry e;
    assert_int_equal(hastls_sharedtab_get(t, k, &e, 1, NULL), 1);
    /* Find the slot by its name and spoil it in several ways. */
    uint8_t *name = memmem(mem, size, "a.example", 9);
    assert_non_null(name);
    memset(name, 'x', HASTLS_NAME_MAX); /* no terminating NUL */
    assert_int_equal(hastls_sharedtab_get(t, k, &e, 1, NULL), 0);
    assert_int_equal(
        hastls_sharedtab_put(t, k, "a.example", HASTLS_REC_SECURE, NULL, 0, 9, 0), 0);
    /* The writer put it back (perhaps in another slot of the window). */
    assert_int_equal(hastls_sharedtab_get(t, k, &e, 1, NULL), 1);
    /* A slot whose counter stays odd is skipped and reported busy. */
    name = memmem(mem, size, "a.example", 9);
    uint8_t *slot = name - 16 - 8 - 8; /* seq, used/rec/flags/n, expires, key */
    uint32_t seq;
    memcpy(&seq, slot, 4);
    seq |= 1;
    memcpy(slot, &seq, 4);
    int busy = 0;
    assert_int_equal(hastls_sharedtab_get(t, k, &e, 1, &busy), 0);
    assert_int_equal(busy, 1);
    seq++;
    memcpy(slot, &seq, 4);
    assert_int_equal(hastls_sharedtab_get(t, k, &e, 1, &busy), 1);
    slot[5] = 17; /* record state out of range */
    assert_int_equal(hastls_sharedtab_get(t, k, &e, 1, NULL), 0);
    slot[5] = HASTLS_REC_SECURE;
    slot[7] = HASTLS_SHAREDTAB_PAIRS + 1; /* pair count out of range */
    assert_int_equal(hastls_sharedtab_get(t, k, &e, 1, NULL), 0);
    slot[7] = 0;
    slot[6] = 0x80; /* unknown flag */
    assert_int_equal(hastls_sharedtab_get(t, k, &e, 1, NULL), 0);
    hastls_sharedtab_detach(t);
    free(mem);
}

/* One writer rewrites the same entries with values derived from a counter
 * (the name says the counter, every pair carries it); readers check every
 * entry they get is internally consistent. */
struct race {
    struct hastls_sharedtab *t;
    volatile int stop;
    unsigned long torn, reads;
};

static void *race_writer(void *arg)
{
    struct race *r = arg;
    uint8_t k[16];
    key_of(42, k);
    for (unsigned v = 0; v < 200000; v++) {
        char name[64];
        snprintf(name, sizeof name, "n%u.example", v % 4);
        struct hastls_pair p[HASTLS_SHAREDTAB_PAIRS];
        for (int i = 0; i < HASTLS_SHAREDTAB_PAIRS; i++)
            p[i] = (struct hastls_pair){(uint16_t)v, (uint16_t)v};
        if (hastls_sharedtab_put(r->t, k, name, HASTLS_REC_SECURE, p,
                                 1 + v % HASTLS_SHAREDTAB_PAIRS, v, 0) < 0)
            abort();
    }
    r->stop = 1;
    return NULL;
}

static void *race_reader(void *arg)
{
    struct race *r = arg;
    uint8_t k[16];
    key_of(42, k);
    unsigned long torn = 0, reads = 0;
    while (!r->stop) {
        struct hastls_sharedtab_entry e[8];
        size_t n = hastls_sharedtab_get(r->t, k, e, 8, NULL);
        for (size_t i = 0; i < n; i++) {
            reads++;
            unsigned v = (unsigned)e[i].expires;
            char want[64];
            snprintf(want, sizeof want, "n%u.example", v % 4);
            if (strcmp(e[i].name, want) || e[i].n != 1 + v % HASTLS_SHAREDTAB_PAIRS)
                torn++;
            for (size_t j = 0; j < e[i].n; j++)
                if (e[i].pairs[j].insecure != (uint16_t)v)
                    torn++;
        }
    }
    __atomic_add_fetch(&r->torn, torn, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->reads, reads, __ATOMIC_RELAXED);
    return NULL;
}

static void readers_never_see_torn_entries(void **state)
{
    (void)state;
    size_t size;
    void *mem = new_mem(64, &size);
    struct race r = {.t = hastls_sharedtab_init(mem, size)};
    pthread_t w, rd[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&rd[i], NULL, race_reader, &r), 0);
    assert_int_equal(pthread_create(&w, NULL, race_writer, &r), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(rd[i], NULL);
    assert_int_equal(r.torn, 0);
    assert_true(r.reads > 0);
    hastls_sharedtab_detach(r.t);
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes),
        cmocka_unit_test(put_get),
        cmocka_unit_test(truncated_fails_closed),
        cmocka_unit_test(enforced_states_keep_pairs),
        cmocka_unit_test(eviction),
        cmocka_unit_test(untrusted_bytes),
        cmocka_unit_test(readers_never_see_torn_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
