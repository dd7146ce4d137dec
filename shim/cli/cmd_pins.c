/* shim/cli/cmd_pins.c: `hastls pins list | forget NAME... | forget --all`:
 * the user's pins (policy/pins.h, shim/core/pinstore.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "policy/pins.h"
#include "shim/cli/cli.h"
#include "shim/core/pinstore.h"

#define LOCK_WAIT_MS 2000

static void pins_usage(FILE *out)
{
    fprintf(out,
            "usage: hastls pins list\n"
            "       hastls pins forget NAME...\n"
            "       hastls pins forget --all\n"
            "\n"
            "The hosts whose DNSSEC-secure HASTLS record the shim remembers (pins):\n"
            "while a pin lives, the pinned ports stay enforced even when a later\n"
            "lookup fails or comes back bogus or insecure.  list shows each pin\n"
            "(name, source, pairs, when it was made, when it expires); forget removes\n"
            "pins (the file is $XDG_STATE_HOME/hastls/pins, else\n"
            "~/.local/state/hastls/pins).\n"
            "\n"
            "Exit status: 0 done, 1 a name was not pinned or the file could not be\n"
            "used, 2 usage error.\n");
}

static int list(const char *dir)
{
    struct hastls_pinset s;
    char err[HASTLS_PATH_MAX + 256];
    hastls_pins_init(&s);
    if (hastls_pinstore_load(dir, &s, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "hastls: %s\n", err);
        return 1;
    }
    int64_t now = (int64_t)time(NULL);
    if (s.n == 0)
        printf("no pins (%s/pins)\n", dir);
    for (size_t i = 0; i < s.n; i++) {
        const struct hastls_pin *p = &s.pin[i];
        char pairs[HASTLS_PIN_PAIRS * 12 + 3], made[32], until[32];
        hastls_pairs_format(p->pairs, p->n, pairs, sizeof pairs);
        hastls_pin_time(p->pinned, made, sizeof made);
        hastls_pin_time(p->expires, until, sizeof until);
        printf("%s %s %s pinned %s until %s%s\n", p->name,
               hastls_pin_source_name(p->source), pairs, made, until,
               p->expires <= now ? " (expired)" : "");
    }
    hastls_pins_free(&s);
    return 0;
}

struct forget_arg {
    char **names;
    int n, all, missing;
};

static int forget_fn(struct hastls_pinset *set, void *p)
{
    struct forget_arg *a = p;
    if (a->all) {
        int had = set->n > 0;
        set->n = 0;
        return had;
    }
    int changed = 0;
    for (int i = 0; i < a->n; i++) {
        if (hastls_pins_forget(set, a->names[i])) {
            changed = 1;
        } else {
            fprintf(stderr, "hastls: %s: not pinned\n", a->names[i]);
            a->missing = 1;
        }
    }
    return changed;
}

int hastls_cmd_pins(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        pins_usage(stdout);
        return 0;
    }
    if (argc < 2 || (strcmp(argv[1], "list") && strcmp(argv[1], "forget")) ||
        (!strcmp(argv[1], "list") && argc != 2) ||
        (!strcmp(argv[1], "forget") && argc < 3)) {
        pins_usage(stderr);
        return 2;
    }
    char dir[HASTLS_PATH_MAX], err[HASTLS_PATH_MAX + 256];
    if (hastls_pinstore_dir(dir, sizeof dir, err, sizeof err) < 0) {
        fprintf(stderr, "hastls: %s\n", err);
        return 1;
    }
    if (!strcmp(argv[1], "list"))
        return list(dir);

    struct forget_arg a = {argv + 2, argc - 2, 0, 0};
    if (!strcmp(argv[2], "--all")) {
        if (argc != 3) {
            pins_usage(stderr);
            return 2;
        }
        a.all = 1;
    }
    for (int i = 0; i < a.n && !a.all; i++) {
        char key[HASTLS_NAME_MAX];
        if (hastls_pin_name(a.names[i], key) < 0) {
            fprintf(stderr, "hastls: '%s' is not a host name\n", a.names[i]);
            return 2;
        }
    }
    if (hastls_pinstore_update(dir, forget_fn, &a, LOCK_WAIT_MS, err, sizeof err) < 0) {
        fprintf(stderr, "hastls: %s\n", err);
        return 1;
    }
    if (err[0])
        fprintf(stderr, "hastls: %s\n", err);
    return a.missing ? 1 : 0;
}
