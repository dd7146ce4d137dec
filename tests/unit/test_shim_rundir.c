/* tests/unit/test_shim_rundir.c: the agent's directory: created private,
 * refused when it is a link, another user's or open to others; agent names
 * differ by configuration. */
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

#include "shim/core/rundir.h"

static char base[64];

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof base, "/tmp/test_rundir.XXXXXX");
    return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

static void creates_private_dir(void **state)
{
    (void)state;
    char xdg[128], path[256], err[256];
    snprintf(xdg, sizeof xdg, "%s/xdg", base);
    assert_int_equal(mkdir(xdg, 0700), 0);
    int fd =
        hastls_rundir_open_in(xdg, "/nonexistent", path, sizeof path, err, sizeof err);
    assert_true(fd >= 0);
    char want[160];
    snprintf(want, sizeof want, "%s/hastls", xdg);
    assert_string_equal(path, want);
    struct stat st;
    assert_int_equal(stat(want, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    close(fd);
    /* Opening again finds the same directory. */
    fd = hastls_rundir_open_in(xdg, "/nonexistent", path, sizeof path, err, sizeof err);
    assert_true(fd >= 0);
    close(fd);
}

static void without_xdg_uses_tmp(void **state)
{
    (void)state;
    char path[256], err[256];
    int fd = hastls_rundir_open_in(NULL, base, path, sizeof path, err, sizeof err);
    assert_true(fd >= 0);
    char want[160];
    snprintf(want, sizeof want, "%s/hastls-%u", base, (unsigned)geteuid());
    assert_string_equal(path, want);
    close(fd);
    fd = hastls_rundir_open_in("", base, path, sizeof path, err, sizeof err);
    assert_true(fd >= 0);
    close(fd);
}

static void refuses(void **state)
{
    (void)state;
    char xdg[128], dir[160], path[256], err[256];
    /* XDG_RUNTIME_DIR open to others */
    snprintf(xdg, sizeof xdg, "%s/loose", base);
    assert_int_equal(mkdir(xdg, 0700), 0);
    assert_int_equal(chmod(xdg, 0755), 0);
    assert_int_equal(
        hastls_rundir_open_in(xdg, "/tmp", path, sizeof path, err, sizeof err), -1);
    assert_non_null(strstr(err, "mode 755 gives other users access"));
    /* our directory with loose modes */
    snprintf(xdg, sizeof xdg, "%s/x2", base);
    snprintf(dir, sizeof dir, "%s/hastls", xdg);
    assert_int_equal(mkdir(xdg, 0700), 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chmod(dir, 0770), 0);
    assert_int_equal(
        hastls_rundir_open_in(xdg, "/tmp", path, sizeof path, err, sizeof err), -1);
    assert_non_null(strstr(err, "hastls: mode 770"));
    /* a symbolic link to a private directory */
    snprintf(xdg, sizeof xdg, "%s/x3", base);
    snprintf(dir, sizeof dir, "%s/hastls", xdg);
    assert_int_equal(mkdir(xdg, 0700), 0);
    char target[160];
    snprintf(target, sizeof target, "%s/elsewhere", base);
    assert_int_equal(mkdir(target, 0700), 0);
    assert_int_equal(symlink(target, dir), 0);
    assert_int_equal(
        hastls_rundir_open_in(xdg, "/tmp", path, sizeof path, err, sizeof err), -1);
    assert_non_null(strstr(err, "symbolic link"));
    /* a file where the directory should be */
    snprintf(xdg, sizeof xdg, "%s/x4", base);
    snprintf(dir, sizeof dir, "%s/hastls", xdg);
    assert_int_equal(mkdir(xdg, 0700), 0);
    FILE *f = fopen(dir, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(
        hastls_rundir_open_in(xdg, "/tmp", path, sizeof path, err, sizeof err), -1);
    /* another user's directory planted where ours goes (needs root to plant) */
    if (geteuid() == 0) {
        char tmp[128];
        snprintf(tmp, sizeof tmp, "%s/shared", base);
        assert_int_equal(mkdir(tmp, 01777), 0);
        snprintf(dir, sizeof dir, "%s/hastls-0", tmp);
        assert_int_equal(mkdir(dir, 0700), 0);
        assert_int_equal(chown(dir, 4242, 4242), 0);
        assert_int_equal(
            hastls_rundir_open_in(NULL, tmp, path, sizeof path, err, sizeof err), -1);
        assert_non_null(strstr(err, "owned by uid 4242"));
    }
    /* a relative XDG_RUNTIME_DIR */
    assert_int_equal(
        hastls_rundir_open_in("run", "/tmp", path, sizeof path, err, sizeof err), -1);
    assert_non_null(strstr(err, "not an absolute path"));
}

static void names_differ_by_settings(void **state)
{
    (void)state;
    struct hastls_config a, b;
    hastls_config_defaults(&a);
    hastls_config_defaults(&b);
    char na[64], nb[64];
    assert_int_equal(hastls_agent_name(&a, na, sizeof na), 0);
    assert_int_equal(hastls_agent_name(&b, nb, sizeof nb), 0);
    assert_string_equal(na, nb);
    assert_int_equal(strncmp(na, "agent-", 6), 0);
    b.privacy = HASTLS_PRIVACY_OPPORTUNISTIC;
    assert_int_equal(hastls_agent_name(&b, nb, sizeof nb), 0);
    assert_string_not_equal(na, nb);
    hastls_config_defaults(&b);
    snprintf(b.ca_bundle, sizeof b.ca_bundle, "/other/ca.pem");
    assert_true(hastls_resolver_settings_hash(&a) != hastls_resolver_settings_hash(&b));
    hastls_config_defaults(&b);
    b.upstreams[0].port = 443;
    assert_true(hastls_resolver_settings_hash(&a) != hastls_resolver_settings_hash(&b));
    /* Policy keys do not split agents: every program shares one. */
    hastls_config_defaults(&b);
    b.client = HASTLS_CLIENT_CSO;
    b.mode = HASTLS_MODE_REPORT;
    assert_true(hastls_resolver_settings_hash(&a) == hastls_resolver_settings_hash(&b));
    assert_int_equal(hastls_agent_name(&a, na, 8), -1); /* too small */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(creates_private_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(without_xdg_uses_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses, setup, teardown),
        cmocka_unit_test(names_differ_by_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
