"""Fixtures and helpers for the REST black-box tests: the ComfyUI emulator plus the real
comfy-gateway binary in front of it, both as subprocesses on loopback ports.

A module-scoped ``stack`` starts one emulator (tmp root) and one gateway
(``--comfyui-url`` the emulator, ``--input-dir <tmp>/gw-input``, ``--output-dir <tmp>/gw-output``,
``--comfyui-timeout 5``); the function-scoped ``api`` fixture resets the emulator (faults off,
queue cleared, running prompt interrupted, unpaused) before each test, so a module's tests share
the two processes. ``stack.extra_gateway(...)`` starts a further gateway with other flags (for
``--max-upload-bytes``, ``--public-base-url``, ``--comfyui-timeout 2`` or a dead upstream).

Every gateway is stopped with SIGTERM and must exit 0; the emulator is started with
``--exit-with-parent`` and the gateway with PR_SET_PDEATHSIG, so a crashed test run leaves
nothing behind.

Test modules import the fixtures: ``from rest_stack import api, stack  # noqa: F401``.
"""
import contextlib
import ctypes
import hashlib
import io
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("COMFY_GATEWAY_BINARY", ROOT / ".build" / "debug" / "comfy-gateway"))
sys.path.insert(0, str(ROOT / "Tests" / "ComfyEmulator"))

from emulator_process import EmulatorProcess  # noqa: E402

# Generous: CI machines are loaded and the gateway is a debug build.
HTTP_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
STATE_TIMEOUT = 45.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0

API = "/api/v1"


