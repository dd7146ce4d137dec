/* policy/dnswire.h: DNS wire-format reading and writing, for every product.
 *
 * The one place where DNS message bytes are read or built: the resolver's
 * transport (ID rewriting, question matching, stream framing, the chain
 * prefetch's queries and label walk, SERVFAIL answers), its answer builder,
 * the shim's res_* and PTR paths and the CLI all go through it.  Pure code (no
 * I/O), so the preloaded shim links it too.
 *
 * Every byte is read through a read cursor (struct hastls_dns_rd) and written
 * through a write cursor (struct hastls_dns_wr): each read or write first
 * compares its size with what remains, and fails without touching anything
 * when it does not fit.  Nothing here reads or writes a message through a raw
 * offset that a cursor has not checked.  Every function reads bytes that came
 * from the network (or from libunbound, which got them from the network).
 * None allocates.  Offsets are into one whole DNS message (without the
 * two-byte TCP length prefix) unless a function says otherwise.
 */
#ifndef HASTLS_POLICY_DNSWIRE_H
#define HASTLS_POLICY_DNSWIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/checked.h"

/* One record of an answer, its RDATA pointing into the message it came from. */
struct hastls_rr {
    uint16_t type;
    uint16_t rdlen;
    uint32_t ttl;
    const uint8_t *rdata;
};

#define HASTLS_DNS_HEADER_LEN 12
#define HASTLS_DNS_MAX_MSG 65535
#define HASTLS_DNS_MAX_WIRE_NAME 255 /* octets of a name, label lengths included */
#define HASTLS_DNS_PAD_BLOCK 128     /* RFC 8467, 4.1: queries padded to 128 octets */
#define HASTLS_DNS_TYPE_SIG 24
#define HASTLS_DNS_TYPE_OPT 41
#define HASTLS_DNS_TYPE_DS 43
#define HASTLS_DNS_TYPE_DNSKEY 48
#define HASTLS_DNS_TYPE_TSIG 250
#define HASTLS_DNS_OPT_PADDING 12
#define HASTLS_DNS_RCODE_SERVFAIL 2
#define HASTLS_DNS_RCODE_REFUSED 5
#define HASTLS_DNS_EDNS_UDP_SIZE 1232 /* the OPT record's UDP size in our queries */

/* ---- cursors ---- */

/* Reads LEN bytes at P from OFF on.  OFF <= LEN always holds. */
struct hastls_dns_rd {
    const uint8_t *p;
    size_t len;
    size_t off;
};

/* Writes at P, LEN bytes written so far, CAP bytes available.  LEN <= CAP. */
struct hastls_dns_wr {
    uint8_t *p;
    size_t cap;
    size_t len;
};

static inline void hastls_dns_rd_init(struct hastls_dns_rd *r, const uint8_t *p,
                                      size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
}

static inline size_t hastls_dns_rd_left(const struct hastls_dns_rd *r)
{
    return r->len - r->off;
}

/* Moves to OFF (at most LEN).  Returns 0 or -1. */
static inline HASTLS_MUST_CHECK int hastls_dns_rd_seek(struct hastls_dns_rd *r,
                                                       size_t off)
{
    HASTLS_ENSURE(off <= r->len);
    r->off = off;
    return 0;
}

static inline HASTLS_MUST_CHECK int hastls_dns_rd_skip(struct hastls_dns_rd *r, size_t n)
{
    HASTLS_ENSURE(n <= hastls_dns_rd_left(r));
    r->off += n;
    return 0;
}

static inline HASTLS_MUST_CHECK int hastls_dns_rd_u8(struct hastls_dns_rd *r, uint8_t *v)
{
    HASTLS_ENSURE(hastls_dns_rd_left(r) >= 1);
    *v = r->p[r->off++];
    return 0;
}

static inline HASTLS_MUST_CHECK int hastls_dns_rd_u16(struct hastls_dns_rd *r,
                                                      uint16_t *v)
{
    HASTLS_ENSURE(hastls_dns_rd_left(r) >= 2);
    *v = (uint16_t)((r->p[r->off] << 8) | r->p[r->off + 1]);
    r->off += 2;
    return 0;
}

static inline HASTLS_MUST_CHECK int hastls_dns_rd_u32(struct hastls_dns_rd *r,
                                                      uint32_t *v)
{
    HASTLS_ENSURE(hastls_dns_rd_left(r) >= 4);
    const uint8_t *b = r->p + r->off;
    *v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    r->off += 4;
    return 0;
}

