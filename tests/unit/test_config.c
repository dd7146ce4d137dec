/* tests/unit/test_config.c: the configuration loader, upstream syntax, pins,
 * app sections and the environment. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/base64.h"
#include "policy/config.h"

static struct hastls_config cfg;
static char err[8192];

static int load_app(const char *text, const char *app)
{
    memset(err, 'Z', sizeof err);
    return hastls_config_load_string(text, strlen(text), "t.conf", app, &cfg, err,
                                     sizeof err);
}

static int load(const char *text)
{
    return load_app(text, NULL);
}

static int count_lines(const char *s)
{
    int n = *s ? 1 : 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Loads TEXT, which must fail with exactly one error line equal to WANT. */
static void expect_error(const char *text, const char *want)
{
    if (load(text) != -1)
        fail_msg("loaded without error:\n%s", text);
    if (strcmp(err, want) != 0)
        fail_msg("for:\n%s\ngot:  %s\nwant: %s", text, err, want);
}

/* Loads TEXT, which must fail; the errors must contain WANT. */
static void expect_error_part(const char *text, const char *want)
{
    if (load(text) != -1)
        fail_msg("loaded without error:\n%s", text);
    if (!strstr(err, want))
        fail_msg("for:\n%s\ngot:  %s\nwant: ...%s...", text, err, want);
}

static void expect_ok(const char *text)
{
    if (load(text) != 0)
        fail_msg("for:\n%s\nunexpected error: %s", text, err);
    assert_string_equal(err, "");
}

/* ---- defaults ---- */

static void defaults(void **state)
{
    (void)state;
    char a[INET6_ADDRSTRLEN];
    hastls_config_defaults(&cfg);
    assert_int_equal(cfg.n_upstreams, 2);
    assert_int_equal(cfg.upstreams[0].family, AF_INET);
    inet_ntop(AF_INET, &cfg.upstreams[0].addr.v4, a, sizeof a);
    assert_string_equal(a, "9.9.9.9");
    assert_int_equal(cfg.upstreams[0].port, 853);
    assert_string_equal(cfg.upstreams[0].auth_name, "dns.quad9.net");
    inet_ntop(AF_INET, &cfg.upstreams[1].addr.v4, a, sizeof a);
    assert_string_equal(a, "1.1.1.1");
    assert_string_equal(cfg.upstreams[1].auth_name, "cloudflare-dns.com");
    assert_int_equal(cfg.privacy, HASTLS_PRIVACY_STRICT);
    assert_string_equal(cfg.ca_bundle, "/etc/ssl/certs/ca-certificates.crt");
    assert_int_equal(cfg.n_pins, 0);
    assert_string_equal(cfg.alpn, "dot");
    assert_string_equal(cfg.trust_anchor, "/usr/share/dns/root.key");
    assert_int_equal(cfg.timeout_ms, 3000);
    assert_int_equal(cfg.agent, HASTLS_AGENT_AUTO);
    assert_int_equal(cfg.agent_idle, 600);
    assert_int_equal(cfg.client, HASTLS_CLIENT_CFB);
    assert_int_equal(cfg.record_type, 65301);
    assert_int_equal(cfg.mode, HASTLS_MODE_ENFORCE);
    assert_int_equal(cfg.bogus, HASTLS_BOGUS_BLOCK);
    assert_int_equal(cfg.dane, HASTLS_DANE_ENFORCE);
    assert_int_equal(cfg.log_level, HASTLS_LOG_WARN);
    assert_string_equal(cfg.source, "");
    assert_string_equal(cfg.app_section, "");

    /* an empty or comment-only file is the defaults */
    expect_ok("");
    assert_int_equal(cfg.n_upstreams, 2);
    assert_string_equal(cfg.source, "t.conf");
    expect_ok("; nothing\n# at all\n\n   \n");
    assert_int_equal(cfg.client, HASTLS_CLIENT_CFB);
}

static void full_file(void **state)
{
    (void)state;
    expect_ok("[resolver]\n"
              "upstream = 127.0.0.53@853#dot.lab.example   ; inline comment\n"
              "upstream = [2620:fe::fe]@443#dns.quad9.net\n"
              "privacy = opportunistic\n"
              "ca_bundle = /tmp/ca.pem\n"
              "pin = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
              "alpn = dns\n"
              "trust_anchor = /tmp/root.key\n"
              "timeout_ms = 500\n"
              "\n"
              "[policy]\n"
              "client = cso\n"
              "record_type = 65280\n"
              "mode = report\n"
              "bogus = ignore\n"
              "log = debug\n");
    assert_int_equal(cfg.n_upstreams, 2);
    assert_string_equal(cfg.upstreams[0].auth_name, "dot.lab.example");
    assert_string_equal(cfg.upstreams[0].text, "127.0.0.53@853#dot.lab.example");
    assert_int_equal(cfg.upstreams[1].family, AF_INET6);
    assert_int_equal(cfg.upstreams[1].port, 443);
    assert_int_equal(cfg.privacy, HASTLS_PRIVACY_OPPORTUNISTIC);
    assert_string_equal(cfg.ca_bundle, "/tmp/ca.pem");
    assert_int_equal(cfg.n_pins, 1);
    assert_string_equal(cfg.alpn, "dns");
    assert_string_equal(cfg.trust_anchor, "/tmp/root.key");
    assert_int_equal(cfg.timeout_ms, 500);
    assert_int_equal(cfg.client, HASTLS_CLIENT_CSO);
    assert_int_equal(cfg.record_type, 65280);
    assert_int_equal(cfg.mode, HASTLS_MODE_REPORT);
    assert_int_equal(cfg.bogus, HASTLS_BOGUS_IGNORE);
    assert_int_equal(cfg.log_level, HASTLS_LOG_DEBUG);
}

/* pins, pin_min, pin_max and https_rr: defaults, values, errors, and an
 * [app:] section overriding them. */
static void pin_keys(void **state)
{
    (void)state;
    expect_ok("");
    assert_int_equal(cfg.host_pins, 1);
    assert_int_equal(cfg.pin_min, 86400);
    assert_int_equal(cfg.pin_max, 30 * 86400);
    assert_int_equal(cfg.https_rr, HASTLS_HTTPS_RR_IGNORE);
    expect_ok("[policy]\npins = no\npin_min = 60\npin_max = 3600\nhttps_rr = enforce\n");
    assert_int_equal(cfg.host_pins, 0);
    assert_int_equal(cfg.pin_min, 60);
    assert_int_equal(cfg.pin_max, 3600);
    assert_int_equal(cfg.https_rr, HASTLS_HTTPS_RR_ENFORCE);
    expect_error_part("[policy]\npins = maybe\n", "t.conf:2: bad value 'maybe' for pins");
    expect_error("[policy]\npin_min = 0\n",
                 "t.conf:2: bad value '0' for pin_min (expected seconds in 1..315360000)");
    expect_error("[policy]\npin_max = 1d\n",
                 "t.conf:2: bad value '1d' for pin_max (expected seconds in 1..315360000)");
    expect_error_part("[policy]\nhttps_rr = on\n", "t.conf:2: bad value 'on' for https_rr");
    expect_error_part("[resolver]\npins = no\n",
                      "t.conf:2: key 'pins' belongs in [policy], not [resolver]");
    assert_int_equal(load_app("[policy]\npins = yes\n[app:curl]\npins = no\npin_max = 99\n"
                              "https_rr = report\n",
                              "/usr/bin/curl"),
                     0);
    assert_int_equal(cfg.host_pins, 0);
    assert_int_equal(cfg.pin_max, 99);
    assert_int_equal(cfg.https_rr, HASTLS_HTTPS_RR_REPORT);
    assert_int_equal(load_app("[policy]\npins = yes\n[app:curl]\npins = no\n", "wget"), 0);
    assert_int_equal(cfg.host_pins, 1);
}

static void lexical(void **state)
{
    (void)state;
    /* CRLF, a BOM, indentation, "key: value", '#' inside a value */
    expect_ok("\xef\xbb\xbf[policy]\r\n  client = cio\r\n\tmode: report\r\n");
    assert_int_equal(cfg.client, HASTLS_CLIENT_CIO);
    assert_int_equal(cfg.mode, HASTLS_MODE_REPORT);
    /* an indented key is a key, not a continuation of the line above */
    expect_ok("[policy]\nclient = cso\n    log = info\n");
    assert_int_equal(cfg.client, HASTLS_CLIENT_CSO);
    assert_int_equal(cfg.log_level, HASTLS_LOG_INFO);
    expect_ok("[resolver]\nupstream = 1.2.3.4#a.example ; x#y\n# comment = yes\n");
    assert_string_equal(cfg.upstreams[0].auth_name, "a.example");
    /* no trailing newline */
    expect_ok("[policy]\nclient = cio");
    assert_int_equal(cfg.client, HASTLS_CLIENT_CIO);
    /* text need not be NUL-terminated at LEN */
    const char raw[] = "[policy]\nclient = cso\nXXXX";
    assert_int_equal(
        hastls_config_load_string(raw, sizeof raw - 5, "r", NULL, &cfg, err, sizeof err),
        0);
    assert_int_equal(cfg.client, HASTLS_CLIENT_CSO);
    /* a section header followed by a comment */
    expect_ok("[policy] ; the policy\nclient = cio\n");
}

