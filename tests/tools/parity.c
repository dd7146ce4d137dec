/* tests/tools/parity.c: the resolver entry points of libc, called as a
 * program calls them, with every field of every result printed, so that a run
 * under the shim can be compared line by line with a run on plain glibc
 * (tests/integration/glibc_parity.sh).
 *
 * Reads one call a line from standard input and prints one line for it:
 *
 *   gai NODE SERVICE FAMILY SOCKTYPE FLAGS   getaddrinfo
 *   ghbn NAME                                gethostbyname
 *   ghbn2 NAME FAMILY                        gethostbyname2
 *   ghbn_r NAME BUFLEN                       gethostbyname_r
 *   ghbn2_r NAME FAMILY BUFLEN               gethostbyname2_r
 *   ghba ADDR                                gethostbyaddr
 *   ghba_r ADDR BUFLEN                       gethostbyaddr_r
 *   gni ADDR PORT FLAGS                      getnameinfo
 *
 * "-" stands for a NULL NODE or SERVICE and "''" for an empty string; \xHH
 * in an argument for the byte HH (a space, say); FAMILY is unspec, inet or inet6;
 * SOCKTYPE 0, stream, dgram or raw; FLAGS 0 or names joined by '|'
 * (AI_CANONNAME|AI_V4MAPPED, NI_NOFQDN|NI_NAMEREQD).  Before each call the
 * global h_errno is set to 4242, so the line shows whether the call set it.
 * "sort:" before a call prints its addresses sorted (for DNS answers, whose
 * order the resolver rotates).  A line starting with '#' or empty is copied
 * through.
 *
 * Built by the test: cc -o parity parity.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define H_SENTINEL 4242

struct named {
    const char *name;
    int value;
};

static const struct named eai_names[] = {
    {"0", 0},
    {"EAI_BADFLAGS", EAI_BADFLAGS},
    {"EAI_NONAME", EAI_NONAME},
    {"EAI_AGAIN", EAI_AGAIN},
    {"EAI_FAIL", EAI_FAIL},
    {"EAI_FAMILY", EAI_FAMILY},
    {"EAI_SOCKTYPE", EAI_SOCKTYPE},
    {"EAI_SERVICE", EAI_SERVICE},
    {"EAI_MEMORY", EAI_MEMORY},
    {"EAI_SYSTEM", EAI_SYSTEM},
    {"EAI_OVERFLOW", EAI_OVERFLOW},
    {"EAI_NODATA", EAI_NODATA},
    {"EAI_ADDRFAMILY", EAI_ADDRFAMILY},
    {"EAI_INPROGRESS", EAI_INPROGRESS},
    {"EAI_CANCELED", EAI_CANCELED},
    {"EAI_NOTCANCELED", EAI_NOTCANCELED},
    {"EAI_ALLDONE", EAI_ALLDONE},
    {"EAI_INTR", EAI_INTR},
    {"EAI_IDN_ENCODE", EAI_IDN_ENCODE},
    {NULL, 0},
};

static const struct named flag_names[] = {
    {"AI_PASSIVE", AI_PASSIVE},
    {"AI_CANONNAME", AI_CANONNAME},
    {"AI_NUMERICHOST", AI_NUMERICHOST},
    {"AI_V4MAPPED", AI_V4MAPPED},
    {"AI_ALL", AI_ALL},
    {"AI_ADDRCONFIG", AI_ADDRCONFIG},
    {"AI_NUMERICSERV", AI_NUMERICSERV},
    {"AI_IDN", AI_IDN},
    {"AI_CANONIDN", AI_CANONIDN},
    {"NI_NUMERICHOST", NI_NUMERICHOST},
    {"NI_NUMERICSERV", NI_NUMERICSERV},
    {"NI_NOFQDN", NI_NOFQDN},
    {"NI_NAMEREQD", NI_NAMEREQD},
    {"NI_DGRAM", NI_DGRAM},
    {"NI_IDN", NI_IDN},
    {NULL, 0},
};

static const struct named herr_names[] = {
    {"NETDB_INTERNAL", NETDB_INTERNAL}, {"NETDB_SUCCESS", NETDB_SUCCESS},
    {"HOST_NOT_FOUND", HOST_NOT_FOUND}, {"TRY_AGAIN", TRY_AGAIN},
    {"NO_RECOVERY", NO_RECOVERY},       {"NO_DATA", NO_DATA},
    {"untouched", H_SENTINEL},          {NULL, 0},
};

static const struct named errno_names[] = {
    {"0", 0},           {"ERANGE", ERANGE}, {"EAGAIN", EAGAIN},
    {"EINVAL", EINVAL}, {"ENOENT", ENOENT}, {"EAFNOSUPPORT", EAFNOSUPPORT},
    {NULL, 0},
};

static const char *name_of(const struct named *t, int v, char *buf, size_t len)
{
    for (; t->name; t++)
        if (t->value == v)
            return t->name;
    snprintf(buf, len, "%d", v);
    return buf;
}

static int family_of(const char *s)
{
    if (!strcmp(s, "inet"))
        return AF_INET;
    if (!strcmp(s, "inet6"))
        return AF_INET6;
    if (!strcmp(s, "unspec"))
        return AF_UNSPEC;
    return atoi(s);
}

static const char *family_name(int af)
{
    return af == AF_INET ? "inet" : af == AF_INET6 ? "inet6" : "other";
}

static int socktype_of(const char *s)
{
    if (!strcmp(s, "stream"))
        return SOCK_STREAM;
    if (!strcmp(s, "dgram"))
        return SOCK_DGRAM;
    if (!strcmp(s, "raw"))
        return SOCK_RAW;
    return atoi(s);
}

static int flags_of(char *s)
{
    int f = 0;
    for (char *tok = strtok(s, "|"); tok; tok = strtok(NULL, "|")) {
        const struct named *t = flag_names;
        while (t->name && strcmp(t->name, tok))
            t++;
        f |= t->name ? t->value : atoi(tok);
    }
    return f;
}

/* S quoted, with every byte outside printable ASCII (and the space, the
 * quote and the backslash) as \xHH, so one result stays one line.  The
 * result lives until the next call. */
