/* policy/elfinfo.c: the ELF reader and the TLS library rules (see
 * elfinfo.h).  Offsets are those of the System V ABI's Elf32_* and Elf64_*
 * structures; every multi-byte field is read through field() in the file's
 * own byte order. */
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy/elfinfo.h"

/* The most PT_LOAD segments kept to map the dynamic section's addresses. */
#define MAX_LOADS 32
/* Headers are read through a window of this many bytes: a few reads per
 * file, not one per header. */
#define WINDOW 4096

struct load {
    uint64_t vaddr, offset, filesz;
};

/* One ELF class's layout: sizes of the headers and where their fields are. */
struct layout {
    size_t ehsize, phsize, dynsize, shsize, word;
    size_t phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx;
    size_t p_offset, p_vaddr, p_filesz;
    size_t sh_type, sh_offset, sh_size;
};

static const struct layout layout64 = {
    .ehsize = 64,
    .phsize = 56,
    .dynsize = 16,
    .shsize = 64,
    .word = 8,
    .phoff = 32,
    .shoff = 40,
    .phentsize = 54,
    .phnum = 56,
    .shentsize = 58,
    .shnum = 60,
    .shstrndx = 62,
    .p_offset = 8,
    .p_vaddr = 16,
    .p_filesz = 32,
    .sh_type = 4,
    .sh_offset = 24,
    .sh_size = 32,
};
static const struct layout layout32 = {
    .ehsize = 52,
    .phsize = 32,
    .dynsize = 8,
    .shsize = 40,
    .word = 4,
    .phoff = 28,
    .shoff = 32,
    .phentsize = 42,
    .phnum = 44,
    .shentsize = 46,
    .shnum = 48,
    .shstrndx = 50,
    .p_offset = 4,
    .p_vaddr = 8,
    .p_filesz = 16,
    .sh_type = 4,
    .sh_offset = 16,
    .sh_size = 20,
};

struct reader {
    const struct hastls_elf_src *src;
    const struct layout *l;
    unsigned char data;
    struct hastls_elf *out;
    struct load loads[MAX_LOADS];
    size_t n_loads;
    uint64_t dyn_off, dyn_size;
    int io_error;
    unsigned char win[WINDOW];
    uint64_t woff;
    size_t wlen;
    int weof; /* the window reaches the end of the file */
};

/* The N-byte (N <= 8) unsigned field at P in byte order DATA. */
static uint64_t field(const unsigned char *p, size_t n, unsigned char data)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[data == ELFDATA2MSB ? i : n - 1 - i];
    return v;
}

/* Reads up to N bytes at OFF.  Returns the number read (short at the end of
 * the file), or -1 on a read error (R->io_error set). */
static ssize_t read_some(struct reader *r, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        if (off + done < off) /* past the largest offset */
            break;
        ssize_t got = r->src->read(r->src->ctx, (char *)buf + done, n - done, off + done);
        if (got < 0) {
            r->io_error = 1;
            return -1;
        }
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

/* The bytes at OFF, up to N (<= WINDOW) of them, from the window (read
 * again from OFF unless it holds them).  Returns a pointer with *AVAIL (less
 * than N only at the end of the file), or NULL on a read error. */
static const unsigned char *window(struct reader *r, uint64_t off, size_t n,
                                   size_t *avail)
{
    int inside = off >= r->woff && off - r->woff < r->wlen &&
                 (r->wlen - (off - r->woff) >= n || r->weof);
    if (!inside) {
        ssize_t got = read_some(r, r->win, sizeof r->win, off);
        if (got < 0)
            return NULL;
        r->woff = off;
        r->wlen = (size_t)got;
        r->weof = (size_t)got < sizeof r->win;
    }
    size_t have = r->wlen > off - r->woff ? r->wlen - (size_t)(off - r->woff) : 0;
    *avail = have < n ? have : n;
    return r->win + (off - r->woff);
}

/* Reads exactly N (<= WINDOW) bytes at OFF into BUF.  Returns 0, or -1
 * (short file, error). */
static int read_full(struct reader *r, void *buf, size_t n, uint64_t off)
{
    size_t avail;
    const unsigned char *p = window(r, off, n, &avail);
    if (!p || avail != n)
        return -1;
    memcpy(buf, p, n);
    return 0;
}

/* Records the first problem (later ones follow from it).  Returns -1. */
static int __attribute__((format(printf, 2, 3)))
problem(struct reader *r, const char *fmt, ...)
{
    if (r->out->problem[0])
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->out->problem, sizeof r->out->problem, fmt, ap);
    va_end(ap);
    return -1;
}