# --------------------------------------------------------------------------------------------
# small utilities

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=STATE_TIMEOUT, interval=0.05, message="condition"):
    """Polls predicate() until it returns a truthy value, which is returned."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    last = predicate()
    if last:
        return last
    raise AssertionError(f"timed out after {timeout}s waiting for {message}; last value {last!r}")


_unique = itertools.count(random.randrange(1, 1 << 20) * 1000)


def unique() -> int:
    """A process-wide unique small integer (prefixes, colours: defeats ComfyUI's result cache)."""
    return next(_unique)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RssSampler:
    """Samples VmRSS of a pid in a background thread; use as a context manager."""

    def __init__(self, pid: int, interval=0.005):
        self.pid = pid
        self.interval = interval
        self.baseline = rss_kib(pid)
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        with contextlib.suppress(OSError):
            self.peak = max(self.peak, rss_kib(self.pid))

    @property
    def growth_bytes(self) -> int:
        return (self.peak - self.baseline) * 1024


def _die_with_parent():
    """preexec_fn: SIGKILL the child when the test process dies (PR_SET_PDEATHSIG = 1)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def _preexec(nofile=None, fsize=None):
    """preexec_fn: _die_with_parent; with nofile, the child's soft RLIMIT_NOFILE raised to
    min(nofile, hard limit); with fsize, the largest file it may write, in bytes (RLIMIT_FSIZE:
    a disk that fills up at that size)."""
    def run():
        _die_with_parent()
        if fsize:
            import resource
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if nofile:
            import resource
            with contextlib.suppress(Exception):
                soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                want = nofile if hard == resource.RLIM_INFINITY else min(nofile, hard)
                if want > soft:
                    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return run


# --------------------------------------------------------------------------------------------
# images and multipart bodies

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image_bytes(fmt="PNG", color=None, size=(8, 8)) -> bytes:
    from PIL import Image

    if color is None:
        n = unique()
        color = (n % 251, (n // 251) % 251, (n // 63001) % 251)
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


def png(**kw) -> bytes:
    return image_bytes("PNG", **kw)


def random_png_like(size: int) -> bytes:
    """PNG signature followed by random bytes (accepted by magic bytes, not decodable)."""
    return PNG_SIGNATURE + os.urandom(size - len(PNG_SIGNATURE))


def multipart(fields=None, files=(), boundary=None):
    """Builds a multipart/form-data body by hand (full control over odd file names).

    fields: {name: str}; files: [(field, filename (str or bytes), content bytes, content_type)].
    Returns (body bytes, content-type header value)."""
    boundary = boundary or f"----restblackbox{unique():x}{os.urandom(6).hex()}"
    parts = []
    for name, value in (fields or {}).items():
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n".encode()
                     + str(value).encode() + b"\r\n")
    for field, filename, content, ctype in files:
        if isinstance(filename, str):
            filename = filename.encode()
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"".encode()
                     + filename + f"\"\r\nContent-Type: {ctype}\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def multipart_stream(field, filename, content: bytes, ctype="image/png", fields=None, chunk=256 * 1024):
    """Like multipart() for one file, but as (iterator of chunks, total length, content type), so a
    large body goes out in pieces with an explicit Content-Length."""
    boundary = f"----reststream{unique():x}{os.urandom(6).hex()}"
    head = b"".join(
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode()
        for name, value in (fields or {}).items())
    head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
             f"Content-Type: {ctype}\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    view = memoryview(content)

    def chunks():
        yield head
        for i in range(0, len(view), chunk):
            yield bytes(view[i:i + chunk])
        yield tail

    return chunks(), len(head) + len(content) + len(tail), f"multipart/form-data; boundary={boundary}"


# --------------------------------------------------------------------------------------------
# workflows (API format) for the emulator's nodes

def empty_save(prefix=None, color=None, size=16, batch=1):
    prefix = prefix or f"rest{unique()}"
    return {
        "1": {"class_type": "EmptyImage",
              "inputs": {"width": size, "height": size, "batch_size": batch,
                         "color": unique() % 0xFFFFFF if color is None else color}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": prefix}},
    }


def slow_save(steps=1, delay_ms=60000, prefix=None):
    """EmptyImage -> SlowProgress -> SaveImage: runs for steps x delay_ms (interruptible)."""
    prefix = prefix or f"slow{unique()}"
    return {
        "1": {"class_type": "EmptyImage",
              "inputs": {"width": 16, "height": 16, "batch_size": 1, "color": unique() % 0xFFFFFF}},
        "2": {"class_type": "SlowProgress", "inputs": {"image": ["1", 0], "steps": steps, "delay_ms": delay_ms}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": prefix}},
    }


def failing(message=None):
    message = message or f"boom {unique()}"
    return {
        "1": {"class_type": "EmptyImage",
              "inputs": {"width": 16, "height": 16, "batch_size": 1, "color": unique() % 0xFFFFFF}},
        "2": {"class_type": "FailAlways", "inputs": {"image": ["1", 0], "message": message}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": f"fail{unique()}"}},
    }


# --------------------------------------------------------------------------------------------
# error assertions

def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    """The contract's error shape: {"error": {code, message, details, request_id}}; returns error."""
    assert response.status_code == status, f"expected {status} {code}, got {response.status_code}: {response.text[:2000]}"
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert error.get("code") == code, body
    assert isinstance(error.get("message"), str) and error["message"], body
    assert isinstance(error.get("details"), dict), body
    request_id = response.headers.get("x-request-id")
    assert request_id, response.headers
    assert error.get("request_id") == request_id, (body, request_id)
    assert "Traceback" not in response.text
    return error


def field_names(error: dict) -> list:
    fields = error["details"].get("fields")
    assert isinstance(fields, list) and fields, error
    for f in fields:
        assert isinstance(f, dict) and isinstance(f.get("field"), str) and isinstance(f.get("message"), str), error
    return [f["field"] for f in fields]


# --------------------------------------------------------------------------------------------
# processes

class Emulator(EmulatorProcess):
    """The ComfyUI emulator on a free loopback port, with an httpx client and helpers."""

    def __init__(self, root: Path, log_path: Path, extra_args=()):
        Path(root).mkdir(parents=True, exist_ok=True)
        super().__init__(root, extra_args=extra_args, log_path=log_path, start_timeout=START_TIMEOUT,
                         stop_timeout=STOP_TIMEOUT)
        self.http = httpx.Client(base_url=self.base, timeout=HTTP_TIMEOUT)

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def temp_dir(self) -> Path:
        return self.root / "temp"

    # controls
    def pause(self, paused=True):
        r = self.http.post("/__emulator/pause", json={"paused": paused})
        r.raise_for_status()

    def set_faults(self, hang=(), reset=(), status=None):
        r = self.http.post("/__emulator/faults",
                           json={"hang": list(hang), "reset": list(reset), "status": dict(status or {})})
        r.raise_for_status()

    def clear_faults(self):
        self.http.post("/__emulator/faults", json={}).raise_for_status()

    # ComfyUI API, directly
    def queue(self) -> dict:
        r = self.http.get("/queue")
        r.raise_for_status()
        return r.json()

    def pending_ids(self) -> list:
        return [item[1] for item in self.queue()["queue_pending"]]

    def running_ids(self) -> list:
        return [item[1] for item in self.queue()["queue_running"]]

    def history(self, prompt_id) -> dict:
        r = self.http.get(f"/history/{prompt_id}")
        r.raise_for_status()
        return r.json().get(prompt_id)

    def wait_history(self, prompt_id, timeout=STATE_TIMEOUT) -> dict:
        return wait_until(lambda: self.history(prompt_id), timeout, message=f"emulator history of {prompt_id}")

    def submit(self, prompt, **extra) -> httpx.Response:
        return self.http.post("/prompt", json={"prompt": prompt, **extra})

    def view(self, filename, subfolder="", type="output") -> bytes:
        r = self.http.get("/view", params={"filename": filename, "subfolder": subfolder, "type": type})
        r.raise_for_status()
        return r.content

    def prompt_counter(self) -> int:
        """ComfyUI's priority counter: every POST /prompt that reaches it (even an invalid one)
        advances it, so two readings show whether anyone submitted in between. A reading costs
        one submission, made while paused and deleted again (leaves the emulator unpaused)."""
        prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 1, "height": 1, "batch_size": 1, "color": 0}},
                  "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
        self.pause(True)
        try:
            r = self.submit(prompt)
            r.raise_for_status()
            body = r.json()
            self.http.post("/queue", json={"delete": [body["prompt_id"]]}).raise_for_status()
        finally:
            self.pause(False)
        return int(body["number"])

    def reset(self):
        """Faults off, nothing pending, nothing running, not paused."""
        self.clear_faults()
        self.pause(True)
        deadline = time.monotonic() + STATE_TIMEOUT
        while True:
            self.http.post("/queue", json={"clear": True}).raise_for_status()
            queue = self.queue()
            if not queue["queue_running"] and not queue["queue_pending"]:
                break
            if queue["queue_running"]:
                self.http.post("/interrupt", json={}).raise_for_status()
            if time.monotonic() > deadline:
                raise AssertionError(f"emulator did not become idle: {queue}")
            time.sleep(0.05)
        self.pause(False)

    def stop(self):
        super().stop()
        if getattr(self, "http", None) is not None:
            self.http.close()


