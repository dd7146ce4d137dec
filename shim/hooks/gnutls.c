/* shim/hooks/gnutls.c: DANE (RFC 6698, 7671) in programs that use GnuTLS
 * (Debian's wget, git through libcurl-gnutls, gnutls-cli).
 *
 * The shim never links libgnutls: these definitions of GnuTLS entry points
 * only matter in a program that calls them, and each finds GnuTLS's own
 * function, and the few others it needs, in the object that defines the one
 * called (dlsym(RTLD_NEXT), else the libgnutls.so.30 already loaded, e.g. by
 * a dlopen()ed module).  GnuTLS's headers give the types only.
 *
 * Every client handshake passes gnutls_handshake (libgnutls calls it through
 * its own PLT for the handshakes it starts itself, e.g. a rehandshake inside
 * gnutls_record_recv).  At the first call of each handshake of a client
 * session the peer is found (name: the SNI name the program set, else the
 * name the connected address was looked up under; port: the descriptor the
 * session reads from, unless the program gave it its own push/pull
 * functions, else the thread's latest connect(), as curl's) and its TLSA
 * records asked (shim/core/dane.h) at that name, or, when the SNI name is
 * the source domain of a secure SRV delegation to the name the address was
 * looked up under (shim/core/srvmemo.h), at the derived domain, whose
 * certificate then passes the program's name check too (a bogus SRV
 * refuses).  By what the answer says:
 *   - insecure, none, or no name/port known: the session is left untouched;
 *   - secure usable records: the presented chain must match them, decided
 *     by shim/core/danematch.h with GnuTLS's x509 functions: DANE-EE(3)
 *     authenticates the key or certificate alone (no names, no expiry),
 *     DANE-TA(2) a chain to the named anchor with the name check, PKIX-TA/EE
 *     (0/1) add to the program's own PKIX check.  The certificate checks the
 *     program asks for (gnutls_certificate_verify_peers2/3,
 *     gnutls_certificate_verify_peers, and so the auto-verification of
 *     gnutls_session_set_verify_cert and a callback of
 *     gnutls_certificate_set_verify_function that calls them, all through
 *     these hooks) report success where DANE-EE/DANE-TA authenticates the
 *     peer, and under `dane = enforce` GNUTLS_CERT_INVALID with
 *     GNUTLS_CERT_MISMATCH (or GNUTLS_CERT_UNEXPECTED_OWNER when only the
 *     name of a DANE-TA chain is wrong) where nothing matches.  Whatever the
 *     program checked, when its handshake completes without a match under
 *     enforce, gnutls_handshake sends a bad_certificate alert and fails with
 *     GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR, also when the program turned
 *     verification off;
 *   - bogus or failed lookup: under enforce the handshake fails the same way
 *     before any byte is sent.
 * A resumed session (gnutls_session_set_data) is checked like a full
 * handshake, on the certificate chain the resumed session carries (the one
 * its first handshake authenticated): a session from a peer the records do
 * not name is refused, a session whose data carries no chain too.
 * A refusal is one line, "hastls: DANE check failed for NAME:PORT: REASON
 * (dane enforce)", and an ordinary certificate failure for the program, and
 * the session stays refused (further handshakes fail).  Under `dane =
 * report` the line says "(dane report)" and nothing is refused (a match
 * still authenticates).  The shim's own resolver uses OpenSSL, never
 * GnuTLS; a GnuTLS connection to a configured upstream's DoT port passes
 * untouched (hastls_dane_peer).
 *
 * What the shim keeps per session sits in its own table keyed by the
 * session (never in the program's gnutls_session_set_ptr), freed by
 * gnutls_deinit.  Server sessions (gnutls_init with GNUTLS_SERVER) pass
 * untouched.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "shim/core/dane.h"
#include "shim/core/danematch.h"
#include "shim/core/locks.h"
#include "shim/core/log.h"
#include "shim/core/real.h"
#include "shim/core/srvmemo.h"
#include "shim/core/state.h"

#define EXPORT __attribute__((visibility("default")))
/* Certificates of a presented chain looked at; an anchor deeper is not found
 * (no match: fail closed). */
