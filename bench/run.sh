#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh BUILD_DIR - runs the benchmarks and prints the tables.
# `make bench` builds bench/*.c into BUILD_DIR/bench (with -O3) and calls this.
#
#   mask_bench            (if built) prints its own table
#   echo_bench wsc        wsc client <-> wsc server over 127.0.0.1
#   node ws_echo.mjs      the npm `ws` package, same workloads (needs node_modules/ws)
#   echo_bench tcp        plain TCP echo of the same payloads: the bound
#   echo_bench wss,       the round-trip and 16 KiB stream workloads again over
#   ws_echo.mjs --tls     TLS, with certificates made here by openssl
#   deflate_bench, deflate_mem   permessage-deflate speed, ratio and memory
#                         (deflate_mem also by window bits 9..15)
#   broadcast_bench       one 1 KiB message to 1,000 connections: prepared
#                         (wsc_write_prepared) vs plain writes, with and
#                         without permessage-deflate
#   idle_rss              server RSS after one big message per connection
#   dial_bench            new connections/s made by a client (wsc, ws's client
#                         via ws_dial.mjs, and a bare TCP connect) to wsc --echo
#   conns_bench           idle memory per connection and new connections/s:
#                         `wsc --listen --echo` (one thread) vs a `ws` server;
#                         new connections/s to the chat demo's server
#   chat_burst.mjs        the chat demo's server under bursts of lines from 100
#                         clients, beside the same room written with ws
#   active_bench          10,000 connections sending a message a second each
#                         (p50/p99 round trip), and 200 doing ping-pong: the
#                         one-thread wsc server, a thread per connection
#                         (examples/echo_server), ws
#
# Each program prints progress on stderr and `RESULT <workload> <value>` lines
# on stdout, which this script collects into one table. BENCH_SECONDS (default
# 1) is the length of each run, BENCH_REPS (default 3) the number of runs whose
# median is kept. Exits 1 if a wsc or TCP run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/native}
seconds=${BENCH_SECONDS:-1}
reps=${BENCH_REPS:-3}
export BENCH_SECONDS=$seconds BENCH_REPS=$reps
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

if [[ -x $build/bench/mask_bench ]]; then
    echo "== mask_bench"
    "$build/bench/mask_bench" || { echo "mask_bench failed (exit $?)"; failed=1; }
    echo
fi

# A hung run must not hang `make bench`: allow each program 5 workloads x reps
# x (run + 10 s for connecting and closing), plus a minute.
limit=$(awk -v s="$seconds" -v r="$reps" 'BEGIN { printf "%d", 5 * r * (s + 10) + 60 }')

declare -A result
# run_variant NAME COMMAND...: runs it, keeps its RESULT lines as result[NAME.workload].
run_variant() {
    local name=$1 rc
    shift
    echo "-- $name: $*"
    timeout -k 5 "$limit" "$@" 2>&1 >"$tmp/$name.out"
    rc=$?
    local tag workload value
    while read -r tag workload value _; do
        [[ $tag == RESULT && -n $value ]] && result[$name.$workload]=$value
    done <"$tmp/$name.out"
    if ((rc != 0)); then
        ((rc == 124)) && echo "$name: timed out after ${limit}s" || echo "$name: failed (exit $rc)"
        return 1
    fi
}

echo "== echo benchmarks over 127.0.0.1: ${seconds} s per run, median of ${reps} runs"
if [[ -x $build/bench/echo_bench ]]; then
    run_variant wsc "$build/bench/echo_bench" wsc || failed=1
    run_variant tcp "$build/bench/echo_bench" tcp || failed=1
else
    echo "$build/bench/echo_bench is missing: build it with make bench"
    failed=1
fi
if command -v node >/dev/null && [[ -d node_modules/ws ]]; then
    run_variant ws node bench/ws_echo.mjs || true
else
    echo "-- ws: skipped (needs node and node_modules/ws: npm install)"
fi

