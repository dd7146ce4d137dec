/* tests/unit/test_resolver_upstream.c: the upstream state machine
 * (shim/resolver/upstream.c) replayed against scripted peers with a fake
 * clock, as unbound's testbound does: no socket, no thread, no real time.
 * The test plays the event loop: it takes the work the machine queues (open,
 * close, answers), reads the bytes the machine wants to send as the upstream
 * would, and answers, stalls, resets or fails as each scenario says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config.h"
#include "policy/dnswire.h"
#include "shim/resolver/upstream.h"
#include "shim/resolver/work.h"

#define T0 1000000u /* the fake clock's start: any time but 0 */
#define MAXQ 16

/* One query as the upstream saw it on the wire. */
struct seen {
    uint8_t msg[512];
    size_t len;
    uint16_t id;
};

struct bench {
    struct hastls_config cfg;
    struct hastls_workq work;
    struct hastls_up_engine *e;
    uint64_t now;
    uint16_t next_id; /* the machine's IDs come from here */
    int same_id;      /* hand out the same ID this many times first */
    char log[4096];
    struct hastls_work *answers[64]; /* ANSWER and PREFETCH_DONE items taken */
    size_t nanswers;
    int clients[MAXQ]; /* their addresses are the client tokens */
};

static struct bench *current;

static void capture_log(enum hastls_log_level level, const char *msg)
{
    (void)level;
    size_t l = strlen(current->log);
    snprintf(current->log + l, sizeof current->log - l, "%s\n", msg);
}

static uint16_t scripted_id(void *arg)
{
    struct bench *b = arg;
    if (b->same_id > 0) {
        b->same_id--;
        return 0x4242;
    }
    return b->next_id++;
}

/* A bench for upstreams SPECS (NULL-terminated) under PRIVACY. */
static struct bench *bench_new(enum hastls_privacy privacy, const char *const *specs)
{
    struct bench *b = calloc(1, sizeof *b);
    assert_non_null(b);
    char err[256];
    hastls_config_defaults(&b->cfg);
    b->cfg.n_upstreams = 0;
    for (size_t i = 0; specs[i]; i++)
        assert_int_equal(hastls_upstream_parse(specs[i],
                                               &b->cfg.upstreams[b->cfg.n_upstreams++],
                                               err, sizeof err),
                         0);
    b->cfg.privacy = privacy;
    b->cfg.timeout_ms = 2000; /* attempts of 1000 ms, resend after 500 */
    b->cfg.log_level = HASTLS_LOG_DEBUG;
    hastls_workq_init(&b->work);
    current = b;
    b->e = hastls_up_new(&b->cfg, capture_log, &b->work);
    assert_non_null(b->e);
    b->next_id = 0x100;
    hastls_up_set_id_source(b->e, scripted_id, b);
    b->now = T0;
    return b;
}

static void bench_free(struct bench *b)
{
    for (size_t i = 0; i < b->nanswers; i++)
        hastls_work_release(b->answers[i]);
    hastls_workq_clear(&b->work);
    hastls_up_free(b->e);
    free(b);
}

static const char *const ONE[] = {"127.0.0.1@853#a.example", NULL};
static const char *const TWO[] = {"127.0.0.1@853#a.example", "127.0.0.2@853#b.example",
                                  NULL};

/* Connection indices: 2u is upstream u over TLS, 2u+1 over cleartext. */
enum { U0_TLS = 0, U0_CLEAR = 1, U1_TLS = 2 };

/* A query for NAME, TYPE with ID (DO set). */
static size_t make_query(uint8_t *out, const char *name, uint16_t type, uint16_t id)
{
    uint8_t wire[256];
    size_t n = 0, len, qend;
    for (const char *p = name; *p;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        wire[n++] = (uint8_t)l;
        memcpy(wire + n, p, l);
        n += l;
        p += l + (dot ? 1 : 0);
    }
    wire[n++] = 0;
    assert_int_equal(hastls_dns_build_query(wire, n, type, 1, out, 512, &len, &qend), 0);
    hastls_dns_set_id(out, id);
    return len;
}

/* Client K asks NAME (type A) with ID. */
static void ask(struct bench *b, int k, const char *name, uint16_t id)
{
    uint8_t q[512];
    size_t len = make_query(q, name, 1, id);
    assert_int_equal(hastls_up_submit(b->e, b->now, &b->clients[k], q, len, 0), 0);
}

/* Takes the queued work until the first CONNECT or CLOSE and returns it
 * ("-1" when none), keeping answers aside. */
static struct hastls_work *next_conn_work(struct bench *b)
{
    struct hastls_work *w;
    while ((w = hastls_workq_pop(&b->work)) != NULL) {
        if (w->kind == HASTLS_WORK_CONNECT || w->kind == HASTLS_WORK_CLOSE)
            return w;
        assert_true(b->nanswers < 64);
        b->answers[b->nanswers++] = w;
    }
    return NULL;
}

static void expect_work(struct bench *b, enum hastls_work_kind kind, int conn)
{
    struct hastls_work *w = next_conn_work(b);
    if (!w)
        fail_msg("expected work %d on connection %d, found none", kind, conn);
    if (w->kind != kind || w->conn != conn)
        fail_msg("expected work %d on connection %d, found %d on %d", kind, conn, w->kind,
                 w->conn);
}

static void expect_no_conn_work(struct bench *b)
{
    struct hastls_work *w = next_conn_work(b);
    if (w)
        fail_msg("unexpected work %d on connection %d", w->kind, w->conn);
}

/* The connection I connects and (TLS) finishes its handshake: AUTH says
 * whether it authenticated. */
static void bring_up(struct bench *b, size_t i, int auth)
{
    hastls_up_connected(b->e, i, b->now);
    if (hastls_up_conn(b->e, i)->tls) {
        assert_int_equal(hastls_up_conn(b->e, i)->st, HASTLS_UP_HANDSHAKING);
        struct hastls_up_secured s = {auth, 0, auth ? "" : "certificate name mismatch",
                                      NULL};
        hastls_up_secured(b->e, i, b->now, &s);
    }
}

/* The upstream on connection I reads what was sent: the queries, into SEEN.
 * Each write the machine asks for is checked to hold whole messages only, and
 * on TLS exactly one (a record of its own). */
static size_t peer_read(struct bench *b, size_t i, struct seen *seen, size_t cap)
{
    const uint8_t *p;
    size_t n, k = 0;
    while ((n = hastls_up_pending(b->e, i, &p)) > 0) {
        size_t off = 0, mlen, in_write = 0;
        const uint8_t *msg;
        while (hastls_dns_stream_next(p, n, &off, &msg, &mlen)) {
            assert_true(k < cap);
            assert_true(mlen <= sizeof seen[k].msg);
            memcpy(seen[k].msg, msg, mlen);
            seen[k].len = mlen;
            seen[k].id = hastls_dns_id(msg);
            k++;
            in_write++;
        }
        assert_int_equal(off, n); /* only whole messages are queued */
        if (hastls_up_conn(b->e, i)->tls)
            assert_int_equal(in_write, 1);
        hastls_up_sent(b->e, i, n);
    }
    return k;
}

