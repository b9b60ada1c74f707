/* SPDX-License-Identifier: MIT */
/*
 * wsc.h - the whole public API of wsc, a WebSocket library in C.
 *
 * One header for both backends:
 *   native  RFC 6455 over POSIX sockets (client and server), built with cc.
 *   wasm    the browser's (or Node's) WebSocket object, built with emcc.
 * The API follows Go's coder/websocket. This header is the reference manual:
 * every function says what it does natively and, under "Wasm:", where the
 * browser backend differs.
 *
 * Conventions
 *   - Functions that can fail return 0 on success or a negative WSC_E... code.
 *     wsc_strerror() names a code; wsc_last_error() gives a sentence saying what
 *     failed and why (thread-local, also set when wsc_dial/wsc_accept fail).
 *   - Blocking calls take `int timeout_ms`: -1 waits forever, 0 never blocks
 *     (WSC_EAGAIN when it would), > 0 is a deadline (WSC_ETIMEDOUT). From
 *     reads, writes and pings, WSC_EAGAIN and WSC_ETIMEDOUT always leave the
 *     connection usable: a read that times out continues where it stopped
 *     when called again, even in the middle of a message; a write that times
 *     out sent nothing. (A write whose deadline passes after part of its
 *     message went out cannot take it back: the connection is closed and the
 *     call returns WSC_EIO. A nonblocking dial whose own handshake timeout
 *     passes is closed: later calls return WSC_ECLOSED. wsc_close, which
 *     ends the connection anyway, says WSC_ETIMEDOUT when the peer did not
 *     answer.) Every other failure closes the connection with a fitting
 *     status code.
 *   - Option structs are zero-initialisable: {0} or NULL means the defaults.
 *   - Threads (native): one reader at a time; any number of threads may write,
 *     ping and close concurrently. Messages from concurrent writers never
 *     interleave. wsc_close and wsc_close_now unblock every thread blocked on
 *     the connection, a reader or one advancing a nonblocking dial included.
 *   - Wasm, four ways to wait (README "In the browser" has sizes and speeds):
 *     events: a nonblocking dial and wsc_set_event_handler; the handler
 *       makes timeout-0 calls when the socket has something. Nothing blocks;
 *       no Asyncify; as fast as plain JavaScript, and the smallest build.
 *       Pick this for new code.
 *     Asyncify: calls that wait (timeout_ms != 0, a blocking wsc_dial)
 *       suspend the C stack; link with the flags `make wasm-flags` prints
 *       (about 4 KB more gzipped, each wait a suspend and resume). Pick it
 *       to port blocking native code that must run on the page's thread.
 *       (emcc 3.1.6: after main() suspended, its return value is lost; end
 *       the program with exit(status).)
 *     a Worker thread (-pthread): link libwsc-mt.a with -pthread
 *       -sPROXY_TO_PTHREAD (`make wasm-flags`); main() runs on a Worker and
 *       blocks as natively, sleeping on a futex (Atomics.wait) until an event
 *       or its deadline, while the WebSocket lives on the main thread, whose
 *       event loop must stay free. Each call is a round trip to the main
 *       thread. Pages must be cross-origin isolated (COOP/COEP headers) for
 *       SharedArrayBuffer. Pick it to port blocking code with threads; a
 *       connection is used by one thread at a time; wsc_set_event_handler
 *       works on the main thread only.
 *     a frame loop: timeout-0 calls from emscripten_set_main_loop or a
 *       timer, for programs that have one anyway.
 *     Any way but the Worker links smaller from libwsc-lto.a (bitcode) with
 *       -flto on both the compile and the link, plus -sMALLOC=emmalloc:
 *       `npx wsc-emcc-flags --small`, `make wasm-flags`.
 *     Elsewhere (the main thread without Asyncify) calls that would wait
 *     return WSC_ENOTSUP at once.
 *     Browsers send only close codes 1000 and 3000-4999: 1001-1014 are sent
 *     as 4001-4014.
 *   - Ownership: the library keeps no pointer you pass in after a call returns.
 *     Data returned by a read points into the connection's own buffer and stays
 *     valid until the next read call on that connection. Text messages are
 *     NUL-terminated too (the length excludes the NUL).
 */
#ifndef WSC_H
#define WSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(__EMSCRIPTEN__)
#define WSC_API __attribute__((visibility("default")))
#else
#define WSC_API
#endif

#define WSC_VERSION_MAJOR 0
#define WSC_VERSION_MINOR 1
#define WSC_VERSION_PATCH 0
#define WSC_VERSION_STRING "0.1.0"

/* ---- Errors --------------------------------------------------------------- */

enum {
    WSC_OK = 0,
    WSC_EINVAL = -1,     /* bad argument, bad URL, or call in the wrong state */
    WSC_ENOMEM = -2,     /* out of memory */
    WSC_EAGAIN = -3,     /* timeout_ms was 0 and the call would have blocked */
    WSC_ETIMEDOUT = -4,  /* the deadline passed */
    WSC_ECLOSED = -5,    /* the connection is closed; see wsc_close_status() */
    WSC_EPROTO = -6,     /* the peer broke the protocol (we closed with 1002/1007) */
    WSC_EMSGSIZE = -7,   /* a message exceeded the read limit (we closed with 1009) */
    WSC_EIO = -8,        /* the socket failed (the detail has the errno text) */
    WSC_EDNS = -9,       /* the host name could not be resolved */
    WSC_ECONNECT = -10,  /* no address of the host accepted the connection */
    WSC_EHANDSHAKE = -11,/* the HTTP upgrade failed (bad status, headers or key) */
    WSC_ETLS = -12,      /* TLS failed (certificate, host name, handshake) */
    WSC_ENOTSUP = -13,   /* not supported by this backend or build */
    WSC_EBUSY = -14      /* another thread is reading, or a message is being written */
};

/* The name of an error code, e.g. "WSC_ETIMEDOUT: timed out". Never NULL. */
WSC_API const char *wsc_strerror(int err);

/* A sentence describing the last failure on this thread: what failed and why
 * (HTTP status, errno text, certificate problem...). Valid until the next wsc
 * call on this thread. "" when nothing failed yet. */
WSC_API const char *wsc_last_error(void);

/* ---- Types and constants -------------------------------------------------- */

typedef struct wsc_conn wsc_conn;

typedef enum { WSC_TEXT = 1, WSC_BINARY = 2 } wsc_msg_type;

typedef enum {
    WSC_STATE_CONNECTING = 0, /* dial with nonblocking = true, handshake not done */
    WSC_STATE_OPEN = 1,
    WSC_STATE_CLOSING = 2,    /* we sent a close frame and wait for the peer's */
    WSC_STATE_CLOSED = 3
} wsc_state;

/* Close status codes (RFC 6455 section 7.4, Go's StatusCode names). */
enum {
    WSC_STATUS_NORMAL_CLOSURE = 1000,
    WSC_STATUS_GOING_AWAY = 1001,
    WSC_STATUS_PROTOCOL_ERROR = 1002,
    WSC_STATUS_UNSUPPORTED_DATA = 1003,
    WSC_STATUS_NO_STATUS_RCVD = 1005,      /* never sent: peer's close had no code */
    WSC_STATUS_ABNORMAL_CLOSURE = 1006,    /* never sent: no close frame at all */
    WSC_STATUS_INVALID_FRAME_PAYLOAD_DATA = 1007,
    WSC_STATUS_POLICY_VIOLATION = 1008,
    WSC_STATUS_MESSAGE_TOO_BIG = 1009,
    WSC_STATUS_MANDATORY_EXTENSION = 1010,
    WSC_STATUS_INTERNAL_ERROR = 1011,
    WSC_STATUS_SERVICE_RESTART = 1012,
    WSC_STATUS_TRY_AGAIN_LATER = 1013,
    WSC_STATUS_BAD_GATEWAY = 1014,
    WSC_STATUS_TLS_HANDSHAKE = 1015        /* never sent */
};

