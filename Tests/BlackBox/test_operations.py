"""Black-box tests of the gateway's production features, against the real binary and the ComfyUI
emulator on loopback: the systemd notify protocol (READY, WATCHDOG, RELOADING, STOPPING),
socket activation (systemd-socket-activate and a hand-made LISTEN_FDS launch), API keys on REST
and WebSocket routes, keys never reaching the logs (text and JSON), CORS, the Prometheus
/metrics endpoint, and SIGHUP reloads of API_KEYS / CORS_ORIGINS from the env file.

Every gateway is stopped with SIGTERM and must exit 0."""
import base64
import json
import os
import signal
import socket
import statistics
import time
import uuid

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from ops_helpers import (Launched, NotifyListener, WSClient, can_connect, cmdline, fields, gateway_args,
                         launched, scrape, upgrade_request, wait_listening)
from rest_stack import (API, BINARY, Emulator, assert_error, empty_save, free_port, running_gateway, unique,
                        wait_until)

KEY1, KEY2 = "key-one", "key-two"
KEYS_ENV = {"API_KEYS": f"{KEY1},{KEY2}"}
ORIGINS = "https://app.example,http://localhost:3000"
WS = f"{API}/ws"


def cid(tag="ops"):
    return f"{tag}-{unique()}-{uuid.uuid4().hex[:6]}"


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    e = Emulator(tmp_path_factory.mktemp("ops-emu") / "root", tmp_path_factory.mktemp("ops-emu-log") / "emu.log")
    yield e
    e.stop()


@pytest.fixture(scope="module")
def keyed(emu, tmp_path_factory):
    """A gateway with API_KEYS=key-one,key-two (from the environment)."""
    with running_gateway(tmp_path_factory.mktemp("keyed"), emu.base, env=KEYS_ENV) as gw:
        yield gw


@pytest.fixture(scope="module")
def plain(emu, tmp_path_factory):
    """A gateway with neither API_KEYS nor CORS_ORIGINS."""
    with running_gateway(tmp_path_factory.mktemp("plain"), emu.base) as gw:
        yield gw


# ============================================================================================
# A. systemd notify protocol

WATCHDOG_CASES = {
    # name: (notify address kind, extra environment, expect WATCHDOG=1 pings)
    "abstract-watchdog": ("abstract", {"WATCHDOG_USEC": "400000"}, True),
    "path-watchdog-other-pid": ("path", {"WATCHDOG_USEC": "400000", "WATCHDOG_PID": str(os.getpid())}, False),
    "path-no-watchdog": ("path", {}, False),
}