/* ---- errors: each with its line number, quoting the key or value ---- */

static void errors_with_lines(void **state)
{
    (void)state;
    expect_error("[policy]\nclient = cfb\n[bogus]\nfoo = bar\n",
                 "t.conf:3: unknown section [bogus] (expected [resolver], [policy] or "
                 "[app:NAME])");
    expect_error("[Policy]\n", "t.conf:1: unknown section [Policy] (expected [resolver], "
                               "[policy] or [app:NAME])");
    expect_error("\n[resolver]\nprivacy = strict\nfrobnicate = 1\n",
                 "t.conf:4: unknown key 'frobnicate' in [resolver]");
    expect_error("[policy]\nClient = cso\n",
                 "t.conf:2: unknown key 'Client' in [policy]");
    expect_error("[policy]\n\nclient = sometimes\n",
                 "t.conf:3: bad value 'sometimes' for client (expected cio, cfb or cso)");
    expect_error("[policy]\nclient =\n",
                 "t.conf:2: bad value '' for client (expected cio, cfb or cso)");
    expect_error("[resolver]\nprivacy = STRICT\n",
                 "t.conf:2: bad value 'STRICT' for privacy (expected strict, encrypted, "
                 "opportunistic or off)");
    expect_error("[policy]\nmode = on\n",
                 "t.conf:2: bad value 'on' for mode (expected enforce or report)");
    expect_error("[policy]\nbogus = allow\n",
                 "t.conf:2: bad value 'allow' for bogus (expected block or ignore)");
    expect_error("[policy]\ndane = yes\n",
                 "t.conf:2: bad value 'yes' for dane (expected enforce, report or off)");
    expect_error("[policy]\nlog = verbose\n",
                 "t.conf:2: bad value 'verbose' for log (expected error, warn, info or "
                 "debug)");
    expect_error("[resolver]\nupstream = dns.quad9.net@853\n",
                 "t.conf:2: bad upstream 'dns.quad9.net@853': 'dns.quad9.net' is not an "
                 "IPv4 or IPv6 address (the resolver cannot look up the name of its own "
                 "upstream)");
    expect_error("[resolver]\nprivacy = off\nprivacy = strict\n",
                 "t.conf:3: 'privacy' given twice in [resolver] (first on line 2)");
    expect_error("[policy]\nclient = cio\nlog = info\nclient = cio\n",
                 "t.conf:4: 'client' given twice in [policy] (first on line 2)");
    expect_error("[app:curl]\nclient = cio\nclient = cso\n",
                 "t.conf:3: 'client' given twice in [app:curl] (first on line 2)");
    expect_error("client = cio\n", "t.conf:1: key 'client' outside of any section");
    expect_error("[policy\nclient = cio\n",
                 "t.conf:1: section header without ']': '[policy'");
    expect_error("[policy] client = cso\n",
                 "t.conf:1: text after the section header: '[policy] client = cso'");
    expect_error("[policy]\nclient cso\n",
                 "t.conf:2: expected 'key = value' or '[section]', got 'client cso'");
    expect_error("[policy]\nclient = cio\n[policy]\nlog = info\n",
                 "t.conf:3: section [policy] given twice (first on line 1); merge them");
    expect_error("[app:]\nclient = cio\n", "t.conf:1: section [app:] names no program");
    expect_error("[resolver]\nclient = cso\n",
                 "t.conf:2: key 'client' belongs in [policy], not [resolver]");
    expect_error("[policy]\ntimeout_ms = 100\n",
                 "t.conf:2: key 'timeout_ms' belongs in [resolver], not [policy]");
}

static void errors_many_at_once(void **state)
{
    (void)state;
    /* every error is reported, each on its own line, in file order */
    assert_int_equal(load("[resolver]\n"
                          "privacy = nope\n"
                          "upstream = 1.2.3.4@0\n"
                          "[policy]\n"
                          "client = x\n"
                          "[nope]\n"),
                     -1);
    assert_int_equal(count_lines(err), 4);
    assert_true(strstr(err, "t.conf:2: ") == err);
    assert_non_null(strstr(err, "\nt.conf:3: bad upstream '1.2.3.4@0'"));
    assert_non_null(strstr(err, "\nt.conf:5: bad value 'x'"));
    assert_non_null(strstr(err, "\nt.conf:6: unknown section [nope]"));
    /* the keys of an unknown section are not reported one by one */
    assert_int_equal(load("[nope]\na = 1\nb = 2\n"), -1);
    assert_int_equal(count_lines(err), 1);
}

static void long_lines(void **state)
{
    (void)state;
    char text[1024];
    /* 199 characters is the most inih's buffer holds; 200 is refused */
    char value[256];
    memset(value, 'a', sizeof value);
    value[199 - strlen("trust_anchor = /")] = '\0';
    snprintf(text, sizeof text, "[resolver]\ntrust_anchor = /%s\n", value);
    expect_ok(text);
    assert_int_equal(strlen(cfg.trust_anchor), 199 - strlen("trust_anchor = "));
    value[200 - strlen("trust_anchor = /")] = '\0';
    value[199 - strlen("trust_anchor = /")] = 'a';
    snprintf(text, sizeof text, "[resolver]\ntrust_anchor = /%s\nprivacy = off\n", value);
    expect_error(text, "t.conf:2: line too long (more than 199 characters)");
    /* a long comment line is refused too: it could hide a key inih would split off */
    memset(value, ';', 250);
    value[250] = '\0';
    snprintf(text, sizeof text, "[policy]\n%s\nclient = cio\n", value);
    expect_error(text, "t.conf:2: line too long (more than 199 characters)");
    /* trailing white space does not count */
    snprintf(text, sizeof text, "[policy]\nclient = cio%*s\n", 300, "");
    expect_ok(text);
}

static void nul_byte(void **state)
{
    (void)state;
    const char text[] = "[policy]\nclient = cio\0 junk\nlog = info\n";
    assert_int_equal(hastls_config_load_string(text, sizeof text - 1, "n.conf", NULL,
                                               &cfg, err, sizeof err),
                     -1);
    assert_string_equal(err, "n.conf:2: line contains a NUL byte");
}

static void record_type_values(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        int ok;
    } cases[] = {
        {"65301", 1}, {"65280", 1}, {"65534", 1}, {"4000", 1},  {"300", 1},
        {"0", 0},     {"1", 0},     {"28", 0},    {"41", 0},    {"255", 0},
        {"256", 0},   {"257", 0},   {"32768", 0}, {"32769", 0}, {"65535", 0},
        {"65536", 0}, {"-1", 0},    {"abc", 0},   {"0x10", 0},  {"", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char text[128];
        snprintf(text, sizeof text, "[policy]\nrecord_type = %s\n", cases[k].v);
        int r = load(text);
        if (r != (cases[k].ok ? 0 : -1))
            fail_msg("record_type %s: got %d (%s)", cases[k].v, r, err);
        if (!cases[k].ok) {
            char want[64];
            snprintf(want, sizeof want, "t.conf:2: bad value '%s' for record_type",
                     cases[k].v);
            assert_true(strncmp(err, want, strlen(want)) == 0);
        } else {
            assert_int_equal(cfg.record_type, (uint16_t)atoi(cases[k].v));
        }
    }
}

static void timeout_values(void **state)
{
    (void)state;
    expect_ok("[resolver]\ntimeout_ms = 100\n");
    assert_int_equal(cfg.timeout_ms, 100);
    expect_ok("[resolver]\ntimeout_ms = 60000\n");
    assert_int_equal(cfg.timeout_ms, 60000);
    const char *bad[] = {"99",  "60001",  "0", "-5",
                         "1e3", "3000ms", " ", "99999999999999"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char text[128];
        snprintf(text, sizeof text, "[resolver]\ntimeout_ms = %s\n", bad[k]);
        expect_error_part(text, "t.conf:2: bad value '");
        assert_non_null(
            strstr(err, "for timeout_ms (expected milliseconds in 100..60000)"));
    }
}

