/* SPDX-License-Identifier: MIT */
/*
 * idle_rss - the resident memory of a server whose connections each received
 * one large message and then went idle.
 *
 *   idle_rss [N [MIB]]     N connections (default 16), MIB MiB per message (8)
 *
 * For each mode (plain, permessage-deflate without context takeover), forks
 * a server process: it accepts N connections from this process over
 * 127.0.0.1 (wsc_accept, read limit -1, one thread per connection), and each
 * thread reads one message, then waits for the next one as an idle server
 * does (a timeout-0 read, then a blocking one). The server reports its
 * VmRSS (/proc/self/status) twice:
 *
 *   connected   N connections open, nothing sent yet
 *   idle        every connection read its message and started its next read
 *
 * The messages are binary; with deflate they are mostly zeros (a few KB on
 * the wire), so that what a small frame can cost the receiver shows.
 *
 * Output: a table on stdout and machine-readable lines
 *   RESULT <mode>.<step>_kib <KiB>    RESULT <mode>.kept_per_conn_kib <KiB>
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wsc.h"

#define MAX_CONNS 256

/* VmRSS of this process in KiB, -1 if unknown. */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* ---- the server process ------------------------------------------------------ */

typedef struct {
    wsc_conn *c;
    pthread_mutex_t *mu;
    pthread_cond_t *cond;
    int *idle;            /* connections that read their message */
} server_conn;

/* Reads one message, then idles: the next read starts at once. */
static void *serve(void *arg)
{
    server_conn *s = arg;
    wsc_msg_type type;
    const void *data;
    size_t len;
    int r = wsc_read(s->c, -1, &type, &data, &len);
    if (r == 0)
        r = wsc_read(s->c, 0, &type, &data, &len); /* the idle read's start */
    if (r != 0 && r != WSC_EAGAIN)
        fprintf(stderr, "idle_rss: server read: %s (%s)\n", wsc_strerror(r), wsc_last_error());
    pthread_mutex_lock(s->mu);
    (*s->idle)++;
    pthread_cond_broadcast(s->cond);
    pthread_mutex_unlock(s->mu);
    while (r == 0 || r == WSC_EAGAIN)
        r = wsc_read(s->c, -1, &type, &data, &len);
    return NULL;
}

/* Accepts n connections on lfd, reports RSS connected, tells the clients to
 * send (a byte on `go`), waits until every connection is idle, reports RSS
 * idle (a line on `out`). Returns the exit status. */
static int server(int lfd, int n, bool deflate, int go, FILE *out)
{
    static server_conn conns[MAX_CONNS];
    static pthread_t threads[MAX_CONNS];
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
    int idle = 0;
    wsc_accept_options opts = {.compression = deflate ? WSC_COMPRESSION_NO_CONTEXT_TAKEOVER
                                                      : WSC_COMPRESSION_DISABLED};
    for (int i = 0; i < n; i++) {
        int fd = accept(lfd, NULL, NULL);
        wsc_conn *c = NULL;
        if (fd < 0 || wsc_accept(fd, &opts, &c) != 0) {
            fprintf(stderr, "idle_rss: accept %d: %s\n", i, wsc_last_error());
            return 1;
        }
        wsc_set_read_limit(c, -1);
        conns[i] = (server_conn){c, &mu, &cond, &idle};
    }
    long connected = rss_kib();
    for (int i = 0; i < n; i++)
        pthread_create(&threads[i], NULL, serve, &conns[i]);
    if (write(go, "g", 1) != 1)
        return 1;
    pthread_mutex_lock(&mu);
    while (idle < n)
        pthread_cond_wait(&cond, &mu);
    pthread_mutex_unlock(&mu);
    long after = rss_kib();
    fprintf(out, "%ld %ld\n", connected, after);
    fflush(out);
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL); /* the clients close */
    for (int i = 0; i < n; i++)
        wsc_conn_free(conns[i].c);
    return 0;
}

/* ---- the clients (this process) ------------------------------------------------ */

/* Runs one mode: returns false if anything failed. */
static bool run_mode(const char *mode, bool deflate, int n, size_t size)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int go[2], res[2];
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, MAX_CONNS) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) < 0 || pipe(go) < 0 || pipe(res) < 0) {
        perror("idle_rss: setup");
        return false;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(go[0]);
        close(res[0]);
        FILE *out = fdopen(res[1], "w");
        _exit(out ? server(lfd, n, deflate, go[1], out) : 1);
    }
    close(lfd);
    close(go[1]);
    close(res[1]);

    static wsc_conn *clients[MAX_CONNS];
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", ntohs(a.sin_port));
    wsc_dial_options dopts = {.compression = deflate ? WSC_COMPRESSION_NO_CONTEXT_TAKEOVER
                                                     : WSC_COMPRESSION_DISABLED};
    bool ok = true;
    int open = 0;
    for (; open < n; open++) {
        if (wsc_dial(url, &dopts, &clients[open], NULL) != 0) {
            fprintf(stderr, "idle_rss: dial: %s\n", wsc_last_error());
            ok = false;
            break;
        }
    }
    char byte;
    uint8_t *msg = calloc(1, size);
    if (ok && msg && read(go[0], &byte, 1) == 1) {
        for (size_t i = 0; !deflate && i < size; i++)
            msg[i] = (uint8_t)(i * 131 + (i >> 12)); /* does not compress */
        for (int i = 0; i < open && ok; i++)
            ok = wsc_write(clients[i], WSC_BINARY, msg, size, 60000) == 0;
    } else {
        ok = false;
    }
    long connected = -1, idle = -1;
    FILE *in = fdopen(res[0], "r");
    if (!ok || !in || fscanf(in, "%ld %ld", &connected, &idle) != 2)
        ok = false;
    for (int i = 0; i < open; i++)
        wsc_close(clients[i], WSC_STATUS_NORMAL_CLOSURE, "");
    for (int i = 0; i < open; i++)
        wsc_conn_free(clients[i]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (in)
        fclose(in);
    close(go[0]);
    free(msg);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok) {
        fprintf(stderr, "idle_rss: %s failed\n", mode);
        return false;
    }
    long kept = (idle - connected) / n;
    printf("%-8s | %11ld | %11ld | %13ld\n", mode, connected, idle, kept);
    printf("RESULT %s.connected_kib %ld\nRESULT %s.idle_kib %ld\nRESULT %s.kept_per_conn_kib %ld\n", mode,
           connected, mode, idle, mode, kept);
    return true;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 16;
    int mib = argc > 2 ? atoi(argv[2]) : 8;
    if (n < 1 || n > MAX_CONNS || mib < 1) {
        fprintf(stderr, "usage: idle_rss [N (1-%d) [MIB]]\n", MAX_CONNS);
        return 2;
    }
    printf("server RSS in KiB: %d connections, each sent one %d MiB message, then idle\n", n, mib);
    printf("%-8s | %11s | %11s | %13s\n", "mode", "connected", "idle", "kept per conn");
    printf("---------|-------------|-------------|--------------\n");
    bool ok = run_mode("plain", false, n, (size_t)mib << 20);
    ok = run_mode("deflate", true, n, (size_t)mib << 20) && ok;
    return ok ? 0 : 1;
}