/* Reads the NUL-terminated string at OFF, at most LIMIT bytes of the file
 * (its table's rest) and CAP bytes with the NUL, into OUT.  Returns 0, or
 * -1 when there is no NUL within those bounds or it cannot be read. */
static int read_str(struct reader *r, uint64_t off, uint64_t limit, char *out, size_t cap)
{
    size_t n = limit < cap ? (size_t)limit : cap, got;
    const unsigned char *p = n ? window(r, off, n, &got) : NULL;
    const unsigned char *nul = p ? memchr(p, '\0', got) : NULL;
    if (!nul) {
        out[0] = '\0';
        return -1;
    }
    memcpy(out, p, (size_t)(nul - p) + 1);
    return 0;
}

static int read_header(struct reader *r, const unsigned char *h, size_t got)
{
    struct hastls_elf *e = r->out;
    e->elf_class = h[EI_CLASS];
    e->data = h[EI_DATA];
    if (e->elf_class != ELFCLASS32 && e->elf_class != ELFCLASS64)
        return problem(r, "unknown ELF class %u", e->elf_class);
    if (e->data != ELFDATA2LSB && e->data != ELFDATA2MSB)
        return problem(r, "unknown ELF data encoding %u", e->data);
    r->l = e->elf_class == ELFCLASS64 ? &layout64 : &layout32;
    r->data = e->data;
    if (got < 20)
        return problem(r, "ELF header cut at %zu bytes", got);
    e->type = (unsigned)field(h + 16, 2, r->data);
    e->machine = (unsigned)field(h + 18, 2, r->data);
    if (got < r->l->ehsize)
        return problem(r, "ELF header cut at %zu bytes (%zu needed)", got, r->l->ehsize);
    return 0;
}

/* The program headers: PT_INTERP, PT_DYNAMIC and the PT_LOAD map. */
static int read_phdrs(struct reader *r, const unsigned char *h)
{
    const struct layout *l = r->l;
    uint64_t phoff = field(h + l->phoff, l->word, r->data);
    size_t phentsize = (size_t)field(h + l->phentsize, 2, r->data);
    size_t phnum = (size_t)field(h + l->phnum, 2, r->data);
    if (phnum == 0)
        return 0;
    if (phentsize < l->phsize || phentsize > 256)
        return problem(r, "program header size %zu (at least %zu)", phentsize, l->phsize);
    if (phnum > HASTLS_ELF_MAX_PHNUM)
        return problem(r, "%zu program headers (at most %d)", phnum,
                       HASTLS_ELF_MAX_PHNUM);
    if (phoff > UINT64_MAX - (uint64_t)phnum * phentsize)
        return problem(r, "program headers at offset %llu overflow",
                       (unsigned long long)phoff);
    int dyn_seen = 0;
    for (size_t i = 0; i < phnum; i++) {
        unsigned char p[256];
        if (read_full(r, p, l->phsize, phoff + (uint64_t)i * phentsize) < 0) {
            /* a cut table is no evidence of a loader */
            r->out->has_interp = 0;
            return problem(r, "program header %zu of %zu past the end of the file", i,
                           phnum);
        }
        uint64_t type = field(p, 4, r->data);
        uint64_t offset = field(p + l->p_offset, l->word, r->data);
        uint64_t vaddr = field(p + l->p_vaddr, l->word, r->data);
        uint64_t filesz = field(p + l->p_filesz, l->word, r->data);
        if (type == PT_INTERP) {
            r->out->has_interp = 1;
        } else if (type == PT_DYNAMIC && !dyn_seen) {
            dyn_seen = 1;
            r->dyn_off = offset;
            r->dyn_size = filesz;
        } else if (type == PT_LOAD && r->n_loads < MAX_LOADS) {
            r->loads[r->n_loads++] = (struct load){vaddr, offset, filesz};
        }
    }
    return dyn_seen ? 1 : 0;
}