/* permessage-deflate (RFC 7692), negotiated at the handshake.
 *   DISABLED             not offered, not accepted (the default).
 *   CONTEXT_TAKEOVER     both sides keep their compression window between
 *                        messages: best ratio for streams of similar messages.
 *                        Costs about 320 KB per connection once both ways
 *                        carried a compressed message (a 272 KB compressor, a
 *                        44 KB inflater; coder/websocket: 1.2 MB + 32 KB).
 *                        Falls back to NO_CONTEXT_TAKEOVER's behaviour for the
 *                        side the peer will not let keep context.
 *   NO_CONTEXT_TAKEOVER  every message compressed on its own; zlib state
 *                        exists only while a message is compressed (sized to
 *                        the message: 14 KB for 1 KiB, at most 268 KB) or
 *                        inflated (40 KB). A message that does not shrink is
 *                        sent as it is. Without the peer's support the
 *                        connection is uncompressed.
 * A client offers the extension; a server accepts the first offer it supports.
 * Control frames are never compressed; the read limit applies to the
 * inflated size. Wasm: ignored, the browser decides (and always offers it). */
typedef enum {
    WSC_COMPRESSION_DISABLED = 0,
    WSC_COMPRESSION_CONTEXT_TAKEOVER = 1,
    WSC_COMPRESSION_NO_CONTEXT_TAKEOVER = 2
} wsc_compression;

/* Tuning permessage-deflate (wsc_dial_options.deflate,
 * wsc_accept_options.deflate); a zero field keeps its default. zlib's
 * memory per direction: compressing 2^(window_bits+2) + 2^(mem_level+9)
 * bytes (256 KiB at the defaults), inflating 2^peer_window_bits + 7 KiB.
 *   level             1 (fastest) to 9 (smallest); 0: zlib's 6.
 *   mem_level         1 to 9, the size of zlib's hash table; 0: 8.
 *   window_bits       9 to 15, how far back our compressor looks; 0: 15
 *                     (or the smaller window the peer asked for).
 *   peer_window_bits  8 to 15, the window we ask the peer to compress
 *                     with, and so what our inflater needs: a client
 *                     offers server_max_window_bits=N (a server answering
 *                     with a larger one fails the dial); a server answers
 *                     client_max_window_bits=N to clients that offered the
 *                     parameter (those that did not keep 15, and so does
 *                     our inflater for them). 0: 15, ask nothing.
 * Other values fail the dial or accept with WSC_EINVAL. Wasm: ignored. */
typedef struct {
    int level;
    int mem_level;
    int window_bits;
    int peer_window_bits;
} wsc_deflate_options;

/* "text", "binary", or "unknown". */
WSC_API const char *wsc_msg_type_string(wsc_msg_type type);
/* "NormalClosure", "GoingAway", ... as Go names them; "StatusCode(4000)" style
 * for codes without a name (the string lives in thread-local storage). */
WSC_API const char *wsc_status_string(int code);

/* An HTTP header line. */
typedef struct {
    const char *name;
    const char *value;
} wsc_header;

/* Called on the reading thread for every ping received. Return false to not
 * answer it with a pong. The payload is valid only during the call. */
typedef bool (*wsc_ping_fn)(void *user, const void *payload, size_t len);
/* Called on the reading thread for every pong received. */
typedef void (*wsc_pong_fn)(void *user, const void *payload, size_t len);
/* Called once when the peer's close frame has been read (by a read, the
 * background reader or wsc_close waiting for it), after our answer went out
 * and the connection shut: code is its status (1005 when it had none) and
 * reason its reason (NUL-terminated, len bytes, valid only during the
 * call). Not called when the connection ends without one (1006). Calls on
 * the connection from it return WSC_ECLOSED. Wasm: called by the first read
 * (or wsc_close) that finds the close event's code. */
typedef void (*wsc_close_fn)(void *user, int code, const char *reason, size_t len);

/* TLS settings (OpenSSL, TLS 1.2 and 1.3). Client (wsc_dial_options.tls, for
 * wss:// and https://): the server's certificate and host name (or IP
 * address, for IP literals) are verified against the system store unless
 * ca_file / ca_dir say what to trust instead; SNI is sent for host names;
 * cert_file + key_file present a client certificate. The files are read by
 * wsc_dial itself. Server (wsc_tls_server_new): cert_file + key_file are
 * required; with ca_file or ca_dir, clients must present a certificate
 * signed by them. Both ends send close_notify when the connection closes.
 * OpenSSL does every handshake; once a TLS 1.3 handshake is done, wsc
 * protects the records itself with OpenSSL's ciphers (as kernel TLS would),
 * so an idle connection holds no OpenSSL session (about 14 KB less).
 * Session resumption (RFC 8446 2.2), unless no_resumption: servers issue
 * session tickets (stateless: nothing is kept per client), and clients keep
 * the latest session of each server in a process-wide cache (64 servers at
 * most; offered to every later dial with the same host, port and trust
 * options until the server sends a newer one), so a reconnecting client
 * skips the certificate exchange and its signatures (wsc_tls_did_resume
 * says whether it did). Client contexts made for trust and certificate
 * files are kept too, and made again when a file changes on disk.
 * Wasm: ignored, the browser decides. */
typedef struct {
    const char *ca_file;         /* PEM bundle to trust instead of the system store */
    const char *ca_dir;          /* hashed directory (c_rehash) to trust instead */
    const char *cert_file;       /* certificate chain (PEM) */
    const char *key_file;        /* its private key (PEM) */
    bool insecure_skip_verify;   /* tests only: accept any certificate and name
                                    (client; a server ignores it) */
    bool no_resumption;          /* client: neither offer nor keep sessions
                                    (a full handshake every time); server:
                                    issue no session tickets */
} wsc_tls_options;

/* A loaded server certificate and key, shared by every wsc_accept that uses it
 * (thread-safe, read-only once made). */
typedef struct wsc_tls_server wsc_tls_server;

/* Loads opts->cert_file and opts->key_file (and the client CA, if any) once.
 * Errors: WSC_EINVAL (missing file names), WSC_ETLS (unreadable file, key not
 * matching the certificate: the detail says which), WSC_ENOMEM.
 * Wasm: WSC_ENOTSUP. */
WSC_API int wsc_tls_server_new(const wsc_tls_options *opts, wsc_tls_server **out);
/* Frees it; only after every wsc_accept using it has returned (a nonblocking
 * one may still be CONNECTING: its TLS session holds what it needs). NULL is
 * fine. */
WSC_API void wsc_tls_server_free(wsc_tls_server *s);

/* ---- Dialing (client) ---------------------------------------------------- */

