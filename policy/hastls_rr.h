/* policy/hastls_rr.h: the HASTLS resource record (seed 000, section 3).
 *
 * RDATA is one or more port pairs of four octets each: insecure port, secure
 * port, both in network order.  Port 0 means "not served"; insecure == secure
 * means in-band upgrade (STARTTLS).  The pair (0 0) and an empty RDATA are
 * undefined and rejected.  Presentation form: "(25 25 0 443)", the parentheses
 * optional, numbers separated by white space.
 */
#ifndef HASTLS_POLICY_HASTLS_RR_H
#define HASTLS_POLICY_HASTLS_RR_H

#include <stddef.h>
#include <stdint.h>

struct hastls_pair {
    uint16_t insecure;
    uint16_t secure;
};

/* Most pairs one RDATA can hold (65535 / 4). */
#define HASTLS_RDATA_MAX_PAIRS 16383

enum hastls_rr_error {
    HASTLS_RR_OK = 0,
    HASTLS_RR_EMPTY = -1,       /* no pair at all */
    HASTLS_RR_BAD_LENGTH = -2,  /* RDATA length not a multiple of 4 */
    HASTLS_RR_ZERO_PAIR = -3,   /* the undefined pair (0 0) */
    HASTLS_RR_TOO_MANY = -4,    /* more pairs than the caller's buffer holds */
    HASTLS_RR_SYNTAX = -5,      /* presentation form: not a list of numbers */
    HASTLS_RR_ODD_COUNT = -6,   /* presentation form: a port without its partner */
    HASTLS_RR_PORT_RANGE = -7,  /* presentation form: a number over 65535 */
    HASTLS_RR_NO_SPACE = -8,    /* output buffer too small */
};

/* A short English description of an error code, for messages. */
const char *hastls_rr_strerror(int err);

/* Decodes one RDATA and appends its pairs to OUT[*N..CAP).  Returns HASTLS_RR_OK
 * or an error; on error *N is unchanged.  Call once per RR to combine an RRset. */
int hastls_rdata_decode(const uint8_t *rdata, size_t len, struct hastls_pair *out,
                        size_t cap, size_t *n);

/* Encodes N pairs as RDATA into OUT (CAP bytes); *LEN gets the length. */
int hastls_rdata_encode(const struct hastls_pair *pairs, size_t n, uint8_t *out,
                        size_t cap, size_t *len);

/* Parses the presentation form into OUT[0..CAP), setting *N.  On a syntax error
 * *ERRPOS (if not NULL) gets the byte offset of the offending token. */
int hastls_pairs_parse(const char *text, struct hastls_pair *out, size_t cap, size_t *n,
                       size_t *errpos);

/* Formats N pairs as "(25 25 0 443)" into BUF; returns the length written or
 * HASTLS_RR_NO_SPACE (BUF still NUL-terminated when BUFLEN > 0). */
int hastls_pairs_format(const struct hastls_pair *pairs, size_t n, char *buf,
                        size_t buflen);

#endif