/* The file offset of the address VADDR, through the PT_LOAD map.  Returns 0
 * with *OFF, or -1 when no segment holds it in the file. */
static int vaddr_offset(const struct reader *r, uint64_t vaddr, uint64_t *off)
{
    for (size_t i = 0; i < r->n_loads; i++) {
        const struct load *s = &r->loads[i];
        if (vaddr >= s->vaddr && vaddr - s->vaddr < s->filesz &&
            s->offset <= UINT64_MAX - (vaddr - s->vaddr)) {
            *off = s->offset + (vaddr - s->vaddr);
            return 0;
        }
    }
    return -1;
}

/* The dynamic section: DT_NEEDED names and the search path. */
static int read_dynamic(struct reader *r)
{
    const struct layout *l = r->l;
    struct hastls_elf *e = r->out;
    uint64_t count = r->dyn_size / l->dynsize;
    if (count > HASTLS_ELF_MAX_DYN)
        return problem(r, "%llu dynamic entries (at most %d)", (unsigned long long)count,
                       HASTLS_ELF_MAX_DYN);
    if (r->dyn_off > UINT64_MAX - r->dyn_size)
        return problem(r, "dynamic section at offset %llu overflows",
                       (unsigned long long)r->dyn_off);
    uint64_t needed[HASTLS_ELF_MAX_NEEDED];
    size_t n_needed = 0;
    uint64_t strtab = 0, strsz = 0, runpath = 0, rpath = 0;
    int have_strtab = 0, have_strsz = 0, have_runpath = 0, have_rpath = 0;
    for (uint64_t i = 0; i < count; i++) {
        unsigned char d[16];
        if (read_full(r, d, l->dynsize, r->dyn_off + i * l->dynsize) < 0)
            return problem(r, "dynamic entry %llu past the end of the file",
                           (unsigned long long)i);
        uint64_t tag = field(d, l->word, r->data);
        uint64_t val = field(d + l->word, l->word, r->data);
        if (tag == DT_NULL)
            break;
        switch (tag) {
        case DT_NEEDED:
            if (n_needed < HASTLS_ELF_MAX_NEEDED)
                needed[n_needed++] = val;
            else
                e->needed_dropped++;
            break;
        case DT_STRTAB:
            strtab = val, have_strtab = 1;
            break;
        case DT_STRSZ:
            strsz = val, have_strsz = 1;
            break;
        case DT_RUNPATH:
            runpath = val, have_runpath = 1;
            break;
        case DT_RPATH:
            rpath = val, have_rpath = 1;
            break;
        }
    }
    e->has_dynamic = 1;
    if (!n_needed && !e->needed_dropped && !have_runpath && !have_rpath)
        return 0;
    uint64_t stroff;
    if (!have_strtab || !have_strsz)
        return problem(r, "dynamic section without DT_STRTAB or DT_STRSZ");
    if (vaddr_offset(r, strtab, &stroff) < 0)
        return problem(r, "DT_STRTAB address 0x%llx is in no loaded segment",
                       (unsigned long long)strtab);
    if (stroff > UINT64_MAX - strsz)
        return problem(r, "string table at offset %llu overflows",
                       (unsigned long long)stroff);
    for (size_t i = 0; i < n_needed; i++) {
        char *name = e->needed[e->n_needed];
        if (needed[i] >= strsz ||
            read_str(r, stroff + needed[i], strsz - needed[i], name,
                     HASTLS_ELF_NAME_MAX) < 0 ||
            !name[0]) {
            e->needed_dropped++;
            continue;
        }
        e->n_needed++;
    }
    if (have_runpath || have_rpath) {
        uint64_t at = have_runpath ? runpath : rpath;
        e->runpath_is_rpath = !have_runpath;
        if (at >= strsz ||
            read_str(r, stroff + at, strsz - at, e->runpath, sizeof e->runpath) < 0)
            return problem(r, "%s at string %llu unreadable or too long",
                           have_runpath ? "DT_RUNPATH" : "DT_RPATH",
                           (unsigned long long)at);
    }
    return 0;
}

