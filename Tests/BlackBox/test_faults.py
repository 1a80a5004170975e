"""Fault tests of the real comfy-gateway binary (black box, loopback only): ComfyUI killed and
restarted mid-run, a ComfyUI that accepts and never answers, a reset in the middle of a
download, slow-loris clients, 10,000 idle keep-alive connections, uploads cut off halfway, and
SIGTERM during a large download and during WebSocket runs.

For every fault: nothing is lost, nothing crashes (the gateway still answers /health and exits 0
on SIGTERM), and the client gets the error of docs/api-contract.md in its error shape.
Measurements are printed with the prefix ``FAULTS`` (run with ``-s`` to see them)."""
import json
import signal
import socket
import struct
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from fault_helpers import (BlackHoleServer, SlowLoris, close_all, count_closed, files_only, open_keepalive_connections,
                           parse_head, percentile, raise_nofile, raw_exchange, timed_requests, tree)
from rest_stack import (API, HTTP_TIMEOUT, Emulator, api, assert_error, empty_save,  # noqa: F401
                        multipart, multipart_stream, png, random_png_like, running_gateway, sha256, slow_save, stack,
                        unique, wait_until)
from test_ws_gateway import (TERMINAL, Socket, cid, event_pred, is_prompt_msg, summarize,
                             wait_upstream_connected)

MiB = 1024 * 1024
# The gateway's fixed timeouts (Sources/Routing/Server/HTTPServerConnectionStateMachine.swift,
# HTTPServerConfiguration.swift, MoleculeHealth/UpstreamMonitor.swift).
HEADER_TIMEOUT = 10.0      # a request head must be complete 10 s after its first byte
IDLE_TIMEOUT = 60.0        # an idle keep-alive connection closes after 60 s
DRAIN_SECONDS = 8.0        # graceful shutdown drain of the current binary (SHUTDOWN_DRAIN_SECONDS later)
READY_PROBE_INTERVAL = 10.0  # /ready reflects a /system_stats probe made every 10 s (1-30 s backoff when down)
EXIT_SLACK = 3.0           # process exit after the drain (services shutdown) on a loaded machine
P99_LIMIT_MS = 50.0


def report(**numbers):
    print("FAULTS", json.dumps(numbers, sort_keys=True))


def assert_health(gw):
    r = httpx.get(f"{gw.url}/health", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}, (r.status_code, r.text)


def sigterm_and_wait(gw, limit):
    """SIGTERMs the gateway; returns (exit code, seconds to exit). Kills it after `limit` + 10 s."""
    started = time.monotonic()
    gw.proc.send_signal(signal.SIGTERM)
    try:
        rc = gw.proc.wait(limit + 10)
    except Exception:
        gw.proc.kill()
        gw.proc.wait(5)
        raise AssertionError(f"gateway still running {limit + 10:.0f}s after SIGTERM:\n{gw.log_text()}")
    return rc, time.monotonic() - started


def poll_ready(gw, want_status, timeout):
    """Polls /ready until it answers want_status; returns (response, seconds waited)."""
    started = time.monotonic()
    with httpx.Client(base_url=gw.url, timeout=10) as c:
        r = wait_until(lambda: (lambda r: r if r.status_code == want_status else None)(c.get("/ready")),
                       timeout, interval=0.1, message=f"/ready {want_status}")
    return r, time.monotonic() - started


# --------------------------------------------------------------------------------------------
# 1. ComfyUI killed (SIGKILL) mid-run and restarted on the same port

