"""Replay the ComfyUI 0.33.0 recordings (traces-0.33/*.jsonl, see README.md, "ComfyUI 0.33
mode") against ONE emulator started with ``--version 0.33``, in file-name order (m ... s), as
they were recorded on one ComfyUI process: queue numbers continue (0 ... 21), /api/jobs lists
in later files contain the jobs of earlier ones, s's PreviewImage goes on counting temp files.
Asking for one trace replays the earlier ones first.

Compared, per trace, after the normalisation of test_emu_replay (ids mapped, SlowProgress/
SlowPreview delays scaled, timestamps, tracebacks, current_inputs values and temp-file
letters masked; here also the jobs' ``create_time``, ``execution_start_time`` and
``execution_end_time``, which are wall-clock ms like ``timestamp``, and ``current_outputs``
sorted: ComfyUI lists a Python set of node ids there, whose order is per process - o_failed_job
recorded ['3', '2', '1']):
* HTTP: status; full Content-Type (None for no body); the set of response header names
  (Date and Server aside); every header value except ``Etag``/``Last-Modified`` (checked for
  form instead: ``"<hex mtime>-<hex size>"`` matching the size, an HTTP date) and except the
  Content-Length of JSON bodies (ids and tracebacks differ in length); JSON bodies equal;
  other bodies byte for byte (sha256: uploads, SaveImage's PNG, empty bodies, the text file),
  except the SVG and HTML files the recording placed in output/ without giving their bytes
  (size, first bytes and headers only). /system_stats is compared by shape plus
  comfyui_version.
* WebSocket, per connection, exactly as test_emu_replay.check_sockets: first frame, all
  non-status frames in order, and the coarse sequence (status frames with queue_remaining,
  lifecycle messages, executing{node: null}); refused upgrades must be refused with the
  recorded status.

Replay adjustments (trace_replay_033.py, both about timing): a submit's barrier leaves out
the submitted prompt's own frames (ComfyUI had started n's c4 and s's s2 before the client got
the POST /prompt answer, which is when the recorder logged it), and submits are at least 3 ms
apart (GAP_SCALE would squeeze m's p2 and p3, recorded 2.3 ms apart with distinct
``create_time`` values, into the same millisecond and make their created_at order a tie).

Relaxations (each one is timing-dependent in the recording itself):
* status frames vs node-level frames, as in test_emu_replay (a broadcast caused by an HTTP
  request lands anywhere among the frames of the prompt already running).
* p_prompt_id seq 9, ``GET /api/jobs/U`` "right after submit": recorded ``pending`` because
  ComfyUI's worker thread took the prompt 4 ms after that answer (its ``status`` broadcast
  at t=41.8 ms, the GET answered at 38.1 ms); the emulator's worker takes it in the same
  event-loop turn. A recorded ``pending`` single job is accepted as ``in_progress`` (all
  other keys equal) when the recording shows that prompt's ``execution_start`` less than
  LATE_START_MS after the response.
* m_jobs_api ``sort_by=execution_duration``: the three recorded durations were 2013, 2009
  and 2009 ms, i.e. equal but for scheduling noise, so their order is timing. Such lists
  must hold the same jobs as recorded, in an order sorted by the emulator's own durations.
"""
import asyncio
import hashlib
import json
import os
import re
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from conftest import EmulatorProcess
from test_emu_replay import check_sockets
from trace_replay import load_trace, normalize, shape
from trace_replay_033 import Replayer033

JOB_TIME_KEYS = ("create_time", "execution_start_time", "execution_end_time")
IGNORED_HEADERS = {"date", "server"}
FORM_CHECKED_HEADERS = {"etag", "last-modified"}
ETAG_RE = re.compile(r'"(?P<mtime>[0-9a-f]+)-(?P<size>[0-9a-f]+)"')
LATE_START_MS = 50
UNRECORDED_BYTES = ("filename=gw33_q_xss.svg", "filename=gw33_q_xss.html")  # placed, content unknown


def find_traces_dir():
    here = Path(__file__).resolve().parent
    for c in (os.environ.get("COMFY_TRACES_033_DIR"), here / "traces-0.33"):
        if c and Path(c, "m_jobs_api.jsonl").exists():
            return Path(c)
    return None