typedef struct {
    const wsc_header *headers;   /* extra request headers; names set by wsc
                                    itself (Upgrade, Connection,
                                    Sec-WebSocket-*, Content-Length,
                                    Transfer-Encoding) and CR, LF or other
                                    control characters fail the dial with
                                    WSC_EINVAL (Wasm: ignored) */
    size_t n_headers;
    const char *host;            /* Host header override (Wasm: ignored) */
    const char *const *subprotocols; /* offered, in order of preference */
    size_t n_subprotocols;
    wsc_compression compression; /* permessage-deflate mode; see wsc_compression.
                                    Wasm: ignored, the browser decides. */
    int compression_threshold;   /* wsc_write sends messages shorter than
                                    this uncompressed; 0: 512 without
                                    takeover, 128 with it; -1: none */
    wsc_deflate_options deflate; /* zlib level, memory and windows */
    int handshake_timeout_ms;    /* connect + TLS + HTTP; 0: 30000, -1: none */
    size_t max_response_head;    /* bytes of HTTP response head; 0: 16384 */
    wsc_ping_fn on_ping;         /* NULL: always answer pings */
    wsc_pong_fn on_pong;
    wsc_close_fn on_close;
    void *user;                  /* passed to on_ping / on_pong / on_close */
    int heartbeat_ms;            /* see "Heartbeat and idle timeout"; 0: off */
    int idle_timeout_ms;         /* (Wasm: heartbeat_ms ignored) */
    bool nonblocking;            /* return at once in WSC_STATE_CONNECTING; see
                                    wsc_get_state. Name resolution still blocks. */
    wsc_tls_options tls;
    /* The proxy to tunnel through:
     *   "http://[user:password@]host[:port]": HTTP CONNECT ("host:port"
     *     alone means http://; the user info, percent-decoded, becomes Basic
     *     Proxy-Authorization);
     *   "socks5h://[user:password@]host[:port]": SOCKS5, the proxy resolves
     *     the server's name; "socks5://...": SOCKS5 with the name resolved
     *     here and the address sent (as curl does); the user info, decoded,
     *     is sent with RFC 1929's user name and password method (at most
     *     255 bytes each).
     * Default port 1080. https:// proxies and SOCKS4 fail with WSC_ENOTSUP.
     * NULL: from the environment as curl reads it (http_proxy, lower case
     * only, for ws:// and http://; https_proxy or HTTPS_PROXY for wss:// and
     * https://; else all_proxy / ALL_PROXY; empty values count as unset).
     * no_proxy / NO_PROXY then lists hosts to reach directly: comma-separated
     * names (matching subdomains too, a leading '.' optional), IP addresses,
     * CIDR ranges ("10.0.0.0/8"), or "*" for all. "": no proxy, environment
     * ignored. A proxy given here is always used (no_proxy does not apply).
     * The proxy resolves the server's name; Host, SNI and certificate checks
     * stay the server's. A proxy that refuses the tunnel fails the dial with
     * WSC_ECONNECT, its status or SOCKS reply in wsc_last_error() (e.g.
     * "connection refused (5)"; resp->status stays 0).
     * Wasm: ignored, the browser decides. */
    const char *proxy;
    /* Redirects (301, 302, 303, 307, 308 with a Location) to follow, as a
     * browser does not but curl -L, coder/websocket and npm ws do; 0 (the
     * default): none, the dial fails with WSC_EHANDSHAKE naming the
     * Location. Each hop is a new connection to the new URL with the same
     * options, within the same handshake_timeout_ms; a relative Location is
     * resolved against the URL that answered. Never from TLS to plain
     * (wss or https to ws or http: WSC_EHANDSHAKE, "it would drop TLS"),
     * never to or from a Unix socket or wsc_dial_fd's socket. To another
     * host (another Host value) Authorization and Cookie headers, the URL's
     * user info and the Host override are not sent. More than
     * max_redirects: WSC_EHANDSHAKE "too many redirects". resp->url says
     * where the dial ended. Wasm: ignored (the browser never follows). */
    int max_redirects;
} wsc_dial_options;

/* The HTTP response to the upgrade request. Everything in it is owned by it
 * and freed by wsc_response_free. */
typedef struct {
    int status;                  /* 101 on success, 0 if no response came */
    wsc_header *headers;
    size_t n_headers;
    char *body;                  /* up to 1024 bytes of body, failures only */
    size_t body_len;
    char *url;                   /* the URL that answered: the dial's, or where
                                    redirects led (max_redirects); Wasm: NULL */
} wsc_response;

/* Frees what wsc_dial put in *resp and zeroes it. NULL is fine. */
WSC_API void wsc_response_free(wsc_response *resp);

/* Opens a WebSocket connection to `url` (ws://, wss://, http://, https://;
 * IPv6 literals in brackets; default ports 80/443; path and query kept; a
 * #fragment is dropped; user:password@ becomes a Basic Authorization header
 * unless opts->headers has one). Tries every address the name resolves to
 * (or reaches it through a proxy, see opts->proxy), with TCP_NODELAY; wss
 * and https add TLS (see wsc_tls_options). ws+unix:///path/to/socket:/target
 * (wss+unix:// with TLS), as npm ws writes it, connects to a Unix socket
 * instead: no proxy, Host "localhost" (opts->host overrides it), TLS
 * verified against "localhost". On success *out is the
 * connection (free with wsc_conn_free).
 * resp may be NULL; otherwise it receives the status and headers of the
 * response, and up to 1024 bytes of its body when the upgrade was refused
 * (free it with wsc_response_free whether or not the dial succeeded).
 * Errors: WSC_EINVAL (URL, options), WSC_ENOMEM, WSC_EDNS, WSC_ECONNECT
 * (no address accepted the connection; the proxy refused the tunnel or the
 * connection to it failed), WSC_ETIMEDOUT, WSC_EHANDSHAKE (status not 101
 * or not in HTTP/1.1; a missing, wrong or repeated Sec-WebSocket-Accept; a
 * repeated Sec-WebSocket-Protocol; a subprotocol or extension we did not
 * offer; a control character in the status line; also when the server
 * closed or reset the connection before its answer: "recv: Connection
 * reset by peer while waiting for the upgrade response from HOST:PORT"),
 * WSC_ETLS (unreadable CA or certificate files, a failed
 * certificate or host name check, a failed TLS handshake: the detail says
 * which, e.g. "certificate has expired"), WSC_ENOTSUP. Socket failures are
 * reported as the error of the step they happened in, never as WSC_EIO
 * (which only a failing system random number generator gives).
 * With opts->nonblocking the call goes as far as it can without waiting
 * (name resolution still blocks) and returns 0 with the connection in
 * WSC_STATE_CONNECTING (or OPEN, if the server answered already: resp
 * then has its 101, else status 0) and the handshake goes on: see
 * wsc_get_state, wsc_fd and wsc_poll_events. A failure found before it
 * would wait is returned at once, as when blocking. A dial closed by
 * wsc_close or wsc_close_now from another thread fails with WSC_ECLOSED.
 * Wasm: creates a WebSocket (binaryType "arraybuffer", subprotocols passed;
 * http(s) URLs become ws(s), user info is dropped; the browser's URL parser
 * checks the URL, under the rules above) and waits for open or
 * failure (WSC_ECONNECT: browsers give no reason; also when subprotocols
 * were offered and the server chose none, which browsers and npm ws refuse);
 * resp reports 101 and no headers; headers, host, compression and TLS
 * options are ignored; ws+unix:// URLs are WSC_EINVAL. */
WSC_API int wsc_dial(const char *url, const wsc_dial_options *opts,
                     wsc_conn **out, wsc_response *resp);

