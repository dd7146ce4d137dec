/* tests/unit/test_elfinfo.c: the ELF reader of policy/elfinfo.h on files
 * built here (64- and 32-bit, both byte orders), cut at every length, with
 * offsets and counts out of range, and on what is not ELF at all; the TLS
 * library rules; the search for built-in TLS marks across read chunks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <elf.h>

#include "policy/elfinfo.h"

#define FILE_SIZE 0x900
#define VBASE 0x10000

struct mem {
    const unsigned char *p;
    size_t n;
    int fail; /* every read fails */
};

static ssize_t mem_read(void *ctx, void *buf, size_t n, uint64_t off)
{
    struct mem *m = ctx;
    if (m->fail)
        return -1;
    if (off >= m->n)
        return 0;
    if (n > m->n - off)
        n = m->n - (size_t)off;
    /* short reads on purpose: the reader must loop */
    if (n > 1000)
        n = 1000;
    memcpy(buf, m->p + off, n);
    return (ssize_t)n;
}

static int read_elf(const unsigned char *p, size_t n, struct hastls_elf *e)
{
    struct mem m = {p, n, 0};
    struct hastls_elf_src src = {mem_read, &m};
    return hastls_elf_read(&src, HASTLS_ELF_SECTIONS, e);
}

struct shape {
    int is32, be;
    int go;            /* add a .note.go.buildid section */
    const char *mark;  /* written into .rodata */
    unsigned n_needed; /* DT_NEEDED entries (all "libfoo.so.1" past 2) */
};

static void put(unsigned char *p, size_t n, uint64_t v, int be)
{
    for (size_t i = 0; i < n; i++)
        p[be ? n - 1 - i : i] = (unsigned char)(v >> (8 * i));
}

/* Builds an ELF file of SHAPE into F (FILE_SIZE bytes): header, PT_INTERP,
 * PT_LOAD (the whole file), PT_DYNAMIC; DT_NEEDED libfoo.so.1 and
 * libssl.so.3, DT_RUNPATH $ORIGIN/../lib; sections .shstrtab, .rodata and
 * maybe .note.go.buildid. */
static struct hastls_elf *built; /* scratch for the tests */

