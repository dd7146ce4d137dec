/* shim/core/dane.c: TLSA lookups for the TLS hooks, their cache and the
 * peer of a handshake (see dane.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <link.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shim/core/addrmap.h"
#include "shim/core/cache.h"
#include "shim/core/dane.h"
#include "shim/core/hosts.h"
#include "shim/core/ip.h"
#include "shim/core/locks.h"
#include "shim/core/log.h"
#include "shim/core/state.h"

/* The cache: a few peers per process (a program talks to few TLS servers),
 * searched linearly; the entry that expires first makes room.  Guarded by
 * hastls_lock_dane (in the fork list, locks.h); held only to copy. */
#define DANE_CACHE_SLOTS 64
/* A bogus answer is kept at most this long: the zone may be repaired. */
#define DANE_BOGUS_TTL 60

struct slot {
    char owner[HASTLS_DANE_OWNER_MAX];
    uint64_t expires;
    struct hastls_dane_set *set;
    size_t size;
};

pthread_mutex_t hastls_lock_dane = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[DANE_CACHE_SLOTS];

/* The calling thread's latest connect(). */
static __thread struct {
    int fd; /* -1: none */
    int valid;
    uint8_t key[16];
    uint16_t port;
} last_connect __attribute__((tls_model("initial-exec")));

/* A copy of SET (SIZE bytes) with its records' data pointers moved into the
 * copy. */
static struct hastls_dane_set *set_copy(const struct hastls_dane_set *set, size_t size)
{
    struct hastls_dane_set *c = malloc(size);
    if (!c)
        return NULL;
    memcpy(c, set, size);
    for (size_t i = 0; i < c->n; i++)
        c->rec[i].data = (const uint8_t *)c + (set->rec[i].data - (const uint8_t *)set);
    return c;
}

static struct hastls_dane_set *cache_get(const char *owner, uint64_t now)
{
    struct hastls_dane_set *c = NULL;
    pthread_mutex_lock(&hastls_lock_dane);
    for (size_t i = 0; i < DANE_CACHE_SLOTS; i++)
        if (slots[i].set && slots[i].expires > now && !strcmp(slots[i].owner, owner)) {
            c = set_copy(slots[i].set, slots[i].size);
            break;
        }
    pthread_mutex_unlock(&hastls_lock_dane);
    return c;
}

static void cache_put(const char *owner, uint64_t now, uint64_t expires,
                      const struct hastls_dane_set *set, size_t size)
{
    struct hastls_dane_set *c = set_copy(set, size);
    if (!c)
        return; /* only a cache */
    pthread_mutex_lock(&hastls_lock_dane);
    size_t victim = 0;
    for (size_t i = 0; i < DANE_CACHE_SLOTS; i++) {
        if (slots[i].set && !strcmp(slots[i].owner, owner)) {
            victim = i;
            break;
        }
        if (!slots[i].set || slots[i].expires <= now) {
            victim = i;
            continue;
        }
        if (slots[victim].set && slots[victim].expires > now &&
            slots[i].expires < slots[victim].expires)
            victim = i;
    }
    free(slots[victim].set);
    snprintf(slots[victim].owner, sizeof slots[victim].owner, "%s", owner);
    slots[victim].expires = expires;
    slots[victim].set = c;
    slots[victim].size = size;
    pthread_mutex_unlock(&hastls_lock_dane);
}

size_t hastls_dane_cache_count(void)
{
    size_t n = 0;
    pthread_mutex_lock(&hastls_lock_dane);
    for (size_t i = 0; i < DANE_CACHE_SLOTS; i++)
        n += slots[i].set != NULL;
    pthread_mutex_unlock(&hastls_lock_dane);
    return n;
}

/* Whether NAME (normalized) can have TLSA records at all: not an address
 * literal, not a localhost name (RFC 6761), not a hosts-file name. */
