/* shim/core/enforce.h: the decision for one outgoing connection or datagram. */
#ifndef HASTLS_SHIM_ENFORCE_H
#define HASTLS_SHIM_ENFORCE_H

#include <sys/socket.h>

/* Decides whether the program may connect (or send a datagram) to SA.  Only
 * AF_INET/AF_INET6 destinations are governed; the decision comes from the
 * address map and the configuration, never from the network.
 *
 * - Under privacy strict or encrypted, port 53 (UDP or TCP, any address) is
 *   refused: it can only be the program's own cleartext DNS.  The resolver is
 *   not affected: its threads carry only DNS-over-TLS to the upstreams'
 *   ports (exempt by destination: upstream address and DoT port) and
 *   loopback traffic to its listener on an ephemeral port; calls made while
 *   the thread-local guard is set (the shim itself, or a resolver call on
 *   this thread) pass untouched.  Under opportunistic/off, port 53 is not
 *   refused at all (the resolver's cleartext fallback needs it).
 * - An address some lookup returned is decided by the address map (strictest
 *   verdict of its names).
 * - Else an address a process of the same user resolved through the agent
 *   is decided by the agent's shared table (shim/core/sharedtab.h), with the
 *   same rules; never under agent = off or in a set-user-ID or set-group-ID
 *   process.  A table entry that kept changing while read refuses that
 *   connection (fail closed).
 * - Any other address (a literal nobody looked up) is allowed.
 * Returns 0 to go ahead (errno untouched), or -1 with errno EACCES after
 * writing "hastls: blocked WHAT to NAME[ADDR]:PORT: REASON (client C)".
 * Report mode writes "would block" and returns 0. */
int hastls_enforce(const struct sockaddr *sa, socklen_t len, const char *what);

#endif