class GatewayProcess:
    """The comfy-gateway binary with the flags of the REST tests, on a free loopback port."""

    def __init__(self, workdir: Path, comfyui_url: str, timeout=5, extra_args=(), input_dir=None, output_dir=None,
                 env=None, nofile=None, fsize=None):
        """env: extra environment variables for the gateway; nofile: its soft RLIMIT_NOFILE;
        fsize: the largest file it may write (RLIMIT_FSIZE)."""
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.input_dir = Path(input_dir or self.workdir / "gw-input")
        self.output_dir = Path(output_dir or self.workdir / "gw-output")
        self.input_dir.mkdir(parents=True, exist_ok=True)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.comfyui_url = comfyui_url
        self.port = free_port()
        self.log_path = self.workdir / f"gateway-{self.port}.log"
        self.command = [
            str(BINARY), "--host", "127.0.0.1", "--port", str(self.port), "--comfyui-url", comfyui_url,
            "--input-dir", str(self.input_dir), "--output-dir", str(self.output_dir),
            "--comfyui-timeout", str(timeout), "--log-level", "info", *map(str, extra_args)]
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=self._log,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir,
                                     env={**os.environ, **{k: str(v) for k, v in (env or {}).items()}},
                                     preexec_fn=_preexec(nofile, fsize))
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                self._log.close()
                raise RuntimeError(f"gateway exited with {self.proc.returncode} at start:\n{self.log_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError("gateway did not listen in time:\n" + self.log_text())
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=HTTP_TIMEOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_kib(self) -> int:
        return rss_kib(self.proc.pid)

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-20000:]
        return ""

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()

    def stop(self) -> int:
        """SIGTERM; returns the exit code (-9 if it had to be killed)."""
        if getattr(self, "client", None) is not None:
            self.client.close()
        return terminate(self.proc, self._log)


