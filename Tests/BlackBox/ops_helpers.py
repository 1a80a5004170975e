"""Helpers for test_operations.py: a systemd notify socket to listen on, gateways launched with
a command line of the test's own (socket activation, no port probing), a Prometheus text parser,
a raw WebSocket upgrade, and key-carrying WebSocket clients."""
import base64
import contextlib
import json
import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

from websockets.sync.client import connect

from rest_stack import BINARY, START_TIMEOUT, _preexec, exits_zero_on_sigterm, terminate, wait_until


# --------------------------------------------------------------------------------------------
# systemd notify socket (the manager's side)

class NotifyListener:
    """An AF_UNIX datagram socket like systemd's notify socket, bound to an abstract name
    (`@name`, bound as "\\0name") or a filesystem path. A background thread keeps every datagram
    as (monotonic receive time, text) in `messages`."""

    def __init__(self, address: str):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.2)
        self.messages = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._cond:
                self.messages.append((time.monotonic(), data.decode("utf-8", "replace")))
                self._cond.notify_all()

    def wait_for(self, predicate, start=0, timeout=15.0, what="datagram"):
        """The index of the first message from `start` whose text satisfies predicate."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(start, len(self.messages)):
                    if predicate(self.messages[i][1]):
                        return i
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} on {self.address} within {timeout}s; got "
                                         f"{[m for _, m in self.messages[start:]][-20:]}")
                self._cond.wait(left)

    def snapshot(self):
        with self._cond:
            return list(self.messages)

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        if not self.address.startswith("@"):
            with contextlib.suppress(OSError):
                os.unlink(self.address)


def fields(datagram: str) -> dict:
    """KEY=value lines of a notify datagram."""
    out = {}
    for line in datagram.split("\n"):
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
    return out


# --------------------------------------------------------------------------------------------
# processes launched with a command line of the test's own

class Launched:
    """A process (the gateway, or a launcher that execs it) with stderr to a log file. Does not
    wait for anything: the test decides what "started" means."""

    def __init__(self, argv, workdir: Path, env=None, extra_preexec=None, close_fds=True, replace_env=False):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"launched-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        base = {} if replace_env else dict(os.environ)
        base = {k: v for k, v in base.items() if not k.startswith(("NOTIFY_SOCKET", "WATCHDOG_", "LISTEN_"))}
        die = _preexec()

        def pre():
            die()
            if extra_preexec:
                extra_preexec()

        self.argv = [str(a) for a in argv]
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=self._log, stdin=subprocess.DEVNULL,
                                     cwd=self.workdir, env={**base, **{k: str(v) for k, v in (env or {}).items()}},
                                     preexec_fn=pre, close_fds=close_fds)

    @property
    def pid(self):
        return self.proc.pid

    def log_text(self):
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-20000:]
        return ""

    def stop(self) -> int:
        return terminate(self.proc, self._log)


def launched(argv, workdir, **kw):
    """A Launched process for the block; SIGTERM afterwards must end it with exit code 0."""
    process = Launched(argv, workdir, **kw)
    return exits_zero_on_sigterm(process, process.argv[0])


def gateway_args(port, comfyui_url, workdir, *extra):
    workdir = Path(workdir)
    return [str(BINARY), "--host", "127.0.0.1", "--port", str(port), "--comfyui-url", comfyui_url,
            "--input-dir", str(workdir / "gw-input"), "--output-dir", str(workdir / "gw-output"),
            "--comfyui-timeout", "5", *map(str, extra)]


def can_connect(port, timeout=0.5) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
        return True
    except OSError:
        return False


def wait_listening(proc: Launched, port, timeout=START_TIMEOUT):
    def check():
        if proc.proc.poll() is not None:
            raise AssertionError(f"exited with {proc.proc.returncode}:\n{proc.log_text()}")
        return can_connect(port)
    wait_until(check, timeout, interval=0.05, message=f"port {port} listening")


def cmdline(pid) -> list:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [p.decode(errors="replace") for p in f.read().split(b"\0") if p]


# --------------------------------------------------------------------------------------------
# Prometheus text exposition format

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def _unescape(v: str) -> str:
    return v.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


class Metrics:
    """Parsed samples: list of (name, {labels}, value); raises on a line it cannot read."""

    def __init__(self, text: str):
        self.text = text
        self.samples = []
        self.types = {}
        for line in text.splitlines():
            if not line.strip():
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 4 and parts[1] == "TYPE":
                    self.types[parts[2]] = parts[3].strip()
                continue
            m = _SAMPLE.match(line)
            assert m, f"unparsable metrics line: {line!r}"
            name, raw_labels, value = m.groups()
            labels = {}
            if raw_labels:
                pos = 0
                while pos < len(raw_labels):
                    lm = _LABEL.match(raw_labels, pos)
                    assert lm, f"unparsable labels in {line!r}"
                    labels[lm.group(1)] = _unescape(lm.group(2))
                    pos = lm.end()
            self.samples.append((name, labels, float(value)))

    def find(self, name, **labels):
        return [(lb, v) for n, lb, v in self.samples if n == name and all(lb.get(k) == w for k, w in labels.items())]

    def get(self, name, **labels):
        """The value of the one sample of name with exactly these labels (None when absent)."""
        for n, lb, v in self.samples:
            if n == name and lb == labels:
                return v
        return None

    def total(self, name, **labels) -> float:
        """Sum over samples of name whose labels include these."""
        return sum(v for _, v in self.find(name, **labels))

    def names(self):
        return {n for n, _, _ in self.samples}


def scrape(client, headers=None) -> Metrics:
    r = client.get("/metrics", headers=headers or {})
    assert r.status_code == 200, (r.status_code, r.text[:500])
    ctype = r.headers.get("content-type", "")
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    return Metrics(r.text)


# --------------------------------------------------------------------------------------------
# WebSocket

def upgrade_request(port, target, headers=None):
    """A raw WebSocket upgrade of `target`; returns (status, {lower header: value}, body bytes).
    The body is read up to Content-Length (none for a 101)."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        hdrs = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            hdrs[name.strip().lower()] = value.strip()
        if status != 101 and "content-length" in hdrs:
            want = int(hdrs["content-length"])
            while len(body) < want:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
        return status, hdrs, body
    finally:
        sock.close()


