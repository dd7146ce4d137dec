/* shim/resolver/buf.h: growable byte buffers for the transport's streams.
 *
 * Owns: the bytes queued on one stream (a client's or an upstream
 * connection's, in either direction), with a hard limit so that a peer that
 * never reads cannot make the process grow without bound.  Knows nothing of
 * DNS: framing and reassembly are policy/dnswire.c's (hastls_dns_stream_*).
 * Not thread-safe: each buffer belongs to the event thread.
 */
#ifndef HASTLS_RESOLVER_BUF_H
#define HASTLS_RESOLVER_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "policy/checked.h"

#define HASTLS_BUF_LIMIT (1u << 20) /* most bytes queued on one stream */

struct hastls_buf {
    uint8_t *p;
    size_t len, cap;
};

/* Appends N bytes.  Returns 0, or -1 (limit reached or out of memory) with
 * the buffer unchanged. */
HASTLS_MUST_CHECK int hastls_buf_append(struct hastls_buf *b, const void *data, size_t n);

/* Appends MSG as one framed DNS message (two-byte length prefix).  Returns 0
 * or -1 with the buffer unchanged. */
HASTLS_MUST_CHECK int hastls_buf_append_msg(struct hastls_buf *b, const uint8_t *msg,
                                            size_t len);

/* Room for N more bytes after the current end: a pointer to it, or NULL
 * (limit or memory).  Nothing counts as written until hastls_buf_commit. */
HASTLS_MUST_CHECK uint8_t *hastls_buf_reserve(struct hastls_buf *b, size_t n);
void hastls_buf_commit(struct hastls_buf *b, size_t n);

/* Drops the first N bytes (N <= LEN). */
void hastls_buf_consume(struct hastls_buf *b, size_t n);

void hastls_buf_free(struct hastls_buf *b);

#endif
