/* policy/pins.c: the pin rules and the pin file's text (see pins.h). */
#include "policy/pins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Timestamps beyond this (year 36812) are not a clock's. */
#define TIME_MAX ((int64_t)1 << 40)

const char *hastls_pin_source_name(enum hastls_pin_source s)
{
    switch (s) {
    case HASTLS_PIN_SRC_HASTLS:
        return "hastls";
    case HASTLS_PIN_SRC_TLSA:
        return "tlsa";
    case HASTLS_PIN_SRC_HTTPS:
        return "https";
    }
    return "?";
}

void hastls_pins_init(struct hastls_pinset *s)
{
    s->pin = NULL;
    s->n = s->cap = 0;
}

void hastls_pins_free(struct hastls_pinset *s)
{
    free(s->pin);
    hastls_pins_init(s);
}

int hastls_pin_name(const char *name, char out[HASTLS_NAME_MAX])
{
    size_t len = strlen(name);
    if (len && name[len - 1] == '.')
        len--;
    if (len == 0 || len > 253)
        return -1;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c == '.') {
            if (label == 0)
                return -1;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '_') {
            if (++label > 63)
                return -1;
        } else {
            return -1;
        }
        out[i] = c;
    }
    if (label == 0)
        return -1;
    out[len] = '\0';
    return 0;
}

/* The index where NAME is or would go; *FOUND says which. */
static size_t pin_index(const struct hastls_pinset *s, const char *name, int *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->pin[mid].name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static void pin_remove_at(struct hastls_pinset *s, size_t i)
{
    memmove(&s->pin[i], &s->pin[i + 1], (s->n - i - 1) * sizeof s->pin[0]);
    s->n--;
}

/* The index of the pin that expires first (S not empty). */
static size_t pin_oldest(const struct hastls_pinset *s)
{
    size_t best = 0;
    for (size_t i = 1; i < s->n; i++)
        if (s->pin[i].expires < s->pin[best].expires)
            best = i;
    return best;
}

/* Room for one more pin at index *AT (NAME's place): grows the array, or
 * evicts the pin that expires first when the set is full.  Returns 0, or -1
 * when out of memory. */
static int pin_make_room(struct hastls_pinset *s, const char *name, size_t *at)
{
    int found;
    if (s->n >= HASTLS_PINS_MAX)
        pin_remove_at(s, pin_oldest(s));
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        if (cap > HASTLS_PINS_MAX)
            cap = HASTLS_PINS_MAX;
        struct hastls_pin *p = realloc(s->pin, cap * sizeof *p);
        if (!p)
            return -1;
        s->pin = p;
        s->cap = cap;
    }
    *at = pin_index(s, name, &found);
    memmove(&s->pin[*at + 1], &s->pin[*at], (s->n - *at) * sizeof s->pin[0]);
    s->n++;
    return 0;
}

/* ---- the file's text ---- */

struct line_cursor {
    const char *p, *end; /* the line, without its newline */
};

/* The next space-separated token (exactly one space between tokens). */
static int next_token(struct line_cursor *c, const char **tok, size_t *len)
{
    if (c->p >= c->end)
        return 0;
    const char *start = c->p;
    while (c->p < c->end && *c->p != ' ')
        c->p++;
    *tok = start;
    *len = (size_t)(c->p - start);
    if (c->p < c->end) {
        c->p++; /* the separator */
        if (c->p == c->end || *c->p == ' ')
            return 0; /* a trailing or doubled space: refused before */
    }
    return *len > 0;
}

