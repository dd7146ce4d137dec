/* policy/record.h: what a lookup's answers mean for the connections that
 * follow.
 *
 * The DNSSEC status of an answer, the state of a name's HASTLS record derived
 * from the answer to its HASTLS query, and the result of a host lookup derived
 * from its A and AAAA answers.  The shim's lookups and the CLI's prediction of
 * them both take these from the functions here (policy/verdict.h then turns a
 * record state into the decision for one connection).
 *
 * Pure: no I/O, no allocation.
 */
#ifndef HASTLS_POLICY_RECORD_H
#define HASTLS_POLICY_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "policy/dnswire.h"
#include "policy/hastls_rr.h"

/* The DNSSEC status of one answer. */
enum hastls_sec {
    HASTLS_SEC_SECURE,   /* DNSSEC-validated (AD) */
    HASTLS_SEC_INSECURE, /* provably unsigned */
    HASTLS_SEC_BOGUS,    /* validation failed: reason says why */
    HASTLS_SEC_FAILED,   /* no answer at all under the privacy profile */
};

/* What the HASTLS lookup of a name said. */
enum hastls_rec {
    HASTLS_REC_SECURE,   /* a DNSSEC-secure record: enforced */
    HASTLS_REC_NONE,     /* a secure proof that there is no record: allow */
    HASTLS_REC_INSECURE, /* unsigned: never enforced */
    HASTLS_REC_BOGUS,    /* validation failed (or malformed): block if bogus=block */
    HASTLS_REC_FAILED,   /* no answer: allow (warned at lookup) */
    HASTLS_REC_PINNED,   /* not secure now, but a live pin (policy/pins.h)
                            holds an earlier secure record: its pairs are
                            enforced */
    HASTLS_REC_HTTPS,    /* no usable HASTLS record, but a secure HTTPS
                            record under https_rr = enforce: the pair
                            (80 443) is enforced (policy/httpsrr.h) */
};
#define HASTLS_REC_LAST HASTLS_REC_HTTPS

/* Most pairs of one HASTLS RRset that are combined; a larger RRset is treated
 * as unreadable (HASTLS_RR_TOO_MANY, so bogus). */
#define HASTLS_REC_MAX_PAIRS 4096

/* "secure", "insecure", "bogus", "failed"; "?" out of range. */
const char *hastls_sec_name(enum hastls_sec s);

/* "secure", "none", "insecure", "bogus", "failed", "pinned", "https"; "?"
 * out of range. */
const char *hastls_rec_name(enum hastls_rec r);

/* The record state of a HASTLS answer with DNSSEC status STATUS and RCODE (-1
 * for none), whose RDATA decoded to NPAIRS pairs with DECODE_ERR (HASTLS_RR_OK
 * or the codec's error; see hastls_rec_decode):
 *   insecure, bogus, failed status            -> the same state;
 *   secure NXDOMAIN                           -> none (secure absence);
 *   secure with another RCODE than NOERROR    -> failed;
 *   secure NOERROR, RDATA unreadable          -> bogus: a signed record whose
 *                                                meaning is unknown;
 *   secure NOERROR, pairs                     -> secure; no pairs -> none. */
enum hastls_rec hastls_rec_state(enum hastls_sec status, int rcode, int decode_err,
                                 size_t npairs);

/* Decodes the RDATA of every record of type RTYPE among RR[0..NRR) into
 * PAIRS[0..CAP) (the RRset combined).  Returns HASTLS_RR_OK, or the first
 * error, with *N the pairs decoded before it (for display only). */
int hastls_rec_decode(const struct hastls_rr *rr, size_t nrr, uint16_t rtype,
                      struct hastls_pair *pairs, size_t cap, size_t *n);

/* hastls_rec_decode, then hastls_rec_state.  *DECODE_ERR (if not NULL) gets
 * the codec's result. */
enum hastls_rec hastls_rec_of(enum hastls_sec status, int rcode,
                              const struct hastls_rr *rr, size_t nrr, uint16_t rtype,
                              struct hastls_pair *pairs, size_t cap, size_t *npairs,
                              int *decode_err);

