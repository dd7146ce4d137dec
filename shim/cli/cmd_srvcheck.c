/* shim/cli/cmd_srvcheck.c: `hastls check --srv _SERVICE._tcp.DOMAIN`.
 *
 * Walks a service's SRV delegation step by step, as a client that follows
 * draft-miller-xmpp-dnssec-proofotype (sections 4 and 5) would, every
 * lookup through the same DNSSEC-validating resolver as the rest of check:
 *   1. the SRV RRset and its status: bogus stops the walk (refused), a
 *      failed lookup too; none at all falls back to DOMAIN itself on the
 *      service's default port (no delegation); a lone "." target says the
 *      service is not offered;
 *   2. the targets ordered by priority, then weight (RFC 2782,
 *      policy/srv.h);
 *   3. per target its A and AAAA answers: the delegation is secure only
 *      when the SRV answer and both address answers are secure;
 *   4. the TLSA RRset _PORT._tcp.TARGET, asked only for a secure delegation
 *      (never otherwise: section 5.2), and its verdict under `dane`;
 *   5. the names the certificate may carry: the source domain always, the
 *      target too when the delegation is secure, any name when a usable
 *      DANE-EE(3) record governs (section 5.4).
 * With --connect each target in order gets a handshake (cmd_dane.c), with
 * the service's STARTTLS, until one passes (every one with --all).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "policy/config.h"
#include "policy/srv.h"
#include "policy/tlsa.h"
#include "shim/cli/cli.h"
#include "shim/cli/format.h"
#include "shim/resolver/resolver.h"

#define TYPE_A 1
#define TYPE_AAAA 28
#define RCODE_NOERROR 0
#define RCODE_NXDOMAIN 3
#define MAX_TARGETS 32
#define MAX_ADDRS 16

/* What one service name means for TLS: the upgrade and the fallback port. */
static const struct service {
    const char *name;
    enum hastls_cli_starttls starttls;
    uint16_t port;
} services[] = {
    {"xmpp-client", HASTLS_CLI_STARTTLS_XMPP, 5222},
    {"xmpp-server", HASTLS_CLI_STARTTLS_XMPP_SERVER, 5269},
    {"xmpps-client", HASTLS_CLI_STARTTLS_NONE, 5223},
    {"xmpps-server", HASTLS_CLI_STARTTLS_NONE, 5270},
    {"smtp", HASTLS_CLI_STARTTLS_SMTP, 25},
    {"submission", HASTLS_CLI_STARTTLS_SMTP, 587},
    {"submissions", HASTLS_CLI_STARTTLS_NONE, 465},
    {"imap", HASTLS_CLI_STARTTLS_IMAP, 143},
    {"imaps", HASTLS_CLI_STARTTLS_NONE, 993},
    {"pop3s", HASTLS_CLI_STARTTLS_NONE, 995},
    {"https", HASTLS_CLI_STARTTLS_NONE, 443},
};

enum delegation { DELEG_SECURE, DELEG_INSECURE, DELEG_NONE };
static const char *const deleg_names[] = {"secure", "insecure", "none"};

struct target {
    struct hastls_srv srv;
    struct hastls_answer *addr[2]; /* A, AAAA */
    enum delegation deleg;
    const char *deleg_why;
    struct hastls_cli_tlsa tlsa;
    char addr_buf[MAX_ADDRS][INET6_ADDRSTRLEN];
    const char *addrs[MAX_ADDRS];
    size_t n_addrs;
    bool refused; /* TLSA bogus or failed under enforce */
    bool tried;
    struct hastls_cli_tls_target tls;
    struct hastls_cli_tls_result res;
};

struct walk {
    const struct hastls_config *cfg;
    char owner[HASTLS_NAME_MAX];   /* _xmpp-client._tcp.example.com */
    char service[64];              /* xmpp-client */
    char domain[HASTLS_NAME_MAX];  /* example.com */
    const struct service *known;   /* NULL for a service not in the table */
    struct hastls_answer *srv_ans; /* step 1 */
    const char *verdict;           /* ok, refused, unavailable, failed, no-port */
    char verdict_text[HASTLS_NAME_MAX + 128];
    bool fallback; /* no SRV record: DOMAIN itself */
    size_t n_bad;  /* SRV records that did not decode */
    struct target *t;
    size_t n;
    bool connect, all;
    const struct target *passed;
    enum hastls_cli_starttls starttls;
    const char *ca_file;
};

