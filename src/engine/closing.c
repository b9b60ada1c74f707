/* SPDX-License-Identifier: MIT */
/* closing.c - the close handshake's state (see closing.h). */
#include "engine/closing.h"

bool wsc__closing_step(wsc_closing *s, wsc_close_event ev, bool usable)
{
    bool send = false;
    switch (ev) {
    case WSC_CLOSE_APP:
        send = !s->called && s->wire == WSC_CLOSING_OPEN && usable;
        s->called = true;
        break;
    case WSC_CLOSE_NOW:
        s->called = true;
        break;
    case WSC_CLOSE_HALF:
        send = !s->called && s->wire == WSC_CLOSING_OPEN && usable;
        s->half = s->half || send;
        break;
    case WSC_CLOSE_FAIL:
        send = s->wire == WSC_CLOSING_OPEN && usable;
        s->read_rest = false;
        break;
    case WSC_CLOSE_END:
        s->read_rest = false;
        break;
    case WSC_CLOSE_BROKEN:
        s->read_rest = usable;
        break;
    case WSC_CLOSE_PEER:
        if (s->wire == WSC_CLOSING_OPEN) {
            s->wire = WSC_CLOSING_REPLYING;
            return true;
        }
        if (s->wire == WSC_CLOSING_SENT)
            s->wire = WSC_CLOSING_DONE;
        return false;
    case WSC_CLOSE_REPLIED:
        if (s->wire == WSC_CLOSING_REPLYING)
            s->wire = WSC_CLOSING_DONE;
        return false;
    }
    if (send)
        s->wire = WSC_CLOSING_SENT;
    return send;
}

bool wsc__closing_sent(const wsc_closing *s)
{
    return s->wire != WSC_CLOSING_OPEN;
}

bool wsc__closing_received(const wsc_closing *s)
{
    return s->wire == WSC_CLOSING_REPLYING || s->wire == WSC_CLOSING_DONE;
}

bool wsc__closing_replying(const wsc_closing *s)
{
    return s->wire == WSC_CLOSING_REPLYING;
}

bool wsc__closing_past_ours(const wsc_closing *s)
{
    return wsc__closing_sent(s) && (!s->half || s->called);
}

bool wsc__closing_read_rest(const wsc_closing *s)
{
    return s->read_rest && !s->called && !wsc__closing_received(s);
}