/* Points *V at the next N bytes and moves past them. */
static inline HASTLS_MUST_CHECK int hastls_dns_rd_bytes(struct hastls_dns_rd *r,
                                                        const uint8_t **v, size_t n)
{
    HASTLS_ENSURE(n <= hastls_dns_rd_left(r));
    *v = r->p + r->off;
    r->off += n;
    return 0;
}

static inline void hastls_dns_wr_init(struct hastls_dns_wr *w, uint8_t *p, size_t cap)
{
    w->p = p;
    w->cap = cap;
    w->len = 0;
}

static inline size_t hastls_dns_wr_left(const struct hastls_dns_wr *w)
{
    return w->cap - w->len;
}

static inline HASTLS_MUST_CHECK int hastls_dns_wr_u8(struct hastls_dns_wr *w, uint8_t v)
{
    HASTLS_ENSURE(hastls_dns_wr_left(w) >= 1);
    w->p[w->len++] = v;
    return 0;
}

static inline HASTLS_MUST_CHECK int hastls_dns_wr_u16(struct hastls_dns_wr *w, uint16_t v)
{
    HASTLS_ENSURE(hastls_dns_wr_left(w) >= 2);
    w->p[w->len] = (uint8_t)(v >> 8);
    w->p[w->len + 1] = (uint8_t)v;
    w->len += 2;
    return 0;
}

static inline HASTLS_MUST_CHECK int hastls_dns_wr_bytes(struct hastls_dns_wr *w,
                                                        const void *src, size_t n)
{
    HASTLS_ENSURE(n <= hastls_dns_wr_left(w));
    if (n)
        memcpy(w->p + w->len, src, n);
    w->len += n;
    return 0;
}

static inline HASTLS_MUST_CHECK int hastls_dns_wr_zeros(struct hastls_dns_wr *w, size_t n)
{
    HASTLS_ENSURE(n <= hastls_dns_wr_left(w));
    memset(w->p + w->len, 0, n);
    w->len += n;
    return 0;
}

/* Overwrites two bytes already written at AT (a count or length filled in
 * once known). */
static inline HASTLS_MUST_CHECK int hastls_dns_wr_set16(struct hastls_dns_wr *w,
                                                        size_t at, uint16_t v)
{
    HASTLS_ENSURE(at <= w->len && w->len - at >= 2);
    w->p[at] = (uint8_t)(v >> 8);
    w->p[at + 1] = (uint8_t)v;
    return 0;
}

/* ---- messages ---- */

/* One resource record's fixed fields, as offsets into the message. */
struct hastls_dns_rr {
    size_t owner_off;
    uint16_t type;
    uint16_t rrclass;
    uint32_t ttl;
    uint16_t rdlen;
    size_t rdata_off;
};

/* The question of a query, as offsets into the message. */
struct hastls_dns_question {
    size_t name_off; /* always HASTLS_DNS_HEADER_LEN */
    size_t name_len; /* wire octets, compression pointer included */
    uint16_t qtype;
    uint16_t qclass;
    size_t end; /* end of the question section */
};

/* Header accessors; the caller has checked LEN >= HASTLS_DNS_HEADER_LEN. */
uint16_t hastls_dns_id(const uint8_t *msg);
void hastls_dns_set_id(uint8_t *msg, uint16_t id);
uint16_t hastls_dns_count(const uint8_t *msg, int section); /* 0 qd, 1 an, 2 ns, 3 ar */

/* The ID of MSG when it is a response (complete header, QR set): 0 with *ID,
 * else -1. */
HASTLS_MUST_CHECK int hastls_dns_response_id(const uint8_t *msg, size_t len,
                                             uint16_t *id);

/* The RCODE of MSG (header bits only), or -1 when the header is incomplete. */
int hastls_dns_rcode(const uint8_t *msg, size_t len);

/* Skips the (possibly compressed) name at OFF.  Returns 0 and the offset after
 * it in *NEXT, or -1 when the name runs past LEN or is malformed. */
HASTLS_MUST_CHECK int hastls_dns_skip_name(const uint8_t *msg, size_t len, size_t off,
                                           size_t *next);

