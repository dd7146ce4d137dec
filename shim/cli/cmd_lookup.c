/* shim/cli/cmd_lookup.c: `hastls lookup [OPTIONS] NAME [TYPE...]`.
 *
 * Resolves NAME through the resolver exactly as the shim would (same
 * configuration, privacy profile, transport), all TYPEs in one batch, and
 * prints per type:
 *   NAME TYPE: STATUS rcode=RCODE canonical=CNAME ttl=TTL elapsed_ms=MS
 *     RECORD            (one line per record; HASTLS as "(0 443)")
 *     reason: TEXT      (bogus and failed answers)
 * With --names FILE (- for standard input) it looks up every name listed, one a
 * line, as lines arrive, spread over --threads N threads; --stats ends with the
 * transport's counters.  With --port N (and --udp) the batch also asks the
 * TLSA RRset that the shim fetches with a program's getaddrinfo for that
 * service (_N._tcp.NAME, _N._udp.NAME; policy/tlsa.h says for which ports),
 * printed under its owner name with a "dane:" line saying what the TLS hook
 * makes of it, or one "not fetched" line when the shim asks none.  Exit
 * status: 0 when every answer is secure or insecure, 1 when any is bogus or
 * failed, 2 for a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "policy/base64.h"
#include "policy/config.h"
#include "policy/dnswire.h"
#include "policy/hastls_rr.h"
#include "policy/srv.h"
#include "policy/tlsa.h"
#include "shim/cli/cli.h"
#include "shim/cli/format.h"
#include "shim/resolver/resolver.h"

#define MAX_TYPES 16

static const struct {
    const char *name;
    uint16_t type;
} type_names[] = {
    {"A", 1},      {"NS", 2},    {"CNAME", 5},   {"SOA", 6},   {"PTR", 12},
    {"MX", 15},    {"TXT", 16},  {"AAAA", 28},   {"SRV", 33},  {"DS", 43},
    {"RRSIG", 46}, {"NSEC", 47}, {"DNSKEY", 48}, {"TLSA", 52}, {"SVCB", 64},
    {"HTTPS", 65}, {"CAA", 257},
};

struct lookup_job {
    struct hastls_resolver *r;
    uint16_t types[MAX_TYPES];
    size_t ntypes;
    uint16_t hastls_type;
    uint16_t port; /* --port: 0 none */
    int socktype;  /* SOCK_STREAM, or SOCK_DGRAM with --udp */
    enum hastls_dane_mode dane;
    FILE *names;
    pthread_mutex_t mu; /* guards NAMES, stdout and FAILED */
    int failed;
};

static void lookup_usage(FILE *out)
{
    fprintf(
        out,
        "usage: hastls lookup [OPTIONS] NAME [TYPE...]\n"
        "       hastls lookup [OPTIONS] --names FILE [TYPE...]\n"
        "\n"
        "Resolves NAME (default types A AAAA HASTLS) through the DNSSEC-validating\n"
        "resolver over DNS-over-TLS, as the shim does, and prints per type the\n"
        "status (secure, insecure, bogus, failed), RCODE, canonical name, records,\n"
        "reason and elapsed time.  TYPE is a name (A, AAAA, MX, TLSA, HASTLS, ...),\n"
        "TYPEnnn or a number.\n"
        "\n"
        "  --config FILE      configuration file (default: $HASTLS_CONF, then %s)\n"
        "  --privacy P        override: strict, encrypted, opportunistic or off\n"
        "  --upstream SPEC    override (repeatable): ADDR[@PORT][#AUTH-NAME]\n"
        "  --pin BASE64       override (repeatable): SPKI SHA-256 pin\n"
        "  --alpn LIST        override the ALPN ids (\"dot, dns\": in preference order)\n"
        "  --timeout MS       override the whole-lookup deadline\n"
        "  --names FILE       look up every name in FILE, one a line (- = stdin)\n"
        "  --threads N        with --names: N threads at once (default 1)\n"
        "  --stats            print the transport's counters at the end\n"
        "  --grace            give the HASTLS query of a host lookup (A or AAAA\n"
        "                     asked with HASTLS) only a quarter of the deadline once\n"
        "                     the addresses are in, as the shim does; without it every\n"
        "                     answer is waited for until the deadline\n"
        "  --port N           also the TLSA RRset the shim fetches with a lookup for\n"
        "                     TCP port N (_N._tcp.NAME), and what DANE makes of it\n"
        "  --udp              with --port: for UDP (DTLS), _N._udp.NAME\n",
        HASTLS_DEFAULT_CONF);
}