static int in_dns(const char *name)
{
    uint8_t buf[16];
    if (inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1)
        return 0;
    size_t len = strlen(name);
    if (!strcmp(name, "localhost") ||
        (len > 10 && !strcmp(name + len - 10, ".localhost")))
        return 0;
    struct hastls_ip ip[1];
    size_t n = 0;
    if (hastls_hosts_lookup_name(name, AF_UNSPEC, ip, 1, &n, NULL))
        return 0;
    return 1;
}

/* Copies SRC into DST (CAP bytes), cut to fit. */
static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The set of the answer A to OWNER's TLSA query; *SIZE gets its size. */
static struct hastls_dane_set *set_of(const char *owner, const struct hastls_answer *a,
                                      size_t *size)
{
    struct hastls_tlsa usable[HASTLS_DANE_MAX_RECORDS];
    size_t nu = 0;
    if (a->status == HASTLS_SEC_SECURE)
        nu = hastls_tlsa_usable(a->rr, a->n_rr, usable, HASTLS_DANE_MAX_RECORDS);
    size_t keep = nu < HASTLS_DANE_MAX_RECORDS ? nu : HASTLS_DANE_MAX_RECORDS;
    size_t bytes = sizeof(struct hastls_dane_set) + keep * sizeof(struct hastls_tlsa);
    for (size_t i = 0; i < keep; i++)
        bytes += usable[i].dlen;
    struct hastls_dane_set *s = calloc(1, bytes);
    if (!s)
        return NULL;
    s->state = hastls_dane_state(a->status, a->rcode, nu);
    snprintf(s->owner, sizeof s->owner, "%s", owner);
    if (s->state == HASTLS_DANE_BOGUS)
        copy_cut(s->why, sizeof s->why, a->reason[0] ? a->reason : "validation failed");
    else if (s->state == HASTLS_DANE_FAILED && a->reason[0])
        copy_cut(s->why, sizeof s->why, a->reason);
    else if (s->state == HASTLS_DANE_FAILED)
        snprintf(s->why, sizeof s->why, "no answer (RCODE %d)", a->rcode);
    uint8_t *data = (uint8_t *)&s->rec[keep];
    for (size_t i = 0; i < keep; i++) {
        s->rec[i] = usable[i];
        memcpy(data, usable[i].data, usable[i].dlen);
        s->rec[i].data = data;
        data += usable[i].dlen;
    }
    s->n = keep;
    *size = bytes;
    return s;
}

/* The set of A, OWNER's answer, kept in the cache under the rules of
 * dane.h (hastls_dane_keep); NULL when out of memory (logged). */
static struct hastls_dane_set *set_keep(const char *owner, const struct hastls_answer *a,
                                        uint64_t now, const char *how)
{
    size_t size = 0;
    struct hastls_dane_set *s = set_of(owner, a, &size);
    if (!s) {
        hastls_log(HASTLS_LOG_ERROR, "out of memory keeping the TLSA records of %s",
                   owner);
        return NULL;
    }
    uint64_t ttl = a->ttl;
    if (s->state == HASTLS_DANE_BOGUS && ttl > DANE_BOGUS_TTL)
        ttl = DANE_BOGUS_TTL;
    if (s->state != HASTLS_DANE_FAILED && ttl > 0)
        cache_put(owner, now, now + ttl, s, size);
    if (hastls_log_enabled(HASTLS_LOG_DEBUG))
        hastls_log(HASTLS_LOG_DEBUG, "TLSA %s: %s, %zu usable record(s) (%s)", owner,
                   hastls_dane_name(s->state), s->n, how);
    return s;
}

void hastls_dane_keep(const char *owner, const struct hastls_answer *a, const char *how)
{
    free(set_keep(owner, a, hastls_now(), how));
}

/* The TLSA owner name for NAME, PORT and PROTO (IPPROTO_TCP or IPPROTO_UDP)
 * into OWNER, when NAME reaches DNS.  Returns 0, or -1. */