TRACES_DIR = find_traces_dir()
TRACE_NAMES = sorted(p.stem for p in TRACES_DIR.glob("*.jsonl")) if TRACES_DIR else []


class ReplaySession:
    def __init__(self, emu):
        self.emu = emu
        self.pid_map = {}
        self.results = {}

    def get(self, name):
        for n in TRACE_NAMES:
            if n not in self.results:
                replayer = Replayer033(self.emu.base, self.emu.ws_base, self.pid_map, self.emu.root)
                try:
                    self.results[n] = asyncio.run(replayer.run(n, load_trace(TRACES_DIR / f"{n}.jsonl")))
                except Exception as ex:  # keep later traces runnable
                    self.results[n] = ex
            if n == name:
                break
        result = self.results[name]
        if isinstance(result, Exception):
            raise result
        return result


@pytest.fixture(scope="module")
def replay_033(tmp_path_factory):
    if TRACES_DIR is None:
        pytest.fail("the recorded 0.33 traces (Tests/ComfyEmulator/traces-0.33) are missing")
    emu = EmulatorProcess(tmp_path_factory.mktemp("replay033") / "root", version="0.33")
    yield ReplaySession(emu)
    emu.stop()


# -- normalisation --------------------------------------------------------------------------

def mask_job_times(value):
    if isinstance(value, dict):
        return {k: ("<ms>" if k in JOB_TIME_KEYS and isinstance(v, int) else mask_job_times(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_job_times(v) for v in value]
    return value


def sort_current_outputs(value):
    if isinstance(value, dict):
        return {k: sorted(v) if k == "current_outputs" and isinstance(v, list) else sort_current_outputs(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [sort_current_outputs(v) for v in value]
    return value


def normalized(body, pid_map=None, recorded=False):
    return sort_current_outputs(mask_job_times(normalize(body, pid_map, recorded)))


# -- relaxations ----------------------------------------------------------------------------

def started_soon_after(ev, prompt_id, events):
    """True if the recording shows ``prompt_id``'s execution_start < LATE_START_MS after ev."""
    for other in events:
        if other.get("dir") == "in" and "text" in other and other["t_ms"] >= ev["t_ms"]:
            msg = json.loads(other["text"])
            if msg.get("type") == "execution_start" and msg["data"].get("prompt_id") == prompt_id:
                return other["t_ms"] - ev["t_ms"] < LATE_START_MS
    return False


def late_start_relaxed(ev, want, got, events):
    """p_prompt_id seq 9: a job recorded pending that the emulator had already started."""
    if not (isinstance(want, dict) and isinstance(got, dict) and want.get("status") == "pending"
            and got.get("status") == "in_progress"):
        return False
    return {**got, "status": "pending"} == want and started_soon_after(ev, ev["body"]["id"], events)


def duration(job):
    start, end = job.get("execution_start_time"), job.get("execution_end_time")
    return end - start if start and end else 0


def duration_order_relaxed(ev, want, got, raw):
    """m_jobs_api sort_by=execution_duration: same jobs, sorted by the emulator's durations."""
    if "sort_by=execution_duration" not in ev["path"] or not isinstance(got, dict) or "jobs" not in got:
        return False
    key = lambda j: json.dumps(j, sort_keys=True)  # noqa: E731
    if sorted(want["jobs"], key=key) != sorted(got["jobs"], key=key) or want["pagination"] != got["pagination"]:
        return False
    durations = [duration(j) for j in raw["jobs"]]
    descending = "sort_order=asc" not in ev["path"]
    return durations == sorted(durations, reverse=descending)


# -- HTTP -----------------------------------------------------------------------------------

def check_headers(where, ev, act, problems):
    recorded = {k.lower(): v for k, v in (ev.get("headers") or {}).items()}
    actual = {k.lower(): v for k, v in act["headers"].items() if k.lower() not in IGNORED_HEADERS}
    if set(recorded) != set(actual):
        problems.append(f"{where}: headers {sorted(actual)} != recorded {sorted(recorded)}")
        return
    json_body = "json" in (ev.get("content_type") or "")
    for name, value in recorded.items():
        if name in FORM_CHECKED_HEADERS or (name == "content-length" and json_body):
            continue
        if actual[name] != value:
            problems.append(f"{where}: header {name}: {actual[name]!r} != recorded {value!r}")
    if "etag" in actual:
        m = ETAG_RE.fullmatch(actual["etag"])
        size = actual.get("content-range", "").rpartition("/")[2] or actual.get("content-length")
        if m is None or (size is not None and int(m["size"], 16) != int(size)):
            problems.append(f"{where}: Etag {actual['etag']!r} is not \"<mtime>-<size>\" of this file")
    if "last-modified" in actual:
        try:
            parsedate_to_datetime(actual["last-modified"])
        except (TypeError, ValueError):
            problems.append(f"{where}: Last-Modified {actual['last-modified']!r} is not an HTTP date")


def check_body(where, ev, act, pid_map, events, problems):
    body = ev.get("body")
    if ev.get("content_type") and "json" in ev["content_type"]:
        if ev["path"].split("?")[0].endswith("/system_stats"):
            if shape(body) != shape(act.get("body")):
                problems.append(f"{where}: shape {shape(act.get('body'))} != {shape(body)}")
            elif act["body"]["system"]["comfyui_version"] != body["system"]["comfyui_version"]:
                problems.append(f"{where}: comfyui_version differs")
            return
        want, got = normalized(body, pid_map, recorded=True), normalized(act.get("body"))
        if want != got and not late_start_relaxed(ev, want, got, events) \
                and not duration_order_relaxed(ev, want, got, act.get("body")):
            problems.append(f"{where}: body differs\n  recorded: {str(want)[:1500]}\n  emulator: {str(got)[:1500]}")
        return
    raw = act["raw"]
    if not isinstance(body, dict) or "sha256" not in body:
        return
    if len(raw) != body["bytes"] or not raw.startswith(bytes.fromhex(ev.get("body_head_hex", ""))):
        problems.append(f"{where}: body {len(raw)} bytes starting {raw[:16].hex()}, "
                        f"recorded {body['bytes']} starting {ev.get('body_head_hex')}")
    elif not any(f in ev["path"] for f in UNRECORDED_BYTES) and hashlib.sha256(raw).hexdigest() != body["sha256"]:
        problems.append(f"{where}: body bytes differ (sha256)")


def check_http(run, pid_map, events, problems):
    for ev, act in run.http:
        where = f"HTTP seq {ev['seq']} {ev['method']} {ev['path']} ({ev.get('label', '')})"
        if act["status"] != ev["status"]:
            problems.append(f"{where}: status {act['status']} != recorded {ev['status']}")
            continue
        if act["content_type"] != ev.get("content_type"):
            problems.append(f"{where}: content type {act['content_type']!r} != recorded {ev.get('content_type')!r}")
        check_headers(where, ev, act, problems)
        check_body(where, ev, act, pid_map, events, problems)


def sort_frames_current_outputs(run):
    """The normalisation of current_outputs, applied to the frames check_sockets compares."""
    frames = [f for fs in run.recorded.values() for f in fs]
    frames += [f for conn in run.connections.values() for _, f in conn.frames]
    for f in frames:
        if f["kind"] == "text":
            f["msg"] = sort_current_outputs(f["msg"])


def check_rejected(run, problems):
    for ev, status in run.rejected:
        if status != ev["status"]:
            problems.append(f"WS seq {ev['seq']} {ev['url']}: upgrade answered {status}, recorded {ev['status']}")


@pytest.mark.parametrize("name", TRACE_NAMES)
def test_replay_trace_033(replay_033, name):
    run = replay_033.get(name)
    events = load_trace(TRACES_DIR / f"{name}.jsonl")
    problems = []
    if run.barrier_timeouts:
        problems.append(f"barrier timeouts (expected frames never arrived): {run.barrier_timeouts}")
    check_http(run, replay_033.pid_map, events, problems)
    check_rejected(run, problems)
    sort_frames_current_outputs(run)
    check_sockets(run, replay_033.pid_map, problems, events)
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_all_033_traces_found():
    """Guard: the replay must cover every 0.33 trace file (7 recorded scenarios m ... s)."""
    if TRACES_DIR is None:
        pytest.fail("the recorded 0.33 traces (Tests/ComfyEmulator/traces-0.33) are missing")
    assert len(TRACE_NAMES) >= 7, TRACE_NAMES
