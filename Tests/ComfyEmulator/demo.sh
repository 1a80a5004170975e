#!/usr/bin/env bash
# `make demo`: the ComfyUI emulator and the gateway wired to it, to try the API without a GPU.
#
#   Tests/ComfyEmulator/demo.sh PATH_TO_GATEWAY_BINARY
#
# The emulator listens on 127.0.0.1:$EMULATOR_PORT (default 8188) with its files under
# .build-demo/comfyui; the gateway listens on $PORT (default 8000) and keeps its input and output
# directories under .build-demo/. Ctrl-C stops both. Other gateway settings come from the
# environment or .env as usual.
set -euo pipefail

GATEWAY=${1:?usage: $0 PATH_TO_GATEWAY_BINARY}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EMULATOR_PORT=${EMULATOR_PORT:-8188}
DEMO=$ROOT/.build-demo
mkdir -p "$DEMO"

"$ROOT/.build-venv/bin/python3" "$ROOT/Tests/ComfyEmulator/emulator.py" --port "$EMULATOR_PORT" \
    --root "$DEMO/comfyui" --exit-with-parent > "$DEMO/emulator.out" 2> "$DEMO/emulator.log" &
EMULATOR=$!
trap 'kill $EMULATOR 2>/dev/null || true; wait $EMULATOR 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^listening' "$DEMO/emulator.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^listening' "$DEMO/emulator.out" || { echo "demo: the emulator did not start:" >&2; cat "$DEMO/emulator.log" >&2; exit 1; }
echo "demo: ComfyUI emulator on http://127.0.0.1:$EMULATOR_PORT (files in $DEMO/comfyui)" >&2

"$GATEWAY" --comfyui-url "http://127.0.0.1:$EMULATOR_PORT" \
    --input-dir "${INPUT_DIR:-$DEMO/input}" --output-dir "${OUTPUT_DIR:-$DEMO/output}" \
    --state-dir "${STATE_DIR:-$DEMO/state}" &
GATEWAY_PID=$!
trap 'kill -TERM $GATEWAY_PID 2>/dev/null || true; wait $GATEWAY_PID 2>/dev/null || true; kill $EMULATOR 2>/dev/null || true; wait $EMULATOR 2>/dev/null || true' EXIT
trap 'exit 0' INT TERM
wait $GATEWAY_PID
