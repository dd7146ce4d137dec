/* policy/tlsa.h: the TLSA resource record (RFC 6698, 7671) and what a TLSA
 * answer means for a TLS connection.
 *
 * RDATA: certificate usage (1 octet), selector (1 octet), matching type (1
 * octet), then the certificate association data (the rest).  Read through the
 * checked cursors of policy/dnswire.h.  A record is usable (RFC 7671, 4.1)
 * when its usage is 0..3 (PKIX-TA, PKIX-EE, DANE-TA, DANE-EE), its selector 0
 * (whole certificate) or 1 (SubjectPublicKeyInfo), its matching type 0 (the
 * data itself), 1 (SHA2-256) or 2 (SHA2-512), and a digest has the digest's
 * length; a full certificate or key (matching type 0) must not be empty.
 * Unusable records are ignored; an RRset of unusable records only is as if it
 * were absent.
 *
 * Pure: no I/O, no allocation.
 */
#ifndef HASTLS_POLICY_TLSA_H
#define HASTLS_POLICY_TLSA_H

#include <stddef.h>
#include <stdint.h>

#include "policy/dnswire.h"
#include "policy/record.h"

#define HASTLS_DNS_TYPE_TLSA 52

enum hastls_tlsa_usage {
    HASTLS_TLSA_PKIX_TA = 0,
    HASTLS_TLSA_PKIX_EE = 1,
    HASTLS_TLSA_DANE_TA = 2,
    HASTLS_TLSA_DANE_EE = 3,
};

/* One decoded record; DATA points into the RDATA it came from. */
struct hastls_tlsa {
    uint8_t usage;
    uint8_t selector;
    uint8_t mtype;
    uint16_t dlen;
    const uint8_t *data;
};

enum hastls_tlsa_error {
    HASTLS_TLSA_OK = 0,
    HASTLS_TLSA_SHORT = -1,        /* fewer than the three fixed octets */
    HASTLS_TLSA_BAD_USAGE = -2,    /* usage not 0..3 */
    HASTLS_TLSA_BAD_SELECTOR = -3, /* selector not 0..1 */
    HASTLS_TLSA_BAD_MTYPE = -4,    /* matching type not 0..2 */
    HASTLS_TLSA_BAD_DIGEST = -5,   /* data length not the digest's length */
    HASTLS_TLSA_NO_DATA = -6,      /* matching type 0 with no data */
    HASTLS_TLSA_NO_SPACE = -7,     /* output buffer too small */
};

/* A short English description of an error code, for messages. */
const char *hastls_tlsa_strerror(int err);

/* Decodes one RDATA of LEN bytes into *OUT.  Returns HASTLS_TLSA_OK for a
 * usable record; HASTLS_TLSA_SHORT when the fixed fields are missing (OUT
 * untouched); another error for a record that decoded but is unusable (OUT
 * set, for display). */
int hastls_tlsa_decode(const uint8_t *rdata, size_t len, struct hastls_tlsa *out);

/* "3 1 1 0a1b..." (hex data) into BUF.  Returns the length written, or
 * HASTLS_TLSA_NO_SPACE (BUF still NUL-terminated when BUFLEN > 0). */
int hastls_tlsa_format(const struct hastls_tlsa *t, char *buf, size_t buflen);

/* What a TLSA answer means for the connection it was asked for. */
enum hastls_dane {
    HASTLS_DANE_USE,      /* DNSSEC-secure, usable records: they must match */
    HASTLS_DANE_NONE,     /* secure absence, or only unusable records */
    HASTLS_DANE_INSECURE, /* unsigned: ignored, the program's checks apply */
    HASTLS_DANE_BOGUS,    /* validation failed: the target is refused */
    HASTLS_DANE_FAILED,   /* no usable answer (SERVFAIL, timeout): refused */
};

/* "use", "none", "insecure", "bogus", "failed"; "?" out of range. */
const char *hastls_dane_name(enum hastls_dane d);

/* The meaning of a TLSA answer with DNSSEC status STATUS and RCODE (-1 for
 * none) whose RRset has NUSABLE usable records:
 *   insecure -> insecure; bogus -> bogus; failed -> failed;
 *   secure NXDOMAIN, or NOERROR without usable records -> none;
 *   secure with another RCODE -> failed. */
enum hastls_dane hastls_dane_state(enum hastls_sec status, int rcode, size_t nusable);

/* Decodes the records of type TLSA among RR[0..NRR) and keeps the usable ones
 * in OUT[0..CAP) (their data pointing into the records' RDATA).  Returns the
 * number of usable records present (it may exceed CAP: only CAP are kept). */
size_t hastls_tlsa_usable(const struct hastls_rr *rr, size_t nrr, struct hastls_tlsa *out,
                          size_t cap);

/* The owner name of the TLSA RRset for PORT/PROTO ("tcp", "udp") of NAME:
 * "_443._tcp.www.example" into OUT (OUTLEN bytes).  Returns 0, or -1 when it
 * does not fit or NAME is empty. */
int hastls_tlsa_owner(uint16_t port, const char *proto, const char *name, char *out,
                      size_t outlen);

/* Whether a host lookup for PORT, asked with the hints SOCKTYPE and PROTOCOL
 * (getaddrinfo's; 0 when left open), fetches the TLSA RRset of that service
 * along with the addresses, and for which protocol: "tcp" for a stream
 * socket or TCP, and when both are left open (a DTLS client asks for a
 * datagram socket; asking _udp too would double the queries of every such
 * lookup); "udp" for a datagram socket or UDP; NULL for any other kind of
 * socket, port 0, and the ports that never carry TLS of their own: 53 (DNS,
 * whose TLS port is 853), 80 (HTTP, whose TLS port is 443) and 123 (NTP). */
const char *hastls_tlsa_prefetch_proto(uint16_t port, int socktype, int protocol);

#endif
