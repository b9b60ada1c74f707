/* SPDX-License-Identifier: MIT */
/*
 * main.c - the wsc tool's command line: parses the options into a
 * cli_options, prints --help, and hands over to the client or the server.
 * Also the small helpers every part uses (error lines on stderr).
 */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: wsc [options] URL              connect to ws://, wss://, http://, https:// URL\n"
    "       wsc [options] --listen [HOST:]PORT [--echo]\n"
    "\n"
    "Client: stdin lines become messages, received messages go to stdout.\n"
    "Server: accepts one connection and pipes it to stdin/stdout, or with\n"
    "--echo echoes every message of any number of clients.\n"
    "\n"
    "  -b, --binary              send stdin lines as binary messages\n"
    "      --raw                 print received binary messages as raw bytes\n"
    "                            (default: lowercase hex and a newline)\n"
    "  -H, --header 'NAME: VALUE' extra request (server: response) header; repeatable\n"
    "  -s, --subprotocol NAME    offer (server: support) a subprotocol; repeatable\n"
    "      --compress[=MODE]     permessage-deflate; MODE takeover (default) or no-takeover\n"
    "      --ping-interval SEC   ping every SEC seconds; no pong within SEC: exit 7\n"
    "      --close CODE[:REASON] close with this at stdin EOF (default 1000)\n"
    "      --wait SEC            after stdin EOF keep printing for SEC seconds, then close\n"
    "      --timeout SEC         handshake timeout (default: client 30, server 10);\n"
    "                            --echo: also per echo written (default 30)\n"
    "      --max-size BYTES      largest message accepted (default 16777216; -1: no limit)\n"
    "  -k, --insecure            do not verify the server's certificate\n"
    "      --ca FILE             trust this CA bundle (server: require client certificates)\n"
    "      --tls-cert FILE       certificate chain (server: required for TLS; client: client cert)\n"
    "      --tls-key FILE        its private key\n"
    "      --proxy URL           http:// (CONNECT), socks5:// or socks5h:// proxy\n"
    "                            (default: from http_proxy etc.; \"\" none)\n"
    "      --max-redirects N     follow up to N redirects (default 0; never from wss to ws)\n"
    "  -l, --listen [HOST:]PORT  be a server (HOST default 127.0.0.1; PORT 0: any free port)\n"
    "  -e, --echo                server: echo every message back, every client on one thread\n"
    "  -v, --verbose             connection details on stderr\n"
    "  -h, --help                this text\n"
    "\n"
    "Exit status: 0 normal close (1000, 1001, 1005, or our close acknowledged),\n"
    "1 local error, 2 bad option or URL, 3 cannot connect, 4 handshake failed,\n"
    "5 TLS failure, 6 peer closed with another code, 7 connection lost,\n"
    "8 protocol error, 130/143 interrupted by SIGINT/SIGTERM. See wsc(1).\n";

void cli_err(const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    fprintf(stderr, "wsc: %s\n", line);
    fflush(stderr);
}

const char *cli_err_name(int err, char *buf, size_t cap)
{
    const char *s = wsc_strerror(err);
    size_t n = strcspn(s, ":");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

static int usage_error(const char *what, const char *arg)
{
    if (arg)
        cli_err("%s: %s (see wsc --help)", what, arg);
    else
        cli_err("%s (see wsc --help)", what);
    return CLI_EXIT_USAGE;
}

/* Seconds (fractions allowed) to milliseconds; -1 when not a number >= 0. */
static int parse_seconds(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > INT_MAX / 1000.0)
        return -1;
    return (int)(v * 1000.0 + 0.5);
}

/* "Name: value" -> header, cutting the argument at the colon. */
static int parse_header(char *arg, cli_options *o)
{
    char *colon = strchr(arg, ':');
    if (!colon || colon == arg)
        return usage_error("a header must look like 'Name: value'", arg);
    if (o->n_headers == CLI_MAX_LIST)
        return usage_error("too many headers", NULL);
    *colon = '\0';
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    o->headers[o->n_headers].name = arg;
    o->headers[o->n_headers].value = value;
    o->n_headers++;
    return 0;
}

