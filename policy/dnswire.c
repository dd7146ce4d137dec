/* policy/dnswire.c: DNS wire-format reading and writing (see dnswire.h).
 *
 * Every function below reads through a struct hastls_dns_rd and writes through
 * a struct hastls_dns_wr; the cursor checks each size against what remains,
 * and a failed check returns at once (HASTLS_GUARD).
 */
#include "policy/dnswire.h"

#include <string.h>

/* The fixed header fields. */
struct header {
    uint16_t id;
    uint16_t flags;
    uint16_t count[4]; /* qd, an, ns, ar */
};

#define FLAG_QR 0x8000
#define FLAG_RD 0x0100
#define FLAG_CD 0x0010
#define FLAG_TC 0x0200
#define RCODE_MASK 0x000f

static int rd_header(struct hastls_dns_rd *r, struct header *h)
{
    HASTLS_GUARD(hastls_dns_rd_u16(r, &h->id));
    HASTLS_GUARD(hastls_dns_rd_u16(r, &h->flags));
    for (int i = 0; i < 4; i++)
        HASTLS_GUARD(hastls_dns_rd_u16(r, &h->count[i]));
    return 0;
}

/* The header of MSG, which the caller has checked to be complete. */
static struct header header_of(const uint8_t *msg)
{
    struct hastls_dns_rd r;
    struct header h = {0};
    hastls_dns_rd_init(&r, msg, HASTLS_DNS_HEADER_LEN);
    if (rd_header(&r, &h) < 0)
        memset(&h, 0, sizeof h); /* cannot happen: 12 bytes are there */
    return h;
}

uint16_t hastls_dns_id(const uint8_t *msg)
{
    return header_of(msg).id;
}

void hastls_dns_set_id(uint8_t *msg, uint16_t id)
{
    struct hastls_dns_wr w = {msg, HASTLS_DNS_HEADER_LEN, HASTLS_DNS_HEADER_LEN};
    if (hastls_dns_wr_set16(&w, 0, id) < 0)
        return; /* cannot happen: the header is there */
}

uint16_t hastls_dns_count(const uint8_t *msg, int section)
{
    if (section < 0 || section > 3)
        return 0;
    return header_of(msg).count[section];
}

int hastls_dns_response_id(const uint8_t *msg, size_t len, uint16_t *id)
{
    struct hastls_dns_rd r;
    struct header h;
    hastls_dns_rd_init(&r, msg, len);
    HASTLS_GUARD(rd_header(&r, &h));
    HASTLS_ENSURE(h.flags & FLAG_QR);
    *id = h.id;
    return 0;
}

int hastls_dns_rcode(const uint8_t *msg, size_t len)
{
    struct hastls_dns_rd r;
    struct header h;
    hastls_dns_rd_init(&r, msg, len);
    HASTLS_GUARD(rd_header(&r, &h));
    return h.flags & RCODE_MASK;
}

/* Skips the name at R's position; a compression pointer ends it. */
static int rd_skip_name(struct hastls_dns_rd *r)
{
    size_t total = 0;
    for (;;) {
        uint8_t c;
        HASTLS_GUARD(hastls_dns_rd_u8(r, &c));
        if ((c & 0xc0) == 0xc0)
            return hastls_dns_rd_skip(r, 1);
        HASTLS_ENSURE((c & 0xc0) == 0); /* 0x40, 0x80: extended label types */
        if (c == 0)
            return 0;
        total += (size_t)c + 1;
        HASTLS_ENSURE(total <= HASTLS_DNS_MAX_WIRE_NAME);
        HASTLS_GUARD(hastls_dns_rd_skip(r, c));
    }
}

int hastls_dns_skip_name(const uint8_t *msg, size_t len, size_t off, size_t *next)
{
    struct hastls_dns_rd r;
    hastls_dns_rd_init(&r, msg, len);
    HASTLS_GUARD(hastls_dns_rd_seek(&r, off));
    HASTLS_GUARD(rd_skip_name(&r));
    *next = r.off;
    return 0;
}

/* Appends the label L (N bytes) to OUT at *O in presentation form, escaping
 * what would make the text ambiguous or unprintable. */
static int text_label(const uint8_t *l, size_t n, char *out, size_t outlen, size_t *o)
{
    if (*o != 0) {
        HASTLS_ENSURE(*o + 1 < outlen);
        out[(*o)++] = '.';
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = l[i];
        if (ch == '.' || ch == '\\' || ch <= 0x20 || ch >= 0x7f) {
            HASTLS_ENSURE(*o + 4 < outlen);
            out[(*o)++] = '\\';
            out[(*o)++] = (char)('0' + ch / 100);
            out[(*o)++] = (char)('0' + ch / 10 % 10);
            out[(*o)++] = (char)('0' + ch % 10);
        } else {
            HASTLS_ENSURE(*o + 1 < outlen);
            out[(*o)++] = (char)ch;
        }
    }
    return 0;
}

int hastls_dns_read_name(const uint8_t *msg, size_t len, size_t off, char *out,
                         size_t outlen, size_t *next)
{
    struct hastls_dns_rd r;
    size_t o = 0, wire = 0;
    int jumped = 0;
    /* A pointer must point before where the current run of labels started
     * (names only refer to earlier names), so every jump goes strictly
     * backwards and a loop cannot happen.  LIMIT is that bound. */
    size_t limit = off;
    HASTLS_ENSURE(outlen >= 2);
    hastls_dns_rd_init(&r, msg, len);
    HASTLS_GUARD(hastls_dns_rd_seek(&r, off));
    for (;;) {
        uint8_t c;
        HASTLS_GUARD(hastls_dns_rd_u8(&r, &c));
        if ((c & 0xc0) == 0xc0) {
            uint8_t lo;
            HASTLS_GUARD(hastls_dns_rd_u8(&r, &lo));
            size_t target = ((size_t)(c & 0x3f) << 8) | lo;
            if (!jumped)
                *next = r.off;
            jumped = 1;
            HASTLS_ENSURE(target < limit);
            limit = target;
            HASTLS_GUARD(hastls_dns_rd_seek(&r, target));
            continue;
        }
        HASTLS_ENSURE((c & 0xc0) == 0);
        if (c == 0) {
            if (!jumped)
                *next = r.off;
            if (o == 0)
                out[o++] = '.';
            out[o] = '\0';
            return 0;
        }
        wire += (size_t)c + 1;
        HASTLS_ENSURE(wire <= HASTLS_DNS_MAX_WIRE_NAME);
        const uint8_t *label;
        HASTLS_GUARD(hastls_dns_rd_bytes(&r, &label, c));
        HASTLS_GUARD(text_label(label, c, out, outlen, &o));
    }
}

