#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/demo_echo.sh - `make demo-echo`, the echo demo: builds the examples, starts
# echo_server on a free port, runs echo_client against it, stops the server.
# Safe to run again and again. BUILD picks the build directory (build/native).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build/native}

if [[ -f scripts/deps.sh ]]; then
    bash scripts/deps.sh
fi
make --no-print-directory examples BUILD="$build"

log=$(mktemp)
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -f "$log"
}
trap cleanup EXIT

# Port 0: the server binds a free port and prints "listening on ws://...".
"$build/examples/echo_server" 0 >"$log" 2>&1 &
server_pid=$!
url=
for _ in $(seq 100); do
    url=$(grep -o 'ws://[^ ]*' "$log" | head -n1 || true)
    [[ -n $url ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
done
if [[ -z $url ]]; then
    echo "echo_server did not start:" >&2
    cat "$log" >&2
    exit 1
fi

echo "\$ echo_server 0 &          # $(head -n1 "$log")"
echo "\$ echo_client $url"
status=0
"$build/examples/echo_client" "$url" || status=$?
sleep 0.2 # let the server print its line for the connection
echo "--- echo_server output:"
cat "$log"
exit $status
