#!/usr/bin/env bash
# What the job ledger costs a submit: POST /api/v1/workflows/submit through a gateway that
# records every job in its SQLite ledger (a file, as deployed) versus the same gateway with
# LEDGER_URL=none, against the ComfyUI emulator (paused, so prompts only queue), measured in one
# run with wrk.
#
#   Tests/Bench/submit-bench.sh PATH_TO_GATEWAY_BINARY
#
# The gateways run pinned to CPU 0 (the loop and the ledger's thread share it), the emulator and
# wrk to CPU 1, as a gateway has its own core beside ComfyUI. The two gateways are hit
# alternately for ROUNDS rounds, the queue cleared through the gateway after each; the report
# gives each run's p50/p99 and submits/s, the medians, and the verdict. Goal: the ledger costs at
# most 10 % of submits/s and at most 1 ms of p99. All traffic is on 127.0.0.1. LOAD_CPU=0 puts
# wrk on the gateway's core instead: the gateway is then the bottleneck and the ledger's CPU
# cost per submit shows in full.
#
# Environment knobs (defaults): CONNECTIONS=16 DURATION=5 ROUNDS=3 LOAD_CPU=1
# PYTHON=.build-venv/bin/python3
set -euo pipefail

[[ $# -eq 1 ]] || { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
GATEWAY=$(realpath "$1")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONNECTIONS=${CONNECTIONS:-16}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
LOAD_CPU=${LOAD_CPU:-1}
GATEWAY_CPUS=${GATEWAY_CPUS:-0}
PYTHON=${PYTHON:-$ROOT/.build-venv/bin/python3}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

taskset -c 1 "$PYTHON" "$ROOT/Tests/ComfyEmulator/emulator.py" --port 0 --root "$WORK/emu" --exit-with-parent \
    > "$WORK/emu.out" 2> "$WORK/emu.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q '^listening' "$WORK/emu.out" 2>/dev/null && break; sleep 0.1; done
EMU_PORT=$(awk '/^listening/ {print $2}' "$WORK/emu.out")
[[ -n $EMU_PORT ]] || { cat "$WORK/emu.log" >&2; exit 1; }
curl -sf -X POST "http://127.0.0.1:$EMU_PORT/__emulator/pause" -d '{"paused": true}' > /dev/null

# start_gateway NAME [FLAGS...]: a gateway working in $WORK/NAME (its ledger in NAME/state);
# sets PORT to its port.
start_gateway() {
    local name=$1
    shift
    PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$WORK/$name"
    (cd "$WORK/$name" && LOG_LEVEL=error exec taskset -c "$GATEWAY_CPUS" "$GATEWAY" --host 127.0.0.1 --port "$PORT" \
        --comfyui-url "http://127.0.0.1:$EMU_PORT" --input-dir in --output-dir out "$@" \
        > /dev/null 2> gw.log < /dev/null) &
    PIDS+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && return; sleep 0.1; done
    echo "gateway $name did not start:" >&2
    cat "$WORK/$name/gw.log" >&2
    exit 1
}
start_gateway ledger
LEDGER_PORT=$PORT
start_gateway none --ledger-url none
NONE_PORT=$PORT

cat > "$WORK/submit.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"workflow": {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 1}}, "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "bench"}}}}'
LUA

# Prints "p50_ms p99_ms submits_per_s" for one wrk run against port $1, then clears the queue.
measure() {
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/submit.lua" \
        "http://127.0.0.1:$1/api/v1/workflows/submit" > "$WORK/wrk.txt"
    grep -q "Non-2xx" "$WORK/wrk.txt" && { echo "non-2xx answers:" >&2; cat "$WORK/wrk.txt" >&2; exit 1; }
    curl -sf -X POST "http://127.0.0.1:$1/api/v1/queue/clear" -H 'Content-Type: application/json' \
        -d '{"clear": true}' > /dev/null
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) } $1 == "Requests/sec:" { rps = $2 }
        END { printf "%.3f %.3f %.0f\n", p50, p99, rps }' "$WORK/wrk.txt"
}

measure "$LEDGER_PORT" > /dev/null    # warm-up
measure "$NONE_PORT" > /dev/null
with_rps=() with_p99=() none_rps=() none_p99=()
for round in $(seq "$ROUNDS"); do
    read -r p50 p99 rps < <(measure "$NONE_PORT")
    echo "round $round without ledger  p50 ${p50} ms  p99 ${p99} ms  ${rps} submits/s"
    none_rps+=("$rps") none_p99+=("$p99")
    read -r p50 p99 rps < <(measure "$LEDGER_PORT")
    echo "round $round with ledger     p50 ${p50} ms  p99 ${p99} ms  ${rps} submits/s"
    with_rps+=("$rps") with_p99+=("$p99")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
awk -v wr="$(median "${with_rps[@]}")" -v nr="$(median "${none_rps[@]}")" \
    -v wp="$(median "${with_p99[@]}")" -v np="$(median "${none_p99[@]}")" -v c="$CONNECTIONS" 'BEGIN {
    cost = 100 * (1 - wr / nr); added = wp - np
    printf "ledger cost at %d connections: %.0f -> %.0f submits/s (%.1f %%, goal <= 10), p99 %.3f -> %.3f ms (+%.3f, goal <= 1.000): %s\n", c, nr, wr, cost, np, wp, added, (cost <= 10 && added <= 1 ? "PASS" : "FAIL")
}'
echo "ledger file after the run: $(du -sh "$WORK/ledger/state" | cut -f1)"