int hastls_dns_name_labels(const uint8_t *msg, size_t len, size_t off, size_t *labels,
                           size_t cap, size_t *n, size_t *end)
{
    struct hastls_dns_rd r;
    size_t k = 0, total = 0;
    hastls_dns_rd_init(&r, msg, len);
    HASTLS_GUARD(hastls_dns_rd_seek(&r, off));
    for (;;) {
        size_t start = r.off;
        uint8_t c;
        HASTLS_GUARD(hastls_dns_rd_u8(&r, &c));
        if (c == 0) {
            *n = k;
            *end = r.off;
            return 0;
        }
        HASTLS_ENSURE(c < 64); /* a pointer or an extended label type */
        total += (size_t)c + 1;
        HASTLS_ENSURE(total <= HASTLS_DNS_MAX_WIRE_NAME);
        HASTLS_ENSURE(k < cap);
        labels[k++] = start;
        HASTLS_GUARD(hastls_dns_rd_skip(&r, c));
    }
}

static int rd_rr(struct hastls_dns_rd *r, struct hastls_dns_rr *rr)
{
    rr->owner_off = r->off;
    HASTLS_GUARD(rd_skip_name(r));
    HASTLS_GUARD(hastls_dns_rd_u16(r, &rr->type));
    HASTLS_GUARD(hastls_dns_rd_u16(r, &rr->rrclass));
    HASTLS_GUARD(hastls_dns_rd_u32(r, &rr->ttl));
    HASTLS_GUARD(hastls_dns_rd_u16(r, &rr->rdlen));
    rr->rdata_off = r->off;
    return hastls_dns_rd_skip(r, rr->rdlen);
}

int hastls_dns_parse_rr(const uint8_t *msg, size_t len, size_t off,
                        struct hastls_dns_rr *rr, size_t *next)
{
    struct hastls_dns_rd r;
    struct hastls_dns_rr tmp;
    hastls_dns_rd_init(&r, msg, len);
    HASTLS_GUARD(hastls_dns_rd_seek(&r, off));
    HASTLS_GUARD(rd_rr(&r, &tmp));
    *rr = tmp;
    *next = r.off;
    return 0;
}

/* Skips QD questions from R's position on. */
static int rd_skip_questions(struct hastls_dns_rd *r, unsigned qd)
{
    for (unsigned i = 0; i < qd; i++) {
        HASTLS_GUARD(rd_skip_name(r));
        HASTLS_GUARD(hastls_dns_rd_skip(r, 4));
    }
    return 0;
}

/* Reads the header into *H and skips the question section. */
static int rd_through_questions(struct hastls_dns_rd *r, struct header *h)
{
    HASTLS_GUARD(rd_header(r, h));
    return rd_skip_questions(r, h->count[0]);
}

int hastls_dns_parse_query(const uint8_t *msg, size_t len, struct hastls_dns_question *q)
{
    struct hastls_dns_rd r;
    struct header h;
    HASTLS_ENSURE(len <= HASTLS_DNS_MAX_MSG);
    hastls_dns_rd_init(&r, msg, len);
    HASTLS_GUARD(rd_header(&r, &h));
    HASTLS_ENSURE(!(h.flags & FLAG_QR)); /* an answer, not a query */
    HASTLS_ENSURE(h.count[0] == 1);
    q->name_off = r.off;
    HASTLS_GUARD(rd_skip_name(&r));
    q->name_len = r.off - q->name_off;
    HASTLS_GUARD(hastls_dns_rd_u16(&r, &q->qtype));
    HASTLS_GUARD(hastls_dns_rd_u16(&r, &q->qclass));
    q->end = r.off;
    return 0;
}

int hastls_dns_check_query(const uint8_t *msg, size_t len, size_t *qend)
{
    struct hastls_dns_question q;
    HASTLS_GUARD(hastls_dns_parse_query(msg, len, &q));
    *qend = q.end;
    return 0;
}

int hastls_dns_query_question(const uint8_t *msg, size_t len, char *name, size_t namelen,
                              uint16_t *qtype, uint16_t *qclass)
{
    struct hastls_dns_question q;
    size_t next;
    HASTLS_GUARD(hastls_dns_parse_query(msg, len, &q));
    HASTLS_GUARD(hastls_dns_read_name(msg, len, q.name_off, name, namelen, &next));
    HASTLS_ENSURE(next == q.name_off + q.name_len);
    *qtype = q.qtype;
    *qclass = q.qclass;
    return 0;
}

int hastls_dns_set_tc(uint8_t *msg, size_t len)
{
    HASTLS_ENSURE(len >= 3);
    msg[2] |= (uint8_t)(FLAG_TC >> 8);
    return 0;
}

int hastls_dns_ptr_target(const uint8_t *msg, size_t len, const uint8_t *rdata,
                          size_t rdlen, char *out, size_t outlen)
{
    const uint8_t *base = rdata;
    size_t blen = rdlen, off = 0, next;
    /* Compared as addresses, not through pointer arithmetic across objects. */
    uintptr_t m = (uintptr_t)msg, r = (uintptr_t)rdata;
    if (msg && r >= m && r - m < len && rdlen <= len - (r - m)) {
        base = msg;
        blen = len;
        off = r - m;
    }
    HASTLS_ENSURE(rdata != NULL || rdlen == 0);
    HASTLS_GUARD(hastls_dns_read_name(base, blen, off, out, outlen, &next));
    HASTLS_ENSURE(next <= off + rdlen);
    HASTLS_ENSURE(strcmp(out, ".") != 0);
    return 0;
}

