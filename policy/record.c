/* policy/record.c: record states and their rules (see record.h). */
#include "policy/record.h"

const char *hastls_sec_name(enum hastls_sec s)
{
    switch (s) {
    case HASTLS_SEC_SECURE:
        return "secure";
    case HASTLS_SEC_INSECURE:
        return "insecure";
    case HASTLS_SEC_BOGUS:
        return "bogus";
    case HASTLS_SEC_FAILED:
        return "failed";
    }
    return "?";
}