/* Reads the name at OFF, following compression pointers (only backwards, so
 * loops are impossible), into OUT in presentation form without the final dot
 * ("." for the root).  Returns 0 with *NEXT after the name in the record, or
 * -1 for a malformed name or one that does not fit OUTLEN. */
HASTLS_MUST_CHECK int hastls_dns_read_name(const uint8_t *msg, size_t len, size_t off,
                                           char *out, size_t outlen, size_t *next);

/* Walks the uncompressed name at OFF: LABELS[0..*N) get the offset of each
 * label (the name's suffixes start there), *END the offset after the root
 * label.  Returns 0, or -1 for a compressed or malformed name, one longer than
 * HASTLS_DNS_MAX_WIRE_NAME, or one with more than CAP labels. */
HASTLS_MUST_CHECK int hastls_dns_name_labels(const uint8_t *msg, size_t len, size_t off,
                                             size_t *labels, size_t cap, size_t *n,
                                             size_t *end);

/* Parses the resource record at OFF.  Returns 0 and *NEXT, or -1. */
HASTLS_MUST_CHECK int hastls_dns_parse_rr(const uint8_t *msg, size_t len, size_t off,
                                          struct hastls_dns_rr *rr, size_t *next);

/* Checks that MSG is a query this transport relays (header complete, QR clear,
 * exactly one question) and sets *QEND to the end of the question section.
 * Returns 0 or -1. */
HASTLS_MUST_CHECK int hastls_dns_check_query(const uint8_t *msg, size_t len,
                                             size_t *qend);

/* The same check, returning the question's fields in *Q. */
HASTLS_MUST_CHECK int hastls_dns_parse_query(const uint8_t *msg, size_t len,
                                             struct hastls_dns_question *q);

/* The question of the query MSG as res_send(3) takes it (a query this
 * transport relays, see hastls_dns_check_query): its name in presentation
 * form into NAME (NAMELEN bytes), its type and class.  Returns 0, or -1 for a
 * message that is no such query or a name that does not fit. */
HASTLS_MUST_CHECK int hastls_dns_query_question(const uint8_t *msg, size_t len,
                                                char *name, size_t namelen,
                                                uint16_t *qtype, uint16_t *qclass);

/* Sets the TC bit (truncated) of MSG.  Returns 0, or -1 (nothing changed)
 * when LEN does not reach the flags: a message that short has no bit to set,
 * so callers may ignore the result. */
int hastls_dns_set_tc(uint8_t *msg, size_t len);

/* The name a PTR record's RDATA (RDLEN bytes) points to, into OUT (OUTLEN
 * bytes) in presentation form.  When RDATA lies inside MSG (LEN bytes, may be
 * NULL), the name is read there, so that compression pointers into the rest
 * of the message work; else RDATA is read alone.  The name must end inside
 * RDATA.  Returns 0, or -1 for a malformed name, the root name, or one that
 * does not fit OUTLEN. */
HASTLS_MUST_CHECK int hastls_dns_ptr_target(const uint8_t *msg, size_t len,
                                            const uint8_t *rdata, size_t rdlen, char *out,
                                            size_t outlen);

/* Returns 1 when MSG carries an OPT record with the DO bit (DNSSEC OK), 0 when
 * it does not, -1 when MSG is malformed. */
int hastls_dns_has_do(const uint8_t *msg, size_t len);

/* Returns 1 when the question sections of A and B are equal (names compared
 * without regard to ASCII case), else 0. */
int hastls_dns_same_question(const uint8_t *a, size_t alen, const uint8_t *b,
                             size_t blen);

/* The question section of MSG lower-cased into KEY (CAP bytes): equal keys
 * mean the same question.  Returns its length, or 0 when MSG is malformed or
 * the section does not fit CAP. */
size_t hastls_dns_question_key(const uint8_t *msg, size_t len, uint8_t *key, size_t cap);

/* Copies the query IN to OUT padded per RFC 8467: an EDNS(0) Padding option
 * makes the length a multiple of BLOCK.  An existing Padding option is
 * replaced; an OPT record is added when there is none.  Returns 0 with
 * *OUTLEN, or -1 when IN is malformed, carries a TSIG/SIG(0) signature (which
 * padding would break) or OUT (CAP bytes) is too small. */
HASTLS_MUST_CHECK int hastls_dns_pad(const uint8_t *in, size_t len, size_t block,
                                     uint8_t *out, size_t cap, size_t *outlen);

