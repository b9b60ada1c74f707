#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/deps.sh - install what `make test` needs, idempotently.
#
# Run by `make deps` (and so by `make test`) on a Debian bookworm machine that
# starts with gcc, make, node 20 and npm. Checks, and installs with apt when
# run as root (one `apt-get update`, only when something is missing):
#   clang                 fuzz targets (make fuzz, make fuzz-regress)
#   libclang-rt-14-dev    libFuzzer and the ASan/UBSan runtimes for clang 14
#   libssl-dev            libssl and libcrypto (TLS, SHA-1, random)
#   openssl               the command the TLS tests and bench make certificates with
#   zlib1g-dev            permessage-deflate
#   pkg-config            library flags
#   cmake                 the install check's find_package(wsc) consumer
#   groff-base            groff, which make test renders the man pages with
#   libuv1-dev            examples/libuv_echo_server.c (wsc in a libuv loop)
#   libhiredis-dev        the chat demo's --redis (one room over several servers)
#   redis-server          the Redis that tests/wasm/demo_redis.test.mjs starts
#   python3-websockets    interop peer (checked by importing it in /usr/bin/python3)
#   emscripten            emcc 3.1.6 for the wasm backend (checked: /usr/bin/emcc)
#   chromium              browser for tests/wasm/browser.test.mjs and the browser
#                         benchmark (checked: /usr/bin/chromium)
# then runs `npm ci` when node_modules is missing or older than package-lock.json
# (ws, and playwright-core which drives /usr/bin/chromium: never run
# `npx playwright install`, it downloads a browser and fails here).
# Prints what it installed, or "deps: all present" when there is nothing to do.
# Not root and something missing: prints the apt-get command to run and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive

have_pkg() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in clang libclang-rt-14-dev libssl-dev openssl zlib1g-dev pkg-config cmake groff-base libuv1-dev \
         libhiredis-dev redis-server; do
    have_pkg "$p" || missing+=("$p")
done
# The Debian module must be importable by the system python (a pyenv python3
# first on PATH cannot see it; the tests call /usr/bin/python3).
if ! /usr/bin/python3 -c 'import websockets' >/dev/null 2>&1; then
    missing+=(python3-websockets)
fi
# The toolchain and the browser are checked by their binaries.
[[ -x /usr/bin/emcc ]] || missing+=(emscripten)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)

did=0
if ((${#missing[@]})); then
    did=1
    if [[ $(id -u) -ne 0 ]]; then
        echo "deps: missing ${missing[*]}; run as root:" >&2
        echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]} (missing)"
    log=$(mktemp)
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "deps: apt-get failed" >&2
        exit 1
    fi
    rm -f "$log"
    # Check again: a package that installed but does not work is an error here,
    # not a confusing failure later.
    if ! /usr/bin/python3 -c 'import websockets' >/dev/null 2>&1; then
        echo "deps: python3-websockets installed but /usr/bin/python3 cannot import websockets" >&2
        exit 1
    fi
    for b in /usr/bin/emcc /usr/bin/chromium; do
        if [[ ! -x $b ]]; then
            echo "deps: installed, but $b is still missing" >&2
            exit 1
        fi
    done
    echo "deps: installed ${missing[*]}"
fi

# npm: node_modules must exist and be at least as new as package-lock.json.
if [[ -f package-lock.json ]]; then
    if [[ ! -d node_modules ]]; then
        did=1
        echo "deps: npm ci (node_modules missing)"
        npm ci --no-audit --no-fund --loglevel=error >/dev/null
        touch node_modules
    elif [[ package-lock.json -nt node_modules ]]; then
        did=1
        echo "deps: npm ci (node_modules older than package-lock.json)"
        npm ci --no-audit --no-fund --loglevel=error >/dev/null
        touch node_modules
    fi
fi

if ((did == 0)); then
    echo "deps: all present"
fi