/* wsc_dial over a stream socket the caller has already connected (to the
 * server, over a tunnel of its own, one end of a socketpair...): the URL
 * still gives the Host header, the target and whether TLS runs on top
 * (wss://, verified against the URL's host); nothing is resolved and no
 * proxy is used. fd belongs to the connection from the call on, whatever
 * it returns: wsc_conn_free closes it, and a failed dial already did.
 * Wasm: WSC_ENOTSUP (and fd is left alone). */
WSC_API int wsc_dial_fd(int fd, const char *url, const wsc_dial_options *opts,
                        wsc_conn **out, wsc_response *resp);

/* ---- Accepting (server) -------------------------------------------------- */

/* An upgrade request as the accept hook (wsc_accept_options.on_request)
 * sees it. Every pointer is valid only during the hook's call. */
typedef struct {
    const char *target;              /* "/path?query" */
    const wsc_header *headers;       /* every request header, in order */
    size_t n_headers;
    const char *const *subprotocols; /* offered by the client, in its order */
    size_t n_subprotocols;
    const char *extensions;          /* Sec-WebSocket-Extensions offered ("" none) */
    const char *peer;                /* the client's address, "192.0.2.7:51234" or
                                        "[2001:db8::7]:443"; "" when not IP */
    int fd;                          /* the socket, for getpeername, SO_PEERCRED... */
    bool tls;                        /* whether the request came over TLS */
} wsc_request;

/* The answer the hook shapes (opaque; valid only during the hook's call). */
typedef struct wsc_reply wsc_reply;

/* The accept hook: called once per upgrade request that passed wsc's own
 * checks (a well-formed request, host_patterns, origin_patterns), before
 * the answer is sent. Return 0 to accept (the 101), or an HTTP status
 * 300-599 to refuse (the accept then fails with WSC_EHANDSHAKE, "the
 * accept hook refused the upgrade with 401"); other values refuse with
 * 500. It runs on the thread advancing the handshake (wsc_accept, or the
 * call that advances a nonblocking one), so it should not block for long:
 * the handshake deadline keeps running. To judge the Origin yourself, set
 * insecure_skip_verify and read it from req->headers. Wasm: never called
 * (wsc_accept fails). */
typedef int (*wsc_accept_fn)(void *user, const wsc_request *req, wsc_reply *reply);

/* From the hook, shaping its answer (each copies what it is given):
 * wsc_reply_subprotocol chooses the subprotocol of the 101: one of
 *   req->subprotocols, or "" for none (else WSC_EINVAL); without it the
 *   first of opts->subprotocols the client offered is chosen.
 * wsc_reply_header adds a header to the answer, 101 or refusal (after
 *   opts->headers): refused with WSC_EINVAL as opts->headers are, and for
 *   Content-Type (give it to wsc_reply_body).
 * wsc_reply_body sets a refusal's body (content_type NULL:
 *   "text/plain; charset=utf-8"); without it the body is the status's
 *   reason phrase. At most 65536 bytes (else WSC_EINVAL).
 * All three: WSC_ENOMEM; WSC_EINVAL outside the hook (and always in Wasm). */
WSC_API int wsc_reply_subprotocol(wsc_reply *r, const char *name);
WSC_API int wsc_reply_header(wsc_reply *r, const char *name, const char *value);
WSC_API int wsc_reply_body(wsc_reply *r, const char *content_type, const void *body,
                           size_t len);

typedef struct {
    const char *const *subprotocols; /* supported, in order of preference; the
                                        first one the client offers is chosen */
    size_t n_subprotocols;
    /* Allowed cross-origin requests: case-insensitive globs ('*', '?') matched
     * against the Origin's host, or against "scheme://host" when the pattern
     * contains "://". A request whose Origin host equals its Host header is
     * always allowed; one without Origin too. Others get 403. */
    const char *const *origin_patterns;
    size_t n_origin_patterns;
    bool insecure_skip_verify;   /* accept any Origin (not recommended) */
    /* The Host header values this server answers to, a defence against DNS
     * rebinding (a page on evil.example whose name now points at your
     * server sends a matching Host and Origin): case-insensitive globs as
     * above, each matched against the Host with and without its port
     * ("localhost" allows "localhost:8080", "[::1]" allows "[::1]:80").
     * None: any Host. Others get 403, before the Origin is looked at. */
    const char *const *host_patterns;
    size_t n_host_patterns;
    wsc_compression compression; /* permessage-deflate mode; see wsc_compression */
    int compression_threshold;   /* as in wsc_dial_options */
    wsc_deflate_options deflate; /* as in wsc_dial_options */
    const wsc_tls_server *tls;   /* non-NULL: fd is a TLS socket; the TLS
                                    handshake runs first, within
                                    handshake_timeout_ms (failure: WSC_ETLS,
                                    or WSC_ETIMEDOUT), then HTTP goes over TLS.
                                    A plain HTTP request gets a plain 400. */
    int handshake_timeout_ms;    /* whole request must arrive; 0: 10000, -1: none */
    size_t max_request_head;     /* bytes of HTTP request head; 0: 8192 */
    const wsc_header *headers;   /* extra headers for the 101 response and
                                    error answers; names set by wsc itself
                                    (Upgrade, Connection, Sec-WebSocket-*,
                                    Content-Length, Transfer-Encoding) and
                                    CR, LF or other control characters are
                                    refused with WSC_EINVAL, as in
                                    wsc_dial_options.headers */
    size_t n_headers;
    wsc_ping_fn on_ping;
    wsc_pong_fn on_pong;
    wsc_close_fn on_close;
    wsc_accept_fn on_request;    /* the accept hook: decides about each
                                    request (see wsc_accept_fn) */
    void *user;                  /* passed to on_ping / on_pong / on_close /
                                    on_request */
    int heartbeat_ms;            /* as in wsc_dial_options */
    int idle_timeout_ms;
    bool nonblocking;            /* return at once in WSC_STATE_CONNECTING and
                                    go on as the socket is ready: see
                                    wsc_accept */
} wsc_accept_options;

/* Reads the HTTP/1.1 upgrade request from the connected socket `fd` and
 * answers it: 101 on success, else
 *   400  malformed request: a bad request line or header, a control
 *        character in the target, a body (Content-Length other than 0,
 *        Transfer-Encoding), not exactly one Host, a missing, bad or
 *        repeated Sec-WebSocket-Key, a repeated Sec-WebSocket-Version
 *   403  a Host not in host_patterns, or a refused Origin
 *   405  not GET
 *   (any) what the accept hook (opts->on_request) returned
 *   408  the whole request did not arrive within handshake_timeout_ms
 *   426  HTTP/1.0 or older; no "Connection: Upgrade" or "Upgrade: websocket";
 *        a Sec-WebSocket-Version other than 13 (the answer names 13)
 *   431  request head over max_request_head
 *   505  HTTP/1.2 and later (HTTP/2 and 3 do not upgrade this way)
 * Each error answer has the reason as a text/plain body and "Connection:
 * close". fd gets TCP_NODELAY, as a dialled socket does. On success the
 * connection owns fd (wsc_conn_free closes it); on
 * failure fd is left open for the caller (after TLS, only fit to be
 * closed). The socket's blocking mode is not changed (either works).
 * Options are checked before fd is touched: bad
 * extra headers (see wsc_accept_options.headers) or subprotocol names that
 * are not tokens fail with WSC_EINVAL with nothing read or sent, so the
 * caller may still answer the request itself (a 500, say) or close fd.
 * With opts->nonblocking the call goes as far as it can without waiting
 * and returns 0 with the connection in WSC_STATE_CONNECTING (or OPEN, if
 * the whole request was there) owning fd; the handshake (TLS, request,
 * answer, each refusal and the 408 included) then advances on each later
 * call with timeout 0, as a nonblocking dial does: poll wsc_fd(c) for
 * wsc_poll_events(c) and call wsc_get_state(c) when it is ready, and also
 * now and then (every second, say) so that the handshake timeout of a
 * client that sends nothing is noticed. When it fails, the state becomes
 * WSC_STATE_CLOSED, wsc_last_error() says why, later calls return the
 * error, and wsc_conn_free closes fd. One thread can so accept any number
 * of clients while serving others. opts and what it points to are copied;
 * opts->tls must outlive the call only. A failure found before it would
 * wait is returned at once, fd left to the caller, as when blocking.
 * Errors: WSC_EINVAL (arguments, options), WSC_ENOMEM, WSC_EHANDSHAKE (the
 * request was refused with one of the statuses above, or the client closed
 * or reset the connection before the handshake was done: the detail says
 * which, e.g. "recv: Connection reset by peer while reading the upgrade
 * request"), WSC_ETIMEDOUT (408, or the TLS handshake or the 101 did not
 * get through in time), WSC_ETLS (the TLS handshake failed).
 * Wasm: always fails with WSC_ENOTSUP. */
