#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""make_corpus.py - writes the seed corpora of the fuzz targets in tests/fuzz.

    /usr/bin/python3 tests/fuzz/make_corpus.py

Deterministic: the same files every time (fixed masking keys, no randomness).
Writes tests/fuzz/corpus/<target>/<name> for the targets

    fuzz_frame          frame headers (and a bit of what follows them)
    fuzz_read           mode byte + client->server frames (masked)
    fuzz_read_client    mode byte + server->client frames (unmasked)
    fuzz_decode         mode byte + frames, both roles (the engine's decoder)
    fuzz_http_request   upgrade requests, good and odd
    fuzz_http_response  upgrade responses, good and odd
    fuzz_proxy          proxy URL, no_proxy list, host, proxy answer (NUL-separated)

Files this script does not write are left alone (found inputs may be added
by hand). The mode byte of fuzz_read / fuzz_read_client: bits 0-2 read limit
index, bits 3-4 accept / dial variant, bits 5-7 streaming buffer size (and,
for fuzz_read_client, bit 7 selects the streaming reader). fuzz_decode's
mode byte: bit 0 server (masked frames), bits 1-2 deflate variant, bits 3-5
read limit index, bits 6-7 how the bytes arrive (see fuzz_decode.c).
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

KEY = bytes([0x37, 0xFA, 0x21, 0x3D])

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def header(opcode, length, fin=True, rsv=0, masked=False, key=KEY, form=None):
    """A frame header; `form` forces the length form (7, 16 or 64 bits)."""
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    mbit = 0x80 if masked else 0
    if form is None:
        form = 7 if length < 126 else 16 if length <= 0xFFFF else 64
    if form == 7:
        out = bytes([b0, mbit | length])
    elif form == 16:
        out = bytes([b0, mbit | 126]) + struct.pack(">H", length)
    else:
        out = bytes([b0, mbit | 127]) + struct.pack(">Q", length)
    return out + (key if masked else b"")


def mask(payload, key=KEY):
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def frame(opcode, payload=b"", fin=True, rsv=0, masked=False, key=KEY, form=None):
    body = mask(payload, key) if masked else payload
    return header(opcode, len(payload), fin, rsv, masked, key, form) + body


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def frame_seeds():
    """fuzz_frame: headers of every kind, some followed by a payload."""
    t = "fuzz_frame"
    for op in (OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, 0x3, 0x7, 0xB, 0xF):
        for masked in (False, True):
            write(t, "op%x_%s" % (op, "masked" if masked else "plain"),
                  frame(op, b"hi", masked=masked))
    for length in (0, 1, 125, 126, 127, 65535, 65536, 1 << 32, (1 << 32) + 1, (1 << 63) - 1):
        for masked in (False, True):
            write(t, "len_%d_%s" % (length, "masked" if masked else "plain"),
                  header(OP_BINARY, length, masked=masked))
    write(t, "len_top_bit", bytes([0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]))
    write(t, "len_top_bit_masked", bytes([0x82, 0xFF, 0xFF] + [0xFF] * 7) + KEY)
    write(t, "len16_nonminimal", header(OP_BINARY, 5, form=16))
    write(t, "len64_nonminimal", header(OP_BINARY, 5, form=64, masked=True))
    for rsv in (1, 2, 4, 7):
        write(t, "rsv%d" % rsv, frame(OP_TEXT, b"x", rsv=rsv) + bytes([rsv]))
        write(t, "rsv%d_ping" % rsv, frame(OP_PING, b"", rsv=rsv) + bytes([7]))
    write(t, "ping_nofin", frame(OP_PING, b"", fin=False))
    write(t, "ping_126", header(OP_PING, 126))
    write(t, "ping_125", header(OP_PING, 125, masked=True))
    write(t, "close_1000", frame(OP_CLOSE, close_payload(1000, b"bye")))
    write(t, "close_1005", frame(OP_CLOSE, close_payload(1005)))
    write(t, "close_2999", frame(OP_CLOSE, close_payload(2999)))
    write(t, "close_4999_masked", frame(OP_CLOSE, close_payload(4999), masked=True))
    write(t, "partial_1", bytes([0x82]))
    write(t, "partial_16", bytes([0x82, 0x7E, 0x01]))
    write(t, "partial_64", bytes([0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2]))
    write(t, "empty", b"")


def data_seeds(masked):
    """Frame sequences for a reader; masked for a server, plain for a client."""
    m = masked
    F = lambda *a, **k: frame(*a, masked=m, **k)
    s = {}
    s["text_hello"] = F(OP_TEXT, b"Hello")
    s["binary"] = F(OP_BINARY, bytes(range(256)))
    s["empty_text"] = F(OP_TEXT, b"")
    s["empty_binary"] = F(OP_BINARY, b"")
    s["two_messages"] = F(OP_TEXT, b"one") + F(OP_BINARY, b"\x00\x01two")
    s["fragmented_text"] = (F(OP_TEXT, b"Hel", fin=False) + F(OP_CONT, b"lo, ", fin=False)
                            + F(OP_CONT, b"world"))
    s["fragmented_binary_empty_parts"] = (F(OP_BINARY, b"", fin=False) + F(OP_CONT, b"ab", fin=False)
                                          + F(OP_CONT, b""))
    s["fragmented_with_ping"] = (F(OP_TEXT, b"frag", fin=False) + F(OP_PING, b"p")
                                 + F(OP_CONT, b"ment") + F(OP_TEXT, b"after"))
    s["fragmented_with_pong"] = (F(OP_BINARY, b"a", fin=False) + F(OP_PONG, b"\0\0\0\0\0\0\0\1")
                                 + F(OP_CONT, b"b"))
    s["utf8_split_across_fragments"] = (F(OP_TEXT, "h\u00e9".encode()[:2], fin=False)
                                        + F(OP_CONT, "h\u00e9".encode()[2:] + "\u20ac\U0001F600".encode()))
    s["utf8_valid_multibyte"] = F(OP_TEXT, "\u00e9\u20ac\U0001F600 ok".encode())
    s["utf8_invalid"] = F(OP_TEXT, b"bad \xff byte")
    s["utf8_truncated"] = F(OP_TEXT, b"cut \xe2\x82")
    s["utf8_surrogate"] = F(OP_TEXT, b"\xed\xa0\x80")
    s["utf8_overlong"] = F(OP_TEXT, b"\xc0\xaf")
    s["utf8_invalid_in_binary_ok"] = F(OP_BINARY, b"\xff\xfe")
    s["ping"] = F(OP_PING, b"ping!") + F(OP_TEXT, b"x")
    s["ping_empty"] = F(OP_PING, b"")
    s["ping_125"] = F(OP_PING, b"p" * 125) + F(OP_TEXT, b"y")
    s["ping_126"] = F(OP_PING, b"p" * 126)
    s["ping_nofin"] = F(OP_PING, b"", fin=False)
    s["pong"] = F(OP_PONG, b"unsolicited")
    s["close_1000"] = F(OP_CLOSE, close_payload(1000, b"bye"))
    s["close_4000_reason"] = F(OP_TEXT, b"last") + F(OP_CLOSE, close_payload(4000, "r\u00e9".encode()))
    s["close_empty"] = F(OP_CLOSE, b"")
    s["close_1_byte"] = F(OP_CLOSE, b"\x03")
    s["close_1005"] = F(OP_CLOSE, close_payload(1005))
    s["close_999"] = F(OP_CLOSE, close_payload(999))
    s["close_bad_utf8_reason"] = F(OP_CLOSE, close_payload(1000, b"\xff"))
    s["close_max_reason"] = F(OP_CLOSE, close_payload(1001, b"r" * 123))
    s["close_then_data"] = F(OP_CLOSE, close_payload(1000)) + F(OP_TEXT, b"late")
    s["close_mid_fragment"] = F(OP_TEXT, b"a", fin=False) + F(OP_CLOSE, close_payload(1000))
    s["len16"] = F(OP_BINARY, b"m" * 300)
    s["len16_nonminimal"] = frame(OP_BINARY, b"abc", masked=m, form=16)
    s["len64_nonminimal"] = frame(OP_TEXT, b"abc", masked=m, form=64)
    s["len_5000"] = F(OP_BINARY, bytes(i % 251 for i in range(5000)))
    s["len_announced_huge"] = header(OP_BINARY, 1 << 40, masked=m) + b"short"
    s["len_top_bit"] = bytes([0x82, 0xFF if m else 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]) + (KEY if m else b"")
    s["rsv1"] = F(OP_TEXT, b"x", rsv=4)
    s["rsv3"] = F(OP_BINARY, b"x", rsv=1)
    s["opcode_3"] = F(0x3, b"x")
    s["opcode_b"] = F(0xB, b"")
    s["cont_without_start"] = F(OP_CONT, b"x")
    s["new_message_inside_fragmented"] = F(OP_TEXT, b"a", fin=False) + F(OP_TEXT, b"b")
    s["wrong_masking"] = frame(OP_TEXT, b"x", masked=not m)
    s["truncated_header"] = F(OP_TEXT, b"abc")[:3]
    s["truncated_payload"] = F(OP_BINARY, b"abcdef")[:-2]
    s["many_small"] = b"".join(F(OP_TEXT, str(i).encode()) for i in range(40))
    s["many_pings"] = b"".join(F(OP_PING, b"") for _ in range(60)) + F(OP_BINARY, b"end")
    s["exactly_limit_125"] = F(OP_BINARY, b"L" * 125) + F(OP_BINARY, b"L" * 126)
    s["fragments_over_limit"] = (F(OP_BINARY, b"a" * 100, fin=False) + F(OP_CONT, b"b" * 100, fin=False)
                                 + F(OP_CONT, b"c" * 100))
    # A message starting with 'C' makes fuzz_read call wsc_close there.
    s["we_close_peer_answers"] = (F(OP_TEXT, b"Close now") + F(OP_BINARY, b"discarded") + F(OP_PING, b"x")
                                  + F(OP_CLOSE, close_payload(1000)))
    s["we_close_no_answer"] = F(OP_BINARY, b"C") + F(OP_TEXT, b"more")
    s["we_close_fragments_after"] = (F(OP_BINARY, b"C") + F(OP_TEXT, b"a", fin=False) + F(OP_CONT, b"b")
                                     + F(OP_CLOSE, close_payload(4000, b"ok")))
    s["we_close_peer_breaks_protocol"] = F(OP_TEXT, b"C") + F(0x5, b"") + F(OP_CLOSE, b"")
    # Bigger than the 16 KiB read buffer: frames straddle its end.
    big = []
    size = 0
    i = 0
    while size < 40000:
        if i % 3 == 0:
            f = F(OP_PING, bytes([i % 256]) * 125)
        elif i % 3 == 1:
            f = F(OP_TEXT, (b"t%d-" % i) * (1 + i % 40))
        else:
            f = F(OP_BINARY, bytes(j % 256 for j in range((i * 37) % 3000)))
        big.append(f)
        size += len(f)
        i += 1
    s["mixed_40k"] = b"".join(big)
    s["pings_20k"] = b"".join(F(OP_PING, b"p" * (100 + i % 26)) for i in range(160)) + F(OP_TEXT, b"end")
    return s


def deflate_raw(data, wbits=15, final=False, level=6):
    """Raw deflate of data as permessage-deflate sends it: a sync flush with
    its 00 00 ff ff tail removed, or (final) a stream ending in BFINAL."""
    z = zlib.compressobj(level, zlib.DEFLATED, -wbits)
    if final:
        return z.compress(data) + z.flush(zlib.Z_FINISH)
    out = z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def deflate_seeds():
    """fuzz_read bodies whose length modulo 4 asks for permessage-deflate
    (1 takeover, 2 no takeover, 3 9-bit windows): compressed messages."""
    F = lambda *a, **k: frame(*a, masked=True, **k)
    text = b'{"id":1,"user":"ada","items":[1,2,3],"note":"hello hello hello"}' * 8
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    first = z.compress(text) + z.flush(zlib.Z_SYNC_FLUSH)
    second = z.compress(text) + z.flush(zlib.Z_SYNC_FLUSH)  # refers back to the first
    bomb = deflate_raw(b"\0" * 200000)
    s = {}
    s["text"] = F(OP_TEXT, deflate_raw(text), rsv=4)
    s["binary"] = F(OP_BINARY, deflate_raw(bytes(i % 251 for i in range(5000))), rsv=4)
    s["takeover_pair"] = F(OP_TEXT, first[:-4], rsv=4) + F(OP_TEXT, second[:-4], rsv=4)
    s["fragmented"] = (F(OP_TEXT, deflate_raw(text)[:10], fin=False, rsv=4)
                       + F(OP_PING, b"p") + F(OP_CONT, deflate_raw(text)[10:]))
    s["bfinal"] = F(OP_BINARY, deflate_raw(text, final=True), rsv=4) + F(OP_TEXT, deflate_raw(b"after"), rsv=4)
    s["stored_block"] = F(OP_BINARY, deflate_raw(text, level=0), rsv=4)
    s["empty"] = F(OP_TEXT, b"\x00", rsv=4) + F(OP_BINARY, b"", rsv=4)
    s["uncompressed_between"] = (F(OP_TEXT, first[:-4], rsv=4) + F(OP_TEXT, b"plain")
                                 + F(OP_TEXT, second[:-4], rsv=4))
    s["bomb"] = F(OP_BINARY, bomb, rsv=4)
    s["bad_data"] = F(OP_BINARY, b"\xff\xff\xff\xff", rsv=4)
    s["bad_utf8"] = F(OP_TEXT, deflate_raw(b"ok \xff no"), rsv=4)
    s["rsv1_on_continuation"] = F(OP_TEXT, deflate_raw(b"a"), fin=False, rsv=4) + F(OP_CONT, b"", rsv=4)
    s["rsv1_on_ping"] = F(OP_PING, b"", rsv=4)
    s["window_15_data"] = F(OP_BINARY, deflate_raw(bytes(range(256)) * 4 + b"x" * 3000 + bytes(range(256)) * 4), rsv=4)
    s["window_9"] = F(OP_BINARY, deflate_raw(text * 4, wbits=9), rsv=4)
    s["empty_between"] = (F(OP_TEXT, first[:-4], rsv=4) + F(OP_BINARY, b"\x00", rsv=4)
                          + F(OP_TEXT, second[:-4], rsv=4))
    s["cut_inside_block"] = (F(OP_TEXT, deflate_raw(text)[:len(deflate_raw(text)) // 2], rsv=4)
                             + F(OP_TEXT, deflate_raw(b"next"), rsv=4))
    for i, (name, body) in enumerate(sorted(s.items())):
        for variant in (1, 2, 3):  # fuzz_decode: server, deflate variant, limit, pieces
            write("fuzz_decode", "deflate_%s_v%d" % (name, variant),
                  bytes([0x01 | variant << 1 | (i % 8) << 3 | (i % 4) << 6]) + body)
    for name, body in sorted(s.items()):
        for variant in (1, 2, 3):
            pad = (variant - len(body) - 6) % 4  # an unsolicited pong of 0-3 bytes
            padded = body + F(OP_PONG, b"z" * pad)
            assert len(padded) % 4 == variant
            for mode in (0x00, 0x2D):
                write("fuzz_read", "deflate_%s_v%d_mode%02x" % (name, variant, mode), bytes([mode]) + padded)
    # fuzz_read_client: unmasked frames; length modulo 3 picks deflate (1, 2).
    U = lambda *a, **k: frame(*a, masked=False, **k)
    c = {
        "text": U(OP_TEXT, deflate_raw(text), rsv=4),
        "takeover_pair": U(OP_TEXT, first[:-4], rsv=4) + U(OP_TEXT, second[:-4], rsv=4),
        "fragmented": U(OP_TEXT, deflate_raw(text)[:10], fin=False, rsv=4) + U(OP_CONT, deflate_raw(text)[10:]),
        "bomb": U(OP_BINARY, bomb, rsv=4),
        "bad_data": U(OP_BINARY, b"\xff\xff\xff\xff", rsv=4),
        "empty_between": U(OP_TEXT, first[:-4], rsv=4) + U(OP_BINARY, b"\x00", rsv=4),
        "window_9": U(OP_BINARY, deflate_raw(text * 4, wbits=9), rsv=4),
    }
    for i, (name, body) in enumerate(sorted(c.items())):
        write("fuzz_decode", "deflate_client_%s" % name, bytes([0x02 | (i % 4) << 6]) + body)
    for name, body in sorted(c.items()):
        for variant in (1, 2):
            pad = (variant - len(body) - 2) % 3  # an unsolicited pong of 0-2 bytes
            padded = body + U(OP_PONG, b"z" * pad)
            assert len(padded) % 3 == variant
            for mode in (0x00, 0xA8):
                write("fuzz_read_client", "deflate_%s_v%d_mode%02x" % (name, variant, mode), bytes([mode]) + padded)


def read_seeds():
    # Mode bytes: limit index (bits 0-2), accept variant (3-4), buffer (5-7).
    modes = [0x08, 0x09, 0x12, 0x1B, 0x24, 0x2D, 0x47, 0xE0, 0x03, 0x05]
    for masked, target in ((True, "fuzz_read"), (False, "fuzz_read_client")):
        seeds = data_seeds(masked)
        for i, (name, body) in enumerate(sorted(seeds.items())):
            write(target, name, bytes([0x00]) + body)
            # The same frames under another mode: other limit, variant, buffer.
            mode = modes[i % len(modes)]
            if target == "fuzz_read_client":
                mode |= 0x80 if i % 2 else 0
            write(target, "%s_mode%02x" % (name, mode), bytes([mode]) + body)
            # fuzz_decode: the same frames in our role, whole limits and pieces.
            role = 0x01 if masked else 0x00
            write("fuzz_decode", "%s_%s" % ("server" if masked else "client", name),
                  bytes([role | (i % 8) << 3 | (i % 4) << 6]) + body)


REQ_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RESP_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def request(method="GET", target="/chat", headers=None, eol="\r\n", version="HTTP/1.1"):
    if headers is None:
        headers = [("Host", "server.example.com"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                   ("Sec-WebSocket-Key", REQ_KEY), ("Sec-WebSocket-Version", "13")]
    lines = ["%s %s %s" % (method, target, version)] + ["%s: %s" % hv for hv in headers]
    return (eol.join(lines) + eol + eol).encode()


def std_headers(**over):
    h = [("Host", "server.example.com"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
         ("Sec-WebSocket-Key", REQ_KEY), ("Sec-WebSocket-Version", "13")]
    out = []
    for name, value in h:
        key = name.lower().replace("-", "_")
        if key in over:
            if over[key] is not None:
                out.append((name, over[key]))
        else:
            out.append((name, value))
    return out


def http_request_seeds():
    t = "fuzz_http_request"
    write(t, "good", request())
    write(t, "good_lf_only", request(eol="\n"))
    write(t, "good_protocols", request(headers=std_headers() + [("Sec-WebSocket-Protocol", "superchat, chat")]))
    write(t, "good_protocols_repeated", request(headers=std_headers() + [
        ("Sec-WebSocket-Protocol", "x"), ("Sec-WebSocket-Protocol", "v2.bin")]))
    write(t, "origin_same_host", request(headers=std_headers() + [("Origin", "https://server.example.com")]))
    write(t, "origin_pattern", request(headers=std_headers() + [("Origin", "https://a.example.com")]))
    write(t, "origin_scheme_pattern", request(headers=std_headers() + [("Origin", "https://a.test")]))
    write(t, "origin_foreign", request(headers=std_headers() + [("Origin", "http://evil.com")]))
    write(t, "origin_null", request(headers=std_headers() + [("Origin", "null")]))
    write(t, "post", request(method="POST"))
    write(t, "no_connection", request(headers=std_headers(connection=None)))
    write(t, "connection_list", request(headers=std_headers(connection="keep-alive, Upgrade")))
    write(t, "no_upgrade", request(headers=std_headers(upgrade=None)))
    write(t, "version_8", request(headers=std_headers(sec_websocket_version="8")))
    write(t, "no_version", request(headers=std_headers(sec_websocket_version=None)))
    write(t, "bad_key", request(headers=std_headers(sec_websocket_key="short==")))
    write(t, "no_key", request(headers=std_headers(sec_websocket_key=None)))
    write(t, "extensions", request(headers=std_headers() + [
        ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")]))
    write(t, "obs_fold", request().replace(b"\r\nUpgrade", b"\r\n Upgrade"))
    write(t, "no_colon", b"GET / HTTP/1.1\r\nHost\r\n\r\n")
    write(t, "nul", b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n")
    write(t, "bad_version", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n")
    write(t, "bad_start_line", b"GET  / HTTP/1.1\r\n\r\n")
    write(t, "spaces_to_trim", request(headers=[(n, " \t%s \t" % v) for n, v in std_headers()]))
    write(t, "many_headers", request(headers=std_headers() + [("X-H%d" % i, str(i)) for i in range(95)]))
    write(t, "too_many_headers", request(headers=std_headers() + [("X-H%d" % i, str(i)) for i in range(96)]))
    write(t, "incomplete", request()[:-2])
    write(t, "pipelined", request() + b"\x81\x85" + KEY + mask(b"Hello"))
    # HTTP versions: 426 below 1.1, 505 above (issue 9).
    write(t, "http10", request(version="HTTP/1.0"))
    write(t, "http09", request(version="HTTP/0.9"))
    write(t, "http19", request(version="HTTP/1.9"))
    write(t, "http20", request(version="HTTP/2.0"))
    # A body, repeated key or version, control characters in the target: 400.
    write(t, "body_content_length", request(headers=std_headers() + [("Content-Length", "7")]) +
          b"\x89\x81" + KEY + mask(b"p"))
    write(t, "content_length_0", request(headers=std_headers() + [("Content-Length", "0")]))
    write(t, "transfer_encoding", request(headers=std_headers() + [("Transfer-Encoding", "chunked")]))
    write(t, "repeated_key", request(headers=std_headers() + [("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==")]))
    write(t, "repeated_version", request(headers=std_headers() + [("sec-websocket-version", "13")]))
    write(t, "target_esc", request(target="/a\x1b[31mb"))
    write(t, "target_bare_cr", request(target="/a\rb"))


def response(status_line="HTTP/1.1 101 Switching Protocols", headers=None, eol="\r\n"):
    if headers is None:
        headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", RESP_ACCEPT)]
    lines = [status_line] + ["%s: %s" % hv for hv in headers]
    return (eol.join(lines) + eol + eol).encode()


def http_response_seeds():
    t = "fuzz_http_response"
    good = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", RESP_ACCEPT)]
    write(t, "good", response())
    write(t, "good_lf_only", response(eol="\n"))
    write(t, "good_case", response(headers=[("upgrade", "WebSocket"), ("connection", "keep-alive, upgrade"),
                                            ("sec-websocket-accept", RESP_ACCEPT)]))
    write(t, "good_protocol", response(headers=good + [("Sec-WebSocket-Protocol", "chat")]))
    write(t, "unoffered_protocol", response(headers=good + [("Sec-WebSocket-Protocol", "other")]))
    write(t, "extension", response(headers=good + [("Sec-WebSocket-Extensions", "permessage-deflate")]))
    write(t, "status_200", response("HTTP/1.1 200 OK"))
    write(t, "status_426", response("HTTP/1.1 426 Upgrade Required", [("Sec-WebSocket-Version", "13")]))
    write(t, "no_reason", response("HTTP/1.1 101"))
    write(t, "bad_accept", response(headers=good[:2] + [("Sec-WebSocket-Accept", REQ_KEY)]))
    write(t, "no_accept", response(headers=good[:2]))
    write(t, "no_upgrade", response(headers=good[1:]))
    write(t, "no_connection", response(headers=[good[0], good[2]]))
    write(t, "http10", response("HTTP/1.0 101 Switching Protocols"))
    write(t, "bad_status", b"HTTP/1.1 1010 x\r\n\r\n")
    write(t, "obs_fold", response().replace(b"\r\nConnection", b"\r\n\tConnection"))
    write(t, "nul", response().replace(b"websocket", b"web\x00socket"))
    write(t, "with_frames", response() + b"\x81\x05Hello")
    write(t, "repeated_accept", response(headers=good + [("Sec-WebSocket-Accept", RESP_ACCEPT)]))
    write(t, "repeated_protocol", response(headers=good + [("Sec-WebSocket-Protocol", "chat")] * 2))
    write(t, "reason_esc", response("HTTP/1.1 101 \x1b[2J"))


def proxy_seeds():
    t = "fuzz_proxy"
    ok = b"HTTP/1.1 200 Connection established\r\n\r\n"
    auth = (b"HTTP/1.1 407 Proxy Authentication Required\r\n"
            b"Proxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n")
    seeds = {
        "plain": (b"http://proxy.test:3128", b"", b"example.com", ok),
        "userinfo": (b"http://us%40er:secretpw@proxy.test:8080/", b"localhost,.internal", b"a.internal", auth),
        "schemeless": (b"proxy.test:3128", b"*", b"example.com", b"HTTP/1.0 403 Forbidden\r\n\r\n"),
        "ipv6": (b"http://[::1]:3128", b"10.0.0.0/8, fd00::/8, ::1", b"fd00::5", ok),
        "socks": (b"socks5://h:1080", b"example.com:443", b"sub.example.com", b"HTTP/1.1 502 Bad Gateway\r\n\r\n"),
        "bad_port": (b"http://h:99999", b" , ,", b"127.0.0.1", b"garbage\r\n\r\n"),
        "digest": (b"http://u:longpassword@h", b"", b"h", auth.replace(b"Basic", b"Digest")),
    }
    for name, parts in seeds.items():
        write(t, name, b"\0".join(parts))


def main():
    frame_seeds()
    read_seeds()
    deflate_seeds()
    http_request_seeds()
    http_response_seeds()
    proxy_seeds()
    for target in sorted(os.listdir(CORPUS)):
        print("%-20s %d files" % (target, len(os.listdir(os.path.join(CORPUS, target)))))


if __name__ == "__main__":
    main()