static void build(unsigned char *f, const struct shape *s)
{
    memset(f, 0, FILE_SIZE);
    int be = s->be, w = s->is32 ? 4 : 8;
    memcpy(f, ELFMAG, SELFMAG);
    f[EI_CLASS] = s->is32 ? ELFCLASS32 : ELFCLASS64;
    f[EI_DATA] = be ? ELFDATA2MSB : ELFDATA2LSB;
    f[EI_VERSION] = EV_CURRENT;
    put(f + 16, 2, ET_DYN, be);
    put(f + 18, 2, s->is32 ? EM_386 : EM_X86_64, be);
    size_t phoff = 0x40, phsize = s->is32 ? 32 : 56, shsize = s->is32 ? 40 : 64;
    unsigned nsec = s->go ? 4 : 3;
    if (s->is32) {
        put(f + 28, 4, phoff, be);
        put(f + 32, 4, 0x800, be);
        put(f + 40, 2, 52, be);
        put(f + 42, 2, phsize, be);
        put(f + 44, 2, 3, be);
        put(f + 46, 2, shsize, be);
        put(f + 48, 2, nsec, be);
        put(f + 50, 2, 1, be);
    } else {
        put(f + 32, 8, phoff, be);
        put(f + 40, 8, 0x800, be);
        put(f + 52, 2, 64, be);
        put(f + 54, 2, phsize, be);
        put(f + 56, 2, 3, be);
        put(f + 58, 2, shsize, be);
        put(f + 60, 2, nsec, be);
        put(f + 62, 2, 1, be);
    }
    /* p_type, p_offset, p_vaddr, p_filesz at their class's offsets */
    const size_t o_off = s->is32 ? 4 : 8, o_vaddr = s->is32 ? 8 : 16,
                 o_filesz = s->is32 ? 16 : 32;
    const uint64_t ph[3][3] = {
        {PT_INTERP, 0x200, 11}, {PT_LOAD, 0, FILE_SIZE}, {PT_DYNAMIC, 0x400, 0x200}};
    for (int i = 0; i < 3; i++) {
        unsigned char *p = f + phoff + (size_t)i * phsize;
        put(p, 4, ph[i][0], be);
        put(p + o_off, w, ph[i][1], be);
        put(p + o_vaddr, w, VBASE + ph[i][1], be);
        put(p + o_filesz, w, ph[i][2], be);
    }
    memcpy(f + 0x200, "/lib/ld.so", 11);
    static const char strtab[] = "\0libfoo.so.1\0libssl.so.3\0$ORIGIN/../lib";
    memcpy(f + 0x300, strtab, sizeof strtab);
    unsigned char *d = f + 0x400;
    size_t dsz = 2 * (size_t)w;
    unsigned k = 0;
    for (unsigned i = 0; i < s->n_needed && k < 28; i++, k++) {
        put(d + k * dsz, w, DT_NEEDED, be);
        put(d + k * dsz + w, w, i == 1 ? 13 : 1, be);
    }
    const uint64_t tail[][2] = {{DT_STRTAB, VBASE + 0x300},
                                {DT_STRSZ, sizeof strtab},
                                {DT_RUNPATH, 25},
                                {DT_NULL, 0}};
    for (unsigned i = 0; i < 4; i++, k++) {
        put(d + k * dsz, w, tail[i][0], be);
        put(d + k * dsz + w, w, tail[i][1], be);
    }
    static const char shstr[] = "\0.shstrtab\0.rodata\0.note.go.buildid";
    memcpy(f + 0x600, shstr, sizeof shstr);
    if (s->mark)
        memcpy(f + 0x780, s->mark, strlen(s->mark));
    /* sh_name, sh_type, sh_offset, sh_size */
    const size_t o_shoff = s->is32 ? 16 : 24, o_shsize = s->is32 ? 20 : 32;
    const uint64_t sh[4][4] = {{0, SHT_NULL, 0, 0},
                               {1, SHT_STRTAB, 0x600, sizeof shstr},
                               {11, SHT_PROGBITS, 0x700, 0x100},
                               {19, SHT_NOTE, 0x6c0, 0x20}};
    for (unsigned i = 0; i < nsec; i++) {
        unsigned char *p = f + 0x800 + i * shsize;
        put(p, 4, sh[i][0], be);
        put(p + 4, 4, sh[i][1], be);
        put(p + o_shoff, w, sh[i][2], be);
        put(p + o_shsize, w, sh[i][3], be);
    }
}

static void check_full(const struct hastls_elf *e, int is32)
{
    assert_string_equal(e->problem, "");
    assert_int_equal(e->elf_class, is32 ? ELFCLASS32 : ELFCLASS64);
    assert_int_equal(e->machine, is32 ? EM_386 : EM_X86_64);
    assert_int_equal(e->type, ET_DYN);
    assert_true(e->has_interp);
    assert_true(e->has_dynamic);
    assert_int_equal(e->n_needed, 2);
    assert_int_equal(e->needed_dropped, 0);
    assert_string_equal(e->needed[0], "libfoo.so.1");
    assert_string_equal(e->needed[1], "libssl.so.3");
    assert_string_equal(e->runpath, "$ORIGIN/../lib");
    assert_false(e->runpath_is_rpath);
    assert_int_equal(e->rodata_off, 0x700);
    assert_int_equal(e->rodata_len, 0x100);
}

static unsigned char file[FILE_SIZE];

static void good_every_shape(void **state)
{
    (void)state;
    for (int is32 = 0; is32 <= 1; is32++)
        for (int be = 0; be <= 1; be++) {
            struct shape s = {.is32 = is32, .be = be, .n_needed = 2};
            build(file, &s);
            assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_OK);
            check_full(built, is32);
            assert_false(built->go);
            s.go = 1;
            build(file, &s);
            assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_OK);
            assert_true(built->go);
        }
}

