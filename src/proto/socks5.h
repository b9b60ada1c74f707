/* SPDX-License-Identifier: MIT */
/* socks5.h - the SOCKS5 client's messages (RFC 1928, with RFC 1929's user
 * name and password): building what we send, judging what the proxy
 * answers. No I/O. */
#ifndef WSC_SOCKS5_H
#define WSC_SOCKS5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Our greeting: the methods we offer, "no authentication" and, with
 * credentials, "user name and password". Returns its length (3 or 4). */
size_t wsc__socks5_greeting(bool with_password, uint8_t out[4]);

/* The proxy's method choice (2 bytes). 0 none needed, 2 user name and
 * password, or -1 with a sentence in err (a bad version, no acceptable
 * method, one we did not offer). */
int wsc__socks5_method(const uint8_t in[2], bool with_password, char *err, size_t err_size);

/* The user name and password message (RFC 1929) into out (at most 513
 * bytes); its length, or 0 when a part is longer than 255 bytes. */
size_t wsc__socks5_password_msg(const char *user, const char *password, uint8_t out[513]);

/* The answer to it (2 bytes): 0, or -1 with a sentence in err. */
int wsc__socks5_password_ok(const uint8_t in[2], char *err, size_t err_size);

/* The CONNECT request for host:port into out (at most 262 bytes). An IPv4
 * or IPv6 literal goes as an address; a name as a name (the proxy resolves
 * it: socks5h, or socks5 when the dialer has already turned the name into
 * an address literal). Its length, or 0 when the name is longer than 255. */
size_t wsc__socks5_connect_msg(const char *host, int port, uint8_t out[262]);

/* Judges the proxy's reply to CONNECT in in[0..len): > 0 when the reply is
 * not whole yet (how many bytes it needs in all), 0 when it is whole and
 * the proxy connected (*used: its length), -1 with a sentence in err (the
 * proxy's refusal by name, e.g. "connection refused (5)", or a malformed
 * reply). */
int wsc__socks5_reply(const uint8_t *in, size_t len, size_t *used, char *err, size_t err_size);

#endif
