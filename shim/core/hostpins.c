/* shim/core/hostpins.c: pins inside a shimmed process (see hostpins.h). */
#include "shim/core/hostpins.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "policy/pins.h"
#include "shim/core/locks.h"
#include "shim/core/log.h"
#include "shim/core/pinstore.h"

pthread_mutex_t hastls_lock_hostpins = PTHREAD_MUTEX_INITIALIZER;

/* Under hastls_lock_hostpins. */
static struct {
    int ready;    /* the directory was looked for */
    int disabled; /* no directory (AT_SECURE, no HOME): no pins at all */
    char dir[HASTLS_PATH_MAX];
    struct hastls_pinset set;
    struct hastls_pinstore_stamp stamp;
    int warned;
} P;

static void warn_once(const char *what, const char *err)
{
    if (P.warned)
        return;
    P.warned = 1;
    hastls_log(HASTLS_LOG_WARN, "pins: %s: %s", what, err);
}

/* The process's copy, read again when the file changed.  0 when usable. */
static int refresh(void)
{
    char err[HASTLS_PATH_MAX + 256];
    if (!P.ready) {
        P.ready = 1;
        hastls_pins_init(&P.set);
        if (hastls_pinstore_dir(P.dir, sizeof P.dir, err, sizeof err) < 0) {
            P.disabled = 1;
            hastls_log(HASTLS_LOG_INFO, "pins: not used: %s", err);
        }
    }
    if (P.disabled)
        return -1;
    struct hastls_pinstore_stamp now;
    if (P.stamp.exists && hastls_pinstore_stat(P.dir, &now) == 0 &&
        hastls_pinstore_same(&now, &P.stamp))
        return 0;
    if (!P.stamp.exists && hastls_pinstore_stat(P.dir, &now) == 0 && !now.exists) {
        P.set.n = 0;
        return 0;
    }
    if (hastls_pinstore_load(P.dir, &P.set, &P.stamp, err, sizeof err) < 0) {
        warn_once("ignored, not trusted", err);
        P.stamp.exists = 0;
        return 0; /* an empty set: the file is not trusted, not fatal */
    }
    return 0;
}

struct learn_arg {
    enum hastls_pin_source source;
    const char *name;
    enum hastls_rec rec;
    const struct hastls_pair *pairs;
    size_t n;
    uint32_t ttl;
    int64_t now;
    const struct hastls_config *cfg;
};

static int learn_fn(struct hastls_pinset *set, void *p)
{
    const struct learn_arg *a = p;
    enum hastls_pin_change c =
        hastls_pins_learn_from(set, a->name, a->source, a->rec, a->pairs, a->n, a->ttl, 0,
                               a->now, a->cfg->pin_min, a->cfg->pin_max);
    (void)hastls_pins_expire(set, a->now);
    return c == HASTLS_PIN_ERROR ? -1 : c != HASTLS_PIN_KEPT;
}

/* A secure answer or a secure denial: learn it, and write the file when that
 * changes a pin. */
static void learn(const struct hastls_config *cfg, enum hastls_pin_source source,
                  const char *name, enum hastls_rec rec, const struct hastls_pair *pairs,
                  size_t n, uint32_t ttl, int64_t now)
{
    struct learn_arg a = {source, name, rec, pairs, n, ttl, now, cfg};
    /* The copy first: most lookups of a pinned host change nothing. */
    enum hastls_pin_change c = hastls_pins_learn_from(
        &P.set, name, source, rec, pairs, n, ttl, 0, now, cfg->pin_min, cfg->pin_max);
    if (c == HASTLS_PIN_KEPT || c == HASTLS_PIN_ERROR)
        return;
    char err[HASTLS_PATH_MAX + 256];
    if (hastls_pinstore_update(P.dir, learn_fn, &a, cfg->timeout_ms / 5, err,
                               sizeof err) < 0) {
        warn_once("not saved", err);
        return;
    }
    if (err[0])
        hastls_log(HASTLS_LOG_WARN, "pins: %s", err);
    hastls_log(HASTLS_LOG_INFO, "pins: %s %s", name,
               c == HASTLS_PIN_REMOVED ? "unpinned (a secure denial)"
               : c == HASTLS_PIN_ADDED ? "pinned"
                                       : "pin renewed");
    P.stamp.exists = 0; /* read the new file next time */
}