static const char *text(const char *s)
{
    static char buf[4 * 1024 + 8];
    if (!s)
        return "(null)";
    size_t n = 0;
    buf[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && n < sizeof buf - 6;
         p++) {
        if (*p > ' ' && *p < 0x7f && *p != '\\' && *p != '"')
            buf[n++] = (char)*p;
        else
            n += (size_t)snprintf(buf + n, 5, "\\x%02x", *p);
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

/* "sort:" before a call: its addresses are printed sorted, for answers
 * whose order the resolver rotates. */
static int sort_results;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void put_sorted(char (*entries)[160], size_t n)
{
    if (sort_results)
        qsort(entries, n, sizeof entries[0], cmp_entry);
    for (size_t i = 0; i < n; i++)
        printf(" %s", entries[i]);
}

static void put_herr(const char *label, int herr)
{
    char buf[16];
    printf(" %s=%s", label, name_of(herr_names, herr, buf, sizeof buf));
}

static void put_hostent(const struct hostent *he)
{
    printf(" name=%s aliases=[", text(he->h_name));
    for (char **a = he->h_aliases; a && *a; a++)
        printf("%s%s", a != he->h_aliases ? " " : "", text(*a));
    printf("] %s/%d addrs=", family_name(he->h_addrtype), he->h_length);
    char entries[64][160];
    size_t n = 0;
    for (char **a = he->h_addr_list; a && *a && n < 64; a++) {
        char addr[INET6_ADDRSTRLEN] = "?";
        inet_ntop(he->h_addrtype, *a, addr, sizeof addr);
        snprintf(entries[n++], sizeof entries[0], "%s", addr);
    }
    putchar('[');
    if (sort_results)
        qsort(entries, n, sizeof entries[0], cmp_entry);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? " " : "", entries[i]);
    putchar(']');
}

static void do_gai(char **arg, int n)
{
    if (n < 5) {
        puts("usage: gai NODE SERVICE FAMILY SOCKTYPE FLAGS");
        return;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family_of(arg[2]);
    hints.ai_socktype = socktype_of(arg[3]);
    hints.ai_flags = flags_of(arg[4]);
    const char *node = strcmp(arg[0], "-") ? arg[0] : NULL;
    const char *svc = strcmp(arg[1], "-") ? arg[1] : NULL;
    int rc = getaddrinfo(node, svc, &hints, &res);
    char buf[16];
    printf(" rc=%s", name_of(eai_names, rc, buf, sizeof buf));
    if (rc)
        return;
    char entries[64][160];
    size_t n_ent = 0;
    for (struct addrinfo *ai = res; ai && n_ent < 64; ai = ai->ai_next) {
        char addr[INET6_ADDRSTRLEN] = "?", canon[96] = "";
        unsigned port = 0, scope = 0;
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *sin = (const void *)ai->ai_addr;
            inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof addr);
            port = ntohs(sin->sin_port);
        } else if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 = (const void *)ai->ai_addr;
            inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof addr);
            port = ntohs(sin6->sin6_port);
            scope = sin6->sin6_scope_id;
        }
        if (ai->ai_canonname && sort_results) /* kept in front: sorting moves entries */
            printf(" canon=%s", text(ai->ai_canonname));
        else if (ai->ai_canonname)
            snprintf(canon, sizeof canon, " canon=%s", text(ai->ai_canonname));
        snprintf(entries[n_ent++], sizeof entries[0], "[%s %d %d %s %u%%%u%s]",
                 family_name(ai->ai_family), ai->ai_socktype, ai->ai_protocol, addr, port,
                 scope, canon);
    }
    put_sorted(entries, n_ent);
    freeaddrinfo(res);
}

