/* policy/config.c: built-in defaults and the INI loader (see config.h).
 *
 * Syntax rules, chosen to be strict because a typo in a security policy should
 * stop the program rather than silently weaken it:
 * - Section and key names are case-sensitive, lowercase: [resolver], [policy],
 *   [app:NAME] (NAME is a program's basename, or a path when it holds a '/').
 * - Comments: a line starting with ';' or '#', and ';' after white space
 *   (inih's inline comments).  '#' inside a value is data (upstream names).
 * - Single-valued keys may appear once per section; upstream and pin repeat
 *   (the first upstream line replaces the built-in list).  A section name may
 *   appear only once in a file.
 * - An [app:NAME] section takes the [policy] keys and privacy.  Every app
 *   section is validated, whether or not it applies to this program.
 * - Leading white space is ignored, which also turns off inih's multi-line
 *   continuation (an indented line would otherwise silently join the value of
 *   the key above it).  A line longer than inih's buffer is an error, never
 *   split in two.
 *
 * Line numbers: Debian's inih (r55) does not pass them to the handler, so the
 * loader feeds inih through ini_parse_stream with its own reader, which counts
 * lines; inih calls the handler for a line before it reads the next one.  The
 * reader also tracks the section itself (inih truncates section names at 50
 * bytes, too short for [app:/full/path]) and catches malformed lines, so inih's
 * own error return is only a fallback.
 *
 * Files (see config.h): the configuration file is opened without blocking
 * and must be a bounded regular file owned by root or the effective user and
 * writable only by its owner; the files it names are checked the same way
 * (but for their owner) once the text is valid, so that in the shim all of
 * it happens before main().  hastls_config_load_string checks text only, so
 * the fuzz target and the unit tests of the syntax touch no file.
 *
 * Built-in defaults (shared/DESIGN.md): upstreams 9.9.9.9@853#dns.quad9.net and
 * 1.1.1.1@853#cloudflare-dns.com, privacy strict, ca_bundle
 * /etc/ssl/certs/ca-certificates.crt, no pins, alpn dot, trust_anchor
 * /usr/share/dns/root.key, timeout_ms 3000, agent auto, agent_idle 600, client
 * cfb, record_type 65301, mode enforce, bogus block, dane enforce, log warn.
 */
#include "policy/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/base64.h"

#define TIMEOUT_MS_MIN 100
#define TIMEOUT_MS_MAX 60000
#define AGENT_IDLE_MAX 86400
#define PIN_MIN_DEFAULT 86400u
#define PIN_MAX_DEFAULT (30u * 86400u)
#define PIN_SECONDS_MAX (10u * 365u * 86400u) /* ten years */
/* A configuration file larger than this is surely a mistake (wrong file). */
#define CONF_MAX_BYTES (1024 * 1024)
/* Bounds for the files the configuration names, read by the resolver: a CA
 * bundle (Debian's is about 220 KB) and a root trust anchor (a few lines). */
#define CA_BUNDLE_MAX_BYTES (16 * 1024 * 1024)
#define TRUST_ANCHOR_MAX_BYTES (1024 * 1024)

static const char *const default_upstreams[] = {
    "9.9.9.9@853#dns.quad9.net",
    "1.1.1.1@853#cloudflare-dns.com",
};

/* ---- names ---------------------------------------------------------------- */

static const char *const privacy_names[] = {"strict", "encrypted", "opportunistic",
                                            "off"};
static const char *const client_names[] = {"cio", "cfb", "cso"};
static const char *const mode_names[] = {"enforce", "report"};
static const char *const bogus_names[] = {"block", "ignore"};
static const char *const yes_no_names[] = {"no", "yes"};
static const char *const https_rr_names[] = {"ignore", "report", "enforce"};
static const char *const dane_names[] = {"enforce", "report", "off"};
static const char *const log_names[] = {"error", "warn", "info", "debug"};
static const char *const agent_names[] = {"auto", "off"};
static const char *const yesno_names[] = {"no", "yes"};

#define NAMES(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : "?";
}

static int index_of(const char *const *names, size_t n, const char *s)
{
    if (!s)
        return -1;
    for (size_t k = 0; k < n; k++)
        if (!strcmp(names[k], s))
            return (int)k;
    return -1;
}

const char *hastls_privacy_name(enum hastls_privacy p)
{
    return name_of(privacy_names, NAMES(privacy_names), (int)p);
}
const char *hastls_client_name(enum hastls_client c)
{
    return name_of(client_names, NAMES(client_names), (int)c);
}
const char *hastls_dane_mode_name(enum hastls_dane_mode d)
{
    return name_of(dane_names, NAMES(dane_names), (int)d);
}

const char *hastls_mode_name(enum hastls_mode m)
{
    return name_of(mode_names, NAMES(mode_names), (int)m);
}
const char *hastls_log_level_name(enum hastls_log_level l)
{
    return name_of(log_names, NAMES(log_names), (int)l);
}
const char *hastls_agent_use_name(enum hastls_agent_use a)
{
    return name_of(agent_names, NAMES(agent_names), (int)a);
}
int hastls_privacy_from_name(const char *s)
{
    return index_of(privacy_names, NAMES(privacy_names), s);
}
int hastls_client_from_name(const char *s)
{
    return index_of(client_names, NAMES(client_names), s);
}
int hastls_log_level_from_name(const char *s)
{
    return index_of(log_names, NAMES(log_names), s);
}

/* ---- small helpers -------------------------------------------------------- */