#define MAX_CHAIN 16
#define BUCKETS 256

/* GnuTLS's functions, found once.  ok: the hooks' own targets and what
 * finding the peer needs; x509: what matching needs. */
static struct {
    int ok, x509;
    __typeof__(&gnutls_init) init;
    __typeof__(&gnutls_deinit) deinit;
    __typeof__(&gnutls_handshake) handshake;
    __typeof__(&gnutls_certificate_verify_peers2) verify_peers2;
    __typeof__(&gnutls_certificate_verify_peers3) verify_peers3;
    __typeof__(&gnutls_certificate_verify_peers) verify_peers;
    __typeof__(&gnutls_transport_set_push_function) set_push;
    __typeof__(&gnutls_transport_set_vec_push_function) set_vec_push;
    __typeof__(&gnutls_transport_set_pull_function) set_pull;
    __typeof__(&gnutls_transport_get_int) get_int;
    __typeof__(&gnutls_server_name_set) server_name_set;
    __typeof__(&gnutls_error_is_fatal) error_is_fatal;
    __typeof__(&gnutls_alert_send) alert_send;
    __typeof__(&gnutls_certificate_get_peers) get_peers;
    __typeof__(&gnutls_x509_crt_init) crt_init;
    __typeof__(&gnutls_x509_crt_import) crt_import;
    __typeof__(&gnutls_x509_crt_deinit) crt_deinit;
    __typeof__(&gnutls_pubkey_init) pubkey_init;
    __typeof__(&gnutls_pubkey_import_x509) pubkey_import_x509;
    __typeof__(&gnutls_pubkey_export) pubkey_export;
    __typeof__(&gnutls_pubkey_deinit) pubkey_deinit;
    __typeof__(&gnutls_hash_fast) hash_fast;
    __typeof__(&gnutls_x509_trust_list_init) tl_init;
    __typeof__(&gnutls_x509_trust_list_add_cas) tl_add_cas;
    __typeof__(&gnutls_x509_trust_list_verify_crt2) tl_verify;
    __typeof__(&gnutls_x509_trust_list_deinit) tl_deinit;
    __typeof__(&gnutls_x509_crt_check_hostname) check_hostname; /* SRV delegation */
} gt;

static pthread_once_t bind_once = PTHREAD_ONCE_INIT;

/* What the shim decided for one session.  NONE: nothing to check (also
 * servers); DANE: the chain must match SET; REFUSED: every handshake fails. */
enum sess_state { SESS_NONE, SESS_DANE, SESS_REFUSED };

struct sess {
    struct sess *next;
    gnutls_session_t s;
    enum sess_state state;
    enum hastls_dane_mode mode;
    unsigned server : 1;       /* gnutls_init(GNUTLS_SERVER) */
    unsigned custom_io : 1;    /* the program's own push/pull functions */
    unsigned in_handshake : 1; /* decided for the handshake under way */
    unsigned matched : 1;      /* RES holds this handshake's verdict */
    unsigned logged : 1;       /* this handshake's line was written */
    struct hastls_danematch_result res;
    struct hastls_dane_set *set; /* state DANE: the records */
    uint16_t port;
    char name[HASTLS_NAME_MAX];  /* the peer's */
    char sni[HASTLS_NAME_MAX];   /* the name gnutls_server_name_set gave */
    char deleg[HASTLS_NAME_MAX]; /* the derived domain NAME securely delegates
                                  * this connection to (srvmemo.h), or "" */
};

/* The sessions the shim knows, hashed by address.  Held only to find,
 * insert or remove an entry; an entry itself is used by the thread that
 * drives its session (GnuTLS sessions are not shared during a handshake).
 * The lock is hastls_lock_gnutls (shim/core/state.c). */
static struct sess *table[BUCKETS];

static size_t bucket_of(gnutls_session_t s)
{
    uintptr_t p = (uintptr_t)s;
    return (size_t)((p >> 4) ^ (p >> 12)) % BUCKETS;
}

