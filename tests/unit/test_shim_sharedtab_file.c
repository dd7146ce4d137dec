/* tests/unit/test_shim_sharedtab_file.c: the shared address table as a file
 * (the agent creates, retires and removes it; a reader maps only a file it
 * can trust) and the verdict a reader takes from its entries. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "shim/core/sharedtab.h"

static void key_of(unsigned v, uint8_t key[16])
{
    memset(key, 0, 16);
    key[10] = key[11] = 0xff;
    key[12] = 127;
    key[15] = (uint8_t)v;
}

static int dir_setup(void **state)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/hastls-tab-test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    int *fd = malloc(sizeof *fd);
    *fd = open(dir, O_DIRECTORY | O_CLOEXEC);
    assert_true(*fd >= 0);
    *state = fd;
    return 0;
}

static int dir_teardown(void **state)
{
    int *fd = *state;
    char path[128];
    for (const char *n = "t.tab\0t.tab.new\0other.tab\0link.tab\0"; *n;
         n += strlen(n) + 1)
        unlinkat(*fd, n, 0);
    int len = snprintf(path, sizeof path, "/proc/self/fd/%d", *fd);
    char real[128];
    ssize_t r = readlink(path, real, sizeof real - 1);
    (void)len;
    if (r > 0) {
        real[r] = '\0';
        rmdir(real);
    }
    close(*fd);
    free(fd);
    return 0;
}

static void create_open_destroy(void **state)
{
    int dfd = *(int *)*state;
    char err[256];
    struct hastls_sharedtab *w =
        hastls_sharedtab_create(dfd, "t.tab", 64, err, sizeof err);
    assert_non_null(w);
    struct stat st;
    assert_int_equal(fstatat(dfd, "t.tab", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal((size_t)st.st_size, hastls_sharedtab_size(64));
    assert_int_equal(fstatat(dfd, "t.tab.new", &st, AT_SYMLINK_NOFOLLOW), -1);

    uint8_t k[16];
    key_of(1, k);
    struct hastls_pair p = {0, 443};
    assert_int_equal(hastls_sharedtab_put(w, k, "secure.lab.example", HASTLS_REC_SECURE,
                                          &p, 1, 100, 0),
                     0);
    struct hastls_sharedtab *r = NULL;
    assert_int_equal(hastls_sharedtab_open(dfd, "t.tab", geteuid(), &r, err, sizeof err),
                     HASTLS_SHAREDTAB_OPENED);
    struct hastls_sharedtab_entry e;
    assert_int_equal(hastls_sharedtab_get(r, k, &e, 1, NULL), 1);
    assert_string_equal(e.name, "secure.lab.example");
    assert_false(hastls_sharedtab_retired(r));

    /* A second agent's table replaces the file and retires the first one. */
    struct hastls_sharedtab *w2 =
        hastls_sharedtab_create(dfd, "t.tab", 64, err, sizeof err);
    assert_non_null(w2);
    assert_true(hastls_sharedtab_retired(r));
    struct hastls_sharedtab *r2 = NULL;
    assert_int_equal(hastls_sharedtab_open(dfd, "t.tab", geteuid(), &r2, err, sizeof err),
                     HASTLS_SHAREDTAB_OPENED);
    assert_false(hastls_sharedtab_retired(r2));
    assert_int_equal(hastls_sharedtab_get(r2, k, &e, 1, NULL), 0); /* a new table */

    /* The first writer leaving does not remove the second one's file. */
    hastls_sharedtab_destroy(w, dfd, "t.tab");
    assert_int_equal(fstatat(dfd, "t.tab", &st, AT_SYMLINK_NOFOLLOW), 0);
    hastls_sharedtab_destroy(w2, dfd, "t.tab");
    assert_true(hastls_sharedtab_retired(r2));
    assert_int_equal(fstatat(dfd, "t.tab", &st, AT_SYMLINK_NOFOLLOW), -1);
    struct hastls_sharedtab *none = (struct hastls_sharedtab *)1;
    assert_int_equal(
        hastls_sharedtab_open(dfd, "t.tab", geteuid(), &none, err, sizeof err),
        HASTLS_SHAREDTAB_ABSENT);
    assert_null(none);
    hastls_sharedtab_close(r2);
    /* The first reader's mapping outlives the file. */
    hastls_sharedtab_close(r);
}

