/* tests/bench/bench_addrmap.c: what connect()'s decision costs when many
 * looked-up names share one address.
 *
 *   bench_addrmap NAMES N
 *
 * Builds the shim's address map (the real code, compiled in: benchmark
 * programs link libc only) with NAMES names recorded for one address (a CDN
 * address: each name without a HASTLS record, and one name whose secure
 * record says (0 443)), a second address with NAMES names none of which
 * has a record (every decision reads all the names kept), and 1022 other
 * addresses of one name each, then times N decisions of a connection to port
 * 80 of each of the shared addresses, and N of an address with one name
 * (0 443).  Prints:
 *   shared_ns=X open_ns=Z single_ns=Y ratio=X/Y open_ratio=Z/Y names_kept=K
 * where names_kept is the number of names the map keeps for a shared
 * address (bounded by HASTLS_ADDRMAP_MAX_NAMES whatever NAMES is).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "policy/decide.c"
#include "policy/verdict.c"
#include "shim/core/addrmap.c"
#include "shim/core/ip.c"

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void key_of(unsigned a, uint8_t key[16])
{
    uint8_t v4[4] = {198, 18, (uint8_t)(a >> 8), (uint8_t)a};
    hastls_ip_key(AF_INET, v4, key);
}

/* N decisions for KEY; nanoseconds per decision, or -1 when one did not
 * give WANT (the strict name must govern). */
static double time_decide(struct hastls_addrmap *m, const uint8_t key[16], long n,
                          enum hastls_verdict want)
{
    struct hastls_addrmap_verdict v;
    long right = 0;
    long long t0 = now_ns();
    for (long i = 0; i < n; i++)
        if (hastls_addrmap_decide(m, key, 80, HASTLS_CLIENT_CFB, HASTLS_BOGUS_BLOCK, 100,
                                  &v) &&
            v.d.verdict == want)
            right++;
    long long t1 = now_ns();
    return right == n ? (double)(t1 - t0) / (double)n : -1.0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_addrmap NAMES N\n");
        return 2;
    }
    long names = atol(argv[1]), n = atol(argv[2]);
    if (names < 1 || n < 1) {
        fprintf(stderr, "bench_addrmap: NAMES and N must be positive\n");
        return 2;
    }
    struct hastls_addrmap *m = hastls_addrmap_new(65536);
    if (!m) {
        fprintf(stderr, "bench_addrmap: out of memory\n");
        return 1;
    }
    static const struct hastls_pair tls443[] = {{0, 443}};
    uint8_t shared[16], open[16], single[16];
    key_of(0, shared);
    key_of(1, open);
    key_of(2, single);
    char name[64];
    int bad = hastls_addrmap_record(m, shared, "shop.example", HASTLS_REC_SECURE, tls443,
                                    1, 1000, 100, NULL) != 0;
    for (long i = 1; i < names; i++) {
        snprintf(name, sizeof name, "site%ld.cdn.example", i);
        bad |= hastls_addrmap_record(m, shared, name, HASTLS_REC_NONE, NULL, 0, 1000, 100,
                                     NULL) != 0;
    }
    for (long i = 0; i < names; i++) {
        snprintf(name, sizeof name, "open%ld.cdn.example", i);
        bad |= hastls_addrmap_record(m, open, name, HASTLS_REC_NONE, NULL, 0,
                                     1000 + (uint64_t)i, 100, NULL) != 0;
    }
    for (unsigned a = 2; a < 1024; a++) {
        uint8_t k[16];
        key_of(a, k);
        snprintf(name, sizeof name, "host%u.example", a);
        bad |= hastls_addrmap_record(m, k, name, HASTLS_REC_SECURE, tls443, 1, 1000, 100,
                                     NULL) != 0;
    }
    if (bad) {
        fprintf(stderr, "bench_addrmap: recording failed\n");
        return 1;
    }
    (void)time_decide(m, shared, n / 10 + 1, HASTLS_VERDICT_BLOCK); /* warm up */
    double s = time_decide(m, shared, n, HASTLS_VERDICT_BLOCK);
    double o = time_decide(m, open, n, HASTLS_VERDICT_ALLOW);
    double one = time_decide(m, single, n, HASTLS_VERDICT_BLOCK);
    if (s < 0 || o < 0 || one < 0) {
        fprintf(stderr, "bench_addrmap: a decision was not the record's\n");
        return 1;
    }
    printf("shared_ns=%.1f open_ns=%.1f single_ns=%.1f ratio=%.2f open_ratio=%.2f "
           "names_kept=%zu\n",
           s, o, one, one > 0 ? s / one : 0.0, one > 0 ? o / one : 0.0,
           hastls_addrmap_names(m, shared));
    hastls_addrmap_free(m);
    return 0;
}
