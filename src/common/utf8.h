/* SPDX-License-Identifier: MIT */
/* utf8.h - incremental UTF-8 validation (RFC 3629), shared by both backends. */
#ifndef WSC_UTF8_H
#define WSC_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define WSC_UTF8_ACCEPT 0u  /* state between whole code points */
#define WSC_UTF8_REJECT 1u  /* sticky: the input is not UTF-8 */

/* Feeds n bytes to the validator and returns the new state. Start from
 * WSC_UTF8_ACCEPT; a message is valid when the final state is
 * WSC_UTF8_ACCEPT. Once WSC_UTF8_REJECT it stays so. Any other value means
 * "inside a code point" (valid so far, more bytes needed), so a text message
 * split across fragments is validated piece by piece. Rejects overlongs,
 * surrogates (U+D800-DFFF) and code points above U+10FFFF at the first byte
 * that makes them invalid. ASCII runs are skipped 16 bytes at a time. */
uint32_t wsc__utf8_feed(uint32_t state, const void *data, size_t n);

#endif
