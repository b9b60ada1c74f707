#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/npm/run.sh - the npm package as a consumer sees it (`make npm-check`).
#
#  1. `npm pack` the repository into a temp dir (prepack runs `make wasm`) and
#     check the tarball holds exactly the files package.json "files" names
#     (and README, LICENSE); `npm publish --dry-run` accepts the package.
#  2. In another temp dir: `npm init -y`, then install the tarball offline.
#  3. Build tests/npm/echo_client.c with emcc using only the installed
#     package's flags (`npx wsc-emcc-flags`): with Asyncify, with -pthread,
#     with neither, and with Asyncify and --small (-flto, the bitcode
#     libwsc-lto.a, emmalloc).
#  4. Run the Asyncify, --small and -pthread builds in Node against
#     build/native/tests/progs/echo_server and check their output, exit
#     status and the close status the server saw (1000). The build with
#     neither must fail its blocking dial with WSC_ENOTSUP (such programs use
#     events or a frame loop instead).
#
# Needs: emcc, node, npm, and build/native/tests/progs/echo_server (`make
# check` or `make npm-check` builds it). No network: npm runs --offline with
# an empty cache of its own. Node 20 has no global WebSocket, so the program
# finds npm `ws` through NODE_PATH in the repository's node_modules (from
# `npm ci`), as an app would from its own dependencies.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SERVER=$ROOT/build/native/tests/progs/echo_server
EXPECTED_FILES="LICENSE README.md build/wasm/libwsc-lto.a build/wasm/libwsc-mt.a build/wasm/libwsc.a emcc-flags.js include/wsc.h js/library_wsc.js package.json"

say() { printf '%s\n' "-- $*"; }
die() { printf 'npm-check: FAIL: %s\n' "$*" >&2; exit 1; }

[[ -x $SERVER ]] || die "$SERVER is missing (make build/native/tests/progs/echo_server)"
[[ -d $ROOT/node_modules/ws ]] || die "$ROOT/node_modules/ws is missing (npm ci)"
command -v emcc >/dev/null || die "emcc is missing (scripts/deps.sh installs emscripten)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsc-npm.XXXXXX")
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

# npm: offline, no update check, a cache of its own (so nothing cached from
# earlier runs can help), quiet about funding and audits.
export npm_config_cache=$TMP/npm-cache npm_config_offline=true \
       npm_config_update_notifier=false npm_config_audit=false npm_config_fund=false
# emcc 3.1.6's JS optimizer needs Debian's acorn (see ../shared/docs/emscripten.md).
export EMCC_NODE_PATH=/usr/share/nodejs

# ---- 1. pack
say "npm pack (prepack: make wasm) into $TMP/pack"
mkdir -p "$TMP/pack"
(cd "$ROOT" && npm pack --pack-destination "$TMP/pack" >"$TMP/pack.log" 2>&1) ||
    { cat "$TMP/pack.log" >&2; die "npm pack failed"; }
TARBALL=$(ls "$TMP"/pack/libwsc-*.tgz)
say "tarball: $TARBALL"
got=$(tar tzf "$TARBALL" | sed 's|^package/||' | sort | tr '\n' ' ' | sed 's/ $//')
say "contents: $got"
[[ $got == "$EXPECTED_FILES" ]] || die "tarball holds [$got], expected [$EXPECTED_FILES]"
say "npm publish --dry-run"
(cd "$ROOT" && npm publish --dry-run --ignore-scripts >"$TMP/publish.log" 2>&1) ||
    { cat "$TMP/publish.log" >&2; die "npm publish --dry-run refused the package"; }
grep -q '+ libwsc@' "$TMP/publish.log" || { cat "$TMP/publish.log" >&2; die "npm publish --dry-run did not name libwsc"; }

# ---- 2. install
APP=$TMP/app
mkdir -p "$APP"
cd "$APP"
say "npm init -y && npm install --offline --no-audit --no-fund $(basename "$TARBALL") (in $APP)"
npm init -y >/dev/null
npm install --offline --no-audit --no-fund "$TARBALL" >"$TMP/install.log" 2>&1 ||
    { cat "$TMP/install.log" >&2; die "npm install of the tarball failed"; }
[[ -f node_modules/libwsc/build/wasm/libwsc.a ]] || die "node_modules/libwsc/build/wasm/libwsc.a not installed"
cp "$ROOT/tests/npm/echo_client.c" .

