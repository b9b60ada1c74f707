/* SPDX-License-Identifier: MIT */
/* group.h - what group.c needs from each backend's wsc_conn. */
#ifndef WSC_GROUP_H
#define WSC_GROUP_H

#include "wsc.h"

/* Where c records its group (NULL: none); the group's lock guards it. */
wsc_group **wsc__conn_group(wsc_conn *c);

/* Takes c out of its group, if any: wsc_conn_free calls it first. */
void wsc__group_leave(wsc_conn *c);

/* Sleeps ms milliseconds: 0, or WSC_ENOTSUP where the thread cannot block
 * (the browser's main thread). */
int wsc__sleep_ms(int ms);

#endif