/* NAME's live pin as CFG may use it: one the HTTPS record made counts only
 * under https_rr = enforce. */
static const struct hastls_pin *live_pin(const struct hastls_config *cfg,
                                         const char *name, int64_t now)
{
    const struct hastls_pin *p = hastls_pins_find(&P.set, name, now);
    return hastls_pin_usable(p, cfg->https_rr) ? p : NULL;
}

static const char *state_text(enum hastls_rec rec)
{
    switch (rec) {
    case HASTLS_REC_INSECURE:
        return "is insecure (unsigned)";
    case HASTLS_REC_BOGUS:
        return "is bogus";
    default:
        return "failed";
    }
}

int hastls_hostpins_apply_cfg(const struct hastls_config *cfg, int learn_too,
                              const char *name, enum hastls_rec raw, enum hastls_rec *rec,
                              struct hastls_pair *pairs, size_t cap, size_t *np,
                              uint32_t ttl, const char *why)
{
    if (!cfg || !cfg->host_pins)
        return 0;
    int64_t now = (int64_t)time(NULL);
    int pinned = 0;
    pthread_mutex_lock(&hastls_lock_hostpins);
    if (refresh() == 0) {
        if (*rec == HASTLS_REC_SECURE || *rec == HASTLS_REC_NONE) {
            if (learn_too)
                learn(cfg, HASTLS_PIN_SRC_HASTLS, name, *rec, pairs,
                      *rec == HASTLS_REC_SECURE ? *np : 0, ttl, now);
        } else {
            const struct hastls_pin *p = live_pin(cfg, name, now);
            if (hastls_pin_governs(p, raw, *rec, cfg->bogus) == HASTLS_REC_PINNED &&
                p->n <= cap) {
                char text[HASTLS_PIN_PAIRS * 12 + 3], when[32];
                hastls_pairs_format(p->pairs, p->n, text, sizeof text);
                hastls_pin_time(p->expires, when, sizeof when);
                hastls_log(HASTLS_LOG_WARN,
                           "HASTLS lookup for %s %s (%s): its pinned record %s from a "
                           "secure lookup is enforced until %s",
                           name, state_text(raw), why && why[0] ? why : "no answer", text,
                           when);
                memcpy(pairs, p->pairs, p->n * sizeof pairs[0]);
                *np = p->n;
                *rec = HASTLS_REC_PINNED;
                pinned = 1;
            }
        }
    }
    pthread_mutex_unlock(&hastls_lock_hostpins);
    return pinned;
}

int hastls_hostpins_https(const struct hastls_config *cfg, int learn_too,
                          const char *name, int signal,
                          const struct hastls_pair *signal_pairs, uint32_t ttl,
                          enum hastls_rec *rec, struct hastls_pair *pairs, size_t cap,
                          size_t *np)
{
    if (!cfg || !cfg->host_pins || cfg->https_rr != HASTLS_HTTPS_RR_ENFORCE)
        return 0;
    int64_t now = (int64_t)time(NULL);
    int pinned = 0;
    pthread_mutex_lock(&hastls_lock_hostpins);
    if (refresh() == 0) {
        if (signal >= 0) {
            if (learn_too)
                learn(cfg, HASTLS_PIN_SRC_HTTPS, name,
                      signal ? HASTLS_REC_SECURE : HASTLS_REC_NONE, signal_pairs,
                      signal ? 1 : 0, ttl, now);
        } else {
            const struct hastls_pin *p = live_pin(cfg, name, now);
            if (p && p->n <= cap) {
                hastls_log(
                    HASTLS_LOG_WARN,
                    "HTTPS lookup for %s could not confirm or deny its record: its "
                    "pin (%s) is enforced",
                    name, hastls_pin_source_name(p->source));
                memcpy(pairs, p->pairs, p->n * sizeof pairs[0]);
                *np = p->n;
                *rec = HASTLS_REC_PINNED;
                pinned = 1;
            }
        }
    }
    pthread_mutex_unlock(&hastls_lock_hostpins);
    return pinned;
}