@pytest.mark.parametrize("case", list(WATCHDOG_CASES))
def test_notify_ready_watchdog_reload_stopping(emu, tmp_path, case):
    kind, extra_env, pings = WATCHDOG_CASES[case]
    address = f"@cg-notify-{os.getpid()}-{uuid.uuid4().hex[:10]}" if kind == "abstract" else str(tmp_path / "n.sock")
    assert len(address) < 100, address
    listener = NotifyListener(address)
    port = free_port()
    proc = Launched(gateway_args(port, emu.base, tmp_path), tmp_path,
                    env={"NOTIFY_SOCKET": address, **extra_env})
    try:
        # READY=1 first, and the port accepts as soon as it arrives.
        listener.wait_for(lambda m: True, timeout=20, what="first datagram")
        connected_after_ready = can_connect(port, timeout=1)
        first = listener.snapshot()[0][1]
        f = fields(first)
        assert f.get("READY") == "1", first
        assert f.get("MAINPID") == str(proc.pid), (first, proc.pid)
        assert f.get("STATUS", "").startswith(f"Listening on 127.0.0.1:{port}; ComfyUI at "), first
        assert emu.base in f["STATUS"], first
        assert connected_after_ready, f"port {port} refused a connection right after READY=1"

        # WATCHDOG=1 every WATCHDOG_USEC/2 = 200 ms, only when the watchdog is ours.
        watch = 2.0 if pings else 1.2
        start = len(listener.snapshot())
        time.sleep(watch)
        window = listener.snapshot()[start:]
        dog_times = [t for t, m in window if "WATCHDOG=1" in m.split("\n")]
        if pings:
            assert len(dog_times) >= 7, f"{len(dog_times)} WATCHDOG=1 in {watch}s: {[m for _, m in window]}"
            intervals = [b - a for a, b in zip(dog_times, dog_times[1:])]
            median = statistics.median(intervals)
            assert 0.150 <= median <= 0.300, (median, intervals)
            assert all(m == "WATCHDOG=1" for t, m in window if t in dog_times), window
        else:
            assert not dog_times, f"WATCHDOG=1 sent although {extra_env or 'no WATCHDOG_USEC'}: {window}"

        # SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 again.
        start = len(listener.snapshot())
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        proc.proc.send_signal(signal.SIGHUP)
        i = listener.wait_for(lambda m: "RELOADING=1" in m.split("\n"), start, what="RELOADING=1")
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        reloading = fields(listener.snapshot()[i][1])
        assert "MONOTONIC_USEC" in reloading, reloading
        mono = int(reloading["MONOTONIC_USEC"])
        assert before - 1000 <= mono <= after + 1000, (before, mono, after)
        listener.wait_for(lambda m: "READY=1" in m.split("\n"), i + 1, what="READY=1 after RELOADING=1")
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200

        # SIGTERM: STOPPING=1 with a STATUS= line, exit 0.
        start = len(listener.snapshot())
        proc.proc.send_signal(signal.SIGTERM)
        j = listener.wait_for(lambda m: "STOPPING=1" in m.split("\n"), start, what="STOPPING=1")
        assert "STATUS" in fields(listener.snapshot()[j][1]), listener.snapshot()[j]
        rc = proc.proc.wait(20)
        assert rc == 0, f"exit {rc}:\n{proc.log_text()}"
    finally:
        rc = proc.stop()
        listener.close()
    assert rc == 0, proc.log_text()


# ============================================================================================
# B. socket activation

def assert_serves_health(port):
    r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}, (r.status_code, r.text)


def test_socket_activation_with_systemd_socket_activate(emu, tmp_path):
    port, other = free_port(), free_port()
    # the launcher passes on only the variables it is told to (a sanitizer build needs its options)
    passed = [arg for name in ("ASAN_OPTIONS", "TSAN_OPTIONS") if name in os.environ for arg in ("-E", name)]
    argv = ["/usr/bin/systemd-socket-activate", "-l", f"127.0.0.1:{port}", *passed,
            *gateway_args(other, emu.base, tmp_path)]
    with launched(argv, tmp_path) as p:
        # the launcher listens first; the first connection makes it exec the gateway
        def first_health():
            if p.proc.poll() is not None:
                raise AssertionError(f"launcher exited {p.proc.returncode}:\n{p.log_text()}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
            except httpx.TransportError:
                return None
        r = wait_until(first_health, 20, interval=0.05, message="health on the activated socket")
        assert r.status_code == 200 and r.json() == {"status": "ok"}, r.text
        assert os.path.basename(cmdline(p.pid)[0]) == BINARY.name, cmdline(p.pid)
        for _ in range(3):
            assert_serves_health(port)
        assert not can_connect(other), f"something listens on --port {other} although a socket was passed"
        wait_until(lambda: "socket activation" in p.log_text(), 5, message="start-up log line")
        assert f"listening on 127.0.0.1:{port} (socket activation)" in p.log_text(), p.log_text()


def _spawn_with_fd3(listening: socket.socket, listen_pid_expr: str, argv, workdir):
    fd = listening.fileno()

    def dup_to_3():
        if fd != 3:
            os.dup2(fd, 3)
        os.set_inheritable(3, True)

    script = f'LISTEN_PID={listen_pid_expr} LISTEN_FDS=1 exec "$0" "$@"'
    return launched(["/bin/sh", "-c", script, *argv], workdir, extra_preexec=dup_to_3, close_fds=False)


def test_socket_activation_by_hand_fd3(emu, tmp_path):
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(64)
        port = lsock.getsockname()[1]
        other = free_port()
        with _spawn_with_fd3(lsock, "$$", gateway_args(other, emu.base, tmp_path), tmp_path) as p:
            wait_until(lambda: "listening on" in p.log_text() or p.proc.poll() is not None, 20,
                       message="start-up log line")
            assert p.proc.poll() is None, p.log_text()
            lsock.close()  # only the gateway's copy is left
            for _ in range(3):
                assert_serves_health(port)
            assert not can_connect(other), f"something listens on --port {other} although fd 3 was passed"
            assert "socket activation" in p.log_text(), p.log_text()


def test_socket_activation_ignored_for_another_pid(emu, tmp_path):
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(64)
        port = lsock.getsockname()[1]
        other = free_port()
        with _spawn_with_fd3(lsock, "1", gateway_args(other, emu.base, tmp_path), tmp_path) as p:
            wait_listening(p, other)
            assert_serves_health(other)
            assert "socket activation" not in p.log_text(), p.log_text()
            # the inherited socket is not served: the kernel queues the connection, nobody answers
            with pytest.raises(httpx.TimeoutException):
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=httpx.Timeout(0.5))