int hastls_dns_has_do(const uint8_t *msg, size_t len)
{
    struct hastls_dns_rd r;
    struct header h;
    struct hastls_dns_rr rr;
    hastls_dns_rd_init(&r, msg, len);
    HASTLS_GUARD(rd_through_questions(&r, &h));
    unsigned n = (unsigned)h.count[1] + h.count[2] + h.count[3];
    int found = 0;
    for (unsigned i = 0; i < n; i++) {
        HASTLS_GUARD(rd_rr(&r, &rr));
        if (rr.type == HASTLS_DNS_TYPE_OPT && (rr.ttl & 0x8000))
            found = 1;
    }
    return found;
}

static uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Points *Q at the question section of MSG (*QLEN bytes), *QD questions. */
static int question_section(const uint8_t *msg, size_t len, const uint8_t **q,
                            size_t *qlen, unsigned *qd)
{
    struct hastls_dns_rd r;
    struct header h;
    hastls_dns_rd_init(&r, msg, len);
    HASTLS_GUARD(rd_through_questions(&r, &h));
    *qlen = r.off - HASTLS_DNS_HEADER_LEN;
    *qd = h.count[0];
    HASTLS_GUARD(hastls_dns_rd_seek(&r, HASTLS_DNS_HEADER_LEN));
    return hastls_dns_rd_bytes(&r, q, *qlen);
}

int hastls_dns_same_question(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    const uint8_t *qa, *qb;
    size_t la, lb;
    unsigned qda, qdb;
    if (question_section(a, alen, &qa, &la, &qda) < 0 ||
        question_section(b, blen, &qb, &lb, &qdb) < 0 || qda != qdb || la != lb)
        return 0;
    /* Length octets are below 64 and so unaffected by lower(); a compression
     * pointer in a question would compare as bytes, which is what we want. */
    for (size_t i = 0; i < la; i++)
        if (lower(qa[i]) != lower(qb[i]))
            return 0;
    return 1;
}

size_t hastls_dns_question_key(const uint8_t *msg, size_t len, uint8_t *key, size_t cap)
{
    const uint8_t *q;
    size_t n;
    unsigned qd;
    if (question_section(msg, len, &q, &n, &qd) < 0 || n == 0 || n > cap)
        return 0;
    for (size_t i = 0; i < n; i++)
        key[i] = lower(q[i]);
    return n;
}

/* Where the OPT record of a query is, if it has one. */
struct opt_place {
    int have;
    size_t start, rdlen_off, rdata_off, end;
    uint16_t rdlen;
};

/* Reads the records after the questions, finding the OPT record and refusing
 * what padding would break.  Leaves R at the end of the message. */
static int rd_find_opt(struct hastls_dns_rd *r, const struct header *h,
                       struct opt_place *opt)
{
    struct hastls_dns_rr rr;
    unsigned before_ar = (unsigned)h->count[1] + h->count[2];
    for (unsigned i = 0; i < before_ar; i++)
        HASTLS_GUARD(rd_rr(r, &rr));
    opt->have = 0;
    for (unsigned i = 0; i < h->count[3]; i++) {
        size_t start = r->off;
        HASTLS_GUARD(rd_rr(r, &rr));
        HASTLS_ENSURE(rr.type != HASTLS_DNS_TYPE_TSIG && rr.type != HASTLS_DNS_TYPE_SIG);
        if (rr.type != HASTLS_DNS_TYPE_OPT)
            continue;
        HASTLS_ENSURE(!opt->have); /* two OPT records: FORMERR per RFC 6891 */
        *opt = (struct opt_place){1,      start,   rr.rdata_off - 2, rr.rdata_off,
                                  r->off, rr.rdlen};
    }
    HASTLS_ENSURE(hastls_dns_rd_left(r) == 0); /* trailing garbage */
    return 0;
}

/* Copies the options of the OPT RDATA in R but Padding to W. */
static int copy_options_but_padding(struct hastls_dns_rd *r, struct hastls_dns_wr *w)
{
    while (hastls_dns_rd_left(r)) {
        uint16_t code, olen;
        const uint8_t *data;
        HASTLS_GUARD(hastls_dns_rd_u16(r, &code));
        HASTLS_GUARD(hastls_dns_rd_u16(r, &olen));
        HASTLS_GUARD(hastls_dns_rd_bytes(r, &data, olen));
        if (code == HASTLS_DNS_OPT_PADDING)
            continue;
        HASTLS_GUARD(hastls_dns_wr_u16(w, code));
        HASTLS_GUARD(hastls_dns_wr_u16(w, olen));
        HASTLS_GUARD(hastls_dns_wr_bytes(w, data, olen));
    }
    return 0;
}

