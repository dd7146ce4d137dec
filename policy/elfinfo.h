/* policy/elfinfo.h: what an ELF file's headers say about the program, as far
 * as the shim and DANE go, and which TLS library that makes it use.
 *
 * hastls run reads, before it starts a program, its ELF header, its program
 * headers (PT_INTERP: started by the dynamic loader, which loads the shim),
 * its dynamic section (DT_NEEDED, DT_RUNPATH/DT_RPATH) and its section
 * headers (a Go build-ID section, the file range of .rodata), and looks for
 * the marks a TLS library built into the executable leaves in .rodata.  The
 * file's bytes come through a read callback (the CLI reads a descriptor, the
 * tests and the fuzz target memory), so this code does no I/O of its own.
 *
 * Every field is read only after checking that it lies inside what the
 * header announced and what could be read; counts are bounded (below); a
 * malformed part leaves the facts read so far, stops there and says what was
 * wrong in PROBLEM.  A file whose program headers cannot be read reads as
 * one without PT_INTERP: its caller then treats it as a program the shim
 * does not load into, never as one it does.
 *
 * Pure: no I/O, no allocation.
 */
#ifndef HASTLS_POLICY_ELFINFO_H
#define HASTLS_POLICY_ELFINFO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads up to N bytes at OFF into BUF.  Returns the number read (less at the
 * end of the file, 0 past it), or -1 on error. */
typedef ssize_t (*hastls_elf_read_fn)(void *ctx, void *buf, size_t n, uint64_t off);

struct hastls_elf_src {
    hastls_elf_read_fn read;
    void *ctx;
};

/* The bounds: more DT_NEEDED entries than this are counted, not kept; a
 * longer name is not kept either; more program headers, dynamic entries or
 * sections than these make the part malformed. */
#define HASTLS_ELF_MAX_NEEDED 64
#define HASTLS_ELF_NAME_MAX 256
#define HASTLS_ELF_PATHS_MAX 1024
#define HASTLS_ELF_MAX_PHNUM 512
#define HASTLS_ELF_MAX_DYN 4096
#define HASTLS_ELF_MAX_SHNUM 4096

struct hastls_elf {
    unsigned char elf_class; /* ELFCLASS32 or ELFCLASS64 */
    unsigned char data;      /* ELFDATA2LSB or ELFDATA2MSB */
    unsigned type;           /* e_type */
    unsigned machine;        /* e_machine */
    int has_interp;          /* a PT_INTERP program header */
    int has_dynamic;         /* a dynamic section was read */
    int go;                  /* a Go build-ID or build-info section */
    size_t n_needed;
    size_t needed_dropped; /* DT_NEEDED entries not in NEEDED (too many, too long) */
    char needed[HASTLS_ELF_MAX_NEEDED][HASTLS_ELF_NAME_MAX];
    /* DT_RUNPATH, else DT_RPATH (runpath_is_rpath set); "" for none */
    char runpath[HASTLS_ELF_PATHS_MAX];
    int runpath_is_rpath;
    uint64_t rodata_off, rodata_len; /* .rodata in the file; 0, 0 for none */
    char problem[160];               /* the first malformed part; "" for none */
};

enum hastls_elf_rc {
    HASTLS_ELF_OK = 0,          /* an ELF file (see PROBLEM for its parts) */
    HASTLS_ELF_NOT_ELF = -1,    /* no ELF magic (or not 4 bytes to read) */
    HASTLS_ELF_BAD_HEADER = -2, /* ELF magic, but no usable ELF header */
    HASTLS_ELF_IO = -3,         /* the read callback failed */
};

/* What hastls_elf_read() reads beyond the ELF header, the program headers
 * and the dynamic section: the section headers (go, rodata_*). */
#define HASTLS_ELF_SECTIONS 1u

/* Fills OUT from SRC, with the parts WHAT asks for.  Returns an enum
 * hastls_elf_rc; with BAD_HEADER, OUT->problem says what was wrong and
 * elf_class/data/machine are what could be read. */
int hastls_elf_read(const struct hastls_elf_src *src, unsigned what,
                    struct hastls_elf *out);

/* A TLS library a program links, by its soname. */
enum hastls_tls_lib {
    HASTLS_TLS_NONE = 0,
    HASTLS_TLS_OPENSSL, /* libssl.so.3, libssl.so.1.1 */
    HASTLS_TLS_GNUTLS,  /* libgnutls.so.30 */
    HASTLS_TLS_NSS,     /* libssl3.so: NSS's TLS (Firefox, Thunderbird) */
    HASTLS_TLS_MBEDTLS, /* libmbedtls.so.N */
    HASTLS_TLS_WOLFSSL, /* libwolfssl.so.N */
};

/* The TLS library whose soname is SONAME (a path's last component counts),
 * or HASTLS_TLS_NONE. */
enum hastls_tls_lib hastls_tls_of_soname(const char *soname);

/* Whether the shim has a DANE hook for LIB's client handshakes. */
int hastls_tls_covered(enum hastls_tls_lib lib);

/* "OpenSSL", "GnuTLS", "NSS", "mbed TLS", "wolfSSL", "none". */
const char *hastls_tls_name(enum hastls_tls_lib lib);

/* A TLS library built into an executable, by the marks its code leaves. */
enum hastls_tls_builtin {
    HASTLS_BUILTIN_NONE = 0,
    HASTLS_BUILTIN_BORINGSSL, /* BoringSSL's client handshake (Chromium, Electron) */
    HASTLS_BUILTIN_OPENSSL,   /* OpenSSL's client state machine, linked statically */
};

/* "BoringSSL", "OpenSSL", "none". */
const char *hastls_tls_builtin_name(enum hastls_tls_builtin b);

/* At most this much of a file is searched for the marks. */
#define HASTLS_ELF_SCAN_MAX ((uint64_t)64 << 20)

/* Searches LEN bytes of SRC at OFF (cut to HASTLS_ELF_SCAN_MAX) for the
 * marks of a built-in TLS library, reading through BUF (BUFLEN bytes, at
 * least 4096).  Returns the first mark found, HASTLS_BUILTIN_NONE when none
 * is (or the file ends or cannot be read before LEN). */
enum hastls_tls_builtin hastls_elf_scan_tls(const struct hastls_elf_src *src,
                                            uint64_t off, uint64_t len,
                                            unsigned char *buf, size_t buflen);

#endif
