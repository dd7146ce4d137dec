/* shim/core/hosts.h: the hosts file (/etc/hosts), parsed by the shim itself.
 *
 * Names in the hosts file are answered from it, as glibc's "files" source
 * does, but without glibc: asked for a family the file lacks (an IPv4-only
 * entry, AF_INET6), glibc would go on to DNS in cleartext; the shim answers
 * no address instead (the localhost names excepted, see the hooks).  Format,
 * as hosts(5): an address, then one or more names (the first is canonical);
 * '#' starts a comment; anything malformed on a line drops that line only.
 * Names are kept as written; lookups ignore case and a trailing dot.
 */
#ifndef HASTLS_SHIM_HOSTS_H
#define HASTLS_SHIM_HOSTS_H

#include <stddef.h>

#include "policy/config.h"
#include "shim/core/ip.h"

struct hastls_hosts;

/* Parses LEN bytes (need not be NUL-terminated).  NULL only when out of
 * memory; a file with no valid line gives an empty table. */
struct hastls_hosts *hastls_hosts_parse(const char *buf, size_t len);
void hastls_hosts_free(struct hastls_hosts *h);

/* Lines kept (for tests). */
size_t hastls_hosts_count(const struct hastls_hosts *h);

/* What the file says about a name or an address, as glibc's "files" source
 * answers it (glibc 2.36, "multi on"), for gethostbyname() and relatives:
 * the canonical name (the first name of the first line that counts, as
 * written), the aliases (that line's other names, then each further line's
 * names, its first name included when it differs), the addresses of every
 * line that counts, in file order, repeats kept.  Which lines count depends
 * on the family asked (see hastls_hosts_find_entry). */
#define HASTLS_HOSTS_ADDRS 64         /* addresses kept per answer */
#define HASTLS_HOSTS_ALIAS_BYTES 1024 /* alias names kept per answer */
struct hastls_hosts_entry {
    char name[HASTLS_NAME_MAX];
    size_t n;
    struct hastls_ip addr[HASTLS_HOSTS_ADDRS];
    size_t naliases;
    size_t aliases_len;
    char aliases[HASTLS_HOSTS_ALIAS_BYTES]; /* NALIASES names, each NUL-ended */
};

/* Looks NAME up (case-insensitive; a trailing dot on either side ignored).
 * FAMILY selects the lines that count, as glibc's parser reads them:
 *   AF_INET    IPv4 lines, and IPv6 lines holding a v4-mapped address (as
 *              that IPv4 address) or ::1 (as 127.0.0.1);
 *   AF_INET6   IPv6 lines only;
 *   AF_UNSPEC  every line, each with its own family (getaddrinfo's view).
 * Returns 0 when no line names NAME; else 1 with OUT filled (OUT->n is 0
 * when only lines of another family name it). */
int hastls_hosts_find_entry(const struct hastls_hosts *h, const char *name, int family,
                            struct hastls_hosts_entry *out);

/* The first line that counts for FAMILY (as above, AF_INET or AF_INET6) with
 * address ADDR (4 or 16 bytes): its names, and ADDR, into OUT.  Returns 1
 * when found, else 0. */
int hastls_hosts_find_addr_entry(const struct hastls_hosts *h, int family,
                                 const void *addr, struct hastls_hosts_entry *out);

/* The same lookup reduced to addresses: those of FAMILY's lines in file order
 * in OUT[0..*N) (at most CAP) and the canonical name into CANON
 * (HASTLS_NAME_MAX bytes) when not NULL.  Returns 0 or 1 as above. */
int hastls_hosts_find_name(const struct hastls_hosts *h, const char *name, int family,
                           struct hastls_ip *out, size_t cap, size_t *n, char *canon);

/* The canonical name of the first line that counts for FAMILY with address
 * ADDR into NAME (HASTLS_NAME_MAX bytes).  Returns 1 when found, else 0. */
int hastls_hosts_find_addr(const struct hastls_hosts *h, int family, const void *addr,
                           char *name);

/* The process's hosts file: (re)read when it changed, checked at most once a
 * second.  The same lookups; both return 0 when the file cannot be read. */
int hastls_hosts_lookup_name(const char *name, int family, struct hastls_ip *out,
                             size_t cap, size_t *n, char *canon);
int hastls_hosts_lookup_addr(int family, const void *addr, char *name);
int hastls_hosts_lookup_entry(const char *name, int family,
                              struct hastls_hosts_entry *out);
int hastls_hosts_lookup_addr_entry(int family, const void *addr,
                                   struct hastls_hosts_entry *out);

/* Whether NAME is "localhost" or ends in ".localhost" (any case, a trailing
 * dot allowed): the names RFC 6761 resolvers answer with loopback. */
int hastls_hosts_is_localhost(const char *name);

/* The loopback address of FAMILY (AF_INET: 127.0.0.1, AF_INET6: ::1). */
void hastls_hosts_loopback(int family, struct hastls_ip *out);

/* How the shim answers NAME (lower case, no trailing dot) without DNS: from
 * the hosts file, else the built-in localhost names ("localhost" and
 * "*.localhost", RFC 6761) as 127.0.0.1 and ::1.  Returns 1 with the
 * addresses in OUT[0..*N) (CAP >= 2) and the canonical name in CANON
 * (HASTLS_NAME_MAX bytes), or 0 when the name goes to DNS. */
int hastls_hosts_lookup_local(const char *name, struct hastls_ip *out, size_t cap,
                              size_t *n, char *canon);

/* Reads PATH instead of /etc/hosts from now on (tests). */
void hastls_hosts_set_path(const char *path);

#endif