# ============================================================================================
# C. API keys

PROTECTED = [f"{API}/queue/status", "/metrics", "/openapi.json", "/docs"]


def assert_401(r, challenge_error=None):
    error = assert_error(r, 401, "UNAUTHORIZED")
    challenge = r.headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer"), r.headers
    if challenge_error:
        assert f'error="{challenge_error}"' in challenge, challenge
    return error


@pytest.mark.parametrize("path", PROTECTED)
def test_api_key_required_on_protected_route(keyed, path):
    c = keyed.client
    assert_401(c.get(path))
    assert_401(c.get(path, headers=bearer("wrong")), "invalid_token")
    assert_401(c.get(path, headers={"X-API-Key": "wrong"}), "invalid_token")
    assert_401(c.get(path, headers={"Authorization": "Basic " + base64.b64encode(b"u:key-one").decode()}))
    assert_401(c.get(path, headers={**bearer(KEY1), "X-API-Key": KEY2}))
    assert_401(c.get(path, params={"token": KEY1}))
    for headers in (bearer(KEY1), {"Authorization": f"bearer {KEY2}"}, {"Authorization": f"BEARER {KEY1}"},
                    {"X-API-Key": KEY2}, {**bearer(KEY1), "X-API-Key": KEY1}):
        r = c.get(path, headers=headers)
        assert r.status_code == 200, (headers, r.status_code, r.text[:300])


def test_api_key_open_routes_and_unknown_paths(keyed):
    c = keyed.client
    r = c.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}, r.text
    assert c.get("/health", headers=bearer("wrong")).status_code == 200
    r = c.get("/ready")
    assert r.status_code in (200, 503), r.text
    assert r.status_code != 401
    # unknown routes do not reveal themselves without a key
    for path in ("/nope/x", f"{API}/nope", "/admin"):
        assert_401(c.get(path))
        assert_error(c.get(path, headers=bearer(KEY1)), 404, "NOT_FOUND")