/* The upstream answers the query S on connection I with RCODE, handing the
 * bytes over CHUNK at a time (0: all at once); WITH_ID overrides the ID. */
static void peer_answer(struct bench *b, size_t i, const struct seen *s, int rcode,
                        size_t chunk, int with_id)
{
    uint8_t a[2 + 512];
    size_t qend;
    assert_int_equal(hastls_dns_check_query(s->msg, s->len, &qend), 0);
    memcpy(a + 2, s->msg, qend);
    a[2 + 2] |= 0x80;                   /* QR */
    a[2 + 3] = (uint8_t)(0x80 | rcode); /* RA */
    a[2 + 11] = 0;                      /* no OPT in this answer */
    if (with_id >= 0)
        hastls_dns_set_id(a + 2, (uint16_t)with_id);
    assert_int_equal(hastls_dns_stream_prefix(a, qend), 0);
    size_t total = qend + 2;
    if (!chunk)
        chunk = total;
    for (size_t o = 0; o < total; o += chunk)
        hastls_up_received(b->e, i, b->now, a + o, o + chunk > total ? total - o : chunk);
}

/* Which of the N queries in SEEN asks NAME (type A). */
static const struct seen *seen_for(const struct seen *seen, size_t n, const char *name)
{
    uint8_t q[512];
    size_t qlen = make_query(q, name, 1, 0);
    for (size_t k = 0; k < n; k++)
        if (hastls_dns_same_question(q, qlen, seen[k].msg, seen[k].len))
            return &seen[k];
    fail_msg("no query for %s was sent", name);
    return NULL;
}

/* Takes the remaining work; returns the answer for client K (NULL: none). */
static struct hastls_work *answer_for(struct bench *b, int k)
{
    expect_no_conn_work(b);
    for (size_t i = 0; i < b->nanswers; i++)
        if (b->answers[i]->kind == HASTLS_WORK_ANSWER &&
            b->answers[i]->client == &b->clients[k])
            return b->answers[i];
    return NULL;
}

/* Client K got an answer with ID, question NAME and RCODE. */
static void expect_answer(struct bench *b, int k, uint16_t id, const char *name,
                          int rcode)
{
    struct hastls_work *w = answer_for(b, k);
    if (!w)
        fail_msg("client %d got no answer", k);
    uint8_t q[512];
    size_t qlen = make_query(q, name, 1, id);
    assert_int_equal(hastls_dns_id(w->msg), id);
    assert_int_equal(hastls_dns_rcode(w->msg, w->len), rcode);
    assert_int_equal(hastls_dns_same_question(q, qlen, w->msg, w->len), 1);
    assert_int_equal(w->msg[2] & 0x80, 0x80);
}

static void advance(struct bench *b, uint64_t ms)
{
    b->now += ms;
    hastls_up_tick(b->e, b->now);
}

static void expect_failure(struct bench *b, const char *text)
{
    char buf[1024];
    hastls_up_failures(b->e, 0, buf, sizeof buf, NULL);
    if (!strstr(buf, text))
        fail_msg("no failure \"%s\" in \"%s\"", text, buf);
}

/* ---- scenarios ---- */

static void test_first_query_connects_and_is_answered(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    ask(b, 0, "www.example", 0x1111);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    assert_int_equal(hastls_up_conn(b->e, U0_TLS)->st, HASTLS_UP_CONNECTING);
    bring_up(b, U0_TLS, 1);
    assert_int_equal(hastls_up_conn(b->e, U0_TLS)->st, HASTLS_UP_READY);
    struct seen s[4];
    assert_int_equal(peer_read(b, U0_TLS, s, 4), 1);
    /* Our own ID, Checking Disabled, padded to 128 octets (RFC 8467). */
    assert_int_equal(s[0].id, 0x100);
    assert_int_equal(s[0].msg[3] & 0x10, 0x10);
    assert_int_equal(s[0].len % 128, 0);
    peer_answer(b, U0_TLS, &s[0], 3, 0, -1);
    expect_answer(b, 0, 0x1111, "www.example", 3);
    assert_int_equal(hastls_up_nqueries(b->e), 0);
    struct hastls_resolver_stats st;
    hastls_up_stats(b->e, &st);
    assert_int_equal(st.tls_handshakes, 1);
    assert_int_equal(st.queries_tls, 1);
    bench_free(b);
}

static void test_connect_fails_next_upstream(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, TWO);
    ask(b, 0, "a.example", 7);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    hastls_up_failed(b->e, U0_TLS, b->now, "connection refused");
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_work(b, HASTLS_WORK_CONNECT, U1_TLS);
    expect_failure(b, "127.0.0.1@853: connection refused");
    assert_non_null(strstr(b->log, "upstream 127.0.0.1@853: connection refused"));
    bring_up(b, U1_TLS, 1);
    struct seen s[2];
    assert_int_equal(peer_read(b, U1_TLS, s, 2), 1);
    peer_answer(b, U1_TLS, &s[0], 0, 0, -1);
    expect_answer(b, 0, 7, "a.example", 0);
    bench_free(b);
}

static void test_handshake_fails_next_upstream(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, TWO);
    ask(b, 0, "a.example", 7);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    hastls_up_connected(b->e, U0_TLS, b->now);
    hastls_up_failed(b->e, U0_TLS, b->now, "TLS handshake failed: wrong version number");
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_work(b, HASTLS_WORK_CONNECT, U1_TLS);
    /* The second one cannot set its authentication name: fails closed. */
    hastls_up_failed(b->e, U1_TLS, b->now,
                     "cannot set the authentication name b.example");
    expect_work(b, HASTLS_WORK_CLOSE, U1_TLS);
    expect_failure(b, "127.0.0.1@853: TLS handshake failed: wrong version number");
    expect_failure(b, "127.0.0.2@853: cannot set the authentication name b.example");
    /* Strict: nothing is left, the client gets SERVFAIL at once. */
    expect_answer(b, 0, 7, "a.example", HASTLS_DNS_RCODE_SERVFAIL);
    assert_int_equal(hastls_up_nqueries(b->e), 0);
    bench_free(b);
}

static void test_strict_refuses_unauthenticated(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    ask(b, 0, "a.example", 9);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 0);
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_failure(b, "127.0.0.1@853: certificate name mismatch");
    expect_answer(b, 0, 9, "a.example", HASTLS_DNS_RCODE_SERVFAIL);
    struct hastls_resolver_stats st;
    hastls_up_stats(b->e, &st);
    assert_int_equal(st.queries_tls, 0); /* never sent on it */
    bench_free(b);
}

