/* policy/pins.h: downgrade-proof memory of hosts that proved they serve TLS.
 *
 * A DNSSEC-secure HASTLS RRset for NAME pins it: while the pin lives, a
 * connection to NAME is decided by the pinned pairs whenever the current
 * lookup cannot say otherwise with DNSSEC (it failed, timed out, came back
 * bogus under bogus = ignore, or insecure where the last answer was secure).
 * An on-path attacker who drops or garbles the HASTLS query therefore cannot
 * turn "blocked" into "allowed", as HSTS (RFC 6797) and MTA-STS (RFC 8461)
 * remember a policy across failures.
 *
 * The rules, one home for each:
 *  - only a secure answer creates or replaces a pin; its lifetime is the
 *    record's TTL clamped to [pin_min, pin_max] (hastls_pins_learn);
 *  - only a secure denial removes one: NXDOMAIN/NODATA for the record
 *    (HASTLS_REC_NONE), or an insecure answer together with a secure proof
 *    that the zone is now unsigned (the caller's UNSIGNED_PROVEN);
 *  - anything else leaves the pin as it is;
 *  - a pin that has expired is as if it did not exist.
 * Which state a pin gives a lookup is hastls_pin_governs() below.
 *
 * The pin file (written under $XDG_STATE_HOME/hastls/ by shim/core/pinstore)
 * is text, one pin per line after a version line:
 *
 *     hastls-pins 1
 *     NAME SOURCE PINNED EXPIRES INSECURE SECURE [INSECURE SECURE]...
 *
 * NAME in lower case without the final dot, SOURCE "hastls" (the record that
 * made the pin; "tlsa" and "https" are reserved for the other signals),
 * PINNED and EXPIRES in seconds since the Epoch (wall clock: pins outlive
 * reboots), then the pinned pairs.  Lines starting with '#' are comments.
 * The parser accepts exactly this and nothing else: a pin file is a trust
 * decision, and a file it cannot read is ignored whole, never half-trusted.
 *
 * Pure: no I/O; allocation only in the set's own array.
 */
#ifndef HASTLS_POLICY_PINS_H
#define HASTLS_POLICY_PINS_H

#include <stddef.h>
#include <stdint.h>

#include "policy/checked.h"
#include "policy/config.h"
#include "policy/hastls_rr.h"
#include "policy/record.h"

#define HASTLS_PINS_VERSION_LINE "hastls-pins 1"
#define HASTLS_PIN_PAIRS 16      /* a larger secure record is not pinned */
#define HASTLS_PINS_MAX 4096     /* pins in one file; the oldest expiry goes first */
#define HASTLS_PINS_LINE_MAX 512 /* one line of the file, newline included */
#define HASTLS_PINS_FILE_MAX (HASTLS_PINS_MAX * HASTLS_PINS_LINE_MAX)

/* Defaults of pin_min and pin_max, in seconds. */
#define HASTLS_PIN_MIN_DEFAULT 86400u
#define HASTLS_PIN_MAX_DEFAULT (30u * 86400u)

enum hastls_pin_source {
    HASTLS_PIN_SRC_HASTLS,
    HASTLS_PIN_SRC_TLSA,
    HASTLS_PIN_SRC_HTTPS,
};

struct hastls_pin {
    char name[HASTLS_NAME_MAX];
    enum hastls_pin_source source;
    int64_t pinned;  /* when the record was first pinned (Epoch seconds) */
    int64_t expires; /* Epoch seconds; the pin is dead at and after it */
    size_t n;
    struct hastls_pair pairs[HASTLS_PIN_PAIRS];
};

struct hastls_pinset {
    struct hastls_pin *pin; /* sorted by name */
    size_t n, cap;
};

/* "hastls", "tlsa", "https"; "?" out of range. */
const char *hastls_pin_source_name(enum hastls_pin_source s);

/* An empty set; free with hastls_pins_free. */
void hastls_pins_init(struct hastls_pinset *s);
void hastls_pins_free(struct hastls_pinset *s);

/* Parses a whole pin file of LEN bytes into OUT (initialized by the caller,
 * emptied first).  Returns 0, or -1 with *ERRLINE (1-based) and a message in
 * ERR: then OUT is empty.  Out of memory is reported the same way. */
HASTLS_MUST_CHECK int hastls_pins_parse(const char *buf, size_t len,
                                        struct hastls_pinset *out, size_t *errline,
                                        char *err, size_t errlen);

/* The file's text for S into BUF (CAP bytes).  Returns the length written,
 * or 0 when it does not fit (hastls_pins_format_size() is enough). */
size_t hastls_pins_format(const struct hastls_pinset *s, char *buf, size_t cap);
size_t hastls_pins_format_size(const struct hastls_pinset *s);

