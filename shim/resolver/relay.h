/* shim/resolver/relay.h: the loopback listener libunbound forwards to.
 *
 * Owns: the listening socket on 127.0.0.1 (an ephemeral port), the check that
 * each connection to it comes from this very process (no other program on the
 * host may use our transport), and each accepted client's streams: the
 * queries it sends, reassembled from TCP through dnswire's stream functions,
 * and the answers framed back to it.  What a query means is not its business:
 * the event loop takes each whole query and routes it.  Event thread only.
 */
#ifndef HASTLS_RESOLVER_RELAY_H
#define HASTLS_RESOLVER_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "policy/checked.h"
#include "shim/resolver/buf.h"
#include "shim/resolver/resolver.h"

struct hastls_relay_client {
    struct hastls_relay_client *next;
    int fd;
    struct hastls_buf in, out;
    size_t in_off; /* queries before this offset of IN were taken */
};

struct hastls_relay {
    int lfd;
    struct hastls_relay_client *clients;
    hastls_log_fn log;
    enum hastls_log_level log_level;
};

void hastls_relay_init(struct hastls_relay *r, hastls_log_fn log,
                       enum hastls_log_level level);

/* Binds and listens on 127.0.0.1.  Returns the port, or -1 with ERR. */
int hastls_relay_listen(struct hastls_relay *r, char *err, size_t errlen);

/* Accepts every pending connection; one from outside this process is refused
 * (closed, with a warning). */
void hastls_relay_accept(struct hastls_relay *r);

/* Whether CL is still one of R's clients (poll results may be stale). */
int hastls_relay_has(const struct hastls_relay *r, const struct hastls_relay_client *cl,
                     int fd);

/* Reads what CL sent.  Returns 0, or -1 when CL is gone (closed by the peer,
 * failed, or sending more than a stream may hold): the caller closes it. */
HASTLS_MUST_CHECK int hastls_relay_read(struct hastls_relay_client *cl);

/* The next whole query CL sent: 1 with *MSG and *LEN (valid until
 * hastls_relay_taken), or 0. */
int hastls_relay_next(struct hastls_relay_client *cl, const uint8_t **msg, size_t *len);

/* Drops the queries taken with hastls_relay_next. */
void hastls_relay_taken(struct hastls_relay_client *cl);

/* Queues MSG framed for CL.  Returns 0, or -1 (logged) when it cannot. */
int hastls_relay_send(struct hastls_relay *r, struct hastls_relay_client *cl,
                      const uint8_t *msg, size_t len);

/* Queues for CL the answer ANS to its query QUERY (QUERY's ID and question).
 * Returns 0, or -1 when ANS does not answer QUERY or memory ran out. */
int hastls_relay_reply(struct hastls_relay *r, struct hastls_relay_client *cl,
                       const uint8_t *query, size_t qlen, const uint8_t *ans,
                       size_t alen);

/* Writes what is queued for CL.  Returns 0, or -1 when CL is gone. */
HASTLS_MUST_CHECK int hastls_relay_flush(struct hastls_relay_client *cl);

/* Closes CL and forgets it. */
void hastls_relay_close(struct hastls_relay *r, struct hastls_relay_client *cl);

/* Closes everything. */
void hastls_relay_free(struct hastls_relay *r);

/* After fork() in the child: closes every descriptor, frees nothing. */
void hastls_relay_forget(struct hastls_relay *r);

/* Checks whether the TCP connection FD (accepted on a listener bound to
 * 127.0.0.1) comes from a socket of this very process: some descriptor in
 * /proc/self/fd must be a socket whose local address is FD's peer and whose
 * peer is FD's local address.  A TCP 4-tuple is unique on a host, so no other
 * process can hold such a socket at the same time.  Returns 1 or 0. */
HASTLS_MUST_CHECK int hastls_relay_peer_is_self(int fd);

#endif
