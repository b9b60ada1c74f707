/* SPDX-License-Identifier: MIT */
/* utf8.c - incremental UTF-8 validator: a byte-class table driving a small
 * DFA, with a 16-bytes-at-a-time skip over ASCII. */
#include <string.h>

#include "common/utf8.h"

/*
 * Every byte falls in one of twelve classes. The classes split the
 * continuation range 80-BF where some lead bytes narrow it (E0, ED, F0, F4).
 */
enum {
    C_ASCII,    /* 00-7F */
    C_CONT_8,   /* 80-8F */
    C_CONT_9,   /* 90-9F */
    C_CONT_AB,  /* A0-BF */
    C_BAD,      /* C0 C1 F5-FF: never in UTF-8 */
    C_LEAD2,    /* C2-DF */
    C_E0,       /* E0: second byte A0-BF (else overlong) */
    C_LEAD3,    /* E1-EC EE EF */
    C_ED,       /* ED: second byte 80-9F (else a surrogate) */
    C_F0,       /* F0: second byte 90-BF (else overlong) */
    C_LEAD4,    /* F1-F3 */
    C_F4,       /* F4: second byte 80-8F (else above U+10FFFF) */
    N_CLASSES
};

static const uint8_t byte_class[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 00 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 10 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 20 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 30 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 40 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 50 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 60 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 70 */
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 80 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 90 */
     3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  /* A0 */
     3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  /* B0 */
     4,  4,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  /* C0 */
     5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  /* D0 */
     6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  7,  /* E0 */
     9, 10, 10, 10, 11,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* F0 */
};

/*
 * The DFA is a "shift DFA": a state is a bit offset into a 64-bit row, and
 * the row of a byte's class holds, at each state's offset, the next state:
 *     state = (row[class] >> state) & 63
 * so stepping costs a shift rather than a dependent table load.
 *
 * Inside, REJ is 0, which makes it sticky and lets each row list only the
 * transitions that are allowed. wsc__utf8_feed maps REJ to WSC_UTF8_REJECT (1)
 * and ACC to WSC_UTF8_ACCEPT (0) at its edges; the other states are passed
 * out as they are (they are never 0 or 1).
 */
enum {
    REJ = 0,    /* not UTF-8, for good */
    ACC = 6,    /* between code points */
    N1 = 12,    /* one more 80-BF */
    N2 = 18,    /* two more 80-BF */
    N3 = 24,    /* three more 80-BF */
    AE0 = 30,   /* after E0: A0-BF, then one more */
    AED = 36,   /* after ED: 80-9F, then one more */
    AF0 = 42,   /* after F0: 90-BF, then two more */
    AF4 = 48    /* after F4: 80-8F, then two more */
};

/* The transition from state `from` to state `to`, as bits of a row. */
#define T(from, to) ((uint64_t)(to) << (from))
static const uint64_t row[N_CLASSES] = {
    [C_ASCII]   = T(ACC, ACC),
    [C_CONT_8]  = T(N1, ACC) | T(N2, N1) | T(N3, N2) | T(AED, N1) | T(AF4, N2),
    [C_CONT_9]  = T(N1, ACC) | T(N2, N1) | T(N3, N2) | T(AED, N1) | T(AF0, N2),
    [C_CONT_AB] = T(N1, ACC) | T(N2, N1) | T(N3, N2) | T(AE0, N1) | T(AF0, N2),
    [C_BAD]     = 0,
    [C_LEAD2]   = T(ACC, N1),
    [C_E0]      = T(ACC, AE0),
    [C_LEAD3]   = T(ACC, N2),
    [C_ED]      = T(ACC, AED),
    [C_F0]      = T(ACC, AF0),
    [C_LEAD4]   = T(ACC, N3),
    [C_F4]      = T(ACC, AF4),
};
#undef T

static uint64_t step(uint64_t state, uint8_t byte)
{
    return (row[byte_class[byte]] >> state) & 63;
}

/* True when all 16 bytes at p are ASCII (no high bit set). */
static int ascii16(const uint8_t *p)
{
    uint64_t a, b;
    memcpy(&a, p, 8);
    memcpy(&b, p + 8, 8);
    return ((a | b) & 0x8080808080808080u) == 0;
}

uint32_t wsc__utf8_feed(uint32_t state, const void *data, size_t n)
{
    const uint8_t *p = data;
    size_t i = 0;
    uint64_t s;

    if (state == WSC_UTF8_ACCEPT)
        s = ACC;
    else if (state >= N1 && state <= AF4 && state % 6 == 0)
        s = state;
    else
        return WSC_UTF8_REJECT;  /* REJECT, or not a state we gave out */
    if (n == 0)
        return state;            /* data may be NULL then */

    /* Whole 16-byte blocks: skip them when pure ASCII between code points,
     * else step the DFA through them. */
    while (n - i >= 16) {
        if (s == ACC && ascii16(p + i)) {
            i += 16;
            continue;
        }
        for (size_t end = i + 16; i < end; i++)
            s = step(s, p[i]);
        if (s == REJ)
            return WSC_UTF8_REJECT;
    }
    for (; i < n; i++)
        s = step(s, p[i]);

    if (s == ACC)
        return WSC_UTF8_ACCEPT;
    if (s == REJ)
        return WSC_UTF8_REJECT;
    return (uint32_t)s;
}