ratio() { # ratio A B: A/B with 2 decimals, "-" if either is missing
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}
echo
printf '%-28s | %10s | %10s | %10s | %6s | %7s\n' workload wsc ws "plain TCP" wsc/ws wsc/TCP
printf '%s\n' "-----------------------------|------------|------------|------------|--------|--------"
for row in "rt16:round trips/s, 16 B" "rt1k:round trips/s, 1 KiB" \
           "st64:stream MB/s, 64 B msgs" "st64c:  the same, 64 per flush" \
           "st16k:stream MB/s, 16 KiB msgs" "st1m:stream MB/s, 1 MiB msgs"; do
    w=${row%%:*}
    a=${result[wsc.$w]:-} b=${result[ws.$w]:-} c=${result[tcp.$w]:-}
    printf '%-28s | %10s | %10s | %10s | %6s | %7s\n' "${row#*:}" "${a:--}" "${b:--}" "${c:--}" \
        "$(ratio "$a" "$b")" "$(ratio "$a" "$c")"
done
echo "64 per flush: wsc's writer sends 64 messages per wsc_cork/wsc_flush, plain TCP 64 per send (ws"
echo "has no such call). Against one message per system call: wsc corked / TCP $(ratio \
    "${result[wsc.st64c]:-}" "${result[tcp.st64]:-}"), wsc corked / ws $(ratio "${result[wsc.st64c]:-}" \
    "${result[ws.st64]:-}"). The wsc server echoes corked in every row (wsc.h)."

# ---- TLS: the same echo over wss:// ------------------------------------------
# A throwaway CA and server certificate (EC P-256, IP:127.0.0.1) made here with
# openssl; echo_bench wss and ws_echo.mjs --tls read them from BENCH_TLS_*.
# Compared with the ws:// results above, from the same run.
echo
echo "== echo over TLS (wss://) vs plain (ws://), 127.0.0.1: ${seconds} s per run, median of ${reps} runs"
make_bench_pki() { # make_bench_pki DIR
    local d=$1 key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    openssl req -x509 "${key[@]}" -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj /CN=wsc-bench-ca \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign &&
    openssl req -new "${key[@]}" -keyout "$d/server.key" -out "$d/server.csr" -subj /CN=127.0.0.1 &&
    printf 'subjectAltName=IP:127.0.0.1\n' >"$d/server.ext" &&
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -set_serial 1 -days 2 \
        -extfile "$d/server.ext" -out "$d/server.pem"
}
mkdir -p "$tmp/pki"
if ! command -v openssl >/dev/null || ! make_bench_pki "$tmp/pki" >"$tmp/pki.log" 2>&1; then
    echo "cannot make the TLS certificates with openssl:"
    sed 's/^/  /' "$tmp/pki.log" 2>/dev/null
    failed=1
else
    export BENCH_TLS_CERT=$tmp/pki/server.pem BENCH_TLS_KEY=$tmp/pki/server.key BENCH_TLS_CA=$tmp/pki/ca.pem
    if [[ -x $build/bench/echo_bench ]]; then
        run_variant wss "$build/bench/echo_bench" wss rt1k st16k || failed=1
    fi
    if command -v node >/dev/null && [[ -d node_modules/ws ]]; then
        run_variant wss_ws node bench/ws_echo.mjs --tls rt1k st16k || true
    fi
    echo
    printf '%-28s | %10s | %10s | %10s | %10s | %11s | %10s\n' workload "wsc ws://" "wsc wss://" \
        "ws ws://" "ws wss://" "wsc wss/ws" "ws wss/ws"
    printf '%s\n' "-----------------------------|------------|------------|------------|------------|-------------|-----------"
    for row in "rt1k:round trips/s, 1 KiB" "st16k:stream MB/s, 16 KiB msgs"; do
        w=${row%%:*}
        a=${result[wsc.$w]:-} b=${result[wss.$w]:-} c=${result[ws.$w]:-} d=${result[wss_ws.$w]:-}
        printf '%-28s | %10s | %10s | %10s | %10s | %11s | %10s\n' "${row#*:}" "${a:--}" "${b:--}" \
            "${c:--}" "${d:--}" "$(ratio "$b" "$a")" "$(ratio "$d" "$c")"
    done
