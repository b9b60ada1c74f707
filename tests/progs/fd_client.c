/* SPDX-License-Identifier: MIT */
/*
 * fd_client - wsc_dial_fd for the interop tests: connects a socket itself,
 * then dials over it.
 *
 *   fd_client URL ADDRESS [--ca FILE]
 *
 * ADDRESS is HOST:PORT (TCP, IPv4) or an absolute path (a Unix socket).
 * Prints "CONNECTED" once wsc_dial_fd succeeded, sends the text "hello over
 * an fd", checks its echo, closes with 1000 and prints "OK" (exit 0). Then
 * checks that a failing wsc_dial_fd closes the socket it was given: prints
 * "FAILED_DIAL_CLOSED_FD". Any failure prints "FAIL <what> <error> <detail>"
 * and exits 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wsc.h"

static void fail(const char *what, int err)
{
    printf("FAIL %s %s %s\n", what, err ? wsc_strerror(err) : "-", err ? wsc_last_error() : strerror(errno));
    exit(1);
}

/* A connected socket to ADDRESS. */
static int connect_to(const char *address)
{
    int fd;
    if (address[0] == '/') {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(address) >= sizeof sa.sun_path)
            fail("address too long", 0);
        strcpy(sa.sun_path, address);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            fail("connect", 0);
        return fd;
    }
    char host[64];
    const char *colon = strrchr(address, ':');
    if (!colon || (size_t)(colon - address) >= sizeof host)
        fail("address is not HOST:PORT", 0);
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
        fail("address is not an IPv4 HOST:PORT", 0);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
        fail("connect", 0);
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 3 && !(argc == 5 && strcmp(argv[3], "--ca") == 0)) {
        fprintf(stderr, "usage: fd_client URL ADDRESS [--ca FILE]\n");
        return 2;
    }
    wsc_dial_options opts = {0};
    if (argc == 5)
        opts.tls.ca_file = argv[4];
    wsc_conn *c;
    int r = wsc_dial_fd(connect_to(argv[2]), argv[1], &opts, &c, NULL);
    if (r < 0)
        fail("dial", r);
    printf("CONNECTED\n");
    const char msg[] = "hello over an fd";
    wsc_msg_type type;
    const void *data;
    size_t len;
    if ((r = wsc_write(c, WSC_TEXT, msg, sizeof msg - 1, 5000)) < 0)
        fail("write", r);
    if ((r = wsc_read(c, 5000, &type, &data, &len)) < 0)
        fail("read", r);
    if (type != WSC_TEXT || len != sizeof msg - 1 || memcmp(data, msg, len) != 0)
        fail("echo differs", 0);
    if ((r = wsc_close(c, 1000, "")) < 0)
        fail("close", r);
    wsc_conn_free(c);
    printf("OK\n");

    /* A dial that fails (here: a URL with no host) still takes the socket. */
    int fd = connect_to(argv[2]);
    r = wsc_dial_fd(fd, "ws://", &opts, &c, NULL);
    if (r != WSC_EINVAL || c != NULL)
        fail("a bad URL should fail with WSC_EINVAL", r);
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
        fail("the failed dial left its socket open", 0);
    printf("FAILED_DIAL_CLOSED_FD\n");
    return 0;
}
