/* shim/cli/cli.h: the verbs of the hastls command-line tool.
 *
 * Each verb lives in its own file shim/cli/cmd_VERB.c and has the signature
 * below: ARGV[0] is the verb itself, the return value is the exit status.
 * Every verb answers --help on standard output with status 0, and reports a
 * usage error on standard error with status 2.
 */
#ifndef HASTLS_CLI_H
#define HASTLS_CLI_H

typedef int (*hastls_cli_verb_fn)(int argc, char **argv);

int hastls_cmd_agent(int argc, char **argv);
int hastls_cmd_check(int argc, char **argv);
int hastls_cmd_config(int argc, char **argv);
int hastls_cmd_decide(int argc, char **argv);
int hastls_cmd_lookup(int argc, char **argv);
int hastls_cmd_pins(int argc, char **argv);
int hastls_cmd_run(int argc, char **argv);

/* ---- What `hastls check` shares between its forms (cmd_check.c for NAME
 * PORT, cmd_srvcheck.c for --srv): the TLSA answer of one TLS endpoint and
 * the verdict the shim draws from it (cmd_dane.c), and the handshake of
 * --connect. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy/config.h"
#include "policy/tlsa.h"
#include "shim/resolver/resolver.h"

#define HASTLS_CLI_TLSA_MAX 16
#define HASTLS_CLI_OWNER_MAX (HASTLS_NAME_MAX + 16)

/* One TLSA RRset as check reports it.  ANS is owned (freed by
 * hastls_cli_tlsa_free); USABLE points into it. */
struct hastls_cli_tlsa {
    char owner[HASTLS_CLI_OWNER_MAX]; /* "_443._tcp.NAME" */
    bool asked;                       /* false: never queried (and why) */
    const char *not_asked;            /* why not, when !asked */
    struct hastls_answer *ans;
    enum hastls_dane state;
    size_t n_usable; /* usable records present (may exceed the kept ones) */
    struct hastls_tlsa usable[HASTLS_CLI_TLSA_MAX];
    size_t n_kept;
    bool has_ee; /* a usable DANE-EE(3) record: any name is acceptable */
};

/* Takes A (the answer to the TLSA query of T->owner) into T and classifies
 * it as the shim does (policy/tlsa.h). */
void hastls_cli_tlsa_take(struct hastls_cli_tlsa *t, struct hastls_answer *a);
void hastls_cli_tlsa_free(struct hastls_cli_tlsa *t);

/* The shim's verdict for a TLS handshake governed by T under MODE. */
enum hastls_cli_dane_verdict {
    HASTLS_CLI_DANE_ENFORCED, /* the certificate must match a record */
    HASTLS_CLI_DANE_REPORTED, /* a mismatch or failure is logged, not refused */
    HASTLS_CLI_DANE_NONE,     /* no DANE: the program's own verification */
    HASTLS_CLI_DANE_REFUSED,  /* the handshake is refused before it starts */
    HASTLS_CLI_DANE_OFF,      /* dane = off */
    HASTLS_CLI_DANE_NOT_ASKED /* the records were not queried */
};
enum hastls_cli_dane_verdict hastls_cli_dane_verdict(const struct hastls_cli_tlsa *t,
                                                     enum hastls_dane_mode mode);
/* "enforced", "report", "none", "refused", "off", "not-asked". */
const char *hastls_cli_dane_verdict_name(enum hastls_cli_dane_verdict v);
/* Whether the records take part in the handshake's verification (DANE on). */
bool hastls_cli_dane_applies(const struct hastls_cli_tlsa *t, enum hastls_dane_mode mode);

/* The lines "tlsa: OWNER STATUS", one per record, the reason, and "DANE:
 * VERDICT (explanation)", each started with INDENT; LABEL replaces "DANE"
 * (e.g. "DANE 443"). */
void hastls_cli_tlsa_print(FILE *out, const struct hastls_cli_tlsa *t,
                           enum hastls_dane_mode mode, const char *indent,
                           const char *label);
/* The members of one JSON object describing T (without the braces). */
void hastls_cli_tlsa_json(FILE *out, const struct hastls_cli_tlsa *t,
                          enum hastls_dane_mode mode);