static void srv_usage(FILE *out)
{
    fprintf(
        out,
        "usage: hastls check --srv _SERVICE._tcp.DOMAIN [--config FILE] [--app NAME]\n"
        "                    [--json] [--connect [--all] [--starttls W] [--ca FILE]]\n"
        "\n"
        "Walks the SRV delegation of a service (draft-miller-xmpp-dnssec-\n"
        "proofotype, sections 4 and 5) through the DNSSEC-validating resolver:\n"
        "  step 1  the SRV RRset and its status: bogus refuses the service and\n"
        "          stops, a failed lookup stops; no record falls back to DOMAIN\n"
        "          on the service's port (no delegation); a lone \".\" target\n"
        "          says the service is not available;\n"
        "  step 2  the targets by priority, then weight (RFC 2782);\n"
        "  per target: its A and AAAA answers and their status; the delegation,\n"
        "          secure when the SRV and both address answers are secure; the\n"
        "          TLSA RRset _PORT._tcp.TARGET, asked only for a secure\n"
        "          delegation (\"not asked: delegation insecure\" otherwise), with\n"
        "          the verdict under `dane`; the names the certificate may carry\n"
        "          (DOMAIN always, TARGET when the delegation is secure, any name\n"
        "          when a DANE-EE(3) record governs).\n"
        "Names are ASCII: give internationalized names as A-labels (xn--...).\n"
        "\n"
        "  --connect      connect to each target in order (first address that\n"
        "                 answers), upgrade with the service's STARTTLS, shake\n"
        "                 hands with SNI DOMAIN and check the certificate under the\n"
        "                 rules above; stops at the first that passes\n"
        "  --all          with --connect: every target\n"
        "  --starttls W   none, xmpp, xmpp-server, smtp or imap instead of the\n"
        "                 service's (xmpp-client xmpp, xmpp-server xmpp-server,\n"
        "                 smtp and submission smtp, imap imap, else none)\n"
        "  --ca FILE      the CA bundle for PKIX (default: ca_bundle)\n"
        "\n"
        "Exit status: 0 a target can be used (with --connect: one passed); 1 the\n"
        "service is refused (SRV bogus, every target refused), not available, or\n"
        "with --connect no certificate passed; 2 usage error; 3 configuration or\n"
        "resolver error, the SRV lookup failed, or with --connect no handshake\n"
        "could be made at all.\n"
        "\n"
        "JSON object: service, service_name, domain, config {source, app_section,\n"
        "dane}, srv {owner, status, rcode, reason, records [{priority, weight,\n"
        "port, target}], malformed, fallback}, verdict (ok, refused, unavailable,\n"
        "failed, no-port), explanation, targets [{priority, weight, port, target,\n"
        "addresses {A, AAAA: {status, rcode, reason, records}}, delegation\n"
        "(secure, insecure, none), delegation_reason, tlsa {as check's dane\n"
        "entries}, names, any_name, connect (null or as check's)}], passed (null\n"
        "or {target, port}), exit.\n");
}

/* Checks and splits NAME ("_service._tcp.domain", any case, final dot or
 * not) into W; returns 0, or -1 after printing what is wrong. */
