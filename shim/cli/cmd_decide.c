/* shim/cli/cmd_decide.c: `hastls decide --record "(0 443)" --port P [--client C]`.
 *
 * Runs one decision of the table in policy/decide.h and prints
 *   class: CLASS
 *   verdict: allow|block
 *   reason: TEXT
 * The record is given in presentation form; no lookup happens.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/decide.h"
#include "policy/hastls_rr.h"
#include "shim/cli/cli.h"

static void decide_usage(FILE *out)
{
    fprintf(out,
            "usage: hastls decide --record \"(INSECURE SECURE ...)\" --port PORT\n"
            "                     [--client cio|cfb|cso]\n"
            "\n"
            "Prints the class of PORT under the HASTLS record's port pairs, the\n"
            "verdict for the client policy (default cfb) and the reason, as the\n"
            "shim would decide a connect() to a host with that DNSSEC-secure record.\n"
            "The parentheses around the pairs are optional.\n");
}

int hastls_cmd_decide(int argc, char **argv)
{
    static const struct option opts[] = {
        {"record", required_argument, NULL, 'r'},
        {"port", required_argument, NULL, 'p'},
        {"client", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *record = NULL, *port_text = NULL;
    enum hastls_client client = HASTLS_CLIENT_CFB;
    int c;

    optind = 1;
    opterr = 0; /* our own messages, prefixed like every other */
    while ((c = getopt_long(argc, argv, ":r:p:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            record = optarg;
            break;
        case 'p':
            port_text = optarg;
            break;
        case 'c': {
            int v = hastls_client_from_name(optarg);
            if (v < 0) {
                fprintf(stderr,
                        "hastls decide: bad client '%s' (expected cio, cfb or cso)\n",
                        optarg);
                return 2;
            }
            client = (enum hastls_client)v;
            break;
        }
        case 'h':
            decide_usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "hastls decide: option '%s' needs a value\n",
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "hastls decide: unknown option '%s' (try --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hastls decide: unexpected argument '%s' (try --help)\n",
                argv[optind]);
        return 2;
    }
    if (!record || !port_text) {
        fprintf(stderr, "hastls decide: --record and --port are required (try --help)\n");
        return 2;
    }

    char *end;
    unsigned long port = strtoul(port_text, &end, 10);
    if (port_text[0] < '0' || port_text[0] > '9' || *end != '\0' || port == 0 ||
        port > 65535) {
        fprintf(stderr, "hastls decide: bad port '%s' (expected 1..65535)\n", port_text);
        return 2;
    }

    static struct hastls_pair pairs[HASTLS_RDATA_MAX_PAIRS];
    size_t n = 0, pos = 0;
    int r = hastls_pairs_parse(record, pairs, HASTLS_RDATA_MAX_PAIRS, &n, &pos);
    if (r != HASTLS_RR_OK) {
        fprintf(stderr, "hastls decide: bad record '%s': %s (at offset %zu)\n", record,
                hastls_rr_strerror(r), pos);
        return 2;
    }

    struct hastls_decision d = hastls_decide(pairs, n, (uint16_t)port, client);
    char reason[256];
    printf("class: %s\nverdict: %s\nreason: %s\n", hastls_class_name(d.cls),
           hastls_verdict_name(d.verdict),
           hastls_decision_reason(&d, (uint16_t)port, reason, sizeof reason));
    return 0;
}
