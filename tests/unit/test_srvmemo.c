/* tests/unit/test_srvmemo.c: the SRV memory (bounds, TTL, statuses, A-label
 * names, malformed records) and the delegation rule against a scripted
 * resolver (the SRV and address answers it would get). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "shim/core/cache.h"
#include "shim/core/ip.h"
#include "shim/core/srvmemo.h"
#include "shim/core/state.h"

#define NOW 1000

/* The RDATA of "0 5 PORT NAME." in BUF; returns its length. */
static uint16_t srv_rdata(uint8_t *buf, uint16_t port, const char *name)
{
    size_t o = 0;
    buf[o++] = 0, buf[o++] = 0, buf[o++] = 0, buf[o++] = 5;
    buf[o++] = (uint8_t)(port >> 8), buf[o++] = (uint8_t)port;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t n = dot ? (size_t)(dot - name) : strlen(name);
        buf[o++] = (uint8_t)n;
        memcpy(buf + o, name, n);
        o += n;
        name += n + (dot ? 1 : 0);
    }
    buf[o++] = 0;
    return (uint16_t)o;
}

struct fixture {
    struct hastls_answer a;
    struct hastls_rr rr[16];
    uint8_t rd[16][300];
};

/* An answer of OWNER with status ST and TTL, targets "PORT NAME" pairs. */
static struct hastls_answer *answer(struct fixture *f, const char *owner,
                                    enum hastls_sec st, uint32_t ttl, size_t n,
                                    const uint16_t *ports, const char *const *names)
{
    memset(f, 0, sizeof *f);
    f->a.qtype = HASTLS_DNS_TYPE_SRV;
    f->a.status = st;
    f->a.ttl = ttl;
    snprintf(f->a.qname, sizeof f->a.qname, "%s", owner);
    for (size_t i = 0; i < n; i++) {
        f->rr[i].type = HASTLS_DNS_TYPE_SRV;
        f->rr[i].ttl = ttl;
        f->rr[i].rdlen = srv_rdata(f->rd[i], ports[i], names[i]);
        f->rr[i].rdata = f->rd[i];
    }
    f->a.n_rr = n;
    f->a.rr = f->rr;
    return &f->a;
}

static int setup(void **state)
{
    (void)state;
    hastls_srvmemo_clear();
    return 0;
}

static void find_listed(void **state)
{
    (void)state;
    struct fixture f;
    struct hastls_srvmemo_entry e;
    const uint16_t ports[] = {5222, 5223};
    const char *names[] = {"chat.hosting.example", "Other.Hosting.Example"};
    assert_int_equal(hastls_srvmemo_note(answer(&f, "_xmpp-client._tcp.im.example.",
                                                HASTLS_SEC_SECURE, 300, 2, ports, names),
                                         NOW),
                     1);
    assert_int_equal(
        hastls_srvmemo_find("im.example", "chat.hosting.example", 5222, NOW, &e), 1);
    assert_int_equal(e.status, HASTLS_SEC_SECURE);
    assert_string_equal(e.owner, "_xmpp-client._tcp.im.example");
    assert_int_equal(e.n, 2);
    /* names in any case, with or without the final dot */
    assert_int_equal(
        hastls_srvmemo_find("IM.example.", "other.hosting.example.", 5223, NOW, &e), 1);
    /* another port, target or source */
    assert_int_equal(
        hastls_srvmemo_find("im.example", "chat.hosting.example", 5223, NOW, &e), 0);
    assert_int_equal(hastls_srvmemo_find("im.example", "hosting.example", 5222, NOW, &e),
                     0);
    assert_int_equal(
        hastls_srvmemo_find("example", "chat.hosting.example", 5222, NOW, &e), 0);
    assert_int_equal(
        hastls_srvmemo_find("x.im.example", "chat.hosting.example", 5222, NOW, &e), 0);
    assert_int_equal(hastls_srvmemo_get("_XMPP-client._tcp.im.example", NOW, &e), 1);
    assert_int_equal(hastls_srvmemo_find(NULL, "a", 1, NOW, &e), 0);
}

