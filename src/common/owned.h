/* SPDX-License-Identifier: MIT */
/* owned.h - owned copies of what option structs point at (strings, string
 * arrays, header arrays), for objects that outlive the call that got them
 * (a nonblocking accept, a dial that follows redirects), and their freeing. */
#ifndef WSC_OWNED_H
#define WSC_OWNED_H

#include <stdbool.h>
#include <stddef.h>

#include "wsc.h"

/* A malloc'd copy of s (NULL for NULL); *ok becomes false when out of
 * memory. */
const char *wsc__str_copy(const char *s, bool *ok);

/* A malloc'd copy of the n strings of v and their array (NULL for n 0);
 * *ok becomes false when out of memory (then NULL). */
const char *const *wsc__strv_copy(const char *const *v, size_t n, bool *ok);
void wsc__strv_free(const char *const *v, size_t n);

/* The same for n headers, names and values copied. */
const wsc_header *wsc__headers_copy(const wsc_header *h, size_t n, bool *ok);
void wsc__headers_free(const wsc_header *h, size_t n);

#endif