def test_comfyui_killed_mid_run_and_restarted(tmp_path):
    emu = Emulator(tmp_path / "emu-root", tmp_path / "emulator-1.log")
    emu2 = None
    try:
        with running_gateway(tmp_path / "gw", emu.base) as gw:
            poll_ready(gw, 200, 15)
            wait_upstream_connected(gw)
            client_id = cid("killed")
            with Socket(gw, client_id) as s:
                # a prompt that runs for 20 s; followed on the gateway WebSocket
                r = gw.client.post(f"{API}/workflows/submit",
                                   json={"workflow": slow_save(steps=40, delay_ms=500), "client_id": client_id})
                assert r.status_code == 200, r.text
                pid = r.json()["prompt_id"]
                s.wait_type("progress", prompt_id=pid)
                start = len(s.log)

                emu.proc.kill()                        # ComfyUI dies: no close, no terminal message
                emu.proc.wait(5)
                killed_at = time.monotonic()
                down_i = s.logged_or_wait(lambda m: event_pred("upstream_disconnected")(m) and s.log.index(m) >= start,
                                          timeout=10, what="upstream_disconnected")
                down_after = time.monotonic() - killed_at

                # the outage: /ready 503 CONNECTION_ERROR (after the next probe), REST 502, /health 200
                r503, ready_wait = poll_ready(gw, 503, READY_PROBE_INTERVAL + 8)
                error = assert_error(r503, 503, "CONNECTION_ERROR")
                assert error["details"].get("upstream", "").rstrip("/") == emu.base, error
                assert_error(gw.client.get(f"{API}/queue/status"), 502, "CONNECTION_ERROR")
                assert_health(gw)
                # a socket greeted during the outage hears that the queue is unknown, not the
                # count from before it
                with Socket(gw, cid("during-outage")) as late:
                    status = late.wait_type("status")
                    assert status["data"]["status"]["exec_info"]["queue_remaining"] is None, status

                # ComfyUI comes back on the same port (same folders), knowing nothing of the prompt
                emu2 = Emulator(tmp_path / "emu-root", tmp_path / "emulator-2.log",
                                extra_args=["--port", str(emu.port)])
                assert emu2.port == emu.port
                restarted_at = time.monotonic()
                # the upstream socket reconnects as soon as the health probe finds ComfyUI back
                # (it used to wait out its own backoff, up to 8 s after /ready said 200)
                poll_ready(gw, 200, 40)
                ready_at = time.monotonic()
                up_i = s.logged_or_wait(lambda m: event_pred("upstream_reconnected")(m) and s.log.index(m) > down_i,
                                        timeout=40, what="upstream_reconnected")
                reconnect_after = time.monotonic() - restarted_at
                assert time.monotonic() - ready_at < 2.0, "upstream socket reconnected long after /ready said 200"
                term_i = s.logged_or_wait(lambda m: is_prompt_msg(m, pid) and m["type"] in TERMINAL,
                                          timeout=20, what=f"terminal message of {pid}")
                err = s.log[term_i]
                assert err["type"] == "execution_error", err
                assert err["data"]["exception_type"] == "comfy_gateway.PromptLost", err
                assert err["data"]["error"]["code"] == "WORKFLOW_EXECUTION_ERROR", err
                assert down_i < up_i, summarize(s.log)
                s.drain(1.0)
                terminals = [m for m in s.log if is_prompt_msg(m, pid) and m["type"] in TERMINAL]
                assert len(terminals) == 1, f"{len(terminals)} terminal messages: {summarize(terminals)}"
                # ComfyUI does not know it any more; the ledger does, and says it was lost.
                hist = gw.client.get(f"{API}/workflows/{pid}/history")
                assert hist.status_code == 200 and hist.json()["status"] == "lost", hist.text
                assert hist.json()["error"]["details"]["exception_type"] == "comfy_gateway.PromptLost"

                r200, ready_back = poll_ready(gw, 200, 20)
                # a new run after the restart completes end to end
                r = gw.client.post(f"{API}/workflows/submit", json={"workflow": empty_save(), "client_id": client_id})
                assert r.status_code == 200, r.text
                pid2 = r.json()["prompt_id"]
                result = s.wait_terminal(pid2)
                assert result["type"] == "result" and result["data"]["status"] == "success", result
                assert result["data"]["images"], result
                for image in result["data"]["images"]:
                    got = httpx.get(image["url"], timeout=30)
                    assert got.status_code == 200 and got.content.startswith(b"\x89PNG"), (image, got.status_code)
            assert_health(gw)
            # one line when ComfyUI is first reached and one when it is back, however many
            # probes overlap (the start-up line used to come twice)
            reachable_lines = gw.log_text().count("is reachable")
            assert reachable_lines == 2, gw.log_text()
            report(case="killed", upstream_disconnected_after_s=round(down_after, 2),
                   ready_503_after_s=round(ready_wait, 2), reconnected_after_restart_s=round(reconnect_after, 2),
                   ready_200_after_restart_s=round(ready_back, 2))
    finally:
        if emu.proc.poll() is None:
            emu.proc.kill()
        emu.stop()
        if emu2 is not None:
            emu2.stop()


# --------------------------------------------------------------------------------------------
# 2. A ComfyUI that accepts connections and never answers

