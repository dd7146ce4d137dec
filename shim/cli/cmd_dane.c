/* shim/cli/cmd_dane.c: the DANE part of `hastls check` (see cli.h).
 *
 * The TLSA answer of an endpoint, classified by policy/tlsa.h as the shim's
 * TLS hooks classify it, the verdict the hooks draw from it under the
 * configuration's `dane` mode (shim/hooks/openssl.c: secure usable records
 * are enforced, insecure or absent ones leave the program's own checks,
 * bogus or failed lookups refuse the handshake under enforce), and for
 * --connect one real handshake: TCP, the in-band upgrade the service needs
 * (XMPP, SMTP, IMAP STARTTLS), TLS with SNI, then the presented chain
 * checked against the records with OpenSSL's DANE verifier and, separately,
 * against the configured CA bundle for the acceptable names (PKIX).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "policy/tlsa.h"
#include "shim/cli/cli.h"
#include "shim/cli/format.h"

/* How long one connection attempt, and each read or write of the upgrade
 * dialogue and the handshake, may take. */
#define TLS_TIMEOUT_MS 5000
/* The most bytes an upgrade dialogue may read before the server says yes. */
#define DIALOGUE_MAX 16384

void hastls_cli_tlsa_take(struct hastls_cli_tlsa *t, struct hastls_answer *a)
{
    t->asked = true;
    t->ans = a;
    t->n_usable = 0;
    if (a->status == HASTLS_SEC_SECURE)
        t->n_usable = hastls_tlsa_usable(a->rr, a->n_rr, t->usable, HASTLS_CLI_TLSA_MAX);
    t->n_kept = t->n_usable < HASTLS_CLI_TLSA_MAX ? t->n_usable : HASTLS_CLI_TLSA_MAX;
    t->state = hastls_dane_state(a->status, a->rcode, t->n_usable);
    t->has_ee = false;
    for (size_t i = 0; i < t->n_kept; i++)
        t->has_ee |= t->usable[i].usage == HASTLS_TLSA_DANE_EE;
}

void hastls_cli_tlsa_free(struct hastls_cli_tlsa *t)
{
    if (t->ans)
        hastls_answer_free(t->ans);
    t->ans = NULL;
}

enum hastls_cli_dane_verdict hastls_cli_dane_verdict(const struct hastls_cli_tlsa *t,
                                                     enum hastls_dane_mode mode)
{
    if (!t->asked)
        return HASTLS_CLI_DANE_NOT_ASKED;
    if (mode == HASTLS_DANE_OFF)
        return HASTLS_CLI_DANE_OFF;
    switch (t->state) {
    case HASTLS_DANE_USE:
        return mode == HASTLS_DANE_ENFORCE ? HASTLS_CLI_DANE_ENFORCED
                                           : HASTLS_CLI_DANE_REPORTED;
    case HASTLS_DANE_BOGUS:
    case HASTLS_DANE_FAILED:
        return mode == HASTLS_DANE_ENFORCE ? HASTLS_CLI_DANE_REFUSED
                                           : HASTLS_CLI_DANE_REPORTED;
    case HASTLS_DANE_NONE:
    case HASTLS_DANE_INSECURE:
    default:
        return HASTLS_CLI_DANE_NONE;
    }
}

const char *hastls_cli_dane_verdict_name(enum hastls_cli_dane_verdict v)
{
    static const char *const names[] = {"enforced", "report", "none",
                                        "refused",  "off",    "not-asked"};
    return (unsigned)v < sizeof names / sizeof names[0] ? names[v] : "?";
}

bool hastls_cli_dane_applies(const struct hastls_cli_tlsa *t, enum hastls_dane_mode mode)
{
    return t && t->asked && mode != HASTLS_DANE_OFF && t->state == HASTLS_DANE_USE;
}

/* Why the answer of T is what it is, for bogus and failed answers. */
static const char *tlsa_why(const struct hastls_cli_tlsa *t)
{
    const struct hastls_answer *a = t->ans;
    if (a->reason[0])
        return a->reason;
    return a->status == HASTLS_SEC_BOGUS ? "DNSSEC validation failed" : "no answer";
}

