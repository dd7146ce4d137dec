/* tests/unit/test_srv.c: the SRV codec on good and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/srv.h"

/* 10 60 5222 xmpp.example. */
static const uint8_t plain[] = {0,   10, 0,   60,  0x14, 0x66, 4,   'x', 'm', 'p',
                                'p', 7,  'e', 'x', 'a',  'm',  'p', 'l', 'e', 0};

static void decode_good(void **state)
{
    (void)state;
    struct hastls_srv s;
    char buf[64];
    assert_int_equal(hastls_srv_decode(NULL, 0, plain, sizeof plain, &s), HASTLS_SRV_OK);
    assert_int_equal(s.priority, 10);
    assert_int_equal(s.weight, 60);
    assert_int_equal(s.port, 5222);
    assert_string_equal(s.target, "xmpp.example");
    assert_false(hastls_srv_is_null(&s));
    assert_int_equal(hastls_srv_format(&s, buf, sizeof buf), 23);
    assert_string_equal(buf, "10 60 5222 xmpp.example");
    assert_int_equal(hastls_srv_format(&s, buf, 23), HASTLS_SRV_NO_SPACE);
    assert_string_equal(buf, "");

    const uint8_t none[] = {0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(hastls_srv_decode(NULL, 0, none, sizeof none, &s), HASTLS_SRV_OK);
    assert_true(hastls_srv_is_null(&s));
}

static void decode_compressed(void **state)
{
    (void)state;
    /* A message whose byte 12 starts "example." and whose SRV target is
     * "xmpp" + a pointer to it. */
    uint8_t msg[64] = {0};
    const uint8_t name[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
    memcpy(msg + 12, name, sizeof name);
    const uint8_t rd[] = {0, 1, 0, 2, 0, 3, 4, 'x', 'm', 'p', 'p', 0xc0, 12};
    memcpy(msg + 30, rd, sizeof rd);
    struct hastls_srv s;
    assert_int_equal(hastls_srv_decode(msg, sizeof msg, msg + 30, sizeof rd, &s),
                     HASTLS_SRV_OK);
    assert_string_equal(s.target, "xmpp.example");
    /* The same RDATA alone: the pointer leads outside it. */
    assert_int_equal(hastls_srv_decode(NULL, 0, rd, sizeof rd, &s), HASTLS_SRV_BAD_NAME);
}

static void decode_malformed(void **state)
{
    (void)state;
    struct hastls_srv s;
    assert_int_equal(hastls_srv_decode(NULL, 0, plain, 0, &s), HASTLS_SRV_SHORT);
    assert_int_equal(hastls_srv_decode(NULL, 0, plain, 5, &s), HASTLS_SRV_SHORT);
    assert_int_equal(hastls_srv_decode(NULL, 0, NULL, 0, &s), HASTLS_SRV_SHORT);
    /* no name at all */
    assert_int_equal(hastls_srv_decode(NULL, 0, plain, 6, &s), HASTLS_SRV_BAD_NAME);
    /* the name cut short */
    assert_int_equal(hastls_srv_decode(NULL, 0, plain, sizeof plain - 1, &s),
                     HASTLS_SRV_BAD_NAME);
    /* bytes after the name */
    uint8_t longer[sizeof plain + 2];
    memcpy(longer, plain, sizeof plain);
    longer[sizeof plain] = 1;
    longer[sizeof plain + 1] = 2;
    assert_int_equal(hastls_srv_decode(NULL, 0, longer, sizeof longer, &s),
                     HASTLS_SRV_TRAILING);
    /* a label length past the end */
    const uint8_t bad[] = {0, 0, 0, 0, 0, 1, 63, 'a', 0};
    assert_int_equal(hastls_srv_decode(NULL, 0, bad, sizeof bad, &s),
                     HASTLS_SRV_BAD_NAME);
    /* a pointer loop */
    const uint8_t loop[] = {0, 0, 0, 0, 0, 1, 0xc0, 6};
    assert_int_equal(hastls_srv_decode(NULL, 0, loop, sizeof loop, &s),
                     HASTLS_SRV_BAD_NAME);
    assert_string_equal(hastls_srv_strerror(HASTLS_SRV_TRAILING),
                        "bytes after the target name");
}

static void order(void **state)
{
    (void)state;
    struct hastls_srv v[4] = {
        {20, 0, 1, "d"}, {10, 10, 2, "b"}, {10, 60, 3, "a"}, {10, 10, 4, "c"}};
    hastls_srv_order(v, 4);
    assert_string_equal(v[0].target, "a");
    assert_string_equal(v[1].target, "b");
    assert_string_equal(v[2].target, "c");
    assert_string_equal(v[3].target, "d");
    hastls_srv_order(v, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_good),
        cmocka_unit_test(decode_compressed),
        cmocka_unit_test(decode_malformed),
        cmocka_unit_test(order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
