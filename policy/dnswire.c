/* policy/dnswire.c: DNS wire-format helpers (see dnswire.h). */
#include "policy/dnswire.h"

#include <string.h>

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

uint16_t hastls_dns_id(const uint8_t *msg)
{
    return get16(msg);
}

void hastls_dns_set_id(uint8_t *msg, uint16_t id)
{
    put16(msg, id);
}

uint16_t hastls_dns_count(const uint8_t *msg, int section)
{
    return get16(msg + 4 + 2 * section);
}

int hastls_dns_skip_name(const uint8_t *msg, size_t len, size_t off, size_t *next)
{
    size_t total = 0;
    for (;;) {
        if (off >= len)
            return -1;
        uint8_t c = msg[off];
        if ((c & 0xc0) == 0xc0) {
            if (len - off < 2)
                return -1;
            *next = off + 2;
            return 0;
        }
        if (c & 0xc0) /* 0x40 and 0x80: extended label types, obsolete */
            return -1;
        if (c == 0) {
            *next = off + 1;
            return 0;
        }
        total += (size_t)c + 1;
        if (total > 255 || len - off - 1 < c)
            return -1;
        off += (size_t)c + 1;
    }
}

int hastls_dns_read_name(const uint8_t *msg, size_t len, size_t off, char *out,
                         size_t outlen, size_t *next)
{
    size_t o = 0, wire = 0;
    int jumped = 0;
    /* A pointer must point before where the current run of labels started
     * (names only refer to earlier names), so every jump goes strictly
     * backwards and a loop cannot happen.  LIMIT is that bound. */
    size_t limit = off;
    if (outlen < 2)
        return -1;
    for (;;) {
        if (off >= len)
            return -1;
        uint8_t c = msg[off];
        if ((c & 0xc0) == 0xc0) {
            if (len - off < 2)
                return -1;
            size_t target = ((size_t)(c & 0x3f) << 8) | msg[off + 1];
            if (!jumped)
                *next = off + 2;
            jumped = 1;
            if (target >= limit)
                return -1;
            limit = target;
            off = target;
            continue;
        }
        if (c & 0xc0)
            return -1;
        if (c == 0) {
            if (!jumped)
                *next = off + 1;
            if (o == 0)
                out[o++] = '.';
            out[o] = '\0';
            return 0;
        }
        wire += (size_t)c + 1;
        if (wire > 255 || len - off - 1 < c)
            return -1;
        if (o != 0) {
            if (o + 1 >= outlen)
                return -1;
            out[o++] = '.';
        }
        for (size_t i = 0; i < c; i++) {
            uint8_t ch = msg[off + 1 + i];
            /* Escape what would make the text ambiguous or unprintable. */
            if (ch == '.' || ch == '\\' || ch <= 0x20 || ch >= 0x7f) {
                if (o + 4 >= outlen)
                    return -1;
                out[o++] = '\\';
                out[o++] = (char)('0' + ch / 100);
                out[o++] = (char)('0' + ch / 10 % 10);
                out[o++] = (char)('0' + ch % 10);
            } else {
                if (o + 1 >= outlen)
                    return -1;
                out[o++] = (char)ch;
            }
        }
        off += (size_t)c + 1;
    }
}

int hastls_dns_parse_rr(const uint8_t *msg, size_t len, size_t off,
                        struct hastls_dns_rr *rr, size_t *next)
{
    size_t p;
    if (hastls_dns_skip_name(msg, len, off, &p) < 0)
        return -1;
    if (len - p < 10)
        return -1;
    rr->owner_off = off;
    rr->type = get16(msg + p);
    rr->rrclass = get16(msg + p + 2);
    rr->ttl = ((uint32_t)get16(msg + p + 4) << 16) | get16(msg + p + 6);
    rr->rdlen = get16(msg + p + 8);
    p += 10;
    if (len - p < rr->rdlen)
        return -1;
    rr->rdata_off = p;
    *next = p + rr->rdlen;
    return 0;
}

/* Skips QD questions starting at OFF. */
static int skip_questions(const uint8_t *msg, size_t len, size_t off, unsigned qd,
                          size_t *next)
{
    for (unsigned i = 0; i < qd; i++) {
        if (hastls_dns_skip_name(msg, len, off, &off) < 0 || len - off < 4)
            return -1;
        off += 4;
    }
    *next = off;
    return 0;
}

