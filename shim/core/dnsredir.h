/* shim/core/dnsredir.h: a program's own DNS queries, answered by the shim.
 *
 * Owns: the rule that a query a program sends itself to port 53 (its own DNS
 * client: dig, c-ares in Node, dnspython, Net::DNS, ...) is answered by the
 * shim's validating resolver over the privacy profile's transport, and never
 * leaves in cleartext.  With `dns_redirect = no` the hooks fall back to
 * enforce.h's rule (refused under strict and encrypted).
 *
 * How: the shim owns a responder on loopback -- UDP and TCP sockets on
 * 127.0.0.1 and ::1 at ephemeral ports, served by a few threads of its own
 * (every signal blocked, descriptors close-on-exec and recorded in ownfd.h's
 * table), started on the first port-53 send or connect.  The hooks send a
 * program's datagram to port 53 to the responder instead (the destination
 * rewritten), and connect a socket that connects to port 53 to the responder.
 * The responder reads the query, asks the resolver (hastls_lookup_answer:
 * addresses enter the address memory with their names and HASTLS records),
 * builds the answer with policy/dnswire.h and sends it from its own socket to
 * the program's: the answer really sits in the program's receive queue, so
 * poll, select, epoll, blocking and non-blocking reads all behave as with a
 * real server.  The receive hooks then report the address the program sent
 * to as the answer's source, and getpeername() reports it for a connected
 * socket (clients such as c-ares check both).
 *
 * Rather than a socketpair or a descriptor swapped under the program, the
 * program keeps its own socket: its options, its binding, its family and its
 * non-blocking mode all stay what it made them, and nothing is faked.
 *
 * The check on the receive paths is one byte per descriptor (an array
 * indexed by fd): sockets that never talked to port 53 pay a load and a
 * compare.  Descriptors at or above HASTLS_DNSREDIR_FDS are not redirected
 * (they keep enforce.h's rule).
 */
#ifndef HASTLS_SHIM_DNSREDIR_H
#define HASTLS_SHIM_DNSREDIR_H

#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define HASTLS_DNSREDIR_FDS 65536

extern pthread_mutex_t hastls_lock_dnsredir;

/* Non-zero for a descriptor whose port-53 traffic went to the responder. */
extern uint8_t hastls_dnsredir_fd[HASTLS_DNSREDIR_FDS];

static inline int hastls_dnsredir_marked(int fd)
{
    return (unsigned)fd < HASTLS_DNSREDIR_FDS &&
           __atomic_load_n(&hastls_dnsredir_fd[fd], __ATOMIC_RELAXED) != 0;
}

/* The rest of hastls_dnsredir_wanted's test, for a port-53 address. */
int hastls_dnsredir_wanted_call(const void *ret);

/* Whether a send or connect to SA (LEN bytes) is to be redirected: an
 * AF_INET/AF_INET6 address on port 53, dns_redirect on, and a call of the
 * program's (not of the shim or the resolver: RET is the hook's return
 * address).  Inline: every other destination costs two compares. */
static inline int hastls_dnsredir_wanted(const struct sockaddr *sa, socklen_t len,
                                         const void *ret)
{
    uint16_t port; /* sin_port and sin6_port share their place */
    if (!sa || len < (socklen_t)sizeof(struct sockaddr_in) ||
        (sa->sa_family != AF_INET &&
         (sa->sa_family != AF_INET6 || len < (socklen_t)sizeof(struct sockaddr_in6))))
        return 0;
    memcpy(&port, (const char *)sa + offsetof(struct sockaddr_in, sin_port), sizeof port);
    return port == htons(53) && hastls_dnsredir_wanted_call(ret);
}

/* For the program's socket FD about to send to, or (CONNECTING) connect
 * to, ORIG (a port-53 address, hastls_dnsredir_wanted): starts the
 * responder if needed, binds FD to the wildcard address and a free port when
 * it has no port yet (as the kernel would on that call), remembers ORIG as
 * FD's server (and, when connecting, the local address the kernel would
 * have chosen towards ORIG) and writes the responder's address for FD's
 * family and type into *OUT.  Returns 0 with *OUTLEN, 1 when FD is not to
 * be redirected (not UDP or TCP, a family that cannot reach ORIG, fd beyond
 * the table; the caller goes on as without redirection), or -1 with errno
 * set (the responder cannot start: the call fails rather than send in
 * cleartext). */
int hastls_dnsredir_divert(int fd, const struct sockaddr *orig, socklen_t len,
                           int connecting, struct sockaddr_storage *out,
                           socklen_t *outlen);

/* After a receive on the marked FD that filled ADDR with *LEN bytes of an
 * address (CAP bytes available): when it is the responder's address, puts
 * FD's server there instead (cut to CAP, *LEN its full length). */
void hastls_dnsredir_source(int fd, struct sockaddr *addr, socklen_t cap, socklen_t *len);

/* After getsockname() on the marked FD filled ADDR (*LEN bytes of CAP): a
 * socket connected to the responder reports the local address it would
 * have towards its server (programs learn their outgoing address by
 * connecting a UDP socket to a DNS server and asking), with its own port. */
void hastls_dnsredir_local(int fd, struct sockaddr *addr, socklen_t cap, socklen_t *len);

/* FD is being closed: forgets its server. */
void hastls_dnsredir_closed(int fd);

#endif