# ---- 3. flags and builds
FLAGS_ASYNC=$(npx --offline --no -- wsc-emcc-flags --asyncify)
FLAGS_SYNC=$(node node_modules/libwsc/emcc-flags.js)
FLAGS_MT=$(npx --offline --no -- wsc-emcc-flags --pthread)
FLAGS_SMALL=$(npx --offline --no -- wsc-emcc-flags --asyncify --small)
say "npx wsc-emcc-flags --asyncify: $FLAGS_ASYNC"
say "npx wsc-emcc-flags --pthread: $FLAGS_MT"
say "node node_modules/libwsc/emcc-flags.js: $FLAGS_SYNC"
say "npx wsc-emcc-flags --asyncify --small: $FLAGS_SMALL"
PKG=$(cd node_modules/libwsc && pwd -P)
for f in $FLAGS_ASYNC $FLAGS_MT $FLAGS_SMALL; do
    case $f in
        -I*) [[ ${f#-I} == "$PKG/include" ]] || die "flag $f is not the installed package's include dir" ;;
        /*) [[ $f == "$PKG/"* && -f $f ]] || die "path $f is not a file in the installed package ($PKG)" ;;
    esac
done
[[ $FLAGS_ASYNC == "$FLAGS_SYNC -sASYNCIFY -sASYNCIFY_IMPORTS=wsc_js_wait" ]] ||
    die "the --asyncify flags are not the plain ones plus Asyncify"
[[ $FLAGS_SMALL == *"/libwsc-lto.a "*"-flto -sMALLOC=emmalloc" && $FLAGS_SMALL == "-I"*" -flto "* ]] ||
    die "the --small flags lack libwsc-lto.a, -flto (compile and link) or emmalloc"
[[ $FLAGS_MT == *"/libwsc-mt.a "*"-pthread -sPROXY_TO_PTHREAD -sEXIT_RUNTIME=1" && $FLAGS_MT == *" -pthread "* ]] ||
    die "the --pthread flags lack libwsc-mt.a, -pthread (compile and link) or -sPROXY_TO_PTHREAD"

build() { # build OUTPUT FLAGS...
    local out=$1; shift
    say "NODE_PATH=$EMCC_NODE_PATH emcc -Oz echo_client.c $* -o $out"
    NODE_PATH=$EMCC_NODE_PATH emcc -Oz echo_client.c "$@" -o "$out"
}
# shellcheck disable=SC2086 # the flags are meant to split into words
build client.js $FLAGS_ASYNC
# shellcheck disable=SC2086
build client.sync.js $FLAGS_SYNC
# shellcheck disable=SC2086
build client.mt.js $FLAGS_MT
# shellcheck disable=SC2086
build client.small.js $FLAGS_SMALL
[[ -f client.mt.worker.js ]] || die "the -pthread build made no client.mt.worker.js"

# ---- 4. run against the native echo server
say "starting $SERVER"
coproc SRV { exec "$SERVER" 2>&1; }
SERVER_PID=$SRV_PID
read -r -t 10 line <&"${SRV[0]}" || die "echo_server printed nothing"
[[ $line =~ ^LISTENING\ ([0-9]+)$ ]] || die "echo_server said: $line"
URL="ws://127.0.0.1:${BASH_REMATCH[1]}/"

run_client() { # run_client JS -> sets OUT and STATUS
    say "NODE_PATH=$ROOT/node_modules node --no-experimental-fetch $1 $URL"
    STATUS=0
    OUT=$(cd "$APP" && NODE_PATH=$ROOT/node_modules timeout 30 \
          node --no-experimental-fetch "$1" "$URL" 2>&1) || STATUS=$?
    printf '%s\n' "$OUT" | sed 's/^/   | /'
    say "exit status $STATUS"
}

server_closed() { # the server's CLOSED line for the last connection
    local l
    while read -r -t 5 l <&"${SRV[0]}"; do
        say "echo_server: $l"
        [[ $l == CLOSED* ]] && { CLOSED_LINE=$l; return 0; }
    done
    die "echo_server reported no CLOSED line"
}

echoes() { # echoes JS WHAT: JS echoes, closes with 1000, and the server saw 1000
    run_client "$1"
    [[ $STATUS -eq 0 ]] || die "$1 ($2) exited with $STATUS"
    grep -qx 'received text "hello from npm"' <<<"$OUT" || die "$1 ($2) did not print the echo"
    grep -qx 'closed with 1000' <<<"$OUT" || die "$1 ($2) did not close with 1000"
    server_closed
    [[ $CLOSED_LINE == *" status=1000 "* || $CLOSED_LINE == *" status=1000" ]] ||
        die "the server did not see close status 1000 from $1 ($2): $CLOSED_LINE"
}

echoes client.js Asyncify
echoes client.small.js "Asyncify, --small"
echoes client.mt.js -pthread

say "client.sync.js has no Asyncify: its blocking dial must fail with WSC_ENOTSUP"
run_client client.sync.js
[[ $STATUS -ne 0 ]] || die "client.sync.js (no Asyncify) succeeded, but blocking calls need Asyncify"
grep -q 'dial: .*not supported' <<<"$OUT" || die "client.sync.js did not fail its dial with WSC_ENOTSUP"

say "npm package: all checks passed"
