/* tests/unit/test_agentwire.c: the agent's message codec, round trips and
 * every malformed form the decoders must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy/agentwire.h"

static uint8_t frame[HASTLS_AGENT_MAX_BODY + HASTLS_AGENT_FRAME_PREFIX];

static struct hastls_agent_request lookup_request(void)
{
    struct hastls_agent_request req = {.op = HASTLS_AGENT_OP_LOOKUP, .id = 0x01020304};
    req.nq = 3;
    req.q[0].qtype = 1;
    req.q[1].qtype = 28;
    req.q[2].qtype = 65301;
    for (int i = 0; i < 3; i++)
        snprintf(req.q[i].name, sizeof req.q[i].name, "secure.lab.example");
    return req;
}

/* The body of a frame after checking its prefix. */
static const uint8_t *body_of(const uint8_t *f, size_t flen, size_t *blen)
{
    assert_int_equal(hastls_agent_frame_len(f, flen, HASTLS_AGENT_MAX_BODY, blen), 1);
    assert_int_equal(*blen + HASTLS_AGENT_FRAME_PREFIX, flen);
    return f + HASTLS_AGENT_FRAME_PREFIX;
}

static void request_round_trip(void **state)
{
    (void)state;
    struct hastls_agent_request req = lookup_request(), got;
    size_t flen = hastls_agent_request_encode(&req, frame, sizeof frame), blen;
    assert_true(flen > 0);
    const uint8_t *body = body_of(frame, flen, &blen);
    assert_int_equal(hastls_agent_request_decode(body, blen, &got), 0);
    assert_int_equal(got.op, HASTLS_AGENT_OP_LOOKUP);
    assert_int_equal(got.id, 0x01020304);
    assert_int_equal(got.nq, 3);
    assert_int_equal(got.q[2].qtype, 65301);
    assert_string_equal(got.q[1].name, "secure.lab.example");

    struct hastls_agent_request st = {.op = HASTLS_AGENT_OP_STATUS, .id = 7};
    flen = hastls_agent_request_encode(&st, frame, sizeof frame);
    body = body_of(frame, flen, &blen);
    assert_int_equal(hastls_agent_request_decode(body, blen, &got), 0);
    assert_int_equal(got.op, HASTLS_AGENT_OP_STATUS);
    assert_int_equal(got.nq, 0);
}

static void request_encode_refuses(void **state)
{
    (void)state;
    struct hastls_agent_request req = lookup_request();
    req.nq = HASTLS_AGENT_MAX_QUERIES + 1;
    assert_int_equal(hastls_agent_request_encode(&req, frame, sizeof frame), 0);
    req = lookup_request();
    memset(req.q[0].name, 'a', sizeof req.q[0].name); /* not terminated */
    assert_int_equal(hastls_agent_request_encode(&req, frame, sizeof frame), 0);
    req = lookup_request();
    assert_int_equal(hastls_agent_request_encode(&req, frame, 20), 0); /* too small */
    req.op = (enum hastls_agent_op)9;
    assert_int_equal(hastls_agent_request_encode(&req, frame, sizeof frame), 0);
    struct hastls_agent_request st = {.op = HASTLS_AGENT_OP_STOP, .nq = 1};
    assert_int_equal(hastls_agent_request_encode(&st, frame, sizeof frame), 0);
}

/* Every truncation and every single-byte change of a valid request either
 * decodes to the same shape or is refused; truncations are always refused. */
static void request_decode_refuses(void **state)
{
    (void)state;
    struct hastls_agent_request req = lookup_request(), got;
    size_t flen = hastls_agent_request_encode(&req, frame, sizeof frame), blen;
    const uint8_t *body = body_of(frame, flen, &blen);
    uint8_t copy[1024];
    memcpy(copy, body, blen);
    for (size_t cut = 0; cut < blen; cut++)
        assert_int_equal(hastls_agent_request_decode(copy, cut, &got), -1);
    /* One byte more than the items say. */
    copy[blen] = 0;
    assert_int_equal(hastls_agent_request_decode(copy, blen + 1, &got), -1);
    /* Header fields. */
    struct {
        size_t off;
        uint8_t val;
    } bad[] = {
        {0, 2},  /* version */
        {1, 0},  /* op */
        {1, 4},  /* op */
        {3, 1},  /* flags */
        {8, 0},  /* LOOKUP without queries */
        {8, 9},  /* too many */
        {11, 0}, /* empty first name */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(copy, body, blen);
        copy[bad[i].off] = bad[i].val;
        assert_int_equal(hastls_agent_request_decode(copy, blen, &got), -1);
    }
    /* A NUL inside a name. */
    memcpy(copy, body, blen);
    copy[14] = 0;
    assert_int_equal(hastls_agent_request_decode(copy, blen, &got), -1);
    /* A STATUS request with an item. */
    memcpy(copy, body, blen);
    copy[1] = HASTLS_AGENT_OP_STATUS;
    assert_int_equal(hastls_agent_request_decode(copy, blen, &got), -1);
}

