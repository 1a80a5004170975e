"""The gateway WebSocket benchmark (issue 6): 1,000 subscribers over 100 client ids, each
client id following one prompt that the emulator makes report `progress` 50 times a second for
10 s (its /__emulator/emit_progress control, each message stamped with CLOCK_MONOTONIC at the
emulator's socket write), then the prompts run and end with a `result`. Two kinds of round:
the 100 prompts' messages spread evenly over each 20 ms tick (independent prompts), and all
100 in step (a burst of 1,000 deliveries every tick, the worst case).

    .build-venv/bin/python Tests/Bench/ws_gateway_bench.py GATEWAY_BINARY WEBSOCKET_LOAD_BINARY [ROUNDS]

The load client is websocket-load's gateway mode (Swift on our reactor, cheaper than a Python
client). Each round prints the load client's report: messages delivered per second, latency from the emulator's send to the
subscriber's receipt, the gateway's CPU and RSS, and the client's own CPU.
"""
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "ComfyEmulator"))
from emulator_process import EmulatorProcess  # noqa: E402

SUBSCRIBERS, CLIENT_IDS, RATE, SECONDS = 1000, 100, 50, 10
# CPU placement, "gateway,emulator,client"; by default the scheduler places them (pinning the
# emulator and the client together on one core overloads it and measures that instead).
CPUS = os.environ.get("BENCH_CPUS", "none")


def pinned(cpu, command):
    return command if cpu == "none" else ["taskset", "-c", cpu, *command]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/ready").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the gateway did not become ready")


def workflow(color, prefix):
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": color}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": prefix}},
    }


def round_(gateway_binary, load_binary, workdir, number, stagger):
    cpus = CPUS.split(",") if CPUS != "none" else ["none"] * 3
    emulator = EmulatorProcess(workdir / f"emu{number}")
    if cpus[1] != "none":
        os.sched_setaffinity(emulator.pid, {int(cpus[1])})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gateway = subprocess.Popen(
        pinned(cpus[0], [gateway_binary, "--port", str(port), "--host", "127.0.0.1",
         "--comfyui-url", emulator.base, "--input-dir", str(workdir / "in"), "--output-dir", str(workdir / "out"),
         "--state-dir", str(workdir / f"state{number}"), "--log-level", "warning"]),
        stdout=subprocess.DEVNULL, stderr=open(workdir / f"gateway{number}.log", "w"))
    load = None
    try:
        wait_ready(base)
        httpx.post(emulator.base + "/__emulator/pause", json={"paused": True}).raise_for_status()
        load = subprocess.Popen(
            pinned(cpus[2], [load_binary, "gateway", str(port), str(gateway.pid), str(SUBSCRIBERS),
                             str(CLIENT_IDS), str(RATE * SECONDS)]),
            stdout=subprocess.PIPE, text=True)
        if load.stdout.readline().strip() != "ready":
            raise RuntimeError("the load client did not connect")
        with httpx.Client(base_url=base, timeout=30) as client:
            for index in range(CLIENT_IDS):
                color = random.randrange(1 << 24)
                client.post("/api/v1/workflows/submit", json={
                    "workflow": workflow(color, f"bench{number}_{index}"), "client_id": f"bench-{index}",
                }).raise_for_status()
        emitted = httpx.post(emulator.base + "/__emulator/emit_progress",
                             json={"rate": RATE, "seconds": SECONDS, "stagger": stagger}).json()
        assert emitted["prompts"] == CLIENT_IDS, emitted
        time.sleep(SECONDS + 0.5)
        httpx.post(emulator.base + "/__emulator/pause", json={"paused": False}).raise_for_status()
        report = load.stdout.readline().strip()
        with open(f"/proc/{emulator.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        emulator_cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        report += f"; emulator CPU {emulator_cpu:.1f} s in all"
        load.wait(timeout=240)
        mode = "staggered" if stagger else "in step"
        print(f"round {number}, prompts {mode}: {report}", flush=True)
    finally:
        if load and load.poll() is None:
            load.kill()
        gateway.terminate()
        gateway.wait(timeout=30)
        emulator.stop()


def main():
    gateway_binary, load_binary = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    with tempfile.TemporaryDirectory() as workdir:
        for number in range(1, rounds + 1):
            for stagger in (True, False):
                round_(gateway_binary, load_binary, Path(workdir), number, stagger)


if __name__ == "__main__":
    main()
