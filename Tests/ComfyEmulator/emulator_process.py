"""The emulator as a child process on 127.0.0.1 port 0, shared by its own tests (conftest.py)
and the gateway's black-box tests (Tests/BlackBox/rest_stack.py). It exits by itself if the
test run that started it dies (--exit-with-parent).

``version`` ("0.3.64" or "0.33") is passed as --version; None leaves the choice to the
emulator, i.e. to $COMFY_EMULATOR_VERSION (default 0.3.64)."""
import select
import signal
import subprocess
import sys
from pathlib import Path

EMULATOR_SCRIPT = Path(__file__).resolve().parent / "emulator.py"


class EmulatorProcess:
    def __init__(self, root, extra_args=(), log_path=None, start_timeout=20, stop_timeout=10, version=None):
        self.root = Path(root)
        self.version = version
        if version is not None:
            extra_args = ["--version", version, *extra_args]
        self.log_path = Path(log_path or (self.root.parent / f"{self.root.name}-emulator.log"))
        self.stop_timeout = stop_timeout
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(EMULATOR_SCRIPT), "--port", "0", "--root", str(self.root), "--exit-with-parent",
             *extra_args],
            stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], start_timeout)
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
        """SIGTERM, then SIGKILL after the stop timeout; closes the log."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()