static void owner_shapes(void **state)
{
    (void)state;
    struct fixture f;
    struct hastls_srvmemo_entry e;
    const uint16_t ports[] = {5222};
    const char *names[] = {"t.example"};
    /* Only _SERVICE._tcp.SOURCE delegates SOURCE. */
    hastls_srvmemo_note(
        answer(&f, "_xmpp._udp.a.example", HASTLS_SEC_SECURE, 300, 1, ports, names), NOW);
    hastls_srvmemo_note(
        answer(&f, "xmpp._tcp.b.example", HASTLS_SEC_SECURE, 300, 1, ports, names), NOW);
    hastls_srvmemo_note(
        answer(&f, "_tcp.c.example", HASTLS_SEC_SECURE, 300, 1, ports, names), NOW);
    assert_int_equal(hastls_srvmemo_find("a.example", "t.example", 5222, NOW, &e), 0);
    assert_int_equal(hastls_srvmemo_find("b.example", "t.example", 5222, NOW, &e), 0);
    assert_int_equal(hastls_srvmemo_find("c.example", "t.example", 5222, NOW, &e), 0);
}

static void ttl_bounds(void **state)
{
    (void)state;
    struct fixture f;
    struct hastls_srvmemo_entry e;
    const uint16_t ports[] = {5222};
    const char *names[] = {"t.example"};
    hastls_srvmemo_note(
        answer(&f, "_x._tcp.a.example", HASTLS_SEC_SECURE, 300, 1, ports, names), NOW);
    assert_int_equal(hastls_srvmemo_find("a.example", "t.example", 5222, NOW + 299, &e),
                     1);
    assert_int_equal(hastls_srvmemo_find("a.example", "t.example", 5222, NOW + 300, &e),
                     0);
    /* TTL 0: still there for the connection made with it */
    hastls_srvmemo_note(
        answer(&f, "_x._tcp.b.example", HASTLS_SEC_SECURE, 0, 1, ports, names), NOW);
    assert_int_equal(hastls_srvmemo_find("b.example", "t.example", 5222,
                                         NOW + HASTLS_SRVMEMO_MIN_TTL - 1, &e),
                     1);
    assert_int_equal(hastls_srvmemo_find("b.example", "t.example", 5222,
                                         NOW + HASTLS_SRVMEMO_MIN_TTL, &e),
                     0);
    /* a week: a day at most */
    hastls_srvmemo_note(
        answer(&f, "_x._tcp.c.example", HASTLS_SEC_SECURE, 604800, 1, ports, names), NOW);
    assert_int_equal(hastls_srvmemo_get("_x._tcp.c.example", NOW, &e), 1);
    assert_int_equal(e.expires, NOW + HASTLS_SRVMEMO_MAX_TTL);
    /* bogus: a minute at most */
    hastls_srvmemo_note(
        answer(&f, "_x._tcp.d.example", HASTLS_SEC_BOGUS, 3600, 0, NULL, NULL), NOW);
    assert_int_equal(hastls_srvmemo_get("_x._tcp.d.example", NOW, &e), 1);
    assert_int_equal(e.expires, NOW + HASTLS_SRVMEMO_BOGUS_TTL);
}

static void statuses(void **state)
{
    (void)state;
    struct fixture f;
    struct hastls_srvmemo_entry e;
    const uint16_t ports[] = {5222};
    const char *names[] = {"t.example"};
    /* insecure kept as such */
    assert_int_equal(
        hastls_srvmemo_note(
            answer(&f, "_x._tcp.ins.example", HASTLS_SEC_INSECURE, 300, 1, ports, names),
            NOW),
        1);
    assert_int_equal(hastls_srvmemo_find("ins.example", "t.example", 5222, NOW, &e), 1);
    assert_int_equal(e.status, HASTLS_SEC_INSECURE);
    /* no answer at all: nothing to remember */
    assert_int_equal(hastls_srvmemo_note(answer(&f, "_x._tcp.f.example",
                                                HASTLS_SEC_FAILED, 300, 1, ports, names),
                                         NOW),
                     0);
    assert_int_equal(hastls_srvmemo_find("f.example", "t.example", 5222, NOW, &e), 0);
    /* another type */
    answer(&f, "_x._tcp.o.example", HASTLS_SEC_SECURE, 300, 1, ports, names);
    f.a.qtype = 1;
    assert_int_equal(hastls_srvmemo_note(&f.a, NOW), 0);
    /* a secure answer without a usable target delegates nothing */
    const char *dot[] = {""};
    assert_int_equal(
        hastls_srvmemo_note(
            answer(&f, "_x._tcp.n.example", HASTLS_SEC_SECURE, 300, 1, ports, dot), NOW),
        0);
    /* bogus, without records: found for any target of the source, with why */
    answer(&f, "_x._tcp.bog.example", HASTLS_SEC_BOGUS, 300, 0, NULL, NULL);
    snprintf(f.a.reason, sizeof f.a.reason, "signature expired");
    assert_int_equal(hastls_srvmemo_note(&f.a, NOW), 1);
    assert_int_equal(hastls_srvmemo_find("bog.example", "any.example", 443, NOW, &e), 1);
    assert_int_equal(e.status, HASTLS_SEC_BOGUS);
    assert_string_equal(e.why, "signature expired");
    /* a listing answer wins over a bogus one of another service */
    hastls_srvmemo_note(
        answer(&f, "_y._tcp.bog.example", HASTLS_SEC_SECURE, 300, 1, ports, names), NOW);
    assert_int_equal(hastls_srvmemo_find("bog.example", "t.example", 5222, NOW, &e), 1);
    assert_int_equal(e.status, HASTLS_SEC_SECURE);
    /* a new answer of the same owner replaces the old one */
    hastls_srvmemo_note(
        answer(&f, "_x._tcp.ins.example", HASTLS_SEC_SECURE, 300, 1, ports, names), NOW);
    assert_int_equal(hastls_srvmemo_find("ins.example", "t.example", 5222, NOW, &e), 1);
    assert_int_equal(e.status, HASTLS_SEC_SECURE);
}