WSC_API int wsc_accept(int fd, const wsc_accept_options *opts, wsc_conn **out);

/* Like wsc_accept, for servers that already read bytes from fd themselves
 * (their own HTTP router, a port serving both TLS and plain HTTP): `head`
 * holds those bytes, copied before the call returns: the start of the
 * request, complete or not, or with opts->tls the start of the TLS
 * handshake (the ClientHello, whole or in part). */
WSC_API int wsc_accept_with(int fd, const void *head, size_t head_len,
                            const wsc_accept_options *opts, wsc_conn **out);

/* The request target of the upgrade ("/path?query"). Client side: the target
 * that was requested. Wasm: the URL's path and query. */
WSC_API const char *wsc_request_target(const wsc_conn *c);

/* The value of a header of the handshake's *other* side: on a server the
 * client's request header, on a client the server's response header. The first
 * one when repeated, NULL when absent. Case-insensitive name.
 * Wasm: always NULL. */
WSC_API const char *wsc_handshake_header(const wsc_conn *c, const char *name);

/* ---- Reading ------------------------------------------------------------- */

/* Reads one whole message. *data points into the connection's buffer, valid
 * until the next read call on c; text is NUL-terminated as well. The buffer
 * grows to the message; one larger than 64 KiB is freed by a later read
 * call that finds nothing arriving for 10 ms (at once with timeout 0), so
 * a stream of big messages reuses its buffer. A read that returns
 * WSC_EAGAIN / WSC_ETIMEDOUT with no message partly read frees the message
 * and receive buffers: an idle connection holds none. Pings are
 * answered and pongs delivered while waiting. With timeout 0 nothing
 * blocks: a pong or the close frame of a protocol error goes out only if
 * the socket takes it at once; the reply to the peer's close frame, when
 * what we wrote before still waits for room, is queued behind it: the read
 * returns WSC_ECLOSED with the state CLOSING and wsc_want_write true, and
 * wsc_flush (on POLLOUT) sends both and closes (do not free the connection
 * before, or they are lost). Errors: WSC_EAGAIN /
 * WSC_ETIMEDOUT (connection still usable; the partial message is kept),
 * WSC_ECLOSED (the connection is closed: wsc_close_status gives the peer's
 * close code, or -1 when it vanished without a close frame, i.e. 1006),
 * WSC_EMSGSIZE (read limit, closed with 1009), WSC_ENOMEM (no memory for
 * the message, closed with 1011), WSC_EPROTO (closed with 1002 or 1007),
 * WSC_EIO, WSC_EBUSY (another reader). After a write failed because
 * the socket broke (the peer reset it), what had arrived before is still
 * read: messages, then the peer's close frame if it came (WSC_ECLOSED).
 * Wasm: copies the next queued message (WSC_ENOMEM leaves it queued and the
 * connection open). */
WSC_API int wsc_read(wsc_conn *c, int timeout_ms, wsc_msg_type *type,
                     const void **data, size_t *len);

/* Bytes received and not yet read (wsc's buffer, and what TLS holds of
 * records): while nonzero, the next read may find its message without a
 * system call (a part of a frame may also be all there is). For a blocking
 * echo that gathers its replies (wsc_cork) while more input is already
 * here and flushes once it runs dry, so a lone message is not delayed:
 *   if (!wsc_read_buffered(c)) wsc_flush(c, -1);
 *   wsc_read(c, -1, ...);
 *   if (wsc_read_buffered(c)) wsc_cork(c);
 *   wsc_write(c, ...);
 * Call it from the reading thread. 0 for NULL and while CONNECTING.
 * Wasm: 0 (wsc_cork changes nothing there). */
WSC_API size_t wsc_read_buffered(const wsc_conn *c);

/* Streaming read, step 1: waits for the next message to start and gives its
 * type. Any unread rest of the previous message is skipped.
 * Step 2: wsc_reader_read copies up to `cap` bytes of the message into buf
 * and returns how many (> 0), 0 at the end of the message, or a negative
 * error. Text is validated as UTF-8 as it streams. The read limit applies to
 * the whole message. Same errors as wsc_read.
 * Wasm: the same over the queued message. */
WSC_API int wsc_reader_next(wsc_conn *c, int timeout_ms, wsc_msg_type *type);
WSC_API ptrdiff_t wsc_reader_read(wsc_conn *c, void *buf, size_t cap,
                                  int timeout_ms);

/* Largest message accepted, in bytes (default 32768; -1: no limit). A larger
 * message fails the read with WSC_EMSGSIZE and closes with 1009. For a
 * compressed message the inflated size counts, and inflating stops as soon
 * as it passes the limit.
 * Wasm: enforced as each message arrives whole: the browser (or npm ws in
 * Node, which wsc runs without limits of its own) assembles it first. */
WSC_API void wsc_set_read_limit(wsc_conn *c, int64_t limit);

/* From now on a background thread reads: it answers pings, delivers pongs to
 * wsc_ping, finishes the close handshake, and closes with 1008 if a data
 * message arrives. Use it on connections that only write. Later reads fail
 * with WSC_EINVAL. Returns WSC_EBUSY if a read is in progress. On a
 * nonblocking dial still CONNECTING it takes effect once the connection is
 * open: the thread starts reading when the dial, advanced by your own calls
 * as usual (wsc_get_state, or any call with a timeout), has opened it.
 * Wasm: data messages arriving later close the connection with 1008. */
WSC_API int wsc_close_read(wsc_conn *c);

/* ---- Writing ------------------------------------------------------------- */