static void agent_keys(void **state)
{
    (void)state;
    expect_ok("[resolver]\nagent = off\nagent_idle = 30\n");
    assert_int_equal(cfg.agent, HASTLS_AGENT_OFF);
    assert_int_equal(cfg.agent_idle, 30);
    expect_ok("[resolver]\nagent = auto\nagent_idle = 86400\n");
    assert_int_equal(cfg.agent, HASTLS_AGENT_AUTO);
    assert_int_equal(cfg.agent_idle, 86400);
    expect_ok("[resolver]\nagent_idle = 1\n");
    assert_int_equal(cfg.agent_idle, 1);
    expect_error("[resolver]\nagent = on\n",
                 "t.conf:2: bad value 'on' for agent (expected auto or off)");
    expect_error("[resolver]\nagent = Off\n",
                 "t.conf:2: bad value 'Off' for agent (expected auto or off)");
    expect_error("[resolver]\nagent = off\nagent = auto\n",
                 "t.conf:3: 'agent' given twice in [resolver] (first on line 2)");
    expect_error("[policy]\nagent = off\n",
                 "t.conf:2: key 'agent' belongs in [resolver], not [policy]");
    expect_error("[policy]\nagent_idle = 5\n",
                 "t.conf:2: key 'agent_idle' belongs in [resolver], not [policy]");
    const char *bad[] = {"0", "86401", "-1", "10s", "", "5 s", "99999999999999999999"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char text[128];
        snprintf(text, sizeof text, "[resolver]\nagent_idle = %s\n", bad[k]);
        expect_error_part(text, "t.conf:2: bad value '");
        assert_non_null(strstr(err, "for agent_idle (expected seconds in 1..86400)"));
    }
    /* per program: [app:NAME] overrides [resolver], wherever it is */
    const char *text = "[app:curl]\nagent = off\n[resolver]\nagent = auto\n"
                       "[app:wget]\nagent = auto\n";
    assert_int_equal(load_app(text, "/usr/bin/curl"), 0);
    assert_int_equal(cfg.agent, HASTLS_AGENT_OFF);
    assert_int_equal(load_app(text, "/usr/bin/wget"), 0);
    assert_int_equal(cfg.agent, HASTLS_AGENT_AUTO);
    assert_int_equal(
        load_app("[resolver]\nagent = off\n[app:wget]\nagent = auto\n", "wget"), 0);
    assert_int_equal(cfg.agent, HASTLS_AGENT_AUTO);
    assert_int_equal(
        load_app("[resolver]\nagent = off\n[app:wget]\nagent = auto\n", "curl"), 0);
    assert_int_equal(cfg.agent, HASTLS_AGENT_OFF);
    assert_int_equal(load_app("[app:wget]\nagent = maybe\n", "curl"), -1);
    assert_string_equal(err,
                        "t.conf:2: bad value 'maybe' for agent (expected auto or off)");
    assert_string_equal(hastls_agent_use_name(HASTLS_AGENT_OFF), "off");
    assert_string_equal(hastls_agent_use_name(HASTLS_AGENT_AUTO), "auto");
    assert_string_equal(hastls_agent_use_name((enum hastls_agent_use)5), "?");
}

static void paths_and_alpn(void **state)
{
    (void)state;
    expect_error("[resolver]\nca_bundle = certs.pem\n",
                 "t.conf:2: bad value 'certs.pem' for ca_bundle (expected an absolute "
                 "path)");
    expect_error_part("[resolver]\ntrust_anchor =\n", "t.conf:2: bad value '' for trust");
    expect_error_part("[resolver]\nalpn =\n", "t.conf:2: bad value '' for alpn");
    expect_error_part("[resolver]\nalpn = d o t\n",
                      "t.conf:2: bad value 'd o t' for alpn");
    char text[256];
    snprintf(text, sizeof text, "[resolver]\nalpn = %064d\n", 0);
    expect_error_part(text, "t.conf:2: bad value '0000");
    snprintf(text, sizeof text, "[resolver]\nalpn = %063d\n", 0);
    expect_ok(text);
}

/* alpn is a list in preference order: ids separated by commas, spaces
 * around them ignored, kept as "dot,dns". */
static void alpn_list(void **state)
{
    (void)state;
    expect_ok("[resolver]\nalpn = dot, dns\n");
    assert_string_equal(cfg.alpn, "dot,dns");
    expect_ok("[resolver]\nalpn = dns,dot\n");
    assert_string_equal(cfg.alpn, "dns,dot");
    expect_ok("[resolver]\nalpn = dns ,  dot ,h2\n");
    assert_string_equal(cfg.alpn, "dns,dot,h2");
    expect_ok("[resolver]\nalpn = dns\n");
    assert_string_equal(cfg.alpn, "dns");

    expect_error("[resolver]\nalpn = dot,\n",
                 "t.conf:2: bad value 'dot,' for alpn (id 2 is empty; expected ALPN ids "
                 "in preference order separated by commas, e.g. dot, dns)");
    expect_error_part("[resolver]\nalpn = ,dot\n",
                      "t.conf:2: bad value ',dot' for alpn (id 1 is empty;");
    expect_error_part("[resolver]\nalpn = dot,,dns\n", "(id 2 is empty;");
    expect_error_part("[resolver]\nalpn = dot, d ns\n",
                      "(id 2 has a space or a non-printable character;");
    expect_ok("[resolver]\nalpn = dot;dns\n");
    assert_string_equal(cfg.alpn, "dot;dns"); /* ';' is a printable id byte */
    expect_error_part("[resolver]\nalpn = dot, dns, dot\n", "('dot' is listed twice;");
    expect_error_part("[resolver]\nalpn = dot,\x01\n",
                      "(id 2 has a space or a non-printable character;");
    expect_error_part("[resolver]\nalpn = dot,\xc3\xa9\n",
                      "(id 2 has a space or a non-printable character;");
    /* 63 characters kept, 64 too long, counted as stored ("a,b" not "a, b"). */
    char text[256], ids[128] = "";
    for (int k = 0; k < 21; k++) /* a0, a1, ... c0: 21 ids of two characters */
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%c%c", k ? ", " : "",
                 'a' + k / 10, '0' + k % 10);
    snprintf(text, sizeof text, "[resolver]\nalpn = %s\n", ids); /* 21 ids */
    expect_ok(text);
    assert_int_equal(strlen(cfg.alpn), 62);
    snprintf(text, sizeof text, "[resolver]\nalpn = %s, z\n", ids);
    expect_error_part(text, "(longer than 63 characters;");
    snprintf(text, sizeof text, "[resolver]\nalpn = %s,z\n", ids + 4); /* 20 and z */
    expect_ok(text);
    assert_int_equal(strlen(cfg.alpn), 61);
}

/* ---- repeatable keys ---- */

static void upstreams_accumulate(void **state)
{
    (void)state;
    /* the file's upstreams replace the built-in ones */
    expect_ok("[resolver]\nupstream = 127.0.0.53@853#dot.lab.example\n");
    assert_int_equal(cfg.n_upstreams, 1);
    assert_int_equal(cfg.upstreams[0].port, 853);

    char text[1024] = "[resolver]\n";
    for (int k = 1; k <= HASTLS_MAX_UPSTREAMS; k++) {
        char line[64];
        snprintf(line, sizeof line, "upstream = 10.0.0.%d@%d\n", k, 1000 + k);
        strcat(text, line);
    }
    expect_ok(text);
    assert_int_equal(cfg.n_upstreams, HASTLS_MAX_UPSTREAMS);
    for (int k = 0; k < HASTLS_MAX_UPSTREAMS; k++)
        assert_int_equal(cfg.upstreams[k].port, 1001 + k);
    strcat(text, "upstream = 10.0.0.99\n");
    expect_error(text, "t.conf:10: too many upstreams (at most 8): '10.0.0.99'");
}

static const char *pin_a =
    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; /* sha256("") */

static void pins_accumulate(void **state)
{
    (void)state;
    char text[2048];
    snprintf(text, sizeof text, "[resolver]\npin = %s\npin = %.43s\n", pin_a, pin_a);
    expect_ok(text);
    assert_int_equal(cfg.n_pins, 2);
    static const uint8_t sha_empty[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
                                          0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
                                          0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
                                          0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
    assert_memory_equal(cfg.pins[0], sha_empty, 32);
    assert_memory_equal(cfg.pins[1], sha_empty, 32);

    strcpy(text, "[resolver]\n");
    for (int k = 0; k < HASTLS_MAX_PINS; k++) {
        strcat(text, "pin = ");
        strcat(text, pin_a);
        strcat(text, "\n");
    }
    expect_ok(text);
    assert_int_equal(cfg.n_pins, HASTLS_MAX_PINS);
    strcat(text, "pin = ");
    strcat(text, pin_a);
    strcat(text, "\n");
    char want[256];
    snprintf(want, sizeof want, "t.conf:%d: too many pins (at most %d): '%s'",
             HASTLS_MAX_PINS + 2, HASTLS_MAX_PINS, pin_a);
    expect_error(text, want);
}

static void bad_pins(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuA==", /* 31 bytes */
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA", /* 33 bytes */
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=", /* non-zero trailing bits */
        "47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", /* base64url alphabet */
        "sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", /* hex */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char text[256], want[256];
        snprintf(text, sizeof text, "[resolver]\npin = %s\n", bad[k]);
        snprintf(want, sizeof want,
                 "t.conf:2: bad value '%s' for pin (expected the base64 of a 32-byte "
                 "SHA-256 digest)",
                 bad[k]);
        expect_error(text, want);
    }
}

