/* tests/fuzz/fuzz_agentwire.c: the agent's message decoders
 * (policy/agentwire.c) on arbitrary bodies.  Whatever decodes must re-encode
 * to the same bytes: the format has one encoding per message.  A STATUS
 * text is also searched for its "key" field (hastls_agent_status_field). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/agentwire.h"

static uint8_t out[HASTLS_AGENT_MAX_BODY + HASTLS_AGENT_FRAME_PREFIX];

static void same(const uint8_t *body, size_t len, size_t flen)
{
    if (flen != len + HASTLS_AGENT_FRAME_PREFIX ||
        memcmp(out + HASTLS_AGENT_FRAME_PREFIX, body, len))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t blen;
    (void)hastls_agent_frame_len(data, size, HASTLS_AGENT_MAX_BODY, &blen);

    enum hastls_agent_op hop;
    uint32_t hid;
    int header_ok = hastls_agent_body_id(data, size, &hop, &hid) == 0;

    struct hastls_agent_request req;
    if (hastls_agent_request_decode(data, size, &req) == 0) {
        if (!header_ok || hop != req.op || hid != req.id)
            __builtin_trap();
        same(data, size, hastls_agent_request_encode(&req, out, sizeof out));
    }

    if (size < 2)
        return 0;
    enum hastls_agent_op op = (enum hastls_agent_op)data[1];
    uint32_t id = size >= 8 ? (uint32_t)data[4] << 24 | (uint32_t)data[5] << 16 |
                                  (uint32_t)data[6] << 8 | data[7]
                            : 0;
    struct hastls_agent_answer ans[HASTLS_AGENT_MAX_QUERIES];
    size_t n = 0, tl = 0;
    const char *text = NULL;
    if (hastls_agent_response_decode(data, size, op, id, ans, HASTLS_AGENT_MAX_QUERIES,
                                     &n, &text, &tl) == 0) {
        if (!header_ok || hop != op || hid != id)
            __builtin_trap();
        struct hastls_agent_writer w;
        hastls_agent_response_begin(&w, out, sizeof out, op, id);
        for (size_t i = 0; i < n; i++) {
            if (ans[i].packet &&
                (ans[i].packet < data || ans[i].packet + ans[i].packet_len > data + size))
                __builtin_trap();
            hastls_agent_response_answer(&w, &ans[i]);
        }
        if (op == HASTLS_AGENT_OP_STATUS) {
            hastls_agent_response_text(&w, text, tl);
            /* The field a client reads from it: found values are whole,
             * printable and terminated within the buffer. */
            char key[64];
            int f = hastls_agent_status_field(text, tl, "key", key, sizeof key);
            if (f < -1 || f > 1 || (f == 1 && (!key[0] || strlen(key) >= sizeof key)))
                __builtin_trap();
        }
        same(data, size, hastls_agent_response_end(&w));
    }
    return 0;
}
