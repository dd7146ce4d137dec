/* tests/fuzz/fuzz_upstream_match.c: what an upstream sends back, on
 * arbitrary bytes, through the real state machine (shim/resolver/upstream.c):
 * stream reassembly, ID matching and question matching.  Three clients'
 * queries are in flight on one TLS connection with our IDs 0x0100..0x0102;
 * the input is the upstream's byte stream, handed over in pieces whose sizes
 * the first byte seeds, with time passing between pieces (resends, fail-over,
 * deadlines).  Every answer the machine gives a client must carry that
 * client's ID and question, and each client gets at most one. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config.h"
#include "policy/dnswire.h"
#include "shim/resolver/upstream.h"
#include "shim/resolver/work.h"

#define NQ 3

static uint16_t next_id(void *arg)
{
    uint16_t *id = arg;
    return (*id)++;
}

static size_t make_query(uint8_t *out, int k)
{
    static const char *labels[NQ] = {"\1a", "\1b", "\2cc"};
    uint8_t name[32];
    size_t l = strlen(labels[k]), len, qend;
    memcpy(name, labels[k], l);
    memcpy(name + l, "\4test", 6);
    if (hastls_dns_build_query(name, l + 6, 1, 1, out, 512, &len, &qend) < 0)
        abort();
    hastls_dns_set_id(out, (uint16_t)(0x7000 + k));
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct hastls_config cfg;
    static int ready;
    char err[128];
    if (!ready) {
        hastls_config_defaults(&cfg);
        cfg.n_upstreams = 1;
        if (hastls_upstream_parse("127.0.0.1@853#dot.test", &cfg.upstreams[0], err,
                                  sizeof err) < 0)
            abort();
        cfg.timeout_ms = 2000;
        ready = 1;
    }
    if (size < 1)
        return 0;
    struct hastls_workq q;
    hastls_workq_init(&q);
    struct hastls_up_engine *e = hastls_up_new(&cfg, NULL, &q);
    if (!e)
        return 0;
    uint16_t id = 0x100;
    hastls_up_set_id_source(e, next_id, &id);
    uint64_t now = 1000000;
    int clients[NQ];
    uint8_t queries[NQ][512];
    size_t qlen[NQ];
    for (int k = 0; k < NQ; k++) {
        qlen[k] = make_query(queries[k], k);
        if (hastls_up_submit(e, now, &clients[k], queries[k], qlen[k], 0) < 0)
            abort();
    }
    hastls_up_connected(e, 0, now);
    struct hastls_up_secured sec = {1, 0, ""};
    hastls_up_secured(e, 0, now, &sec);
    const uint8_t *p;
    hastls_up_sent(e, 0, hastls_up_pending(e, 0, &p));

    unsigned seed = data[0];
    int answered[NQ] = {0};
    for (size_t pos = 1; pos < size;) {
        seed = seed * 1103515245u + 12345u;
        size_t piece = 1 + (seed >> 16) % 61;
        if (piece > size - pos)
            piece = size - pos;
        hastls_up_received(e, 0, now, data + pos, piece);
        pos += piece;
        if ((seed >> 8) % 16 == 0) {
            now += 300;
            hastls_up_tick(e, now);
        }
        struct hastls_work *w;
        while ((w = hastls_workq_pop(&q)) != NULL) {
            if (w->kind == HASTLS_WORK_ANSWER) {
                int k;
                for (k = 0; k < NQ && w->client != &clients[k]; k++)
                    ;
                if (k == NQ || answered[k]++ || hastls_dns_id(w->msg) != 0x7000 + k ||
                    !hastls_dns_same_question(queries[k], qlen[k], w->msg, w->len))
                    abort();
            } else if (w->kind == HASTLS_WORK_CONNECT && w->conn == 0 && (seed & 1)) {
                hastls_up_connected(e, 0, now); /* reconnects; replays stay valid */
                hastls_up_secured(e, 0, now, &sec);
            }
            hastls_work_release(w);
            hastls_up_sent(e, 0, hastls_up_pending(e, 0, &p));
        }
    }
    hastls_workq_clear(&q);
    hastls_up_free(e);
    return 0;
}