static void frame_len(void **state)
{
    (void)state;
    const uint8_t f[] = {0, 0, 0, 9};
    size_t n = 0;
    assert_int_equal(hastls_agent_frame_len(f, 3, 100, &n), 0);
    assert_int_equal(hastls_agent_frame_len(f, 4, 100, &n), 1);
    assert_int_equal(n, 9);
    assert_int_equal(hastls_agent_frame_len(f, 4, 8, &n), -1); /* over max */
    const uint8_t small[] = {0, 0, 0, 8};
    assert_int_equal(hastls_agent_frame_len(small, 4, 100, &n), -1);
    const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(hastls_agent_frame_len(huge, 4, HASTLS_AGENT_MAX_BODY, &n), -1);
}

static struct hastls_agent_answer sample_answer(const uint8_t *pkt, size_t plen)
{
    struct hastls_agent_answer a = {.qtype = 1,
                                    .status = HASTLS_SEC_BOGUS,
                                    .rcode = 2,
                                    .ttl = 300,
                                    .packet = pkt,
                                    .packet_len = plen};
    snprintf(a.qname, sizeof a.qname, "halfbogus.lab.example");
    snprintf(a.canonname, sizeof a.canonname, "halfbogus.lab.example");
    snprintf(a.reason, sizeof a.reason, "signature crypto failed from 127.0.0.53");
    return a;
}