static int parse_name(const char *name, struct walk *w)
{
    const char *pre = "hastls check: --srv";
    size_t len = strlen(name);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] >= 0x80) {
            fprintf(stderr,
                    "%s: a byte that is not ASCII at offset %zu: give internationalized "
                    "names in their A-label form (xn--...)\n",
                    pre, i);
            return -1;
        }
    if (len && name[len - 1] == '.')
        len--;
    if (len == 0 || len > 253) {
        fprintf(stderr, "%s: the name is %s\n", pre,
                len ? "longer than 253 characters" : "empty");
        return -1;
    }
    char low[256];
    for (size_t i = 0; i < len; i++)
        low[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 32) : name[i];
    low[len] = '\0';
    size_t label = 0;
    const char *p = low;
    const char *svc_end = NULL, *proto = NULL;
    for (;;) {
        size_t n = strcspn(p, ".");
        label++;
        if (n == 0 || n > 63) {
            fprintf(stderr, "%s: label %zu is %s\n", pre, label,
                    n ? "longer than 63 characters" : "empty");
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            char ch = p[i];
            bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                      (ch == '_' && i == 0 && label <= 2);
            if (!ok) {
                fprintf(stderr, "%s: label %zu ('%.*s') has the character ", pre, label,
                        (int)n, p);
                if (ch > 0x20 && ch < 0x7f)
                    fprintf(stderr, "'%c'", ch);
                else
                    fprintf(stderr, "\\%03u", (unsigned char)ch);
                fprintf(stderr, "%s\n",
                        label <= 2 ? ": not a service or protocol label"
                                   : ": not a host name label");
                return -1;
            }
        }
        if (label > 2 && (p[0] == '-' || p[n - 1] == '-')) {
            fprintf(stderr, "%s: label %zu ('%.*s') starts or ends with '-'\n", pre,
                    label, (int)n, p);
            return -1;
        }
        if (label == 1 && (p[0] != '_' || n < 2 || n > 16)) {
            fprintf(stderr,
                    "%s: '%s' does not start with a service label (_xmpp-client, _smtp, "
                    "...)\n",
                    pre, low);
            return -1;
        }
        if (label == 1)
            svc_end = p + n;
        if (label == 2) {
            proto = p;
            if (n != 4 || strncmp(p, "_tcp", 4)) {
                fprintf(stderr, "%s: the protocol label is '%.*s': TLS runs over _tcp\n",
                        pre, (int)n, p);
                return -1;
            }
        }
        if (!p[n])
            break;
        p += n + 1;
    }
    if (label < 3) {
        fprintf(stderr, "%s: '%s' has no domain after _SERVICE._tcp\n", pre, low);
        return -1;
    }
    snprintf(w->owner, sizeof w->owner, "%s", low);
    snprintf(w->service, sizeof w->service, "%.*s", (int)(svc_end - low - 1), low + 1);
    snprintf(w->domain, sizeof w->domain, "%s", proto + 5);
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
        if (!strcmp(services[i].name, w->service))
            w->known = &services[i];
    return 0;
}

static bool same_name(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '.')
        la--;
    if (lb && b[lb - 1] == '.')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

static const char *reason_of(const struct hastls_answer *a)
{
    if (a->reason[0])
        return a->reason;
    return a->status == HASTLS_SEC_BOGUS    ? "DNSSEC validation failed"
           : a->status == HASTLS_SEC_FAILED ? "no answer"
                                            : "";
}