static void malformed(void **state)
{
    (void)state;
    struct fixture f;
    struct hastls_srvmemo_entry e;
    const uint16_t ports[] = {5222, 5222, 5222};
    const char *names[] = {"a.example", "b.example", "c.example"};
    answer(&f, "_x._tcp.m.example", HASTLS_SEC_SECURE, 300, 3, ports, names);
    f.rr[0].rdlen = 5;  /* short */
    f.rd[1][6] = 60;    /* a label running past the RDATA */
    f.rr[2].rdlen += 1; /* trailing byte */
    assert_int_equal(hastls_srvmemo_note(&f.a, NOW), 0);
    answer(&f, "_x._tcp.m.example", HASTLS_SEC_SECURE, 300, 3, ports, names);
    f.rr[0].rdata = NULL;
    f.rr[1].type = 1; /* not an SRV record */
    assert_int_equal(hastls_srvmemo_note(&f.a, NOW), 1);
    assert_int_equal(hastls_srvmemo_get("_x._tcp.m.example", NOW, &e), 1);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.t[0].name, "c.example");
    /* an owner that is no name */
    answer(&f, "", HASTLS_SEC_SECURE, 300, 1, ports, names);
    assert_int_equal(hastls_srvmemo_note(&f.a, NOW), 0);
    assert_int_equal(hastls_srvmemo_note(NULL, NOW), 0);
}

static void alabels(void **state)
{
    (void)state;
    struct fixture f;
    struct hastls_srvmemo_entry e;
    const uint16_t ports[] = {5222};
    const char *names[] = {"xn--caf-dma.example"};
    hastls_srvmemo_note(answer(&f, "_xmpp-client._tcp.xn--bcher-kva.example",
                               HASTLS_SEC_SECURE, 300, 1, ports, names),
                        NOW);
    assert_int_equal(hastls_srvmemo_find("XN--BCHER-KVA.example", "xn--CAF-dma.example",
                                         5222, NOW, &e),
                     1);
    /* U-labels never match */
    assert_int_equal(hastls_srvmemo_find("b\xc3\xbc"
                                         "cher.example",
                                         "xn--caf-dma.example", 5222, NOW, &e),
                     0);
    assert_int_equal(hastls_srvmemo_find("xn--bcher-kva.example",
                                         "caf\xc3\xa9"
                                         ".example",
                                         5222, NOW, &e),
                     0);
    /* a target with octets outside ASCII arrives escaped, and matches only
     * its escaped spelling */
    const char *odd[] = {"caf\xc3\xa9.example"};
    hastls_srvmemo_note(
        answer(&f, "_x._tcp.odd.example", HASTLS_SEC_SECURE, 300, 1, ports, odd), NOW);
    assert_int_equal(hastls_srvmemo_get("_x._tcp.odd.example", NOW, &e), 1);
    assert_string_equal(e.t[0].name, "caf\\195\\169.example");
    assert_int_equal(
        hastls_srvmemo_find("odd.example", "caf\xc3\xa9.example", 5222, NOW, &e), 0);
}

