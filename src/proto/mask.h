/* SPDX-License-Identifier: MIT */
/* mask.h - the RFC 6455 payload mask (XOR with a 4-byte key). */
#ifndef WSC_MASK_H
#define WSC_MASK_H

#include <stddef.h>
#include <stdint.h>

/* dst[i] = src[i] ^ key[(offset + i) % 4] for i < n. dst may equal src (in
 * place) but must not otherwise overlap it. `offset` is how many payload
 * bytes came before src, so a payload can be masked piece by piece. Returns
 * (offset + n) % 4 for the next piece. Any alignment of src and dst. */
size_t wsc__mask(uint8_t *dst, const uint8_t *src, size_t n,
                const uint8_t key[4], size_t offset);

#endif
