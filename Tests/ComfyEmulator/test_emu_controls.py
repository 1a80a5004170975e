"""The /__emulator/ controls: drop_sockets, pause, restart, stats (real TCP connection
counting with keep-alive vs new connections), faults (hang, reset, status) and emit_progress
(paced progress fan-out to the prompts' client sockets)."""
import http.client
import socket
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from conftest import wait_until
from emu_helpers import (EMPTY_SAVE, collect_until, drain, history, is_done, recv_frame,
                         slow_prompt, stats, submit, types, wait_history, ws_connect)


def control(emu, name, body=None):
    r = httpx.post(f"{emu.base}/__emulator/{name}", json=body if body is not None else {})
    assert r.status_code == 200, r.text
    return r.json()


def test_controls_are_not_aliased_under_api(emulator):
    assert httpx.get(emulator.base + "/__emulator/stats").status_code == 200
    assert httpx.get(emulator.base + "/api/__emulator/stats").status_code == 404


def test_drop_sockets_closes_without_close_frame(emulator):
    ws1 = ws_connect(emulator, "a")
    ws2 = ws_connect(emulator)
    recv_frame(ws1), recv_frame(ws2)
    assert httpx.get(emulator.base + "/__emulator/stats").json()["websockets_open"] == 2
    assert control(emulator, "drop_sockets") == {"dropped": 2}
    for ws in (ws1, ws2):
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
        assert info.value.rcvd is None  # no close frame from the server: abnormal closure (1006)
    assert wait_until(lambda: httpx.get(emulator.base + "/__emulator/stats").json()["websockets_open"] == 0)
    # the server keeps working and new sockets are accepted
    ws3 = ws_connect(emulator, "a")
    assert recv_frame(ws3)["data"]["sid"] == "a"
    ws3.close()


def test_pause_holds_the_queue(emulator):
    assert control(emulator, "pause", {"paused": True}) == {"paused": True}
    pid = submit(emulator, EMPTY_SAVE).json()["prompt_id"]
    time.sleep(0.3)
    q = httpx.get(emulator.base + "/queue").json()
    assert q["queue_running"] == [] and [i[1] for i in q["queue_pending"]] == [pid]
    assert history(emulator, pid) == {}
    assert control(emulator, "pause", {"paused": False}) == {"paused": False}
    assert wait_history(emulator, pid)["status"]["status_str"] == "success"