static void bounds(void **state)
{
    (void)state;
    struct fixture f;
    struct hastls_srvmemo_entry e;
    uint16_t ports[12];
    const char *names[12];
    char buf[12][32];
    for (int i = 0; i < 12; i++) {
        ports[i] = (uint16_t)(5000 + i);
        snprintf(buf[i], sizeof buf[i], "t%d.example", i);
        names[i] = buf[i];
    }
    /* targets past the bound are forgotten */
    hastls_srvmemo_note(
        answer(&f, "_x._tcp.many.example", HASTLS_SEC_SECURE, 300, 12, ports, names),
        NOW);
    assert_int_equal(hastls_srvmemo_get("_x._tcp.many.example", NOW, &e), 1);
    assert_int_equal(e.n, HASTLS_SRVMEMO_TARGETS);
    assert_int_equal(hastls_srvmemo_find("many.example", "t7.example", 5007, NOW, &e), 1);
    assert_int_equal(hastls_srvmemo_find("many.example", "t8.example", 5008, NOW, &e), 0);
    /* more answers than slots: the one expiring first makes room */
    hastls_srvmemo_clear();
    char owner[64];
    for (int i = 0; i < HASTLS_SRVMEMO_SLOTS; i++) {
        snprintf(owner, sizeof owner, "_x._tcp.s%d.example", i);
        hastls_srvmemo_note(answer(&f, owner, HASTLS_SEC_SECURE, i == 5 ? 100 : 1000 + i,
                                   1, ports, names),
                            NOW);
    }
    hastls_srvmemo_note(
        answer(&f, "_x._tcp.new.example", HASTLS_SEC_SECURE, 300, 1, ports, names), NOW);
    assert_int_equal(hastls_srvmemo_get("_x._tcp.new.example", NOW, &e), 1);
    assert_int_equal(hastls_srvmemo_get("_x._tcp.s5.example", NOW, &e), 0);
    int kept = 0;
    for (int i = 0; i < HASTLS_SRVMEMO_SLOTS; i++) {
        snprintf(owner, sizeof owner, "_x._tcp.s%d.example", i);
        kept += hastls_srvmemo_get(owner, NOW, &e);
    }
    assert_int_equal(kept, HASTLS_SRVMEMO_SLOTS - 1);
    /* an expired answer makes room before any live one */
    hastls_srvmemo_note(
        answer(&f, "_x._tcp.later.example", HASTLS_SEC_SECURE, 300, 1, ports, names),
        NOW + 1020);
    assert_int_equal(hastls_srvmemo_get("_x._tcp.s31.example", NOW + 1020, &e), 1);
    assert_int_equal(hastls_srvmemo_get("_x._tcp.later.example", NOW + 1020, &e), 1);
}

/* ---- a scripted resolver in place of the shim's ---- */

__thread int hastls_guard_depth __attribute__((tls_model("initial-exec")));

struct scripted {
    const char *name; /* as asked, absolute */
    uint16_t type;
    enum hastls_sec status;
    const char *data; /* an address, "PORT TARGET" for SRV, NULL: no records */
};

static const struct scripted script[] = {
    {"_xmpp-client._tcp.self.example.", HASTLS_DNS_TYPE_SRV, HASTLS_SEC_SECURE,
     "5222 chat.hosting.example"},
    {"chat.hosting.example.", 1, HASTLS_SEC_SECURE, "127.0.10.40"},
    {"chat.hosting.example.", 28, HASTLS_SEC_SECURE, NULL},
    {"ins.hosting.example.", 1, HASTLS_SEC_INSECURE, "127.0.10.42"},
    {"ins.hosting.example.", 28, HASTLS_SEC_INSECURE, NULL},
    {"half.hosting.example.", 1, HASTLS_SEC_SECURE, "127.0.10.43"},
    {"half.hosting.example.", 28, HASTLS_SEC_BOGUS, NULL},
};

static int resolver_down;
static int srv_queries;

struct scripted_answer {
    struct hastls_answer a;
    struct hastls_rr rr;
    uint8_t rd[300];
};

