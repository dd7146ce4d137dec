/* tests/fuzz/fuzz_config.c: the configuration loader on arbitrary bytes.
 * Asserts that a loaded configuration is within the documented ranges and
 * that a refused one says why, every line "fuzz.conf:LINE: ...".  The upstream
 * syntax on its own too: an accepted IPv6 upstream was written in brackets,
 * an IPv4 one without, and a '#' always carried a name.  (Text only: the file
 * checks of hastls_config_load are not byte parsing and are unit-tested.) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/config.h"

#define CHECK(x)                                                                         \
    do {                                                                                 \
        if (!(x))                                                                        \
            abort();                                                                     \
    } while (0)

static struct hastls_config cfg;
static char err[4096];

static int terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

/* What an accepted upstream must look like, whatever the text was. */
static void check_upstream(const struct hastls_upstream *u)
{
    CHECK(u->family == AF_INET || u->family == AF_INET6);
    CHECK(u->port != 0);
    CHECK(terminated(u->auth_name, sizeof u->auth_name));
    CHECK(terminated(u->text, sizeof u->text));
    if (u->family == AF_INET6)
        CHECK(u->text[0] == '[' && strchr(u->text, ']'));
    else
        CHECK(!strchr(u->text, '[') && !strchr(u->text, ']') && !strchr(u->text, ':'));
    const char *hash = strchr(u->text, '#');
    CHECK(hash ? u->auth_name[0] != '\0' : u->auth_name[0] == '\0');
    const char *at = strchr(u->text, '@');
    if (at && (!hash || at < hash))
        CHECK(at[1] >= '1' && at[1] <= '9'); /* no empty port, no leading zero */
    else
        CHECK(u->port == HASTLS_DOT_PORT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *apps[] = {NULL, "/usr/bin/curl"};
    for (int a = 0; a < 2; a++) {
        memset(err, 'Z', sizeof err);
        int r = hastls_config_load_string((const char *)data, size, "fuzz.conf", apps[a],
                                          &cfg, err, sizeof err);
        CHECK(terminated(err, sizeof err));
        if (r == 0) {
            CHECK(err[0] == '\0');
            CHECK(cfg.n_upstreams >= 1 && cfg.n_upstreams <= HASTLS_MAX_UPSTREAMS);
            for (size_t k = 0; k < cfg.n_upstreams; k++) {
                const struct hastls_upstream *u = &cfg.upstreams[k];
                check_upstream(u);
                /* what was accepted once parses again the same way */
                struct hastls_upstream again;
                CHECK(hastls_upstream_parse(u->text, &again, NULL, 0) == 0);
                CHECK(!memcmp(&again, u, sizeof again));
            }
            CHECK(cfg.n_pins <= HASTLS_MAX_PINS);
            CHECK(cfg.timeout_ms >= 100 && cfg.timeout_ms <= 60000);
            CHECK(cfg.ca_bundle[0] == '/' && cfg.trust_anchor[0] == '/');
            CHECK(cfg.alpn[0] != '\0' && terminated(cfg.alpn, sizeof cfg.alpn));
            CHECK(cfg.record_type > 255);
            CHECK((unsigned)cfg.privacy <= HASTLS_PRIVACY_OFF);
            CHECK((unsigned)cfg.client <= HASTLS_CLIENT_CSO);
            CHECK((unsigned)cfg.mode <= HASTLS_MODE_REPORT);
            CHECK((unsigned)cfg.bogus <= HASTLS_BOGUS_IGNORE);
            CHECK((unsigned)cfg.log_level <= HASTLS_LOG_DEBUG);
            CHECK(!strcmp(cfg.source, "fuzz.conf"));
            if (!apps[a])
                CHECK(cfg.app_section[0] == '\0');
        } else {
            CHECK(r == -1);
            /* every line names the file and a line number */
            CHECK(!strncmp(err, "fuzz.conf:", 10));
            for (const char *nl = strchr(err, '\n'); nl; nl = strchr(nl + 1, '\n')) {
                const char *p = nl + 1;
                CHECK(!strncmp(p, "fuzz.conf:", 10) ||
                      strlen(p) < 10); /* the last line may be truncated */
            }
        }
    }

    /* The upstream syntax on its own, on a NUL-terminated copy. */
    if (size < 1024) {
        char s[1024];
        memcpy(s, data, size);
        s[size] = '\0';
        struct hastls_upstream u;
        char e[512];
        if (hastls_upstream_parse(s, &u, e, sizeof e) == 0) {
            CHECK(!strcmp(u.text, s));
            check_upstream(&u);
        } else {
            CHECK(!strncmp(e, "bad upstream '", 14));
        }
    }
    return 0;
}
