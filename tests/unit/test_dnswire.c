/* tests/unit/test_dnswire.c: the DNS wire module (policy/dnswire.c), its
 * cursors and every reader and builder, with well-formed and malformed
 * messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/dnswire.h"

/* Builds a query for NAME (dotted, no final dot) and TYPE into OUT; returns
 * its length.  With OPT, an OPT record carrying OPTLEN bytes of OPTDATA. */
static size_t make_query(uint8_t *out, const char *name, uint16_t type, int opt,
                         const uint8_t *optdata, size_t optlen)
{
    size_t o = 0;
    const uint8_t hdr[12] = {0x12, 0x34, 0x01, 0x00, 0, 1,
                             0,    0,    0,    0,    0, (uint8_t)(opt ? 1 : 0)};
    memcpy(out, hdr, 12);
    o = 12;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        out[o++] = (uint8_t)l;
        memcpy(out + o, p, l);
        o += l;
        p += l;
        if (*p == '.')
            p++;
    }
    out[o++] = 0;
    out[o++] = (uint8_t)(type >> 8);
    out[o++] = (uint8_t)type;
    out[o++] = 0;
    out[o++] = 1;
    if (opt) {
        const uint8_t rr[] = {0, 0, 41, 0x10, 0x00, 0, 0, 0x80, 0};
        memcpy(out + o, rr, sizeof rr);
        o += sizeof rr;
        out[o++] = (uint8_t)(optlen >> 8);
        out[o++] = (uint8_t)optlen;
        if (optlen)
            memcpy(out + o, optdata, optlen);
        o += optlen;
    }
    return o;
}

/* Returns the offset of the OPT record's RDATA in MSG, or 0. */
static size_t find_opt_rdata(const uint8_t *msg, size_t len, uint16_t *rdlen)
{
    size_t off;
    assert_int_equal(hastls_dns_check_query(msg, len, &off), 0);
    unsigned n =
        hastls_dns_count(msg, 1) + hastls_dns_count(msg, 2) + hastls_dns_count(msg, 3);
    size_t found = 0;
    for (unsigned i = 0; i < n; i++) {
        struct hastls_dns_rr rr;
        assert_int_equal(hastls_dns_parse_rr(msg, len, off, &rr, &off), 0);
        if (rr.type == 41) {
            assert_int_equal(found, 0);
            found = rr.rdata_off;
            *rdlen = rr.rdlen;
        }
    }
    assert_int_equal(off, len);
    return found;
}

static void test_pad_adds_opt(void **state)
{
    (void)state;
    uint8_t q[512], out[1024];
    size_t len = make_query(q, "secure.lab.example", 1, 0, NULL, 0), olen;
    assert_int_equal(hastls_dns_pad(q, len, 128, out, sizeof out, &olen), 0);
    assert_int_equal(olen % 128, 0);
    assert_true(olen >= len + 15);
    assert_int_equal(hastls_dns_count(out, 3), 1);
    assert_memory_equal(out, q, 10); /* header up to ARCOUNT unchanged */
    uint16_t rdlen = 0;
    size_t rd = find_opt_rdata(out, olen, &rdlen);
    assert_true(rd > 0);
    /* One option: Padding, filling the rest, all zeros. */
    assert_int_equal((out[rd] << 8) | out[rd + 1], HASTLS_DNS_OPT_PADDING);
    size_t plen = (size_t)((out[rd + 2] << 8) | out[rd + 3]);
    assert_int_equal(plen + 4, rdlen);
    for (size_t i = 0; i < plen; i++)
        assert_int_equal(out[rd + 4 + i], 0);
}

static void test_pad_replaces_padding_keeps_options(void **state)
{
    (void)state;
    /* A cookie option (10, 8 bytes) and an old 3-byte Padding option. */
    const uint8_t opts[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 12, 0, 3, 0, 0, 0};
    uint8_t q[512], out[1024], again[1024];
    size_t len = make_query(q, "a.example", 28, 1, opts, sizeof opts), olen, alen;
    assert_int_equal(hastls_dns_pad(q, len, 128, out, sizeof out, &olen), 0);
    assert_int_equal(olen % 128, 0);
    assert_int_equal(hastls_dns_count(out, 3), 1);
    uint16_t rdlen = 0;
    size_t rd = find_opt_rdata(out, olen, &rdlen);
    assert_memory_equal(out + rd, opts, 12); /* the cookie comes first, intact */
    assert_int_equal((out[rd + 12] << 8) | out[rd + 13], 12);
    /* Padding a padded query changes nothing: the old padding is replaced. */
    assert_int_equal(hastls_dns_pad(out, olen, 128, again, sizeof again, &alen), 0);
    assert_int_equal(alen, olen);
    assert_memory_equal(again, out, olen);
}