int hastls_dns_pad(const uint8_t *in, size_t len, size_t block, uint8_t *out, size_t cap,
                   size_t *outlen)
{
    struct hastls_dns_rd r;
    struct hastls_dns_wr w;
    struct header h;
    struct opt_place opt;
    HASTLS_ENSURE(len <= HASTLS_DNS_MAX_MSG && block > 0 && block <= 4096);
    hastls_dns_rd_init(&r, in, len);
    HASTLS_GUARD(rd_through_questions(&r, &h));
    HASTLS_GUARD(rd_find_opt(&r, &h, &opt));

    /* Lay out: everything before the OPT RDATA, its options but Padding, a
     * new Padding option, then the records after the OPT record. */
    hastls_dns_wr_init(&w, out, cap);
    size_t rdlen_at, rest_off;
    if (opt.have) {
        HASTLS_GUARD(hastls_dns_wr_bytes(&w, in, opt.rdlen_off));
        rdlen_at = w.len;
        HASTLS_GUARD(hastls_dns_wr_u16(&w, 0));
        struct hastls_dns_rd o;
        hastls_dns_rd_init(&o, in + opt.rdata_off, opt.rdlen);
        HASTLS_GUARD(copy_options_but_padding(&o, &w));
        rest_off = opt.end;
    } else {
        /* Append an OPT record: root owner, type 41, class = UDP size,
         * TTL 0 (extended RCODE, version 0, no DO), RDLENGTH set below. */
        HASTLS_ENSURE(h.count[3] < 0xffff);
        HASTLS_GUARD(hastls_dns_wr_bytes(&w, in, len));
        HASTLS_GUARD(hastls_dns_wr_set16(&w, 10, (uint16_t)(h.count[3] + 1)));
        HASTLS_GUARD(hastls_dns_wr_u8(&w, 0));
        HASTLS_GUARD(hastls_dns_wr_u16(&w, HASTLS_DNS_TYPE_OPT));
        HASTLS_GUARD(hastls_dns_wr_u16(&w, HASTLS_DNS_EDNS_UDP_SIZE));
        HASTLS_GUARD(hastls_dns_wr_zeros(&w, 4));
        rdlen_at = w.len;
        HASTLS_GUARD(hastls_dns_wr_u16(&w, 0));
        rest_off = len; /* nothing follows */
    }
    size_t rest = len - rest_off;
    size_t base = w.len + 4 + rest;
    size_t padlen = (block - base % block) % block;
    HASTLS_ENSURE(base + padlen <= HASTLS_DNS_MAX_MSG);
    HASTLS_GUARD(hastls_dns_wr_u16(&w, HASTLS_DNS_OPT_PADDING));
    HASTLS_GUARD(hastls_dns_wr_u16(&w, (uint16_t)padlen));
    HASTLS_GUARD(hastls_dns_wr_zeros(&w, padlen));
    size_t rdlen = w.len - (rdlen_at + 2);
    HASTLS_ENSURE(rdlen <= 0xffff);
    HASTLS_GUARD(hastls_dns_wr_set16(&w, rdlen_at, (uint16_t)rdlen));
    HASTLS_GUARD(hastls_dns_wr_bytes(&w, in + rest_off, rest));
    *outlen = w.len;
    return 0;
}

int hastls_dns_upstream_query(const uint8_t *in, size_t len, uint16_t id, size_t block,
                              uint8_t *out, size_t cap, size_t *outlen)
{
    struct hastls_dns_wr w;
    struct hastls_dns_rd r;
    struct header h;
    hastls_dns_rd_init(&r, in, len);
    HASTLS_GUARD(rd_header(&r, &h));
    hastls_dns_wr_init(&w, out, cap);
    if (block == 0 || hastls_dns_pad(in, len, block, out, cap, &w.len) < 0) {
        /* Cannot pad (signed or odd message): send it as it is. */
        w.len = 0;
        HASTLS_GUARD(hastls_dns_wr_bytes(&w, in, len));
    }
    HASTLS_GUARD(hastls_dns_wr_set16(&w, 0, id));
    /* Checking Disabled: the upstream returns what it has even where its own
     * validation fails, so that our validator can say "bogus" and why
     * (RFC 4035 3.2.2), rather than seeing only SERVFAIL. */
    HASTLS_GUARD(hastls_dns_wr_set16(&w, 2, (uint16_t)(h.flags | FLAG_CD)));
    *outlen = w.len;
    return 0;
}

int hastls_dns_reply_for(const uint8_t *query, size_t qlen, const uint8_t *ans,
                         size_t alen, uint8_t *out, size_t cap, size_t *outlen)
{
    const uint8_t *qq, *aq;
    size_t qn, an;
    unsigned qd;
    struct hastls_dns_rd r;
    struct hastls_dns_wr w;
    const uint8_t *flags_counts, *rest;
    HASTLS_ENSURE(hastls_dns_same_question(query, qlen, ans, alen));
    HASTLS_GUARD(question_section(query, qlen, &qq, &qn, &qd));
    HASTLS_GUARD(question_section(ans, alen, &aq, &an, &qd));
    HASTLS_ENSURE(qn == an);
    hastls_dns_rd_init(&r, ans, alen);
    HASTLS_GUARD(hastls_dns_rd_skip(&r, 2));
    HASTLS_GUARD(hastls_dns_rd_bytes(&r, &flags_counts, HASTLS_DNS_HEADER_LEN - 2));
    HASTLS_GUARD(hastls_dns_rd_skip(&r, an));
    size_t restlen = hastls_dns_rd_left(&r);
    HASTLS_GUARD(hastls_dns_rd_bytes(&r, &rest, restlen));
    hastls_dns_wr_init(&w, out, cap);
    HASTLS_GUARD(hastls_dns_wr_u16(&w, hastls_dns_id(query)));
    HASTLS_GUARD(hastls_dns_wr_bytes(&w, flags_counts, HASTLS_DNS_HEADER_LEN - 2));
    /* Same question, same length: give it back exactly as it was asked. */
    HASTLS_GUARD(hastls_dns_wr_bytes(&w, qq, qn));
    HASTLS_GUARD(hastls_dns_wr_bytes(&w, rest, restlen));
    *outlen = w.len;
    return 0;
}

int hastls_dns_build_query(const uint8_t *name, size_t nlen, uint16_t type, int dnssec_ok,
                           uint8_t *out, size_t cap, size_t *outlen, size_t *qend)
{
    size_t labels[HASTLS_DNS_MAX_WIRE_NAME / 2 + 1], n, end;
    struct hastls_dns_wr w;
    HASTLS_GUARD(hastls_dns_name_labels(name, nlen, 0, labels,
                                        sizeof labels / sizeof labels[0], &n, &end));
    HASTLS_ENSURE(end == nlen);
    hastls_dns_wr_init(&w, out, cap);
    static const uint16_t hdr[6] = {0, FLAG_RD, 1, 0, 0, 1}; /* one question, OPT */
    for (int i = 0; i < 6; i++)
        HASTLS_GUARD(hastls_dns_wr_u16(&w, hdr[i]));
    HASTLS_GUARD(hastls_dns_wr_bytes(&w, name, nlen));
    HASTLS_GUARD(hastls_dns_wr_u16(&w, type));
    HASTLS_GUARD(hastls_dns_wr_u16(&w, 1)); /* IN */
    *qend = w.len;
    HASTLS_GUARD(hastls_dns_wr_u8(&w, 0)); /* OPT: root owner */
    HASTLS_GUARD(hastls_dns_wr_u16(&w, HASTLS_DNS_TYPE_OPT));
    HASTLS_GUARD(hastls_dns_wr_u16(&w, HASTLS_DNS_EDNS_UDP_SIZE));
    HASTLS_GUARD(hastls_dns_wr_u16(&w, 0)); /* extended RCODE, version */
    HASTLS_GUARD(hastls_dns_wr_u16(&w, dnssec_ok ? 0x8000 : 0));
    HASTLS_GUARD(hastls_dns_wr_u16(&w, 0)); /* RDLENGTH */
    *outlen = w.len;
    return 0;
}