/* Step 1: the SRV RRset into W->t (ordered), or the verdict that stops. */
static int step_srv(struct walk *w, struct hastls_resolver *r)
{
    const struct hastls_query q = {w->owner, HASTLS_DNS_TYPE_SRV};
    if (hastls_resolver_lookup(r, &q, 1, &w->srv_ans) < 0)
        return -1;
    const struct hastls_answer *a = w->srv_ans;
    w->t = calloc(MAX_TARGETS, sizeof *w->t);
    if (!w->t)
        return -1;
    if (a->status == HASTLS_SEC_FAILED ||
        (a->rcode != RCODE_NOERROR && a->rcode != RCODE_NXDOMAIN)) {
        w->verdict = "failed";
        snprintf(w->verdict_text, sizeof w->verdict_text,
                 "the SRV lookup got no answer: nothing can be said");
        return 0;
    }
    if (a->status == HASTLS_SEC_BOGUS) {
        w->verdict = "refused";
        snprintf(w->verdict_text, sizeof w->verdict_text,
                 "refused: the SRV answer is bogus (DNSSEC validation failed): the "
                 "delegation cannot be trusted, the walk stops");
        return 0;
    }
    size_t null_targets = 0;
    for (size_t i = 0; i < a->n_rr && w->n < MAX_TARGETS; i++) {
        if (a->rr[i].type != HASTLS_DNS_TYPE_SRV)
            continue;
        struct hastls_srv s;
        if (hastls_srv_decode(a->packet, a->packet_len, a->rr[i].rdata, a->rr[i].rdlen,
                              &s) != HASTLS_SRV_OK) {
            w->n_bad++;
            continue;
        }
        if (hastls_srv_is_null(&s)) {
            null_targets++;
            continue;
        }
        w->t[w->n++].srv = s;
    }
    if (!w->n && null_targets) {
        w->verdict = "unavailable";
        snprintf(w->verdict_text, sizeof w->verdict_text,
                 "the service is decidedly not available at %s (SRV target \".\")",
                 w->domain);
        return 0;
    }
    if (!w->n && !w->n_bad) {
        if (!w->known) {
            w->verdict = "no-port";
            snprintf(w->verdict_text, sizeof w->verdict_text,
                     "no SRV record, and no default port known for the service %s",
                     w->service);
            return 0;
        }
        w->fallback = true; /* RFC 6120, 3.2.2: the domain itself */
        struct hastls_srv *s = &w->t[w->n++].srv;
        s->port = w->known->port;
        snprintf(s->target, sizeof s->target, "%s", w->domain);
    }
    if (!w->n) {
        w->verdict = "failed";
        snprintf(w->verdict_text, sizeof w->verdict_text,
                 "no SRV record could be decoded");
        return 0;
    }
    struct hastls_srv v[MAX_TARGETS];
    for (size_t i = 0; i < w->n; i++)
        v[i] = w->t[i].srv;
    hastls_srv_order(v, w->n);
    for (size_t i = 0; i < w->n; i++)
        w->t[i].srv = v[i];
    w->verdict = "ok";
    snprintf(w->verdict_text, sizeof w->verdict_text, "%s",
             w->fallback ? "no SRV record: the domain itself is the target"
                         : "the SRV records name the targets");
    return 0;
}

/* Steps 3 and 4: the address answers of every target in one batch, the
 * delegation of each, then the TLSA RRsets of the secure ones. */
static int step_targets(struct walk *w, struct hastls_resolver *r)
{
    struct hastls_query q[2 * MAX_TARGETS];
    struct hastls_answer *ans[2 * MAX_TARGETS];
    for (size_t i = 0; i < w->n; i++) {
        q[2 * i] = (struct hastls_query){w->t[i].srv.target, TYPE_A};
        q[2 * i + 1] = (struct hastls_query){w->t[i].srv.target, TYPE_AAAA};
    }
    if (hastls_resolver_lookup(r, q, 2 * w->n, ans) < 0)
        return -1;
    bool srv_secure = w->srv_ans->status == HASTLS_SEC_SECURE;
    size_t nt = 0;
    struct hastls_query tq[MAX_TARGETS];
    size_t tidx[MAX_TARGETS];
    for (size_t i = 0; i < w->n; i++) {
        struct target *t = &w->t[i];
        t->addr[0] = ans[2 * i];
        t->addr[1] = ans[2 * i + 1];
        bool addrs_secure = t->addr[0]->status == HASTLS_SEC_SECURE &&
                            t->addr[1]->status == HASTLS_SEC_SECURE;
        for (int f = 0; f < 2; f++) {
            const struct hastls_answer *a = t->addr[f];
            if (a->status == HASTLS_SEC_BOGUS || a->status == HASTLS_SEC_FAILED)
                continue;
            for (size_t k = 0; k < a->n_rr && t->n_addrs < MAX_ADDRS; k++) {
                int fam = hastls_rr_address_family(&a->rr[k]);
                if (a->rr[k].type == a->qtype && fam &&
                    inet_ntop(fam, a->rr[k].rdata, t->addr_buf[t->n_addrs],
                              INET6_ADDRSTRLEN)) {
                    t->addrs[t->n_addrs] = t->addr_buf[t->n_addrs];
                    t->n_addrs++;
                }
            }
        }
        if (w->fallback || same_name(t->srv.target, w->domain)) {
            t->deleg = DELEG_NONE;
            t->deleg_why = w->fallback ? "no SRV record: the source domain itself"
                                       : "the target is the source domain";
        } else if (!srv_secure) {
            t->deleg = DELEG_INSECURE;
            t->deleg_why = "the SRV answer is not secure";
        } else if (!addrs_secure) {
            t->deleg = DELEG_INSECURE;
            t->deleg_why = "an address answer of the target is not secure";
        } else {
            t->deleg = DELEG_SECURE;
            t->deleg_why = "the SRV answer and the target's address answers are secure";
        }
        if (hastls_tlsa_owner(t->srv.port, "tcp", t->srv.target, t->tlsa.owner,
                              sizeof t->tlsa.owner) < 0)
            snprintf(t->tlsa.owner, sizeof t->tlsa.owner, "(name too long)");
        /* Section 5.1 lets the source domain's own records be asked (no
         * delegation); section 5.2 forbids asking an insecure target. */
        bool ask = t->deleg == DELEG_SECURE || (t->deleg == DELEG_NONE && addrs_secure);
        if (!ask) {
            t->tlsa.not_asked = t->deleg == DELEG_NONE
                                    ? "the source domain's address answers are not secure"
                                    : "delegation insecure";
            continue;
        }
        tq[nt] = (struct hastls_query){t->tlsa.owner, HASTLS_DNS_TYPE_TLSA};
        tidx[nt++] = i;
    }
    if (nt) {
        struct hastls_answer *ta[MAX_TARGETS];
        if (hastls_resolver_lookup(r, tq, nt, ta) < 0)
            return -1;
        for (size_t k = 0; k < nt; k++) {
            struct target *t = &w->t[tidx[k]];
            hastls_cli_tlsa_take(&t->tlsa, ta[k]);
            t->refused = hastls_cli_dane_verdict(&t->tlsa, w->cfg->dane) ==
                         HASTLS_CLI_DANE_REFUSED;
        }
    }
    return 0;
}

