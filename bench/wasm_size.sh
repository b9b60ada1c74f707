#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/wasm_size.sh - what a minimal wasm echo client costs in bytes: wsc
# against Emscripten's own <emscripten/websocket.h>.
#
#   bash bench/wasm_size.sh            (bench/run.sh calls it after the native tables)
#
# Every variant dials, sends "hello", reads the echo and closes:
#   emscripten websocket.h   bench/emws_echo_client.c: callbacks, no Asyncify
#   wsc frame loop           bench/wsc_echo_client_min.c: nonblocking dial and
#                            timeout-0 calls from a 60 Hz timer loop
#                            (emscripten_set_timeout_loop), no Asyncify
#   wsc frame loop, main loop  the same from emscripten_set_main_loop (pulls in
#                            Emscripten's Browser library, as any game has)
#   wsc blocking, Asyncify   -DWSC_MIN_BLOCKING: wsc_dial/wsc_read/wsc_close
#                            that block, linked with -sASYNCIFY
#   wsc blocking, pthread    the same program with -pthread -sPROXY_TO_PTHREAD
#                            and libwsc-mt.a: main() blocks on a Worker (its
#                            .worker.js counted in the .js column)
#   wsc event handler, small   the event handler variant built as
#                            `wsc-emcc-flags --small` says: -flto with the
#                            bitcode libwsc-lto.a, -sMALLOC=emmalloc
#   websocket.h, emmalloc    emscripten's with the same allocator, for a
#                            fair comparison with the row above
#   printf only              int main() { printf(...); }: Emscripten's floor,
#                            also with -pthread (the floor of the pthread row)
# Size builds: emcc -Oz -sENVIRONMENT=web (what a page ships), into
# build/wasm/size/. With --closure 1 as well when a working Closure Compiler
# is configured: Debian's emcc 3.1.6 has none (its closure-compiler package is
# a 2013 release it cannot use), so set EM_CLOSURE_COMPILER to an npm
# google-closure-compiler 20220104 binary to get those rows.
#
# Each variant is also built with -sENVIRONMENT=node and run in Node
# (--experimental-websocket for a global WebSocket, --no-experimental-fetch
# because 3.1.6 fetches the .wasm whenever fetch exists, even in a node-only
# build) against an npm `ws` echo server: a variant that does not echo is
# reported and makes the script exit 1. Outputs are rebuilt only when their
# inputs or flags changed.
set -uo pipefail
cd "$(dirname "$0")/.."
out=build/wasm/size
export NODE_PATH=/usr/share/nodejs # emcc's JS optimizer needs Debian's acorn

if ! command -v emcc >/dev/null; then
    echo "wasm_size: emcc is missing (scripts/deps.sh installs emscripten)"
    exit 1
fi
make -s --no-print-directory wasm || { echo "wasm_size: make wasm failed"; exit 1; }
mkdir -p "$out/node"
tmp=$(mktemp -d)
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
failed=0

mkdir -p "$out/src"
[[ -f $out/src/printf_only.c ]] ||
    printf '#include <stdio.h>\nint main(void) { printf("hello %%d\\n", 1); return 0; }\n' >"$out/src/printf_only.c"
wsc_link=(-Iinclude build/wasm/libwsc.a --js-library js/library_wsc.js)
asyncify=(-sASYNCIFY '-sASYNCIFY_IMPORTS=["wsc_js_wait"]')
small_link=(-Iinclude -flto build/wasm/libwsc-lto.a --js-library js/library_wsc.js -sMALLOC=emmalloc)
mt_link=(-Iinclude -pthread build/wasm/libwsc-mt.a --js-library js/library_wsc.js -sPROXY_TO_PTHREAD -sEXIT_RUNTIME=1)
min=bench/wsc_echo_client_min.c
# name|label|source|flags (word-split)
variants=(
    "emws|emscripten websocket.h (callbacks)|bench/emws_echo_client.c|-lwebsocket.js"
    "wsc_loop|wsc frame loop (timer, no Asyncify)|$min|WSC"
    "wsc_mainloop|wsc frame loop (set_main_loop)|$min|-DUSE_MAIN_LOOP WSC"
    "wsc_events|wsc event handler (no Asyncify)|$min|-DUSE_EVENTS WSC"
    "wsc_asyncify|wsc blocking (Asyncify)|$min|-DWSC_MIN_BLOCKING ASYNC WSC"
    "wsc_pthread|wsc blocking (pthread, Worker)|$min|-DWSC_MIN_BLOCKING MT"
    "wsc_events_small|wsc event handler, --small (-flto, emmalloc)|$min|-DUSE_EVENTS SMALL"
    "emws_emmalloc|emscripten websocket.h, -sMALLOC=emmalloc|bench/emws_echo_client.c|-lwebsocket.js -sMALLOC=emmalloc"
    "printf_only|printf only (floor)|$out/src/printf_only.c|"
    "printf_only_pthread|printf only, -pthread -sPROXY_TO_PTHREAD (floor)|$out/src/printf_only.c|PTHREAD"
)

