/* shim/core/search.h: the search list of resolv.conf(5), as glibc applies it.
 *
 * A name without a trailing dot is tried with the search domains appended
 * ("search" or "domain", the last one in the file wins; at most
 * HASTLS_SEARCH_MAX) and as given: as given first when it has at least
 * ndots dots ("options ndots:N", default 1, at most 15), else last.  The
 * LOCALDOMAIN and RES_OPTIONS variables and the host name's own domain
 * (used by glibc when the file has no search line) are not applied.
 */
#ifndef HASTLS_SHIM_SEARCH_H
#define HASTLS_SHIM_SEARCH_H

#include <stddef.h>

#include "policy/config.h"

#define HASTLS_SEARCH_MAX 6

struct hastls_search {
    int ndots;
    size_t n;
    char domain[HASTLS_SEARCH_MAX][HASTLS_NAME_MAX];
};

/* Parses resolv.conf bytes (LEN, need not be NUL-terminated) into OUT. */
void hastls_search_parse(const char *buf, size_t len, struct hastls_search *out);

/* The names to try for NAME (normalized: no trailing dot) in order, into
 * OUT[0..CAP); names that would be too long are skipped.  Returns the count
 * (at least 1 when CAP > 0). */
size_t hastls_search_candidates(const struct hastls_search *s, const char *name,
                                char out[][HASTLS_NAME_MAX], size_t cap);

/* The process's search list: /etc/resolv.conf, re-read when it changed
 * (checked at most once a second). */
void hastls_search_current(struct hastls_search *out);

/* Reads PATH instead of /etc/resolv.conf from now on (tests). */
void hastls_search_set_path(const char *path);

#endif