static void test_encrypted_uses_unauthenticated(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_ENCRYPTED, ONE);
    ask(b, 0, "a.example", 9);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 0);
    assert_int_equal(hastls_up_conn(b->e, U0_TLS)->st, HASTLS_UP_READY);
    assert_int_equal(hastls_up_conn(b->e, U0_TLS)->auth, 0);
    assert_non_null(
        strstr(b->log, "certificate name mismatch (using it unauthenticated)"));
    struct seen s[2];
    assert_int_equal(peer_read(b, U0_TLS, s, 2), 1);
    peer_answer(b, U0_TLS, &s[0], 0, 0, -1);
    expect_answer(b, 0, 9, "a.example", 0);
    bench_free(b);
}

static void test_connect_stall_then_failover(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, TWO);
    ask(b, 0, "a.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    advance(b, 999);
    expect_no_conn_work(b);
    assert_int_equal(hastls_up_timeout(b->e, b->now), 1);
    advance(b, 1);
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_work(b, HASTLS_WORK_CONNECT, U1_TLS);
    expect_failure(b, "127.0.0.1@853: timed out connecting");
    bring_up(b, U1_TLS, 1);
    struct seen s[2];
    assert_int_equal(peer_read(b, U1_TLS, s, 2), 1);
    peer_answer(b, U1_TLS, &s[0], 0, 0, -1);
    expect_answer(b, 0, 1, "a.example", 0);
    bench_free(b);
}

static void test_handshake_stall_then_deadline(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    ask(b, 0, "a.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    advance(b, 400);
    hastls_up_connected(b->e, U0_TLS, b->now); /* ... and no handshake */
    advance(b, 599);
    expect_no_conn_work(b);
    assert_null(answer_for(b, 0));
    advance(b, 1); /* the deadline counts from the connect */
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_failure(b, "TLS handshake timed out");
    expect_answer(b, 0, 1, "a.example", HASTLS_DNS_RCODE_SERVFAIL);
    bench_free(b);
}

static void test_silent_server_resend_then_failover(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, TWO);
    ask(b, 0, "a.example", 5);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 1);
    struct seen s[4];
    assert_int_equal(peer_read(b, U0_TLS, s, 4), 1);
    /* Half the attempt time: asked again on the same connection, new ID. */
    advance(b, 500);
    assert_int_equal(peer_read(b, U0_TLS, s + 1, 3), 1);
    assert_true(s[1].id != s[0].id);
    assert_non_null(strstr(b->log, "no answer within 500 ms, asking again"));
    /* Still nothing: the attempt is over, the next upstream is asked. */
    advance(b, 500);
    expect_work(b, HASTLS_WORK_CONNECT, U1_TLS);
    expect_failure(b, "127.0.0.1@853: no answer within 1000 ms");
    bring_up(b, U1_TLS, 1);
    assert_int_equal(peer_read(b, U1_TLS, s + 2, 2), 1);
    /* A late answer on the first connection is dropped now. */
    peer_answer(b, U0_TLS, &s[1], 0, 0, -1);
    assert_null(answer_for(b, 0));
    peer_answer(b, U1_TLS, &s[2], 0, 0, -1);
    expect_answer(b, 0, 5, "a.example", 0);
    bench_free(b);
}

static void test_answer_to_first_id_after_resend(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    ask(b, 0, "a.example", 5);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 1);
    struct seen s[4];
    assert_int_equal(peer_read(b, U0_TLS, s, 4), 1);
    advance(b, 500);
    assert_int_equal(peer_read(b, U0_TLS, s + 1, 3), 1);
    peer_answer(b, U0_TLS, &s[0], 0, 0, -1); /* the slow first answer */
    expect_answer(b, 0, 5, "a.example", 0);
    assert_int_equal(hastls_up_nqueries(b->e), 0);
    bench_free(b);
}

static void test_reset_mid_stream_reconnects_once(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, TWO);
    const char *names[3] = {"x.example", "y.example", "z.example"};
    for (int k = 0; k < 3; k++)
        ask(b, k, names[k], (uint16_t)(0x10 + k));
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 1);
    struct seen s[8];
    assert_int_equal(peer_read(b, U0_TLS, s, 8), 3);
    /* One answer and half of another, then the server resets the connection. */
    peer_answer(b, U0_TLS, seen_for(s, 3, "x.example"), 0, 0, -1);
    uint8_t half[] = {0, 40, 0x01, 0x02, 0x81};
    hastls_up_received(b->e, U0_TLS, b->now, half, sizeof half);
    hastls_up_closed(b->e, U0_TLS, b->now);
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS); /* the same upstream once more */
    assert_non_null(answer_for(b, 0));
    /* Not a failure (no back-off: the same upstream at once), but a reason. */
    assert_int_equal(hastls_up_failures(b->e, 0, NULL, 0, NULL), 1);
    expect_failure(b,
                   "127.0.0.1@853: connection closed by the upstream before answering");
    bring_up(b, U0_TLS, 1);
    assert_int_equal(peer_read(b, U0_TLS, s, 8), 2);
    /* Reset again: now they move on to the next upstream. */
    hastls_up_closed(b->e, U0_TLS, b->now);
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_work(b, HASTLS_WORK_CONNECT, U1_TLS);
    bring_up(b, U1_TLS, 1);
    assert_int_equal(peer_read(b, U1_TLS, s, 8), 2);
    peer_answer(b, U1_TLS, seen_for(s, 2, "z.example"), 0, 0, -1);
    peer_answer(b, U1_TLS, seen_for(s, 2, "y.example"), 0, 0, -1);
    expect_answer(b, 1, 0x11, "y.example", 0);
    expect_answer(b, 2, 0x12, "z.example", 0);
    bench_free(b);
}

static void test_out_of_order_answers_in_pieces(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    const char *names[4] = {"a.example", "b.example", "c.example", "d.example"};
    /* Two clients use the same ID: our own IDs keep them apart. */
    const uint16_t ids[4] = {0x77, 0x77, 0x9, 0xffff};
    for (int k = 0; k < 4; k++)
        ask(b, k, names[k], ids[k]);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 1);
    struct seen s[8];
    assert_int_equal(peer_read(b, U0_TLS, s, 8), 4);
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < k; j++)
            assert_true(s[k].id != s[j].id);
    /* An answer with an ID nobody used, and one with a used ID but another
     * question: both dropped, nothing delivered. */
    peer_answer(b, U0_TLS, &s[0], 0, 0, 0x7777);
    struct seen wrong = s[1];
    wrong.id = s[2].id;
    hastls_dns_set_id(wrong.msg, s[2].id);
    peer_answer(b, U0_TLS, &wrong, 0, 0, -1);
    assert_int_equal(b->nanswers, 0);
    assert_non_null(strstr(b->log, "answer with unknown ID 30583 dropped"));
    assert_non_null(strstr(b->log, "answer to another question dropped"));
    /* Answers in an order that is neither the clients' nor the wire's, one
     * byte at a time. */
    const int order[4] = {1, 3, 0, 2};
    for (int i = 0; i < 4; i++)
        peer_answer(b, U0_TLS, seen_for(s, 4, names[order[i]]), order[i], 1, -1);
    for (int k = 0; k < 4; k++)
        expect_answer(b, k, ids[k], names[k], k);
    assert_int_equal(hastls_up_nqueries(b->e), 0);
    bench_free(b);
}