/* The entry of S, a new one when CREATE and none exists, or NULL. */
static struct sess *sess_get(gnutls_session_t s, int create)
{
    size_t b = bucket_of(s);
    pthread_mutex_lock(&hastls_lock_gnutls);
    struct sess *e = table[b];
    while (e && e->s != s)
        e = e->next;
    if (!e && create && (e = calloc(1, sizeof *e))) {
        e->s = s;
        e->next = table[b];
        table[b] = e;
    }
    pthread_mutex_unlock(&hastls_lock_gnutls);
    return e;
}

static void sess_drop(gnutls_session_t s)
{
    size_t b = bucket_of(s);
    pthread_mutex_lock(&hastls_lock_gnutls);
    struct sess **pp = &table[b];
    while (*pp && (*pp)->s != s)
        pp = &(*pp)->next;
    struct sess *e = *pp;
    if (e)
        *pp = e->next;
    pthread_mutex_unlock(&hastls_lock_gnutls);
    if (e) {
        free(e->set);
        free(e);
    }
}

/* The object that defines GnuTLS's gnutls_handshake (shim/core/real.h). */
static void *libgnutls_handle(void)
{
    static const char *const sonames[] = {"libgnutls.so.30"};
    return hastls_real_lib("gnutls_handshake", sonames, 1);
}

#define BIND(field, name) (gt.field = (__typeof__(gt.field))dlsym(h, #name))

static void bind_libgnutls(void)
{
    int saved = errno;
    void *h = libgnutls_handle();
    if (!h) {
        errno = saved;
        return;
    }
    BIND(init, gnutls_init);
    BIND(deinit, gnutls_deinit);
    BIND(handshake, gnutls_handshake);
    BIND(verify_peers2, gnutls_certificate_verify_peers2);
    BIND(verify_peers3, gnutls_certificate_verify_peers3);
    BIND(verify_peers, gnutls_certificate_verify_peers);
    BIND(set_push, gnutls_transport_set_push_function);
    BIND(set_vec_push, gnutls_transport_set_vec_push_function);
    BIND(set_pull, gnutls_transport_set_pull_function);
    BIND(get_int, gnutls_transport_get_int);
    BIND(server_name_set, gnutls_server_name_set);
    BIND(error_is_fatal, gnutls_error_is_fatal);
    BIND(alert_send, gnutls_alert_send);
    BIND(get_peers, gnutls_certificate_get_peers);
    BIND(crt_init, gnutls_x509_crt_init);
    BIND(crt_import, gnutls_x509_crt_import);
    BIND(crt_deinit, gnutls_x509_crt_deinit);
    BIND(pubkey_init, gnutls_pubkey_init);
    BIND(pubkey_import_x509, gnutls_pubkey_import_x509);
    BIND(pubkey_export, gnutls_pubkey_export);
    BIND(pubkey_deinit, gnutls_pubkey_deinit);
    BIND(hash_fast, gnutls_hash_fast);
    BIND(tl_init, gnutls_x509_trust_list_init);
    BIND(tl_add_cas, gnutls_x509_trust_list_add_cas);
    BIND(tl_verify, gnutls_x509_trust_list_verify_crt2);
    BIND(tl_deinit, gnutls_x509_trust_list_deinit);
    BIND(check_hostname, gnutls_x509_crt_check_hostname);
    gt.ok = gt.init && gt.deinit && gt.handshake && gt.get_int && gt.error_is_fatal &&
            gt.alert_send;
    gt.x509 = gt.get_peers && gt.crt_init && gt.crt_import && gt.crt_deinit &&
              gt.pubkey_init && gt.pubkey_import_x509 && gt.pubkey_export &&
              gt.pubkey_deinit && gt.hash_fast && gt.tl_init && gt.tl_add_cas &&
              gt.tl_verify && gt.tl_deinit;
    errno = saved;
}

static void bind_gt(void)
{
    pthread_once(&bind_once, bind_libgnutls);
}

static void log_once(struct sess *e, const char *reason)
{
    if (e->logged)
        return;
    e->logged = 1;
    hastls_dane_log_failure(e->mode, e->name, e->port, reason);
}

/* ------------------------------------------------------------------------ */
/* The presented chain, for danematch.h. */

struct chain {
    const gnutls_datum_t *peers;
    size_t n;
    gnutls_x509_crt_t crt[MAX_CHAIN];
    uint8_t *spki[MAX_CHAIN];
    size_t spki_len[MAX_CHAIN];
};

