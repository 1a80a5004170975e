"""Starts the real comfy-gateway binary on a free loopback port for black-box tests."""
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("COMFY_GATEWAY_BINARY", ROOT / ".build" / "debug" / "comfy-gateway"))
ECHO_BINARY = ROOT / ".build" / "debug" / "websocket-echo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    def __init__(self, tmp_path: Path, command=None):
        self.port = free_port()
        self.log = tmp_path / "gateway.log"
        command = command or [str(BINARY), "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "info"]
        self.process = subprocess.Popen(
            [part.replace("{port}", str(self.port)) for part in command],
            stdout=subprocess.DEVNULL, stderr=self.log.open("w"), cwd=tmp_path)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.process.kill()
        raise RuntimeError("gateway did not start:\n" + self.log.read_text())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return -1


@pytest.fixture
def gateway(tmp_path):
    server = Gateway(tmp_path)
    yield server
    assert server.stop() == 0, server.log.read_text()


@pytest.fixture
def echo_server(tmp_path):
    """The test-only WebSocket echo endpoint (Tests/Tools/WebSocketEcho) at ws://127.0.0.1:PORT/echo."""
    server = Gateway(tmp_path, [str(ECHO_BINARY), "{port}"])
    yield server
    assert server.stop() == 0, server.log.read_text()