static void do_ghbn(char **arg, int n, int two)
{
    if (n < 1 + two) {
        puts("usage: ghbn NAME / ghbn2 NAME FAMILY");
        return;
    }
    struct hostent *he =
        two ? gethostbyname2(arg[0], family_of(arg[1])) : gethostbyname(arg[0]);
    put_herr("h_errno", h_errno);
    if (he)
        put_hostent(he);
}

/* The reentrant calls, with a buffer of exactly BUFLEN bytes on the heap
 * (so AddressSanitizer would see a write past it). */
static void report_r(int rc, int herr, const struct hostent *result)
{
    char buf[16];
    printf(" rc=%s", name_of(errno_names, rc, buf, sizeof buf));
    put_herr("herr", herr);
    put_herr("h_errno", h_errno);
    if (result)
        put_hostent(result);
    else
        fputs(" result=NULL", stdout);
}

static void do_ghbn_r(char **arg, int n, int two)
{
    if (n < 2 + two) {
        puts("usage: ghbn_r NAME BUFLEN / ghbn2_r NAME FAMILY BUFLEN");
        return;
    }
    size_t len = strtoul(arg[1 + two], NULL, 10);
    char *buf = malloc(len ? len : 1);
    struct hostent he, *result = NULL;
    int herr = H_SENTINEL;
    int rc =
        two ? gethostbyname2_r(arg[0], family_of(arg[1]), &he, buf, len, &result, &herr)
            : gethostbyname_r(arg[0], &he, buf, len, &result, &herr);
    report_r(rc, herr, result);
    free(buf);
}

static int parse_addr(const char *s, unsigned char *addr, int *af, socklen_t *len)
{
    if (inet_pton(AF_INET, s, addr) == 1) {
        *af = AF_INET;
        *len = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, s, addr) == 1) {
        *af = AF_INET6;
        *len = 16;
        return 0;
    }
    return -1;
}

