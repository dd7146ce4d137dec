/* tests/unit/test_shim_pinstore.c: the pin file on disk (shim/core/
 * pinstore.c): where it lives, that an update writes a 0600 file in a 0700
 * directory and a later load reads it back, and that nothing it cannot trust
 * is used or overwritten: a corrupt file, loose modes, a symbolic link, a
 * FIFO, another user's file or directory.  The writers' lock is bounded and
 * does not outlive a writer that died. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "shim/core/pinstore.h"

static char base[64], dir[128], file[160];

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof base, "/tmp/hastls-pinstore.XXXXXX");
    if (!mkdtemp(base))
        return -1;
    snprintf(dir, sizeof dir, "%s/state/hastls", base);
    snprintf(file, sizeof file, "%s/pins", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

static int add_sso(struct hastls_pinset *s, void *arg)
{
    static const struct hastls_pair p[] = {{0, 443}};
    enum hastls_pin_change c = hastls_pins_learn(s, arg, HASTLS_REC_SECURE, p, 1, 3600, 0,
                                                 1800000000, 86400, 86400 * 30);
    return c == HASTLS_PIN_ERROR ? -1 : c != HASTLS_PIN_KEPT;
}

static int no_change(struct hastls_pinset *s, void *arg)
{
    (void)s;
    (void)arg;
    return 0;
}

static void write_file(const char *text, mode_t mode)
{
    unlink(file);
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(file, mode), 0);
}

static void dir_from_environment(void **state)
{
    (void)state;
    char out[256], err[256];
    assert_int_equal(
        hastls_pinstore_dir_in("/x/state", "/home/u", out, sizeof out, err, sizeof err),
        0);
    assert_string_equal(out, "/x/state/hastls");
    assert_int_equal(
        hastls_pinstore_dir_in(NULL, "/home/u", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "/home/u/.local/state/hastls");
    assert_int_equal(
        hastls_pinstore_dir_in("", "/home/u", out, sizeof out, err, sizeof err), 0);
    assert_int_equal(
        hastls_pinstore_dir_in("rel", "/home/u", out, sizeof out, err, sizeof err), -1);
    assert_non_null(strstr(err, "XDG_STATE_HOME=rel: not an absolute path"));
    assert_int_equal(hastls_pinstore_dir_in(NULL, NULL, out, sizeof out, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "HOME is not set"));
}

static void update_then_load(void **state)
{
    (void)state;
    struct hastls_pinset s;
    struct hastls_pinstore_stamp st0, st1, st2;
    char err[512] = "";
    hastls_pins_init(&s);
    /* Nothing there yet: an empty set, no error. */
    assert_int_equal(hastls_pinstore_load(dir, &s, &st0, err, sizeof err), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(st0.exists, 0);

    assert_int_equal(
        hastls_pinstore_update(dir, add_sso, "sso.shop.example", 100, err, sizeof err),
        0);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(hastls_pinstore_load(dir, &s, &st1, err, sizeof err), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.pin[0].name, "sso.shop.example");
    assert_int_equal(st1.exists, 1);

    /* No change: the file is not rewritten. */
    assert_int_equal(hastls_pinstore_update(dir, no_change, NULL, 100, err, sizeof err),
                     0);
    assert_int_equal(hastls_pinstore_stat(dir, &st2), 0);
    assert_true(hastls_pinstore_same(&st1, &st2));
    assert_int_equal(
        hastls_pinstore_update(dir, add_sso, "a.example", 100, err, sizeof err), 0);
    assert_int_equal(hastls_pinstore_stat(dir, &st2), 0);
    assert_false(hastls_pinstore_same(&st1, &st2));
    assert_int_equal(hastls_pinstore_load(dir, &s, NULL, err, sizeof err), 0);
    assert_int_equal(s.n, 2);
    /* No temporary file is left behind. */
    char tmp[200];
    snprintf(tmp, sizeof tmp, "%s/pins.%ld.tmp", dir, (long)getpid());
    assert_int_equal(access(tmp, F_OK), -1);
    hastls_pins_free(&s);
}

