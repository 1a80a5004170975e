#!/usr/bin/env bash
# Throughput / latency / memory benchmark: comfy-gateway vs. Node.js and a raw C libuv server.
#
#   Tests/Bench/bench.sh PATH_TO_GATEWAY_BINARY
#
# Both servers run pinned to CPU 0 (SERVER_CPU); wrk and the idle-connection
# client run on CPU 1 (CLIENT_CPU). For each connection count the servers are
# hit alternately (gateway c1, node c1, gateway c64, node c64, ...) for ROUNDS
# rounds; the report shows medians. Then IDLE_COUNT idle keep-alive
# connections are opened against each server and the RSS growth is recorded.
# All traffic is on 127.0.0.1. Progress goes to stderr, the report to stdout.
#
# Four servers answer GET /health: the gateway as a user runs it (default settings, the access
# log on, stderr to a file), the gateway with LOG_LEVEL=error ("gw-quiet"), Node.js's http
# module (node-hello.js) and a raw C libuv server (libuv-hello.c, compiled here against the
# system libuv: what the loop and the socket calls alone cost). The gateway is started as
#   taskset -c 0 GATEWAY --host 127.0.0.1 --port PORT
# and its memory is read from /proc/PID/status of that process, so
# GATEWAY must be (or exec into) the server itself, not fork it.
#
# Environment knobs (defaults):
#   DURATION=5           seconds per wrk run
#   ROUNDS=3             rounds over all connection counts
#   CONNECTIONS="1 64 256"
#   IDLE_COUNT=10000     idle connections for the memory test (0 = skip)
#   WARMUP=1             seconds of unmeasured c64 load per server first (0 = none)
#   SERVER_CPU=0 CLIENT_CPU=1
#   STARTUP_TIMEOUT=15   seconds to wait for GET /health to answer
#   NODE=node            node binary
#   KEEP_LOGS=0          1 = keep the temp dir with server logs and wrk output
#
# Goals checked in the verdict line, for the gateway with default settings: at 64 connections
# req/s >= 1.5x node and >= 0.8x raw libuv, p99 <= node p99; idle RSS < 10 MiB; IDLE_COUNT idle
# connections add < 60 MiB (the idle test runs against the gateway and node only).

set -euo pipefail

usage() {
    sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    echo "(see the header of ${BASH_SOURCE[0]} for environment knobs)" >&2
    exit 2
}