/* ---- base64 ---- */

static int b64(const char *text, char *out, size_t cap)
{
    size_t len = 999;
    uint8_t buf[64];
    if (cap > sizeof buf)
        cap = sizeof buf;
    if (hastls_base64_decode(text, buf, cap, &len) < 0)
        return -1;
    memcpy(out, buf, len);
    out[len] = '\0';
    return (int)len;
}

static void base64_vectors(void **state)
{
    (void)state;
    /* RFC 4648, section 10, with and without padding */
    static const char *const v[][3] = {
        {"", "", ""},
        {"Zg==", "Zg", "f"},
        {"Zm8=", "Zm8", "fo"},
        {"Zm9v", "Zm9v", "foo"},
        {"Zm9vYg==", "Zm9vYg", "foob"},
        {"Zm9vYmE=", "Zm9vYmE", "fooba"},
        {"Zm9vYmFy", "Zm9vYmFy", "foobar"},
    };
    char out[64];
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        assert_int_equal(b64(v[k][0], out, 64), (int)strlen(v[k][2]));
        assert_string_equal(out, v[k][2]);
        assert_int_equal(b64(v[k][1], out, 64), (int)strlen(v[k][2]));
        assert_string_equal(out, v[k][2]);
    }
    /* every byte value through the whole alphabet */
    uint8_t raw[3];
    size_t len;
    assert_int_equal(hastls_base64_decode("+/+/", raw, 3, &len), 0);
    assert_int_equal(len, 3);
    assert_int_equal(raw[0], 0xfb);
    assert_int_equal(raw[1], 0xff);
    assert_int_equal(raw[2], 0xbf);
}

