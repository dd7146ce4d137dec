/* policy/agentwire.c: the agent's message codec (see agentwire.h). */
#include "policy/agentwire.h"

#include <string.h>

#define BODY_HEADER 9 /* version, op, flags, id, count */

/* A bounded reader over one frame body: every take checks what is left, and
 * a failed take poisons the reader so that callers check once at the end. */
struct reader {
    const uint8_t *p;
    size_t left;
    int bad;
};

static const uint8_t *take(struct reader *r, size_t n)
{
    if (r->bad || r->left < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *at = r->p;
    r->p += n;
    r->left -= n;
    return at;
}

static uint32_t take_u(struct reader *r, size_t n)
{
    const uint8_t *b = take(r, n);
    uint32_t v = 0;
    for (size_t i = 0; b && i < n; i++)
        v = v << 8 | b[i];
    return v;
}

/* A length-prefixed string of at most MAX-1 bytes without NUL, copied into
 * OUT (MAX bytes) and terminated. */
static void take_string(struct reader *r, size_t prefix, char *out, size_t max)
{
    size_t n = take_u(r, prefix);
    const uint8_t *b = take(r, n);
    if (!b || n >= max || memchr(b, 0, n)) {
        r->bad = 1;
        out[0] = '\0';
        return;
    }
    memcpy(out, b, n);
    out[n] = '\0';
}

static void put(struct hastls_agent_writer *w, const void *data, size_t n)
{
    if (w->failed || w->cap - w->len < n) {
        w->failed = 1;
        return;
    }
    if (n)
        memcpy(w->buf + w->len, data, n);
    w->len += n;
}

static void put_u(struct hastls_agent_writer *w, uint32_t v, size_t n)
{
    uint8_t b[4];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    put(w, b, n);
}

/* A string with an N-byte length prefix; fails the writer when it is longer
 * than the prefix can say or than LIMIT-1 bytes. */
static void put_string(struct hastls_agent_writer *w, const char *s, size_t prefix,
                       size_t limit)
{
    size_t n = strnlen(s, limit);
    if (n >= limit) {
        w->failed = 1;
        return;
    }
    put_u(w, (uint32_t)n, prefix);
    put(w, s, n);
}

int hastls_agent_frame_len(const uint8_t *buf, size_t len, size_t max, size_t *body_len)
{
    if (len < HASTLS_AGENT_FRAME_PREFIX)
        return 0;
    size_t n = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
    if (n < BODY_HEADER || n > max)
        return -1;
    *body_len = n;
    return 1;
}

static void header(struct hastls_agent_writer *w, enum hastls_agent_op op, uint32_t id)
{
    put_u(w, 0, HASTLS_AGENT_FRAME_PREFIX); /* length, set at the end */
    put_u(w, HASTLS_AGENT_WIRE_VERSION, 1);
    put_u(w, (uint32_t)op, 1);
    put_u(w, 0, 2);
    put_u(w, id, 4);
    put_u(w, 0, 1); /* count, incremented per item */
}

static size_t finish(struct hastls_agent_writer *w)
{
    if (w->failed)
        return 0;
    size_t body = w->len - HASTLS_AGENT_FRAME_PREFIX;
    for (int i = 0; i < 4; i++)
        w->buf[i] = (uint8_t)(body >> (8 * (3 - i)));
    return w->len;
}

static void count_item(struct hastls_agent_writer *w)
{
    uint8_t *count = w->buf + HASTLS_AGENT_FRAME_PREFIX + BODY_HEADER - 1;
    if (w->failed || *count == HASTLS_AGENT_MAX_QUERIES) {
        w->failed = 1;
        return;
    }
    (*count)++;
}

static int known_op(unsigned op)
{
    return op == HASTLS_AGENT_OP_LOOKUP || op == HASTLS_AGENT_OP_STATUS ||
           op == HASTLS_AGENT_OP_STOP;
}

size_t hastls_agent_request_encode(const struct hastls_agent_request *req, uint8_t *out,
                                   size_t cap)
{
    struct hastls_agent_writer w = {out, cap, 0, 0};
    if (!known_op(req->op) || req->nq > HASTLS_AGENT_MAX_QUERIES ||
        (req->op != HASTLS_AGENT_OP_LOOKUP && req->nq))
        return 0;
    header(&w, req->op, req->id);
    for (size_t i = 0; i < req->nq; i++) {
        count_item(&w);
        put_u(&w, req->q[i].qtype, 2);
        put_string(&w, req->q[i].name, 1, HASTLS_NAME_MAX);
    }
    return finish(&w);
}

/* The common header; returns the item count, or -1. */
static int read_header(struct reader *r, unsigned *op, uint32_t *id)
{
    unsigned version = take_u(r, 1);
    *op = take_u(r, 1);
    unsigned flags = take_u(r, 2);
    *id = take_u(r, 4);
    unsigned count = take_u(r, 1);
    if (r->bad || version != HASTLS_AGENT_WIRE_VERSION || flags || !known_op(*op) ||
        count > HASTLS_AGENT_MAX_QUERIES)
        return -1;
    return (int)count;
}

int hastls_agent_body_id(const uint8_t *body, size_t len, enum hastls_agent_op *op,
                         uint32_t *id)
{
    struct reader r = {body, len, 0};
    unsigned got;
    HASTLS_ENSURE(read_header(&r, &got, id) >= 0);
    *op = (enum hastls_agent_op)got;
    return 0;
}

int hastls_agent_request_decode(const uint8_t *body, size_t len,
                                struct hastls_agent_request *out)
{
    struct reader r = {body, len, 0};
    unsigned op;
    int count = read_header(&r, &op, &out->id);
    HASTLS_ENSURE(count >= 0);
    HASTLS_ENSURE(op == HASTLS_AGENT_OP_LOOKUP ? count > 0 : count == 0);
    out->op = (enum hastls_agent_op)op;
    out->nq = (size_t)count;
    for (size_t i = 0; i < out->nq; i++) {
        out->q[i].qtype = (uint16_t)take_u(&r, 2);
        take_string(&r, 1, out->q[i].name, HASTLS_NAME_MAX);
        HASTLS_ENSURE(!r.bad && out->q[i].name[0]);
    }
    HASTLS_ENSURE(!r.bad && r.left == 0);
    return 0;
}

void hastls_agent_response_begin(struct hastls_agent_writer *w, uint8_t *buf, size_t cap,
                                 enum hastls_agent_op op, uint32_t id)
{
    *w = (struct hastls_agent_writer){buf, cap, 0, 0};
    header(w, op, id);
}

void hastls_agent_response_answer(struct hastls_agent_writer *w,
                                  const struct hastls_agent_answer *a)
{
    if ((unsigned)a->status > HASTLS_SEC_FAILED || a->rcode < -1 || a->rcode > 4095 ||
        a->packet_len > HASTLS_AGENT_MAX_PACKET || (a->packet_len && !a->packet)) {
        w->failed = 1;
        return;
    }
    count_item(w);
    put_u(w, a->qtype, 2);
    put_u(w, (uint32_t)a->status, 1);
    put_u(w, (uint32_t)(uint16_t)(int16_t)a->rcode, 2);
    put_u(w, a->ttl, 4);
    put_string(w, a->qname, 1, HASTLS_NAME_MAX);
    put_string(w, a->canonname, 1, HASTLS_NAME_MAX);
    put_string(w, a->reason, 2, HASTLS_AGENT_REASON_MAX);
    put_u(w, (uint32_t)a->packet_len, 4);
    put(w, a->packet, a->packet_len);
}

void hastls_agent_response_text(struct hastls_agent_writer *w, const char *text,
                                size_t len)
{
    if (len > 65535) {
        w->failed = 1;
        return;
    }
    count_item(w);
    put_u(w, (uint32_t)len, 2);
    put(w, text, len);
}

size_t hastls_agent_response_end(struct hastls_agent_writer *w)
{
    return finish(w);
}

static int read_answer(struct reader *r, struct hastls_agent_answer *a)
{
    a->qtype = (uint16_t)take_u(r, 2);
    unsigned status = take_u(r, 1);
    a->rcode = (int16_t)(uint16_t)take_u(r, 2);
    a->ttl = take_u(r, 4);
    take_string(r, 1, a->qname, sizeof a->qname);
    take_string(r, 1, a->canonname, sizeof a->canonname);
    take_string(r, 2, a->reason, sizeof a->reason);
    a->packet_len = take_u(r, 4);
    a->packet = take(r, a->packet_len);
    HASTLS_ENSURE(!r->bad && status <= HASTLS_SEC_FAILED && a->rcode >= -1 &&
                  a->rcode <= 4095 && a->packet_len <= HASTLS_AGENT_MAX_PACKET &&
                  a->qname[0]);
    a->status = (enum hastls_sec)status;
    if (!a->packet_len)
        a->packet = NULL;
    return 0;
}

int hastls_agent_response_decode(const uint8_t *body, size_t len, enum hastls_agent_op op,
                                 uint32_t id, struct hastls_agent_answer *out, size_t cap,
                                 size_t *n, const char **text, size_t *text_len)
{
    struct reader r = {body, len, 0};
    unsigned got_op;
    uint32_t got_id;
    int count = read_header(&r, &got_op, &got_id);
    HASTLS_ENSURE(count >= 0 && got_op == (unsigned)op && got_id == id);
    if (n)
        *n = 0;
    switch (op) {
    case HASTLS_AGENT_OP_LOOKUP:
        HASTLS_ENSURE(n && (size_t)count <= cap);
        for (int i = 0; i < count; i++)
            HASTLS_GUARD(read_answer(&r, &out[i]));
        *n = (size_t)count;
        break;
    case HASTLS_AGENT_OP_STATUS: {
        HASTLS_ENSURE(count == 1 && text && text_len);
        size_t tl = take_u(&r, 2);
        const uint8_t *t = take(&r, tl);
        HASTLS_ENSURE(!r.bad);
        *text = (const char *)t;
        *text_len = tl;
        break;
    }
    case HASTLS_AGENT_OP_STOP:
        HASTLS_ENSURE(count == 0);
        break;
    }
    HASTLS_ENSURE(!r.bad && r.left == 0);
    return 0;
}

int hastls_agent_status_field(const char *text, size_t len, const char *field, char *out,
                              size_t cap)
{
    size_t flen = strlen(field);
    if (cap)
        out[0] = '\0';
    for (size_t at = 0; at < len;) {
        const char *line = text + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t ll = nl ? (size_t)(nl - line) : len - at;
        if (ll > flen + 1 && !memcmp(line, field, flen) && line[flen] == ':' &&
            line[flen + 1] == ' ') {
            const char *v = line + flen + 2;
            size_t vl = ll - flen - 2;
            if (!nl || vl == 0 || vl >= cap)
                return -1;
            for (size_t i = 0; i < vl; i++)
                if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
                    return -1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 1;
        }
        if (!nl)
            break;
        at += ll + 1;
    }
    return 0;
}