# build OUT_JS ENV SOURCE FLAGS...: skipped when OUT_JS was built with the
# same flags from inputs with the same contents.
build() {
    local js=$1 env=$2 src=$3
    shift 3
    local stamp="$js.stamp" want
    want="$env $src $* $(cat "$src" build/wasm/libwsc.a build/wasm/libwsc-mt.a build/wasm/libwsc-lto.a js/library_wsc.js | md5sum)"
    if [[ -f $js && -f $stamp && $(<"$stamp") == "$want" ]]; then
        return 0
    fi
    rm -f "$stamp"
    local flags=() f
    for f in "$@"; do
        case $f in
            WSC) flags+=("${wsc_link[@]}") ;;
            ASYNC) flags+=("${asyncify[@]}") ;;
            SMALL) flags+=("${small_link[@]}") ;;
            MT) flags+=("${mt_link[@]}" -Wno-pthreads-mem-growth)
                [[ $env == web ]] && flags+=(-sENVIRONMENT=web,worker) ;;
            PTHREAD) flags+=(-pthread -sPROXY_TO_PTHREAD -sEXIT_RUNTIME=1)
                [[ $env == web ]] && flags+=(-sENVIRONMENT=web,worker) ;;
            *) flags+=("$f") ;;
        esac
    done
    emcc -Oz -sENVIRONMENT="$env" "$src" "${flags[@]}" -o "$js" >"$tmp/emcc.log" 2>&1 ||
        { echo "wasm_size: emcc failed for $js:"; sed 's/^/  /' "$tmp/emcc.log"; return 1; }
    echo "$want" >"$stamp"
}

closure=()
if [[ -n ${EM_CLOSURE_COMPILER:-} ]]; then
    if build "$tmp/probe.js" web "$out/src/printf_only.c" --closure 1; then
        closure=(--closure 1)
    else
        echo "wasm_size: --closure 1 fails with EM_CLOSURE_COMPILER=$EM_CLOSURE_COMPILER: no closure rows"
    fi
fi

gz() { gzip -9 -c "$1" | wc -c; }
rows=()
for v in "${variants[@]}"; do
    IFS='|' read -r name label src flags <<<"$v"
    # shellcheck disable=SC2086 # flags are words
    for cl in "" ${closure:+closure}; do
        tag=$name${cl:+_closure}
        extra=()
        [[ -n $cl ]] && extra=("${closure[@]}")
        build "$out/$tag.js" web "$src" $flags "${extra[@]}" || { failed=1; continue; }
        w=$(stat -c %s "$out/$tag.wasm") j=$(stat -c %s "$out/$tag.js")
        gw=$(gz "$out/$tag.wasm") gj=$(gz "$out/$tag.js")
        if [[ -f $out/$tag.worker.js ]]; then
            j=$((j + $(stat -c %s "$out/$tag.worker.js"))) gj=$((gj + $(gz "$out/$tag.worker.js")))
        fi
        rows+=("$label${cl:+ + closure}|$w|$j|$((w + j))|$((gw + gj))")
    done
done

echo "== wasm size of a minimal echo client (emcc $(emcc --version | sed -n '1s/.* \([0-9][0-9.]*\) .*/\1/p') -Oz -sENVIRONMENT=web; bytes)"
printf '%-48s | %8s | %8s | %9s | %13s\n' variant .wasm .js "total raw" "total gzip -9"
printf '%s\n' "-------------------------------------------------|----------|----------|-----------|--------------"
for r in "${rows[@]}"; do
    IFS='|' read -r label w j t g <<<"$r"
    printf '%-48s | %8s | %8s | %9s | %13s\n' "$label" "$w" "$j" "$t" "$g"
done
echo "(total gzip -9: each file compressed on its own, summed)"
[[ ${#closure[@]} -eq 0 ]] && echo "(--closure 1: no working Closure Compiler here; see the header of bench/wasm_size.sh)"

# ---- do they work? Node builds against a ws echo server.
if [[ ! -d node_modules/ws ]]; then
    echo "wasm_size: node_modules/ws is missing (npm ci): cannot check that the variants echo"
    exit 1
fi
node -e '
const { WebSocketServer } = require("ws");
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
wss.on("connection", (ws) => ws.on("message", (d, isBinary) => ws.send(d, { binary: isBinary })));
wss.on("listening", () => console.log("LISTENING " + wss.address().port));
' >"$tmp/server.out" 2>&1 &
server_pid=$!
port=
for _ in $(seq 50); do
    port=$(sed -n 's/^LISTENING //p' "$tmp/server.out")
    [[ -n $port ]] && break
    sleep 0.1
done
if [[ -z $port ]]; then
    echo "wasm_size: the ws echo server did not start:"
    cat "$tmp/server.out"
    exit 1
fi
echo
echo "-- each variant built for Node, run against a ws echo server on 127.0.0.1:$port:"
for v in "${variants[@]}"; do
    IFS='|' read -r name label src flags <<<"$v"
    [[ $name == printf_only* ]] && continue
    for cl in "" ${closure:+closure}; do
        tag=$name${cl:+_closure}
        extra=()
        [[ -n $cl ]] && extra=("${closure[@]}")
        # shellcheck disable=SC2086
        build "$out/node/$tag.js" node "$src" $flags "${extra[@]}" || { failed=1; continue; }
        got=$(timeout 20 node --experimental-websocket --no-experimental-fetch --no-warnings \
            "$out/node/$tag.js" "ws://127.0.0.1:$port/" 2>&1 | cut -c1-300 | tail -n 8)
        rc=$?
        if ((rc == 0)) && grep -q '^echo: hello$' <<<"$got" && grep -q '^OK$' <<<"$got"; then
            printf '  %-48s echoed: %s\n' "$label${cl:+ + closure}" "$(tr '\n' ' ' <<<"$got")"
        else
            printf '  %-48s FAILED (exit %s): %s\n' "$label${cl:+ + closure}" "$rc" "$(tr '\n' ' ' <<<"$got")"
            failed=1
        fi
    done
done
exit $failed
