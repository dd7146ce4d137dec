/* shim/cli/main.c: `hastls VERB ...`, dispatching to shim/cli/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "shim/cli/cli.h"

struct verb {
    const char *name;
    hastls_cli_verb_fn fn;
    const char *summary;
};

/* One line per verb; a verb's file adds its line here. */
static const struct verb verbs[] = {
    {"agent", hastls_cmd_agent,
     "agent [--foreground] [--idle SECONDS] | agent status | agent stop: the user's "
     "resolver agent"},
    {"check", hastls_cmd_check,
     "check [--config FILE] [--app NAME] [--json] [--connect] NAME [PORT...] | check "
     "--srv _SERVICE._tcp.DOMAIN [--connect]: the shim's verdicts, DANE included"},
    {"config", hastls_cmd_config, "config check [FILE]: validate a configuration file"},
    {"decide", hastls_cmd_decide,
     "decide --record \"(0 443)\" --port P [--client cio|cfb|cso]: one decision"},
    {"lookup", hastls_cmd_lookup,
     "lookup [--config FILE] [--stats] [--port N [--udp]] NAME [TYPE...]: resolve as the "
     "shim does"},
    {"pins", hastls_cmd_pins,
     "pins list | pins forget NAME... | pins forget --all: the remembered secure hosts"},
    {"run", hastls_cmd_run,
     "run [--config FILE] [--app NAME] [--report] [-q|-v] [--] CMD [ARGS...]: run CMD "
     "with the shim"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: hastls VERB [ARGS...]\n\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(out, "  %s\n", verbs[i].summary);
    fprintf(out, "\n  --version: print the version\n"
                 "Every verb takes --help.  See hastls(1).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("hastls %s\n", HASTLS_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (!strcmp(argv[1], verbs[i].name))
            return verbs[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "hastls: unknown verb '%s' (try hastls --help)\n", argv[1]);
    return 2;
}