def test_restart_loses_everything_in_memory(emulator):
    done = submit(emulator, EMPTY_SAVE).json()["prompt_id"]
    wait_history(emulator, done)
    preview = {"1": EMPTY_SAVE["1"], "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    wait_history(emulator, submit(emulator, preview).json()["prompt_id"])
    assert list((emulator.root / "temp").iterdir())

    ws = ws_connect(emulator, "c1")
    ws.send('{"type": "feature_flags", "data": {"supports_preview_metadata": true}}')
    collect_until(ws, lambda f: f.get("type") == "feature_flags")
    running = submit(emulator, slow_prompt(steps=100, delay_ms=50), client_id="c1").json()["prompt_id"]
    pending = submit(emulator, EMPTY_SAVE, client_id="c1").json()["prompt_id"]
    collect_until(ws, lambda f: f.get("type") == "progress")

    keepalive = http.client.HTTPConnection("127.0.0.1", emulator.port)
    keepalive.request("GET", "/prompt")
    keepalive.getresponse().read()

    r = httpx.post(emulator.base + "/__emulator/restart", json={})
    assert r.status_code == 200 and r.json() == {"restarted": True}

    with pytest.raises(ConnectionClosed) as info:
        while True:
            f = recv_frame(ws)
            assert f.get("type") not in ("execution_interrupted", "execution_error", "execution_success")
    assert info.value.rcvd is None
    # other HTTP connections were closed like a dying process would
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        keepalive.request("GET", "/prompt")
        keepalive.getresponse().read()

    assert httpx.get(emulator.base + "/queue").json() == {"queue_running": [], "queue_pending": []}
    assert httpx.get(emulator.base + "/history").json() == {}
    for pid in (done, running, pending):
        assert history(emulator, pid) == {}
    assert list((emulator.root / "temp").iterdir()) == []
    assert list((emulator.root / "output").iterdir())  # output survives

    ws2 = ws_connect(emulator, "c1")
    first = recv_frame(ws2)
    assert first == {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": "c1"}}
    # priority counter back to 0, the previous cache is gone, flags were reset
    r = submit(emulator, slow_prompt(steps=1, delay_ms=0, preview=True), client_id="c1").json()
    assert r["number"] == 0
    frames = collect_until(ws2, is_done(r["prompt_id"]))
    cached = next(f for f in frames if f.get("type") == "execution_cached")
    assert cached["data"]["nodes"] == []
    assert "BIN1" in types(frames) and "BIN4" not in types(frames)
    ws2.close()


def test_stats_count_real_tcp_connections(emulator):
    probe = http.client.HTTPConnection("127.0.0.1", emulator.port)
    s0 = stats(probe)
    assert s0["connections_open"] >= 1

    keep = http.client.HTTPConnection("127.0.0.1", emulator.port)
    for _ in range(5):
        keep.request("GET", "/system_stats")
        assert keep.getresponse().read()
    s1 = stats(probe)
    assert s1["connections_accepted"] - s0["connections_accepted"] == 1
    assert s1["requests"] - s0["requests"] == 6  # 5 + this stats request
    assert s1["connections_open"] == s0["connections_open"] + 1

    for _ in range(4):
        c = http.client.HTTPConnection("127.0.0.1", emulator.port)
        c.request("GET", "/prompt", headers={"Connection": "close"})
        c.getresponse().read()
        c.close()
    s2 = stats(probe)
    assert s2["connections_accepted"] - s1["connections_accepted"] == 4
    keep.close()
    assert wait_until(lambda: stats(probe)["connections_open"] == s0["connections_open"])

    with httpx.Client(base_url=emulator.base) as pooled:  # a pooling client reuses one connection
        for _ in range(10):
            pooled.get("/queue")
    s3 = stats(probe)
    assert s3["connections_accepted"] - s2["connections_accepted"] == 1


def test_fault_status(emulator):
    control(emulator, "faults", {"status": {"/queue": 503}})
    for path in ("/queue", "/api/queue"):
        r = httpx.get(emulator.base + path)
        assert r.status_code == 503 and r.text
    assert httpx.get(emulator.base + "/prompt").status_code == 200
    assert control(emulator, "faults", {}) == {"hang": [], "reset": [], "status": {}}
    assert httpx.get(emulator.base + "/queue").status_code == 200


def test_fault_hang(emulator):
    control(emulator, "faults", {"hang": ["/system_stats"]})
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(emulator.base + "/api/system_stats", timeout=0.5)
    # the server stays responsive meanwhile
    assert httpx.get(emulator.base + "/features", timeout=2).status_code == 200
    control(emulator, "faults", {})
    assert httpx.get(emulator.base + "/system_stats", timeout=2).status_code == 200


def test_fault_reset(emulator):
    (emulator.root / "output" / "x.png").write_bytes(b"\x89PNG....")
    control(emulator, "faults", {"reset": ["/view"]})
    s = socket.create_connection(("127.0.0.1", emulator.port))
    s.sendall(b"GET /view?filename=x.png HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data = b""
    with pytest.raises(ConnectionResetError):
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break  # a FIN instead of a RST would end here and fail the test
            data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Length: 4096" in data and len(data) < 4096
    with pytest.raises(httpx.TransportError):
        httpx.get(emulator.base + "/api/view?filename=x.png")
    control(emulator, "faults", {})
    assert httpx.get(emulator.base + "/view?filename=x.png").status_code == 200


def test_fault_on_websocket_upgrade(emulator):
    control(emulator, "faults", {"status": {"/ws": 502}})
    with pytest.raises(Exception) as info:
        ws_connect(emulator, "x")
    assert "502" in str(info.value)
    control(emulator, "faults", {})
    ws = ws_connect(emulator, "x")
    ws.close()


def test_pause_does_not_stop_a_running_prompt(emulator):
    ws = ws_connect(emulator, "p")
    recv_frame(ws)
    pid = submit(emulator, slow_prompt(steps=3, delay_ms=50), client_id="p").json()["prompt_id"]
    collect_until(ws, lambda f: f.get("type") == "executing" and f["data"].get("node") == "2")
    control(emulator, "pause", {"paused": True})
    second = submit(emulator, EMPTY_SAVE, client_id="p").json()["prompt_id"]
    collect_until(ws, is_done(pid))
    time.sleep(0.2)
    assert [i[1] for i in httpx.get(emulator.base + "/queue").json()["queue_pending"]] == [second]
    control(emulator, "pause", {"paused": False})
    collect_until(ws, is_done(second))
    ws.close()


def test_restart_with_downtime_refuses_connections(emulator):
    r = httpx.post(emulator.base + "/__emulator/restart", json={"down_ms": 400})
    assert r.json() == {"restarted": True}
    with pytest.raises(httpx.TransportError):
        httpx.get(emulator.base + "/system_stats", timeout=2)
    assert wait_until(lambda: _up(emulator), timeout=5)


def _up(emu):
    try:
        return httpx.get(emu.base + "/system_stats", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_emit_progress_fans_out_to_the_prompts_client_only(emulator):
    control(emulator, "pause", {"paused": True})
    ws_a, ws_b = ws_connect(emulator, "A"), ws_connect(emulator, "B")
    recv_frame(ws_a), recv_frame(ws_b)
    pids = [submit(emulator, EMPTY_SAVE, client_id="A").json()["prompt_id"] for _ in range(2)]
    assert control(emulator, "emit_progress", {"rate": 100, "seconds": 0.2}) == {"prompts": 2, "messages": 40}

    got = {pid: [] for pid in pids}
    deadline = time.monotonic() + 10
    while sum(len(v) for v in got.values()) < 40:
        f = recv_frame(ws_a, max(deadline - time.monotonic(), 0.01))
        received_ns = time.monotonic_ns()
        if f.get("type") != "progress":
            continue
        d = f["data"]
        assert d["node"] == "1" and d["max"] == 20
        assert isinstance(d["sent_ns"], int) and not isinstance(d["sent_ns"], bool)
        assert d["sent_ns"] <= received_ns and received_ns - d["sent_ns"] < 1_000_000_000
        got[d["prompt_id"]].append(d["value"])
    assert got == {pid: list(range(1, 21)) for pid in pids}
    assert "progress" not in types(drain(ws_a, 0.3))  # exactly 20 per prompt, nothing more
    assert "progress" not in types(drain(ws_b, 0.3))

    control(emulator, "pause", {"paused": False})
    for pid in pids:  # read A's frames (an unread backlog would stall the client's close)
        assert "execution_success" in types(collect_until(ws_a, is_done(pid)))
    ws_a.close(), ws_b.close()


def test_emit_progress_rejects_bad_parameters(emulator):
    for body in ({"rate": 0}, {"rate": 1001}, {"seconds": 0}, {"seconds": 601}, {"rate": "50"}):
        r = httpx.post(emulator.base + "/__emulator/emit_progress", json=body)
        assert r.status_code == 400, body
        assert r.headers["content-type"].startswith("application/json") and "error" in r.json()
    # no client_id, nothing to send
    assert control(emulator, "emit_progress") == {"prompts": 0, "messages": 0}


def test_emit_progress_is_cancelled_by_restart(emulator):
    control(emulator, "pause", {"paused": True})
    ws = ws_connect(emulator, "A")
    recv_frame(ws)
    submit(emulator, EMPTY_SAVE, client_id="A")
    assert control(emulator, "emit_progress", {"rate": 50, "seconds": 60}) == {"prompts": 1, "messages": 3000}
    collect_until(ws, lambda f: f.get("type") == "progress")
    assert control(emulator, "restart") == {"restarted": True}
    with pytest.raises(ConnectionClosed):
        while True:
            recv_frame(ws)
    ws = ws_connect(emulator, "A")  # same client id: a task that survived would write here
    assert "progress" not in types(drain(ws, 0.3))
    ws.close()


def test_emit_progress_is_cancelled_on_shutdown(tmp_path):
    # In process, since asyncio.run (the subprocess) would cancel leftover tasks by itself.
    from comfy_emulator.app import start_in_thread
    emu, port, stop = start_in_thread(str(tmp_path / "inproc"))
    base = f"http://127.0.0.1:{port}"
    stopped = False
    try:
        httpx.post(base + "/__emulator/pause", json={"paused": True})
        with connect(f"ws://127.0.0.1:{port}/ws?clientId=A", max_size=None) as ws:
            recv_frame(ws)
            httpx.post(base + "/prompt", json={"prompt": EMPTY_SAVE, "client_id": "A"})
            r = httpx.post(base + "/__emulator/emit_progress", json={"rate": 50, "seconds": 60})
            assert r.json() == {"prompts": 1, "messages": 3000}
            collect_until(ws, lambda f: f.get("type") == "progress")
            tasks = list(emu.background_tasks)
            assert len(tasks) == 1 and not tasks[0].done()
            stop()  # while the task is sending to this socket
            stopped = True
    finally:
        if not stopped:
            stop()
    assert tasks[0].cancelled() and not emu.background_tasks