def test_comfyui_that_accepts_and_never_answers_is_504(tmp_path):
    hole = BlackHoleServer()
    timeout = 2
    slack = 3.0
    try:
        with running_gateway(tmp_path / "gw", hole.url, timeout=timeout) as gw:
            assert_health(gw)
            body, ctype = multipart({}, [("file", f"hole{unique()}.png", png(), "image/png")])
            calls = {
                "submit": ("POST", f"{API}/workflows/submit", {"json": {"workflow": empty_save()}}),
                "queue status": ("GET", f"{API}/queue/status", {}),
                "queue clear": ("POST", f"{API}/queue/clear", {"json": {"clear": True}}),
                "history": ("GET", f"{API}/workflows/{uuid.uuid4()}/history", {}),
                "images": ("GET", f"{API}/workflows/{uuid.uuid4()}/images", {}),
                "interrupt": ("POST", f"{API}/workflows/interrupt", {"json": {}}),
                "download": ("GET", f"{API}/images/download", {"params": {"filename": f"h{unique()}.png"}}),
                "upload": ("POST", f"{API}/images/upload", {"content": body, "headers": {"Content-Type": ctype}}),
            }

            def call(name):
                method, path, kw = calls[name]
                with httpx.Client(base_url=gw.url, timeout=HTTP_TIMEOUT) as c:
                    started = time.monotonic()
                    r = c.request(method, path, **kw)
                    return name, r, time.monotonic() - started

            with ThreadPoolExecutor(len(calls)) as pool:
                futures = [pool.submit(call, name) for name in calls]
                time.sleep(0.5)
                # while they all hang on ComfyUI, the gateway itself answers at once
                t = time.monotonic()
                assert_health(gw)
                health_ms = (time.monotonic() - t) * 1000
                results = [f.result() for f in futures]
            elapsed = {}
            for name, r, seconds in results:
                assert_error(r, 504, "TASK_TIMEOUT")
                elapsed[name] = round(seconds, 2)
            for name, seconds in elapsed.items():
                assert timeout - 0.5 <= seconds <= timeout + slack, \
                    f"{name}: 504 after {seconds}s with --comfyui-timeout {timeout}: {elapsed}"
            r, _ = poll_ready(gw, 503, 10)
            error = assert_error(r, 503, "CONNECTION_ERROR")
            assert error["details"].get("upstream", "").rstrip("/") == hole.url, error
            assert_health(gw)
            # the upload spooled a temporary file: nothing of it is left
            assert not files_only(tree(gw.input_dir)), tree(gw.input_dir)
            rc, exit_s = sigterm_and_wait(gw, DRAIN_SECONDS + EXIT_SLACK)
            assert rc == 0, f"exit {rc}:\n{gw.log_text()}"
            assert exit_s < DRAIN_SECONDS + EXIT_SLACK, exit_s
            report(case="black_hole", elapsed_s=elapsed, health_while_hanging_ms=round(health_ms, 1),
                   exit_after_sigterm_s=round(exit_s, 2), connections_accepted_by_hole=len(hole.accepted))
    finally:
        hole.close()


# --------------------------------------------------------------------------------------------
# 3. ComfyUI resets the connection in the middle of a download

def test_reset_in_the_middle_of_a_download(api):
    name = f"reset{unique()}.png"
    data = png(size=(256, 256))
    (api.emu.output_dir / name).write_bytes(data)
    before = tree(api.gw.output_dir)
    api.emu.set_faults(reset=["/view"])
    try:
        got = raw_exchange(api.gw.port, (f"GET {API}/images/download?filename={name} HTTP/1.1\r\n"
                                         f"Host: 127.0.0.1:{api.gw.port}\r\n\r\n").encode())
    finally:
        api.emu.clear_faults()
    status, headers, body, ended = got["status"], got["headers"], got["body"], got["ended"]
    assert ended != "timeout", f"the gateway neither finished nor closed the response: {got['raw'][:500]!r}"
    if status == 200:
        # the head was already out: the only honest signal is an aborted connection
        assert "content-length" in headers, headers
        announced = int(headers["content-length"])
        assert ended in ("eof", "reset"), got
        assert len(body) < announced, f"a cut-short download looks complete: {len(body)} of {announced} bytes"
        assert body != data
    else:
        r = httpx.Response(status, headers=headers, content=body)
        error = assert_error(r, 502, "CONNECTION_ERROR")
        assert error["details"].get("upstream", "").rstrip("/") == api.emu.base, error
    # no partial file (nor a hidden temporary one) left in the cache
    time.sleep(0.5)
    after = tree(api.gw.output_dir)
    assert after == before, f"left in OUTPUT_DIR: {set(after) - set(before)}"
    assert_health(api.gw)
    # the same file downloads completely afterwards
    r = api.client.get(f"{API}/images/download", params={"filename": name})
    assert r.status_code == 200 and r.content == data
    report(case="download_reset", status=status, ended=ended, body_bytes=len(body),
           announced=headers.get("content-length"))