def test_api_key_on_websocket_upgrade(keyed):
    port = keyed.port
    status, headers, body = upgrade_request(port, f"{WS}/c1")
    assert status == 401, (status, headers, body)
    assert headers.get("www-authenticate", "").startswith("Bearer"), headers
    assert json.loads(body)["error"]["code"] == "UNAUTHORIZED", body
    status, headers, body = upgrade_request(port, f"{WS}/c1?token=wrong")
    assert status == 401, (status, headers, body)
    assert 'error="invalid_token"' in headers.get("www-authenticate", ""), headers
    status, headers, _ = upgrade_request(port, f"{WS}/c1", {"X-API-Key": "wrong"})
    assert status == 401, (status, headers)
    with pytest.raises(InvalidStatus) as exc:
        with connect(f"ws://127.0.0.1:{port}{WS}/c1", open_timeout=10):
            pass
    assert exc.value.response.status_code == 401
    for kw in ({"token": KEY1}, {"headers": bearer(KEY1)}, {"headers": {"X-API-Key": KEY2}}):
        with WSClient(port, "c1", **kw) as s:
            assert s.hello["type"] == "system" and s.hello["data"]["event"] == "connected", (kw, s.hello)
            s.ping()


def test_api_key_submit_end_to_end_with_websocket_token(keyed):
    client_id = cid("e2e")
    with WSClient(keyed.port, client_id, token=KEY2) as s:
        r = keyed.client.post(f"{API}/workflows/submit", headers=bearer(KEY1),
                              json={"workflow": empty_save(), "client_id": client_id})
        assert r.status_code == 200, r.text
        prompt_id = r.json()["prompt_id"]
        msg = s.terminal(prompt_id)
        assert msg["type"] == "result" and msg["data"]["status"] == "success", msg
        assert msg["data"]["images"], msg
    assert_401(keyed.client.post(f"{API}/workflows/submit", json={"workflow": empty_save()}))


def test_api_keys_from_command_line_flag(emu, tmp_path):
    with running_gateway(tmp_path, emu.base, extra_args=["--api-keys", f"{KEY1},{KEY2}"]) as gw:
        assert_401(gw.client.get(f"{API}/queue/status"))
        assert gw.client.get(f"{API}/queue/status", headers={"X-API-Key": KEY2}).status_code == 200
        assert upgrade_request(gw.port, f"{WS}/flag")[0] == 401
        assert upgrade_request(gw.port, f"{WS}/flag?token={KEY1}")[0] == 101


def test_without_api_keys_everything_is_open(plain):
    c = plain.client
    for path in PROTECTED + ["/health", "/ready", "/redoc"]:
        for headers in ({}, bearer("wrong"), {"X-API-Key": "wrong"}, {"Authorization": "Basic eHh4"}):
            r = c.get(path, headers=headers)
            assert r.status_code != 401, (path, headers, r.status_code, r.text[:300])
            assert "www-authenticate" not in r.headers, (path, r.headers)
    assert_error(c.get("/nope/x"), 404, "NOT_FOUND")
    assert upgrade_request(plain.port, f"{WS}/{cid('open')}")[0] == 101
    assert upgrade_request(plain.port, f"{WS}/{cid('open')}?token=wrong")[0] == 101


# ============================================================================================
# D. keys never reach the logs

RIGHT_KEY = "sekrit-right-3f9a1c77b2"
WRONG_KEY = "sekrit-wrong-81d0e4aa5c"