/* Step 5 and the handshake's parameters of target T. */
static void tls_target(const struct walk *w, struct target *t)
{
    struct hastls_cli_tls_target *g = &t->tls;
    g->addrs = t->addrs;
    g->n_addrs = t->n_addrs;
    g->port = t->srv.port;
    g->starttls = w->starttls;
    g->stream_to = w->domain;
    g->sni = w->domain;
    g->names[g->n_names++] = w->domain;
    if (t->deleg == DELEG_SECURE)
        g->names[g->n_names++] = t->srv.target;
    g->tlsa = t->tlsa.asked ? &t->tlsa : NULL;
    g->mode = w->cfg->dane;
    g->ca_file = w->ca_file;
}

static bool any_name(const struct walk *w, const struct target *t)
{
    return t->tlsa.has_ee && hastls_cli_dane_applies(&t->tlsa, w->cfg->dane);
}

static void step_connect(struct walk *w)
{
    for (size_t i = 0; i < w->n; i++) {
        struct target *t = &w->t[i];
        t->tried = true;
        if (hastls_cli_tls_check(&t->tls, &t->res) == HASTLS_CLI_TLS_PASS && !w->passed)
            w->passed = t;
        if (w->passed && !w->all)
            break;
    }
}

static int exit_status(const struct walk *w)
{
    if (!strcmp(w->verdict, "failed"))
        return 3;
    if (strcmp(w->verdict, "ok"))
        return 1;
    if (w->connect) {
        if (w->passed)
            return 0;
        for (size_t i = 0; i < w->n; i++)
            if (w->t[i].tried && w->t[i].res.outcome != HASTLS_CLI_TLS_ERROR)
                return 1;
        return 3;
    }
    bool lookups_failed = true;
    for (size_t i = 0; i < w->n; i++) {
        if (!w->t[i].refused && w->t[i].n_addrs)
            return 0;
        if (w->t[i].refused || w->t[i].addr[0]->status != HASTLS_SEC_FAILED ||
            w->t[i].addr[1]->status != HASTLS_SEC_FAILED)
            lookups_failed = false;
    }
    return lookups_failed ? 3 : 1;
}