static void do_ghba(char **arg, int n, int reentrant)
{
    unsigned char addr[16];
    int af;
    socklen_t alen;
    if (n < 1 + reentrant || parse_addr(arg[0], addr, &af, &alen) < 0) {
        puts("usage: ghba ADDR / ghba_r ADDR BUFLEN");
        return;
    }
    if (!reentrant) {
        struct hostent *he = gethostbyaddr(addr, alen, af);
        put_herr("h_errno", h_errno);
        if (he)
            put_hostent(he);
        return;
    }
    size_t len = strtoul(arg[1], NULL, 10);
    char *buf = malloc(len ? len : 1);
    struct hostent he, *result = NULL;
    int herr = H_SENTINEL;
    int rc = gethostbyaddr_r(addr, alen, af, &he, buf, len, &result, &herr);
    report_r(rc, herr, result);
    free(buf);
}

static void do_gni(char **arg, int n)
{
    unsigned char addr[16];
    int af;
    socklen_t alen;
    if (n < 3 || parse_addr(arg[0], addr, &af, &alen) < 0) {
        puts("usage: gni ADDR PORT FLAGS");
        return;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sslen;
    uint16_t port = htons((uint16_t)atoi(arg[1]));
    if (af == AF_INET) {
        struct sockaddr_in *sin = (void *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = port;
        memcpy(&sin->sin_addr, addr, 4);
        sslen = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (void *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = port;
        memcpy(&sin6->sin6_addr, addr, 16);
        sslen = sizeof *sin6;
    }
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    host[0] = serv[0] = '\0';
    int rc = getnameinfo((struct sockaddr *)&ss, sslen, host, sizeof host, serv,
                         sizeof serv, flags_of(arg[2]));
    char buf[16];
    printf(" rc=%s", name_of(eai_names, rc, buf, sizeof buf));
    if (rc == 0) {
        printf(" host=%s", text(host));
        printf(" serv=%s", text(serv));
    }
}

/* Decodes \xHH in place; "''" becomes the empty string. */
static char *unescape(char *s)
{
    if (!strcmp(s, "''")) {
        s[0] = '\0';
        return s;
    }
    char *w = s;
    for (const char *r = s; *r;) {
        unsigned v;
        if (r[0] == '\\' && r[1] == 'x' && isxdigit((unsigned char)r[2]) &&
            isxdigit((unsigned char)r[3]) && sscanf(r + 2, "%2x", &v) == 1) {
            *w++ = (char)v;
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return s;
}

int main(void)
{
    char line[4096];
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') {
            puts(line);
            continue;
        }
        fputs(line, stdout);
        fputs(" =>", stdout);
        char *arg[8];
        int n = 0;
        char *save = NULL;
        char *op = strtok_r(line, " \t", &save);
        sort_results = !strncmp(op, "sort:", 5);
        if (sort_results)
            op += 5;
        for (char *t; n < 8 && (t = strtok_r(NULL, " \t", &save));)
            arg[n++] = unescape(t);
        h_errno = H_SENTINEL;
        if (!strcmp(op, "gai"))
            do_gai(arg, n);
        else if (!strcmp(op, "ghbn"))
            do_ghbn(arg, n, 0);
        else if (!strcmp(op, "ghbn2"))
            do_ghbn(arg, n, 1);
        else if (!strcmp(op, "ghbn_r"))
            do_ghbn_r(arg, n, 0);
        else if (!strcmp(op, "ghbn2_r"))
            do_ghbn_r(arg, n, 1);
        else if (!strcmp(op, "ghba"))
            do_ghba(arg, n, 0);
        else if (!strcmp(op, "ghba_r"))
            do_ghba(arg, n, 1);
        else if (!strcmp(op, "gni"))
            do_gni(arg, n);
        else
            fputs(" unknown call", stdout);
        putchar('\n');
    }
    return 0;
}
