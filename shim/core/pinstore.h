/* shim/core/pinstore.h: the user's pins on disk (see policy/pins.h).
 *
 * Pins outlive processes and reboots, so they live in the user's state
 * directory: $XDG_STATE_HOME/hastls/pins, or ~/.local/state/hastls/pins when
 * XDG_STATE_HOME is unset (it must be absolute; the XDG Base Directory spec).
 * The hastls directory is created 0700; an existing one must be a real
 * directory (never a symbolic link), owned by the effective uid, with no
 * group or other permission bits.  The file must be a regular file owned by
 * the effective uid, mode 0600 or stricter, at most HASTLS_PINS_FILE_MAX
 * bytes, and parse whole.  Anything else is not trusted: the caller gets an
 * empty set and a warning naming the file and what is wrong, and a writer
 * never overwrites a foreign file.
 *
 * Writers (the agent when there is one, else the process) serialize on
 * pins.lock with flock(): the kernel drops the lock of a writer that dies,
 * so a crash never wedges the others.  A writer reads the file under the
 * lock, changes the set, writes pins.PID.tmp and renames it over pins, so a
 * reader sees the old file or the new one, never half of one.  Waiting for
 * the lock is bounded.
 *
 * Never for setuid/setgid processes: hastls_pinstore_dir() refuses them.
 */
#ifndef HASTLS_SHIM_PINSTORE_H
#define HASTLS_SHIM_PINSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/checked.h"
#include "policy/pins.h"

/* The pin directory for this process's environment into OUT.  Returns 0, or
 * -1 with a reason in ERR (AT_SECURE, no HOME, a relative XDG_STATE_HOME). */
HASTLS_MUST_CHECK int hastls_pinstore_dir(char *out, size_t len, char *err,
                                          size_t errlen);

/* The same from given variables (NULL or "" for unset). */
HASTLS_MUST_CHECK int hastls_pinstore_dir_in(const char *xdg_state, const char *home,
                                             char *out, size_t len, char *err,
                                             size_t errlen);

/* What identifies one version of the file, to notice that it changed. */
struct hastls_pinstore_stamp {
    uint64_t dev, ino, size;
    int64_t mtime_ns;
    int exists;
};

/* Reads DIR/pins into OUT (emptied first) and its stamp into *STAMP (if not
 * NULL).  A missing directory or file is an empty set: 0.  Returns 0, or -1
 * with ERR ("PATH: what is wrong") when the directory or the file cannot be
 * trusted or read; OUT is then empty. */
HASTLS_MUST_CHECK int hastls_pinstore_load(const char *dir, struct hastls_pinset *out,
                                           struct hastls_pinstore_stamp *stamp, char *err,
                                           size_t errlen);

/* The stamp of DIR/pins now (exists = 0 when there is none).  Returns 0, or
 * -1 when it cannot be looked at. */
int hastls_pinstore_stat(const char *dir, struct hastls_pinstore_stamp *stamp);

/* Whether two stamps name the same version of the file. */
int hastls_pinstore_same(const struct hastls_pinstore_stamp *a,
                         const struct hastls_pinstore_stamp *b);

/* Changes the pins under the lock: creates DIR (0700) if needed, waits at
 * most WAIT_MS for pins.lock, loads the file, calls FN(SET, ARG), and when
 * FN returns 1 writes the set back (FN returns 0 for no change, -1 to give
 * up).  A file that cannot be trusted (another owner, loose modes, not a
 * regular file) stops the update: it is neither used nor replaced.  A file of
 * ours that does not parse is renamed pins.bad and the update starts from an
 * empty set; ERR then says so (a warning) although 0 is returned: callers
 * compare ERR[0] with '\0'.  Returns 0, or -1 with ERR. */
HASTLS_MUST_CHECK int
hastls_pinstore_update(const char *dir, int (*fn)(struct hastls_pinset *set, void *arg),
                       void *arg, unsigned wait_ms, char *err, size_t errlen);

#endif
