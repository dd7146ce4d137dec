/* shim/core/ownfd.c: the descriptors libunbound opens (see ownfd.h). */
#include "shim/core/ownfd.h"

#include <link.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

pthread_mutex_t hastls_lock_ownfd = PTHREAD_MUTEX_INITIALIZER;

/* libunbound's executable segments, [text_lo, text_hi); written once (by the
 * loader under hastls_lock_resolver), read by every hook (__atomic). */
static uintptr_t text_lo, text_hi;

/* The recorded descriptors, each stored as fd + 1 (0 is a free slot); under
 * hastls_lock_ownfd. */
static int owned[HASTLS_OWNFD_MAX];

static int find_libunbound(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "/libunbound.so"))
        return 0;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t s = info->dlpi_addr + ph->p_vaddr;
        if (s < lo)
            lo = s;
        if (s + ph->p_memsz > hi)
            hi = s + ph->p_memsz;
    }
    if (hi == 0)
        return 0;
    __atomic_store_n(&text_lo, lo, __ATOMIC_RELEASE);
    __atomic_store_n(&text_hi, hi, __ATOMIC_RELEASE);
    return 1;
}

int hastls_ownfd_find_resolver(void)
{
    if (__atomic_load_n(&text_hi, __ATOMIC_ACQUIRE) == 0)
        dl_iterate_phdr(find_libunbound, NULL);
    return __atomic_load_n(&text_hi, __ATOMIC_ACQUIRE) != 0 ? 0 : -1;
}

/* Non-zero in the threads libunbound starts, and in a thread while it is
 * inside the resolver: everything such a thread opens is the resolver's. */
static __thread int resolver_thread __attribute__((tls_model("initial-exec")));

int hastls_ownfd_in_resolver_code(const void *ret)
{
    uintptr_t a = (uintptr_t)ret;
    uintptr_t hi = __atomic_load_n(&text_hi, __ATOMIC_ACQUIRE);
    return hi != 0 && a < hi && a >= __atomic_load_n(&text_lo, __ATOMIC_ACQUIRE);
}

int hastls_ownfd_from_resolver(const void *ret)
{
    return resolver_thread || hastls_ownfd_in_resolver_code(ret);
}

void hastls_ownfd_mark_thread(void)
{
    resolver_thread = 1;
}

void hastls_ownfd_enter(void)
{
    resolver_thread++;
}

void hastls_ownfd_leave(void)
{
    resolver_thread--;
}

int hastls_ownfd_add(int fd)
{
    for (size_t i = 0; i < HASTLS_OWNFD_MAX; i++)
        if (owned[i] == 0) {
            owned[i] = fd + 1;
            return 0;
        }
    return -1;
}

void hastls_ownfd_remove(int fd)
{
    for (size_t i = 0; i < HASTLS_OWNFD_MAX; i++)
        if (owned[i] == fd + 1)
            owned[i] = 0;
}

void hastls_ownfd_close_all(void)
{
    for (size_t i = 0; i < HASTLS_OWNFD_MAX; i++)
        if (owned[i] != 0) {
            close(owned[i] - 1);
            owned[i] = 0;
        }
}