# --------------------------------------------------------------------------------------------
# 4. 1,000 slow-loris connections

def test_slow_loris_connections_are_cut_by_the_header_timeout(stack):
    stack.reset()
    n = 1000
    assert raise_nofile(n + 500) >= n + 500, "RLIMIT_NOFILE too low for 1,000 client sockets"
    with stack.extra_gateway("slowloris", nofile=4096) as gw:
        assert_health(gw)
        loris = SlowLoris(gw.port, n, drip_every=2.0, deadline=HEADER_TIMEOUT + 30)
        loris.start()
        try:
            assert loris.all_open.wait(20), f"slow-loris connections not all open: {loris.failure}"
            assert loris.failure is None, loris.failure
            opened = [c.opened for c in loris.conns]
            assert all(opened), "some slow-loris connections failed to connect"
            # normal traffic meanwhile: /health and a proxied queue status on a keep-alive client
            latencies, bad = timed_requests(gw.url, ["/health", f"{API}/queue/status"], 240, pause=0.02)
            measured_until = time.monotonic()
            still_open = sum(1 for c in loris.conns if c.closed is None)
            assert not bad, bad
            p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
            assert loris.finished.wait(HEADER_TIMEOUT + 30), "slow-loris thread did not end"
        finally:
            loris.stop_flag.set()
            loris.join(10)
        assert loris.failure is None, loris.failure
        first_open = min(opened)
        assert measured_until - first_open < HEADER_TIMEOUT, "measurement did not overlap the slow-loris window"
        lifetimes = [c.closed - c.opened for c in loris.conns if c.closed is not None]
        never = [c for c in loris.conns if c.closed is None]
        assert not never, f"{len(never)} slow-loris connections were never closed"
        answered = [c for c in loris.conns if c.data]
        for c in answered:
            status, headers, body = parse_head(c.data)
            assert status == 408, c.data[:300]
            # REQUEST_TIMEOUT is the HTTP server's own code, outside the routes' error table
            # (docs/api-contract.md, "Errors", last paragraph)
            assert_error(httpx.Response(status, headers=headers, content=body), 408, "REQUEST_TIMEOUT")
            assert headers.get("connection", "").lower() == "close", headers
        slack = 5.0
        assert max(lifetimes) <= HEADER_TIMEOUT + slack, \
            f"slow-loris connections lived up to {max(lifetimes):.1f}s (header timeout {HEADER_TIMEOUT}s)"
        assert p99 < P99_LIMIT_MS, f"p99 {p99:.1f} ms under 1,000 slow-loris connections (p50 {p50:.1f})"
        assert_health(gw)
        report(case="slow_loris", requests=len(latencies), p50_ms=round(p50, 2), p99_ms=round(p99, 2),
               max_ms=round(max(latencies), 2), open_during_measure=still_open,
               closed_with_408=len(answered), closed_without_answer=n - len(answered),
               lifetime_min_s=round(min(lifetimes), 2), lifetime_max_s=round(max(lifetimes), 2),
               rss_kib=gw.rss_kib())


# --------------------------------------------------------------------------------------------
# 5. 10,000 idle keep-alive connections

