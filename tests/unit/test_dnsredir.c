/* tests/unit/test_dnsredir.c: what the shim answers to a program's own DNS
 * queries -- the query reader, the answer and error builders and the SRV/MX
 * target reader of policy/dnswire.c, with well-formed and malformed
 * messages -- and the dns_redirect key of the configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config.h"
#include "policy/dnswire.h"

/* ---- message building ---- */

struct msg {
    uint8_t b[4096];
    size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
    assert_true(m->n + n <= sizeof m->b);
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put8(struct msg *m, uint8_t v)
{
    put(m, &v, 1);
}

static void put16(struct msg *m, uint16_t v)
{
    put8(m, (uint8_t)(v >> 8));
    put8(m, (uint8_t)v);
}

static void put32(struct msg *m, uint32_t v)
{
    put16(m, (uint16_t)(v >> 16));
    put16(m, (uint16_t)v);
}

/* A dotted NAME ("" for the root) in uncompressed wire form. */
static void put_name(struct msg *m, const char *name)
{
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        put8(m, (uint8_t)l);
        put(m, p, l);
        p += l;
        if (*p == '.')
            p++;
    }
    put8(m, 0);
}

static void header(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
                   uint16_t ns, uint16_t ar)
{
    m->n = 0;
    put16(m, id);
    put16(m, flags);
    put16(m, qd);
    put16(m, an);
    put16(m, ns);
    put16(m, ar);
}

/* An OPT record: UDP size, DO, version. */
static void put_opt(struct msg *m, uint16_t size, int dnssec_ok, uint8_t version)
{
    put8(m, 0);
    put16(m, HASTLS_DNS_TYPE_OPT);
    put16(m, size);
    put8(m, 0);
    put8(m, version);
    put16(m, dnssec_ok ? 0x8000 : 0);
    put16(m, 0);
}