/* The query IN as the transport sends it upstream, into OUT: padded to BLOCK
 * (0: not padded; a query that cannot be padded goes as it is), with the DNS ID
 * ID and Checking Disabled set.  Returns 0 with *OUTLEN, or -1 when IN has no
 * complete header or OUT is too small. */
HASTLS_MUST_CHECK int hastls_dns_upstream_query(const uint8_t *in, size_t len,
                                                uint16_t id, size_t block, uint8_t *out,
                                                size_t cap, size_t *outlen);

/* The answer ANS given back for the query QUERY: ANS with QUERY's ID and
 * QUERY's question bytes (the same question, possibly in other case).  Returns
 * 0 with *OUTLEN (= ALEN), or -1 when the questions differ, either message is
 * malformed or OUT is too small. */
HASTLS_MUST_CHECK int hastls_dns_reply_for(const uint8_t *query, size_t qlen,
                                           const uint8_t *ans, size_t alen, uint8_t *out,
                                           size_t cap, size_t *outlen);

/* Builds a recursive query (RD, ID 0) for the uncompressed wire name NAME
 * (NLEN octets, root label included), TYPE and class IN, with an OPT record
 * (DO set when DNSSEC_OK).  Returns 0 with *OUTLEN and *QEND (end of the
 * question), or -1 when NAME is malformed or OUT is too small. */
HASTLS_MUST_CHECK int hastls_dns_build_query(const uint8_t *name, size_t nlen,
                                             uint16_t type, int dnssec_ok, uint8_t *out,
                                             size_t cap, size_t *outlen, size_t *qend);

/* Builds a SERVFAIL answer to QUERY (whose question ends at QEND) into OUT.
 * Returns its length, or 0 when CAP is too small. */
size_t hastls_dns_servfail(const uint8_t *query, size_t qend, uint8_t *out, size_t cap);

/* Collects the answer-section records of type QTYPE (class IN) of the response
 * MSG into OUT[0..CAP); their rdata pointers point into MSG.  Sets *N to the
 * number found (at most CAP) and *TOTAL (if not NULL) to the number present.
 * Returns 0, or -1 for a malformed message. */
HASTLS_MUST_CHECK int hastls_dns_answer_records(const uint8_t *msg, size_t len,
                                                uint16_t qtype, struct hastls_rr *out,
                                                size_t cap, size_t *n, size_t *total);

/* ---- TCP streams (RFC 1035 4.2.2, RFC 7766) ---- */

/* Length-prefixed framing: when BUF (LEN bytes received so far) starts with a
 * complete message, returns 1 and its length (without the prefix) in *MSGLEN;
 * returns 0 when more bytes are needed. */
int hastls_dns_frame(const uint8_t *buf, size_t len, size_t *msglen);

/* Reassembly: when a complete message starts at *OFF in the stream bytes BUF
 * (LEN received so far), points *MSG at it, sets *MSGLEN and moves *OFF past it,
 * and returns 1; returns 0 (nothing changed) when more bytes are needed. */
int hastls_dns_stream_next(const uint8_t *buf, size_t len, size_t *off,
                           const uint8_t **msg, size_t *msglen);

/* Writes MSG with its two-byte length prefix to W, all or nothing.  Returns 0
 * or -1 (longer than a DNS message, or no room). */
HASTLS_MUST_CHECK int hastls_dns_stream_put(struct hastls_dns_wr *w, const uint8_t *msg,
                                            size_t len);

/* Writes the two-byte length prefix of a LEN-byte message to OUT[0..1].
 * Returns 0, or -1 when LEN exceeds HASTLS_DNS_MAX_MSG. */
HASTLS_MUST_CHECK int hastls_dns_stream_prefix(uint8_t out[2], size_t len);

/* ---- a program's own queries, answered by the shim (shim/core/dnsredir.h) ---- */

#define HASTLS_DNS_TYPE_RRSIG 46
#define HASTLS_DNS_TYPE_NSEC 47
#define HASTLS_DNS_TYPE_NSEC3 50
#define HASTLS_DNS_TYPE_ANY 255
#define HASTLS_DNS_OPT_EDE 15          /* RFC 8914 Extended DNS Errors */
#define HASTLS_DNS_EDE_BOGUS 6         /* "DNSSEC Bogus" */
#define HASTLS_DNS_EDE_NO_REACHABLE 22 /* "No Reachable Authority" */
#define HASTLS_DNS_EDE_TEXT_MAX 200    /* EXTRA-TEXT bytes we send at most */
#define HASTLS_DNS_RCODE_FORMERR 1
#define HASTLS_DNS_RCODE_NOTIMP 4
#define HASTLS_DNS_UDP_PLAIN 512 /* a UDP answer's limit without EDNS */