static void refused(void **state)
{
    int dfd = *(int *)*state;
    char err[256];
    struct hastls_sharedtab *w =
        hastls_sharedtab_create(dfd, "t.tab", 16, err, sizeof err);
    assert_non_null(w);
    struct hastls_sharedtab *r = (struct hastls_sharedtab *)1;

    /* Another uid's file. */
    assert_int_equal(
        hastls_sharedtab_open(dfd, "t.tab", geteuid() + 1, &r, err, sizeof err),
        HASTLS_SHAREDTAB_REFUSED);
    assert_null(r);
    assert_non_null(strstr(err, "another user"));

    /* A loose mode. */
    assert_int_equal(fchmodat(dfd, "t.tab", 0644, 0), 0);
    assert_int_equal(hastls_sharedtab_open(dfd, "t.tab", geteuid(), &r, err, sizeof err),
                     HASTLS_SHAREDTAB_REFUSED);
    assert_non_null(strstr(err, "mode"));
    assert_int_equal(fchmodat(dfd, "t.tab", 0600, 0), 0);

    /* A symbolic link to a good table. */
    assert_int_equal(symlinkat("t.tab", dfd, "link.tab"), 0);
    assert_int_equal(
        hastls_sharedtab_open(dfd, "link.tab", geteuid(), &r, err, sizeof err),
        HASTLS_SHAREDTAB_REFUSED);

    /* A length that disagrees with the header (one slot short). */
    int fd = openat(dfd, "t.tab", O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)hastls_sharedtab_size(16) - 1), 0);
    assert_int_equal(hastls_sharedtab_open(dfd, "t.tab", geteuid(), &r, err, sizeof err),
                     HASTLS_SHAREDTAB_REFUSED);
    assert_non_null(strstr(err, "header"));
    /* A corrupted magic. */
    assert_int_equal(ftruncate(fd, (off_t)hastls_sharedtab_size(16)), 0);
    assert_int_equal(pwrite(fd, "garbage!", 8, 0), 8);
    assert_int_equal(hastls_sharedtab_open(dfd, "t.tab", geteuid(), &r, err, sizeof err),
                     HASTLS_SHAREDTAB_REFUSED);
    /* Too short for a header. */
    assert_int_equal(ftruncate(fd, 3), 0);
    assert_int_equal(hastls_sharedtab_open(dfd, "t.tab", geteuid(), &r, err, sizeof err),
                     HASTLS_SHAREDTAB_REFUSED);
    close(fd);

    /* Not a regular file. */
    unlinkat(dfd, "other.tab", 0);
    assert_int_equal(mkfifoat(dfd, "other.tab", 0600), 0);
    assert_int_equal(
        hastls_sharedtab_open(dfd, "other.tab", geteuid(), &r, err, sizeof err),
        HASTLS_SHAREDTAB_REFUSED);
    assert_non_null(strstr(err, "regular"));
    assert_null(r);
    /* The writer never follows a link planted at its temporary name. */
    assert_int_equal(symlinkat("/nonexistent/x", dfd, "t.tab.new"), 0);
    struct hastls_sharedtab *w2 =
        hastls_sharedtab_create(dfd, "t.tab", 16, err, sizeof err);
    assert_non_null(w2);
    struct stat st;
    assert_int_equal(fstatat(dfd, "t.tab", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISREG(st.st_mode));
    hastls_sharedtab_destroy(w2, dfd, "t.tab");
    hastls_sharedtab_destroy(w, dfd, "t.tab");
    /* Bad arguments. */
    assert_null(hastls_sharedtab_create(dfd, "t.tab", 3, err, sizeof err));
}

/* A table in memory for the verdict tests. */
struct mem {
    void *mem;
    size_t size;
    struct hastls_sharedtab *t;
};

static void mem_new(struct mem *m, uint32_t nslots)
{
    m->size = hastls_sharedtab_size(nslots);
    m->mem = calloc(1, m->size);
    assert_non_null(m->mem);
    m->t = hastls_sharedtab_init(m->mem, m->size);
    assert_non_null(m->t);
}

static void mem_free(struct mem *m)
{
    hastls_sharedtab_detach(m->t);
    free(m->mem);
}