static int parse_type(const char *s, uint16_t hastls_type, uint16_t *out)
{
    if (!strcasecmp(s, "HASTLS")) {
        *out = hastls_type;
        return 0;
    }
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (!strcasecmp(s, type_names[i].name)) {
            *out = type_names[i].type;
            return 0;
        }
    const char *num = !strncasecmp(s, "TYPE", 4) ? s + 4 : s;
    char *end;
    errno = 0;
    unsigned long v = strtoul(num, &end, 10);
    if (!*num || *end || errno || v == 0 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static void type_text(uint16_t t, uint16_t hastls_type, char *buf, size_t len)
{
    if (t == hastls_type) {
        snprintf(buf, len, "HASTLS");
        return;
    }
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i].type == t) {
            snprintf(buf, len, "%s", type_names[i].name);
            return;
        }
    snprintf(buf, len, "TYPE%u", t);
}

/* Formats one record's RDATA (which points into A->packet) into BUF. */
static void rr_text(const struct hastls_answer *a, const struct hastls_rr *rr,
                    uint16_t hastls_type, char *buf, size_t len)
{
    const uint8_t *d = rr->rdata;
    size_t off = (size_t)(d - a->packet), next;
    char name[HASTLS_NAME_MAX];
    if (rr->type == hastls_type) {
        struct hastls_pair pairs[64];
        size_t n = 0;
        int e = hastls_rdata_decode(d, rr->rdlen, pairs, 64, &n);
        if (e == HASTLS_RR_OK && hastls_pairs_format(pairs, n, buf, len) >= 0)
            return;
        snprintf(buf, len, "malformed record (%s)", hastls_rr_strerror(e));
        return;
    }
    switch (rr->type) {
    case 1:
        if (rr->rdlen == 4 && inet_ntop(AF_INET, d, buf, (socklen_t)len))
            return;
        break;
    case 28:
        if (rr->rdlen == 16 && inet_ntop(AF_INET6, d, buf, (socklen_t)len))
            return;
        break;
    case 2:
    case 5:
    case 12:
        if (hastls_dns_read_name(a->packet, a->packet_len, off, name, sizeof name,
                                 &next) == 0) {
            snprintf(buf, len, "%s", name);
            return;
        }
        break;
    case 15:
        if (rr->rdlen > 2 && hastls_dns_read_name(a->packet, a->packet_len, off + 2, name,
                                                  sizeof name, &next) == 0) {
            snprintf(buf, len, "%u %s", (d[0] << 8) | d[1], name);
            return;
        }
        break;
    case HASTLS_DNS_TYPE_SRV: {
        struct hastls_srv srv;
        if (hastls_srv_decode(a->packet, a->packet_len, d, rr->rdlen, &srv) ==
                HASTLS_SRV_OK &&
            hastls_srv_format(&srv, buf, len) >= 0)
            return;
        break;
    }
    case HASTLS_DNS_TYPE_TLSA: {
        struct hastls_tlsa t;
        int e = hastls_tlsa_decode(d, rr->rdlen, &t);
        if (e == HASTLS_TLSA_SHORT)
            break;
        int n = hastls_tlsa_format(&t, buf, len);
        if (n >= 0 && e != HASTLS_TLSA_OK)
            snprintf(buf + n, len - (size_t)n, " (unusable: %s)",
                     hastls_tlsa_strerror(e));
        if (n >= 0)
            return;
        break;
    }
    default:
        break;
    }
    /* RFC 3597 generic form. */
    size_t o = (size_t)snprintf(buf, len, "\\# %u ", rr->rdlen);
    for (size_t i = 0; i < rr->rdlen && o + 3 < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%02x", d[i]);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The owner of the TLSA RRset the shim fetches with a lookup of NAME for
 * JOB's --port into OWNER (HASTLS_NAME_MAX + 16).  Returns 1, or 0 with the
 * reason it fetches none in WHY. */
static int tlsa_owner(const struct lookup_job *job, const char *name, char *owner,
                      const char **why)
{
    const char *proto = hastls_tlsa_prefetch_proto(job->port, job->socktype, 0);
    char norm[HASTLS_NAME_MAX];
    size_t len = strlen(name);
    if (len && name[len - 1] == '.')
        len--;
    *why = NULL;
    if (job->dane == HASTLS_DANE_OFF)
        *why = "dane = off";
    else if (!proto)
        *why = "a port without TLS of its own";
    else if (len == 0 || len >= sizeof norm)
        *why = "not a host name";
    if (*why)
        return 0;
    memcpy(norm, name, len);
    norm[len] = '\0';
    for (char *p = norm; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (hastls_tlsa_owner(job->port, proto, norm, owner, HASTLS_NAME_MAX + 16) < 0) {
        *why = "the owner name is too long";
        return 0;
    }
    return 1;
}

/* The "dane:" line of the TLSA answer A: the state the TLS hook takes from
 * it (policy/tlsa.h). */
static void print_dane(const struct hastls_answer *a)
{
    struct hastls_tlsa usable[16];
    size_t nu = a->status == HASTLS_SEC_SECURE
                    ? hastls_tlsa_usable(a->rr, a->n_rr, usable, 16)
                    : 0;
    printf("  dane: %s, %zu usable record(s)\n",
           hastls_dane_name(hastls_dane_state(a->status, a->rcode, nu)), nu);
}

/* Looks NAME up and prints the answers (under JOB->MU).  Returns 0 when every
 * answer is secure or insecure. */
static int lookup_one(struct lookup_job *job, const char *name)
{
    struct hastls_query q[MAX_TYPES + 1];
    struct hastls_answer *ans[MAX_TYPES + 1];
    size_t nq = job->ntypes;
    for (size_t i = 0; i < job->ntypes; i++)
        q[i] = (struct hastls_query){name, job->types[i]};
    char owner[HASTLS_NAME_MAX + 16];
    const char *why = NULL;
    size_t tlsa = MAX_TYPES + 1; /* the index of the TLSA query, if any */
    if (job->port && tlsa_owner(job, name, owner, &why)) {
        tlsa = nq;
        q[nq++] = (struct hastls_query){owner, HASTLS_DNS_TYPE_TLSA};
    }
    double t0 = now_ms();
    if (hastls_resolver_lookup(job->r, q, nq, ans) < 0) {
        pthread_mutex_lock(&job->mu);
        fputs("hastls lookup: ", stderr);
        hastls_cli_text(stderr, name);
        fputs(": out of memory\n", stderr);
        pthread_mutex_unlock(&job->mu);
        return 1;
    }
    double elapsed = now_ms() - t0;
    int bad = 0;
    pthread_mutex_lock(&job->mu);
    for (size_t i = 0; i < nq; i++) {
        const struct hastls_answer *a = ans[i];
        char tt[16], line[1024];
        type_text(a->qtype, job->hastls_type, tt, sizeof tt);
        /* NAME comes from the command line or a file, the canonical name and
         * the reason from DNS: escaped, so they cannot drive the terminal.
         * Record lines are already in presentation form (names escaped by
         * hastls_dns_read_name, the rest numbers and hex). */
        hastls_cli_text(stdout, i == tlsa ? owner : name);
        printf(" %s: %s rcode=%s canonical=", tt, hastls_sec_name(a->status),
               hastls_cli_rcode_name(a->rcode));
        hastls_cli_text(stdout, a->canonname);
        printf(" ttl=%u elapsed_ms=%.1f\n", a->ttl, elapsed);
        for (size_t k = 0; k < a->n_rr; k++) {
            rr_text(a, &a->rr[k], job->hastls_type, line, sizeof line);
            printf("  %s\n", line);
        }
        if (a->reason[0]) {
            fputs("  reason: ", stdout);
            hastls_cli_text(stdout, a->reason);
            putchar('\n');
        }
        if (i == tlsa)
            print_dane(a);
        if (a->status == HASTLS_SEC_BOGUS || a->status == HASTLS_SEC_FAILED)
            bad = 1;
        hastls_answer_free(ans[i]);
    }
    if (why) {
        hastls_cli_text(stdout, name);
        printf(" TLSA: not fetched for %s port %u (%s)\n",
               job->socktype == SOCK_DGRAM ? "UDP" : "TCP", job->port, why);
    }
    fflush(stdout);
    pthread_mutex_unlock(&job->mu);
    return bad;
}

static void *lookup_worker(void *arg)
{
    struct lookup_job *job = arg;
    char line[HASTLS_NAME_MAX + 2];
    for (;;) {
        pthread_mutex_lock(&job->mu);
        char *got = fgets(line, sizeof line, job->names);
        pthread_mutex_unlock(&job->mu);
        if (!got)
            return NULL;
        line[strcspn(line, "\r\n")] = '\0';
        char *s = line + strspn(line, " \t");
        if (!*s || *s == '#')
            continue;
        if (lookup_one(job, s)) {
            pthread_mutex_lock(&job->mu);
            job->failed = 1;
            pthread_mutex_unlock(&job->mu);
        }
    }
}

int hastls_cmd_lookup(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"privacy", required_argument, NULL, 'p'},
        {"upstream", required_argument, NULL, 'u'},
        {"pin", required_argument, NULL, 'P'},
        {"alpn", required_argument, NULL, 'a'},
        {"timeout", required_argument, NULL, 't'},
        {"names", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 'T'},
        {"stats", no_argument, NULL, 's'},
        {"grace", no_argument, NULL, 'g'},
        {"port", required_argument, NULL, 'o'},
        {"udp", no_argument, NULL, 'U'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct hastls_config cfg; /* large: keep it off the stack */
    const char *conf = NULL, *names = NULL;
    char err[2048];
    int stats = 0, threads = 1, grace = 0, udp = 0, c;
    long port = 0;
    int up_override = 0, pin_override = 0;
    /* Overrides are applied after loading; collect them first. */
    const char *privacy = NULL, *alpn = NULL, *timeout = NULL;
    const char *ups[HASTLS_MAX_UPSTREAMS], *pins[HASTLS_MAX_PINS];

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:c:p:u:P:a:t:n:T:sgo:Uh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            conf = optarg;
            break;
        case 'p':
            privacy = optarg;
            break;
        case 'u':
            if (up_override == HASTLS_MAX_UPSTREAMS) {
                fprintf(stderr, "hastls lookup: at most %d upstreams\n",
                        HASTLS_MAX_UPSTREAMS);
                return 2;
            }
            ups[up_override++] = optarg;
            break;
        case 'P':
            if (pin_override == HASTLS_MAX_PINS) {
                fprintf(stderr, "hastls lookup: at most %d pins\n", HASTLS_MAX_PINS);
                return 2;
            }
            pins[pin_override++] = optarg;
            break;
        case 'a':
            alpn = optarg;
            break;
        case 't':
            timeout = optarg;
            break;
        case 'n':
            names = optarg;
            break;
        case 'T':
            threads = atoi(optarg);
            if (threads < 1 || threads > 256) {
                fprintf(stderr, "hastls lookup: --threads wants 1..256\n");
                return 2;
            }
            break;
        case 's':
            stats = 1;
            break;
        case 'g':
            grace = 1;
            break;
        case 'o': {
            char *end;
            errno = 0;
            port = strtol(optarg, &end, 10);
            if (!*optarg || *end || errno || port < 1 || port > 65535) {
                fprintf(stderr, "hastls lookup: --port wants 1..65535\n");
                return 2;
            }
            break;
        }
        case 'U':
            udp = 1;
            break;
        case 'h':
            lookup_usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "hastls lookup: option '%s' needs a value\n",
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "hastls lookup: unknown option '%s' (try --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    const char *name = NULL;
    if (!names) {
        if (optind >= argc) {
            lookup_usage(stderr);
            return 2;
        }
        name = argv[optind++];
    }

    int rc = conf ? hastls_config_load(conf, NULL, &cfg, err, sizeof err)
                  : hastls_config_load_default(NULL, &cfg, err, sizeof err);
    if (rc < 0) {
        hastls_cli_print_errors(err);
        return 1;
    }
    if (privacy) {
        int p = hastls_privacy_from_name(privacy);
        if (p < 0) {
            fprintf(stderr, "hastls lookup: bad privacy '%s'\n", privacy);
            return 2;
        }
        cfg.privacy = (enum hastls_privacy)p;
    }
    if (up_override) {
        cfg.n_upstreams = 0;
        for (int i = 0; i < up_override; i++)
            if (hastls_upstream_parse(ups[i], &cfg.upstreams[cfg.n_upstreams++], err,
                                      sizeof err) < 0) {
                fprintf(stderr, "hastls lookup: --upstream %s: %s\n", ups[i], err);
                return 2;
            }
    }
    if (pin_override) {
        cfg.n_pins = 0;
        for (int i = 0; i < pin_override; i++) {
            size_t l = 0;
            if (hastls_base64_decode(pins[i], cfg.pins[cfg.n_pins], 32, &l) < 0 ||
                l != 32) {
                fprintf(stderr, "hastls lookup: --pin %s: not a base64 SHA-256 digest\n",
                        pins[i]);
                return 2;
            }
            cfg.n_pins++;
        }
    }
    if (alpn) {
        char detail[96];
        if (hastls_alpn_parse(alpn, cfg.alpn, sizeof cfg.alpn, detail, sizeof detail) <
            0) {
            fprintf(stderr, "hastls lookup: bad --alpn '%s': %s\n", alpn, detail);
            return 2;
        }
    }
    if (timeout) {
        char *end;
        unsigned long v = strtoul(timeout, &end, 10);
        if (*end || v < 100 || v > 60000) {
            fprintf(stderr, "hastls lookup: --timeout wants 100 to 60000 milliseconds\n");
            return 2;
        }
        cfg.timeout_ms = (unsigned)v;
    }

    if (udp && !port) {
        fprintf(stderr, "hastls lookup: --udp needs --port\n");
        return 2;
    }
    static struct lookup_job job;
    job.hastls_type = cfg.record_type;
    job.port = (uint16_t)port;
    job.socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
    job.dane = cfg.dane;
    for (; optind < argc; optind++) {
        if (job.ntypes == MAX_TYPES) {
            fprintf(stderr, "hastls lookup: at most %d types\n", MAX_TYPES);
            return 2;
        }
        if (parse_type(argv[optind], cfg.record_type, &job.types[job.ntypes++]) < 0) {
            fprintf(stderr, "hastls lookup: unknown type '%s'\n", argv[optind]);
            return 2;
        }
    }
    if (job.ntypes == 0) {
        job.types[0] = 1;
        job.types[1] = 28;
        job.types[2] = cfg.record_type;
        job.ntypes = 3;
    }

    job.r = hastls_resolver_new(&cfg, hastls_cli_log, err, sizeof err);
    if (!job.r) {
        hastls_cli_print_errors(err);
        return 1;
    }
    /* Every answer as it is, however late within the deadline, unless
     * --grace asks for the shim's grace (see resolver.h). */
    hastls_resolver_set_grace(job.r, grace);
    pthread_mutex_init(&job.mu, NULL);
    if (names) {
        job.names = strcmp(names, "-") ? fopen(names, "re") : stdin;
        if (!job.names) {
            fprintf(stderr, "hastls lookup: %s: %s\n", names, strerror(errno));
            hastls_resolver_free(job.r);
            return 1;
        }
        pthread_t th[256];
        int started = 0;
        for (int i = 0; i < threads; i++) {
            if (pthread_create(&th[i], NULL, lookup_worker, &job) != 0)
                break;
            started++;
        }
        if (started == 0)
            lookup_worker(&job);
        for (int i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        if (job.names != stdin)
            fclose(job.names);
    } else {
        job.failed = lookup_one(&job, name);
    }
    if (stats) {
        struct hastls_resolver_stats st;
        hastls_resolver_get_stats(job.r, &st);
        printf("stats: tls_handshakes=%lu tls_resumptions=%lu queries_tls=%lu "
               "queries_cleartext=%lu\n",
               st.tls_handshakes, st.tls_resumptions, st.queries_tls,
               st.queries_cleartext);
    }
    hastls_resolver_free(job.r);
    pthread_mutex_destroy(&job.mu);
    return job.failed ? 1 : 0;
}