size_t hastls_dns_servfail(const uint8_t *query, size_t qend, uint8_t *out, size_t cap)
{
    struct hastls_dns_rd r;
    struct hastls_dns_wr w;
    struct header h;
    const uint8_t *question;
    hastls_dns_rd_init(&r, query, qend);
    if (rd_header(&r, &h) < 0 || hastls_dns_rd_bytes(&r, &question, qend - r.off) < 0)
        return 0;
    /* QR, opcode and RD kept; RA, CD kept, RCODE SERVFAIL. */
    uint16_t flags = (uint16_t)(FLAG_QR | (h.flags & 0x7900) | 0x0080 |
                                (h.flags & FLAG_CD) | HASTLS_DNS_RCODE_SERVFAIL);
    static const uint16_t counts[4] = {1, 0, 0, 0};
    hastls_dns_wr_init(&w, out, cap);
    if (hastls_dns_wr_u16(&w, h.id) < 0 || hastls_dns_wr_u16(&w, flags) < 0)
        return 0;
    for (int i = 0; i < 4; i++)
        if (hastls_dns_wr_u16(&w, counts[i]) < 0)
            return 0;
    if (hastls_dns_wr_bytes(&w, question, qend - HASTLS_DNS_HEADER_LEN) < 0)
        return 0;
    return w.len;
}

int hastls_dns_answer_records(const uint8_t *msg, size_t len, uint16_t qtype,
                              struct hastls_rr *out, size_t cap, size_t *n, size_t *total)
{
    struct hastls_dns_rd r;
    struct header h;
    struct hastls_dns_rr rr;
    size_t found = 0, kept = 0;
    hastls_dns_rd_init(&r, msg, len);
    HASTLS_GUARD(rd_through_questions(&r, &h));
    for (unsigned i = 0; i < h.count[1]; i++) {
        HASTLS_GUARD(rd_rr(&r, &rr));
        if (rr.type != qtype || rr.rrclass != 1)
            continue;
        found++;
        if (kept < cap) {
            out[kept].type = rr.type;
            out[kept].rdlen = rr.rdlen;
            out[kept].ttl = rr.ttl;
            out[kept].rdata = msg + rr.rdata_off; /* rd_rr checked it is inside */
            kept++;
        }
    }
    *n = kept;
    if (total)
        *total = found;
    return 0;
}

int hastls_dns_stream_next(const uint8_t *buf, size_t len, size_t *off,
                           const uint8_t **msg, size_t *msglen)
{
    struct hastls_dns_rd r;
    uint16_t m;
    const uint8_t *p;
    hastls_dns_rd_init(&r, buf, len);
    if (hastls_dns_rd_seek(&r, *off) < 0 || hastls_dns_rd_u16(&r, &m) < 0 ||
        hastls_dns_rd_bytes(&r, &p, m) < 0)
        return 0;
    *msg = p;
    *msglen = m;
    *off = r.off;
    return 1;
}

int hastls_dns_frame(const uint8_t *buf, size_t len, size_t *msglen)
{
    size_t off = 0;
    const uint8_t *msg;
    return hastls_dns_stream_next(buf, len, &off, &msg, msglen);
}

int hastls_dns_stream_prefix(uint8_t out[2], size_t len)
{
    struct hastls_dns_wr w;
    HASTLS_ENSURE(len <= HASTLS_DNS_MAX_MSG);
    hastls_dns_wr_init(&w, out, 2);
    return hastls_dns_wr_u16(&w, (uint16_t)len);
}

int hastls_dns_stream_put(struct hastls_dns_wr *w, const uint8_t *msg, size_t len)
{
    HASTLS_ENSURE(len <= HASTLS_DNS_MAX_MSG && hastls_dns_wr_left(w) >= 2 + len);
    HASTLS_GUARD(hastls_dns_wr_u16(w, (uint16_t)len));
    return hastls_dns_wr_bytes(w, msg, len);
}

/* ---- a program's own queries, answered by the shim ---- */

#define FLAG_AD 0x0020
#define FLAG_RA 0x0080
#define OPCODE_MASK 0x7800
#define RCODE_BADVERS 16
#define TYPE_IXFR 251
#define TYPE_AXFR 252
#define CLASS_IN 1
#define OPT_DO 0x8000

/* Reads the records after the question of a query into Q: the OPT record's
 * fields.  Returns 0, or -1 for malformed records or two OPT records. */
static int rd_client_opt(struct hastls_dns_rd *r, const struct header *h,
                         struct hastls_dns_client_query *q)
{
    struct hastls_dns_rr rr;
    unsigned n = (unsigned)h->count[1] + h->count[2] + h->count[3];
    for (unsigned i = 0; i < n; i++) {
        HASTLS_GUARD(rd_rr(r, &rr));
        if (rr.type != HASTLS_DNS_TYPE_OPT)
            continue;
        HASTLS_ENSURE(i >= (unsigned)h->count[1] + h->count[2]); /* additional only */
        HASTLS_ENSURE(!q->edns);
        HASTLS_ENSURE(r->p[rr.owner_off] == 0); /* owner: the root */
        q->edns = 1;
        q->udp_size =
            rr.rrclass < HASTLS_DNS_UDP_PLAIN ? HASTLS_DNS_UDP_PLAIN : rr.rrclass;
        q->edns_version = (uint8_t)(rr.ttl >> 16);
        q->dnssec_ok = (rr.ttl & OPT_DO) != 0;
    }
    return 0;
}