static void test_backoff_then_recovery(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, TWO);
    struct seen s[4];
    ask(b, 0, "a.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    hastls_up_failed(b->e, U0_TLS, b->now, "connection refused");
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_work(b, HASTLS_WORK_CONNECT, U1_TLS);
    bring_up(b, U1_TLS, 1);
    assert_int_equal(peer_read(b, U1_TLS, s, 4), 1);
    peer_answer(b, U1_TLS, &s[0], 0, 0, -1);
    expect_answer(b, 0, 1, "a.example", 0);
    assert_int_equal(hastls_up_conn(b->e, U0_TLS)->backoff_until, T0 + 1000);

    /* Backing off (and held down): the first upstream is skipped. */
    advance(b, 600);
    ask(b, 1, "b.example", 2);
    expect_no_conn_work(b);
    assert_int_equal(peer_read(b, U1_TLS, s, 4), 1);
    peer_answer(b, U1_TLS, &s[0], 0, 0, -1);
    /* After the back-off it is probed in the background: the query goes to
     * the second upstream at once, without waiting for the probe. */
    advance(b, 500); /* T0 + 1100 */
    ask(b, 2, "c.example", 3);
    assert_int_equal(peer_read(b, U1_TLS, s, 4), 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    hastls_up_failed(b->e, U0_TLS, b->now, "connection refused");
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    /* The probe failed: the back-off doubles. */
    assert_int_equal(hastls_up_conn(b->e, U0_TLS)->fails, 2);
    assert_int_equal(hastls_up_conn(b->e, U0_TLS)->backoff_until, T0 + 1100 + 2000);
    peer_answer(b, U1_TLS, &s[0], 0, 0, -1);
    expect_answer(b, 2, 3, "c.example", 0);
    advance(b, 2100); /* T0 + 3200 */
    ask(b, 3, "d.example", 4);
    assert_int_equal(peer_read(b, U1_TLS, s, 4), 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    hastls_up_failed(b->e, U0_TLS, b->now, "connection refused");
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    assert_int_equal(hastls_up_conn(b->e, U0_TLS)->backoff_until, T0 + 3200 + 4000);
    peer_answer(b, U1_TLS, &s[0], 0, 0, -1);
    /* Inside the back-off, with an alternative: skipped, no probe. */
    advance(b, 3000);
    ask(b, 4, "e.example", 5);
    expect_no_conn_work(b);
    assert_int_equal(peer_read(b, U1_TLS, s, 4), 1);
    peer_answer(b, U1_TLS, &s[0], 0, 0, -1);
    for (int k = 1; k <= 4; k++)
        assert_non_null(answer_for(b, k));
    /* Then it recovers: a probe whose handshake succeeds clears its record,
     * and the next query uses it again. */
    advance(b, 1100); /* T0 + 7300 */
    ask(b, 5, "f.example", 6);
    assert_int_equal(peer_read(b, U1_TLS, s, 4), 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 1);
    assert_int_equal(hastls_up_conn(b->e, U0_TLS)->fails, 0);
    assert_int_equal(hastls_up_conn(b->e, U0_TLS)->backoff_until, 0);
    peer_answer(b, U1_TLS, &s[0], 0, 0, -1);
    expect_answer(b, 5, 6, "f.example", 0);
    ask(b, 6, "g.example", 7);
    assert_int_equal(peer_read(b, U0_TLS, s, 4), 1);
    peer_answer(b, U0_TLS, &s[0], 0, 0, -1);
    expect_answer(b, 6, 7, "g.example", 0);
    bench_free(b);
}

/* Each failed probe doubles the back-off, from 1 s up to 60 s. */
static void test_backoff_doubles_to_max(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, TWO);
    struct seen s[4];
    const uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    for (int k = 0; k < 8; k++) {
        ask(b, 0, "a.example", (uint16_t)(k + 1));
        struct hastls_work *w;
        int probed = 0;
        while ((w = next_conn_work(b)) != NULL) {
            if (w->kind == HASTLS_WORK_CONNECT && w->conn == U0_TLS) {
                probed = 1;
                hastls_up_failed(b->e, U0_TLS, b->now, "connection refused");
            } else if (w->kind == HASTLS_WORK_CONNECT && w->conn == U1_TLS) {
                bring_up(b, U1_TLS, 1);
            }
        }
        assert_true(probed);
        assert_int_equal(hastls_up_conn(b->e, U0_TLS)->backoff_until - b->now, want[k]);
        assert_int_equal(peer_read(b, U1_TLS, s, 4), 1);
        peer_answer(b, U1_TLS, &s[0], 0, 0, -1);
        for (size_t i = 0; i < b->nanswers; i++)
            hastls_work_release(b->answers[i]);
        b->nanswers = 0;
        advance(b, want[k]);
    }
    bench_free(b);
}

/* A black-holed first upstream (connections never complete) under live
 * lookups every 100 ms for 46 s: only the first lookup waits for it; every
 * later probe runs in the background, at most once per back-off period. */
static void test_black_hole_costs_one_lookup(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, TWO);
    struct seen s[4];
    int stalled = 0, probes = 0;
    for (int k = 0; k < 460; k++) {
        ask(b, 0, "a.example", (uint16_t)(k + 1));
        struct hastls_work *w;
        while ((w = next_conn_work(b)) != NULL) {
            if (w->kind == HASTLS_WORK_CONNECT && w->conn == U0_TLS)
                probes++; /* never completes: the hole */
            else if (w->kind == HASTLS_WORK_CONNECT && w->conn == U1_TLS)
                bring_up(b, U1_TLS, 1);
        }
        size_t n = peer_read(b, U1_TLS, s, 4);
        if (n == 0) {
            /* Waiting for the hole: time passes until the query moves on. */
            stalled++;
            for (int t = 0; t < 40 && n == 0; t++) {
                advance(b, 50);
                while ((w = next_conn_work(b)) != NULL)
                    if (w->kind == HASTLS_WORK_CONNECT && w->conn == U1_TLS)
                        bring_up(b, U1_TLS, 1);
                n = peer_read(b, U1_TLS, s, 4);
            }
        }
        assert_int_equal(n, 1);
        peer_answer(b, U1_TLS, &s[0], 0, 0, -1);
        for (size_t i = 0; i < b->nanswers; i++)
            hastls_work_release(b->answers[i]);
        b->nanswers = 0;
        advance(b, 100);
    }
    assert_int_equal(stalled, 1);
    /* Probes after 1, 2, 4, 8, 16 and 32 s of back-off (plus each attempt's
     * time out), never more. */
    assert_true(probes >= 2 && probes <= 7);
    assert_true(hastls_up_conn(b->e, U0_TLS)->fails >= 2);
    bench_free(b);
}

