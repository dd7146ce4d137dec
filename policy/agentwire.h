/* policy/agentwire.h: the messages between a shimmed process and its agent.
 *
 * A process whose front cache misses asks the per-user agent (hastls agent)
 * over a Unix stream socket instead of starting a resolver of its own.  Each
 * message is one frame: a 4-byte big-endian length, then the body:
 *
 *   u8 version (HASTLS_AGENT_WIRE_VERSION)   u8 op   u16 flags (0)   u32 id
 *   u8 count, then COUNT items of the op's kind:
 *     request LOOKUP:   u16 qtype, u8 name length, name (presentation form)
 *     response LOOKUP:  u16 qtype, u8 status (enum hastls_sec), i16 rcode,
 *                       u32 ttl, u8+qname, u8+canonical name, u16+reason,
 *                       u32+DNS response packet (at most 65535 bytes)
 *     request STATUS, STOP: no items
 *     response STATUS:  one item, u16+text (lines "key: value"; the line
 *                       "key: NAME" names the agent, see
 *                       hastls_agent_status_field())
 *     response STOP:    no items
 *
 * The agent's answers are trust decisions (they carry the DNSSEC status), so
 * a decoder accepts a frame only when every length fits what is left, every
 * name is free of NUL bytes and fits HASTLS_NAME_MAX, every enumerated value
 * is in range, the id matches, and no byte is left over.  The peer is
 * authenticated by the socket (same uid, SO_PEERCRED), not by this format.
 * Pure code: no I/O, no allocation.
 */
#ifndef HASTLS_POLICY_AGENTWIRE_H
#define HASTLS_POLICY_AGENTWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/checked.h"
#include "policy/config.h"
#include "policy/record.h"

#define HASTLS_AGENT_WIRE_VERSION 1
#define HASTLS_AGENT_FRAME_PREFIX 4
#define HASTLS_AGENT_MAX_QUERIES 8
#define HASTLS_AGENT_REASON_MAX 512 /* with NUL, as struct hastls_answer's */
#define HASTLS_AGENT_MAX_PACKET 65535
/* The largest body: every answer at its largest. */
#define HASTLS_AGENT_MAX_BODY                                                            \
    (9 + HASTLS_AGENT_MAX_QUERIES * (15 + 2 * HASTLS_NAME_MAX +                          \
                                     HASTLS_AGENT_REASON_MAX + HASTLS_AGENT_MAX_PACKET))

enum hastls_agent_op {
    HASTLS_AGENT_OP_LOOKUP = 1,
    HASTLS_AGENT_OP_STATUS = 2,
    HASTLS_AGENT_OP_STOP = 3,
};

struct hastls_agent_query {
    uint16_t qtype;
    char name[HASTLS_NAME_MAX];
};

struct hastls_agent_request {
    enum hastls_agent_op op;
    uint32_t id;
    size_t nq; /* LOOKUP only */
    struct hastls_agent_query q[HASTLS_AGENT_MAX_QUERIES];
};

/* One answer of a LOOKUP response.  Decoded, the strings are copies and
 * PACKET points into the frame that was decoded. */
struct hastls_agent_answer {
    uint16_t qtype;
    enum hastls_sec status;
    int rcode; /* -1 when there was no response at all */
    uint32_t ttl;
    char qname[HASTLS_NAME_MAX];
    char canonname[HASTLS_NAME_MAX];
    char reason[HASTLS_AGENT_REASON_MAX];
    const uint8_t *packet; /* NULL when packet_len is 0 */
    size_t packet_len;
};

/* Frame length from the 4-byte prefix at BUF (LEN bytes available): returns 1
 * with the body's length in *BODY_LEN once the prefix is complete, 0 when more
 * bytes are needed, -1 when the announced body is empty or over MAX. */
int hastls_agent_frame_len(const uint8_t *buf, size_t len, size_t max, size_t *body_len);

/* The op and id of a frame body whose header is well formed (known version and
 * op, no flags, a count in range), so that a reader can hand the body to the
 * caller that waits for that id before decoding it.  Returns 0, or -1. */
HASTLS_MUST_CHECK int hastls_agent_body_id(const uint8_t *body, size_t len,
                                           enum hastls_agent_op *op, uint32_t *id);

/* Encodes REQ as a whole frame (prefix included) into OUT.  Returns the
 * frame's length, or 0 when REQ is invalid (too many queries, a name that
 * does not fit) or CAP is too small. */
size_t hastls_agent_request_encode(const struct hastls_agent_request *req, uint8_t *out,
                                   size_t cap);

/* Decodes the body of a request frame.  Returns 0, or -1 for anything
 * malformed. */
HASTLS_MUST_CHECK int hastls_agent_request_decode(const uint8_t *body, size_t len,
                                                  struct hastls_agent_request *out);

/* A response being written into a caller's buffer. */
struct hastls_agent_writer {
    uint8_t *buf;
    size_t cap, len;
    int failed; /* something did not fit: end() returns 0 */
};

/* Starts a response frame for OP and ID in BUF (CAP bytes). */
void hastls_agent_response_begin(struct hastls_agent_writer *w, uint8_t *buf, size_t cap,
                                 enum hastls_agent_op op, uint32_t id);
/* Adds one answer item (LOOKUP) or the text item (STATUS; TEXT of LEN bytes). */
void hastls_agent_response_answer(struct hastls_agent_writer *w,
                                  const struct hastls_agent_answer *a);
void hastls_agent_response_text(struct hastls_agent_writer *w, const char *text,
                                size_t len);
/* Finishes the frame: returns its whole length, or 0 when it did not fit. */
size_t hastls_agent_response_end(struct hastls_agent_writer *w);

/* Decodes the body of a response frame that must answer OP with ID.  For
 * LOOKUP, fills OUT[0..CAP) and *N; for STATUS, points *TEXT (not
 * NUL-terminated) and *TEXT_LEN into BODY (either may be NULL for other ops).
 * Returns 0, or -1 for anything malformed or unexpected. */
HASTLS_MUST_CHECK int hastls_agent_response_decode(const uint8_t *body, size_t len,
                                                   enum hastls_agent_op op, uint32_t id,
                                                   struct hastls_agent_answer *out,
                                                   size_t cap, size_t *n,
                                                   const char **text, size_t *text_len);

/* The value of the line "FIELD: value" in the STATUS text TEXT (LEN bytes,
 * not NUL-terminated) into OUT (CAP bytes), terminated.  Only whole lines
 * count (each ends with '\n'); the first match wins.  Returns 1 when found, 0
 * when no line has FIELD, -1 when the matching line is malformed: not
 * terminated, or a value that is empty, does not fit CAP, or holds a byte
 * outside printable ASCII. */
HASTLS_MUST_CHECK int hastls_agent_status_field(const char *text, size_t len,
                                                const char *field, char *out, size_t cap);

#endif