/* snprintf that never fails the caller: output is truncated to BUFLEN. */
static void msg(char *buf, size_t buflen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void msg(char *buf, size_t buflen, const char *fmt, ...)
{
    va_list ap;
    if (!buf || buflen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, buflen, fmt, ap);
    va_end(ap);
}

/* Copies SRC into DST (SIZE bytes); returns -1 when it does not fit. */
static int copy_string(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* Parses a decimal number without sign, spaces or leading '+' into *OUT;
 * 0 on success, -1 when not a number or above MAX. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

/* Host name rules (RFC 1123): labels of 1..63 letters, digits and hyphens, not
 * starting or ending with a hyphen, at most 253 characters; one trailing dot
 * allowed.  Underscores are refused: a certificate cannot carry them in a
 * host name, so authentication would always fail. */
static int valid_hostname(const char *s)
{
    size_t len = strlen(s);
    if (len > 0 && s[len - 1] == '.')
        len--;
    if (len == 0 || len > 253)
        return 0;
    size_t label = 0;
    for (size_t k = 0; k < len; k++) {
        char c = s[k];
        if (c == '.') {
            if (label == 0 || s[k - 1] == '-')
                return 0;
            label = 0;
            continue;
        }
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '-';
        if (!ok || (label == 0 && c == '-') || ++label > 63)
            return 0;
    }
    return s[len - 1] != '-';
}

/* ---- defaults and upstreams ------------------------------------------------ */

/* Parses the port after '@' into *OUT: 1 to 5 decimal digits without a leading
 * zero, 1..65535, nothing after them.  Returns 0, or -1 with a message. */
static int parse_port(const char *text, const char *port, uint16_t *out, char *err,
                      size_t errlen)
{
    size_t digits = strspn(port, "0123456789");
    unsigned long v = 0;

    if (*port == '\0') {
        msg(err, errlen, "bad upstream '%s': no port after '@'", text);
        return -1;
    }
    if (digits > 0 && port[digits] != '\0') {
        msg(err, errlen, "bad upstream '%s': unexpected '%s' after port %.*s", text,
            port + digits, (int)digits, port);
        return -1;
    }
    if (digits > 1 && port[0] == '0') {
        msg(err, errlen, "bad upstream '%s': port '%s' has a leading zero", text, port);
        return -1;
    }
    if (digits == 0 || digits > 5 || parse_uint(port, 65535, &v) < 0 || v == 0) {
        msg(err, errlen, "bad upstream '%s': port '%s' is not a number in 1..65535", text,
            port);
        return -1;
    }
    *out = (uint16_t)v;
    return 0;
}

/* The message for an IPv6 address written without brackets: the bracketed
 * form, and when the last group could be a port that was meant to follow the
 * address (fd00::7:853), the form with that port too. */
static void unbracketed_ipv6(const char *text, const char *addr, const char *port,
                             const char *name, char *err, size_t errlen)
{
    char at_port[sizeof((struct hastls_upstream *)0)->text + 1] = "";
    char hash_name[sizeof at_port] = "";
    if (port)
        msg(at_port, sizeof at_port, "@%s", port);
    if (name)
        msg(hash_name, sizeof hash_name, "#%s", name);

    const char *last = strrchr(addr, ':');
    size_t plen = (size_t)(last - addr);
    char prefix[INET6_ADDRSTRLEN + 8];
    struct in6_addr a6;
    unsigned long v;
    if (!port && strlen(last + 1) <= 5 && last[1] != '0' &&
        parse_uint(last + 1, 65535, &v) == 0 && plen < sizeof prefix) {
        memcpy(prefix, addr, plen);
        prefix[plen] = '\0';
        if (inet_pton(AF_INET6, prefix, &a6) == 1) {
            msg(err, errlen,
                "bad upstream '%s': an IPv6 address must be written in brackets: "
                "[%s]%s, or [%s]@%s%s if %s is the port",
                text, addr, hash_name, prefix, last + 1, hash_name, last + 1);
            return;
        }
    }
    msg(err, errlen,
        "bad upstream '%s': an IPv6 address must be written in brackets: [%s]%s%s", text,
        addr, at_port, hash_name);
}

/* ADDR[@PORT][#AUTH-NAME]; an IPv6 ADDR only as [ADDR].  Every malformed form
 * gets its own message, quoting the text. */
int hastls_upstream_parse(const char *text, struct hastls_upstream *out, char *err,
                          size_t errlen)
{
    char buf[sizeof out->text];
    char *addr, *port = NULL, *name = NULL, *hash;

    memset(out, 0, sizeof *out);
    if (copy_string(buf, sizeof buf, text) < 0) {
        msg(err, errlen, "bad upstream '%.40s...': too long", text);
        return -1;
    }
    if (buf[0] == '\0') {
        msg(err, errlen, "bad upstream '': empty");
        return -1;
    }
    memcpy(out->text, buf, strlen(buf) + 1);

    hash = strchr(buf, '#');
    if (hash) {
        *hash = '\0';
        name = hash + 1;
        if (*name == '\0') {
            msg(err, errlen, "bad upstream '%s': no authentication name after '#'", text);
            return -1;
        }
    }
    addr = buf;
    if (addr[0] == '[') {
        char *close = strchr(addr, ']');
        if (!close) {
            msg(err, errlen, "bad upstream '%s': '[' without ']'", text);
            return -1;
        }
        *close = '\0';
        addr++;
        if (close[1] == '@') {
            port = close + 2;
        } else if (close[1] == ':') {
            msg(err, errlen,
                "bad upstream '%s': the port follows '@', not ':' (e.g. [%s]@%s)", text,
                addr, close + 2);
            return -1;
        } else if (close[1] != '\0') {
            msg(err, errlen,
                "bad upstream '%s': unexpected '%s' after ']' (expected @PORT or #NAME)",
                text, close + 1);
            return -1;
        }
        if (inet_pton(AF_INET6, addr, &out->addr.v6) != 1) {
            struct in_addr a4;
            if (inet_pton(AF_INET, addr, &a4) == 1)
                msg(err, errlen,
                    "bad upstream '%s': brackets are for IPv6 addresses; write an IPv4 "
                    "address without them",
                    text);
            else
                msg(err, errlen, "bad upstream '%s': '%s' is not an IPv6 address", text,
                    addr);
            return -1;
        }
        out->family = AF_INET6;
    } else {
        char *at = strchr(addr, '@');
        if (at) {
            *at = '\0';
            port = at + 1;
        }
        char *colon = strchr(addr, ':');
        if (inet_pton(AF_INET, addr, &out->addr.v4) == 1) {
            out->family = AF_INET;
        } else if (strchr(addr, ']')) {
            msg(err, errlen, "bad upstream '%s': ']' without '['", text);
            return -1;
        } else if (colon && inet_pton(AF_INET6, addr, &out->addr.v6) == 1) {
            unbracketed_ipv6(text, addr, port, name, err, errlen);
            return -1;
        } else if (colon && !strchr(colon + 1, ':') && !port) {
            struct in_addr a4;
            *colon = '\0';
            int v4 = inet_pton(AF_INET, addr, &a4) == 1;
            *colon = ':';
            if (v4) {
                msg(err, errlen,
                    "bad upstream '%s': the port follows '@', not ':' (e.g. %.*s@%s)",
                    text, (int)(colon - addr), addr, colon + 1);
                return -1;
            }
        }
        if (out->family == 0) {
            msg(err, errlen,
                "bad upstream '%s': '%s' is not an IPv4 or IPv6 address (the "
                "resolver cannot look up the name of its own upstream)",
                text, addr);
            return -1;
        }
    }
    out->port = HASTLS_DOT_PORT;
    if (port && parse_port(text, port, &out->port, err, errlen) < 0)
        return -1;
    if (name) {
        if (!valid_hostname(name)) {
            msg(err, errlen,
                "bad upstream '%s': authentication name '%s' is not a valid host name",
                text, name);
            return -1;
        }
        size_t n = strlen(name);
        if (name[n - 1] == '.') /* certificates carry names without the root dot */
            name[n - 1] = '\0';
        memcpy(out->auth_name, name, strlen(name) + 1);
    }
    return 0;
}

void hastls_config_defaults(struct hastls_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t k = 0; k < NAMES(default_upstreams); k++) {
        /* Constant input: cannot fail; checked by the unit tests. */
        if (hastls_upstream_parse(default_upstreams[k], &cfg->upstreams[cfg->n_upstreams],
                                  NULL, 0) == 0)
            cfg->n_upstreams++;
    }
    cfg->privacy = HASTLS_PRIVACY_STRICT;
    strcpy(cfg->ca_bundle, "/etc/ssl/certs/ca-certificates.crt");
    strcpy(cfg->alpn, "dot");
    strcpy(cfg->trust_anchor, "/usr/share/dns/root.key");
    cfg->timeout_ms = 3000;
    cfg->agent = HASTLS_AGENT_AUTO;
    cfg->agent_idle = 600;
    cfg->dns_redirect = 1;
    cfg->client = HASTLS_CLIENT_CFB;
    cfg->record_type = HASTLS_DEFAULT_RECORD_TYPE;
    cfg->mode = HASTLS_MODE_ENFORCE;
    cfg->bogus = HASTLS_BOGUS_BLOCK;
    cfg->dane = HASTLS_DANE_ENFORCE;
    cfg->log_level = HASTLS_LOG_WARN;
    cfg->host_pins = 1;
    cfg->pin_min = PIN_MIN_DEFAULT;
    cfg->pin_max = PIN_MAX_DEFAULT;
    cfg->https_rr = HASTLS_HTTPS_RR_IGNORE;
}

/* ---- the files: the configuration and the files it names ------------------ */

/* What a file that is not a regular one is, for messages. */
static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "a special file";
}