/* A server that closes every connection (after the handshake, before any
 * answer): the reconnects back off across queries instead of one per query,
 * and the lookups end at once with the reason. */
static void test_closing_server_backs_off_across_queries(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    struct seen s[8];
    int connects = 0;
    for (int k = 0; k < 20; k++) {
        /* A lookup: libunbound asks a few queries at once. */
        static const char *const names[3] = {"a.example", "b.example", "c.example"};
        for (int j = 0; j < 3; j++)
            ask(b, j, names[j], (uint16_t)(100 * k + j));
        for (int round = 0; round < 8; round++) {
            struct hastls_work *w = next_conn_work(b);
            if (!w)
                break;
            if (w->kind != HASTLS_WORK_CONNECT)
                continue;
            connects++;
            bring_up(b, U0_TLS, 1);
            assert_true(peer_read(b, U0_TLS, s, 8) > 0);
            hastls_up_closed(b->e, U0_TLS, b->now);
        }
        /* Every query of the lookup is over: SERVFAIL, nothing waits. */
        for (int j = 0; j < 3; j++)
            assert_non_null(answer_for(b, j));
        assert_int_equal(hastls_up_nqueries(b->e), 0);
        for (size_t i = 0; i < b->nanswers; i++)
            hastls_work_release(b->answers[i]);
        b->nanswers = 0;
        advance(b, 50);
    }
    /* Two connections for the first lookup, then the hold-down: within the
     * second of lookups, at most one more. */
    assert_true(connects >= 2 && connects <= 3);
    expect_failure(b, "closed the connection before answering anything (2 in a row)");
    /* An answer resets it: the upstream works again. */
    advance(b, 2000);
    ask(b, 0, "a.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 1);
    assert_int_equal(peer_read(b, U0_TLS, s, 8), 1);
    peer_answer(b, U0_TLS, &s[0], 0, 0, -1);
    expect_answer(b, 0, 1, "a.example", 0);
    assert_int_equal(hastls_up_conn(b->e, U0_TLS)->fails, 0);
    assert_int_equal(hastls_up_conn(b->e, U0_TLS)->closes, 0);
    bench_free(b);
}

/* With a second upstream, queries fail over from a closing server at once;
 * its probes, which it closes too, back off. */
static void test_closing_server_fails_over(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, TWO);
    struct seen s[8];
    int u0_connects = 0, answered = 0;
    for (int k = 0; k < 100; k++) {
        ask(b, 0, "a.example", (uint16_t)(k + 1));
        struct hastls_work *w;
        while ((w = next_conn_work(b)) != NULL) {
            if (w->kind != HASTLS_WORK_CONNECT)
                continue;
            bring_up(b, (size_t)w->conn, 1);
            if (w->conn == U0_TLS) {
                u0_connects++;
                (void)peer_read(b, U0_TLS, s, 8);
                hastls_up_closed(b->e, U0_TLS, b->now);
            }
        }
        size_t n = peer_read(b, U1_TLS, s, 8);
        for (size_t i = 0; i < n; i++)
            peer_answer(b, U1_TLS, &s[i], 0, 0, -1);
        if (answer_for(b, 0))
            answered++;
        for (size_t i = 0; i < b->nanswers; i++)
            hastls_work_release(b->answers[i]);
        b->nanswers = 0;
        advance(b, 100);
    }
    assert_int_equal(answered, 100);
    /* 10 s: two connections at first, then probes after 1, 2 and 4 s. */
    assert_true(u0_connects >= 2 && u0_connects <= 5);
    bench_free(b);
}