def exercise_keys(gw):
    """Requests carrying the keys in every form (right and wrong)."""
    c = gw.client
    basic = base64.b64encode(f"user:{RIGHT_KEY}".encode()).decode()
    for key in (RIGHT_KEY, WRONG_KEY):
        c.get(f"{API}/queue/status", headers=bearer(key))
        c.get(f"{API}/queue/status", headers={"Authorization": f"bearer {key}"})
        c.get(f"{API}/queue/status", headers={"X-API-Key": key})
        c.get(f"{API}/queue/status", params={"token": key})
        c.get(f"{API}/queue/status", params={"a": "1", "token": key, "b": "2"}, headers={"X-API-Key": key})
        c.get("/nope/x", params={"token": key}, headers=bearer(key))
        c.get("/health", params={"token": key}, headers=bearer(key))
        c.post(f"{API}/workflows/submit", headers={"X-API-Key": key}, json={"workflow": {"bad": "node"}})
        upgrade_request(gw.port, f"{WS}/{cid('logs')}?token={key}")
        upgrade_request(gw.port, f"{WS}/{cid('logs')}?x=1&token={key}")
        upgrade_request(gw.port, f"{WS}/{cid('logs')}", bearer(key))
    c.get(f"{API}/queue/status", headers={**bearer(RIGHT_KEY), "X-API-Key": WRONG_KEY})
    c.get(f"{API}/queue/status", headers={"Authorization": f"Basic {basic}"})
    with WSClient(gw.port, cid("logs"), token=RIGHT_KEY) as s:
        s.ping()
    return [RIGHT_KEY, WRONG_KEY, basic]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_logs_never_contain_keys(emu, tmp_path, log_format):
    env = {"API_KEYS": f"{RIGHT_KEY},other-right-key-5521", "LOG_FORMAT": log_format}
    with running_gateway(tmp_path, emu.base, env=env, extra_args=["--log-level", "debug"]) as gw:
        secrets = exercise_keys(gw) + ["other-right-key-5521"]
        log_path = gw.log_path
    text = log_path.read_text(errors="replace")
    assert text.strip(), "empty gateway log"
    for secret in secrets:
        leaked = [line for line in text.splitlines() if secret in line]
        assert not leaked, f"{secret!r} in the gateway log:\n" + "\n".join(leaked[:10])
    ws_lines = [line for line in text.splitlines() if f"{WS}/" in line and "token=" in line]
    assert ws_lines, f"no WebSocket access log line with token=:\n{text[-3000:]}"
    assert all("token=REDACTED" in line for line in ws_lines), ws_lines
    if log_format == "json":
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                raise AssertionError(f"stderr line is not JSON: {line!r}") from None
            assert isinstance(record, dict) and {"ts", "level", "label", "message"} <= set(record), line


# ============================================================================================
# E. CORS