static void without_sections_asked(void **state)
{
    (void)state;
    struct shape s = {.go = 1, .n_needed = 2};
    build(file, &s);
    struct mem m = {file, sizeof file, 0};
    struct hastls_elf_src src = {mem_read, &m};
    assert_int_equal(hastls_elf_read(&src, 0, built), HASTLS_ELF_OK);
    assert_int_equal(built->n_needed, 2);
    assert_false(built->go);
    assert_int_equal(built->rodata_len, 0);
}

/* Cut at every length: never a crash, never a fact the cut part held. */
static void truncated_everywhere(void **state)
{
    (void)state;
    for (int is32 = 0; is32 <= 1; is32++) {
        struct shape s = {.is32 = is32, .n_needed = 2, .go = 1};
        build(file, &s);
        size_t eh = is32 ? 52 : 64;
        for (size_t n = 0; n <= sizeof file; n++) {
            int rc = read_elf(file, n, built);
            if (n < SELFMAG) {
                assert_int_equal(rc, HASTLS_ELF_NOT_ELF);
                continue;
            }
            if (n < eh) {
                assert_int_equal(rc, HASTLS_ELF_BAD_HEADER);
                assert_true(built->problem[0] != '\0');
                assert_false(built->has_interp);
                continue;
            }
            assert_int_equal(rc, HASTLS_ELF_OK);
            assert_true(built->n_needed <= 2);
            if (n < 0x40 + 3 * (is32 ? 32 : 56))
                assert_false(built->has_interp);
            if (n < 0x300) /* the string table is cut away */
                assert_int_equal(built->n_needed, 0);
            if (n == sizeof file)
                check_full(built, is32);
            else
                assert_true(built->problem[0] != '\0' ||
                            n >= 0x800 + 4 * (is32 ? 40 : 64));
        }
    }
}

static void not_elf(void **state)
{
    (void)state;
    static const unsigned char script[] = "#!/bin/sh\necho hi\n";
    assert_int_equal(read_elf(script, sizeof script - 1, built), HASTLS_ELF_NOT_ELF);
    assert_int_equal(read_elf(script, 0, built), HASTLS_ELF_NOT_ELF);
    static const unsigned char almost[] = "\x7f"
                                          "ELG\x02\x01\x01";
    assert_int_equal(read_elf(almost, sizeof almost - 1, built), HASTLS_ELF_NOT_ELF);
    struct mem m = {script, sizeof script, 1};
    struct hastls_elf_src src = {mem_read, &m};
    assert_int_equal(hastls_elf_read(&src, HASTLS_ELF_SECTIONS, built), HASTLS_ELF_IO);
}

static void bad_class_and_encoding(void **state)
{
    (void)state;
    struct shape s = {.n_needed = 2};
    build(file, &s);
    file[EI_CLASS] = 3;
    assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_BAD_HEADER);
    assert_non_null(strstr(built->problem, "ELF class 3"));
    build(file, &s);
    file[EI_DATA] = 0;
    assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_BAD_HEADER);
    assert_non_null(strstr(built->problem, "data encoding"));
}