int hastls_dns_check_query(const uint8_t *msg, size_t len, size_t *qend)
{
    if (len < HASTLS_DNS_HEADER_LEN || len > HASTLS_DNS_MAX_MSG)
        return -1;
    if (msg[2] & 0x80) /* QR: an answer, not a query */
        return -1;
    if (hastls_dns_count(msg, 0) != 1)
        return -1;
    return skip_questions(msg, len, HASTLS_DNS_HEADER_LEN, 1, qend);
}

int hastls_dns_has_do(const uint8_t *msg, size_t len)
{
    size_t off;
    struct hastls_dns_rr rr;
    if (len < HASTLS_DNS_HEADER_LEN || skip_questions(msg, len, HASTLS_DNS_HEADER_LEN,
                                                      hastls_dns_count(msg, 0), &off) < 0)
        return -1;
    unsigned n = (unsigned)hastls_dns_count(msg, 1) + hastls_dns_count(msg, 2) +
                 hastls_dns_count(msg, 3);
    int found = 0;
    for (unsigned i = 0; i < n; i++) {
        if (hastls_dns_parse_rr(msg, len, off, &rr, &off) < 0)
            return -1;
        if (rr.type == HASTLS_DNS_TYPE_OPT && (rr.ttl & 0x8000))
            found = 1;
    }
    return found;
}

static uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

