#!/usr/bin/env bash
# Proxy overhead: GET /api/v1/queue/status through the gateway versus the same upstream call
# (GET /queue) made directly to the ComfyUI emulator, measured in one run with wrk.
#
#   Tests/Bench/proxy-bench.sh PATH_TO_GATEWAY_BINARY
#
# The emulator runs pinned to CPU 1, the gateway and wrk to CPU 0. The two targets are hit
# alternately for ROUNDS rounds (direct, gateway, direct, ...); the report gives each run's
# p50/p99 and throughput, the median p50 of each, and the difference. Goal: the gateway adds at
# most 0.3 ms at p50 with 16 concurrent clients. All traffic is on 127.0.0.1.
#
# Environment knobs (defaults): CONNECTIONS=16 DURATION=5 ROUNDS=3 PYTHON=.build-venv/bin/python3
set -euo pipefail

[[ $# -eq 1 ]] || { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
GATEWAY=$1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONNECTIONS=${CONNECTIONS:-16}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
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

GW_PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG_LEVEL=error taskset -c 0 "$GATEWAY" --host 127.0.0.1 --port "$GW_PORT" \
    --comfyui-url "http://127.0.0.1:$EMU_PORT" --input-dir "$WORK/in" --output-dir "$WORK/out" \
    --state-dir "$WORK/state" 2> "$WORK/gw.log" &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$GW_PORT/health" > /dev/null && break; sleep 0.1; done

# A few queued prompts make /queue a realistic answer (not an empty list).
curl -sf -X POST "http://127.0.0.1:$EMU_PORT/__emulator/pause" -d '{"paused": true}' > /dev/null
for n in 1 2 3; do
    curl -sf -X POST "http://127.0.0.1:$GW_PORT/api/v1/workflows/submit" -H 'Content-Type: application/json' \
        -d '{"workflow": {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": '$n'}}, "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "b"}}}}' > /dev/null
done

# Prints "p50_ms p99_ms req_per_s" for one wrk run.
measure() {
    taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$1" > "$WORK/wrk.txt"
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) } $1 == "Requests/sec:" { rps = $2 }
        END { printf "%.3f %.3f %.0f\n", p50, p99, rps }' "$WORK/wrk.txt"
}

measure "http://127.0.0.1:$EMU_PORT/queue" > /dev/null    # warm-up
measure "http://127.0.0.1:$GW_PORT/api/v1/queue/status" > /dev/null
direct=() gateway=()
for round in $(seq "$ROUNDS"); do
    read -r p50 p99 rps < <(measure "http://127.0.0.1:$EMU_PORT/queue")
    echo "round $round direct   GET /queue                p50 ${p50} ms  p99 ${p99} ms  ${rps} req/s"
    direct+=("$p50")
    read -r p50 p99 rps < <(measure "http://127.0.0.1:$GW_PORT/api/v1/queue/status")
    echo "round $round gateway  GET /api/v1/queue/status  p50 ${p50} ms  p99 ${p99} ms  ${rps} req/s"
    gateway+=("$p50")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
d=$(median "${direct[@]}")
g=$(median "${gateway[@]}")
awk -v d="$d" -v g="$g" -v c="$CONNECTIONS" 'BEGIN {
    added = g - d
    printf "proxy overhead at %d connections: median p50 direct %.3f ms, through the gateway %.3f ms, added %.3f ms (goal <= 0.300): %s\n", c, d, g, added, (added <= 0.3 ? "PASS" : "FAIL")
}'
