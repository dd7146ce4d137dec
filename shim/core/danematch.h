/* shim/core/danematch.h: whether a TLS peer's certificate chain matches the
 * TLSA records that govern it (RFC 6698 2.1, RFC 7671 5), for a TLS hook
 * that does the matching itself (shim/hooks/gnutls.c).
 *
 * The rules live here; the TLS library's part is a small table of functions
 * (struct hastls_danematch_ops): the DER of a presented certificate and of
 * its SubjectPublicKeyInfo, a digest, and the one PKIX step DANE-TA needs (a
 * path from the leaf to a given anchor, with the name check).  For each
 * usable record of the set, in turn:
 *   - DANE-EE(3): the leaf (selector 0: the whole certificate, 1: its key)
 *     matches.  That alone authenticates the peer: no name, no expiry, no
 *     chain (RFC 7671 5.1).
 *   - DANE-TA(2): a certificate of the chain other than the leaf matches
 *     (RFC 7671 5.2: the server sends the anchor), or the record carries a
 *     whole certificate (2 0 0) that becomes the anchor; the leaf must then
 *     chain to that anchor and carry the peer's name (ops->ta_path).  The
 *     anchor's own validity period is not checked.
 *   - PKIX-TA(0): a certificate of the chain other than the leaf matches;
 *     PKIX-EE(1): the leaf matches.  Either only narrows the program's own
 *     PKIX check, which still has to pass (RFC 6698 2.1.1): the verdict is
 *     HASTLS_DANEMATCH_PKIX.
 * The first DANE-EE/DANE-TA success gives HASTLS_DANEMATCH_DANE; else any
 * PKIX match gives HASTLS_DANEMATCH_PKIX; else HASTLS_DANEMATCH_FAIL, with
 * why in the result.  Any error of an ops function counts as no match (fail
 * closed).  A PKIX-TA anchor that the server does not send cannot be
 * matched (the program's validated path is not known here).
 *
 * No I/O, no allocation, no locks.
 */
#ifndef HASTLS_SHIM_DANEMATCH_H
#define HASTLS_SHIM_DANEMATCH_H

#include <stddef.h>
#include <stdint.h>

#include "shim/core/dane.h"

/* What the TLS library supplies.  Each returns 0 on success, -1 on failure. */
struct hastls_danematch_ops {
    void *ctx;
    size_t n; /* certificates the peer presented, the leaf first */
    /* The DER of certificate I (< n), valid until the match returns. */
    int (*cert)(void *ctx, size_t i, const uint8_t **der, size_t *len);
    /* The DER of certificate I's SubjectPublicKeyInfo, likewise. */
    int (*spki)(void *ctx, size_t i, const uint8_t **der, size_t *len);
    /* The digest of IN for matching type MTYPE (1: SHA2-256, 2: SHA2-512)
     * into OUT (64 bytes of room); *OUTLEN gets its length. */
    int (*digest)(void *ctx, uint8_t mtype, const uint8_t *in, size_t len, uint8_t *out,
                  size_t *outlen);
    /* Whether the leaf chains to the anchor, certificate TA of the chain (1 <=
     * TA < n; ANCHOR NULL), or the certificate ANCHOR (ALEN bytes of DER, TA
     * ignored), and is valid for NAME.  Returns 0 when it does, 1 when the
     * chain leads there but NAME does not match the leaf, -1 otherwise; WHY
     * (WHYLEN bytes) gets a short reason unless 0 is returned. */
    int (*ta_path)(void *ctx, size_t ta, const uint8_t *anchor, size_t alen,
                   const char *name, char *why, size_t whylen);
};

enum hastls_danematch_verdict {
    HASTLS_DANEMATCH_DANE, /* a DANE-EE or DANE-TA record authenticates the peer */
    HASTLS_DANEMATCH_PKIX, /* a PKIX-TA/EE record matches: the PKIX check decides */
    HASTLS_DANEMATCH_FAIL, /* nothing matches */
};

struct hastls_danematch_result {
    enum hastls_danematch_verdict verdict;
    int name_mismatch; /* FAIL: a DANE-TA anchor matched, the name did not */
    size_t record;     /* DANE or PKIX: the index in the set of the record */
    size_t depth;      /* ... and of the certificate it matched (0: the leaf) */
    char reason[HASTLS_DANE_OWNER_MAX + 256]; /* FAIL: why, naming the owner */
};

/* Matches the chain OPS presents against the usable records of SET (state
 * HASTLS_DANE_USE) for the peer named NAME, as above, into *OUT.  Returns
 * OUT->verdict. */
enum hastls_danematch_verdict hastls_danematch(const struct hastls_dane_set *set,
                                               const char *name,
                                               const struct hastls_danematch_ops *ops,
                                               struct hastls_danematch_result *out);

/* "DANE-EE", "DANE-TA", "PKIX-EE", "PKIX-TA"; "?" for another usage. */
const char *hastls_danematch_usage_name(uint8_t usage);

#endif