static int scripted_lookup(struct hastls_resolver *r, const struct hastls_query *q,
                           size_t nq, struct hastls_answer **ans)
{
    (void)r;
    for (size_t i = 0; i < nq; i++) {
        struct scripted_answer *s = calloc(1, sizeof *s);
        assert_non_null(s);
        s->a.qtype = q[i].type;
        s->a.status = HASTLS_SEC_FAILED;
        s->a.rcode = -1;
        s->a.ttl = 300;
        s->a.rr = &s->rr;
        snprintf(s->a.qname, sizeof s->a.qname, "%s", q[i].name);
        srv_queries += q[i].type == HASTLS_DNS_TYPE_SRV;
        for (size_t k = 0; k < sizeof script / sizeof script[0]; k++) {
            if (strcmp(script[k].name, q[i].name) || script[k].type != q[i].type)
                continue;
            s->a.status = script[k].status;
            s->a.rcode = 0;
            const char *d = script[k].data;
            if (!d)
                break;
            s->a.n_rr = 1;
            s->rr.type = q[i].type;
            s->rr.rdata = s->rd;
            if (q[i].type == HASTLS_DNS_TYPE_SRV) {
                s->rr.rdlen = srv_rdata(s->rd, (uint16_t)atoi(d), strchr(d, ' ') + 1);
            } else {
                assert_int_equal(inet_pton(q[i].type == 1 ? AF_INET : AF_INET6, d, s->rd),
                                 1);
                s->rr.rdlen = q[i].type == 1 ? 4 : 16;
            }
            break;
        }
        ans[i] = &s->a;
    }
    return 0;
}

static void scripted_free(struct hastls_answer *a)
{
    free(a); /* the first member of its struct scripted_answer */
}

static const struct hastls_resolver_api scripted_api = {
    .version = HASTLS_RESOLVER_API_VERSION,
    .lookup = scripted_lookup,
    .answer_free = scripted_free,
};

int hastls_state_resolver(const struct hastls_resolver_api **api,
                          struct hastls_resolver **r)
{
    if (resolver_down)
        return -1;
    *api = &scripted_api;
    *r = NULL;
    return 0;
}

static void key_of(const char *addr, uint8_t key[16])
{
    uint8_t a[4];
    assert_int_equal(inet_pton(AF_INET, addr, a), 1);
    hastls_ip_key(AF_INET, a, key);
}

/* A secure SRV answer of SOURCE naming TARGET on 5222, remembered now. */
static void remember(const char *source, const char *target)
{
    struct fixture f;
    char owner[200];
    const uint16_t ports[] = {5222};
    const char *names[] = {target};
    snprintf(owner, sizeof owner, "_xmpp-client._tcp.%s", source);
    assert_int_equal(
        hastls_srvmemo_note(answer(&f, owner, HASTLS_SEC_SECURE, 300, 1, ports, names),
                            hastls_now()),
        1);
}

static void delegation_addresses(void **state)
{
    (void)state;
    struct hastls_deleg_result d;
    uint8_t key[16], other[16];
    key_of("127.0.10.40", key);
    key_of("127.0.10.99", other);
    resolver_down = 0;
    remember("im.example", "chat.hosting.example");
    assert_int_equal(
        hastls_srv_delegation("im.example", "chat.hosting.example", 5222, key, &d), 0);
    assert_int_equal(d.state, HASTLS_DELEG_SECURE);
    assert_string_equal(d.target, "chat.hosting.example");
    assert_string_equal(d.owner, "_xmpp-client._tcp.im.example");
    assert_int_equal(
        hastls_srv_delegation("im.example", "chat.hosting.example", 5222, NULL, &d), 0);
    assert_int_equal(d.state, HASTLS_DELEG_SECURE);
    /* a peer address the secure answers do not list */
    hastls_srv_delegation("im.example", "chat.hosting.example", 5222, other, &d);
    assert_int_equal(d.state, HASTLS_DELEG_INSECURE);
    assert_string_equal(
        d.why, "the secure addresses of chat.hosting.example do not include the peer's");
    /* unsigned addresses, a bogus AAAA answer */
    remember("ins.example", "ins.hosting.example");
    hastls_srv_delegation("ins.example", "ins.hosting.example", 5222, NULL, &d);
    assert_int_equal(d.state, HASTLS_DELEG_INSECURE);
    assert_string_equal(d.why, "the A answer of ins.hosting.example is not signed");
    remember("half.example", "half.hosting.example");
    hastls_srv_delegation("half.example", "half.hosting.example", 5222, NULL, &d);
    assert_int_equal(d.state, HASTLS_DELEG_INSECURE);
    assert_string_equal(d.why, "the AAAA answer of half.hosting.example is DNSSEC-bogus");
    /* no resolver: not secure */
    resolver_down = 1;
    hastls_srv_delegation("im.example", "chat.hosting.example", 5222, key, &d);
    assert_int_equal(d.state, HASTLS_DELEG_INSECURE);
    assert_string_equal(d.why,
                        "the addresses of chat.hosting.example could not be looked up");
    resolver_down = 0;
}

