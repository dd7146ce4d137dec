/* policy/config.h: the configuration model and its loader (inih).
 *
 * The file format, every key and its default are specified in shared/DESIGN.md
 * ("The contract") and documented for users in docs/hastls.conf.5.  This module
 * does no I/O except reading the configuration file and checking the files it
 * names (ca_bundle, trust_anchor); it never prints.  Errors come back as text,
 * one line each, "FILE:LINE: message", quoting the offending key or value.
 *
 * The files are checked where the configuration is loaded, so that in the
 * shim a bad one stops the program before main() and never makes it wait:
 * the configuration must be a regular file of at most 1 MiB, owned by root or
 * the effective user and writable by neither group nor others; the system file
 * HASTLS_DEFAULT_CONF must not be a symbolic link.  The CA bundle (when some
 * section uses TLS) and the trust anchor must be regular, non-empty, bounded,
 * readable, and writable by neither group nor others.  Every open is
 * non-blocking, so a FIFO or a device is refused at once.
 */
#ifndef HASTLS_POLICY_CONFIG_H
#define HASTLS_POLICY_CONFIG_H

#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define HASTLS_DEFAULT_CONF "/etc/hastls/hastls.conf"
#define HASTLS_MAX_UPSTREAMS 8
#define HASTLS_MAX_PINS 16
#define HASTLS_NAME_MAX 256 /* a domain name in presentation form, with NUL */
#define HASTLS_PATH_MAX 4096
/* Room for one value or section name from the file: inih reads lines of at
 * most 199 bytes (longer lines are an error), so no value can be longer.
 * Sized to the line, not to PATH_MAX: every process zeroes this structure
 * before main(), and each 4 KiB costs it a page fault. */
#define HASTLS_VALUE_MAX 256
#define HASTLS_DOT_PORT 853
#define HASTLS_DEFAULT_RECORD_TYPE 65301

enum hastls_privacy {
    HASTLS_PRIVACY_STRICT,        /* authenticated TLS or no DNS at all */
    HASTLS_PRIVACY_ENCRYPTED,     /* authenticated, else unauthenticated TLS */
    HASTLS_PRIVACY_OPPORTUNISTIC, /* as encrypted, then cleartext port 53 */
    HASTLS_PRIVACY_OFF,           /* cleartext only */
};

enum hastls_client {
    HASTLS_CLIENT_CIO, /* insecure only */
    HASTLS_CLIENT_CFB, /* secure, falling back to insecure */
    HASTLS_CLIENT_CSO, /* secure only */
};

enum hastls_mode { HASTLS_MODE_ENFORCE, HASTLS_MODE_REPORT };
enum hastls_agent_use { HASTLS_AGENT_AUTO, HASTLS_AGENT_OFF }; /* [resolver] agent */
enum hastls_bogus { HASTLS_BOGUS_BLOCK, HASTLS_BOGUS_IGNORE };
/* [policy] dane: what a DNSSEC-secure TLSA record of a TLS peer does. */
enum hastls_dane_mode { HASTLS_DANE_ENFORCE, HASTLS_DANE_REPORT, HASTLS_DANE_OFF };
enum hastls_log_level {
    HASTLS_LOG_ERROR,
    HASTLS_LOG_WARN,
    HASTLS_LOG_INFO,
    HASTLS_LOG_DEBUG,
};

/* One DNS-over-TLS upstream: ADDR[@PORT][#AUTH-NAME], an IPv6 ADDR always in
 * brackets: [ADDR][@PORT][#AUTH-NAME]. */
struct hastls_upstream {
    int family; /* AF_INET or AF_INET6 */
    union {
        struct in_addr v4;
        struct in6_addr v6;
    } addr;
    uint16_t port;                   /* HASTLS_DOT_PORT when not given */
    char auth_name[HASTLS_NAME_MAX]; /* "" when not given: cannot authenticate */
    char text[HASTLS_NAME_MAX + 64]; /* as written in the file, for messages */
};

/* What a DNSSEC-secure HTTPS record (RFC 9460) means for a name without a
 * HASTLS record: nothing, a note, or the pair (80 443). */
enum hastls_https_rr {
    HASTLS_HTTPS_RR_IGNORE,
    HASTLS_HTTPS_RR_REPORT,
    HASTLS_HTTPS_RR_ENFORCE,
};

struct hastls_config {
    char source[HASTLS_PATH_MAX]; /* file loaded; "" for built-in defaults */
    char app_section[2 * HASTLS_VALUE_MAX + 2]; /* [app:...] applied; "" for none */