int hastls_dns_client_query_parse(const uint8_t *msg, size_t len,
                                  struct hastls_dns_client_query *q)
{
    struct hastls_dns_rd r;
    struct header h;
    memset(q, 0, sizeof *q);
    q->udp_size = HASTLS_DNS_UDP_PLAIN;
    HASTLS_ENSURE(len <= HASTLS_DNS_MAX_MSG);
    hastls_dns_rd_init(&r, msg, len);
    HASTLS_GUARD(rd_header(&r, &h));
    HASTLS_ENSURE(!(h.flags & FLAG_QR)); /* never answer an answer */
    q->id = h.id;
    q->flags = h.flags;
    if (h.count[0] == 1) {
        size_t labels[128], n, end;
        uint16_t type, cls;
        if (hastls_dns_name_labels(msg, len, r.off, labels, 128, &n, &end) == 0 &&
            hastls_dns_rd_seek(&r, end) == 0 && hastls_dns_rd_u16(&r, &type) == 0 &&
            hastls_dns_rd_u16(&r, &cls) == 0) {
            q->q = (struct hastls_dns_question){
                HASTLS_DNS_HEADER_LEN, end - HASTLS_DNS_HEADER_LEN, type, cls, r.off};
            q->qd_ok = 1;
        }
    }
    if ((h.flags & OPCODE_MASK) != 0)
        q->rcode = HASTLS_DNS_RCODE_NOTIMP;
    else if (!q->qd_ok || rd_client_opt(&r, &h, q) < 0)
        q->rcode = HASTLS_DNS_RCODE_FORMERR;
    else if (q->edns && q->edns_version != 0)
        q->rcode = RCODE_BADVERS;
    else if (q->q.qclass != CLASS_IN || q->q.qtype == TYPE_AXFR ||
             q->q.qtype == TYPE_IXFR)
        q->rcode = HASTLS_DNS_RCODE_REFUSED;
    return 0;
}

size_t hastls_dns_client_udp_limit(const struct hastls_dns_client_query *q)
{
    if (!q->edns)
        return HASTLS_DNS_UDP_PLAIN;
    return q->udp_size < HASTLS_DNS_EDNS_UDP_SIZE ? q->udp_size
                                                  : HASTLS_DNS_EDNS_UDP_SIZE;
}

static int wr_header(struct hastls_dns_wr *w, uint16_t id, uint16_t flags)
{
    HASTLS_GUARD(hastls_dns_wr_u16(w, id));
    HASTLS_GUARD(hastls_dns_wr_u16(w, flags));
    return hastls_dns_wr_zeros(w, 8); /* counts, set as records are written */
}

/* Adds one to the count of SECTION (0 qd .. 3 ar) in the header W holds. */
static int wr_count(struct hastls_dns_wr *w, int section)
{
    size_t at = 4 + 2 * (size_t)section;
    HASTLS_ENSURE(w->len >= HASTLS_DNS_HEADER_LEN);
    uint16_t n = (uint16_t)((w->p[at] << 8) | w->p[at + 1]);
    HASTLS_ENSURE(n < 0xffff);
    return hastls_dns_wr_set16(w, at, (uint16_t)(n + 1));
}

/* The query's question section, as the program sent it. */
static int wr_client_question(struct hastls_dns_wr *w, const uint8_t *query, size_t qlen,
                              const struct hastls_dns_client_query *q)
{
    struct hastls_dns_rd r;
    const uint8_t *bytes;
    hastls_dns_rd_init(&r, query, qlen);
    HASTLS_GUARD(hastls_dns_rd_seek(&r, q->q.name_off));
    HASTLS_GUARD(hastls_dns_rd_bytes(&r, &bytes, q->q.end - q->q.name_off));
    HASTLS_GUARD(hastls_dns_wr_bytes(w, bytes, q->q.end - q->q.name_off));
    return wr_count(w, 0);
}

/* The OPT record of an answer to Q (none when Q had none): our UDP size, the
 * extended RCODE bits of RCODE, DO echoed, and an EDE option when EDE >= 0. */
static int wr_client_opt(struct hastls_dns_wr *w, const struct hastls_dns_client_query *q,
                         int rcode, int ede, const char *text)
{
    if (!q->edns)
        return 0;
    size_t tlen = text ? strnlen(text, HASTLS_DNS_EDE_TEXT_MAX) : 0;
    HASTLS_GUARD(hastls_dns_wr_u8(w, 0)); /* the root */
    HASTLS_GUARD(hastls_dns_wr_u16(w, HASTLS_DNS_TYPE_OPT));
    HASTLS_GUARD(hastls_dns_wr_u16(w, HASTLS_DNS_EDNS_UDP_SIZE));
    HASTLS_GUARD(hastls_dns_wr_u8(w, (uint8_t)((unsigned)rcode >> 4)));
    HASTLS_GUARD(hastls_dns_wr_u8(w, 0)); /* version */
    HASTLS_GUARD(hastls_dns_wr_u16(w, q->dnssec_ok ? OPT_DO : 0));
    if (ede < 0) {
        HASTLS_GUARD(hastls_dns_wr_u16(w, 0));
    } else {
        HASTLS_GUARD(hastls_dns_wr_u16(w, (uint16_t)(6 + tlen)));
        HASTLS_GUARD(hastls_dns_wr_u16(w, HASTLS_DNS_OPT_EDE));
        HASTLS_GUARD(hastls_dns_wr_u16(w, (uint16_t)(2 + tlen)));
        HASTLS_GUARD(hastls_dns_wr_u16(w, (uint16_t)ede));
        HASTLS_GUARD(hastls_dns_wr_bytes(w, text, tlen));
    }
    return wr_count(w, 3);
}