static int chain_crt(struct chain *c, size_t i, gnutls_x509_crt_t *out)
{
    if (i >= c->n)
        return -1;
    if (!c->crt[i]) {
        gnutls_x509_crt_t crt;
        if (gt.crt_init(&crt) < 0)
            return -1;
        if (gt.crt_import(crt, &c->peers[i], GNUTLS_X509_FMT_DER) < 0) {
            gt.crt_deinit(crt);
            return -1;
        }
        c->crt[i] = crt;
    }
    *out = c->crt[i];
    return 0;
}

static int op_cert(void *ctx, size_t i, const uint8_t **der, size_t *len)
{
    struct chain *c = ctx;
    if (i >= c->n)
        return -1;
    *der = c->peers[i].data;
    *len = c->peers[i].size;
    return 0;
}

static int op_spki(void *ctx, size_t i, const uint8_t **der, size_t *len)
{
    struct chain *c = ctx;
    gnutls_x509_crt_t crt;
    if (!c->spki[i]) {
        gnutls_pubkey_t key;
        if (chain_crt(c, i, &crt) < 0 || gt.pubkey_init(&key) < 0)
            return -1;
        size_t size = 0;
        int rc = gt.pubkey_import_x509(key, crt, 0);
        if (rc >= 0)
            rc = gt.pubkey_export(key, GNUTLS_X509_FMT_DER, NULL, &size);
        uint8_t *buf = NULL;
        if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER && size > 0 && (buf = malloc(size)))
            rc = gt.pubkey_export(key, GNUTLS_X509_FMT_DER, buf, &size);
        else if (rc >= 0)
            rc = -1; /* an empty key */
        gt.pubkey_deinit(key);
        if (rc < 0 || !buf) {
            free(buf);
            return -1;
        }
        c->spki[i] = buf;
        c->spki_len[i] = size;
    }
    *der = c->spki[i];
    *len = c->spki_len[i];
    return 0;
}

static int op_digest(void *ctx, uint8_t mtype, const uint8_t *in, size_t len,
                     uint8_t *out, size_t *outlen)
{
    (void)ctx;
    gnutls_digest_algorithm_t alg = mtype == 1 ? GNUTLS_DIG_SHA256 : GNUTLS_DIG_SHA512;
    if ((mtype != 1 && mtype != 2) || gt.hash_fast(alg, in, len, out) < 0)
        return -1;
    *outlen = mtype == 1 ? 32 : 64;
    return 0;
}

