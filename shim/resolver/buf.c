/* shim/resolver/buf.c: growable byte buffers (see buf.h). */
#include "shim/resolver/buf.h"

#include <stdlib.h>
#include <string.h>

#include "policy/dnswire.h"

uint8_t *hastls_buf_reserve(struct hastls_buf *b, size_t n)
{
    if (n > HASTLS_BUF_LIMIT || b->len > HASTLS_BUF_LIMIT - n)
        return NULL;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            return NULL;
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

void hastls_buf_commit(struct hastls_buf *b, size_t n)
{
    if (n <= b->cap - b->len)
        b->len += n;
}

int hastls_buf_append(struct hastls_buf *b, const void *data, size_t n)
{
    uint8_t *p = hastls_buf_reserve(b, n);
    HASTLS_ENSURE_REF(p);
    if (n)
        memcpy(p, data, n);
    b->len += n;
    return 0;
}

int hastls_buf_append_msg(struct hastls_buf *b, const uint8_t *msg, size_t len)
{
    struct hastls_dns_wr w;
    HASTLS_ENSURE(len <= HASTLS_DNS_MAX_MSG);
    uint8_t *p = hastls_buf_reserve(b, len + 2);
    HASTLS_ENSURE_REF(p);
    hastls_dns_wr_init(&w, p, len + 2);
    HASTLS_GUARD(hastls_dns_stream_put(&w, msg, len));
    b->len += w.len;
    return 0;
}

void hastls_buf_consume(struct hastls_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

void hastls_buf_free(struct hastls_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