/* The section headers: .rodata's range and the Go sections. */
static int read_sections(struct reader *r, const unsigned char *h)
{
    const struct layout *l = r->l;
    struct hastls_elf *e = r->out;
    uint64_t shoff = field(h + l->shoff, l->word, r->data);
    size_t shentsize = (size_t)field(h + l->shentsize, 2, r->data);
    size_t shnum = (size_t)field(h + l->shnum, 2, r->data);
    size_t shstrndx = (size_t)field(h + l->shstrndx, 2, r->data);
    if (shoff == 0 || shnum == 0)
        return 0; /* none (or more than 0xff00 of them, counted elsewhere) */
    if (shentsize < l->shsize || shentsize > 256)
        return problem(r, "section header size %zu (at least %zu)", shentsize, l->shsize);
    if (shnum > HASTLS_ELF_MAX_SHNUM)
        return problem(r, "%zu sections (at most %d)", shnum, HASTLS_ELF_MAX_SHNUM);
    if (shoff > UINT64_MAX - (uint64_t)shnum * shentsize)
        return problem(r, "section headers at offset %llu overflow",
                       (unsigned long long)shoff);
    if (shstrndx >= shnum)
        return problem(r, "section name table %zu of %zu sections", shstrndx, shnum);
    unsigned char s[256];
    if (read_full(r, s, l->shsize, shoff + (uint64_t)shstrndx * shentsize) < 0)
        return problem(r, "section name table header past the end of the file");
    uint64_t names = field(s + l->sh_offset, l->word, r->data);
    uint64_t names_size = field(s + l->sh_size, l->word, r->data);
    if (names > UINT64_MAX - names_size)
        return problem(r, "section name table at offset %llu overflows",
                       (unsigned long long)names);
    for (size_t i = 0; i < shnum; i++) {
        if (read_full(r, s, l->shsize, shoff + (uint64_t)i * shentsize) < 0)
            return problem(r, "section header %zu of %zu past the end of the file", i,
                           shnum);
        uint64_t name = field(s, 4, r->data);
        char text[32];
        if (name >= names_size ||
            read_str(r, names + name, names_size - name, text, sizeof text) < 0)
            continue; /* unnamed, or a name longer than any looked for */
        uint64_t type = field(s + l->sh_type, 4, r->data);
        if (!strcmp(text, ".rodata") && type != SHT_NOBITS && !e->rodata_len) {
            e->rodata_off = field(s + l->sh_offset, l->word, r->data);
            e->rodata_len = field(s + l->sh_size, l->word, r->data);
        } else if (!strcmp(text, ".note.go.buildid") || !strcmp(text, ".go.buildinfo")) {
            e->go = 1;
        }
    }
    return 0;
}

int hastls_elf_read(const struct hastls_elf_src *src, unsigned what,
                    struct hastls_elf *out)
{
    memset(out, 0, sizeof *out);
    struct reader r = {.src = src, .out = out};
    unsigned char h[64];
    ssize_t got = read_some(&r, h, sizeof h, 0);
    if (got < 0)
        return HASTLS_ELF_IO;
    if (got < SELFMAG || memcmp(h, ELFMAG, SELFMAG) != 0)
        return HASTLS_ELF_NOT_ELF;
    if (got < EI_NIDENT) {
        problem(&r, "ELF identification cut at %zd bytes", got);
        return HASTLS_ELF_BAD_HEADER;
    }
    if (read_header(&r, h, (size_t)got) < 0)
        return HASTLS_ELF_BAD_HEADER;
    int dyn = read_phdrs(&r, h);
    if (dyn > 0)
        (void)read_dynamic(&r);
    if (what & HASTLS_ELF_SECTIONS)
        (void)read_sections(&r, h);
    return r.io_error ? HASTLS_ELF_IO : HASTLS_ELF_OK;
}

/* The sonames, matched whole or (ending in '.') as a prefix followed by a
 * version. */
