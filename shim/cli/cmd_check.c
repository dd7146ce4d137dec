/* shim/cli/cmd_check.c: `hastls check NAME [PORT...] [--config FILE] [--app NAME]
 * [--json]`.
 *
 * Answers "what would the shim do with connections to NAME?": it loads the
 * configuration as a program under the shim would, looks up A, AAAA and the
 * HASTLS type of NAME in one batch through the same resolver, and prints the
 * addresses, the record, the DNSSEC status of each answer, whether the record
 * is enforced, and for each port the class and verdict under cio, cfb and cso
 * with the configured client marked.  Every verdict comes from the functions
 * the shim itself calls (policy/record.h: the record state and whether the
 * lookup fails; policy/verdict.h: the decision per record state and its
 * reason), so this verb is the way to predict a refusal.  Like the shim, it
 * does no DNS for an address literal or a name of the hosts file: both are
 * reported as not governed.
 *
 * For each port given on the command line it also shows the TLSA RRset the
 * shim's TLS hooks would ask (_PORT._tcp.NAME) and the DANE verdict under
 * the `dane` mode; --connect shakes hands with NAME on that port and checks
 * the presented certificate (cmd_dane.c).  --srv walks an SRV delegation
 * instead (cmd_srvcheck.c).
 *
 * Exit status (see check_usage):
 *   0  the configured client policy allows every port asked about;
 *   1  it would block at least one (or the shim would refuse the name itself:
 *      an address answer of a family getaddrinfo(AF_UNSPEC) asks for is
 *      bogus), whatever the mode: report mode lets the
 *      connection through but logs it, and the question answered here is what
 *      the policy says, not what the mode does with it;
 *      with --connect also when the certificate does not pass or the shim
 *      refuses the handshake (a TLSA answer bogus or failed under dane =
 *      enforce; without --connect that refusal is shown, not counted: the
 *      connection itself is allowed, the handshake is what fails);
 *   2  usage error;
 *   3  the configuration could not be loaded or the resolver not started, or
 *      a lookup got no answer (status failed) and nothing was blocked: the
 *      question has no reliable answer; with --connect also when no
 *      handshake could be made (connection or STARTTLS dialogue failed).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "policy/config.h"
#include "policy/decide.h"
#include "policy/hastls_rr.h"
#include "policy/httpsrr.h"
#include "policy/pins.h"
#include "policy/record.h"
#include "policy/tlsa.h"
#include "policy/verdict.h"
#include "shim/cli/cli.h"
#include "shim/cli/format.h"
#include "shim/core/hosts.h"
#include "shim/core/pinstore.h"
#include "shim/resolver/resolver.h"

#define TYPE_A 1
#define TYPE_AAAA 28
#define RCODE_NOERROR 0
#define RCODE_NXDOMAIN 3

enum { ANS_A, ANS_AAAA, ANS_HASTLS, N_ANS };
static const char *const ans_label[N_ANS] = {"A", "AAAA", "HASTLS"};

static const enum hastls_client clients[3] = {HASTLS_CLIENT_CIO, HASTLS_CLIENT_CFB,
                                              HASTLS_CLIENT_CSO};

/* Where the name's answer comes from, as in the shim. */
enum source {
    SRC_DNS,     /* looked up: the record state decides */
    SRC_LITERAL, /* NAME is an address: nothing was looked up, not governed */
    SRC_HOSTS,   /* answered from /etc/hosts (or localhost): no DNS, not governed */
};

/* The families a lookup may ask for, in the order shown. */
static const int families[3] = {AF_UNSPEC, AF_INET, AF_INET6};
static const char *const family_label[3] = {"AF_UNSPEC", "AF_INET", "AF_INET6"};

struct port_row {
    uint16_t port;
    bool enforced;               /* the classes come from the record */
    struct hastls_decision d[3]; /* indexed like clients[] */
    char reason[320];            /* for the configured client */
};

struct check {
    const struct hastls_config *cfg;
    const char *name;
    const char *app; /* --app, or NULL */
    enum source src;
    /* SRC_LITERAL and SRC_HOSTS: the addresses, without a DNS lookup */
    char local_addrs[16][INET6_ADDRSTRLEN];
    size_t n_local, n_local4, n_local6;
    char hosts_canon[HASTLS_NAME_MAX];
    struct hastls_answer *ans[N_ANS];
    const char *canonical; /* NULL when no CNAME was followed */
    bool zone_signed;      /* the record owner's address answers are secure */

    enum hastls_rec rec;       /* SRC_DNS: the record state */
    const char *rec_why;       /* the resolver's reason, or the codec's error */
    struct hastls_pair *pairs; /* decoded RDATA, whatever the status */
    size_t n_pairs;
    int decode_err;    /* HASTLS_RR_OK or the codec's error */
    char *record_text; /* "(0 443)"; "" when no pairs; NULL before the lookup */
    /* The owner's live pin (policy/pins.h), and whether it governs. */
    bool has_pin, pin_governs;
    struct hastls_pin pin;
    char pin_err[HASTLS_PATH_MAX + 256]; /* a pin file that is not trusted */
    bool https_signal;                   /* a secure HTTPS record (https_rr on) */
    const struct hastls_pair *dpairs;    /* the pairs decisions use */
    size_t n_dpairs;

    /* The shim's result for a lookup asking for families[i]; not set for a
     * literal.  lookup_cause: the answer that explains a failure. */
    int lookup[3];
    int lookup_cause;
    bool name_refused; /* the shim fails getaddrinfo(AF_UNSPEC): EAI_FAIL */
    bool any_failed;   /* some answer got no answer at all */

    struct port_row *rows;
    size_t n_rows;
    size_t n_blocked;

    /* DANE: the TLSA RRset of each port given on the command line, in the
     * order of rows[] (the shim asks _PORT._tcp.NAME, NAME as the program
     * gave it); n_dane_refused of them refuse the handshake. */
    struct hastls_cli_tlsa *tlsa;
    size_t n_tlsa, n_dane_refused;
    /* --connect: the handshake with NAME on the one port given. */
    bool connect;
    enum hastls_cli_starttls starttls;
    const char *ca_file;
    struct hastls_cli_tls_target target;
    struct hastls_cli_tls_result conn;
    char addr_buf[16][INET6_ADDRSTRLEN];
    const char *addr_list[16];
};