/* The verdict as one sentence into BUF. */
static const char *verdict_text(const struct hastls_cli_tlsa *t,
                                enum hastls_dane_mode mode, char *buf, size_t len)
{
    enum hastls_cli_dane_verdict v = hastls_cli_dane_verdict(t, mode);
    const char *what =
        t->asked && t->state == HASTLS_DANE_BOGUS ? "TLSA bogus" : "TLSA lookup failed";
    switch (v) {
    case HASTLS_CLI_DANE_NOT_ASKED:
        snprintf(buf, len, "not asked: %s", t->not_asked ? t->not_asked : "");
        break;
    case HASTLS_CLI_DANE_OFF:
        snprintf(buf, len,
                 "off (dane = off: TLSA records are not consulted, the "
                 "program's own verification applies)");
        break;
    case HASTLS_CLI_DANE_ENFORCED:
        snprintf(buf, len, "enforced: the certificate must match one of %zu record%s",
                 t->n_kept, t->n_kept == 1 ? "" : "s");
        break;
    case HASTLS_CLI_DANE_REFUSED:
        snprintf(buf, len, "refused: %s (%s): the shim refuses the handshake", what,
                 tlsa_why(t));
        break;
    case HASTLS_CLI_DANE_REPORTED:
        if (t->state == HASTLS_DANE_USE)
            snprintf(buf, len,
                     "report: a certificate matching none of %zu record%s is logged, "
                     "not refused (dane = report)",
                     t->n_kept, t->n_kept == 1 ? "" : "s");
        else
            snprintf(buf, len,
                     "report: %s (%s) is logged, the handshake goes on "
                     "(dane = report)",
                     what, tlsa_why(t));
        break;
    case HASTLS_CLI_DANE_NONE:
    default:
        if (t->state == HASTLS_DANE_INSECURE)
            snprintf(buf, len,
                     "none (insecure TLSA, the program's own verification "
                     "applies)");
        else if (t->ans->n_rr)
            snprintf(buf, len,
                     "none (no usable TLSA record, the program's own "
                     "verification applies)");
        else
            snprintf(buf, len,
                     "none (no TLSA record, the program's own verification "
                     "applies)");
        break;
    }
    return buf;
}

/* Record I of T's answer in presentation form into BUF; *WHY gets NULL for a
 * usable record, else why it is not. */
static void record_text(const struct hastls_answer *a, size_t i, char *buf, size_t len,
                        const char **why, struct hastls_tlsa *out)
{
    const struct hastls_rr *rr = &a->rr[i];
    int e = hastls_tlsa_decode(rr->rdata, rr->rdlen, out);
    *why = e == HASTLS_TLSA_OK ? NULL : hastls_tlsa_strerror(e);
    if (e == HASTLS_TLSA_SHORT) {
        snprintf(buf, len, "(%u bytes)", rr->rdlen);
        memset(out, 0, sizeof *out);
        return;
    }
    if (hastls_tlsa_format(out, buf, len) < 0)
        snprintf(buf, len, "%u %u %u (data too long to show)", out->usage, out->selector,
                 out->mtype);
}

void hastls_cli_tlsa_print(FILE *out, const struct hastls_cli_tlsa *t,
                           enum hastls_dane_mode mode, const char *indent,
                           const char *label)
{
    char buf[1024];
    fprintf(out, "%stlsa: ", indent);
    hastls_cli_text(out, t->owner);
    if (!t->asked) {
        fprintf(out, " not asked\n");
    } else {
        const struct hastls_answer *a = t->ans;
        fprintf(out, " %s (%s)\n", hastls_sec_name(a->status),
                hastls_cli_rcode_name(a->rcode));
        for (size_t i = 0; i < a->n_rr && a->status != HASTLS_SEC_FAILED; i++) {
            const char *why;
            struct hastls_tlsa rec;
            if (a->rr[i].type != HASTLS_DNS_TYPE_TLSA)
                continue;
            record_text(a, i, buf, sizeof buf, &why, &rec);
            fprintf(out, "%s  %s ", indent, buf);
            if (a->status != HASTLS_SEC_SECURE)
                fprintf(out, "(not used: %s)\n", hastls_sec_name(a->status));
            else if (why)
                fprintf(out, "(unusable: %s)\n", why);
            else
                fprintf(out, "(usable)\n");
        }
        if (a->status == HASTLS_SEC_BOGUS || a->status == HASTLS_SEC_FAILED) {
            fprintf(out, "%s  reason: ", indent);
            hastls_cli_text(out, tlsa_why(t));
            fprintf(out, "\n");
        }
    }
    fprintf(out, "%s%s: %s\n", indent, label, verdict_text(t, mode, buf, sizeof buf));
}

