#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/demo_chat.sh - `make demo`: the web chat demo. Installs what is
# missing (scripts/deps.sh), builds the native chat server and the wasm chat
# client, then serves web-demo/www and the built client on 127.0.0.1:PORT
# (first argument, default 8080) until Ctrl-C. BUILD picks the native build
# directory (build/native). `make demo-echo` runs the older echo demo.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build/native}
port=${1:-8080}

if [[ -f scripts/deps.sh ]]; then
    bash scripts/deps.sh
fi
make --no-print-directory demo-build BUILD="$build"

echo "Open the URL below in two browser tabs and chat; Ctrl-C stops the server."
exec "$build/demo/chat_server" --port "$port" --www web-demo/www --www build/demo/www