static void check_usage(FILE *out)
{
    fprintf(
        out,
        "usage: hastls check [--config FILE] [--app NAME] [--json] NAME [PORT...]\n"
        "       hastls check [OPTIONS] --connect [--starttls none|xmpp|smtp|imap]\n"
        "                    [--ca FILE] NAME PORT\n"
        "       hastls check [OPTIONS] --srv _SERVICE._tcp.DOMAIN [--connect] [--all]\n"
        "                    [--starttls ...] [--ca FILE]   (see hastls check --srv "
        "--help)\n"
        "\n"
        "Predicts what the shim does with connections to NAME.  Loads the\n"
        "configuration as a program under the shim would, looks up A, AAAA and\n"
        "the HASTLS record (type record_type) of NAME in one batch through the\n"
        "DNSSEC-validating resolver, and prints:\n"
        "  - the addresses, and the canonical name when a CNAME was followed;\n"
        "  - the HASTLS record in presentation form, e.g. (0 443) (all the\n"
        "    records of the RRset combined);\n"
        "  - the DNSSEC status of each answer (secure, insecure, bogus, failed)\n"
        "    with its reason;\n"
        "  - whether the record is enforced: only a secure record is; a bogus\n"
        "    one blocks every connection when bogus = block; an insecure one is\n"
        "    never enforced; a secure proof of absence leaves nothing to enforce;\n"
        "    a failed lookup allows (the shim warns);\n"
        "  - the record owner's live pin (hastls pins list), and whether it is in\n"
        "    force: when the current lookup fails or is not secure, the pinned\n"
        "    record of an earlier secure lookup is enforced (check only reads\n"
        "    pins; it never makes one);\n"
        "  - for each PORT the class (tls, starttls, cleartext, no-cleartext,\n"
        "    no-tls, unlisted; \"-\" when the record is not enforced, \"bogus\"\n"
        "    when a bogus record blocks) and the verdict under cio, cfb and cso;\n"
        "    the configured client is marked with '*' and its reason is given.\n"
        "  - for each PORT given, DANE: the TLSA RRset _PORT._tcp.NAME, its\n"
        "    DNSSEC status, each record (usage selector mtype data, usable or\n"
        "    why not) and the verdict the shim applies under the `dane` mode:\n"
        "    enforced (the certificate must match a record), report, none\n"
        "    (insecure or no usable record: the program's own verification),\n"
        "    refused (TLSA bogus or failed, dane = enforce), off.\n"
        "Without PORT: every port of the record and its well-known TLS or\n"
        "cleartext counterpart (80/443, 143/993, 110/995, ...), deduplicated and\n"
        "sorted; 80 and 443 when the record lists no port.\n"
        "NAME may be an address literal: the shim never looks one up and governs\n"
        "a connection to it only through names that a lookup in the program\n"
        "returned it for, so check reports it as not governed, without a lookup.\n"
        "Names in the hosts file (and localhost) are answered from it, as the shim\n"
        "does: no DNS, no record, not governed.\n"
        "The verdicts are NAME's own: when several names a program looked up\n"
        "share an address, the shim applies the strictest of their verdicts.\n"
        "\n"
        "  --config FILE  configuration file (default: $HASTLS_CONF, then\n"
        "                 %s, then the built-in defaults;\n"
        "                 HASTLS_APP, HASTLS_LOG and HASTLS_MODE apply only\n"
        "                 without --config, as in the shim)\n"
        "  --app NAME     apply the [app:NAME] section (a program name or path),\n"
        "                 as for a program of that name under the shim\n"
        "  --json         print one JSON object instead of text (below)\n"
        "  --connect      with one PORT: connect to NAME (its looked-up addresses,\n"
        "                 in order, until one answers), upgrade with STARTTLS when\n"
        "                 the port needs it, shake hands with SNI NAME and check\n"
        "                 the presented chain: against the TLSA records with\n"
        "                 OpenSSL's DANE verifier when they apply, and against the\n"
        "                 CA bundle for NAME (PKIX); says what passed\n"
        "  --starttls W   none, xmpp, smtp or imap (default by port: 5222/5269\n"
        "                 xmpp, 25/587 smtp, 143 imap, else none: direct TLS)\n"
        "  --ca FILE      the CA bundle for PKIX (default: ca_bundle of the\n"
        "                 configuration)\n"
        "  --srv NAME     walk an SRV delegation instead (hastls check --srv --help)\n"
        "  --help         this text\n"
        "\n"
        "Exit status:\n"
        "  0  the configured client policy allows every port asked about\n"
        "  1  it would block at least one port, or the shim would refuse the name\n"
        "     itself (an A or AAAA answer is bogus: getaddrinfo fails with\n"
        "     EAI_FAIL); also in report mode: the status answers \"would the\n"
        "     configured policy block\", not \"does the mode let it through\"\n"
        "     with --connect also: the certificate does not pass, or the shim\n"
        "     refuses the handshake (TLSA bogus or failed under dane = enforce;\n"
        "     without --connect that refusal is shown but, the connection itself\n"
        "     being allowed, not counted)\n"
        "  2  usage error\n"
        "  3  configuration error, the resolver could not start, or a lookup got\n"
        "     no answer (status failed) while nothing was blocked; with --connect\n"
        "     also: no handshake could be made (connection or STARTTLS failed)\n"
        "\n"
        "JSON object: name, canonical (null without a CNAME), config {source,\n"
        "app_section, client, mode, bogus, record_type}, answers {A, AAAA, HASTLS:\n"
        "{status, rcode, ttl, reason, canonical, records}}, addresses,\n"
        "lookup (the shim's result when asking for each family: {AF_UNSPEC,\n"
        "AF_INET, AF_INET6}, each \"ok\" or an EAI_* name; null for a literal),\n"
        "lookup_refused (AF_UNSPEC fails with EAI_FAIL), record {status, text,\n"
        "pairs, state (enforced, absent, insecure, bogus-block, bogus-ignore,\n"
        "failed, pinned, https-rr, literal, hosts), enforced, blocks_all, explanation,\n"
        "reason}, pin (null, or {source, pairs, pinned, expires, governs}),\n"
        "pin_error (null, or why the pin file is not used), https_signal (a\n"
        "secure HTTPS record was found with https_rr on),\n"
        "ports [{port, class (null when not enforced), verdicts {cio, cfb, cso},\n"
        "verdict, note, reason}], blocked (ports the configured client blocks),\n"
        "dane [{port, owner, asked, status, rcode, reason, records [{usage,\n"
        "selector, mtype, data, usable, why}], state, usable, mode, verdict, text}]\n"
        "(one per PORT given), dane_refused (the ports whose handshake the shim\n"
        "refuses), connect (null, or {address, port, starttls, sni,\n"
        "names, outcome, passed_by, error, tls_version, certificate {subject,\n"
        "dns_names}, dane {ok, usage, selector, mtype, depth, text}, pkix {ok,\n"
        "name, error}}), lookup_failed, exit.  Strings that are not UTF-8 carry each "
        "stray byte\n"
        "as the code point of its value.\n",
        HASTLS_DEFAULT_CONF);
}

