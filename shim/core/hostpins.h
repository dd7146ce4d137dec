/* shim/core/hostpins.h: pins inside a shimmed process (policy/pins.h has the
 * rules, shim/core/pinstore.h the file).
 *
 * Every HASTLS lookup of a name that owns addresses passes through here:
 * a secure record pins the name (or refreshes its pin), a secure denial
 * removes the pin, and any other answer leaves it; when the answer is not
 * secure and a live pin exists, the pin's pairs govern the name's addresses
 * (record state HASTLS_REC_PINNED), so a dropped or garbled HASTLS query no
 * longer turns a refusal into a warning.
 *
 * The process keeps a copy of the pin file and reads it again when the file
 * changed (one stat() per lookup that reaches the resolver; the front
 * cache's hits never come here).  It writes the file only when a pin changes
 * (not for every lookup of a pinned host: see hastls_pins_learn), under the
 * file's lock, waiting for it at most a fifth of timeout_ms.  A file that
 * cannot be trusted is ignored with one warning per process and never
 * overwritten.  Off with pins = no, and for setuid/setgid processes.
 */
#ifndef HASTLS_SHIM_HOSTPINS_H
#define HASTLS_SHIM_HOSTPINS_H

#include <stddef.h>
#include <stdint.h>

#include "policy/config.h"
#include "policy/hastls_rr.h"
#include "policy/record.h"

/* Applies the pins of CFG (pins, pin_min, pin_max, bogus) to NAME's HASTLS state *REC
 * (PAIRS[0..*NP) of CAP for a secure one, TTL its TTL, WHY why it is not secure); RAW is
 * the state the answer itself gave, before the signed-zone rule (policy/record.h's
 * hastls_rec_in_zone) made a failure bogus.  A pin governs a failed lookup
 * (also in a signed zone: the attacker's SERVFAIL then refuses only what the
 * pinned record forbids, instead of every port), an insecure answer, and a
 * bogus one under bogus = ignore; a validation failure under bogus = block
 * still blocks every port.  Returns 1 when a pin now governs: *REC is then
 * HASTLS_REC_PINNED with the pin's pairs in PAIRS and *NP (and one warning
 * line was written); else 0, with nothing changed. */
/* A process passes its own configuration and LEARN_TOO: it makes and renews
 * the pins, with its own pin_min and pin_max.  The agent passes its own
 * configuration without LEARN_TOO, for the entries of the address table it
 * shares (shim/core/sharedtab.h): it only applies the pins its user's
 * processes made, whose lifetimes are theirs to choose (an [app:NAME]
 * section may shorten them). */
int hastls_hostpins_apply_cfg(const struct hastls_config *cfg, int learn_too,
                              const char *name, enum hastls_rec raw, enum hastls_rec *rec,
                              struct hastls_pair *pairs, size_t cap, size_t *np,
                              uint32_t ttl, const char *why);

/* The HTTPS signal's pins (policy/httpsrr.h, under https_rr = enforce and
 * pins = yes): SIGNAL is 1 when NAME's HTTPS answer is the signal (it pins
 * SIGNAL_PAIRS, with TTL), 0 for its secure denial (that pin goes), -1 when
 * the answer could not say (failed, bogus, insecure): a live pin of NAME
 * then governs, *REC becoming HASTLS_REC_PINNED with its pairs in PAIRS
 * (CAP) and *NP, and 1 is returned.  LEARN_TOO as above. */
int hastls_hostpins_https(const struct hastls_config *cfg, int learn_too,
                          const char *name, int signal,
                          const struct hastls_pair *signal_pairs, uint32_t ttl,
                          enum hastls_rec *rec, struct hastls_pair *pairs, size_t cap,
                          size_t *np);

#endif