static int owner_of(const char *name, uint16_t port, int proto, char *owner)
{
    char norm[HASTLS_NAME_MAX];
    const char *p = proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : NULL;
    if (!name || !p || hastls_name_normalize(name, norm) < 0 || !in_dns(norm) ||
        hastls_tlsa_owner(port, p, norm, owner, HASTLS_DANE_OWNER_MAX) < 0)
        return -1;
    return 0;
}

struct hastls_dane_set *hastls_dane_lookup_proto(const char *name, uint16_t port,
                                                 int proto)
{
    char owner[HASTLS_DANE_OWNER_MAX];
    if (owner_of(name, port, proto, owner) < 0)
        return NULL;
    uint64_t now = hastls_now();
    struct hastls_dane_set *s = cache_get(owner, now);
    if (s) {
        if (hastls_log_enabled(HASTLS_LOG_DEBUG))
            hastls_log(HASTLS_LOG_DEBUG, "TLSA %s: %s, from the cache", owner,
                       hastls_dane_name(s->state));
        return s;
    }

    const struct hastls_resolver_api *api;
    struct hastls_resolver *r;
    struct hastls_answer *ans = NULL;
    struct hastls_query q = {owner, HASTLS_DNS_TYPE_TLSA};
    int saved = errno;
    if (hastls_state_resolver(&api, &r) < 0) {
        errno = saved;
        struct hastls_answer none = {.status = HASTLS_SEC_FAILED, .rcode = -1};
        snprintf(none.reason, sizeof none.reason, "resolver unavailable");
        size_t size;
        return set_of(owner, &none, &size);
    }
    hastls_guard_enter();
    int rc = api->lookup(r, &q, 1, &ans);
    hastls_guard_leave();
    errno = saved;
    if (rc < 0 || !ans) {
        hastls_log(HASTLS_LOG_ERROR, "resolver out of memory looking up %s TLSA", owner);
        return NULL;
    }
    s = set_keep(owner, ans, now, "asked for the handshake");
    api->answer_free(ans);
    return s;
}

struct hastls_dane_set *hastls_dane_lookup(const char *name, uint16_t port)
{
    return hastls_dane_lookup_proto(name, port, IPPROTO_TCP);
}

/* Whether the cache holds a live entry for OWNER. */
static int cache_holds(const char *owner, uint64_t now)
{
    int found = 0;
    pthread_mutex_lock(&hastls_lock_dane);
    for (size_t i = 0; i < DANE_CACHE_SLOTS && !found; i++)
        found = slots[i].set && slots[i].expires > now && !strcmp(slots[i].owner, owner);
    pthread_mutex_unlock(&hastls_lock_dane);
    return found;
}

/* Whether SONAME is a TLS library whose handshakes the TLS hooks check. */
static int is_tls_library(const char *soname)
{
    return !strncmp(soname, "libssl.so", 9) || !strncmp(soname, "libgnutls.so", 12);
}

/* dl_iterate_phdr's callback: sets *DATA when the object INFO needs a TLS
 * library (DT_NEEDED), the shim's own objects apart (the resolver links
 * libssl for its DNS-over-TLS). */
static int object_needs_tls(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    if (strstr(name, "libhastls") || strstr(name, "linux-vdso"))
        return 0;
    const ElfW(Dyn) *dyn = NULL;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (!dyn)
        return 0;
    ElfW(Addr) strtab = 0;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++)
        if (d->d_tag == DT_STRTAB)
            strtab = d->d_un.d_ptr;
    /* The loader relocates the dynamic section in place on most targets;
     * where it does not, the address is still relative to the object. */
    if (!strtab)
        return 0;
    if (strtab < info->dlpi_addr)
        strtab += info->dlpi_addr;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++)
        if (d->d_tag == DT_NEEDED &&
            is_tls_library((const char *)strtab + d->d_un.d_val)) {
            *(int *)data = 1;
            return 1; /* stops the walk */
        }
    return 0;
}