/* The flags of an answer to Q with RCODE: QR, RA, the query's RD and CD. */
static uint16_t client_flags(const struct hastls_dns_client_query *q, int rcode)
{
    return (uint16_t)(FLAG_QR | FLAG_RA | (q->flags & (FLAG_RD | FLAG_CD)) |
                      ((unsigned)rcode & RCODE_MASK));
}

int hastls_dns_client_error(const uint8_t *query, size_t qlen,
                            const struct hastls_dns_client_query *q, int rcode, int ede,
                            const char *text, uint8_t *out, size_t cap, size_t *outlen)
{
    struct hastls_dns_wr w;
    if (q->rcode)
        rcode = q->rcode;
    hastls_dns_wr_init(&w, out, cap);
    uint16_t flags = client_flags(q, rcode);
    if (rcode == HASTLS_DNS_RCODE_NOTIMP)
        flags |= q->flags & OPCODE_MASK;
    HASTLS_GUARD(wr_header(&w, q->id, flags));
    if (q->qd_ok)
        HASTLS_GUARD(wr_client_question(&w, query, qlen, q));
    HASTLS_GUARD(wr_client_opt(&w, q, rcode, ede, text));
    *outlen = w.len;
    return 0;
}

/* The possibly compressed name at R's position, uncompressed into
 * NAME[0..*NLEN); R moves past the name as it is in place.  Pointers go
 * strictly backwards, as in hastls_dns_read_name. */
static int rd_expand_name(struct hastls_dns_rd *r, uint8_t name[HASTLS_DNS_MAX_WIRE_NAME],
                          size_t *nlen)
{
    struct hastls_dns_rd s = *r;
    size_t limit = r->off, o = 0;
    int jumped = 0;
    for (;;) {
        uint8_t c;
        HASTLS_GUARD(hastls_dns_rd_u8(&s, &c));
        if ((c & 0xc0) == 0xc0) {
            uint8_t lo;
            HASTLS_GUARD(hastls_dns_rd_u8(&s, &lo));
            size_t target = ((size_t)(c & 0x3f) << 8) | lo;
            if (!jumped)
                r->off = s.off;
            jumped = 1;
            HASTLS_ENSURE(target < limit);
            limit = target;
            HASTLS_GUARD(hastls_dns_rd_seek(&s, target));
            continue;
        }
        HASTLS_ENSURE((c & 0xc0) == 0);
        HASTLS_ENSURE(o + 1 + (size_t)c <= HASTLS_DNS_MAX_WIRE_NAME);
        name[o++] = c;
        if (c == 0) {
            if (!jumped)
                r->off = s.off;
            *nlen = o;
            return 0;
        }
        const uint8_t *label;
        HASTLS_GUARD(hastls_dns_rd_bytes(&s, &label, c));
        memcpy(name + o, label, c);
        o += c;
    }
}

/* Whether the uncompressed NAME equals the question's name (ASCII case
 * ignored): then a pointer to offset 12 stands for it. */
static int is_question_name(const uint8_t *name, size_t nlen, const uint8_t *query,
                            size_t qlen, const struct hastls_dns_client_query *q)
{
    if (nlen != q->q.name_len || q->q.name_off + nlen > qlen)
        return 0;
    for (size_t i = 0; i < nlen; i++)
        if (lower(name[i]) != lower(query[q->q.name_off + i]))
            return 0;
    return 1;
}

/* How a record type's RDATA holds names that may be compressed: FIXED bytes
 * before the first name, NAMES names, then TAIL bytes (-1: any). */
struct rdata_shape {
    uint8_t fixed, names;
    int tail;
};

static struct rdata_shape rdata_shape(uint16_t type)
{
    switch (type) {
    case 2:
    case 3:
    case 4:
    case 5:
    case 7:
    case 8:
    case 9:
    case 12:
    case 39:
        return (struct rdata_shape){0, 1, 0}; /* NS MD MF CNAME MB MG MR PTR DNAME */
    case 6:
        return (struct rdata_shape){0, 2, 20}; /* SOA */
    case 14:
    case 17:
        return (struct rdata_shape){0, 2, 0}; /* MINFO RP */
    case 15:
    case 18:
    case 21:
    case 36:
        return (struct rdata_shape){2, 1, 0}; /* MX AFSDB RT KX */
    case 33:
        return (struct rdata_shape){6, 1, 0}; /* SRV */
    default:
        return (struct rdata_shape){0, 0, -1}; /* no names to expand */
    }
}

/* Copies the RDATA of RR (in the message MSG reads) to W with its names
 * uncompressed, its length field first.  Everything is read before anything
 * is written.  Returns 0, -1 for malformed RDATA, -2 when W is full. */
static int copy_rdata(const struct hastls_dns_rd *msg, const struct hastls_dns_rr *rr,
                      struct hastls_dns_wr *w)
{
    struct rdata_shape sh = rdata_shape(rr->type);
    struct hastls_dns_rd r = *msg;
    size_t end = rr->rdata_off + rr->rdlen;
    const uint8_t *head, *tail;
    uint8_t names[2][HASTLS_DNS_MAX_WIRE_NAME];
    size_t nlen[2] = {0, 0}, tlen = 0;
    HASTLS_GUARD(hastls_dns_rd_seek(&r, rr->rdata_off));
    if (sh.tail < 0) {
        HASTLS_GUARD(hastls_dns_rd_bytes(&r, &head, rr->rdlen));
        sh.fixed = 0;
        sh.names = 0;
        tail = head;
        tlen = rr->rdlen;
    } else {
        HASTLS_ENSURE(rr->rdlen >= sh.fixed);
        HASTLS_GUARD(hastls_dns_rd_bytes(&r, &head, sh.fixed));
        for (unsigned i = 0; i < sh.names; i++) {
            HASTLS_GUARD(rd_expand_name(&r, names[i], &nlen[i]));
            HASTLS_ENSURE(r.off <= end);
        }
        HASTLS_ENSURE(end - r.off == (size_t)sh.tail);
        tlen = (size_t)sh.tail;
        HASTLS_GUARD(hastls_dns_rd_bytes(&r, &tail, tlen));
    }
    size_t total = sh.fixed + nlen[0] + nlen[1] + tlen;
    HASTLS_ENSURE(total <= 0xffff);
    if (hastls_dns_wr_u16(w, (uint16_t)total) < 0 ||
        hastls_dns_wr_bytes(w, head, sh.fixed) < 0 ||
        hastls_dns_wr_bytes(w, names[0], nlen[0]) < 0 ||
        hastls_dns_wr_bytes(w, names[1], nlen[1]) < 0 ||
        hastls_dns_wr_bytes(w, tail, tlen) < 0)
        return -2;
    return 0;
}

