/* SPDX-License-Identifier: MIT */
/* owned.c - owned copies of option strings, string arrays and header
 * arrays (see owned.h). */
#include <stdlib.h>
#include <string.h>

#include "common/owned.h"

const char *wsc__str_copy(const char *s, bool *ok)
{
    char *copy = s ? strdup(s) : NULL;
    if (s && !copy)
        *ok = false;
    return copy;
}

void wsc__strv_free(const char *const *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free((char *)v[i]);
    free((char **)v);
}

const char *const *wsc__strv_copy(const char *const *v, size_t n, bool *ok)
{
    if (!n)
        return NULL;
    const char **copy = calloc(n, sizeof *copy);
    bool all = copy != NULL;
    for (size_t i = 0; all && i < n; i++)
        copy[i] = wsc__str_copy(v[i], &all);
    if (!all) {
        wsc__strv_free(copy, n);
        *ok = false;
        return NULL;
    }
    return copy;
}

void wsc__headers_free(const wsc_header *h, size_t n)
{
    for (size_t i = 0; h && i < n; i++) {
        free((char *)h[i].name);
        free((char *)h[i].value);
    }
    free((wsc_header *)h);
}

const wsc_header *wsc__headers_copy(const wsc_header *h, size_t n, bool *ok)
{
    if (!n)
        return NULL;
    wsc_header *copy = calloc(n, sizeof *copy);
    bool all = copy != NULL;
    for (size_t i = 0; all && i < n; i++) {
        copy[i].name = wsc__str_copy(h[i].name, &all);
        copy[i].value = wsc__str_copy(h[i].value, &all);
    }
    if (!all) {
        wsc__headers_free(copy, n);
        *ok = false;
        return NULL;
    }
    return copy;
}