static void print_addr_answer(const struct hastls_answer *a, const char *label)
{
    printf("  %-5s %-8s ", label, hastls_sec_name(a->status));
    size_t shown = 0;
    char buf[INET6_ADDRSTRLEN];
    for (size_t k = 0; a->status != HASTLS_SEC_FAILED && k < a->n_rr; k++) {
        int fam = hastls_rr_address_family(&a->rr[k]);
        if (a->rr[k].type == a->qtype && fam &&
            inet_ntop(fam, a->rr[k].rdata, buf, sizeof buf))
            printf("%s%s", shown++ ? " " : "", buf);
    }
    if (!shown)
        printf("no addresses (%s)", hastls_cli_rcode_name(a->rcode));
    else if (a->status == HASTLS_SEC_BOGUS)
        printf(" (not used)");
    if (a->status == HASTLS_SEC_BOGUS || a->status == HASTLS_SEC_FAILED) {
        printf("; ");
        hastls_cli_text(stdout, reason_of(a));
    }
    printf("\n");
}

static void print_text(const struct walk *w)
{
    char buf[HASTLS_NAME_MAX + 32];
    printf("service: ");
    hastls_cli_text(stdout, w->owner);
    printf(" (%s over tcp, source domain ", w->service);
    hastls_cli_text(stdout, w->domain);
    printf(")\npolicy: dane %s; config ", hastls_dane_mode_name(w->cfg->dane));
    hastls_cli_text(stdout, w->cfg->source[0] ? w->cfg->source : "(built-in defaults)");
    printf("\n");

    const struct hastls_answer *a = w->srv_ans;
    printf("step 1: SRV %s (%s)\n", hastls_sec_name(a->status),
           hastls_cli_rcode_name(a->rcode));
    for (size_t i = 0; a->status != HASTLS_SEC_FAILED && i < a->n_rr; i++) {
        struct hastls_srv s;
        if (a->rr[i].type != HASTLS_DNS_TYPE_SRV)
            continue;
        int e = hastls_srv_decode(a->packet, a->packet_len, a->rr[i].rdata,
                                  a->rr[i].rdlen, &s);
        if (e != HASTLS_SRV_OK) {
            printf("  (malformed: %s)\n", hastls_srv_strerror(e));
            continue;
        }
        hastls_srv_format(&s, buf, sizeof buf);
        printf("  ");
        hastls_cli_text(stdout, buf);
        printf("\n");
    }
    if (a->status == HASTLS_SEC_BOGUS || a->status == HASTLS_SEC_FAILED) {
        printf("  reason: ");
        hastls_cli_text(stdout, reason_of(a));
        printf("\n");
    }
    if (!strcmp(w->verdict, "ok")) {
        if (w->fallback)
            printf("step 2: no SRV record: the domain itself on the service's port %u "
                   "(fallback, no delegation)\n",
                   w->t[0].srv.port);
        else
            printf("step 2: %zu target%s by priority, then weight (RFC 2782)\n", w->n,
                   w->n == 1 ? "" : "s");
    }
    for (size_t i = 0; !strcmp(w->verdict, "ok") && i < w->n; i++) {
        const struct target *t = &w->t[i];
        printf("target %zu: ", i + 1);
        hastls_cli_text(stdout, t->srv.target);
        printf(" port %u (priority %u, weight %u)\n", t->srv.port, t->srv.priority,
               t->srv.weight);
        print_addr_answer(t->addr[0], "A");
        print_addr_answer(t->addr[1], "AAAA");
        printf("  delegation: %s (%s)\n", deleg_names[t->deleg], t->deleg_why);
        hastls_cli_tlsa_print(stdout, &t->tlsa, w->cfg->dane, "  ", "DANE");
        printf("  names: ");
        for (size_t k = 0; k < t->tls.n_names; k++) {
            printf("%s", k ? ", " : "");
            hastls_cli_text(stdout, t->tls.names[k]);
        }
        if (any_name(w, t))
            printf("; any name (DANE-EE)");
        printf("\n");
        if (t->tried)
            hastls_cli_tls_print(stdout, &t->tls, &t->res, "  ");
    }
    printf("result: ");
    if (strcmp(w->verdict, "ok")) {
        printf("%s\n", w->verdict_text);
    } else if (w->connect) {
        if (w->passed) {
            printf("pass: ");
            hastls_cli_text(stdout, w->passed->srv.target);
            printf(" port %u\n", w->passed->srv.port);
        } else {
            printf("no target passed\n");
        }
    } else {
        size_t usable = 0;
        for (size_t i = 0; i < w->n; i++)
            usable += !w->t[i].refused && w->t[i].n_addrs;
        printf("%zu of %zu target%s can be tried\n", usable, w->n, w->n == 1 ? "" : "s");
    }
}