/* The in-band upgrade before the handshake of --connect. */
enum hastls_cli_starttls {
    HASTLS_CLI_STARTTLS_NONE,
    HASTLS_CLI_STARTTLS_XMPP,
    HASTLS_CLI_STARTTLS_XMPP_SERVER, /* xmpp with the jabber:server namespace */
    HASTLS_CLI_STARTTLS_SMTP,
    HASTLS_CLI_STARTTLS_IMAP,
};
/* "none", "xmpp", "smtp", "imap"; parsing returns -1 for another word. */
const char *hastls_cli_starttls_name(enum hastls_cli_starttls s);
int hastls_cli_starttls_parse(const char *s, enum hastls_cli_starttls *out);
/* The upgrade a port asks for: 5222 and 5269 xmpp, 25 and 587 smtp, 143 imap. */
enum hastls_cli_starttls hastls_cli_starttls_of_port(uint16_t port);

#define HASTLS_CLI_TLS_NAMES 4

/* One TLS endpoint to connect to and check. */
struct hastls_cli_tls_target {
    const char *const *addrs; /* address literals, tried in order */
    size_t n_addrs;
    uint16_t port;
    enum hastls_cli_starttls starttls;
    const char *stream_to; /* xmpp: the to= domain */
    const char *sni;
    const char *names[HASTLS_CLI_TLS_NAMES]; /* names the certificate may carry */
    size_t n_names;
    const struct hastls_cli_tlsa *tlsa; /* NULL: no records */
    enum hastls_dane_mode mode;
    const char *ca_file;
};

enum hastls_cli_tls_outcome {
    HASTLS_CLI_TLS_PASS,
    HASTLS_CLI_TLS_FAIL,    /* a certificate was presented and does not pass */
    HASTLS_CLI_TLS_REFUSED, /* the shim would not start the handshake */
    HASTLS_CLI_TLS_ERROR,   /* no handshake: connection, upgrade or TLS error */
};

struct hastls_cli_tls_result {
    enum hastls_cli_tls_outcome outcome;
    char address[64]; /* the address the handshake ran with, "" when none */
    char error[320];
    char version[16];
    char subject[256];
    char dns_names[512]; /* the certificate's DNS names, space-separated */
    bool dane_used, dane_ok;
    int dane_depth;
    uint8_t dane_usage, dane_selector, dane_mtype;
    char dane_text[320];
    bool pkix_run, pkix_ok;
    char pkix_name[HASTLS_NAME_MAX]; /* the name that matched */
    char pkix_text[320];
    const char *passed_by; /* "DANE", "PKIX" or NULL */
};

/* Connects, upgrades, shakes hands and checks.  Never blocks for more than a
 * few seconds per address.  Returns the outcome, also in R->outcome. */
enum hastls_cli_tls_outcome hastls_cli_tls_check(const struct hastls_cli_tls_target *t,
                                                 struct hastls_cli_tls_result *r);
void hastls_cli_tls_print(FILE *out, const struct hastls_cli_tls_target *t,
                          const struct hastls_cli_tls_result *r, const char *indent);
/* One JSON object describing R. */
void hastls_cli_tls_json(FILE *out, const struct hastls_cli_tls_target *t,
                         const struct hastls_cli_tls_result *r);
/* "pass", "fail", "refused", "error". */
const char *hastls_cli_tls_outcome_name(enum hastls_cli_tls_outcome o);

/* `hastls check --srv`: ARGV as given to hastls_cmd_check. */
int hastls_cli_check_srv(int argc, char **argv);

/* What `hastls check` was given, in either form (NAME PORT..., --srv). */
struct hastls_cli_check_opts {
    const char *conf, *app, *ca, *srv;
    bool json, connect, all, starttls_given;
    enum hastls_cli_starttls starttls;
};

/* Parses check's options into O (zeroed first); optind is left at the first
 * operand.  SRV_FORM: the --srv form, whose --srv and --all the other form
 * does not take; USAGE prints the form's help.  Returns -1 to go on, else
 * the exit status: 0 after --help, 2 after a usage error said on stderr. */
int hastls_cli_check_options(int argc, char **argv, bool srv_form, void (*usage)(FILE *),
                             struct hastls_cli_check_opts *o);

/* Loads the configuration check applies into CFG: --config FILE, else the
 * default one; an explicit --app wins over HASTLS_APP.  Returns 0, or 3
 * after printing the errors. */
int hastls_cli_check_config(const char *conf, const char *app, struct hastls_config *cfg);

#endif