    /* [resolver] */
    struct hastls_upstream upstreams[HASTLS_MAX_UPSTREAMS];
    size_t n_upstreams;
    enum hastls_privacy privacy;
    char ca_bundle[HASTLS_VALUE_MAX];
    uint8_t pins[HASTLS_MAX_PINS][32]; /* SHA-256 of SubjectPublicKeyInfo */
    size_t n_pins;
    char alpn[64]; /* ALPN ids in preference order, comma-separated: "dot,dns" */
    char trust_anchor[HASTLS_VALUE_MAX];
    unsigned timeout_ms;
    enum hastls_agent_use agent; /* also per [app:NAME] */
    unsigned agent_idle;         /* seconds the agent stays without a client */
    int dns_redirect; /* answer the program's own port-53 queries; also per [app:NAME] */

    /* [policy], possibly overridden by the matching [app:NAME] section */
    enum hastls_client client;
    uint16_t record_type;
    enum hastls_mode mode;
    enum hastls_bogus bogus;
    enum hastls_dane_mode dane;
    enum hastls_log_level log_level;
    int host_pins;           /* pins = yes|no: remember secure records (yes) */
    unsigned pin_min;        /* seconds a pin lives at least (1 day) */
    unsigned pin_max;        /* and at most (30 days) */
    enum hastls_https_rr https_rr; /* HTTPS RR as a "serves TLS" signal */
};

/* Fills CFG with the built-in defaults of shared/DESIGN.md. */
void hastls_config_defaults(struct hastls_config *cfg);

/* Loads PATH over the defaults, with the file checks above.  APP is the
 * program's path (argv[0] or /proc/self/exe) or NULL: an [app:NAME] section
 * applies when NAME equals the basename of APP, an [app:/full/path] section
 * when it equals APP; a full-path section wins over a basename section
 * wherever they are in the file.  Returns 0 on success.  On error returns -1,
 * leaves CFG unspecified and writes one or more lines "PATH:LINE: message"
 * into ERR (NUL-terminated, truncated to ERRLEN); LINE is 0 for a file that
 * cannot be used at all, and for a named file that the file leaves at its
 * default.  A named file is reported on the line of its key. */
int hastls_config_load(const char *path, const char *app, struct hastls_config *cfg,
                       char *err, size_t errlen);

/* The same for text in memory (NAME is used in messages as the file name);
 * checks the text only, never the files it names. */
int hastls_config_load_string(const char *text, size_t len, const char *name,
                              const char *app, struct hastls_config *cfg, char *err,
                              size_t errlen);

/* The process's configuration: the file named by HASTLS_CONF, else
 * HASTLS_DEFAULT_CONF if it exists, else the built-in defaults (whose files
 * are checked too: "ca_bundle '...' (built-in default): ..."); then
 * HASTLS_LOG overrides the log level.  The environment is ignored when the
 * process is setuid/setgid (secure_getenv).  Returns 0, or -1 with ERR set.
 * Also: a non-empty HASTLS_APP replaces APP (which [app:] sections apply), and
 * HASTLS_MODE (enforce|report) overrides the mode after the app sections.  An
 * invalid HASTLS_LOG or HASTLS_MODE is an error ("HASTLS_LOG: bad value ..."). */
int hastls_config_load_default(const char *app, struct hastls_config *cfg, char *err,
                               size_t errlen);

/* Parses one upstream specification.  Returns 0, or -1 with a message (without
 * file and line) in ERR. */
int hastls_upstream_parse(const char *text, struct hastls_upstream *out, char *err,
                          size_t errlen);

/* Parses an ALPN list ("dot, dns": ids in preference order, separated by
 * commas, spaces around them ignored) into OUT (CAP bytes) as "dot,dns".
 * Returns 0, or -1 with what was wrong in DETAIL. */
int hastls_alpn_parse(const char *value, char *out, size_t cap, char *detail,
                      size_t dlen);

/* Names for messages and the CLI ("strict", "cfb", "enforce", ...), and the
 * reverse; *_from_name returns -1 for an unknown name. */
const char *hastls_privacy_name(enum hastls_privacy p);
const char *hastls_client_name(enum hastls_client c);
const char *hastls_mode_name(enum hastls_mode m);
const char *hastls_dane_mode_name(enum hastls_dane_mode d);
const char *hastls_log_level_name(enum hastls_log_level l);
const char *hastls_agent_use_name(enum hastls_agent_use a);
int hastls_privacy_from_name(const char *s);
int hastls_client_from_name(const char *s);
int hastls_log_level_from_name(const char *s);
int hastls_mode_from_name(const char *s);

#endif