class WSClient:
    """websockets sync client on the gateway WebSocket; JSON messages kept in `log`."""

    def __init__(self, port, client_id, token=None, headers=None):
        target = f"ws://127.0.0.1:{port}/api/v1/ws/{client_id}" + (f"?token={token}" if token else "")
        self._exit = contextlib.ExitStack()
        self.ws = self._exit.enter_context(connect(target, additional_headers=headers or {}, open_timeout=10,
                                                   close_timeout=3, max_queue=None, max_size=None))
        self.client_id = client_id
        self.log = []
        self.hello = self.recv()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._exit.close()

    def close(self):
        self._exit.close()

    def recv(self, timeout=20.0):
        raw = self.ws.recv(timeout=timeout)
        msg = json.loads(raw) if isinstance(raw, str) else raw
        self.log.append(msg)
        return msg

    def send(self, obj):
        self.ws.send(json.dumps(obj))

    def wait_for(self, predicate, timeout=20.0, what="message"):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout}s; got {self.log[-20:]}")
            try:
                msg = self.recv(left)
            except TimeoutError:
                continue
            if isinstance(msg, dict) and predicate(msg):
                return msg

    def ping(self, payload="p"):
        self.send({"type": "ping", "data": payload})
        return self.wait_for(lambda m: m["type"] == "pong" and m.get("data") == payload, what=f"pong {payload}")

    def terminal(self, prompt_id, timeout=20.0):
        return self.wait_for(lambda m: m["type"] in ("result", "execution_error")
                             and m.get("data", {}).get("prompt_id") == prompt_id, timeout,
                             what=f"result of {prompt_id}")