def test_ten_thousand_idle_keepalive_connections(stack):
    stack.reset()
    n = 10_000
    soft = raise_nofile(n + 1000)
    assert soft >= n + 1000, f"RLIMIT_NOFILE hard limit too low in the test process: {soft} < {n + 1000}"
    # nofile: workaround while the gateway does not raise its own soft limit (see report)
    with stack.extra_gateway("idle10k", extra_args=["--max-connections", 12000], nofile=n + 2000) as gw:
        assert_health(gw)
        rss_before = gw.rss_kib()
        started = time.monotonic()
        conns = open_keepalive_connections(gw.port, n, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        socks = [c.sock for c in conns]
        try:
            open_s = time.monotonic() - started
            failed = [(i, c.status, c.error) for i, c in enumerate(conns) if c.status != 200]
            assert not failed, (f"{len(failed)} of {n} connections got no 200: {failed[:10]}\n"
                                f"{gw.log_text()[-3000:]}")
            rss_after = gw.rss_kib()
            latencies, bad = timed_requests(gw.url, ["/health", f"{API}/queue/status"], 240)
            assert not bad, bad
            p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
            # they stay open while idle (the idle timeout is 60 s): none closed within 5 s
            idle_since = time.monotonic()
            closed_early = count_closed(socks, 5.0)
            assert not closed_early, f"{len(closed_early)} idle keep-alive connections closed within 5 s"
            idle_s = time.monotonic() - idle_since
            assert_health(gw)
            # SIGTERM with 10,000 idle connections open: they are closed, the gateway exits 0
            rc, exit_s = sigterm_and_wait(gw, DRAIN_SECONDS + EXIT_SLACK)
            assert rc == 0, f"exit {rc}:\n{gw.log_text()[-3000:]}"
            closed = count_closed(socks, 10.0)
            assert len(closed) == n, f"{n - len(closed)} connections still open after the gateway exited"
            assert exit_s < DRAIN_SECONDS + EXIT_SLACK, exit_s
            assert p99 < P99_LIMIT_MS, f"p99 {p99:.1f} ms with 10,000 idle connections (p50 {p50:.1f})"
        finally:
            close_all(socks)
        report(case="idle_10k", open_and_answer_s=round(open_s, 2), rss_before_kib=rss_before,
               rss_with_10k_kib=rss_after, rss_per_conn_bytes=round((rss_after - rss_before) * 1024 / n),
               p50_ms=round(p50, 2), p99_ms=round(p99, 2), max_ms=round(max(latencies), 2),
               idle_observed_s=round(idle_s, 1), exit_after_sigterm_s=round(exit_s, 2))


# --------------------------------------------------------------------------------------------
# 6. An upload whose client disconnects halfway

@pytest.mark.parametrize("how", ["close", "rst"])
def test_upload_disconnecting_halfway_leaves_no_file(api, how):
    size = 20 * MiB
    name = f"half{unique()}.png"
    chunks, length, ctype = multipart_stream("file", name, random_png_like(size), fields={"overwrite": "true"})
    body = b"".join(chunks)
    gw_before, emu_before = tree(api.gw.input_dir), tree(api.emu.input_dir)
    sock = socket.create_connection(("127.0.0.1", api.gw.port), timeout=10)
    try:
        sock.sendall((f"POST {API}/images/upload HTTP/1.1\r\nHost: 127.0.0.1:{api.gw.port}\r\n"
                      f"Content-Type: {ctype}\r\nContent-Length: {length}\r\n\r\n").encode())
        sock.sendall(body[:length // 2])
        # the gateway is spooling it: a temporary file exists under INPUT_DIR
        spooling = wait_until(lambda: set(tree(api.gw.input_dir)) - set(gw_before), 10, interval=0.02,
                              message="a temporary upload file under INPUT_DIR")
    finally:
        if how == "rst":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    try:
        wait_until(lambda: tree(api.gw.input_dir) == gw_before, 5, interval=0.05, message="INPUT_DIR clean")
    except AssertionError:
        left = {k: v for k, v in tree(api.gw.input_dir).items() if gw_before.get(k) != v}
        raise AssertionError(f"left in INPUT_DIR 5 s after the client went away ({how}): {left}") from None
    assert tree(api.emu.input_dir) == emu_before, "a partial upload reached ComfyUI"
    assert_health(api.gw)
    # a complete upload right after works
    data = random_png_like(2 * MiB)
    chunks, length, ctype = multipart_stream("file", name, data, fields={"overwrite": "true"})
    r = api.client.post(f"{API}/images/upload", content=chunks,
                        headers={"Content-Type": ctype, "Content-Length": str(length)})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == name and r.json()["size"] == len(data), r.json()
    assert sha256((api.gw.input_dir / name).read_bytes()) == sha256(data)
    (api.gw.input_dir / name).unlink()
    (api.emu.input_dir / name).unlink()
    report(case=f"upload_cut_{how}", temporary_seen=sorted(spooling))


# --------------------------------------------------------------------------------------------
# 7. SIGTERM during a 50 MB download

def test_sigterm_during_a_50mb_download_completes_it(stack):
    stack.reset()
    size = 50 * MiB
    name = f"drain{unique()}.png"
    data = random_png_like(size)
    expected = sha256(data)
    (stack.emu.output_dir / name).write_bytes(data)
    del data
    drain = 20.0
    try:
        with stack.extra_gateway("drain-download", env={"SHUTDOWN_DRAIN_SECONDS": int(drain)}) as gw:
            import hashlib
            digest, received = hashlib.sha256(), 0
            with httpx.Client(base_url=gw.url, timeout=HTTP_TIMEOUT) as c:
                with c.stream("GET", f"{API}/images/download", params={"filename": name}) as r:
                    assert r.status_code == 200, r.read()[:500]
                    assert int(r.headers["content-length"]) == size
                    chunks = r.iter_raw(64 * 1024)
                    for chunk in chunks:              # slowly: ~1 MB in ~0.5 s
                        digest.update(chunk)
                        received += len(chunk)
                        time.sleep(0.02)
                        if received >= MiB:
                            break
                    term_at = time.monotonic()
                    gw.proc.send_signal(signal.SIGTERM)
                    for chunk in chunks:
                        digest.update(chunk)
                        received += len(chunk)
                        if time.monotonic() - term_at < 2.0:
                            time.sleep(0.02)      # still slow for 2 s after the signal
                    done_at = time.monotonic()
            rc = gw.proc.wait(drain + EXIT_SLACK + 10)
            exit_s = time.monotonic() - term_at
            assert received == size, f"got {received} of {size} bytes"
            assert digest.hexdigest() == expected
            assert rc == 0, f"exit {rc}:\n{gw.log_text()}"
            assert done_at - term_at < drain, done_at - term_at
            assert exit_s < drain + EXIT_SLACK, exit_s
            report(case="sigterm_download", download_after_sigterm_s=round(done_at - term_at, 2),
                   exit_after_sigterm_s=round(exit_s, 2))
    finally:
        (stack.emu.output_dir / name).unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# 8. SIGTERM during WebSocket runs

def test_sigterm_during_websocket_runs_closes_every_socket_with_1001(stack):
    stack.reset()
    drain = DRAIN_SECONDS
    try:
        with stack.extra_gateway("drain-ws", env={"SHUTDOWN_DRAIN_SECONDS": int(drain)}) as gw:
            wait_upstream_connected(gw)
            owners = [cid("term") for _ in range(3)]
            socks = []
            try:
                for client_id in owners + [cid("bystander")]:
                    for _ in range(4):
                        socks.append(Socket(gw, client_id))
                pids = []
                for client_id in owners:
                    r = gw.client.post(f"{API}/workflows/submit",
                                       json={"workflow": slow_save(steps=1, delay_ms=60000), "client_id": client_id})
                    assert r.status_code == 200, r.text
                    pids.append(r.json()["prompt_id"])
                wait_until(lambda: pids[0] in stack.emu.running_ids(), message="first prompt running")
                r = stack.emu.http.post("/__emulator/emit_progress", json={"rate": 50, "seconds": 30})
                assert r.status_code == 200 and r.json()["prompts"] == 3, r.text
                for sock in socks[:12]:
                    pid = pids[owners.index(sock.client_id)]
                    sock.wait_type("progress", prompt_id=pid)
                term_at = time.monotonic()
                gw.proc.send_signal(signal.SIGTERM)
                codes = {}
                for i, sock in enumerate(socks):
                    code, _ = sock.expect_close(timeout=drain + 5)
                    codes[i] = code
                closed_s = time.monotonic() - term_at
                rc = gw.proc.wait(drain + EXIT_SLACK + 10)
                exit_s = time.monotonic() - term_at
            finally:
                for sock in socks:
                    sock.__exit__(None, None, None)
            bad = {i: code for i, code in codes.items() if code != 1001}
            assert not bad, f"sockets closed without 1001 (None = no close frame, i.e. 1006): {bad}"
            assert rc == 0, f"exit {rc}:\n{gw.log_text()}"
            assert exit_s < drain + EXIT_SLACK, exit_s
            progress = [sum(1 for m in s.texts() if m["type"] == "progress") for s in socks[:12]]
            report(case="sigterm_ws", sockets=len(socks), all_closed_after_s=round(closed_s, 2),
                   exit_after_sigterm_s=round(exit_s, 2), progress_received_min=min(progress))
    finally:
        stack.reset()
