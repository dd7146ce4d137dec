/* shim/core/agent.h: the shim's side of the user's agent (hastls agent).
 *
 * A process whose front cache misses asks the agent of its user, network
 * namespace and resolver configuration (shim/core/rundir.h names it) over a
 * Unix stream socket, one LOOKUP frame per batch of queries
 * (policy/agentwire.h), instead of starting a resolver of its own.  The agent
 * answers from its cache or over its persistent DNS-over-TLS connections; the
 * DNSSEC status and reason travel with every answer, and the process decides
 * and enforces by itself as it does with its own resolver.
 *
 * The client is one connection per process, shared by its threads: requests
 * carry ids, any number may be outstanding, and whichever waiting thread is
 * free reads the next frame and hands it to the thread it belongs to.  Every
 * wait is bounded by the configuration's timeout_ms (plus a little for the
 * agent's own deadline to come first).  After fork() the child opens its own
 * connection.  The agent is checked to be the same user (SO_PEERCRED).
 *
 * hastls_agent_resolver() gives the shim a resolver API (the same table as
 * libhastls-resolver.so's) whose lookup goes to the agent and, whenever no
 * agent answers (none can be reached or started, it died or answered
 * garbage), to the in-process resolver for that lookup, exactly as without
 * an agent; a failed agent is then left alone for a second.  When no agent
 * listens, the first lookup starts one (the hastls binary next to
 * libhastls.so, else HASTLS_BINDIR/hastls, with the same configuration file)
 * and waits briefly for it.  Never for setuid/setgid processes (AT_SECURE),
 * never with agent = off.
 */
#ifndef HASTLS_SHIM_AGENT_H
#define HASTLS_SHIM_AGENT_H

#include <stddef.h>
#include <sys/types.h>

#include "policy/config.h"
#include "shim/resolver/resolver.h"

enum hastls_agent_result {
    HASTLS_AGENT_ANSWERED,
    HASTLS_AGENT_ABSENT,   /* nobody listens on the socket */
    HASTLS_AGENT_BUSY,     /* it listens, but its queue of connections is full */
    HASTLS_AGENT_BROKEN,   /* it died, timed out, answered garbage, or is not ours */
    HASTLS_AGENT_UNSUITED, /* this request cannot be sent (a name too long, ...) */
};

struct hastls_agent_client;

/* A client of the agent listening on PATH.  WAIT_MS bounds each request, from
 * sending it to its answer.  Connects on first use.  NULL when out of memory
 * or when PATH does not fit a socket address. */
struct hastls_agent_client *hastls_agent_client_new(const char *path, unsigned wait_ms);

/* Closes the connection and frees C (no request may be running). */
void hastls_agent_client_free(struct hastls_agent_client *c);

/* Resolves Q[0..NQ) through the agent in one request.  On ANSWERED every
 * ANS[i] is set (free each with hastls_agent_answer_free); otherwise all are
 * NULL.  Thread-safe. */
enum hastls_agent_result hastls_agent_client_lookup(struct hastls_agent_client *c,
                                                    const struct hastls_query *q,
                                                    size_t nq,
                                                    struct hastls_answer **ans);

/* The agent's STATUS text ("key: value" lines) into OUT, NUL-terminated. */
enum hastls_agent_result hastls_agent_client_status(struct hastls_agent_client *c,
                                                    char *out, size_t len);

/* The pid of the agent C is connected to, as this process's pid namespace
 * sees it (SO_PEERCRED), or 0 when not connected. */
pid_t hastls_agent_client_peer(struct hastls_agent_client *c);

/* Asks the agent to exit; ANSWERED once it has acknowledged. */
enum hastls_agent_result hastls_agent_client_stop(struct hastls_agent_client *c);

/* In a child after fork(), when the atfork handlers did not run: forgets the
 * parent's connection (closing the child's copy) without waiting for
 * anything. */
void hastls_agent_client_forget(struct hastls_agent_client *c);

/* fork() handling for the agent client's locks (its connection and the
 * start of an agent), called by state.c's handlers from the one lock list
 * (shim/core/locks.h).  The child forgets the parent's connection. */
void hastls_agent_fork_prepare(void);
void hastls_agent_fork_parent(void);
void hastls_agent_fork_child(void);

/* The answers of this module are one allocation each. */
void hastls_agent_answer_free(struct hastls_answer *a);

/* A copy of A in that layout (records rebuilt from its packet, as the
 * resolver builds them); NULL when out of memory. */
struct hastls_answer *hastls_agent_answer_copy(const struct hastls_answer *a);

/* The one rule for both ends of an agent's socket: the peer of the
 * connected Unix socket FD runs as this process's effective uid
 * (SO_PEERCRED).  Returns 1 if so, else 0; *UID and *PID (either may be
 * NULL) get the peer's credentials when the kernel gave them. */
int hastls_agent_peer_ok(int fd, unsigned *uid, int *pid);

/* The in-process resolver, as hastls_state_resolver() loads it. */
typedef int (*hastls_local_resolver_fn)(const struct hastls_resolver_api **api,
                                        struct hastls_resolver **r);

/* When this process may use an agent under CFG (agent = auto, not AT_SECURE,
 * a private runtime directory, a socket path that fits): returns 0 with *API
 * and *R set to the agent's resolver, whose lookups fall back to LOCAL.
 * Returns -1 otherwise; the caller then uses LOCAL itself.  CFG must be the
 * process's configuration (the same every call). */
int hastls_agent_resolver(const struct hastls_config *cfg, hastls_local_resolver_fn local,
                          const struct hastls_resolver_api **api,
                          struct hastls_resolver **r);

#endif