/* Sends one message as a single frame. Blocks until it is written (waiting for
 * any message another thread is writing). With timeout 0, a message that only
 * partly fits in the socket is still accepted: the rest is kept and sent by
 * the next write or wsc_flush (poll for POLLOUT while wsc_want_write()).
 * Outgoing text is not validated. A compressed message (see wsc_compression)
 * is compressed once it is this message's turn; with context takeover it
 * must then reach the peer, so if the deadline passes before any of it is
 * sent it is kept like a partly sent one and the call returns 0.
 * Errors: WSC_EAGAIN / WSC_ETIMEDOUT if nothing was sent (connection usable);
 * WSC_EIO if the socket failed, or if the deadline passed after part of the
 * frame went out (the connection is then closed: a frame cannot be taken
 * back); WSC_ECLOSED; WSC_EBUSY on the thread that has a message open with
 * wsc_writer_begin (end it first; other threads wait their turn).
 * Wasm: WebSocket.send of a copy; text goes through a JS string, so invalid
 * UTF-8 in it arrives as U+FFFD. */
WSC_API int wsc_write(wsc_conn *c, wsc_msg_type type, const void *data,
                      size_t len, int timeout_ms);

/* Prepared messages, for broadcasting one message to many connections
 * (gorilla's PreparedMessage): wsc_prepared_new copies the message once;
 * wsc_write_prepared writes it to c as wsc_write would, but a connection
 * that compresses each message alone (permessage-deflate without context
 * takeover on our side) sends the copy compressed on the first such
 * connection of the same window, level and memLevel: one compression for
 * all of them. Connections with context takeover compress it themselves
 * (their window follows their own messages); without compression it goes
 * as it is. Errors and timeouts as wsc_write. Any number of threads may
 * write one prepared message to different connections at once; free it
 * (wsc_prepared_free, NULL is fine) once no write of it is running.
 * Wasm: a wsc_write of the copy (the browser compresses). */
typedef struct wsc_prepared wsc_prepared;

WSC_API int wsc_prepared_new(wsc_msg_type type, const void *data, size_t len,
                             wsc_prepared **out);
WSC_API int wsc_write_prepared(wsc_conn *c, wsc_prepared *p, int timeout_ms);
WSC_API void wsc_prepared_free(wsc_prepared *p);

/* Streaming write: begin a message (waits up to timeout_ms for other writers
 * to finish theirs), write its pieces, end it. Each wsc_writer_write sends one
 * frame (an empty piece sends nothing); wsc_writer_end sends the final frame.
 * With permessage-deflate every such message is compressed, whatever the
 * threshold, and the compressor may hold a piece back for a later frame.
 * Other threads' messages wait until wsc_writer_end; pings, pongs and close
 * frames may go out between the frames. timeout_ms > 0 bounds the begin call
 * and each piece; -1 none. With timeout 0 nothing blocks, for event loops:
 * each piece (and the end) is taken whole, what the socket does not take
 * kept pending as wsc_write does, or refused with WSC_EAGAIN taking nothing;
 * the message then stays open: give the same piece again once the socket
 * drained (POLLOUT while wsc_want_write, wsc_flush).
 * A message that times out before any of it went out (or into the
 * compressor) is abandoned cleanly (WSC_ETIMEDOUT, connection usable); one
 * that times out later cannot be completed nor taken back: the connection
 * is closed with 1011 and the call returns WSC_EIO. wsc_writer_begin, like
 * wsc_write, returns WSC_EBUSY on the thread whose message is still open.
 * Wasm: the pieces are buffered and sent as one message at wsc_writer_end
 * (no timeouts); writes while a message is open return WSC_EBUSY. */
WSC_API int wsc_writer_begin(wsc_conn *c, wsc_msg_type type, int timeout_ms);
WSC_API int wsc_writer_write(wsc_conn *c, const void *data, size_t len);
WSC_API int wsc_writer_end(wsc_conn *c);

/* Gathers the frames of the messages written from now on (wsc_write, the
 * streaming writer, prepared messages) in memory instead of sending each
 * one, until wsc_flush sends them together and ends the cork: for a
 * producer with several messages ready, since a stream of small messages
 * otherwise costs a system call each (an event-loop echo: cork, echo what
 * has arrived, reading with timeout 0 until WSC_EAGAIN, then flush; a
 * blocking one: see wsc_read_buffered). At most
 * 64 KiB are gathered: a write that would pass that sends what is gathered
 * first, as its timeout allows. Pings, pongs and close frames are never
 * held: what is gathered goes out before them (the cork stays). Gathered
 * bytes count in wsc_buffered_amount and make wsc_want_write true, so an
 * event loop that flushes on POLLOUT sends them on its next turn. The cork
 * belongs to the connection: other threads' messages are gathered too.
 * 0, or WSC_EINVAL (NULL), WSC_ECLOSED (closing or closed).
 * Wasm: returns 0 and changes nothing (each write is a WebSocket.send; the
 * browser gathers what it queues). */
WSC_API int wsc_cork(wsc_conn *c);

/* Sends what a timeout-0 write left pending and what wsc_cork gathered,
 * and ends the cork. WSC_EAGAIN if some remains.
 * wsc_want_write() says whether to poll wsc_fd() for POLLOUT: while OPEN,
 * whether bytes are pending; while CONNECTING, whether the dial waits to
 * send (see wsc_poll_events).
 * Wasm: wsc_flush waits (Asyncify or a Worker thread; else WSC_ENOTSUP) up to timeout_ms
 * until the browser has sent what it queued (bufferedAmount 0), returning
 * WSC_ETIMEDOUT, or WSC_EAGAIN with timeout 0, while bytes remain; 0 once
 * none do or the socket is no longer open. wsc_want_write is false (there
 * is no descriptor to poll). */
WSC_API int wsc_flush(wsc_conn *c, int timeout_ms);
WSC_API bool wsc_want_write(const wsc_conn *c);

/* Whether the messages written from now on may be compressed (the
 * default: yes, when permessage-deflate was negotiated and the message is
 * not under the threshold). false sends them uncompressed, e.g. data that
 * is compressed already (gorilla's EnableWriteCompression, ws's compress
 * option); a message already begun with wsc_writer_begin keeps its choice.
 * Any thread. WSC_EINVAL for NULL. Wasm: ignored (returns 0). */
WSC_API int wsc_set_write_compression(wsc_conn *c, bool enabled);

/* Bytes of messages wsc_write and the writer accepted that are not yet
 * handed to the network, for backpressure: a producer that writes with
 * timeout 0 (or in the browser, where writes never block) stops while this
 * is above its limit and calls wsc_flush until it falls (see
 * examples/producer_client.c). 0 for NULL and while CONNECTING; any thread
 * may call it. Natively: what timeout-0 writes left pending plus what TLS
 * holds (as frame and record bytes); after a write that blocked until it
 * was sent, 0. Wasm: the browser's WebSocket.bufferedAmount (payload bytes
 * queued by the browser). */
WSC_API size_t wsc_buffered_amount(const wsc_conn *c);

/* ---- Events (browser) ----------------------------------------------------- */

/* An event handler: called with the connection and the user pointer given
 * to wsc_set_event_handler. */
typedef void (*wsc_event_fn)(wsc_conn *c, void *user);

/* Wasm: makes fn(c, user) run whenever c has something for the program:
 * the socket opened or failed (a nonblocking dial ends: wsc_get_state),
 * a message arrived (read with timeout 0 until WSC_EAGAIN), the socket
 * closed, or the browser's send queue drained (after wsc_buffered_amount
 * reported bytes queued, once they all went). No frame loop or Asyncify needed:
 * the handler runs from the browser's event loop, so it may call any wsc
 * function with timeout 0 (close with wsc_close_start, not wsc_close),
 * wsc_conn_free included (then return at once).
 * It never runs while the program is suspended in a blocking call
 * (Asyncify); then once the call returned. Events may come in bursts and a
 * call may find nothing new. fn NULL removes the handler. In a -pthread
 * build only the main thread may set one (elsewhere WSC_ENOTSUP: a Worker
 * thread blocks instead). Native: WSC_ENOTSUP; an event loop polls wsc_fd() for wsc_poll_events()
 * instead (examples/epoll_echo_server.c). */
