/*
 * echo_server - a WebSocket echo server (coder/websocket's "echo" example).
 *
 * Listens on 127.0.0.1:PORT (default 8080; 0 picks a free port) and serves
 * each connection on its own thread. Clients must offer the "echo"
 * subprotocol, else they are closed with 1008 (policy violation). Every
 * message a client sends comes back unchanged, with the same type. One line
 * is printed per connection when it ends; what the client chose (the request
 * target, a close reason) is printed escaped: it cannot drive the terminal. When accept
 * fails (a full fd table) the server sleeps and retries instead of spinning.
 *
 *   make examples
 *   build/native/examples/echo_server 8080 &
 *   build/native/examples/echo_client ws://127.0.0.1:8080/
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wsc.h"

/* Copies s into out (cap bytes, at least 8) with every byte that is not
 * printable ASCII, and the backslash, written as \xNN; "..." ends it when
 * it does not fit. Returns out. */
static const char *escaped(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 8 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            out[n++] = (char)ch;
        else
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", ch);
    }
    if (*s)
        n += (size_t)snprintf(out + n, cap - n, "...");
    out[n] = '\0';
    return out;
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static const char *const protocols[] = {"echo"};
    wsc_accept_options opts = {.subprotocols = protocols, .n_subprotocols = 1};
    wsc_conn *c;
    char text[512], why[512];

    int err = wsc_accept(fd, &opts, &c);
    if (err < 0) {
        printf("handshake failed: %s (%s)\n", escaped(wsc_last_error(), why, sizeof why),
               wsc_strerror(err));
        close(fd); /* on failure the socket is still ours */
        return NULL;
    }
    const char *target = escaped(wsc_request_target(c), text, sizeof text);
    if (strcmp(wsc_subprotocol(c), "echo") != 0) {
        wsc_close(c, WSC_STATUS_POLICY_VIOLATION, "client must speak the echo subprotocol");
        printf("%s: refused, no \"echo\" subprotocol\n", target);
        wsc_conn_free(c);
        return NULL;
    }

    unsigned long n = 0;
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        err = wsc_read(c, -1, &type, &data, &len);
        if (err < 0)
            break;
        err = wsc_write(c, type, data, len, -1);
        if (err < 0)
            break;
        n++;
    }
    if (err == WSC_ECLOSED && wsc_close_status(c) == WSC_STATUS_NORMAL_CLOSURE)
        printf("%s: echoed %lu messages, client closed normally\n", target, n);
    else
        printf("%s: echoed %lu messages, then: %s (%s)\n", target, n,
               escaped(wsc_last_error(), why, sizeof why), wsc_strerror(err));
    wsc_conn_free(c);
    return NULL;
}

/* accept() that does not spin when it keeps failing (a full fd table, no
 * memory): it sleeps 5 ms, doubling up to 1 s, while the failures go on (as
 * Go's net/http does), and says so once per run of failures. */
static int accept_with_backoff(int lfd)
{
    int delay_ms = 0;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd >= 0)
            return fd;
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (delay_ms == 0)
            printf("accept: %s; retrying, less and less often\n", strerror(errno));
        delay_ms = delay_ms == 0 ? 5 : delay_ms * 2 > 1000 ? 1000 : delay_ms * 2;
        struct timespec ts = {.tv_sec = delay_ms / 1000, .tv_nsec = (long)(delay_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    setvbuf(stdout, NULL, _IOLBF, 0);

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 64) < 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
        perror("listen");
        return 1;
    }
    printf("listening on ws://127.0.0.1:%d/\n", ntohs(addr.sin_port));

    for (;;) {
        int fd = accept_with_backoff(lfd);
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}