static void bad_offsets(void **state)
{
    (void)state;
    struct shape s = {.n_needed = 2};
    /* program headers past the end of the file */
    build(file, &s);
    put(file + 32, 8, 0x10000, 0);
    assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_OK);
    assert_false(built->has_interp);
    assert_non_null(strstr(built->problem, "program header 0 of 3"));
    /* program headers at an offset that overflows */
    put(file + 32, 8, UINT64_MAX - 8, 0);
    assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_OK);
    assert_false(built->has_interp);
    assert_non_null(strstr(built->problem, "overflow"));
    /* DT_STRTAB in no segment */
    build(file, &s);
    put(file + 0x400 + 2 * 16 + 8, 8, 0x999999, 0);
    assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_OK);
    assert_true(built->has_interp);
    assert_int_equal(built->n_needed, 0);
    assert_non_null(strstr(built->problem, "DT_STRTAB"));
    /* a DT_NEEDED string offset past DT_STRSZ: dropped, the rest kept */
    build(file, &s);
    put(file + 0x400 + 8, 8, 5000, 0);
    assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_OK);
    assert_int_equal(built->n_needed, 1);
    assert_int_equal(built->needed_dropped, 1);
    assert_string_equal(built->needed[0], "libssl.so.3");
    /* a string without its NUL inside DT_STRSZ */
    build(file, &s);
    put(file + 0x400 + 3 * 16 + 8, 8, 20, 0); /* DT_STRSZ cuts "libssl.so.3" */
    assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_OK);
    assert_int_equal(built->n_needed, 1);
    assert_string_equal(built->needed[0], "libfoo.so.1");
    /* .rodata's name past the section name table */
    build(file, &s);
    put(file + 0x800 + 2 * 64, 4, 9999, 0);
    assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_OK);
    assert_int_equal(built->rodata_len, 0);
    /* a section name table index out of range */
    build(file, &s);
    put(file + 62, 2, 7, 0);
    assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_OK);
    assert_non_null(strstr(built->problem, "section name table 7 of 3"));
}

static void huge_counts(void **state)
{
    (void)state;
    struct shape s = {.n_needed = 2};
    build(file, &s);
    put(file + 56, 2, 0xffff, 0);
    assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_OK);
    assert_false(built->has_interp);
    assert_non_null(strstr(built->problem, "65535 program headers"));
    build(file, &s);
    put(file + 54, 2, 8, 0); /* smaller than Elf64_Phdr */
    assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_OK);
    assert_non_null(strstr(built->problem, "program header size 8"));
    build(file, &s);
    put(file + 60, 2, 0xfff0, 0);
    assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_OK);
    assert_true(built->has_interp);
    assert_int_equal(built->n_needed, 2);
    assert_non_null(strstr(built->problem, "65520 sections"));
    /* a dynamic segment claiming a million entries */
    build(file, &s);
    put(file + 0x40 + 2 * 56 + 32, 8, 16 << 20, 0);
    assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_OK);
    assert_int_equal(built->n_needed, 0);
    assert_non_null(strstr(built->problem, "dynamic entries"));
    /* many DT_NEEDED entries, all kept */
    static unsigned char big[0x4000];
    s.n_needed = 28;
    build(big, &s);
    assert_int_equal(read_elf(big, FILE_SIZE, built), HASTLS_ELF_OK);
    assert_int_equal(built->n_needed, 28);
    assert_string_equal(built->needed[27], "libfoo.so.1");
}

static void soname_rules(void **state)
{
    (void)state;
    assert_int_equal(hastls_tls_of_soname("libssl.so.3"), HASTLS_TLS_OPENSSL);
    assert_int_equal(hastls_tls_of_soname("libssl.so.1.1"), HASTLS_TLS_OPENSSL);
    assert_int_equal(hastls_tls_of_soname("/usr/lib/libgnutls.so.30"), HASTLS_TLS_GNUTLS);
    assert_int_equal(hastls_tls_of_soname("libssl3.so"), HASTLS_TLS_NSS);
    assert_int_equal(hastls_tls_of_soname("libnss3.so"), HASTLS_TLS_NONE);
    assert_int_equal(hastls_tls_of_soname("libmbedtls.so.14"), HASTLS_TLS_MBEDTLS);
    assert_int_equal(hastls_tls_of_soname("libmbedtls.so."), HASTLS_TLS_NONE);
    assert_int_equal(hastls_tls_of_soname("libwolfssl.so.35"), HASTLS_TLS_WOLFSSL);
    assert_int_equal(hastls_tls_of_soname("libcrypto.so.3"), HASTLS_TLS_NONE);
    assert_int_equal(hastls_tls_of_soname(""), HASTLS_TLS_NONE);
    assert_true(hastls_tls_covered(HASTLS_TLS_OPENSSL));
    assert_true(hastls_tls_covered(HASTLS_TLS_GNUTLS));
    assert_false(hastls_tls_covered(HASTLS_TLS_NSS));
    assert_false(hastls_tls_covered(HASTLS_TLS_MBEDTLS));
    assert_false(hastls_tls_covered(HASTLS_TLS_NONE));
    assert_string_equal(hastls_tls_name(HASTLS_TLS_NSS), "NSS");
    assert_string_equal(hastls_tls_builtin_name(HASTLS_BUILTIN_BORINGSSL), "BoringSSL");
}

