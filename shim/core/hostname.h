/* shim/core/hostname.h: which names glibc's DNS source would ask about.
 *
 * glibc (2.34 and later) refuses to send a query for a name that is not a
 * host name and answers "not found" at once (getaddrinfo EAI_NONAME,
 * gethostbyname* HOST_NOT_FOUND).  The shim asks the same question before
 * its own resolver, after the hosts file, which knows any name.
 */
#ifndef HASTLS_SHIM_HOSTNAME_H
#define HASTLS_SHIM_HOSTNAME_H

/* Whether NAME is a host name as glibc's res_hnok() judges it: printable
 * ASCII only (no space), a valid domain name in presentation form (\DDD and
 * \X escapes; labels of 1 to 63 bytes, no empty label but a final root; at
 * most 255 bytes in wire form), every label byte a letter, a digit, '-' or
 * '_', and the first label not starting with '-'.  "" and "." are host names
 * by this rule.  Returns 1 or 0. */
int hastls_hostname_ok(const char *name);

#endif