int hastls_dns_same_question(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t aend, bend;
    if (alen < HASTLS_DNS_HEADER_LEN || blen < HASTLS_DNS_HEADER_LEN)
        return 0;
    unsigned qd = hastls_dns_count(a, 0);
    if (qd != hastls_dns_count(b, 0))
        return 0;
    if (skip_questions(a, alen, HASTLS_DNS_HEADER_LEN, qd, &aend) < 0 ||
        skip_questions(b, blen, HASTLS_DNS_HEADER_LEN, qd, &bend) < 0 || aend != bend)
        return 0;
    /* Length octets are below 64 and so unaffected by lower(); a compression
     * pointer in a question would compare as bytes, which is what we want. */
    for (size_t i = HASTLS_DNS_HEADER_LEN; i < aend; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return 1;
}

int hastls_dns_pad(const uint8_t *in, size_t len, size_t block, uint8_t *out, size_t cap,
                   size_t *outlen)
{
    size_t off, rr_end;
    struct hastls_dns_rr rr;
    if (len < HASTLS_DNS_HEADER_LEN || len > HASTLS_DNS_MAX_MSG || block == 0 ||
        block > 4096)
        return -1;
    if (skip_questions(in, len, HASTLS_DNS_HEADER_LEN, hastls_dns_count(in, 0), &off) < 0)
        return -1;
    unsigned before_ar = (unsigned)hastls_dns_count(in, 1) + hastls_dns_count(in, 2);
    for (unsigned i = 0; i < before_ar; i++)
        if (hastls_dns_parse_rr(in, len, off, &rr, &off) < 0)
            return -1;
    /* Find the OPT record in the additional section. */
    unsigned ar = hastls_dns_count(in, 3);
    size_t opt_off = 0, opt_end = 0;
    int have_opt = 0;
    for (unsigned i = 0; i < ar; i++) {
        size_t start = off;
        if (hastls_dns_parse_rr(in, len, off, &rr, &rr_end) < 0)
            return -1;
        if (rr.type == HASTLS_DNS_TYPE_TSIG || rr.type == HASTLS_DNS_TYPE_SIG)
            return -1;
        if (rr.type == HASTLS_DNS_TYPE_OPT) {
            if (have_opt)
                return -1; /* two OPT records: FORMERR per RFC 6891 */
            have_opt = 1;
            opt_off = start;
            opt_end = rr_end;
        }
        off = rr_end;
    }
    if (off != len)
        return -1; /* trailing garbage */

    /* Lay out: [0, opt rdata) + options without Padding + Padding + rest. */
    size_t o;
    size_t opt_rdata_off, opt_rdlen_off;
    if (have_opt) {
        if (hastls_dns_parse_rr(in, len, opt_off, &rr, &rr_end) < 0)
            return -1;
        opt_rdata_off = rr.rdata_off;
        opt_rdlen_off = rr.rdata_off - 2;
        if (opt_rdata_off > cap)
            return -1;
        memcpy(out, in, opt_rdata_off);
        o = opt_rdata_off;
        size_t p = rr.rdata_off, end = rr.rdata_off + rr.rdlen;
        while (p < end) {
            if (end - p < 4)
                return -1;
            uint16_t code = get16(in + p), olen = get16(in + p + 2);
            if (end - p - 4 < olen)
                return -1;
            if (code != HASTLS_DNS_OPT_PADDING) {
                if (cap - o < 4u + olen)
                    return -1;
                memcpy(out + o, in + p, 4u + olen);
                o += 4u + olen;
            }
            p += 4u + olen;
        }
    } else {
        /* Append an OPT record: root owner, type 41, class = UDP size 1232,
         * TTL 0 (extended RCODE, version 0, no DO), RDLENGTH set below. */
        static const uint8_t opt_hdr[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
        if (cap < len + sizeof opt_hdr)
            return -1;
        memcpy(out, in, len);
        memcpy(out + len, opt_hdr, sizeof opt_hdr);
        opt_rdlen_off = len + 9;
        opt_rdata_off = len + sizeof opt_hdr;
        o = opt_rdata_off;
        opt_end = len; /* nothing follows */
        put16(out + 10, (uint16_t)(ar + 1));
        if (ar + 1 > 0xffff)
            return -1;
    }
    size_t rest = have_opt ? len - opt_end : 0;
    size_t base = o + 4 + rest;
    size_t padlen = (block - base % block) % block;
    if (base + padlen > HASTLS_DNS_MAX_MSG || cap < base + padlen)
        return -1;
    put16(out + o, HASTLS_DNS_OPT_PADDING);
    put16(out + o + 2, (uint16_t)padlen);
    memset(out + o + 4, 0, padlen);
    o += 4 + padlen;
    size_t rdlen = o - opt_rdata_off;
    if (rdlen > 0xffff)
        return -1;
    put16(out + opt_rdlen_off, (uint16_t)rdlen);
    if (rest)
        memcpy(out + o, in + opt_end, rest);
    o += rest;
    *outlen = o;
    return 0;
}

int hastls_dns_frame(const uint8_t *buf, size_t len, size_t *msglen)
{
    if (len < 2)
        return 0;
    size_t m = get16(buf);
    if (len - 2 < m)
        return 0;
    *msglen = m;
    return 1;
}

size_t hastls_dns_servfail(const uint8_t *query, size_t qend, uint8_t *out, size_t cap)
{
    if (qend < HASTLS_DNS_HEADER_LEN || cap < qend)
        return 0;
    memcpy(out, query, qend);
    out[2] = (uint8_t)(0x80 | (query[2] & 0x79)); /* QR, opcode and RD kept */
    out[3] = (uint8_t)(0x80 | (query[3] & 0x10) | HASTLS_DNS_RCODE_SERVFAIL); /* RA, CD */
    put16(out + 4, 1);
    put16(out + 6, 0);
    put16(out + 8, 0);
    put16(out + 10, 0);
    return qend;
}

int hastls_dns_answer_records(const uint8_t *msg, size_t len, uint16_t qtype,
                              struct hastls_rr *out, size_t cap, size_t *n, size_t *total)
{
    size_t off, found = 0, kept = 0;
    struct hastls_dns_rr rr;
    if (len < HASTLS_DNS_HEADER_LEN)
        return -1;
    if (skip_questions(msg, len, HASTLS_DNS_HEADER_LEN, hastls_dns_count(msg, 0), &off) <
        0)
        return -1;
    unsigned an = hastls_dns_count(msg, 1);
    for (unsigned i = 0; i < an; i++) {
        if (hastls_dns_parse_rr(msg, len, off, &rr, &off) < 0)
            return -1;
        if (rr.type != qtype || rr.rrclass != 1)
            continue;
        found++;
        if (kept < cap) {
            out[kept].type = rr.type;
            out[kept].rdlen = rr.rdlen;
            out[kept].ttl = rr.ttl;
            out[kept].rdata = msg + rr.rdata_off;
            kept++;
        }
    }
    *n = kept;
    if (total)
        *total = found;
    return 0;
}
