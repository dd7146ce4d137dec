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
