/* shim/core/rundir.h: where a user's agent lives.
 *
 * The agent's socket and its shared address table are files in a directory
 * only the user can reach: $XDG_RUNTIME_DIR/hastls when XDG_RUNTIME_DIR is
 * set (the XDG Base Directory spec makes that directory the user's own, mode
 * 0700), else /tmp/hastls-UID.  The directory is created 0700 when missing;
 * an existing one must be a real directory (never a symbolic link), owned by
 * the effective uid, with no group or other permission bits.  Anything else
 * (another user's directory planted in /tmp, a link, loose modes) is refused
 * with a reason: the caller then does without an agent and resolves in the
 * process, which is always safe.
 *
 * Each agent serves one network namespace and one resolver configuration: its
 * name carries the namespace's inode and a hash of the settings that shape
 * answers (upstreams, privacy, CA bundle, pins, ALPN, trust anchor, timeout),
 * so a lab, a container or a second configuration never shares an agent with
 * the first.
 *
 * A service manager cannot compute that name, so a socket-activated agent
 * (the systemd user units hastls-agent.socket and .service) listens on the
 * fixed name HASTLS_AGENT_ACTIVATED_SOCKET in the same directory instead.
 * Its STATUS answer carries the line "key: NAME" with the name above as the
 * agent computed it in its own namespace for its own configuration; a process
 * uses that agent only when its own socket has no listener and that key is
 * exactly its own name (shim/core/agent.c).  Any other agent on the fixed
 * socket (another namespace, another configuration, an older agent without a
 * key) is never used.
 */
#ifndef HASTLS_SHIM_RUNDIR_H
#define HASTLS_SHIM_RUNDIR_H

#include <stddef.h>

#include "policy/checked.h"
#include "policy/config.h"

/* The socket of an agent started by socket activation, in the directory of
 * hastls_rundir_open(). */
#define HASTLS_AGENT_ACTIVATED_SOCKET "agent.sock"

/* Opens the runtime directory (creating it if needed) for the environment of
 * this process.  Returns an O_DIRECTORY|O_CLOEXEC descriptor and its path in
 * PATH, or -1 with a reason in ERR. */
HASTLS_MUST_CHECK int hastls_rundir_open(char *path, size_t pathlen, char *err,
                                         size_t errlen);

/* The same with the environment given: XDG (NULL or "" when unset) and the
 * directory used without it (TMP, "/tmp" for hastls_rundir_open). */
HASTLS_MUST_CHECK int hastls_rundir_open_in(const char *xdg, const char *tmp, char *path,
                                            size_t pathlen, char *err, size_t errlen);

/* "agent-NETNS-HASH" for CFG in this process's network namespace, into OUT.
 * Returns 0, or -1 when the namespace cannot be identified. */
HASTLS_MUST_CHECK int hastls_agent_name(const struct hastls_config *cfg, char *out,
                                        size_t len);

/* The 64-bit hash of CFG's resolver settings used in that name. */
unsigned long long hastls_resolver_settings_hash(const struct hastls_config *cfg);

#endif
