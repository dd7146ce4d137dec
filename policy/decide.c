/* policy/decide.c: the decision table of seed 000, section 4 (see decide.h).
 *
 * hastls_decide() runs on every governed connect(): it only scans the pairs
 * (no allocation, no formatting, no locks).  Text is made only by
 * hastls_decision_reason(), when a line is actually logged.
 */
#include "policy/decide.h"

#include <stdio.h>

/* The well-known cleartext/TLS counterparts W.  Only pairs where both ports
 * are registered with IANA for the same protocol, one plain and one with
 * implicit TLS (plus XMPP's 5223, see below).  Port 25 deliberately has no
 * entry: SMTP relay has no implicit-TLS port; 465 is "submissions" and pairs
 * with 587 "submission" (RFC 8314), not with 25. */
static const struct hastls_pair wellknown[] = {
    {20, 989},    /* ftp-data / ftps-data */
    {21, 990},    /* ftp / ftps */
    {23, 992},    /* telnet / telnets */
    {53, 853},    /* domain / domain-s (RFC 7858) */
    {80, 443},    /* http / https */
    {110, 995},   /* pop3 / pop3s */
    {119, 563},   /* nntp / nntps */
    {143, 993},   /* imap / imaps */
    {194, 994},   /* irc / ircs */
    {389, 636},   /* ldap / ldaps */
    {587, 465},   /* submission / submissions (RFC 8314) */
    {1883, 8883}, /* mqtt / secure-mqtt */
    {3268, 3269}, /* msft-gc / msft-gc-ssl */
    {5060, 5061}, /* sip / sips */
    {5222, 5223}, /* xmpp-client / XMPP direct TLS (XEP-0368; de facto, not IANA) */
    {5672, 5671}, /* amqp / amqps */
    {6667, 6697}, /* ircu / ircs-u */
};

#define N_WELLKNOWN (sizeof wellknown / sizeof wellknown[0])

uint16_t hastls_wellknown_tls_port(uint16_t cleartext_port)
{
    for (size_t k = 0; k < N_WELLKNOWN; k++)
        if (wellknown[k].insecure == cleartext_port)
            return wellknown[k].secure;
    return 0;
}

uint16_t hastls_wellknown_cleartext_port(uint16_t tls_port)
{
    for (size_t k = 0; k < N_WELLKNOWN; k++)
        if (wellknown[k].secure == tls_port)
            return wellknown[k].insecure;
    return 0;
}

/* The verdict columns of the table, indexed [class][client]. */
#define ALLOW HASTLS_VERDICT_ALLOW
#define NOTE HASTLS_VERDICT_ALLOW_NOTE
#define BLOCK HASTLS_VERDICT_BLOCK
/* clang-format off */
static const enum hastls_verdict verdicts[6][3] = {
    /*                             CIO    CFB    CSO */
    [HASTLS_CLASS_TLS]          = {ALLOW, ALLOW, ALLOW},
    [HASTLS_CLASS_STARTTLS]     = {ALLOW, ALLOW, ALLOW},
    [HASTLS_CLASS_CLEARTEXT]    = {ALLOW, NOTE,  BLOCK},
    [HASTLS_CLASS_NO_CLEARTEXT] = {BLOCK, BLOCK, BLOCK},
    [HASTLS_CLASS_NO_TLS]       = {ALLOW, BLOCK, BLOCK},
    [HASTLS_CLASS_UNLISTED]     = {ALLOW, ALLOW, ALLOW},
};
/* clang-format on */
#undef ALLOW
#undef NOTE
#undef BLOCK

static int client_index(enum hastls_client c)
{
    switch (c) {
    case HASTLS_CLIENT_CIO:
        return 0;
    case HASTLS_CLIENT_CFB:
        return 1;
    case HASTLS_CLIENT_CSO:
        return 2;
    }
    return 2; /* an out-of-range value is treated as the strictest client */
}

