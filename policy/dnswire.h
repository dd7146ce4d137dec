/* policy/dnswire.h: DNS wire-format reading and writing, for every product.
 *
 * The one place where DNS message bytes are read or built: the resolver's
 * transport and answer builder, the shim's res_* and PTR paths and the CLI
 * all go through it.  Pure code (no I/O), so the preloaded shim links it too.
 *
 * Every function here reads bytes that came from the network (or from
 * libunbound, which got them from the network) and checks every length before
 * reading.  None allocates.  Offsets are into one whole DNS message (without
 * the two-byte TCP length prefix).
 */
#ifndef HASTLS_POLICY_DNSWIRE_H
#define HASTLS_POLICY_DNSWIRE_H

#include <stddef.h>
#include <stdint.h>


/* One record of an answer, its RDATA pointing into the message it came from. */
struct hastls_rr {
    uint16_t type;
    uint16_t rdlen;
    uint32_t ttl;
    const uint8_t *rdata;
};

#define HASTLS_DNS_HEADER_LEN 12
#define HASTLS_DNS_MAX_MSG 65535
#define HASTLS_DNS_PAD_BLOCK 128 /* RFC 8467, 4.1: queries padded to 128 octets */
#define HASTLS_DNS_TYPE_OPT 41
#define HASTLS_DNS_TYPE_TSIG 250
#define HASTLS_DNS_TYPE_SIG 24
#define HASTLS_DNS_OPT_PADDING 12
#define HASTLS_DNS_RCODE_SERVFAIL 2

/* One resource record's fixed fields, as offsets into the message. */
struct hastls_dns_rr {
    size_t owner_off;
    uint16_t type;
    uint16_t rrclass;
    uint32_t ttl;
    uint16_t rdlen;
    size_t rdata_off;
};

/* Header accessors; the caller has checked LEN >= HASTLS_DNS_HEADER_LEN. */
uint16_t hastls_dns_id(const uint8_t *msg);
void hastls_dns_set_id(uint8_t *msg, uint16_t id);
uint16_t hastls_dns_count(const uint8_t *msg, int section); /* 0 qd, 1 an, 2 ns, 3 ar */

/* Skips the (possibly compressed) name at OFF.  Returns 0 and the offset after
 * it in *NEXT, or -1 when the name runs past LEN or is malformed. */
int hastls_dns_skip_name(const uint8_t *msg, size_t len, size_t off, size_t *next);

/* Reads the name at OFF, following compression pointers (only backwards, so
 * loops are impossible), into OUT in presentation form without the final dot
 * ("." for the root).  Returns 0 with *NEXT after the name in the record, or
 * -1 for a malformed name or one that does not fit OUTLEN. */
int hastls_dns_read_name(const uint8_t *msg, size_t len, size_t off, char *out,
                         size_t outlen, size_t *next);

/* Parses the resource record at OFF.  Returns 0 and *NEXT, or -1. */
int hastls_dns_parse_rr(const uint8_t *msg, size_t len, size_t off,
                        struct hastls_dns_rr *rr, size_t *next);

/* Checks that MSG is a query this transport relays (header complete, QR clear,
 * exactly one question) and sets *QEND to the end of the question section.
 * Returns 0 or -1. */
int hastls_dns_check_query(const uint8_t *msg, size_t len, size_t *qend);

/* Returns 1 when MSG carries an OPT record with the DO bit (DNSSEC OK), 0 when
 * it does not, -1 when MSG is malformed. */
int hastls_dns_has_do(const uint8_t *msg, size_t len);

/* Returns 1 when the question sections of A and B are equal (names compared
 * without regard to ASCII case), else 0. */
int hastls_dns_same_question(const uint8_t *a, size_t alen, const uint8_t *b,
                             size_t blen);

/* Copies the query IN to OUT padded per RFC 8467: an EDNS(0) Padding option
 * makes the length a multiple of BLOCK.  An existing Padding option is
 * replaced; an OPT record is added when there is none.  Returns 0 with
 * *OUTLEN, or -1 when IN is malformed, carries a TSIG/SIG(0) signature (which
 * padding would break) or OUT (CAP bytes) is too small. */
int hastls_dns_pad(const uint8_t *in, size_t len, size_t block, uint8_t *out, size_t cap,
                   size_t *outlen);

/* Length-prefixed framing (RFC 1035 4.2.2): when BUF (LEN bytes received so
 * far) starts with a complete message, returns 1 and its length (without the
 * prefix) in *MSGLEN; returns 0 when more bytes are needed. */
int hastls_dns_frame(const uint8_t *buf, size_t len, size_t *msglen);

/* Builds a SERVFAIL answer to QUERY (whose question ends at QEND) into OUT.
 * Returns its length, or 0 when CAP is too small. */
size_t hastls_dns_servfail(const uint8_t *query, size_t qend, uint8_t *out, size_t cap);

/* Collects the answer-section records of type QTYPE (class IN) of the response
 * MSG into OUT[0..CAP); their rdata pointers point into MSG.  Sets *N to the
 * number found (at most CAP) and *TOTAL (if not NULL) to the number present.
 * Returns 0, or -1 for a malformed message. */
int hastls_dns_answer_records(const uint8_t *msg, size_t len, uint16_t qtype,
                              struct hastls_rr *out, size_t cap, size_t *n,
                              size_t *total);

#endif
