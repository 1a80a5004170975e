"""Our WebSocket client (Tests/Tools/WebSocketTestClient, a thin driver of the Client target) against
an independent, strict RFC 6455 server (Python websockets), plus hand-made frames for the
failures a conforming server never sends, over real sockets."""
import os
import queue
import struct
import subprocess
import threading
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

from frames import frame

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / ".build" / "debug" / "websocket-test-client"
SIZES = [0, 125, 126, 65535, 65536, 1 << 20]
VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]


def close_code(ws):
    received = ws.protocol.close_rcvd
    return received.code if received else None


def serve_sizes(ws):
    """Sends text and binary of every length form; our client echoes them."""
    echoed = []
    for size in SIZES:
        text = ("é" * size)[: size // 2] + ("a" if size % 2 else "")
        data = os.urandom(size)
        for message in (text, data):
            ws.send(message)
            echoed.append(ws.recv(timeout=10) == message)
    ws.close(1000, "sizes done")
    return echoed


def serve_fragmented(ws):
    """A fragmented text message with a ping between its fragments."""
    ws.socket.sendall(frame(0x1, b"frag", fin=False, mask=False))
    pong = ws.ping(b"between")
    ws.socket.sendall(frame(0x0, b"men", fin=False, mask=False) + frame(0x0, b"ted", mask=False))
    result = (pong.wait(5), ws.recv(timeout=5))
    ws.close()
    return result


def serve_ping(ws):
    pongs = [ws.ping(payload).wait(5) for payload in (b"", b"payload", b"x" * 125)]
    ws.send("still open")
    result = (pongs, ws.recv(timeout=5))
    ws.close()
    return result


def serve_raw_then_close_code(data):
    def handler(ws):
        ws.socket.sendall(data)
        try:
            ws.recv(timeout=5)
        except (ConnectionClosed, TimeoutError):
            pass
        return close_code(ws)
    return handler


def serve_close(code):
    def handler(ws):
        ws.close(code, "server reason")
        return close_code(ws)
    return handler


def serve_until_closed(ws):
    try:
        while True:
            ws.recv(timeout=5)
    except ConnectionClosed:
        pass
    return (close_code(ws), ws.protocol.close_rcvd.reason if ws.protocol.close_rcvd else None)


def serve_echo(ws):
    for message in ws:
        ws.send(message)


BAD_FRAMES = {
    "utf8": (frame(0x1, b"\xc0\xaf", mask=False), 1007),
    "utf8-surrogate": (frame(0x1, b"\xed\xa0\x80", mask=False), 1007),
    "rsv": (frame(0x1, b"ok", rsv=4, mask=False), 1002),
    "masked": (frame(0x1, b"ok", mask=True), 1002),
    "fragmented-ping": (frame(0x9, b"ping", fin=False, mask=False), 1002),
    "oversized-ping": (frame(0x9, b"x" * 126, mask=False), 1002),
    "close-999": (frame(0x8, struct.pack("!H", 999), mask=False), 1002),
    "close-1005": (frame(0x8, struct.pack("!H", 1005), mask=False), 1002),
    "close-1006": (frame(0x8, struct.pack("!H", 1006), mask=False), 1002),
    "close-5000": (frame(0x8, struct.pack("!H", 5000), mask=False), 1002),
    "orphan-continuation": (frame(0x0, b"orphan", mask=False), 1002),
}

HANDLERS = {
    "/echo": serve_echo,
    "/sizes": serve_sizes,
    "/fragmented": serve_fragmented,
    "/ping": serve_ping,
    "/client-close": serve_until_closed,
    **{f"/bad/{name}": serve_raw_then_close_code(data) for name, (data, _) in BAD_FRAMES.items()},
    **{f"/close/{code}": serve_close(code) for code in VALID_CODES},
}


class Upstream:
    """A websockets server whose handlers each put their result on their path's queue."""

    def __init__(self):
        self.results = {path: queue.Queue() for path in HANDLERS}
        self.server = serve(self.handle, "127.0.0.1", 0, max_size=None, compression=None)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, ws):
        try:
            result = HANDLERS[ws.request.path](ws)
        except Exception as error:  # reported to the test, which fails with it
            result = error
        self.results[ws.request.path].put(result)

    def run_client(self, *arguments):
        command = [str(CLIENT), arguments[0], f"ws://127.0.0.1:{self.port}{arguments[1]}", *arguments[2:]]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.splitlines()

    def result(self, path):
        result = self.results[path].get(timeout=10)
        assert not isinstance(result, Exception), repr(result)
        return result


@pytest.fixture(scope="module")
def upstream():
    server = Upstream()
    yield server
    server.server.shutdown()
    server.thread.join(5)


def test_client_sends_every_length_form_and_gets_it_back(upstream):
    lines = upstream.run_client("sizes", "/echo")
    expected = [f"echoed {kind} {size}" for size in SIZES for kind in ("text", "binary")]
    assert lines == expected + ["closed 1000 done"]


def test_client_receives_every_length_form(upstream):
    lines = upstream.run_client("echo", "/sizes")
    assert upstream.result("/sizes") == [True] * (2 * len(SIZES))
    assert lines == ["closed 1000 sizes done"]


def test_fragmented_message_with_interleaved_ping(upstream):
    upstream.run_client("echo", "/fragmented")
    assert upstream.result("/fragmented") == (True, "fragmented")


def test_ping_pong_round_trips(upstream):
    upstream.run_client("echo", "/ping")
    assert upstream.result("/ping") == ([True, True, True], "still open")


@pytest.mark.parametrize("name", BAD_FRAMES)
def test_protocol_errors_from_the_server_fail_the_connection(upstream, name):
    lines = upstream.run_client("echo", f"/bad/{name}")
    expected = BAD_FRAMES[name][1]
    assert upstream.result(f"/bad/{name}") == expected
    # After failing the connection our client reads nothing more, so the server's answer is
    # never parsed: the close is "abnormal" (1006) from its side (RFC 6455 section 7.1.5).
    assert lines == ["closed 1006 "]


@pytest.mark.parametrize("code", VALID_CODES)
def test_client_closes_with_each_valid_code(upstream, code):
    lines = upstream.run_client("close", "/client-close", str(code), "bye")
    assert upstream.result("/client-close") == (code, "bye")
    assert lines == [f"closed {code} bye"]


@pytest.mark.parametrize("code", VALID_CODES)
def test_client_answers_the_server_close_with_its_code(upstream, code):
    lines = upstream.run_client("echo", f"/close/{code}")
    assert upstream.result(f"/close/{code}") == code
    assert lines == [f"closed {code} server reason"]