/* Words for what a trust-list verification found. */
static void describe(unsigned status, char *why, size_t whylen)
{
    static const struct {
        unsigned flag;
        const char *what;
    } words[] = {
        {GNUTLS_CERT_SIGNER_NOT_FOUND, "the chain does not lead to the anchor"},
        {GNUTLS_CERT_SIGNATURE_FAILURE, "a signature of the chain is wrong"},
        {GNUTLS_CERT_EXPIRED, "a certificate of the chain has expired"},
        {GNUTLS_CERT_NOT_ACTIVATED, "a certificate of the chain is not yet valid"},
        {GNUTLS_CERT_SIGNER_NOT_CA, "an issuer of the chain is no CA"},
        {GNUTLS_CERT_INSECURE_ALGORITHM, "the chain uses an insecure algorithm"},
        {GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE,
         "the chain breaks an issuer's constraints"},
        {GNUTLS_CERT_REVOKED, "a certificate of the chain is revoked"},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (status & words[i].flag) {
            snprintf(why, whylen, "%s", words[i].what);
            return;
        }
    snprintf(why, whylen, "the chain does not verify (status 0x%x)", status);
}

static int op_ta_path(void *ctx, size_t ta, const uint8_t *anchor, size_t alen,
                      const char *name, char *why, size_t whylen)
{
    struct chain *c = ctx;
    gnutls_x509_crt_t list[MAX_CHAIN], ca = NULL;
    size_t nlist = anchor ? c->n : ta;
    if (nlist == 0 || nlist > c->n) {
        snprintf(why, whylen, "no chain to verify");
        return -1;
    }
    for (size_t i = 0; i < nlist; i++)
        if (chain_crt(c, i, &list[i]) < 0) {
            snprintf(why, whylen, "a certificate of the chain does not parse");
            return -1;
        }
    gnutls_datum_t d;
    if (anchor) {
        d.data = (unsigned char *)anchor;
        d.size = (unsigned)alen;
    } else {
        d = c->peers[ta];
    }
    if (gt.crt_init(&ca) < 0)
        return -1;
    if (gt.crt_import(ca, &d, GNUTLS_X509_FMT_DER) < 0) {
        gt.crt_deinit(ca);
        snprintf(why, whylen, "the anchor does not parse");
        return -1;
    }
    gnutls_x509_trust_list_t tl;
    if (gt.tl_init(&tl, 0) < 0) {
        gt.crt_deinit(ca);
        return -1;
    }
    /* the list owns the anchor from here */
    if (gt.tl_add_cas(tl, &ca, 1, 0) != 1) {
        gt.tl_deinit(tl, 1);
        gt.crt_deinit(ca);
        return -1;
    }
    gnutls_typed_vdata_st data = {.type = GNUTLS_DT_DNS_HOSTNAME,
                                  .data = (unsigned char *)name};
    unsigned status = 0;
    int rc = gt.tl_verify(tl, list, (unsigned)nlist, &data, 1,
                          GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS, &status, NULL);
    gt.tl_deinit(tl, 1);
    if (rc < 0) {
        snprintf(why, whylen, "the chain cannot be verified (%d)", rc);
        return -1;
    }
    if (status == 0)
        return 0;
    if ((status & ~(unsigned)GNUTLS_CERT_INVALID) == GNUTLS_CERT_UNEXPECTED_OWNER) {
        snprintf(why, whylen, "the certificate is not valid for %s", name);
        return 1;
    }
    describe(status, why, whylen);
    return -1;
}

static void chain_free(struct chain *c)
{
    for (size_t i = 0; i < MAX_CHAIN; i++) {
        if (c->crt[i])
            gt.crt_deinit(c->crt[i]);
        free(c->spki[i]);
    }
}

/* This handshake's verdict for the DANE session E (computed once). */
static const struct hastls_danematch_result *verdict(gnutls_session_t s, struct sess *e)
{
    if (e->matched)
        return &e->res;
    e->matched = 1;
    if (!gt.x509) {
        memset(&e->res, 0, sizeof e->res);
        e->res.verdict = HASTLS_DANEMATCH_FAIL;
        snprintf(e->res.reason, sizeof e->res.reason,
                 "this GnuTLS lacks the functions DANE needs, and %s has TLSA records",
                 e->set->owner);
        return &e->res;
    }
    unsigned n = 0;
    struct chain c = {.peers = gt.get_peers(s, &n)};
    c.n = c.peers ? (n < MAX_CHAIN ? n : MAX_CHAIN) : 0;
    struct hastls_danematch_ops ops = {
        .ctx = &c,
        .n = c.n,
        .cert = op_cert,
        .spki = op_spki,
        .digest = op_digest,
        .ta_path = op_ta_path,
    };
    /* a DANE-TA chain of a secure delegation names the derived domain */
    hastls_danematch(e->set, e->deleg[0] ? e->deleg : e->name, &ops, &e->res);
    chain_free(&c);
    return &e->res;
}

/* ------------------------------------------------------------------------ */
/* Deciding a handshake. */

/* A refused session's transport: GnuTLS would otherwise still encrypt and
 * send what the program writes after the failed handshake (and read). */
static ssize_t refused_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
    (void)p, (void)data, (void)len;
    errno = ECONNABORTED;
    return -1;
}

static ssize_t refused_pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
    (void)p, (void)data, (void)len;
    errno = ECONNABORTED;
    return -1;
}

/* Marks E refused and cuts its session S off the network. */
static void refuse(gnutls_session_t s, struct sess *e)
{
    e->state = SESS_REFUSED;
    if (gt.set_push && gt.set_pull) {
        gt.set_push(s, refused_push);
        gt.set_pull(s, refused_pull);
    }
}

