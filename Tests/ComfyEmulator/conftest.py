"""pytest fixtures for the ComfyUI emulator's own tests: start emulator.py as a subprocess
on 127.0.0.1 port 0 (exactly as the Swift tests do) and stop it afterwards."""
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


class EmulatorProcess:
    def __init__(self, root, extra_args=(), log_path=None):
        self.root = Path(root)
        self.log_path = Path(log_path or (self.root.parent / f"{self.root.name}-emulator.log"))
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "emulator.py"), "--port", "0", "--root", str(self.root), *extra_args],
            stdout=subprocess.PIPE, stderr=self._log, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"emulator did not start: {line!r}; log: {self.log_path.read_text()}")
        self.port = int(line.split()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"

    @property
    def pid(self):
        return self.proc.pid

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


@pytest.fixture
def emulator(tmp_path):
    emu = EmulatorProcess(tmp_path / "root")
    yield emu
    emu.stop()


def wait_until(predicate, timeout=5.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.fixture
def traces_dir():
    candidates = [os.environ.get("COMFY_TRACES_DIR"), HERE / "traces"]
    for c in candidates:
        if c and Path(c, "a_empty_save.jsonl").exists():
            return Path(c)
    pytest.fail("the recorded traces (Tests/ComfyEmulator/traces) are missing")