[[ $# -eq 1 && $1 != -h && $1 != --help ]] || usage
GATEWAY=$1

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-"1 64 256"}
IDLE_COUNT=${IDLE_COUNT:-10000}
WARMUP=${WARMUP:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-15}
NODE=${NODE:-node}
KEEP_LOGS=${KEEP_LOGS:-0}
HOST=127.0.0.1
SERVERS=(gateway gw-quiet node libuv)
IDLE_SERVERS=(gateway node)

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: ERROR: $*"; exit 1; }
warn() { log "bench: WARNING: $*"; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for v in DURATION ROUNDS IDLE_COUNT WARMUP STARTUP_TIMEOUT SERVER_CPU CLIENT_CPU; do
    is_uint "${!v}" || die "$v must be a non-negative integer (got '${!v}')"
done
((DURATION > 0 && ROUNDS > 0)) || die "DURATION and ROUNDS must be > 0"
for c in $CONNECTIONS; do
    is_uint "$c" && ((c > 0)) || die "CONNECTIONS must be positive integers (got '$c')"
done

[[ -f $GATEWAY && -x $GATEWAY ]] || die "gateway binary '$GATEWAY' not found or not executable"
[[ -f $SCRIPT_DIR/node-hello.js ]] || die "missing $SCRIPT_DIR/node-hello.js"
[[ -f $SCRIPT_DIR/libuv-hello.c ]] || die "missing $SCRIPT_DIR/libuv-hello.c"
[[ -f $SCRIPT_DIR/idle_connections.py ]] || die "missing $SCRIPT_DIR/idle_connections.py"

# ---------------------------------------------------------------- tools ----
if ! command -v wrk >/dev/null 2>&1; then
    [[ $(id -u) -eq 0 ]] || die "wrk not found (install it: apt-get install -y wrk)"
    log "bench: wrk not found, installing it with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y wrk >&2 || { apt-get update >&2 && apt-get install -y wrk >&2; } ||
        die "could not install wrk"
fi
for tool in taskset setsid "$NODE" curl python3 awk sort cc pkg-config; do
    command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' not found"
done
taskset -c "$SERVER_CPU" true 2>/dev/null || die "cannot pin to CPU $SERVER_CPU (SERVER_CPU)"
taskset -c "$CLIENT_CPU" true 2>/dev/null || die "cannot pin to CPU $CLIENT_CPU (CLIENT_CPU)"
[[ $SERVER_CPU != "$CLIENT_CPU" ]] || warn "servers and load generator share CPU $SERVER_CPU"

# ------------------------------------------------------------ fd limit ----
if ! ulimit -n 65536 2>/dev/null; then
    hard=$(ulimit -Hn)
    if [[ $hard == unlimited ]]; then ulimit -n 1048576 2>/dev/null || true; else ulimit -n "$hard"; fi
    log "bench: note: could not raise 'ulimit -n' to 65536, using $(ulimit -n) (hard limit)"
fi
NOFILE=$(ulimit -n)
if ((IDLE_COUNT > 0)) && [[ $NOFILE != unlimited ]] && ((NOFILE < IDLE_COUNT + 256)); then
    die "ulimit -n is $NOFILE, too low for IDLE_COUNT=$IDLE_COUNT idle connections"
fi

# ------------------------------------------------------ state / cleanup ----
WORK=$(mktemp -d "${TMPDIR:-/tmp}/comfy-bench.XXXXXX")
RESULTS=$WORK/results.tsv # server conns round rps p50_us p99_us rss_kib errors
: >"$RESULTS"
declare -A PID=() PORT=() IDLE_RSS=() IDLE_DELTA=()
CHILD= # pid of the running wrk / idle_connections.py, if any

# alive PID: process exists and is not a zombie
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

stop_server() {
    local pid=$1 i
    [[ -n $pid ]] || return 0
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 30; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    local name
    if [[ -n ${CHILD:-} ]]; then kill -TERM "$CHILD" 2>/dev/null || true; fi
    for name in "${SERVERS[@]}"; do stop_server "${PID[$name]:-}"; done
    if [[ $KEEP_LOGS == 1 ]]; then
        log "bench: logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "bench: interrupted"; exit 130' INT
trap 'log "bench: terminated"; exit 143' TERM HUP

# ------------------------------------------------------------- helpers ----
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

rss_kib() {
    awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) print "NA" }' "/proc/$1/status" 2>/dev/null || echo NA
}

show_log() {
    local f=$WORK/$1.log
    [[ -s $f ]] || return 0
    log "---- last lines of $1 output ----"
    tail -n 20 "$f" >&2
    log "----"
}

require_alive() {
    alive "${PID[$1]}" || { show_log "$1"; die "$1 (pid ${PID[$1]}) died"; }
}

# wait_ready NAME: poll GET /health until it answers 200
wait_ready() {
    local name=$1 port=${PORT[$1]} code body
    local deadline=$((SECONDS + STARTUP_TIMEOUT))
    while :; do
        alive "${PID[$name]}" || { show_log "$name"; die "$name exited during startup"; }
        code=$(curl -s -o "$WORK/health-$name.body" -w '%{http_code}' --max-time 1 \
            "http://$HOST:$port/health" 2>/dev/null) || true
        [[ $code == 200 ]] && break
        if ((SECONDS >= deadline)); then
            show_log "$name"
            die "$name did not answer GET /health with 200 within ${STARTUP_TIMEOUT}s (last status: ${code:-none})"
        fi
        sleep 0.1
    done
    body=$(cat "$WORK/health-$name.body")
    [[ $body == '{"status":"ok"}' ]] || warn "$name GET /health body is '$body', expected {\"status\":\"ok\"}"
    local comm
    comm=$(cat "/proc/${PID[$name]}/comm" 2>/dev/null || true)
    case $comm in
    sh | bash | dash | zsh | taskset)
        warn "$name pid ${PID[$name]} is '$comm', not the server itself; RSS numbers will be wrong" ;;
    esac
}

# Servers get their own session (setsid) so a terminal Ctrl-C reaches only this
# script and wrk; the EXIT trap then stops the servers. A background child of a
# non-interactive shell is not a process-group leader, so setsid (and taskset)
# exec in place and $! is the server's own pid.
# start_gateway NAME [LOG_LEVEL]: default settings unless a level is given.
start_gateway() {
    local name=$1 level=${2:-}
    PORT[$name]=$(free_port)
    (
        [[ -z $level ]] || export LOG_LEVEL=$level
        exec setsid taskset -c "$SERVER_CPU" "$GATEWAY" --host "$HOST" --port "${PORT[$name]}" \
            --state-dir "$WORK/$name-state" >"$WORK/$name.log" 2>&1 </dev/null
    ) &
    PID[$name]=$!
    wait_ready "$name"
}