struct hastls_decision hastls_decide(const struct hastls_pair *pairs, size_t n,
                                     uint16_t port, enum hastls_client client)
{
    struct hastls_decision d = {HASTLS_CLASS_UNLISTED, HASTLS_VERDICT_ALLOW, {0, 0}};
    /* First match of each row; the rows' order decides, not the pairs'. */
    const struct hastls_pair *tls = NULL, *starttls = NULL, *clear = NULL, *why = NULL;

    /* Port 0 is not a service (and 0 in a pair means "not served"): never
     * match it against the record. */
    if (port == 0 || pairs == NULL)
        n = 0;

    /* Rows 1-3: P listed in the record. */
    for (size_t k = 0; k < n; k++) {
        const struct hastls_pair *p = &pairs[k];
        if (p->secure == port && p->insecure != port) {
            tls = p;
            break; /* the first row: nothing can beat it */
        } else if (p->insecure == port && p->secure == port) {
            if (!starttls)
                starttls = p;
        } else if (p->insecure == port && !clear) {
            clear = p;
        }
    }
    if (tls) {
        d.cls = HASTLS_CLASS_TLS;
        why = tls;
    } else if (starttls) {
        d.cls = HASTLS_CLASS_STARTTLS;
        why = starttls;
    } else if (clear) {
        d.cls = HASTLS_CLASS_CLEARTEXT;
        why = clear;
    } else if (n > 0) {
        /* Rows 4-5: P unlisted; infer from its well-known counterpart.  No
         * port is on both sides of W, so at most one of the two applies. */
        uint16_t w_tls = hastls_wellknown_tls_port(port);
        uint16_t w_clear = w_tls ? 0 : hastls_wellknown_cleartext_port(port);
        for (size_t k = 0; k < n && (w_tls || w_clear); k++) {
            const struct hastls_pair *p = &pairs[k];
            if (w_tls && p->insecure == 0 && p->secure == w_tls) {
                d.cls = HASTLS_CLASS_NO_CLEARTEXT;
                why = p;
                break;
            }
            if (w_clear && p->insecure == w_clear && p->secure == 0) {
                d.cls = HASTLS_CLASS_NO_TLS;
                why = p;
                break;
            }
        }
    }
    if (why)
        d.pair = *why;
    d.verdict = verdicts[d.cls][client_index(client)];
    return d;
}

const char *hastls_class_name(enum hastls_class c)
{
    switch (c) {
    case HASTLS_CLASS_TLS:
        return "tls";
    case HASTLS_CLASS_STARTTLS:
        return "starttls";
    case HASTLS_CLASS_CLEARTEXT:
        return "cleartext";
    case HASTLS_CLASS_NO_CLEARTEXT:
        return "no-cleartext";
    case HASTLS_CLASS_NO_TLS:
        return "no-tls";
    case HASTLS_CLASS_UNLISTED:
        return "unlisted";
    }
    return "?";
}

const char *hastls_verdict_name(enum hastls_verdict v)
{
    switch (v) {
    case HASTLS_VERDICT_ALLOW:
    case HASTLS_VERDICT_ALLOW_NOTE:
        return "allow";
    case HASTLS_VERDICT_BLOCK:
        return "block";
    }
    return "?";
}

const char *hastls_decision_reason(const struct hastls_decision *d, uint16_t port,
                                   char *buf, size_t buflen)
{
    unsigned p = port, i = d->pair.insecure, s = d->pair.secure;

    if (buflen == 0)
        return buf;
    switch (d->cls) {
    case HASTLS_CLASS_TLS:
        snprintf(buf, buflen, "record pair (%u %u) serves %u over TLS", i, s, p);
        break;
    case HASTLS_CLASS_STARTTLS:
        snprintf(buf, buflen,
                 "record pair (%u %u) serves %u with an in-band TLS upgrade (STARTTLS)",
                 i, s, p);
        break;
    case HASTLS_CLASS_CLEARTEXT:
        if (d->verdict == HASTLS_VERDICT_BLOCK) {
            if (s)
                snprintf(buf, buflen,
                         "record pair (%u %u) serves %u in cleartext; a secure-only "
                         "client must use TLS on %u",
                         i, s, p, s);
            else
                snprintf(buf, buflen,
                         "record pair (%u %u) serves %u only in cleartext, never "
                         "over TLS; a secure-only client may not connect",
                         i, s, p);
        } else if (s) {
            snprintf(buf, buflen,
                     "record pair (%u %u) serves %u in cleartext (TLS on %u)", i, s, p,
                     s);
        } else {
            snprintf(buf, buflen, "record pair (%u %u) serves %u only in cleartext", i, s,
                     p);
        }
        break;
    case HASTLS_CLASS_NO_CLEARTEXT:
        snprintf(buf, buflen,
                 "record pair (%u %u) serves %u only over TLS on %u, never in cleartext",
                 i, s, p, s);
        break;
    case HASTLS_CLASS_NO_TLS:
        snprintf(buf, buflen,
                 "record pair (%u %u) serves no TLS on %u, only cleartext on %u", i, s, p,
                 i);
        break;
    case HASTLS_CLASS_UNLISTED:
    default:
        snprintf(buf, buflen, "the record does not mention port %u", p);
        break;
    }
    return buf;
}
