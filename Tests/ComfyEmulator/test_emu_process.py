"""The command-line contract and resource behaviour: one ``listening PORT`` line, directories
created, clean exit on SIGTERM/SIGINT, temp emptied, and a 100 MB /view streamed from disk
without the emulator's RSS growing by anything like the file size."""
import signal
import subprocess
import sys
import threading
import time

import httpx

from conftest import HERE, EmulatorProcess


def test_cli_contract(tmp_path):
    root = tmp_path / "r"
    proc = subprocess.Popen([sys.executable, str(HERE / "emulator.py"), "--port", "0", "--root", str(root),
                             "--host", "127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening ") and line.endswith("\n")
        port = int(line.split()[1])
        assert port > 0
        assert all((root / d).is_dir() for d in ("input", "output", "temp"))
        assert httpx.get(f"http://127.0.0.1:{port}/system_stats").status_code == 200
        (root / "temp" / "leftover.png").write_bytes(b"x")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert proc.stdout.read() == ""          # exactly one line on stdout
        assert list((root / "temp").iterdir()) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigint_exits_cleanly_with_open_websocket(tmp_path):
    emu = EmulatorProcess(tmp_path / "r")
    from emu_helpers import recv_frame, ws_connect
    ws = ws_connect(emu, "x")
    recv_frame(ws)
    emu.proc.send_signal(signal.SIGINT)
    assert emu.proc.wait(10) == 0
    emu.stop()


def test_large_view_is_streamed(tmp_path):
    emu = EmulatorProcess(tmp_path / "r")
    try:
        size = 100 * 1024 * 1024
        with open(emu.root / "output" / "big.bin", "wb") as f:
            block = bytes(range(256)) * 4096
            for _ in range(size // len(block)):
                f.write(block)
        httpx.get(emu.base + "/system_stats")
        before = emu.rss_kib()
        peak = [before]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], emu.rss_kib())
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        received = 0
        with httpx.stream("GET", emu.base + "/view?filename=big.bin") as r:
            assert r.status_code == 200
            assert r.headers["content-length"] == str(size)
            assert r.headers["content-type"] == "application/octet-stream"
            for chunk in r.iter_bytes(1 << 16):
                received += len(chunk)
                time.sleep(0)  # a slowish reader keeps the transfer in flight while sampling
        stop.set()
        sampler.join()
        assert received == size
        growth_mib = (peak[0] - before) / 1024
        assert growth_mib < 30, f"RSS grew by {growth_mib:.1f} MiB while serving 100 MiB"
    finally:
        emu.stop()


def test_in_process_start(tmp_path):
    from comfy_emulator.app import start_in_thread
    emu, port, stop = start_in_thread(str(tmp_path / "inproc"))
    try:
        r = httpx.post(f"http://127.0.0.1:{port}/prompt", json={"prompt": {
            "1": {"class_type": "EmptyImage", "inputs": {"width": 4, "height": 4, "batch_size": 1, "color": 0}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "ip"}}}})
        assert r.status_code == 200
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (tmp_path / "inproc" / "output" / "ip_00001_.png").exists():
            time.sleep(0.02)
        assert (tmp_path / "inproc" / "output" / "ip_00001_.png").exists()
    finally:
        stop()


def _running(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in status)
    except FileNotFoundError:
        return False


def test_exit_with_parent_stops_an_orphan(tmp_path):
    # A shell starts the emulator in the background, prints its pid and exits at once: the
    # emulator is orphaned, as when a test runner crashes, and must stop by itself.
    command = (f"{sys.executable} {HERE / 'emulator.py'} --port 0 --root {tmp_path / 'r'} --exit-with-parent "
               f">/dev/null 2>&1 & echo $!; sleep 1")
    pid = int(subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30).stdout.split()[0])
    deadline = time.monotonic() + 10
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(pid)
