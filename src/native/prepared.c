/* SPDX-License-Identifier: MIT */
/* prepared.c - prepared messages (wsc_prepared): one message written to many
 * connections, compressed at most once per shape of compressor
 * (wsc_deflate_shape) that the connections sending it use. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "native/conn.h"

/* The message compressed for one shape; data NULL: it does not shrink, so
 * it goes plain. */
typedef struct variant {
    wsc_deflate_shape shape;
    uint8_t *data;
    size_t len;
    struct variant *next;
} variant;

struct wsc_prepared {
    wsc_msg_type type;
    uint8_t *data;            /* the message, copied */
    size_t len;
    pthread_mutex_t mu;       /* guards variants */
    variant *variants;        /* made on first use, kept until freed */
};

int wsc_prepared_new(wsc_msg_type type, const void *data, size_t len, wsc_prepared **out)
{
    if (!out || (len && !data) || (type != WSC_TEXT && type != WSC_BINARY))
        return wsc__fail(WSC_EINVAL, "wsc_prepared_new needs a type, the data and somewhere to "
                         "put the message");
    *out = NULL;
    wsc_prepared *p = calloc(1, sizeof *p);
    uint8_t *copy = malloc(len ? len : 1);
    if (!p || !copy) {
        free(p);
        free(copy);
        return wsc__fail(WSC_ENOMEM, "out of memory");
    }
    if (len)
        memcpy(copy, data, len);
    p->type = type;
    p->data = copy;
    p->len = len;
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return 0;
}

void wsc_prepared_free(wsc_prepared *p)
{
    if (!p)
        return;
    for (variant *v = p->variants, *next; v; v = next) {
        next = v->next;
        free(v->data);
        free(v);
    }
    pthread_mutex_destroy(&p->mu);
    free(p->data);
    free(p);
}

static bool same_shape(const wsc_deflate_shape *a, const wsc_deflate_shape *b)
{
    return a->bits == b->bits && a->level == b->level && a->mem_level == b->mem_level;
}

/* The variant for shape, made if it is the first of its shape; NULL (with
 * the error in *err) when compressing failed. Concurrent writers of the
 * same shape wait for the first to make it. */
static const variant *variant_for(wsc_prepared *p, const wsc_deflate_shape *shape, int *err)
{
    pthread_mutex_lock(&p->mu);
    variant *v = p->variants;
    while (v && !same_shape(&v->shape, shape))
        v = v->next;
    if (!v && (v = calloc(1, sizeof *v)) != NULL) {
        v->shape = *shape;
        *err = wsc__deflate_alone(shape, p->data, p->len, &v->data, &v->len);
        if (*err < 0) {
            free(v);
            v = NULL;
        } else {
            if (v->len >= p->len) { /* it did not shrink: plain it goes */
                free(v->data);
                v->data = NULL;
            }
            v->next = p->variants;
            p->variants = v;
        }
    } else if (!v) {
        *err = wsc__fail(WSC_ENOMEM, "out of memory");
    }
    pthread_mutex_unlock(&p->mu);
    return v;
}

int wsc_write_prepared(wsc_conn *c, wsc_prepared *p, int timeout_ms)
{
    if (!c || !p)
        return wsc__fail(WSC_EINVAL, "wsc_write_prepared: NULL connection or message");
    wsc_deflate_shape shape;
    /* Before the open, c->pmd is not known yet: wsc_write waits for it. */
    if (atomic_load(&c->state) == WSC_STATE_CONNECTING || !c->pmd ||
        !atomic_load(&c->write_compression) || !wsc__deflate_alone_shape(c->pmd, p->len, &shape))
        return wsc_write(c, p->type, p->data, p->len, timeout_ms);
    int err = 0;
    const variant *v = variant_for(p, &shape, &err);
    if (!v)
        return err;
    if (!v->data)
        return wsc__write_ready(c, p->type, p->data, p->len, false, timeout_ms);
    return wsc__write_ready(c, p->type, v->data, v->len, true, timeout_ms);
}
