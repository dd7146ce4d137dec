/* policy/base64.h: a strict base64 decoder (RFC 4648, section 4) for pins.
 *
 * The policy code links only libc and inih (it goes into libhastls.so), so it
 * cannot borrow OpenSSL's decoder.
 */
#ifndef HASTLS_POLICY_BASE64_H
#define HASTLS_POLICY_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the NUL-terminated TEXT into OUT (CAP bytes) and sets *LEN.  Strict:
 * the standard alphabet only, no white space, '=' padding optional but only at
 * the end and only as much as the length needs, and the unused low bits of
 * the last character must be zero (so every byte string has exactly one
 * accepted encoding, with or without its padding).  Returns 0, or -1 on bad
 * input or when the result does not fit CAP. */
int hastls_base64_decode(const char *text, uint8_t *out, size_t cap, size_t *len);

#endif
