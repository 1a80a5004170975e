#!/usr/bin/env bash
# WebSocket broadcast benchmark: 1,000 clients each receive a 200-byte text message broadcast
# 200 times, from our server (Tests/WebSocketEcho's /broadcast) and from Node.js with Debian's
# node-ws, with the same load client (Tests/WebSocketLoad). Servers on CPU 0, the client on CPU 1.
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
for round in 1 2 3; do
    port=$(free_port)
    taskset -c 0 "$binary" "$port" & pid=$!; pids+=("$pid"); wait_port "$port"
    echo "round $round gateway: $(taskset -c 1 "$load" "$port" "$pid")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    port=$(free_port)
    PORT=$port taskset -c 0 node Tests/Bench/ws-broadcast.js >/dev/null & pid=$!; pids+=("$pid"); wait_port "$port"
    echo "round $round node:    $(taskset -c 1 "$load" "$port" "$pid")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
done