static void response_round_trip(void **state)
{
    (void)state;
    uint8_t pkt[40];
    for (size_t i = 0; i < sizeof pkt; i++)
        pkt[i] = (uint8_t)i;
    struct hastls_agent_writer w;
    hastls_agent_response_begin(&w, frame, sizeof frame, HASTLS_AGENT_OP_LOOKUP, 42);
    struct hastls_agent_answer a = sample_answer(pkt, sizeof pkt);
    hastls_agent_response_answer(&w, &a);
    a.status = HASTLS_SEC_FAILED;
    a.rcode = -1;
    a.packet = NULL;
    a.packet_len = 0;
    a.reason[0] = '\0';
    hastls_agent_response_answer(&w, &a);
    size_t flen = hastls_agent_response_end(&w), blen;
    assert_true(flen > 0);
    const uint8_t *body = body_of(frame, flen, &blen);

    struct hastls_agent_answer got[4];
    size_t n = 0;
    assert_int_equal(hastls_agent_response_decode(body, blen, HASTLS_AGENT_OP_LOOKUP, 42,
                                                  got, 4, &n, NULL, NULL),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(got[0].status, HASTLS_SEC_BOGUS);
    assert_int_equal(got[0].rcode, 2);
    assert_int_equal(got[0].ttl, 300);
    assert_string_equal(got[0].reason, "signature crypto failed from 127.0.0.53");
    assert_int_equal(got[0].packet_len, sizeof pkt);
    assert_memory_equal(got[0].packet, pkt, sizeof pkt);
    assert_int_equal(got[1].rcode, -1);
    assert_null(got[1].packet);
    /* Wrong id, wrong op, too little room. */
    assert_int_equal(hastls_agent_response_decode(body, blen, HASTLS_AGENT_OP_LOOKUP, 43,
                                                  got, 4, &n, NULL, NULL),
                     -1);
    assert_int_equal(hastls_agent_response_decode(body, blen, HASTLS_AGENT_OP_STOP, 42,
                                                  got, 4, &n, NULL, NULL),
                     -1);
    assert_int_equal(hastls_agent_response_decode(body, blen, HASTLS_AGENT_OP_LOOKUP, 42,
                                                  got, 1, &n, NULL, NULL),
                     -1);
    /* Every truncation. */
    for (size_t cut = 0; cut < blen; cut++)
        assert_int_equal(hastls_agent_response_decode(body, cut, HASTLS_AGENT_OP_LOOKUP,
                                                      42, got, 4, &n, NULL, NULL),
                         -1);
}

/* The id of a body is read from a well-formed header only. */
static void body_id(void **state)
{
    (void)state;
    struct hastls_agent_writer w;
    hastls_agent_response_begin(&w, frame, sizeof frame, HASTLS_AGENT_OP_STATUS,
                                0xdeadbeef);
    hastls_agent_response_text(&w, "pid: 1\n", 7);
    size_t flen = hastls_agent_response_end(&w), blen;
    const uint8_t *body = body_of(frame, flen, &blen);
    enum hastls_agent_op op = HASTLS_AGENT_OP_LOOKUP;
    uint32_t id = 0;
    assert_int_equal(hastls_agent_body_id(body, blen, &op, &id), 0);
    assert_int_equal(op, HASTLS_AGENT_OP_STATUS);
    assert_int_equal(id, 0xdeadbeef);
    /* shorter than a header */
    for (size_t cut = 0; cut < 9; cut++)
        assert_int_equal(hastls_agent_body_id(body, cut, &op, &id), -1);
    uint8_t copy[64];
    memcpy(copy, body, blen);
    copy[0] = 2; /* version */
    assert_int_equal(hastls_agent_body_id(copy, blen, &op, &id), -1);
    memcpy(copy, body, blen);
    copy[1] = 4; /* op */
    assert_int_equal(hastls_agent_body_id(copy, blen, &op, &id), -1);
    memcpy(copy, body, blen);
    copy[3] = 1; /* flags */
    assert_int_equal(hastls_agent_body_id(copy, blen, &op, &id), -1);
    memcpy(copy, body, blen);
    copy[8] = HASTLS_AGENT_MAX_QUERIES + 1; /* count */
    assert_int_equal(hastls_agent_body_id(copy, blen, &op, &id), -1);
}

static void response_refuses_bad_values(void **state)
{
    (void)state;
    uint8_t pkt[4] = {1, 2, 3, 4};
    struct hastls_agent_writer w;
    struct hastls_agent_answer a = sample_answer(pkt, sizeof pkt);
    hastls_agent_response_begin(&w, frame, sizeof frame, HASTLS_AGENT_OP_LOOKUP, 1);
    hastls_agent_response_answer(&w, &a);
    size_t flen = hastls_agent_response_end(&w), blen;
    const uint8_t *body = body_of(frame, flen, &blen);
    uint8_t copy[1024];
    struct hastls_agent_answer got[1];
    size_t n;
    /* status byte (body offset 9 + 2) out of range */
    memcpy(copy, body, blen);
    copy[11] = 4;
    assert_int_equal(hastls_agent_response_decode(copy, blen, HASTLS_AGENT_OP_LOOKUP, 1,
                                                  got, 1, &n, NULL, NULL),
                     -1);
    /* rcode -2 */
    memcpy(copy, body, blen);
    copy[12] = 0xff;
    copy[13] = 0xfe;
    assert_int_equal(hastls_agent_response_decode(copy, blen, HASTLS_AGENT_OP_LOOKUP, 1,
                                                  got, 1, &n, NULL, NULL),
                     -1);
    /* a NUL in the qname (offset 19 is its first byte) */
    memcpy(copy, body, blen);
    copy[19] = 0;
    assert_int_equal(hastls_agent_response_decode(copy, blen, HASTLS_AGENT_OP_LOOKUP, 1,
                                                  got, 1, &n, NULL, NULL),
                     -1);

    /* The writer refuses what the reader would. */
    hastls_agent_response_begin(&w, frame, sizeof frame, HASTLS_AGENT_OP_LOOKUP, 1);
    a.status = (enum hastls_sec)7;
    hastls_agent_response_answer(&w, &a);
    assert_int_equal(hastls_agent_response_end(&w), 0);
    a = sample_answer(pkt, sizeof pkt);
    a.packet_len = HASTLS_AGENT_MAX_PACKET + 1;
    hastls_agent_response_begin(&w, frame, sizeof frame, HASTLS_AGENT_OP_LOOKUP, 1);
    hastls_agent_response_answer(&w, &a);
    assert_int_equal(hastls_agent_response_end(&w), 0);
    a = sample_answer(pkt, sizeof pkt);
    hastls_agent_response_begin(&w, frame, 30, HASTLS_AGENT_OP_LOOKUP, 1);
    hastls_agent_response_answer(&w, &a);
    assert_int_equal(hastls_agent_response_end(&w), 0);
    hastls_agent_response_begin(&w, frame, sizeof frame, HASTLS_AGENT_OP_LOOKUP, 1);
    for (int i = 0; i <= HASTLS_AGENT_MAX_QUERIES; i++)
        hastls_agent_response_answer(&w, &a);
    assert_int_equal(hastls_agent_response_end(&w), 0);
}

static void status_text(void **state)
{
    (void)state;
    struct hastls_agent_writer w;
    const char text[] = "pid: 12\nlookups: 3\n";
    hastls_agent_response_begin(&w, frame, sizeof frame, HASTLS_AGENT_OP_STATUS, 5);
    hastls_agent_response_text(&w, text, strlen(text));
    size_t flen = hastls_agent_response_end(&w), blen;
    const uint8_t *body = body_of(frame, flen, &blen);
    const char *t = NULL;
    size_t tl = 0;
    assert_int_equal(hastls_agent_response_decode(body, blen, HASTLS_AGENT_OP_STATUS, 5,
                                                  NULL, 0, NULL, &t, &tl),
                     0);
    assert_int_equal(tl, strlen(text));
    assert_memory_equal(t, text, tl);
    /* STATUS without its text item */
    hastls_agent_response_begin(&w, frame, sizeof frame, HASTLS_AGENT_OP_STATUS, 5);
    flen = hastls_agent_response_end(&w);
    body = body_of(frame, flen, &blen);
    assert_int_equal(hastls_agent_response_decode(body, blen, HASTLS_AGENT_OP_STATUS, 5,
                                                  NULL, 0, NULL, &t, &tl),
                     -1);
    /* STOP carries nothing */
    hastls_agent_response_begin(&w, frame, sizeof frame, HASTLS_AGENT_OP_STOP, 6);
    flen = hastls_agent_response_end(&w);
    body = body_of(frame, flen, &blen);
    assert_int_equal(hastls_agent_response_decode(body, blen, HASTLS_AGENT_OP_STOP, 6,
                                                  NULL, 0, NULL, NULL, NULL),
                     0);
}

static void status_field(void **state)
{
    (void)state;
    char v[32];
#define FIELD(text, name, cap) hastls_agent_status_field(text, strlen(text), name, v, cap)
    assert_int_equal(FIELD("pid: 12\nkey: agent-1-ab\n", "key", sizeof v), 1);
    assert_string_equal(v, "agent-1-ab");
    assert_int_equal(FIELD("key: first\nkey: second\n", "key", sizeof v), 1);
    assert_string_equal(v, "first");
    /* absent: another field, a longer name, a prefix of the name, no space */
    assert_int_equal(FIELD("pid: 12\n", "key", sizeof v), 0);
    assert_string_equal(v, "");
    assert_int_equal(FIELD("keys: x\nmykey: y\nke: z\nkey:w\n", "key", sizeof v), 0);
    assert_int_equal(FIELD("", "key", sizeof v), 0);
    /* malformed: unterminated, empty, too long, control bytes, 8-bit */
    assert_int_equal(FIELD("pid: 1\nkey: agent", "key", sizeof v), -1);
    assert_int_equal(FIELD("key: \n", "key", sizeof v), -1);
    assert_int_equal(FIELD("key: 0123456789\n", "key", 10), -1);
    assert_int_equal(FIELD("key: 012345678\n", "key", 10), 1);
    assert_int_equal(FIELD("key: a\tb\n", "key", sizeof v), -1);
    assert_int_equal(FIELD("key: a\rb\n", "key", sizeof v), -1);
    assert_int_equal(FIELD("key: caf\xc3\xa9\n", "key", sizeof v), -1);
    /* a NUL inside the text is a byte like any other: not a terminator */
    const char nul[] = "key: a\0b\n";
    assert_int_equal(hastls_agent_status_field(nul, sizeof nul - 1, "key", v, sizeof v),
                     -1);
    const char after[] = "pid: \0\nkey: ok\n";
    assert_int_equal(
        hastls_agent_status_field(after, sizeof after - 1, "key", v, sizeof v), 1);
    assert_string_equal(v, "ok");
#undef FIELD
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_round_trip),
        cmocka_unit_test(request_encode_refuses),
        cmocka_unit_test(request_decode_refuses),
        cmocka_unit_test(frame_len),
        cmocka_unit_test(response_round_trip),
        cmocka_unit_test(body_id),
        cmocka_unit_test(response_refuses_bad_values),
        cmocka_unit_test(status_text),
        cmocka_unit_test(status_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