static void test_pad_exact_block(void **state)
{
    (void)state;
    /* Whatever the name length, the result is a whole number of blocks. */
    char name[200];
    for (size_t l = 1; l < 60; l++) {
        memset(name, 'x', l);
        name[l] = '\0';
        uint8_t q[512], out[1024];
        size_t len = make_query(q, name, 1, 1, NULL, 0), olen;
        assert_int_equal(hastls_dns_pad(q, len, 128, out, sizeof out, &olen), 0);
        assert_int_equal(olen % 128, 0);
        assert_true(olen - len < 128 + 4);
    }
}

static void test_pad_rejects_malformed(void **state)
{
    (void)state;
    uint8_t q[512], out[1024];
    size_t len = make_query(q, "a.example", 1, 1, NULL, 0), olen;
    /* Every truncation fails cleanly. */
    for (size_t l = 0; l < len; l++)
        assert_int_equal(hastls_dns_pad(q, l, 128, out, sizeof out, &olen), -1);
    /* Trailing garbage. */
    q[len] = 0xff;
    assert_int_equal(hastls_dns_pad(q, len + 1, 128, out, sizeof out, &olen), -1);
    /* Output too small. */
    assert_int_equal(hastls_dns_pad(q, len, 128, out, 100, &olen), -1);
    /* An option running past the OPT RDATA. */
    const uint8_t badopt[] = {0, 10, 0, 9, 1, 2, 3};
    len = make_query(q, "a.example", 1, 1, badopt, sizeof badopt);
    assert_int_equal(hastls_dns_pad(q, len, 128, out, sizeof out, &olen), -1);
    /* Two OPT records. */
    len = make_query(q, "a.example", 1, 1, NULL, 0);
    const uint8_t opt2[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
    memcpy(q + len, opt2, sizeof opt2);
    q[11] = 2;
    assert_int_equal(hastls_dns_pad(q, len + sizeof opt2, 128, out, sizeof out, &olen),
                     -1);
    /* A TSIG-signed query is left alone (padding would break the MAC). */
    len = make_query(q, "a.example", 1, 0, NULL, 0);
    const uint8_t tsig[] = {0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 0};
    memcpy(q + len, tsig, sizeof tsig);
    q[11] = 1;
    assert_int_equal(hastls_dns_pad(q, len + sizeof tsig, 128, out, sizeof out, &olen),
                     -1);
}

static void test_skip_and_read_name(void **state)
{
    (void)state;
    /* 12-byte header, then "ab.cd" at 12, then "x" + pointer to 12 at 19. */
    uint8_t m[64] = {0};
    const uint8_t names[] = {2, 'a', 'b', 2, 'c', 'd', 0, 1, 'x', 0xc0, 12};
    memcpy(m + 12, names, sizeof names);
    size_t len = 12 + sizeof names, next;
    char out[256];
    assert_int_equal(hastls_dns_read_name(m, len, 12, out, sizeof out, &next), 0);
    assert_string_equal(out, "ab.cd");
    assert_int_equal(next, 19);
    assert_int_equal(hastls_dns_read_name(m, len, 19, out, sizeof out, &next), 0);
    assert_string_equal(out, "x.ab.cd");
    assert_int_equal(next, len);
    assert_int_equal(hastls_dns_skip_name(m, len, 19, &next), 0);
    assert_int_equal(next, len);
    /* Truncated pointer, truncated label. */
    assert_int_equal(hastls_dns_skip_name(m, len - 1, 19, &next), -1);
    assert_int_equal(hastls_dns_read_name(m, len - 1, 19, out, sizeof out, &next), -1);
    assert_int_equal(hastls_dns_skip_name(m, 14, 12, &next), -1);
    /* Output buffer too small. */
    assert_int_equal(hastls_dns_read_name(m, len, 19, out, 5, &next), -1);
    /* The root. */
    m[40] = 0;
    assert_int_equal(hastls_dns_read_name(m, 41, 40, out, sizeof out, &next), 0);
    assert_string_equal(out, ".");
    /* Extended label types (0x40, 0x80) are rejected. */
    m[40] = 0x41;
    assert_int_equal(hastls_dns_skip_name(m, 45, 40, &next), -1);
    assert_int_equal(hastls_dns_read_name(m, 45, 40, out, sizeof out, &next), -1);
}

static void test_compression_loops(void **state)
{
    (void)state;
    uint8_t m[64] = {0};
    char out[256];
    size_t next;
    /* A pointer to itself. */
    m[12] = 0xc0;
    m[13] = 12;
    assert_int_equal(hastls_dns_read_name(m, 14, 12, out, sizeof out, &next), -1);
    /* Two pointers pointing at each other. */
    m[12] = 0xc0;
    m[13] = 14;
    m[14] = 0xc0;
    m[15] = 12;
    assert_int_equal(hastls_dns_read_name(m, 16, 14, out, sizeof out, &next), -1);
    assert_int_equal(hastls_dns_read_name(m, 16, 12, out, sizeof out, &next), -1);
    /* A forward pointer. */
    m[12] = 0xc0;
    m[13] = 20;
    assert_int_equal(hastls_dns_read_name(m, 30, 12, out, sizeof out, &next), -1);
    /* A label pointing back into its own name. */
    const uint8_t self[] = {1, 'a', 0xc0, 12};
    memcpy(m + 12, self, sizeof self);
    assert_int_equal(hastls_dns_read_name(m, 16, 12, out, sizeof out, &next), -1);
}

static void test_name_too_long(void **state)
{
    (void)state;
    uint8_t m[600];
    size_t o = 0, next;
    char out[1024];
    for (int i = 0; i < 5; i++) { /* 5 * 64 = 320 > 255 octets */
        m[o++] = 63;
        memset(m + o, 'a', 63);
        o += 63;
    }
    m[o++] = 0;
    assert_int_equal(hastls_dns_skip_name(m, o, 0, &next), -1);
    assert_int_equal(hastls_dns_read_name(m, o, 0, out, sizeof out, &next), -1);
}

static void test_read_name_escapes(void **state)
{
    (void)state;
    const uint8_t m[] = {3, 'a', '.', ' ', 1, '\\', 0};
    char out[64];
    size_t next;
    assert_int_equal(hastls_dns_read_name(m, sizeof m, 0, out, sizeof out, &next), 0);
    assert_string_equal(out, "a\\046\\032.\\092");
}

static void test_frame(void **state)
{
    (void)state;
    uint8_t b[8] = {0, 3, 'a', 'b', 'c', 0, 0, 9};
    size_t m;
    assert_int_equal(hastls_dns_frame(b, 0, &m), 0);
    assert_int_equal(hastls_dns_frame(b, 1, &m), 0);
    assert_int_equal(hastls_dns_frame(b, 4, &m), 0);
    assert_int_equal(hastls_dns_frame(b, 5, &m), 1);
    assert_int_equal(m, 3);
    assert_int_equal(hastls_dns_frame(b + 6, 1, &m), 0);
    b[5] = 0;
    b[6] = 0; /* a zero-length frame is complete (and then rejected as a query) */
    assert_int_equal(hastls_dns_frame(b + 5, 2, &m), 1);
    assert_int_equal(m, 0);
    b[5] = 0xff;
    b[6] = 0xff;
    assert_int_equal(hastls_dns_frame(b + 5, 3, &m), 0);
}

static void test_check_query_and_question(void **state)
{
    (void)state;
    uint8_t a[512], b[512];
    size_t alen = make_query(a, "Secure.LAB.example", 1, 1, NULL, 0), qend;
    size_t blen = make_query(b, "secure.lab.EXAMPLE", 1, 0, NULL, 0);
    assert_int_equal(hastls_dns_check_query(a, alen, &qend), 0);
    assert_int_equal(qend, 12 + 20 + 4);
    assert_int_equal(hastls_dns_same_question(a, alen, b, blen), 1);
    b[blen - 3] = 28; /* AAAA */
    assert_int_equal(hastls_dns_same_question(a, alen, b, blen), 0);
    blen = make_query(b, "secure.lab.exampl", 1, 0, NULL, 0);
    assert_int_equal(hastls_dns_same_question(a, alen, b, blen), 0);
    assert_int_equal(hastls_dns_same_question(a, 11, b, blen), 0);
    /* Answers, several questions, truncations are not relayable queries. */
    a[2] |= 0x80;
    assert_int_equal(hastls_dns_check_query(a, alen, &qend), -1);
    a[2] &= 0x7f;
    a[5] = 2;
    assert_int_equal(hastls_dns_check_query(a, alen, &qend), -1);
    a[5] = 1;
    for (size_t l = 0; l < 36; l++)
        assert_int_equal(hastls_dns_check_query(a, l, &qend), -1);
}

static void test_has_do(void **state)
{
    (void)state;
    uint8_t q[512];
    size_t len = make_query(q, "a.example", 1, 1, NULL, 0); /* OPT with DO */
    assert_int_equal(hastls_dns_has_do(q, len), 1);
    q[len - 4] = 0; /* clear the DO bit in the OPT TTL */
    assert_int_equal(hastls_dns_has_do(q, len), 0);
    len = make_query(q, "a.example", 1, 0, NULL, 0);
    assert_int_equal(hastls_dns_has_do(q, len), 0);
    q[11] = 1; /* claims an additional record that is not there */
    assert_int_equal(hastls_dns_has_do(q, len), -1);
    assert_int_equal(hastls_dns_has_do(q, 11), -1);
}

static void test_servfail(void **state)
{
    (void)state;
    uint8_t q[512], out[512];
    size_t len = make_query(q, "a.example", 1, 1, NULL, 0), qend;
    q[3] |= 0x10; /* CD */
    assert_int_equal(hastls_dns_check_query(q, len, &qend), 0);
    assert_int_equal(hastls_dns_servfail(q, qend, out, 10), 0);
    size_t n = hastls_dns_servfail(q, qend, out, sizeof out);
    assert_int_equal(n, qend);
    assert_int_equal(hastls_dns_id(out), 0x1234);
    assert_int_equal(out[2] & 0x80, 0x80); /* QR */
    assert_int_equal(out[2] & 0x01, 0x01); /* RD kept */
    assert_int_equal(out[3] & 0x0f, 2);    /* SERVFAIL */
    assert_int_equal(out[3] & 0x10, 0x10); /* CD kept */
    assert_int_equal(hastls_dns_count(out, 3), 0);
    assert_int_equal(hastls_dns_same_question(q, len, out, n), 1);
}

/* A response: question a.example A; answers CNAME a->b (compressed), A b. */
static size_t make_response(uint8_t *m)
{
    size_t len = make_query(m, "a.example", 1, 0, NULL, 0);
    m[2] |= 0x80;
    m[7] = 3;
    const uint8_t rrs[] = {
        0xc0, 12,  0,    5,  0, 1, 0, 0, 0, 60, 0, 4,    1, 'b', 0xc0, 14, /* CNAME */
        1,    'b', 0xc0, 14, 0, 1, 0, 1, 0, 0,  1, 0x2c, 0, 4,   127,  0,
        10,   1, /* A */
        1,    'b', 0xc0, 14, 0, 1, 0, 3, 0, 0,  1, 0x2c, 0, 4,   127,  0,
        10,   2, /* A, CH */
    };
    memcpy(m + len, rrs, sizeof rrs);
    return len + sizeof rrs;
}

static void test_answer_records(void **state)
{
    (void)state;
    uint8_t m[512];
    size_t len = make_response(m), n, total;
    struct hastls_rr rr[4];
    assert_int_equal(hastls_dns_answer_records(m, len, 1, rr, 4, &n, &total), 0);
    assert_int_equal(n, 1); /* the CH-class record is not an IN answer */
    assert_int_equal(total, 1);
    assert_int_equal(rr[0].ttl, 300);
    assert_int_equal(rr[0].rdlen, 4);
    assert_int_equal(rr[0].rdata[3], 1);
    assert_int_equal(hastls_dns_answer_records(m, len, 5, rr, 0, &n, &total), 0);
    assert_int_equal(n, 0);
    assert_int_equal(total, 1);
    /* The CNAME target reads through its compression pointer. */
    assert_int_equal(hastls_dns_answer_records(m, len, 5, rr, 4, &n, NULL), 0);
    char name[256];
    size_t next;
    assert_int_equal(
        hastls_dns_read_name(m, len, (size_t)(rr[0].rdata - m), name, sizeof name, &next),
        0);
    assert_string_equal(name, "b.example");
    /* Any truncation, or an RDLENGTH past the end, is malformed. */
    for (size_t l = 0; l < len; l++) {
        int e = hastls_dns_answer_records(m, l, 1, rr, 4, &n, &total);
        assert_int_equal(e, -1);
    }
    m[len - 5] = 5; /* last RDLENGTH 4 -> 5 */
    assert_int_equal(hastls_dns_answer_records(m, len, 1, rr, 4, &n, &total), -1);
}

static void test_cursor_bounds(void **state)
{
    (void)state;
    const uint8_t b[5] = {1, 2, 3, 4, 5};
    struct hastls_dns_rd r;
    uint8_t v8;
    uint16_t v16;
    uint32_t v32;
    const uint8_t *p;
    hastls_dns_rd_init(&r, b, sizeof b);
    assert_int_equal(hastls_dns_rd_u32(&r, &v32), 0);
    assert_int_equal(v32, 0x01020304);
    /* One byte left: a 16- or 32-bit read fails and moves nothing. */
    assert_int_equal(hastls_dns_rd_u16(&r, &v16), -1);
    assert_int_equal(hastls_dns_rd_u32(&r, &v32), -1);
    assert_int_equal(hastls_dns_rd_bytes(&r, &p, 2), -1);
    assert_int_equal(hastls_dns_rd_skip(&r, 2), -1);
    assert_int_equal(r.off, 4);
    assert_int_equal(hastls_dns_rd_u8(&r, &v8), 0);
    assert_int_equal(v8, 5);
    assert_int_equal(hastls_dns_rd_u8(&r, &v8), -1);
    assert_int_equal(hastls_dns_rd_left(&r), 0);
    assert_int_equal(hastls_dns_rd_seek(&r, 6), -1);
    assert_int_equal(hastls_dns_rd_seek(&r, 5), 0);
    assert_int_equal(hastls_dns_rd_skip(&r, (size_t)-1), -1);

    uint8_t out[4];
    struct hastls_dns_wr w;
    hastls_dns_wr_init(&w, out, sizeof out);
    assert_int_equal(hastls_dns_wr_u16(&w, 0xabcd), 0);
    assert_int_equal(hastls_dns_wr_bytes(&w, b, 3), -1);
    assert_int_equal(hastls_dns_wr_zeros(&w, 3), -1);
    assert_int_equal(w.len, 2);
    assert_int_equal(hastls_dns_wr_set16(&w, 1, 7), -1); /* past what was written */
    assert_int_equal(hastls_dns_wr_set16(&w, 0, 0x1234), 0);
    assert_int_equal(hastls_dns_wr_u8(&w, 9), 0);
    assert_int_equal(hastls_dns_wr_u8(&w, 9), 0);
    assert_int_equal(hastls_dns_wr_u8(&w, 9), -1);
    assert_int_equal(out[0], 0x12);
    assert_int_equal(out[1], 0x34);
}

static void test_response_id_and_rcode(void **state)
{
    (void)state;
    uint8_t m[512];
    size_t len = make_query(m, "a.example", 1, 0, NULL, 0);
    uint16_t id = 0;
    assert_int_equal(hastls_dns_response_id(m, len, &id), -1); /* a query */
    m[2] |= 0x80;
    m[3] = 0x83; /* RA, NXDOMAIN */
    assert_int_equal(hastls_dns_response_id(m, len, &id), 0);
    assert_int_equal(id, 0x1234);
    assert_int_equal(hastls_dns_rcode(m, len), 3);
    for (size_t l = 0; l < 12; l++) {
        assert_int_equal(hastls_dns_response_id(m, l, &id), -1);
        assert_int_equal(hastls_dns_rcode(m, l), -1);
    }
}

static void test_name_labels(void **state)
{
    (void)state;
    const uint8_t n[] = {3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
    size_t labels[8], k, end;
    assert_int_equal(hastls_dns_name_labels(n, sizeof n, 0, labels, 8, &k, &end), 0);
    assert_int_equal(k, 2);
    assert_int_equal(labels[0], 0);
    assert_int_equal(labels[1], 4);
    assert_int_equal(end, sizeof n);
    /* The root alone has no label. */
    assert_int_equal(hastls_dns_name_labels(n, sizeof n, 12, labels, 8, &k, &end), 0);
    assert_int_equal(k, 0);
    /* Too few slots, every truncation, an offset outside. */
    assert_int_equal(hastls_dns_name_labels(n, sizeof n, 0, labels, 1, &k, &end), -1);
    for (size_t l = 0; l < sizeof n; l++)
        assert_int_equal(hastls_dns_name_labels(n, l, 0, labels, 8, &k, &end), -1);
    assert_int_equal(hastls_dns_name_labels(n, sizeof n, 14, labels, 8, &k, &end), -1);
    /* A compression pointer or an extended label type ends the walk. */
    const uint8_t c[] = {1, 'a', 0xc0, 0};
    assert_int_equal(hastls_dns_name_labels(c, sizeof c, 0, labels, 8, &k, &end), -1);
    const uint8_t x[] = {1, 'a', 0x41, 'b', 0};
    assert_int_equal(hastls_dns_name_labels(x, sizeof x, 0, labels, 8, &k, &end), -1);
    /* Longer than 255 octets. */
    uint8_t big[400];
    size_t o = 0, many[200];
    for (int i = 0; i < 130; i++) {
        big[o++] = 1;
        big[o++] = 'a';
    }
    big[o++] = 0;
    assert_int_equal(hastls_dns_name_labels(big, o, 0, many, 200, &k, &end), -1);
    assert_int_equal(hastls_dns_name_labels(big, o, 260 - 254, many, 200, &k, &end), 0);
    assert_int_equal(k, 127);
}

static void test_parse_query_and_key(void **state)
{
    (void)state;
    uint8_t a[512], b[512], key[300], key2[300];
    size_t alen = make_query(a, "WWW.Example", 48, 1, NULL, 0);
    size_t blen = make_query(b, "www.example", 48, 0, NULL, 0);
    struct hastls_dns_question q;
    assert_int_equal(hastls_dns_parse_query(a, alen, &q), 0);
    assert_int_equal(q.name_off, 12);
    assert_int_equal(q.name_len, 13);
    assert_int_equal(q.qtype, 48);
    assert_int_equal(q.qclass, 1);
    assert_int_equal(q.end, 12 + 13 + 4);
    size_t kl = hastls_dns_question_key(a, alen, key, sizeof key);
    assert_int_equal(kl, 17);
    assert_int_equal(hastls_dns_question_key(b, blen, key2, sizeof key2), 17);
    assert_memory_equal(key, key2, 17);
    assert_int_equal(key[1], 'w');
    /* No room, malformed. */
    assert_int_equal(hastls_dns_question_key(a, alen, key, 16), 0);
    for (size_t l = 0; l < q.end; l++) {
        assert_int_equal(hastls_dns_question_key(a, l, key, sizeof key), 0);
        assert_int_equal(hastls_dns_parse_query(a, l, &q), -1);
    }
    a[2] |= 0x80;
    assert_int_equal(hastls_dns_parse_query(a, alen, &q), -1);
}

static void test_upstream_query(void **state)
{
    (void)state;
    uint8_t q[512], out[1024];
    size_t len = make_query(q, "a.example", 1, 1, NULL, 0), olen;
    assert_int_equal(
        hastls_dns_upstream_query(q, len, 0xbeef, 128, out, sizeof out, &olen), 0);
    assert_int_equal(olen % 128, 0);
    assert_int_equal(hastls_dns_id(out), 0xbeef);
    assert_int_equal(out[3] & 0x10, 0x10); /* CD */
    assert_int_equal(out[2], q[2]);        /* RD kept */
    assert_int_equal(hastls_dns_same_question(q, len, out, olen), 1);
    assert_int_equal(hastls_dns_id(q), 0x1234); /* the input is untouched */
    /* Unpadded (cleartext), and a signed query that cannot be padded. */
    assert_int_equal(hastls_dns_upstream_query(q, len, 7, 0, out, sizeof out, &olen), 0);
    assert_int_equal(olen, len);
    assert_memory_equal(out + 4, q + 4, len - 4);
    len = make_query(q, "a.example", 1, 0, NULL, 0);
    const uint8_t tsig[] = {0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 0};
    memcpy(q + len, tsig, sizeof tsig);
    q[11] = 1;
    len += sizeof tsig;
    assert_int_equal(hastls_dns_upstream_query(q, len, 7, 128, out, sizeof out, &olen),
                     0);
    assert_int_equal(olen, len);
    /* No header, no room. */
    assert_int_equal(hastls_dns_upstream_query(q, 11, 7, 128, out, sizeof out, &olen),
                     -1);
    assert_int_equal(hastls_dns_upstream_query(q, len, 7, 128, out, len - 1, &olen), -1);
}

static void test_reply_for(void **state)
{
    (void)state;
    uint8_t q[512], ans[512], out[512];
    size_t qlen = make_query(q, "A.EXAMPLE", 1, 0, NULL, 0), olen;
    size_t alen = make_response(ans); /* a.example, ID 0x1234 */
    ans[0] = 0x99;
    ans[1] = 0x88;
    q[0] = 0x42;
    q[1] = 0x43;
    assert_int_equal(hastls_dns_reply_for(q, qlen, ans, alen, out, sizeof out, &olen), 0);
    assert_int_equal(olen, alen);
    assert_int_equal(hastls_dns_id(out), 0x4243);
    assert_memory_equal(out + 2, ans + 2, 10);
    assert_memory_equal(out + 12, q + 12, qlen - 12); /* the question as asked */
    assert_memory_equal(out + qlen, ans + qlen, alen - qlen);
    /* Another question, truncations, no room. */
    q[qlen - 3] = 28;
    assert_int_equal(hastls_dns_reply_for(q, qlen, ans, alen, out, sizeof out, &olen),
                     -1);
    q[qlen - 3] = 1;
    for (size_t l = 0; l < qlen; l++) {
        assert_int_equal(hastls_dns_reply_for(q, qlen, ans, l, out, sizeof out, &olen),
                         -1);
        assert_int_equal(hastls_dns_reply_for(q, l, ans, alen, out, sizeof out, &olen),
                         -1);
    }
    assert_int_equal(hastls_dns_reply_for(q, qlen, ans, alen, out, alen - 1, &olen), -1);
}

static void test_build_query(void **state)
{
    (void)state;
    const uint8_t name[] = {3, 'c', 'o', 'm', 0};
    uint8_t out[512];
    size_t olen, qend;
    assert_int_equal(
        hastls_dns_build_query(name, sizeof name, 43, 1, out, sizeof out, &olen, &qend),
        0);
    struct hastls_dns_question q;
    assert_int_equal(hastls_dns_parse_query(out, olen, &q), 0);
    assert_int_equal(q.end, qend);
    assert_int_equal(q.qtype, 43);
    assert_int_equal(out[2] & 0x01, 0x01); /* RD */
    assert_int_equal(hastls_dns_has_do(out, olen), 1);
    assert_int_equal(
        hastls_dns_build_query(name, sizeof name, 43, 0, out, sizeof out, &olen, &qend),
        0);
    assert_int_equal(hastls_dns_has_do(out, olen), 0);
    /* The root. */
    assert_int_equal(
        hastls_dns_build_query(name + 4, 1, 48, 1, out, sizeof out, &olen, &qend), 0);
    assert_int_equal(qend, 12 + 1 + 4);
    /* A name that does not end where it says, a pointer, no room. */
    assert_int_equal(hastls_dns_build_query(name, sizeof name - 1, 43, 1, out, sizeof out,
                                            &olen, &qend),
                     -1);
    const uint8_t ptr[] = {1, 'a', 0xc0, 12};
    assert_int_equal(
        hastls_dns_build_query(ptr, sizeof ptr, 43, 1, out, sizeof out, &olen, &qend),
        -1);
    assert_int_equal(
        hastls_dns_build_query(name, sizeof name, 43, 1, out, 20, &olen, &qend), -1);
}

static void test_stream(void **state)
{
    (void)state;
    const uint8_t s[] = {0, 2, 'a', 'b', 0, 0, 0, 3, 'x', 'y'};
    size_t off = 0, ml;
    const uint8_t *m;
    assert_int_equal(hastls_dns_stream_next(s, sizeof s, &off, &m, &ml), 1);
    assert_int_equal(ml, 2);
    assert_ptr_equal(m, s + 2);
    assert_int_equal(off, 4);
    assert_int_equal(hastls_dns_stream_next(s, sizeof s, &off, &m, &ml), 1);
    assert_int_equal(ml, 0);
    assert_int_equal(off, 6);
    /* The third message is one byte short: nothing moves. */
    assert_int_equal(hastls_dns_stream_next(s, sizeof s, &off, &m, &ml), 0);
    assert_int_equal(off, 6);
    off = 11;
    assert_int_equal(hastls_dns_stream_next(s, sizeof s, &off, &m, &ml), 0);
    assert_int_equal(off, 11);

    uint8_t out[6];
    struct hastls_dns_wr w;
    hastls_dns_wr_init(&w, out, sizeof out);
    assert_int_equal(hastls_dns_stream_put(&w, (const uint8_t *)"abc", 3), 0);
    assert_int_equal(w.len, 5);
    assert_int_equal(hastls_dns_stream_put(&w, (const uint8_t *)"", 0), -1); /* 1 left */
    assert_int_equal(w.len, 5);
    assert_int_equal(out[1], 3);
    uint8_t pre[2];
    assert_int_equal(hastls_dns_stream_prefix(pre, 65535), 0);
    assert_int_equal(pre[0], 0xff);
    assert_int_equal(hastls_dns_stream_prefix(pre, 65536), -1);
}

static void test_query_question(void **state)
{
    (void)state;
    uint8_t q[512];
    char name[256];
    uint16_t type = 0, cls = 0;
    size_t len = make_query(q, "Secure.lab.example", 28, 1, NULL, 0);
    assert_int_equal(hastls_dns_query_question(q, len, name, sizeof name, &type, &cls),
                     0);
    assert_string_equal(name, "Secure.lab.example");
    assert_int_equal(type, 28);
    assert_int_equal(cls, 1);
    /* Every truncation, before and inside the type and class, is refused. */
    size_t qlen = 12 + 20 + 4;
    for (size_t l = 0; l < qlen; l++)
        assert_int_equal(hastls_dns_query_question(q, l, name, sizeof name, &type, &cls),
                         -1);
    /* A name that does not fit, an answer, two questions. */
    assert_int_equal(hastls_dns_query_question(q, len, name, 5, &type, &cls), -1);
    q[2] |= 0x80;
    assert_int_equal(hastls_dns_query_question(q, len, name, sizeof name, &type, &cls),
                     -1);
    q[2] &= 0x7f;
    q[5] = 2;
    assert_int_equal(hastls_dns_query_question(q, len, name, sizeof name, &type, &cls),
                     -1);
    q[5] = 1;
    /* A compression pointer in a query's question (nothing to point back to). */
    q[12] = 0xc0;
    q[13] = 12;
    assert_int_equal(hastls_dns_query_question(q, len, name, sizeof name, &type, &cls),
                     -1);
}

static void test_set_tc(void **state)
{
    (void)state;
    uint8_t m[12] = {0x12, 0x34, 0x81, 0x80};
    assert_int_equal(hastls_dns_set_tc(m, sizeof m), 0);
    assert_int_equal(m[2], 0x83);
    assert_int_equal(m[3], 0x80);
    assert_int_equal(hastls_dns_set_tc(m, sizeof m), 0); /* idempotent */
    assert_int_equal(m[2], 0x83);
    uint8_t s[3] = {0, 0, 0x80};
    assert_int_equal(hastls_dns_set_tc(s, 2), -1);
    assert_int_equal(s[2], 0x80); /* untouched */
    assert_int_equal(hastls_dns_set_tc(s, 3), 0);
    assert_int_equal(s[2], 0x82);
}

static void test_ptr_target(void **state)
{
    (void)state;
    /* A message: header, question 1.10.0.127.in-addr.arpa PTR, one answer
     * whose name points to the question and whose target "host" + pointer
     * to "lab.example" ... built by hand: the target is compressed against
     * an earlier name in the message. */
    uint8_t m[128];
    size_t o = 0;
    const uint8_t hdr[12] = {0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
    memcpy(m, hdr, 12);
    o = 12;
    const uint8_t qname[] = {3, 'l', 'a', 'b', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
    memcpy(m + o, qname, sizeof qname);
    o += sizeof qname;
    const uint8_t qtail[] = {0, 12, 0, 1, 0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 60, 0, 7};
    memcpy(m + o, qtail, sizeof qtail);
    o += sizeof qtail;
    size_t rdata = o;
    const uint8_t target[] = {4, 'h', 'o', 's', 't', 0xc0, 12};
    memcpy(m + o, target, sizeof target);
    o += sizeof target;
    char name[256];
    assert_int_equal(
        hastls_dns_ptr_target(m, o, m + rdata, sizeof target, name, sizeof name), 0);
    assert_string_equal(name, "host.lab.example");
    /* The same RDATA alone: its pointer leads nowhere. */
    uint8_t alone[sizeof target];
    memcpy(alone, target, sizeof target);
    assert_int_equal(hastls_dns_ptr_target(m, o, alone, sizeof alone, name, sizeof name),
                     -1);
    assert_int_equal(
        hastls_dns_ptr_target(NULL, 0, alone, sizeof alone, name, sizeof name), -1);
    /* An uncompressed target alone works without the message. */
    const uint8_t plain[] = {1, 'a', 2, 'b', 'c', 0};
    assert_int_equal(
        hastls_dns_ptr_target(NULL, 0, plain, sizeof plain, name, sizeof name), 0);
    assert_string_equal(name, "a.bc");
    /* A target running past RDATA, a truncated one, the root, too small. */
    assert_int_equal(hastls_dns_ptr_target(m, o, m + rdata, 3, name, sizeof name), -1);
    assert_int_equal(hastls_dns_ptr_target(NULL, 0, plain, 4, name, sizeof name), -1);
    const uint8_t root[] = {0};
    assert_int_equal(hastls_dns_ptr_target(NULL, 0, root, 1, name, sizeof name), -1);
    assert_int_equal(hastls_dns_ptr_target(NULL, 0, NULL, 0, name, sizeof name), -1);
    assert_int_equal(hastls_dns_ptr_target(m, o, m + rdata, sizeof target, name, 5), -1);
    /* A pointer forward (or to itself) is refused. */
    uint8_t loop[] = {0xc0, 0};
    assert_int_equal(hastls_dns_ptr_target(NULL, 0, loop, sizeof loop, name, sizeof name),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pad_adds_opt),
        cmocka_unit_test(test_pad_replaces_padding_keeps_options),
        cmocka_unit_test(test_pad_exact_block),
        cmocka_unit_test(test_pad_rejects_malformed),
        cmocka_unit_test(test_skip_and_read_name),
        cmocka_unit_test(test_compression_loops),
        cmocka_unit_test(test_name_too_long),
        cmocka_unit_test(test_read_name_escapes),
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_check_query_and_question),
        cmocka_unit_test(test_query_question),
        cmocka_unit_test(test_set_tc),
        cmocka_unit_test(test_ptr_target),
        cmocka_unit_test(test_has_do),
        cmocka_unit_test(test_servfail),
        cmocka_unit_test(test_answer_records),
        cmocka_unit_test(test_cursor_bounds),
        cmocka_unit_test(test_response_id_and_rcode),
        cmocka_unit_test(test_name_labels),
        cmocka_unit_test(test_parse_query_and_key),
        cmocka_unit_test(test_upstream_query),
        cmocka_unit_test(test_reply_for),
        cmocka_unit_test(test_build_query),
        cmocka_unit_test(test_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