static enum hastls_tls_builtin scan(const unsigned char *p, size_t n, uint64_t off,
                                    uint64_t len, size_t buflen)
{
    static unsigned char buf[8192];
    struct mem m = {p, n, 0};
    struct hastls_elf_src src = {mem_read, &m};
    return hastls_elf_scan_tls(&src, off, len, buf, buflen);
}

static void scan_marks(void **state)
{
    (void)state;
    static unsigned char data[20000];
    const char *bssl = "../../third_party/boringssl/src/ssl/handshake_client.cc";
    const char *ossl = "ssl/statem/statem_clnt.c";
    memset(data, 'x', sizeof data);
    assert_int_equal(scan(data, sizeof data, 0, sizeof data, 4096), HASTLS_BUILTIN_NONE);
    /* across every chunk boundary of a 4096-byte buffer */
    for (size_t at = 4060; at < 4110; at++) {
        memset(data, 'x', sizeof data);
        memcpy(data + at, bssl, strlen(bssl));
        assert_int_equal(scan(data, sizeof data, 0, sizeof data, 4096),
                         HASTLS_BUILTIN_BORINGSSL);
    }
    memset(data, 'x', sizeof data);
    memcpy(data + 12000, ossl, strlen(ossl));
    assert_int_equal(scan(data, sizeof data, 0, sizeof data, 4096),
                     HASTLS_BUILTIN_OPENSSL);
    /* only the range asked for */
    assert_int_equal(scan(data, sizeof data, 0, 12000, 4096), HASTLS_BUILTIN_NONE);
    assert_int_equal(scan(data, sizeof data, 12010, 5000, 4096), HASTLS_BUILTIN_NONE);
    /* a range past the file, an overflowing one, a too small buffer */
    assert_int_equal(scan(data, sizeof data, 1u << 30, 100, 4096), HASTLS_BUILTIN_NONE);
    assert_int_equal(scan(data, sizeof data, UINT64_MAX - 5, 100, 4096),
                     HASTLS_BUILTIN_NONE);
    assert_int_equal(scan(data, sizeof data, 0, sizeof data, 100), HASTLS_BUILTIN_NONE);
    /* the mark in a built file's .rodata */
    struct shape s = {.n_needed = 2, .mark = "ssl/handshake_client.c"};
    build(file, &s);
    assert_int_equal(read_elf(file, sizeof file, built), HASTLS_ELF_OK);
    assert_int_equal(scan(file, sizeof file, built->rodata_off, built->rodata_len, 4096),
                     HASTLS_BUILTIN_BORINGSSL);
}

static int setup(void **state)
{
    (void)state;
    built = malloc(sizeof *built);
    return built ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(built);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_every_shape),
        cmocka_unit_test(without_sections_asked),
        cmocka_unit_test(truncated_everywhere),
        cmocka_unit_test(not_elf),
        cmocka_unit_test(bad_class_and_encoding),
        cmocka_unit_test(bad_offsets),
        cmocka_unit_test(huge_counts),
        cmocka_unit_test(soname_rules),
        cmocka_unit_test(scan_marks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
