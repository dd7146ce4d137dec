/* shim/core/srvmemo.h: the SRV answers a process looked up, and the rule of
 * secure SRV delegation (RFC 7673, RFC 7712) built on them.
 *
 * The memory: every SRV answer the process receives through the shim
 * (res_query() and its relatives, and the answers the shim gives the
 * program's own DNS client, dnsredir.h) is remembered with its owner
 * ("_xmpp-client._tcp.im.example"), its targets and ports, its DNSSEC status
 * and its TTL.  Bounded (HASTLS_SRVMEMO_SLOTS answers of at most
 * HASTLS_SRVMEMO_TARGETS targets; the answer that expires first makes room,
 * the targets past the bound are forgotten, which only makes a delegation
 * unknown), guarded by hastls_lock_srvmemo (locks.h), held only to copy.
 *
 * Names are compared in A-label form (RFC 5890): lowercased, no final dot.
 * Names from DNS are ASCII (policy/dnswire.h escapes other octets); a name a
 * program gives with octets outside ASCII (a U-label) matches nothing.
 *
 * The rule (hastls_srv_delegation): a TLS peer the program names SOURCE
 * (SNI, the reference name) but whose address was looked up under TARGET is
 * securely delegated when an SRV answer of SOURCE lists TARGET on the
 * connection's port, that SRV answer is DNSSEC-secure, and so are TARGET's
 * address answers (A and AAAA), which list the connected address.  Then the
 * TLS client may accept a certificate for TARGET as well as for SOURCE and
 * asks TLSA at _PORT._tcp.TARGET.  An insecure SRV answer, or insecure (or
 * bogus, or failed) address answers, make the delegation insecure: the
 * certificate is verified against SOURCE only and TLSA is never asked at
 * TARGET.  A bogus SRV answer of SOURCE is bogus: refused under dane =
 * enforce.  When the process remembers no SRV answer of SOURCE and the port
 * is XMPP's (5222: _xmpp-client._tcp, 5269: _xmpp-server._tcp), the SRV is
 * looked up here (a program such as openssl s_client -xmpphost given the
 * target by hand); for other ports only SRV answers the program asked count.
 * The TLS hooks (shim/hooks/openssl.c, and any other TLS library's) call
 * hastls_srv_delegation before the handshake and act on the result.
 */
#ifndef HASTLS_SHIM_SRVMEMO_H
#define HASTLS_SHIM_SRVMEMO_H

#include <stddef.h>
#include <stdint.h>

#include "policy/config.h"
#include "policy/record.h"
#include "policy/srv.h"
#include "shim/resolver/resolver.h"

#define HASTLS_SRVMEMO_SLOTS 32  /* SRV answers remembered */
#define HASTLS_SRVMEMO_TARGETS 8 /* targets kept per answer */
/* An answer is kept at least this long (a TTL of 0 still covers the
 * connection the program makes with it), and a bogus one at most
 * HASTLS_SRVMEMO_BOGUS_TTL (the zone may be repaired). */
#define HASTLS_SRVMEMO_MIN_TTL 10
#define HASTLS_SRVMEMO_BOGUS_TTL 60
#define HASTLS_SRVMEMO_MAX_TTL 86400

struct hastls_srvmemo_target {
    uint16_t port;
    char name[HASTLS_NAME_MAX]; /* A-label form, lowercase, no final dot */
};

/* One remembered SRV answer. */
struct hastls_srvmemo_entry {
    char owner[HASTLS_NAME_MAX]; /* "_xmpp-client._tcp.im.example" */
    enum hastls_sec status;      /* SECURE, INSECURE or BOGUS */
    uint64_t expires;            /* hastls_now() value */
    size_t n;                    /* targets in t[] */
    struct hastls_srvmemo_target t[HASTLS_SRVMEMO_TARGETS];
    char why[160]; /* bogus: the validator's reason, cut to fit */
};

/* Remembers the SRV answer A (qtype 33; other types and answers without a
 * DNSSEC status, HASTLS_SEC_FAILED, are ignored) at time NOW.  The owner is
 * the name asked.  Malformed records and "." targets are skipped.  Returns
 * 1 when remembered, 0 when ignored. */
int hastls_srvmemo_note(const struct hastls_answer *a, uint64_t now);

/* The unexpired answer of OWNER into *OUT.  Returns 1, or 0 when none. */
int hastls_srvmemo_get(const char *owner, uint64_t now, struct hastls_srvmemo_entry *out);

/* The SRV answer of SOURCE (under any _SERVICE._tcp) that lists TARGET on
 * PORT into *OUT; else a bogus SRV answer of SOURCE (which lists nothing
 * usable).  Returns 1, or 0 when none (also for names not in A-label form). */
int hastls_srvmemo_find(const char *source, const char *target, uint16_t port,
                        uint64_t now, struct hastls_srvmemo_entry *out);

/* Forgets everything (tests). */
void hastls_srvmemo_clear(void);

/* What the rule says of one connection. */
enum hastls_deleg {
    HASTLS_DELEG_NONE,     /* no SRV of SOURCE lists TARGET (or the same name) */
    HASTLS_DELEG_SECURE,   /* securely delegated: TARGET is a reference name */
    HASTLS_DELEG_INSECURE, /* SOURCE only, no TLSA at TARGET: WHY says why */
    HASTLS_DELEG_BOGUS,    /* the SRV answer is DNSSEC-bogus: refuse */
};

struct hastls_deleg_result {
    enum hastls_deleg state;
    char source[HASTLS_NAME_MAX];    /* normalized */
    char target[HASTLS_NAME_MAX];    /* normalized */
    char owner[HASTLS_NAME_MAX];     /* the SRV owner ("" for NONE) */
    char why[HASTLS_NAME_MAX + 448]; /* INSECURE, BOGUS: a sentence */
};

/* The rule above for a TLS connection to TARGET (the name its address KEY,
 * see ip.h, was looked up under; KEY may be NULL to skip the address check)
 * on TCP port PORT, which the program authenticates as SOURCE.  May look up
 * the SRV and TARGET's addresses (blocking, as the program's own lookups;
 * the resolver's cache answers them when the program just asked).  Returns
 * 0 with *OUT set, or -1 for a NULL argument. */
int hastls_srv_delegation(const char *source, const char *target, uint16_t port,
                          const uint8_t key[16], struct hastls_deleg_result *out);

/* "none", "secure", "insecure", "bogus". */
const char *hastls_deleg_name(enum hastls_deleg d);

#endif