/* Opens PATH for reading and checks that it is a regular file of at most MAX
 * bytes.  O_NONBLOCK: opening a FIFO or a device must not wait (for a writer,
 * a modem line); O_NOCTTY: a terminal never becomes the process's controlling
 * terminal; with NOFOLLOW a symbolic link as the last component is refused.
 * Returns the descriptor with *ST filled, or -1 with the reason (without the
 * path) in WHY. */
static int open_regular(const char *path, int nofollow, off_t max, struct stat *st,
                        char *why, size_t whylen)
{
    int flags =
        O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (nofollow ? O_NOFOLLOW : 0);
    int fd = open(path, flags);
    if (fd < 0) {
        int e = errno;
        struct stat lst;
        if (e == ELOOP && nofollow && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
            msg(why, whylen,
                "cannot read: a symbolic link (the system configuration must be a "
                "regular file in place)");
        else
            msg(why, whylen, "cannot read: %s", strerror(e));
        errno = e; /* for the caller: ENOENT may mean "use the defaults" */
        return -1;
    }
    if (fstat(fd, st) < 0) {
        msg(why, whylen, "cannot read: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        msg(why, whylen, "cannot read: %s, not a regular file", file_kind(st->st_mode));
        close(fd);
        return -1;
    }
    if (st->st_size > max) {
        msg(why, whylen, "file larger than %lld bytes", (long long)max);
        close(fd);
        return -1;
    }
    return fd;
}

/* Nobody but the file's owner may change it. */
static int not_writable_by_others(const struct stat *st, char *why, size_t whylen)
{
    if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
        return 1;
    msg(why, whylen, "writable by %s (mode %04o): remove that with chmod go-w",
        st->st_mode & S_IWOTH ? "everyone" : "its group",
        (unsigned)(st->st_mode & 07777));
    return 0;
}

/* A configuration decides how every program of its user is protected, so
 * only that user or root may be able to change it: owned by root or by the
 * effective user, writable by neither group nor others. */
static int config_owner_ok(const struct stat *st, char *why, size_t whylen)
{
    uid_t me = geteuid();
    if (st->st_uid != 0 && st->st_uid != me) {
        msg(why, whylen,
            "owned by uid %u, neither root nor the user running the program (uid %u)",
            (unsigned)st->st_uid, (unsigned)me);
        return 0;
    }
    return not_writable_by_others(st, why, whylen);
}

/* Checks a file the configuration names (ca_bundle, trust_anchor) as its
 * user will read it: a regular, non-empty file of at most MAX bytes that this
 * process can open, writable only by its owner.  The owner is not checked:
 * these are system files, and in a user namespace (containers, sandboxes)
 * root's files show as owned by an unmapped uid.  Symbolic links are followed:
 * distributions make such paths links into their own trees (Fedora's
 * /etc/ssl/certs/ca-bundle.crt).  Returns 1, or 0 with WHY. */
static int named_file_ok(const char *path, off_t max, char *why, size_t whylen)
{
    struct stat st;
    int fd = open_regular(path, 0, max, &st, why, whylen);
    if (fd < 0)
        return 0;
    close(fd);
    if (st.st_size == 0) {
        msg(why, whylen, "empty file");
        return 0;
    }
    return not_writable_by_others(&st, why, whylen);
}

/* The CA bundle is read only when some program may use TLS. */
static int uses_tls(enum hastls_privacy privacy, int app_uses_tls)
{
    return privacy != HASTLS_PRIVACY_OFF || app_uses_tls;
}

/* ---- the loader -------------------------------------------------------------- */

/* Keys, and a bit each to catch a single-valued key given twice. */
enum key {
    K_UPSTREAM,
    K_PRIVACY,
    K_CA_BUNDLE,
    K_PIN,
    K_ALPN,
    K_TRUST_ANCHOR,
    K_TIMEOUT_MS,
    K_AGENT,
    K_AGENT_IDLE,
    K_DNS_REDIRECT,
    K_CLIENT,
    K_RECORD_TYPE,
    K_MODE,
    K_BOGUS,
    K_DANE,
    K_LOG,
    K_PINS,
    K_PIN_MIN,
    K_PIN_MAX,
    K_HTTPS_RR,
    K_COUNT,
};

enum section_kind { S_NONE, S_RESOLVER, S_POLICY, S_APP, S_BAD };

#define IN_RESOLVER (1u << S_RESOLVER)
#define IN_POLICY (1u << S_POLICY)
#define IN_APP (1u << S_APP)

static const struct {
    const char *name;
    unsigned sections; /* where the key is allowed */
    int repeatable;
} keys[K_COUNT] = {
    [K_UPSTREAM] = {"upstream", IN_RESOLVER, 1},
    [K_PRIVACY] = {"privacy", IN_RESOLVER | IN_APP, 0},
    [K_CA_BUNDLE] = {"ca_bundle", IN_RESOLVER, 0},
    [K_PIN] = {"pin", IN_RESOLVER, 1},
    [K_ALPN] = {"alpn", IN_RESOLVER, 0},
    [K_TRUST_ANCHOR] = {"trust_anchor", IN_RESOLVER, 0},
    [K_TIMEOUT_MS] = {"timeout_ms", IN_RESOLVER, 0},
    [K_AGENT] = {"agent", IN_RESOLVER | IN_APP, 0},
    [K_AGENT_IDLE] = {"agent_idle", IN_RESOLVER, 0},
    [K_DNS_REDIRECT] = {"dns_redirect", IN_RESOLVER | IN_APP, 0},
    [K_CLIENT] = {"client", IN_POLICY | IN_APP, 0},
    [K_RECORD_TYPE] = {"record_type", IN_POLICY | IN_APP, 0},
    [K_MODE] = {"mode", IN_POLICY | IN_APP, 0},
    [K_BOGUS] = {"bogus", IN_POLICY | IN_APP, 0},
    [K_DANE] = {"dane", IN_POLICY | IN_APP, 0},
    [K_LOG] = {"log", IN_POLICY | IN_APP, 0},
    [K_PINS] = {"pins", IN_POLICY | IN_APP, 0},
    [K_PIN_MIN] = {"pin_min", IN_POLICY | IN_APP, 0},
    [K_PIN_MAX] = {"pin_max", IN_POLICY | IN_APP, 0},
    [K_HTTPS_RR] = {"https_rr", IN_POLICY | IN_APP, 0},
};

/* What one [app:...] section sets (bit K_x in SET for each key given). */
struct app_settings {
    unsigned set;
    enum hastls_privacy privacy;
    enum hastls_agent_use agent;
    int dns_redirect;
    enum hastls_client client;
    uint16_t record_type;
    enum hastls_mode mode;
    enum hastls_bogus bogus;
    enum hastls_dane_mode dane;
    enum hastls_log_level log_level;
    int pins;
    unsigned pin_min, pin_max;
    enum hastls_https_rr https_rr;
};

/* Every section header seen, to refuse a repeated one. */
struct seen_section {
    char *name;
    unsigned line;
};

struct loader {
    struct hastls_config *cfg;
    const char *file; /* for messages */
    const char *app;  /* the program's path, or NULL */
    const char *app_base;

    /* input */
    const char *text;
    size_t len, pos;
    unsigned line;

    /* errors */
    char *err;
    size_t errlen, errused;
    int nerr;
    int oom;

    /* current section */
    enum section_kind kind;
    char section[HASTLS_VALUE_MAX];  /* as written between the brackets */
    unsigned key_line[K_COUNT];      /* line each key was given in this section */
    struct app_settings *app_target; /* where an [app:] section's keys go */

    struct seen_section *seen;
    size_t n_seen, cap_seen;

    int upstreams_given; /* the file's first upstream replaces the defaults */
    unsigned ca_bundle_line, trust_anchor_line; /* where given; 0: the default */
    int app_uses_tls; /* some [app:] section sets a privacy other than off */
    struct app_settings app_base_set, app_full_set, app_scratch;
    char app_base_name[HASTLS_VALUE_MAX], app_full_name[HASTLS_VALUE_MAX];
};

/* Appends the line "FILE:LINE: message" to the error buffer (lines are
 * separated by '\n'; a full buffer keeps what fits, NUL-terminated). */
static void add_error(struct loader *L, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_error(struct loader *L, unsigned line, const char *fmt, ...)
{
    char text[768];
    va_list ap;

    L->nerr++;
    if (!L->err || L->errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (L->errused >= L->errlen - 1)
        return;
    int w = snprintf(L->err + L->errused, L->errlen - L->errused, "%s%s:%u: %s",
                     L->errused ? "\n" : "", L->file, line, text);
    if (w < 0)
        return;
    L->errused += (size_t)w;
    if (L->errused > L->errlen - 1)
        L->errused = L->errlen - 1;
}

/* Finds an inline comment the way inih does (';' after white space) or one of
 * CHARS, whichever comes first; returns a pointer to it or to the NUL. */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
    int was_space = 0;
    for (; *s; s++) {
        if (chars && strchr(chars, *s))
            break;
        if (was_space && *s == ';')
            break;
        was_space = *s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f' ||
                    *s == '\n';
    }
    return s;
}

static int only_space_or_comment(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')
        s++;
    return *s == '\0' || *s == ';';
}

static void start_section(struct loader *L, const char *name, size_t n)
{
    memset(L->key_line, 0, sizeof L->key_line);
    L->app_target = NULL;
    if (n >= sizeof L->section) {
        add_error(L, L->line, "section name too long: [%.40s...]", name);
        L->kind = S_BAD;
        L->section[0] = '\0';
        return;
    }
    memcpy(L->section, name, n);
    L->section[n] = '\0';

    for (size_t k = 0; k < L->n_seen; k++) {
        if (!strcmp(L->seen[k].name, L->section)) {
            add_error(L, L->line,
                      "section [%s] given twice (first on line %u); merge them",
                      L->section, L->seen[k].line);
            L->kind = S_BAD; /* its keys are not checked again */
            return;
        }
    }
    if (L->n_seen == L->cap_seen) {
        size_t ncap = L->cap_seen ? 2 * L->cap_seen : 8;
        struct seen_section *ns = realloc(L->seen, ncap * sizeof *ns);
        if (!ns) {
            L->oom = 1;
        } else {
            L->seen = ns;
            L->cap_seen = ncap;
        }
    }
    if (L->n_seen < L->cap_seen) {
        char *copy = strdup(L->section);
        if (copy) {
            L->seen[L->n_seen].name = copy;
            L->seen[L->n_seen].line = L->line;
            L->n_seen++;
        } else {
            L->oom = 1;
        }
    }

    if (!strcmp(L->section, "resolver")) {
        L->kind = S_RESOLVER;
    } else if (!strcmp(L->section, "policy")) {
        L->kind = S_POLICY;
    } else if (!strncmp(L->section, "app:", 4)) {
        const char *prog = L->section + 4;
        L->kind = S_APP;
        if (*prog == '\0') {
            add_error(L, L->line, "section [app:] names no program");
            L->kind = S_BAD;
            return;
        }
        /* A NAME with a '/' matches the program's path, else its basename. */
        L->app_target = &L->app_scratch;
        if (L->app && strchr(prog, '/')) {
            if (!strcmp(prog, L->app)) {
                L->app_target = &L->app_full_set;
                strcpy(L->app_full_name, L->section);
            }
        } else if (L->app && !strcmp(prog, L->app_base)) {
            L->app_target = &L->app_base_set;
            strcpy(L->app_base_name, L->section);
        }
        memset(L->app_target, 0, sizeof *L->app_target);
    } else {
        add_error(L, L->line,
                  "unknown section [%s] (expected [resolver], [policy] or [app:NAME])",
                  L->section);
        L->kind = S_BAD;
    }
}

/* Looks at one raw line (without its newline) before inih does: section
 * headers, malformed lines.  Returns 1 when inih may see the line, 0 when it
 * must see an empty line instead (the line has been dealt with). */
static int inspect_line(struct loader *L, const char *s)
{
    if (*s == '\0' || *s == ';' || *s == '#')
        return 1;
    if (*s == '[') {
        const char *end = find_chars_or_comment(s + 1, "]");
        if (*end != ']') {
            add_error(L, L->line, "section header without ']': '%s'", s);
            L->kind = S_BAD;
            return 0;
        }
        if (!only_space_or_comment(end + 1)) {
            add_error(L, L->line, "text after the section header: '%s'", s);
            L->kind = S_BAD;
            return 0;
        }
        start_section(L, s + 1, (size_t)(end - (s + 1)));
        return 0; /* the reader tracks sections; inih need not */
    }
    const char *eq = find_chars_or_comment(s, "=:");
    if (*eq != '=' && *eq != ':') {
        add_error(L, L->line, "expected 'key = value' or '[section]', got '%s'", s);
        return 0;
    }
    return 1;
}

/* inih's reader: copies the next line into STR (NUM bytes), counting lines. */
static char *reader(char *str, int num, void *stream)
{
    struct loader *L = stream;
    if (L->pos >= L->len || num < 2)
        return NULL;

    const char *start = L->text + L->pos;
    const char *nl = memchr(start, '\n', L->len - L->pos);
    size_t n = nl ? (size_t)(nl - start) : L->len - L->pos;
    L->pos += n + (nl ? 1 : 0);
    L->line++;

    if (memchr(start, '\0', n)) {
        add_error(L, L->line, "line contains a NUL byte");
        str[0] = '\0';
        return str;
    }
    /* A UTF-8 byte order mark is allowed at the start of the file. */
    if (L->line == 1 && n >= 3 && (unsigned char)start[0] == 0xEF &&
        (unsigned char)start[1] == 0xBB && (unsigned char)start[2] == 0xBF) {
        start += 3;
        n -= 3;
    }
    while (n && (*start == ' ' || *start == '\t' || *start == '\r' || *start == '\v' ||
                 *start == '\f')) {
        start++;
        n--;
    }
    while (n && (start[n - 1] == '\r' || start[n - 1] == ' ' || start[n - 1] == '\t'))
        n--;
    if (n > (size_t)num - 1) {
        add_error(L, L->line, "line too long (more than %d characters)", num - 1);
        str[0] = '\0';
        return str;
    }
    memcpy(str, start, n);
    str[n] = '\0';
    if (!inspect_line(L, str))
        str[0] = '\0';
    return str;
}

static int key_index(const char *name)
{
    for (int k = 0; k < K_COUNT; k++)
        if (!strcmp(keys[k].name, name))
            return k;
    return -1;
}

static const char *section_label(const struct loader *L)
{
    return L->section;
}

/* Parses an enum value; on failure reports it with the list of choices. */
static int parse_choice(struct loader *L, const char *key, const char *value,
                        const char *const *names, size_t n)
{
    int v = index_of(names, n, value);
    if (v < 0) {
        char list[128] = "";
        size_t used = 0;
        for (size_t k = 0; k < n; k++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s",
                             k == 0 ? "" : (k + 1 == n ? " or " : ", "), names[k]);
            if (w < 0 || (size_t)w >= sizeof list - used)
                break;
            used += (size_t)w;
        }
        add_error(L, L->line, "bad value '%s' for %s (expected %s)", value, key, list);
    }
    return v;
}

/* record_type: a type code the HASTLS record can safely borrow.  Refused:
 * 0 (reserved), 1..255 (the classic data types such as A, NS, MX, AAAA, and
 * 128..255, the query and meta types such as OPT's neighbours, AXFR, ANY),
 * 256..262 (URI, CAA, AVC, DOA, AMTRELAY, RESINFO, WALLET), 32768 (TA),
 * 32769 (DLV) and 65535 (reserved).  Everything else, in particular the
 * private-use range 65280..65534 (RFC 6895), is accepted. */
static int record_type_ok(unsigned long v)
{
    return v > 262 && v != 32768 && v != 32769 && v != 65535;
}

/* The ALPN list VALUE ("dot, dns": ids in preference order, separated by
 * commas, spaces around them ignored) into OUT (CAP bytes) as "dot,dns".  An
 * id is printable characters without spaces or commas (ALPN ids are opaque
 * bytes on the wire; keep them printable here), none twice.  Returns 0, or -1
 * with what was wrong in DETAIL. */
int hastls_alpn_parse(const char *value, char *out, size_t cap, char *detail, size_t dlen)
{
    size_t o = 0;
    const char *p = value;
    out[0] = '\0';
    for (unsigned k = 1;; k++) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *id = p;
        while (*p > ' ' && *p < 0x7f && *p != ',')
            p++;
        size_t n = (size_t)(p - id);
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != ',') {
            snprintf(detail, dlen, "id %u has a space or a non-printable character", k);
            return -1;
        }
        if (n == 0) {
            snprintf(detail, dlen, "id %u is empty", k);
            return -1;
        }
        for (const char *q = out; q < out + o;) {
            size_t m = strcspn(q, ",");
            if (m == n && !memcmp(q, id, n)) {
                snprintf(detail, dlen, "'%.*s' is listed twice", (int)n, id);
                return -1;
            }
            q += m + (q[m] == ',');
        }
        if (o + (o ? 1 : 0) + n >= cap) {
            snprintf(detail, dlen, "longer than %zu characters", cap - 1);
            return -1;
        }
        if (o)
            out[o++] = ',';
        memcpy(out + o, id, n);
        o += n;
        out[o] = '\0';
        if (!*p)
            return 0;
        p++; /* the comma */
    }
}