def preflight(client, origin, path=f"{API}/workflows/submit", method="POST", headers="content-type, x-api-key"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return client.options(path, headers=h)


def vary(r):
    return [v.strip().lower() for v in r.headers.get("vary", "").split(",")]


@pytest.fixture(scope="module")
def cors(emu, tmp_path_factory):
    with running_gateway(tmp_path_factory.mktemp("cors"), emu.base,
                         env={"CORS_ORIGINS": ORIGINS, "API_KEYS": KEY1}) as gw:
        yield gw


@pytest.mark.parametrize("origin", ["https://app.example", "http://localhost:3000"])
def test_cors_preflight_allowed_without_key(cors, origin):
    r = preflight(cors.client, origin)
    assert r.status_code == 204, (r.status_code, r.headers, r.text)
    assert r.headers.get("access-control-allow-origin") == origin, r.headers
    assert "origin" in vary(r), r.headers
    methods = [m.strip() for m in r.headers.get("access-control-allow-methods", "").split(",")]
    assert "POST" in methods and "OPTIONS" in methods, r.headers
    assert r.headers.get("access-control-allow-headers", "").lower() == "content-type, x-api-key", r.headers
    assert r.headers.get("access-control-max-age") == "600", r.headers


def test_cors_preflight_from_other_origin_is_refused(cors):
    r = preflight(cors.client, "https://evil.example")
    error = assert_error(r, 400, "INVALID_REQUEST")
    assert "access-control-allow-origin" not in r.headers, r.headers
    assert error["details"].get("origin") == "https://evil.example", error


def test_cors_simple_requests(cors):
    c = cors.client
    r = c.get("/health", headers={"Origin": "https://app.example"})
    assert r.status_code == 200
    assert r.headers.get("access-control-allow-origin") == "https://app.example", r.headers
    expose = [h.strip().lower() for h in r.headers.get("access-control-expose-headers", "").split(",")]
    assert "x-request-id" in expose, r.headers
    assert "origin" in vary(r), r.headers
    r = c.get(f"{API}/queue/status", headers={"Origin": "http://localhost:3000"})
    assert_401(r)
    assert r.headers.get("access-control-allow-origin") == "http://localhost:3000", r.headers
    r = c.get(f"{API}/queue/status", headers={"Origin": "https://app.example", "X-API-Key": KEY1})
    assert r.status_code == 200 and r.headers.get("access-control-allow-origin") == "https://app.example", r.headers
    for origin in ("https://evil.example", "https://app.example.evil", "null"):
        r = c.get("/health", headers={"Origin": origin})
        assert r.status_code == 200
        assert "access-control-allow-origin" not in r.headers, (origin, r.headers)


def test_cors_any_origin(emu, tmp_path):
    with running_gateway(tmp_path, emu.base, env={"CORS_ORIGINS": "*"}) as gw:
        r = gw.client.get("/health", headers={"Origin": "https://whoever.example"})
        assert r.headers.get("access-control-allow-origin") == "*", r.headers
        r = preflight(gw.client, "https://whoever.example")
        assert r.status_code == 204 and r.headers.get("access-control-allow-origin") == "*", (r.status_code, r.headers)


def test_cors_off_when_unset(plain):
    r = plain.client.get("/health", headers={"Origin": "https://app.example"})
    assert not [h for h in r.headers if h.lower().startswith("access-control-")], r.headers
    r = preflight(plain.client, "https://app.example")
    assert_error(r, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in r.headers.get("allow", ""), r.headers
    assert not [h for h in r.headers if h.lower().startswith("access-control-")], r.headers


# ============================================================================================
# F. /metrics

REQUIRED_SERIES = [
    ("comfy_gateway_open_connections", {}),
    ("comfy_gateway_websocket_subscribers", {}),
    ("comfy_gateway_upstream_connected", {}),
    ("comfy_gateway_upstream_ready", {}),
    ("comfy_gateway_jobs", {"state": "pending"}),
    ("comfy_gateway_jobs", {"state": "running"}),
    *[("comfy_gateway_jobs_finished_total", {"state": s}) for s in ("success", "error", "interrupted", "lost")],
    ("comfy_gateway_websocket_messages_dropped_total", {}),
    ("comfy_gateway_websocket_slow_closed_total", {}),
    ("comfy_gateway_streamed_bytes_total", {"kind": "http_body"}),
    ("comfy_gateway_streamed_bytes_total", {"kind": "websocket"}),
]
REQ = "comfy_gateway_http_requests_total"
DUR = "comfy_gateway_http_request_duration_seconds"


def test_metrics_exposition_and_request_counters(plain):
    c = plain.client
    c.get("/health")
    m = scrape(c)
    for name, labels in REQUIRED_SERIES:
        assert m.get(name, **labels) is not None, f"missing {name}{labels}:\n{m.text[:3000]}"
    for lb, _ in m.find(REQ):
        assert set(lb) == {"route", "method", "status"}, lb
    assert m.find(f"{DUR}_bucket") and m.find(f"{DUR}_sum") and m.find(f"{DUR}_count"), m.text[:3000]
    assert m.types.get(DUR) == "histogram", m.types

    health = {"route": "/health", "method": "GET", "status": "200"}
    before = m.get(REQ, **health) or 0.0
    count_before = m.total(f"{DUR}_count", route="/health", method="GET")
    for _ in range(5):
        assert c.get("/health").status_code == 200
    m2 = scrape(c)
    assert m2.get(REQ, **health) == before + 5, (before, m2.find(REQ, route="/health"))
    assert m2.total(f"{DUR}_count", route="/health", method="GET") == count_before + 5
    buckets = m2.find(f"{DUR}_bucket", route="/health", method="GET")
    inf = [v for lb, v in buckets if lb.get("le") == "+Inf"]
    assert inf and inf[0] == m2.total(f"{DUR}_count", route="/health", method="GET"), buckets
    values = [v for lb, v in sorted(buckets, key=lambda b: float(b[0]["le"]))]
    assert values == sorted(values), buckets

    # unmatched paths and odd methods cannot mint label values
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    before = m2.get(REQ, **unmatched) or 0.0
    assert c.get(f"/nope/{uuid.uuid4().hex}").status_code == 404
    r = c.request("FOO", "/health")
    m3 = scrape(c)
    assert m3.get(REQ, **unmatched) == before + 1, m3.find(REQ, route="unmatched")
    assert not [lb for _, lb, _ in m3.samples if "nope" in lb.get("route", "")], m3.find(REQ)
    assert m3.find(REQ, method="other", status=str(r.status_code)), (r.status_code, m3.find(REQ, method="other"))
    assert not m3.find(REQ, method="FOO"), m3.find(REQ, method="FOO")


def test_metrics_count_401(keyed):
    c = keyed.client
    key = {"X-API-Key": KEY1}
    labels = {"route": f"{API}/queue/status", "method": "GET", "status": "401"}
    m = scrape(c, key)
    before, any_before = m.get(REQ, **labels) or 0.0, m.total(REQ, status="401")
    assert_401(c.get(f"{API}/queue/status"))
    m2 = scrape(c, key)
    assert m2.total(REQ, status="401") == any_before + 1, m2.find(REQ, status="401")
    assert m2.get(REQ, **labels) == before + 1, m2.find(REQ, status="401")


def test_metrics_websocket_jobs_and_streamed_bytes(plain):
    c = plain.client
    client_id = cid("metrics")
    with WSClient(plain.port, client_id) as s:
        wait_until(lambda: scrape(c).get("comfy_gateway_websocket_subscribers") == 1, 10,
                   message="websocket_subscribers == 1")
        wait_until(lambda: scrape(c).get("comfy_gateway_upstream_connected") == 1, 15,
                   message="upstream_connected == 1")
        m = scrape(c)
        assert m.get("comfy_gateway_open_connections") >= 2, m.find("comfy_gateway_open_connections")
        success = m.get("comfy_gateway_jobs_finished_total", state="success")
        ws_bytes = m.get("comfy_gateway_streamed_bytes_total", kind="websocket")
        s.send({"type": "submit", "data": {"workflow": empty_save(size=96)}})
        submitted = s.wait_for(lambda msg: msg["type"] == "system" and msg["data"].get("event") == "submitted")
        prompt_id = submitted["data"]["prompt_id"]
        result = s.terminal(prompt_id)
        assert result["type"] == "result" and result["data"]["status"] == "success", result
        wait_until(lambda: scrape(c).get("comfy_gateway_jobs_finished_total", state="success") >= success + 1, 10,
                   message="jobs_finished_total{success} +1")
        m2 = scrape(c)
        assert m2.get("comfy_gateway_jobs_finished_total", state="success") == success + 1
        assert m2.get("comfy_gateway_streamed_bytes_total", kind="websocket") > ws_bytes

        # pattern, not raw id, in the route label
        assert c.get(f"{API}/workflows/{prompt_id}/history").status_code == 200
        m3 = scrape(c)
        routes = {lb["route"] for lb, _ in m3.find(REQ)}
        assert f"{API}/workflows/:prompt_id/history" in routes, routes
        assert not [r for r in routes if prompt_id in r], routes

        # a download streams its body
        image = result["data"]["images"][0]
        body_before = m3.get("comfy_gateway_streamed_bytes_total", kind="http_body")
        r = c.get(f"{API}/images/download", params={"filename": image["filename"], "subfolder": image["subfolder"],
                                                     "type": image["type"]})
        assert r.status_code == 200 and len(r.content) > 0, r.text[:300]
        wait_until(lambda: scrape(c).get("comfy_gateway_streamed_bytes_total", kind="http_body")
                   >= body_before + len(r.content), 5, message="streamed_bytes_total{http_body} += image size")
    wait_until(lambda: scrape(c).get("comfy_gateway_websocket_subscribers") == 0, 10,
               message="websocket_subscribers back to 0")


def test_metrics_upstream_gauges_drop_when_comfyui_dies(tmp_path):
    emu = Emulator(tmp_path / "emu-root", tmp_path / "emulator.log")
    try:
        with running_gateway(tmp_path / "gw", emu.base) as gw:
            wait_until(lambda: (lambda m: m.get("comfy_gateway_upstream_connected") == 1
                                and m.get("comfy_gateway_upstream_ready") == 1)(scrape(gw.client)), 15,
                       message="upstream connected and ready")
            emu.stop()
            wait_until(lambda: scrape(gw.client).get("comfy_gateway_upstream_connected") == 0, 10,
                       message="upstream_connected == 0 after ComfyUI died")
            # the readiness probe runs every 10 s while ComfyUI answers
            wait_until(lambda: scrape(gw.client).get("comfy_gateway_upstream_ready") == 0, 15, interval=0.2,
                       message="upstream_ready == 0 after ComfyUI died")
            assert gw.client.get("/ready").status_code == 503
    finally:
        emu.stop()


# ============================================================================================
# G. SIGHUP reload

def sighup(gw):
    gw.proc.send_signal(signal.SIGHUP)


def status_with(gw, key):
    return gw.client.get(f"{API}/queue/status", headers=bearer(key)).status_code


def test_sighup_reloads_api_keys_from_env_file(emu, tmp_path):
    env_file = tmp_path / "gw.env"
    env_file.write_text("API_KEYS=old-key\n")
    with running_gateway(tmp_path / "gw", emu.base, extra_args=["--env-file", env_file]) as gw:
        assert status_with(gw, "old-key") == 200
        assert status_with(gw, "new-key") == 401
        with WSClient(gw.port, cid("reload"), token="old-key") as s:
            env_file.write_text("# rotated\nAPI_KEYS=new-key\n")
            sighup(gw)
            wait_until(lambda: status_with(gw, "new-key") == 200, 10, interval=0.1, message="new-key accepted")
            assert status_with(gw, "old-key") == 401
            s.ping("after-reload")  # the socket opened with the old key stays open
        assert upgrade_request(gw.port, f"{WS}/x?token=old-key")[0] == 401
        assert upgrade_request(gw.port, f"{WS}/x?token=new-key")[0] == 101
        assert "configuration reloaded" in gw.log_text(), gw.log_text()


def test_sighup_env_copy_of_file_follows_file_but_own_environment_wins(emu, tmp_path):
    env_file = tmp_path / "gw.env"
    env_file.write_text("API_KEYS=file-key\nCORS_ORIGINS=https://file.example\n")
    # like systemd's EnvironmentFile=: API_KEYS in the environment is a copy of the file's value;
    # CORS_ORIGINS in the environment is the operator's own and differs from the file
    env = {"API_KEYS": "file-key", "CORS_ORIGINS": "https://env.example"}
    with running_gateway(tmp_path / "gw", emu.base, env=env, extra_args=["--env-file", env_file]) as gw:
        def acao(origin):
            return gw.client.get("/health", headers={"Origin": origin}).headers.get("access-control-allow-origin")

        assert status_with(gw, "file-key") == 200
        assert acao("https://env.example") == "https://env.example"
        assert acao("https://file.example") is None
        env_file.write_text("API_KEYS=file-key-2\nCORS_ORIGINS=https://file2.example\n")
        sighup(gw)
        wait_until(lambda: status_with(gw, "file-key-2") == 200, 10, interval=0.1, message="file-key-2 accepted")
        assert status_with(gw, "file-key") == 401
        assert acao("https://env.example") == "https://env.example"
        assert acao("https://file2.example") is None
