/* tests/unit/test_tlsa.c: the TLSA codec on good and malformed input, and the
 * meaning of a TLSA answer. */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "policy/tlsa.h"

static uint8_t rdata311[3 + 32];

static int setup(void **state)
{
    (void)state;
    rdata311[0] = 3;
    rdata311[1] = 1;
    rdata311[2] = 1;
    for (int i = 0; i < 32; i++)
        rdata311[3 + i] = (uint8_t)i;
    return 0;
}

static void decode_good(void **state)
{
    (void)state;
    struct hastls_tlsa t;
    assert_int_equal(hastls_tlsa_decode(rdata311, sizeof rdata311, &t), HASTLS_TLSA_OK);
    assert_int_equal(t.usage, 3);
    assert_int_equal(t.selector, 1);
    assert_int_equal(t.mtype, 1);
    assert_int_equal(t.dlen, 32);
    assert_ptr_equal(t.data, rdata311 + 3);

    uint8_t sha512[3 + 64] = {2, 0, 2};
    assert_int_equal(hastls_tlsa_decode(sha512, sizeof sha512, &t), HASTLS_TLSA_OK);
    uint8_t full[3 + 5] = {0, 1, 0, 0x30, 1, 2, 3, 4};
    assert_int_equal(hastls_tlsa_decode(full, sizeof full, &t), HASTLS_TLSA_OK);
    assert_int_equal(t.dlen, 5);
}

static void decode_short(void **state)
{
    (void)state;
    struct hastls_tlsa t;
    memset(&t, 0xaa, sizeof t);
    const uint8_t b[2] = {3, 1};
    assert_int_equal(hastls_tlsa_decode(b, 0, &t), HASTLS_TLSA_SHORT);
    assert_int_equal(hastls_tlsa_decode(b, 1, &t), HASTLS_TLSA_SHORT);
    assert_int_equal(hastls_tlsa_decode(b, 2, &t), HASTLS_TLSA_SHORT);
    assert_int_equal(t.usage, 0xaa); /* untouched */
}

static void decode_unusable(void **state)
{
    (void)state;
    struct hastls_tlsa t;
    uint8_t b[3 + 32];
    memcpy(b, rdata311, sizeof b);
    b[0] = 4;
    assert_int_equal(hastls_tlsa_decode(b, sizeof b, &t), HASTLS_TLSA_BAD_USAGE);
    assert_int_equal(t.usage, 4);
    b[0] = 255;
    assert_int_equal(hastls_tlsa_decode(b, sizeof b, &t), HASTLS_TLSA_BAD_USAGE);
    b[0] = 3;
    b[1] = 2;
    assert_int_equal(hastls_tlsa_decode(b, sizeof b, &t), HASTLS_TLSA_BAD_SELECTOR);
    b[1] = 1;
    b[2] = 3;
    assert_int_equal(hastls_tlsa_decode(b, sizeof b, &t), HASTLS_TLSA_BAD_MTYPE);
    b[2] = 1;
    assert_int_equal(hastls_tlsa_decode(b, 3 + 31, &t), HASTLS_TLSA_BAD_DIGEST);
    assert_int_equal(hastls_tlsa_decode(b, 3, &t), HASTLS_TLSA_BAD_DIGEST);
    b[2] = 2;
    assert_int_equal(hastls_tlsa_decode(b, sizeof b, &t), HASTLS_TLSA_BAD_DIGEST);
    b[2] = 0;
    assert_int_equal(hastls_tlsa_decode(b, 3, &t), HASTLS_TLSA_NO_DATA);
    assert_int_equal(t.dlen, 0);
}

static void format(void **state)
{
    (void)state;
    struct hastls_tlsa t;
    char buf[128];
    const uint8_t b[] = {2, 0, 0, 0xde, 0xad};
    assert_int_equal(hastls_tlsa_decode(b, sizeof b, &t), HASTLS_TLSA_OK);
    assert_int_equal(hastls_tlsa_format(&t, buf, sizeof buf), 10);
    assert_string_equal(buf, "2 0 0 dead");
    assert_int_equal(hastls_tlsa_format(&t, buf, 10), HASTLS_TLSA_NO_SPACE);
    assert_string_equal(buf, "");
    assert_int_equal(hastls_tlsa_format(&t, buf, 3), HASTLS_TLSA_NO_SPACE);
    assert_int_equal(hastls_tlsa_format(&t, buf, 0), HASTLS_TLSA_NO_SPACE);
    t.dlen = 0;
    assert_int_equal(hastls_tlsa_format(&t, buf, sizeof buf), 5);
    assert_string_equal(buf, "2 0 0");
    assert_int_equal(hastls_tlsa_decode(rdata311, sizeof rdata311, &t), HASTLS_TLSA_OK);
    assert_int_equal(hastls_tlsa_format(&t, buf, sizeof buf), 6 + 64);
    assert_memory_equal(buf, "3 1 1 000102", 12);
}