static bool close_code_ok(long code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* "CODE[:REASON]"; the argument is cut at the colon. */
static int parse_close(char *arg, cli_options *o)
{
    char *colon = strchr(arg, ':');
    if (colon)
        *colon = '\0';
    char *end;
    long code = strtol(arg, &end, 10);
    if (end == arg || *end || !close_code_ok(code))
        return usage_error("--close wants CODE[:REASON] with CODE 1000-1003, 1007-1014 or 3000-4999", arg);
    const char *reason = colon ? colon + 1 : "";
    if (strlen(reason) > 123)
        return usage_error("--close: the reason is longer than 123 bytes", reason);
    o->close_code = (int)code;
    o->close_reason = reason;
    return 0;
}

static int parse_compress(const char *arg, cli_options *o)
{
    if (!arg || strcmp(arg, "takeover") == 0)
        o->compression = WSC_COMPRESSION_CONTEXT_TAKEOVER;
    else if (strcmp(arg, "no-takeover") == 0)
        o->compression = WSC_COMPRESSION_NO_CONTEXT_TAKEOVER;
    else
        return usage_error("--compress takes takeover or no-takeover", arg);
    return 0;
}

enum {
    OPT_RAW = 256, OPT_COMPRESS, OPT_PING, OPT_CLOSE, OPT_WAIT, OPT_TIMEOUT,
    OPT_MAX_SIZE, OPT_CA, OPT_CERT, OPT_KEY, OPT_PROXY, OPT_REDIRECTS
};

static const struct option long_options[] = {
    {"binary", no_argument, NULL, 'b'},
    {"raw", no_argument, NULL, OPT_RAW},
    {"header", required_argument, NULL, 'H'},
    {"subprotocol", required_argument, NULL, 's'},
    {"compress", optional_argument, NULL, OPT_COMPRESS},
    {"ping-interval", required_argument, NULL, OPT_PING},
    {"close", required_argument, NULL, OPT_CLOSE},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"insecure", no_argument, NULL, 'k'},
    {"ca", required_argument, NULL, OPT_CA},
    {"tls-cert", required_argument, NULL, OPT_CERT},
    {"tls-key", required_argument, NULL, OPT_KEY},
    {"proxy", required_argument, NULL, OPT_PROXY},
    {"max-redirects", required_argument, NULL, OPT_REDIRECTS},
    {"listen", required_argument, NULL, 'l'},
    {"echo", no_argument, NULL, 'e'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}
};

/* A duration option into *ms; returns 0 or an exit code. */
static int set_seconds(const char *name, const char *arg, int *ms)
{
    *ms = parse_seconds(arg);
    if (*ms < 0)
        return usage_error(name, arg);
    return 0;
}

static int parse_max_size(const char *arg, cli_options *o)
{
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (errno || end == arg || *end || v < -1)
        return usage_error("--max-size wants a number of bytes or -1", arg);
    o->max_size = v;
    return 0;
}

static int parse_redirects(const char *arg, cli_options *o)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 0 || v > 100)
        return usage_error("--max-redirects wants a number from 0 to 100", arg);
    o->max_redirects = (int)v;
    return 0;
}

/* One option; returns 0, -1 for --help, or an exit code. */
static int parse_one(int opt, char *arg, cli_options *o)
{
    switch (opt) {
    case 'b': o->binary = true; return 0;
    case OPT_RAW: o->raw = true; return 0;
    case 'H': return parse_header(arg, o);
    case 's':
        if (o->n_subprotocols == CLI_MAX_LIST)
            return usage_error("too many subprotocols", NULL);
        o->subprotocols[o->n_subprotocols++] = arg;
        return 0;
    case OPT_COMPRESS: return parse_compress(arg, o);
    case OPT_PING: return set_seconds("--ping-interval wants seconds", arg, &o->ping_interval_ms);
    case OPT_CLOSE: return parse_close(arg, o);
    case OPT_WAIT: return set_seconds("--wait wants seconds", arg, &o->wait_ms);
    case OPT_TIMEOUT: return set_seconds("--timeout wants seconds", arg, &o->timeout_ms);
    case OPT_MAX_SIZE: return parse_max_size(arg, o);
    case 'k': o->insecure = true; return 0;
    case OPT_CA: o->ca_file = arg; return 0;
    case OPT_CERT: o->cert_file = arg; return 0;
    case OPT_KEY: o->key_file = arg; return 0;
    case OPT_PROXY: o->proxy = arg; return 0;
    case OPT_REDIRECTS: return parse_redirects(arg, o);
    case 'l': o->listen = arg; return 0;
    case 'e': o->echo = true; return 0;
    case 'v': o->verbose = true; return 0;
    case 'h': return -1;
    default: return CLI_EXIT_USAGE; /* getopt printed why */
    }
}

/* Checks that the options fit together. Returns 0 or an exit code. */
static int check_options(cli_options *o, int n_operands, char **operands)
{
    if (o->listen) {
        if (n_operands > 0)
            return usage_error("--listen takes no URL", operands[0]);
        if (!o->cert_file != !o->key_file)
            return usage_error("--tls-cert and --tls-key go together", NULL);
        return 0;
    }
    if (o->echo)
        return usage_error("--echo needs --listen", NULL);
    if (n_operands != 1)
        return usage_error(n_operands ? "one URL only" : "no URL given", NULL);
    o->url = operands[0];
    return 0;
}

int main(int argc, char **argv)
{
    cli_options o = {.close_code = 1000, .close_reason = "", .max_size = 16 * 1024 * 1024};
    int opt;
    argv[0] = "wsc"; /* getopt names the program in its messages */
    while ((opt = getopt_long(argc, argv, "bH:s:kl:evh", long_options, NULL)) != -1) {
        int r = parse_one(opt, optarg, &o);
        if (r < 0) {
            fputs(usage_text, stdout);
            return CLI_EXIT_OK;
        }
        if (r > 0)
            return r;
    }
    int r = check_options(&o, argc - optind, argv + optind);
    if (r)
        return r;
    signal(SIGPIPE, SIG_IGN);
    return o.listen ? cli_server(&o) : cli_client(&o);
}
