/* policy/checked.h: one discipline for calls whose failure matters.
 *
 * Every call whose failure changes security or correctness (a certificate
 * checked without its name, an address handed out without being governed, a
 * fork handler not installed, a length not checked) goes through one of these
 * macros, so that a reader can see at the call that its result is used, and a
 * reviewer can grep for the calls that are not.  The pattern is s2n-tls's
 * GUARD/ENSURE family: a failed check returns the function's own failure value
 * at once; there is no recovery code between the call and the return.
 *
 *   HASTLS_GUARD(call)           call returns < 0 on failure: return -1
 *   HASTLS_GUARD_OSSL(call)      OpenSSL style, 1 on success: return -1
 *   HASTLS_GUARD_ZERO(call)      0 on success (pthread_*, POSIX): return -1
 *   HASTLS_ENSURE(cond)          a condition that must hold: return -1
 *   HASTLS_ENSURE_REF(ptr)       a pointer that must not be NULL: return -1
 *   HASTLS_ENSURE_OR(cond, val)  as ENSURE, returning VAL instead (for
 *                                functions whose failure value is not -1)
 *   HASTLS_MUST_CHECK            on a declaration: the compiler rejects a call
 *                                that drops the result (warnings are errors)
 *
 * Header-only and free of I/O: the shim, the resolver, the CLI and the tests
 * all include it.
 */
#ifndef HASTLS_POLICY_CHECKED_H
#define HASTLS_POLICY_CHECKED_H

#define HASTLS_MUST_CHECK __attribute__((warn_unused_result))

#define HASTLS_ENSURE_OR(cond, val)                                                    \
    do {                                                                               \
        if (__builtin_expect(!(cond), 0))                                              \
            return (val);                                                              \
    } while (0)

#define HASTLS_ENSURE(cond) HASTLS_ENSURE_OR(cond, -1)
#define HASTLS_ENSURE_REF(ptr) HASTLS_ENSURE((ptr) != NULL)
#define HASTLS_GUARD(call) HASTLS_ENSURE((call) >= 0)
#define HASTLS_GUARD_OSSL(call) HASTLS_ENSURE((call) == 1)
#define HASTLS_GUARD_ZERO(call) HASTLS_ENSURE((call) == 0)

#endif