start_libuv() {
    # shellcheck disable=SC2046
    cc -O2 -o "$WORK/libuv-hello" "$SCRIPT_DIR/libuv-hello.c" $(pkg-config --cflags --libs libuv) ||
        die "could not compile libuv-hello.c (libuv1-dev installed?)"
    PORT[libuv]=$(free_port)
    setsid taskset -c "$SERVER_CPU" "$WORK/libuv-hello" "${PORT[libuv]}" >"$WORK/libuv.log" 2>&1 </dev/null &
    PID[libuv]=$!
    wait_ready libuv
}

start_node() {
    PORT[node]=$(free_port)
    PORT=${PORT[node]} setsid taskset -c "$SERVER_CPU" "$NODE" "$SCRIPT_DIR/node-hello.js" \
        >"$WORK/node.log" 2>&1 </dev/null &
    PID[node]=$!
    wait_ready node
}

# Parse wrk --latency output on stdin -> "rps p50_us p99_us errors" (NA if missing).
parse_wrk() {
    awk '
    function to_us(v,   n, u, f) {
        if (!match(v, /^[0-9]+(\.[0-9]+)?/)) return "NA"
        n = substr(v, 1, RLENGTH) + 0; u = substr(v, RLENGTH + 1)
        if (u == "ns") f = 0.001; else if (u == "us") f = 1; else if (u == "ms") f = 1000
        else if (u == "s") f = 1000000; else if (u == "m") f = 60000000
        else if (u == "h") f = 3600000000; else return "NA"
        return sprintf("%.1f", n * f)
    }
    /Latency Distribution/ { dist = 1; next }
    dist && $1 == "50%" { p50 = to_us($2) }
    dist && $1 == "99%" { p99 = to_us($2); dist = 0 }
    dist && $1 !~ /%$/  { dist = 0 }
    $1 == "Requests/sec:" && $2 ~ /^[0-9.]+$/ { rps = $2 }
    /Socket errors:/ { line = $0; gsub(/[^0-9 ]/, " ", line); n = split(line, a, " ")
                       for (i = 1; i <= n; i++) errs += a[i] }
    /Non-2xx or 3xx responses:/ { errs += $NF }
    END {
        printf "%s %s %s %d\n", (rps == "" ? "NA" : rps), (p50 == "" ? "NA" : p50),
               (p99 == "" ? "NA" : p99), errs
    }'
}

# fmt_us MICROSECONDS -> "512us" / "2.10ms" / "1.02s"
fmt_us() {
    awk -v v="$1" 'BEGIN {
        if (v == "NA" || v == "") { print "NA"; exit }
        if (v < 1000) printf "%.0fus\n", v
        else if (v < 1000000) printf "%.2fms\n", v / 1000
        else printf "%.2fs\n", v / 1000000 }'
}

fmt_mib() { # KiB -> "12.3 MiB"
    awk -v v="$1" 'BEGIN { if (v == "NA" || v == "") print "NA"; else printf "%.1f MiB\n", v / 1024 }'
}

# run_child OUT ERR CMD...: run CMD in the background (stdout -> OUT, stderr ->
# ERR, or into OUT if ERR is "+") and wait for it. The
# `wait` builtin returns as soon as a trapped signal (Ctrl-C) arrives, so the
# traps fire promptly; a foreground child that handles SIGINT itself (wrk
# does) would otherwise make bash swallow the Ctrl-C.
run_child() {
    local out=$1 err=$2 rc=0
    shift 2
    if [[ $err == + ]]; then "$@" >"$out" 2>&1 & else "$@" >"$out" 2>"$err" & fi
    CHILD=$!
    wait "$CHILD" || rc=$?
    CHILD=
    return "$rc"
}

# run_wrk NAME CONNS SECONDS OUTFILE: wrk output (stdout+stderr) -> OUTFILE
run_wrk() {
    local rc=0
    run_child "$4" + taskset -c "$CLIENT_CPU" wrk -t1 -c"$2" -d"${3}s" --latency \
        "http://$HOST:${PORT[$1]}/health" || rc=$?
    ((rc == 0)) || warn "wrk against $1 (c=$2) exited with status $rc"
}