fi

# ---- permessage-deflate: a JSON stream, wsc vs ws ----------------------------
# deflate_bench (wsc client <-> wsc server in one process) and ws_deflate.mjs
# (ws client <-> ws server) on the same pool of ~1000-byte JSON messages, with
# compression off, with context takeover and without: streaming messages/s and
# MB/s of payload, round trips/s, and wire bytes / payload bytes each way
# (handshake and frame headers included); then deflate_mem, the heap each
# mode costs per connection. DEFLATE_BENCH_REPS (default 5) runs per value.
dreps=${DEFLATE_BENCH_REPS:-5}
echo
echo "== permessage-deflate: ~1000-byte JSON messages over 127.0.0.1, ${seconds} s per run, median of ${dreps} runs"
if [[ -x $build/bench/deflate_bench ]]; then
    for m in off takeover no-takeover; do
        BENCH_REPS=$dreps run_variant "dwsc_$m" "$build/bench/deflate_bench" "$m" || failed=1
        if command -v node >/dev/null && [[ -d node_modules/ws ]]; then
            BENCH_REPS=$dreps run_variant "dws_$m" node bench/ws_deflate.mjs "$m" || true
        fi
    done
    [[ -n ${result[dws_takeover.pool]:-} && ${result[dws_takeover.pool]} != "${result[dwsc_takeover.pool]:-}" ]] &&
        echo "warning: ws_deflate.mjs and deflate_bench sent different messages (pool hashes differ)"
    echo
    printf '%-22s | %9s | %9s | %9s | %9s | %9s | %9s | %6s | %6s\n' workload "wsc off" "wsc tko" "wsc no-tko" \
        "ws off" "ws tko" "ws no-tko" "tko" "no-tko"
    printf '%-22s | %9s | %9s | %9s | %9s | %9s | %9s | %6s | %6s\n' "" "" "" "" "" "" "" "wsc/ws" "wsc/ws"
    printf '%s\n' "-----------------------|-----------|-----------|------------|-----------|-----------|-----------|--------|-------"
    for row in "msgs:stream messages/s" "mbs:stream MB/s" "rt:round trips/s" "up:wire/payload c->s" "down:wire/payload s->c"; do
        w=${row%%:*}
        v=()
        for x in dwsc_off dwsc_takeover dwsc_no-takeover dws_off dws_takeover dws_no-takeover; do
            v+=("${result[$x.$w]:--}")
        done
        printf '%-22s | %9s | %9s | %10s | %9s | %9s | %9s | %6s | %6s\n' "${row#*:}" "${v[@]}" \
            "$(ratio "${result[dwsc_takeover.$w]:-}" "${result[dws_takeover.$w]:-}")" \
            "$(ratio "${result[dwsc_no-takeover.$w]:-}" "${result[dws_no-takeover.$w]:-}")"
    done
    echo "(tko: context takeover; wire/payload 1.0 = no saving, lower is better)"
else
    echo "$build/bench/deflate_bench is missing: build it with make bench"
    failed=1
fi
if [[ -x $build/bench/deflate_mem ]]; then
    echo
    echo "-- deflate_mem: heap per connection"
    timeout -k 5 120 "$build/bench/deflate_mem" 200 2>&1 | grep -v '^RESULT' ||
        { echo "deflate_mem failed"; failed=1; }
fi
if [[ -x $build/bench/broadcast_bench ]]; then
    echo
    echo "-- broadcast_bench: one message to 1,000 connections"
    timeout -k 5 120 "$build/bench/broadcast_bench" 1000 2>&1 | grep -v '^RESULT' ||
        { echo "broadcast_bench failed"; failed=1; }
fi
echo

# ---- idle memory: what a big message leaves behind ------------------------------
# idle_rss: the resident memory of a server process after 16 connections each
# received one 8 MiB message (plain, and compressed to a few KB) and went
# idle. "kept per conn" near 0 means the receive buffers were given back.
if [[ -x $build/bench/idle_rss ]]; then
    echo "== idle memory: server RSS after one big message per connection"
    timeout -k 5 120 "$build/bench/idle_rss" 16 8 2>&1 | grep -v '^RESULT' ||
        { echo "idle_rss failed"; failed=1; }
    echo