static void untrusted_files(void **state)
{
    (void)state;
    struct hastls_pinset s;
    char err[512];
    hastls_pins_init(&s);
    assert_int_equal(
        hastls_pinstore_update(dir, add_sso, "sso.shop.example", 100, err, sizeof err),
        0);

    write_file("hastls-pins 1\nsso.shop.example hastls 5 4 0 443\n", 0600);
    assert_int_equal(hastls_pinstore_load(dir, &s, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "/pins:2: the pin expires before it was made"));
    assert_int_equal(s.n, 0);
    /* An update keeps a corrupt file aside and starts afresh, saying so. */
    err[0] = '\0';
    assert_int_equal(
        hastls_pinstore_update(dir, add_sso, "b.example", 100, err, sizeof err), 0);
    assert_non_null(strstr(err, "/pins:2: the pin expires before it was made (kept as "
                                "pins.bad; starting afresh)"));
    assert_int_equal(hastls_pinstore_load(dir, &s, NULL, err, sizeof err), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.pin[0].name, "b.example");
    char bad[200];
    snprintf(bad, sizeof bad, "%s.bad", file);
    assert_int_equal(access(bad, F_OK), 0);

    write_file("hastls-pins 1\nsso.shop.example hastls 1 9 0 443\n", 0644);
    assert_int_equal(hastls_pinstore_load(dir, &s, NULL, err, sizeof err), -1);
    assert_non_null(
        strstr(err, "/pins: readable or writable by other users (want 0600)"));

    unlink(file);
    assert_int_equal(mkfifo(file, 0600), 0);
    assert_int_equal(hastls_pinstore_load(dir, &s, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "/pins: not a regular file"));

    unlink(file);
    char target[200];
    snprintf(target, sizeof target, "%s/elsewhere", base);
    write_file("", 0600);
    rename(file, target);
    assert_int_equal(symlink(target, file), 0);
    assert_int_equal(hastls_pinstore_load(dir, &s, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "/pins: a symbolic link"));
    unlink(file);

    /* Another user's file, where this process may change owners (root). */
    write_file("hastls-pins 1\n", 0600);
    if (chown(file, 12345, 12345) == 0) {
        assert_int_equal(hastls_pinstore_load(dir, &s, NULL, err, sizeof err), -1);
        assert_non_null(strstr(err, "/pins: owned by another user"));
        assert_int_equal(
            hastls_pinstore_update(dir, add_sso, "b.example", 100, err, sizeof err), -1);
        struct stat sb;
        assert_int_equal(stat(file, &sb), 0);
        assert_int_equal(sb.st_uid, 12345);
    } else {
        print_message("chown not permitted here: foreign owner not tested\n");
    }
    unlink(file);

    /* The directory itself: loose modes. */
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(hastls_pinstore_load(dir, &s, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "gives other users access (want 0700)"));
    assert_int_equal(
        hastls_pinstore_update(dir, add_sso, "b.example", 100, err, sizeof err), -1);
    assert_int_equal(chmod(dir, 0700), 0);
    hastls_pins_free(&s);
}

static void lock_is_bounded(void **state)
{
    (void)state;
    char err[512], lock[200];
    assert_int_equal(hastls_pinstore_update(dir, no_change, NULL, 100, err, sizeof err),
                     0);
    snprintf(lock, sizeof lock, "%s/pins.lock", dir);
    int fd = open(lock, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    assert_int_equal(
        hastls_pinstore_update(dir, add_sso, "c.example", 50, err, sizeof err), -1);
    assert_non_null(strstr(err, "held by another writer for too long"));
    close(fd);

    /* A writer that dies holding the lock does not keep it. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int cfd = open(lock, O_RDWR);
        if (cfd < 0 || flock(cfd, LOCK_EX) != 0)
            _exit(1);
        _exit(0); /* without unlocking */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(
        hastls_pinstore_update(dir, add_sso, "c.example", 50, err, sizeof err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dir_from_environment),
        cmocka_unit_test_setup_teardown(update_then_load, setup, teardown),
        cmocka_unit_test_setup_teardown(untrusted_files, setup, teardown),
        cmocka_unit_test_setup_teardown(lock_is_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