static int absolute_path_ok(struct loader *L, const char *key, const char *value)
{
    if (value[0] != '/') {
        add_error(L, L->line, "bad value '%s' for %s (expected an absolute path)", value,
                  key);
        return 0;
    }
    if (strlen(value) >= HASTLS_VALUE_MAX) {
        add_error(L, L->line, "bad value for %s: path too long", key);
        return 0;
    }
    return 1;
}

/* Parses a [policy]/[app:] value into S (bit K set in S->set on success). */
static void policy_value(struct loader *L, int k, const char *key, const char *value,
                         struct app_settings *s)
{
    int v;
    unsigned long u;

    switch (k) {
    case K_PRIVACY:
        if ((v = parse_choice(L, key, value, privacy_names, NAMES(privacy_names))) >= 0) {
            s->privacy = (enum hastls_privacy)v;
            if (s->privacy != HASTLS_PRIVACY_OFF)
                L->app_uses_tls = 1;
        }
        break;
    case K_AGENT:
        if ((v = parse_choice(L, key, value, agent_names, NAMES(agent_names))) >= 0)
            s->agent = (enum hastls_agent_use)v;
        break;
    case K_DNS_REDIRECT:
        if ((v = parse_choice(L, key, value, yesno_names, NAMES(yesno_names))) >= 0)
            s->dns_redirect = v;
        break;
    case K_CLIENT:
        if ((v = parse_choice(L, key, value, client_names, NAMES(client_names))) >= 0)
            s->client = (enum hastls_client)v;
        break;
    case K_MODE:
        if ((v = parse_choice(L, key, value, mode_names, NAMES(mode_names))) >= 0)
            s->mode = (enum hastls_mode)v;
        break;
    case K_BOGUS:
        if ((v = parse_choice(L, key, value, bogus_names, NAMES(bogus_names))) >= 0)
            s->bogus = (enum hastls_bogus)v;
        break;
    case K_DANE:
        if ((v = parse_choice(L, key, value, dane_names, NAMES(dane_names))) >= 0)
            s->dane = (enum hastls_dane_mode)v;
        break;
    case K_LOG:
        if ((v = parse_choice(L, key, value, log_names, NAMES(log_names))) >= 0)
            s->log_level = (enum hastls_log_level)v;
        break;
    case K_PINS:
        if ((v = parse_choice(L, key, value, yes_no_names, NAMES(yes_no_names))) >= 0)
            s->pins = v;
        break;
    case K_HTTPS_RR:
        if ((v = parse_choice(L, key, value, https_rr_names, NAMES(https_rr_names))) >= 0)
            s->https_rr = (enum hastls_https_rr)v;
        break;
    case K_PIN_MIN:
    case K_PIN_MAX:
        if (parse_uint(value, PIN_SECONDS_MAX, &u) < 0 || u < 1) {
            add_error(L, L->line, "bad value '%s' for %s (expected seconds in 1..%u)",
                      value, key, PIN_SECONDS_MAX);
            v = -1;
        } else {
            *(k == K_PIN_MIN ? &s->pin_min : &s->pin_max) = (unsigned)u;
            v = 0;
        }
        break;
    case K_RECORD_TYPE:
        if (parse_uint(value, 65535, &u) < 0 || !record_type_ok(u)) {
            add_error(L, L->line,
                      "bad value '%s' for record_type (expected a type code not "
                      "assigned to another record, e.g. 65280..65534; default %u)",
                      value, HASTLS_DEFAULT_RECORD_TYPE);
            v = -1;
        } else {
            s->record_type = (uint16_t)u;
            v = 0;
        }
        break;
    default:
        v = -1;
        break;
    }
    if (v >= 0)
        s->set |= 1u << k;
}