WSC_API int wsc_set_event_handler(wsc_conn *c, wsc_event_fn fn, void *user);

/* Heartbeat and idle timeout (options of wsc_dial and wsc_accept, both 0
 * by default: off). With heartbeat_ms, once nothing has been received for
 * that long the reader sends a ping (empty payload; its pong reaches
 * on_pong); with idle_timeout_ms (default: twice heartbeat_ms), once
 * nothing has been received for that long (and at least heartbeat_ms
 * after that ping, which a reader that starts after a pause sends first)
 * the connection is given up: a
 * close frame with 1001 and the reason goes out if the socket takes it at
 * once, the socket is shut, and the read returns WSC_ECLOSED with the
 * detail "no pong within N ms of our heartbeat ping" or "nothing received
 * for N ms (idle timeout)" (wsc_close_status: -1, as for 1006). Anything
 * received counts, data or control, so a live peer's pong keeps a quiet
 * connection open and a dead one (unplugged, a NAT that forgot it) is cut.
 * So does the peer taking our bytes (on Linux over TCP: its TCP
 * acknowledged more than a ping's worth since the last look), so a peer
 * reading a long write of ours, which holds our ping back, is not cut.
 * It runs inside whatever reads: a blocking wsc_read or reader, the
 * wsc_close_read thread, the wsc_stream_fd pump, or an event loop's
 * timeout-0 reads, made when wsc_next_timeout says (without a reader
 * nothing is sent or cut). Wasm: browsers cannot send pings, so
 * heartbeat_ms is ignored; idle_timeout_ms works as natively (the browser
 * closes with 4001 "nothing received for N ms (idle timeout)"). */

/* Milliseconds until c's heartbeat or idle timeout needs a read (0: now;
 * -1: neither is set, or c is not open): an event loop that reads with
 * timeout 0 when the socket is readable also reads when this passes,
 * e.g. by taking the smallest over its connections as its poll timeout.
 * Any thread. Wasm: -1 (the browser keeps the timer). */
WSC_API int wsc_next_timeout(const wsc_conn *c);

/* Sends a ping and waits for its pong. The pong is read by whichever thread
 * is reading (a concurrent wsc_read, or wsc_close_read): without a reader the
 * ping times out. Many pings may be in flight. Wasm: does nothing, returns 0. */
WSC_API int wsc_ping(wsc_conn *c, int timeout_ms);

/* Sends a ping, or an unsolicited pong (a one-way heartbeat), with the
 * application's payload (at most 125 bytes, else WSC_EINVAL) and returns
 * once it went out, without waiting for an answer: the peer's pong reaches
 * on_pong with the same payload. Errors and timeouts as for wsc_write;
 * WSC_ECLOSED once our close went out. Wasm: WSC_ENOTSUP (browsers send
 * neither). */
WSC_API int wsc_send_ping(wsc_conn *c, const void *payload, size_t len, int timeout_ms);
WSC_API int wsc_send_pong(wsc_conn *c, const void *payload, size_t len, int timeout_ms);

/* ---- Closing ------------------------------------------------------------- */

/* The close handshake: sends a close frame with `code` and `reason` (at most
 * 123 bytes, else WSC_EINVAL), waits up to 5 s for it to be written and up to
 * 5 s for the peer's close frame, then closes the socket. Data messages
 * arriving after our close frame went out are discarded, also by a reader in
 * another thread: that reader receives the peer's close and returns
 * WSC_ECLOSED. (To read replies to what you sent, wait for them first, e.g.
 * with a ping, as the wsc tool does at end of input.) Later calls return
 * WSC_ECLOSED and do nothing. code 0 sends a close frame without a code, and
 * so without a reason (a reason with code 0 is WSC_EINVAL); otherwise code
 * must be 1000-1003, 1007-1014 or 3000-4999. On a connection still
 * CONNECTING it closes the socket (no close frame) and returns WSC_ECLOSED.
 * Wasm: WebSocket.close(code, reason), waiting (Asyncify, or on a Worker
 * thread) up to 10 s for the close event; where nothing can wait it starts
 * the close and returns 0 (watch wsc_get_state). Codes the browser refuses (1001-1014) are sent as
 * 4000 + (code - 1000), e.g. 1008 as 4008. */
WSC_API int wsc_close(wsc_conn *c, int code, const char *reason);

/* The close handshake without waiting, for event loops: queues our close
 * frame (code and reason as in wsc_close), sends what the socket takes now
 * and returns 0; the rest goes out with wsc_flush (poll for POLLOUT while
 * wsc_want_write(c)). The state becomes WSC_STATE_CLOSING. From then on
 * writes fail with WSC_ECLOSED, and reads (timeout 0 as usual) discard data
 * messages and return WSC_ECLOSED when the peer's close frame arrives, which
 * shuts the socket. How long to wait for it is yours to decide: end the wait
 * with wsc_close_now. Errors as wsc_close: WSC_EINVAL, and WSC_ECLOSED if a
 * close was called before, the connection is closed, or it was still
 * CONNECTING (then closed without a close frame).
 * Wasm: WebSocket.close(code, reason) (codes mapped as in wsc_close) and
 * returns; wsc_get_state says when it is done. */
WSC_API int wsc_close_start(wsc_conn *c, int code, const char *reason);

/* Closes the socket at once without a close handshake and unblocks any
 * thread blocked on c (also one advancing a nonblocking dial, which then
 * fails with WSC_ECLOSED). Later calls return WSC_ECLOSED.
 * Wasm: starts WebSocket.close(1001, "") (4001 in browsers, which refuse
 * 1001) and returns without waiting. */
WSC_API int wsc_close_now(wsc_conn *c);

/* The code of the peer's close frame: 1005 if it had none, -1 if none was
 * received (also after an abnormal end, which browsers call 1006).
 * Wasm: the close event's code. */
WSC_API int wsc_close_status(const wsc_conn *c);
/* The reason of the peer's close frame ("" if none yet); once set it never
 * changes and stays valid until wsc_conn_free. Safe from any thread. */
WSC_API const char *wsc_close_reason(const wsc_conn *c);

/* Closes now if still open and frees everything. Call once, after every other
 * call on c has returned. NULL is fine. */
WSC_API void wsc_conn_free(wsc_conn *c);

/* ---- Groups: closing a server's connections together --------------------- */

/* The connections a server closes together when it shuts down (ws's
 * clients set, Go's http.Server.Shutdown). wsc_group_add puts a connection
 * in; wsc_conn_free takes it out; the group never owns or frees them. Any
 * thread may use a group; free it after its members, or when none can be
 * freed meanwhile. */
typedef struct wsc_group wsc_group;

WSC_API int wsc_group_new(wsc_group **out);

/* Adds c. WSC_EINVAL if c is in a group already, WSC_ECLOSED once
 * wsc_group_close has been called on g, WSC_ENOMEM. */
WSC_API int wsc_group_add(wsc_group *g, wsc_conn *c);

/* How many connections are in g (not yet freed). */
WSC_API size_t wsc_group_count(wsc_group *g);