/* What a program's query asks, as the shim's answer needs it. */
struct hastls_dns_client_query {
    uint16_t id;
    uint16_t flags;               /* the header's flags word as sent */
    struct hastls_dns_question q; /* valid when qd_ok */
    int qd_ok;                    /* exactly one well-formed question */
    int edns;                     /* an OPT record was present */
    int dnssec_ok;                /* its DO bit */
    uint8_t edns_version;
    uint16_t udp_size; /* its UDP payload size (at least 512), or 512 */
    int rcode;         /* 0 to resolve, else the error to answer with
                        * (FORMERR, NOTIMP, REFUSED, or 16 BADVERS) */
};

/* Reads the query MSG a program sent.  Returns -1 when MSG gets no answer at
 * all (no complete header, or QR set: a response is never answered), else 0
 * with *Q set; Q->rcode says whether the question can be resolved: FORMERR for
 * a question count other than one or malformed sections, NOTIMP for an
 * opcode other than QUERY, REFUSED for a class other than IN or a zone
 * transfer, BADVERS for EDNS version above 0. */
HASTLS_MUST_CHECK int hastls_dns_client_query_parse(const uint8_t *msg, size_t len,
                                                    struct hastls_dns_client_query *q);

/* Builds the answer to the program's query QUERY (QLEN bytes, read by
 * hastls_dns_client_query_parse into Q, Q->rcode 0) from the resolver's
 * response PKT (PLEN bytes) for the same question: the query's ID and
 * question bytes, its RD and CD bits, RA, AD only when SECURE and the query
 * set AD or DO, the response's RCODE and records -- without RRSIG, NSEC and
 * NSEC3 records unless the query set DO (or asked for that type), without
 * the response's own OPT record -- and an OPT record when the query had one
 * (its DO bit echoed).  Names are written uncompressed except for pointers
 * to the question.  When the answer exceeds LIMIT bytes, only the header,
 * question and OPT record are sent, with TC set.  Writes into OUT (CAP
 * bytes).  Returns 0 with *OUTLEN, or -1 when PKT is malformed, answers
 * another question, or OUT is too small. */
HASTLS_MUST_CHECK int hastls_dns_client_reply(const uint8_t *query, size_t qlen,
                                              const struct hastls_dns_client_query *q,
                                              const uint8_t *pkt, size_t plen, int secure,
                                              size_t limit, uint8_t *out, size_t cap,
                                              size_t *outlen);

/* Builds an answer without records to the program's query QUERY (read into
 * Q): RCODE (Q->rcode when not 0, else the given one), the query's ID,
 * question (when Q->qd_ok) and RD/CD bits, and, when the query had EDNS, an
 * OPT record carrying the Extended DNS Error EDE with EXTRA-TEXT TEXT (cut to
 * HASTLS_DNS_EDE_TEXT_MAX bytes; EDE < 0 for none, TEXT may be NULL).
 * Returns 0 with *OUTLEN, or -1 when OUT (CAP bytes) is too small. */
HASTLS_MUST_CHECK int hastls_dns_client_error(const uint8_t *query, size_t qlen,
                                              const struct hastls_dns_client_query *q,
                                              int rcode, int ede, const char *text,
                                              uint8_t *out, size_t cap, size_t *outlen);

/* The limit for an answer to Q over UDP: 512 without EDNS, else the query's
 * size bounded by HASTLS_DNS_EDNS_UDP_SIZE (the size our resolver uses). */
size_t hastls_dns_client_udp_limit(const struct hastls_dns_client_query *q);

/* The host name in an SRV or MX record's RDATA (RDLEN bytes inside the
 * message MSG of LEN bytes, where compression pointers may point), in
 * presentation form into OUT.  Returns 0, or -1 for another type, a
 * malformed record, the root name ("no service") or a name that does not
 * fit OUTLEN. */
HASTLS_MUST_CHECK int hastls_dns_target_name(const uint8_t *msg, size_t len,
                                             uint16_t type, const uint8_t *rdata,
                                             size_t rdlen, char *out, size_t outlen);

#endif
