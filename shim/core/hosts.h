/* shim/core/hosts.h: the hosts file (/etc/hosts), parsed by the shim itself.
 *
 * Names in the hosts file are answered from it, as glibc's "files" source
 * does, but without glibc: asked for a family the file lacks (an IPv4-only
 * entry, AF_INET6), glibc would go on to DNS in cleartext.  Format, as
 * hosts(5): an address, then one or more names (the first is canonical);
 * '#' starts a comment; anything malformed on a line drops that line only.
 */
#ifndef HASTLS_SHIM_HOSTS_H
#define HASTLS_SHIM_HOSTS_H

#include <stddef.h>

#include "shim/core/ip.h"

struct hastls_hosts;

/* Parses LEN bytes (need not be NUL-terminated).  NULL only when out of
 * memory; a file with no valid line gives an empty table. */
struct hastls_hosts *hastls_hosts_parse(const char *buf, size_t len);
void hastls_hosts_free(struct hastls_hosts *h);

/* Lines kept (for tests). */
size_t hastls_hosts_count(const struct hastls_hosts *h);

/* Looks NAME up (case-insensitive, a trailing dot ignored).  Returns 0 when
 * the file does not know it; else 1, with the addresses of FAMILY (AF_UNSPEC:
 * both) in file order in OUT[0..*N) (at most CAP) and the canonical name of the
 * first matching line in CANON (HASTLS_NAME_MAX bytes) when not NULL. */
int hastls_hosts_find_name(const struct hastls_hosts *h, const char *name, int family,
                           struct hastls_ip *out, size_t cap, size_t *n, char *canon);

/* The canonical name of the first line with address FAMILY/ADDR into NAME
 * (HASTLS_NAME_MAX bytes).  Returns 1 when found, else 0. */
int hastls_hosts_find_addr(const struct hastls_hosts *h, int family, const void *addr,
                           char *name);

/* The process's hosts file: (re)read when it changed, checked at most once a
 * second.  The same lookups; both return 0 when the file cannot be read. */
int hastls_hosts_lookup_name(const char *name, int family, struct hastls_ip *out,
                             size_t cap, size_t *n, char *canon);
int hastls_hosts_lookup_addr(int family, const void *addr, char *name);

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