static void test_hold_down_alone_answers_servfail(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    ask(b, 0, "a.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    hastls_up_failed(b->e, U0_TLS, b->now, "connection refused");
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_answer(b, 0, 1, "a.example", HASTLS_DNS_RCODE_SERVFAIL);
    /* libunbound asks again at once: no new handshake within the hold-down. */
    advance(b, 999);
    ask(b, 1, "a.example", 2);
    expect_no_conn_work(b);
    expect_answer(b, 1, 2, "a.example", HASTLS_DNS_RCODE_SERVFAIL);
    /* Alone, it is tried again once the hold-down is over, back-off or not. */
    advance(b, 1);
    ask(b, 2, "a.example", 3);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bench_free(b);
}

static void test_opportunistic_falls_back_to_cleartext(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_OPPORTUNISTIC, ONE);
    ask(b, 0, "a.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    hastls_up_failed(b->e, U0_TLS, b->now, "connection refused");
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_work(b, HASTLS_WORK_CONNECT, U0_CLEAR);
    assert_string_equal(hastls_up_conn(b->e, U0_CLEAR)->label, "127.0.0.1@53");
    bring_up(b, U0_CLEAR, 0);
    struct seen s[2];
    assert_int_equal(peer_read(b, U0_CLEAR, s, 2), 1);
    uint8_t q[512];
    assert_int_equal(s[0].len, make_query(q, "a.example", 1, 1)); /* not padded */
    peer_answer(b, U0_CLEAR, &s[0], 0, 0, -1);
    expect_answer(b, 0, 1, "a.example", 0);
    struct hastls_resolver_stats st;
    hastls_up_stats(b->e, &st);
    assert_int_equal(st.queries_cleartext, 1);
    bench_free(b);
}

static void test_client_gone_drops_its_queries(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    ask(b, 0, "a.example", 1);
    ask(b, 1, "b.example", 2);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    hastls_up_client_gone(b->e, &b->clients[0]); /* A was not sent yet */
    assert_int_equal(hastls_up_nqueries(b->e), 1);
    bring_up(b, U0_TLS, 1);
    struct seen s[2];
    assert_int_equal(peer_read(b, U0_TLS, s, 2), 1);
    hastls_up_client_gone(b->e, &b->clients[1]); /* B was: its answer is dropped */
    peer_answer(b, U0_TLS, &s[0], 0, 0, -1);
    assert_int_equal(b->nanswers, 0);
    assert_null(answer_for(b, 1));
    assert_int_equal(hastls_up_nqueries(b->e), 0);
    bench_free(b);
}

static void test_idle_connection_closed(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    ask(b, 0, "a.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 1);
    struct seen s[2];
    assert_int_equal(peer_read(b, U0_TLS, s, 2), 1);
    peer_answer(b, U0_TLS, &s[0], 0, 0, -1);
    advance(b, HASTLS_UP_IDLE_CLOSE_MS - 1);
    expect_no_conn_work(b);
    advance(b, 1);
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    assert_int_equal(hastls_up_conn(b->e, U0_TLS)->st, HASTLS_UP_DOWN);
    bench_free(b);
}

static void test_ids_never_clash_on_a_connection(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    b->same_id = 5; /* the random source repeats itself */
    ask(b, 0, "a.example", 1);
    ask(b, 1, "b.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 1);
    struct seen s[2];
    assert_int_equal(peer_read(b, U0_TLS, s, 2), 2);
    assert_true(s[0].id != s[1].id);
    assert_true(s[0].id == 0x4242 || s[1].id == 0x4242);
    peer_answer(b, U0_TLS, &s[1], 0, 0, -1);
    peer_answer(b, U0_TLS, &s[0], 0, 0, -1);
    assert_non_null(answer_for(b, 0));
    assert_non_null(answer_for(b, 1));
    bench_free(b);
}

static void test_prefetch_followers(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    uint8_t q[512];
    size_t len = make_query(q, "example", HASTLS_DNS_TYPE_DNSKEY, 0);
    uint64_t serial = hastls_up_submit_prefetch(b->e, b->now, q, len);
    assert_true(serial != 0);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    /* libunbound asks the same question (other case, own ID): it waits. */
    len = make_query(q, "EXAMPLE", HASTLS_DNS_TYPE_DNSKEY, 0x3333);
    assert_int_equal(hastls_up_submit(b->e, b->now, &b->clients[0], q, len, serial), 0);
    bring_up(b, U0_TLS, 1);
    struct seen s[4];
    assert_int_equal(peer_read(b, U0_TLS, s, 4), 1); /* one query upstream */
    peer_answer(b, U0_TLS, &s[0], 0, 0, -1);
    expect_no_conn_work(b);
    int done = 0;
    for (size_t i = 0; i < b->nanswers; i++)
        if (b->answers[i]->kind == HASTLS_WORK_PREFETCH_DONE) {
            done = 1;
            assert_int_equal(b->answers[i]->serial, serial);
            assert_non_null(b->answers[i]->msg);
        }
    assert_true(done);
    struct hastls_work *w = answer_for(b, 0);
    assert_non_null(w);
    assert_int_equal(hastls_dns_id(w->msg), 0x3333);
    assert_memory_equal(w->msg + 12, q + 12, 9); /* the question as asked */

    /* A prefetch answered SERVFAIL: its follower goes upstream itself. */
    len = make_query(q, "com", HASTLS_DNS_TYPE_DS, 0);
    serial = hastls_up_submit_prefetch(b->e, b->now, q, len);
    len = make_query(q, "com", HASTLS_DNS_TYPE_DS, 0x4444);
    assert_int_equal(hastls_up_submit(b->e, b->now, &b->clients[1], q, len, serial), 0);
    assert_int_equal(peer_read(b, U0_TLS, s, 4), 1);
    peer_answer(b, U0_TLS, &s[0], HASTLS_DNS_RCODE_SERVFAIL, 0, -1);
    assert_null(answer_for(b, 1));
    assert_int_equal(peer_read(b, U0_TLS, s, 4), 1);
    peer_answer(b, U0_TLS, &s[0], 0, 0, -1);
    assert_non_null(answer_for(b, 1));
    /* Following a prefetch no longer in flight: sent at once. */
    len = make_query(q, "org", HASTLS_DNS_TYPE_DS, 0x5555);
    assert_int_equal(hastls_up_submit(b->e, b->now, &b->clients[2], q, len, serial), 0);
    assert_int_equal(peer_read(b, U0_TLS, s, 4), 1);
    bench_free(b);
}

static void test_malformed_queries_refused(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    uint8_t q[512];
    size_t len = make_query(q, "a.example", 1, 1);
    for (size_t l = 0; l < 12 + 11 + 4; l++)
        assert_int_equal(hastls_up_submit(b->e, b->now, &b->clients[0], q, l, 0), -1);
    q[2] |= 0x80; /* an answer */
    assert_int_equal(hastls_up_submit(b->e, b->now, &b->clients[0], q, len, 0), -1);
    assert_int_equal(hastls_up_nqueries(b->e), 0);
    expect_no_conn_work(b);
    /* Events for connections that do not exist, or are not in that state. */
    hastls_up_connected(b->e, 99, b->now);
    hastls_up_received(b->e, U0_TLS, b->now, q, len);
    hastls_up_failed(b->e, U0_TLS, b->now, "nothing");
    assert_int_equal(hastls_up_failures(b->e, 0, NULL, 0, NULL), 0);
    bench_free(b);
}

/* What a server sends that is not a DNS reply fails its connection at once,
 * with a line saying so, and the query moves on to the next upstream; the
 * failed upstream backs off (it is not reconnected for every query). */
static void not_dns_case(const uint8_t *junk, size_t n, const char *why)
{
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, TWO);
    ask(b, 0, "a.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 1);
    struct seen s[2];
    assert_int_equal(peer_read(b, U0_TLS, s, 2), 1);
    hastls_up_received(b->e, U0_TLS, b->now, junk, n);
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_work(b, HASTLS_WORK_CONNECT, U1_TLS);
    expect_failure(b, why);
    assert_non_null(strstr(b->log, why));
    bring_up(b, U1_TLS, 1);
    assert_int_equal(peer_read(b, U1_TLS, s, 2), 1);
    peer_answer(b, U1_TLS, &s[0], 0, 0, -1);
    expect_answer(b, 0, 1, "a.example", 0);
    /* The next query goes straight to the second upstream. */
    ask(b, 1, "b.example", 2);
    expect_no_conn_work(b);
    assert_int_equal(peer_read(b, U1_TLS, s, 2), 1);
    bench_free(b);
}

static void test_not_dns_from_upstream(void **state)
{
    (void)state;
    const char http[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    not_dns_case((const uint8_t *)http, sizeof http - 1,
                 "127.0.0.1@853: the reply is not DNS (it begins \"HTTP/1.1 400 Bad");
    /* Only its beginning, as long as a DNS header: enough to tell. */
    not_dns_case((const uint8_t *)http, 14,
                 "127.0.0.1@853: the reply is not DNS (it begins \"HTTP/1.1 400 B\")");
    const uint8_t short_frame[] = {0, 3, 1, 2, 3};
    not_dns_case(short_frame, sizeof short_frame, "127.0.0.1@853: the reply is not DNS");
    const uint8_t empty_frame[] = {0, 0};
    not_dns_case(empty_frame, sizeof empty_frame, "127.0.0.1@853: the reply is not DNS");
    /* A query (QR clear) where an answer belongs. */
    uint8_t q[2 + 512];
    size_t len = make_query(q + 2, "a.example", 1, 0x100);
    assert_int_equal(hastls_dns_stream_prefix(q, len), 0);
    not_dns_case(q, len + 2, "127.0.0.1@853: the reply is not DNS");
}

/* Fewer bytes than a DNS header tell nothing yet: the connection waits. */
static void test_reply_too_short_to_tell_waits(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    ask(b, 0, "a.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 1);
    struct seen s[2];
    assert_int_equal(peer_read(b, U0_TLS, s, 2), 1);
    peer_answer(b, U0_TLS, &s[0], 0, 1, -1); /* a byte at a time */
    expect_answer(b, 0, 1, "a.example", 0);
    assert_int_equal(hastls_up_conn(b->e, U0_TLS)->st, HASTLS_UP_READY);
    bench_free(b);
}

/* Each query goes in a write of its own on TLS (a record each), also when
 * the socket takes only part of one; cleartext takes everything at once. */
static void test_one_query_per_tls_write(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_OPPORTUNISTIC, ONE);
    ask(b, 0, "a.example", 1);
    ask(b, 1, "bb.example", 2);
    ask(b, 2, "ccc.example", 3);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 1);
    const uint8_t *p;
    size_t first = hastls_up_pending(b->e, U0_TLS, &p), mlen;
    assert_int_equal(hastls_dns_frame(p, first, &mlen), 1);
    assert_int_equal(first, 2 + mlen);
    hastls_up_sent(b->e, U0_TLS, 5); /* a partial write */
    assert_int_equal(hastls_up_pending(b->e, U0_TLS, &p), first - 5);
    hastls_up_sent(b->e, U0_TLS, first - 5);
    struct seen s[4];
    assert_int_equal(peer_read(b, U0_TLS, s, 4), 2); /* checks one a write */
    assert_int_equal(hastls_up_pending(b->e, U0_TLS, &p), 0);

    /* Cleartext: the three in one write. */
    hastls_up_failed(b->e, U0_TLS, b->now, "connection reset");
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_work(b, HASTLS_WORK_CONNECT, U0_CLEAR);
    bring_up(b, U0_CLEAR, 0);
    size_t n = hastls_up_pending(b->e, U0_CLEAR, &p), off = 0, k = 0;
    const uint8_t *msg;
    while (hastls_dns_stream_next(p, n, &off, &msg, &mlen))
        k++;
    assert_int_equal(k, 3);
    assert_int_equal(off, n);
    bench_free(b);
}

/* ALPN: offering only ids like "dns" (a port-443 server tells DNS from its
 * other services by them), a server that selects none is not a DNS server;
 * with "dot" in the list, none selected is fine (RFC 7858). */
static void alpn_case(const char *offered, const char *selected, int ok)
{
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    snprintf(b->cfg.alpn, sizeof b->cfg.alpn, "%s", offered);
    ask(b, 0, "a.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    hastls_up_connected(b->e, U0_TLS, b->now);
    struct hastls_up_secured sec = {1, 0, "", selected};
    hastls_up_secured(b->e, U0_TLS, b->now, &sec);
    if (ok) {
        assert_int_equal(hastls_up_conn(b->e, U0_TLS)->st, HASTLS_UP_READY);
    } else {
        expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
        char why[160];
        snprintf(why, sizeof why,
                 "127.0.0.1@853: the server selected none of the ALPN ids offered (%s)",
                 offered);
        expect_failure(b, why);
        expect_answer(b, 0, 1, "a.example", HASTLS_DNS_RCODE_SERVFAIL);
    }
    bench_free(b);
}

static void test_alpn_required_without_dot(void **state)
{
    (void)state;
    alpn_case("dns", NULL, 0);
    alpn_case("dns", "", 0);
    alpn_case("dns", "dns", 1);
    alpn_case("dot", NULL, 1);
    alpn_case("dot,dns", NULL, 1);
    alpn_case("dns,dot", "dot", 1);
    alpn_case("", NULL, 1);
}

/* Reasons recorded from SINCE on, as a lookup's message lists them. */
static const char *reasons_since(struct bench *b, uint64_t since, unsigned *n,
                                 unsigned *answered)
{
    static char buf[1024];
    *n = hastls_up_failures(b->e, since, buf, sizeof buf, answered);
    return buf;
}

/* An upstream that refuses: every later lookup, skipped or retried, names
 * the refusal, not a bare SERVFAIL. */
static void test_every_lookup_names_the_failure(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    ask(b, 0, "a.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    hastls_up_failed(b->e, U0_TLS, b->now, "connection refused");
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_answer(b, 0, 1, "a.example", HASTLS_DNS_RCODE_SERVFAIL);
    unsigned n, answered;
    for (int k = 1; k <= 3; k++) {
        advance(b, 100);
        uint64_t since = b->now;
        ask(b, k, "a.example", (uint16_t)(1 + k));
        expect_no_conn_work(b);
        expect_answer(b, k, (uint16_t)(1 + k), "a.example", HASTLS_DNS_RCODE_SERVFAIL);
        const char *r = reasons_since(b, since, &n, &answered);
        assert_int_equal(n, 1);
        assert_int_equal(answered, 0);
        char want[128];
        snprintf(want, sizeof want,
                 "127.0.0.1@853: skipped: backing off after connection refused "
                 "until %d ms from now",
                 HASTLS_UP_HOLD_DOWN_MS - 100 * k);
        assert_string_equal(r, want);
    }
    /* libunbound's many retries renew the skip in place: the refusal
     * itself is not pushed out of the ring. */
    for (int k = 0; k < HASTLS_UP_FAILURE_RING + 8; k++) {
        ask(b, 5, "a.example", 5);
        assert_int_equal(hastls_up_nqueries(b->e), 0);
    }
    /* Listed with the refusal itself, the skips after it go unsaid. */
    assert_string_equal(reasons_since(b, 0, &n, &answered),
                        "127.0.0.1@853: connection refused");
    assert_int_equal(n, 1);
    /* Tried again after the hold-down: refused again, named again. */
    advance(b, 700);
    uint64_t since = b->now;
    ask(b, 4, "a.example", 9);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    hastls_up_failed(b->e, U0_TLS, b->now, "connection refused");
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_answer(b, 4, 9, "a.example", HASTLS_DNS_RCODE_SERVFAIL);
    assert_string_equal(reasons_since(b, since, &n, &answered),
                        "127.0.0.1@853: connection refused");
    bench_free(b);
}

/* A wrong certificate under strict: the second upstream is tried while the
 * first backs off, and each lookup says why the first was skipped. */
static void test_wrong_certificate_named_while_backing_off(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, TWO);
    ask(b, 0, "a.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 0); /* "certificate name mismatch" */
    expect_work(b, HASTLS_WORK_CLOSE, U0_TLS);
    expect_work(b, HASTLS_WORK_CONNECT, U1_TLS);
    hastls_up_failed(b->e, U1_TLS, b->now, "connection refused");
    expect_work(b, HASTLS_WORK_CLOSE, U1_TLS);
    expect_answer(b, 0, 1, "a.example", HASTLS_DNS_RCODE_SERVFAIL);
    advance(b, 300);
    uint64_t since = b->now;
    ask(b, 1, "a.example", 2);
    expect_answer(b, 1, 2, "a.example", HASTLS_DNS_RCODE_SERVFAIL);
    unsigned n, answered;
    const char *r = reasons_since(b, since, &n, &answered);
    assert_int_equal(n, 2);
    assert_non_null(strstr(r, "127.0.0.1@853: skipped: backing off after certificate "
                              "name mismatch until 700 ms from now"));
    assert_non_null(strstr(r, "127.0.0.2@853: skipped: backing off after connection "
                              "refused until 700 ms from now"));
    bench_free(b);
}

/* The upstream on connection I sends MSG (LEN bytes) framed. */
static void peer_raw(struct bench *b, size_t i, const uint8_t *msg, size_t len)
{
    uint8_t fr[2 + 512];
    assert_true(len <= 512);
    memcpy(fr + 2, msg, len);
    assert_int_equal(hastls_dns_stream_prefix(fr, len), 0);
    hastls_up_received(b->e, i, b->now, fr, len + 2);
}

/* The answer to S with header flags and one A record whose owner name is
 * the compression pointer PTR (0xc00c: the question's name). */
static size_t answer_with(const struct seen *s, uint8_t flags3, uint16_t ptr,
                          uint8_t *out)
{
    size_t qend;
    assert_int_equal(hastls_dns_check_query(s->msg, s->len, &qend), 0);
    memcpy(out, s->msg, qend);
    out[2] = (uint8_t)(0x80 | flags3);
    out[3] = 0x80;
    out[7] = 1;  /* one answer */
    out[11] = 0; /* no OPT */
    const uint8_t rr[] = {
        (uint8_t)(ptr >> 8), (uint8_t)ptr, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1};
    memcpy(out + qend, rr, sizeof rr);
    return qend + sizeof rr;
}

/* Hostile answers: truncated over TLS, a compression pointer pointing at
 * itself.  Each is named, and the query moves on to the next upstream. */
static void test_hostile_answers_named(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, TWO);
    ask(b, 0, "a.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 1);
    struct seen s[2];
    assert_int_equal(peer_read(b, U0_TLS, s, 2), 1);
    uint8_t a[512];
    peer_raw(b, U0_TLS, a, answer_with(&s[0], 0x02 /* TC */, 0xc00c, a));
    expect_failure(b, "127.0.0.1@853: answer truncated (TC) over TLS");
    expect_work(b, HASTLS_WORK_CONNECT, U1_TLS);
    bring_up(b, U1_TLS, 1);
    assert_int_equal(peer_read(b, U1_TLS, s, 2), 1);
    size_t qend;
    assert_int_equal(hastls_dns_check_query(s[0].msg, s[0].len, &qend), 0);
    /* The record's owner: a pointer to itself. */
    peer_raw(b, U1_TLS, a, answer_with(&s[0], 0, (uint16_t)(0xc000 | qend), a));
    expect_failure(b, "127.0.0.2@853: malformed answer: compression loop");
    expect_answer(b, 0, 1, "a.example", HASTLS_DNS_RCODE_SERVFAIL);
    /* Neither connection failed (their next answers may be good): a good
     * answer with the pointer to the question's name still counts. */
    ask(b, 1, "b.example", 2);
    assert_int_equal(peer_read(b, U0_TLS, s, 2), 1);
    peer_raw(b, U0_TLS, a, answer_with(&s[0], 0, 0xc00c, a));
    expect_answer(b, 1, 2, "b.example", 0);
    bench_free(b);
}

/* A SERVFAIL the upstream gave is counted as an answer, not a failure. */
static void test_servfail_answer_counted(void **state)
{
    (void)state;
    struct bench *b = bench_new(HASTLS_PRIVACY_STRICT, ONE);
    ask(b, 0, "a.example", 1);
    expect_work(b, HASTLS_WORK_CONNECT, U0_TLS);
    bring_up(b, U0_TLS, 1);
    struct seen s[2];
    assert_int_equal(peer_read(b, U0_TLS, s, 2), 1);
    peer_answer(b, U0_TLS, &s[0], HASTLS_DNS_RCODE_SERVFAIL, 0, -1);
    expect_answer(b, 0, 1, "a.example", HASTLS_DNS_RCODE_SERVFAIL);
    unsigned n, answered;
    assert_string_equal(reasons_since(b, 0, &n, &answered),
                        "127.0.0.1@853: answered SERVFAIL");
    assert_int_equal(n, 1);
    assert_int_equal(answered, 1);
    bench_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_query_connects_and_is_answered),
        cmocka_unit_test(test_connect_fails_next_upstream),
        cmocka_unit_test(test_handshake_fails_next_upstream),
        cmocka_unit_test(test_strict_refuses_unauthenticated),
        cmocka_unit_test(test_encrypted_uses_unauthenticated),
        cmocka_unit_test(test_connect_stall_then_failover),
        cmocka_unit_test(test_handshake_stall_then_deadline),
        cmocka_unit_test(test_silent_server_resend_then_failover),
        cmocka_unit_test(test_answer_to_first_id_after_resend),
        cmocka_unit_test(test_reset_mid_stream_reconnects_once),
        cmocka_unit_test(test_out_of_order_answers_in_pieces),
        cmocka_unit_test(test_backoff_then_recovery),
        cmocka_unit_test(test_backoff_doubles_to_max),
        cmocka_unit_test(test_black_hole_costs_one_lookup),
        cmocka_unit_test(test_closing_server_backs_off_across_queries),
        cmocka_unit_test(test_closing_server_fails_over),
        cmocka_unit_test(test_hold_down_alone_answers_servfail),
        cmocka_unit_test(test_opportunistic_falls_back_to_cleartext),
        cmocka_unit_test(test_client_gone_drops_its_queries),
        cmocka_unit_test(test_idle_connection_closed),
        cmocka_unit_test(test_ids_never_clash_on_a_connection),
        cmocka_unit_test(test_prefetch_followers),
        cmocka_unit_test(test_malformed_queries_refused),
        cmocka_unit_test(test_not_dns_from_upstream),
        cmocka_unit_test(test_reply_too_short_to_tell_waits),
        cmocka_unit_test(test_one_query_per_tls_write),
        cmocka_unit_test(test_alpn_required_without_dot),
        cmocka_unit_test(test_every_lookup_names_the_failure),
        cmocka_unit_test(test_wrong_certificate_named_while_backing_off),
        cmocka_unit_test(test_hostile_answers_named),
        cmocka_unit_test(test_servfail_answer_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
