/* shim/cli/coverage.h: whether DANE can reach the TLS of a program that
 * hastls run is about to start.
 *
 * The shim's DANE check is a hook on a shared TLS library's client handshake
 * (shim/hooks/openssl.c for OpenSSL; GnuTLS's has the same contract).  It
 * reaches no TLS code that is built into the executable (BoringSSL in
 * Chromium, OpenSSL linked statically, Go's crypto/tls) and no other TLS
 * library (NSS in Firefox and Thunderbird, mbed TLS, wolfSSL).  This finds
 * which of them a program uses from its ELF file alone (policy/elfinfo.h),
 * without running it: its DT_NEEDED libraries, followed transitively the way
 * the dynamic loader searches for them (DT_RPATH, LD_LIBRARY_PATH,
 * DT_RUNPATH, the system's library directories; /etc/ld.so.cache is not
 * read), and the marks of a TLS library in its .rodata.  A library the
 * program loads at run time (dlopen, as python3's _ssl module) is not seen.
 */
#ifndef HASTLS_CLI_COVERAGE_H
#define HASTLS_CLI_COVERAGE_H

#include <stddef.h>
#include <stdio.h>

#include "policy/elfinfo.h"

#define HASTLS_COV_MAX_LIBS 8
/* The most libraries read; a program needing more is cut there (said so). */
#define HASTLS_COV_MAX_OBJECTS 256

struct hastls_cov_lib {
    enum hastls_tls_lib lib;
    char soname[HASTLS_ELF_NAME_MAX];
    char via[HASTLS_ELF_NAME_MAX]; /* the library that needs it; "" for the program */
};

struct hastls_coverage {
    int dynamic; /* started by the dynamic loader (which loads the shim) */
    int go;      /* a Go program */
    enum hastls_tls_builtin builtin;
    size_t n_libs; /* TLS libraries needed, one per kind of library */
    struct hastls_cov_lib libs[HASTLS_COV_MAX_LIBS];
    size_t n_objects; /* libraries read */
    size_t n_missing; /* needed libraries not found */
    int cut;          /* more than HASTLS_COV_MAX_OBJECTS libraries */
};

/* The read callback of policy/elfinfo.h on the descriptor *(int *)CTX. */
ssize_t hastls_elf_fd_read(void *ctx, void *buf, size_t n, uint64_t off);

/* Fills C for the ELF program PATH, searching libraries with
 * LD_LIBRARY_PATH = LDPATH (NULL: unset).  Returns 0, or -1 with errno when
 * PATH cannot be read as an ELF file. */
int hastls_coverage_of(const char *path, const char *ldpath, struct hastls_coverage *c);

/* Writes to OUT one line per way the program NAME escapes DANE, each
 * "ME: DANE does not cover NAME: WHY", nothing when there is none; with
 * EXPLAIN also what is covered and what was not looked at.  Returns the
 * number of lines written. */
int hastls_coverage_report(FILE *out, const char *me, const char *name,
                           const struct hastls_coverage *c, int explain);

#endif