# bench_one NAME CONNS ROUND
bench_one() {
    local name=$1 c=$2 round=$3 out=$WORK/wrk-$1-c$2-r$3.txt rps p50 p99 errs rss
    run_wrk "$name" "$c" "$DURATION" "$out"
    read -r rps p50 p99 errs <<<"$(parse_wrk <"$out")"
    require_alive "$name"
    rss=$(rss_kib "${PID[$name]}")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "$round" "$rps" "$p50" "$p99" "$rss" "$errs" >>"$RESULTS"
    if [[ $rps == NA || $p50 == NA || $p99 == NA ]]; then
        warn "could not parse wrk output for $name c=$c; wrk said:"
        sed 's/^/    /' "$out" >&2
    fi
    printf '  round %d/%d  %-7s c=%-4s %10s req/s  p50 %8s  p99 %8s  rss %9s%s\n' \
        "$round" "$ROUNDS" "$name" "$c" "$rps" "$(fmt_us "$p50")" "$(fmt_us "$p99")" "$(fmt_mib "$rss")" \
        "$( ((errs > 0)) && echo "  ($errs socket errors/non-2xx)")" >&2
}

# median SERVER CONNS COLUMN -> median over rounds (NA values ignored)
median() {
    awk -F'\t' -v s="$1" -v c="$2" -v col="$3" '$1 == s && $2 == c && $col != "NA" { print $col }' "$RESULTS" |
        sort -g |
        awk '{ a[NR] = $1 } END {
            if (NR == 0) { print "NA"; exit }
            if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

max_col() { # max_col SERVER COLUMN
    awk -F'\t' -v s="$1" -v col="$2" '$1 == s && $col != "NA" && ($col + 0 > m || !seen) { m = $col + 0; seen = 1 }
        END { print (seen ? m : "NA") }' "$RESULTS"
}

# run_idle NAME: IDLE_COUNT idle connections, records delta MiB
run_idle() {
    local name=$1 rc=0 line
    run_child "$WORK/idle-$name.out" "$WORK/idle-$name.err" taskset -c "$CLIENT_CPU" \
        python3 "$SCRIPT_DIR/idle_connections.py" \
        --port "${PORT[$name]}" --count "$IDLE_COUNT" --pid "${PID[$name]}" || rc=$?
    sed 's/^/    /' "$WORK/idle-$name.err" >&2
    line=$(grep '^idle_connections ' "$WORK/idle-$name.out" | tail -n 1 || true)
    IDLE_DELTA[$name]=NA
    if [[ -n $line ]]; then
        log "    $line"
        IDLE_DELTA[$name]=$(awk '{ for (i = 1; i < NF; i++) if ($i == "delta_mib") print $(i + 1) }' <<<"$line")
        [[ -n ${IDLE_DELTA[$name]} ]] || IDLE_DELTA[$name]=NA
    fi
    case $rc in
    0) ;;
    3) warn "$name closed some idle connections during the test; its delta is suspect" ;;
    *) warn "idle-connection test against $name failed (exit $rc)" ;;
    esac
    require_alive "$name"
}

# ---------------------------------------------------------------- main ----
log "bench: gateway=$GATEWAY node=$(command -v "$NODE") ($("$NODE" --version))"
log "bench: wrk -t1 -d${DURATION}s, connections: $CONNECTIONS, rounds: $ROUNDS, servers on CPU $SERVER_CPU, client on CPU $CLIENT_CPU, ulimit -n $NOFILE"

start_gateway gateway
IDLE_RSS[gateway]=$(rss_kib "${PID[gateway]}")
start_gateway gw-quiet error
IDLE_RSS[gw-quiet]=$(rss_kib "${PID[gw-quiet]}")
start_node
IDLE_RSS[node]=$(rss_kib "${PID[node]}")
start_libuv
IDLE_RSS[libuv]=$(rss_kib "${PID[libuv]}")
for name in "${SERVERS[@]}"; do
    log "bench: $name pid ${PID[$name]} on port ${PORT[$name]}, idle RSS $(fmt_mib "${IDLE_RSS[$name]}")"
done

if ((WARMUP > 0)); then
    log "bench: warm-up (${WARMUP}s at c=64 per server, not measured)"
    for name in "${SERVERS[@]}"; do
        run_wrk "$name" 64 "$WARMUP" "$WORK/wrk-$name-warmup.txt"
        require_alive "$name"
    done
fi

for ((round = 1; round <= ROUNDS; round++)); do
    for c in $CONNECTIONS; do
        for name in "${SERVERS[@]}"; do
            bench_one "$name" "$c" "$round"
        done
    done
done

if ((IDLE_COUNT > 0)); then
    for name in "${IDLE_SERVERS[@]}"; do
        log "bench: $IDLE_COUNT idle connections against $name"
        run_idle "$name"
    done
fi