def terminate(proc, log) -> int:
    """SIGTERM, then the exit code (-9 when it had to be killed after STOP_TIMEOUT); closes log."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            log.close()
            return -9
    log.close()
    return proc.returncode


@contextlib.contextmanager
def exits_zero_on_sigterm(process, name):
    """Yields process (anything with stop() and log_text()); once the block ends without an
    error, stopping it with SIGTERM must give exit code 0."""
    failed = False
    try:
        yield process
    except BaseException:
        failed = True
        raise
    finally:
        rc = process.stop()
        if not failed:
            assert rc == 0, f"{name} exited with {rc} on SIGTERM:\n{process.log_text()}"


def running_gateway(workdir, comfyui_url, **kw):
    """A gateway for the duration of the block; asserts it exits 0 on SIGTERM afterwards."""
    return exits_zero_on_sigterm(GatewayProcess(workdir, comfyui_url, **kw), "gateway")


class Stack:
    """One emulator + one gateway, with helpers speaking the gateway's REST API."""

    def __init__(self, tmp: Path, emulator: Emulator, gateway: GatewayProcess):
        self.tmp = Path(tmp)
        self.emu = emulator
        self.gw = gateway

    @property
    def client(self) -> httpx.Client:
        return self.gw.client

    @property
    def url(self) -> str:
        return self.gw.url

    def reset(self):
        self.emu.reset()

    @contextlib.contextmanager
    def extra_gateway(self, name=None, comfyui_url=None, **kw):
        """Another gateway (own workdir, gw-input, gw-output) in front of this emulator
        (or comfyui_url), e.g. extra_args=["--max-upload-bytes", 100000]."""
        workdir = self.tmp / (name or f"gw-extra-{unique()}")
        with running_gateway(workdir, comfyui_url or self.emu.base, **kw) as gw:
            yield gw

    # workflows
    def submit(self, workflow, client=None, **fields) -> httpx.Response:
        return (client or self.client).post(f"{API}/workflows/submit", json={"workflow": workflow, **fields})

    def submit_ok(self, workflow, **fields) -> dict:
        r = self.submit(workflow, **fields)
        assert r.status_code == 200, r.text
        return r.json()

    def history(self, prompt_id) -> httpx.Response:
        return self.client.get(f"{API}/workflows/{prompt_id}/history")

    def status(self, prompt_id) -> str:
        r = self.history(prompt_id)
        assert r.status_code == 200, r.text
        return r.json()["status"]

    def wait_status(self, prompt_id, *statuses, timeout=STATE_TIMEOUT) -> dict:
        """Polls the gateway's history until its status is one of statuses; returns the body."""
        seen = []

        def check():
            r = self.history(prompt_id)
            assert r.status_code == 200, r.text
            body = r.json()
            if not seen or seen[-1] != body["status"]:
                seen.append(body["status"])
            return body if body["status"] in statuses else None

        try:
            return wait_until(check, timeout, interval=0.05, message=f"{prompt_id} in {statuses}")
        except AssertionError as e:
            raise AssertionError(f"{e}; statuses seen: {seen}") from None

    def run_to_end(self, workflow, **fields) -> tuple:
        """Submits and waits for a terminal status; returns (submit body, history body)."""
        sub = self.submit_ok(workflow, **fields)
        hist = self.wait_status(sub["prompt_id"], "success", "error", "interrupted")
        return sub, hist

    def start_running(self, **kw) -> str:
        """Submits a long SlowProgress prompt and waits until the gateway reports it running."""
        sub = self.submit_ok(slow_save(**kw))
        wait_until(lambda: sub["prompt_id"] in self.emu.running_ids(), message="emulator running the slow prompt")
        self.wait_status(sub["prompt_id"], "running")
        return sub["prompt_id"]

    def queue_status(self) -> dict:
        r = self.client.get(f"{API}/queue/status")
        assert r.status_code == 200, r.text
        return r.json()

    # images
    def upload(self, content: bytes, filename="upload.png", client=None, ctype="image/png", **fields) -> httpx.Response:
        body, content_type = multipart({k: v for k, v in fields.items() if v is not None},
                                       [("file", filename, content, ctype)])
        return (client or self.client).post(f"{API}/images/upload", content=body,
                                            headers={"Content-Type": content_type})

    def download(self, filename, subfolder=None, type=None, client=None, method="GET", headers=None) -> httpx.Response:
        params = {"filename": filename}
        if subfolder is not None:
            params["subfolder"] = subfolder
        if type is not None:
            params["type"] = type
        return (client or self.client).request(method, f"{API}/images/download", params=params, headers=headers)

    def files_snapshot(self) -> set:
        """Every file under the test's tmp dir except the logs (to prove nothing was written)."""
        return {p for p in self.tmp.rglob("*") if p.is_file() and not p.name.endswith(".log")}


@contextlib.contextmanager
def make_stack(tmp: Path, timeout=5, extra_args=()):
    tmp = Path(tmp)
    emu = Emulator(tmp / "emu-root", tmp / "emulator.log")
    try:
        with running_gateway(tmp, emu.base, timeout=timeout, extra_args=extra_args,
                             input_dir=tmp / "gw-input", output_dir=tmp / "gw-output") as gw:
            yield Stack(tmp, emu, gw)
    finally:
        emu.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with make_stack(tmp_path_factory.mktemp("rest")) as s:
        yield s


@pytest.fixture
def api(stack):
    """The module's stack, with the emulator reset (no faults, idle, unpaused) for this test."""
    stack.reset()
    yield stack