static void decide_rules(void **state)
{
    (void)state;
    struct mem m;
    mem_new(&m, 64);
    uint8_t k[16], other[16];
    key_of(1, k);
    key_of(2, other);
    struct hastls_addrmap_verdict v;
    memset(&v, 0x55, sizeof v);
    assert_int_equal(hastls_sharedtab_decide(m.t, k, 80, HASTLS_CLIENT_CFB,
                                             HASTLS_BOGUS_BLOCK, 10, &v),
                     0);
    struct hastls_pair only_tls = {0, 443};
    /* A live secure (0 443) blocks 80 and allows 443. */
    assert_int_equal(hastls_sharedtab_put(m.t, k, "secure.lab.example", HASTLS_REC_SECURE,
                                          &only_tls, 1, 100, 10),
                     0);
    assert_int_equal(hastls_sharedtab_decide(m.t, k, 80, HASTLS_CLIENT_CFB,
                                             HASTLS_BOGUS_BLOCK, 10, &v),
                     1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_string_equal(v.name, "secure.lab.example");
    assert_int_equal(v.stale, 0);
    assert_int_equal(hastls_sharedtab_decide(m.t, k, 443, HASTLS_CLIENT_CFB,
                                             HASTLS_BOGUS_BLOCK, 10, &v),
                     1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    assert_int_equal(hastls_sharedtab_decide(m.t, other, 80, HASTLS_CLIENT_CFB,
                                             HASTLS_BOGUS_BLOCK, 10, &v),
                     0);
    /* A second live name without a record: the strictest still wins. */
    assert_int_equal(hastls_sharedtab_put(m.t, k, "norecord.lab.example", HASTLS_REC_NONE,
                                          NULL, 0, 100, 10),
                     0);
    assert_int_equal(hastls_sharedtab_decide(m.t, k, 80, HASTLS_CLIENT_CFB,
                                             HASTLS_BOGUS_BLOCK, 10, &v),
                     1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_string_equal(v.name, "secure.lab.example");
    /* Once the strict name has expired while the other lives, the live one
     * decides. */
    assert_int_equal(hastls_sharedtab_put(m.t, k, "secure.lab.example", HASTLS_REC_SECURE,
                                          &only_tls, 1, 20, 10),
                     0);
    assert_int_equal(hastls_sharedtab_decide(m.t, k, 80, HASTLS_CLIENT_CFB,
                                             HASTLS_BOGUS_BLOCK, 50, &v),
                     1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    assert_string_equal(v.name, "norecord.lab.example");
    /* All expired: the stale ones govern, strictest first. */
    assert_int_equal(hastls_sharedtab_decide(m.t, k, 80, HASTLS_CLIENT_CFB,
                                             HASTLS_BOGUS_BLOCK, 500, &v),
                     1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_string_equal(v.name, "secure.lab.example");
    assert_int_equal(v.stale, 1);
    /* A bogus record blocks every port under bogus = block only. */
    assert_int_equal(hastls_sharedtab_put(m.t, other, "badsig.lab.example",
                                          HASTLS_REC_BOGUS, NULL, 0, 100, 10),
                     0);
    assert_int_equal(hastls_sharedtab_decide(m.t, other, 443, HASTLS_CLIENT_CFB,
                                             HASTLS_BOGUS_BLOCK, 10, &v),
                     1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_BLOCK);
    assert_int_equal(v.rec, HASTLS_REC_BOGUS);
    assert_int_equal(hastls_sharedtab_decide(m.t, other, 443, HASTLS_CLIENT_CFB,
                                             HASTLS_BOGUS_IGNORE, 10, &v),
                     1);
    assert_int_equal(v.d.verdict, HASTLS_VERDICT_ALLOW);
    mem_free(&m);
}

static void decide_busy_fails_closed(void **state)
{
    (void)state;
    struct mem m;
    mem_new(&m, 16);
    uint8_t k[16];
    key_of(3, k);
    assert_int_equal(hastls_sharedtab_put(m.t, k, "secure.lab.example", HASTLS_REC_NONE,
                                          NULL, 0, 100, 10),
                     0);
    /* Every slot's counter odd: a writer that never finishes. */
    size_t hdr = 32, slot = (m.size - hdr) / 16;
    for (size_t i = 0; i < 16; i++) {
        uint32_t *seq = (uint32_t *)((char *)m.mem + hdr + i * slot);
        *seq |= 1;
    }
    struct hastls_addrmap_verdict v;
    assert_int_equal(hastls_sharedtab_decide(m.t, k, 443, HASTLS_CLIENT_CFB,
                                             HASTLS_BOGUS_BLOCK, 10, &v),
                     -1);
    mem_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_open_destroy, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(refused, dir_setup, dir_teardown),
        cmocka_unit_test(decide_rules),
        cmocka_unit_test(decide_busy_fails_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