static void base64_malformed(void **state)
{
    (void)state;
    char out[64];
    const char *bad[] = {
        "Z",    "Zg=",      "Zg===",           "Z===",  "====",  "=",     "Zh==",
        "Zm9=", "Zg==Zg==", "Zm9v\n",          " Zm9v", "Zm 9v", "Zm9v=", "Zm9vY",
        "Zm9*", "Zg=a",     "\xc3\xa9\xc3\xa9"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        if (b64(bad[k], out, 64) != -1)
            fail_msg("'%s' decoded", bad[k]);
    /* too small an output buffer */
    assert_int_equal(b64("Zm9vYmFy", out, 5), -1);
    assert_int_equal(b64("Zm9vYmFy", out, 6), 6);
}

/* ---- upstream syntax ---- */

static void upstream_good(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int family;
        const char *addr;
        unsigned port;
        const char *name;
    } cases[] = {
        {"9.9.9.9", AF_INET, "9.9.9.9", 853, ""},
        {"9.9.9.9@8853", AF_INET, "9.9.9.9", 8853, ""},
        {"9.9.9.9#dns.quad9.net", AF_INET, "9.9.9.9", 853, "dns.quad9.net"},
        {"9.9.9.9@443#dns.quad9.net", AF_INET, "9.9.9.9", 443, "dns.quad9.net"},
        {"9.9.9.9@1#a", AF_INET, "9.9.9.9", 1, "a"},
        {"9.9.9.9@65535#a.b", AF_INET, "9.9.9.9", 65535, "a.b"},
        {"[2620:fe::fe]", AF_INET6, "2620:fe::fe", 853, ""},
        {"[2620:fe::fe]@443", AF_INET6, "2620:fe::fe", 443, ""},
        {"[2620:fe::fe]#dns.quad9.net", AF_INET6, "2620:fe::fe", 853, "dns.quad9.net"},
        {"[::1]@853#dot.lab.example", AF_INET6, "::1", 853, "dot.lab.example"},
        {"[::1]@5353", AF_INET6, "::1", 5353, ""},
        {"[fd00::7:853]#name", AF_INET6, "fd00::7:853", 853, "name"},
        {"[fd00::7]@853#name", AF_INET6, "fd00::7", 853, "name"},
        {"[::ffff:1.2.3.4]", AF_INET6, "::ffff:1.2.3.4", 853, ""},
        {"1.2.3.4#Dot-1.Lab.Example.", AF_INET, "1.2.3.4", 853, "Dot-1.Lab.Example"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct hastls_upstream u;
        char e[256] = "", a[INET6_ADDRSTRLEN];
        if (hastls_upstream_parse(cases[k].text, &u, e, sizeof e) != 0)
            fail_msg("'%s': %s", cases[k].text, e);
        assert_int_equal(u.family, cases[k].family);
        inet_ntop(u.family, &u.addr, a, sizeof a);
        assert_string_equal(a, cases[k].addr);
        assert_int_equal(u.port, cases[k].port);
        assert_string_equal(u.auth_name, cases[k].name);
        assert_string_equal(u.text, cases[k].text);
    }
}

static void upstream_bad(void **state)
{
    (void)state;
    char label64[80], long_name[300], long_text[400];
    memset(label64, 'a', 64);
    strcpy(label64 + 64, ".example");
    /* 254 characters: four labels of 63 plus dots is 255 */
    snprintf(long_name, sizeof long_name, "%.63s.%.63s.%.63s.%.62s", label64, label64,
             label64, label64);
    assert_int_equal(strlen(long_name), 254);
    char name_253[300];
    snprintf(name_253, sizeof name_253, "%.63s.%.63s.%.63s.%.61s", label64, label64,
             label64, label64);

    static char bad_name1[128], bad_name2[350];
    snprintf(bad_name1, sizeof bad_name1, "1.2.3.4#%s", label64);
    snprintf(bad_name2, sizeof bad_name2, "1.2.3.4#%s", long_name);
    memset(long_text, '1', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';

    const char *bad[] = {
        "",
        "dns.quad9.net",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "01.2.3.4",
        "1.2.3.4@",
        "1.2.3.4@0",
        "1.2.3.4@65536",
        "1.2.3.4@-1",
        "1.2.3.4@http",
        "1.2.3.4@ 853",
        "1.2.3.4#",
        "1.2.3.4#-a.example",
        "1.2.3.4#a-.example",
        "1.2.3.4#a..example",
        "1.2.3.4#_dns.example",
        "1.2.3.4#a b",
        "1.2.3.4#.",
        "[1.2.3.4]",
        "[::1",
        "[::1]853",
        "[::1]:853",
        "::1]@853",
        "[]",
        "[fe80::1%eth0]",
        "[::1]@853#",
        "[::1]@",
        "[::1]@853x",
        "[::1]@#a.example",
        "1.2.3.4@#a.example",
        "1.2.3.4@853x",
        "1.2.3.4@853@53",
        "1.2.3.4@0853",
        "1.2.3.4@853 #a",
        "1.2.3.4:853",
        "::1",
        "::1@5353",
        "fd00::7:853#name",
        "2620:fe::fe#dns.quad9.net",
        "[[::1]]",
        "1.2.3.4 ",
        bad_name1,
        bad_name2,
        long_text,
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        struct hastls_upstream u;
        char e[512] = "";
        if (hastls_upstream_parse(bad[k], &u, e, sizeof e) != -1)
            fail_msg("'%s' accepted", bad[k]);
        /* the message quotes the value (the over-long one in part) */
        char want[80];
        snprintf(want, sizeof want, "bad upstream '%.20s", bad[k]);
        if (strncmp(e, want, strlen(want)) != 0)
            fail_msg("'%s': message '%s'", bad[k], e);
    }
    /* 253 characters is the longest name */
    struct hastls_upstream u;
    char text[320], e[512];
    snprintf(text, sizeof text, "1.2.3.4#%s", name_253);
    assert_int_equal(hastls_upstream_parse(text, &u, e, sizeof e), 0);
    assert_int_equal(strlen(u.auth_name), 253);
    /* a NULL error buffer is fine */
    assert_int_equal(hastls_upstream_parse("x", &u, NULL, 0), -1);
}

/* Every malformed form has its own message, exactly. */
static void upstream_messages(void **state)
{
    (void)state;
    static const struct {
        const char *text, *why;
    } cases[] = {
        /* IPv6 only in brackets; a last group that could be a port is named */
        {"fd00::7:853#name", "an IPv6 address must be written in brackets: "
                             "[fd00::7:853]#name, or [fd00::7]@853#name if 853 is the "
                             "port"},
        {"fd00::7:853", "an IPv6 address must be written in brackets: [fd00::7:853], "
                        "or [fd00::7]@853 if 853 is the port"},
        {"::1@5353", "an IPv6 address must be written in brackets: [::1]@5353"},
        {"::1", "an IPv6 address must be written in brackets: [::1]"},
        {"2620:fe::fe#dns.quad9.net", "an IPv6 address must be written in brackets: "
                                      "[2620:fe::fe]#dns.quad9.net"},
        {"fd00:1ab::53@853#dot.lab.example",
         "an IPv6 address must be written in brackets: "
         "[fd00:1ab::53]@853#dot.lab.example"},
        /* brackets */
        {"[::1@853", "'[' without ']'"},
        {"[::1", "'[' without ']'"},
        {"::1]@853", "']' without '['"},
        {"[::1]853", "unexpected '853' after ']' (expected @PORT or #NAME)"},
        {"[::1]:853", "the port follows '@', not ':' (e.g. [::1]@853)"},
        {"[1.2.3.4]", "brackets are for IPv6 addresses; write an IPv4 address without "
                      "them"},
        {"[]", "'' is not an IPv6 address"},
        {"[fe80::1%eth0]", "'fe80::1%eth0' is not an IPv6 address"},
        /* ports */
        {"1.2.3.4@", "no port after '@'"},
        {"[::1]@", "no port after '@'"},
        {"1.2.3.4@#a.example", "no port after '@'"},
        {"1.2.3.4@0", "port '0' is not a number in 1..65535"},
        {"[::1]@0", "port '0' is not a number in 1..65535"},
        {"1.2.3.4@65536", "port '65536' is not a number in 1..65535"},
        {"1.2.3.4@99999999999", "port '99999999999' is not a number in 1..65535"},
        {"1.2.3.4@http", "port 'http' is not a number in 1..65535"},
        {"1.2.3.4@-1", "port '-1' is not a number in 1..65535"},
        {"1.2.3.4@853x", "unexpected 'x' after port 853"},
        {"[::1]@853]", "unexpected ']' after port 853"},
        {"1.2.3.4@853@53", "unexpected '@53' after port 853"},
        {"1.2.3.4@0853", "port '0853' has a leading zero"},
        {"1.2.3.4:853", "the port follows '@', not ':' (e.g. 1.2.3.4@853)"},
        /* names */
        {"1.2.3.4#", "no authentication name after '#'"},
        {"[::1]@853#", "no authentication name after '#'"},
        {"1.2.3.4#a..example", "authentication name 'a..example' is not a valid host "
                               "name"},
        {"1.2.3.4#a#b", "authentication name 'a#b' is not a valid host name"},
        /* addresses */
        {"dns.quad9.net", "'dns.quad9.net' is not an IPv4 or IPv6 address (the resolver "
                          "cannot look up the name of its own upstream)"},
        {"", ""},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct hastls_upstream u;
        char e[512] = "", want[512];
        if (cases[k].text[0])
            snprintf(want, sizeof want, "bad upstream '%s': %s", cases[k].text,
                     cases[k].why);
        else
            snprintf(want, sizeof want, "bad upstream '': empty");
        if (hastls_upstream_parse(cases[k].text, &u, e, sizeof e) != -1)
            fail_msg("'%s' accepted", cases[k].text);
        if (strcmp(e, want) != 0)
            fail_msg("'%s':\ngot:  %s\nwant: %s", cases[k].text, e, want);
    }
    /* in a file, with the file and the line */
    expect_error("[resolver]\nupstream = 9.9.9.9\nupstream = fd00::7:853#name\n",
                 "t.conf:3: bad upstream 'fd00::7:853#name': an IPv6 address must be "
                 "written in brackets: [fd00::7:853]#name, or [fd00::7]@853#name if 853 "
                 "is the port");
}

/* ---- app sections ---- */

static const char app_conf_base_first[] = "[policy]\n"
                                          "client = cfb\n"
                                          "log = error\n"
                                          "[app:curl]\n"
                                          "client = cso\n"
                                          "mode = report\n"
                                          "[app:/usr/bin/curl]\n"
                                          "client = cio\n"
                                          "[app:wget]\n"
                                          "privacy = off\n";
static const char app_conf_full_first[] = "[app:/usr/bin/curl]\n"
                                          "client = cio\n"
                                          "[app:curl]\n"
                                          "client = cso\n"
                                          "mode = report\n"
                                          "[policy]\n"
                                          "client = cfb\n"
                                          "log = error\n"
                                          "[app:wget]\n"
                                          "privacy = off\n";

static void app_precedence(void **state)
{
    (void)state;
    const char *confs[] = {app_conf_base_first, app_conf_full_first};
    for (int k = 0; k < 2; k++) {
        /* the full path wins over the basename, wherever it is */
        assert_int_equal(load_app(confs[k], "/usr/bin/curl"), 0);
        assert_int_equal(cfg.client, HASTLS_CLIENT_CIO);
        assert_int_equal(cfg.mode, HASTLS_MODE_REPORT);    /* from [app:curl] */
        assert_int_equal(cfg.log_level, HASTLS_LOG_ERROR); /* from [policy] */
        assert_int_equal(cfg.privacy, HASTLS_PRIVACY_STRICT);
        assert_string_equal(cfg.app_section, "app:curl, app:/usr/bin/curl");
        /* another curl: only the basename section */
        assert_int_equal(load_app(confs[k], "/opt/bin/curl"), 0);
        assert_int_equal(cfg.client, HASTLS_CLIENT_CSO);
        assert_string_equal(cfg.app_section, "app:curl");
        assert_int_equal(load_app(confs[k], "curl"), 0);
        assert_int_equal(cfg.client, HASTLS_CLIENT_CSO);
        /* privacy in an app section */
        assert_int_equal(load_app(confs[k], "/usr/bin/wget"), 0);
        assert_int_equal(cfg.privacy, HASTLS_PRIVACY_OFF);
        assert_int_equal(cfg.client, HASTLS_CLIENT_CFB);
        assert_string_equal(cfg.app_section, "app:wget");
        /* no program, or an unrelated one: [policy] only */
        assert_int_equal(load_app(confs[k], NULL), 0);
        assert_int_equal(cfg.client, HASTLS_CLIENT_CFB);
        assert_int_equal(cfg.mode, HASTLS_MODE_ENFORCE);
        assert_string_equal(cfg.app_section, "");
        assert_int_equal(load_app(confs[k], "/usr/bin/curl-config"), 0);
        assert_int_equal(cfg.client, HASTLS_CLIENT_CFB);
        /* the path section needs the exact path */
        assert_int_equal(load_app(confs[k], "/usr/bin//curl"), 0);
        assert_int_equal(cfg.client, HASTLS_CLIENT_CSO);
    }
}

static void app_sections_validated(void **state)
{
    (void)state;
    const char *text = "[app:other]\nclient = never\n[app:curl]\nclient = cso\n";
    /* a section that does not apply is still checked */
    assert_int_equal(load_app(text, "/usr/bin/curl"), -1);
    assert_string_equal(err, "t.conf:2: bad value 'never' for client (expected cio, cfb "
                             "or cso)");
    assert_int_equal(load_app("[app:other]\nmodus = report\n", "/bin/true"), -1);
    assert_string_equal(err, "t.conf:2: unknown key 'modus' in [app:other]");
    /* resolver keys are not per program */
    const char *keys[] = {"upstream = 1.1.1.1", "ca_bundle = /x",    "pin = x",
                          "alpn = dot",         "trust_anchor = /x", "timeout_ms = 500",
                          "agent_idle = 5"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        char t[128], want[256], key[32];
        snprintf(t, sizeof t, "[app:curl]\n%s\n", keys[k]);
        sscanf(keys[k], "%31s", key);
        snprintf(want, sizeof want,
                 "t.conf:2: key '%s' is not allowed in [app:curl] (only client, "
                 "record_type, mode, bogus, dane, log, pins, pin_min, pin_max, "
                 "https_rr, privacy, agent and dns_redirect are)",
                 key);
        assert_int_equal(load_app(t, "curl"), -1);
        assert_string_equal(err, want);
    }
    /* every policy key and privacy are allowed */
    assert_int_equal(
        load_app("[app:curl]\nclient = cio\nrecord_type = 65280\nmode = "
                 "report\nbogus = ignore\nlog = debug\nprivacy = encrypted\n",
                 "/usr/bin/curl"),
        0);
    assert_int_equal(cfg.client, HASTLS_CLIENT_CIO);
    assert_int_equal(cfg.record_type, 65280);
    assert_int_equal(cfg.mode, HASTLS_MODE_REPORT);
    assert_int_equal(cfg.bogus, HASTLS_BOGUS_IGNORE);
    assert_int_equal(cfg.log_level, HASTLS_LOG_DEBUG);
    assert_int_equal(cfg.privacy, HASTLS_PRIVACY_ENCRYPTED);
    assert_int_equal(
        load_app("[policy]\ndane = report\n[app:curl]\ndane = off\n", "curl"), 0);
    assert_int_equal(cfg.dane, HASTLS_DANE_OFF);
    assert_int_equal(
        load_app("[policy]\ndane = report\n[app:curl]\ndane = off\n", "wget"), 0);
    assert_int_equal(cfg.dane, HASTLS_DANE_REPORT);
    /* the same app section twice is refused */
    assert_int_equal(load_app("[app:curl]\nclient = cio\n[app:curl]\nlog = info\n", NULL),
                     -1);
    assert_string_equal(err,
                        "t.conf:3: section [app:curl] given twice (first on line 1); "
                        "merge them");
    /* a long path section, longer than inih's own 50-byte section buffer */
    char t[256], path[160];
    memset(path, 'p', sizeof path);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    snprintf(t, sizeof t, "[app:%s]\nclient = cio\n", path);
    assert_int_equal(load_app(t, path), 0);
    assert_int_equal(cfg.client, HASTLS_CLIENT_CIO);
    path[100] = 'q';
    assert_int_equal(load_app(t, path), 0);
    assert_int_equal(cfg.client, HASTLS_CLIENT_CFB);
}

/* ---- files and the environment ---- */

static char tmpdir[64];
static char ca_pem[128], root_key[128]; /* usable stand-ins for the named files */
static char resolver_files[400];        /* a [resolver] section naming them */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int setup_tmp(void **state)
{
    (void)state;
    umask(022);
    strcpy(tmpdir, "/tmp/test_config.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    /* Others must reach into it: one check runs as another user. */
    if (chmod(tmpdir, 0755) < 0)
        return -1;
    snprintf(ca_pem, sizeof ca_pem, "%s/ca.pem", tmpdir);
    snprintf(root_key, sizeof root_key, "%s/root.key", tmpdir);
    snprintf(resolver_files, sizeof resolver_files,
             "[resolver]\nca_bundle = %s\ntrust_anchor = %s\n", ca_pem, root_key);
    FILE *f = fopen(ca_pem, "w");
    if (!f || fputs("-----BEGIN CERTIFICATE-----\n", f) < 0 || fclose(f) != 0)
        return -1;
    f = fopen(root_key, "w");
    if (!f || fputs(". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D084\n", f) < 0 ||
        fclose(f) != 0)
        return -1;
    return 0;
}

static int teardown_tmp(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* TEXT, then the [resolver] section that names the stand-in files (at the end,
 * so that the line numbers of TEXT stay as written). */
static void write_conf(const char *path, const char *text)
{
    char all[2048];
    snprintf(all, sizeof all, "%s%s", text, resolver_files);
    write_file(path, all);
}

static void tmp_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

/* Loads PATH, which must fail with exactly the one line "PATH:LINE: WHY"
 * (FILE is PATH when NULL). */
static void expect_file_error(const char *path, const char *file, unsigned line,
                              const char *why)
{
    char want[1024];
    snprintf(want, sizeof want, "%s:%u: %s", file ? file : path, line, why);
    memset(err, 'Z', sizeof err);
    if (hastls_config_load(path, NULL, &cfg, err, sizeof err) != -1)
        fail_msg("%s loaded without error", path);
    if (strcmp(err, want) != 0)
        fail_msg("for %s\ngot:  %s\nwant: %s", path, err, want);
}

static void expect_file_ok(const char *path)
{
    memset(err, 'Z', sizeof err);
    if (hastls_config_load(path, NULL, &cfg, err, sizeof err) != 0)
        fail_msg("%s: unexpected error: %s", path, err);
    assert_string_equal(err, "");
}

/* Loads PATH in a child process running as uid and gid 65534, where the
 * permission bits apply (as root they would not); *OUT gets its error text.
 * Returns what the load returned, or 77 when the child could not become
 * that user. */
static int load_as_other_user(const char *path, char *out, size_t outlen)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static struct hastls_config c;
        static char e[4096];
        close(p[0]);
        if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 ||
                               setuid(65534) < 0 || geteuid() != 65534))
            _exit(77);
        int r = hastls_config_load(path, NULL, &c, e, sizeof e);
        ssize_t w = write(p[1], e, strlen(e));
        _exit(w < 0 ? 2 : r == -1 ? 1 : 0);
    }
    close(p[1]);
    size_t used = 0;
    ssize_t got;
    while (used + 1 < outlen && (got = read(p[0], out + used, outlen - 1 - used)) > 0)
        used += (size_t)got;
    out[used] = '\0';
    close(p[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st) == 1 ? -1 : WEXITSTATUS(st);
}

static void load_file(void **state)
{
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "a.conf");
    write_conf(path, "[policy]\nclient = cso\n");
    expect_file_ok(path);
    assert_int_equal(cfg.client, HASTLS_CLIENT_CSO);
    assert_string_equal(cfg.source, path);

    write_conf(path, "[policy]\n\nclient = xyz\n");
    expect_file_error(path, NULL, 3,
                      "bad value 'xyz' for client (expected cio, cfb or cso)");

    tmp_path(path, sizeof path, "missing.conf");
    expect_file_error(path, NULL, 0, "cannot read: No such file or directory");
    /* the text alone names no file that is opened */
    expect_ok(
        "[resolver]\nca_bundle = /nonexistent/ca.pem\ntrust_anchor = /nonexistent\n");
}

