#!/usr/bin/env bash
# Runs the Autobahn testsuite's fuzzingserver and drives our WebSocket client against it
# (Tests/Tools/WebSocketTestClient); fails unless every case is OK, NON-STRICT or INFORMATIONAL.
#   Tests/Conformance/autobahn-client.sh [CLIENT_BINARY]
# Cases 12.* and 13.* test permessage-deflate, which the client does not offer, so they are
# excluded. The report is left in .build-autobahn-client-report/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/../.."
client_binary="${1:-.build/debug/websocket-test-client}"
venv=.build-autobahn
[ -x "$venv/bin/wstest" ] || bash "$here/install-autobahn.sh" "$venv" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
report=$PWD/.build-autobahn-client-report
rm -rf "$report" && mkdir -p "$report"
cat > "$report/spec.json" <<SPEC
{"url": "ws://127.0.0.1:$port", "outdir": "$report/out", "cases": ["*"], "exclude-cases": ["12.*", "13.*"],
 "exclude-agent-cases": {}}
SPEC
(cd "$report" && exec "$OLDPWD/$venv/bin/wstest" -m fuzzingserver -s spec.json > wstest.log 2>&1) &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break; sleep 0.1; done
timeout 600 "$client_binary" autobahn "$port"
python3 Tests/Conformance/check_autobahn.py "$report/out/index.json" "autobahn fuzzingserver (our client)"