/* A query for NAME/TYPE, RD set, with FLAGS added; an OPT record when EDNS. */
static void query(struct msg *m, const char *name, uint16_t type, uint16_t flags,
                  int edns, uint16_t size, int dnssec_ok)
{
    header(m, 0xbeef, (uint16_t)(0x0100 | flags), 1, 0, 0, edns ? 1 : 0);
    put_name(m, name);
    put16(m, type);
    put16(m, 1);
    if (edns)
        put_opt(m, size, dnssec_ok, 0);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* The resolver's response for secure.lab.example A: the A record with its
 * owner compressed to the question, an RRSIG, an OPT record. */
static void response_a(struct msg *m, const char *qname)
{
    header(m, 0x0000, 0x81a0, 1, 2, 0, 1);
    put_name(m, qname);
    put16(m, 1);
    put16(m, 1);
    put16(m, 0xc00c); /* A */
    put16(m, 1);
    put16(m, 1);
    put32(m, 300);
    put16(m, 4);
    put(m, "\x7f\x00\x0a\x01", 4);
    put16(m, 0xc00c); /* RRSIG, opaque here */
    put16(m, HASTLS_DNS_TYPE_RRSIG);
    put16(m, 1);
    put32(m, 300);
    put16(m, 6);
    put(m, "\x00\x01\x0d\x03\x00\x00", 6);
    put_opt(m, 1232, 1, 0);
}

/* ---- the query reader ---- */

static void test_parse_plain_and_edns(void **state)
{
    (void)state;
    struct msg m;
    struct hastls_dns_client_query q;
    query(&m, "secure.lab.example", 1, 0, 0, 0, 0);
    assert_int_equal(hastls_dns_client_query_parse(m.b, m.n, &q), 0);
    assert_int_equal(q.rcode, 0);
    assert_int_equal(q.id, 0xbeef);
    assert_true(q.qd_ok);
    assert_int_equal(q.q.qtype, 1);
    assert_int_equal(q.q.end, m.n);
    assert_false(q.edns);
    assert_int_equal(hastls_dns_client_udp_limit(&q), 512);

    query(&m, "secure.lab.example", 28, 0, 1, 4096, 1);
    assert_int_equal(hastls_dns_client_query_parse(m.b, m.n, &q), 0);
    assert_int_equal(q.rcode, 0);
    assert_true(q.edns);
    assert_true(q.dnssec_ok);
    assert_int_equal(q.udp_size, 4096);
    assert_int_equal(hastls_dns_client_udp_limit(&q), HASTLS_DNS_EDNS_UDP_SIZE);

    query(&m, "a.example", 1, 0, 1, 100, 0); /* below 512 counts as 512 */
    assert_int_equal(hastls_dns_client_query_parse(m.b, m.n, &q), 0);
    assert_int_equal(hastls_dns_client_udp_limit(&q), 512);
}

static void expect_rcode(const struct msg *m, int rcode)
{
    struct hastls_dns_client_query q;
    assert_int_equal(hastls_dns_client_query_parse(m->b, m->n, &q), 0);
    assert_int_equal(q.rcode, rcode);
}

static void test_parse_malformed(void **state)
{
    (void)state;
    struct msg m;
    struct hastls_dns_client_query q;
    /* No header, or a response: no answer at all. */
    query(&m, "a.example", 1, 0, 0, 0, 0);
    for (size_t n = 0; n < HASTLS_DNS_HEADER_LEN; n++)
        assert_int_equal(hastls_dns_client_query_parse(m.b, n, &q), -1);
    m.b[2] |= 0x80;
    assert_int_equal(hastls_dns_client_query_parse(m.b, m.n, &q), -1);

    /* A question cut anywhere: FORMERR, never past the end. */
    query(&m, "a.example", 1, 0, 0, 0, 0);
    for (size_t n = HASTLS_DNS_HEADER_LEN; n < m.n; n++) {
        assert_int_equal(hastls_dns_client_query_parse(m.b, n, &q), 0);
        assert_int_equal(q.rcode, HASTLS_DNS_RCODE_FORMERR);
    }
    /* No question, two questions. */
    header(&m, 1, 0x0100, 0, 0, 0, 0);
    expect_rcode(&m, HASTLS_DNS_RCODE_FORMERR);
    header(&m, 1, 0x0100, 2, 0, 0, 0);
    put_name(&m, "a.example");
    put16(&m, 1);
    put16(&m, 1);
    put_name(&m, "b.example");
    put16(&m, 1);
    put16(&m, 1);
    expect_rcode(&m, HASTLS_DNS_RCODE_FORMERR);
    /* A compression pointer in the question. */
    header(&m, 1, 0x0100, 1, 0, 0, 0);
    put16(&m, 0xc00c);
    put16(&m, 1);
    put16(&m, 1);
    expect_rcode(&m, HASTLS_DNS_RCODE_FORMERR);
    /* A label of 64 octets or more, an extended label type. */
    header(&m, 1, 0x0100, 1, 0, 0, 0);
    put8(&m, 0x41);
    put16(&m, 1);
    put16(&m, 1);
    expect_rcode(&m, HASTLS_DNS_RCODE_FORMERR);
    /* Opcode NOTIFY or UPDATE: not implemented. */
    query(&m, "a.example", 1, 0x2000, 0, 0, 0);
    expect_rcode(&m, HASTLS_DNS_RCODE_NOTIMP);
    /* Class CH, a zone transfer: refused. */
    query(&m, "version.bind", 16, 0, 0, 0, 0);
    m.b[m.n - 1] = 3;
    expect_rcode(&m, HASTLS_DNS_RCODE_REFUSED);
    query(&m, "lab.example", 252, 0, 0, 0, 0);
    expect_rcode(&m, HASTLS_DNS_RCODE_REFUSED);
    /* Two OPT records; an OPT record with an owner; EDNS version 1; an OPT
     * record in the answer section; an additional count beyond the end. */
    query(&m, "a.example", 1, 0, 1, 1232, 0);
    put_opt(&m, 1232, 0, 0);
    m.b[11] = 2;
    expect_rcode(&m, HASTLS_DNS_RCODE_FORMERR);
    query(&m, "a.example", 1, 0, 0, 0, 0);
    m.b[11] = 1;
    put_name(&m, "x");
    put16(&m, HASTLS_DNS_TYPE_OPT);
    put16(&m, 1232);
    put32(&m, 0);
    put16(&m, 0);
    expect_rcode(&m, HASTLS_DNS_RCODE_FORMERR);
    header(&m, 1, 0x0100, 1, 0, 0, 1);
    put_name(&m, "a.example");
    put16(&m, 1);
    put16(&m, 1);
    put_opt(&m, 1232, 0, 1);
    expect_rcode(&m, 16); /* BADVERS */
    header(&m, 1, 0x0100, 1, 1, 0, 0);
    put_name(&m, "a.example");
    put16(&m, 1);
    put16(&m, 1);
    put_opt(&m, 1232, 0, 0);
    expect_rcode(&m, HASTLS_DNS_RCODE_FORMERR);
    query(&m, "a.example", 1, 0, 0, 0, 0);
    m.b[11] = 3;
    expect_rcode(&m, HASTLS_DNS_RCODE_FORMERR);
}

/* ---- the answer builder ---- */

/* Builds the answer to Q from P; returns its length. */
static size_t reply(const struct msg *qm, const struct msg *p, int secure, size_t limit,
                    uint8_t *out, size_t cap)
{
    struct hastls_dns_client_query q;
    size_t n = 0;
    assert_int_equal(hastls_dns_client_query_parse(qm->b, qm->n, &q), 0);
    assert_int_equal(hastls_dns_client_reply(qm->b, qm->n, &q, p->b, p->n, secure, limit,
                                             out, cap, &n),
                     0);
    return n;
}

static void test_reply_flags_and_rrsigs(void **state)
{
    (void)state;
    struct msg qm, p;
    uint8_t out[4096];
    response_a(&p, "secure.lab.example");

    /* No EDNS, no AD asked: no AD, no RRSIG, no OPT; the program's ID and
     * its spelling of the question. */
    query(&qm, "SeCuRe.lab.example", 1, 0, 0, 0, 0);
    size_t n = reply(&qm, &p, 1, 512, out, sizeof out);
    assert_int_equal(get16(out), 0xbeef);
    assert_int_equal(get16(out + 2), 0x8180); /* qr rd ra, NOERROR */
    assert_int_equal(get16(out + 4), 1);
    assert_int_equal(get16(out + 6), 1);
    assert_int_equal(get16(out + 10), 0);
    assert_memory_equal(out + 12, qm.b + 12, qm.n - 12);
    assert_int_equal(n, qm.n + 16); /* pointer, fixed fields, 4 bytes */
    assert_int_equal(get16(out + qm.n), 0xc00c);
    assert_memory_equal(out + n - 4, "\x7f\x00\x0a\x01", 4);

    /* AD asked (the AD bit) on a secure answer: AD; on an insecure one: no. */
    query(&qm, "secure.lab.example", 1, 0x0020, 0, 0, 0);
    reply(&qm, &p, 1, 512, out, sizeof out);
    assert_int_equal(get16(out + 2), 0x81a0);
    reply(&qm, &p, 0, 512, out, sizeof out);
    assert_int_equal(get16(out + 2), 0x8180);

    /* DO: AD, the RRSIG, an OPT record with DO; CD echoed. */
    query(&qm, "secure.lab.example", 1, 0x0010, 1, 1232, 1);
    n = reply(&qm, &p, 1, 1232, out, sizeof out);
    assert_int_equal(get16(out + 2), 0x81b0);
    assert_int_equal(get16(out + 6), 2);
    assert_int_equal(get16(out + 10), 1);
    assert_int_equal(get16(out + n - 11 + 1), HASTLS_DNS_TYPE_OPT);
    assert_int_equal(get16(out + n - 11 + 7), 0x8000);

    /* EDNS without DO: OPT without DO, no RRSIG. */
    query(&qm, "secure.lab.example", 1, 0, 1, 1232, 0);
    n = reply(&qm, &p, 1, 1232, out, sizeof out);
    assert_int_equal(get16(out + 6), 1);
    assert_int_equal(get16(out + 10), 1);
    assert_int_equal(get16(out + n - 11 + 7), 0);

    /* Asked for RRSIG by type: kept without DO (the A record too). */
    response_a(&p, "secure.lab.example");
    p.b[12 + 20] = 0; /* question type A -> 46 */
    p.b[12 + 21] = HASTLS_DNS_TYPE_RRSIG;
    query(&qm, "secure.lab.example", HASTLS_DNS_TYPE_RRSIG, 0, 0, 0, 0);
    reply(&qm, &p, 1, 512, out, sizeof out);
    assert_int_equal(get16(out + 6), 2);
}

static void test_reply_truncated(void **state)
{
    (void)state;
    struct msg qm, p;
    uint8_t out[4096];
    response_a(&p, "secure.lab.example");
    query(&qm, "secure.lab.example", 1, 0, 1, 1232, 1);
    /* Room for the question and OPT only: TC, no records. */
    size_t n = reply(&qm, &p, 1, qm.n + 5, out, sizeof out);
    assert_true(get16(out + 2) & 0x0200);
    assert_int_equal(get16(out + 6), 0);
    assert_int_equal(get16(out + 10), 1);
    assert_int_equal(n, qm.n);
    /* A full answer is not truncated. */
    n = reply(&qm, &p, 1, 1232, out, sizeof out);
    assert_false(get16(out + 2) & 0x0200);
}

static void test_reply_expands_names(void **state)
{
    (void)state;
    struct msg qm, p;
    uint8_t out[4096];
    /* alias.lab.example CNAME secure.lab.example, the target compressed
     * against the question ("lab.example" at offset 18), then an MX and an
     * SOA with compressed names. */
    header(&p, 0, 0x8180, 1, 2, 1, 0);
    put_name(&p, "alias.lab.example");
    put16(&p, 5);
    put16(&p, 1);
    put16(&p, 0xc00c);
    put16(&p, 5);
    put16(&p, 1);
    put32(&p, 60);
    put16(&p, 9);
    put8(&p, 6);
    put(&p, "secure", 6);
    put16(&p, 0xc000 | 18);
    put16(&p, 0xc000 | 18); /* lab.example MX 10 mail.lab.example */
    put16(&p, 15);
    put16(&p, 1);
    put32(&p, 60);
    put16(&p, 9);
    put16(&p, 10);
    put8(&p, 4);
    put(&p, "mail", 4);
    put16(&p, 0xc000 | 18);
    put16(&p, 0xc000 | 18); /* SOA */
    put16(&p, 6);
    put16(&p, 1);
    put32(&p, 60);
    put16(&p, 4 + 20);
    put16(&p, 0xc000 | 18);
    put16(&p, 0xc000 | 18);
    for (int i = 0; i < 5; i++)
        put32(&p, (uint32_t)i);
    query(&qm, "alias.lab.example", 5, 0, 0, 0, 0);
    size_t n = reply(&qm, &p, 0, 512, out, sizeof out);
    const uint8_t want_cname[] = "\x06secure\x03lab\x07"
                                 "example";
    size_t o = qm.n;
    assert_int_equal(get16(out + o), 0xc00c);
    assert_int_equal(get16(out + o + 10), sizeof want_cname);
    assert_memory_equal(out + o + 12, want_cname, sizeof want_cname);
    o += 12 + sizeof want_cname;
    const uint8_t want_owner[] = "\x03lab\x07"
                                 "example";
    assert_memory_equal(out + o, want_owner, sizeof want_owner);
    o += sizeof want_owner;
    assert_int_equal(get16(out + o), 15);
    assert_int_equal(get16(out + o + 8), 2 + 18);
    assert_memory_equal(out + o + 12,
                        "\x04mail\x03lab\x07"
                        "example",
                        18);
    o += 10 + 2 + 18;
    o += sizeof want_owner;
    assert_int_equal(get16(out + o), 6);
    assert_int_equal(get16(out + o + 8), 13 + 13 + 20);
    o += 10 + 26;
    assert_int_equal(o + 20, n);
}

static int reply_rc(const struct msg *qm, const struct msg *p)
{
    struct hastls_dns_client_query q;
    uint8_t out[4096];
    size_t n;
    assert_int_equal(hastls_dns_client_query_parse(qm->b, qm->n, &q), 0);
    return hastls_dns_client_reply(qm->b, qm->n, &q, p->b, p->n, 1, 1232, out, sizeof out,
                                   &n);
}

static void test_reply_malformed(void **state)
{
    (void)state;
    struct msg qm, p;
    query(&qm, "secure.lab.example", 1, 0, 0, 0, 0);
    response_a(&p, "secure.lab.example");
    assert_int_equal(reply_rc(&qm, &p), 0);
    /* Cut anywhere before the end of its records: refused, never read past. */
    struct msg cut = p;
    for (cut.n = 0; cut.n < p.n - 11; cut.n++)
        assert_int_equal(reply_rc(&qm, &cut), -1);
    /* Another question. */
    response_a(&p, "other.lab.example");
    assert_int_equal(reply_rc(&qm, &p), -1);
    /* A pointer forwards (a loop would follow) in an owner name. */
    response_a(&p, "secure.lab.example");
    p.b[12 + 24] = 0xc0;
    p.b[12 + 25] = 0xff;
    assert_int_equal(reply_rc(&qm, &p), -1);
    /* A CNAME whose RDATA name runs past its RDATA. */
    query(&qm, "a.example", 5, 0, 0, 0, 0);
    header(&p, 0, 0x8180, 1, 1, 0, 0);
    put_name(&p, "a.example");
    put16(&p, 5);
    put16(&p, 1);
    put16(&p, 0xc00c);
    put16(&p, 5);
    put16(&p, 1);
    put32(&p, 60);
    put16(&p, 2);
    put_name(&p, "b.example");
    assert_int_equal(reply_rc(&qm, &p), -1);
    /* An SOA with the wrong number of fixed bytes. */
    header(&p, 0, 0x8180, 1, 0, 1, 0);
    put_name(&p, "a.example");
    put16(&p, 5);
    put16(&p, 1);
    put16(&p, 0xc00c);
    put16(&p, 6);
    put16(&p, 1);
    put32(&p, 60);
    put16(&p, 4 + 19);
    put16(&p, 0xc00c);
    put16(&p, 0xc00c);
    for (int i = 0; i < 19; i++)
        put8(&p, 0);
    assert_int_equal(reply_rc(&qm, &p), -1);
    /* A query that is not to be resolved is never answered with records. */
    struct hastls_dns_client_query q;
    uint8_t out[512];
    size_t n;
    query(&qm, "a.example", 252, 0, 0, 0, 0);
    assert_int_equal(hastls_dns_client_query_parse(qm.b, qm.n, &q), 0);
    assert_int_equal(
        hastls_dns_client_reply(qm.b, qm.n, &q, p.b, p.n, 1, 512, out, sizeof out, &n),
        -1);
}

/* ---- the error builder ---- */

static void test_error_answers(void **state)
{
    (void)state;
    struct msg qm;
    struct hastls_dns_client_query q;
    uint8_t out[512];
    size_t n;
    /* Bogus, with EDNS: SERVFAIL, the question, EDE 6 with its text. */
    query(&qm, "www.bogus.lab.example", 1, 0x0010, 1, 1232, 1);
    assert_int_equal(hastls_dns_client_query_parse(qm.b, qm.n, &q), 0);
    assert_int_equal(hastls_dns_client_error(qm.b, qm.n, &q, HASTLS_DNS_RCODE_SERVFAIL,
                                             HASTLS_DNS_EDE_BOGUS, "no DS", out,
                                             sizeof out, &n),
                     0);
    assert_int_equal(get16(out), 0xbeef);
    assert_int_equal(get16(out + 2), 0x8192); /* qr rd ra cd SERVFAIL */
    assert_int_equal(get16(out + 4), 1);
    assert_int_equal(get16(out + 6), 0);
    assert_int_equal(get16(out + 10), 1);
    size_t o = qm.n - 11; /* the question's end */
    assert_memory_equal(out + 12, qm.b + 12, o - 12);
    assert_int_equal(get16(out + o + 1), HASTLS_DNS_TYPE_OPT);
    assert_int_equal(get16(out + o + 9), 6 + 5);
    assert_int_equal(get16(out + o + 11), HASTLS_DNS_OPT_EDE);
    assert_int_equal(get16(out + o + 13), 2 + 5);
    assert_int_equal(get16(out + o + 15), HASTLS_DNS_EDE_BOGUS);
    assert_memory_equal(out + o + 17, "no DS", 5);
    assert_int_equal(n, o + 22);
    /* A long text is cut. */
    char text[400];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    assert_int_equal(hastls_dns_client_error(qm.b, qm.n, &q, HASTLS_DNS_RCODE_SERVFAIL,
                                             HASTLS_DNS_EDE_BOGUS, text, out, sizeof out,
                                             &n),
                     0);
    assert_int_equal(n, o + 17 + HASTLS_DNS_EDE_TEXT_MAX);
    /* Too small a buffer. */
    assert_int_equal(hastls_dns_client_error(qm.b, qm.n, &q, HASTLS_DNS_RCODE_SERVFAIL,
                                             HASTLS_DNS_EDE_BOGUS, "x", out, 20, &n),
                     -1);
    /* Without EDNS: no OPT record. */
    query(&qm, "www.bogus.lab.example", 1, 0, 0, 0, 0);
    assert_int_equal(hastls_dns_client_query_parse(qm.b, qm.n, &q), 0);
    assert_int_equal(hastls_dns_client_error(qm.b, qm.n, &q, HASTLS_DNS_RCODE_SERVFAIL,
                                             HASTLS_DNS_EDE_BOGUS, "x", out, sizeof out,
                                             &n),
                     0);
    assert_int_equal(n, qm.n);
    assert_int_equal(get16(out + 10), 0);
    /* BADVERS: extended RCODE 1 in the OPT record, 0 in the header. */
    header(&qm, 7, 0x0100, 1, 0, 0, 1);
    put_name(&qm, "a.example");
    put16(&qm, 1);
    put16(&qm, 1);
    put_opt(&qm, 1232, 0, 1);
    assert_int_equal(hastls_dns_client_query_parse(qm.b, qm.n, &q), 0);
    assert_int_equal(
        hastls_dns_client_error(qm.b, qm.n, &q, 0, -1, NULL, out, sizeof out, &n), 0);
    assert_int_equal(get16(out + 2) & 0xf, 0);
    assert_int_equal(out[n - 11 + 5], 1);
    /* No usable question: FORMERR without one. */
    header(&qm, 9, 0x0100, 2, 0, 0, 0);
    assert_int_equal(hastls_dns_client_query_parse(qm.b, qm.n, &q), 0);
    assert_int_equal(
        hastls_dns_client_error(qm.b, qm.n, &q, 0, -1, NULL, out, sizeof out, &n), 0);
    assert_int_equal(n, 12);
    assert_int_equal(get16(out + 2), 0x8181);
    assert_int_equal(get16(out + 4), 0);
    /* NOTIMP echoes the opcode. */
    query(&qm, "a.example", 1, 0x2000, 0, 0, 0);
    assert_int_equal(hastls_dns_client_query_parse(qm.b, qm.n, &q), 0);
    assert_int_equal(
        hastls_dns_client_error(qm.b, qm.n, &q, 0, -1, NULL, out, sizeof out, &n), 0);
    assert_int_equal(get16(out + 2), 0xa184);
}

/* ---- SRV and MX targets ---- */

static void test_target_name(void **state)
{
    (void)state;
    struct msg m;
    char name[256];
    /* An MX target compressed against the owner at offset 12. */
    header(&m, 0, 0x8180, 0, 0, 0, 0);
    put_name(&m, "lab.example");
    size_t rd = m.n;
    put16(&m, 10);
    put8(&m, 4);
    put(&m, "mail", 4);
    put16(&m, 0xc00c);
    assert_int_equal(
        hastls_dns_target_name(m.b, m.n, 15, m.b + rd, m.n - rd, name, sizeof name), 0);
    assert_string_equal(name, "mail.lab.example");
    /* An SRV target, read alone. */
    struct msg s = {.n = 0};
    put16(&s, 0);
    put16(&s, 0);
    put16(&s, 5222);
    put_name(&s, "xmpp.lab.example");
    assert_int_equal(hastls_dns_target_name(NULL, 0, 33, s.b, s.n, name, sizeof name), 0);
    assert_string_equal(name, "xmpp.lab.example");
    /* Cut anywhere: refused. */
    for (size_t n = 0; n < s.n; n++)
        assert_int_equal(hastls_dns_target_name(NULL, 0, 33, s.b, n, name, sizeof name),
                         -1);
    /* "No service" (the root), another type, too small an output. */
    s.n = 6;
    put8(&s, 0);
    assert_int_equal(hastls_dns_target_name(NULL, 0, 33, s.b, s.n, name, sizeof name),
                     -1);
    assert_int_equal(
        hastls_dns_target_name(m.b, m.n, 1, m.b + rd, m.n - rd, name, sizeof name), -1);
    assert_int_equal(hastls_dns_target_name(m.b, m.n, 15, m.b + rd, m.n - rd, name, 5),
                     -1);
    assert_int_equal(hastls_dns_target_name(m.b, m.n, 15, NULL, 0, name, sizeof name),
                     -1);
}

/* ---- the configuration key ---- */

static void test_config_key(void **state)
{
    (void)state;
    struct hastls_config cfg;
    char err[1024];
    const char *t;
    hastls_config_defaults(&cfg);
    assert_int_equal(cfg.dns_redirect, 1);
    t = "[resolver]\ndns_redirect = no\n";
    assert_int_equal(
        hastls_config_load_string(t, strlen(t), "t.conf", NULL, &cfg, err, sizeof err),
        0);
    assert_int_equal(cfg.dns_redirect, 0);
    t = "[resolver]\ndns_redirect = no\n[app:dig]\ndns_redirect = yes\n";
    assert_int_equal(hastls_config_load_string(t, strlen(t), "t.conf", "/usr/bin/dig",
                                               &cfg, err, sizeof err),
                     0);
    assert_int_equal(cfg.dns_redirect, 1);
    assert_int_equal(hastls_config_load_string(t, strlen(t), "t.conf", "/usr/bin/host",
                                               &cfg, err, sizeof err),
                     0);
    assert_int_equal(cfg.dns_redirect, 0);
    t = "[resolver]\ndns_redirect = on\n";
    assert_int_equal(
        hastls_config_load_string(t, strlen(t), "t.conf", NULL, &cfg, err, sizeof err),
        -1);
    assert_non_null(strstr(err,
                           "t.conf:2: bad value 'on' for dns_redirect (expected no or "
                           "yes)"));
    t = "[policy]\ndns_redirect = no\n";
    assert_int_equal(
        hastls_config_load_string(t, strlen(t), "t.conf", NULL, &cfg, err, sizeof err),
        -1);
    assert_non_null(strstr(err, "belongs in [resolver]"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_plain_and_edns),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_reply_flags_and_rrsigs),
        cmocka_unit_test(test_reply_truncated),
        cmocka_unit_test(test_reply_expands_names),
        cmocka_unit_test(test_reply_malformed),
        cmocka_unit_test(test_error_answers),
        cmocka_unit_test(test_target_name),
        cmocka_unit_test(test_config_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