/* The configuration file itself: a regular file, opened without waiting, of
 * bounded size, owned by root or the user, writable by nobody else. */
static void config_file_kinds(void **state)
{
    (void)state;
    char path[128], link[128], why[256];

    /* A FIFO without a writer: open() must not wait for one.  (The alarm turns
     * a regression into a failure instead of a test that never ends.) */
    tmp_path(path, sizeof path, "fifo.conf");
    assert_int_equal(mkfifo(path, 0644), 0);
    alarm(10);
    expect_file_error(path, NULL, 0, "cannot read: a FIFO, not a regular file");
    alarm(0);
    /* the same behind a symbolic link, which HASTLS_CONF may be */
    tmp_path(link, sizeof link, "fifo-link.conf");
    assert_int_equal(symlink(path, link), 0);
    alarm(10);
    expect_file_error(link, NULL, 0, "cannot read: a FIFO, not a regular file");
    alarm(0);

    expect_file_error(tmpdir, NULL, 0, "cannot read: a directory, not a regular file");
    expect_file_error("/dev/zero", NULL, 0,
                      "cannot read: a character device, not a regular file");
    expect_file_error("/dev/null", NULL, 0,
                      "cannot read: a character device, not a regular file");

    /* a symbolic link to a good file is followed (outside the system path) */
    tmp_path(path, sizeof path, "real.conf");
    write_conf(path, "[policy]\nclient = cio\n");
    tmp_path(link, sizeof link, "link.conf");
    assert_int_equal(symlink(path, link), 0);
    expect_file_ok(link);
    assert_int_equal(cfg.client, HASTLS_CLIENT_CIO);
    assert_string_equal(cfg.source, link);

    /* bounded size: refused from its size, before it is read */
    tmp_path(path, sizeof path, "huge.conf");
    write_file(path, "");
    assert_int_equal(truncate(path, 1024 * 1024 + 1), 0);
    expect_file_error(path, NULL, 0, "file larger than 1048576 bytes");
    assert_int_equal(truncate(path, (off_t)1 << 40), 0); /* sparse: 1 TiB */
    expect_file_error(path, NULL, 0, "file larger than 1048576 bytes");

    /* writable by others or by the group */
    tmp_path(path, sizeof path, "open.conf");
    write_conf(path, "[policy]\n");
    assert_int_equal(chmod(path, 0666), 0);
    expect_file_error(path, NULL, 0,
                      "writable by everyone (mode 0666): remove that with chmod go-w");
    assert_int_equal(chmod(path, 0620), 0);
    expect_file_error(path, NULL, 0,
                      "writable by its group (mode 0620): remove that with chmod go-w");
    assert_int_equal(chmod(path, 0600), 0);
    expect_file_ok(path);
    assert_int_equal(chmod(path, 0644), 0);
    expect_file_ok(path);

    /* owned by another user (as root a file can be given away) */
    if (geteuid() == 0) {
        assert_int_equal(chown(path, 1000, 1000), 0);
        snprintf(why, sizeof why,
                 "owned by uid 1000, neither root nor the user running the program "
                 "(uid 0)");
        expect_file_error(path, NULL, 0, why);
        assert_int_equal(chown(path, 0, 0), 0);
    } else {
        print_message("owner check skipped: not root, cannot give a file away\n");
    }

    /* unreadable by the user who loads it: as root the permission bits do not
     * stop reads, so that check runs as another user */
    tmp_path(path, sizeof path, "secret.conf");
    write_conf(path, "[policy]\n");
    assert_int_equal(chmod(path, 0600), 0);
    char out[4096];
    int r = load_as_other_user(path, out, sizeof out);
    if (r == 77) {
        print_message("unreadable-file check skipped: cannot switch to uid 65534\n");
    } else {
        char want[256];
        snprintf(want, sizeof want, "%s:0: cannot read: Permission denied", path);
        assert_int_equal(r, -1);
        assert_string_equal(out, want);
    }
}