/* Applies the TLSA answer SET to E, the entry of S. */
static void decide(gnutls_session_t s, struct sess *e, struct hastls_dane_set *set)
{
    char reason[HASTLS_DANE_OWNER_MAX + 256];
    switch (set->state) {
    case HASTLS_DANE_NONE:
    case HASTLS_DANE_INSECURE:
        free(set);
        return;
    case HASTLS_DANE_USE:
        e->state = SESS_DANE;
        e->set = set;
        return;
    case HASTLS_DANE_BOGUS:
        snprintf(reason, sizeof reason, "the TLSA records at %s are DNSSEC-bogus: %s",
                 set->owner, set->why);
        break;
    case HASTLS_DANE_FAILED:
    default:
        snprintf(reason, sizeof reason, "the TLSA lookup of %s failed: %s", set->owner,
                 set->why);
        break;
    }
    free(set);
    log_once(e, reason);
    if (e->mode == HASTLS_DANE_ENFORCE)
        refuse(s, e);
}

/* Secure SRV delegation (RFC 7673, 7712; shim/core/srvmemo.h), as in the
 * OpenSSL hook: when the address KEY of E's peer was looked up under another
 * name than the SNI name E authenticates, applies the rule.  Secure: the
 * derived domain is kept in E (a certificate for it passes the program's
 * name check, see adjust_status) and is the name whose TLSA records count,
 * written into TLSA_NAME.  Insecure or none: TLSA_NAME stays E's name.
 * Bogus: a refusal under enforce.  Returns 0 to go on, -1 when refused. */
static int delegate(gnutls_session_t s, struct sess *e, const uint8_t key[16],
                    char *tlsa_name)
{
    char target[HASTLS_NAME_MAX];
    struct hastls_deleg_result d;
    if (hastls_dane_name_of(key, e->port, target) < 0 ||
        hastls_srv_delegation(e->name, target, e->port, key, &d) < 0)
        return 0;
    switch (d.state) {
    case HASTLS_DELEG_SECURE:
        snprintf(e->deleg, sizeof e->deleg, "%s", d.target);
        snprintf(tlsa_name, HASTLS_NAME_MAX, "%s", d.target);
        hastls_log(HASTLS_LOG_DEBUG, "%s:%u: securely delegated to %s by %s", e->name,
                   e->port, d.target, d.owner);
        return 0;
    case HASTLS_DELEG_INSECURE:
        hastls_log(HASTLS_LOG_INFO,
                   "%s:%u: %s is not a secure SRV delegation (%s): verifying %s only",
                   e->name, e->port, d.target, d.why, e->name);
        return 0;
    case HASTLS_DELEG_BOGUS:
        log_once(e, d.why);
        if (e->mode != HASTLS_DANE_ENFORCE)
            return 0;
        refuse(s, e);
        return -1;
    case HASTLS_DELEG_NONE:
    default:
        return 0;
    }
}

/* Whether the server certificate of S is valid for NAME (the host name
 * rules of RFC 6125, GnuTLS's). */
static int leaf_fits(gnutls_session_t s, const char *name)
{
    unsigned n = 0;
    const gnutls_datum_t *peers = gt.get_peers ? gt.get_peers(s, &n) : NULL;
    gnutls_x509_crt_t crt;
    if (!peers || n == 0 || !gt.check_hostname || !gt.crt_init || gt.crt_init(&crt) < 0)
        return 0;
    int fits = gt.crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) >= 0 &&
               gt.check_hostname(crt, name) != 0;
    gt.crt_deinit(crt);
    return fits;
}