static void apply_settings(struct hastls_config *cfg, const struct app_settings *s)
{
    if (s->set & (1u << K_PRIVACY))
        cfg->privacy = s->privacy;
    if (s->set & (1u << K_AGENT))
        cfg->agent = s->agent;
    if (s->set & (1u << K_DNS_REDIRECT))
        cfg->dns_redirect = s->dns_redirect;
    if (s->set & (1u << K_CLIENT))
        cfg->client = s->client;
    if (s->set & (1u << K_RECORD_TYPE))
        cfg->record_type = s->record_type;
    if (s->set & (1u << K_MODE))
        cfg->mode = s->mode;
    if (s->set & (1u << K_BOGUS))
        cfg->bogus = s->bogus;
    if (s->set & (1u << K_DANE))
        cfg->dane = s->dane;
    if (s->set & (1u << K_LOG))
        cfg->log_level = s->log_level;
    if (s->set & (1u << K_PINS))
        cfg->host_pins = s->pins;
    if (s->set & (1u << K_PIN_MIN))
        cfg->pin_min = s->pin_min;
    if (s->set & (1u << K_PIN_MAX))
        cfg->pin_max = s->pin_max;
    if (s->set & (1u << K_HTTPS_RR))
        cfg->https_rr = s->https_rr;
}

