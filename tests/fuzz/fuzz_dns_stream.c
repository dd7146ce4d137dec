/* tests/fuzz/fuzz_dns_stream.c: the transport's stream reassembly on
 * arbitrary bytes cut at arbitrary places.  The first byte seeds the cuts;
 * the rest is a TCP stream as libunbound (or an upstream) might send it.  The
 * relay's reassembly (shim/resolver/relay.c over policy/dnswire.c) must yield
 * exactly the messages that one pass over the whole stream finds, whatever
 * the cuts, and keep no more than an incomplete message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/dnswire.h"
#include "shim/resolver/buf.h"
#include "shim/resolver/relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned seed = data[0];
    const uint8_t *s = data + 1;
    size_t len = size - 1;

    /* The messages of one pass, as offsets into S. */
    size_t off = 0, n_ref = 0, mlen;
    const uint8_t *m;
    size_t *ref_off = malloc((len / 2 + 1) * sizeof *ref_off);
    size_t *ref_len = malloc((len / 2 + 1) * sizeof *ref_len);
    if (!ref_off || !ref_len)
        abort();
    while (hastls_dns_stream_next(s, len, &off, &m, &mlen)) {
        if (m < s || m + mlen > s + len || off > len)
            abort();
        ref_off[n_ref] = (size_t)(m - s);
        ref_len[n_ref++] = mlen;
    }
    size_t consumed = off;

    /* The same stream in pieces through a relay client. */
    struct hastls_relay_client cl;
    memset(&cl, 0, sizeof cl);
    cl.fd = -1;
    size_t pos = 0, k = 0;
    while (pos < len) {
        seed = seed * 1103515245u + 12345u;
        size_t piece = 1 + (seed >> 16) % 97;
        if (piece > len - pos)
            piece = len - pos;
        if (hastls_buf_append(&cl.in, s + pos, piece) < 0)
            abort();
        pos += piece;
        while (hastls_relay_next(&cl, &m, &mlen)) {
            if (k >= n_ref || mlen != ref_len[k] || memcmp(m, s + ref_off[k], mlen))
                abort();
            k++;
        }
        hastls_relay_taken(&cl);
        if (cl.in.len > 2 + HASTLS_DNS_MAX_MSG)
            abort(); /* more kept than one incomplete message */
    }
    if (k != n_ref || cl.in.len != len - consumed)
        abort();
    hastls_buf_free(&cl.in);

    /* Framing what was found gives back the consumed part of the stream. */
    uint8_t *out = malloc(consumed + 1);
    struct hastls_dns_wr w;
    if (!out)
        abort();
    hastls_dns_wr_init(&w, out, consumed);
    for (size_t i = 0; i < n_ref; i++)
        if (hastls_dns_stream_put(&w, s + ref_off[i], ref_len[i]) < 0)
            abort();
    if (w.len != consumed || memcmp(out, s, consumed))
        abort();
    free(out);
    free(ref_off);
    free(ref_len);
    return 0;
}
