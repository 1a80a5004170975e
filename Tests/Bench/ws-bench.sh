#!/usr/bin/env bash
# WebSocket broadcast benchmark: 1,000 clients each receive a 200-byte text message broadcast
# 200 times, from our server (Tests/Tools/WebSocketEcho's /broadcast) and from Node.js with Debian's
# node-ws, with the same load client (Tests/Tools/WebSocketLoad), in two modes (see below), three
# alternating rounds. Servers on CPU 0, the client on CPU 1.
#   Tests/Bench/ws-bench.sh WEBSOCKET_ECHO_BINARY WEBSOCKET_LOAD_BINARY
# The client prints its own CPU: a client near 100% is measuring itself, not the server.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
binary=${1:?usage: ws-bench.sh WEBSOCKET_ECHO_BINARY WEBSOCKET_LOAD_BINARY}
load=${2:?usage: ws-bench.sh WEBSOCKET_ECHO_BINARY WEBSOCKET_LOAD_BINARY}
[ -f /usr/share/nodejs/ws/package.json ] || apt-get install -y -qq node-ws >/dev/null
ulimit -n "$(ulimit -Hn)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null && return; sleep 0.1; done; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
run() { # NAME MODE COMMAND...: start a server on a free port, measure it once, stop it
    local name=$1 mode=$2; shift 2
    port=$(free_port)
    PORT=$port taskset -c 0 "${@/\{port\}/$port}" >/dev/null & pid=$!; pids+=("$pid"); wait_port "$port"
    echo "round $round $mode $name $(taskset -c 1 "$load" "$port" "$pid" 1000 200 200 "$mode")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
}
# "start": all broadcasts back to back (the Node.js server's loop); "paced": one broadcast per
# event-loop turn, as events arriving one by one from an upstream socket are.
for round in 1 2 3; do
    for mode in start paced; do
        run "gateway:" "$mode" "$binary" "{port}"
        run "node:   " "$mode" node Tests/Bench/ws-broadcast.js
    done
done