else
    echo "$build/bench/idle_rss is missing: build it with make bench"
    failed=1
fi

# ---- connections: what each costs a one-thread server ------------------------
# conns_bench opens BENCH_CONNS (default 10000) idle connections to the server
# (RSS delta per connection), then makes new connections one after another
# (connect, upgrade, close handshake) for BENCH_SECONDS, BENCH_REPS times;
# then new connections to the chat demo's server (/ws: each join and leave is
# announced and logged).
conns=${BENCH_CONNS:-10000}
echo
echo "== connections: $conns idle, then new connections one after another (median of ${reps} runs)"
if [[ -x $build/bench/conns_bench && -x $build/wsc ]]; then
    run_variant cwsc "$build/bench/conns_bench" "$conns" "$build/wsc" --listen 127.0.0.1:0 --echo ||
        failed=1
    if command -v node >/dev/null && [[ -d node_modules/ws ]]; then
        run_variant cws "$build/bench/conns_bench" "$conns" node bench/ws_server.mjs || true
    fi
    BENCH_PATH=/ws run_variant cchat "$build/bench/conns_bench" 0 "$build/demo/chat_server" --port 0 ||
        failed=1
    if [[ -n ${BENCH_TLS_CERT:-} ]]; then # made by the TLS section above
        BENCH_TLS=1 run_variant cwscs "$build/bench/conns_bench" "$conns" "$build/wsc" \
            --listen 127.0.0.1:0 --echo --tls-cert "$BENCH_TLS_CERT" --tls-key "$BENCH_TLS_KEY" || failed=1
        if command -v node >/dev/null && [[ -d node_modules/ws ]]; then
            BENCH_TLS=1 run_variant cwss "$build/bench/conns_bench" "$conns" node bench/ws_server.mjs --tls || true
        fi
        # each connection offers the TLS session of the one before
        BENCH_TLS=1 BENCH_TLS_RESUME=1 run_variant cwscsr "$build/bench/conns_bench" 0 "$build/wsc" \
            --listen 127.0.0.1:0 --echo --tls-cert "$BENCH_TLS_CERT" --tls-key "$BENCH_TLS_KEY" || failed=1
        if command -v node >/dev/null && [[ -d node_modules/ws ]]; then
            BENCH_TLS=1 BENCH_TLS_RESUME=1 run_variant cwssr "$build/bench/conns_bench" 0 \
                node bench/ws_server.mjs --tls || true
        fi
    fi
    echo
    printf '%-32s | %12s | %12s | %6s | %12s | %12s | %6s\n' workload "wsc --echo" "ws" wsc/ws \
        "wsc wss" "ws wss" wsc/ws
    printf '%s\n' "---------------------------------|--------------|--------------|--------|--------------|--------------|-------"
    for row in "idle_kib_per_conn:KiB per idle connection (RSS)" "conns_per_s:new connections/s"; do
        w=${row%%:*}
        a=${result[cwsc.$w]:-} b=${result[cws.$w]:-} c=${result[cwscs.$w]:-} d=${result[cwss.$w]:-}
        printf '%-32s | %12s | %12s | %6s | %12s | %12s | %6s\n' "${row#*:}" "${a:--}" "${b:--}" \
            "$(ratio "$a" "$b")" "${c:--}" "${d:--}" "$(ratio "$c" "$d")"
    done
    c=${result[cwscsr.conns_per_s]:-} d=${result[cwssr.conns_per_s]:-}
    printf '%-32s | %12s | %12s | %6s | %12s | %12s | %6s\n' "new connections/s, TLS resumed" - - - \
        "${c:--}" "${d:--}" "$(ratio "$c" "$d")"
    printf '%-32s | %12s\n' "new connections/s, chat server" "${result[cchat.conns_per_s]:--}"
