/* shim/cli/cmd_config.c: `hastls config check|show [--app PATH] [FILE]`.
 *
 * check: validates FILE (or, without FILE, what a program under the shim would
 * load: HASTLS_CONF, else /etc/hastls/hastls.conf, else the built-in
 * defaults) and prints "ok", or the errors as "hastls: FILE:LINE: message" on
 * standard error with status 1.
 * show: the same, then prints the effective settings in the file's own syntax.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy/config.h"
#include "shim/cli/cli.h"
#include "shim/cli/format.h"

static void config_usage(FILE *out)
{
    fprintf(out,
            "usage: hastls config check [--app PATH] [FILE]\n"
            "       hastls config show [--app PATH] [FILE]\n"
            "\n"
            "check  validate FILE; without FILE, the file a program would load\n"
            "       ($HASTLS_CONF, else %s, else the built-in defaults)\n"
            "show   validate, then print the effective settings\n"
            "--app PATH  apply the [app:NAME] section(s) matching program PATH\n"
            "            (without FILE, also HASTLS_APP, HASTLS_LOG and HASTLS_MODE\n"
            "            apply, as in a program under the shim)\n"
            "\n"
            "Exit status: 0 valid, 1 invalid, 2 usage error.\n",
            HASTLS_DEFAULT_CONF);
}

static const char *bogus_name(enum hastls_bogus b)
{
    return b == HASTLS_BOGUS_IGNORE ? "ignore" : "block";
}

static void show(const struct hastls_config *cfg)
{
    char addr[INET6_ADDRSTRLEN];

    printf("[resolver]\n");
    for (size_t k = 0; k < cfg->n_upstreams; k++) {
        const struct hastls_upstream *u = &cfg->upstreams[k];
        inet_ntop(u->family, &u->addr, addr, sizeof addr);
        printf("upstream = %s%s%s@%u%s%s\n", u->family == AF_INET6 ? "[" : "", addr,
               u->family == AF_INET6 ? "]" : "", (unsigned)u->port,
               u->auth_name[0] ? "#" : "", u->auth_name);
    }
    printf("privacy = %s\n", hastls_privacy_name(cfg->privacy));
    printf("ca_bundle = %s\n", cfg->ca_bundle);
    for (size_t k = 0; k < cfg->n_pins; k++) {
        /* Base64 again, so the output can be pasted back into a file. */
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const uint8_t *d = cfg->pins[k];
        char out[45];
        size_t o = 0;
        for (size_t i = 0; i < 32; i += 3) {
            uint32_t v = (uint32_t)d[i] << 16;
            if (i + 1 < 32)
                v |= (uint32_t)d[i + 1] << 8;
            if (i + 2 < 32)
                v |= d[i + 2];
            out[o++] = b64[v >> 18 & 63];
            out[o++] = b64[v >> 12 & 63];
            out[o++] = i + 1 < 32 ? b64[v >> 6 & 63] : '=';
            out[o++] = i + 2 < 32 ? b64[v & 63] : '=';
        }
        out[o] = '\0';
        printf("pin = %s\n", out);
    }
    printf("alpn = %s\n", cfg->alpn);
    printf("trust_anchor = %s\n", cfg->trust_anchor);
    printf("timeout_ms = %u\n", cfg->timeout_ms);
    printf("agent = %s\n", hastls_agent_use_name(cfg->agent));
    printf("agent_idle = %u\n", cfg->agent_idle);
    printf("dns_redirect = %s\n", cfg->dns_redirect ? "yes" : "no");
    printf("\n[policy]%s%s\n", cfg->app_section[0] ? "  ; with " : "", cfg->app_section);
    printf("client = %s\n", hastls_client_name(cfg->client));
    printf("record_type = %u\n", (unsigned)cfg->record_type);
    printf("mode = %s\n", hastls_mode_name(cfg->mode));
    printf("bogus = %s\n", bogus_name(cfg->bogus));
    printf("dane = %s\n", hastls_dane_mode_name(cfg->dane));
    printf("log = %s\n", hastls_log_level_name(cfg->log_level));
    static const char *const https_rr[] = {"ignore", "report", "enforce"};
    printf("pins = %s\n", cfg->host_pins ? "yes" : "no");
    printf("pin_min = %u\n", cfg->pin_min);
    printf("pin_max = %u\n", cfg->pin_max);
    printf("https_rr = %s\n", (unsigned)cfg->https_rr < 3 ? https_rr[cfg->https_rr] : "?");
}

int hastls_cmd_config(int argc, char **argv)
{
    const char *sub = NULL, *file = NULL, *app = NULL;
    struct hastls_config *cfg;
    char err[8192];
    int r;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            config_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--app")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "hastls config: --app needs a program path\n");
                return 2;
            }
            app = argv[++i];
        } else if (!strncmp(a, "--app=", 6)) {
            app = a + 6;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "hastls config: unknown option '%s' (try --help)\n", a);
            return 2;
        } else if (!sub) {
            sub = a;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "hastls config: unexpected argument '%s' (try --help)\n", a);
            return 2;
        }
    }
    if (!sub) {
        config_usage(stderr);
        return 2;
    }
    if (strcmp(sub, "check") && strcmp(sub, "show")) {
        fprintf(stderr, "hastls config: unknown subcommand '%s' (check or show)\n", sub);
        return 2;
    }

    cfg = malloc(sizeof *cfg);
    if (!cfg) {
        fprintf(stderr, "hastls config: out of memory\n");
        return 1;
    }
    if (file) {
        r = hastls_config_load(file, app, cfg, err, sizeof err);
    } else {
        const char *env = secure_getenv("HASTLS_CONF");
        if (env && *env)
            fprintf(stderr, "hastls: checking %s (from HASTLS_CONF)\n", env);
        else if (access(HASTLS_DEFAULT_CONF, F_OK) == 0)
            fprintf(stderr, "hastls: checking %s\n", HASTLS_DEFAULT_CONF);
        else
            fprintf(stderr, "hastls: no HASTLS_CONF and no %s: built-in defaults\n",
                    HASTLS_DEFAULT_CONF);
        /* An explicit --app wins over HASTLS_APP, which would replace it. */
        if (app)
            unsetenv("HASTLS_APP");
        r = hastls_config_load_default(app, cfg, err, sizeof err);
    }
    if (r < 0) {
        hastls_cli_print_errors(err);
        free(cfg);
        return 1;
    }
    if (!strcmp(sub, "show"))
        show(cfg);
    else
        printf("ok\n");
    free(cfg);
    return 0;
}