void hastls_cli_tlsa_json(FILE *out, const struct hastls_cli_tlsa *t,
                          enum hastls_dane_mode mode)
{
    char buf[1024];
    fprintf(out, "\"owner\":");
    hastls_cli_json_string(out, t->owner);
    fprintf(out, ",\"asked\":%s", t->asked ? "true" : "false");
    if (!t->asked) {
        fprintf(out, ",\"status\":null,\"rcode\":null,\"reason\":null,\"records\":[],"
                     "\"state\":null");
    } else {
        const struct hastls_answer *a = t->ans;
        fprintf(out, ",\"status\":\"%s\",\"rcode\":\"%s\",\"reason\":",
                hastls_sec_name(a->status), hastls_cli_rcode_name(a->rcode));
        if (a->status == HASTLS_SEC_BOGUS || a->status == HASTLS_SEC_FAILED)
            hastls_cli_json_string(out, tlsa_why(t));
        else
            fprintf(out, "null");
        fprintf(out, ",\"records\":[");
        size_t shown = 0;
        for (size_t i = 0; i < a->n_rr && a->status != HASTLS_SEC_FAILED; i++) {
            const char *why;
            struct hastls_tlsa rec;
            if (a->rr[i].type != HASTLS_DNS_TYPE_TLSA)
                continue;
            record_text(a, i, buf, sizeof buf, &why, &rec);
            const char *sp = strrchr(buf, ' ');
            fprintf(out, "%s{\"usage\":%u,\"selector\":%u,\"mtype\":%u,\"data\":",
                    shown++ ? "," : "", rec.usage, rec.selector, rec.mtype);
            hastls_cli_json_string(out, buf[0] != '(' && sp ? sp + 1 : "");
            fprintf(out, ",\"usable\":%s,\"why\":",
                    !why && a->status == HASTLS_SEC_SECURE ? "true" : "false");
            if (why)
                hastls_cli_json_string(out, why);
            else
                fprintf(out, "null");
            fprintf(out, "}");
        }
        fprintf(out, "],\"state\":\"%s\"", hastls_dane_name(t->state));
    }
    fprintf(out,
            ",\"usable\":%zu,\"mode\":\"%s\",\"verdict\":\"%s\",\"text\":", t->n_kept,
            hastls_dane_mode_name(mode),
            hastls_cli_dane_verdict_name(hastls_cli_dane_verdict(t, mode)));
    hastls_cli_json_string(out, verdict_text(t, mode, buf, sizeof buf));
}

/* ---- --connect ---- */

static const char *const starttls_names[] = {"none", "xmpp", "xmpp", "smtp", "imap"};

const char *hastls_cli_starttls_name(enum hastls_cli_starttls s)
{
    return (unsigned)s < sizeof starttls_names / sizeof starttls_names[0]
               ? starttls_names[s]
               : "?";
}

int hastls_cli_starttls_parse(const char *s, enum hastls_cli_starttls *out)
{
    static const struct {
        const char *name;
        enum hastls_cli_starttls v;
    } words[] = {{"none", HASTLS_CLI_STARTTLS_NONE},
                 {"xmpp", HASTLS_CLI_STARTTLS_XMPP},
                 {"xmpp-server", HASTLS_CLI_STARTTLS_XMPP_SERVER},
                 {"smtp", HASTLS_CLI_STARTTLS_SMTP},
                 {"imap", HASTLS_CLI_STARTTLS_IMAP}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcmp(s, words[i].name)) {
            *out = words[i].v;
            return 0;
        }
    return -1;
}

enum hastls_cli_starttls hastls_cli_starttls_of_port(uint16_t port)
{
    switch (port) {
    case 5222:
        return HASTLS_CLI_STARTTLS_XMPP;
    case 5269:
        return HASTLS_CLI_STARTTLS_XMPP_SERVER;
    case 25:
    case 587:
        return HASTLS_CLI_STARTTLS_SMTP;
    case 143:
        return HASTLS_CLI_STARTTLS_IMAP;
    default:
        return HASTLS_CLI_STARTTLS_NONE;
    }
}

const char *hastls_cli_tls_outcome_name(enum hastls_cli_tls_outcome o)
{
    static const char *const names[] = {"pass", "fail", "refused", "error"};
    return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "?";
}

/* A TCP connection to ADDR:PORT within TLS_TIMEOUT_MS, with that timeout on
 * every later read and write.  Returns the descriptor, or -1 with ERR. */