static void state_table(void **state)
{
    (void)state;
    assert_int_equal(hastls_dane_state(HASTLS_SEC_SECURE, 0, 1), HASTLS_DANE_USE);
    assert_int_equal(hastls_dane_state(HASTLS_SEC_SECURE, 0, 0), HASTLS_DANE_NONE);
    assert_int_equal(hastls_dane_state(HASTLS_SEC_SECURE, 3, 0), HASTLS_DANE_NONE);
    assert_int_equal(hastls_dane_state(HASTLS_SEC_SECURE, 2, 0), HASTLS_DANE_FAILED);
    assert_int_equal(hastls_dane_state(HASTLS_SEC_SECURE, -1, 0), HASTLS_DANE_FAILED);
    assert_int_equal(hastls_dane_state(HASTLS_SEC_INSECURE, 0, 2), HASTLS_DANE_INSECURE);
    assert_int_equal(hastls_dane_state(HASTLS_SEC_BOGUS, 2, 0), HASTLS_DANE_BOGUS);
    assert_int_equal(hastls_dane_state(HASTLS_SEC_FAILED, -1, 0), HASTLS_DANE_FAILED);
    assert_string_equal(hastls_dane_name(HASTLS_DANE_BOGUS), "bogus");
    assert_string_equal(hastls_dane_name((enum hastls_dane)9), "?");
}

static void usable_records(void **state)
{
    (void)state;
    const uint8_t bad[] = {9, 1, 1};
    const uint8_t shortr[] = {3};
    struct hastls_rr rr[4] = {
        {HASTLS_DNS_TYPE_TLSA, sizeof bad, 300, bad},
        {HASTLS_DNS_TYPE_TLSA, sizeof rdata311, 300, rdata311},
        {HASTLS_DNS_TYPE_TLSA, sizeof shortr, 300, shortr},
        {5, sizeof rdata311, 300, rdata311}, /* a CNAME's RDATA is no TLSA */
    };
    struct hastls_tlsa out[2];
    assert_int_equal(hastls_tlsa_usable(rr, 4, out, 2), 1);
    assert_int_equal(out[0].usage, 3);
    rr[0] = rr[1];
    assert_int_equal(hastls_tlsa_usable(rr, 4, out, 1), 2); /* counted past CAP */
    assert_int_equal(hastls_tlsa_usable(rr, 0, out, 2), 0);
}

static void owner(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(hastls_tlsa_owner(443, "tcp", "www.example", buf, sizeof buf), 0);
    assert_string_equal(buf, "_443._tcp.www.example");
    assert_int_equal(hastls_tlsa_owner(443, "tcp", "www.example", buf, 21), -1);
    assert_int_equal(hastls_tlsa_owner(443, "tcp", "", buf, sizeof buf), -1);
    assert_int_equal(hastls_tlsa_owner(443, "tcp", NULL, buf, sizeof buf), -1);
}

static void prefetch_proto(void **state)
{
    (void)state;
    assert_string_equal(hastls_tlsa_prefetch_proto(443, SOCK_STREAM, 0), "tcp");
    assert_string_equal(hastls_tlsa_prefetch_proto(443, 0, IPPROTO_TCP), "tcp");
    assert_string_equal(hastls_tlsa_prefetch_proto(25, 0, 0), "tcp"); /* open: tcp */
    assert_string_equal(hastls_tlsa_prefetch_proto(4433, SOCK_DGRAM, 0), "udp");
    assert_string_equal(hastls_tlsa_prefetch_proto(4433, 0, IPPROTO_UDP), "udp");
    assert_string_equal(hastls_tlsa_prefetch_proto(4433, SOCK_DGRAM, IPPROTO_UDP), "udp");
    /* Ports without TLS of their own, port 0, other sockets, contradictions. */
    assert_null(hastls_tlsa_prefetch_proto(80, SOCK_STREAM, 0));
    assert_null(hastls_tlsa_prefetch_proto(53, SOCK_DGRAM, 0));
    assert_null(hastls_tlsa_prefetch_proto(53, SOCK_STREAM, 0));
    assert_null(hastls_tlsa_prefetch_proto(123, SOCK_DGRAM, 0));
    assert_null(hastls_tlsa_prefetch_proto(0, SOCK_STREAM, 0));
    assert_null(hastls_tlsa_prefetch_proto(443, SOCK_RAW, 0));
    assert_null(hastls_tlsa_prefetch_proto(443, SOCK_SEQPACKET, 0));
    assert_null(hastls_tlsa_prefetch_proto(443, 0, IPPROTO_SCTP));
    assert_null(hastls_tlsa_prefetch_proto(443, SOCK_STREAM, IPPROTO_UDP));
    assert_null(hastls_tlsa_prefetch_proto(443, SOCK_DGRAM, IPPROTO_TCP));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_good),     cmocka_unit_test(decode_short),
        cmocka_unit_test(decode_unusable), cmocka_unit_test(format),
        cmocka_unit_test(state_table),     cmocka_unit_test(usable_records),
        cmocka_unit_test(owner),           cmocka_unit_test(prefetch_proto),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