static void resolver_value(struct loader *L, int k, const char *key, const char *value)
{
    struct hastls_config *cfg = L->cfg;
    char why[512];
    unsigned long u;

    switch (k) {
    case K_UPSTREAM:
        if (!L->upstreams_given) {
            L->upstreams_given = 1;
            cfg->n_upstreams = 0;
        }
        if (cfg->n_upstreams >= HASTLS_MAX_UPSTREAMS) {
            add_error(L, L->line, "too many upstreams (at most %d): '%s'",
                      HASTLS_MAX_UPSTREAMS, value);
            return;
        }
        if (hastls_upstream_parse(value, &cfg->upstreams[cfg->n_upstreams], why,
                                  sizeof why) < 0) {
            add_error(L, L->line, "%s", why);
            return;
        }
        cfg->n_upstreams++;
        break;
    case K_PIN: {
        uint8_t raw[33];
        size_t n = 0;
        if (cfg->n_pins >= HASTLS_MAX_PINS) {
            add_error(L, L->line, "too many pins (at most %d): '%s'", HASTLS_MAX_PINS,
                      value);
            return;
        }
        if (hastls_base64_decode(value, raw, sizeof raw, &n) < 0 || n != 32) {
            add_error(L, L->line,
                      "bad value '%s' for pin (expected the base64 of a 32-byte "
                      "SHA-256 digest)",
                      value);
            return;
        }
        memcpy(cfg->pins[cfg->n_pins++], raw, 32);
        break;
    }
    case K_PRIVACY: {
        int v = parse_choice(L, key, value, privacy_names, NAMES(privacy_names));
        if (v >= 0)
            cfg->privacy = (enum hastls_privacy)v;
        break;
    }
    case K_CA_BUNDLE:
        if (absolute_path_ok(L, key, value)) {
            strcpy(cfg->ca_bundle, value);
            L->ca_bundle_line = L->line;
        }
        break;
    case K_TRUST_ANCHOR:
        if (absolute_path_ok(L, key, value)) {
            strcpy(cfg->trust_anchor, value);
            L->trust_anchor_line = L->line;
        }
        break;
    case K_ALPN: {
        char detail[96], list[sizeof cfg->alpn];
        if (hastls_alpn_parse(value, list, sizeof list, detail, sizeof detail) < 0) {
            add_error(L, L->line,
                      "bad value '%s' for alpn (%s; expected ALPN ids in preference "
                      "order separated by commas, e.g. dot, dns)",
                      value, detail);
            return;
        }
        strcpy(cfg->alpn, list);
        break;
    }
    case K_TIMEOUT_MS:
        if (parse_uint(value, TIMEOUT_MS_MAX, &u) < 0 || u < TIMEOUT_MS_MIN) {
            add_error(L, L->line,
                      "bad value '%s' for timeout_ms (expected milliseconds in %d..%d)",
                      value, TIMEOUT_MS_MIN, TIMEOUT_MS_MAX);
            return;
        }
        cfg->timeout_ms = (unsigned)u;
        break;
    case K_AGENT: {
        int v = parse_choice(L, key, value, agent_names, NAMES(agent_names));
        if (v >= 0)
            cfg->agent = (enum hastls_agent_use)v;
        break;
    }
    case K_DNS_REDIRECT: {
        int v = parse_choice(L, key, value, yesno_names, NAMES(yesno_names));
        if (v >= 0)
            cfg->dns_redirect = v;
        break;
    }
    case K_AGENT_IDLE:
        if (parse_uint(value, AGENT_IDLE_MAX, &u) < 0 || u < 1) {
            add_error(L, L->line,
                      "bad value '%s' for agent_idle (expected seconds in 1..%d)", value,
                      AGENT_IDLE_MAX);
            return;
        }
        cfg->agent_idle = (unsigned)u;
        break;
    }
}