/* Whether the answer to Q carries a record of TYPE: DNSSEC records only for
 * DO (or when asked for by type); the response's OPT record never. */
static int client_keeps(const struct hastls_dns_client_query *q, uint16_t type)
{
    if (type == HASTLS_DNS_TYPE_OPT)
        return 0;
    if (q->dnssec_ok || type == q->q.qtype)
        return 1;
    return type != HASTLS_DNS_TYPE_RRSIG && type != HASTLS_DNS_TYPE_NSEC &&
           type != HASTLS_DNS_TYPE_NSEC3;
}

/* Reads the records of the response R (past its question, header PH) and
 * writes those the answer keeps to W.  Returns 0, -1 for a malformed
 * response, -2 when W is full. */
static int copy_records(struct hastls_dns_rd *r, const struct header *ph,
                        const uint8_t *query, size_t qlen,
                        const struct hastls_dns_client_query *q, struct hastls_dns_wr *w)
{
    for (int sec = 1; sec <= 3; sec++)
        for (unsigned i = 0; i < ph->count[sec]; i++) {
            struct hastls_dns_rr rr;
            struct hastls_dns_rd at = *r;
            uint8_t name[HASTLS_DNS_MAX_WIRE_NAME];
            size_t nlen;
            HASTLS_GUARD(rd_rr(r, &rr));
            HASTLS_GUARD(hastls_dns_rd_seek(&at, rr.owner_off));
            HASTLS_GUARD(rd_expand_name(&at, name, &nlen));
            if (!client_keeps(q, rr.type))
                continue;
            int full = 0;
            if (is_question_name(name, nlen, query, qlen, q))
                full = hastls_dns_wr_u16(w, 0xc000 | HASTLS_DNS_HEADER_LEN) < 0;
            else
                full = hastls_dns_wr_bytes(w, name, nlen) < 0;
            full = full || hastls_dns_wr_u16(w, rr.type) < 0 ||
                   hastls_dns_wr_u16(w, rr.rrclass) < 0 ||
                   hastls_dns_wr_u16(w, (uint16_t)(rr.ttl >> 16)) < 0 ||
                   hastls_dns_wr_u16(w, (uint16_t)rr.ttl) < 0;
            if (full)
                return -2;
            struct hastls_dns_rd whole = *r;
            HASTLS_GUARD(hastls_dns_rd_seek(&whole, 0));
            int rc = copy_rdata(&whole, &rr, w);
            if (rc < 0)
                return rc;
            HASTLS_GUARD(wr_count(w, sec));
        }
    return 0;
}

int hastls_dns_client_reply(const uint8_t *query, size_t qlen,
                            const struct hastls_dns_client_query *q, const uint8_t *pkt,
                            size_t plen, int secure, size_t limit, uint8_t *out,
                            size_t cap, size_t *outlen)
{
    struct hastls_dns_rd r;
    struct hastls_dns_wr w;
    struct header ph;
    HASTLS_ENSURE(q->qd_ok && q->rcode == 0);
    HASTLS_ENSURE(hastls_dns_same_question(query, qlen, pkt, plen));
    hastls_dns_rd_init(&r, pkt, plen);
    HASTLS_GUARD(rd_through_questions(&r, &ph));
    HASTLS_ENSURE(ph.count[0] == 1);
    int rcode = ph.flags & RCODE_MASK;
    uint16_t flags = client_flags(q, rcode);
    if (secure && ((q->flags & FLAG_AD) || q->dnssec_ok))
        flags |= FLAG_AD;
    if (cap > limit)
        cap = limit;
    hastls_dns_wr_init(&w, out, cap);
    HASTLS_GUARD(wr_header(&w, q->id, flags));
    HASTLS_GUARD(wr_client_question(&w, query, qlen, q));
    int rc = copy_records(&r, &ph, query, qlen, q, &w);
    if (rc == -1)
        return -1;
    if (rc == 0 && wr_client_opt(&w, q, rcode, -1, NULL) == 0) {
        *outlen = w.len;
        return 0;
    }
    /* Over the limit: the question alone, truncated, so the client asks
     * again over TCP. */
    hastls_dns_wr_init(&w, out, cap);
    HASTLS_GUARD(wr_header(&w, q->id, (uint16_t)(flags | FLAG_TC)));
    HASTLS_GUARD(wr_client_question(&w, query, qlen, q));
    HASTLS_GUARD(wr_client_opt(&w, q, rcode, -1, NULL));
    *outlen = w.len;
    return 0;
}

int hastls_dns_target_name(const uint8_t *msg, size_t len, uint16_t type,
                           const uint8_t *rdata, size_t rdlen, char *out, size_t outlen)
{
    size_t skip;
    if (type == 15)
        skip = 2; /* MX: preference */
    else if (type == 33)
        skip = 6; /* SRV: priority, weight, port */
    else
        return -1;
    struct hastls_dns_rd r;
    const uint8_t *fixed, *name;
    HASTLS_ENSURE_REF(rdata);
    hastls_dns_rd_init(&r, rdata, rdlen);
    HASTLS_GUARD(hastls_dns_rd_bytes(&r, &fixed, skip));
    HASTLS_GUARD(hastls_dns_rd_bytes(&r, &name, hastls_dns_rd_left(&r)));
    return hastls_dns_ptr_target(msg, len, name, rdlen - skip, out, outlen);
}
