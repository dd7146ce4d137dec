/* policy/httpsrr.h: the HTTPS record (RFC 9460) as a second "serves TLS"
 * signal.
 *
 * A DNSSEC-secure HTTPS RRset for NAME says its owner serves HTTPS.  When
 * NAME has no usable HASTLS record, https_rr = enforce lets that signal stand
 * for the pair (80 443) on the HTTP ports (record state HASTLS_REC_HTTPS):
 * a secure-only client (cso) is then refused port 80, and a cfb client's
 * port-80 connection is the table's cleartext row (allowed, logged).  Unlike
 * a browser the program will not switch to https:// by itself, which is why
 * the signal is off by default (https_rr = ignore).  A secure HASTLS record,
 * a pin, or a bogus HASTLS answer under bogus = block always wins over it.
 *
 * RDATA (RFC 9460 section 2.2): SvcPriority (2 octets), TargetName (an
 * uncompressed domain name), then SvcParams, each a key (2 octets), a length
 * (2 octets) and that many octets, keys in strictly increasing order; an
 * AliasMode record (priority 0) has none.  Only the structure is checked
 * here, not the values: any well-formed record is the signal.
 *
 * Pure: no I/O, no allocation.
 */
#ifndef HASTLS_POLICY_HTTPSRR_H
#define HASTLS_POLICY_HTTPSRR_H

#include <stddef.h>
#include <stdint.h>

#include "policy/config.h"
#include "policy/dnswire.h"
#include "policy/hastls_rr.h"
#include "policy/record.h"

#define HASTLS_DNS_TYPE_HTTPS 65

/* The pairs the signal stands for. */
extern const struct hastls_pair hastls_https_pairs[1];

/* Whether RDATA[0..LEN) is a well-formed HTTPS record.  Returns 0, or -1
 * with *WHY (if not NULL) saying what is wrong. */
int hastls_https_rdata_check(const uint8_t *rdata, size_t len, const char **why);

/* Whether an answer (STATUS, RCODE, RR[0..N)) is the signal: DNSSEC-secure,
 * NOERROR, with at least one well-formed record of type HTTPS. */
int hastls_https_signal(enum hastls_sec status, int rcode, const struct hastls_rr *rr,
                        size_t n);

/* What an HTTPS answer says: 1 the signal (hastls_https_signal), 0 its
 * DNSSEC-secure denial (NOERROR without a usable record, or NXDOMAIN), -1
 * neither (failed, bogus, insecure): the answer cannot say, and a pin of
 * the signal then governs (policy/pins.h). */
int hastls_https_answer(enum hastls_sec status, int rcode, const struct hastls_rr *rr,
                        size_t n);

/* The record state of a name whose HASTLS state is REC when its HTTPS
 * answer is (SIGNAL) or is not the signal, under MODE: HASTLS_REC_HTTPS when
 * MODE is enforce, SIGNAL holds and REC is none, insecure or failed; else
 * REC. */
enum hastls_rec hastls_https_governs(enum hastls_rec rec, int signal,
                                     enum hastls_https_rr mode);

#endif