/* Parses a port number 1..65535 (decimal digits only). */
static int parse_port(const char *s, uint16_t *out)
{
    unsigned long v = 0;
    if (!*s || strlen(s) > 5)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static const char *bogus_name(enum hastls_bogus b)
{
    return b == HASTLS_BOGUS_IGNORE ? "ignore" : "block";
}

static int client_index(enum hastls_client c)
{
    for (int k = 0; k < 3; k++)
        if (clients[k] == c)
            return k;
    return 1;
}

/* Compares two names in presentation form, ignoring case and a final dot. */
static bool same_name(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '.')
        la--;
    if (lb && b[lb - 1] == '.')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

/* The live pin of the record's owner, as the shim would read it (the CLI
 * only reads pins: a check is a prediction, it never pins), and the state
 * it gives (policy/pins.h's hastls_pin_governs). */
static void find_pin(struct check *c, enum hastls_rec raw)
{
    char dir[HASTLS_PATH_MAX];
    struct hastls_pinset set;
    if (!c->cfg->host_pins ||
        hastls_pinstore_dir(dir, sizeof dir, c->pin_err, sizeof c->pin_err) < 0) {
        c->pin_err[0] = '\0';
        return;
    }
    hastls_pins_init(&set);
    if (hastls_pinstore_load(dir, &set, NULL, c->pin_err, sizeof c->pin_err) == 0) {
        const struct hastls_pin *p = hastls_pins_find(
            &set, c->canonical ? c->canonical : c->name, (int64_t)time(NULL));
        if (hastls_pin_usable(p, c->cfg->https_rr)) {
            c->pin = *p;
            c->has_pin = true;
            if (hastls_pin_governs(p, raw, c->rec, c->cfg->bogus) == HASTLS_REC_PINNED) {
                c->pin_governs = true;
                c->rec = HASTLS_REC_PINNED;
                c->dpairs = c->pin.pairs;
                c->n_dpairs = c->pin.n;
            }
        }
    }
    hastls_pins_free(&set);
}

/* The record state of the HASTLS answer (policy/record.h), and the pairs of
 * the RRset decoded for display whatever the status.  Returns 0, or -1 when
 * out of memory. */
static int classify_record(struct check *c)
{
    const struct hastls_answer *a = c->ans[ANS_HASTLS];
    enum hastls_rec raw =
        hastls_rec_of(a->status, a->rcode, a->rr, a->n_rr, c->cfg->record_type, c->pairs,
                      HASTLS_REC_MAX_PAIRS, &c->n_pairs, &c->decode_err);
    c->rec = hastls_rec_in_zone(raw, c->zone_signed);
    if (c->rec == HASTLS_REC_BOGUS && raw == HASTLS_REC_FAILED)
        c->rec_why = "unusable record in a signed zone: the address answers validated, "
                     "the HASTLS answer failed";
    else if (c->rec == HASTLS_REC_BOGUS && a->status != HASTLS_SEC_BOGUS)
        c->rec_why = hastls_rr_strerror(c->decode_err);
    else
        c->rec_why = a->reason;
    c->dpairs = c->pairs;
    c->n_dpairs = c->n_pairs;
    find_pin(c, raw);
    /* Room for every pair at its longest: "65535 65535 " each, "()" and NUL. */
    size_t cap = c->n_pairs * 12 + 3;
    c->record_text = malloc(cap);
    if (!c->record_text)
        return -1;
    c->record_text[0] = '\0';
    if (c->n_pairs && hastls_pairs_format(c->pairs, c->n_pairs, c->record_text, cap) < 0)
        snprintf(c->record_text, cap, "(%zu pairs)", c->n_pairs); /* not reached */
    return 0;
}

static enum hastls_ungoverned ungoverned_kind(const struct check *c)
{
    return c->src == SRC_LITERAL ? HASTLS_UNGOVERNED_LITERAL : HASTLS_UNGOVERNED_HOSTS;
}

/* What the name's record state means for its connections, in one word. */
static const char *rec_state_name(const struct check *c)
{
    if (c->src != SRC_DNS)
        return hastls_ungoverned_effect(ungoverned_kind(c));
    return hastls_rec_effect(c->rec, c->cfg->bogus);
}

static const char *rec_explanation(const struct check *c)
{
    if (c->src != SRC_DNS)
        return hastls_ungoverned_explanation(ungoverned_kind(c));
    return hastls_rec_explanation(c->rec, c->cfg->bogus);
}

static bool rec_enforced(const struct check *c)
{
    return c->src == SRC_DNS && hastls_rec_enforced(c->rec);
}

static bool rec_blocks_all(const struct check *c)
{
    return c->src == SRC_DNS && hastls_rec_blocks_all(c->rec, c->cfg->bogus);
}

/* Adds PORT to the set (a bitmap of all 65536 ports: dedup and order for free). */
static void port_set_add(uint8_t *set, uint16_t port)
{
    if (port)
        set[port >> 3] |= (uint8_t)(1u << (port & 7));
}

/* The default ports: every port of the record and its well-known counterpart. */
static void default_ports(const struct check *c, uint8_t *set)
{
    size_t added = 0;
    for (size_t i = 0; i < c->n_dpairs; i++) {
        uint16_t p[2] = {c->dpairs[i].insecure, c->dpairs[i].secure};
        for (int k = 0; k < 2; k++) {
            if (!p[k])
                continue;
            port_set_add(set, p[k]);
            port_set_add(set, hastls_wellknown_tls_port(p[k]));
            port_set_add(set, hastls_wellknown_cleartext_port(p[k]));
            added++;
        }
    }
    if (!added) {
        port_set_add(set, 80);
        port_set_add(set, 443);
    }
}

/* Fills one row with the decisions the shim's address map would take. */
static void decide_port(const struct check *c, struct port_row *row, uint16_t port)
{
    const int me = client_index(c->cfg->client);
    row->port = port;
    row->enforced = rec_enforced(c);
    for (int k = 0; k < 3; k++)
        row->d[k] = c->src == SRC_DNS ? hastls_rec_decide(c->rec, c->dpairs, c->n_dpairs,
                                                          port, clients[k], c->cfg->bogus)
                                      : hastls_ungoverned_decide();
    if (c->src != SRC_DNS)
        snprintf(row->reason, sizeof row->reason, "%s",
                 hastls_ungoverned_reason(ungoverned_kind(c)));
    else
        hastls_rec_reason(c->rec, c->cfg->bogus, &row->d[me], port, row->reason,
                          sizeof row->reason);
}

static const char *row_class(const struct check *c, const struct port_row *row)
{
    if (row->enforced)
        return hastls_class_name(row->d[0].cls);
    if (rec_blocks_all(c))
        return "bogus";
    return NULL;
}

/* The addresses of answer A the shim would take (the right type and length). */
static size_t answer_addrs(const struct hastls_answer *a)
{
    size_t n = 0;
    for (size_t k = 0; k < a->n_rr; k++)
        n += a->rr[k].type == a->qtype && hastls_rr_address_family(&a->rr[k]) != 0;
    return n;
}

/* ANS[0] (A) and ANS[1] (AAAA) as policy/record.h sees them. */
static void addr_answers(struct hastls_answer *const ans[2],
                         struct hastls_addr_answer out[2])
{
    for (int i = 0; i < 2; i++) {
        out[i].status = ans[i]->status;
        out[i].rcode = ans[i]->rcode;
        out[i].n = answer_addrs(ans[i]);
    }
}

/* As the shim's lookup: the addresses belong to the canonical name (the
 * owner answer's), and when it is another name than the one asked its own
 * record, asked for it, governs them: C->ans[ANS_HASTLS] is replaced by that
 * answer.  Sets C->canonical and C->zone_signed.  Returns 0, or -1 when out
 * of memory. */
static int owner_record(struct check *c, struct hastls_resolver *r)
{
    struct hastls_addr_answer a[2];
    addr_answers(c->ans, a);
    const struct hastls_answer *named = c->ans[hastls_owner_answer(a)];
    if (named->canonname[0] && !same_name(named->canonname, c->name))
        c->canonical = named->canonname;
    if (!c->canonical) {
        c->zone_signed = hastls_addrs_signed(a);
        return 0;
    }
    struct hastls_answer *own[N_ANS];
    const struct hastls_query q[N_ANS] = {{c->canonical, TYPE_A},
                                          {c->canonical, TYPE_AAAA},
                                          {c->canonical, c->cfg->record_type}};
    if (hastls_resolver_lookup(r, q, N_ANS, own) < 0)
        return -1;
    addr_answers(own, a);
    c->zone_signed = hastls_addrs_signed(a);
    hastls_answer_free(own[ANS_A]);
    hastls_answer_free(own[ANS_AAAA]);
    hastls_answer_free(c->ans[ANS_HASTLS]);
    c->ans[ANS_HASTLS] = own[ANS_HASTLS];
    return 0;
}

/* The shim's lookup result for each family (policy/record.h). */
static void lookup_results(struct check *c)
{
    if (c->src == SRC_HOSTS) {
        for (int f = 0; f < 3; f++)
            c->lookup[f] = hastls_local_result(families[f], c->n_local4, c->n_local6);
        return;
    }
    struct hastls_addr_answer a[2];
    addr_answers(c->ans, a);
    for (int f = 0; f < 3; f++) {
        int cause = HASTLS_ANS_A;
        c->lookup[f] = hastls_host_result(families[f], a, &cause);
        if (f == 0)
            c->lookup_cause = cause;
    }
    c->name_refused = c->lookup[0] == EAI_FAIL;
}

/* The HTTPS record as the shim asks it (policy/httpsrr.h): only with
 * https_rr on and a record state that leaves the name unenforced. */
static void https_signal(struct check *c, struct hastls_resolver *r)
{
    if (c->cfg->https_rr == HASTLS_HTTPS_RR_IGNORE ||
        hastls_https_governs(c->rec, 1, HASTLS_HTTPS_RR_ENFORCE) != HASTLS_REC_HTTPS)
        return;
    const struct hastls_query q = {c->canonical ? c->canonical : c->name,
                                   HASTLS_DNS_TYPE_HTTPS};
    struct hastls_answer *a = NULL;
    if (hastls_resolver_lookup(r, &q, 1, &a) < 0)
        return;
    int says = hastls_https_answer(a->status, a->rcode, a->rr, a->n_rr);
    c->https_signal = says == 1;
    hastls_answer_free(a);
    /* An HTTPS answer that cannot say either way: a pin of the signal
     * governs, as in the shim (shim/core/hostpins.h). */
    if (says < 0 && c->has_pin && c->cfg->https_rr == HASTLS_HTTPS_RR_ENFORCE) {
        c->pin_governs = true;
        c->rec = HASTLS_REC_PINNED;
        c->dpairs = c->pin.pairs;
        c->n_dpairs = c->pin.n;
        return;
    }
    enum hastls_rec rec = hastls_https_governs(c->rec, c->https_signal, c->cfg->https_rr);
    if (rec == HASTLS_REC_HTTPS) {
        c->rec = rec;
        c->dpairs = hastls_https_pairs;
        c->n_dpairs = 1;
    }
}

/* Looks everything up (R is NULL for an address literal or a hosts-file name,
 * C->rec set already, which the shim does not look up in DNS either) and
 * decides.  Returns 0, or -1 when out of memory. */
static int run_check(struct check *c, const uint8_t *asked, bool any_asked,
                     struct hastls_resolver *r)
{
    c->pairs = malloc(HASTLS_REC_MAX_PAIRS * sizeof *c->pairs);
    if (!c->pairs)
        return -1;
    if (r) {
        const struct hastls_query q[N_ANS] = {
            {c->name, TYPE_A}, {c->name, TYPE_AAAA}, {c->name, c->cfg->record_type}};
        if (hastls_resolver_lookup(r, q, N_ANS, c->ans) < 0)
            return -1;
    }

    if (r && owner_record(c, r) < 0)
        return -1;
    /* The record's answer is the owner's (see owner_record). */
    for (int i = 0; r && i < N_ANS; i++) {
        const struct hastls_answer *a = c->ans[i];
        if (a->status == HASTLS_SEC_FAILED ||
            (a->rcode != RCODE_NOERROR && a->rcode != RCODE_NXDOMAIN))
            c->any_failed = true;
    }

    if (c->src != SRC_LITERAL)
        lookup_results(c);
    if (r && classify_record(c) < 0)
        return -1;
    if (r)
        https_signal(c, r);

    uint8_t *set = calloc(65536 / 8, 1);
    if (!set)
        return -1;
    if (any_asked)
        memcpy(set, asked, 65536 / 8);
    else
        default_ports(c, set);
    size_t n = 0;
    for (unsigned p = 1; p < 65536; p++)
        n += (set[p >> 3] >> (p & 7)) & 1;
    c->rows = calloc(n ? n : 1, sizeof *c->rows);
    if (!c->rows) {
        free(set);
        return -1;
    }
    const int me = client_index(c->cfg->client);
    for (unsigned p = 1; p < 65536; p++) {
        if (!((set[p >> 3] >> (p & 7)) & 1))
            continue;
        struct port_row *row = &c->rows[c->n_rows++];
        decide_port(c, row, (uint16_t)p);
        if (row->d[me].verdict == HASTLS_VERDICT_BLOCK)
            c->n_blocked++;
    }
    free(set);
    return 0;
}

/* As the shim's lookup (hastls_hosts_lookup_local): a name the hosts file
 * knows, and localhost and *.localhost, are answered without DNS.  Fills
 * C->local_addrs and C->hosts_canon; returns 1 for such a name, else 0. */
static int from_hosts(struct check *c)
{
    char key[HASTLS_NAME_MAX];
    size_t len = strlen(c->name);
    if (len && c->name[len - 1] == '.')
        len--;
    if (len == 0 || len >= sizeof key)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = c->name[i];
        key[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    key[len] = '\0';

    struct hastls_ip ips[16];
    size_t n = 0;
    if (!hastls_hosts_lookup_local(key, ips, 16, &n, c->hosts_canon))
        return 0;
    for (size_t i = 0; i < n && c->n_local < 16; i++) {
        if (!inet_ntop(ips[i].family, ips[i].addr, c->local_addrs[c->n_local],
                       INET6_ADDRSTRLEN))
            continue;
        c->n_local++;
        if (ips[i].family == AF_INET)
            c->n_local4++;
        else
            c->n_local6++;
    }
    return 1;
}

static const char *addr_text(const struct hastls_answer *a, size_t i, char *buf,
                             size_t len);

static int exit_status(const struct check *c)
{
    if (c->n_blocked || c->name_refused)
        return 1;
    if (c->connect && c->conn.outcome != HASTLS_CLI_TLS_PASS)
        return c->conn.outcome == HASTLS_CLI_TLS_ERROR ? 3 : 1;
    return c->any_failed ? 3 : 0;
}

/* The TLSA RRsets of the ports asked (rows[], all of them: the ports of
 * the command line), in one batch, as the shim's TLS hooks ask them.  A name
 * that never reaches DNS has none.  Returns 0, or -1 when out of memory. */
static int dane_lookup(struct check *c, struct hastls_resolver *r)
{
    c->tlsa = calloc(c->n_rows ? c->n_rows : 1, sizeof *c->tlsa);
    struct hastls_query *q = calloc(c->n_rows ? c->n_rows : 1, sizeof *q);
    struct hastls_answer **ans = calloc(c->n_rows ? c->n_rows : 1, sizeof *ans);
    int rc = -1;
    if (!c->tlsa || !q || !ans)
        goto out;
    c->n_tlsa = c->n_rows;
    for (size_t i = 0; i < c->n_rows; i++) {
        struct hastls_cli_tlsa *t = &c->tlsa[i];
        if (hastls_tlsa_owner(c->rows[i].port, "tcp", c->name, t->owner,
                              sizeof t->owner) < 0)
            snprintf(t->owner, sizeof t->owner, "(name too long)");
        t->not_asked = "the name is not in DNS (an address literal or a hosts-file name "
                       "has no TLSA records)";
        q[i].name = t->owner;
        q[i].type = HASTLS_DNS_TYPE_TLSA;
    }
    if (r && c->n_rows) {
        if (hastls_resolver_lookup(r, q, c->n_rows, ans) < 0)
            goto out;
        for (size_t i = 0; i < c->n_rows; i++)
            hastls_cli_tlsa_take(&c->tlsa[i], ans[i]);
    }
    for (size_t i = 0; i < c->n_tlsa; i++)
        if (hastls_cli_dane_verdict(&c->tlsa[i], c->cfg->dane) == HASTLS_CLI_DANE_REFUSED)
            c->n_dane_refused++;
    rc = 0;
out:
    free(q);
    free(ans);
    return rc;
}

/* --connect: the handshake with NAME on the one port asked. */
static void dane_connect(struct check *c)
{
    struct hastls_cli_tls_target *t = &c->target;
    size_t n = 0;
    for (size_t i = 0; i < c->n_local && n < 16; i++)
        c->addr_list[n++] = c->local_addrs[i];
    for (int i = ANS_A; c->ans[0] && i <= ANS_AAAA; i++) {
        const struct hastls_answer *a = c->ans[i];
        for (size_t k = 0; a->status != HASTLS_SEC_BOGUS && k < a->n_rr && n < 16; k++)
            if (addr_text(a, k, c->addr_buf[n], sizeof c->addr_buf[n])) {
                c->addr_list[n] = c->addr_buf[n];
                n++;
            }
    }
    t->addrs = c->addr_list;
    t->n_addrs = n;
    t->port = c->rows[0].port;
    t->starttls = c->starttls;
    t->stream_to = c->name;
    t->sni = c->name;
    t->names[0] = c->name;
    t->n_names = 1;
    t->tlsa = c->n_tlsa ? &c->tlsa[0] : NULL;
    t->mode = c->cfg->dane;
    t->ca_file = c->ca_file;
    hastls_cli_tls_check(t, &c->conn);
}

/* The address of record I of answer A in text, or NULL for a malformed one. */
static const char *addr_text(const struct hastls_answer *a, size_t i, char *buf,
                             size_t len)
{
    int family = hastls_rr_address_family(&a->rr[i]);
    return family ? inet_ntop(family, a->rr[i].rdata, buf, (socklen_t)len) : NULL;
}

/* The reason shown for an answer: the resolver's, else what the status means. */
static const char *answer_reason(const struct hastls_answer *a)
{
    if (a->reason[0])
        return a->reason;
    switch (a->status) {
    case HASTLS_SEC_SECURE:
        return "validated: DNSSEC chain of trust from the trust anchor";
    case HASTLS_SEC_INSECURE:
        return "provably unsigned: no DNSSEC chain of trust covers the name";
    case HASTLS_SEC_BOGUS:
        return "DNSSEC validation failed";
    case HASTLS_SEC_FAILED:
    default:
        return "no answer";
    }
}

static void print_pin(const struct check *c)
{
    if (c->pin_err[0]) {
        printf("pin: the pin file is not trusted and not used: ");
        hastls_cli_text(stdout, c->pin_err);
        printf("\n");
    }
    if (!c->has_pin)
        return;
    char pairs[HASTLS_PIN_PAIRS * 12 + 3], made[32], until[32];
    hastls_pairs_format(c->pin.pairs, c->pin.n, pairs, sizeof pairs);
    hastls_pin_time(c->pin.pinned, made, sizeof made);
    hastls_pin_time(c->pin.expires, until, sizeof until);
    printf("pin: %s from a secure %s lookup, pinned %s, until %s; %s\n", pairs,
           hastls_pin_source_name(c->pin.source), made, until,
           c->pin_governs ? "in force: the current lookup cannot confirm or deny it"
                          : "not needed now: the current answer governs");
}

static void print_text(const struct check *c)
{
    const struct hastls_config *cfg = c->cfg;
    const int me = client_index(cfg->client);
    char buf[64];

    printf("name: ");
    hastls_cli_text(stdout, c->name);
    printf("\n");
    if (c->canonical) {
        printf("canonical: ");
        hastls_cli_text(stdout, c->canonical);
        printf(" (CNAME followed)\n");
    }
    if (c->src == SRC_LITERAL)
        printf("address literal: %s, nothing is looked up\n", c->local_addrs[0]);
    if (c->src == SRC_HOSTS) {
        if (!same_name(c->hosts_canon, c->name)) {
            printf("canonical: ");
            hastls_cli_text(stdout, c->hosts_canon);
            printf(" (hosts file)\n");
        }
        printf("hosts file:");
        for (size_t i = 0; i < c->n_local; i++)
            printf(" %s", c->local_addrs[i]);
        printf("%s (no DNS lookup)\n", c->n_local ? "" : " no address");
    }
    for (int i = 0; c->ans[0] && i < N_ANS; i++) {
        const struct hastls_answer *a = c->ans[i];
        printf("%-6s  %-8s  ", ans_label[i], hastls_sec_name(a->status));
        if (a->status == HASTLS_SEC_FAILED) {
            printf("no answer");
        } else if (i == ANS_HASTLS) {
            if (c->n_pairs)
                printf("%s", c->record_text);
            if (c->decode_err != HASTLS_RR_OK)
                printf("%sinvalid RDATA (%s)", c->n_pairs ? " + " : "",
                       hastls_rr_strerror(c->decode_err));
            else if (!c->n_pairs)
                printf("no record (%s)", hastls_cli_rcode_name(a->rcode));
            else if (a->status == HASTLS_SEC_BOGUS)
                printf(" (not validated)");
        } else {
            size_t shown = 0;
            for (size_t k = 0; k < a->n_rr; k++)
                if (addr_text(a, k, buf, sizeof buf))
                    printf("%s%s", shown++ ? " " : "", buf);
            if (!shown)
                printf("no addresses (%s)", hastls_cli_rcode_name(a->rcode));
            else if (a->status == HASTLS_SEC_BOGUS)
                printf(" (not validated)");
        }
        printf("\n        reason: ");
        hastls_cli_text(stdout, answer_reason(a));
        printf("\n");
    }
    if (c->name_refused) {
        printf("lookup: refused: the %s answer is bogus, the shim fails the lookup "
               "(EAI_FAIL)",
               ans_label[c->lookup_cause == HASTLS_ANS_A ? ANS_A : ANS_AAAA]);
        for (int f = 1; f < 3; f++)
            if (c->lookup[f] == 0)
                printf("; a lookup of %s only (%s) succeeds", f == 1 ? "A" : "AAAA",
                       family_label[f]);
        printf("\n");
    }
    printf("record: %s", rec_explanation(c));
    /* The resolver's reason is on the HASTLS line already; only the codec's
     * (a secure record the shim cannot read) is new here. */
    if (c->src == SRC_DNS && c->rec == HASTLS_REC_BOGUS &&
        c->rec_why != c->ans[ANS_HASTLS]->reason) {
        printf(" (");
        hastls_cli_text(stdout, c->rec_why);
        printf(")");
    }
    printf("\n");
    print_pin(c);
    if (c->https_signal)
        printf("https: a DNSSEC-secure HTTPS record: %s\n",
               c->rec == HASTLS_REC_HTTPS ? "it stands for (80 443) (https_rr = enforce)"
                                          : "reported only (https_rr = report)");
    printf("policy: client %s, mode %s, bogus %s; config ",
           hastls_client_name(cfg->client), hastls_mode_name(cfg->mode),
           bogus_name(cfg->bogus));
    hastls_cli_text(stdout, cfg->source[0] ? cfg->source : "(built-in defaults)");
    if (cfg->app_section[0]) {
        printf(" ["); /* app_section reads "app:NAME" */
        hastls_cli_text(stdout, cfg->app_section);
        printf("]");
    } else if (c->app) {
        /* Worth saying: a misspelt --app would otherwise pass unnoticed. */
        printf("; no [app:] section matches ");
        hastls_cli_text(stdout, c->app);
    }
    printf("\n");

    printf("port   class         ");
    for (int k = 0; k < 3; k++) {
        snprintf(buf, sizeof buf, "%s%s", hastls_client_name(clients[k]),
                 k == me ? "*" : "");
        printf("%-7s", buf);
    }
    printf("reason (%s)\n", hastls_client_name(cfg->client));
    for (size_t i = 0; i < c->n_rows; i++) {
        const struct port_row *row = &c->rows[i];
        const char *cls = row_class(c, row);
        printf("%-5u  %-12s  ", row->port, cls ? cls : "-");
        for (int k = 0; k < 3; k++) {
            snprintf(buf, sizeof buf, "%s%s", hastls_verdict_name(row->d[k].verdict),
                     k == me ? "*" : "");
            printf("%-7s", buf);
        }
        printf("%s\n", row->reason);
    }

    for (size_t i = 0; i < c->n_tlsa; i++) {
        char label[32];
        snprintf(label, sizeof label, "DANE %u", c->rows[i].port);
        hastls_cli_tlsa_print(stdout, &c->tlsa[i], cfg->dane, "", label);
    }
    if (c->connect)
        hastls_cli_tls_print(stdout, &c->target, &c->conn, "");

    printf("result: ");
    if (c->n_blocked) {
        printf("client %s would block port%s", hastls_client_name(cfg->client),
               c->n_blocked > 1 ? "s" : "");
        for (size_t i = 0; i < c->n_rows; i++)
            if (c->rows[i].d[me].verdict == HASTLS_VERDICT_BLOCK)
                printf(" %u", c->rows[i].port);
        printf("%s\n", cfg->mode == HASTLS_MODE_REPORT
                           ? " (mode report: the shim logs it and lets it through)"
                           : "");
    } else if (c->name_refused) {
        printf("the name cannot be resolved under the shim (bogus addresses, %s)\n",
               hastls_host_result_name(c->lookup[0]));
    } else if (c->connect && c->conn.outcome != HASTLS_CLI_TLS_PASS) {
        printf("the certificate does not pass: %s\n",
               hastls_cli_tls_outcome_name(c->conn.outcome));
    } else if (c->any_failed) {
        printf("allowed, but a lookup failed: the answer is not reliable\n");
    } else {
        printf("client %s allows every port listed", hastls_client_name(cfg->client));
        if (c->connect)
            printf("; the certificate passes (%s)", c->conn.passed_by);
        printf("\n");
    }
    if (c->n_dane_refused) {
        /* The connection itself is allowed: the refusal comes at the
         * handshake, so it is not part of the exit status without --connect. */
        printf("tls: the shim refuses the TLS handshake on port%s",
               c->n_dane_refused > 1 ? "s" : "");
        for (size_t i = 0; i < c->n_tlsa; i++)
            if (hastls_cli_dane_verdict(&c->tlsa[i], cfg->dane) ==
                HASTLS_CLI_DANE_REFUSED)
                printf(" %u", c->rows[i].port);
        printf(" (DANE, dane = enforce)\n");
    }
}

static void json_answer(const struct check *c, int i)
{
    const struct hastls_answer *a = c->ans[i];
    char buf[64];
    printf("{\"status\":\"%s\",\"rcode\":\"%s\",\"ttl\":%u,\"reason\":",
           hastls_sec_name(a->status), hastls_cli_rcode_name(a->rcode), a->ttl);
    hastls_cli_json_string(stdout, answer_reason(a));
    printf(",\"canonical\":");
    hastls_cli_json_string(stdout, a->canonname);
    printf(",\"records\":[");
    if (i == ANS_HASTLS) {
        if (c->n_pairs && a->status != HASTLS_SEC_FAILED)
            hastls_cli_json_string(stdout, c->record_text);
    } else {
        size_t shown = 0;
        for (size_t k = 0; k < a->n_rr; k++)
            if (addr_text(a, k, buf, sizeof buf))
                printf("%s\"%s\"", shown++ ? "," : "", buf);
    }
    printf("]}");
}

static void print_json(const struct check *c)
{
    const struct hastls_config *cfg = c->cfg;
    const int me = client_index(cfg->client);
    char buf[64];

    printf("{\"name\":");
    hastls_cli_json_string(stdout, c->name);
    printf(",\"canonical\":");
    if (c->canonical)
        hastls_cli_json_string(stdout, c->canonical);
    else if (c->src == SRC_HOSTS && !same_name(c->hosts_canon, c->name))
        hastls_cli_json_string(stdout, c->hosts_canon);
    else
        printf("null");

    printf(",\"config\":{\"source\":");
    hastls_cli_json_string(stdout, cfg->source);
    printf(",\"app_section\":");
    hastls_cli_json_string(stdout, cfg->app_section);
    printf(",\"client\":\"%s\",\"mode\":\"%s\",\"bogus\":\"%s\",\"record_type\":%u}",
           hastls_client_name(cfg->client), hastls_mode_name(cfg->mode),
           bogus_name(cfg->bogus), (unsigned)cfg->record_type);

    printf(",\"answers\":{");
    for (int i = 0; c->ans[0] && i < N_ANS; i++) {
        printf("%s\"%s\":", i ? "," : "", ans_label[i]);
        json_answer(c, i);
    }
    printf("}");

    printf(",\"addresses\":[");
    size_t shown = 0;
    for (size_t i = 0; i < c->n_local; i++)
        printf("%s\"%s\"", shown++ ? "," : "", c->local_addrs[i]);
    for (int i = ANS_A; c->ans[0] && i <= ANS_AAAA; i++) {
        const struct hastls_answer *a = c->ans[i];
        if (a->status == HASTLS_SEC_FAILED)
            continue;
        for (size_t k = 0; k < a->n_rr; k++)
            if (addr_text(a, k, buf, sizeof buf))
                printf("%s\"%s\"", shown++ ? "," : "", buf);
    }
    printf("],\"lookup\":");
    if (c->src == SRC_LITERAL) {
        printf("null");
    } else {
        for (int f = 0; f < 3; f++)
            printf("%s\"%s\":\"%s\"", f ? "," : "{", family_label[f],
                   hastls_host_result_name(c->lookup[f]));
        printf("}");
    }
    printf(",\"lookup_refused\":%s", c->name_refused ? "true" : "false");

    const struct hastls_answer *ha = c->ans[ANS_HASTLS]; /* NULL for a literal */
    printf(",\"record\":{\"status\":");
    if (ha)
        printf("\"%s\"", hastls_sec_name(ha->status));
    else
        printf("null");
    printf(",\"text\":");
    if (ha && c->n_pairs && ha->status != HASTLS_SEC_FAILED)
        hastls_cli_json_string(stdout, c->record_text);
    else
        printf("null");
    printf(",\"pairs\":[");
    for (size_t i = 0; i < c->n_pairs; i++)
        printf("%s[%u,%u]", i ? "," : "", c->pairs[i].insecure, c->pairs[i].secure);
    printf("],\"state\":\"%s\",\"enforced\":%s,\"blocks_all\":%s,\"explanation\":",
           rec_state_name(c), rec_enforced(c) ? "true" : "false",
           rec_blocks_all(c) ? "true" : "false");
    hastls_cli_json_string(stdout, rec_explanation(c));
    printf(",\"reason\":");
    hastls_cli_json_string(stdout, c->rec_why && c->rec_why[0] ? c->rec_why
                                   : ha                        ? answer_reason(ha)
                                                               : "");
    printf("}");

    printf(",\"pin\":");
    if (c->has_pin) {
        printf("{\"source\":\"%s\",\"pairs\":[", hastls_pin_source_name(c->pin.source));
        for (size_t i = 0; i < c->pin.n; i++)
            printf("%s[%u,%u]", i ? "," : "", c->pin.pairs[i].insecure,
                   c->pin.pairs[i].secure);
        printf("],\"pinned\":%lld,\"expires\":%lld,\"governs\":%s}",
               (long long)c->pin.pinned, (long long)c->pin.expires,
               c->pin_governs ? "true" : "false");
    } else {
        printf("null");
    }
    printf(",\"https_signal\":%s", c->https_signal ? "true" : "false");
    printf(",\"pin_error\":");
    if (c->pin_err[0])
        hastls_cli_json_string(stdout, c->pin_err);
    else
        printf("null");

    printf(",\"ports\":[");
    for (size_t i = 0; i < c->n_rows; i++) {
        const struct port_row *row = &c->rows[i];
        const char *cls = row_class(c, row);
        printf("%s{\"port\":%u,\"class\":", i ? "," : "", row->port);
        if (cls)
            printf("\"%s\"", cls);
        else
            printf("null");
        printf(",\"verdicts\":{");
        for (int k = 0; k < 3; k++)
            printf("%s\"%s\":\"%s\"", k ? "," : "", hastls_client_name(clients[k]),
                   hastls_verdict_name(row->d[k].verdict));
        printf("},\"verdict\":\"%s\",\"note\":%s,\"reason\":",
               hastls_verdict_name(row->d[me].verdict),
               row->d[me].verdict == HASTLS_VERDICT_ALLOW_NOTE ? "true" : "false");
        hastls_cli_json_string(stdout, row->reason);
        printf("}");
    }
    printf("],\"blocked\":[");
    shown = 0;
    for (size_t i = 0; i < c->n_rows; i++)
        if (c->rows[i].d[me].verdict == HASTLS_VERDICT_BLOCK)
            printf("%s%u", shown++ ? "," : "", c->rows[i].port);
    printf("],\"dane\":[");
    for (size_t i = 0; i < c->n_tlsa; i++) {
        printf("%s{\"port\":%u,", i ? "," : "", c->rows[i].port);
        hastls_cli_tlsa_json(stdout, &c->tlsa[i], cfg->dane);
        printf("}");
    }
    printf("],\"dane_refused\":[");
    shown = 0;
    for (size_t i = 0; i < c->n_tlsa; i++)
        if (hastls_cli_dane_verdict(&c->tlsa[i], cfg->dane) == HASTLS_CLI_DANE_REFUSED)
            printf("%s%u", shown++ ? "," : "", c->rows[i].port);
    printf("],\"connect\":");
    if (c->connect)
        hastls_cli_tls_json(stdout, &c->target, &c->conn);
    else
        printf("null");
    printf(",\"lookup_failed\":%s,\"exit\":%d}\n", c->any_failed ? "true" : "false",
           exit_status(c));
}

int hastls_cli_check_options(int argc, char **argv, bool srv_form, void (*usage)(FILE *),
                             struct hastls_cli_check_opts *o)
{
    static const struct option opts[] = {
        {"srv", required_argument, NULL, 'S'}, {"config", required_argument, NULL, 'c'},
        {"app", required_argument, NULL, 'a'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},      {"connect", no_argument, NULL, 'C'},
        {"all", no_argument, NULL, 'l'},       {"starttls", required_argument, NULL, 's'},
        {"ca", required_argument, NULL, 'A'},  {NULL, 0, NULL, 0},
    };
    int opt;
    memset(o, 0, sizeof *o);
    o->starttls = HASTLS_CLI_STARTTLS_NONE;
    optind = 1;
    opterr = 0; /* our own messages, prefixed like every other */
    while ((opt = getopt_long(argc, argv, ":c:a:jh", opts, NULL)) != -1) {
        if (!srv_form && (opt == 'S' || opt == 'l'))
            opt = '?';
        switch (opt) {
        case 'S':
            o->srv = optarg;
            break;
        case 'c':
            o->conf = optarg;
            break;
        case 'a':
            if (!*optarg) {
                fprintf(stderr, "hastls check: --app needs a program name\n");
                return 2;
            }
            o->app = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        case 'C':
            o->connect = true;
            break;
        case 'l':
            o->all = true;
            break;
        case 's':
            if (hastls_cli_starttls_parse(optarg, &o->starttls) < 0) {
                fprintf(stderr,
                        "hastls check: --starttls '%s': not none, xmpp, xmpp-server, "
                        "smtp or imap\n",
                        optarg);
                return 2;
            }
            o->starttls_given = true;
            break;
        case 'A':
            o->ca = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "hastls check: option '%s' needs a value\n",
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "hastls check: unknown option '%s'%s\n", argv[optind - 1],
                    srv_form ? " with --srv (try --srv --help)" : " (try --help)");
            return 2;
        }
    }
    return -1;
}

int hastls_cli_check_config(const char *conf, const char *app, struct hastls_config *cfg)
{
    char err[8192];
    int rc;
    if (conf) {
        rc = hastls_config_load(conf, app, cfg, err, sizeof err);
    } else {
        /* An explicit --app wins over HASTLS_APP, which would replace it. */
        if (app)
            unsetenv("HASTLS_APP");
        rc = hastls_config_load_default(app, cfg, err, sizeof err);
    }
    if (rc < 0) {
        hastls_cli_print_errors(err);
        return 3;
    }
    return 0;
}

int hastls_cmd_check(int argc, char **argv)
{
    const char *name = NULL;
    bool any_asked = false;

    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--srv") || !strncmp(argv[i], "--srv=", 6))
            return hastls_cli_check_srv(argc, argv);
    static uint8_t asked[65536 / 8]; /* ports from the command line */
    struct hastls_cli_check_opts o;
    int rc = hastls_cli_check_options(argc, argv, false, check_usage, &o);
    if (rc >= 0)
        return rc;
    const char *conf = o.conf, *app = o.app, *ca = o.ca;
    bool json = o.json, connect = o.connect, starttls_given = o.starttls_given;
    enum hastls_cli_starttls starttls = o.starttls;
    if (optind >= argc) {
        check_usage(stderr);
        return 2;
    }
    name = argv[optind++];
    if (!*name || strlen(name) >= HASTLS_NAME_MAX - 1) {
        fprintf(stderr, "hastls check: NAME is empty or longer than %d bytes\n",
                HASTLS_NAME_MAX - 2);
        return 2;
    }
    memset(asked, 0, sizeof asked);
    for (; optind < argc; optind++) {
        uint16_t p;
        if (parse_port(argv[optind], &p) < 0) {
            fprintf(stderr, "hastls check: bad port '%s' (1..65535)\n", argv[optind]);
            return 2;
        }
        port_set_add(asked, p);
        if (connect && any_asked) {
            fprintf(stderr, "hastls check: --connect takes exactly one PORT\n");
            return 2;
        }
        if (!starttls_given)
            starttls = hastls_cli_starttls_of_port(p);
        any_asked = true;
    }
    if (connect && !any_asked) {
        fprintf(stderr, "hastls check: --connect needs a PORT\n");
        return 2;
    }
    if ((starttls_given || ca) && !connect) {
        fprintf(stderr, "hastls check: --starttls and --ca need --connect\n");
        return 2;
    }

    static struct hastls_config cfg; /* large: keep it off the stack */
    if ((rc = hastls_cli_check_config(conf, app, &cfg)) != 0)
        return rc;
    char err[8192];

    /* An address literal is never looked up by the shim (getaddrinfo answers
     * it from the text), so neither is it here: no resolver, no network. */
    struct check c = {.cfg = &cfg,
                      .name = name,
                      .app = app,
                      .connect = connect,
                      .starttls = starttls,
                      .ca_file = ca ? ca : cfg.ca_bundle};
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_aton(name, &a4)) {
        c.src = SRC_LITERAL;
        inet_ntop(AF_INET, &a4, c.local_addrs[c.n_local++], INET6_ADDRSTRLEN);
    } else if (inet_pton(AF_INET6, name, &a6) == 1) {
        c.src = SRC_LITERAL;
        inet_ntop(AF_INET6, &a6, c.local_addrs[c.n_local++], INET6_ADDRSTRLEN);
    } else if (from_hosts(&c)) {
        c.src = SRC_HOSTS;
    }
    struct hastls_resolver *r = NULL;
    if (c.src == SRC_DNS) {
        r = hastls_resolver_new(&cfg, hastls_cli_log, err, sizeof err);
        if (!r) {
            fprintf(stderr, "hastls: %s\n", err);
            return 3;
        }
    }
    int status;
    if (run_check(&c, asked, any_asked, r) < 0 || (any_asked && dane_lookup(&c, r) < 0)) {
        fprintf(stderr, "hastls check: out of memory\n");
        status = 3;
    } else {
        if (connect)
            dane_connect(&c);
        if (json)
            print_json(&c);
        else
            print_text(&c);
        status = exit_status(&c);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "hastls check: writing the output: %s\n", strerror(errno));
        status = 3;
    }
    for (int i = 0; i < N_ANS; i++)
        if (c.ans[i])
            hastls_answer_free(c.ans[i]);
    free(c.pairs);
    free(c.record_text);
    free(c.rows);
    for (size_t i = 0; i < c.n_tlsa; i++)
        hastls_cli_tlsa_free(&c.tlsa[i]);
    free(c.tlsa);
    if (r)
        hastls_resolver_free(r);
    return status;
}