static const struct {
    const char *soname;
    enum hastls_tls_lib lib;
} sonames[] = {
    {"libssl.so.3", HASTLS_TLS_OPENSSL},    {"libssl.so.1.1", HASTLS_TLS_OPENSSL},
    {"libgnutls.so.30", HASTLS_TLS_GNUTLS}, {"libssl3.so", HASTLS_TLS_NSS},
    {"libmbedtls.so.", HASTLS_TLS_MBEDTLS}, {"libwolfssl.so.", HASTLS_TLS_WOLFSSL},
};

enum hastls_tls_lib hastls_tls_of_soname(const char *soname)
{
    const char *base = strrchr(soname, '/');
    base = base ? base + 1 : soname;
    for (size_t i = 0; i < sizeof sonames / sizeof sonames[0]; i++) {
        const char *s = sonames[i].soname;
        size_t n = strlen(s);
        if (s[n - 1] == '.' ? !strncmp(base, s, n) && base[n] >= '0' && base[n] <= '9'
                            : !strcmp(base, s))
            return sonames[i].lib;
    }
    return HASTLS_TLS_NONE;
}

int hastls_tls_covered(enum hastls_tls_lib lib)
{
    /* shim/hooks/openssl.c; GnuTLS's hook has the same contract. */
    return lib == HASTLS_TLS_OPENSSL || lib == HASTLS_TLS_GNUTLS;
}

const char *hastls_tls_name(enum hastls_tls_lib lib)
{
    switch (lib) {
    case HASTLS_TLS_OPENSSL:
        return "OpenSSL";
    case HASTLS_TLS_GNUTLS:
        return "GnuTLS";
    case HASTLS_TLS_NSS:
        return "NSS";
    case HASTLS_TLS_MBEDTLS:
        return "mbed TLS";
    case HASTLS_TLS_WOLFSSL:
        return "wolfSSL";
    case HASTLS_TLS_NONE:
        break;
    }
    return "none";
}

const char *hastls_tls_builtin_name(enum hastls_tls_builtin b)
{
    switch (b) {
    case HASTLS_BUILTIN_BORINGSSL:
        return "BoringSSL";
    case HASTLS_BUILTIN_OPENSSL:
        return "OpenSSL";
    case HASTLS_BUILTIN_NONE:
        break;
    }
    return "none";
}

/* The marks: the source file names that both libraries' error macros
 * compile into the code of their TLS client (__FILE__ in OPENSSL_PUT_ERROR
 * and ERR_raise), so they are there whenever the client handshake is, even
 * in a stripped executable. */
static const struct {
    const char *mark;
    enum hastls_tls_builtin lib;
} marks[] = {
    {"ssl/handshake_client.c", HASTLS_BUILTIN_BORINGSSL}, /* .c, later .cc */
    {"ssl/statem/statem_clnt.c", HASTLS_BUILTIN_OPENSSL},
};
#define MARK_OVERLAP 32 /* longer than every mark */

enum hastls_tls_builtin hastls_elf_scan_tls(const struct hastls_elf_src *src,
                                            uint64_t off, uint64_t len,
                                            unsigned char *buf, size_t buflen)
{
    if (buflen < 4096 || len == 0)
        return HASTLS_BUILTIN_NONE;
    struct reader r = {.src = src}; /* for read_some() alone */
    if (len > HASTLS_ELF_SCAN_MAX)
        len = HASTLS_ELF_SCAN_MAX;
    if (off > UINT64_MAX - len)
        return HASTLS_BUILTIN_NONE;
    uint64_t pos = off, end = off + len;
    size_t keep = 0;
    while (pos < end) {
        size_t want = buflen - keep;
        if (want > end - pos)
            want = (size_t)(end - pos);
        ssize_t got = read_some(&r, buf + keep, want, pos);
        if (got <= 0)
            break;
        size_t n = keep + (size_t)got;
        for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
            if (memmem(buf, n, marks[i].mark, strlen(marks[i].mark)))
                return marks[i].lib;
        pos += (uint64_t)got;
        keep = n < MARK_OVERLAP ? n : MARK_OVERLAP;
        memmove(buf, buf + n - keep, keep);
    }
    return HASTLS_BUILTIN_NONE;
}
