/* SPDX-License-Identifier: MIT */
/* test_closing.c - the close handshake's state: every order of the events
 * a connection can meet sends at most one close frame of ours, and the
 * questions (sent, received, replying, past ours, read rest) answer as the
 * steps taken so far say. */
#include <string.h>

#include "check.h"
#include "engine/closing.h"

static wsc_closing fresh(void)
{
    wsc_closing s;
    memset(&s, 0, sizeof s);
    return s;
}

/* Every sequence of up to 4 events, transport usable or not at each step:
 * one close frame at most, and once ours is claimed it stays claimed. */
static void test_every_order(void)
{
    enum { EVENTS = WSC_CLOSE_REPLIED + 1 };
    int bad_twice = 0, bad_unclaimed = 0;
    for (int seq = 0; seq < EVENTS * EVENTS * EVENTS * EVENTS * 16; seq++) {
        wsc_closing s = fresh();
        int sends = 0, x = seq;
        bool claimed = false;
        for (int i = 0; i < 4; i++) {
            wsc_close_event ev = (wsc_close_event)(x % EVENTS);
            x /= EVENTS;
            bool usable = (seq >> (i + 12)) & 1;
            sends += wsc__closing_step(&s, ev, usable);
            bad_unclaimed += claimed && !wsc__closing_sent(&s);
            claimed = wsc__closing_sent(&s);
        }
        bad_twice += sends > 1;
    }
    CHECK(bad_twice == 0, "no order of events sends two close frames of ours");
    CHECK(bad_unclaimed == 0, "once our close is claimed, it stays claimed");
}

static void test_paths(void)
{
    /* We close first; the peer answers. */
    wsc_closing s = fresh();
    CHECK(wsc__closing_step(&s, WSC_CLOSE_APP, true), "our close: send it");
    CHECK(wsc__closing_sent(&s) && !wsc__closing_received(&s), "ours out, theirs not yet");
    CHECK(wsc__closing_past_ours(&s), "the peer's data is no longer wanted");
    CHECK(!wsc__closing_step(&s, WSC_CLOSE_PEER, true), "their answer needs no reply");
    CHECK(wsc__closing_received(&s) && !wsc__closing_replying(&s) && s.wire == WSC_CLOSING_DONE,
          "the handshake is done");
    CHECK(!wsc__closing_step(&s, WSC_CLOSE_APP, true), "a second close sends nothing");

    /* The peer closes first; we reply; the application's close after. */
    s = fresh();
    CHECK(wsc__closing_step(&s, WSC_CLOSE_PEER, true), "the peer's close: reply");
    CHECK(wsc__closing_replying(&s) && wsc__closing_sent(&s), "replying: ours is claimed");
    CHECK(!wsc__closing_step(&s, WSC_CLOSE_APP, true), "the application's close sends nothing");
    CHECK(!wsc__closing_step(&s, WSC_CLOSE_FAIL, true), "nor does a failure");
    wsc__closing_step(&s, WSC_CLOSE_REPLIED, true);
    CHECK(!wsc__closing_replying(&s) && s.wire == WSC_CLOSING_DONE, "replied: done");

    /* A half-close: our close goes, the peer's data is still read until the
     * application closes too. */
    s = fresh();
    CHECK(wsc__closing_step(&s, WSC_CLOSE_HALF, true), "half-close: send our close");
    CHECK(wsc__closing_sent(&s) && !wsc__closing_past_ours(&s), "data still wanted");
    CHECK(!wsc__closing_step(&s, WSC_CLOSE_APP, true), "closing after sends nothing");
    CHECK(wsc__closing_past_ours(&s), "then the data is no longer wanted");
    s = fresh();
    wsc__closing_step(&s, WSC_CLOSE_NOW, false);
    CHECK(!wsc__closing_step(&s, WSC_CLOSE_HALF, true), "no half-close after the application closed");

    /* Failures. */
    s = fresh();
    CHECK(!wsc__closing_step(&s, WSC_CLOSE_FAIL, false), "no close frame on a dead transport");
    CHECK(!wsc__closing_sent(&s), "and none is claimed");
    s = fresh();
    CHECK(wsc__closing_step(&s, WSC_CLOSE_FAIL, true), "a failure sends its close frame");
    s = fresh();
    wsc__closing_step(&s, WSC_CLOSE_BROKEN, true);
    CHECK(wsc__closing_read_rest(&s), "after a broken send what arrived may be read");
    wsc__closing_step(&s, WSC_CLOSE_PEER, true);
    CHECK(!wsc__closing_read_rest(&s), "until the peer's close is read");
    s = fresh();
    wsc__closing_step(&s, WSC_CLOSE_BROKEN, true);
    wsc__closing_step(&s, WSC_CLOSE_END, false);
    CHECK(!wsc__closing_read_rest(&s), "or the connection ends");
    s = fresh();
    wsc__closing_step(&s, WSC_CLOSE_BROKEN, true);
    wsc__closing_step(&s, WSC_CLOSE_NOW, false);
    CHECK(!wsc__closing_read_rest(&s), "or the application closes");
    s = fresh();
    wsc__closing_step(&s, WSC_CLOSE_BROKEN, false);
    CHECK(!wsc__closing_read_rest(&s), "a send that broke a closed transport leaves nothing");
}

int main(void)
{
    test_every_order();
    test_paths();
    return check_summary("test_closing");
}