/* inih's handler.  Always returns 1: errors are collected with their line. */
static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct loader *L = user;
    (void)section; /* inih's copy may be truncated; the reader's is not */

    if (L->kind == S_BAD)
        return 1; /* the header was reported; its keys would only add noise */
    if (L->kind == S_NONE) {
        add_error(L, L->line, "key '%s' outside of any section", name);
        return 1;
    }
    int k = key_index(name);
    if (k < 0) {
        add_error(L, L->line, "unknown key '%s' in [%s]", name, section_label(L));
        return 1;
    }
    if (!(keys[k].sections & (1u << L->kind))) {
        if (L->kind == S_APP)
            add_error(L, L->line,
                      "key '%s' is not allowed in [%s] (only client, record_type, mode, "
                      "bogus, dane, log, pins, pin_min, pin_max, https_rr, privacy, "
                      "agent and dns_redirect are)",
                      name, section_label(L));
        else
            add_error(L, L->line, "key '%s' belongs in [%s], not [%s]", name,
                      keys[k].sections & IN_RESOLVER ? "resolver" : "policy",
                      section_label(L));
        return 1;
    }
    if (!keys[k].repeatable) {
        if (L->key_line[k]) {
            add_error(L, L->line, "'%s' given twice in [%s] (first on line %u)", name,
                      section_label(L), L->key_line[k]);
            return 1;
        }
        L->key_line[k] = L->line;
    }

    if (L->kind == S_RESOLVER) {
        resolver_value(L, k, name, value);
    } else if (L->kind == S_POLICY) {
        struct app_settings s = {0};
        policy_value(L, k, name, value, &s);
        apply_settings(L->cfg, &s);
    } else {
        policy_value(L, k, name, value, L->app_target);
    }
    return 1;
}

static void loader_free(struct loader *L)
{
    for (size_t k = 0; k < L->n_seen; k++)
        free(L->seen[k].name);
    free(L->seen);
}

/* Checks the files a loaded configuration names, adding an error for each
 * unusable one, on the line of its key (0 for a default the file keeps), in
 * line order.  PRIVACY: the [resolver] privacy, before any [app:] section. */
static void check_named_files(struct loader *L, enum hastls_privacy privacy)
{
    const struct hastls_config *cfg = L->cfg;
    const struct {
        const char *key, *path;
        unsigned line;
        off_t max;
        int needed;
    } files[2] = {
        {"ca_bundle", cfg->ca_bundle, L->ca_bundle_line, CA_BUNDLE_MAX_BYTES,
         uses_tls(privacy, L->app_uses_tls)},
        {"trust_anchor", cfg->trust_anchor, L->trust_anchor_line, TRUST_ANCHOR_MAX_BYTES,
         1},
    };
    int first = files[1].line < files[0].line;
    for (int n = 0; n < 2; n++) {
        int k = n ? !first : first;
        char why[512];
        if (files[k].needed &&
            !named_file_ok(files[k].path, files[k].max, why, sizeof why))
            add_error(L, files[k].line, "%s '%s'%s: %s", files[k].key, files[k].path,
                      files[k].line ? "" : " (the default)", why);
    }
}

/* The loader proper; CHECK_FILES: also check the files the text names. */
static int load_text(const char *text, size_t len, const char *name, const char *app,
                     struct hastls_config *cfg, char *err, size_t errlen, int check_files)
{
    struct loader *L = calloc(1, sizeof *L);

    if (err && errlen)
        err[0] = '\0';
    if (!name)
        name = "(string)";
    if (!L) {
        msg(err, errlen, "%s:0: out of memory", name);
        return -1;
    }
    hastls_config_defaults(cfg);
    if (copy_string(cfg->source, sizeof cfg->source, name) < 0)
        cfg->source[0] = '\0';
    L->cfg = cfg;
    L->file = name;
    L->app = app && *app ? app : NULL;
    if (L->app) {
        const char *slash = strrchr(L->app, '/');
        L->app_base = slash ? slash + 1 : L->app;
    }
    L->text = text ? text : "";
    L->len = text ? len : 0;
    L->err = err;
    L->errlen = errlen;
    L->kind = S_NONE;

    int r = ini_parse_stream(reader, L, handler, L);
    if (r > 0 && L->nerr == 0)
        add_error(L, (unsigned)r, "syntax error");
    else if (r < 0 && L->nerr == 0)
        add_error(L, 0, "inih failed (%d)", r);
    if (L->oom)
        add_error(L, 0, "out of memory");
    /* Once the text is valid: its values are then the ones in effect. */
    if (L->nerr == 0 && check_files)
        check_named_files(L, cfg->privacy);