/* Decides for the client session S (entry E), whose handshake starts. */
static void prepare(gnutls_session_t s, struct sess *e)
{
    const struct hastls_config *cfg = hastls_state_config();
    free(e->set);
    e->set = NULL;
    e->state = SESS_NONE;
    e->matched = e->logged = 0;
    e->deleg[0] = 0;
    e->in_handshake = 1;
    e->mode = cfg->dane;
    if (cfg->dane == HASTLS_DANE_OFF)
        return;
    uint8_t key[16];
    int fd = e->custom_io ? -1 : gt.get_int(s);
    if (hastls_dane_peer(fd, key, &e->port) < 0)
        return;
    /* GnuTLS tells a client nothing about its own SNI: the hook kept it */
    if (e->sni[0])
        memcpy(e->name, e->sni, sizeof e->name);
    else if (hastls_dane_name_of(key, e->port, e->name) < 0)
        return;
    char tlsa_name[HASTLS_NAME_MAX];
    snprintf(tlsa_name, sizeof tlsa_name, "%s", e->name);
    if (e->sni[0] && delegate(s, e, key, tlsa_name) < 0)
        return;
    struct hastls_dane_set *set = hastls_dane_lookup(tlsa_name, e->port);
    if (set)
        decide(s, e, set);
}

/* Before a handshake call on S: its entry, or NULL when nothing applies. */
static struct sess *gate(gnutls_session_t s)
{
    if (!s || hastls_guarded())
        return NULL;
    struct sess *e = sess_get(s, 1);
    if (!e) {
        hastls_log(HASTLS_LOG_ERROR,
                   "out of memory for the DANE check of a GnuTLS session");
        return NULL;
    }
    if (e->server)
        return NULL;
    if (!e->in_handshake && e->state != SESS_REFUSED) {
        int saved = errno;
        prepare(s, e);
        errno = saved;
    }
    return e;
}

/* After the handshake call on S (entry E) returned RC: the post-handshake
 * check.  Returns what the hook returns. */
static int after(gnutls_session_t s, struct sess *e, int rc)
{
    if (rc < 0) {
        if (gt.error_is_fatal(rc))
            e->in_handshake = 0;
        return rc;
    }
    e->in_handshake = 0;
    if (e->state != SESS_DANE)
        return rc;
    int saved = errno;
    const struct hastls_danematch_result *r = verdict(s, e);
    if (r->verdict == HASTLS_DANEMATCH_FAIL) {
        log_once(e, r->reason);
        if (e->mode == HASTLS_DANE_ENFORCE) {
            (void)gt.alert_send(s, GNUTLS_AL_FATAL, GNUTLS_A_BAD_CERTIFICATE);
            refuse(s, e);
            rc = GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
        }
    }
    errno = saved;
    return rc;
}

/* What a certificate check of S reports, given GnuTLS's *STATUS. */
static void adjust_status(gnutls_session_t s, unsigned *status)
{
    if (!status || hastls_guarded())
        return;
    struct sess *e = sess_get(s, 0);
    if (!e || e->server)
        return;
    int saved = errno;
    /* a secure SRV delegation: a certificate for the derived domain is one
     * for the source too (only the name verdict changes, the rest stays) */
    if (e->deleg[0] && (*status & GNUTLS_CERT_UNEXPECTED_OWNER) &&
        leaf_fits(s, e->deleg)) {
        *status &= ~(unsigned)GNUTLS_CERT_UNEXPECTED_OWNER;
        if (*status == GNUTLS_CERT_INVALID)
            *status = 0;
    }
    if (e->state == SESS_REFUSED) {
        *status |= GNUTLS_CERT_INVALID | GNUTLS_CERT_MISMATCH;
    } else if (e->state == SESS_DANE) {
        const struct hastls_danematch_result *r = verdict(s, e);
        if (r->verdict == HASTLS_DANEMATCH_DANE) {
            *status = 0;
        } else if (r->verdict == HASTLS_DANEMATCH_FAIL) {
            log_once(e, r->reason);
            if (e->mode == HASTLS_DANE_ENFORCE)
                *status |=
                    GNUTLS_CERT_INVALID | (r->name_mismatch ? GNUTLS_CERT_UNEXPECTED_OWNER
                                                            : GNUTLS_CERT_MISMATCH);
        }
    }
    errno = saved;
}

/* ------------------------------------------------------------------------ */
/* The hooks: each returns what GnuTLS's function returns, or
 * GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR when DANE refuses the peer. */