static int tcp_connect(const char *addr, uint16_t port, char *err, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        sl = sizeof *s4;
    } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        sl = sizeof *s6;
    } else {
        snprintf(err, len, "not an address: %s", addr);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, len, "socket: %s", strerror(errno));
        return -1;
    }
    int e = 0;
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
        e = errno;
        if (e == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int n;
            do
                n = poll(&p, 1, TLS_TIMEOUT_MS);
            while (n < 0 && errno == EINTR);
            socklen_t el = sizeof e;
            if (n == 0)
                e = ETIMEDOUT;
            else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
                e = errno;
        }
    }
    if (e) {
        snprintf(err, len, "connect to %s port %u: %s", addr, port, strerror(e));
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    struct timeval tv = {TLS_TIMEOUT_MS / 1000, (TLS_TIMEOUT_MS % 1000) * 1000};
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
        snprintf(err, len, "socket options: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *s, char *err, size_t len)
{
    size_t n = strlen(s), off = 0;
    while (off < n) {
        ssize_t w = send(fd, s + off, n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, len, "sending: %s", w < 0 ? strerror(errno) : "closed");
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

/* Reads one line (without its CR LF) into BUF, one byte at a time so that
 * no byte of the TLS handshake that follows is consumed. */
static int read_line(int fd, char *buf, size_t cap, char *err, size_t len)
{
    size_t n = 0;
    for (;;) {
        char ch;
        ssize_t r = recv(fd, &ch, 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, len, "reading the dialogue: %s",
                     r == 0                                    ? "connection closed"
                     : errno == EAGAIN || errno == EWOULDBLOCK ? "timed out"
                                                               : strerror(errno));
            return -1;
        }
        if (ch == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = ch;
    }
    if (n && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return 0;
}

/* An SMTP reply (its lines "NNN-..." then "NNN ...") into its last line;
 * returns its code, 0 for a line without a code, -1 on error. */
static int smtp_reply(int fd, char *line, size_t cap, char *err, size_t len)
{
    for (;;) {
        if (read_line(fd, line, cap, err, len) < 0)
            return -1;
        bool coded = strlen(line) >= 3 && line[0] >= '0' && line[0] <= '9' &&
                     line[1] >= '0' && line[1] <= '9' && line[2] >= '0' && line[2] <= '9';
        if (coded && line[3] == '-')
            continue;
        return coded ? (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0') : 0;
    }
}

/* SMTP (RFC 3207): the greeting, EHLO, STARTTLS, a 2xx reply.  A reply
 * without a code (a bare service such as the lab's banner) is taken as
 * consent: the handshake and its verification decide. */
static int smtp_upgrade(int fd, char *err, size_t len)
{
    static const struct {
        const char *send, *what;
    } steps[] = {
        {NULL, "greeting"},
        {"EHLO hastls-check.invalid\r\n", "EHLO"},
        {"STARTTLS\r\n", "STARTTLS"},
    };
    char line[512];
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (steps[i].send && send_all(fd, steps[i].send, err, len) < 0)
            return -1;
        int code = smtp_reply(fd, line, sizeof line, err, len);
        if (code < 0)
            return -1;
        if (code && code / 100 != 2) {
            snprintf(err, len, "SMTP %s refused: %.200s", steps[i].what, line);
            return -1;
        }
    }
    return 0;
}

/* IMAP (RFC 3501, 6.2.1): the greeting, "a001 STARTTLS", "a001 OK". */
static int imap_upgrade(int fd, char *err, size_t len)
{
    char line[512];
    if (read_line(fd, line, sizeof line, err, len) < 0)
        return -1;
    if (strncasecmp(line, "* OK", 4) && strncasecmp(line, "* PREAUTH", 9)) {
        snprintf(err, len, "IMAP greeting not OK: %.200s", line);
        return -1;
    }
    if (send_all(fd, "a001 STARTTLS\r\n", err, len) < 0)
        return -1;
    for (;;) {
        if (read_line(fd, line, sizeof line, err, len) < 0)
            return -1;
        if (!strncasecmp(line, "a001 ", 5))
            break;
    }
    if (strncasecmp(line + 5, "OK", 2)) {
        snprintf(err, len, "IMAP STARTTLS refused: %.200s", line);
        return -1;
    }
    return 0;
}

/* Reads until the bytes read contain one of WANT[0..N); returns its index,
 * or -1 (closed, timed out, or DIALOGUE_MAX bytes without it). */
static int read_until(int fd, const char *const *want, size_t n, char *err, size_t len)
{
    static char buf[DIALOGUE_MAX + 1];
    size_t got = 0;
    while (got < DIALOGUE_MAX) {
        ssize_t r = recv(fd, buf + got, 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, len, "reading the XMPP stream: %s",
                     r == 0                                    ? "connection closed"
                     : errno == EAGAIN || errno == EWOULDBLOCK ? "timed out"
                                                               : strerror(errno));
            return -1;
        }
        buf[++got] = '\0';
        if (buf[got - 1] != '>')
            continue;
        for (size_t i = 0; i < n; i++)
            if (strstr(buf, want[i]))
                return (int)i;
    }
    snprintf(err, len, "XMPP: no answer in %d bytes", DIALOGUE_MAX);
    return -1;
}

/* XML-escapes S into OUT (CAP bytes). */
static void xml_escape(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        const char *rep = *s == '&'    ? "&amp;"
                          : *s == '<'  ? "&lt;"
                          : *s == '>'  ? "&gt;"
                          : *s == '\'' ? "&apos;"
                          : *s == '"'  ? "&quot;"
                                       : NULL;
        if (rep) {
            memcpy(out + n, rep, strlen(rep));
            n += strlen(rep);
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
}

/* XMPP (RFC 6120, 5.4): the stream header to TO, the features with
 * <starttls/>, our <starttls/>, the server's <proceed/>. */
static int xmpp_upgrade(int fd, const char *to, bool server, char *err, size_t len)
{
    char esc[HASTLS_NAME_MAX * 6 + 8], head[HASTLS_NAME_MAX * 6 + 256];
    xml_escape(to ? to : "", esc, sizeof esc);
    snprintf(head, sizeof head,
             "<?xml version='1.0'?><stream:stream xmlns='jabber:%s' "
             "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>",
             server ? "server" : "client", esc);
    static const char *const features[] = {"</stream:features>", "<stream:features/>",
                                           "</stream:stream>", "<stream:error"};
    static const char *const answer[] = {"<proceed", "<failure", "</stream:stream>",
                                         "<stream:error"};
    if (send_all(fd, head, err, len) < 0)
        return -1;
    int k = read_until(fd, features, 4, err, len);
    if (k < 0)
        return -1;
    if (k >= 2) {
        snprintf(err, len, "XMPP: the server closed the stream (stream error)");
        return -1;
    }
    if (send_all(fd, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", err, len) < 0)
        return -1;
    k = read_until(fd, answer, 4, err, len);
    if (k < 0)
        return -1;
    if (k > 0) {
        snprintf(err, len, "XMPP: the server refused STARTTLS");
        return -1;
    }
    return 0;
}

static int upgrade(int fd, const struct hastls_cli_tls_target *t, char *err, size_t len)
{
    switch (t->starttls) {
    case HASTLS_CLI_STARTTLS_XMPP:
    case HASTLS_CLI_STARTTLS_XMPP_SERVER:
        return xmpp_upgrade(fd, t->stream_to,
                            t->starttls == HASTLS_CLI_STARTTLS_XMPP_SERVER, err, len);
    case HASTLS_CLI_STARTTLS_SMTP:
        return smtp_upgrade(fd, err, len);
    case HASTLS_CLI_STARTTLS_IMAP:
        return imap_upgrade(fd, err, len);
    case HASTLS_CLI_STARTTLS_NONE:
    default:
        return 0;
    }
}

/* OpenSSL's queued error, or WHAT when there is none, into BUF. */
static void ssl_error(const char *what, char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    char es[256];
    if (e) {
        ERR_error_string_n(e, es, sizeof es);
        snprintf(buf, len, "%s: %s", what, es);
    } else {
        snprintf(buf, len, "%s", what);
    }
    ERR_clear_error();
}

/* The subject and DNS names of the peer's certificate into R. */
static void describe_cert(X509 *leaf, struct hastls_cli_tls_result *r)
{
    X509_NAME_oneline(X509_get_subject_name(leaf), r->subject, sizeof r->subject);
    GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    size_t n = 0;
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS)
            continue;
        const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
        int dl = ASN1_STRING_length(g->d.dNSName);
        if (n + (size_t)dl + 2 >= sizeof r->dns_names)
            break;
        if (n)
            r->dns_names[n++] = ' ';
        for (int k = 0; k < dl; k++)
            r->dns_names[n++] = d[k] ? (char)d[k] : '?';
        r->dns_names[n] = '\0';
    }
    GENERAL_NAMES_free(gens);
}

/* The presented chain against the CA bundle of CTX for T's names (PKIX,
 * RFC 5280 and 6125, no DANE). */
static void check_pkix(SSL_CTX *ctx, SSL *ssl, const struct hastls_cli_tls_target *t,
                       struct hastls_cli_tls_result *r)
{
    X509 *leaf = SSL_get0_peer_certificate(ssl);
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    X509_STORE_CTX *sc = X509_STORE_CTX_new();
    r->pkix_run = true;
    if (!sc || !leaf ||
        !X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(ctx), leaf, chain) ||
        !X509_STORE_CTX_set_default(sc, "ssl_server")) {
        ssl_error("PKIX verification could not start", r->pkix_text, sizeof r->pkix_text);
        X509_STORE_CTX_free(sc);
        return;
    }
    X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(sc);
    X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    for (size_t i = 0; i < t->n_names; i++)
        (i ? X509_VERIFY_PARAM_add1_host : X509_VERIFY_PARAM_set1_host)(p, t->names[i],
                                                                        0);
    r->pkix_ok = X509_verify_cert(sc) == 1;
    if (r->pkix_ok) {
        const char *peer = X509_VERIFY_PARAM_get0_peername(p);
        snprintf(r->pkix_name, sizeof r->pkix_name, "%s",
                 peer         ? peer
                 : t->n_names ? t->names[0]
                              : "");
    } else {
        snprintf(r->pkix_text, sizeof r->pkix_text, "%s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc)));
    }
    X509_STORE_CTX_free(sc);
    ERR_clear_error();
}

static const char *usage_label(uint8_t u)
{
    static const char *const names[] = {"PKIX-TA", "PKIX-EE", "DANE-TA", "DANE-EE"};
    return u < 4 ? names[u] : "?";
}

/* The DANE result of the finished handshake into R. */
static void check_dane(SSL *ssl, struct hastls_cli_tls_result *r)
{
    long v = SSL_get_verify_result(ssl);
    uint8_t u = 0, s = 0, m = 0;
    int depth = SSL_get0_dane_tlsa(ssl, &u, &s, &m, NULL, NULL);
    r->dane_used = true;
    r->dane_ok = v == X509_V_OK && depth >= 0;
    if (r->dane_ok) {
        r->dane_depth = depth;
        r->dane_usage = u;
        r->dane_selector = s;
        r->dane_mtype = m;
        snprintf(r->dane_text, sizeof r->dane_text, "%s(%u) match on the %s, depth %d",
                 usage_label(u), u, s ? "key" : "certificate", depth);
    } else if (v != X509_V_OK) {
        snprintf(r->dane_text, sizeof r->dane_text, "fails: %s",
                 X509_verify_cert_error_string(v));
    } else {
        snprintf(r->dane_text, sizeof r->dane_text,
                 "fails: no TLSA record matched (no DANE authority)");
    }
}

/* Sets up DANE on SSL with T's records; returns 0 or -1 with R->error. */
static int dane_setup(SSL_CTX *ctx, SSL *ssl, const struct hastls_cli_tls_target *t,
                      struct hastls_cli_tls_result *r)
{
    if (SSL_CTX_dane_enable(ctx) <= 0 ||
        SSL_dane_enable(ssl, t->n_names ? t->names[0] : t->sni) <= 0) {
        ssl_error("enabling DANE", r->error, sizeof r->error);
        return -1;
    }
    for (size_t i = 1; i < t->n_names; i++)
        SSL_add1_host(ssl, t->names[i]);
    for (size_t i = 0; i < t->tlsa->n_kept; i++) {
        const struct hastls_tlsa *rec = &t->tlsa->usable[i];
        if (SSL_dane_tlsa_add(ssl, rec->usage, rec->selector, rec->mtype, rec->data,
                              rec->dlen) < 0) {
            ssl_error("adding a TLSA record", r->error, sizeof r->error);
            return -1;
        }
    }
    ERR_clear_error();
    return 0;
}

/* One attempt on an open connection FD. */
static void handshake(int fd, const struct hastls_cli_tls_target *t,
                      struct hastls_cli_tls_result *r)
{
    bool dane = hastls_cli_dane_applies(t->tlsa, t->mode);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    r->outcome = HASTLS_CLI_TLS_ERROR;
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        ssl_error("TLS context", r->error, sizeof r->error);
        goto out;
    }
    if (!t->ca_file[0] || SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL) != 1) {
        char what[HASTLS_PATH_MAX + 32];
        snprintf(what, sizeof what, "loading the CA bundle '%s'", t->ca_file);
        ssl_error(what, r->error, sizeof r->error);
        goto out;
    }
    /* SNI carries a host name without its final dot, never an address
     * (RFC 6066, 3). */
    char sni[HASTLS_NAME_MAX];
    unsigned char ip[16];
    snprintf(sni, sizeof sni, "%s", t->sni);
    size_t sl = strlen(sni);
    if (sl && sni[sl - 1] == '.')
        sni[sl - 1] = '\0';
    if (inet_pton(AF_INET, sni, ip) == 1 || inet_pton(AF_INET6, sni, ip) == 1)
        sni[0] = '\0';
    if (!(ssl = SSL_new(ctx)) || !SSL_set_fd(ssl, fd) ||
        (sni[0] && !SSL_set_tlsext_host_name(ssl, sni))) {
        ssl_error("TLS setup", r->error, sizeof r->error);
        goto out;
    }
    SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL); /* judged below, never by the call */
    if (dane && dane_setup(ctx, ssl, t, r) < 0)
        goto out;
    if (SSL_connect(ssl) != 1) {
        ssl_error("TLS handshake failed", r->error, sizeof r->error);
        r->outcome = HASTLS_CLI_TLS_FAIL;
        goto out;
    }
    snprintf(r->version, sizeof r->version, "%s", SSL_get_version(ssl));
    X509 *leaf = SSL_get0_peer_certificate(ssl);
    if (!leaf) {
        snprintf(r->error, sizeof r->error, "no certificate presented");
        r->outcome = HASTLS_CLI_TLS_FAIL;
        goto out;
    }
    describe_cert(leaf, r);
    if (dane)
        check_dane(ssl, r);
    check_pkix(ctx, ssl, t, r);
    /* What the shim applies: matching records under enforce; otherwise the
     * program's own verification, which check takes to be PKIX. */
    if (dane && r->dane_ok)
        r->passed_by = "DANE";
    else if ((!dane || t->mode == HASTLS_DANE_REPORT) && r->pkix_ok)
        r->passed_by = "PKIX";
    r->outcome = r->passed_by ? HASTLS_CLI_TLS_PASS : HASTLS_CLI_TLS_FAIL;
    SSL_shutdown(ssl);
out:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
}

enum hastls_cli_tls_outcome hastls_cli_tls_check(const struct hastls_cli_tls_target *t,
                                                 struct hastls_cli_tls_result *r)
{
    memset(r, 0, sizeof *r);
    r->dane_depth = -1;
    if (t->tlsa && hastls_cli_dane_verdict(t->tlsa, t->mode) == HASTLS_CLI_DANE_REFUSED) {
        snprintf(r->error, sizeof r->error,
                 "not connected: the shim refuses the "
                 "handshake (dane = enforce)");
        return r->outcome = HASTLS_CLI_TLS_REFUSED;
    }
    if (!t->n_addrs) {
        snprintf(r->error, sizeof r->error, "no address to connect to");
        return r->outcome = HASTLS_CLI_TLS_ERROR;
    }
    r->outcome = HASTLS_CLI_TLS_ERROR;
    for (size_t i = 0; i < t->n_addrs; i++) {
        int fd = tcp_connect(t->addrs[i], t->port, r->error, sizeof r->error);
        if (fd < 0)
            continue;
        snprintf(r->address, sizeof r->address, "%s", t->addrs[i]);
        if (upgrade(fd, t, r->error, sizeof r->error) == 0) {
            r->error[0] = '\0';
            handshake(fd, t, r);
        }
        close(fd);
        break; /* one address answered: its certificate is the answer */
    }
    return r->outcome;
}

/* The space-separated NAMES, the first few of them only. */
static void print_names(FILE *out, const char *names)
{
    enum { SHOWN = 6 };
    size_t n = 0;
    const char *p = names;
    if (!*p) {
        fprintf(out, "(none)");
        return;
    }
    for (; *p; n++) {
        size_t len = strcspn(p, " ");
        if (n < SHOWN) {
            char one[256];
            snprintf(one, sizeof one, "%.*s", (int)(len < 255 ? len : 255), p);
            fprintf(out, "%s", n ? " " : "");
            hastls_cli_text(out, one);
        }
        p += len;
        p += *p == ' ';
    }
    if (n > SHOWN)
        fprintf(out, " (and %zu more)", n - SHOWN);
}

void hastls_cli_tls_print(FILE *out, const struct hastls_cli_tls_target *t,
                          const struct hastls_cli_tls_result *r, const char *indent)
{
    if (r->address[0]) {
        fprintf(out, "%sconnect: %s port %u, %s%s, SNI ", indent, r->address, t->port,
                t->starttls == HASTLS_CLI_STARTTLS_NONE ? "direct TLS" : "STARTTLS ",
                t->starttls == HASTLS_CLI_STARTTLS_NONE
                    ? ""
                    : hastls_cli_starttls_name(t->starttls));
        hastls_cli_text(out, t->sni);
        fprintf(out, "%s%s\n", r->version[0] ? ", " : "", r->version);
    }
    if (r->error[0]) {
        fprintf(out, "%sconnect: ", indent);
        hastls_cli_text(out, r->error);
        fprintf(out, "\n");
    }
    if (r->subject[0]) {
        fprintf(out, "%spresented: ", indent);
        hastls_cli_text(out, r->subject);
        fprintf(out, "; DNS names: ");
        print_names(out, r->dns_names);
        fprintf(out, "\n");
    }
    if (r->dane_used)
        fprintf(out, "%scertificate: %s\n", indent, r->dane_text);
    if (r->pkix_run) {
        fprintf(out, "%sPKIX: ", indent);
        if (r->pkix_ok) {
            fprintf(out, "ok for ");
            hastls_cli_text(out, r->pkix_name);
        } else {
            fprintf(out, "fails for ");
            for (size_t i = 0; i < t->n_names; i++) {
                fprintf(out, "%s", i ? ", " : "");
                hastls_cli_text(out, t->names[i]);
            }
            fprintf(out, ": %s", r->pkix_text);
        }
        fprintf(out, "%s\n",
                r->dane_used && t->mode == HASTLS_DANE_ENFORCE
                    ? " (not what decides: the TLSA records do)"
                    : "");
    }
    fprintf(out, "%scertificate verdict: %s", indent,
            hastls_cli_tls_outcome_name(r->outcome));
    if (r->passed_by)
        fprintf(out, " (%s)", r->passed_by);
    fprintf(out, "\n");
}

void hastls_cli_tls_json(FILE *out, const struct hastls_cli_tls_target *t,
                         const struct hastls_cli_tls_result *r)
{
    fprintf(out, "{\"address\":");
    if (r->address[0])
        hastls_cli_json_string(out, r->address);
    else
        fprintf(out, "null");
    fprintf(out, ",\"port\":%u,\"starttls\":\"%s\",\"sni\":", t->port,
            hastls_cli_starttls_name(t->starttls));
    hastls_cli_json_string(out, t->sni);
    fprintf(out, ",\"names\":[");
    for (size_t i = 0; i < t->n_names; i++) {
        fprintf(out, "%s", i ? "," : "");
        hastls_cli_json_string(out, t->names[i]);
    }
    fprintf(out, "],\"outcome\":\"%s\",\"passed_by\":",
            hastls_cli_tls_outcome_name(r->outcome));
    if (r->passed_by)
        fprintf(out, "\"%s\"", r->passed_by);
    else
        fprintf(out, "null");
    fprintf(out, ",\"error\":");
    if (r->error[0])
        hastls_cli_json_string(out, r->error);
    else
        fprintf(out, "null");
    fprintf(out, ",\"tls_version\":");
    if (r->version[0])
        hastls_cli_json_string(out, r->version);
    else
        fprintf(out, "null");
    fprintf(out, ",\"certificate\":");
    if (r->subject[0]) {
        fprintf(out, "{\"subject\":");
        hastls_cli_json_string(out, r->subject);
        fprintf(out, ",\"dns_names\":[");
        const char *p = r->dns_names;
        for (bool first = true; *p; first = false) {
            size_t n = strcspn(p, " ");
            char one[256];
            snprintf(one, sizeof one, "%.*s", (int)(n < 255 ? n : 255), p);
            fprintf(out, "%s", first ? "" : ",");
            hastls_cli_json_string(out, one);
            p += n;
            p += *p == ' ';
        }
        fprintf(out, "]}");
    } else {
        fprintf(out, "null");
    }
    fprintf(out, ",\"dane\":");
    if (r->dane_used) {
        fprintf(out, "{\"ok\":%s", r->dane_ok ? "true" : "false");
        if (r->dane_ok)
            fprintf(out, ",\"usage\":%u,\"selector\":%u,\"mtype\":%u,\"depth\":%d",
                    r->dane_usage, r->dane_selector, r->dane_mtype, r->dane_depth);
        fprintf(out, ",\"text\":");
        hastls_cli_json_string(out, r->dane_text);
        fprintf(out, "}");
    } else {
        fprintf(out, "null");
    }
    fprintf(out, ",\"pkix\":");
    if (r->pkix_run) {
        fprintf(out, "{\"ok\":%s,\"name\":", r->pkix_ok ? "true" : "false");
        if (r->pkix_ok)
            hastls_cli_json_string(out, r->pkix_name);
        else
            fprintf(out, "null");
        fprintf(out, ",\"error\":");
        if (r->pkix_ok)
            fprintf(out, "null");
        else
            hastls_cli_json_string(out, r->pkix_text);
        fprintf(out, "}");
    } else {
        fprintf(out, "null");
    }
    fprintf(out, "}");
}
