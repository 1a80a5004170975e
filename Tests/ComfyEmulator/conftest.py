"""pytest fixtures for the ComfyUI emulator's own tests: start emulator.py as a subprocess
on 127.0.0.1 port 0 (exactly as the Swift tests do) and stop it afterwards.

The fixtures name their ComfyUI version (``emulator``: 0.3.64, ``emulator_033``: 0.33), so
these tests check what they were written for even when COMFY_EMULATOR_VERSION is exported
to run the gateway's suites against 0.33."""
import os
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from emulator_process import EmulatorProcess  # noqa: E402  (after the path insert)


@pytest.fixture
def emulator(tmp_path):
    emu = EmulatorProcess(tmp_path / "root", version="0.3.64")
    yield emu
    emu.stop()


@pytest.fixture
def emulator_033(tmp_path):
    emu = EmulatorProcess(tmp_path / "root", version="0.33")
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