/* A's "status", "rcode" and "reason" members (the reason of a bogus or
 * failed answer, else null). */
static void json_answer_status(const struct hastls_answer *a)
{
    printf("\"status\":\"%s\",\"rcode\":\"%s\",\"reason\":", hastls_sec_name(a->status),
           hastls_cli_rcode_name(a->rcode));
    if (a->status == HASTLS_SEC_BOGUS || a->status == HASTLS_SEC_FAILED)
        hastls_cli_json_string(stdout, reason_of(a));
    else
        printf("null");
}

static void json_addr_answer(const struct hastls_answer *a)
{
    char buf[INET6_ADDRSTRLEN];
    printf("{");
    json_answer_status(a);
    printf(",\"records\":[");
    size_t shown = 0;
    for (size_t k = 0; a->status != HASTLS_SEC_FAILED && k < a->n_rr; k++) {
        int fam = hastls_rr_address_family(&a->rr[k]);
        if (a->rr[k].type == a->qtype && fam &&
            inet_ntop(fam, a->rr[k].rdata, buf, sizeof buf))
            printf("%s\"%s\"", shown++ ? "," : "", buf);
    }
    printf("]}");
}

static void print_json(const struct walk *w)
{
    const struct hastls_answer *a = w->srv_ans;
    printf("{\"service\":");
    hastls_cli_json_string(stdout, w->owner);
    printf(",\"service_name\":");
    hastls_cli_json_string(stdout, w->service);
    printf(",\"domain\":");
    hastls_cli_json_string(stdout, w->domain);
    printf(",\"config\":{\"source\":");
    hastls_cli_json_string(stdout, w->cfg->source);
    printf(",\"app_section\":");
    hastls_cli_json_string(stdout, w->cfg->app_section);
    printf(",\"dane\":\"%s\"}", hastls_dane_mode_name(w->cfg->dane));
    printf(",\"srv\":{\"owner\":");
    hastls_cli_json_string(stdout, w->owner);
    printf(",");
    json_answer_status(a);
    printf(",\"records\":[");
    size_t shown = 0;
    for (size_t i = 0; a->status != HASTLS_SEC_FAILED && i < a->n_rr; i++) {
        struct hastls_srv s;
        if (a->rr[i].type != HASTLS_DNS_TYPE_SRV ||
            hastls_srv_decode(a->packet, a->packet_len, a->rr[i].rdata, a->rr[i].rdlen,
                              &s) != HASTLS_SRV_OK)
            continue;
        printf("%s{\"priority\":%u,\"weight\":%u,\"port\":%u,\"target\":",
               shown++ ? "," : "", s.priority, s.weight, s.port);
        hastls_cli_json_string(stdout, s.target);
        printf("}");
    }
    printf("],\"malformed\":%zu,\"fallback\":%s}", w->n_bad,
           w->fallback ? "true" : "false");
    printf(",\"verdict\":\"%s\",\"explanation\":", w->verdict);
    hastls_cli_json_string(stdout, w->verdict_text);
    printf(",\"targets\":[");
    for (size_t i = 0; !strcmp(w->verdict, "ok") && i < w->n; i++) {
        const struct target *t = &w->t[i];
        printf("%s{\"priority\":%u,\"weight\":%u,\"port\":%u,\"target\":", i ? "," : "",
               t->srv.priority, t->srv.weight, t->srv.port);
        hastls_cli_json_string(stdout, t->srv.target);
        printf(",\"addresses\":{\"A\":");
        json_addr_answer(t->addr[0]);
        printf(",\"AAAA\":");
        json_addr_answer(t->addr[1]);
        printf("},\"delegation\":\"%s\",\"delegation_reason\":", deleg_names[t->deleg]);
        hastls_cli_json_string(stdout, t->deleg_why);
        printf(",\"tlsa\":{");
        hastls_cli_tlsa_json(stdout, &t->tlsa, w->cfg->dane);
        printf("},\"names\":[");
        for (size_t k = 0; k < t->tls.n_names; k++) {
            printf("%s", k ? "," : "");
            hastls_cli_json_string(stdout, t->tls.names[k]);
        }
        printf("],\"any_name\":%s,\"connect\":", any_name(w, t) ? "true" : "false");
        if (t->tried)
            hastls_cli_tls_json(stdout, &t->tls, &t->res);
        else
            printf("null");
        printf("}");
    }
    printf("],\"passed\":");
    if (w->passed) {
        printf("{\"target\":");
        hastls_cli_json_string(stdout, w->passed->srv.target);
        printf(",\"port\":%u}", w->passed->srv.port);
    } else {
        printf("null");
    }
    printf(",\"exit\":%d}\n", exit_status(w));
}