else
    echo "$build/bench/conns_bench or $build/wsc is missing: build them with make bench"
    failed=1
fi

# ---- the chat room under bursts ------------------------------------------------
# chat_burst.mjs: 100 npm ws clients each send 5 lines at once, 3 rounds; the
# demo's chat_server (one thread, prepared messages, a client's waiting lines
# gathered into one send) against the same room written with npm ws.
echo
echo "== chat room bursts: 100 clients send 5 lines at once, 3 rounds (median of ${reps} runs)"
if [[ -x $build/demo/chat_server ]] && command -v node >/dev/null && [[ -d node_modules/ws ]]; then
    run_variant chat node bench/chat_burst.mjs "$build/demo/chat_server" --port 0 --www web-demo/www \
        --rate 0 || failed=1
    run_variant chatws node bench/chat_burst.mjs node bench/ws_chat_server.mjs || true
    a=${result[chat.burst]:-} b=${result[chatws.burst]:-}
    printf '%-32s | %12s | %12s | %6s\n' workload chat_server "ws room" wsc/ws
    printf '%s\n' "---------------------------------|--------------|--------------|-------"
    printf '%-32s | %12s | %12s | %6s\n' "lines delivered/s" "${a:--}" "${b:--}" "$(ratio "$a" "$b")"
else
    echo "$build/demo/chat_server, node or node_modules/ws is missing (make demo-build, npm ci)"
    failed=1
fi

# ---- new connections made by a client -----------------------------------------
# dial_bench: the client's side, against the one-thread `wsc --listen --echo`:
# wsc_dial + wsc_close one after another, npm ws's client doing the same
# (ws_dial.mjs), and the floor, a TCP connect and close; over TLS too, with
# a full handshake each time and resuming (wsc's session cache; an
# https.Agent's for ws). The server side from the connections table above
# (conns_bench's raw client to each server) is set beside the same floor.
echo
echo "== new connections made by one client, one after another, to wsc --listen --echo (median of ${reps} runs)"
if [[ -x $build/bench/dial_bench && -x $build/wsc ]]; then
    have_ws=false
    command -v node >/dev/null && [[ -d node_modules/ws ]] && have_ws=true
    run_variant dwsc "$build/bench/dial_bench" wsc "$build/wsc" --listen 127.0.0.1:0 --echo || failed=1
    run_variant dtcp "$build/bench/dial_bench" tcp "$build/wsc" --listen 127.0.0.1:0 --echo || failed=1
    $have_ws && { run_variant dws node bench/ws_dial.mjs "$build/wsc" --listen 127.0.0.1:0 --echo || true; }
    if [[ -n ${BENCH_TLS_CERT:-} ]]; then # made by the TLS section above
        tls_server=("$build/wsc" --listen 127.0.0.1:0 --echo --tls-cert "$BENCH_TLS_CERT" --tls-key "$BENCH_TLS_KEY")
        run_variant dwssf "$build/bench/dial_bench" wss-full "${tls_server[@]}" || failed=1
        run_variant dwss "$build/bench/dial_bench" wss "${tls_server[@]}" || failed=1
        if $have_ws; then
            run_variant dwsf node bench/ws_dial.mjs --tls "${tls_server[@]}" || true
            run_variant dwsr node bench/ws_dial.mjs --tls --resume "${tls_server[@]}" || true
        fi
    fi
    c=${result[dtcp.dials_per_s]:-}
    printf '%-40s | %10s | %10s | %10s | %8s | %8s\n' "new connections/s" "wsc" "ws" "TCP" "wsc/ws" "wsc/TCP"
    printf '%s\n' "-----------------------------------------|------------|------------|------------|----------|---------"
    for row in "dwsc dws:client, ws://" "cwsc cws:server (raw client), ws://" \
               "dwssf dwsf:client, wss://, full handshakes" "dwss dwsr:client, wss://, resumed"; do
        set -- ${row%%:*}
        a=${result[$1.dials_per_s]:-${result[$1.conns_per_s]:-}}
        b=${result[$2.dials_per_s]:-${result[$2.conns_per_s]:-}}
        case $1 in dwss*) t=- ;; *) t=$c ;; esac
        printf '%-40s | %10s | %10s | %10s | %8s | %8s\n' "${row#*:}" "${a:--}" "${b:--}" "${t:--}" \
            "$(ratio "$a" "$b")" "$(ratio "$a" "$t")"
    done
