/* shim/core/enforce.c: the connect()/sendto() decision (see enforce.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "policy/verdict.h"
#include "shim/core/enforce.h"
#include "shim/core/ip.h"
#include "shim/core/log.h"
#include "shim/core/state.h"

/* The resolver's own destination: an upstream's address on its DoT port.
 * Port 53 to an upstream is not exempt: under strict/encrypted the resolver
 * never uses it (so it can only be the program's own DNS), and under
 * opportunistic/off port 53 is not refused in the first place. */
static int is_upstream(const struct hastls_config *cfg, const uint8_t key[16],
                       uint16_t port)
{
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        uint8_t k[16];
        const struct hastls_upstream *u = &cfg->upstreams[i];
        hastls_ip_key(u->family,
                      u->family == AF_INET ? (const void *)&u->addr.v4
                                           : (const void *)&u->addr.v6,
                      k);
        if (port == u->port && !memcmp(k, key, 16))
            return 1;
    }
    return 0;
}

/* Writes the blocked / would-block line; returns the hook's result. */
static int refuse(const struct hastls_config *cfg, const char *what, const char *name,
                  const uint8_t key[16], uint16_t port, const char *reason)
{
    char addr[64];
    hastls_key_format(key, addr, sizeof addr);
    const char *client = hastls_client_name(cfg->client);
    if (cfg->mode == HASTLS_MODE_REPORT) {
        hastls_log(HASTLS_LOG_WARN, "would block %s to %s[%s]:%u: %s (client %s)", what,
                   name, addr, port, reason, client);
        return 0;
    }
    hastls_log(HASTLS_LOG_ERROR, "blocked %s to %s[%s]:%u: %s (client %s)", what, name,
               addr, port, reason, client);
    errno = EACCES;
    return -1;
}

int hastls_enforce(const struct sockaddr *sa, socklen_t len, const char *what)
{
    uint8_t key[16];
    uint16_t port;
    if (hastls_guarded() || hastls_sockaddr_key(sa, len, key, &port) < 0)
        return 0;
    const struct hastls_config *cfg = hastls_state_config();
    if (is_upstream(cfg, key, port))
        return 0;
    if (port == 53 && (cfg->privacy == HASTLS_PRIVACY_STRICT ||
                       cfg->privacy == HASTLS_PRIVACY_ENCRYPTED)) {
        char reason[128];
        snprintf(reason, sizeof reason, "cleartext DNS is refused under privacy %s",
                 hastls_privacy_name(cfg->privacy));
        return refuse(cfg, what, "", key, port, reason);
    }
    struct hastls_addrmap *map = hastls_state_addrmap_if_any();
    struct hastls_addrmap_verdict v;
    if (!map ||
        !hastls_addrmap_decide(map, key, port, cfg->client, cfg->bogus, hastls_now(), &v))
        return 0;
    if (v.d.verdict == HASTLS_VERDICT_ALLOW)
        return 0;
    char reason[256];
    hastls_rec_reason(v.rec, cfg->bogus, &v.d, port, reason, sizeof reason);
    if (v.d.verdict == HASTLS_VERDICT_ALLOW_NOTE) {
        if (hastls_log_enabled(HASTLS_LOG_INFO)) {
            char addr[64];
            hastls_key_format(key, addr, sizeof addr);
            hastls_log(HASTLS_LOG_INFO,
                       "cleartext %s to %s[%s]:%u allowed: %s (client %s)", what, v.name,
                       addr, port, reason, hastls_client_name(cfg->client));
        }
        return 0;
    }
    return refuse(cfg, what, v.name, key, port, reason);
}