static void delegation_self_lookup(void **state)
{
    (void)state;
    struct hastls_deleg_result d;
    uint8_t key[16];
    key_of("127.0.10.40", key);
    resolver_down = 0;
    srv_queries = 0;
    /* nothing remembered, XMPP's port: the shim asks the SRV itself, once */
    hastls_srv_delegation("self.example", "chat.hosting.example", 5222, key, &d);
    assert_int_equal(d.state, HASTLS_DELEG_SECURE);
    assert_string_equal(d.owner, "_xmpp-client._tcp.self.example");
    assert_int_equal(srv_queries, 1);
    hastls_srv_delegation("self.example", "chat.hosting.example", 5222, key, &d);
    assert_int_equal(d.state, HASTLS_DELEG_SECURE);
    assert_int_equal(srv_queries, 1);
    /* 5269: _xmpp-server._tcp, which has no answer here */
    hastls_srv_delegation("self.example", "chat.hosting.example", 5269, key, &d);
    assert_int_equal(d.state, HASTLS_DELEG_NONE);
    assert_int_equal(srv_queries, 2);
    /* other ports: nothing asked */
    hastls_srv_delegation("self.example", "chat.hosting.example", 443, key, &d);
    assert_int_equal(d.state, HASTLS_DELEG_NONE);
    assert_int_equal(srv_queries, 2);
    /* no resolver: no delegation */
    resolver_down = 1;
    hastls_srv_delegation("down.example", "chat.hosting.example", 5222, key, &d);
    assert_int_equal(d.state, HASTLS_DELEG_NONE);
    resolver_down = 0;
}

/* The rule's answers that need no lookup: memory entries that are not
 * secure, same names, names not in A-label form. */
static void delegation(void **state)
{
    (void)state;
    struct fixture f;
    struct hastls_deleg_result d;
    const uint16_t ports[] = {5222};
    const char *names[] = {"chat.hosting.example"};
    uint64_t now = hastls_now();
    assert_int_equal(hastls_srv_delegation(NULL, "a", 1, NULL, &d), -1);
    assert_int_equal(hastls_srv_delegation("a", "a", 1, NULL, NULL), -1);
    assert_int_equal(hastls_srv_delegation("Im.Example.", "im.example", 5222, NULL, &d),
                     0);
    assert_int_equal(d.state, HASTLS_DELEG_NONE);
    assert_int_equal(hastls_srv_delegation("b\xc3\xbc.example", "chat.hosting.example",
                                           5222, NULL, &d),
                     0);
    assert_int_equal(d.state, HASTLS_DELEG_NONE);

    hastls_srvmemo_note(answer(&f, "_xmpp-client._tcp.ins.example", HASTLS_SEC_INSECURE,
                               300, 1, ports, names),
                        now);
    assert_int_equal(
        hastls_srv_delegation("ins.example", "chat.hosting.example", 5222, NULL, &d), 0);
    assert_int_equal(d.state, HASTLS_DELEG_INSECURE);
    assert_string_equal(d.owner, "_xmpp-client._tcp.ins.example");
    assert_string_equal(
        d.why, "the SRV records at _xmpp-client._tcp.ins.example are not signed");

    answer(&f, "_xmpp-client._tcp.bog.example", HASTLS_SEC_BOGUS, 300, 0, NULL, NULL);
    snprintf(f.a.reason, sizeof f.a.reason, "no signatures");
    hastls_srvmemo_note(&f.a, now);
    assert_int_equal(
        hastls_srv_delegation("bog.example", "chat.hosting.example", 5222, NULL, &d), 0);
    assert_int_equal(d.state, HASTLS_DELEG_BOGUS);
    assert_string_equal(d.why, "the SRV records at _xmpp-client._tcp.bog.example are "
                               "DNSSEC-bogus: no signatures");
    /* a port the shim looks nothing up for, nothing remembered: none */
    assert_int_equal(
        hastls_srv_delegation("other.example", "chat.hosting.example", 443, NULL, &d), 0);
    assert_int_equal(d.state, HASTLS_DELEG_NONE);
    assert_string_equal(hastls_deleg_name(HASTLS_DELEG_SECURE), "secure");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(find_listed, setup),
        cmocka_unit_test_setup(owner_shapes, setup),
        cmocka_unit_test_setup(ttl_bounds, setup),
        cmocka_unit_test_setup(statuses, setup),
        cmocka_unit_test_setup(malformed, setup),
        cmocka_unit_test_setup(alabels, setup),
        cmocka_unit_test_setup(bounds, setup),
        cmocka_unit_test_setup(delegation, setup),
        cmocka_unit_test_setup(delegation_addresses, setup),
        cmocka_unit_test_setup(delegation_self_lookup, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