/* Shuts the group down: starts the close handshake (wsc_close_start, code
 * and reason as for wsc_close; 1001 "going away" is the usual one) on every
 * member, then waits up to timeout_ms for all of them to be closed: each
 * member's reader (a thread in wsc_read, a background reader, an event
 * loop) sees the peer's answer. Members still open then are closed with
 * wsc_close_now and the call returns WSC_ETIMEDOUT; 0 when every member
 * finished in time. timeout_ms 0 only starts the closes and returns 0: an
 * event loop goes on reading and cuts what is left when it decides to. The
 * members stay in the group until freed; it takes no new ones.
 * Wasm: on the browser's main thread it cannot wait (as timeout 0); on a
 * Worker thread (-pthread) it does. */
WSC_API int wsc_group_close(wsc_group *g, int code, const char *reason, int timeout_ms);

/* Frees g; its members stay open and belong to no group. NULL is fine. */
WSC_API void wsc_group_free(wsc_group *g);

/* ---- State and introspection -------------------------------------------- */

/* What ended the connection, also when no call of yours saw it (a
 * background reader after wsc_close_read, a wsc_stream_fd pump, a write on
 * another thread): 0 while nothing has, else the first error that did, with
 * wsc_last_error() set to its detail. WSC_ECLOSED for a close handshake
 * (the detail says who closed, with which code and reason) and for
 * wsc_close_now; else the error of the failure (WSC_EPROTO, WSC_EMSGSIZE,
 * WSC_EIO, a failed handshake's error, ...). Safe from any thread.
 * Wasm: WSC_ECLOSED once closed (the detail has the close event's code and
 * reason; 1006 when there was no close frame or it never opened), else 0. */
WSC_API int wsc_conn_error(wsc_conn *c);

/* The connection's state. For a nonblocking dial in WSC_STATE_CONNECTING it
 * also advances the handshake without blocking (so a frame loop can call it
 * every frame); on failure the state becomes WSC_STATE_CLOSED and
 * wsc_last_error() says why. Wasm: the WebSocket's readyState. */
WSC_API wsc_state wsc_get_state(wsc_conn *c);

/* The subprotocol the server chose, "" when none. */
WSC_API const char *wsc_subprotocol(const wsc_conn *c);

/* The negotiated Sec-WebSocket-Extensions value, e.g. "permessage-deflate;
 * client_max_window_bits=15", "" when none. Wasm: WebSocket.extensions. */
WSC_API const char *wsc_extensions(const wsc_conn *c);

/* Whether c's TLS handshake resumed an earlier session (see
 * wsc_tls_options) instead of a full one: false for plain connections, NULL
 * and handshakes still running. Wasm: false (the browser does not say). */
WSC_API bool wsc_tls_did_resume(const wsc_conn *c);

/* The socket, for the caller's own poll loop: poll it for wsc_poll_events(c),
 * then call the functions with timeout 0 (wsc_get_state while CONNECTING).
 * Read with timeout 0 until WSC_EAGAIN before polling again: bytes already
 * received may wait in wsc's buffer or inside TLS, where poll cannot see
 * them. A nonblocking dial has a socket as soon as wsc_dial returns, but it
 * changes when the dial moves on to the host's next address: ask again
 * after each call. -1 once a failed dial has no socket left. Do not read,
 * write or close it yourself. Wasm: -1. */
WSC_API int wsc_fd(const wsc_conn *c);

/* What to poll wsc_fd(c) for (POLLIN, POLLOUT or both) before calling c's
 * functions with timeout 0 again. CONNECTING: exactly what the handshake
 * waits for (POLLOUT while TCP connects or a request goes out, POLLIN while
 * an answer is awaited, what TLS asks for during its handshake). OPEN and
 * CLOSING: POLLIN, plus POLLOUT while wsc_want_write(c). CLOSED (or NULL):
 * 0. (While another thread advances the dial in a blocking call, it is what
 * that thread's stage needed as it entered it.) Wasm: 0 (the browser
 * delivers events). */
WSC_API int wsc_poll_events(const wsc_conn *c);

/* ---- Byte streams over messages (Go's NetConn) -------------------------- */

typedef struct wsc_stream wsc_stream;

/* A byte stream over the messages of one type on c (which it borrows: free c
 * only after wsc_stream_close). Reads cross message boundaries; a 1000 or 1001
 * close reads as end of stream; a message of the other type closes c with
 * 1003. Each write sends one message. */
WSC_API int wsc_stream_open(wsc_conn *c, wsc_msg_type type, wsc_stream **out);
/* > 0 bytes read, 0 end of stream, < 0 error. */
WSC_API ptrdiff_t wsc_stream_read(wsc_stream *s, void *buf, size_t cap,
                                  int timeout_ms);
/* Sends buf as one message; returns len or a negative error. */
WSC_API ptrdiff_t wsc_stream_write(wsc_stream *s, const void *buf, size_t len,
                                   int timeout_ms);
/* Closes the connection with 1000 (if still open) and frees the stream. */
WSC_API int wsc_stream_close(wsc_stream *s);

/* Native: a real socket for libraries that want a file descriptor. Returns
 * one end of a socketpair (the caller owns *fd) whose bytes two background
 * threads pump to and from messages of `type` on c; do not read or write c
 * yourself meanwhile. wsc_conn_free(c) stops and waits for the pump.
 *   Writing: each read the pump makes (at most 32768 bytes, the default read
 *     limit) goes out as one message, with no deadline. With WSC_TEXT a
 *     UTF-8 character cut by a read waits for the rest in the next message;
 *     bytes that are not UTF-8 go out as they are (the peer closes with
 *     1007). shutdown(fd, SHUT_WR) or close(fd) sends our close frame (1000)
 *     after every byte written before it, also with no deadline, and on a
 *     nonblocking dial once the handshake is done. If the stream ends inside
 *     a UTF-8 character, those last bytes are not sent: c closes with 1007
 *     instead, and wsc_stream_fd_error says WSC_EPROTO.
 *   Reading: the data of the peer's messages, also those it sends after our
 *     close frame, until its close frame: then end of stream, and writes to
 *     fd fail with EPIPE (as they do once the pump stopped for any reason).
 *     A message of the other type is not delivered: c closes with 1003.
 *     If the caller closes its end, later data is discarded and c closes.
 *   Errors: end of stream is all the fd can say. wsc_stream_fd_error(c) says
 *     whether it was clean, and is final once the caller reads end of
 *     stream: 0 if the peer closed with 1000 or 1001 and every byte written
 *     was sent (or the pump still runs); else the error that
 *     ended the pump, with wsc_last_error() set to its detail:
 *     WSC_ECLOSED (the peer's close with another code, e.g. 1009 for a
 *     message over its read limit: see wsc_close_status(c); or no close
 *     frame at all, 1006, e.g. a peer that reset the TCP connection before
 *     its close frame reached us), WSC_EMSGSIZE (a message over c's read limit,
 *     closed with 1009), WSC_EPROTO (protocol error, or the other message
 *     type: 1003; a stream that ended inside a UTF-8 character: 1007),
 *     WSC_EIO. Bytes the pump could not send, our close frame included, make
 *     it non-zero; so do bytes still unsent when the peer's close arrives.
 * Wasm: both WSC_ENOTSUP. */
WSC_API int wsc_stream_fd(wsc_conn *c, wsc_msg_type type, int *fd);
WSC_API int wsc_stream_fd_error(wsc_conn *c);

#ifdef __cplusplus
}
#endif
#endif /* WSC_H */