/* Whether the program has loaded a TLS library of its own (an object that
 * needs libssl or libgnutls: the program itself, libcurl, python's _ssl):
 * without one no handshake would use a TLSA answer.  Once seen, always. */
static int program_has_tls(void)
{
    static int seen; /* __atomic builtins */
    if (__atomic_load_n(&seen, __ATOMIC_RELAXED))
        return 1;
    int found = 0;
    dl_iterate_phdr(object_needs_tls, &found);
    if (found)
        __atomic_store_n(&seen, 1, __ATOMIC_RELAXED);
    return found;
}

int hastls_dane_prefetch_owner(const char *key, uint16_t port, int socktype, int protocol,
                               char *owner)
{
    const char *p = hastls_tlsa_prefetch_proto(port, socktype, protocol);
    if (!p || hastls_state_config()->dane == HASTLS_DANE_OFF || !program_has_tls() ||
        hastls_tlsa_owner(port, p, key, owner, HASTLS_DANE_OWNER_MAX) < 0)
        return 0;
    return !cache_holds(owner, hastls_now());
}

void hastls_dane_note_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    uint16_t port;
    if (hastls_sockaddr_key(addr, len, last_connect.key, &port) < 0) {
        last_connect.valid = 0;
        return;
    }
    last_connect.fd = fd;
    last_connect.port = port;
    last_connect.valid = 1;
}

/* The connected TCP or UDP peer of FD: 0 with KEY, *PORT and *PROTO, or
 * -1. */
static int sock_peer(int fd, uint8_t key[16], uint16_t *port, int *proto)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int type = 0;
    socklen_t tlen = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 ||
        (type != SOCK_STREAM && type != SOCK_DGRAM) ||
        getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    *proto = type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
    return hastls_sockaddr_key((struct sockaddr *)&ss, len, key, port);
}

static int peer_of(int fd, uint8_t key[16], uint16_t *port, int *proto)
{
    int saved = errno, rc = -1;
    if (fd >= 0) {
        rc = sock_peer(fd, key, port, proto);
    } else if (last_connect.valid && sock_peer(last_connect.fd, key, port, proto) == 0) {
        /* still the socket the thread connected (not closed, its number
         * not reused for another peer) */
        rc = memcmp(key, last_connect.key, 16) || *port != last_connect.port ? -1 : 0;
    }
    errno = saved;
    return rc;
}

int hastls_dane_peer_proto(int fd, uint8_t key[16], uint16_t *port, int *proto)
{
    if (peer_of(fd, key, port, proto) < 0 ||
        hastls_ip_is_upstream(hastls_state_config(), key, *port))
        return -1;
    return 0;
}

int hastls_dane_peer(int fd, uint8_t key[16], uint16_t *port)
{
    int proto = 0;
    if (hastls_dane_peer_proto(fd, key, port, &proto) < 0 || proto != IPPROTO_TCP)
        return -1;
    return 0;
}

int hastls_dane_name_of(const uint8_t key[16], uint16_t port, char *name)
{
    struct hastls_addrmap *map = hastls_state_addrmap_if_any();
    struct hastls_addrmap_verdict v;
    if (!map || !hastls_addrmap_decide(map, key, port, HASTLS_CLIENT_CFB,
                                       HASTLS_BOGUS_BLOCK, hastls_now(), &v))
        return -1;
    snprintf(name, HASTLS_NAME_MAX, "%s", v.name);
    return 0;
}

void hastls_dane_log_failure(enum hastls_dane_mode mode, const char *name, uint16_t port,
                             const char *reason)
{
    hastls_log(mode == HASTLS_DANE_ENFORCE ? HASTLS_LOG_ERROR : HASTLS_LOG_WARN,
               "DANE check failed for %s:%u: %s (dane %s)", name, port, reason,
               hastls_dane_mode_name(mode));
}
