/* tests/fuzz/fuzz_pins.c: the pin file parser (policy/pins.c) on arbitrary
 * bytes.  Whatever parses must format back to text that parses to the same
 * pins, and every pin must satisfy the file's rules. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/pins.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hastls_pinset s, t;
    size_t line;
    char err[128];
    hastls_pins_init(&s);
    hastls_pins_init(&t);
    if (hastls_pins_parse((const char *)data, size, &s, &line, err, sizeof err) == 0) {
        for (size_t i = 0; i < s.n; i++) {
            const struct hastls_pin *p = &s.pin[i];
            if (!memchr(p->name, 0, sizeof p->name) || !p->name[0] || p->n == 0 ||
                p->n > HASTLS_PIN_PAIRS || p->expires <= p->pinned ||
                (i && strcmp(s.pin[i - 1].name, p->name) >= 0))
                __builtin_trap();
            if (hastls_pins_find(&s, p->name, p->pinned) != p)
                __builtin_trap();
        }
        size_t cap = hastls_pins_format_size(&s);
        char *out = malloc(cap);
        if (!out)
            abort();
        size_t len = hastls_pins_format(&s, out, cap);
        if (len == 0 || hastls_pins_parse(out, len, &t, &line, err, sizeof err) != 0 ||
            t.n != s.n || (s.n && memcmp(t.pin, s.pin, s.n * sizeof s.pin[0]) != 0))
            __builtin_trap();
        free(out);
    } else if (s.n != 0 || line > size + 1 || !memchr(err, 0, sizeof err)) {
        __builtin_trap();
    }
    hastls_pins_free(&s);
    hastls_pins_free(&t);
    return 0;
}
