/* SPDX-License-Identifier: MIT */
/* server_proc.h - what the connection benchmarks share: starting the server
 * under test as a child process and learning its port, stopping it, and
 * sorting results. Header-only (static functions), for one .c file each. */
#ifndef BENCH_SERVER_PROC_H
#define BENCH_SERVER_PROC_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Starts argv with its stdout and stderr on a pipe and reads them until a
 * line says "listening" (or "serving") and "127.0.0.1:PORT". Returns the pid (the port in
 * *port), or -1. A child of ours keeps draining the pipe, so that a chatty
 * server never blocks on it. */
static pid_t server_start(char **argv, int *port)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char line[512];
    *port = 0;
    while (f && fgets(line, sizeof line, f)) {
        char *at = strstr(line, "127.0.0.1:");
        if (at && (strstr(line, "listening") || strstr(line, "serving"))) {
            *port = atoi(at + strlen("127.0.0.1:"));
            break;
        }
    }
    if (fork() == 0) {
        while (f && fgets(line, sizeof line, f))
            ;
        _exit(0);
    }
    if (f)
        fclose(f);
    return *port ? pid : -1;
}

static void server_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#endif