    int status = L->nerr ? -1 : 0;
    if (status == 0) {
        /* Basename section first, so a full-path section wins wherever it is. */
        if (L->app_base_name[0])
            apply_settings(cfg, &L->app_base_set);
        if (L->app_full_name[0])
            apply_settings(cfg, &L->app_full_set);
        /* Both names when both applied, in the order they were applied.
         * (Copied by hand, not snprintf: the shim runs this before main() in
         * every process, and printf's code pages cost page faults there.) */
        _Static_assert(sizeof cfg->app_section >=
                           sizeof L->app_base_name + sizeof L->app_full_name + 2,
                       "app_section holds both names");
        size_t nb = strlen(L->app_base_name), nf = strlen(L->app_full_name);
        char *p = cfg->app_section;
        memcpy(p, L->app_base_name, nb);
        p += nb;
        if (nb && nf) {
            memcpy(p, ", ", 2);
            p += 2;
        }
        memcpy(p, L->app_full_name, nf + 1);
    }
    loader_free(L);
    free(L);
    return status;
}

int hastls_config_load_string(const char *text, size_t len, const char *name,
                              const char *app, struct hastls_config *cfg, char *err,
                              size_t errlen)
{
    return load_text(text, len, name, app, cfg, err, errlen, 0);
}

/* Loads the file PATH (see hastls_config_load).  NOFOLLOW: refuse a symbolic
 * link.  ABSENT_OK: return 1, with nothing loaded, when PATH does not exist. */
static int load_file(const char *path, int nofollow, int absent_ok, const char *app,
                     struct hastls_config *cfg, char *err, size_t errlen)
{
    char why[512];
    struct stat st;
    char *buf = NULL;
    size_t len = 0, cap;

    if (err && errlen)
        err[0] = '\0';
    /* open/read rather than stdio: the shim loads this in every process
     * before main(), and a FILE with its buffer costs page faults there. */
    int fd = open_regular(path, nofollow, CONF_MAX_BYTES, &st, why, sizeof why);
    if (fd < 0) {
        if (absent_ok && (errno == ENOENT || errno == ENOTDIR))
            return 1;
        msg(err, errlen, "%s:0: %s", path, why);
        return -1;
    }
    if (!config_owner_ok(&st, why, sizeof why)) {
        close(fd);
        msg(err, errlen, "%s:0: %s", path, why);
        return -1;
    }
    cap = (size_t)st.st_size + 1; /* +1: a read of 0 ends the loop without regrowing */
    for (;;) {
        if (len == cap || !buf) {
            /* The file may have grown since fstat; the bound holds anyway. */
            size_t ncap = buf ? 2 * cap : cap;
            char *nb;
            if (ncap > CONF_MAX_BYTES + 1)
                ncap = CONF_MAX_BYTES + 1;
            if (buf && ncap == cap) {
                close(fd);
                free(buf);
                msg(err, errlen, "%s:0: file larger than %d bytes", path, CONF_MAX_BYTES);
                return -1;
            }
            nb = realloc(buf, ncap);
            if (!nb) {
                close(fd);
                free(buf);
                msg(err, errlen, "%s:0: out of memory", path);
                return -1;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            close(fd);
            free(buf);
            msg(err, errlen, "%s:0: cannot read: %s", path, strerror(e ? e : EIO));
            return -1;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    int r = load_text(buf, len, path, app, cfg, err, errlen, 1);
    free(buf);
    return r;
}

int hastls_config_load(const char *path, const char *app, struct hastls_config *cfg,
                       char *err, size_t errlen)
{
    /* The system file is never a symbolic link, whoever names it. */
    return load_file(path, !strcmp(path, HASTLS_DEFAULT_CONF), 0, app, cfg, err, errlen);
}

/* The built-in defaults, when no file is loaded, with their files checked. */
static int load_builtin(struct hastls_config *cfg, char *err, size_t errlen)
{
    char why[512];
    size_t used = 0;
    int ok = 1;

    hastls_config_defaults(cfg);
    if (err && errlen)
        err[0] = '\0';
    if (uses_tls(cfg->privacy, 0) &&
        !named_file_ok(cfg->ca_bundle, CA_BUNDLE_MAX_BYTES, why, sizeof why)) {
        msg(err, errlen, "ca_bundle '%s' (built-in default): %s", cfg->ca_bundle, why);
        used = err && errlen ? strlen(err) : 0;
        ok = 0;
    }
    if (!named_file_ok(cfg->trust_anchor, TRUST_ANCHOR_MAX_BYTES, why, sizeof why)) {
        if (err && used < errlen)
            msg(err + used, errlen - used, "%strust_anchor '%s' (built-in default): %s",
                used ? "\n" : "", cfg->trust_anchor, why);
        ok = 0;
    }
    return ok ? 0 : -1;
}

int hastls_mode_from_name(const char *s)
{
    return index_of(mode_names, NAMES(mode_names), s);
}

int hastls_config_load_default(const char *app, struct hastls_config *cfg, char *err,
                               size_t errlen)
{
    const char *conf = secure_getenv("HASTLS_CONF");
    const char *app_env = secure_getenv("HASTLS_APP");
    int r;

    if (err && errlen)
        err[0] = '\0';
    /* hastls run --app NAME: pick the section as if the program were NAME. */
    if (app_env && *app_env)
        app = app_env;
    if (conf && *conf) {
        /* The user's own choice: a symbolic link is fine (dotfile managers),
         * except for the system file under its own name. */
        r = hastls_config_load(conf, app, cfg, err, errlen);
    } else {
        /* Absent: the built-in defaults.  Present but unusable is an error,
         * not a reason to run unconfigured. */
        r = load_file(HASTLS_DEFAULT_CONF, 1, 1, app, cfg, err, errlen);
        if (r == 1)
            r = load_builtin(cfg, err, errlen);
    }
    if (r < 0)
        return r;

    /* The environment overrides the file, after the [app:] sections.  A bad
     * value is a configuration error like a bad value in the file. */
    const char *log = secure_getenv("HASTLS_LOG");
    if (log && *log) {
        int v = hastls_log_level_from_name(log);
        if (v < 0) {
            msg(err, errlen,
                "HASTLS_LOG: bad value '%s' (expected error, warn, info or debug)", log);
            return -1;
        }
        cfg->log_level = (enum hastls_log_level)v;
    }
    const char *mode = secure_getenv("HASTLS_MODE");
    if (mode && *mode) {
        int v = hastls_mode_from_name(mode);
        if (v < 0) {
            msg(err, errlen, "HASTLS_MODE: bad value '%s' (expected enforce or report)",
                mode);
            return -1;
        }
        cfg->mode = (enum hastls_mode)v;
    }
    return 0;
}