/* A decimal number without sign or leading zeros, at most MAX. */
static int parse_number(const char *tok, size_t len, uint64_t max, uint64_t *out)
{
    if (len == 0 || len > 20 || (len > 1 && tok[0] == '0'))
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (tok[i] < '0' || tok[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(tok[i] - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

static int fail(size_t line, size_t *errline, char *err, size_t errlen, const char *msg)
{
    if (errline)
        *errline = line;
    if (errlen)
        snprintf(err, errlen, "%s", msg);
    return -1;
}

/* Parses one pin line into P; returns NULL or what is wrong. */
static const char *parse_pin(const char *line, size_t len, struct hastls_pin *p)
{
    struct line_cursor c = {line, line + len};
    const char *tok;
    size_t tlen;
    char name[HASTLS_NAME_MAX];
    uint64_t v;

    memset(p, 0, sizeof *p); /* a parsed pin is the same bytes every time */
    if (line[0] == ' ' || line[len - 1] == ' ' || memmem(line, len, "  ", 2))
        return "fields are separated by one space, with none at the end";
    if (!next_token(&c, &tok, &tlen) || tlen >= sizeof name)
        return "a pin line starts with a host name";
    memcpy(name, tok, tlen);
    name[tlen] = '\0';
    if (hastls_pin_name(name, p->name) != 0 || strcmp(name, p->name) != 0)
        return "the name is not a lower-case host name without a final dot";
    if (!next_token(&c, &tok, &tlen))
        return "the pin's source is missing";
    if (tlen == 6 && memcmp(tok, "hastls", 6) == 0)
        p->source = HASTLS_PIN_SRC_HASTLS;
    else if (tlen == 4 && memcmp(tok, "tlsa", 4) == 0)
        p->source = HASTLS_PIN_SRC_TLSA;
    else if (tlen == 5 && memcmp(tok, "https", 5) == 0)
        p->source = HASTLS_PIN_SRC_HTTPS;
    else
        return "the source is not hastls, tlsa or https";
    if (!next_token(&c, &tok, &tlen) || parse_number(tok, tlen, TIME_MAX, &v) != 0 ||
        v == 0)
        return "the pinning time is not a positive number of seconds";
    p->pinned = (int64_t)v;
    if (!next_token(&c, &tok, &tlen) || parse_number(tok, tlen, TIME_MAX, &v) != 0)
        return "the expiry is not a number of seconds";
    p->expires = (int64_t)v;
    if (p->expires <= p->pinned)
        return "the pin expires before it was made";
    p->n = 0;
    for (;;) {
        uint64_t ins, sec;
        if (!next_token(&c, &tok, &tlen))
            break;
        if (parse_number(tok, tlen, 65535, &ins) != 0)
            return "a port is not a number from 0 to 65535";
        if (!next_token(&c, &tok, &tlen))
            return "a port pair lacks its secure port";
        if (parse_number(tok, tlen, 65535, &sec) != 0)
            return "a port is not a number from 0 to 65535";
        if (ins == 0 && sec == 0)
            return "the pair (0 0) is undefined";
        if (p->n == HASTLS_PIN_PAIRS)
            return "more port pairs than a pin holds";
        p->pairs[p->n].insecure = (uint16_t)ins;
        p->pairs[p->n].secure = (uint16_t)sec;
        p->n++;
    }
    if (p->n == 0)
        return "the pin has no port pair";
    return NULL;
}

int hastls_pins_parse(const char *buf, size_t len, struct hastls_pinset *out,
                      size_t *errline, char *err, size_t errlen)
{
    size_t vlen = strlen(HASTLS_PINS_VERSION_LINE);
    size_t line = 1;
    out->n = 0;
    if (len > HASTLS_PINS_FILE_MAX)
        return fail(0, errline, err, errlen, "the file is larger than a pin file can be");
    if (len < vlen + 1 || memcmp(buf, HASTLS_PINS_VERSION_LINE, vlen) != 0 ||
        buf[vlen] != '\n')
        return fail(1, errline, err, errlen,
                    "the first line is not \"" HASTLS_PINS_VERSION_LINE "\"");
    const char *p = buf + vlen + 1, *end = buf + len;
    while (p < end) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            out->n = 0;
            return fail(line, errline, err, errlen, "the last line has no newline");
        }
        size_t llen = (size_t)(nl - p);
        if (llen + 1 > HASTLS_PINS_LINE_MAX || memchr(p, '\0', llen)) {
            out->n = 0;
            return fail(line, errline, err, errlen,
                        llen + 1 > HASTLS_PINS_LINE_MAX ? "the line is too long"
                                                        : "the line contains a NUL byte");
        }
        if (llen > 0 && p[0] != '#') {
            struct hastls_pin pin;
            const char *why = parse_pin(p, llen, &pin);
            if (!why && out->n >= HASTLS_PINS_MAX)
                why = "more pins than a pin file holds";
            if (!why) {
                int found;
                (void)pin_index(out, pin.name, &found);
                if (found)
                    why = "the name is pinned twice";
            }
            size_t at;
            if (!why && pin_make_room(out, pin.name, &at) != 0)
                why = "out of memory";
            if (why) {
                out->n = 0;
                return fail(line, errline, err, errlen, why);
            }
            out->pin[at] = pin;
        }
        p = nl + 1;
    }
    return 0;
}

size_t hastls_pin_format(const struct hastls_pin *p, char *buf, size_t cap)
{
    int w =
        snprintf(buf, cap, "%s %s %lld %lld", p->name, hastls_pin_source_name(p->source),
                 (long long)p->pinned, (long long)p->expires);
    if (w < 0 || (size_t)w >= cap)
        return 0;
    size_t len = (size_t)w;
    for (size_t i = 0; i < p->n; i++) {
        w = snprintf(buf + len, cap - len, " %u %u", (unsigned)p->pairs[i].insecure,
                     (unsigned)p->pairs[i].secure);
        if (w < 0 || (size_t)w >= cap - len)
            return 0;
        len += (size_t)w;
    }
    return len;
}

size_t hastls_pins_format_size(const struct hastls_pinset *s)
{
    return strlen(HASTLS_PINS_VERSION_LINE) + 2 + s->n * HASTLS_PINS_LINE_MAX;
}

size_t hastls_pins_format(const struct hastls_pinset *s, char *buf, size_t cap)
{
    int w = snprintf(buf, cap, "%s\n", HASTLS_PINS_VERSION_LINE);
    if (w < 0 || (size_t)w >= cap)
        return 0;
    size_t len = (size_t)w;
    for (size_t i = 0; i < s->n; i++) {
        size_t l = hastls_pin_format(&s->pin[i], buf + len, cap - len);
        if (l == 0 || l + 2 > cap - len)
            return 0;
        len += l;
        buf[len++] = '\n';
        buf[len] = '\0';
    }
    return len;
}

/* ---- the rules ---- */

const struct hastls_pin *hastls_pins_find(const struct hastls_pinset *s, const char *name,
                                          int64_t now)
{
    char key[HASTLS_NAME_MAX];
    int found;
    if (s->n == 0 || hastls_pin_name(name, key) != 0)
        return NULL;
    size_t i = pin_index(s, key, &found);
    if (!found || s->pin[i].expires <= now)
        return NULL;
    return &s->pin[i];
}

int hastls_pins_forget(struct hastls_pinset *s, const char *name)
{
    char key[HASTLS_NAME_MAX];
    int found;
    if (hastls_pin_name(name, key) != 0)
        return 0;
    size_t i = pin_index(s, key, &found);
    if (!found)
        return 0;
    pin_remove_at(s, i);
    return 1;
}

size_t hastls_pins_expire(struct hastls_pinset *s, int64_t now)
{
    size_t kept = 0, n = s->n;
    for (size_t i = 0; i < n; i++)
        if (s->pin[i].expires > now)
            s->pin[kept++] = s->pin[i];
    s->n = kept;
    return n - kept;
}

static int same_pairs(const struct hastls_pin *p, const struct hastls_pair *pairs,
                      size_t n)
{
    if (p->n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p->pairs[i].insecure != pairs[i].insecure ||
            p->pairs[i].secure != pairs[i].secure)
            return 0;
    return 1;
}

enum hastls_pin_change hastls_pins_learn(struct hastls_pinset *s, const char *name,
                                         enum hastls_rec rec,
                                         const struct hastls_pair *pairs, size_t n,
                                         uint32_t ttl, int unsigned_proven, int64_t now,
                                         uint32_t pin_min, uint32_t pin_max)
{
    return hastls_pins_learn_from(s, name, HASTLS_PIN_SRC_HASTLS, rec, pairs, n, ttl,
                                  unsigned_proven, now, pin_min, pin_max);
}

enum hastls_pin_change hastls_pins_learn_from(
    struct hastls_pinset *s, const char *name, enum hastls_pin_source source,
    enum hastls_rec rec, const struct hastls_pair *pairs, size_t n, uint32_t ttl,
    int unsigned_proven, int64_t now, uint32_t pin_min, uint32_t pin_max)
{
    char key[HASTLS_NAME_MAX];
    int found;
    if (hastls_pin_name(name, key) != 0)
        return HASTLS_PIN_ERROR;
    size_t i = pin_index(s, key, &found);
    if (found && s->pin[i].expires <= now) {
        pin_remove_at(s, i); /* dead: as if it did not exist */
        found = 0;
    }

    /* A signal's denial speaks for that signal's pin only. */
    int same_source = found && s->pin[i].source == source;
    int denial =
        rec == HASTLS_REC_NONE || (rec == HASTLS_REC_INSECURE && unsigned_proven);
    if (denial || (rec == HASTLS_REC_SECURE && (n == 0 || n > HASTLS_PIN_PAIRS))) {
        if (!same_source && !(found && source == HASTLS_PIN_SRC_HASTLS && !denial))
            return HASTLS_PIN_KEPT;
        pin_remove_at(s, i);
        return HASTLS_PIN_REMOVED;
    }
    if (rec != HASTLS_REC_SECURE)
        return HASTLS_PIN_KEPT; /* only a secure answer changes a pin */
    /* The HASTLS record is the precise one: another signal never replaces
     * its pin. */
    if (found && !same_source && s->pin[i].source == HASTLS_PIN_SRC_HASTLS)
        return HASTLS_PIN_KEPT;

    if (pin_max < pin_min)
        pin_max = pin_min;
    uint32_t life = ttl < pin_min ? pin_min : ttl > pin_max ? pin_max : ttl;
    if (life == 0)
        life = 1;
    int64_t expires = now + (int64_t)life;

    if (found) {
        struct hastls_pin *p = &s->pin[i];
        if (same_source && same_pairs(p, pairs, n)) {
            if (expires - p->expires < (int64_t)(life / 10) || expires <= p->expires)
                return HASTLS_PIN_KEPT;
            p->expires = expires;
            return HASTLS_PIN_REFRESHED;
        }
        p->source = source;
        p->pinned = now;
        p->expires = expires;
        p->n = n;
        memcpy(p->pairs, pairs, n * sizeof pairs[0]);
        return HASTLS_PIN_REPLACED;
    }
    if (pin_make_room(s, key, &i) != 0)
        return HASTLS_PIN_ERROR;
    struct hastls_pin *p = &s->pin[i];
    memset(p, 0, sizeof *p);
    memcpy(p->name, key, strlen(key) + 1);
    p->source = source;
    p->pinned = now;
    p->expires = expires;
    p->n = n;
    memcpy(p->pairs, pairs, n * sizeof pairs[0]);
    return HASTLS_PIN_ADDED;
}

enum hastls_rec hastls_pin_governs(const struct hastls_pin *pin, enum hastls_rec raw,
                                   enum hastls_rec rec, enum hastls_bogus bogus)
{
    if (!pin || rec == HASTLS_REC_SECURE || rec == HASTLS_REC_NONE)
        return rec;
    if (raw == HASTLS_REC_BOGUS && bogus != HASTLS_BOGUS_IGNORE)
        return rec;
    return HASTLS_REC_PINNED;
}

int hastls_pin_usable(const struct hastls_pin *p, enum hastls_https_rr https_rr)
{
    return p &&
           (p->source != HASTLS_PIN_SRC_HTTPS || https_rr == HASTLS_HTTPS_RR_ENFORCE);
}

const char *hastls_pin_time(int64_t t, char *out, size_t len)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (!gmtime_r(&tt, &tm) || !strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, len, "%lld", (long long)t);
    return out;
}
