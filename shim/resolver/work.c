/* shim/resolver/work.c: the transport's work queue (see work.h). */
#include "shim/resolver/work.h"

#include <stdlib.h>

void hastls_workq_init(struct hastls_workq *q)
{
    q->head = q->tail = NULL;
}

void hastls_workq_push(struct hastls_workq *q, struct hastls_work *w)
{
    if (w->queued)
        return;
    w->next = NULL;
    w->queued = 1;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
}

void hastls_workq_remove(struct hastls_workq *q, struct hastls_work *w)
{
    if (!w->queued)
        return;
    struct hastls_work *prev = NULL;
    for (struct hastls_work *x = q->head; x; prev = x, x = x->next) {
        if (x != w)
            continue;
        if (prev)
            prev->next = x->next;
        else
            q->head = x->next;
        if (q->tail == x)
            q->tail = prev;
        break;
    }
    w->queued = 0;
    w->next = NULL;
}

struct hastls_work *hastls_workq_pop(struct hastls_workq *q)
{
    struct hastls_work *w = q->head;
    if (!w)
        return NULL;
    q->head = w->next;
    if (!q->head)
        q->tail = NULL;
    w->queued = 0;
    w->next = NULL;
    return w;
}

void hastls_workq_drop_client(struct hastls_workq *q, const void *client)
{
    struct hastls_work *w = q->head;
    while (w) {
        struct hastls_work *next = w->next;
        if (w->kind == HASTLS_WORK_ANSWER && w->client == client) {
            hastls_workq_remove(q, w);
            hastls_work_release(w);
        }
        w = next;
    }
}

struct hastls_work *hastls_work_new(enum hastls_work_kind kind, size_t len)
{
    struct hastls_work *w = calloc(1, sizeof *w + len);
    if (!w)
        return NULL;
    w->kind = kind;
    w->allocated = 1;
    w->conn = -1;
    w->msg = (uint8_t *)(w + 1);
    w->len = len;
    return w;
}

void hastls_work_release(struct hastls_work *w)
{
    if (w && w->allocated && !w->queued)
        free(w);
}

void hastls_workq_clear(struct hastls_workq *q)
{
    struct hastls_work *w;
    while ((w = hastls_workq_pop(q)) != NULL)
        hastls_work_release(w);
}