else
    echo "$build/bench/dial_bench or $build/wsc is missing: build them with make bench"
    failed=1
fi

# ---- many active connections on one server -----------------------------------
active=${BENCH_ACTIVE:-10000}
echo
echo "== $active connections, one 32-byte message a second each; 200 connections ping-ponging"
if [[ -x $build/bench/active_bench && -x $build/wsc && -x $build/examples/echo_server ]]; then
    run_variant awsc "$build/bench/active_bench" steady "$active" "$build/wsc" --listen 127.0.0.1:0 --echo ||
        failed=1
    run_variant pwsc "$build/bench/active_bench" pingpong 200 "$build/wsc" --listen 127.0.0.1:0 --echo ||
        failed=1
    run_variant pthr "$build/bench/active_bench" pingpong 200 "$build/examples/echo_server" 0 || failed=1
    if command -v node >/dev/null && [[ -d node_modules/ws ]]; then
        run_variant aws "$build/bench/active_bench" steady "$active" node bench/ws_server.mjs || true
        run_variant pws "$build/bench/active_bench" pingpong 200 node bench/ws_server.mjs || true
    fi
    echo
    printf '%-34s | %14s | %14s | %10s\n' workload "wsc one thread" "wsc threads" ws
    printf '%s\n' "-----------------------------------|----------------|----------------|-----------"
    printf '%-34s | %14s | %14s | %10s\n' "steady: p50 round trip, us" "${result[awsc.steady_p50_us]:--}" - \
        "${result[aws.steady_p50_us]:--}"
    printf '%-34s | %14s | %14s | %10s\n' "steady: p99 round trip, us" "${result[awsc.steady_p99_us]:--}" - \
        "${result[aws.steady_p99_us]:--}"
    printf '%-34s | %14s | %14s | %10s\n' "steady: messages not echoed" "${result[awsc.steady_lost]:--}" - \
        "${result[aws.steady_lost]:--}"
    printf '%-34s | %14s | %14s | %10s\n' "200 ping-pong: round trips/s" "${result[pwsc.pingpong_rt_per_s]:--}" \
        "${result[pthr.pingpong_rt_per_s]:--}" "${result[pws.pingpong_rt_per_s]:--}"
else
    echo "$build/bench/active_bench, $build/wsc or $build/examples/echo_server is missing: make bench examples"
    failed=1
fi

# ---- wasm: code size and browser speed -------------------------------------
# After the native tables, so that nothing here can hide them. Each part runs
# on its own with a time limit; a failure is reported here and makes the
# script exit 1 too. Needs emcc, /usr/bin/chromium and node_modules
# (scripts/deps.sh); BENCH_SECONDS applies, BENCH_BROWSER_REPS (default 5)
# is the number of browser runs per variant.
echo
echo "======== wasm backend ========"
if ! command -v emcc >/dev/null || [[ ! -x /usr/bin/chromium ]] || [[ ! -d node_modules/playwright-core ]]; then
    echo "wasm benchmarks skipped: needs emcc, /usr/bin/chromium and node_modules/playwright-core (scripts/deps.sh)"
else
    timeout -k 5 900 bash bench/wasm_size.sh 2>&1
    rc=$?
    ((rc != 0)) && { echo "wasm_size.sh: failed (exit $rc)"; failed=1; }
    echo
    timeout -k 5 600 node bench/browser_bench.mjs 2>"$tmp/browser_bench.err"
    rc=$?
    if ((rc != 0)); then
        echo "browser_bench.mjs: failed (exit $rc); its log:"
        sed 's/^/  /' "$tmp/browser_bench.err"
        failed=1
    fi
fi
exit $failed