EXPORT int gnutls_init(gnutls_session_t *session, unsigned int flags)
{
    bind_gt();
    if (!gt.init)
        return GNUTLS_E_INTERNAL_ERROR;
    int rc = gt.init(session, flags);
    if (rc == 0 && session && *session) {
        int saved = errno;
        /* a session at the address of one freed without gnutls_deinit */
        sess_drop(*session);
        if (flags & GNUTLS_SERVER) {
            struct sess *e = sess_get(*session, 1);
            if (e)
                e->server = 1;
        }
        errno = saved;
    }
    return rc;
}

EXPORT void gnutls_deinit(gnutls_session_t session)
{
    bind_gt();
    if (session) {
        int saved = errno;
        sess_drop(session);
        errno = saved;
    }
    if (gt.deinit)
        gt.deinit(session);
}

EXPORT int gnutls_handshake(gnutls_session_t session)
{
    bind_gt();
    if (!gt.handshake)
        return GNUTLS_E_INTERNAL_ERROR;
    struct sess *e = gt.ok ? gate(session) : NULL;
    if (e && e->state == SESS_REFUSED)
        return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
    int rc = gt.handshake(session);
    return e ? after(session, e, rc) : rc;
}

EXPORT int gnutls_certificate_verify_peers2(gnutls_session_t session,
                                            unsigned int *status)
{
    bind_gt();
    if (!gt.verify_peers2)
        return GNUTLS_E_INTERNAL_ERROR;
    int rc = gt.verify_peers2(session, status);
    if (rc == 0 && gt.ok)
        adjust_status(session, status);
    return rc;
}

EXPORT int gnutls_certificate_verify_peers3(gnutls_session_t session,
                                            const char *hostname, unsigned int *status)
{
    bind_gt();
    if (!gt.verify_peers3)
        return GNUTLS_E_INTERNAL_ERROR;
    int rc = gt.verify_peers3(session, hostname, status);
    if (rc == 0 && gt.ok)
        adjust_status(session, status);
    return rc;
}

EXPORT int gnutls_certificate_verify_peers(gnutls_session_t session,
                                           gnutls_typed_vdata_st *data,
                                           unsigned int elements, unsigned int *status)
{
    bind_gt();
    if (!gt.verify_peers)
        return GNUTLS_E_INTERNAL_ERROR;
    int rc = gt.verify_peers(session, data, elements, status);
    if (rc == 0 && gt.ok)
        adjust_status(session, status);
    return rc;
}

/* The program's own transport: the session's transport pointer is then the
 * program's, not a descriptor. */
static void note_custom_io(gnutls_session_t session)
{
    int saved = errno;
    struct sess *e = session ? sess_get(session, 1) : NULL;
    if (e)
        e->custom_io = 1;
    errno = saved;
}

EXPORT void gnutls_transport_set_push_function(gnutls_session_t session,
                                               gnutls_push_func push_func)
{
    bind_gt();
    if (!gt.set_push)
        return;
    gt.set_push(session, push_func);
    note_custom_io(session);
}

EXPORT void gnutls_transport_set_vec_push_function(gnutls_session_t session,
                                                   gnutls_vec_push_func vec_func)
{
    bind_gt();
    if (!gt.set_vec_push)
        return;
    gt.set_vec_push(session, vec_func);
    note_custom_io(session);
}

EXPORT void gnutls_transport_set_pull_function(gnutls_session_t session,
                                               gnutls_pull_func pull_func)
{
    bind_gt();
    if (!gt.set_pull)
        return;
    gt.set_pull(session, pull_func);
    note_custom_io(session);
}

/* The name the program gives the server (SNI): the name DANE checks. */
EXPORT int gnutls_server_name_set(gnutls_session_t session,
                                  gnutls_server_name_type_t type, const void *name,
                                  size_t name_length)
{
    bind_gt();
    if (!gt.server_name_set)
        return GNUTLS_E_INTERNAL_ERROR;
    int rc = gt.server_name_set(session, type, name, name_length);
    if (rc == 0 && session && type == GNUTLS_NAME_DNS) {
        int saved = errno;
        struct sess *e = sess_get(session, 1);
        if (e) {
            /* a name too long for DNS is none */
            size_t n = name && name_length < sizeof e->sni ? name_length : 0;
            memcpy(e->sni, name, n);
            e->sni[n] = '\0';
        }
        errno = saved;
    }
    return rc;
}
