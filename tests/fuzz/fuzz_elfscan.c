/* tests/fuzz/fuzz_elfscan.c: the ELF reader of policy/elfinfo.h on arbitrary
 * files.  Asserts that every name kept is a non-empty string inside its
 * bounds, that counts stay within theirs, that a file without ELF magic is
 * never read as one, and that the search for built-in TLS marks finds one
 * exactly when the input holds one. */
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/elfinfo.h"

#define CHECK(x)                                                                         \
    do {                                                                                 \
        if (!(x))                                                                        \
            abort();                                                                     \
    } while (0)

struct mem {
    const uint8_t *p;
    size_t n;
};

static ssize_t mem_read(void *ctx, void *buf, size_t n, uint64_t off)
{
    const struct mem *m = ctx;
    if (off >= m->n)
        return 0;
    if (n > m->n - off)
        n = m->n - (size_t)off;
    if (n > 777) /* short reads, as a pipe or a slow file gives them */
        n = 777;
    memcpy(buf, m->p + off, n);
    return (ssize_t)n;
}

static struct hastls_elf elf;
static unsigned char buf[4096];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mem m = {data, size};
    struct hastls_elf_src src = {mem_read, &m};
    int rc = hastls_elf_read(&src, HASTLS_ELF_SECTIONS, &elf);
    if (size < SELFMAG || memcmp(data, ELFMAG, SELFMAG) != 0)
        CHECK(rc == HASTLS_ELF_NOT_ELF);
    CHECK(rc == HASTLS_ELF_OK || rc == HASTLS_ELF_NOT_ELF || rc == HASTLS_ELF_BAD_HEADER);
    CHECK(memchr(elf.problem, '\0', sizeof elf.problem));
    CHECK(rc != HASTLS_ELF_BAD_HEADER || elf.problem[0]);
    CHECK(elf.n_needed <= HASTLS_ELF_MAX_NEEDED);
    for (size_t i = 0; i < elf.n_needed; i++) {
        size_t len = strnlen(elf.needed[i], HASTLS_ELF_NAME_MAX);
        CHECK(len > 0 && len < HASTLS_ELF_NAME_MAX);
        CHECK(memmem(data, size, elf.needed[i], len + 1));
        (void)hastls_tls_of_soname(elf.needed[i]);
    }
    CHECK(strnlen(elf.runpath, sizeof elf.runpath) < sizeof elf.runpath);
    CHECK(!elf.n_needed || elf.has_dynamic);

    /* the marks over the whole input, against a plain search */
    enum hastls_tls_builtin b = hastls_elf_scan_tls(&src, 0, size, buf, sizeof buf);
    int has = memmem(data, size, "ssl/handshake_client.c", 22) ||
              memmem(data, size, "ssl/statem/statem_clnt.c", 24);
    CHECK((b != HASTLS_BUILTIN_NONE) == has);
    /* and over the .rodata range read: never past the input */
    (void)hastls_elf_scan_tls(&src, elf.rodata_off, elf.rodata_len, buf, sizeof buf);
    return 0;
}
