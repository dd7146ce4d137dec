/* shim/resolver/work.h: the transport's work queue.
 *
 * Owns: the list of things the state machine (upstream.c) wants done outside
 * itself, in the order it wanted them: open or close an upstream connection's
 * socket, give an answer to a client, store a prefetched answer.  The state
 * machine only appends; the event loop (dot.c) alone takes items off and
 * carries them out, so no module calls back into the one that called it.  A
 * unit test takes the items itself and plays the loop.
 *
 * Items that open or close a connection live inside the connection (no
 * allocation, so they can never be lost); answers are allocated with their
 * bytes.  Not thread-safe: the queue belongs to the event thread.
 */
#ifndef HASTLS_RESOLVER_WORK_H
#define HASTLS_RESOLVER_WORK_H

#include <stddef.h>
#include <stdint.h>

#include "policy/checked.h"

enum hastls_work_kind {
    HASTLS_WORK_CONNECT,       /* open a socket for connection CONN and connect */
    HASTLS_WORK_CLOSE,         /* close connection CONN's socket (and TLS) */
    HASTLS_WORK_ANSWER,        /* frame MSG to CLIENT */
    HASTLS_WORK_PREFETCH_DONE, /* prefetch SERIAL is over: MSG its answer, or none */
};

struct hastls_work {
    struct hastls_work *next;
    enum hastls_work_kind kind;
    int queued;    /* on the queue now */
    int allocated; /* freed by hastls_work_release; else part of its owner */
    int conn;      /* CONNECT, CLOSE: index of the connection */
    void *client;  /* ANSWER: the relay's client */
    uint64_t serial;
    uint8_t *msg; /* ANSWER, PREFETCH_DONE (NULL: no usable answer) */
    size_t len;
};

struct hastls_workq {
    struct hastls_work *head, *tail;
};

void hastls_workq_init(struct hastls_workq *q);

/* Appends W unless it is already queued. */
void hastls_workq_push(struct hastls_workq *q, struct hastls_work *w);

/* Takes W off the queue if it is on it. */
void hastls_workq_remove(struct hastls_workq *q, struct hastls_work *w);

/* The first item, taken off the queue, or NULL. */
struct hastls_work *hastls_workq_pop(struct hastls_workq *q);

/* Drops every queued answer for CLIENT (it is going away). */
void hastls_workq_drop_client(struct hastls_workq *q, const void *client);

/* A new item of KIND with room for LEN message bytes (MSG points at them),
 * or NULL when out of memory. */
HASTLS_MUST_CHECK struct hastls_work *hastls_work_new(enum hastls_work_kind kind,
                                                      size_t len);

/* Frees W if it was allocated; items inside their owner stay. */
void hastls_work_release(struct hastls_work *w);

/* Empties the queue, releasing every item. */
void hastls_workq_clear(struct hastls_workq *q);

#endif