# -------------------------------------------------------------- report ----
{
    echo
    echo "=== comfy-gateway vs node and raw libuv ($(basename "$GATEWAY") / $("$NODE" --version)): median of $ROUNDS rounds," \
        "wrk -t1 -d${DURATION}s GET /health, servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU ==="
    printf '%6s  %-8s %12s %10s %10s %16s\n' conns server "req/s" p50 p99 "RSS after load"
    for c in $CONNECTIONS; do
        for name in "${SERVERS[@]}"; do
            rps=$(median "$name" "$c" 4)
            printf '%6s  %-8s %12s %10s %10s %16s\n' "$c" "$name" \
                "$(awk -v v="$rps" 'BEGIN { if (v == "NA") print v; else printf "%.0f\n", v }')" \
                "$(fmt_us "$(median "$name" "$c" 5)")" "$(fmt_us "$(median "$name" "$c" 6)")" \
                "$(fmt_mib "$(median "$name" "$c" 7)")"
        done
        for base in node libuv; do
            printf '%6s  %-8s %12s\n' "$c" "gw/$base" \
                "$(awk -v g="$(median gateway "$c" 4)" -v n="$(median "$base" "$c" 4)" \
                    'BEGIN { if (g == "NA" || n == "NA" || n == 0) print "NA"; else printf "%.2fx\n", g / n }')"
        done
    done
    echo
    printf '%-8s %12s %20s %22s\n' server "idle RSS" "max RSS after load" \
        "$( ((IDLE_COUNT > 0)) && echo "+${IDLE_COUNT} idle conns" || echo "idle conns")"
    for name in "${IDLE_SERVERS[@]}"; do
        d=${IDLE_DELTA[$name]:-NA}
        ((IDLE_COUNT > 0)) || d=skipped
        printf '%-8s %12s %20s %22s\n' "$name" "$(fmt_mib "${IDLE_RSS[$name]}")" \
            "$(fmt_mib "$(max_col "$name" 7)")" "$([[ $d =~ ^-?[0-9.]+$ ]] && printf '%+.1f MiB' "$d" || echo "$d")"
    done
    total_errs=$(awk -F'\t' '{ s += $8 } END { print s + 0 }' "$RESULTS")
    ((total_errs == 0)) || echo "note: wrk reported $total_errs socket errors / non-2xx responses in total (see progress log)"
    echo

    # Verdict: each goal is PASS, FAIL or n/a (missing data).
    verdict=$(awk -v g_rps="$(median gateway 64 4)" -v n_rps="$(median node 64 4)" -v u_rps="$(median libuv 64 4)" \
        -v g_p99="$(median gateway 64 6)" -v n_p99="$(median node 64 6)" \
        -v g_idle="${IDLE_RSS[gateway]}" -v g_delta="${IDLE_DELTA[gateway]:-NA}" -v count="$IDLE_COUNT" '
        function ok(c) { if (c) { pass++; return "PASS" } fail++; return "FAIL" }
        function na(v) { return v == "" || v == "NA" || v == "skipped" }
        function us(v) { return v < 1000 ? sprintf("%.0fus", v) : sprintf("%.2fms", v / 1000) }
        BEGIN {
            if (na(g_rps) || na(n_rps) || n_rps == 0) { s1 = "req/s@64 >= 1.5x node: n/a"; nas++ }
            else s1 = sprintf("req/s@64 %.2fx node (>= 1.5x) %s", g_rps / n_rps, ok(g_rps >= 1.5 * n_rps))
            if (na(g_rps) || na(u_rps) || u_rps == 0) { s0 = "req/s@64 >= 0.8x libuv: n/a"; nas++ }
            else s0 = sprintf("req/s@64 %.2fx libuv (>= 0.8x) %s", g_rps / u_rps, ok(g_rps >= 0.8 * u_rps))
            if (na(g_p99) || na(n_p99)) { s2 = "p99@64 <= node: n/a"; nas++ }
            else s2 = sprintf("p99@64 %s vs node %s %s", us(g_p99), us(n_p99), ok(g_p99 + 0 <= n_p99 + 0))
            if (na(g_idle)) { s3 = "idle RSS < 10 MiB: n/a"; nas++ }
            else s3 = sprintf("idle RSS %.1f MiB (< 10) %s", g_idle / 1024, ok(g_idle < 10 * 1024))
            if (na(g_delta) || count == 0) { s4 = "idle conns < 60 MiB: n/a"; nas++ }
            else s4 = sprintf("%d idle conns %+.1f MiB (< 60) %s", count, g_delta, ok(g_delta < 60))
            overall = fail ? "FAIL" : (nas ? "INCOMPLETE" : "ALL PASS")
            printf "VERDICT: %s (%d/5 pass) | %s | %s | %s | %s | %s\n", overall, pass, s1, s0, s2, s3, s4
        }')
    echo "$verdict"
}