/* The files the configuration names: checked when the file is loaded, so
 * that a program stops before main() rather than failing every lookup. */
static void named_files(void **state)
{
    (void)state;
    char path[128], bad[128], text[1024], why[512];
    tmp_path(path, sizeof path, "named.conf");

    /* a missing CA bundle, on the line of its key */
    tmp_path(bad, sizeof bad, "nope.pem");
    snprintf(text, sizeof text,
             "[resolver]\nprivacy = strict\nca_bundle = %s\ntrust_anchor = %s\n", bad,
             root_key);
    write_file(path, text);
    snprintf(why, sizeof why, "ca_bundle '%s': cannot read: No such file or directory",
             bad);
    expect_file_error(path, NULL, 3, why);

    /* a trust anchor that is a directory (libunbound would spin reading it) */
    snprintf(text, sizeof text, "[resolver]\ntrust_anchor = %s\nca_bundle = %s\n", tmpdir,
             ca_pem);
    write_file(path, text);
    snprintf(why, sizeof why,
             "trust_anchor '%s': cannot read: a directory, not a regular file", tmpdir);
    expect_file_error(path, NULL, 2, why);

    /* a FIFO, a device */
    tmp_path(bad, sizeof bad, "fifo.key");
    assert_int_equal(mkfifo(bad, 0644), 0);
    snprintf(text, sizeof text, "[resolver]\ntrust_anchor = %s\nca_bundle = %s\n", bad,
             ca_pem);
    write_file(path, text);
    snprintf(why, sizeof why,
             "trust_anchor '%s': cannot read: a FIFO, not a regular file", bad);
    alarm(10);
    expect_file_error(path, NULL, 2, why);
    alarm(0);
    snprintf(text, sizeof text, "[resolver]\ntrust_anchor = %s\nca_bundle = /dev/zero\n",
             root_key);
    write_file(path, text);
    expect_file_error(path, NULL, 3,
                      "ca_bundle '/dev/zero': cannot read: a character device, not a "
                      "regular file");

    /* empty: an empty trust anchor would mean no validation at all */
    tmp_path(bad, sizeof bad, "empty.key");
    write_file(bad, "");
    snprintf(text, sizeof text, "[resolver]\nca_bundle = %s\ntrust_anchor = %s\n", ca_pem,
             bad);
    write_file(path, text);
    snprintf(why, sizeof why, "trust_anchor '%s': empty file", bad);
    expect_file_error(path, NULL, 3, why);

    /* too large */
    assert_int_equal(truncate(bad, 1024 * 1024 + 1), 0);
    snprintf(why, sizeof why, "trust_anchor '%s': file larger than 1048576 bytes", bad);
    expect_file_error(path, NULL, 3, why);
    assert_int_equal(truncate(bad, 16 * 1024 * 1024 + 1), 0);
    snprintf(text, sizeof text, "[resolver]\nca_bundle = %s\ntrust_anchor = %s\n", bad,
             root_key);
    write_file(path, text);
    snprintf(why, sizeof why, "ca_bundle '%s': file larger than 16777216 bytes", bad);
    expect_file_error(path, NULL, 2, why);

    /* writable by others: anyone could add a CA or replace the root key */
    tmp_path(bad, sizeof bad, "open.pem");
    write_file(bad, "x\n");
    assert_int_equal(chmod(bad, 0646), 0);
    snprintf(text, sizeof text, "[resolver]\nca_bundle = %s\ntrust_anchor = %s\n", bad,
             root_key);
    write_file(path, text);
    snprintf(why, sizeof why,
             "ca_bundle '%s': writable by everyone (mode 0646): remove that with chmod "
             "go-w",
             bad);
    expect_file_error(path, NULL, 2, why);

    /* both at once, in line order */
    tmp_path(bad, sizeof bad, "nope.pem");
    snprintf(text, sizeof text, "[resolver]\ntrust_anchor = %s\nca_bundle = %s\n", tmpdir,
             bad);
    write_file(path, text);
    char want[1024];
    snprintf(want, sizeof want,
             "%s:2: trust_anchor '%s': cannot read: a directory, not a regular file\n"
             "%s:3: ca_bundle '%s': cannot read: No such file or directory",
             path, tmpdir, path, bad);
    assert_int_equal(hastls_config_load(path, NULL, &cfg, err, sizeof err), -1);
    assert_string_equal(err, want);

    /* no TLS anywhere (privacy off, no [app:] section asks for it): the CA
     * bundle is never read, so it need not exist */
    snprintf(text, sizeof text,
             "[resolver]\nprivacy = off\nca_bundle = %s\ntrust_anchor = %s\n"
             "[app:dig]\nprivacy = off\n",
             bad, root_key);
    write_file(path, text);
    expect_file_ok(path);
    /* but one [app:] section with TLS needs it, whichever program loads it */
    snprintf(text, sizeof text,
             "[resolver]\nprivacy = off\nca_bundle = %s\ntrust_anchor = %s\n"
             "[app:curl]\nprivacy = encrypted\n",
             bad, root_key);
    write_file(path, text);
    snprintf(why, sizeof why, "ca_bundle '%s': cannot read: No such file or directory",
             bad);
    expect_file_error(path, NULL, 3, why);
    /* the trust anchor is always needed */
    snprintf(text, sizeof text, "[resolver]\nprivacy = off\ntrust_anchor = %s\n", bad);
    write_file(path, text);
    snprintf(why, sizeof why, "trust_anchor '%s': cannot read: No such file or directory",
             bad);
    expect_file_error(path, NULL, 3, why);

    /* symbolic links are followed: distributions make these paths links */
    tmp_path(bad, sizeof bad, "ca-link.pem");
    assert_int_equal(symlink(ca_pem, bad), 0);
    snprintf(text, sizeof text, "[resolver]\nca_bundle = %s\ntrust_anchor = %s\n", bad,
             root_key);
    write_file(path, text);
    expect_file_ok(path);

    /* a CA bundle the user cannot read (checked as another user: see above) */
    tmp_path(bad, sizeof bad, "secret.pem");
    write_file(bad, "x\n");
    assert_int_equal(chmod(bad, 0600), 0);
    snprintf(text, sizeof text, "[resolver]\nca_bundle = %s\ntrust_anchor = %s\n", bad,
             root_key);
    write_file(path, text);
    char out[4096];
    int r = load_as_other_user(path, out, sizeof out);
    if (r == 77) {
        print_message("unreadable-file check skipped: cannot switch to uid 65534\n");
    } else {
        snprintf(want, sizeof want,
                 "%s:2: ca_bundle '%s': cannot read: Permission denied", path, bad);
        assert_int_equal(r, -1);
        assert_string_equal(out, want);
    }
    /* ... and that user may load a file owned by root */
    assert_int_equal(chmod(bad, 0644), 0);
    r = load_as_other_user(path, out, sizeof out);
    if (r != 77) {
        assert_int_equal(r, 0);
        assert_string_equal(out, "");
    }
}

static void error_buffer_truncation(void **state)
{
    (void)state;
    char small[16];
    memset(small, 'x', sizeof small);
    assert_int_equal(hastls_config_load_string("[x]\n[y]\n", 8, "t.conf", NULL, &cfg,
                                               small, sizeof small),
                     -1);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_true(strncmp(small, "t.conf:1: unkno", 15) == 0);
    /* no buffer at all: still fails */
    assert_int_equal(hastls_config_load_string("[x]\n", 4, "t.conf", NULL, &cfg, NULL, 0),
                     -1);
    assert_int_equal(
        hastls_config_load_string("[policy]\n", 9, NULL, NULL, &cfg, NULL, 0), 0);
}