/* One address answer (A or AAAA) as the host-lookup rule sees it. */
struct hastls_addr_answer {
    enum hastls_sec status;
    int rcode; /* DNS RCODE, -1 for none */
    size_t n;  /* addresses in it */
};

enum { HASTLS_ANS_A, HASTLS_ANS_AAAA };

/* Whether the address answers ADDR[HASTLS_ANS_A], ADDR[HASTLS_ANS_AAAA] of a
 * name, asked in the same batch as the name's HASTLS query, prove that the
 * resolver reached the name's zone at that moment and that the zone is
 * signed: some answer is DNSSEC-secure with NOERROR or NXDOMAIN. */
int hastls_addrs_signed(const struct hastls_addr_answer addr[2]);

/* Which of the address answers ADDR[2] names the addresses a host lookup
 * hands out (its canonical name is the name that owns them, and the record
 * of that name governs them): the A answer when it has addresses, else the
 * AAAA answer. */
int hastls_owner_answer(const struct hastls_addr_answer addr[2]);

/* The record state REC (hastls_rec_of) of a name's HASTLS answer, seen with
 * ZONE_SIGNED (hastls_addrs_signed of the same name's address answers):
 *   failed, zone signed  -> bogus: the resolver answered the addresses of
 *                           the signed zone securely but not its HASTLS
 *                           query (SERVFAIL); a record is there that cannot
 *                           be used (libunbound reports SERVFAIL for a
 *                           record of zero bytes, for one), so it is not
 *                           taken as absent;
 *   anything else        -> REC (an upstream that does not answer at all
 *                           fails the address answers too: still failed). */
enum hastls_rec hastls_rec_in_zone(enum hastls_rec rec, int zone_signed);

/* AF_INET for an A record of 4 bytes, AF_INET6 for an AAAA record of 16
 * bytes, 0 for anything else: the records of an answer that are addresses
 * (the others are neither handed out nor counted). */
int hastls_rr_address_family(const struct hastls_rr *rr);

/* The result of a host lookup that asked for FAMILY (AF_UNSPEC, AF_INET,
 * AF_INET6), given the A and AAAA answers ANS[HASTLS_ANS_A],
 * ANS[HASTLS_ANS_AAAA] (both are always asked; only FAMILY's count):
 *   some asked answer bogus                       -> EAI_FAIL (fail closed:
 *                                                    even when the other
 *                                                    family has addresses);
 *   else some asked address                       -> 0;
 *   else some asked answer failed, SERVFAIL or
 *   without RCODE                                 -> EAI_AGAIN;
 *   else some asked answer NXDOMAIN               -> EAI_NONAME;
 *   else                                          -> EAI_NODATA.
 * *CAUSE (if not NULL) gets the index of the answer that explains a failure
 * (the bogus or failed one; the first asked one otherwise). */
int hastls_host_result(int family, const struct hastls_addr_answer ans[2], int *cause);

/* The result of a host lookup for FAMILY of a name the hosts file (or the
 * localhost rule) answers with N4 IPv4 and N6 IPv6 addresses: such a name
 * never reaches DNS, so 0 when it has an address of FAMILY, else EAI_NONAME. */
int hastls_local_result(int family, size_t n4, size_t n6);

/* "ok" for 0, else the EAI_* constant's name ("EAI_FAIL"); "?" for others. */
const char *hastls_host_result_name(int result);

/* The h_errno of a res_query()-style answer with STATUS, RCODE and ANCOUNT
 * answer records: NETDB_SUCCESS, NO_DATA (NOERROR, no record), HOST_NOT_FOUND
 * (NXDOMAIN), TRY_AGAIN (SERVFAIL, or no answer at all), NO_RECOVERY (other
 * RCODEs).  A bogus answer is TRY_AGAIN, as a validating resolver's SERVFAIL
 * would be: its records are never handed out. */
int hastls_raw_herr(enum hastls_sec status, int rcode, unsigned ancount);

#endif