/* A pin's line without the newline, as the file and `hastls pins list`
 * show it.  Returns the length, or 0 when CAP is too small. */
size_t hastls_pin_format(const struct hastls_pin *p, char *buf, size_t cap);

/* The live pin of NAME (any case, a final dot ignored) at NOW, or NULL. */
const struct hastls_pin *hastls_pins_find(const struct hastls_pinset *s, const char *name,
                                          int64_t now);

/* Removes NAME's pin, live or not.  Returns 1 when there was one. */
int hastls_pins_forget(struct hastls_pinset *s, const char *name);

/* Drops every pin that has expired at NOW; returns how many. */
size_t hastls_pins_expire(struct hastls_pinset *s, int64_t now);

enum hastls_pin_change {
    HASTLS_PIN_KEPT,      /* nothing to write */
    HASTLS_PIN_ADDED,     /* a new pin */
    HASTLS_PIN_REFRESHED, /* the same pairs, a later expiry */
    HASTLS_PIN_REPLACED,  /* other pairs */
    HASTLS_PIN_REMOVED,   /* a secure denial removed it */
    HASTLS_PIN_ERROR,     /* out of memory, or a name that cannot be pinned */
};

/* What a HASTLS lookup of NAME that found record state REC (PAIRS[0..N) for
 * a secure record, TTL its TTL) means for the pins at NOW, with lifetimes
 * clamped to [PIN_MIN, PIN_MAX] seconds; UNSIGNED_PROVEN when an insecure
 * REC comes with a secure proof that NAME's zone is unsigned.  Applies it to
 * S and says what changed.  A secure answer for a pin that already lives
 * refreshes it only when that extends it by a tenth of its lifetime or more
 * (so a busy host does not rewrite the file on every lookup): KEPT then. A
 * secure record of more than HASTLS_PIN_PAIRS pairs is not pinned (an
 * existing pin of NAME is then removed, the record having changed). */
enum hastls_pin_change hastls_pins_learn(struct hastls_pinset *s, const char *name,
                                         enum hastls_rec rec,
                                         const struct hastls_pair *pairs, size_t n,
                                         uint32_t ttl, int unsigned_proven, int64_t now,
                                         uint32_t pin_min, uint32_t pin_max);

/* hastls_pins_learn for the signal SOURCE: HASTLS_PIN_SRC_HASTLS is
 * hastls_pins_learn itself; HASTLS_PIN_SRC_HTTPS learns from the HTTPS
 * record (policy/httpsrr.h: REC secure with the pairs (80 443) when the
 * signal is there, none for its secure denial).  A signal's denial removes
 * only that signal's pin, and a pin made by a HASTLS record is never
 * replaced by another signal's (the HASTLS record is the precise one); a
 * secure HASTLS record replaces any pin. */
enum hastls_pin_change hastls_pins_learn_from(
    struct hastls_pinset *s, const char *name, enum hastls_pin_source source,
    enum hastls_rec rec, const struct hastls_pair *pairs, size_t n, uint32_t ttl,
    int unsigned_proven, int64_t now, uint32_t pin_min, uint32_t pin_max);

/* The record state that governs a name whose live pin is PIN (NULL for
 * none; learn the current answer first, so that a denial has removed it)
 * when its current HASTLS lookup says REC, RAW before the signed-zone rule
 * (policy/record.h's hastls_rec_in_zone turns a failure in a signed zone
 * into bogus):
 *   no pin, REC secure or none       -> REC (the current answer governs);
 *   RAW bogus under bogus = block    -> REC (a validation failure blocks
 *                                       every port, pin or not);
 *   otherwise (failed, timed out, insecure, bogus under bogus = ignore,
 *   or a failure that the signed-zone rule made bogus)
 *                                    -> HASTLS_REC_PINNED: the pin's pairs
 *                                       are enforced (policy/verdict.h).
 * So an attacker who makes the HASTLS query of a pinned host fail gets the
 * pinned ports refused, not every port nor none. */
enum hastls_rec hastls_pin_governs(const struct hastls_pin *pin, enum hastls_rec raw,
                                   enum hastls_rec rec, enum hastls_bogus bogus);

/* Whether a program whose https_rr is HTTPS_RR uses the pin P: a pin of the
 * HTTPS signal counts only under https_rr = enforce. */
int hastls_pin_usable(const struct hastls_pin *p, enum hastls_https_rr https_rr);

/* T (Epoch seconds) as "2026-12-31T12:00:00Z" into OUT (at least 21 bytes;
 * the number itself if it is no date); returns OUT. */
const char *hastls_pin_time(int64_t t, char *out, size_t len);

/* A name as the pin file keeps it (lower case, no final dot) into OUT;
 * returns 0, or -1 when NAME is not a host name that can be pinned. */
int hastls_pin_name(const char *name, char out[HASTLS_NAME_MAX]);

#endif