static void walk_free(struct walk *w)
{
    if (w->srv_ans)
        hastls_answer_free(w->srv_ans);
    for (size_t i = 0; w->t && i < MAX_TARGETS; i++) {
        for (int f = 0; f < 2; f++)
            if (w->t[i].addr[f])
                hastls_answer_free(w->t[i].addr[f]);
        hastls_cli_tlsa_free(&w->t[i].tlsa);
    }
    free(w->t);
}

int hastls_cli_check_srv(int argc, char **argv)
{
    static struct walk w; /* large: keep it off the stack */
    memset(&w, 0, sizeof w);

    /* "--srv --help" too, where getopt would take --help for the name. */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            srv_usage(stdout);
            return 0;
        }
    struct hastls_cli_check_opts o;
    int rc = hastls_cli_check_options(argc, argv, true, srv_usage, &o);
    if (rc >= 0)
        return rc;
    const char *name = o.srv, *ca = o.ca;
    bool json = o.json, starttls_given = o.starttls_given;
    w.connect = o.connect;
    w.all = o.all;
    w.starttls = o.starttls;
    if (optind < argc) {
        fprintf(stderr, "hastls check: --srv takes no NAME or PORT ('%s')\n",
                argv[optind]);
        return 2;
    }
    if (!name || parse_name(name, &w) < 0)
        return 2;
    if ((w.all || starttls_given || ca) && !w.connect) {
        fprintf(stderr, "hastls check: --all, --starttls and --ca need --connect\n");
        return 2;
    }
    if (!starttls_given)
        w.starttls = w.known ? w.known->starttls : HASTLS_CLI_STARTTLS_NONE;

    static struct hastls_config cfg;
    if ((rc = hastls_cli_check_config(o.conf, o.app, &cfg)) != 0)
        return rc;
    char err[8192];
    w.cfg = &cfg;
    w.ca_file = ca ? ca : cfg.ca_bundle;
    struct hastls_resolver *r =
        hastls_resolver_new(&cfg, hastls_cli_log, err, sizeof err);
    if (!r) {
        fprintf(stderr, "hastls: %s\n", err);
        return 3;
    }
    int status;
    if (step_srv(&w, r) < 0 || (!strcmp(w.verdict, "ok") && step_targets(&w, r) < 0)) {
        fprintf(stderr, "hastls check: out of memory\n");
        status = 3;
    } else {
        for (size_t i = 0; !strcmp(w.verdict, "ok") && i < w.n; i++)
            tls_target(&w, &w.t[i]);
        if (w.connect && !strcmp(w.verdict, "ok"))
            step_connect(&w);
        if (json)
            print_json(&w);
        else
            print_text(&w);
        status = exit_status(&w);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "hastls check: writing the output: %s\n", strerror(errno));
        status = 3;
    }
    walk_free(&w);
    hastls_resolver_free(r);
    return status;
}