static void env_default(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/env.conf", tmpdir);
    write_conf(path, "[policy]\nclient = cio\nlog = error\n[app:curl]\nclient = cso\n");

    setenv("HASTLS_CONF", path, 1);
    unsetenv("HASTLS_LOG");
    assert_int_equal(hastls_config_load_default(NULL, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.client, HASTLS_CLIENT_CIO);
    assert_int_equal(cfg.log_level, HASTLS_LOG_ERROR);
    assert_string_equal(cfg.source, path);
    assert_int_equal(hastls_config_load_default("/usr/bin/curl", &cfg, err, sizeof err),
                     0);
    assert_int_equal(cfg.client, HASTLS_CLIENT_CSO);

    /* HASTLS_LOG overrides the file */
    setenv("HASTLS_LOG", "debug", 1);
    assert_int_equal(hastls_config_load_default(NULL, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.log_level, HASTLS_LOG_DEBUG);
    setenv("HASTLS_LOG", "loud", 1);
    assert_int_equal(hastls_config_load_default(NULL, &cfg, err, sizeof err), -1);
    assert_string_equal(err,
                        "HASTLS_LOG: bad value 'loud' (expected error, warn, info or "
                        "debug)");
    setenv("HASTLS_LOG", "", 1); /* empty is unset */
    assert_int_equal(hastls_config_load_default(NULL, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.log_level, HASTLS_LOG_ERROR);

    /* HASTLS_APP picks the [app:] section instead of the program's name */
    setenv("HASTLS_APP", "curl", 1);
    assert_int_equal(hastls_config_load_default("/usr/bin/wget", &cfg, err, sizeof err),
                     0);
    assert_int_equal(cfg.client, HASTLS_CLIENT_CSO);
    assert_string_equal(cfg.app_section, "app:curl");
    setenv("HASTLS_APP", "", 1); /* empty is unset */
    assert_int_equal(hastls_config_load_default("/usr/bin/wget", &cfg, err, sizeof err),
                     0);
    assert_int_equal(cfg.client, HASTLS_CLIENT_CIO);
    unsetenv("HASTLS_APP");

    /* HASTLS_MODE overrides the mode, after the app sections */
    write_conf(path, "[policy]\nmode = enforce\n[app:curl]\nmode = enforce\n");
    setenv("HASTLS_MODE", "report", 1);
    assert_int_equal(hastls_config_load_default("/usr/bin/curl", &cfg, err, sizeof err),
                     0);
    assert_int_equal(cfg.mode, HASTLS_MODE_REPORT);
    setenv("HASTLS_MODE", "enforce", 1);
    write_conf(path, "[policy]\nmode = report\n");
    assert_int_equal(hastls_config_load_default(NULL, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.mode, HASTLS_MODE_ENFORCE);
    setenv("HASTLS_MODE", "Report", 1);
    assert_int_equal(hastls_config_load_default(NULL, &cfg, err, sizeof err), -1);
    assert_string_equal(err,
                        "HASTLS_MODE: bad value 'Report' (expected enforce or report)");
    unsetenv("HASTLS_MODE");

    /* a named file that is missing fails closed */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nope.conf", tmpdir);
    setenv("HASTLS_CONF", missing, 1);
    assert_int_equal(hastls_config_load_default(NULL, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "nope.conf:0: cannot read"));

    /* so does one that is not a regular file, at once (no wait for a writer) */
    char fifo[160], link[160];
    snprintf(fifo, sizeof fifo, "%s/env.fifo", tmpdir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    setenv("HASTLS_CONF", fifo, 1);
    alarm(10);
    assert_int_equal(hastls_config_load_default(NULL, &cfg, err, sizeof err), -1);
    alarm(0);
    char want[256];
    snprintf(want, sizeof want, "%s:0: cannot read: a FIFO, not a regular file", fifo);
    assert_string_equal(err, want);
    setenv("HASTLS_CONF", tmpdir, 1);
    assert_int_equal(hastls_config_load_default(NULL, &cfg, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:0: cannot read: a directory, not a regular file",
             tmpdir);
    assert_string_equal(err, want);
    setenv("HASTLS_CONF", "/dev/zero", 1);
    assert_int_equal(hastls_config_load_default(NULL, &cfg, err, sizeof err), -1);
    assert_string_equal(
        err, "/dev/zero:0: cannot read: a character device, not a regular file");

    /* HASTLS_CONF may be a symbolic link (dotfile managers make them) */
    write_conf(path, "[policy]\nclient = cso\n");
    snprintf(link, sizeof link, "%s/env-link.conf", tmpdir);
    assert_int_equal(symlink(path, link), 0);
    setenv("HASTLS_CONF", link, 1);
    assert_int_equal(hastls_config_load_default(NULL, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.client, HASTLS_CLIENT_CSO);

    /* an invalid one too */
    write_conf(path, "[policy]\nclient = maybe\n");
    setenv("HASTLS_CONF", path, 1);
    assert_int_equal(hastls_config_load_default(NULL, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "env.conf:2: bad value 'maybe'"));

    /* unset or empty: the system file if present, else the defaults */
    unsetenv("HASTLS_LOG");
    for (int k = 0; k < 2; k++) {
        if (k == 0)
            unsetenv("HASTLS_CONF");
        else
            setenv("HASTLS_CONF", "", 1);
        int r = hastls_config_load_default(NULL, &cfg, err, sizeof err);
        struct stat ca, ta;
        int files = stat("/etc/ssl/certs/ca-certificates.crt", &ca) == 0 &&
                    S_ISREG(ca.st_mode) && ca.st_size > 0 &&
                    stat("/usr/share/dns/root.key", &ta) == 0 && S_ISREG(ta.st_mode) &&
                    ta.st_size > 0;
        if (access(HASTLS_DEFAULT_CONF, F_OK) != 0 && files) {
            assert_int_equal(r, 0);
            assert_string_equal(cfg.source, "");
            assert_int_equal(cfg.client, HASTLS_CLIENT_CFB);
        } else if (access(HASTLS_DEFAULT_CONF, F_OK) != 0) {
            /* the built-in defaults name files that are not there */
            assert_int_equal(r, -1);
            assert_non_null(strstr(err, "(built-in default): "));
        } else if (r == 0) {
            assert_string_equal(cfg.source, HASTLS_DEFAULT_CONF);
        }
    }
    unsetenv("HASTLS_CONF");
}

static void names_round_trip(void **state)
{
    (void)state;
    const char *p[] = {"strict", "encrypted", "opportunistic", "off"};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(hastls_privacy_from_name(p[k]), k);
        assert_string_equal(hastls_privacy_name((enum hastls_privacy)k), p[k]);
    }
    const char *c[] = {"cio", "cfb", "cso"};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(hastls_client_from_name(c[k]), k);
        assert_string_equal(hastls_client_name((enum hastls_client)k), c[k]);
    }
    const char *l[] = {"error", "warn", "info", "debug"};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(hastls_log_level_from_name(l[k]), k);
        assert_string_equal(hastls_log_level_name((enum hastls_log_level)k), l[k]);
    }
    assert_string_equal(hastls_mode_name(HASTLS_MODE_ENFORCE), "enforce");
    assert_string_equal(hastls_mode_name(HASTLS_MODE_REPORT), "report");
    assert_int_equal(hastls_mode_from_name("report"), HASTLS_MODE_REPORT);
    assert_int_equal(hastls_mode_from_name("enforce"), HASTLS_MODE_ENFORCE);
    assert_int_equal(hastls_mode_from_name("on"), -1);
    assert_int_equal(hastls_privacy_from_name("Strict"), -1);
    assert_int_equal(hastls_client_from_name(""), -1);
    assert_int_equal(hastls_log_level_from_name(NULL), -1);
    assert_string_equal(hastls_client_name((enum hastls_client)7), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(full_file),
        cmocka_unit_test(lexical), cmocka_unit_test(pin_keys),
        cmocka_unit_test(errors_with_lines),
        cmocka_unit_test(errors_many_at_once),
        cmocka_unit_test(long_lines),
        cmocka_unit_test(nul_byte),
        cmocka_unit_test(record_type_values),
        cmocka_unit_test(timeout_values),
        cmocka_unit_test(agent_keys),
        cmocka_unit_test(paths_and_alpn),
        cmocka_unit_test(alpn_list),
        cmocka_unit_test(upstreams_accumulate),
        cmocka_unit_test(pins_accumulate),
        cmocka_unit_test(bad_pins),
        cmocka_unit_test(base64_vectors),
        cmocka_unit_test(base64_malformed),
        cmocka_unit_test(upstream_good),
        cmocka_unit_test(upstream_bad),
        cmocka_unit_test(upstream_messages),
        cmocka_unit_test(app_precedence),
        cmocka_unit_test(app_sections_validated),
        cmocka_unit_test(load_file),
        cmocka_unit_test(config_file_kinds),
        cmocka_unit_test(named_files),
        cmocka_unit_test(error_buffer_truncation),
        cmocka_unit_test(env_default),
        cmocka_unit_test(names_round_trip),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
